#!/usr/bin/env bash
# Regenerate include/scv2.h from src/ffi/ with cbindgen (configuration: cbindgen.toml).
# The rendering lives in tests/ffi_header.rs (one code path for generating and checking); this
# script runs that test in "bless" mode, which writes the file. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
SCV2_BLESS=1 cargo test --quiet --features test-vectors --test ffi_header -- checked_in_header_is_up_to_date
cargo test --quiet --features test-vectors --test ffi_header
echo "include/scv2.h regenerated"
