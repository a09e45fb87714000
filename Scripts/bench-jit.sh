#!/usr/bin/env bash
# JIT figures: ns per executed instruction on ../shared/bench programs for the JIT and the
# interpreter beside native C (gcc -O2, built and run in this same script), as ratios to native,
# and compile time in µs per 1,000 instructions.
#   Scripts/bench-jit.sh [repeats]     (default 5; medians)
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-5}
shared=""
dir=$PWD
while [ "$dir" != / ]; do
  if [ -d "$dir/shared/bench" ]; then shared="$dir/shared"; break; fi
  dir=$(dirname "$dir")
done
[ -n "$shared" ] || { echo "bench-jit: no shared/bench directory above $PWD" >&2; exit 1; }
bench="$shared/bench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

swift build -c release --product BPFJITBench >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
gcc -O2 "$bench/native.c" -o "$work/native"
"$(swift build -c release --show-bin-path)/BPFJITBench" "$bench/bench.jsonl" "$bench/bench_meta.json" "$work" "$repeats" >"$work/jit.txt"

now() { date +%s%N; }
# Median wall time of `repeats` runs of the native program, in ns.
native_ns() {
  local times=()
  for _ in $(seq "$repeats"); do
    local t0; t0=$(now); "$work/native" "$@" >/dev/null; times+=($(( $(now) - t0 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (repeats + 1) / 2 ))p"
}
param() { python3 -c "import json; m=json.load(open('$bench/bench_meta.json')); print(m['$1']['params']['$2'])"; }

startup=$(native_ns alu 0)
printf '%-16s %12s %12s %12s %10s %10s %12s\n' program "JIT ns/insn" "interp" "native" "JIT/native" "interp/nat" "compile µs"
while read -r kind name jit interp insns compile bytes; do
  [ "$kind" = program ] || continue
  case $name in
    bench_alu_loop) args=(alu "$(param bench_alu_loop N)") ;;
    bench_mem_sum) args=(sum "$(param bench_mem_sum R)" "$work/$name.mem") ;;
    bench_fnv1a) args=(fnv "$(param bench_fnv1a R)" "$work/$name.mem") ;;
    *) continue ;;
  esac
  total=$(native_ns "${args[@]}")
  awk -v n="$name" -v j="$jit" -v vm="$interp" -v t="$total" -v s="$startup" -v i="$insns" -v c="$compile" 'BEGIN {
    nat = (t - s) / i; if (nat <= 0) nat = 0.001
    printf "%-16s %12.3f %12.3f %12.3f %9.2fx %9.1fx %12.1f\n", n, j, vm, nat, j / nat, vm / nat, c }'
done <"$work/jit.txt"
awk '$1 == "compile" { printf "JIT compile time: %.1f µs per 1,000 instructions (%d-instruction program)\n", $3, $2 }' "$work/jit.txt"
