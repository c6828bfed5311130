#!/usr/bin/env bash
# Runs `exitscope top` in a real terminal (tmux) inside the lab while the workload's mix runs,
# and captures the screen: live, after `p` (paused), after `p` again, after `v`, after `f` (a flame
# snapshot: progress, then its top frames; its files land in OUTDIR), and after `q`.
#   bash scripts/capture-dashboard.sh OUTDIR      (from the checkout on the host; root, QEMU)
# Used by test/e2e/dashboard-live.test.ts and to make docs/dashboard.md's capture.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath "${1:?usage: capture-dashboard.sh OUTDIR}")
mkdir -p "$out"
if [ -z "${EXITSCOPE_LAB:-}" ]; then
  exec ./bin/exitscope.js lab -q --writable "$out" --run "bash scripts/capture-dashboard.sh $out"
fi
T="tmux -L exitscope-lab"
# A capture can fall between two chunks of one Ink frame (its top redrawn, the rest not yet): keep
# a screen only once two captures 0.1 s apart agree (frames come once a second), so every saved
# screen is a whole frame unless tmux stalled half-way through one for that long.
cap() {
  local a b
  a=$($T capture-pane -p -t top)
  for _ in $(seq 1 50); do
    sleep 0.1
    b=$($T capture-pane -p -t top)
    [ "$a" = "$b" ] && break
    a=$b
  done
  printf '%s\n' "$a" > "$out/$1.txt"
}
until_screen() { # pattern seconds
  for _ in $(seq 1 $(( $2 * 5 ))); do
    $T capture-pane -p -t top | grep -q -E "$1" && return 0
    sleep 0.2
  done
  echo "capture-dashboard: no '$1' on screen after $2 s" >&2; cap timeout; return 1
}
export TERM=xterm-256color
# Ink writes only its last frame when CI=true: the dashboard runs without it
$T new-session -d -s top -x 100 -y 40 -c "$out" "env -u CI NO_COLOR=1 exitscope top -w 10 -o $out/top.jsonl; echo exitscope-exit=\$?; sleep 600"
until_screen 'waiting for the first exits|EXIT REASON' 120
# niced: exitscope (its bpftrace, the flame capture) comes first on the guest's two busy vCPUs
nice -n 10 exitscope-workload mix 120 --vcpus 2 > "$out/tally.json" &
W=$!
until_screen '^(IOIO|CPUID|NPF|MSR|HLT) ' 60
sleep 12 # a few phases of the mix
cap live
# the emulated CPU is slow: wait for each key's effect on screen rather than a fixed time
$T send-keys -t top p; until_screen 'PAUSED' 30; sleep 1; cap paused
sleep 3; cap paused-later
$T send-keys -t top p; until_screen '● LIVE' 30; cap resumed
$T send-keys -t top v; until_screen 'VM exitscope-workload \(pid' 30; cap vm
$T send-keys -t top f; until_screen 'flame snapshot' 30; cap flame-progress
# attaching and resolving symbols under emulation take minutes on a loaded host (the capture's own
# deadlines grow with how long attaching took): a bound for a broken capture, not a pace
until_screen 'top total' 600; cap flame
$T send-keys -t top q
until_screen 'exitscope-exit=' 60
cap quit
kill $W 2>/dev/null || true
wait $W 2>/dev/null || true
$T kill-server
echo "captured in $out"
