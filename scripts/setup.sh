#!/usr/bin/env bash
# Installs what exitscope and its tests need on Debian/Ubuntu (as root), then builds.
# Idempotent: packages already there are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

# qemu-system-x86: the lab's emulator; busybox-static, kmod, cpio: its initramfs;
# bpftrace, linux-perf: tracer and oracle (run inside the lab from the host's root);
# gcc, libc6-dev: the KVM workload, linked statically (libc.a: the packed binary runs on any x86-64 libc);
# tmux: terminal tests; util-linux: runuser for the not-root test;
# chromium: the browser tests of the flame pages (driven by playwright-core);
# libxml2-utils: xmllint, which checks the gate's JUnit files in the tests;
# prometheus: promtool, which checks the /metrics text and deploy/'s rules (and a real Prometheus for the fleet e2e);
# systemd: systemd-analyze, which checks deploy/'s unit (a fresh Debian container may lack it);
# xz-utils, zstd: decompress the modules of kernels that ship them compressed (lab --kernel debian:sid);
# debian-archive-keyring: verifies the suites lab --kernel debian:SUITE reads with its private apt;
# debootstrap: `lab --userland SUITE` builds the trixie and sid roots of the compatibility matrix
# (test/e2e/compat-matrix.test.ts) with it, once per machine, into ~/.cache/exitscope/userlands.
# bochs, bochsbios, vgabios: the Intel lab's emulator (VMX + EPT) and its BIOSes; isolinux, syslinux-common,
# xorriso: its bootable ISOs (exitscope lab --vendor intel, test/e2e/intel-lab.test.ts).
PACKAGES=(qemu-system-x86 busybox-static kmod cpio bpftrace linux-perf gcc libc6-dev tmux util-linux ca-certificates chromium libxml2-utils prometheus systemd xz-utils zstd debian-archive-keyring debootstrap bochs bochsbios vgabios isolinux syslinux-common xorriso)

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: run as root (it installs packages with apt-get)" >&2
  exit 2
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup.sh: exitscope needs Node.js 20.19 or later (node --version)" >&2
  exit 2
fi
npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
echo "setup: done ($(node --version), $(qemu-system-x86_64 --version | head -1), $(bpftrace --version))"
