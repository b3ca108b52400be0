#!/usr/bin/env bash
# The reference gateway: format, lints, tests, and the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
rustfmt --edition 2021 --check gateway/src/*.rs gateway/tests/*.rs
cargo clippy -p scv2-gateway --all-targets -- -D warnings
cargo test -p scv2-gateway
cargo run -q -p scv2-gateway --bin scv2 -- demo
