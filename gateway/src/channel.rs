//! The secure-channel machinery every SCv2 route shares: read the envelope, open it on its
//! session, run the route's business, and commit the window update, the business effect and
//! the sealed answer together before sending the answer; and answer a byte-identical
//! retransmission of an accepted request with the bytes of its first answer.
//!
//! A route does:
//!
//! ```text
//! let live = channel::find_session(&app, &mut req, &headers).await?;   // 401 when unknown
//! // the envelope (400 / 408 / 413), ctx = METHOD SP path, then opened on the session:
//! let opened = channel::read_and_open(&app, &req, live, &method, &uri, body, OnGone::Refuse).await?;
//! channel::respond(&app, req, opened, |app, req, plaintext| async { Reply { .. } }).await
//! // (proxy mode: channel::respond_forwarded, the window committed before the upstream runs)
//! ```
//!
//! Ordering (SPEC section 8.4): the request transaction begins before the request is opened
//! ([`crate::store::Store::begin`]: with PostgreSQL it locks the session row, so that a request
//! on another gateway waits; it returns the stored generation, and the cached copy in memory is
//! replaced when it is older). The request is then opened in memory (the core's atomic
//! check-and-mark), the business runs in a task of its own (a client that disconnects cannot
//! cancel it half-way) with the transaction at hand for its claims, and one commit applies the
//! effect, seals the answer, keeps it in the session's answer cache and writes the session's new
//! state (compare-and-set on its generation); only then is the answer sent. A copy of an accepted
//! request that waited for that commit, here or on another gateway, finds the new generation, is
//! `replayed`, and gets the cached bytes; a copy that arrives in this process while the first is
//! still being processed waits for the first one's answer. A crash before the commit loses
//! nothing that was sent: the request was not accepted durably, and its retransmission is opened
//! afresh. The requests of one session run one at a time in a process (the lock on
//! [`Live::stored_generation`]).
//!
//! A business whose effect lies outside the store (proxy mode's upstream) uses
//! [`respond_forwarded`] instead: the window update is committed in a transaction of its own
//! first, so that the request is executed at most once even if the process dies before its
//! answer is committed; a second transaction, begun at once, holds the session (with PostgreSQL,
//! its row) while the upstream answers, and commits the answer (the upstream's bytes,
//! [`RawAnswer`], always kept, with the response headers that go with it). A copy of the request
//! waits for that answer, in this process and on other gateways alike.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use scv2::OsRng;
use serde_json::Value;
use subtle::ConstantTimeEq;
use tokio::sync::{watch, OwnedMutexGuard};
use zeroize::Zeroizing;

use crate::answer::Req;
use crate::answer_headers::HeaderList;
use crate::app::{App, TaskTracker};
use crate::client_ip::ClientGroup;
use crate::headers::session_header;
use crate::limits::zero_limit;
use crate::ratelimit::{RateKey, RateStore};
use crate::sessions::{BusyGuard, Live};
use crate::store::{
    CachedAnswer, Claim, Commit, CommitError, Effect, EffectOutcome, SealAnswer, SessionTx,
    SessionUpdate, StoreResult, TokenHash,
};
use crate::util::{key16, sha256};

/// `ctx = METHOD SP path` (SPEC section 9; the core's [`scv2::http::ctx`]). Errors: a path too
/// long for the associated data ([`scv2::Error::PayloadTooLarge`]).
pub fn ctx_of(method: &Method, uri: &Uri) -> Result<String, scv2::Error> {
    scv2::http::ctx(method.as_str(), uri.path())
}

/// The live session named by the request's session id header, marked most recently used.
/// `Ok(None)`: no header, or no such live session. With a shared store a session missing from
/// memory is loaded from the store (another gateway opened it, or this one evicted it); its
/// generation is re-validated when the request transaction begins. `Err`: the store failed
/// (503/500).
pub async fn find_session(
    app: &Arc<App>,
    req: &mut Req,
    headers: &HeaderMap,
) -> Result<Option<Arc<Live>>, Response> {
    let Some(sid) = session_header(headers) else {
        return Ok(None);
    };
    req.set_session(sid);
    if let Some(live) = app.sessions.get(sid) {
        return Ok(Some(live));
    }
    if app.store.exclusive() || scv2::check_session_id(sid).is_err() {
        return Ok(None);
    }
    let rec = match app.store.load_session(sid, req.now).await {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(None),
        Err(e) => return Err(req.store_error(&e)),
    };
    let Ok(s) = scv2::ServerSession::import(&app.storage_key, sid, &rec.sealed, &app.sc_config)
    else {
        tracing::warn!(request_id = %req.request_id, "a stored session does not import (another storage key?)");
        return Ok(None);
    };
    app.metrics
        .session_loads
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let live = Arc::new(Live::new(
        s,
        ClientGroup::parse(&rec.client_group),
        rec.generation,
    ));
    let (live, evicted) = app.sessions.insert_if_absent(live);
    forget(app, end_sessions(evicted.into_iter().map(|(l, _)| l))).await;
    Ok(Some(live))
}

