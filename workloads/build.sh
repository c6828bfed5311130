#!/usr/bin/env bash
# Builds the lab's KVM workload into build/exitscope-workload: `npm run build`, and so `npm pack`
# (prepack), which ships it in the package (package.json "bin" puts it on PATH as exitscope-workload).
# Static: the binary in a tarball runs on any x86-64 Linux whatever its libc, and the lab guest (the
# host's root) runs it as it is. Not stripped: flame snapshots name its frames (ioctl, run_batch).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../build"
mkdir -p "$out"
command -v cc >/dev/null || { echo "workloads/build.sh: no C compiler to build exitscope-workload: apt-get install gcc libc6-dev" >&2; exit 1; }
# Written beside the target and renamed: a failed build never leaves a half-written workload behind.
cc -O2 -Wall -Wextra -Werror -pthread -static -o "$out/exitscope-workload.tmp" "$here/kvm-workload.c" || {
  echo "workloads/build.sh: cc -static failed: the static C library (libc.a) comes with libc6-dev: apt-get install libc6-dev" >&2
  exit 1
}
mv "$out/exitscope-workload.tmp" "$out/exitscope-workload"
