//! Proxy mode's route table: which requests go to the upstream, secure (SCv2 required) or
//! plaintext, with their own rate limits; its configuration types and their validation; and the
//! router fallback that dispatches to [`crate::proxy`].
//!
//! Matching: the built-in routes (the SCv2 endpoints, and password init unless it is turned off)
//! always win; then an exact configured path; then the longest configured prefix (`/api/*`
//! matches `/api` and everything under `/api/`; `/*` matches every path). Paths are matched as
//! the client sent them, without decoding; a request to a configured route whose path is not in
//! normal form (a `.` or `..` segment, an empty segment, a backslash, an encoded `/`, `\` or
//! unreserved character) is refused (400), so that the upstream, whatever it decodes or
//! normalises, sees the route the gateway matched.

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use axum::extract::{Request, State};
use axum::http::{HeaderName, Method, StatusCode};
use axum::response::Response;
use axum::Router;

use crate::answer::Req;
use crate::app::App;
use crate::client_ip::ClientAddr;
use crate::config::GatewayConfig;
use crate::i18n::Problem;
use crate::paths::{
    PATH_PASSWORD_INIT, PATH_PUBLIC_KEY, PATH_PUBLIC_KEYS, PATH_SESSION, PATH_SESSION_CLOSE,
};
use crate::proxy::{self, Upstream};
use crate::ratelimit::{RateLimiter, RateSpec};
use crate::util::key16;
use crate::validate::Problems;

/// Default upstream connect timeout, milliseconds.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 2_000;
/// Default upstream response timeout (forwarding starts → last byte of the answer), ms.
pub const DEFAULT_RESPONSE_TIMEOUT_MS: u64 = 15_000;
/// Default cap on an upstream answer's body, bytes.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// The largest cap allowed: the core's largest sealed plaintext.
pub const MAX_RESPONSE_BYTES_LIMIT: usize = 1 << 20;
/// Default number of connections to the upstream.
pub const DEFAULT_POOL_SIZE: usize = 64;
/// The upstream's response headers passed to the client by default (secure routes).
pub const DEFAULT_RESPONSE_HEADERS: [&str; 8] = [
    "set-cookie",
    "cache-control",
    "expires",
    "pragma",
    "location",
    "retry-after",
    "www-authenticate",
    "content-language",
];

/// The upstream (one per gateway).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// `http://host:port` (no path, no query; TLS to the upstream is not supported).
    pub url: String,
    /// TCP connect (then 504).
    pub connect_timeout: Duration,
    /// From the start of forwarding (waiting for a pooled connection included) to the last byte
    /// of the upstream's answer (then 504).
    pub response_timeout: Duration,
    /// Largest upstream answer body (then 502).
    pub max_response_bytes: usize,
    /// Most connections to the upstream at once (requests beyond wait, within the response
    /// timeout); idle ones are kept for reuse.
    pub pool_size: usize,
    /// Response headers of secure routes passed to the client (lowercase names).
    pub response_headers: Vec<HeaderName>,
}

impl UpstreamConfig {
    /// An upstream at `url` with the defaults.
    pub fn new(url: &str) -> UpstreamConfig {
        UpstreamConfig {
            url: url.to_owned(),
            connect_timeout: Duration::from_millis(DEFAULT_CONNECT_TIMEOUT_MS),
            response_timeout: Duration::from_millis(DEFAULT_RESPONSE_TIMEOUT_MS),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            pool_size: DEFAULT_POOL_SIZE,
            response_headers: DEFAULT_RESPONSE_HEADERS
                .iter()
                .map(|h| HeaderName::from_static(h))
                .collect(),
        }
    }
}

/// Which methods a route takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MethodMatch {
    /// `method = "*"`: any method but `CONNECT`, `TRACE` (and `HEAD` on secure routes).
    Any,
    /// This method.
    Exact(Method),
}

/// Which paths a route takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathMatch {
    /// Exactly this path.
    Exact(String),
    /// `/p/*`: `/p` and every path under `/p/` (stored as `/p`); `/*`: every path (stored as ``).
    Prefix(String),
}