/// Sessions this process dropped from memory for its caps: an exclusive store deletes them
/// (their clients open new ones); a shared store keeps them (memory is a cache there).
pub async fn forget(app: &App, evicted: Vec<String>) {
    if evicted.is_empty() || !app.store.exclusive() {
        return;
    }
    if let Err(e) = app.store.delete_sessions(evicted).await {
        tracing::error!(error = %format!("{e:#}"), "deleting evicted sessions failed");
    }
}

/// The request transaction, as the business sees it: its claims and the counters it names run
/// in it (with PostgreSQL they commit with the request, or not at all).
#[derive(Clone)]
pub struct RequestTx {
    tx: Arc<tokio::sync::Mutex<Option<Box<dyn SessionTx>>>>,
    rates: Arc<dyn RateStore>,
}

impl RequestTx {
    fn new(tx: Box<dyn SessionTx>, rates: Arc<dyn RateStore>) -> RequestTx {
        RequestTx {
            tx: Arc::new(tokio::sync::Mutex::new(Some(tx))),
            rates,
        }
    }

    async fn take(&self) -> Option<Box<dyn SessionTx>> {
        self.tx.lock().await.take()
    }

    /// Claim the pending registration `token` (see [`SessionTx::claim_registration`]).
    pub async fn claim_registration(
        &self,
        token: TokenHash,
        now_ms: u64,
        lease_ms: u64,
    ) -> StoreResult<Claim> {
        match self.tx.lock().await.as_mut() {
            Some(tx) => tx.claim_registration(token, now_ms, lease_ms).await,
            None => anyhow::bail!("the request transaction is over"),
        }
    }

    /// Release this request's claim.
    pub async fn release_claim(&self) -> StoreResult<()> {
        match self.tx.lock().await.as_mut() {
            Some(tx) => tx.release_claim().await,
            None => Ok(()),
        }
    }

    async fn rate(
        &self,
        keys: &[RateKey],
        now_ms: u64,
        count: bool,
    ) -> StoreResult<Result<(), u64>> {
        if let Some(retry) = zero_limit(keys) {
            return Ok(Err(retry));
        }
        if let Some(tx) = self.tx.lock().await.as_mut() {
            if let Some(r) = tx.rate(keys, now_ms, count).await? {
                return Ok(r);
            }
        }
        match (count, keys.first()) {
            (true, _) => self.rates.hit(keys, now_ms).await,
            (false, Some(k)) => self.rates.check(k, now_ms).await,
            (false, None) => Ok(Ok(())),
        }
    }

    /// Whether `key` allows one more request (not counted). `Ok(Err(retry_after_secs))`: 429.
    pub async fn check(&self, key: RateKey, now_ms: u64) -> StoreResult<Result<(), u64>> {
        self.rate(&[key], now_ms, false).await
    }

    /// Count a request against `keys` (all or none).
    pub async fn hit(&self, keys: &[RateKey], now_ms: u64) -> StoreResult<Result<(), u64>> {
        self.rate(keys, now_ms, true).await
    }
}

/// A request envelope, decoded from its body.
pub struct Envelope {
    bytes: Vec<u8>,
    web: bool,
    digest: [u8; 32],
}

impl Envelope {
    /// The raw envelope.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// Whether it came in the web form (the answer uses the same form).
    pub fn web(&self) -> bool {
        self.web
    }
}

