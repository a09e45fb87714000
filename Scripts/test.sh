#!/usr/bin/env bash
# The whole test suite: unit tests of every module and end-to-end tests of the built tool.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh
# BPFSnapshots optimized in this debug build (see Package.swift): its tests run 3x faster.
export BPFTIMETOOL_FAST_DEBUG=1
swift build
# One test at a time: many tests start, load and kill real processes (targets, tools, children
# holding the segment lock); run side by side on two cores they starve each other into timeouts.
swift test --no-parallel "$@"
# Another package depending on this one by version builds: no unsafe flag reaches a product.
Scripts/consumer.sh
