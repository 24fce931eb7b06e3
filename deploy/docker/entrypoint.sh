#!/bin/sh
# The container's entry point: `docker run deploybus <daemon> [--config FILE]` runs
# services/<daemon>/dist/main.js; `docker run deploybus deploybus ...` runs the CLI.
# DEPLOYBUS_ROOT (default /opt/deploybus) is where the built repository lives.
set -eu
root="${DEPLOYBUS_ROOT:-/opt/deploybus}"
daemons="git-watcher jenkins-trigger repo-updater keepalive deploy-agent conductor web notifier"

usage() {
  echo "usage: <daemon> [--config FILE]   daemons: $daemons"
  echo "       deploybus <args>             the deploybus command line"
  echo "Settings: --config FILE or DEPLOYBUS_CONFIG; DEPLOYBUS_BUS_URL, DEPLOYBUS_HOST, DEPLOYBUS_LOG_LEVEL, DEPLOYBUS_HEALTH_PORT."
}

name="${1:-}"
case "$name" in
  git-watcher|jenkins-trigger|repo-updater|keepalive|deploy-agent|conductor|web|notifier)
    main="$root/services/$name/dist/main.js" ;;
  deploybus)
    main="$root/services/cli/dist/main.js" ;;
  ""|-h|--help|help)
    usage
    exit 0 ;;
  *)
    echo "deploybus: no daemon named \"$name\"" >&2
    usage >&2
    exit 64 ;;
esac
shift
if [ ! -f "$main" ]; then
  echo "deploybus: $name is not in this image ($main is missing; it may not be written yet)" >&2
  exit 69
fi
# The deploy-agent's node flags keep an idle agent under 60 MB RSS from its start
# (services/deploy-agent/src/node-flags.ts says why; its test holds this line to that list).
node_flags=""
if [ "$name" = deploy-agent ]; then
  node_flags="--max-semi-space-size=1 --no-opt --optimize-for-size"
fi
# shellcheck disable=SC2086 # node_flags is a list of words
exec node $node_flags "$main" "$@"
