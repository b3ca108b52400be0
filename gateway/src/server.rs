//! The HTTP server: public key, session open/close, and `POST /web/v1/system/auth/password/init`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use scv2::rand_core::TryRng;
use scv2::{OsRng, Server, ServerConfig, ServerKey, ServerSession, StorageKey};
use serde_json::{json, Value};
use tokio::sync::{oneshot, Semaphore};
use zeroize::Zeroizing;

use crate::clock::{rfc3339, Clock, SystemClock};
use crate::i18n::{message, Lang, Problem};
use crate::password::Argon2Params;
use crate::ratelimit::{RateLimiter, RateSpec};
use crate::store::{SaveError, Store, StoredKey};
use crate::validate::{problems_json, validate_init, Problems};

/// Path of the public-key document.
pub const PATH_PUBLIC_KEY: &str = "/web/v1/secure-channel/public-key";
/// Path that opens a session.
pub const PATH_SESSION: &str = "/web/v1/secure-channel/session";
/// Path that closes a session.
pub const PATH_SESSION_CLOSE: &str = "/web/v1/secure-channel/session/close";
/// Path of Initialize Password.
pub const PATH_PASSWORD_INIT: &str = "/web/v1/system/auth/password/init";
/// The `Content-Type` of every answer (also of binary envelopes, as the deployed API does).
pub const CONTENT_TYPE_JSON: &str = "application/json;charset=UTF-8";
/// The response wrapper's `version`.
pub const API_VERSION: &str = "2.0.0";

/// Everything the gateway can be configured with.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// SQLite database file.
    pub db_path: PathBuf,
    /// Key files from `scv2 keygen` (loaded besides the keys in the database).
    pub key_files: Vec<PathBuf>,
    /// Cloudflare simulation: client IP from `CF-Connecting-IP`; `Cf-Ray` and `cf-ipcountry`
    /// required.
    pub test_env: bool,
    /// Lifetime of a secure-channel session.
    pub session_ttl_ms: u64,
    /// Session creation limit per client IP.
    pub session_rate: RateSpec,
    /// Password-init limit per (client IP, `X-Client-Hash`).
    pub init_rate: RateSpec,
    /// Argon2id parameters for stored passwords.
    pub argon2: Argon2Params,
    /// How many Argon2 hashes run at once (each takes `m` of memory).
    pub hash_concurrency: usize,
    /// Largest request body accepted, bytes.
    pub max_body: usize,
    /// Most live sessions held at once.
    pub max_sessions: usize,
    /// Padding block of the server's envelopes.
    pub padding_block: usize,
    /// The storage key sealing sessions at rest; `None`: kept in the database (see README).
    pub storage_key: Option<Zeroizing<[u8; 32]>>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Browser origins allowed to call the gateway (CORS, exact match; see `cors.rs`).
    pub cors_origins: Vec<String>,
    /// Serve the web demo page at `/demo/` (see `webdemo.rs`).
    pub web_demo: bool,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("listen", &self.listen)
            .field("db_path", &self.db_path)
            .field("test_env", &self.test_env)
            .field("session_ttl_ms", &self.session_ttl_ms)
            .finish_non_exhaustive()
    }
}

impl GatewayConfig {
    /// Defaults: 30-minute sessions, 60 session creations per minute per IP, 5 password inits
    /// per 300 s per (IP, client hash), OWASP Argon2id, system clock.
    pub fn new(listen: SocketAddr, db_path: PathBuf) -> GatewayConfig {
        GatewayConfig {
            listen,
            db_path,
            key_files: Vec::new(),
            test_env: false,
            session_ttl_ms: 30 * 60 * 1000,
            session_rate: RateSpec {
                limit: 60,
                window_ms: 60_000,
            },
            init_rate: RateSpec {
                limit: 5,
                window_ms: 300_000,
            },
            argon2: Argon2Params::default(),
            hash_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            max_body: 64 * 1024,
            max_sessions: 100_000,
            padding_block: 64,
            storage_key: None,
            clock: Arc::new(SystemClock),
            cors_origins: Vec::new(),
            web_demo: false,
        }
    }
}

/// A live session. The lock is only taken for writing to close it.
struct Live {
    session: RwLock<ServerSession>,
}

