//! Proxy mode's forwarding: the pooled upstream client (hyper-util's legacy client, HTTP/1.1,
//! connect and response timeouts, a streaming cap on the answer), what is sent to the upstream
//! and what of its answer reaches the client, for secure routes (opened over the secure channel,
//! the plaintext forwarded, the answer sealed into the type 129 through the same commit as every
//! SCv2 route) and plaintext ones (passed through).
//!
//! To the upstream: the same method, path and query string; the end-to-end headers; never a
//! hop-by-hop header (RFC 9110 section 7.6.1, and those `Connection` names), an `X-SC-*`,
//! `X-SCv2-*` or `X-Secure-Channel-*` header, or a client-address header (`Forwarded`,
//! `X-Forwarded-*`, `X-Real-IP`, `CF-Connecting-IP`, `True-Client-IP`, `X-Client-IP`) from the
//! client; then `X-Forwarded-For` (the client address as [`crate::client_ip`] determined it),
//! `X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Request-Id`, and on secure routes the decrypted
//! body with `Content-Type: application/json;charset=UTF-8` and [`TRUST_HEADER`].

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::{bail, Context as _};
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::uri::{Authority, PathAndQuery, Scheme};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Buf;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::Value;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::answer::{header, Peer, Req};
use crate::answer_headers::HeaderList;
use crate::app::App;
use crate::channel::{self, OnGone, RawAnswer};
use crate::i18n::Problem;
use crate::paths::CONTENT_TYPE_JSON;
use crate::routes::{Counted, Proxy, Route, UpstreamConfig};
use crate::util::{hex, key16};
use crate::validate::Problems;

/// The header that tells the upstream a request came through SCv2 (always removed from what
/// clients send): `X-SCv2-Verified: 1; session=<32 hex>; seq=<n>`, where `session` is a tag of
/// the SC session (the first 16 bytes of SHA-256(`u64be(16) || "scv2 session tag" || u64be(len
/// sid) || sid`) in hex: stable for the session, not the id itself) and `seq` the request's
/// sequence number in it. Together they name one accepted request uniquely.
pub const TRUST_HEADER: &str = "x-scv2-verified";

/// Hop-by-hop request and response headers (RFC 9110 section 7.6.1, plus the proxy ones and
/// `Expect`, which the gateway's own server answers).
const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "expect",
];

/// Client-address headers a client could forge: the upstream gets the address only as
/// `X-Forwarded-For`, from the gateway.
const CLIENT_ADDRESS: [&str; 10] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-real-ip",
    "cf-connecting-ip",
    "true-client-ip",
    "x-client-ip",
];

/// Request headers of secure routes that describe the envelope or the representation the
/// client sent, not the plaintext the upstream gets (and `Accept-Encoding`: the upstream's body
/// is sealed as it is, so it must come unencoded).
const SECURE_ONLY_DROPPED: [&str; 14] = [
    "content-type",
    "content-encoding",
    "content-md5",
    "digest",
    "content-digest",
    "repr-digest",
    "accept-encoding",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "range",
    "x-http-method-override",
];

fn gateway_owned(n: &str) -> bool {
    n.starts_with("x-sc-") || n.starts_with("x-scv2-") || n.starts_with("x-secure-channel-")
}

/// The header names listed in `Connection` (lowercase).
fn connection_named(h: &HeaderMap) -> Vec<String> {
    h.get_all("connection")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .take(64)
        .collect()
}

/// Parse `http://host[:port]` (no path but `/`, no query, no user info).
pub fn parse_upstream_url(url: &str) -> anyhow::Result<Authority> {
    let uri: Uri = url
        .parse()
        .with_context(|| format!("[upstream] url {url:?} is not a URL"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => bail!(
            "[upstream] url {url:?}: https upstreams are not supported; run the gateway next to \
             the upstream (loopback or a private network) and give an http:// url"
        ),
        _ => bail!("[upstream] url {url:?} must start with http://"),
    }
    let Some(authority) = uri.authority().cloned() else {
        bail!("[upstream] url {url:?} has no host");
    };
    if authority.as_str().contains('@') {
        bail!("[upstream] url {url:?}: no user info");
    }
    if uri.query().is_some() || !matches!(uri.path(), "" | "/") {
        bail!("[upstream] url {url:?}: no path or query (requests keep their own path and query)");
    }
    Ok(authority)
}

/// Why an upstream exchange failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Connection refused, unreachable, name not resolved → 502.
    Unreachable,
    /// Connect or response timeout → 504.
    Timeout,
    /// The answer's body is over `max_response_bytes` → 502.
    TooLarge,
    /// The connection broke, or the answer cannot be delivered (an upgrade, an encoded body on a
    /// secure route) → 502.
    Broken,
}

