//! The HTTP/1.1 server under the router: hyper's timer-backed connection builder plus what it
//! does not do by itself.
//!
//! - **Connections**: at most `max_connections` (lowered to the open-file limit minus a reserve),
//!   at most `max_connections_per_ip` from one client group unless the peer is a trusted proxy
//!   (refused at accept). When the table is full, a new connection evicts the connection that
//!   has been idle or sending its headers the longest; connections with a request in progress
//!   are never evicted. So slow or idle connections cannot keep a new client out.
//! - **Timeouts** (a watchdog per connection): header (first byte of a request to the end of
//!   its headers), keep-alive idle, whole request (the router's answer; the body timeout is
//!   enforced where the body is read, [`crate::channel::read_envelope`]).
//! - **Clean close**: an answer sent before the request body was read says `Connection: close`;
//!   the connection is then closed with a bounded lingering read, so the client receives the
//!   answer instead of a reset.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::body::Bytes;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use axum::Router;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};

use crate::answer::{request_id, Peer, API_VERSION, CONTENT_TYPE_JSON};
use crate::app::Metrics;
use crate::client_ip::{ClientGroup, TrustedProxies};
use crate::clock::Clock;
use crate::config::Timeouts;
use crate::i18n::{message, Lang};

/// File descriptors kept free for the database, logs and the runtime.
pub const FD_RESERVE: usize = 32;

/// How long a closing connection keeps reading what the client still sends (at most
/// [`LINGER_BYTES`]), so that closing does not reset the answer.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 256 * 1024;

/// Settings of the HTTP server.
#[derive(Clone)]
pub struct NetConfig {
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Most open connections.
    pub max_connections: usize,
    /// Most open connections per client group (untrusted peers).
    pub max_connections_per_ip: usize,
    /// Peers exempt from the per-address cap (their clients are behind them).
    pub trusted: TrustedProxies,
    /// For the timestamp of timeout answers.
    pub clock: Arc<dyn Clock>,
}

/// The open-file limit (soft), if known.
pub fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// `configured`, lowered so that connections cannot exhaust the file descriptors.
pub fn effective_max_connections(configured: usize) -> usize {
    let cap = open_file_limit()
        .map(|n| {
            usize::try_from(n)
                .unwrap_or(usize::MAX)
                .saturating_sub(FD_RESERVE)
        })
        .unwrap_or(usize::MAX);
    configured.min(cap).max(1)
}

const IDLE: u8 = 0;
const HEAD: u8 = 1;
const BUSY: u8 = 2;

/// One connection's state, watched by its watchdog and by the eviction.
struct Slot {
    id: u64,
    group: Option<ClientGroup>,
    phase: AtomicU8,
    since_ms: AtomicU64,
    changed: Notify,
    killed: AtomicBool,
    kill: Notify,
    epoch: Instant,
}

impl Slot {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
    fn set(&self, phase: u8) {
        self.since_ms.store(self.now_ms(), Ordering::Release);
        self.phase.store(phase, Ordering::Release);
        self.changed.notify_one();
    }
    /// The first byte of a new request arrived.
    fn bytes_arrived(&self) {
        if self.phase.load(Ordering::Acquire) == IDLE {
            self.set(HEAD);
        }
    }
    fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill.notify_one();
    }
}

struct Table {
    slots: HashMap<u64, Arc<Slot>>,
    per_group: HashMap<ClientGroup, usize>,
    next_id: u64,
}

/// The open connections.
struct Connections {
    table: Mutex<Table>,
    max: usize,
    max_per_group: usize,
    epoch: Instant,
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Register a new connection, or `None` if its group has too many, or if the table is full
    /// of connections with a request in progress. Otherwise, when the table is full, the
    /// connection that has been idle or sending headers the longest is closed to make room.
    fn admit(&self, group: Option<ClientGroup>, metrics: &Metrics) -> Option<Arc<Slot>> {
        let mut t = self.lock();
        if let Some(g) = group {
            if t.per_group.get(&g).copied().unwrap_or(0) >= self.max_per_group {
                metrics
                    .connections_refused_per_ip
                    .fetch_add(1, Ordering::Relaxed);
                return None;
            }
        }
        // (Scans happen only when the table is full: at most `max` slots.)
        if t.slots.len() >= self.max
            && t.slots
                .values()
                .filter(|s| !s.killed.load(Ordering::Acquire))
                .count()
                >= self.max
        {
            let victim = t
                .slots
                .values()
                .filter(|s| {
                    !s.killed.load(Ordering::Acquire) && s.phase.load(Ordering::Acquire) != BUSY
                })
                .min_by_key(|s| s.since_ms.load(Ordering::Acquire))
                .cloned();
            match victim {
                Some(v) => {
                    v.kill();
                    metrics.connections_evicted.fetch_add(1, Ordering::Relaxed);
                }
                None => {
                    // Every connection has a request in progress: no room, refuse this one.
                    metrics
                        .connections_refused_full
                        .fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            }
        }
        t.next_id += 1;
        // A new connection is waiting for its first request's headers: the header timeout runs
        // from the accept (a connection that sends nothing is closed as soon as a slow one).
        let slot = Arc::new(Slot {
            id: t.next_id,
            group,
            phase: AtomicU8::new(HEAD),
            since_ms: AtomicU64::new(0),
            changed: Notify::new(),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            epoch: self.epoch,
        });
        slot.since_ms.store(slot.now_ms(), Ordering::Release);
        t.slots.insert(slot.id, slot.clone());
        if let Some(g) = group {
            *t.per_group.entry(g).or_default() += 1;
        }
        Some(slot)
    }

    fn release(&self, slot: &Slot) {
        let mut t = self.lock();
        t.slots.remove(&slot.id);
        if let Some(g) = slot.group {
            if let Some(n) = t.per_group.get_mut(&g) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    t.per_group.remove(&g);
                }
            }
        }
    }

    /// Connections whose slots are still registered.
    fn len(&self) -> usize {
        self.lock().slots.len()
    }
}

