#!/bin/sh
# The floor a hash layout allows on this machine, in plain C: the segment's chained layout
# (with the kernel's bucket count and with twice it, layout version 3's) against a bucketized
# one (entries in place in 64-byte buckets), independent and dependent lookups of 1,000,000
# random keys in shared memory. Read beside bench-segment.sh and
# bench-run.sh's 1M-entry figures: the gap to the chained line is our path's cost.
set -eu
cd "$(dirname "$0")/.."
Scripts/setup.sh >/dev/null
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
gcc -O2 -o "$out/hash-layouts" Benchmarks/HashLayouts/hash-layouts.c
grep -m1 'model name' /proc/cpuinfo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$out/hash-layouts"
