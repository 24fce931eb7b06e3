#!/usr/bin/env bash
# The shell floor of the deploy bench: the same checkout deploy-agent does, into N directories at once.
#   floor-checkout.sh fetch|nofetch TAG MIRROR1 DIR1 [MIRROR2 DIR2 ...]
# Every value arrives as an argument; none is ever evaluated as shell code.
set -euo pipefail
mode=$1
tag=$2
shift 2
one() {
  local mirror=$1 dir=$2
  if [ "$mode" = fetch ]; then git -C "$mirror" fetch --prune --tags --quiet origin; fi
  mkdir -p -- "$dir"
  git -C "$mirror" archive --format=tar "refs/tags/$tag" | tar -x --no-same-owner -f - -C "$dir"
}
pids=()
while [ "$#" -ge 2 ]; do
  one "$1" "$2" &
  pids+=("$!")
  shift 2
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit "$status"
