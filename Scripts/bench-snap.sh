#!/usr/bin/env bash
# Snapshot store figures (issue 4), release build, against a bare sqlite3 bulk insert of the
# same 1,000,000 rows measured in the same run. Outputs go to bench-out/ (not in git).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product BPFSnapshotsBench 2>&1 | grep -E "error" && exit 1 || true
bench="$(swift build -c release --show-bin-path)/BPFSnapshotsBench"
out=bench-out/snap
rm -rf "$out" && mkdir -p "$out"
now() { date +%s.%N; }
calc() { python3 -c "print(f'{$1:$2}')"; }

# Reference: the big map's rows inserted by the sqlite3 shell in one transaction, one row per
# INSERT and 1,000 rows per INSERT; the faster one is the reference.
reference() {
  "$bench" reference-sql "$out/ref$1.sql" "$1"
  local t0 t1; t0=$(now); sqlite3 "$out/ref$1.db" < "$out/ref$1.sql" >/dev/null; t1=$(now)
  calc "$t1 - $t0" .3f
}
ref1=$(reference 1)
ref1000=$(reference 1000)
ref=$(calc "min($ref1, $ref1000)" .3f)

read -r save1 size1 < <("$bench" save "$out/snap.db" base)
read -r save2 size2 < <("$bench" save "$out/snap.db" base)
read -r save3 size3 < <("$bench" save "$out/snap.db" one)
read -r save4 size4 < <("$bench" save "$out/snap.db" all)
read -r load1 handlers1 _ < <("$bench" load "$out/snap.db" 1)
read -r diff1 rss1 changed1 entries1 < <("$bench" diff "$out/snap.db" 2 3)
read -r diff2 rss2 changed2 entries2 < <("$bench" diff "$out/snap.db" 2 4)
read -r live1 lrss1 lchanged1 lentries1 < <("$bench" diff-live "$out/snap.db" 2 one)
read -r live2 lrss2 lchanged2 lentries2 < <("$bench" diff-live "$out/snap.db" 2 all)

grep -m1 "model name" /proc/cpuinfo
echo "state: 1,000 handlers, hash map of 1,000,000 entries (4-byte keys, 8-byte values)"
echo "sqlite3 bulk insert of the 1M rows:  ${ref1} s (1 row per INSERT), ${ref1000} s (1,000 rows per INSERT)"
echo "save (first):                        ${save1} s   ratio to sqlite3 $(calc "$save1 / $ref" .2f)x   (target < 2x)"
echo "save (unchanged):                    ${save2} s   $(calc "100 * $save2 / $save1" .1f)% of first (target < 10%), growth $(calc "($size2 - $size1) / 1024" .1f) KiB (target < 64)"
echo "save (one entry changed):            ${save3} s   growth $(calc "($size3 - $size2) / 1024" .1f) KiB (target < 256)"
echo "save (all values changed):           ${save4} s"
echo "load snapshot 1 ($handlers1 handlers, for restore): ${load1} s"
echo "diff one entry ($changed1 handler, $entries1 entry):   ${diff1} s   peak ${rss1} MiB (target < 0.5 s)"
echo "diff all values ($changed2 handler, $entries2 entries): ${diff2} s   peak ${rss2} MiB (target < 3 s, < 256 MiB)"
echo "diff snapshot vs live, one entry ($lentries1 entry):      ${live1} s   peak ${lrss1} MiB"
echo "diff snapshot vs live, all values ($lentries2 entries): ${live2} s   peak ${lrss2} MiB"

# Storage proportional to change (issue 12): scattered changes in a 300k map, and a history of
# 100 saves of the 1M state with 1,000 more scattered values changed each time, read back at
# its first (a base, as every snapshot was before layers) and its last snapshot.
read -r sc_first sc_second sc_time < <("$bench" scattered "$out/scatter.db" 300000 1000)
read -r h_save h_bytes < <("$bench" history "$out/history.db" 100 1000)
# Base and layered reads alternate, best of five each (wall and CPU time apart), so that a load
# spike hits both alike; CPU time is the steadier figure on a loaded machine.
h_load1=1e9 h_load100=1e9 h_cpu1=1e9 h_cpu100=1e9
for _ in 1 2 3 4 5; do
  read -r t _ c < <("$bench" load "$out/history.db" 1)
  h_load1=$(calc "min($h_load1, $t)" .3f) h_cpu1=$(calc "min($h_cpu1, $c)" .3f)
  read -r t _ c < <("$bench" load "$out/history.db" 100)
  h_load100=$(calc "min($h_load100, $t)" .3f) h_cpu100=$(calc "min($h_cpu100, $c)" .3f)
done
read -r h_diff h_rss h_changed h_entries < <("$bench" diff "$out/history.db" 99 100)
echo "save (1,000 scattered changes, 300k map): ${sc_time} s   growth $(calc "($sc_second - $sc_first) / 1024" .1f) KiB (target < 128 KiB), $(calc "($sc_second - $sc_first) / 1000" .1f) bytes per change"
echo "history of 100 saves, 1,000 scattered changes each: ${h_save} s and $(calc "$h_bytes / 1024" .1f) KiB per save after the first (target < $(calc "(64 * 1000 + 65536) / 1024" .1f) KiB)"
echo "read back snapshot 1 (base) / 100 (layered), best of 5: ${h_load1} s / ${h_load100} s   $(calc "100 * ($h_load100 / $h_load1 - 1)" +.1f)% (target < +20%)"
echo "  in CPU time: ${h_cpu1} s / ${h_cpu100} s   $(calc "100 * ($h_cpu100 / $h_cpu1 - 1)" +.1f)%; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "diff of snapshots 99 and 100 ($h_entries entries):  ${h_diff} s   peak ${h_rss} MiB"
