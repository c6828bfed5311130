#!/usr/bin/env bash
# The quick start: set up, then trace a real KVM guest in the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# exitscope traces a real KVM guest in the lab: the workload's mix scenario changes phase
# every few seconds (io, cpuid, npf, hlt, msr, mmio) on 2 vCPUs; exitscope prints its report
# (per exit reason, VM and vCPU, latency, page faults, TDP handler, hints), and perf stat
# around it prints the kernel's own count: the totals are equal.
exec ./bin/exitscope.js lab --run 'perf stat -e kvm:kvm_exit,kvm:kvm_page_fault -a -- exitscope run --no-output -- exitscope-workload mix 24 --vcpus 2'
