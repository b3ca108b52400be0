#!/usr/bin/env bash
# Install the C library: builds the package `libscv2` (release by default) and installs
#   PREFIX/lib/libscv2.a, PREFIX/lib/libscv2.so, PREFIX/include/scv2.h and
#   PREFIX/lib/pkgconfig/scv2.pc (from ffi/libscv2/scv2.pc.in; Libs.private is what rustc says a
#   Rust static library needs from the C library on this target).
# Then: cc app.c $(pkg-config --cflags --libs scv2)            # links libscv2.so
#       cc app.c $(pkg-config --cflags --libs --static scv2) -Wl,-Bstatic -lscv2 -Wl,-Bdynamic ...
#
# Usage: scripts/install.sh PREFIX [--debug] [cargo build options, e.g. --features aws-lc]
# (--debug: a debug build, as the tests use with --features test-vectors, which refuses release
# builds). Honours CARGO_TARGET_DIR and DESTDIR (staged installs).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 PREFIX [--debug] [cargo build options]" >&2; exit 2; }
PREFIX=$1; shift
case "$PREFIX" in /*) ;; *) PREFIX="$(pwd)/$PREFIX" ;; esac
profile=release
args=()
for a in "$@"; do
    if [ "$a" = --debug ]; then profile=debug; else args+=("$a"); fi
done
TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ "$profile" = release ]; then
    cargo build --quiet --release -p libscv2 "${args[@]}"
else
    cargo build --quiet -p libscv2 "${args[@]}"
fi
out="$TARGET_DIR/$profile"
version=$(sed -n 's/^#define SCV2_VERSION_STRING "\(.*\)"$/\1/p' include/scv2.h)
[ -n "$version" ] || { echo "no SCV2_VERSION_STRING in include/scv2.h" >&2; exit 1; }
# What a Rust static library needs from the C library here (for static linking).
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo '' >"$probe/e.rs"
native=$(rustc --print native-static-libs --crate-type staticlib "$probe/e.rs" -o "$probe/e.a" 2>&1 \
    | sed -n 's/.*native-static-libs: //p')
dest="${DESTDIR:-}$PREFIX"
install -d "$dest/lib/pkgconfig" "$dest/include"
install -m 0644 "$out/libscv2.a" "$dest/lib/libscv2.a"
install -m 0755 "$out/libscv2.so" "$dest/lib/libscv2.so"
install -m 0644 include/scv2.h "$dest/include/scv2.h"
sed -e "s|@PREFIX@|$PREFIX|" -e "s|@VERSION@|$version|" -e "s|@NATIVE_STATIC_LIBS@|$native|" \
    ffi/libscv2/scv2.pc.in >"$dest/lib/pkgconfig/scv2.pc"
echo "installed scv2 $version ($profile) in $dest: lib/libscv2.{a,so}, include/scv2.h, lib/pkgconfig/scv2.pc"