struct App {
    server: Server,
    storage_key: StorageKey,
    sessions: RwLock<HashMap<String, Arc<Live>>>,
    store: Store,
    session_limiter: RateLimiter<IpAddr>,
    init_limiter: RateLimiter<(IpAddr, String)>,
    hash_slots: Semaphore,
    cfg: GatewayConfig,
}

/// A running gateway.
pub struct Gateway {
    addr: SocketAddr,
    store: Store,
    public_key: scv2::PublicKeyDocument,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    sweeper: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }
    /// The advertised public-key document at start.
    pub fn public_key(&self) -> &scv2::PublicKeyDocument {
        &self.public_key
    }
    /// Stop accepting, finish in-flight requests, and wait.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.sweeper.abort();
        self.task.await.context("server task")??;
        Ok(())
    }
    /// Serve until the process receives Ctrl-C / SIGTERM.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    OsRng
        .try_fill_bytes(&mut b)
        .map_err(|_| anyhow::anyhow!("OS RNG failed"))?;
    Ok(b)
}

/// A fresh token for a registration (the init session id): 128 random bits, base64url.
pub fn new_token() -> anyhow::Result<String> {
    scv2::generate_session_id(&mut OsRng).map_err(|e| anyhow::anyhow!("token: {e}"))
}

/// Open the database and load (or create) the server keys.
fn load_keys(cfg: &GatewayConfig, store: &Store, now: u64) -> anyhow::Result<Vec<StoredKey>> {
    let mut keys = Vec::new();
    for f in &cfg.key_files {
        keys.push(crate::keyfile::read(f)?);
    }
    for k in store.server_keys()? {
        if !keys.iter().any(|x: &StoredKey| x.key_id == k.key_id) {
            keys.push(k);
        }
    }
    if keys.is_empty() {
        let date = rfc3339(now);
        let suffix = hex(&random_bytes::<3>()?);
        let key_id = format!("k-{}-{suffix}", date.get(..10).unwrap_or("0000-00-00"));
        let generated = ServerKey::generate(&key_id, now, None, &mut OsRng)
            .map_err(|e| anyhow::anyhow!("generating the server key: {e}"))?;
        let k = StoredKey {
            key_id,
            private: generated.private_bytes(),
            created_at_ms: now,
            expires_at_ms: None,
        };
        store.insert_server_key(&k)?;
        tracing::info!(key_id = %k.key_id, "generated the server key (kept in the database)");
        keys.push(k);
    }
    Ok(keys)
}

/// Lowercase hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Start the gateway: open the database, load keys and sessions, bind, serve in the background.
pub async fn start(cfg: GatewayConfig) -> anyhow::Result<Gateway> {
    let now = cfg.clock.now_ms();
    let store = Store::open(&cfg.db_path)?;
    let storage_key = match &cfg.storage_key {
        Some(k) => StorageKey::new(k),
        None => StorageKey::new(&*store.secret_or_create("storage_key", random_bytes::<32>)?),
    };
    let sc_config = ServerConfig::default()
        .with_padding_block(cfg.padding_block)
        .map_err(|e| anyhow::anyhow!("padding block: {e}"))?;
    let mut server = Server::new(sc_config);
    for k in load_keys(&cfg, &store, now)? {
        let key =
            ServerKey::from_private_bytes(&k.key_id, &k.private, k.created_at_ms, k.expires_at_ms)
                .map_err(|e| anyhow::anyhow!("server key {}: {e}", k.key_id))?;
        server
            .add_key(key)
            .map_err(|e| anyhow::anyhow!("server key {}: {e}", k.key_id))?;
    }
    let public_key = server
        .current_key(now)
        .map(|k| k.document())
        .context("no unexpired server key")?;

    store.purge_expired_sessions(now)?;
    let mut sessions = HashMap::new();
    let mut skipped = 0usize;
    for (sid, blob) in store.sessions(now)? {
        match ServerSession::import(&storage_key, &sid, &blob, &sc_config) {
            Ok(s) => {
                sessions.insert(
                    sid,
                    Arc::new(Live {
                        session: RwLock::new(s),
                    }),
                );
            }
            Err(_) => skipped += 1,
        }
    }
    tracing::info!(
        loaded = sessions.len(),
        skipped,
        key_id = %public_key.key_id,
        "sessions restored"
    );

    let app = Arc::new(App {
        server,
        storage_key,
        sessions: RwLock::new(sessions),
        store: store.clone(),
        session_limiter: RateLimiter::new(cfg.session_rate),
        init_limiter: RateLimiter::new(cfg.init_rate),
        hash_slots: Semaphore::new(cfg.hash_concurrency.max(1)),
        cfg: cfg.clone(),
    });

    let router = Router::new()
        .route(PATH_PUBLIC_KEY, get(public_key_handler))
        .route(PATH_SESSION, post(session_handler))
        .route(PATH_SESSION_CLOSE, post(close_handler))
        .route(PATH_PASSWORD_INIT, post(init_handler))
        .fallback(fallback_handler)
        .with_state(app.clone());
    let router = crate::webdemo::apply(router, cfg.web_demo, &public_key)?;
    let router = crate::cors::apply(router, &cfg.cors_origins)?;

    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await
    });
    let sweeper_app = app.clone();
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            sweep(&sweeper_app).await;
        }
    });
    tracing::info!(%addr, "listening");
    Ok(Gateway {
        addr,
        store,
        public_key,
        shutdown: Some(tx),
        task,
        sweeper,
    })
}

