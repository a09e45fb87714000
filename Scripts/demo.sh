#!/usr/bin/env bash
# The main job on the shipped example state: import it into a private segment, inspect it, run
# its programs (JIT, interpreter, AOT), start a target process whose hook runs `count_calls`,
# watch its map grow, record and diff snapshots, roll back, export, and remove the segment. Then
# the same with a program written in C: compile examples/uprobe_counter.bpf.c with the toolchain's
# clang, `prog load --attach` it, run the target, dump its map, snapshot and diff.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh
swift build -c release --product bpftimetool
swift build -c release --product bpftime-target
bin="$(swift build -c release --show-bin-path)"
tool="$bin/bpftimetool"
work=$(mktemp -d)
export BPFTIME_GLOBAL_SHM_NAME="bpftimetool_demo_$$"
export BPFTIME_SNAP_DB="$work/snapshots.db"
target_pid=""
cleanup() {
  [ -z "$target_pid" ] || kill "$target_pid" 2>/dev/null || true
  "$tool" remove >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m$ bpftimetool %s\033[0m\n' "$*"; "$tool" "$@"; }

# The uprobe (fd 6) names bpftime-target's hooked function by file and offset, as bpftime does;
# the offset moves with every build, so the state is pointed at this build first.
Scripts/retarget-demo-state.py "$bin/bpftime-target" > "$work/state.json"
step import "$work/state.json"
step list
step status
step prog dump 4
printf 'hello, eBPF' > "$work/input.bin"
step run 5 "$work/input.bin"
step run 5 "$work/input.bin" repeat 1000 type INTERPRET
step aot compile 5
step run 5 "$work/input.bin" type AOT

printf '\n\033[1m$ bpftime-target --interval-ms 1 &\033[0m   (its hook runs count_calls, linked at fd 7)\n'
"$bin/bpftime-target" --interval-ms 1 --report-every 1000000 &
target_pid=$!
sleep 0.5
step map dump 3
sleep 0.5
step map dump 3
step snap save -m "target counting" --tag counting
step unload 7
sleep 0.3
step snap save -m "link removed" --tag unlinked
step snap diff counting unlinked || true
step snap restore counting --fd 7
sleep 0.3
step map dump 3
step check
step export "$work/export.json"
head -c 700 "$work/export.json"; echo " ..."
kill "$target_pid"; wait "$target_pid" 2>/dev/null || true; target_pid=""
step snap list
step remove

# Bring your own program: C compiled by the clang beside swift (it has the BPF target).
clang="$(dirname "$(command -v swift)")/clang"
if ! "$clang" -print-targets 2>/dev/null | grep -q ' bpf '; then
  echo "no clang with the BPF target beside swift: skipping the C example"; exit 0
fi
export BPFTIME_GLOBAL_SHM_NAME="bpftimetool_demo_c_$$"
printf '\n\033[1m$ clang -target bpf -O2 -g -c examples/uprobe_counter.bpf.c\033[0m\n'
"$clang" -target bpf -O2 -g -c -DTARGET="\"$bin/bpftime-target\"" examples/uprobe_counter.bpf.c -o "$work/uprobe_counter.bpf.o"
step prog load "$work/uprobe_counter.bpf.o" --attach
printf '\n\033[1m$ bpftime-target --iterations 500\033[0m\n'
"$bin/bpftime-target" --iterations 500 --report-every 500
step map dump 3
step snap save -m "C program, one target run" --tag c-first
"$bin/bpftime-target" --iterations 200 --report-every 200
step snap save -m "C program, two target runs"
step snap diff c-first live || true
step export "$work/c-export.json"
head -c 600 "$work/c-export.json"; echo " ..."
step remove