/// Read the body (at most `max_body` bytes, within the body timeout) and decode the envelope:
/// raw binary, or the web form when it starts with `{`.
pub async fn read_envelope(app: &App, req: &Req, body: Body) -> Result<Envelope, Response> {
    let read = tokio::time::timeout(
        app.cfg.timeouts.body,
        axum::body::to_bytes(body, app.cfg.max_body),
    )
    .await;
    let bytes = match read {
        Err(_) => {
            app.metrics
                .body_timeouts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(req.body_timeout());
        }
        Ok(Err(_)) => return Err(req.sc_error(scv2::Error::PayloadTooLarge)),
        Ok(Ok(b)) => b,
    };
    let (bytes, web) = match scv2::http::decode_body(&bytes, app.cfg.max_body) {
        Ok((b, form)) => (b.into_owned(), form == scv2::http::BodyForm::Web),
        Err(e) => return Err(req.sc_error(e)),
    };
    let digest = sha256(&[&bytes]);
    Ok(Envelope { bytes, web, digest })
}

/// What a route does when the session is closed or expired while opening.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnGone {
    /// Answer 401 `SESSION_NOT_FOUND` (the error's mapping).
    Refuse,
    /// Answer 200 `data: null` in plaintext (close is idempotent).
    IdempotentOk,
}

type Published = Option<Arc<CachedAnswer>>;

/// Requests between open and commit, by (session, envelope digest): a byte-identical copy that
/// arrives meanwhile waits for the first one's answer instead of being refused.
#[derive(Debug, Default)]
pub struct Inflight {
    map: Arc<Mutex<HashMap<[u8; 16], watch::Receiver<Published>>>>,
}

enum Join {
    Lead(Leader),
    Follow(watch::Receiver<Published>),
}

/// The first copy of a request; publishes its answer to copies that wait, and leaves the
/// table when dropped.
struct Leader {
    map: Arc<Mutex<HashMap<[u8; 16], watch::Receiver<Published>>>>,
    key: [u8; 16],
    tx: watch::Sender<Published>,
}

impl Leader {
    fn publish(&self, answer: Arc<CachedAnswer>) {
        self.tx.send_replace(Some(answer));
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(&self.key);
        }
    }
}

impl Inflight {
    fn join(&self, key: [u8; 16]) -> Join {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rx) = m.get(&key) {
            return Join::Follow(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        m.insert(key, rx);
        Join::Lead(Leader {
            map: self.map.clone(),
            key,
            tx,
        })
    }

    /// Requests in flight now.
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An opened request: its plaintext and what is needed to answer it.
pub struct Opened {
    live: Arc<Live>,
    _busy: BusyGuard,
    held: OwnedMutexGuard<Option<u64>>,
    tx: RequestTx,
    slot: scv2::ResponseSlot,
    plain: Zeroizing<Vec<u8>>,
    web: bool,
    ctx: String,
    digest: [u8; 32],
    leader: Leader,
}

impl Opened {
    /// The decrypted body.
    pub fn plaintext(&self) -> &[u8] {
        &self.plain
    }
    /// The session.
    pub fn session(&self) -> &Arc<Live> {
        &self.live
    }
    /// The request transaction (for the business's claims and counters).
    pub fn tx(&self) -> RequestTx {
        self.tx.clone()
    }
    /// The request's sequence number.
    pub fn seq(&self) -> u64 {
        self.slot.seq()
    }
}

/// The answer sent with the exact bytes of a cached type 129.
fn retransmission(app: &App, req: &Req, sid: &str, a: &CachedAnswer, web: bool) -> Response {
    app.metrics
        .retransmissions
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::debug!(request_id = %req.request_id, "retransmission answered from the cache");
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
    let r = req.envelope(status, &a.code, &a.envelope, web);
    with_headers(app, req, sid, a, r)
}

/// The answer `a` with the response headers kept with it.
fn with_headers(app: &App, req: &Req, sid: &str, a: &CachedAnswer, mut r: Response) -> Response {
    if a.headers.is_empty() {
        return r;
    }
    match app.answer_headers.open(sid, &a.digest, &a.headers) {
        Some(list) => {
            for (name, value) in list {
                r.headers_mut().append(name, value);
            }
        }
        None => tracing::warn!(
            request_id = %req.request_id,
            "the response headers kept with a cached answer do not open (storage key changed?); sent without them"
        ),
    }
    r
}

/// The cached answer to the envelope with `digest`, compared in constant time.
fn cached_answer(all: StoreResult<Vec<CachedAnswer>>, digest: &[u8; 32]) -> Option<CachedAnswer> {
    let all = match all {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "reading the answer cache failed");
            return None;
        }
    };
    let mut found = None;
    for a in all {
        let hit = bool::from(a.digest.ct_eq(digest));
        if hit && found.is_none() {
            found = Some(a);
        }
    }
    found
}

