#!/usr/bin/env bash
# The project's test command (README: "Run the tests"). Runs every test suite that needs no
# special machine set-up beyond what it installs itself.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (core, with test-vector constructors)"
cargo test --workspace --features test-vectors