impl PathMatch {
    /// Parse `/a/b` or `/a/*` (or `/*`).
    pub fn parse(p: &str) -> anyhow::Result<PathMatch> {
        if !p.starts_with('/') {
            bail!("path {p:?} must start with /");
        }
        let (base, prefix) = match p.strip_suffix("/*") {
            Some(b) => (b, true),
            None => (p, false),
        };
        if base.contains('*') {
            bail!("path {p:?}: `*` is allowed only as a final `/*`");
        }
        if base.contains(['?', '#']) {
            bail!(
                "path {p:?}: no query string or fragment (the query string is forwarded as sent)"
            );
        }
        if !base.is_empty() && !is_normal_path(base) {
            bail!(
                "path {p:?} is not in normal form (no `.`/`..` or empty segments, backslashes, \
                 encoded `/` `\\` or unreserved characters, non-ASCII or control characters)"
            );
        }
        Ok(if prefix {
            PathMatch::Prefix(base.to_owned())
        } else {
            PathMatch::Exact(base.to_owned())
        })
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Exact(p) => p == path,
            PathMatch::Prefix(b) => {
                path.strip_prefix(b.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
                    || b.is_empty()
            }
        }
    }

    fn text(&self) -> String {
        match self {
            PathMatch::Exact(p) => p.clone(),
            PathMatch::Prefix(b) => format!("{b}/*"),
        }
    }
}

/// What a route limit is keyed on (never on a value the client picks freely).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKey {
    /// The client address group (IPv4 address, IPv6 /64), as issue 10's limits.
    Client,
    /// The SC session the request names (secure routes only; counted once it is found).
    Session,
}

/// One limit of a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteLimit {
    /// The key.
    pub key: LimitKey,
    /// `limit` per window.
    pub spec: RateSpec,
}

/// One configured route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteConfig {
    /// Methods.
    pub method: MethodMatch,
    /// Paths.
    pub path: PathMatch,
    /// SCv2 required (`true`) or plaintext pass-through (`false`).
    pub secure: bool,
    /// Its own limits (besides the gateway's connection limits and timeouts).
    pub limits: Vec<RouteLimit>,
}

/// Proxy mode: the upstream, the routes to it, and whether the built-in password init is served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutesConfig {
    /// The upstream (required when there are routes).
    pub upstream: Option<UpstreamConfig>,
    /// Routes to the upstream.
    pub routes: Vec<RouteConfig>,
    /// Serve `POST /web/v1/system/auth/password/init` built in (default `true`).
    pub password_init: bool,
}

impl Default for RoutesConfig {
    fn default() -> RoutesConfig {
        RoutesConfig {
            upstream: None,
            routes: Vec::new(),
            password_init: true,
        }
    }
}

/// Hop-by-hop and gateway-owned response header names that can never be passed through.
const NEVER_PASSED: [&str; 14] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "content-type",
    "content-length",
    "content-encoding",
    "x-request-id",
    "access-control-allow-origin",
    "vary",
];