impl Failure {
    fn status_code(self) -> (StatusCode, &'static str) {
        match self {
            Failure::Timeout => (StatusCode::GATEWAY_TIMEOUT, "SYSTEM.GATEWAY_TIMEOUT"),
            _ => (StatusCode::BAD_GATEWAY, "SYSTEM.BAD_GATEWAY"),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Failure::Unreachable => "unreachable",
            Failure::Timeout => "timeout",
            Failure::TooLarge => "answer over max_response_bytes",
            Failure::Broken => "broken answer",
        }
    }
}

/// A request body the gateway forwards: one frame, zeroized when dropped (the decrypted body
/// of a secure route).
pub struct SecretBody(Option<SecretBuf>);

/// The bytes of a [`SecretBody`].
pub struct SecretBuf {
    data: Zeroizing<Vec<u8>>,
    pos: usize,
}

impl Buf for SecretBuf {
    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
    fn chunk(&self) -> &[u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }
    fn advance(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.data.len());
    }
}

impl SecretBody {
    fn new(data: Zeroizing<Vec<u8>>) -> SecretBody {
        if data.is_empty() {
            SecretBody(None)
        } else {
            SecretBody(Some(SecretBuf { data, pos: 0 }))
        }
    }
}

impl http_body::Body for SecretBody {
    type Data = SecretBuf;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<SecretBuf>, Infallible>>> {
        Poll::Ready(self.0.take().map(|b| Ok(Frame::data(b))))
    }
    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }
    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.remaining() as u64))
    }
}

/// What to send: method, path and query, headers (the body comes separately).
#[derive(Clone)]
pub struct Head {
    method: Method,
    path_and_query: PathAndQuery,
    headers: HeaderMap,
}

/// The method, the path without its query, and the header names: the values (`Authorization`,
/// `Cookie`, the trust header) and the query string may carry secrets.
impl std::fmt::Debug for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Head")
            .field("method", &self.method)
            .field("path", &self.path_and_query.path())
            .field(
                "headers",
                &self.headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// An upstream answer, read to its end within the cap.
pub struct Fetched {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Zeroizing<Vec<u8>>,
}

/// The upstream and its connection pool.
pub struct Upstream {
    client: Client<HttpConnector, SecretBody>,
    authority: Authority,
    cfg: UpstreamConfig,
    slots: Semaphore,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("url", &self.cfg.url)
            .finish_non_exhaustive()
    }
}

fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

