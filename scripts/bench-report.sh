#!/usr/bin/env bash
# Run the criterion benchmarks for both crypto backends and rewrite the benchmark section of
# BENCHMARKS.md (between <!-- bench:begin --> and <!-- bench:end -->), keeping every other section
# (for example the JNI figures between <!-- jni:begin --> and <!-- jni:end -->).
#
# Usage: scripts/bench-report.sh [criterion args...]   e.g. --measurement-time 5
# Takes about 10-15 minutes on 2 cores. Not part of CI (CI only compiles the benches).
# Instruction counts (steadier than times on a shared machine): scripts/bench-instructions.sh.
# Before/after on one machine: scripts/bench-compare.sh.
# Never run it with RUSTFLAGS="-C target-cpu=native" (see BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
# Absolute: criterion writes to $CARGO_TARGET_DIR/criterion from each package's directory.
mkdir -p "${CARGO_TARGET_DIR:-target}"
CARGO_TARGET_DIR="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)"
export CARGO_TARGET_DIR
if [[ "${RUSTFLAGS:-}" == *target-cpu* ]]; then
    echo "refusing to benchmark with RUSTFLAGS=$RUSTFLAGS (target-cpu skews SHA-256)" >&2
    exit 2
fi
args=("$@")
crit="$CARGO_TARGET_DIR/criterion"
rm -rf "$crit"

echo "== default backend (RustCrypto)"
cargo bench --bench scv2 -- "${args[@]}"
cargo bench -p scv2-ffi --bench c_abi -- "${args[@]}"
cargo bench -q --bench memory >"$CARGO_TARGET_DIR/memory-rustcrypto.txt"
echo "== aws-lc backend"
cargo bench --features aws-lc --bench scv2 -- "${args[@]}"
cargo bench -p scv2-ffi --features aws-lc --bench c_abi -- "${args[@]}"
cargo bench -q --features aws-lc --bench memory >"$CARGO_TARGET_DIR/memory-aws-lc.txt"

openssl_line=""
if command -v openssl >/dev/null 2>&1; then
    # One core, 16 KiB blocks: the OpenSSL reference figure for the machine.
    openssl_line="$(openssl speed -seconds 3 -bytes 16384 -evp aes-256-gcm 2>/dev/null | grep -i '^aes-256-gcm' | tail -1 || true)"
fi

python3 scripts/bench_report.py "$crit" "$CARGO_TARGET_DIR" "$openssl_line" "$*"
echo "BENCHMARKS.md updated"
