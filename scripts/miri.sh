#!/usr/bin/env bash
# Miri (undefined-behaviour checker) over the code that handles hostile bytes and raw pointers:
#   - the parser unit tests (src/wire.rs, every layout's round trip) and the other small unit tests
#     of the byte-level modules (padding, replay window, errors, web form, HTTP binding, key
#     schedule);
#   - the boundary's unit tests (ffi/src: the lock-free token table with its threads, the bridge,
#     the argument rules) and its C-ABI tests (ffi/tests/c_abi.rs, ffi/tests/alloc.rs: the
#     extern "C" entry points through raw pointers). ffi/tests/boundary.rs, header.rs and
#     generated.rs only scan sources and run cbindgen; they call no C function and are left out;
#   - one full handshake with one request and one response (tests/hostile.rs,
#     s9_one_full_exchange); the rest of tests/hostile.rs is `#[cfg_attr(miri, ignore)]`.
# Proptests, big payloads and long loops stay out (cfg(miri) in the test files, or not selected
# here: replay's 600 000-step model walk is skipped; the plain replay tests run).
#
# Installs the Miri component itself; fails loudly without a nightly toolchain. Budget: at most
# 5 minutes on 2 cores (FUZZING.md has the measured times). To fit, the test binaries are built
# once and then interpreted two at a time (Miri runs one binary on one core).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "error: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
    exit 1
fi

stage() {
    local name=$1; shift
    local s; s=$(date +%s)
    echo "::: miri: $name"
    "$@"
    echo "::: miri: $name took $(( $(date +%s) - s ))s"
}

t0=$(date +%s)
stage "rustup component add miri rust-src" rustup component add miri rust-src --toolchain nightly
stage "sysroot (cargo miri setup)" cargo +nightly miri setup

stage "build the test binaries (core)" cargo +nightly miri test -p scv2 --features test-vectors \
    --lib --test hostile --no-run
stage "build the test binaries (boundary)" cargo +nightly miri test -p scv2-ffi --features test-vectors \
    --lib --test c_abi --test alloc --no-run

logs=$(mktemp -d)
# Each run below is one test binary under Miri: `name|cargo args -- libtest args`.
runs=(
    "lib|-p scv2 --lib -- wire:: padding:: replay:: error:: web:: http:: schedule:: --skip replay::tests::matches_model_exhaustively_on_a_pseudo_random_walk"
    "hostile|-p scv2 --test hostile -- s9_one_full_exchange"
    "alloc|-p scv2-ffi --test alloc"
    "ffi-lib|-p scv2-ffi --lib"
    # c_abi is the longest binary: two runs of it with disjoint filters use both cores.
    "c_abi-2|-p scv2-ffi --test c_abi -- --skip handshake_lengths_and_single_use --skip nulls_and_bad_lengths_are_errors"
    "c_abi-1|-p scv2-ffi --test c_abi -- handshake_lengths_and_single_use nulls_and_bad_lengths_are_errors"
)

run_one() {
    local name=$1 args=$2 s rc=0
    s=$(date +%s)
    # shellcheck disable=SC2086 # the argument list is split on purpose
    cargo +nightly miri test --features test-vectors $args >"$logs/$name.log" 2>&1 || rc=$?
    echo "$rc $(( $(date +%s) - s ))" >"$logs/$name.rc"
}

interpret() {
    local pids=() entry name
    # The longest runs first, two at a time.
    for ((i = ${#runs[@]} - 1; i >= 0; i--)); do
        entry=${runs[$i]}
        name=${entry%%|*}
        run_one "$name" "${entry#*|}" &
        pids+=($!)
        if [ "${#pids[@]}" -ge 2 ]; then
            wait "${pids[0]}"
            pids=("${pids[@]:1}")
        fi
    done
    for p in "${pids[@]}"; do
        wait "$p"
    done
    local failed=0 rc secs
    for entry in "${runs[@]}"; do
        name=${entry%%|*}
        read -r rc secs <"$logs/$name.rc"
        echo "--- $name: exit code $rc, ${secs}s"
        grep -E '^(test result|test .* \.\.\. (ok|FAILED|ignored))' "$logs/$name.log" || true
        if [ "$rc" -ne 0 ]; then
            failed=1
            tail -n 60 "$logs/$name.log" >&2
        fi
    done
    return "$failed"
}
stage "interpret (two binaries at a time)" interpret
rm -rf "$logs"
echo "::: miri: total $(( $(date +%s) - t0 ))s"
