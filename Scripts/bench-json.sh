#!/usr/bin/env bash
# JSON export/import benchmark (issue 2): a document of 10,000 handlers with one hash map of
# 1,000,000 entries (4-byte keys, 8-byte values) in our "data" format. Times our export (encode +
# write to a file) and import (read + decode), then python3's json.dump (indent=4, as the real
# file) and json.load of the same document in the same run, and prints the ratios
# (python seconds / our seconds: above 1 means we are faster) and our export's peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
. Scripts/bench-common.sh

swift build -c release --product BPFInterchangeBench >&2
bench="$(swift build -c release --show-bin-path)/BPFInterchangeBench"
out=bench-out
mkdir -p "$out"
doc="$out/bench-doc.json"

# Best of a few runs each, to damp the noise of a shared machine.
runs=${RUNS:-3}
best() { sort -g | head -1; }

ours_export=$(for _ in $(seq "$runs"); do "$bench" export "$doc" | awk '/ours_export_seconds/ {print $2}'; done | best)
export_report=$(/usr/bin/time -f "export_process_maxrss_kib %M" "$bench" export "$doc" 2>&1)
ours_import=$(for _ in $(seq "$runs"); do "$bench" import "$doc" | awk '/ours_import_seconds/ {print $2}'; done | best)
import_report=$("$bench" import "$doc")

read -r py_load py_dump < <(python_json_times "$doc" "$out/bench-python.json" "$runs")

size=$(stat -c %s "$doc")
echo "document: $size bytes, $(echo "$import_report" | awk '/ours_import_handlers/ {print $2" handlers, "$4" map entries"}')"
echo "$export_report" | awk '/peak_mib_beyond_records/ {printf "export peak memory beyond the records: %.1f MiB (target <= 64)\n", $2}
                             /records_rss_mib/ {printf "records in memory (RSS before export): %.1f MiB\n", $2}
                             /export_process_maxrss_kib/ {printf "export process peak RSS (records + export): %.1f MiB\n", $2/1024}'
# Python re-dumps the parsed document in the same key order, so its text must equal ours.
if cmp -s "$doc" "$out/bench-python.json"; then
    echo "python3 json.dump(indent=4) of our document is byte-identical to our export"
else
    echo "WARNING: python3's re-dump differs from our export"
fi
awk -v o="$ours_export" -v p="$py_dump" 'BEGIN {printf "export: ours %.3f s, python3 json.dump %.3f s, ratio %.1fx\n", o, p, p/o}'
awk -v o="$ours_import" -v p="$py_load" 'BEGIN {printf "import: ours %.3f s, python3 json.load %.3f s, ratio %.1fx\n", o, p, p/o}'
