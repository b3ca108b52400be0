#!/usr/bin/env bash
# Builds the web SDK (bindings/web/): the scv2 core for wasm32-unknown-unknown through
# wasm-bindgen, wasm-opt -Oz, and the TypeScript layer, into the npm package's dist/.
# Installs what it needs when missing: the rustup target, wasm-bindgen-cli (exactly the
# wasm-bindgen version of Cargo.lock, cached under $SCV2_WEB_CACHE), Debian's binaryen, and the
# pinned npm devDependencies (npm ci).
#
#   bash scripts/build-web.sh           # the shipped package: bindings/web/dist/ (+ the copy
#                                       # that `scv2 serve --web-demo` embeds, gateway/web-demo/pkg/)
#   bash scripts/build-web.sh --test    # also the test build: debug, features test-vectors+server
#                                       # (fixed-ephemeral constructors, server role), target/web-test/pkg/
#   bash scripts/build-web.sh --bench   # also the benchmark build: release, feature server,
#                                       # target/web-bench/pkg/
#
# SCV2_WASM_OPT_LEVEL (default -Oz) sets wasm-opt's level: -O3 is faster and larger (BENCHMARKS.md).
# The shipped package never contains the test-only exports: this script checks it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

WITH_TEST=0
WITH_BENCH=0
for a in "$@"; do
    case "$a" in
        --test) WITH_TEST=1 ;;
        --bench) WITH_BENCH=1 ;;
        *) echo "build-web.sh: unknown argument $a" >&2; exit 2 ;;
    esac
done

CACHE=${SCV2_WEB_CACHE:-/var/cache/scv2-web}
TARGET=wasm32-unknown-unknown
WEB=bindings/web
DIST=$WEB/dist
DEMO_PKG=gateway/web-demo/pkg

t() { echo "-- $*"; }

# 1. The Rust target.
if ! rustup target list --installed | grep -qx "$TARGET"; then
    t "rustup target add $TARGET"
    rustup target add "$TARGET"
fi

# 2. wasm-bindgen-cli, the exact version of the wasm-bindgen crate in Cargo.lock (the CLI refuses
#    modules made by another version). Built once per version into the cache. Debug profile with
#    no debug info: it compiles in about half the time of a release build, and processing our
#    ~250 KB module still takes well under a second. No TLS features: the CLI never downloads.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$WB_VERSION" ] || { echo "build-web.sh: no wasm-bindgen in Cargo.lock" >&2; exit 1; }
WB_ROOT=$CACHE/wasm-bindgen-cli-$WB_VERSION
WASM_BINDGEN=$WB_ROOT/bin/wasm-bindgen
if [ ! -x "$WASM_BINDGEN" ] || [ "$("$WASM_BINDGEN" --version)" != "wasm-bindgen $WB_VERSION" ]; then
    t "cargo install wasm-bindgen-cli $WB_VERSION into $WB_ROOT"
    mkdir -p "$CACHE"
    install_cli() {
        CARGO_PROFILE_DEV_DEBUG=0 CARGO_TARGET_DIR="$CACHE/wasm-bindgen-cli-build" \
            cargo install wasm-bindgen-cli --version "$WB_VERSION" --no-default-features \
            --bin wasm-bindgen --debug --root "$WB_ROOT" --force "$@"
    }
    # --locked first; the registry index reachable here may lack a version the CLI's own lock
    # file names (then the newest compatible versions are used instead).
    if ! install_cli --locked; then
        echo "build-web.sh: --locked install failed; retrying without --locked" >&2
        install_cli
    fi
    rm -rf "$CACHE/wasm-bindgen-cli-build"
fi

# 3. wasm-opt (Debian's binaryen), installed when missing and possible.
if ! command -v wasm-opt >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    t "apt-get install binaryen"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends binaryen >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends binaryen >/dev/null; } ||
        echo "build-web.sh: binaryen not installed; the .wasm is not size-optimized" >&2
fi
# The features rustc enables by default for this target (the module uses them already).
WASM_OPT_FEATURES=(--enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int
                   --enable-sign-ext --enable-reference-types --enable-multivalue)

# bindgen PROFILE_DIR OUT_DIR [noopt]: wasm-opt -Oz (when available) on rustc's module, then
# wasm-bindgen --target web. wasm-opt runs first because Debian 12's binaryen (108) renumbers
# tables wrongly in a module that already has wasm-bindgen's externref table (the export then
# names the function table and instantiation fails); before bindgen there is no such table.
# The result is loaded and called once in Node; if that fails, the unoptimized module is used.
bindgen() {
    local wasm=$1/scv2_web.wasm out=$2 tmp
    tmp=$(mktemp -d)
    rm -rf "$out"
    mkdir -p "$out"
    cp "$wasm" "$tmp/scv2_web.wasm"
    if [ "${3:-opt}" = opt ] && command -v wasm-opt >/dev/null; then
        wasm-opt "${SCV2_WASM_OPT_LEVEL:--Oz}" "${WASM_OPT_FEATURES[@]}" "$wasm" -o "$tmp/scv2_web.wasm"
        "$WASM_BINDGEN" --target web --out-dir "$out" "$tmp/scv2_web.wasm"
        if ! smoke "$out"; then
            echo "build-web.sh: the wasm-opt output does not load; using the unoptimized module" >&2
            rm -rf "$out" && mkdir -p "$out"
            "$WASM_BINDGEN" --target web --out-dir "$out" "$wasm"
        fi
    else
        "$WASM_BINDGEN" --target web --out-dir "$out" "$wasm"
    fi
    rm -rf "$tmp"
    smoke "$out"
}

