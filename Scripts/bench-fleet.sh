#!/usr/bin/env bash
# Fleet history figures (issue 15), release build, on a private PostgreSQL cluster this script
# starts and stops, each against a reference measured in the same run. Outputs go to bench-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
# BENCH_SCRATCH: a build directory of its own (a release build then does not wait for a debug one).
# BENCH_CONFIG=debug: the debug build (ratios only; its times are not the README's release figures).
scratch=(${BENCH_SCRATCH:+--scratch-path "$BENCH_SCRATCH"})
config=${BENCH_CONFIG:-release}
swift build -c "$config" "${scratch[@]}" --product bpftimetool 2>&1 | grep -E "error" && exit 1 || true
swift build -c "$config" "${scratch[@]}" --product BPFSnapshotsBench 2>&1 | grep -E "error" && exit 1 || true
bin="$(swift build -c "$config" "${scratch[@]}" --show-bin-path)"
tool="$bin/bpftimetool"; bench="$bin/BPFSnapshotsBench"
out="$PWD/bench-out/fleet"
rm -rf "$out" && mkdir -p "$out"
now() { date +%s.%N; }
calc() { python3 -c "print(f'{$1:$2}')"; }
export SPDLOG_LEVEL=warn BPFTIME_SNAP_RECORD=0

