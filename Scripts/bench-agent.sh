#!/usr/bin/env bash
# The agent's figures (release build): cost of a hook with nothing attached and with a per-CPU
# counter program, how soon a firing agent sees an applied change, and calls per second of two
# bpftime-target processes counting into one shared hash map (the demo state), and how long a
# tool waits for the segment lock while they do, each beside a reference measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
for product in BPFAgentBench bpftime-target bpftimetool; do swift build -c release --product "$product" >/dev/null; done
bin="$(swift build -c release --show-bin-path)"
grep -m1 'model name' /proc/cpuinfo

engines=$("$bin/BPFAgentBench" --list-engines)
for engine in $engines; do
    echo "== engine: $engine (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
    "$bin/BPFAgentBench" --engine "$engine"
done

echo "== two target processes"
# Nothing here is about the history: changes are not recorded.
export BPFTIME_GLOBAL_SHM_NAME="bpftime_agent_bench_$$" SPDLOG_LEVEL=warn BPFTIME_SNAP_RECORD=0
work=$(mktemp -d)
trap '"$bin/bpftimetool" remove >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
Scripts/retarget-demo-state.py "$bin/bpftime-target" > "$work/state.json"
calls=${CALLS:-2000000}
# Wall time of two targets making $calls calls each on engine $1; prints calls per second over both.
two_targets() {
    local start end
    start=$(date +%s%N)
    "$bin/bpftime-target" --engine "$1" --iterations "$calls" --report-every "$calls" >/dev/null &
    "$bin/bpftime-target" --engine "$1" --iterations "$calls" --report-every "$calls" >/dev/null &
    wait
    end=$(date +%s%N)
    echo $(( 2 * calls * 1000000000 / (end - start) ))
}
# A tool's locked reads (one per ms for $1 seconds) while two targets fire as fast as they can on engine $2.
tool_lock_wait() {
    local pids=()
    for _ in 1 2; do "$bin/bpftime-target" --engine "$2" --report-every 1000000000 >/dev/null & pids+=($!); done
    sleep 0.3
    "$bin/BPFAgentBench" --lock-wait "$1"
    kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
}
"$bin/bpftimetool" import "$work/state.json"
declare -A counted locking
for engine in $engines; do counted[$engine]=$(two_targets "$engine"); done
for engine in $engines; do locking[$engine]=$(tool_lock_wait "${LOCK_SECONDS:-5}" "$engine"); done
"$bin/bpftimetool" unload 7 # the link: the hooks now run nothing
idle=$(two_targets interpreter)
idle_locking=$(tool_lock_wait 2 interpreter)
for engine in $engines; do
    echo "2 targets ($engine), count_calls on every call (hash lookup read without the lock, in-place increment): ${counted[$engine]} calls/s ($((2 * counted[$engine])) hook fires/s; ratio to idle $(python3 -c "print(f'{$idle/${counted[$engine]}:.1f}')")x)"
done
echo "reference, the same targets with nothing attached: $idle calls/s"
for engine in $engines; do
    echo "a tool's lock wait while 2 targets count ($engine): ${locking[$engine]}; target p99 < 10 ms, none failed"
done
echo "reference, the same tool beside the targets with nothing attached: $idle_locking"
