#!/usr/bin/env bash
# Interpreter figures: ns per executed instruction on ../shared/bench programs beside native C
# (gcc -O2, built and run in this same script, runs interleaved with the VM's), run overhead of a
# 2-instruction program, and the cost of a helper-1 map lookup on a private segment's hash map.
#   Scripts/bench-vm.sh [repeats]     (default 5; medians)
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-5}
. Scripts/bench-common.sh
bench=$(shared_bench_dir bench-vm)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

swift build -c release --product BPFVMBench >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
gcc -O2 "$bench/native.c" -o "$work/native"
vm=.build/release/BPFVMBench
param() { python3 -c "import json; m=json.load(open('$bench/bench_meta.json')); print(m['$1']['params']['$2'])"; }
now() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

programs=(bench_alu_loop bench_mem_sum bench_fnv1a)
for p in "${programs[@]}"; do grep "\"$p.data\"" "$bench/bench.jsonl" >"$work/$p.jsonl"; done
"$vm" "$bench/bench.jsonl" "$bench/bench_meta.json" "$work" 1 programs >/dev/null   # writes the .mem inputs

# Interleaved: each round runs every program once on the VM and once natively.
for _ in $(seq "$repeats"); do
  t0=$(now); "$work/native" alu 0 >/dev/null; echo $(( $(now) - t0 )) >>"$work/startup"
  for p in "${programs[@]}"; do
    "$vm" "$work/$p.jsonl" "$bench/bench_meta.json" "$work" 1 programs | awk '{ print $3, $4 }' >>"$work/$p.vm"
    case $p in
      bench_alu_loop) args=(alu "$(param bench_alu_loop N)") ;;
      bench_mem_sum) args=(sum "$(param bench_mem_sum R)" "$work/$p.mem") ;;
      bench_fnv1a) args=(fnv "$(param bench_fnv1a R)" "$work/$p.mem") ;;
    esac
    t0=$(now); "$work/native" "${args[@]}" >/dev/null; echo $(( $(now) - t0 )) >>"$work/$p.native"
  done
done

startup=$(median <"$work/startup")
printf '%-16s %14s %14s %8s\n' program "interp ns/insn" "native ns/insn" ratio
for p in "${programs[@]}"; do
  vmns=$(awk '{ print $1 }' "$work/$p.vm" | median)
  insns=$(head -1 "$work/$p.vm" | awk '{ print $2 }')
  total=$(median <"$work/$p.native")
  awk -v n="$p" -v vm="$vmns" -v t="$total" -v s="$startup" -v i="$insns" 'BEGIN {
    nat = (t - s) / i; if (nat <= 0) nat = 0.001
    printf "%-16s %14.3f %14.3f %7.1fx\n", n, vm, nat, vm / nat }'
done
"$vm" "$bench/bench.jsonl" "$bench/bench_meta.json" "$work" "$repeats" micro | awk '
  $1 == "overhead" { printf "run overhead (2 instructions, 1,000,000 runs): %.2f ns/run\n", $2 }
  $1 == "lookup" { printf "map lookup (helper 1, private segment hash map): %.2f ns/call (%.2f ns per loop iteration)\n", $2, $3 }'
