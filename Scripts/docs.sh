#!/usr/bin/env bash
# Builds the DocC documentation of the embeddable libraries (swift-docc-plugin), failing on any
# warning (a broken symbol link, an undocumented topic), into docs-out/<Module>.doccarchive.
# Open one with `docc preview`, or serve docs-out/ as static files.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh
mkdir -p docs-out
for target in ${DOC_TARGETS:-BPFSegment BPFRuntime BPFAgent BPFState}; do
  swift package --allow-writing-to-directory docs-out generate-documentation \
    --target "$target" --output-path "docs-out/$target.doccarchive" --warnings-as-errors
done
echo "documentation in $(pwd)/docs-out"
