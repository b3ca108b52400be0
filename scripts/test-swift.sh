#!/usr/bin/env bash
# The Swift binding's tests (bindings/swift), run for real on Debian 12, which has no Swift:
#
#   1. cargo build -p libscv2 --features test-vectors -> $CARGO_TARGET_DIR/debug/libscv2.a (default target/)
#   2. a Debian 13 (trixie) minbase chroot with the distribution's `swiftlang` (Swift 6.0.3),
#      created once per machine in $SCV2_SWIFT_CHROOT (default /var/cache/scv2-swift-chroot) and
#      reused by later runs (debootstrap ~20 s and a ~540 MB apt download ~50 s on a fresh machine);
#   3. a fresh work area in the chroot (/scv2): include/scv2.h, tests/vectors/ and bindings/swift/
#      at their repository paths, only libscv2.a in /scv2/lib (no .so beside it, or the linker
#      would pick the .so), and the ```swift block of README.md's "Use from Swift" section written
#      into Tests/SecureChannelTests/ReadmeExample.generated.swift (compiled AND run as a test);
#   4. `swift build --build-tests` then `swift test --skip-build` inside the chroot, with /proc
#      mounted (the toolchain does not load without it) and unmounted again on every exit path.
#
# .build never survives a run (the work area is recreated and .build deleted before building), and
# the sha256 of the libscv2.a that is linked is printed, so a stale library cannot pass.
# Prints how long each stage took and a final line "N passed, M failed" (XCTest test cases; a
# failed build or a crashed test run counts as one failure); exits non-zero on any failure.
# Needs root (or sudo) for debootstrap, mount and chroot. Nothing is written into the repository.
#
# Environment: CARGO_TARGET_DIR (default target), SCV2_SWIFT_CHROOT (chroot directory),
# SCV2_DEBIAN_MIRROR (default: the Debian mirror apt on this machine already uses).
# Usage: scripts/test-swift.sh [--setup-only]   (--setup-only: create/check the chroot and stop)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
CHROOT="${SCV2_SWIFT_CHROOT:-/var/cache/scv2-swift-chroot}"
SUITE=trixie
SETUP_ONLY=0
[ "${1:-}" = "--setup-only" ] && SETUP_ONLY=1

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

T0=$(date +%s)
TIMINGS=()
fail() { # fail <message>: the run cannot go on
    echo "error: $*" >&2
    echo "0 passed, 1 failed"
    exit 1
}
stage() { # stage <name> <command...>: run and time one stage; returns its status
    local name=$1; shift
    local s rc
    s=$(date +%s)
    echo "::: $name"
    "$@"
    rc=$?
    TIMINGS+=("$name: $(( $(date +%s) - s ))s$([ $rc -eq 0 ] || echo " (exit $rc)")")
    echo "::: $name took $(( $(date +%s) - s ))s (exit $rc)"
    return $rc
}

# ---- mounts: everything this script mounts lives under a chroot and is unmounted on exit
mounts_under() { # mount points at or below $1, deepest first
    awk -v p="$1" '$2 == p || index($2, p "/") == 1 { print $2 }' /proc/mounts | sort -r
}
unmount_under() {
    local m
    for m in $(mounts_under "$1"); do
        $SUDO umount "$m" 2>/dev/null || $SUDO umount -l "$m" || echo "warning: cannot unmount $m" >&2
    done
}
safe_rm() { # remove a directory tree, never crossing into a mounted file system (/proc, /dev, ...)
    [ -e "$1" ] || return 0
    unmount_under "$1"
    if [ -n "$(mounts_under "$1")" ]; then fail "$1 still has mounts; not removing it"; fi
    $SUDO rm -rf --one-file-system "$1"
}
cleanup() {
    unmount_under "$CHROOT/proc"
    unmount_under "$CHROOT.new/proc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

in_chroot() { # in_chroot <dir> <bash script>: a clean environment inside the chroot
    $SUDO chroot "$1" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        DEBIAN_FRONTEND=noninteractive /bin/bash -c "$2"
}
mount_proc() {
    [ -n "$(mounts_under "$1/proc")" ] || $SUDO mount -t proc proc "$1/proc" || fail "cannot mount $1/proc"
}

debian_mirror() { # the Debian archive apt on this machine already uses
    local m=""
    if [ -n "${SCV2_DEBIAN_MIRROR:-}" ]; then echo "$SCV2_DEBIAN_MIRROR"; return; fi
    # deb822 sources (Debian 12 default): "URIs: http://deb.debian.org/debian"
    m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' \
        | grep -E '/debian/?$' | head -1)
    # one-line sources: "deb [options] http://deb.debian.org/debian bookworm main"
    [ -n "$m" ] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|ftp):\/\//) { print $i; break } }' \
        | grep -E '/debian/?$' | head -1)
    echo "${m:-http://deb.debian.org/debian}"
}

