#!/usr/bin/env bash
# Type-check the core and the boundary (the C library with the JNI glue for Android) for the
# platforms apps run on: aarch64-linux-android (--features jni), aarch64-apple-ios and
# x86_64-apple-darwin, and the core alone for wasm32-unknown-unknown (the browser; the web SDK in
# bindings/web/ is built and tested by scripts/test-web.sh). `cargo check` needs no linker or SDK
# for these targets; rustup adds the standard libraries when they are missing. Prints how long
# each target took.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(aarch64-linux-android aarch64-apple-ios x86_64-apple-darwin wasm32-unknown-unknown)
installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
done
for t in "${targets[@]}"; do
    s=$(date +%s)
    packages=(-p scv2 -p scv2-ffi -p libscv2)
    features=()
    [ "$t" = aarch64-linux-android ] && features=(--features jni)
    # No C ABI in the browser: the core only (its getrandom uses crypto.getRandomValues there).
    [ "$t" = wasm32-unknown-unknown ] && packages=(-p scv2)
    cargo check --quiet --target "$t" "${packages[@]}" "${features[@]}"
    echo "::: cargo check --target $t ${features[*]} took $(( $(date +%s) - s ))s"
done
