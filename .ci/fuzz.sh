#!/usr/bin/env bash
# Short fuzzing pass over every fuzz target (fuzz/fuzz_targets/*.rs) with cargo-fuzz, on the
# machine's one toolchain (stable) with RUSTC_BOOTSTRAP=1: the sanitizer flags cargo-fuzz passes
# are unstable options. FUZZ_TOOLCHAIN=nightly uses a nightly toolchain instead. Works on a fresh Debian 12 machine
# with rustup: installs a C++ compiler (libFuzzer is built from source) and cargo-fuzz when
# missing. Targets are built without optimisation (`--dev`) unless FUZZ_RELEASE=1: the build
# is then much shorter, which a short pass needs more than speed.
#
#   FUZZ_SECONDS   seconds per target (default 15)
#   FUZZ_RUNS      instead of a time, this many inputs per target from a fixed seed: the same
#                  inputs on every machine, so a pass here is a pass in CI (CI uses it)
#   FUZZ_TARGETS   space-separated targets to run (default: all of them)
#   FUZZ_SANITIZER cargo-fuzz sanitizer (default: address; `none` builds quicker and runs
#                  faster, the library itself being safe Rust)
#
# First replays the saved inputs under fuzz/regressions/<target>/, then fuzzes each target
# for FUZZ_SECONDS, starting from fuzz/corpus/<target>/ (kept between runs, not committed),
# seeded from fuzz/seeds/<target>/ and from tests/data where the input format allows.
# Exits non-zero if any input crashes a target; crashing inputs are left in
# fuzz/artifacts/<target>/ with the run's log.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds="${FUZZ_SECONDS:-15}"
sanitizer="${FUZZ_SANITIZER:-address}"
export CARGO_TERM_COLOR=never

if ! command -v c++ >/dev/null || ! command -v cc >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq build-essential
fi
if [ "${FUZZ_TOOLCHAIN:-stable}" = nightly ]; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
profile=(--dev)
[ "${FUZZ_RELEASE:-0}" = 1 ] && profile=()

cd fuzz
if [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    mapfile -t targets < <("${fuzz[@]}" list)
fi
if [ -n "${FUZZ_RUNS:-}" ]; then budget="$FUZZ_RUNS inputs from seed 1"; else budget="${seconds}s"; fi
echo "== fuzz targets: ${targets[*]} ($budget each, sanitizer ${sanitizer})"

# Build first, so that the time given to each target is spent fuzzing.
if [ -n "${FUZZ_TARGETS:-}" ]; then
    for t in "${targets[@]}"; do
        "${fuzz[@]}" build "${profile[@]}" --sanitizer "$sanitizer" "$t"
    done
else
    "${fuzz[@]}" build "${profile[@]}" --sanitizer "$sanitizer"
fi

# Seeds: the hand-made inputs under fuzz/seeds/<target>/, and the test data for the targets
# whose input is a whole file of that kind.
seed() { # target, files...
    local dir="corpus/$1"
    shift
    mkdir -p "$dir"
    local f
    for f in "$@"; do
        [ -f "$f" ] || continue
        [ "$(stat -c %s "$f")" -le 65536 ] || continue
        cp -n "$f" "$dir/seed-$(basename "$f")" 2>/dev/null || true
    done
}
shopt -s nullglob
data="$root/tests/data"
for t in "${targets[@]}"; do
    seed "$t" seeds/"$t"/*
done
seed capture "$data"/pcap/*.pcap "$data"/pcap/*.pcapng
seed netflow "$data"/netflow/logstash/*.dat
seed feed_import "$data"/intel/*.txt "$data"/intel/*.csv
seed logs "$data"/logs/*.json "$data"/logs/*/*.log

failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    regressions=("$root"/fuzz/regressions/"$t"/*)
    if [ ${#regressions[@]} -gt 0 ]; then
        echo "== $t: replaying ${#regressions[@]} saved input(s)"
        if ! "${fuzz[@]}" run "${profile[@]}" --sanitizer "$sanitizer" "$t" "${regressions[@]}" \
            >"artifacts/$t/regressions.log" 2>&1; then
            echo "!! $t: a saved input under fuzz/regressions/$t fails (see fuzz/artifacts/$t/regressions.log)"
            tail -n 30 "artifacts/$t/regressions.log"
            failed+=("$t (regressions)")
        fi
    fi
    if [ -n "${FUZZ_RUNS:-}" ]; then
        runs="$FUZZ_RUNS"
        # The capture target runs the whole pipeline four times on every input (whole, in
        # pieces, twice through the extractor): a tenth of the inputs takes as long.
        [ "$t" = capture ] && runs=$(( (FUZZ_RUNS + 9) / 10 ))
        args=(-runs="$runs" -seed=1)
    else
        args=(-max_total_time="$seconds")
    fi
    args+=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
    [ -f "dicts/$t.dict" ] && args+=(-dict="$root/fuzz/dicts/$t.dict")
    echo "== $t: fuzzing ($budget)"
    log="artifacts/$t/fuzz.log"
    if "${fuzz[@]}" run "${profile[@]}" --sanitizer "$sanitizer" "$t" "$root/fuzz/corpus/$t" -- "${args[@]}" \
        >"$log" 2>&1; then
        grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|#[0-9]+.*DONE)' "$log" || true
    else
        echo "!! $t: crashed (input in fuzz/artifacts/$t/, log in $log)"
        grep -E 'panicked at|Test unit written|SUMMARY' "$log" | head -n 10 || true
        tail -n 40 "$log"
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing failed: ${failed[*]}"
    exit 1
fi
echo "fuzzing passed: ${#targets[@]} targets, $budget each"