/// Read the envelope in `body` ([`read_envelope`]) and open it on `live` for `METHOD path`
/// ([`ctx_of`], [`open`]): what every SCv2 route does once it found the session.
pub async fn read_and_open(
    app: &Arc<App>,
    req: &Req,
    live: Arc<Live>,
    method: &Method,
    uri: &Uri,
    body: Body,
    on_gone: OnGone,
) -> Result<Opened, Response> {
    let env = read_envelope(app, req, body).await?;
    let ctx = ctx_of(method, uri).map_err(|e| req.sc_error(e))?;
    open(app, req, live, ctx, env, on_gone).await
}

/// Open `env` on `live` with `ctx`. `Err` is the answer to send: a plaintext refusal, or, for a
/// byte-identical copy of a request already accepted, the bytes of its first answer.
pub async fn open(
    app: &Arc<App>,
    req: &Req,
    live: Arc<Live>,
    ctx: String,
    env: Envelope,
    on_gone: OnGone,
) -> Result<Opened, Response> {
    let busy = live.busy();
    let key = key16(&[live.session_id().as_bytes(), &env.digest]);
    let mut rounds = 0;
    let leader = loop {
        match app.inflight.join(key) {
            Join::Lead(l) => break l,
            Join::Follow(mut rx) => {
                rounds += 1;
                let waited =
                    tokio::time::timeout(app.cfg.timeouts.request, rx.wait_for(Option::is_some))
                        .await;
                let answer = match &waited {
                    Ok(Ok(v)) => v.as_ref().cloned(),
                    _ => None,
                };
                if let Some(a) = answer {
                    return Err(retransmission(app, req, live.session_id(), &a, env.web));
                }
                if waited.is_err() || rounds >= 3 {
                    return Err(req.unavailable());
                }
                // The first copy ended without an answer: try this one.
            }
        }
    };
    let gone = |req: &Req| match on_gone {
        OnGone::Refuse => req.session_not_found(),
        OnGone::IdempotentOk => req.plain(StatusCode::OK, "2000", Value::Null),
    };
    // One request of this session at a time in this process; across processes the store's
    // transaction serializes them.
    let Ok(mut held) = tokio::time::timeout(
        app.cfg.timeouts.request,
        live.stored_generation.clone().lock_owned(),
    )
    .await
    else {
        return Err(req.unavailable());
    };
    let locked = match app.store.begin(live.session_id(), *held, req.now).await {
        Ok(Some(l)) => l,
        Ok(None) => {
            drop_session(app, &live);
            return Err(gone(req));
        }
        Err(e) => return Err(req.store_error(&e)),
    };
    if let Some(sealed) = &locked.sealed {
        match scv2::ServerSession::import(
            &app.storage_key,
            live.session_id(),
            sealed,
            &app.sc_config,
        ) {
            Ok(s) => {
                live.replace(s);
                app.metrics
                    .session_reloads
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => {
                tracing::warn!(error = e.name(), "a stored session does not import");
                finish(locked.tx).await;
                drop_session(app, &live);
                return Err(gone(req));
            }
        }
    }
    *held = Some(locked.generation);
    let mut tx = locked.tx;
    let mut plain = Zeroizing::new(vec![0u8; scv2::max_open_len(env.bytes.len())]);
    let opened = match live.session.read() {
        Ok(s) => s.open_request(ctx.as_bytes(), &env.bytes, req.now, &mut plain),
        Err(_) => Err(scv2::Error::Internal),
    };
    match opened {
        Ok((slot, n)) => {
            plain.truncate(n);
            Ok(Opened {
                live,
                _busy: busy,
                held,
                tx: RequestTx::new(tx, app.limits.rates().clone()),
                slot,
                plain,
                web: env.web,
                ctx,
                digest: env.digest,
                leader,
            })
        }
        Err(scv2::Error::Replayed) => {
            let found = cached_answer(tx.cached_answers().await, &env.digest);
            finish(tx).await;
            match found {
                Some(a) => Err(retransmission(app, req, live.session_id(), &a, env.web)),
                None => Err(req.sc_error(scv2::Error::Replayed)),
            }
        }
        Err(scv2::Error::SessionExpired | scv2::Error::InvalidState)
            if on_gone == OnGone::IdempotentOk =>
        {
            finish(tx).await;
            Err(req.plain(StatusCode::OK, "2000", Value::Null))
        }
        Err(e) => {
            finish(tx).await;
            Err(req.sc_error(e))
        }
    }
}

/// End a request transaction that accepted nothing.
async fn finish(tx: Box<dyn SessionTx>) {
    if let Err(e) = tx.finish().await {
        tracing::warn!(error = %format!("{e:#}"), "ending a request transaction failed");
    }
}

/// The store no longer has the session: forget it here too (keys zeroized).
fn drop_session(app: &App, live: &Arc<Live>) {
    if let Some(l) = app.sessions.remove(live.session_id()) {
        l.close();
    }
}

/// An answer to seal: its status and the whole response wrapper.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// The wrapper (`{"version", "timestamp", "success", "code", "message", "data"}`).
    pub body: Value,
}

