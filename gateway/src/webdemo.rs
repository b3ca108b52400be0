//! The web demo page: `scv2 serve --web-demo` serves, under `/demo/`, a page that runs the
//! password-init flow in the browser with the web SDK (`bindings/web/`): key document checked
//! against the pin, session, password init (201, decrypted in the page), the same envelope
//! retransmitted, a second init (404 inside a type 129), close. Every exchange is shown as the
//! network sees it (ciphertext) and as the page reads it.
//!
//! Owns the demo's routes and assets only. The page (`web-demo/index.html`, `demo.js`,
//! `demo.css`) is embedded from the sources; the SDK package (`web-demo/pkg/`, written by
//! `scripts/build-web.sh`) is embedded when it was built (see `build.rs`). The page ships the
//! gateway's current key as its pin, as an app ships its pins; the init session id comes from
//! the link (`/demo/?sid=…`, like the API's initialization link) or the form.

use anyhow::bail;
use axum::body::{Body, Bytes};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::HeaderValue;
use axum::response::{Redirect, Response};
use axum::routing::get;
use axum::Router;

/// Where the page is served.
pub const PATH: &str = "/demo/";

const INDEX_HTML: &str = include_str!("../web-demo/index.html");
const DEMO_JS: &str = include_str!("../web-demo/demo.js");
const DEMO_CSS: &str = include_str!("../web-demo/demo.css");
/// The configuration element of `index.html`, replaced with the pins.
pub const CONFIG_ELEMENT: &str =
    r#"<script type="application/json" id="scv2-config">{"pins":[]}</script>"#;

/// The page's policy: its own scripts and the module's compilation, calls to its own origin only.
const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
    connect-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

#[cfg(scv2_web_demo_pkg)]
fn package() -> Option<[&'static [u8]; 3]> {
    Some([
        include_bytes!("../web-demo/pkg/index.js"),
        include_bytes!("../web-demo/pkg/scv2_web.js"),
        include_bytes!("../web-demo/pkg/scv2_web_bg.wasm"),
    ])
}

#[cfg(not(scv2_web_demo_pkg))]
fn package() -> Option<[&'static [u8]; 3]> {
    None
}

/// The `index.html` with the pins of `doc` in its configuration element.
pub fn index_html(doc: &scv2::PublicKeyDocument) -> String {
    let config = serde_json::json!({
        "pins": [{"keyId": doc.key_id, "publicKey": doc.public_key}],
    });
    // JSON inside <script>: no `<`, `>` or `&` may appear literally.
    let json = config
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    INDEX_HTML.replace(
        CONFIG_ELEMENT,
        &format!(r#"<script type="application/json" id="scv2-config">{json}</script>"#),
    )
}

fn asset(content_type: &'static str, body: Bytes, csp: bool) -> Response {
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The link carries the init session id: never send it elsewhere as a referrer.
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if csp {
        h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    r
}

/// Add the demo's routes to `router` when `enabled`.
///
/// Errors: enabled, but this binary was built without the web package.
pub fn apply(
    router: Router,
    enabled: bool,
    doc: &scv2::PublicKeyDocument,
) -> anyhow::Result<Router> {
    if !enabled {
        return Ok(router);
    }
    let Some([index_js, glue_js, wasm]) = package() else {
        bail!(
            "--web-demo: this scv2 binary was built without the web SDK package; \
             run `bash scripts/build-web.sh`, then rebuild scv2 (cargo build -p scv2-gateway)"
        );
    };
    let html = Bytes::from(index_html(doc));
    let demo = Router::new()
        .route("/demo", get(|| async { Redirect::permanent(PATH) }))
        .route(
            PATH,
            get(move || {
                let html = html.clone();
                async move { asset("text/html; charset=utf-8", html, true) }
            }),
        )
        .route(
            "/demo/demo.js",
            get(|| async {
                asset(
                    "text/javascript; charset=utf-8",
                    Bytes::from_static(DEMO_JS.as_bytes()),
                    false,
                )
            }),
        )
        .route(
            "/demo/demo.css",
            get(|| async {
                asset(
                    "text/css; charset=utf-8",
                    Bytes::from_static(DEMO_CSS.as_bytes()),
                    false,
                )
            }),
        )
        .route(
            "/demo/pkg/index.js",
            get(move || async move {
                asset(
                    "text/javascript; charset=utf-8",
                    Bytes::from_static(index_js),
                    false,
                )
            }),
        )
        .route(
            "/demo/pkg/scv2_web.js",
            get(move || async move {
                asset(
                    "text/javascript; charset=utf-8",
                    Bytes::from_static(glue_js),
                    false,
                )
            }),
        )
        .route(
            "/demo/pkg/scv2_web_bg.wasm",
            get(move || async move { asset("application/wasm", Bytes::from_static(wasm), false) }),
        );
    Ok(router.merge(demo))
}

/// `scv2 demo --browser`: the gateway with this page on a free loopback port and a temporary
/// database, one registration, and the page's link with its init session id (printed, and opened
/// with `xdg-open` when `DISPLAY` or `WAYLAND_DISPLAY` is set). Runs until Ctrl-C or SIGTERM; the database is
/// removed afterwards.
pub async fn run_browser() -> anyhow::Result<()> {
    let token = crate::util::new_token()?;
    let dir = std::env::temp_dir().join(format!("scv2-web-demo-{}-{token}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = async {
        let mut cfg = crate::GatewayConfig::new("127.0.0.1:0".parse()?, dir.join("demo.sqlite"));
        cfg.web_demo = true;
        let gw = crate::start(cfg).await?;
        let now = crate::clock::system_now_ms();
        let reg = gw
            .store()
            .add_registration(
                crate::store::TokenHash::of(&token),
                "user@example.com",
                "Test User",
                now,
                24 * 3600 * 1000,
            )
            .await?;
        let url = format!("{}{PATH}?sid={token}", gw.url());
        println!("scv2 web demo: open {url}");
        println!(
            "(a registration for {}; enter a new password and run the flow; Ctrl-C ends)",
            reg.email
        );
        // Best effort, on a desktop only (a terminal browser must not take over the terminal).
        if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
            let _ = std::process::Command::new("xdg-open")
                .arg(&url)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
        }
        gw.run_until_signal().await
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}
