#!/usr/bin/env bash
# Run every cargo-fuzz target of fuzz/ for a while; fail on any crash.
#
#   scripts/fuzz.sh [seconds] [jobs]      # defaults: 60 seconds per target, 1 target at a time
#   scripts/fuzz.sh 600 2                 # 10 minutes each, two targets at a time
#   FUZZ_TARGETS="server_open roundtrip" scripts/fuzz.sh 60   # a subset
#
# Each target starts from its checked-in seeds (fuzz/corpus/<target>, never written) and grows a
# working corpus in fuzz/out/corpus/<target> (git-ignored; kept between runs). Logs go to
# fuzz/out/logs/<target>.log, crashes to fuzz/artifacts/<target>/. At the end the script prints
# libFuzzer's final statistics of every target and exits non-zero if any target crashed.
# Needs the nightly toolchain; installs cargo-fuzz if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
jobs=${2:-1}
targets=${FUZZ_TARGETS:-envelope_parse server_open client_open roundtrip ffi}
out=fuzz/out

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "error: the nightly toolchain is missing (cargo fuzz needs it): rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "::: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# One build of every target (ASan, debug assertions on: cargo fuzz's defaults, which the
# `test-vectors` feature requires).
s=$(date +%s)
cargo +nightly fuzz build
echo "::: fuzz build took $(( $(date +%s) - s ))s"

mkdir -p "$out/logs"
run_one() {
    local t=$1
    mkdir -p "$out/corpus/$t" "fuzz/artifacts/$t"
    local before
    before=$(find "fuzz/artifacts/$t" -type f | wc -l)
    local rc=0
    # The working corpus comes first: libFuzzer writes new inputs only to the first directory.
    cargo +nightly fuzz run "$t" "$out/corpus/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -dict=fuzz/dicts/scv2.dict -print_final_stats=1 \
        -timeout=30 -rss_limit_mb=4096 -max_len=8192 \
        >"$out/logs/$t.log" 2>&1 || rc=$?
    local after
    after=$(find "fuzz/artifacts/$t" -type f | wc -l)
    if [ "$rc" -ne 0 ] || [ "$after" -ne "$before" ]; then
        echo "!!! $t: exit code $rc, new artifacts: $((after - before)) (see $out/logs/$t.log)"
        return 1
    fi
    echo "::: $t done"
}

failed=()
pids=()
names=()
t0=$(date +%s)
for t in $targets; do
    echo "::: fuzzing $t for ${seconds}s"
    run_one "$t" &
    pids+=($!)
    names+=("$t")
    if [ "${#pids[@]}" -ge "$jobs" ]; then
        wait "${pids[0]}" || failed+=("${names[0]}")
        pids=("${pids[@]:1}")
        names=("${names[@]:1}")
    fi
done
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed+=("${names[$i]}")
done

echo
echo "::: libFuzzer final statistics (${seconds}s per target, ${jobs} at a time)"
for t in $targets; do
    echo "--- $t"
    grep -E '^#[0-9]+[[:space:]]+DONE' "$out/logs/$t.log" | tail -n 1 || true
    grep -E '^(stat::|Done [0-9]+ runs)' "$out/logs/$t.log" || true
done
echo "::: fuzzing took $(( $(date +%s) - t0 ))s"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "!!! crash or failure in: ${failed[*]}" >&2
    for t in "${failed[@]}"; do
        echo "--- $t (last lines of $out/logs/$t.log)" >&2
        tail -n 40 "$out/logs/$t.log" >&2
    done
    exit 1
fi
