#!/usr/bin/env bash
# Records test/fixtures/flame: real flame snapshots from the lab (bpftrace's own
# output, the folded stacks and SVG exitscope made of it, the KVM module symbols
# of that kernel) with their provenance. From the checkout on the host (root, QEMU):
#   bash scripts/record-flame-fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dir=test/fixtures/flame
if [ -z "${EXITSCOPE_LAB:-}" ]; then
  mkdir -p "$dir"
  ./bin/exitscope.js lab -q --npt on --run "FIXTURES=npt-on bash scripts/record-flame-fixtures.sh"
  ./bin/exitscope.js lab -q --npt off --run "FIXTURES=npt-off bash scripts/record-flame-fixtures.sh"
  # keep only the KVM symbols that occur in the captures (the whole list is ~150 KB)
  for f in "$dir"/kvm-symbols-*.txt; do
    grep -ohE '[A-Za-z_][A-Za-z0-9_.]*\+[0-9]+' "$dir"/*.bpftrace.jsonl | sed 's/+[0-9]*$//' | sort -u | grep -Fx -f - "$f" > "$f.tmp" || true
    mv "$f.tmp" "$f"
  done
  exit 0
fi
record() { # name seconds workload-args...
  local name=$1 seconds=$2; shift 2
  bash scripts/flame-during.sh "$seconds" -- --format folded,svg -o "$dir/$name" --raw "$dir/$name.bpftrace.jsonl" -- "$@" > "$dir/$name.summary.txt"
  cat > "$dir/$name.provenance.json" <<JSON
{
  "recorded": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "kernel": "$(uname -r)",
  "npt": "$(cat /sys/module/kvm_amd/parameters/npt)",
  "bpftrace": "$(bpftrace --version)",
  "workload": "exitscope-workload $*",
  "command": "bash scripts/flame-during.sh $seconds -- --format folded,svg -o $dir/$name --raw $dir/$name.bpftrace.jsonl -- $*",
  "rerecord": "bash scripts/record-flame-fixtures.sh"
}
JSON
  echo "recorded $dir/$name"
}
if [ "$FIXTURES" = npt-on ]; then
  grep -E '\[(kvm|kvm_amd|kvm_intel)\]$' /proc/kallsyms | awk '{print $3}' | sort -u > "$dir/kvm-symbols-$(uname -r).txt"
  record npf-npt-on 3 npf 20000 --loop
  record io-npt-on 3 io 100000 --loop
else
  record npf-npt-off 3 npf 20000 --loop
fi
