#!/usr/bin/env bash
# The C harness: builds the static library (package libscv2, with the test-vector entry points),
# then builds every C program in tests/c/ against include/scv2.h and runs it twice: under
# AddressSanitizer + UndefinedBehaviorSanitizer, and under valgrind (memcheck, definite/indirect
# leaks are errors); finally installs the library with scripts/install.sh into a scratch prefix and
# builds one program through `pkg-config --cflags --libs scv2` (linking libscv2.so).
# Prints a final line "N passed, M failed" (checks counted by the C programs; a program that
# crashes or reports sanitizer/valgrind errors counts as one failure) and exits non-zero on any
# failure. Honours CARGO_TARGET_DIR (default: target).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
BUILD="$TARGET_DIR/c-tests"
mkdir -p "$BUILD"

need() { # need <command> <apt package>
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "== installing $2"
    if [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2") >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
    fi
    command -v "$1" >/dev/null 2>&1 || { echo "cannot install $2"; exit 2; }
}
need gcc gcc
need valgrind valgrind
need python3 python3

echo "== cargo build -p libscv2 --features test-vectors (libscv2.a)"
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --quiet -p libscv2 --features test-vectors || { echo "0 passed, 1 failed"; exit 1; }
LIB="$TARGET_DIR/debug/libscv2.a"
[ -f "$LIB" ] || { echo "missing $LIB"; echo "0 passed, 1 failed"; exit 1; }

VECTORS_JSON="$ROOT/tests/vectors/scv2-x25519.json"
VECTORS_TXT="$BUILD/vectors.txt"
if [ -f "$VECTORS_JSON" ]; then
    python3 tests/c/vectors_to_text.py "$VECTORS_JSON" "$VECTORS_TXT" || { echo "0 passed, 1 failed"; exit 1; }
fi

CFLAGS=(-std=c11 -D_POSIX_C_SOURCE=200809L -DSCV2_TEST_VECTORS -Wall -Wextra -Werror -g -O1
        -I"$ROOT/include" -I"$ROOT/tests/c")
LIBS=("$LIB" -lpthread -ldl -lm)

passed=0
failed=0
run() { # run <label> <command...>: parse the RESULT line, count a crash as one failure
    local label="$1"; shift
    local log="$BUILD/$label.log"
    "$@" >"$log" 2>&1
    local rc=$?
    local line
    line="$(grep -E '^RESULT passed=[0-9]+ failed=[0-9]+$' "$log" | tail -1)"
    if [ -n "$line" ]; then
        local p f
        p="$(sed -E 's/RESULT passed=([0-9]+) failed=([0-9]+)/\1/' <<<"$line")"
        f="$(sed -E 's/RESULT passed=([0-9]+) failed=([0-9]+)/\2/' <<<"$line")"
        passed=$((passed + p))
        failed=$((failed + f))
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
    else
        failed=$((failed + 1))
    fi
    if [ "$rc" -eq 0 ]; then
        echo "ok   $label ($line)"
    else
        echo "FAIL $label (exit $rc): see $log"
        tail -30 "$log" | sed 's/^/    /'
    fi
}

for src in tests/c/*.c; do
    name="$(basename "$src" .c)"
    args=()
    if [ "$name" = vectors ]; then
        if [ ! -f "$VECTORS_TXT" ]; then echo "skip vectors: $VECTORS_JSON missing"; failed=$((failed + 1)); continue; fi
        args=("$VECTORS_TXT")
    fi
    if gcc "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
        "$src" -o "$BUILD/$name.asan" "${LIBS[@]}"; then
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            run "$name.asan" "$BUILD/$name.asan" "${args[@]}"
    else
        echo "FAIL $name: ASan build failed"; failed=$((failed + 1))
    fi
    if gcc "${CFLAGS[@]}" "$src" -o "$BUILD/$name.vg" "${LIBS[@]}"; then
        run "$name.valgrind" valgrind -q --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
            "$BUILD/$name.vg" "${args[@]}"
    else
        echo "FAIL $name: build failed"; failed=$((failed + 1))
    fi
done

# The installed library, as a C user links it: scripts/install.sh into a scratch prefix, then one
# program compiled with `pkg-config --cflags --libs scv2` (which links libscv2.so) and run.
need pkg-config pkg-config
PREFIX_DIR="$BUILD/prefix"
rm -rf "$PREFIX_DIR"
if CARGO_TARGET_DIR="$TARGET_DIR" bash scripts/install.sh "$PREFIX_DIR" --debug --features test-vectors >"$BUILD/install.log" 2>&1; then
    PC_FLAGS="$(PKG_CONFIG_PATH="$PREFIX_DIR/lib/pkgconfig" pkg-config --cflags --libs scv2)"
    # shellcheck disable=SC2086 # the pkg-config output is a list of flags
    if gcc -std=c11 -D_POSIX_C_SOURCE=200809L -DSCV2_TEST_VECTORS -Wall -Wextra -Werror -O1 -I"$ROOT/tests/c" \
        tests/c/exchange.c -o "$BUILD/exchange.pkgconfig" $PC_FLAGS; then
        LD_LIBRARY_PATH="$PREFIX_DIR/lib" run exchange.pkgconfig "$BUILD/exchange.pkgconfig"
    else
        echo "FAIL exchange.c through pkg-config ($PC_FLAGS)"; failed=$((failed + 1))
    fi
else
    echo "FAIL scripts/install.sh: see $BUILD/install.log"; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