/// Drop expired sessions from memory and the database.
async fn sweep(app: &Arc<App>) {
    let now = app.cfg.clock.now_ms();
    if let Ok(mut map) = app.sessions.write() {
        map.retain(|_, l| {
            l.session
                .read()
                .map(|s| !s.is_expired(now) && !s.is_closed())
                .unwrap_or(false)
        });
    }
    let store = app.store.clone();
    let _ = tokio::task::spawn_blocking(move || store.purge_expired_sessions(now)).await;
}

// ---------------------------------------------------------------------------------------------
// Request context and answers

struct Req {
    endpoint: &'static str,
    lang: Lang,
    request_id: String,
    ip: IpAddr,
    now: u64,
    sid_prefix: String,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

impl Req {
    fn new(app: &App, endpoint: &'static str, h: &HeaderMap, peer: SocketAddr) -> Req {
        let request_id = header(h, "x-request-id")
            .filter(|v| uuid::Uuid::try_parse(v).is_ok())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                random_bytes::<16>()
                    .map(|b| uuid::Builder::from_random_bytes(b).into_uuid().to_string())
                    .unwrap_or_default()
            });
        let mut ip = peer.ip();
        if app.cfg.test_env {
            if let Some(cf) = header(h, "cf-connecting-ip").and_then(|v| v.trim().parse().ok()) {
                ip = cf;
            }
        }
        Req {
            endpoint,
            lang: Lang::from_accept_language(header(h, "accept-language")),
            request_id,
            ip,
            now: app.cfg.clock.now_ms(),
            sid_prefix: String::new(),
        }
    }

    fn wrapper(&self, success: bool, code: &str, data: Value) -> Value {
        json!({
            "version": API_VERSION,
            "timestamp": self.now,
            "success": success,
            "code": code,
            "message": message(code, self.lang),
            "data": data,
        })
    }

    fn log(&self, status: StatusCode, code: &str) {
        tracing::info!(
            request_id = %self.request_id,
            endpoint = self.endpoint,
            status = status.as_u16(),
            code,
            sid = %self.sid_prefix,
            ip = %self.ip,
            "request"
        );
    }

    fn base(&self, status: StatusCode, body: Body) -> Response {
        let mut r = (status, body).into_response();
        let h = r.headers_mut();
        h.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static(CONTENT_TYPE_JSON),
        );
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            h.insert(HeaderName::from_static("x-request-id"), v);
        }
        r
    }

    /// A plaintext JSON answer.
    fn plain(&self, status: StatusCode, code: &str, data: Value) -> Response {
        self.log(status, code);
        let body = self.wrapper(status.is_success(), code, data).to_string();
        self.base(status, Body::from(body))
    }

    fn sc_error(&self, e: scv2::Error) -> Response {
        let h = e.http();
        let status = StatusCode::from_u16(h.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        tracing::debug!(request_id = %self.request_id, error = e.name(), "secure channel refused");
        self.plain(status, h.code, Value::Null)
    }

    fn session_not_found(&self) -> Response {
        self.plain(
            StatusCode::UNAUTHORIZED,
            "SECURE_CHANNEL.SESSION_NOT_FOUND",
            Value::Null,
        )
    }

    fn internal(&self) -> Response {
        self.plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM.INTERNAL_ERROR",
            Value::Null,
        )
    }

    fn header_problems(&self, problems: &Problems) -> Response {
        self.plain(
            StatusCode::BAD_REQUEST,
            "VALIDATION.INVALID_PARAMETER",
            problems_json(problems, self.lang),
        )
    }

    fn rate_limited(&self, retry_after: u64) -> Response {
        let mut r = self.plain(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMIT.EXCEEDED",
            Value::Null,
        );
        r.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            HeaderValue::from(retry_after),
        );
        r
    }

    /// An envelope answer (type 130 or 129), raw or in the web form like the request.
    fn envelope(&self, status: StatusCode, code: &str, envelope: Vec<u8>, web: bool) -> Response {
        self.log(status, code);
        let body = if web {
            Body::from(scv2::web::encode(&envelope))
        } else {
            Body::from(envelope)
        };
        let mut r = self.base(status, body);
        r.headers_mut().insert(
            HeaderName::from_static("x-sc-version"),
            HeaderValue::from_static("2"),
        );
        r
    }
}

