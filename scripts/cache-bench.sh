#!/usr/bin/env bash
# Figures for the shared result cache (issue 19), and its crash test, on the example pipeline.
#   scripts/cache-bench.sh [SIZE] [TRIALS] [CRASH_SIZE]    (defaults 2048, 50, 512)
# Prints: a cold run without and with the cache; a rerun in a copied project (cp -r) with the
# cache; a fresh project of the same inputs on the same store; `pgp cache verify` and `gc` on a
# store of 1,000 entries; then TRIALS runs killed (SIGKILL) at random moments while they add to
# a store, each followed by `pgp cache verify`, which must find no damaged blob, and a final
# restore compared byte for byte. Exits non-zero if any check fails. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE="${1:-2048}"
TRIALS="${2:-50}"
CRASH_SIZE="${3:-512}"
cargo build --release -p pgp-cli --bin pgp -p pgp --example demo >&2
PGP="$PWD/target/release/pgp"
DEMO="$PWD/target/release/examples/demo"
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
export -n PGP_CACHE

table() { # table DIR CLASS3: the example's biophysical table
    { echo "lucode,coef"; for k in 1 2 3 4 5 6 8 9 10 11 12; do
        if [ "$k" = 3 ]; then echo "3,$2"; else echo "$k,0.$k"; fi; done; } >"$1/biophysical.csv"
}
project() { # project DIR GEN: the example pipeline on the inputs generated in GEN
    mkdir -p "$1"
    cp -r "$2/data" "$1/data"
    cp examples/pipeline/pipeline.toml "$1/"
    table "$1" 0.3
}
seconds() { # seconds CMD...: wall time of CMD (its stdout to $W/last.json)
    local a b
    a=$EPOCHREALTIME
    "$@" >"$W/last.json"
    b=$EPOCHREALTIME
    python3 -c "print(f'{$b - $a:.3f}')"
}
field() { python3 -c "import json,sys; print(len(json.load(open('$W/last.json'))['$1']))"; }
check() { if ! eval "$1"; then echo "FAILED: $2" >&2; exit 1; fi; }

echo "load: $(uptime | sed 's/.*load average/load average/')"
"$DEMO" "$W/gen" "$SIZE" >/dev/null
S="$W/store"
project "$W/p0" "$W/gen"
project "$W/p1" "$W/gen"
cold=$(seconds "$PGP" run --json "$W/p0/pipeline.toml")
check '[ "$(field ran)" = 4 ]' "cold run ran 4 tasks"
cold_cache=$(seconds "$PGP" run --json --cache "$S" "$W/p1/pipeline.toml")
cp -r "$W/p1" "$W/p2"
copied=$(seconds "$PGP" run --json --cache "$S" "$W/p2/pipeline.toml")
check '[ "$(field ran)" = 0 ] && [ "$(field skipped)" = 4 ]' "copied project ran nothing"
project "$W/p3" "$W/p1"
fresh=$(seconds "$PGP" run --json --cache "$S" "$W/p3/pipeline.toml")
check '[ "$(field ran)" = 0 ] && [ "$(field restored)" = 4 ]' "fresh project restored all 4"
for f in work/runoff.tif work/coef.tif work/zonal_runoff.json; do
    cmp "$W/p1/$f" "$W/p3/$f"
done
python3 - "$SIZE" "$cold" "$cold_cache" "$copied" "$fresh" <<'PY'
import sys
size, cold, cc, cp, fr = sys.argv[1], *map(float, sys.argv[2:])
print(f"example pipeline {size}x{size} (threading, release):")
print(f"  cold, no cache          {cold:8.3f} s")
print(f"  cold, adding to cache   {cc:8.3f} s  ({cc / cold:.2f} x cold)")
print(f"  copied project (cp -r)  {cp:8.3f} s  ({100 * cp / cold:.1f} % of cold, 0 ran)")
print(f"  fresh project, restored {fr:8.3f} s  ({100 * fr / cold:.1f} % of cold, 4 restored)")
PY

# A store of 1,000 entries: 1,000 small calc tasks, each its own output.
"$DEMO" "$W/tiny" 64 >/dev/null
mkdir -p "$W/many"
cp -r "$W/tiny/data" "$W/many/data"
{
    echo 'executor = "threading"'
    for i in $(seq 1 1000); do
        printf '[[task]]\nname = "t%d"\nop = "pgp.calc"\n[task.args]\nexpression = "dem * %d"\n' "$i" "$i"
        printf 'inputs = { dem = "data/dem.tif" }\ntarget = "work/t%d.tif"\n' "$i"
    done
} >"$W/many/pipeline.toml"
many=$(seconds "$PGP" run --json --cache "$W/store1000" "$W/many/pipeline.toml")
"$PGP" cache stats --cache "$W/store1000"
sync # time the commands, not the writeback of what the run just wrote
verify=$(seconds "$PGP" cache verify --cache "$W/store1000")
bytes=$("$PGP" cache stats --json --cache "$W/store1000" | python3 -c "import json,sys; print(json.load(sys.stdin)['bytes'])")
gc=$(seconds "$PGP" cache gc --max-size "$((bytes / 2))" --cache "$W/store1000")
cat "$W/last.json"
echo "1,000 entries: run $many s, verify $verify s, gc to half $gc s"

# Crash test: SIGKILL at random moments while runs add to the store.
"$DEMO" "$W/cgen" "$CRASH_SIZE" >/dev/null
C="$W/crash-store"
project "$W/ref" "$W/cgen"
ref=$(seconds "$PGP" run --json --cache "$C" "$W/ref/pipeline.toml")
killed=0
for trial in $(seq 1 "$TRIALS"); do
    rm -rf "$W/c"
    project "$W/c" "$W/cgen"
    table "$W/c" "0.$((trial + 10))" # new coefficients: new keys, so this run adds
    "$PGP" run --cache "$C" "$W/c/pipeline.toml" >/dev/null 2>&1 &
    pid=$!
    sleep "$(python3 -c "import random; print(random.uniform(0, $ref * 1.2))")"
    if kill -KILL "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
    wait "$pid" 2>/dev/null || true
    if ! "$PGP" cache verify --cache "$C" >"$W/verify.txt"; then
        cat "$W/verify.txt" >&2
        echo "FAILED: trial $trial: the store holds a damaged blob" >&2
        exit 1
    fi
done
# What the killed runs left is served intact: a fresh project of the reference inputs.
project "$W/after" "$W/ref"
seconds "$PGP" run --json --cache "$C" "$W/after/pipeline.toml" >/dev/null
check '[ "$(field ran)" = 0 ]' "the reference restored after the crash trials"
for f in work/runoff.tif work/coef.tif work/zonal_runoff.json; do
    cmp "$W/ref/$f" "$W/after/$f"
done
"$PGP" cache stats --cache "$C"
echo "crash test: $TRIALS trials ($killed killed mid-run), no damaged blob found or served"
