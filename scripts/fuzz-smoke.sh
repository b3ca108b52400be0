#!/usr/bin/env bash
# CI's fuzzing pass: replay the whole checked-in corpus of every target once, then fuzz each
# target for 10 seconds. Fails on any crash. Installs what it needs (cargo-fuzz), fails loudly if
# the nightly toolchain is missing, and prints how long each stage took.
#
#   scripts/fuzz-smoke.sh            # FUZZ_SMOKE_SECONDS=10 by default
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SMOKE_SECONDS:-10}
targets=${FUZZ_TARGETS:-envelope_parse server_open client_open roundtrip ffi}

stage() {
    local name=$1; shift
    local s; s=$(date +%s)
    echo "::: fuzz-smoke: $name"
    "$@"
    echo "::: fuzz-smoke: $name took $(( $(date +%s) - s ))s"
}

t0=$(date +%s)
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "error: the nightly toolchain is missing (cargo fuzz needs it): rustup toolchain install nightly" >&2
    exit 1
fi
install_cargo_fuzz() {
    if cargo fuzz --version >/dev/null 2>&1; then
        cargo fuzz --version
    else
        cargo install cargo-fuzz --locked
    fi
}
stage "cargo-fuzz present" install_cargo_fuzz
stage "build every target" cargo +nightly fuzz build

# Every checked-in input once (-runs=0: execute the given corpus, no mutation). A crash on any
# seed fails here, before fuzzing starts.
replay() {
    mkdir -p fuzz/out/logs
    local t rc log
    for t in $targets; do
        log="fuzz/out/logs/replay-$t.log"
        rc=0
        cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- -runs=0 -timeout=30 >"$log" 2>&1 || rc=$?
        echo "--- $t: $(find "fuzz/corpus/$t" -type f | wc -l) inputs, exit code $rc"
        grep -E '^#[0-9]+' "$log" | tail -n 1 || true
        if [ "$rc" -ne 0 ]; then
            tail -n 40 "$log" >&2
            return 1
        fi
    done
}
stage "replay of the checked-in corpus" replay
stage "fuzz ${seconds}s per target" bash scripts/fuzz.sh "$seconds" 1
echo "::: fuzz-smoke: total $(( $(date +%s) - t0 ))s"