# smoke DIR: instantiate the module in Node and call into it (an error path and a pure function).
smoke() {
    node --input-type=module -e '
        const dir = process.argv[1];
        const w = await import(dir + "/scv2_web.js");
        w.initSync({ module: (await import("node:fs")).readFileSync(dir + "/scv2_web_bg.wasm") });
        const c = new w.ClientConfig();
        try { c.pin("k", "AAAA"); process.exit(1); } catch (e) { if (e.code !== "invalid_public_key") process.exit(1); }
        if (w.webFormEncode(Uint8Array.of(83, 67, 2, 2)) !== "{\"v\":2,\"p\":\"U0MCAg==\"}") process.exit(1);
    ' "$ROOT/$1" 2>/dev/null
}

# Release settings for the module (workspace profiles stay as they are for the host build).
release_env=(CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
             CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_DEBUG=0)

# 4. The shipped module: release, no features.
t "cargo build --release --target $TARGET -p scv2-web"
env "${release_env[@]}" cargo build -q --release --target "$TARGET" -p scv2-web
STAGE=target/web-pkg
bindgen "target/$TARGET/release" "$STAGE"

# 5. The shipped package must not contain any test-only export (names from the module's export
#    section, and the generated JS and declarations).
FORBIDDEN_EXPORTS='(^|_)server(session)?_|acceptedhandshake|openedrequest|generatesessionid|fortestvectors'
FORBIDDEN_API='class (Server|ServerSession|AcceptedHandshake|OpenedRequest)\b|ForTestVectors|generateSessionId|openRequest|sealResponse'
exports=$(node -e 'const fs=require("fs");console.log(WebAssembly.Module.exports(new WebAssembly.Module(fs.readFileSync(process.argv[1]))).map(e=>e.name).join("\n"))' "$STAGE/scv2_web_bg.wasm")
if echo "$exports" | grep -Eiq "$FORBIDDEN_EXPORTS" ||
   grep -Eq "$FORBIDDEN_API" "$STAGE/scv2_web.d.ts" "$STAGE/scv2_web.js"; then
    echo "build-web.sh: the shipped package contains a test-only export:" >&2
    echo "$exports" | grep -Ei "$FORBIDDEN_EXPORTS" >&2 || true
    grep -Eh "$FORBIDDEN_API" "$STAGE/scv2_web.d.ts" "$STAGE/scv2_web.js" >&2 || true
    exit 1
fi

# The safety net for forgotten handles: wasm-bindgen frees (and so zeroizes) a collected handle
# through a FinalizationRegistry; check that the glue has one for every class holding secrets.
for cls in ClientHandshake ClientSession PendingRequest; do
    grep -q "${cls}Finalization = .*FinalizationRegistry" "$STAGE/scv2_web.js" || {
        echo "build-web.sh: the glue has no FinalizationRegistry for $cls" >&2
        exit 1
    }
done

# 6. The TypeScript layer (tsc pinned by package-lock.json), into dist/ beside the module.
if [ ! -x "$WEB/node_modules/.bin/tsc" ]; then
    t "npm ci ($WEB)"
    (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error)
fi
rm -rf "$DIST"
mkdir -p "$DIST"
cp "$STAGE/scv2_web.js" "$STAGE/scv2_web.d.ts" "$STAGE/scv2_web_bg.wasm" "$STAGE/scv2_web_bg.wasm.d.ts" "$DIST/"
# The generated classes declare [Symbol.dispose]: make the declarations bring its lib along, so
# that apps type-check with a plain ES2022 + DOM configuration.
sed -i '1i /// <reference lib="esnext.disposable" />' "$DIST/scv2_web.d.ts"
t "tsc ($WEB/tsconfig.json)"
"$WEB/node_modules/.bin/tsc" -p "$WEB/tsconfig.json"

# 7. The copy that `scv2 serve --web-demo` embeds (gateway/build.rs picks it up).
mkdir -p "$DEMO_PKG"
for f in index.js scv2_web.js scv2_web_bg.wasm; do
    cmp -s "$DIST/$f" "$DEMO_PKG/$f" || cp "$DIST/$f" "$DEMO_PKG/$f"
done

# 8. Optional test and benchmark builds.
if [ "$WITH_TEST" = 1 ]; then
    t "cargo build --target $TARGET -p scv2-web --features test-vectors (debug)"
    cargo build -q --target "$TARGET" -p scv2-web --features test-vectors
    bindgen "target/$TARGET/debug" target/web-test/pkg noopt
fi
if [ "$WITH_BENCH" = 1 ]; then
    t "cargo build --release --target $TARGET -p scv2-web --features server"
    env "${release_env[@]}" CARGO_TARGET_DIR="$ROOT/target/web-bench-build" \
        cargo build -q --release --target "$TARGET" -p scv2-web --features server
    bindgen "target/web-bench-build/$TARGET/release" target/web-bench/pkg
fi

wasm_size=$(stat -c %s "$DIST/scv2_web_bg.wasm")
wasm_gz=$(gzip -9c "$DIST/scv2_web_bg.wasm" | wc -c)
js_size=$(cat "$DIST/scv2_web.js" "$DIST/index.js" | wc -c)
js_gz=$(cat "$DIST/scv2_web.js" "$DIST/index.js" | gzip -9c | wc -c)
echo "web package: $DIST (wasm $wasm_size B, gzip $wasm_gz B; JS $js_size B, gzip $js_gz B)"
