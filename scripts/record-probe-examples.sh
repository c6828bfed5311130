#!/usr/bin/env bash
# Records probes/*_example.txt: each probe run by bpftrace itself around a lab workload.
# From the checkout on the host (needs root and QEMU):  bash scripts/record-probe-examples.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${EXITSCOPE_LAB:-}" ]; then
  exec ./bin/exitscope.js lab -q --run "bash scripts/record-probe-examples.sh"
fi
example() { # probe workload-args explanation
  local probe=$1 args=$2 why=$3 out="probes/${1%.bt}_example.txt"
  {
    echo "Demonstrations of ${probe%.bt}, recorded in the lab ($(uname -r), kvm_amd npt=$(cat /sys/module/kvm_amd/parameters/npt), $(bpftrace --version))."
    echo
    echo "$why"
    echo
    echo "# bpftrace probes/$probe -c 'exitscope-workload $args'"
    BPFTRACE_MAP_KEYS_MAX=262144 bpftrace "probes/$probe" -c "build/exitscope-workload $args" 2>&1
  } > "$out"
  echo "recorded $out"
}
example kvm-exits.bt "io 1009" "The workload makes 1009 port writes (SVM exit 123, IOIO), 2 done HLTs (120) and 5 nested
page faults (1024) while its code and page tables fault in; 96 is host interrupts (INTR). The
key is pid, tid (the vCPU thread), isa (2 = SVM) and exit reason; the final print is exact."
example exit-latency.bt "hlt 101" "Exit-handling time per reason: the key's second number is isa << 32 | reason, so
8589934712 = SVM (2) HLT (120). Each HLT goes out to the VMM (no in-kernel irqchip) and back,
which is why it takes milliseconds here; timings are those of an emulated CPU."
example page-faults.bt "npf 1031" "1031 nested page faults: error code 0x100000006 (4294967302) is GUEST_FINAL|USER|WRITE, a
first write to a data page; 0x200000006 (8589934598) faults on a guest page-table page during
the walk; 0x100000014 (4294967316) the instruction fetch of the code page. Regions are 2 MiB."
example fault-handlers.bt "npf 1031" "Every nested page fault goes through kvm_tdp_page_fault (handler 0) with npt on; with
npt off the shadow-paging handlers (1, 3) take the guest's own #PF intercepts instead."
example exit-detail.bt "cpuid 53" "At most 10 exits per interval are printed (rate-limited in the kernel): pid, tid, isa,
reason, guest RIP, info1, info2. Here the first ten: the 5 setup nested page faults (1024;
info1 is the error code, info2 the guest-physical address), a HLT (120), then CPUID exits
(114) at the guest's cpuid instruction; the other 49 CPUIDs were counted, not printed."
