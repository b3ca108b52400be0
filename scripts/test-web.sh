#!/usr/bin/env bash
# The web SDK's tests (called by scripts/test.sh). Installs what it needs when missing
# (everything scripts/build-web.sh installs, plus Debian's chromium), then:
#   1. builds the shipped package and the test build (scripts/build-web.sh --test);
#   2. packs the package (npm pack) and installs the tarball into a fresh app
#      (target/web-app/), as a web developer would;
#   3. type-checks README.md's "Use from a web app" example against the installed declarations
#      (tsc --noEmit);
#   4. runs Node's test runner: the low-level API against the vectors (test build), the
#      SecureChannel and the gateway's CORS against real `scv2 serve` processes (installed
#      package), and the demo in headless Chromium, same origin and cross origin.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

s=$(date +%s)
lap() { echo "-- $1 ($(( $(date +%s) - s ))s so far)"; }

# Chromium from Debian (never a downloaded browser).
if [ ! -x /usr/bin/chromium ]; then
    lap "apt-get install chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends chromium >/dev/null ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi

lap "build the package and the test build"
bash scripts/build-web.sh --test

lap "clippy for the wasm target (the allocator and the exports only compile there)"
cargo clippy -q --target wasm32-unknown-unknown -p scv2-web -- -D warnings
cargo clippy -q --target wasm32-unknown-unknown -p scv2-web --features test-vectors -- -D warnings

lap "build scv2 (it embeds the package for --web-demo)"
cargo build -q -p scv2-gateway --bin scv2

lap "npm pack, and npm install of the tarball into a fresh app"
rm -rf target/web-pack target/web-app
mkdir -p target/web-pack target/web-app
(cd bindings/web && npm pack --pack-destination "$ROOT/target/web-pack" --loglevel=error >/dev/null)
TARBALL=$(ls target/web-pack/scv2-web-*.tgz)
# The tarball holds exactly the package: the module, the glue, the declarations, the README.
tar -tzf "$TARBALL" | sort > target/web-pack/contents.txt
diff -u - target/web-pack/contents.txt <<'EOF'
package/README.md
package/dist/index.d.ts
package/dist/index.js
package/dist/scv2_web.d.ts
package/dist/scv2_web.js
package/dist/scv2_web_bg.wasm
package/dist/scv2_web_bg.wasm.d.ts
package/package.json
EOF
cat > target/web-app/package.json <<'EOF'
{ "name": "scv2-web-test-app", "private": true, "type": "module" }
EOF
(cd target/web-app && npm install --no-audit --no-fund --loglevel=error "$ROOT/$TARBALL" >/dev/null)

lap "README's web example type-checks against the installed declarations (tsc --noEmit)"
python3 - <<'PY' > target/web-app/readme-example.ts
s = open("README.md").read()
sec = s[s.index("## Use from a web app"):]
start = sec.index("```ts\n") + 6
print(sec[start:sec.index("```", start)])
PY
cat > target/web-app/tsconfig.json <<'EOF'
{
  "compilerOptions": {
    "target": "ES2022", "module": "ES2022", "moduleResolution": "bundler",
    "lib": ["ES2022", "DOM"], "strict": true, "noEmit": true, "skipLibCheck": false,
    "exactOptionalPropertyTypes": true, "noUnusedLocals": false
  },
  "files": ["readme-example.ts"]
}
EOF
bindings/web/node_modules/.bin/tsc -p target/web-app/tsconfig.json

lap "node --test: vectors, SecureChannel against scv2 serve, CORS, Chromium"
node --test --test-concurrency=1 \
    bindings/web/test/vectors.test.mjs \
    bindings/web/test/securechannel.test.mjs \
    bindings/web/test/browser.test.mjs
lap "web tests done"
