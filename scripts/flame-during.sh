#!/usr/bin/env bash
# Takes a flame snapshot while a lab workload runs: starts `exitscope flame`,
# waits until it samples, then starts the workload, and stops the workload when
# the snapshot is done. Runs inside the lab (exitscope lab --run ...).
#   bash scripts/flame-during.sh SECONDS -- FLAME-ARGS... -- WORKLOAD-ARGS...
# e.g. bash scripts/flame-during.sh 3 -- -o /tmp/npf --json -- npf 20000 --loop
# Prints the flame command's stdout; exits with its status. FLAME-ARGS must not include -q
# (the progress line "sampling" is what starts the workload).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=$1; shift
[ "${1:-}" = "--" ] && shift
flame_args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do flame_args+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
progress=$(mktemp)
./bin/exitscope.js flame --seconds "$seconds" "${flame_args[@]}" 2> "$progress" &
flame=$!
# the workload starts once the probes are attached (bpftrace takes a while to start under emulation)
for _ in $(seq 1 600); do
  grep -q 'sampling' "$progress" && break
  kill -0 "$flame" 2>/dev/null || break
  sleep 0.2
done
build/exitscope-workload "$@" > /dev/null &
workload=$!
status=0
wait "$flame" || status=$?
kill "$workload" 2>/dev/null || true
wait "$workload" 2>/dev/null || true
cat "$progress" >&2
rm -f "$progress"
exit "$status"
