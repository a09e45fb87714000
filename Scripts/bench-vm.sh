#!/usr/bin/env bash
# Interpreter figures: ns per executed instruction on ../shared/bench programs beside native C
# (gcc -O2, built and run in this same script), run overhead of a 2-instruction program, and the
# cost of a helper-1 map lookup on the in-memory backend.
#   Scripts/bench-vm.sh [repeats]     (default 5; medians)
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-5}
shared=""
dir=$PWD
while [ "$dir" != / ]; do
  if [ -d "$dir/shared/bench" ]; then shared="$dir/shared"; break; fi
  dir=$(dirname "$dir")
done
[ -n "$shared" ] || { echo "bench-vm: no shared/bench directory above $PWD" >&2; exit 1; }
bench="$shared/bench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

swift build -c release --product BPFVMBench >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
gcc -O2 "$bench/native.c" -o "$work/native"
.build/release/BPFVMBench "$bench/bench.jsonl" "$bench/bench_meta.json" "$work" "$repeats" >"$work/vm.txt"

now() { date +%s%N; }
# Median wall time of `repeats` runs of the native program, in ns.
native_ns() {
  local times=()
  for _ in $(seq "$repeats"); do
    local t0; t0=$(now); "$work/native" "$@" >/dev/null; times+=($(( $(now) - t0 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (repeats + 1) / 2 ))p"
}
param() { python3 -c "import json,sys; m=json.load(open('$bench/bench_meta.json')); print(m['$1']['params']['$2'])"; }

startup=$(native_ns alu 0)
printf '%-16s %14s %14s %10s\n' program "interp ns/insn" "native ns/insn" ratio
while read -r kind name nsinsn insns; do
  [ "$kind" = program ] || continue
  case $name in
    bench_alu_loop) args=(alu "$(param bench_alu_loop N)") ;;
    bench_mem_sum) args=(sum "$(param bench_mem_sum R)" "$work/$name.mem") ;;
    bench_fnv1a) args=(fnv "$(param bench_fnv1a R)" "$work/$name.mem") ;;
    *) continue ;;
  esac
  total=$(native_ns "${args[@]}")
  awk -v n="$name" -v vm="$nsinsn" -v t="$total" -v s="$startup" -v i="$insns" 'BEGIN {
    nat = (t - s) / i; if (nat <= 0) nat = 0.001
    printf "%-16s %14.3f %14.3f %9.1fx\n", n, vm, nat, vm / nat }'
done <"$work/vm.txt"
awk '$1 == "overhead" { printf "run overhead (2 instructions, 1,000,000 runs): %.2f ns/run\n", $2 }
     $1 == "lookup" { printf "map lookup (helper 1, in-memory hash map): %.2f ns/call (%.2f ns per loop iteration)\n", $2, $3 }' "$work/vm.txt"
