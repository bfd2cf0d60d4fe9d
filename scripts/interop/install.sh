#!/usr/bin/env bash
# Installs the independent HTTP/2 servers of the interop suite (tests/interop) from Debian:
# nghttpd, h2o, Caddy, Apache mod_http2, HAProxy and Python h2 + hypercorn (for /usr/bin/python3).
# Installs only what is missing. Service start-up is blocked while installing (policy-rc.d
# answers 101): the packages' postinst scripts would otherwise start daemons on ports 80/443;
# the tests run their own servers on loopback.
set -euo pipefail

need=()
command -v nghttpd >/dev/null 2>&1 || need+=(nghttp2-server)
command -v h2o >/dev/null 2>&1 || need+=(h2o)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
[ -x /usr/sbin/apache2 ] || need+=(apache2)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
/usr/bin/python3 -c 'import h2' >/dev/null 2>&1 || need+=(python3-h2)
/usr/bin/python3 -c 'import hypercorn' >/dev/null 2>&1 || need+=(python3-hypercorn)
[ ${#need[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
  created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then "${sudo[@]}" rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
