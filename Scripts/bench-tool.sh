#!/usr/bin/env bash
# Issue 2's figures through the real tool: `bpftimetool import` and `export` of a segment holding
# 10,000 handlers and one hash map of 1,000,000 entries (4-byte keys, 8-byte values), beside
# python3's json.load / json.dump (indent=4) of the same document in the same run, and the peak
# memory of `export` against the segment's size; then `snap restore` of that state against the
# import of the same state as JSON; then `map update` of one entry of the 1M-entry map with the
# change recorded in the history against the same update with --no-record (issue 17), and a
# recorded update that cannot start from the latest snapshot (the whole state recorded).
set -euo pipefail
cd "$(dirname "$0")/.."
. Scripts/bench-common.sh
Scripts/setup.sh >/dev/null
# One product per build: SwiftPM builds only the last --product given.
for product in bpftimetool BPFInterchangeBench; do swift build -c release --product "$product" >&2; done
bin="$(swift build -c release --show-bin-path)"
out=bench-out
mkdir -p "$out"
doc="$out/bench-doc.json"
"$bin/BPFInterchangeBench" export "$doc" >/dev/null   # writes the document

# Import, export and restore are timed as themselves: their changes are not recorded.
export BPFTIME_GLOBAL_SHM_NAME="bpftimetool_bench_tool_$$" BPFTIME_SHM_MEMORY_MB=96 SPDLOG_LEVEL=warn BPFTIME_SNAP_RECORD=0
trap '"$bin/bpftimetool" remove >/dev/null 2>&1 || true' EXIT
runs=${RUNS:-3}
seconds() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); awk -v ns=$((e - s)) 'BEGIN {print ns / 1e9}'; }
best() { sort -g | head -1; }
# "wall cpu" seconds of one run (cpu: user + system), for the pair compared on a loaded machine,
# where a process gets a fraction of a CPU and wall times mostly measure the wait.
# A failed run prints "failed", which the checks below catch.
wall_and_cpu() { /usr/bin/time -f "%x %e %U %S" "$@" 2>&1 >/dev/null | tail -1 | awk '{print $1 == 0 ? $2 " " $3 + $4 : "failed"}'; }
best_pair() { sort -g -k1 | head -1 | cut -d' ' -f1; }

import_runs=$(for _ in $(seq "$runs"); do
  "$bin/bpftimetool" remove >/dev/null 2>&1 || true
  wall_and_cpu "$bin/bpftimetool" import "$doc"
done)
import_s=$(echo "$import_runs" | best_pair)
import_cpu=$(echo "$import_runs" | awk '{print $2}' | best)
case "$import_runs" in *failed*) echo "bench-tool: import failed" >&2; exit 1 ;; esac
export_s=$(for _ in $(seq "$runs"); do seconds "$bin/bpftimetool" export "$out/bench-export.json"; done | best)
rss_kib=$(/usr/bin/time -f "%M" "$bin/bpftimetool" export "$out/bench-export.json" 2>&1 >/dev/null | tail -1)
segment_mib=$("$bin/bpftimetool" status --json | python3 -c "import json,sys; print(json.load(sys.stdin)['size_bytes'] / 1048576)")
cmp -s "$doc" "$out/bench-export.json" && same="identical to the imported file" || same="DIFFERENT from the imported file"

# Restore: record the state, remove the segment, and time bringing all of it back from the history
# (--create: a restore creates a missing segment only when asked).
export BPFTIME_SNAP_DB="$out/bench-snapshots.db"
rm -f "$BPFTIME_SNAP_DB" "$BPFTIME_SNAP_DB-wal" "$BPFTIME_SNAP_DB-shm"
"$bin/bpftimetool" snap save -m "bench state" --tag bench >/dev/null
restore_runs=$(for _ in $(seq "$runs"); do
  "$bin/bpftimetool" remove >/dev/null 2>&1 || true
  wall_and_cpu "$bin/bpftimetool" snap restore bench --create
done)
restore_s=$(echo "$restore_runs" | best_pair)
restore_cpu=$(echo "$restore_runs" | awk '{print $2}' | best)
case "$restore_runs" in *failed*) echo "bench-tool: snap restore failed" >&2; exit 1 ;; esac

# Recording a change: the first recorded update saves the whole state (the segment was created
# again by the restores above, so no snapshot is of it); each recorded update after it starts from
# the latest snapshot and is recorded as its written entries; the same updates with --no-record
# are the reference; and a recorded update after an unrecorded one saves the whole state again.
value() { printf '%02x00000000000000' "$1"; }
BPFTIME_SNAP_RECORD=1 "$bin/bpftimetool" map update 3 00000000 "$(value 0)" >/dev/null
update_on_s=$(for i in $(seq "$runs"); do
  seconds env BPFTIME_SNAP_RECORD=1 "$bin/bpftimetool" map update 3 00000000 "$(value "$i")"
done | best)
update_off_s=$(for i in $(seq "$runs"); do seconds "$bin/bpftimetool" map update 3 00000000 "$(value $((i + 100)))" --no-record; done | best)
update_whole_s=$(seconds env BPFTIME_SNAP_RECORD=1 "$bin/bpftimetool" map update 3 00000000 "$(value 200)")

read -r py_load py_dump < <(python_json_times "$doc" "$out/bench-python.json" "$runs")
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "document: $(stat -c %s "$doc") bytes; our export is $same"
awk -v o="$import_s" -v p="$py_load" 'BEGIN {printf "bpftimetool import: %.3f s, python3 json.load %.3f s, ratio %.1fx (above 1: we are faster)\n", o, p, p/o}'
awk -v o="$export_s" -v p="$py_dump" 'BEGIN {printf "bpftimetool export: %.3f s, python3 json.dump %.3f s, ratio %.1fx\n", o, p, p/o}'
awk -v o="$restore_s" -v i="$import_s" 'BEGIN {printf "bpftimetool snap restore of the same state: %.3f s, %.2fx the import time (target <= 1.5x)\n", o, o/i}'
awk -v o="$restore_cpu" -v i="$import_cpu" 'BEGIN {printf "  in CPU time (user + system, best of the runs): restore %.3f s, import %.3f s, %.2fx\n", o, i, o/i}'
echo "  load average while measured: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v r="$rss_kib" -v s="$segment_mib" 'BEGIN {printf "export peak RSS %.1f MiB, segment %.0f MiB: %.1f MiB above the segment size (target <= 64)\n", r/1024, s, r/1024 - s}'
awk -v on="$update_on_s" -v off="$update_off_s" 'BEGIN {printf "map update of the 1M-entry map, recorded: %.3f s, not recorded: %.3f s: recording costs %.0f ms, %.2fx (target < 50 ms)\n", on, off, (on - off) * 1000, on / off}'
awk -v w="$update_whole_s" -v off="$update_off_s" 'BEGIN {printf "  the same after an unrecorded change (the whole state recorded): %.3f s, %.0f ms more\n", w, (w - off) * 1000}'
