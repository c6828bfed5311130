#!/usr/bin/env bash
# The quick start: set up, then trace a real KVM guest in the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The workload's mix scenario changes phase every 5 s (io, cpuid, npf, hlt, msr, mmio);
# perf stat counts its exits per reason, as the kernel sees them.
exec ./bin/exitscope.js lab --run 'perf stat -e kvm:kvm_exit,kvm:kvm_entry,kvm:kvm_page_fault -a -- exitscope-workload mix 30 --vcpus 2'
