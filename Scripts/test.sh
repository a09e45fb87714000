#!/usr/bin/env bash
# The whole test suite: unit tests of every module and end-to-end tests of the built tool.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh
swift build
# One test at a time: many tests start, load and kill real processes (targets, tools, children
# holding the segment lock); run side by side on two cores they starve each other into timeouts.
swift test --no-parallel "$@"
