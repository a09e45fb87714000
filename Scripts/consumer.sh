#!/usr/bin/env bash
# Builds and runs Scripts/consumer, a package that depends on this one by path and links
# BPFSegment as an embedder would. SwiftPM refuses unsafeFlags in a package depended upon by
# version (not by path): any left in Package.swift are listed first.
set -euo pipefail
cd "$(dirname "$0")/.."
if grep -n 'unsafeFlags' Package.swift; then
  echo "note: the lines above use unsafeFlags, which a dependency by version would refuse" >&2
fi
cd Scripts/consumer
swift build --scratch-path ../../.build-consumer
../../.build-consumer/debug/SegmentConsumer
