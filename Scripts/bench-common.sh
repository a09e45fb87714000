# Shared by the benchmark scripts (sourced, not run).

# The ../shared/bench directory above the repository (CI and this workplace keep shared/ beside it).
shared_bench_dir() {
  local dir=$PWD
  while [ "$dir" != / ]; do
    if [ -d "$dir/shared/bench" ]; then echo "$dir/shared/bench"; return; fi
    dir=$(dirname "$dir")
  done
  echo "$1: no shared/bench directory above $PWD" >&2
  exit 1
}

# python3's json.load of $1 and json.dump(indent=4) to $2, best of $3 runs: "load_seconds dump_seconds".
python_json_times() {
  python3 - "$@" <<'PY'
import json, sys, time
src, dst, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
loads, dumps = [], []
for _ in range(runs):
    t = time.perf_counter()
    with open(src) as f:
        doc = json.load(f)
    loads.append(time.perf_counter() - t)
    t = time.perf_counter()
    with open(dst, "w") as f:
        json.dump(doc, f, indent=4)
    dumps.append(time.perf_counter() - t)
    del doc
print(min(loads), min(dumps))
PY
}
