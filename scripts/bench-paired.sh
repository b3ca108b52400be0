#!/usr/bin/env bash
# Paired timings of the hot paths (ffi/benches/hot_paths.rs, `hot_paths paired A B BLOCKS N`):
# alternating blocks of N runs of A and N runs of B, the median of the per-block differences
# B − A. On a shared machine this is the steadiest time figure: load slows both neighbours of a
# pair alike. Pairs: the Rust API against the C ABI (a 64-byte round trip, four calls), and
# open_request / seal_request (copying and in place) against the raw AEAD of the same backend.
#
#   scripts/bench-paired.sh [ROUNDS]        # each pair ROUNDS times (default 3), 300 blocks of 200
# Honours CARGO_TARGET_DIR and SCV2_BACKENDS ("rustcrypto aws-lc"). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
backends=${SCV2_BACKENDS:-rustcrypto aws-lc}
for backend in $backends; do
    features=()
    [ "$backend" = aws-lc ] && features=(--features aws-lc)
    bin=$(cargo bench --quiet --no-run -p scv2-ffi --bench hot_paths "${features[@]}" \
        --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "hot_paths" and m.get("executable"):
        print(m["executable"])')
    echo "### $backend (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    for pair in "rust_round_trip c_round_trip" "raw_open open_request" "raw_open open_request_in_place" \
        "raw_seal seal_request" "raw_seal seal_request_in_place"; do
        for _ in $(seq 1 "$rounds"); do
            # shellcheck disable=SC2086 # two operation names
            "$bin" paired $pair 300 200
        done
    done
    echo
done
