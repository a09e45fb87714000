#!/bin/sh
# Segment hot paths and bulk transfers, release build: prints ns/op for hash lookup and
# update through SegmentMap (map of 1,000,000 entries, 4-byte keys, 8-byte values) beside a
# Swift Dictionary measured in the same run, the memory floors beside them (one dependent random
# read; independent random reads, whose misses overlap), and the time to apply / read back the
# whole map, and the same random keys in one batch call each (lookup(keys:values:found:),
# update(keys:values:)); then the same again while another process keeps one core busy.
# Usage: Scripts/bench-segment.sh [entries]
set -eu
cd "$(dirname "$0")/.."
swift build -c release --product BPFSegmentBench >&2
bench="$(swift build -c release --show-bin-path)/BPFSegmentBench"
grep -m1 'model name' /proc/cpuinfo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bench" "$@"
echo "== while another process keeps one core busy"
sh -c 'while :; do :; done' &
busy=$!
trap 'kill $busy 2>/dev/null || true' EXIT
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bench" "$@"
