#!/usr/bin/env bash
# The whole test suite: unit tests of every module and end-to-end tests of the built tool.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh
swift build
swift test "$@"