/// Builds the answer from what the effect did.
pub type BuildAnswer = Box<dyn FnOnce(&EffectOutcome) -> Answer + Send + 'static>;

/// What the route's business decided.
pub struct Reply {
    /// The effect to commit with the answer.
    pub effect: Effect,
    /// The answer, from the effect's outcome.
    pub build: BuildAnswer,
    /// Keep the answer for retransmissions.
    pub cache: bool,
    /// A `Retry-After` header for the answer.
    pub retry_after: Option<u64>,
}

impl Reply {
    /// An answer that needs no effect.
    pub fn answer(status: StatusCode, body: Value) -> Reply {
        Reply {
            effect: Effect::None,
            build: Box::new(move |_| Answer { status, body }),
            cache: true,
            retry_after: None,
        }
    }
}

/// An answer given as the exact plaintext bytes to seal (a proxied upstream's body), with the
/// response headers sent with it and with every retransmission of it.
pub struct RawAnswer {
    /// HTTP status.
    pub status: StatusCode,
    /// Its API `code`, for the log line.
    pub code: String,
    /// The plaintext to seal, byte for byte.
    pub body: Zeroizing<Vec<u8>>,
    /// Response headers (kept sealed with the cached answer).
    pub headers: HeaderList,
}

impl std::fmt::Debug for RawAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawAnswer")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// What is sealed into the type 129.
enum Sealable {
    Json(Answer),
    Raw(RawAnswer),
}

/// What the business decided, in the form the commit takes.
struct Job {
    effect: Effect,
    build: Box<dyn FnOnce(&EffectOutcome) -> Sealable + Send + 'static>,
    cache: bool,
    retry_after: Option<u64>,
}

/// Run `business` on the opened request in a task of its own, commit, and answer.
pub async fn respond<F, Fut>(app: &Arc<App>, req: Req, opened: Opened, business: F) -> Response
where
    F: FnOnce(Arc<App>, Req, Zeroizing<Vec<u8>>) -> Fut + Send + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    run(app, req, opened, false, move |app, req, plain| async move {
        let reply = business(app, req, plain).await;
        let build = reply.build;
        Job {
            effect: reply.effect,
            build: Box::new(move |o| Sealable::Json(build(o))),
            cache: reply.cache,
            retry_after: reply.retry_after,
        }
    })
    .await
}

/// For a business whose effect lies outside the store (a proxied upstream): the request's
/// window update is committed **before** `business` runs, so that nothing after it (a failed
/// commit, a crash, a copy opened by another gateway sharing the store) can let the same request
/// be accepted, and executed, twice. A new request transaction then holds the session while
/// `business` runs, and commits its answer (always kept for retransmissions, its headers with
/// it) before it is sent. If the first commit fails, `business` never runs and the answer is the
/// plaintext one of a failed commit.
pub async fn respond_forwarded<F, Fut>(
    app: &Arc<App>,
    req: Req,
    opened: Opened,
    business: F,
) -> Response
where
    F: FnOnce(Arc<App>, Req, Zeroizing<Vec<u8>>) -> Fut + Send + 'static,
    Fut: Future<Output = RawAnswer> + Send + 'static,
{
    run(app, req, opened, true, move |app, req, plain| async move {
        let raw = business(app, req, plain).await;
        Job {
            effect: Effect::None,
            build: Box::new(move |_| Sealable::Raw(raw)),
            cache: true,
            retry_after: None,
        }
    })
    .await
}

