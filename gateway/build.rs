//! Build script of the gateway: embeds the web SDK package for `scv2 serve --web-demo` when
//! `scripts/build-web.sh` has written it to `web-demo/pkg/` (its `index.js`, `scv2_web.js` and
//! `scv2_web_bg.wasm`). Without it the gateway builds as usual and `--web-demo` explains how to
//! get the package. Owns nothing else.

use std::path::Path;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(scv2_web_demo_pkg)");
    // A directory: Cargo rescans it, so building the package (or deleting it) rebuilds the gateway.
    println!("cargo:rerun-if-changed=web-demo");
    let pkg = Path::new("web-demo/pkg");
    if ["index.js", "scv2_web.js", "scv2_web_bg.wasm"]
        .iter()
        .all(|f| pkg.join(f).is_file())
    {
        println!("cargo:rustc-cfg=scv2_web_demo_pkg");
    }
}
