#!/bin/sh
# Segment hot paths and bulk transfers, release build: prints ns/op for hash lookup and
# update through SegmentMap (map of 1,000,000 entries, 4-byte keys, 8-byte values) beside a
# Swift Dictionary measured in the same run, and the time to apply / read back the whole map.
# Usage: Scripts/bench-segment.sh [entries]
set -eu
cd "$(dirname "$0")/.."
swift build -c release --product BPFSegmentBench >&2
exec "$(swift build -c release --show-bin-path)/BPFSegmentBench" "$@"
