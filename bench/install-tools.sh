#!/usr/bin/env bash
# Installs the benchmark's sinks and ceiling, idempotently, from Debian's archive:
#   h2load, nghttpd  nghttp2-client / nghttp2-server (apt-get install)
#   nginx            the `nginx` package unpacked into .tools/nginx (no service installed or
#                    started), the cheap counting sink of the e2e scenario
# Everything is optional: a scenario skips a sink or contender that is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need_apt=()
command -v h2load >/dev/null 2>&1 || need_apt+=(nghttp2-client)
command -v nghttpd >/dev/null 2>&1 || need_apt+=(nghttp2-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}"
fi

if [ ! -x .tools/nginx/usr/sbin/nginx ]; then
  mkdir -p .tools
  tmp="$(mktemp -d)"
  chmod 777 "$tmp" # apt's _apt user downloads into it
  (cd "$tmp" && { apt-get download nginx >/dev/null 2>&1 || { apt-get update -qq && apt-get download nginx; }; })
  dpkg-deb -x "$tmp"/nginx_*.deb .tools/nginx
  rm -rf "$tmp"
fi
.tools/nginx/usr/sbin/nginx -v