/// The socket, noting the first byte of each request for the header timeout.
struct Watched {
    inner: TcpStream,
    slot: Arc<Slot>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.slot.bytes_arrived();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The request body, noting whether it was read to its end.
struct Tracked {
    inner: Incoming,
    done: Arc<AtomicBool>,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(r, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.done.store(true, Ordering::Release);
        }
        r
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The per-connection service: the router, with the peer, the whole-request timeout and the
/// `Connection: close` rule.
#[derive(Clone)]
struct Service {
    router: Router,
    peer: SocketAddr,
    slot: Arc<Slot>,
    cfg: NetConfig,
    metrics: Arc<dyn MetricsRef>,
}

/// Access to the counters from the connection layer (the app owns them).
pub trait MetricsRef: Send + Sync + 'static {
    /// The counters.
    fn metrics(&self) -> &Metrics;
}

fn timeout_answer(lang: Lang, request_id: &str, now: u64) -> Response<Body> {
    let code = "SYSTEM.SERVICE_UNAVAILABLE";
    let body = json!({
        "version": API_VERSION,
        "timestamp": now,
        "success": false,
        "code": code,
        "message": message(code, lang),
        "data": null,
    })
    .to_string();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE_JSON),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        self.slot.set(BUSY);
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(Peer(self.peer));
        let done = Arc::new(AtomicBool::new(body.is_end_stream()));
        let body = Body::new(Tracked {
            inner: body,
            done: done.clone(),
        });
        // Only what a timeout answer needs (computed if it happens).
        let lang_header = parts.headers.get("accept-language").cloned();
        let rid_header = parts.headers.get("x-request-id").cloned();
        let req = Request::from_parts(parts, body);
        let router = self.router.clone();
        let slot = self.slot.clone();
        let cfg = self.cfg.clone();
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let answered =
                tokio::time::timeout(cfg.timeouts.request, tower_call(router, req)).await;
            let mut resp = match answered {
                Ok(r) => r,
                Err(_) => {
                    metrics
                        .metrics()
                        .request_timeouts
                        .fetch_add(1, Ordering::Relaxed);
                    let mut h = axum::http::HeaderMap::new();
                    if let Some(v) = lang_header {
                        h.insert("accept-language", v);
                    }
                    if let Some(v) = rid_header {
                        h.insert("x-request-id", v);
                    }
                    let lang = Lang::from_accept_language(
                        h.get("accept-language").and_then(|v| v.to_str().ok()),
                    );
                    timeout_answer(lang, &request_id(&h), cfg.clock.now_ms())
                }
            };
            if !done.load(Ordering::Acquire) {
                resp.headers_mut().insert(
                    axum::http::header::CONNECTION,
                    HeaderValue::from_static("close"),
                );
            }
            slot.set(IDLE);
            Ok(resp)
        })
    }
}

