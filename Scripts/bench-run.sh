#!/usr/bin/env bash
# `bpftimetool run` figures on a real segment: per-run overhead of a 2-instruction program, and
# the cost of a program's map_lookup_elem (helper 1) on a hash map of the segment: a helper call
# in the interpreter; the JIT does plain hash and array lookups itself and calls the helper otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh >/dev/null
swift build -c release --product bpftimetool >/dev/null
tool="$(swift build -c release --show-bin-path)/bpftimetool"
work=$(mktemp -d)
# Nothing here is about the history: changes are not recorded.
export BPFTIME_GLOBAL_SHM_NAME="bpftimetool_bench_run_$$" SPDLOG_LEVEL=warn BPFTIME_SNAP_RECORD=0
# Room for the 1,000,000-entry map (32 MiB) beside the rest.
export BPFTIME_SHM_MEMORY_MB=128
trap '"$tool" remove >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# A hash map of 1,000 entries (keys 0..999), one of 1,000,000 (keys 0..999,999) and five programs:
#  10: mov r0, 0; exit
#  11: 1,000,000 iterations of { lddw r1, map 3; r2 = &key; call 1 (lookup); loop }, key 42
#  12: the same loop with the call replaced by `mov r0, 0` (the loop's own cost)
#  13: 1,000,000 iterations on map 4, each looking up another key: the counter times
#      0x9e3779b1, xor its upper half, masked to 20 bits (5 % of them absent)
#  14: the same loop, key computed, with the call replaced by `mov r0, 0`
python3 - "$work/state.json" <<'PY'
import json, sys
loop = "b706000040420f00b70100002a000000631afcff0000000018110000030000000000000000000000bfa200000000000007020000fcffffff{body}17060000010000005506f9ff00000000b7000000000000009500000000000000"
scattered = ("b706000040420f00" "bf61000000000000" "24010000b179379e" "bc12000000000000" "7402000010000000"
             "ac21000000000000" "54010000ffff0f00" "631afcff00000000" "1811000004000000" "0000000000000000"
             "bfa2000000000000" "07020000fcffffff" "{body}" "1706000001000000" "5506f2ff00000000"
             "b700000000000000" "9500000000000000")
attr = dict(btf_id=0, btf_key_type_id=0, btf_value_type_id=0, btf_vmlinux_value_type_id=0, flags=0, ifindex=0,
            kernel_bpf_map_id=0, key_size=4, map_extra=0, map_type=1, max_entries=1024, value_size=8)
prog = lambda name, insns: {"attr": {"cnt": len(insns) // 16, "insns": insns, "type": 0}, "name": name, "type": "bpf_prog_handler"}
doc = {
    "3": {"attr": attr, "data": {i.to_bytes(4, "little").hex(): (i * 3).to_bytes(8, "little").hex() for i in range(1000)},
          "name": "bench_hash", "type": "bpf_map_handler"},
    "4": {"attr": dict(attr, max_entries=1_000_000),
          "data": {i.to_bytes(4, "little").hex(): (i * 3).to_bytes(8, "little").hex() for i in range(1_000_000)},
          "name": "bench_hash_1m", "type": "bpf_map_handler"},
    "10": prog("two_insns", "b7000000000000009500000000000000"),
    "11": prog("lookup_loop", loop.format(body="8500000001000000")),
    "12": prog("empty_loop", loop.format(body="b700000000000000")),
    "13": prog("scattered_lookup_loop", scattered.format(body="8500000001000000")),
    "14": prog("scattered_empty_loop", scattered.format(body="b700000000000000")),
}
json.dump(doc, open(sys.argv[1], "w"))
PY
"$tool" import "$work/state.json"
: > "$work/empty.bin"

field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
# The best of three runs of program $1 (by tool $2, this build's by default), in ns.
best() {
  local best="" t
  for _ in 1 2 3; do
    t=$("${2:-$tool}" run "$1" "$work/empty.bin" type "$type" --json | field time_ns)
    [ -z "$best" ] || [ "$t" -lt "$best" ] && best=$t
  done
  echo "$best"
}
for type in INTERPRET JIT; do
  if ! "$tool" run 10 "$work/empty.bin" type "$type" >/dev/null 2>&1; then
    echo "$type: not available"; continue
  fi
  overhead=$("$tool" run 10 "$work/empty.bin" repeat 1000000 type "$type" --json | field time_ns)
  python3 - "$type" "$overhead" "$(best 11)" "$(best 12)" "$(best 13)" "$(best 14)" <<'PY'
import sys
kind, overhead, lookup, empty, scattered, scattered_empty = sys.argv[1], *map(int, sys.argv[2:])
print(f"{kind:9} run overhead (2 insns, repeat 1,000,000): {overhead} ns/run (target < 20)")
print(f"{kind:9} map_lookup_elem on a segment hash map: {(lookup - empty) / 1e6:.1f} ns/call (target < 60);"
      f" loop with call {lookup / 1e6:.1f} ns/iteration, without {empty / 1e6:.1f}")
print(f"{kind:9} the same, 1,000,000-entry map, another key each call: {(scattered - scattered_empty) / 1e6:.1f} ns/call"
      f" (target < 60); loop with call {scattered / 1e6:.1f} ns/iteration, without {scattered_empty / 1e6:.1f}")
PY
done
# With REFERENCE_TOOL set to another build's bpftimetool (main's, copied aside), the lookups are
# measured again in three rounds that alternate the two tools on this segment, with their ratio.
[ -n "${REFERENCE_TOOL:-}" ] || exit 0
for type in INTERPRET JIT; do
  for round in 1 2 3; do
    python3 - "$type" "$round" "$(best 11)" "$(best 12)" "$(best 13)" "$(best 14)" \
      "$(best 11 "$REFERENCE_TOOL")" "$(best 12 "$REFERENCE_TOOL")" "$(best 13 "$REFERENCE_TOOL")" "$(best 14 "$REFERENCE_TOOL")" <<'PY'
import sys
kind, round_ = sys.argv[1], sys.argv[2]
a, ae, s, se, ra, rae, rs, rse = (int(x) / 1e6 for x in sys.argv[3:])
print(f"{kind:9} round {round_}: 1,000-entry {a - ae:.1f} ns/call vs reference {ra - rae:.1f} ({(a - ae) / (ra - rae):.2f}x);"
      f" 1,000,000-entry {s - se:.1f} vs {rs - rse:.1f} ({(s - se) / (rs - rse):.2f}x)")
PY
  done
done