# The private cluster: as the postgres user when run as root (PostgreSQL refuses root).
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pgdir=$(mktemp -d /tmp/bench-fleet-pg.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres: "$pgdir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 --no-sync >/dev/null
as_pg "$pgbin/pg_ctl" start -w -D "$pgdir/data" -l "$pgdir/log" -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1" >/dev/null
trap 'as_pg "$pgbin/pg_ctl" stop -m fast -D "$pgdir/data" >/dev/null; rm -rf "$pgdir"' EXIT
password=bench-$RANDOM$RANDOM
sql() { as_pg psql -X -q -A -t -h "$pgdir" -p "$port" -U postgres -d "${2:-fleet}" -c "$1"; }
sql "CREATE ROLE fleet LOGIN PASSWORD '$password'" postgres
sql "CREATE DATABASE fleet OWNER fleet" postgres
url="postgres://fleet:$password@127.0.0.1:$port/fleet"

# Bytes a command writes (sockets included): /proc/PID/io of the exited, not yet reaped child.
written() {
  python3 - "$@" <<'PY'
import os, subprocess, sys, time
t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
elapsed = time.perf_counter() - t
io = dict(line.split(": ") for line in open(f"/proc/{p.pid}/io").read().splitlines())
p.wait()
print(f"{elapsed:.3f} {io['wchar']}")
PY
}

# 1. A 1,000 handler + 1M-entry snapshot pushed, vs psql \copy of its 1M entry rows.
"$bench" save "$out/a.db" base >/dev/null
"$bench" save "$out/a.db" one >/dev/null
sqlite3 -csv "$out/a.db" "SELECT chunk, '\\x' || lower(hex(key)), '\\x' || lower(hex(value)) FROM chunk_entries" > "$out/rows.csv"
rows=$(wc -l < "$out/rows.csv")
psql -X -q -d "$url" -c "CREATE TABLE copy_reference (chunk BIGINT, key BYTEA, value BYTEA, PRIMARY KEY (chunk, key))"
t0=$(now); psql -X -q -d "$url" -c "\\copy copy_reference FROM '$out/rows.csv' CSV"; t1=$(now)
copy=$(calc "$t1 - $t0" .3f)
read -r push1 bytes1 < <(written "$tool" snap push "$url" 1 --db "$out/a.db")
read -r push2 bytes2 < <(written "$tool" snap push "$url" 1 --db "$out/a.db")
read -r push3 bytes3 < <(written "$tool" snap push "$url" 2 --db "$out/a.db")

# 2. snap list over 10,000 snapshots of 100 hosts (10 handlers each), vs psql reading the same view.
psql -X -q -d "$url" <<'SQL'
INSERT INTO snapshots (created_at, segment_name, host, generation, message)
SELECT to_char(now() + i * interval '1 second', 'YYYY-MM-DD HH24:MI:SS.MS'), 'seg', 'host' || (i % 100), i, 'm' || i
FROM generate_series(1, 10000) i;
INSERT INTO snapshot_handlers (snapshot, fd, state)
SELECT s.id, fd, (SELECT min(state) FROM snapshot_handlers) FROM snapshots s, generate_series(100, 109) fd WHERE s.message LIKE 'm%';
SQL
t0=$(now); psql -X -q -A -t -d "$url" -c "SELECT * FROM snapshot_list ORDER BY id" > /dev/null; t1=$(now)
listref=$(calc "$t1 - $t0" .3f)
t0=$(now); "$tool" snap list --db "$url" > "$out/list.txt"; t1=$(now)
list=$(calc "$t1 - $t0" .3f)
t0=$(now); "$tool" snap list --db "$url" --host host42 > /dev/null; t1=$(now)
listhost=$(calc "$t1 - $t0" .3f)

# 3. A cross-host diff of two 1M-entry maps that differ in one entry, on the shared store itself;
# then pulled into a local history (only what it lacks) and diffed there; vs the same diff in the
# history that saved both. `snap diff` exits 1 when the two differ (as they do): anything else fails.
psql -X -q -d "$url" -c "UPDATE snapshots SET host = 'hostB' WHERE id = 2; UPDATE snapshots SET host = 'hostA' WHERE id = 1"
differ() { local rc=0; "$tool" snap diff "$@" --stat > /dev/null || rc=$?; [ "$rc" = 1 ] || { echo "bench-fleet: snap diff $* exited $rc" >&2; exit 1; }; }
t0=$(now); differ hostA:1 hostB:2 --db "$url"; t1=$(now)
crossdiff=$(calc "$t1 - $t0" .3f)
t0=$(now); "$tool" snap pull "$url" hostA:1 hostB:2 --db "$out/local.db" > /dev/null; t1=$(now)
pull=$(calc "$t1 - $t0" .3f)
t0=$(now); differ 1 2 --db "$out/local.db"; t1=$(now)
pulleddiff=$(calc "$t1 - $t0" .3f)
t0=$(now); differ 1 2 --db "$out/a.db"; t1=$(now)
localdiff=$(calc "$t1 - $t0" .3f)
t0=$(now); "$tool" snap pull "$url" hostB:2 --db "$out/a.db" > /dev/null; t1=$(now)
pullone=$(calc "$t1 - $t0" .3f)

echo "build: $config"
grep -m1 "model name" /proc/cpuinfo
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (other builds share the machine: absolute times are loaded ones)"
echo "snapshot: 1,000 handlers + a 1,000,000-entry hash map ($rows entry rows)"
echo "psql \\copy of the $rows rows:            ${copy} s"
echo "snap push of that snapshot:              ${push1} s   $(calc "$push1 / $copy" .2f)x \\copy (target <= 2x), $(calc "$bytes1 / 1048576" .1f) MiB written"
echo "snap push again (already there):         ${push2} s   $(calc "$bytes2 / 1024" .1f) KiB written (target < 64 KiB)"
echo "snap push of the next (one entry changed): ${push3} s   $(calc "$bytes3 / 1024" .1f) KiB written (target < 256 KiB)"
echo "snap list, 10,000 snapshots of 100 hosts: ${list} s   (psql SELECT * FROM snapshot_list: ${listref} s; --host: ${listhost} s; target < 0.5 s)"
echo "cross-host diff of two 1M maps, one entry apart, on the shared store: ${crossdiff} s (target < 1 s)"
echo "  pulled into a new history: pull ${pull} s ($(calc "$pull / ($push1 + $push3)" .2f)x the push of the same two: ${push1} s + ${push3} s), then diff ${pulleddiff} s"
echo "  the same diff where both were saved: ${localdiff} s; pulling hostB's into the history that has hostA's: ${pullone} s"
