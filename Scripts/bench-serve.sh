#!/usr/bin/env bash
# `snap serve` page times (issue 16), release build: a history of 1,000 snapshots of a
# 1,000-handler state with a 1,000,000-entry hash map, every page fetched three times; the
# server time is curl's time to the first byte (each page is built whole before it is sent),
# best of three. Reference, same run: the command line printing the same JSON (a whole
# process: open, query, render). Outputs go to bench-out/serve (not in git).
#   Scripts/bench-serve.sh [SNAPSHOTS] [EVERY]    defaults 1000 and 10 (the big map changes every 10th)
# SWIFT_SCRATCH_PATH picks the build folder (default .build).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
count=${1:-1000}
every=${2:-10}
scratch=(--scratch-path "${SWIFT_SCRATCH_PATH:-.build}")
for product in BPFSnapshotsBench bpftimetool; do
  swift build -c release "${scratch[@]}" --product "$product" 2>&1 | grep -E "error" && exit 1 || true
done
bin="$(swift build -c release "${scratch[@]}" --show-bin-path)"
out=bench-out/serve
mkdir -p "$out"
db="$out/history-$count-$every.db"
now() { date +%s.%N; }
calc() { python3 -c "print(f'{$1:$2}')"; }

if [ ! -s "$db" ]; then
  t0=$(now)
  "$bin/BPFSnapshotsBench" serve-history "$db" "$count" "$every"
  echo "generated $count snapshots in $(calc "$(now) - $t0" .0f) s: $db"
fi

"$bin/bpftimetool" snap serve --db "$db" --listen 127.0.0.1:0 > "$out/serve.out" 2> "$out/serve.err" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^serving' "$out/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^serving .* at \(http[^ ]*\)$/\1/p' "$out/serve.out")
[ -n "$url" ] || { echo "the server did not start:"; cat "$out/serve.err"; exit 1; }

# The big map's hot key (index 500,000 of the bench state: key = index * 2654435761 mod 2^32, little-endian).
hot=$(python3 -c "import struct; print(struct.pack('<I', (500000 * 2654435761) % 2**32).hex())")
last=$count
worst=0
page() {  # name path
  local best=999 status t
  for _ in 1 2 3; do
    read -r status t < <(curl -s -o "$out/page.body" -w '%{http_code} %{time_starttransfer}\n' "$url${2#/}")
    [ "$status" = 200 ] || { echo "$1: HTTP $status"; head -c 300 "$out/page.body"; echo; exit 1; }
    best=$(calc "min($best, $t)" .4f)
  done
  worst=$(calc "max($worst, $best)" .4f)
  printf '%-44s %7.1f ms  %8d bytes\n' "$1" "$(calc "$best * 1000" .1f)" "$(stat -c %s "$out/page.body")"
  eval "time_$3=$best"
}
cli() {  # seconds of one CLI run, best of three
  local best=999 t0 t
  for _ in 1 2 3; do
    t0=$(now); "$bin/bpftimetool" "$@" --db "$db" > /dev/null || [ $? = 1 ]; t=$(calc "$(now) - $t0" .4f)
    best=$(calc "min($best, $t)" .4f)
  done
  echo "$best"
}

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "history: $count snapshots of 1,000 handlers, fd 3 a 1,000,000-entry hash map (key $hot changes every ${every}th), fd 4 counts up"
page "timeline /"                                   /                                         timeline
page "snapshot /snapshots/$last"                    /snapshots/$last                          show
page "program /snapshots/$last/programs/403"        /snapshots/$last/programs/403             program
page "map page 1 (100 entries)"                     "/snapshots/$last/maps/3"                 map1
page "map page at entry 900,000 (1,000 entries)"    "/snapshots/$last/maps/3?offset=900000&limit=1000" map2
page "map key search"                               "/snapshots/$last/maps/3?key=$hot"        search
page "diff $((last - 1)) → $last"                   "/diff?a=$((last - 1))&b=$last"           diff1
page "diff 1 → $last"                               "/diff?a=1&b=$last"                       diff2
page "key plot fd 3 (1M-entry map)"                 "/plot?segment=bench&fd=3&key=$hot"       plot3
page "key plot fd 4"                                "/plot?segment=bench&fd=4&key=0"          plot4
page "GET /api/snapshots"                           /api/snapshots                            apilist
page "GET /api/snapshots/$last"                     /api/snapshots/$last                      apishow
page "GET /api/diff?a=1&b=$last"                    "/api/diff?a=1&b=$last"                   apidiff
echo "slowest page: $(calc "$worst * 1000" .1f) ms (target < 300 ms)"
cli_list=$(cli snap list --json)
cli_show=$(cli snap show "$last" --json)
cli_diff=$(cli snap diff 1 "$last" --json)
echo "same JSON from the command line (a process each): list $(calc "$cli_list * 1000" .0f) ms, show $(calc "$cli_show * 1000" .0f) ms, diff $(calc "$cli_diff * 1000" .0f) ms"
echo "server / command line: list $(calc "$time_apilist / $cli_list" .2f)x, show $(calc "$time_apishow / $cli_show" .2f)x, diff $(calc "$time_apidiff / $cli_diff" .2f)x"
