#!/usr/bin/env bash
# Build SCv2.xcframework: the scv2 static library (release, no test-vector entry points) for Apple
# platforms, with include/scv2.h and a module map (module CScv2), for iOS/macOS apps.
#
# NOT RUN OR TESTED HERE: it needs macOS with Xcode (xcodebuild, lipo, the Apple SDKs); the CI
# machine is Debian Linux without an Apple toolchain. scripts/test-swift.sh tests the Swift package
# on Linux against the Linux static library instead. Treat this script as documented instructions
# that have not been executed; report problems when you first run it on a Mac.
#
# Slices (each a static library libscv2.a):
#   ios-arm64                         aarch64-apple-ios
#   ios-arm64_x86_64-simulator        aarch64-apple-ios-sim + x86_64-apple-ios (lipo)
#   macos-arm64_x86_64                aarch64-apple-darwin + x86_64-apple-darwin (lipo)
#
# Usage (on a Mac, from anywhere):
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios \
#       aarch64-apple-darwin x86_64-apple-darwin
#   scripts/build-xcframework.sh [OUT_DIR]            # default: $CARGO_TARGET_DIR/xcframework
# Environment: CARGO_TARGET_DIR (default target), IPHONEOS_DEPLOYMENT_TARGET (default 13.0),
#   MACOSX_DEPLOYMENT_TARGET (default 10.15), SCV2_CARGO_FEATURES (e.g. "aws-lc"; default none).
#
# Using it from SwiftPM: in bindings/swift/Package.swift replace the system-library target
#   .systemLibrary(name: "CScv2", path: "Sources/CScv2")
# with
#   .binaryTarget(name: "CScv2", path: "<path>/SCv2.xcframework")
# (same module name, so the SecureChannel sources compile unchanged) and drop the Linux-only
# linker settings. In an Xcode project, add SCv2.xcframework to the target and the
# bindings/swift/Sources/SecureChannel/*.swift files (or the package) to the app.
set -euo pipefail  # bash 3.2 (macOS /bin/bash) compatible
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
OUT="${1:-$TARGET_DIR/xcframework}"
export IPHONEOS_DEPLOYMENT_TARGET="${IPHONEOS_DEPLOYMENT_TARGET:-13.0}"
export MACOSX_DEPLOYMENT_TARGET="${MACOSX_DEPLOYMENT_TARGET:-10.15}"
FEATURES=()
[ -n "${SCV2_CARGO_FEATURES:-}" ] && FEATURES=(--features "$SCV2_CARGO_FEATURES")

if [ "$(uname -s)" != Darwin ] || ! command -v xcodebuild >/dev/null 2>&1; then
    echo "error: build-xcframework.sh needs macOS with Xcode (xcodebuild); this is $(uname -s)." >&2
    exit 2
fi

TARGETS=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin)
for t in "${TARGETS[@]}"; do
    echo "== cargo build --release --lib --target $t"
    CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --lib --target "$t" ${FEATURES[@]+"${FEATURES[@]}"}
done
lib() { echo "$TARGET_DIR/$1/release/libscv2.a"; }

WORK="$OUT/work"
rm -rf "$WORK" "$OUT/SCv2.xcframework"
mkdir -p "$WORK/headers" "$WORK/ios" "$WORK/ios-simulator" "$WORK/macos"

# Headers: the generated header as is, and a module map naming the module CScv2 (as the
# system-library target of bindings/swift does), so `import CScv2` works from Swift.
cp include/scv2.h "$WORK/headers/"
cat >"$WORK/headers/module.modulemap" <<'EOF'
module CScv2 {
    header "scv2.h"
    export *
}
EOF

cp "$(lib aarch64-apple-ios)" "$WORK/ios/libscv2.a"
lipo -create "$(lib aarch64-apple-ios-sim)" "$(lib x86_64-apple-ios)" -output "$WORK/ios-simulator/libscv2.a"
lipo -create "$(lib aarch64-apple-darwin)" "$(lib x86_64-apple-darwin)" -output "$WORK/macos/libscv2.a"

xcodebuild -create-xcframework \
    -library "$WORK/ios/libscv2.a" -headers "$WORK/headers" \
    -library "$WORK/ios-simulator/libscv2.a" -headers "$WORK/headers" \
    -library "$WORK/macos/libscv2.a" -headers "$WORK/headers" \
    -output "$OUT/SCv2.xcframework"

rm -rf "$WORK"
echo "built $OUT/SCv2.xcframework"
for f in "$OUT"/SCv2.xcframework/*/libscv2.a; do
    echo "  $(shasum -a 256 "$f" | cut -d' ' -f1)  ${f#"$OUT"/}"
done
