#!/usr/bin/env bash
# JNI-overhead benchmark of the Kotlin binding (not part of CI): builds the release libscv2.so with
# --features jni and the benchmark's Rust baseline (libscv2_bench.so, bindings/kotlin/bench/native),
# compiles io.scv2 + bindings/kotlin/bench with kotlinc, runs io.scv2.Bench and
# writes its table into BENCHMARKS.md between <!-- jni:begin --> and <!-- jni:end --> (creating the
# file with just that section if it does not exist; the rest of the file is left alone).
# Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-target}
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
BUILD="$TARGET/kotlin-bench"
JAVA_LIB=/usr/share/java
KT_CP="$JAVA_LIB/kotlin-stdlib.jar:$JAVA_LIB/kotlin-stdlib-jdk7.jar"

if ! command -v kotlinc >/dev/null || [ ! -f "$JAVA_LIB/kotlin-stdlib-jdk7.jar" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq kotlin >/dev/null
fi

cargo build --release -p libscv2 --features jni
cargo build --release -p scv2-jni-bench
rm -rf "$BUILD"
mkdir -p "$BUILD/classes"
kotlinc -nowarn -cp "$KT_CP" -d "$BUILD/classes" bindings/kotlin/src/main/kotlin bindings/kotlin/bench \
    2>&1 | grep -v '^OpenJDK 64-Bit Server VM warning' || true
[ -f "$BUILD/classes/io/scv2/Bench.class" ] || { echo "kotlinc failed"; exit 1; }

java -Djava.library.path="$TARGET/release" -cp "$BUILD/classes:$KT_CP" io.scv2.Bench | tee "$BUILD/table.md"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
python3 - "$BUILD/table.md" "$(nproc)" "$cpu" "$(date -u +%Y-%m-%d)" "$(java -version 2>&1 | head -1)" <<'PY'
import os, sys
table, nproc, cpu, date, jvm = sys.argv[1:6]
rows = open(table).read().strip()
section = f"""<!-- jni:begin -->
## JNI overhead (Kotlin binding)

`bash scripts/bench-kotlin.sh` ({date}; {nproc} CPUs shared with other jobs, {cpu}; {jvm};
release `libscv2.so` built with `--features jni`). One exchange = client seal_request + server
open_request + server seal_response + client open_response (2 seals + 2 opens, ctx
`POST /web/v1/auth/login`, answer as long as the body), all in one JVM process; figures are ns per
exchange, medians over 201 runs of 400 exchanges after warm-up, the four variants back to back in
each run (`System.nanoTime` loops; JMH is not available here). "Rust core API" and "C ABI from Rust" are the same loop timed inside Rust
(`BenchNative.rustBaselineNanos`, a separate library) over the core API and over the `scv2_*`
functions (handle checks, token table); the Kotlin calls go through the JNI shells, which call the
same bridge as the C ABI. "new arrays" is the Kotlin API that returns fresh `ByteArray`s (one extra
size query per seal/open and, on open, one copy of the plaintext to an exact-size array); "reused
buffers" is the `...Into` API. The last column is the median over the runs of (Kotlin − C ABI) / 4
calls, each run against its own C-ABI neighbour: the cost of the JNI crossing, the handle's
in-flight count and moving the arrays, per call.

{rows}

On the seal/open calls, a ctx of at most 256 bytes, an input of at most 1024 bytes and an output
capacity of at most 1152 bytes cross with `GetByteArrayRegion`/`SetByteArrayRegion` through stack
buffers that are wiped afterwards; longer arrays are pinned with `GetPrimitiveArrayCritical`
(inputs read-only, outputs written by Rust in place).
<!-- jni:end -->"""
path = "BENCHMARKS.md"
if os.path.exists(path):
    s = open(path).read()
    if "<!-- jni:begin -->" in s and "<!-- jni:end -->" in s:
        b = s.index("<!-- jni:begin -->")
        e = s.index("<!-- jni:end -->") + len("<!-- jni:end -->")
        s = s[:b] + section + s[e:]
    else:
        s = s.rstrip("\n") + "\n\n" + section + "\n"
else:
    s = section + "\n"
open(path, "w").write(s)
print("BENCHMARKS.md: jni section updated")
PY