impl RoutesConfig {
    /// Check the whole configuration against the gateway's (`cfg.timeouts`); errors name the
    /// route or setting.
    pub fn validate(&self, cfg: &GatewayConfig) -> anyhow::Result<()> {
        let Some(up) = &self.upstream else {
            if !self.routes.is_empty() {
                bail!("routes are configured but no [upstream] is");
            }
            return Ok(());
        };
        proxy::parse_upstream_url(&up.url)?;
        if up.max_response_bytes == 0 || up.max_response_bytes > MAX_RESPONSE_BYTES_LIMIT {
            bail!(
                "[upstream] max_response_bytes must be 1..={MAX_RESPONSE_BYTES_LIMIT} (the \
                 largest body a type 129 carries), not {}",
                up.max_response_bytes
            );
        }
        if up.pool_size == 0 {
            bail!("[upstream] pool_size must be at least 1");
        }
        if up.connect_timeout.is_zero() || up.response_timeout.is_zero() {
            bail!("[upstream] connect_timeout_ms and response_timeout_ms must be at least 1");
        }
        if up.response_timeout >= cfg.timeouts.request {
            bail!(
                "[upstream] response_timeout_ms ({} ms) must be below the whole-request timeout \
                 (request_timeout_secs, {} s): otherwise a slow upstream is answered 503 in \
                 plaintext instead of 504 inside a type 129",
                up.response_timeout.as_millis(),
                cfg.timeouts.request.as_secs()
            );
        }
        for h in &up.response_headers {
            let n = h.as_str();
            if NEVER_PASSED.contains(&n)
                || n.starts_with("x-sc-")
                || n.starts_with("x-scv2-")
                || n.starts_with("x-secure-channel-")
                || n.starts_with("access-control-")
            {
                bail!("[upstream] response_headers: {n:?} is set by the gateway or hop-by-hop");
            }
        }
        // The probes of a load balancer (`/healthz`, `/readyz`) are the gateway's own too.
        let mut builtin = vec![
            PATH_PUBLIC_KEY,
            PATH_PUBLIC_KEYS,
            PATH_SESSION,
            PATH_SESSION_CLOSE,
            crate::health::PATH_HEALTHZ,
            crate::health::PATH_READYZ,
        ];
        if self.password_init {
            builtin.push(PATH_PASSWORD_INIT);
        }
        for (i, r) in self.routes.iter().enumerate() {
            let name = route_name(r);
            if let PathMatch::Exact(p) = &r.path {
                if builtin.contains(&p.as_str()) {
                    bail!(
                        "route {name}: {p} is a built-in route of the gateway{}",
                        if p == PATH_PASSWORD_INIT {
                            " (set [builtin] password_init = false to proxy it)"
                        } else {
                            ""
                        }
                    );
                }
            }
            if r.secure && r.method == MethodMatch::Exact(Method::HEAD) {
                bail!("route {name}: a HEAD answer has no body to carry a type 129");
            }
            if let MethodMatch::Exact(m) = &r.method {
                if *m == Method::CONNECT || *m == Method::TRACE {
                    bail!("route {name}: {m} is not proxied");
                }
            }
            for l in &r.limits {
                if l.key == LimitKey::Session && !r.secure {
                    bail!("route {name}: a session limit needs a secure route");
                }
                if l.spec.window_ms == 0 {
                    bail!("route {name}: window_secs must be at least 1");
                }
            }
            for other in &self.routes[..i] {
                if other.path == r.path && other.method == r.method {
                    bail!("route {name} is configured twice");
                }
            }
        }
        Ok(())
    }
}