impl Upstream {
    /// The client for `cfg` (validated).
    pub fn new(cfg: &UpstreamConfig) -> anyhow::Result<Upstream> {
        let authority = parse_upstream_url(&cfg.url)?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(cfg.connect_timeout));
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(cfg.pool_size)
            .pool_idle_timeout(std::time::Duration::from_secs(30))
            .pool_timer(TokioTimer::new())
            .build(connector);
        Ok(Upstream {
            client,
            authority,
            cfg: cfg.clone(),
            slots: Semaphore::new(cfg.pool_size),
        })
    }

    /// Its configuration.
    pub fn config(&self) -> &UpstreamConfig {
        &self.cfg
    }

    /// Send `head` with `body` and read the whole answer (at most `max_response_bytes`), all
    /// within the response timeout.
    pub async fn send(&self, head: Head, body: Zeroizing<Vec<u8>>) -> Result<Fetched, Failure> {
        let uri = Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query(head.path_and_query)
            .build()
            .map_err(|_| Failure::Broken)?;
        let mut request = hyper::Request::new(SecretBody::new(body));
        *request.method_mut() = head.method;
        *request.uri_mut() = uri;
        *request.headers_mut() = head.headers;
        let cap = self.cfg.max_response_bytes;
        let exchange = async {
            let _slot = self.slots.acquire().await.map_err(|_| Failure::Broken)?;
            let response = self.client.request(request).await.map_err(|e| {
                if e.is_connect() {
                    if timed_out(&e) {
                        Failure::Timeout
                    } else {
                        Failure::Unreachable
                    }
                } else {
                    Failure::Broken
                }
            })?;
            let (parts, mut incoming) = response.into_parts();
            let declared = parts
                .headers
                .get(axum::http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            if declared.is_some_and(|n| n > cap as u64) {
                return Err(Failure::TooLarge);
            }
            let mut out = Zeroizing::new(Vec::with_capacity(
                declared.map_or(0, |n| usize::try_from(n).unwrap_or(0).min(cap)),
            ));
            while let Some(frame) = incoming.frame().await {
                let frame = frame.map_err(|_| Failure::Broken)?;
                if let Ok(data) = frame.into_data() {
                    if out.len().saturating_add(data.len()) > cap {
                        return Err(Failure::TooLarge);
                    }
                    out.extend_from_slice(&data);
                }
            }
            Ok(Fetched {
                status: parts.status,
                headers: parts.headers,
                body: out,
            })
        };
        match tokio::time::timeout(self.cfg.response_timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(Failure::Timeout),
        }
    }
}

/// The trust header's value for the request `seq` of session `sid`.
pub fn trust_value(sid: &str, seq: u64) -> String {
    let tag = key16(&[b"scv2 session tag", sid.as_bytes()]);
    format!("1; session={}; seq={seq}", hex(&tag))
}

fn drop_request_header(n: &str, named: &[String], secure: bool) -> bool {
    HOP_BY_HOP.contains(&n)
        || CLIENT_ADDRESS.contains(&n)
        || gateway_owned(n)
        || matches!(n, "host" | "content-length" | "x-request-id")
        || named.iter().any(|c| c == n)
        || (secure && SECURE_ONLY_DROPPED.contains(&n))
}

fn put(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(HeaderName::from_static(name), v);
    }
}

/// What goes to the upstream for the request `parts` (the body apart).
fn head(app: &App, req: &Req, parts: &Parts, trust: Option<String>) -> Head {
    let secure = trust.is_some();
    let h = &parts.headers;
    let named = connection_named(h);
    let mut out = HeaderMap::with_capacity(h.len() + 6);
    for (name, value) in h {
        if !drop_request_header(name.as_str(), &named, secure) {
            out.append(name.clone(), value.clone());
        }
    }
    put(&mut out, "x-forwarded-for", &req.client.ip.to_string());
    let peer_trusted = parts
        .extensions
        .get::<Peer>()
        .is_some_and(|p| app.trusted.contains(p.0.ip()));
    let proto = header(h, "x-forwarded-proto")
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| peer_trusted && (v == "http" || v == "https"))
        .unwrap_or_else(|| "http".to_owned());
    put(&mut out, "x-forwarded-proto", &proto);
    if let Some(host) = header(h, "host") {
        put(&mut out, "x-forwarded-host", host);
    }
    put(&mut out, "x-request-id", &req.request_id);
    if let Some(t) = trust {
        put(&mut out, "content-type", CONTENT_TYPE_JSON);
        put(&mut out, TRUST_HEADER, &t);
    }
    Head {
        method: parts.method.clone(),
        path_and_query: parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")),
        headers: out,
    }
}

/// The wrapper of a gateway answer to an upstream failure, as a [`RawAnswer`].
fn failure_answer(req: &Req, f: Failure) -> RawAnswer {
    tracing::warn!(request_id = %req.request_id, failure = f.name(), "upstream failed");
    let (status, code) = f.status_code();
    RawAnswer {
        status,
        code: code.to_owned(),
        body: Zeroizing::new(
            req.wrapper(false, code, Value::Null)
                .to_string()
                .into_bytes(),
        ),
        headers: Vec::new(),
    }
}