# ---- 1. the static library
LIB="$TARGET_DIR/debug/libscv2.a"
if [ "$SETUP_ONLY" = 0 ]; then
    stage "cargo build -p libscv2 --features test-vectors" \
        env CARGO_TARGET_DIR="$TARGET_DIR" cargo build --quiet -p libscv2 --features test-vectors \
        || fail "cargo build failed"
    [ -f "$LIB" ] || fail "missing $LIB"
fi

# ---- 2. the chroot (one per machine; runs are serialized on its lock)
$SUDO mkdir -p "$(dirname "$CHROOT")"
exec 9>"$CHROOT.lock" || fail "cannot open $CHROOT.lock"
flock 9 || fail "cannot lock $CHROOT.lock"
# (/usr/bin/swift is an absolute symlink: test it inside the chroot)
if grep -qs "Swift version" "$CHROOT/.scv2-swift-ready" && $SUDO chroot "$CHROOT" /usr/bin/test -x /usr/bin/swift; then
    echo "::: chroot $CHROOT reused ($(cat "$CHROOT/.scv2-swift-ready"))"
    TIMINGS+=("debootstrap: 0s (chroot reused)" "apt install swiftlang: 0s (chroot reused)")
else
    NEW="$CHROOT.new"
    safe_rm "$NEW"
    if ! command -v debootstrap >/dev/null 2>&1; then
        stage "apt-get install debootstrap" bash -c "$SUDO apt-get update -qq && \
            $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null" \
            || fail "cannot install debootstrap"
    fi
    MIRROR="$(debian_mirror)"
    echo "::: Debian mirror: $MIRROR"
    DEBOOTSTRAP_LOG="${TMPDIR:-/tmp}/scv2-debootstrap.log"
    run_debootstrap() { $SUDO debootstrap --variant=minbase "$SUITE" "$NEW" "$MIRROR" >"$DEBOOTSTRAP_LOG" 2>&1; }
    stage "debootstrap" run_debootstrap \
        || { tail -20 "$DEBOOTSTRAP_LOG"; fail "debootstrap failed (log: $DEBOOTSTRAP_LOG)"; }
    $SUDO cp /etc/resolv.conf "$NEW/etc/resolv.conf"
    # apt settings of this machine that matter for reaching the mirror (proxy, snapshot dates)
    for f in /etc/apt/apt.conf.d/*proxy* /etc/apt/apt.conf.d/99artifact-registry; do
        [ -f "$f" ] && $SUDO cp "$f" "$NEW/etc/apt/apt.conf.d/"
    done
    mount_proc "$NEW"
    stage "apt install swiftlang" in_chroot "$NEW" \
        "apt-get update -qq && apt-get install -y -qq swiftlang >/tmp/apt-swiftlang.log 2>&1 \
         || { tail -20 /tmp/apt-swiftlang.log; exit 1; }" \
        || fail "apt-get install swiftlang failed in $NEW"
    in_chroot "$NEW" "swift --version 2>&1 | head -1" | $SUDO tee "$NEW/.scv2-swift-ready.tmp" >/dev/null
    grep -q 'Swift version' "$NEW/.scv2-swift-ready.tmp" || fail "swift does not run in $NEW"
    $SUDO mv "$NEW/.scv2-swift-ready.tmp" "$NEW/.scv2-swift-ready"
    unmount_under "$NEW/proc"
    safe_rm "$CHROOT"
    $SUDO mv "$NEW" "$CHROOT" || fail "cannot move $NEW to $CHROOT"
fi
mount_proc "$CHROOT"
echo "::: $(in_chroot "$CHROOT" "swift --version 2>&1 | head -1")"
if [ "$SETUP_ONLY" = 1 ]; then
    echo "::: setup only: chroot ready in $CHROOT"
    exit 0
fi

# ---- 3. a fresh work area in the chroot
W="$CHROOT/scv2"
safe_rm "$W"
$SUDO mkdir -p "$W/lib" "$W/repo/include" "$W/repo/tests" "$W/repo/bindings"
$SUDO cp "$LIB" "$W/lib/libscv2.a"
$SUDO cp include/scv2.h "$W/repo/include/"
$SUDO cp -r tests/vectors "$W/repo/tests/"
tar -C bindings -cf - --exclude=.build --exclude=.swiftpm swift | $SUDO tar -C "$W/repo/bindings" -xf - \
    || fail "cannot copy bindings/swift"
echo "::: libscv2.a: $(sha256sum "$LIB" | cut -d' ' -f1)  $LIB"

# README's "Use from Swift" example: the first ```swift block between the swift markers, its
# imports lifted to the top of the file, its body inside a function the test target runs.
GEN="$W/repo/bindings/swift/Tests/SecureChannelTests/ReadmeExample.generated.swift"
EXAMPLE="$(awk '/<!-- swift:begin/ { s = 1 } /<!-- swift:end -->/ { s = 0 }
    s && /^```swift[[:space:]]*$/ { b = 1; next } b && /^```/ { exit } b { print }' README.md)"
[ -n "$EXAMPLE" ] || fail "no \`\`\`swift block between <!-- swift:begin --> and <!-- swift:end --> in README.md"
{
    echo "// GENERATED by scripts/test-swift.sh from README.md (\"Use from Swift\"); do not edit."
    echo "import XCTest"
    grep -E '^[[:space:]]*import[[:space:]]' <<<"$EXAMPLE"
    echo
    echo "/// README's example; \`serverPublicKey\` and \`send(_:_:)\` come from ReadmeExampleHarness (Support.swift)."
    echo "func readmeExample(serverPublicKey: Data, send: (String, Data) throws -> Data) throws {"
    grep -vE '^[[:space:]]*import[[:space:]]' <<<"$EXAMPLE" | sed 's/^/    /'
    echo "}"
    echo
    echo "final class ReadmeExampleGeneratedTests: XCTestCase {"
    echo "    func testReadmeExampleRuns() throws { try ReadmeExampleHarness.run(readmeExample) }"
    echo "}"
} | $SUDO tee "$GEN" >/dev/null

# ---- 4. swift build, swift test
PKG=/scv2/repo/bindings/swift
LOGDIR="$TARGET_DIR/swift-tests"
mkdir -p "$LOGDIR"
BUILD_LOG="$LOGDIR/build.log"
TEST_LOG="$LOGDIR/test.log"
stage "swift build" in_chroot "$CHROOT" "set -e; cd $PKG; rm -rf .build
    echo \"linking \$(sha256sum /scv2/lib/libscv2.a)\"; ls /scv2/lib
    swift build --build-tests -Xlinker -L/scv2/lib" >"$BUILD_LOG" 2>&1
build_rc=$?
grep -E 'error:|warning:|Build complete|Compiling [A-Za-z]' "$BUILD_LOG" | head -60
grep -q '^linking [0-9a-f]\{64\} ' "$BUILD_LOG" || { tail -20 "$BUILD_LOG"; fail "no library hash in $BUILD_LOG"; }
echo "sha256 of the linked library: $(grep '^linking ' "$BUILD_LOG" | head -1 | cut -d' ' -f2-)"
if [ "$build_rc" -ne 0 ]; then
    tail -40 "$BUILD_LOG"
    echo "::: timings: $(printf '%s; ' "${TIMINGS[@]}")"
    fail "swift build failed (log: $BUILD_LOG)"
fi
stage "swift test" in_chroot "$CHROOT" "cd $PKG && swift test --skip-build -Xlinker -L/scv2/lib" >"$TEST_LOG" 2>&1
test_rc=$?
grep -E "^Test Case '.*' (passed|failed)|error:|^Executed|Fatal error|Test run" "$TEST_LOG" | grep -vE "' passed \(" | head -80

passed=$(grep -cE "^Test Case '.*' passed" "$TEST_LOG")
failed=$(grep -cE "^Test Case '.*' failed" "$TEST_LOG")
if [ "$test_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "swift test exited $test_rc with no failed test case (crash?): see $TEST_LOG"
    tail -30 "$TEST_LOG"
    failed=$((failed + 1))
fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
    echo "no test ran: see $TEST_LOG"
    failed=1
fi
grep -E '^[[:space:]]*Executed [0-9]+ tests' "$TEST_LOG" | tail -1
echo "::: timings: $(printf '%s; ' "${TIMINGS[@]}")total $(( $(date +%s) - T0 ))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
