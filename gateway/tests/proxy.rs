//! Proxy mode against a real upstream process on loopback (`tests/upstream.py`, Python standard
//! library only, which records every request it receives): what the upstream gets, what the
//! client gets back, what never reaches the upstream, upstream failures inside a type 129,
//! plaintext pass-through, route limits, the configuration file of `scv2 serve --config`, and
//! 200 concurrent clients.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;
use scv2::ClientSession;
use scv2_gateway::clock::system_now_ms;
use scv2_gateway::password::Argon2Params;
use scv2_gateway::paths::PATH_PASSWORD_INIT;
use scv2_gateway::ratelimit::RateSpec;
use scv2_gateway::routes::{
    LimitKey, MethodMatch, PathMatch, RouteConfig, RouteLimit, RoutesConfig, UpstreamConfig,
};
use scv2_gateway::store::TokenHash;
use scv2_gateway::{CallResult, ClientOptions, Gateway, GatewayConfig, ManualClock, ScClient};
use serde_json::{json, Value};

mod common;

type R<T = ()> = anyhow::Result<T>;

// =============================================================================================
// Harness: temporary directories, the upstream process, the gateway in process.

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let name = format!(
            "scv2-proxy-{}-{}",
            std::process::id(),
            scv2_gateway::util::new_token().unwrap_or_default()
        );
        let p = std::env::temp_dir().join(name);
        let _ = std::fs::create_dir_all(&p);
        TempDir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One request as the upstream recorded it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    fn names(&self) -> BTreeSet<String> {
        self.headers
            .iter()
            .map(|(k, _)| k.to_ascii_lowercase())
            .collect()
    }
}

/// The upstream test server (a child process).
struct Upstream {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Upstream {
    fn start() -> R<Upstream> {
        Upstream::start_on(0)
    }
    fn start_on(port: u16) -> R<Upstream> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/upstream.py");
        let mut child = Command::new("python3")
            .args([script, "--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let out = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("stdout"))?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line)?;
        let port: u16 = line
            .trim()
            .strip_prefix("PORT ")
            .ok_or_else(|| anyhow::anyhow!("upstream said {line:?}"))?
            .parse()?;
        Ok(Upstream {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        })
    }
    fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }
    async fn count(&self) -> R<u64> {
        let v: Value = self
            .http
            .get(format!("{}/__upstream__/count", self.url))
            .send()
            .await?
            .bytes()
            .await
            .map(|b| serde_json::from_slice(&b))??;
        v["count"].as_u64().ok_or_else(|| anyhow::anyhow!("count"))
    }
    async fn requests(&self) -> R<Vec<Seen>> {
        let v: Vec<Value> = self
            .http
            .get(format!("{}/__upstream__/requests", self.url))
            .send()
            .await?
            .bytes()
            .await
            .map(|b| serde_json::from_slice(&b))??;
        let mut out = Vec::new();
        for r in v {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
            let headers = r["headers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            (
                                p[0].as_str().unwrap_or("").to_owned(),
                                p[1].as_str().unwrap_or("").to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Seen {
                method: s("method"),
                path: s("path"),
                query: s("query"),
                headers,
                body: Base64::decode_vec(&s("body_b64")).unwrap_or_default(),
            });
        }
        Ok(out)
    }
    async fn last(&self) -> R<Seen> {
        self.requests()
            .await?
            .pop()
            .ok_or_else(|| anyhow::anyhow!("the upstream saw nothing"))
    }
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop();
    }
}

fn route(method: &str, path: &str, secure: bool) -> RouteConfig {
    RouteConfig {
        method: if method == "*" {
            MethodMatch::Any
        } else {
            MethodMatch::Exact(Method::from_bytes(method.as_bytes()).expect("method"))
        },
        path: PathMatch::parse(path).expect("path"),
        secure,
        limits: Vec::new(),
    }
}

/// The routes of most tests: the API under `/api/*` secure, `/public/*` and `GET /health`
/// plaintext.
fn api_routes(upstream: &str) -> RoutesConfig {
    let mut up = UpstreamConfig::new(upstream);
    up.response_timeout = Duration::from_millis(1000);
    up.max_response_bytes = 64 * 1024;
    RoutesConfig {
        upstream: Some(up),
        routes: vec![
            route("*", "/api/*", true),
            route("*", "/public/*", false),
            route("GET", "/health", false),
        ],
        password_init: true,
    }
}

struct Env {
    gw: Option<Gateway>,
    clock: Arc<ManualClock>,
    cfg: GatewayConfig,
    _dir: TempDir,
}

async fn env_with(routes: RoutesConfig, tweak: impl FnOnce(&mut GatewayConfig)) -> R<Env> {
    let dir = TempDir::new();
    let clock = Arc::new(ManualClock::new(system_now_ms()));
    let mut cfg = GatewayConfig::new("127.0.0.1:0".parse()?, dir.path("gw.sqlite"));
    cfg.clock = clock.clone();
    cfg.argon2 = Argon2Params::cheap();
    cfg.session_ttl_ms = 600_000;
    cfg.routes = routes;
    tweak(&mut cfg);
    let gw = scv2_gateway::start(cfg.clone()).await?;
    Ok(Env {
        gw: Some(gw),
        clock,
        cfg,
        _dir: dir,
    })
}

impl Env {
    fn gw(&self) -> &Gateway {
        self.gw.as_ref().expect("running")
    }
    fn client_with(&self, tweak: impl FnOnce(&mut ClientOptions)) -> R<ScClient> {
        let mut o = ClientOptions::new(&self.gw().url());
        o.client_hash = "proxy-test".into();
        o.clock = self.clock.clone();
        if self.cfg.test_env {
            o.cf_ip = Some("203.0.113.7".into());
        }
        tweak(&mut o);
        let mut c = ScClient::new(o)?;
        let doc = self.gw().public_key();
        c.pin(&doc.key_id, &doc.public_key)?;
        Ok(c)
    }
    fn client(&self) -> R<ScClient> {
        self.client_with(|_| {})
    }
    async fn session(&self, c: &ScClient) -> R<ClientSession> {
        c.open_session(&self.gw().public_key().key_id).await
    }
    async fn restart(&mut self) -> R {
        if let Some(gw) = self.gw.take() {
            gw.shutdown().await?;
        }
        self.gw = Some(scv2_gateway::start(self.cfg.clone()).await?);
        Ok(())
    }
}