fn add_problem(problems: &mut Problems, field: &str, p: Problem) {
    problems.push((field.to_owned(), vec![p]));
}

/// The Cloudflare simulation headers (`--test-env`).
fn cf_problems(h: &HeaderMap, problems: &mut Problems) {
    match header(h, "cf-connecting-ip") {
        None => add_problem(problems, "CF-Connecting-IP", Problem::Required),
        Some(v) if v.trim().parse::<IpAddr>().is_err() => add_problem(
            problems,
            "CF-Connecting-IP",
            Problem::HeaderValue("an IP address"),
        ),
        Some(_) => {}
    }
    match header(h, "cf-ray") {
        None => add_problem(problems, "Cf-Ray", Problem::Required),
        Some(v) if v.trim().is_empty() || v.len() > 64 => {
            add_problem(problems, "Cf-Ray", Problem::Length(1, 64))
        }
        Some(_) => {}
    }
    match header(h, "cf-ipcountry") {
        None => add_problem(problems, "cf-ipcountry", Problem::Required),
        Some(v) if v.len() != 2 || !v.bytes().all(|b| b.is_ascii_alphabetic()) => add_problem(
            problems,
            "cf-ipcountry",
            Problem::HeaderValue("an ISO 3166-1 alpha-2 code"),
        ),
        Some(_) => {}
    }
}

fn content_type_ok(v: &str) -> bool {
    let mut parts = v.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|p| {
        let p = p.trim();
        match p.split_once('=') {
            Some((k, val)) if k.trim().eq_ignore_ascii_case("charset") => {
                val.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        }
    })
}

fn accept_ok(v: &str) -> bool {
    v.split(',').any(|item| {
        let media = item.split(';').next().unwrap_or("").trim();
        ["application/json", "application/*", "*/*"]
            .iter()
            .any(|m| media.eq_ignore_ascii_case(m))
    })
}

/// The headers `POST /web/v1/system/auth/password/init` requires.
fn init_header_problems(h: &HeaderMap, test_env: bool) -> Problems {
    let mut p = Problems::new();
    match header(h, "content-type") {
        None => add_problem(&mut p, "Content-Type", Problem::Required),
        Some(v) if !content_type_ok(v) => add_problem(
            &mut p,
            "Content-Type",
            Problem::HeaderValue("application/json;charset=UTF-8"),
        ),
        Some(_) => {}
    }
    match header(h, "accept") {
        None => add_problem(&mut p, "Accept", Problem::Required),
        Some(v) if !accept_ok(v) => {
            add_problem(&mut p, "Accept", Problem::HeaderValue("application/json"))
        }
        Some(_) => {}
    }
    match header(h, "x-client-hash") {
        None => add_problem(&mut p, "X-Client-Hash", Problem::Required),
        Some(v) if !scv2::wire::is_valid_id(v.as_bytes(), 128) => {
            add_problem(&mut p, "X-Client-Hash", Problem::Length(1, 128))
        }
        Some(_) => {}
    }
    match header(h, "x-sc-version") {
        None => add_problem(&mut p, "X-SC-Version", Problem::Required),
        Some(v) if v.trim() != "2" => {
            add_problem(&mut p, "X-SC-Version", Problem::HeaderValue("2"))
        }
        Some(_) => {}
    }
    if test_env {
        cf_problems(h, &mut p);
    }
    p
}