async fn tower_call(router: Router, req: Request<Body>) -> Response<Body> {
    use tower_service::Service as _;
    let mut router = router;
    match router.call(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// A running listener.
pub struct Listening {
    /// The bound address.
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Listening {
    /// Stop accepting, let open connections finish (at most `grace`), and return.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(grace + Duration::from_secs(1), self.task).await;
    }
}

/// Serve `router` on `listener`.
pub fn serve(
    listener: TcpListener,
    router: Router,
    cfg: NetConfig,
    metrics: Arc<dyn MetricsRef>,
) -> std::io::Result<Listening> {
    let addr = listener.local_addr()?;
    let (stop, stop_rx) = watch::channel(false);
    let conns = Arc::new(Connections {
        table: Mutex::new(Table {
            slots: HashMap::new(),
            per_group: HashMap::new(),
            next_id: 0,
        }),
        max: effective_max_connections(cfg.max_connections),
        max_per_group: cfg.max_connections_per_ip.max(1),
        epoch: Instant::now(),
    });
    let task = tokio::spawn(accept_loop(listener, router, cfg, metrics, conns, stop_rx));
    Ok(Listening { addr, stop, task })
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    cfg: NetConfig,
    metrics: Arc<dyn MetricsRef>,
    conns: Arc<Connections>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last_warning: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            a = listener.accept() => a,
        };
        let (sock, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors (or a transient error): make room and back off
                // instead of spinning.
                if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!(error = %e, open = conns.len(), "accept failed");
                    last_warning = Some(Instant::now());
                }
                if let Some(v) = conns
                    .lock()
                    .slots
                    .values()
                    .filter(|s| s.phase.load(Ordering::Acquire) != BUSY)
                    .min_by_key(|s| s.since_ms.load(Ordering::Acquire))
                {
                    v.kill();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        let group = if cfg.trusted.contains(peer.ip()) {
            None
        } else {
            Some(ClientGroup::of(peer.ip()))
        };
        let Some(slot) = conns.admit(group, metrics.metrics()) else {
            drop(sock);
            continue;
        };
        let svc = Service {
            router: router.clone(),
            peer,
            slot: slot.clone(),
            cfg: cfg.clone(),
            metrics: metrics.clone(),
        };
        let conns = conns.clone();
        let stop = stop.clone();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            metrics
                .metrics()
                .open_connections
                .fetch_add(1, Ordering::Relaxed);
            serve_connection(sock, svc, stop).await;
            conns.release(&slot);
            metrics
                .metrics()
                .open_connections
                .fetch_sub(1, Ordering::Relaxed);
        });
    }
    // Graceful: connections see `stop` and finish; wait for them.
    let deadline = Instant::now() + Duration::from_secs(30);
    while conns.len() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn serve_connection(sock: TcpStream, svc: Service, mut stop: watch::Receiver<bool>) {
    let slot = svc.slot.clone();
    let t = svc.cfg.timeouts;
    let metrics = svc.metrics.clone();
    let io = TokioIo::new(Watched {
        inner: sock,
        slot: slot.clone(),
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // hyper starts this timer when it waits for a request, idle time included: it is the
        // backstop; the watchdog below enforces the header and idle timeouts separately.
        .header_read_timeout(t.idle + t.header)
        .keep_alive(true)
        // (Not `pipeline_flush`: a client that never stops pipelining would make hyper hold
        // every answer in memory.)
        .max_buf_size(64 * 1024);
    let mut conn = builder.serve_connection(io, svc);
    let mut stopping = false;
    let result = loop {
        let phase = slot.phase.load(Ordering::Acquire);
        let since = slot.since_ms.load(Ordering::Acquire);
        let limit = match phase {
            IDLE => t.idle,
            HEAD => t.header,
            _ => t.request + Duration::from_secs(5),
        };
        let deadline_ms =
            since.saturating_add(u64::try_from(limit.as_millis()).unwrap_or(u64::MAX));
        let wait = Duration::from_millis(deadline_ms.saturating_sub(slot.now_ms()));
        tokio::select! {
            r = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => break r,
            _ = slot.kill.notified() => return,
            _ = slot.changed.notified() => {}
            _ = stop.changed(), if !stopping => {
                stopping = true;
                Pin::new(&mut conn).graceful_shutdown();
            }
            _ = tokio::time::sleep(wait) => {
                let now_phase = slot.phase.load(Ordering::Acquire);
                if now_phase != phase || slot.since_ms.load(Ordering::Acquire) != since {
                    continue;
                }
                match phase {
                    IDLE => {
                        metrics.metrics().idle_closes.fetch_add(1, Ordering::Relaxed);
                        if !stopping {
                            stopping = true;
                            Pin::new(&mut conn).graceful_shutdown();
                        }
                        // A request may have started meanwhile; give it the header timeout.
                        slot.set(HEAD);
                    }
                    HEAD => {
                        metrics.metrics().header_timeouts.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    _ => return,
                }
            }
        }
    };
    if result.is_ok() {
        let parts = conn.into_parts();
        // A connection we closed while it was idle has nothing in flight from the client; one
        // closed after an answer to an unread body may still be receiving it.
        let linger_for = if stopping { SHORT_LINGER } else { LINGER };
        linger(parts.io.into_inner().inner, linger_for).await;
    }
}

/// Lingering after closing an idle connection.
const SHORT_LINGER: Duration = Duration::from_millis(100);

/// Close after the answer without resetting it: stop writing, read and drop what the client
/// still sends (bounded in bytes and time), then close.
async fn linger(mut sock: TcpStream, linger_for: Duration) {
    if sock.shutdown().await.is_err() {
        return;
    }
    let mut buf = [0u8; 8192];
    let mut left = LINGER_BYTES;
    let _ = tokio::time::timeout(linger_for, async {
        while left > 0 {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}
