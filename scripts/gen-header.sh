#!/usr/bin/env bash
# Regenerate everything the boundary derives from the core (the rendering lives in the tests, one
# code path for generating and checking; this script runs them in "bless" mode, which writes the
# files instead of failing):
#   - include/scv2.h (cbindgen over ffi/src/, ffi/tests/header.rs),
#   - ffi/src/c/generated.rs (the C status codes and lengths), bindings/kotlin/.../Status.kt,
#     the generated block of bindings/kotlin/.../Native.kt and
#     bindings/swift/Sources/SecureChannel/Scv2Error.swift (ffi/tests/generated.rs).
# Then runs both checks again. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
SCV2_BLESS=1 cargo test --quiet -p scv2-ffi --features test-vectors --test generated
SCV2_BLESS=1 cargo test --quiet -p scv2-ffi --features test-vectors --test header -- checked_in_header_is_up_to_date
cargo test --quiet -p scv2-ffi --features test-vectors --test generated --test header
echo "include/scv2.h and the generated bindings files regenerated"
