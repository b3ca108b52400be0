#!/usr/bin/env bash
# Instruction counts per operation of the hot paths (ffi/benches/hot_paths.rs), with
# `valgrind --tool=callgrind` counting only inside the measured loop: deterministic, so they
# explain the gaps that the timings of a shared machine blur. Prints a Markdown table for each
# backend (default RustCrypto, then aws-lc unless SCV2_BACKENDS says otherwise): every operation
# with a 64-byte body, the envelope operations with a 16 KiB body too, and the full handshake.
#
#   scripts/bench-instructions.sh [N]        # N operations per measurement (default 2000)
# Honours CARGO_TARGET_DIR and SCV2_BACKENDS ("rustcrypto aws-lc"). Not part of CI. About 2
# minutes per backend.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
backends=${SCV2_BACKENDS:-rustcrypto aws-lc}
small="raw_seal raw_open seal_request seal_request_in_place open_request open_request_in_place rust_round_trip c_round_trip"
large="raw_seal raw_open seal_request_in_place open_request_in_place"
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # count <bin> <op> <n> <len>: instructions per operation
    valgrind --tool=callgrind --toggle-collect='*measured*' --callgrind-out-file="$out/cg" \
        "$1" "$2" "$3" "$4" >/dev/null 2>"$out/log" || { cat "$out/log" >&2; exit 1; }
    local total
    total=$(sed -n 's/^summary: //p;s/^totals: //p' "$out/cg" | head -1 | awk '{print $1}')
    echo $(( total / $3 ))
}
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
    echo "### $backend (instructions per operation, $n operations per count)"
    echo
    echo "| operation | 64 B | 16 KiB |"
    echo "|---|---:|---:|"
    for op in $small; do
        big="–"
        case " $large " in *" $op "*) big=$(count "$bin" "$op" $(( n / 10 )) 16384) ;; esac
        echo "| $op | $(count "$bin" "$op" "$n" 64) | $big |"
    done
    echo "| handshake (both sides) | $(count "$bin" handshake 50 0) | |"
    echo
done