/// Seal `body` for `METHOD path_and_query` (ctx: the path alone), send it with `headers`.
async fn send(
    c: &ScClient,
    s: &ClientSession,
    method: &str,
    target: &str,
    headers: HeaderMap,
    body: &[u8],
) -> R<(CallResult, Vec<u8>)> {
    let path = target.split('?').next().unwrap_or(target);
    let (pending, env) = c.seal(s, method, path, body)?;
    let m = Method::from_bytes(method.as_bytes())?;
    let raw = c.send(m, target, headers, c.body_of(&env)).await?;
    Ok((c.read_answer(s, pending, method, path, raw)?, env))
}

fn body_of(r: &CallResult) -> Value {
    r.body.clone()
}

/// The plaintext JSON a client sends (about `n` bytes).
fn json_body(tag: &str, n: usize) -> Vec<u8> {
    let pad = "p".repeat(n.saturating_sub(40));
    json!({"tag": tag, "pad": pad, "password": "NewP@ssw0rd"})
        .to_string()
        .into_bytes()
}

fn header_values<'a>(r: &'a CallResult, name: &str) -> Vec<&'a str> {
    r.raw
        .headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

/// Send raw bytes to `addr` and read the whole answer (the connection is closed by us).
fn raw_http(addr: std::net::SocketAddr, request: &str) -> R<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(request.as_bytes())?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if let Some(end) = find(&out, b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if out.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            Err(e) => {
                eprintln!("raw_http: {e}");
                break;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

// =============================================================================================
// What the upstream receives, and what comes back.

#[tokio::test]
async fn secure_route_forwards_the_plaintext_and_seals_the_answer() -> R {
    let up = Upstream::start()?;
    let env = env_with(api_routes(&up.url), |c| c.test_env = true).await?;
    let c = env.client()?;
    let s = env.session(&c).await?;
    let rid = "123e4567-e89b-42d3-a456-426614174000";
    for (i, status) in [200u16, 201, 400, 409].into_iter().enumerate() {
        let mut h = c.standard_headers(Some(s.session_id()));
        let mut put = |k: &'static str, v: &str| {
            h.append(k, HeaderValue::from_str(v).expect("value"));
        };
        put("accept-language", "ja");
        put("authorization", "Bearer tok-123");
        put("cookie", "a=b; c=d");
        put("x-request-id", rid);
        put("x-custom-end-to-end", "kept");
        put("connection", "x-hop-named");
        put("x-hop-named", "dropped");
        put("x-scv2-verified", "1; session=forged; seq=1");
        put("x-forwarded-for", "6.6.6.6");
        put("x-forwarded-proto", "https");
        put("forwarded", "for=6.6.6.6");
        put("x-real-ip", "6.6.6.6");
        put("x-sc-anything", "dropped");
        put("if-none-match", "\"e1\"");
        let body = json_body(&format!("t{i}"), 1024);
        let target = format!("/api/status/{status}?x=1&y=%20z&sid=dup");
        let (r, _) = send(&c, &s, "POST", &target, h, &body).await?;
        // The upstream's answer, decrypted, with its status.
        assert_eq!((r.status, r.encrypted), (status, true), "{}", r.body);
        let b = body_of(&r);
        assert_eq!(b["message"], "from the upstream");
        assert_eq!(b["success"], Value::Bool(status < 300));
        assert_eq!(
            b["data"]["body"],
            Value::String(String::from_utf8(body.clone())?)
        );
        // Selected response headers pass; the rest do not.
        let n = b["data"]["n"].as_u64().unwrap_or(0);
        assert_eq!(
            header_values(&r, "set-cookie"),
            [
                format!("sid=upstream-secret-{n}; HttpOnly; Path=/").as_str(),
                "theme=dark"
            ]
        );
        assert_eq!(header_values(&r, "cache-control"), ["no-store"]);
        for gone in ["x-upstream-private", "keep-alive", "x-upstream-hop"] {
            assert!(r.raw.header(gone).is_none(), "{gone} passed");
        }
        assert_eq!(header_values(&r, "x-sc-version"), ["2"]);
        assert_eq!(r.raw.header("x-request-id"), Some(rid));

        // What the upstream received: the plaintext, the method, path, query, headers.
        let seen = up.last().await?;
        assert_eq!(seen.method, "POST");
        assert_eq!(seen.path, format!("/api/status/{status}"));
        assert_eq!(seen.query, "x=1&y=%20z&sid=dup");
        assert_eq!(seen.body, body, "the upstream gets exactly the plaintext");
        assert!(!seen.body.starts_with(b"SC"), "never an envelope");
        let expected: BTreeSet<String> = [
            "host",
            "content-length",
            "content-type",
            "accept",
            "accept-language",
            "authorization",
            "cookie",
            "x-client-hash",
            "x-request-id",
            "x-custom-end-to-end",
            "cf-ray",
            "cf-ipcountry",
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-host",
            "x-scv2-verified",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(seen.names(), expected, "headers: {:?}", seen.headers);
        assert_eq!(
            seen.header("content-type"),
            Some("application/json;charset=UTF-8")
        );
        assert_eq!(
            seen.header("content-length"),
            Some(body.len().to_string().as_str())
        );
        assert_eq!(seen.header("accept-language"), Some("ja"));
        assert_eq!(seen.header("authorization"), Some("Bearer tok-123"));
        assert_eq!(seen.header("cookie"), Some("a=b; c=d"));
        assert_eq!(seen.header("x-request-id"), Some(rid));
        assert_eq!(seen.header("x-client-hash"), Some("proxy-test"));
        // The client address as the gateway determined it (CF-Connecting-IP from a trusted
        // proxy, here loopback under --test-env), and the proto that proxy reported.
        assert_eq!(seen.all("x-forwarded-for"), ["203.0.113.7"]);
        assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
        assert_eq!(
            seen.header("x-forwarded-host"),
            Some(env.gw().addr().to_string().as_str())
        );
        assert_eq!(
            seen.header("host"),
            Some(up.url.trim_start_matches("http://"))
        );
        let trust = seen.all("x-scv2-verified");
        assert_eq!(trust.len(), 1);
        assert_eq!(
            trust[0],
            scv2_gateway::proxy::trust_value(s.session_id(), i as u64 + 1)
        );
        for (k, v) in &seen.headers {
            let k = k.to_ascii_lowercase();
            assert!(
                !k.starts_with("x-sc-") && !k.starts_with("x-secure-channel"),
                "{k}"
            );
            assert!(
                !v.contains(s.session_id()),
                "the session id reached the upstream in {k}"
            );
        }
    }
    // The web form works the same.
    let w = env.client_with(|o| o.web_form = true)?;
    let ws = env.session(&w).await?;
    let (r, _) = send(
        &w,
        &ws,
        "PUT",
        "/api/items/7",
        w.standard_headers(Some(ws.session_id())),
        b"{\"k\":1}",
    )
    .await?;
    assert_eq!((r.status, r.encrypted), (200, true));
    assert!(r.raw.body.starts_with(b"{\"v\":2,\"p\":"));
    let seen = up.last().await?;
    assert_eq!(
        (seen.method.as_str(), seen.body.as_slice()),
        ("PUT", &b"{\"k\":1}"[..])
    );
    // An empty 204 comes back as a 200 type 129 of an empty body.
    let (pending, e) = c.seal(&s, "DELETE", "/api/empty", b"")?;
    let raw = c
        .send(
            Method::DELETE,
            "/api/empty",
            c.standard_headers(Some(s.session_id())),
            e,
        )
        .await?;
    assert_eq!(raw.status, 200);
    let mut out = vec![0u8; scv2::max_open_len(raw.body.len())];
    let n = s.open_response(pending, b"DELETE /api/empty", &raw.body, &mut out)?;
    assert_eq!(n, 0);
    Ok(())
}

#[tokio::test]
async fn requests_that_do_not_open_never_reach_the_upstream() -> R {
    let up = Upstream::start()?;
    let env = env_with(api_routes(&up.url), |_| {}).await?;
    let c = env.client()?;
    let s = env.session(&c).await?;
    let h = || c.standard_headers(Some(s.session_id()));
    // One accepted request.
    let (first, env_a) = send(&c, &s, "POST", "/api/echo", h(), b"{\"n\":1}").await?;
    assert_eq!((first.status, first.encrypted), (200, true));
    assert_eq!(up.count().await?, 1);
    let path = "/api/echo";

    let post = |body: Vec<u8>, headers: HeaderMap| c.send(Method::POST, path, headers, body);
    let expect_plain = |r: &scv2_gateway::client::RawResponse, status: u16, code: &str| {
        assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
        let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        assert_eq!(v["code"], code, "{v}");
    };
    // Replayed: another envelope with the used sequence number (one bit flipped).
    let mut flipped = env_a.clone();
    flipped[20] ^= 1;
    expect_plain(
        &post(flipped, h()).await?,
        400,
        "SECURE_CHANNEL.INVALID_PAYLOAD",
    );
    // Tampered: a fresh request with its tag damaged.
    let (_p, mut e) = c.seal(&s, "POST", path, b"{\"n\":2}")?;
    let last = e.len() - 1;
    e[last] ^= 0x80;
    expect_plain(&post(e, h()).await?, 400, "SECURE_CHANNEL.INVALID_PAYLOAD");
    // Wrong ctx: sealed for another path (and for another method).
    let (_p, e) = c.seal(&s, "POST", "/api/other", b"{\"n\":3}")?;
    expect_plain(&post(e, h()).await?, 400, "SECURE_CHANNEL.INVALID_PAYLOAD");
    let (_p, e) = c.seal(&s, "PUT", path, b"{\"n\":4}")?;
    expect_plain(&post(e, h()).await?, 400, "SECURE_CHANNEL.INVALID_PAYLOAD");
    // Plaintext JSON instead of an envelope.
    expect_plain(
        &post(b"{\"n\":5}".to_vec(), h()).await?,
        400,
        "SECURE_CHANNEL.INVALID_PAYLOAD",
    );
    // No session, an unknown session, no X-SC-Version.
    let (_p, e) = c.seal(&s, "POST", path, b"{\"n\":6}")?;
    expect_plain(
        &post(e.clone(), c.standard_headers(None)).await?,
        401,
        "SECURE_CHANNEL.SESSION_NOT_FOUND",
    );
    expect_plain(
        &post(e.clone(), c.standard_headers(Some("no-such-session"))).await?,
        401,
        "SECURE_CHANNEL.SESSION_NOT_FOUND",
    );
    let mut nov = h();
    nov.remove("x-sc-version");
    expect_plain(&post(e, nov).await?, 400, "VALIDATION.INVALID_PARAMETER");
    // A closed session.
    let s2 = env.session(&c).await?;
    let (_p, e2) = c.seal(&s2, "POST", path, b"{\"n\":7}")?;
    assert_eq!(c.close(&s2).await?.status, 200);
    expect_plain(
        &post(e2, c.standard_headers(Some(s2.session_id()))).await?,
        401,
        "SECURE_CHANNEL.SESSION_NOT_FOUND",
    );
    // A byte-identical retransmission of the accepted one: its first answer, byte for byte,
    // with its headers; the upstream is not asked again.
    let again = post(env_a.clone(), h()).await?;
    assert_eq!(again.status, first.raw.status);
    assert_eq!(again.body, first.raw.body);
    assert_eq!(
        again
            .headers
            .get_all("set-cookie")
            .iter()
            .collect::<Vec<_>>(),
        first
            .raw
            .headers
            .get_all("set-cookie")
            .iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        up.count().await?,
        1,
        "nothing that did not open reached the upstream"
    );
    Ok(())
}

#[tokio::test]
async fn retransmissions_keep_their_headers_sealed_across_a_restart() -> R {
    let up = Upstream::start()?;
    let mut env = env_with(api_routes(&up.url), |_| {}).await?;
    let c = env.client()?;
    let s = env.session(&c).await?;
    let (first, e) = send(
        &c,
        &s,
        "POST",
        "/api/login",
        c.standard_headers(Some(s.session_id())),
        b"{\"u\":1}",
    )
    .await?;
    assert_eq!(first.status, 200);
    let cookie = header_values(&first, "set-cookie")[0].to_owned();
    assert!(cookie.starts_with("sid=upstream-secret-"), "{cookie}");
    env.restart().await?;
    let c = env.client()?;
    let again = c
        .send(
            Method::POST,
            "/api/login",
            c.standard_headers(Some(s.session_id())),
            e,
        )
        .await?;
    assert_eq!((again.status, &again.body), (200, &first.raw.body));
    assert_eq!(
        again
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>(),
        [cookie.as_str(), "theme=dark"]
    );
    assert_eq!(up.count().await?, 1);
    // At rest the cookie is sealed: it is nowhere in the database files.
    if let Some(gw) = env.gw.take() {
        gw.shutdown().await?;
    }
    let db = env
        .cfg
        .db
        .sqlite_path()
        .expect("a SQLite test")
        .to_path_buf();
    for f in [db.clone(), PathBuf::from(format!("{}-wal", db.display()))] {
        if let Ok(bytes) = std::fs::read(&f) {
            assert!(
                find(&bytes, b"upstream-secret-").is_none(),
                "{} holds the cookie",
                f.display()
            );
        }
    }
    Ok(())
}

// =============================================================================================
// Upstream failures after a request opened.

#[tokio::test]
async fn upstream_failures_are_answered_inside_a_type_129() -> R {
    let mut up = Upstream::start()?;
    let env = env_with(api_routes(&up.url), |_| {}).await?;
    let c = env.client()?;
    let s = env.session(&c).await?;
    let h = || c.standard_headers(Some(s.session_id()));

    // Sleeping past the response timeout (1 s): 504 in a type 129, soon.
    let t = Instant::now();
    let (r, e) = send(&c, &s, "POST", "/api/sleep/2500", h(), b"{}").await?;
    let took = t.elapsed();
    assert_eq!(
        (r.status, r.encrypted, r.code()),
        (504, true, "SYSTEM.GATEWAY_TIMEOUT"),
        "{}",
        r.body
    );
    assert!(took < Duration::from_millis(2300), "took {took:?}");
    assert_eq!(up.count().await?, 1);
    // Its retransmission gets the same 504, and the upstream is not asked again.
    let again = c.send(Method::POST, "/api/sleep/2500", h(), e).await?;
    assert_eq!((again.status, &again.body), (504, &r.raw.body));
    assert_eq!(up.count().await?, 1);

    // A response over the cap (64 KiB): 502. An encoded body cannot be sealed as is: 502.
    let (r, _) = send(&c, &s, "POST", "/api/big/70000", h(), b"{}").await?;
    assert_eq!(
        (r.status, r.encrypted, r.code()),
        (502, true, "SYSTEM.BAD_GATEWAY")
    );
    let (r, _) = send(&c, &s, "POST", "/api/big/60000", h(), b"{}").await?;
    assert_eq!((r.status, r.encrypted), (200, true));
    assert_eq!(r.body["pad"].as_str().map(str::len), Some(60000 - 10));
    let (r, _) = send(&c, &s, "POST", "/api/gzip", h(), b"{}").await?;
    assert_eq!(
        (r.status, r.encrypted, r.code()),
        (502, true, "SYSTEM.BAD_GATEWAY")
    );

    // The upstream stopped: 502 in a type 129 (and plaintext 502 on a plaintext route).
    up.stop();
    let t = Instant::now();
    let (r, _) = send(&c, &s, "POST", "/api/echo", h(), b"{}").await?;
    assert_eq!(
        (r.status, r.encrypted, r.code()),
        (502, true, "SYSTEM.BAD_GATEWAY"),
        "{}",
        r.body
    );
    assert!(t.elapsed() < Duration::from_secs(1));
    let raw = c
        .send(Method::GET, "/health", HeaderMap::new(), Vec::new())
        .await?;
    assert_eq!(raw.status, 502);
    assert_eq!(raw.json()?["code"], "SYSTEM.BAD_GATEWAY");
    // Back up on the same port: served again.
    let port = up.port();
    let up2 = Upstream::start_on(port)?;
    let (r, _) = send(&c, &s, "POST", "/api/echo", h(), b"{}").await?;
    assert_eq!((r.status, r.encrypted, r.code()), (200, true, "2000"));
    assert_eq!(up2.count().await?, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_sent_while_the_first_is_at_the_upstream_waits_for_its_answer() -> R {
    let up = Upstream::start()?;
    let env = env_with(api_routes(&up.url), |_| {}).await?;
    let c = Arc::new(env.client()?);
    let s = env.session(&c).await?;
    let (pending, e) = c.seal(&s, "POST", "/api/sleep/600", b"{\"once\":true}")?;
    let h = c.standard_headers(Some(s.session_id()));
    let first = {
        let (c, h, e) = (c.clone(), h.clone(), e.clone());
        tokio::spawn(async move { c.send(Method::POST, "/api/sleep/600", h, e).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let copy = c.send(Method::POST, "/api/sleep/600", h, e).await?;
    let first = first.await??;
    assert_eq!((first.status, copy.status), (200, 200));
    assert_eq!(
        first.body, copy.body,
        "the copy gets the first answer's bytes"
    );
    let r = c.read_answer(&s, pending, "POST", "/api/sleep/600", first)?;
    assert_eq!(r.body["data"]["body"], "{\"once\":true}");
    assert_eq!(up.count().await?, 1, "the upstream saw the request once");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_at_the_upstream_when_the_gateway_crashes_is_not_forwarded_again() -> R {
    let up = Upstream::start()?;
    let dir = TempDir::new();
    let file = dir.path("scv2.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:0\"\ndb = \"{}\"\n[upstream]\nurl = \"{}\"\nresponse_timeout_ms = 10000\n[[route]]\nmethod = \"POST\"\npath = \"/api/*\"\nsecure = true\n",
            dir.path("gw.sqlite").display(),
            up.url
        ),
    )?;
    let f = file.to_string_lossy().into_owned();
    let (url, key_id, public, mut child) = match serve(&["--config", &f])? {
        Ok(x) => x,
        Err(log) => anyhow::bail!("scv2 serve did not start: {log}"),
    };
    let client = |url: &str| -> R<ScClient> {
        let mut c = ScClient::new(ClientOptions::new(url))?;
        c.pin(&key_id, &public)?;
        Ok(c)
    };
    let c = client(&url)?;
    let s = c.open_session(&key_id).await?;
    let (_pending, e) = c.seal(&s, "POST", "/api/sleep/3000", b"{\"transfer\":100}")?;
    let h = c.standard_headers(Some(s.session_id()));
    let inflight = {
        let (c, h, e) = (client(&url)?, h.clone(), e.clone());
        tokio::spawn(async move { c.send(Method::POST, "/api/sleep/3000", h, e).await })
    };
    // The upstream has it (and sleeps on it): the gateway dies before the answer.
    let t = Instant::now();
    while up.count().await? == 0 {
        anyhow::ensure!(t.elapsed() < Duration::from_secs(10), "never forwarded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill()?;
    assert!(inflight.await?.is_err(), "the client lost its answer");
    // Restarted on the same database, the retransmission is not forwarded again: the request
    // was accepted durably before it was forwarded (its outcome is unknown, as after a 504).
    let (url2, _, _, mut child2) = match serve(&["--config", &f])? {
        Ok(x) => x,
        Err(log) => anyhow::bail!("scv2 serve did not restart: {log}"),
    };
    let c2 = client(&url2)?;
    let again = c2.send(Method::POST, "/api/sleep/3000", h, e).await?;
    assert_eq!(
        again.status,
        400,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
    assert_eq!(again.json()?["code"], "SECURE_CHANNEL.INVALID_PAYLOAD");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(up.count().await?, 1, "forwarded twice");
    // The session itself goes on.
    let r = c2.call(&s, "POST", "/api/echo", b"{}").await?;
    assert_eq!((r.status, r.encrypted), (200, true));
    child2.kill()?;
    Ok(())
}

#[tokio::test]
async fn a_connect_timeout_is_a_504() -> R {
    // A listener whose accept queue is full and never drained: further connects get no answer
    // to their SYN (Linux drops it), so they hang until the connect timeout.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    sock.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    sock.listen(0)?;
    let addr = sock
        .local_addr()?
        .as_socket()
        .ok_or_else(|| anyhow::anyhow!("addr"))?;
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fillers.push(s);
        }
    }
    let mut routes = api_routes(&format!("http://{addr}"));
    if let Some(u) = routes.upstream.as_mut() {
        u.connect_timeout = Duration::from_millis(300);
    }
    let env = env_with(routes, |_| {}).await?;
    let c = env.client()?;
    let s = env.session(&c).await?;
    let t = Instant::now();
    let (r, _) = send(
        &c,
        &s,
        "POST",
        "/api/echo",
        c.standard_headers(Some(s.session_id())),
        b"{}",
    )
    .await?;
    assert_eq!(
        (r.status, r.encrypted, r.code()),
        (504, true, "SYSTEM.GATEWAY_TIMEOUT"),
        "{}",
        r.body
    );
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(900),
        "{took:?}"
    );
    drop(fillers);
    Ok(())
}

// =============================================================================================
// Plaintext routes, the trust header, paths, limits.

#[tokio::test]
async fn plaintext_routes_pass_through_and_the_trust_header_is_stripped() -> R {
    let up = Upstream::start()?;
    let env = env_with(api_routes(&up.url), |_| {}).await?;
    let http = reqwest::Client::new();
    let url = env.gw().url();
    let r = http
        .get(format!("{url}/health?probe=1"))
        .header("x-scv2-verified", "1; session=forged; seq=1")
        .header("x-sc-session-id", "whatever")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-for", "6.6.6.6")
        .header("authorization", "Bearer t")
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    let bytes = r.bytes().await?;
    let seen = up.last().await?;
    assert_eq!(
        (
            seen.method.as_str(),
            seen.path.as_str(),
            seen.query.as_str()
        ),
        ("GET", "/health", "probe=1")
    );
    assert!(
        seen.header("x-scv2-verified").is_none(),
        "a client-sent trust header reached the upstream"
    );
    assert!(seen.header("x-sc-session-id").is_none());
    assert_eq!(seen.header("authorization"), Some("Bearer t"));
    // Not a trusted proxy: the socket peer, and the gateway's own scheme.
    assert_eq!(seen.all("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(seen.header("x-forwarded-proto"), Some("http"));
    // The answer unchanged: status, body bytes, end-to-end headers; not the hop-by-hop or
    // gateway-owned ones.
    let v: Value = serde_json::from_slice(&bytes)?;
    assert_eq!(v["data"]["path"], "/health");
    let hv = |n: &str| {
        h.get_all(n)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
    };
    assert_eq!(hv("content-type"), ["application/json;charset=UTF-8"]);
    assert_eq!(hv("x-upstream-private"), ["internal"]);
    assert_eq!(hv("set-cookie").len(), 2);
    for gone in ["keep-alive", "x-upstream-hop", "x-sc-version"] {
        assert!(h.get(gone).is_none(), "{gone} passed");
    }
    // A body and a status pass too.
    let r = http
        .post(format!("{url}/public/status/409"))
        .header("content-type", "text/plain")
        .body("plain body")
        .send()
        .await?;
    assert_eq!(r.status(), 409);
    let v: Value = serde_json::from_slice(&r.bytes().await?)?;
    assert_eq!(v["data"]["body"], "plain body");
    let seen = up.last().await?;
    assert_eq!(seen.header("content-type"), Some("text/plain"));
    assert_eq!(seen.body, b"plain body");
    // HEAD: no body, the length of the one it describes.
    let r = http.head(format!("{url}/public/echo")).send().await?;
    assert_eq!(r.status(), 200);
    let len: usize = r
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(len > 100, "{len}");
    assert!(r.bytes().await?.is_empty());
    assert_eq!(up.last().await?.method, "HEAD");
    // A secure route refuses a plaintext body without forwarding it; the trust header on a
    // secure route is only ever the gateway's (see the first test).
    let before = up.count().await?;
    let r = http
        .post(format!("{url}/api/echo"))
        .header("x-scv2-verified", "1")
        .header("x-sc-version", "2")
        .body("{\"password\":\"x\"}")
        .send()
        .await?;
    assert_eq!(r.status(), 401);
    assert_eq!(up.count().await?, before);
    // Unknown paths and methods are the gateway's own answers.
    assert_eq!(
        http.get(format!("{url}/nowhere")).send().await?.status(),
        404
    );
    assert_eq!(
        http.post(format!("{url}/health")).send().await?.status(),
        405
    );
    assert_eq!(up.count().await?, before);
    Ok(())
}

#[tokio::test]
async fn paths_not_in_normal_form_are_refused() -> R {
    let up = Upstream::start()?;
    let env = env_with(api_routes(&up.url), |_| {}).await?;
    let addr = env.gw().addr();
    for target in [
        "/public/../api/echo",
        "/public/%2e%2e/api/echo",
        "/public//x",
        "/public/a%2Fb",
        "/public/%61",
        "/public/a\\b",
    ] {
        let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let answer = tokio::task::spawn_blocking(move || raw_http(addr, &request)).await??;
        let status = answer.split_whitespace().nth(1).unwrap_or("");
        assert!(status == "400", "{target}: {answer}");
        if status == "400" {
            assert!(
                answer.contains("VALIDATION.INVALID_PARAMETER"),
                "{target}: {answer}"
            );
        }
    }
    assert_eq!(up.count().await?, 0);
    Ok(())
}

#[tokio::test]
async fn route_limits_are_keyed_on_the_client_and_the_session() -> R {
    let up = Upstream::start()?;
    let mut routes = api_routes(&up.url);
    routes.routes.insert(
        0,
        RouteConfig {
            limits: vec![
                RouteLimit {
                    key: LimitKey::Client,
                    spec: RateSpec::per_secs(4, 60),
                },
                RouteLimit {
                    key: LimitKey::Session,
                    spec: RateSpec::per_secs(2, 60),
                },
            ],
            ..route("POST", "/api/login", true)
        },
    );
    routes.routes.push(RouteConfig {
        limits: vec![RouteLimit {
            key: LimitKey::Client,
            spec: RateSpec::per_secs(2, 60),
        }],
        ..route("GET", "/public/limited", false)
    });
    let env = env_with(routes, |c| c.test_env = true).await?;
    // Session limit: 2 per session; a new session gets 2 more; the client limit (4) caps them,
    // whatever the X-Client-Hash.
    let mut statuses = Vec::new();
    for i in 0..3 {
        let c = env.client_with(|o| o.client_hash = format!("rotating-{i}"))?;
        let s = env.session(&c).await?;
        for _ in 0..3 {
            let (r, _) = send(
                &c,
                &s,
                "POST",
                "/api/login",
                c.standard_headers(Some(s.session_id())),
                b"{}",
            )
            .await?;
            if r.status == 429 {
                assert!(!r.encrypted);
                assert!(r.raw.header("retry-after").is_some());
            }
            statuses.push(r.status);
        }
    }
    assert_eq!(statuses, [200, 200, 429, 200, 200, 429, 429, 429, 429]);
    assert_eq!(up.count().await?, 4);
    // Another client address has its own budget.
    let other = env.client_with(|o| o.cf_ip = Some("198.51.100.9".into()))?;
    let s = env.session(&other).await?;
    let (r, _) = send(
        &other,
        &s,
        "POST",
        "/api/login",
        other.standard_headers(Some(s.session_id())),
        b"{}",
    )
    .await?;
    assert_eq!(r.status, 200);
    // A plaintext route's client limit.
    let http = reqwest::Client::new();
    let get = || {
        http.get(format!("{}/public/limited", env.gw().url()))
            .header("cf-connecting-ip", "192.0.2.44")
            .header("cf-ray", "1-NRT")
            .header("cf-ipcountry", "JP")
            .send()
    };
    assert_eq!(get().await?.status(), 200);
    assert_eq!(get().await?.status(), 200);
    assert_eq!(get().await?.status(), 429);
    assert_eq!(up.count().await?, 7);
    // Under --test-env the Cloudflare headers are required on proxied routes too.
    let r = http
        .get(format!("{}/health", env.gw().url()))
        .send()
        .await?;
    assert_eq!(r.status(), 400);
    assert_eq!(up.count().await?, 7);
    Ok(())
}

// =============================================================================================
// Built-in routes in proxy mode.

#[tokio::test]
async fn built_in_routes_stay_and_password_init_can_be_proxied() -> R {
    let up = Upstream::start()?;
    let env = env_with(api_routes(&up.url), |_| {}).await?;
    let c = env.client()?;
    let s = env.session(&c).await?;
    let token = scv2_gateway::util::new_token()?;
    env.gw()
        .store()
        .add_registration(
            TokenHash::of(&token),
            "p@example.com",
            "P",
            env.clock.now_ms(),
            86_400_000,
        )
        .await?;
    let body = json!({"sessionId": token, "password": "NewP@ssw0rd"}).to_string();
    let r = c
        .call(&s, "POST", PATH_PASSWORD_INIT, body.as_bytes())
        .await?;
    assert_eq!((r.status, r.encrypted, r.code()), (201, true, "2000"));
    assert_eq!(up.count().await?, 0);
    drop(env);

    // Built-in password init off: its path is free for the upstream.
    let mut routes = api_routes(&up.url);
    routes.password_init = false;
    let env = env_with(routes.clone(), |_| {}).await?;
    let c = env.client()?;
    let s = env.session(&c).await?;
    let r = c.call(&s, "POST", PATH_PASSWORD_INIT, b"{}").await?;
    assert_eq!((r.status, r.encrypted), (404, false));
    drop(env);
    routes.routes.push(route("POST", PATH_PASSWORD_INIT, true));
    let env = env_with(routes, |_| {}).await?;
    let c = env.client()?;
    let s = env.session(&c).await?;
    let r = c
        .call(&s, "POST", PATH_PASSWORD_INIT, b"{\"sessionId\":\"x\"}")
        .await?;
    assert_eq!((r.status, r.encrypted, r.code()), (200, true, "2000"));
    assert_eq!(up.last().await?.path, PATH_PASSWORD_INIT);
    // A route on a built-in path is refused at start.
    let mut bad = api_routes(&up.url);
    bad.routes
        .push(route("POST", "/web/v1/secure-channel/session", true));
    let e = env_with(bad, |_| {})
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("built-in"), "{e}");
    Ok(())
}

trait NowMs {
    fn now_ms(&self) -> u64;
}

impl NowMs for ManualClock {
    fn now_ms(&self) -> u64 {
        scv2_gateway::Clock::now_ms(self)
    }
}

// =============================================================================================
// Load: 200 concurrent clients.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_clients_through_the_proxy() -> R {
    let up = Upstream::start()?;
    let env = Arc::new(env_with(api_routes(&up.url), |c| c.test_env = true).await?);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let env = env.clone();
        tasks.push(tokio::spawn(async move {
            let ip = format!("198.18.{}.{}", i / 100, i % 100 + 1);
            let c = env.client_with(|o| o.cf_ip = Some(ip))?;
            let s = env.session(&c).await?;
            for k in 0..2 {
                let body = json_body(&format!("client-{i}-{k}"), 1024);
                let (r, _) = send(
                    &c,
                    &s,
                    "POST",
                    &format!("/api/status/201?c={i}"),
                    c.standard_headers(Some(s.session_id())),
                    &body,
                )
                .await?;
                anyhow::ensure!(
                    r.status == 201 && r.encrypted,
                    "client {i}: {} {}",
                    r.status,
                    r.body
                );
                anyhow::ensure!(
                    r.body["data"]["body"] == Value::String(String::from_utf8(body)?),
                    "client {i} got another client's answer"
                );
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    let mut failures = Vec::new();
    for t in tasks {
        if let Err(e) = tokio::time::timeout(Duration::from_secs(120), t).await?? {
            failures.push(e.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(up.count().await?, 400);
    eprintln!(
        "200 clients × (handshake + 2 proxied 1 KiB requests): {:?}",
        t.elapsed()
    );
    Ok(())
}

// =============================================================================================
// `scv2 serve --config`.

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_scv2")
}

/// A `scv2 serve` process, killed when dropped (also when a test fails).
struct Served(Child);

impl Served {
    fn kill(&mut self) -> R {
        self.0.kill()?;
        self.0.wait()?;
        Ok(())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run `scv2 serve ARGS`; `Ok(url, keyId, publicKey, process)` once it listens, or `Err(stderr)`.
fn serve(args: &[&str]) -> R<Result<(String, String, String, Served), String>> {
    let mut child = Command::new(bin())
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("SCV2_STORAGE_KEY")
        .spawn()?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow::anyhow!("stderr"))?;
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let (tx, rx) = std::sync::mpsc::channel::<Option<String>>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("scv2 gateway on ") {
                let _ = tx.send(Some(line.clone()));
            }
            if let Ok(mut l) = sink.lock() {
                l.push(line);
            }
        }
        let _ = tx.send(None);
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Some(line)) => {
            let word = |after: &str| {
                line.split(after)
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .unwrap_or("")
                    .to_owned()
            };
            Ok(Ok((
                word("scv2 gateway on "),
                word("keyId "),
                word("publicKey "),
                Served(child),
            )))
        }
        _ => {
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(50));
            Ok(Err(lines.lock().map(|l| l.join("\n")).unwrap_or_default()))
        }
    }
}

#[tokio::test]
async fn serve_with_a_configuration_file() -> R {
    let up = Upstream::start()?;
    let dir = TempDir::new();
    let file = dir.path("scv2.toml");
    let db = dir.path("gw.sqlite");
    let write = |extra: &str| {
        std::fs::write(
            &file,
            format!(
                r#"# scv2 serve flags, by their long names
listen = "127.0.0.1:0"
db = "{db}"
max_body_bytes = 4096
session_ttl_secs = 600
trust_proxy = ["192.0.2.0/24"]
{extra}
[upstream]
url = "{up}"
response_timeout_ms = 2000
max_response_bytes = 65536
pool_size = 4

[[route]]
method = "POST"
path = "/api/login"
secure = true
rate_limit = [{{ key = "client", limit = 10, window_secs = 60 }}]

[[route]]
method = "GET"
path = "/health"
secure = false
"#,
                db = db.display(),
                up = up.url
            ),
        )
    };
    write("")?;
    let f = file.to_string_lossy().into_owned();
    let (url, key_id, public, mut child) = match serve(&["--config", &f])? {
        Ok(x) => x,
        Err(log) => anyhow::bail!("scv2 serve --config did not start: {log}"),
    };
    let mut o = ClientOptions::new(&url);
    o.client_hash = "cfg".into();
    let mut c = ScClient::new(o)?;
    c.pin(&key_id, &public)?;
    let s = c.open_session(&key_id).await?;
    let r = c
        .call(&s, "POST", "/api/login", b"{\"user\":\"a\"}")
        .await?;
    assert_eq!(
        (r.status, r.encrypted, r.code()),
        (200, true, "2000"),
        "{}",
        r.body
    );
    assert_eq!(up.last().await?.body, b"{\"user\":\"a\"}");
    let h = reqwest::get(format!("{url}/health")).await?;
    assert_eq!(h.status(), 200);
    // The file's max_body_bytes (4096) applies.
    let big = vec![b'x'; 5000];
    let (_p, e) = c.seal(&s, "POST", "/api/login", &big)?;
    let raw = c
        .send(
            Method::POST,
            "/api/login",
            c.standard_headers(Some(s.session_id())),
            e,
        )
        .await?;
    assert_eq!(raw.status, 400);
    let _ = c.close(&s).await;
    child.kill()?;

    // A flag given both in the file and on the command line: refused, naming both.
    let log = serve(&["--config", &f, "--max-body-bytes", "1"])?
        .err()
        .unwrap_or_default();
    assert!(
        log.contains("`max_body_bytes` is set both in") && log.contains("--max-body-bytes"),
        "{log}"
    );
    // A typo is an error naming the key, not a silently ignored limit.
    write("init_rate_per_ipp = 1000")?;
    let log = serve(&["--config", &f])?.err().unwrap_or_default();
    assert!(log.contains("unknown key `init_rate_per_ipp`"), "{log}");
    write("[upstream.extra]\n")?;
    let log = serve(&["--config", &f])?.err().unwrap_or_default();
    assert!(
        log.contains("TOML") || log.contains("duplicate") || log.contains("upstream"),
        "{log}"
    );
    // A bad value names its key; a bad route names the route.
    write("max_sessions = \"many\"")?;
    let log = serve(&["--config", &f])?.err().unwrap_or_default();
    assert!(log.contains("key `max_sessions`"), "{log}");
    std::fs::write(&file, format!("db = \"{}\"\n[upstream]\nurl = \"{}\"\n[[route]]\nmethod = \"POST\"\npath = \"/a/../b\"\nsecure = true\n", db.display(), up.url))?;
    let log = serve(&["--config", &f, "--listen", "127.0.0.1:0"])?
        .err()
        .unwrap_or_default();
    assert!(
        log.contains("[[route]] #1 (POST /a/../b)") && log.contains("normal form"),
        "{log}"
    );
    Ok(())
}

#[test]
fn the_readme_configuration_is_valid() -> R {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))?;
    let start = readme
        .find("```toml\n# scv2.toml")
        .ok_or_else(|| anyhow::anyhow!("no example configuration in gateway/README.md"))?;
    let text = &readme[start + "```toml\n".len()..];
    let text = &text[..text.find("```").unwrap_or(text.len())];
    let dir = TempDir::new();
    let file = dir.path("scv2.toml");
    std::fs::write(&file, text)?;
    let out = Command::new(bin())
        .args(["serve", "--config"])
        .arg(&file)
        .arg("--check")
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("configuration ok")
            && stdout.contains("2 route(s) to http://127.0.0.1:9000"),
        "{stdout}"
    );
    // And a conflicting flag is refused by --check too.
    let out = Command::new(bin())
        .args(["serve", "--config"])
        .arg(&file)
        .args(["--check", "--listen", "127.0.0.1:1"])
        .output()?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("`listen` is set both"));
    Ok(())
}

// =============================================================================================
// Several gateways on one PostgreSQL: the at-most-once forwarding holds across instances.

/// Two gateways on one PostgreSQL in front of one upstream. One envelope sent to both at once
/// reaches the upstream once, and both copies get the same type 129 (the second gateway waits
/// for the first one's answer: the session's row is held from the window's commit to the
/// answer's); the session then goes on on the other gateway, and a copy sent after the answer
/// is answered from the shared cache, with its kept response headers.
#[tokio::test]
async fn two_gateways_on_postgres_forward_a_copied_request_once() -> R {
    let Some(superuser) = common::pg_url("two_gateways_on_postgres_forward_a_copied_request_once")
    else {
        return Ok(());
    };
    let url = common::fresh_database(&superuser).await?;
    let up = Upstream::start()?;
    let clock = Arc::new(ManualClock::new(system_now_ms()));
    let config = || {
        let mut cfg = GatewayConfig::new(
            "127.0.0.1:0".parse().expect("address"),
            scv2_gateway::config::Database::Postgres(url.clone()),
        );
        cfg.clock = clock.clone();
        cfg.argon2 = Argon2Params::cheap();
        cfg.session_ttl_ms = 600_000;
        cfg.storage_key = Some(common::test_storage_key());
        cfg.routes = api_routes(&up.url);
        cfg
    };
    let a = scv2_gateway::start(config()).await?;
    let b = scv2_gateway::start(config()).await?;
    assert_eq!(a.public_key().public_key, b.public_key().public_key);
    let client = |gw: &Gateway| -> R<ScClient> {
        let mut o = ClientOptions::new(&gw.url());
        o.client_hash = "proxy-test".into();
        o.clock = clock.clone();
        let mut c = ScClient::new(o)?;
        let doc = gw.public_key();
        c.pin(&doc.key_id, &doc.public_key)?;
        Ok(c)
    };
    let (ca, cb) = (client(&a)?, client(&b)?);
    let s = ca.open_session(&a.public_key().key_id).await?;
    let h = || ca.standard_headers(Some(s.session_id()));

    // The upstream takes 400 ms, so the second copy arrives while the first is at the upstream.
    let target = "/api/sleep/400";
    let (pending, env) = ca.seal(&s, "POST", "/api/sleep/400", b"{\"n\":1}")?;
    let body = ca.body_of(&env);
    let first = ca.send(Method::POST, target, h(), body.clone());
    let second = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cb.send(Method::POST, target, h(), body.clone()).await
    };
    let (r1, r2) = tokio::join!(first, second);
    let (r1, r2) = (r1?, r2?);
    assert_eq!(up.count().await?, 1, "the upstream saw the request once");
    assert_eq!((r1.status, r2.status), (200, 200));
    assert_eq!(r1.body, r2.body, "both copies get the same type 129");
    let set_cookie = |r: &scv2_gateway::client::RawResponse| -> Vec<String> {
        r.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    };
    assert_eq!(set_cookie(&r1), set_cookie(&r2));
    let opened = ca.read_answer(&s, pending, "POST", "/api/sleep/400", r1.clone())?;
    assert!(opened.encrypted);
    assert_eq!(opened.status, 200);

    // A third copy, after the answer, on the second gateway: the cached bytes, and the kept
    // response headers with them.
    let r3 = cb.send(Method::POST, target, h(), body).await?;
    assert_eq!((r3.status, &r3.body), (200, &r1.body));
    assert_eq!(set_cookie(&r3), set_cookie(&r1));
    assert_eq!(up.count().await?, 1);

    // The session goes on, on the second gateway.
    let (r, _) = send(&cb, &s, "POST", "/api/echo", h(), b"{\"n\":2}").await?;
    assert_eq!((r.status, r.encrypted), (200, true));
    assert_eq!(up.count().await?, 2);
    a.shutdown().await?;
    b.shutdown().await?;
    Ok(())
}