fn route_name(r: &RouteConfig) -> String {
    let m = match &r.method {
        MethodMatch::Any => "*".to_owned(),
        MethodMatch::Exact(m) => m.to_string(),
    };
    format!("{m} {}", r.path.text())
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Whether `path` (as sent, starting with `/`) is in normal form: printable ASCII, no empty,
/// `.` or `..` segment (also percent-encoded), no backslash, and no percent-encoding of `/`,
/// `\`, an unreserved character or a control character.
pub fn is_normal_path(path: &str) -> bool {
    let b = path.as_bytes();
    if b.first() != Some(&b'/') || b.iter().any(|&c| !(0x21..0x7f).contains(&c) || c == b'\\') {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex_val),
                b.get(i + 2).copied().and_then(hex_val),
            ) else {
                return false;
            };
            let c = h * 16 + l;
            if c == b'/' || c == b'\\' || is_unreserved(c) || c < 0x20 || c == 0x7f {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    // `path` starts with `/`: the first split element is empty and skipped.
    path.split('/')
        .skip(1)
        .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        || path == "/"
}

/// A route with its live limiters.
#[derive(Debug)]
pub struct Route {
    /// Its configuration.
    pub cfg: RouteConfig,
    /// Position in the table (part of limiter keys).
    pub index: usize,
    limiters: Vec<(LimitKey, RateLimiter<[u8; 16]>)>,
}

/// Hits counted by a route's client limits, taken back when a later check refuses.
#[derive(Debug, Default)]
pub struct Counted {
    hits: Vec<(usize, [u8; 16], u64)>,
}

impl Route {
    fn key(&self, kind: &[u8], value: &[u8]) -> [u8; 16] {
        key16(&[b"route", &(self.index as u64).to_be_bytes(), kind, value])
    }

    fn count(
        &self,
        which: LimitKey,
        value: &[u8],
        counted: &mut Counted,
        now: u64,
    ) -> Result<(), u64> {
        for (i, (k, l)) in self.limiters.iter().enumerate() {
            if *k != which {
                continue;
            }
            let key = self.key(
                if which == LimitKey::Client {
                    b"c"
                } else {
                    b"s"
                },
                value,
            );
            if let Err(retry) = l.hit(&key, now) {
                self.undo(counted);
                return Err(retry);
            }
            counted.hits.push((i, key, now));
        }
        Ok(())
    }

    /// Count a request against the route's client limits.
    pub fn count_client(&self, client: &ClientAddr, now: u64) -> Result<Counted, u64> {
        let mut c = Counted::default();
        self.count(LimitKey::Client, &client.group.bytes(), &mut c, now)?;
        Ok(c)
    }

    /// Count a request against the route's session limits (taking back `counted` on refusal).
    pub fn count_session(&self, sid: &str, counted: &mut Counted, now: u64) -> Result<(), u64> {
        self.count(LimitKey::Session, sid.as_bytes(), counted, now)
    }

    /// Take back the hits of `counted`.
    pub fn undo(&self, counted: &mut Counted) {
        for (i, key, at) in counted.hits.drain(..) {
            if let Some((_, l)) = self.limiters.get(i) {
                l.undo(&key, at);
            }
        }
    }

    fn takes(&self, method: &Method) -> bool {
        match &self.cfg.method {
            MethodMatch::Exact(m) => m == method,
            MethodMatch::Any => {
                *method != Method::CONNECT
                    && *method != Method::TRACE
                    && !(self.cfg.secure && *method == Method::HEAD)
            }
        }
    }
}

/// What the table says about a request.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// This route.
    Route(&'a Route),
    /// A route has the path but not the method (405).
    WrongMethod,
    /// No route (the gateway's own 404/405).
    None,
}

/// The configured routes, ready to match.
#[derive(Debug)]
pub struct RouteTable {
    exact: Vec<Route>,
    prefix: Vec<Route>,
}

impl RouteTable {
    /// The table of `cfg` (validated), limiter tables holding at most `max_entries` keys.
    pub fn new(cfg: &RoutesConfig, max_entries: usize) -> RouteTable {
        let mut exact = Vec::new();
        let mut prefix = Vec::new();
        for (index, r) in cfg.routes.iter().enumerate() {
            let route = Route {
                cfg: r.clone(),
                index,
                limiters: r
                    .limits
                    .iter()
                    .map(|l| (l.key, RateLimiter::new(l.spec, max_entries)))
                    .collect(),
            };
            match r.path {
                PathMatch::Exact(_) => exact.push(route),
                PathMatch::Prefix(_) => prefix.push(route),
            }
        }
        RouteTable { exact, prefix }
    }

    /// The route of `method path` that takes the method: an exact path first, then the longest
    /// prefix; among routes of one path, an exact method before `*`. A path some route has but
    /// no route takes the method of is [`Lookup::WrongMethod`].
    pub fn find(&self, method: &Method, path: &str) -> Lookup<'_> {
        fn plen(r: &Route) -> usize {
            match &r.cfg.path {
                PathMatch::Exact(p) | PathMatch::Prefix(p) => p.len(),
            }
        }
        let exact_method = |r: &Route| matches!(r.cfg.method, MethodMatch::Exact(_));
        let mut path_seen = false;
        for group in [&self.exact, &self.prefix] {
            let mut best: Option<&Route> = None;
            for r in group.iter().filter(|r| r.cfg.path.matches(path)) {
                path_seen = true;
                if !r.takes(method) {
                    continue;
                }
                best = match best {
                    Some(b)
                        if plen(b) > plen(r)
                            || (plen(b) == plen(r) && (exact_method(b) || !exact_method(r))) =>
                    {
                        Some(b)
                    }
                    _ => Some(r),
                };
            }
            if let Some(r) = best {
                return Lookup::Route(r);
            }
        }
        if path_seen {
            Lookup::WrongMethod
        } else {
            Lookup::None
        }
    }
}

/// Proxy mode, running: the table and the upstream client.
#[derive(Debug)]
pub struct Proxy {
    /// The routes.
    pub table: RouteTable,
    /// The upstream (present whenever routes are).
    pub upstream: Option<Arc<Upstream>>,
    /// Whether the built-in password init is served.
    pub password_init: bool,
}

