#!/usr/bin/env bash
# Takes a flame snapshot while a lab workload runs: starts the workload, waits until
# its vCPU thread runs, then takes the snapshot, and stops the workload when the
# snapshot is done. Runs inside the lab (exitscope lab --run ...).
#   bash scripts/flame-during.sh SECONDS -- FLAME-ARGS... -- WORKLOAD-ARGS...
# e.g. bash scripts/flame-during.sh 3 -- -o /tmp/npf --json -- npf 20000 --loop
# Prints the flame command's stdout and then its progress lines (stderr); exits with its status.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=$1; shift
[ "${1:-}" = "--" ] && shift
flame_args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do flame_args+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
# The workload runs first, so that every second of the capture has it on a vCPU: started after the
# probes attach, a slow start (a loaded host, emulated memory being zeroed) could fill the whole
# capture, and the snapshot would have nothing to show.
# niced: on the guest's busy vCPUs bpftrace compiles and attaches first; the workload takes the rest
nice -n 10 build/exitscope-workload "$@" > /dev/null &
workload=$!
for _ in $(seq 1 600); do # until its vCPU thread exists (the main thread starts it after KVM setup)
  [ "$(ls /proc/$workload/task 2>/dev/null | wc -l)" -gt 1 ] && break
  kill -0 "$workload" 2>/dev/null || { echo "flame-during: the workload ended before it ran a vCPU" >&2; exit 1; }
  sleep 0.2
done
progress=$(mktemp)
./bin/exitscope.js flame --seconds "$seconds" "${flame_args[@]}" 2> "$progress" &
flame=$!
status=0
wait "$flame" || status=$?
kill "$workload" 2>/dev/null || true
wait "$workload" 2>/dev/null || true
cat "$progress" >&2
rm -f "$progress"
exit "$status"