async fn run<F, Fut>(
    app: &Arc<App>,
    req: Req,
    opened: Opened,
    window_first: bool,
    business: F,
) -> Response
where
    F: FnOnce(Arc<App>, Req, Zeroizing<Vec<u8>>) -> Fut + Send + 'static,
    Fut: Future<Output = Job> + Send + 'static,
{
    let token = TaskTracker::start(app);
    let app2 = app.clone();
    let req2 = req.clone();
    let task = tokio::spawn(async move {
        let _token = token;
        let Opened {
            live,
            _busy,
            mut held,
            tx,
            slot,
            plain,
            web,
            ctx,
            digest,
            leader,
        } = opened;
        let mut answer_tx = None;
        if window_first {
            match commit_window(&app2, &req2, &live, &mut held, &tx, web, &digest).await {
                Ok(t) => answer_tx = Some(t),
                Err(r) => return r,
            }
        }
        let job = business(app2.clone(), req2.clone(), plain).await;
        let parts = Parts {
            live,
            held,
            tx,
            answer_tx,
            slot,
            web,
            ctx,
            digest,
            leader,
        };
        let r = commit_and_answer(&app2, &req2, parts, job).await;
        drop(_busy);
        r
    });
    match task.await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(request_id = %req.request_id, error = %e, "request task failed");
            req.internal()
        }
    }
}

struct Parts {
    live: Arc<Live>,
    held: OwnedMutexGuard<Option<u64>>,
    tx: RequestTx,
    /// The transaction begun after [`commit_window`] (proxy mode), with the generation it found.
    answer_tx: Option<(Box<dyn SessionTx>, u64)>,
    slot: scv2::ResponseSlot,
    web: bool,
    ctx: String,
    digest: [u8; 32],
    leader: Leader,
}

/// The session's state to write, when it is newer than `stored` (what the store holds).
fn session_update(
    app: &App,
    req: &Req,
    live: &Live,
    stored: u64,
) -> Result<Option<SessionUpdate>, scv2::Error> {
    let s = live.session.read().map_err(|_| scv2::Error::Internal)?;
    let generation = s.generation();
    if generation > stored {
        s.export(&app.storage_key, &mut OsRng).map(|sealed| {
            Some(SessionUpdate {
                sealed,
                generation,
                last_used_ms: req.now,
            })
        })
    } else {
        Ok(None)
    }
}

/// Proxy mode: commit the request's window update (the request accepted) with no effect and no
/// answer, then begin the transaction that holds the session until the answer is committed.
/// `Err` is the plaintext answer of a failed commit (the business must not run).
async fn commit_window(
    app: &Arc<App>,
    req: &Req,
    live: &Arc<Live>,
    held: &mut OwnedMutexGuard<Option<u64>>,
    tx: &RequestTx,
    web: bool,
    digest: &[u8; 32],
) -> Result<(Box<dyn SessionTx>, u64), Response> {
    let sid = live.session_id().to_owned();
    let (Some(t), Some(expected)) = (tx.take().await, **held) else {
        **held = None;
        return Err(req.internal());
    };
    let update = match session_update(app, req, live, expected) {
        Ok(u) => u,
        Err(e) => {
            **held = None;
            return Err(req.sc_error(e));
        }
    };
    let committed = update.as_ref().map_or(expected, |u| u.generation);
    let d = *digest;
    let placeholder: SealAnswer = Box::new(move |_| {
        Ok(CachedAnswer {
            digest: d,
            status: 0,
            code: String::new(),
            envelope: Vec::new(),
            headers: Vec::new(),
        })
    });
    let commit = Commit {
        session_id: sid.clone(),
        expected_generation: expected,
        update,
        effect: Effect::None,
        seal: placeholder,
        cache_answer: false,
    };
    if let Err(e) = t.commit(commit).await {
        **held = None;
        return Err(commit_failed(app, req, live, e, web, digest).await);
    }
    **held = Some(committed);
    // The window is durable: the request is accepted and will not be executed twice. If the
    // answer's transaction cannot begin (the database failed right after the commit) the
    // business does not run and the answer is the plaintext 503/500 of a store failure; a
    // retransmission is then refused as a replay, never executed.
    match app.store.begin(&sid, Some(committed), req.now).await {
        Ok(Some(l)) => Ok((l.tx, l.generation)),
        Ok(None) => {
            drop_session(app, live);
            Err(req.session_not_found())
        }
        Err(e) => Err(req.store_error(&e)),
    }
}

