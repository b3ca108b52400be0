#!/usr/bin/env bash
# The Kotlin binding's tests (bindings/kotlin): builds libscv2.so with the JNI glue (package libscv2,
# a DEBUG build with --features jni,test-vectors: the test-vector entry points refuse release builds), compiles
# the io.scv2 package, its JUnit 5 tests and README's ```kotlin example with Debian's kotlinc 1.3,
# runs them with the JUnit console launcher, and prints "N passed, M failed" last.
# Installs kotlin and junit5 with apt-get if they are missing. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-target}
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
BUILD="$TARGET/kotlin-test"
JAVA_LIB=/usr/share/java
JUNIT="$JAVA_LIB/junit-platform-console-standalone.jar"
KT_CP="$JAVA_LIB/kotlin-stdlib.jar:$JAVA_LIB/kotlin-stdlib-jdk7.jar"

t_all=$(date +%s)
stage_start() { echo "::: $1"; t_stage=$(date +%s); }
stage_end() { echo "::: $1 took $(( $(date +%s) - t_stage ))s"; }

stage_start "kotlin/junit5 packages"
if ! command -v kotlinc >/dev/null || [ ! -f "$JUNIT" ] || [ ! -f "$JAVA_LIB/kotlin-stdlib-jdk7.jar" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq kotlin junit5 >/dev/null
fi
kotlinc -version 2>&1 | grep -v '^OpenJDK' | tail -1
stage_end "kotlin/junit5 packages"

stage_start "cargo build -p libscv2 --features jni,test-vectors (libscv2.so, debug)"
cargo build -p libscv2 --features jni,test-vectors
LIBDIR="$TARGET/debug"
[ -f "$LIBDIR/libscv2.so" ] || { echo "no $LIBDIR/libscv2.so"; exit 1; }
sha256sum "$LIBDIR/libscv2.so"
stage_end "cargo build -p libscv2 --features jni,test-vectors (libscv2.so, debug)"

stage_start "kotlinc (io.scv2, tests, README example)"
rm -rf "$BUILD"
mkdir -p "$BUILD/readme" "$BUILD/classes"
python3 - "$ROOT/README.md" "$BUILD/readme/ReadmeExample.kt" <<'PY'
import sys
s = open(sys.argv[1]).read()
b = s.index("<!-- kotlin:begin")
e = s.index("<!-- kotlin:end -->")
sec = s[b:e]
start = sec.index("```kotlin\n") + len("```kotlin\n")
open(sys.argv[2], "w").write(sec[start:sec.index("```", start)])
PY
# One kotlinc run (it is slow to start): the package, the tests and the README example together.
kotlinc -nowarn -cp "$JUNIT:$KT_CP" -d "$BUILD/classes" \
    bindings/kotlin/src/main/kotlin bindings/kotlin/src/test/kotlin "$BUILD/readme/ReadmeExample.kt" \
    2>&1 | grep -v '^OpenJDK 64-Bit Server VM warning' || true
[ -f "$BUILD/classes/io/scv2/Native.class" ] && [ -f "$BUILD/classes/ReadmeExampleKt.class" ] \
    || { echo "kotlinc failed"; exit 1; }
stage_end "kotlinc (io.scv2, tests, README example)"

stage_start "JUnit 5 (console launcher)"
set +e
RUST_BACKTRACE=0 java -Djava.library.path="$LIBDIR" \
    -Dscv2.vectors="$ROOT/tests/vectors/scv2-x25519.json" -Dscv2.header="$ROOT/include/scv2.h" \
    -jar "$JUNIT" -cp "$BUILD/classes:$KT_CP" --select-package io.scv2 \
    --details=tree --disable-banner --disable-ansi-colors 2>&1 | tee "$BUILD/junit.log"
rc=${PIPESTATUS[0]}
set -e
stage_end "JUnit 5 (console launcher)"

echo "::: total $(( $(date +%s) - t_all ))s"
passed=$(sed -n 's/.*\[ *\([0-9]*\) tests successful *\].*/\1/p' "$BUILD/junit.log" | tail -1)
failed=$(sed -n 's/.*\[ *\([0-9]*\) tests failed *\].*/\1/p' "$BUILD/junit.log" | tail -1)
echo "${passed:-0} passed, ${failed:-0} failed"
if [ "$rc" -ne 0 ] || [ "${failed:-1}" != 0 ] || [ "${passed:-0}" = 0 ]; then
    exit 1
fi