/// Give `router` its fallback: proxy mode's dispatcher when routes are configured (checked
/// against `cfg`), else the gateway's own 404/405.
pub fn fallback(router: Router<Arc<App>>, cfg: &GatewayConfig) -> anyhow::Result<Router<Arc<App>>> {
    let rc = &cfg.routes;
    rc.validate(cfg)?;
    let Some(up) = &rc.upstream else {
        if rc.password_init {
            return Ok(router.fallback(crate::handlers::fallback));
        }
        let proxy = Arc::new(Proxy {
            table: RouteTable::new(rc, cfg.limits.max_entries),
            upstream: None,
            password_init: false,
        });
        return Ok(router.fallback(move |s, r| dispatch(s, proxy, r)));
    };
    let proxy = Arc::new(Proxy {
        table: RouteTable::new(rc, cfg.limits.max_entries),
        upstream: Some(Arc::new(Upstream::new(up)?)),
        password_init: rc.password_init,
    });
    tracing::info!(
        upstream = %up.url,
        routes = rc.routes.len(),
        password_init = rc.password_init,
        "proxy mode"
    );
    Ok(router.fallback(move |s, r| dispatch(s, proxy, r)))
}

fn bad_path(req: &Req) -> Response {
    let p: Problems = vec![(
        "path".to_owned(),
        vec![Problem::HeaderValue(
            "in normal form (no dot or empty segments, backslashes or needless percent-encoding)",
        )],
    )];
    req.header_problems(&p)
}