async fn commit_and_answer(app: &Arc<App>, req: &Req, p: Parts, job: Job) -> Response {
    let sid = p.live.session_id().to_owned();
    let mut held = p.held;
    let (tx, expected) = match p.answer_tx {
        Some(t) => t,
        None => {
            let (Some(tx), Some(expected)) = (p.tx.take().await, *held) else {
                *held = None;
                return req.internal();
            };
            (tx, expected)
        }
    };
    let update = match session_update(app, req, &p.live, expected) {
        Ok(u) => u,
        // Closed meanwhile (an eviction).
        Err(e) => {
            *held = None;
            return req.sc_error(e);
        }
    };
    // Proxy mode: another gateway may have moved the session on between the window's commit and
    // this transaction (it holds the row now). The answer is then not kept: its slot would be
    // the other request's; a retransmission of it is refused as a replay.
    let moved_on = *held != Some(expected);
    let new_generation = update.as_ref().map(|u| u.generation);
    let (live, slot, ctx, digest) = (p.live.clone(), p.slot, p.ctx, p.digest);
    let build = job.build;
    let app2 = app.clone();
    let seal: SealAnswer = Box::new(move |outcome| {
        let (status, code, text, headers) = match build(outcome) {
            Sealable::Json(a) => {
                let code = a
                    .body
                    .get("code")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let text = Zeroizing::new(a.body.to_string().into_bytes());
                (a.status, code, text, Vec::new())
            }
            Sealable::Raw(r) => (r.status, r.code, r.body, r.headers),
        };
        let s = live.session.read().map_err(|_| scv2::Error::Internal)?;
        let mut out = vec![0u8; s.sealed_len(text.len())];
        let n = s
            .seal_response(slot, ctx.as_bytes(), &text, &mut out)
            .map_err(|e| e.error)?;
        out.truncate(n);
        let headers = app2
            .answer_headers
            .seal(live.session_id(), &digest, &headers)?;
        Ok(CachedAnswer {
            digest,
            status: status.as_u16(),
            code,
            envelope: out,
            headers,
        })
    });
    if moved_on {
        tracing::warn!(request_id = %req.request_id, "the session moved on while the upstream answered; the answer is not kept for retransmissions");
    }
    let commit = Commit {
        session_id: sid.clone(),
        expected_generation: expected,
        update,
        effect: job.effect,
        seal,
        cache_answer: job.cache && !moved_on,
    };
    match tx.commit(commit).await {
        Ok(c) => {
            // After a move-on the memory is older than the store: the next request re-imports.
            *held = if moved_on {
                None
            } else {
                new_generation.or(*held)
            };
            drop(held);
            if c.outcome == EffectOutcome::SessionEnded {
                app.sessions.remove(&sid);
                p.live.close();
            }
            let answer = Arc::new(c.answer);
            p.leader.publish(answer.clone());
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
            let r = req.envelope(status, &answer.code, &answer.envelope, p.web);
            let mut r = with_headers(app, req, &sid, &answer, r);
            if let Some(s) = job.retry_after {
                r.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(s));
            }
            r
        }
        Err(e) => {
            // The memory holds a window mark the store does not have: the next request
            // re-imports the stored state.
            *held = None;
            drop(held);
            commit_failed(app, req, &p.live, e, p.web, &digest).await
        }
    }
}

/// The plaintext answer to a commit that did not happen (nothing of it was applied).
async fn commit_failed(
    app: &Arc<App>,
    req: &Req,
    live: &Arc<Live>,
    e: CommitError,
    web: bool,
    digest: &[u8; 32],
) -> Response {
    let sid = live.session_id();
    match e {
        CommitError::Gone => {
            drop_session(app, live);
            req.session_not_found()
        }
        CommitError::Seal(e) => req.sc_error(e),
        CommitError::Conflict => {
            app.metrics
                .commit_conflicts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(request_id = %req.request_id, "session changed under this request");
            // Another writer may have answered this very envelope.
            match cached_answer(app.store.cached_answers(sid).await, digest) {
                Some(a) => retransmission(app, req, sid, &a, web),
                None => req.unavailable(),
            }
        }
        CommitError::Db(e) => {
            tracing::error!(request_id = %req.request_id, error = %format!("{e:#}"), "committing an accepted request failed");
            req.store_error(&e)
        }
    }
}

/// Close sessions that left the table (keys zeroized) and return their ids, for the store.
pub fn end_sessions(gone: impl IntoIterator<Item = Arc<Live>>) -> Vec<String> {
    gone.into_iter()
        .map(|l| {
            l.close();
            l.session_id().to_owned()
        })
        .collect()
}
