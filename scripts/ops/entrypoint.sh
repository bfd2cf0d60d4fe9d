#!/bin/sh
# Image entrypoint: one image runs any Pushfleet process, chosen by the first argument.
#   api | worker | scheduler | apns-sim | cli [args…] | healthcheck [--pid N] | help
# The process is exec'd (it becomes the container's main process and receives SIGTERM itself:
# every app drains on SIGTERM). PUSHFLEET_ENTRYPOINT_DRY_RUN=1 prints the command instead of
# running it (used by tests/ops/entrypoint.test.ts).
set -eu

usage() {
  cat <<'USAGE'
usage: <image> <command> [args…]
  api         HTTP API (+ /metrics /healthz /readyz on api.port, default 8080)
  worker      delivery workers (ops server on worker.port, default 9091)
  scheduler   job schedulers (ops server on scheduler.port, default 9092)
  apns-sim    APNs simulator (default: --host 0.0.0.0 --port 8443 --control-port 8444)
  cli         the pushfleet command line (cli help)
  healthcheck probe the running process's /healthz (used by the image's HEALTHCHECK)
Config: PUSHFLEET_CONFIG=<file> plus PUSHFLEET_* overrides (PUSHFLEET_API__PORT=9000).
USAGE
}

# Relative config paths stay relative to where the caller stood, not to the app directory.
if [ -n "${PUSHFLEET_CONFIG:-}" ]; then
  case "$PUSHFLEET_CONFIG" in
    /*) ;;
    *) PUSHFLEET_CONFIG="$(pwd)/$PUSHFLEET_CONFIG"; export PUSHFLEET_CONFIG ;;
  esac
fi

root="${PUSHFLEET_HOME:-$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd)}"
# `--import tsx` resolves from the working directory: run from the app root.
cd "$root"

# The image runs the esbuild bundles in dist/ (no TypeScript loader: faster start, ~40 MB less
# memory per process); a source checkout without a build runs the TypeScript through tsx.
# PUSHFLEET_ENTRYPOINT_RUNTIME=dist|source forces one (and, like every PUSHFLEET_ENTRYPOINT_*
# variable, is removed before the app starts: PUSHFLEET_* variables are config overrides).
runtime="${PUSHFLEET_ENTRYPOINT_RUNTIME:-}"
unset PUSHFLEET_ENTRYPOINT_RUNTIME
if [ -z "$runtime" ]; then
  if [ -f dist/worker.mjs ]; then runtime=dist; else runtime=source; fi
fi

# PUSHFLEET_ENTRYPOINT_NODE_ARGS: extra node flags (e.g. --cpu-prof), placed before the app's own.
node_args="${PUSHFLEET_ENTRYPOINT_NODE_ARGS:-}"
unset PUSHFLEET_ENTRYPOINT_NODE_ARGS

# V8 flags per process, chosen by measurement (BENCHMARKS.md, "Worker memory"). A worker's
# in-flight requests live about as long as a scavenge cycle of V8's default 16 MB semi-spaces,
# so most survive one and are copied, then promoted; 2 MB semi-spaces and an old generation that
# may only double between collections (V8 lets it grow up to 4x) cost no measurable CPU per
# notification and keep a worker under a full campaign near 110 MB instead of 150-220 MB.
v8_flags() {
  case "$1" in
    worker) echo "--max-semi-space-size=2 --heap-growing-percent=100" ;;
  esac
}

app_command() {
  flags="$(v8_flags "$1") $node_args"
  if [ "$runtime" = "dist" ]; then
    echo "node $flags dist/$1.mjs"
  else
    echo "node $flags --import tsx apps/$1/src/main.ts"
  fi
}

run() {
  if [ "${PUSHFLEET_ENTRYPOINT_DRY_RUN:-}" = "1" ]; then
    echo "$*"
    exit 0
  fi
  exec "$@"
}

command="${1:-help}"
[ $# -gt 0 ] && shift
case "$command" in
  api | worker | scheduler | cli)
    # shellcheck disable=SC2046 # the command is words by design
    run $(app_command "$command") "$@"
    ;;
  apns-sim)
    [ $# -eq 0 ] && set -- --host 0.0.0.0 --port 8443 --control-port 8444
    # shellcheck disable=SC2046
    run $(app_command apns-sim) "$@"
    ;;
  healthcheck)
    run node scripts/ops/healthcheck.mjs "$@"
    ;;
  help | --help | -h)
    usage
    ;;
  *)
    echo "unknown command \"$command\"" >&2
    usage >&2
    exit 64
    ;;
esac
