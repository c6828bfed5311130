#!/usr/bin/env bash
# Builds the lab's KVM workload with the host's C compiler into build/.
# It runs inside the lab guest, which sees the host's root, so a normal dynamic build works.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../build"
mkdir -p "$out"
command -v cc >/dev/null || { echo "build.sh: no C compiler: apt-get install gcc" >&2; exit 1; }
cc -O2 -Wall -Wextra -Werror -pthread -o "$out/exitscope-workload" "$here/kvm-workload.c"