/// The session id header (`X-SC-Session-Id`, alias `X-Secure-Channel-Session-Id`).
fn session_header(h: &HeaderMap) -> Option<&str> {
    header(h, "x-sc-session-id")
        .or_else(|| header(h, "x-secure-channel-session-id"))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn sid_prefix(sid: &str) -> String {
    sid.chars().take(6).collect()
}

async fn read_body(app: &App, body: Body) -> Result<Bytes, scv2::Error> {
    axum::body::to_bytes(body, app.cfg.max_body)
        .await
        .map_err(|_| scv2::Error::PayloadTooLarge)
}

/// The envelope of a request body: raw binary, or the web form when it starts with `{`.
fn envelope_of(app: &App, bytes: &[u8]) -> Result<(Vec<u8>, bool), scv2::Error> {
    if scv2::web::is_web_form(bytes) {
        Ok((scv2::web::decode(bytes, app.cfg.max_body)?, true))
    } else {
        Ok((bytes.to_vec(), false))
    }
}

fn lookup(app: &App, sid: &str) -> Option<Arc<Live>> {
    app.sessions.read().ok()?.get(sid).cloned()
}

/// Persist `live` (its window included) before answering (SPEC 8.2).
async fn persist(app: &Arc<App>, sid: &str, live: &Arc<Live>) -> Result<(), SaveError> {
    let app2 = app.clone();
    let live = live.clone();
    let sid = sid.to_owned();
    tokio::task::spawn_blocking(move || {
        let guard = live
            .session
            .read()
            .map_err(|_| SaveError::Seal(scv2::Error::Internal))?;
        let expires = guard.expires_at_ms();
        app2.store.save_session(&sid, expires, || {
            guard.export(&app2.storage_key, &mut OsRng)
        })
    })
    .await
    .map_err(|e| SaveError::Db(anyhow::anyhow!("join: {e}")))?
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn fallback_handler(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let req = Req::new(&app, "fallback", &headers, peer);
    let known = [
        PATH_PUBLIC_KEY,
        PATH_SESSION,
        PATH_SESSION_CLOSE,
        PATH_PASSWORD_INIT,
    ]
    .contains(&uri.path());
    let _ = method;
    if known {
        req.plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "SYSTEM.METHOD_NOT_ALLOWED",
            Value::Null,
        )
    } else {
        req.plain(StatusCode::NOT_FOUND, "SYSTEM.NOT_FOUND", Value::Null)
    }
}

async fn public_key_handler(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let req = Req::new(&app, "public-key", &headers, peer);
    if app.cfg.test_env {
        let mut p = Problems::new();
        cf_problems(&headers, &mut p);
        if !p.is_empty() {
            return req.header_problems(&p);
        }
    }
    match app.server.current_key(req.now) {
        Some(k) => req.plain(
            StatusCode::OK,
            "2000",
            crate::keyfile::document_json(&k.document()),
        ),
        None => req.internal(),
    }
}

async fn session_handler(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut req = Req::new(&app, "session", &headers, peer);
    if let Err(retry) = app.session_limiter.hit(&req.ip, req.now) {
        return req.rate_limited(retry);
    }
    if app.cfg.test_env {
        let mut p = Problems::new();
        cf_problems(&headers, &mut p);
        if !p.is_empty() {
            return req.header_problems(&p);
        }
    }
    let bytes = match read_body(&app, body).await {
        Ok(b) => b,
        Err(e) => return req.sc_error(e),
    };
    let (envelope, web) = match envelope_of(&app, &bytes) {
        Ok(x) => x,
        Err(e) => return req.sc_error(e),
    };
    let accepted = match app.server.accept(&envelope, req.now) {
        Ok(a) => a,
        Err(e) => return req.sc_error(e),
    };
    let full = app.sessions.read().map(|m| m.len()).unwrap_or(0) >= app.cfg.max_sessions;
    if full {
        sweep(&app).await;
        if app.sessions.read().map(|m| m.len()).unwrap_or(0) >= app.cfg.max_sessions {
            return req.plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "SYSTEM.SERVICE_UNAVAILABLE",
                Value::Null,
            );
        }
    }
    let sid = match scv2::generate_session_id(&mut OsRng) {
        Ok(s) => s,
        Err(_) => return req.internal(),
    };
    req.sid_prefix = sid_prefix(&sid);
    let expires = req.now.saturating_add(app.cfg.session_ttl_ms);
    let (session, type130) = match accepted.respond(&sid, expires, b"", &mut OsRng) {
        Ok(x) => x,
        Err(e) => return req.sc_error(e),
    };
    let live = Arc::new(Live {
        session: RwLock::new(session),
    });
    if let Err(e) = persist(&app, &sid, &live).await {
        tracing::error!(request_id = %req.request_id, error = ?e, "persisting a new session failed");
        return req.internal();
    }
    match app.sessions.write() {
        Ok(mut m) => {
            m.insert(sid.clone(), live);
        }
        Err(_) => return req.internal(),
    }
    let mut r = req.envelope(StatusCode::OK, "2000", type130, web);
    if let Ok(v) = HeaderValue::from_str(&sid) {
        r.headers_mut()
            .insert(HeaderName::from_static("x-sc-session-id"), v);
    }
    r
}

