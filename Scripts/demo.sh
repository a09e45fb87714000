#!/usr/bin/env bash
# The main job on the shipped example state: import it into a private segment, inspect it,
# run its programs, record and diff snapshots, export it, and remove the segment.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh
swift build -c release --product bpftimetool
tool="$(swift build -c release --show-bin-path)/bpftimetool"
work=$(mktemp -d)
export BPFTIME_GLOBAL_SHM_NAME="bpftimetool_demo_$$"
export BPFTIME_SNAP_DB="$work/snapshots.db"
trap '"$tool" remove >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

step() { printf '\n\033[1m$ bpftimetool %s\033[0m\n' "$*"; "$tool" "$@"; }

step import Scripts/demo-state.json
step list
step status
step map dump 3
step prog dump 5
printf 'hello, eBPF' > "$work/input.bin"
step run 5 "$work/input.bin"
step aot compile 5
step run 5 "$work/input.bin" type AOT
step snap save -m "before counting"
step run 4 "$work/input.bin" repeat 100
step map dump 3
step snap save -m "after 100 runs"
step snap diff 1 2 || true
step snap restore 1
step map dump 3
step export "$work/state.json"
head -c 600 "$work/state.json"; echo " ..."
step remove
