#!/usr/bin/env bash
# Instruction counts per operation of the hot paths (ffi/benches/instructions.rs), with
# `valgrind --tool=callgrind` counting only inside the measured loop: deterministic, so they
# explain the gaps that the timings of a shared machine blur. Prints a Markdown table for each
# backend (default RustCrypto, then aws-lc unless SCV2_BACKENDS says otherwise).
#
#   scripts/bench-instructions.sh [N]        # N operations per measurement (default 2000)
# Honours CARGO_TARGET_DIR and SCV2_BACKENDS ("rustcrypto aws-lc"). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
backends=${SCV2_BACKENDS:-rustcrypto aws-lc}
ops="raw_seal raw_open seal_request seal_request_in_place open_request open_request_in_place rust_round_trip c_round_trip"
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for backend in $backends; do
    features=()
    [ "$backend" = aws-lc ] && features=(--features aws-lc)
    bin=$(cargo bench --quiet --no-run -p scv2-ffi --bench instructions "${features[@]}" \
        --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "instructions" and m.get("executable"):
        print(m["executable"])')
    echo "### $backend ($n operations each; instructions per operation)"
    echo
    echo "| operation | instructions |"
    echo "|---|---:|"
    for op in $ops; do
        valgrind --tool=callgrind --toggle-collect='*measured*' --callgrind-out-file="$out/$op.cg" \
            "$bin" "$op" "$n" >/dev/null 2>"$out/$op.log"
        total=$(sed -n 's/^summary: //p;s/^totals: //p' "$out/$op.cg" | head -1 | awk '{print $1}')
        echo "| $op | $(( total / n )) |"
    done
    echo
done