/// An opened request: its plaintext, response slot, and how to answer.
struct Opened {
    live: Arc<Live>,
    slot: scv2::ResponseSlot,
    plain: Zeroizing<Vec<u8>>,
    web: bool,
    ctx: String,
}

/// Find the session, read and open the body, persist the window. `Err` is the plaintext answer.
async fn open(
    app: &Arc<App>,
    req: &mut Req,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    body: Body,
    close_semantics: bool,
) -> Result<Opened, Response> {
    let idempotent_ok = |req: &Req| req.plain(StatusCode::OK, "2000", Value::Null);
    let Some(sid) = session_header(headers).map(str::to_owned) else {
        return Err(req.session_not_found());
    };
    req.sid_prefix = sid_prefix(&sid);
    let Some(live) = lookup(app, &sid) else {
        return Err(if close_semantics {
            idempotent_ok(req)
        } else {
            req.session_not_found()
        });
    };
    let bytes = read_body(app, body).await.map_err(|e| req.sc_error(e))?;
    let (envelope, web) = envelope_of(app, &bytes).map_err(|e| req.sc_error(e))?;
    let ctx = format!("{} {}", method.as_str(), uri.path());
    let mut plain = Zeroizing::new(vec![0u8; scv2::max_open_len(envelope.len())]);
    let opened = {
        let guard = live.session.read().map_err(|_| req.internal())?;
        guard.open_request(ctx.as_bytes(), &envelope, req.now, &mut plain)
    };
    let (slot, len) = match opened {
        Ok(x) => x,
        Err(scv2::Error::SessionExpired | scv2::Error::InvalidState) if close_semantics => {
            return Err(idempotent_ok(req))
        }
        Err(e) => return Err(req.sc_error(e)),
    };
    plain.truncate(len);
    match persist(app, &sid, &live).await {
        Ok(()) => {}
        Err(SaveError::Seal(e)) => return Err(req.sc_error(e)),
        Err(SaveError::Db(e)) => {
            tracing::error!(request_id = %req.request_id, error = %e, "persisting the session window failed");
            return Err(req.internal());
        }
    }
    Ok(Opened {
        live,
        slot,
        plain,
        web,
        ctx,
    })
}

/// Seal `answer` (a response wrapper) into a type 129 and send it with `status`.
fn seal_answer(req: &Req, o: Opened, status: StatusCode, answer: &Value) -> Response {
    let code = answer
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let text = Zeroizing::new(answer.to_string());
    let sealed = match o.live.session.read() {
        Ok(s) => {
            let mut out = vec![0u8; s.sealed_len(text.len())];
            s.seal_response(o.slot, o.ctx.as_bytes(), text.as_bytes(), &mut out)
                .map(|n| {
                    out.truncate(n);
                    out
                })
                .map_err(|e| e.error)
        }
        Err(_) => Err(scv2::Error::Internal),
    };
    match sealed {
        Ok(env) => req.envelope(status, &code, env, o.web),
        Err(e) => req.sc_error(e),
    }
}

async fn close_handler(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut req = Req::new(&app, "session-close", &headers, peer);
    if app.cfg.test_env {
        let mut p = Problems::new();
        cf_problems(&headers, &mut p);
        if !p.is_empty() {
            return req.header_problems(&p);
        }
    }
    let o = match open(&app, &mut req, &headers, &method, &uri, body, true).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let live = o.live.clone();
    let answer = req.wrapper(true, "2000", Value::Null);
    let response = seal_answer(&req, o, StatusCode::OK, &answer);
    if let Ok(mut s) = live.session.write() {
        s.close();
    }
    let sid = live
        .session
        .read()
        .map(|s| s.session_id().to_owned())
        .unwrap_or_default();
    if let Ok(mut m) = app.sessions.write() {
        m.remove(&sid);
    }
    let store = app.store.clone();
    let deleted = tokio::task::spawn_blocking(move || store.delete_session(&sid)).await;
    if !matches!(deleted, Ok(Ok(()))) {
        tracing::error!(request_id = %req.request_id, "deleting a closed session failed");
        return req.internal();
    }
    response
}