async fn dispatch(State(app): State<Arc<App>>, proxy: Arc<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut req = Req::from_parts(&app, &parts);
    let path = parts.uri.path();
    let route = match proxy.table.find(&parts.method, path) {
        Lookup::Route(r) => r,
        Lookup::WrongMethod => {
            return req.plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "SYSTEM.METHOD_NOT_ALLOWED",
                serde_json::Value::Null,
            )
        }
        Lookup::None => {
            if !proxy.password_init && path == PATH_PASSWORD_INIT {
                return req.plain(
                    StatusCode::NOT_FOUND,
                    "SYSTEM.NOT_FOUND",
                    serde_json::Value::Null,
                );
            }
            return crate::handlers::fallback(req, parts.uri).await;
        }
    };
    req.endpoint = if route.cfg.secure {
        "proxy-secure"
    } else {
        "proxy-plain"
    };
    if app.cfg.test_env {
        let problems = crate::headers::cf_problems(&parts.headers);
        if !problems.is_empty() {
            return req.header_problems(&problems);
        }
    }
    if !is_normal_path(path) {
        return bad_path(&req);
    }
    let counted = match route.count_client(&req.client, req.now) {
        Ok(c) => c,
        Err(retry) => return req.rate_limited(retry),
    };
    if route.cfg.secure {
        proxy::secure(&app, &proxy, route, req, counted, parts, body).await
    } else {
        proxy::plain(&app, &proxy, req, parts, body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str, secure: bool) -> RouteConfig {
        RouteConfig {
            method: if method == "*" {
                MethodMatch::Any
            } else {
                MethodMatch::Exact(Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET))
            },
            path: PathMatch::parse(path).unwrap_or(PathMatch::Exact("/never".into())),
            secure,
            limits: Vec::new(),
        }
    }

    #[test]
    fn normal_paths() {
        for ok in [
            "/",
            "/a",
            "/a/b",
            "/a/b.json",
            "/a/%20b",
            "/a/%2Bx",
            "/a/~u",
            "/a/..b",
        ] {
            assert!(is_normal_path(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//a",
            "/a//b",
            "/a/./b",
            "/a/../b",
            "/a/..",
            "/.",
            "/a\\b",
            "/a/%2e",
            "/a/%2E%2E/b",
            "/a%2fb",
            "/a%5Cb",
            "/%6Cogin",
            "/a/%zz",
            "/a/%2",
            "/a/%00",
            "/é",
        ] {
            assert!(!is_normal_path(bad), "{bad}");
        }
    }

    #[test]
    fn matching_order() {
        let cfg = RoutesConfig {
            upstream: Some(UpstreamConfig::new("http://127.0.0.1:9")),
            routes: vec![
                route("*", "/*", false),
                route("POST", "/api/*", true),
                route("GET", "/api/*", false),
                route("POST", "/api/login", true),
                route("*", "/api/v2/*", false),
                route("POST", "/api/v2/*", true),
            ],
            password_init: true,
        };
        let t = RouteTable::new(&cfg, 100);
        let find = |m: &str, p: &str| match t
            .find(&Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET), p)
        {
            Lookup::Route(r) => format!("{} {}", route_name(&r.cfg), r.cfg.secure),
            Lookup::WrongMethod => "405".into(),
            Lookup::None => "none".into(),
        };
        assert_eq!(find("POST", "/api/login"), "POST /api/login true");
        assert_eq!(find("GET", "/api/login"), "GET /api/* false");
        assert_eq!(find("POST", "/api/x"), "POST /api/* true");
        assert_eq!(find("POST", "/api"), "POST /api/* true");
        assert_eq!(find("DELETE", "/api/x"), "* /* false");
        assert_eq!(find("POST", "/apix"), "* /* false");
        assert_eq!(find("POST", "/api/v2/a"), "POST /api/v2/* true");
        assert_eq!(find("PUT", "/api/v2/a"), "* /api/v2/* false");
        assert_eq!(find("GET", "/health"), "* /* false");
        let only = RoutesConfig {
            routes: vec![route("GET", "/health", false)],
            ..cfg
        };
        let t = RouteTable::new(&only, 100);
        assert!(matches!(t.find(&Method::GET, "/health"), Lookup::Route(_)));
        assert!(matches!(
            t.find(&Method::POST, "/health"),
            Lookup::WrongMethod
        ));
        assert!(matches!(t.find(&Method::GET, "/health/x"), Lookup::None));
    }

    #[test]
    fn validation() {
        let gw = GatewayConfig::new(
            "127.0.0.1:0"
                .parse()
                .unwrap_or_else(|_| ([127, 0, 0, 1], 0).into()),
            crate::config::Database::Sqlite("x.sqlite".into()),
        );
        let base = RoutesConfig {
            upstream: Some(UpstreamConfig::new("http://127.0.0.1:9000")),
            routes: vec![route("POST", "/api/login", true)],
            password_init: true,
        };
        assert!(base.validate(&gw).is_ok());
        let err = |c: RoutesConfig| {
            c.validate(&gw)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let mut c = base.clone();
        c.routes.push(route("POST", PATH_PASSWORD_INIT, true));
        assert!(err(c.clone()).contains("built-in"));
        c.password_init = false;
        assert!(c.validate(&gw).is_ok());
        for probe in ["/healthz", "/readyz"] {
            let mut c = base.clone();
            c.routes.push(route("GET", probe, false));
            assert!(err(c).contains("built-in"), "{probe}");
        }
        let mut c = base.clone();
        c.routes.push(route("POST", "/api/login", false));
        assert!(err(c).contains("twice"));
        let mut c = base.clone();
        c.routes.push(RouteConfig {
            limits: vec![RouteLimit {
                key: LimitKey::Session,
                spec: RateSpec::per_secs(1, 1),
            }],
            ..route("GET", "/h", false)
        });
        assert!(err(c).contains("session limit"));
        let mut c = base.clone();
        c.routes.push(route("HEAD", "/h", true));
        assert!(err(c).contains("HEAD"));
        let mut c = base.clone();
        if let Some(u) = c.upstream.as_mut() {
            u.response_timeout = Duration::from_secs(30);
        }
        assert!(err(c).contains("request_timeout_secs"));
        let mut c = base.clone();
        if let Some(u) = c.upstream.as_mut() {
            u.max_response_bytes = (1 << 20) + 1;
        }
        assert!(err(c).contains("max_response_bytes"));
        let mut c = base.clone();
        if let Some(u) = c.upstream.as_mut() {
            u.response_headers
                .push(HeaderName::from_static("x-sc-version"));
        }
        assert!(err(c).contains("x-sc-version"));
        let mut c = base.clone();
        if let Some(u) = c.upstream.as_mut() {
            u.url = "https://api.internal".into();
        }
        assert!(err(c).contains("https"));
        let c = RoutesConfig {
            upstream: None,
            ..base
        };
        assert!(err(c).contains("[upstream]"));
        assert!(PathMatch::parse("api").is_err());
        assert!(PathMatch::parse("/a/*/b").is_err());
        assert!(PathMatch::parse("/a?x=1").is_err());
        assert!(PathMatch::parse("/a/../b").is_err());
        assert_eq!(
            PathMatch::parse("/*").ok(),
            Some(PathMatch::Prefix(String::new()))
        );
        assert_eq!(
            PathMatch::parse("/a/*").ok(),
            Some(PathMatch::Prefix("/a".into()))
        );
    }
}