/// The API `code` of an upstream body (for the log line), if it is a JSON object with one.
fn code_of(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Code {
        code: Option<Value>,
    }
    if body.first() != Some(&b'{') {
        return String::new();
    }
    match serde_json::from_slice::<Code>(body) {
        Ok(Code {
            code: Some(Value::String(s)),
        }) => s.chars().take(64).collect(),
        Ok(Code {
            code: Some(Value::Number(n)),
        }) => n.to_string(),
        _ => String::new(),
    }
}

/// The type 129's answer from an upstream answer on a secure route.
fn sealed_answer(up: &Upstream, req: &Req, f: Fetched) -> RawAnswer {
    let encoded = f
        .headers
        .get_all(axum::http::header::CONTENT_ENCODING)
        .iter()
        .any(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    let status = match f.status.as_u16() {
        // These carry no body, and the type 129 is one.
        204 | 205 => StatusCode::OK,
        s if s < 200 || s == 304 => return failure_answer(req, Failure::Broken),
        _ => f.status,
    };
    if encoded {
        return failure_answer(req, Failure::Broken);
    }
    let mut headers: HeaderList = Vec::new();
    for name in &up.cfg.response_headers {
        for v in f.headers.get_all(name) {
            headers.push((name.clone(), v.clone()));
        }
    }
    RawAnswer {
        status,
        code: code_of(&f.body),
        body: f.body,
        headers,
    }
}

/// A secure route: the SCv2 headers, the session and its limits, the envelope opened with
/// `ctx = METHOD SP path`, and only then the upstream; its answer sealed into the type 129.
pub async fn secure(
    app: &Arc<App>,
    proxy: &Proxy,
    route: &Route,
    mut req: Req,
    mut counted: Counted,
    parts: Parts,
    body: Body,
) -> Response {
    let Some(upstream) = proxy.upstream.clone() else {
        return req.internal();
    };
    if header(&parts.headers, "x-sc-version").map(str::trim) != Some("2") {
        let mut p = Problems::new();
        let problem = if parts.headers.contains_key("x-sc-version") {
            Problem::HeaderValue("2")
        } else {
            Problem::Required
        };
        p.push(("X-SC-Version".to_owned(), vec![problem]));
        return req.header_problems(&p);
    }
    let live = match channel::find_session(app, &mut req, &parts.headers).await {
        Ok(Some(l)) => l,
        Ok(None) => return req.session_not_found(),
        Err(r) => return r,
    };
    if let Err(retry) = route.count_session(live.session_id(), &mut counted, req.now) {
        return req.rate_limited(retry);
    }
    let opened = match channel::read_and_open(
        app,
        &req,
        live,
        &parts.method,
        &parts.uri,
        body,
        OnGone::Refuse,
    )
    .await
    {
        Ok(o) => o,
        Err(r) => return r,
    };
    let trust = trust_value(opened.session().session_id(), opened.seq());
    let head = head(app, &req, &parts, Some(trust));
    channel::respond_forwarded(app, req, opened, move |_app, req, plain| async move {
        match upstream.send(head, plain).await {
            Ok(f) => sealed_answer(&upstream, &req, f),
            Err(f) => failure_answer(&req, f),
        }
    })
    .await
}

/// A plaintext route: the request passed through (bounded body, hop-by-hop and gateway-owned
/// headers removed), and the upstream's answer back unchanged but for the same removals.
pub async fn plain(app: &Arc<App>, proxy: &Proxy, req: Req, parts: Parts, body: Body) -> Response {
    let Some(upstream) = proxy.upstream.clone() else {
        return req.internal();
    };
    let read = tokio::time::timeout(
        app.cfg.timeouts.body,
        axum::body::to_bytes(body, app.cfg.max_body),
    )
    .await;
    let bytes = match read {
        Err(_) => return req.body_timeout(),
        Ok(Err(_)) => {
            return req.plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "SYSTEM.PAYLOAD_TOO_LARGE",
                Value::Null,
            )
        }
        Ok(Ok(b)) => b,
    };
    let head = head(app, &req, &parts, None);
    let f = match upstream.send(head, Zeroizing::new(bytes.to_vec())).await {
        Ok(f) => f,
        Err(f) => {
            tracing::warn!(request_id = %req.request_id, failure = f.name(), "upstream failed");
            let (status, code) = f.status_code();
            return req.plain(status, code, Value::Null);
        }
    };
    if f.status == StatusCode::SWITCHING_PROTOCOLS {
        let (status, code) = Failure::Broken.status_code();
        return req.plain(status, code, Value::Null);
    }
    let named = connection_named(&f.headers);
    let head_request = parts.method == Method::HEAD;
    let mut r = Response::new(Body::from(f.body.to_vec()));
    *r.status_mut() = f.status;
    let out = r.headers_mut();
    for (name, value) in &f.headers {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n)
            || gateway_owned(n)
            // The body is re-framed; a HEAD answer keeps the length of the body it describes.
            || (n == "content-length" && !head_request)
            || named.iter().any(|c| c == n)
        {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    if !out.contains_key("x-request-id") {
        put(out, "x-request-id", &req.request_id);
    }
    req.log(f.status, "proxied");
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_prints_no_header_value_and_no_query() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_static("Bearer secret-token"),
        );
        headers.insert("cookie", HeaderValue::from_static("sid=secret-cookie"));
        let head = Head {
            method: Method::POST,
            path_and_query: PathAndQuery::from_static("/api/login?token=secret-query"),
            headers,
        };
        let text = format!("{head:?}");
        assert!(
            text.contains("/api/login") && text.contains("authorization"),
            "{text}"
        );
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn upstream_urls() {
        assert!(parse_upstream_url("http://127.0.0.1:9000").is_ok());
        assert!(parse_upstream_url("http://api.internal/").is_ok());
        for bad in [
            "https://a",
            "ftp://a",
            "127.0.0.1:9000",
            "http://a/base",
            "http://a/?x=1",
            "http://u:p@a",
            "not a url",
        ] {
            assert!(parse_upstream_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn request_headers() {
        let named = vec!["x-drop-me".to_owned()];
        for n in [
            "connection",
            "keep-alive",
            "te",
            "upgrade",
            "x-sc-session-id",
            "x-sc-version",
            "x-secure-channel-session-id",
            "x-scv2-verified",
            "x-forwarded-for",
            "cf-connecting-ip",
            "host",
            "x-drop-me",
        ] {
            assert!(drop_request_header(n, &named, false), "{n}");
        }
        for n in [
            "authorization",
            "cookie",
            "accept-language",
            "x-client-hash",
            "content-type",
        ] {
            assert!(!drop_request_header(n, &named, false), "{n}");
        }
        assert!(drop_request_header("content-type", &named, true));
        assert!(drop_request_header("accept-encoding", &named, true));
        assert!(!drop_request_header("authorization", &named, true));
        let mut h = HeaderMap::new();
        h.append("connection", HeaderValue::from_static("keep-alive, X-Foo"));
        h.append("connection", HeaderValue::from_static("close"));
        assert_eq!(connection_named(&h), ["keep-alive", "x-foo", "close"]);
    }

    #[test]
    fn codes_and_trust() {
        assert_eq!(code_of(br#"{"code":"2000","data":{}}"#), "2000");
        assert_eq!(code_of(br#"{"code":409}"#), "409");
        assert_eq!(code_of(b"[1]"), "");
        assert_eq!(code_of(b"{not json"), "");
        let t = trust_value("sid-1", 7);
        assert!(
            t.starts_with("1; session=") && t.ends_with("; seq=7"),
            "{t}"
        );
        assert_eq!(t, trust_value("sid-1", 7));
        assert_ne!(trust_value("sid-2", 7), t);
        assert!(!t.contains("sid-1"));
        // The documented formula (SPEC 9.1).
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(16u64.to_be_bytes());
        h.update(b"scv2 session tag");
        h.update(5u64.to_be_bytes());
        h.update(b"sid-1");
        let d: [u8; 32] = h.finalize().into();
        assert_eq!(t, format!("1; session={}; seq=7", hex(&d[..16])));
    }
}