async fn init_handler(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut req = Req::new(&app, "password-init", &headers, peer);
    // Every request that reaches the endpoint counts, whatever its fate.
    let mut client_hash = header(&headers, "x-client-hash").unwrap_or("").to_owned();
    client_hash.truncate(
        (0..=128.min(client_hash.len()))
            .rev()
            .find(|&i| client_hash.is_char_boundary(i))
            .unwrap_or(0),
    );
    if let Err(retry) = app.init_limiter.hit(&(req.ip, client_hash), req.now) {
        return req.rate_limited(retry);
    }
    let problems = init_header_problems(&headers, app.cfg.test_env);
    if !problems.is_empty() {
        return req.header_problems(&problems);
    }
    let o = match open(&app, &mut req, &headers, &method, &uri, body, false).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let (status, answer) = password_init(&app, &req, &o.plain).await;
    seal_answer(&req, o, status, &answer)
}

/// The business logic of Initialize Password, on the decrypted body.
async fn password_init(app: &Arc<App>, req: &Req, plain: &[u8]) -> (StatusCode, Value) {
    let body = match validate_init(plain) {
        Ok(b) => b,
        Err(p) => {
            return (
                StatusCode::BAD_REQUEST,
                req.wrapper(
                    false,
                    "VALIDATION.INVALID_PARAMETER",
                    problems_json(&p, req.lang),
                ),
            )
        }
    };
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            req.wrapper(false, "AUTH.SESSION_NOT_FOUND", Value::Null),
        )
    };
    let internal = || {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            req.wrapper(false, "SYSTEM.INTERNAL_ERROR", Value::Null),
        )
    };
    let now = req.now;
    let store = app.store.clone();
    let token = body.session_id.clone();
    match tokio::task::spawn_blocking(move || store.pending_registration(&token, now)).await {
        Ok(Ok(Some(_))) => {}
        Ok(Ok(None)) => return not_found(),
        _ => return internal(),
    }
    let Ok(_permit) = app.hash_slots.acquire().await else {
        return internal();
    };
    let params = app.cfg.argon2;
    let password = body.password;
    let hash = match tokio::task::spawn_blocking(move || params.hash(&password)).await {
        Ok(Ok(h)) => h,
        _ => return internal(),
    };
    drop(_permit);
    let store = app.store.clone();
    let token = body.session_id;
    match tokio::task::spawn_blocking(move || store.complete_registration(&token, &hash, now)).await
    {
        Ok(Ok(Some(user))) => (
            StatusCode::CREATED,
            req.wrapper(
                true,
                "2000",
                json!({
                    "bizId": user.biz_id,
                    "email": user.email,
                    "name": user.name,
                    "status": user.status,
                    "createdAt": rfc3339(user.created_at_ms),
                }),
            ),
        ),
        Ok(Ok(None)) => not_found(),
        _ => internal(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        assert!(content_type_ok("application/json;charset=UTF-8"));
        assert!(content_type_ok("application/json; charset=utf-8"));
        assert!(content_type_ok("application/json"));
        assert!(!content_type_ok("application/json;charset=latin1"));
        assert!(!content_type_ok("application/octet-stream"));
        assert!(accept_ok("application/json"));
        assert!(accept_ok("text/html, */*;q=0.1"));
        assert!(!accept_ok("text/html"));
    }

    #[test]
    fn every_required_header_is_reported() {
        let fields = |p: Problems| p.into_iter().map(|(f, _)| f).collect::<Vec<_>>();
        assert_eq!(
            fields(init_header_problems(&HeaderMap::new(), false)),
            ["Content-Type", "Accept", "X-Client-Hash", "X-SC-Version"]
        );
        assert_eq!(
            fields(init_header_problems(&HeaderMap::new(), true)),
            [
                "Content-Type",
                "Accept",
                "X-Client-Hash",
                "X-SC-Version",
                "CF-Connecting-IP",
                "Cf-Ray",
                "cf-ipcountry"
            ]
        );
    }
}
