//! Start-up and shutdown: the store (a SQLite file under its lock, or a PostgreSQL database
//! shared with other gateways), the storage key (external or stored, and moving to an external
//! one), the server keys (re-read every `--key-refresh-secs`, so `scv2 keys` rotates them on
//! every gateway), the sessions kept from the last run, the router, the HTTP server, the metrics
//! listener and the sweeper.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::routing::{get, post};
use axum::Router;
use scv2::{OsRng, Server, ServerConfig, ServerKey, ServerSession, StorageKey};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::answer_headers::HeadersKey;
use crate::app::{App, Metrics, MetricsSnapshot, TaskTracker};
use crate::channel::{end_sessions, Inflight};
use crate::client_ip::{ClientGroup, TrustedProxies};
use crate::clock::rfc3339;
use crate::config::{Database, GatewayConfig};
use crate::files::{self, DbLock};
use crate::health::{self, Readiness};
use crate::limits::Limits;
use crate::net::{self, Listening, MetricsRef, NetConfig};
use crate::paths::{
    PATH_PASSWORD_INIT, PATH_PUBLIC_KEY, PATH_PUBLIC_KEYS, PATH_SESSION, PATH_SESSION_CLOSE,
};
use crate::ratelimit::MemoryRates;
use crate::sessions::{Live, SessionTable};
use crate::store::{PgOptions, PgStore, Reseal, SqliteStore, Store, StoredKey};
use crate::util::{hex, random_bytes};
use crate::{handlers, headers, password_init};

impl MetricsRef for App {
    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// A running gateway.
pub struct Gateway {
    app: Arc<App>,
    public_key: scv2::PublicKeyDocument,
    listening: Option<Listening>,
    metrics_listening: Option<Listening>,
    addr: SocketAddr,
    sweeper: tokio::task::JoinHandle<()>,
    key_refresher: tokio::task::JoinHandle<()>,
    lock: Option<DbLock>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
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
    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.app.store
    }
    /// The advertised public-key document at start.
    pub fn public_key(&self) -> &scv2::PublicKeyDocument {
        &self.public_key
    }
    /// The address of `GET /metrics` (`--metrics-listen`), if served.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listening.as_ref().map(|l| l.addr)
    }
    /// Counters and table sizes now.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.app.snapshot()
    }
    /// Stop accepting, finish in-flight requests (at most 30 s), release the database.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(l) = self.listening.take() {
            l.shutdown(Duration::from_secs(30)).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(30), self.app.tasks.wait_idle()).await;
        if let Some(l) = self.metrics_listening.take() {
            l.shutdown(Duration::from_secs(1)).await;
        }
        self.sweeper.abort();
        self.key_refresher.abort();
        drop(self.lock.take());
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

/// The storage key: the external one (moving the stored one's sessions to it), or the stored
/// one, or a new stored one.
async fn storage_key(
    cfg: &GatewayConfig,
    store: &Arc<dyn Store>,
    sc: &ServerConfig,
    in_db: &mut Vec<&'static str>,
) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let stored = store.stored_storage_key().await?;
    if let Some(external) = &cfg.storage_key {
        if let Some(old) = stored {
            let old_key = StorageKey::new(&old);
            let new_key = StorageKey::new(external);
            let sc = *sc;
            let reseal: Reseal = Box::new(move |r| {
                if let Ok(s) = ServerSession::import(&old_key, &r.session_id, &r.sealed, &sc) {
                    return s.export(&new_key, &mut OsRng).ok();
                }
                ServerSession::import(&new_key, &r.session_id, &r.sealed, &sc)
                    .ok()
                    .map(|_| r.sealed.clone())
            });
            let moved = store.adopt_external_storage_key(reseal).await?;
            tracing::info!(
                resealed = moved.resealed,
                dropped = moved.dropped,
                "moved the sessions to the external storage key; the key stored in the database was deleted"
            );
        }
        return Ok(external.clone());
    }
    if cfg.require_external_keys {
        bail!("--require-external-keys: set SCV2_STORAGE_KEY or --storage-key-file");
    }
    in_db.push("the storage key");
    if let Some(k) = stored {
        return Ok(k);
    }
    let k = Zeroizing::new(random_bytes::<32>()?);
    store.create_storage_key(k.clone()).await?;
    Ok(k)
}

/// The server keys of the key files (read once, at start).
fn file_keys(cfg: &GatewayConfig) -> anyhow::Result<Vec<StoredKey>> {
    let mut keys = Vec::new();
    for f in &cfg.key_files {
        files::check_private(f, "key file")?;
        keys.push(crate::keyfile::read(f)?);
    }
    Ok(keys)
}

fn copy_key(k: &StoredKey) -> StoredKey {
    k.duplicate()
}

/// The keys to load: the key files', plus the store's (not with `--require-external-keys`; a
/// key file wins over a stored key of the same id).
async fn stored_and_file_keys(
    cfg: &GatewayConfig,
    store: &Arc<dyn Store>,
    from_files: &[StoredKey],
) -> anyhow::Result<(Vec<StoredKey>, usize)> {
    let mut keys: Vec<StoredKey> = from_files.iter().map(copy_key).collect();
    if cfg.require_external_keys {
        return Ok((keys, 0));
    }
    let mut stored = 0;
    for k in store.server_keys().await? {
        if !keys.iter().any(|x| x.key_id == k.key_id) {
            stored += 1;
            keys.push(k);
        }
    }
    Ok((keys, stored))
}

/// The server keys: key files, plus the store's (not with `--require-external-keys`); a new one
/// in the store when there is none (with several gateways starting at once, one of them creates
/// it and the others load it).
async fn server_keys(
    cfg: &GatewayConfig,
    store: &Arc<dyn Store>,
    from_files: &[StoredKey],
    now: u64,
    in_db: &mut Vec<&'static str>,
) -> anyhow::Result<Vec<StoredKey>> {
    if cfg.require_external_keys {
        let stored = store.server_keys().await.unwrap_or_default();
        if !stored.is_empty() {
            let ids: Vec<&str> = stored.iter().map(|k| k.key_id.as_str()).collect();
            tracing::warn!(
                keys = ?ids,
                "--require-external-keys: the private server keys stored in the database are not used"
            );
        }
    }
    // A shared store seals its server keys under the (external) storage key.
    let plaintext_in_db = store.exclusive();
    let (mut keys, stored) = stored_and_file_keys(cfg, store, from_files).await?;
    if stored > 0 && plaintext_in_db {
        in_db.push("a private server key");
    }
    if keys.is_empty() {
        if cfg.require_external_keys {
            bail!("--require-external-keys: give the server key with --key-file");
        }
        let date = rfc3339(now);
        let suffix = hex(&random_bytes::<3>()?);
        let key_id = format!("k-{}-{suffix}", date.get(..10).unwrap_or("0000-00-00"));
        let suite = cfg.preferred_suite;
        let generated = ServerKey::generate_with_suite(suite, &key_id, now, None, &mut OsRng)
            .map_err(|e| anyhow::anyhow!("generating the server key: {e}"))?;
        let k = StoredKey::of(&generated);
        drop(generated);
        if store.insert_first_server_key(copy_key(&k), now).await? {
            tracing::info!(key_id = %k.key_id, suite = %suite, "generated the server key (kept in the database)");
        }
        // Ours, or the one another gateway stored meanwhile.
        keys = stored_and_file_keys(cfg, store, from_files).await?.0;
        if plaintext_in_db {
            in_db.push("a private server key");
        }
    }
    Ok(keys)
}

/// A core server holding `keys`.
fn build_server(sc_config: ServerConfig, keys: &[StoredKey]) -> anyhow::Result<Server> {
    let mut server = Server::new(sc_config);
    for k in keys {
        let key = k.server_key()?;
        server
            .add_key(key)
            .map_err(|e| anyhow::anyhow!("server key {}: {e}", k.key_id))?;
    }
    Ok(server)
}

/// What identifies a key set (rebuilt only when it changes).
fn key_set(keys: &[StoredKey]) -> Vec<KeySetEntry> {
    let mut v: Vec<_> = keys
        .iter()
        .map(|k| (k.key_id.clone(), k.suite, k.created_at_ms, k.expires_at_ms))
        .collect();
    v.sort();
    v
}

/// `(keyId, suite, createdAt, expiresAt)`.
type KeySetEntry = (String, scv2::Suite, u64, Option<u64>);

/// Warn when no live key of the preferred suite is loaded (`/public-key` then advertises the
/// key of another suite).
fn warn_without_preferred(server: &Server, preferred: scv2::Suite, now: u64) {
    if handlers::advertised_key_of(server, preferred, now).is_none() {
        if let Some(k) = handlers::advertised_key(server, preferred, now) {
            tracing::warn!(
                preferred = %preferred,
                advertised = %k.key_id(),
                suite = %k.suite(),
                "no live server key of the preferred suite: /public-key advertises a key of \
                 another suite (add one: scv2 keys add --suite …, or give --key-file)"
            );
        }
    }
}

/// Re-read the stored server keys every `cfg.key_refresh` and swap the core server when they
/// changed (a key added, retired or expired by `scv2 keys`).
async fn refresh_keys(app: Arc<App>, from_files: Vec<StoredKey>, mut current: Vec<KeySetEntry>) {
    let mut tick = tokio::time::interval(app.cfg.key_refresh.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let keys = match stored_and_file_keys(&app.cfg, &app.store, &from_files).await {
            Ok((k, _)) => k,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "re-reading the server keys failed");
                continue;
            }
        };
        let set = key_set(&keys);
        if set == current || keys.is_empty() {
            continue;
        }
        match build_server(app.sc_config, &keys) {
            Ok(server) => {
                let ids: Vec<&str> = set.iter().map(|k| k.0.as_str()).collect();
                tracing::info!(keys = ?ids, "server keys changed; loaded");
                warn_without_preferred(&server, app.cfg.preferred_suite, app.cfg.clock.now_ms());
                if let Ok(mut s) = app.server.write() {
                    *s = Arc::new(server);
                }
                current = set;
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "stored server keys do not load"),
        }
    }
}

/// Open the store `cfg.db`: a SQLite file under its lock, or a PostgreSQL database (which
/// needs the storage key from outside it).
async fn open_store(cfg: &GatewayConfig) -> anyhow::Result<(Arc<dyn Store>, Option<DbLock>)> {
    match &cfg.db {
        Database::Sqlite(path) => {
            let db_path = path.clone();
            let lock = tokio::task::spawn_blocking(move || {
                DbLock::acquire_within(&db_path, Duration::from_secs(1))
            })
            .await
            .context("locking the database")??;
            let db_path = path.clone();
            let sqlite = tokio::task::spawn_blocking(move || SqliteStore::open(&db_path))
                .await
                .context("opening the database")??;
            Ok((Arc::new(sqlite), Some(lock)))
        }
        Database::Postgres(url) => {
            let Some(key) = &cfg.storage_key else {
                bail!(
                    "a PostgreSQL store needs the storage key from outside the database: set \
                     SCV2_STORAGE_KEY or --storage-key-file (the same key on every gateway; it \
                     never goes into the shared database)"
                );
            };
            let opts = PgOptions {
                pool_size: cfg.pg.pool_size,
                statement_timeout: cfg.pg.statement_timeout,
                idle_in_transaction_timeout: cfg.timeouts.request + cfg.pg.statement_timeout,
                queue_timeout: cfg.timeouts.request,
                storage_key: Some(key.clone()),
            };
            let pg = PgStore::connect(url, opts).await?;
            Ok((Arc::new(pg), None))
        }
    }
}

/// Start the gateway: lock and open the database, load keys and sessions, bind, serve in the
/// background.
pub async fn start(cfg: GatewayConfig) -> anyhow::Result<Gateway> {
    let now = cfg.clock.now_ms();
    cfg.routes.validate(&cfg)?;
    if cfg.require_external_keys {
        if cfg.storage_key.is_none() {
            bail!(
                "--require-external-keys: the storage key must come from SCV2_STORAGE_KEY or \
                 --storage-key-file"
            );
        }
        if cfg.key_files.is_empty() {
            bail!("--require-external-keys: the server key must come from --key-file");
        }
    }
    let (store, lock) = open_store(&cfg).await?;

    let sc_config = ServerConfig::default()
        .with_padding_block(cfg.padding_block)
        .map_err(|e| anyhow::anyhow!("padding block: {e}"))?;
    let mut in_db = Vec::new();
    let key = storage_key(&cfg, &store, &sc_config, &mut in_db).await?;
    let storage_key = StorageKey::new(&key);
    let answer_headers = HeadersKey::new(&key);
    drop(key);
    let from_files = file_keys(&cfg)?;
    let keys = server_keys(&cfg, &store, &from_files, now, &mut in_db).await?;
    let server = build_server(sc_config, &keys)?;
    let loaded_keys = key_set(&keys);
    drop(keys);
    in_db.dedup();
    if !in_db.is_empty() {
        tracing::warn!(
            "{} kept in the database {}: whoever can read that file (or a backup of it) can \
             decrypt the sessions and impersonate the server; in production give \
             SCV2_STORAGE_KEY (or --storage-key-file) and --key-file, and run with \
             --require-external-keys (gateway/README.md, Running in production)",
            in_db.join(" and "),
            cfg.db.display()
        );
    }
    let public_key = handlers::advertised_key(&server, cfg.preferred_suite, now)
        .map(|k| k.document())
        .context("no unexpired server key")?;
    warn_without_preferred(&server, cfg.preferred_suite, now);
    if store.exclusive() {
        let released = store.release_all_claims().await?;
        if released > 0 {
            tracing::info!(released, "released registration claims of the previous run");
        }
    }

    let sessions = SessionTable::new(cfg.max_sessions, cfg.max_sessions_per_ip);
    // The only writer restores its sessions; gateways on a shared store load them on demand.
    let records = if store.exclusive() {
        store.load_sessions(now, cfg.max_sessions).await?
    } else {
        Vec::new()
    };
    let (mut loaded, mut skipped) = (0usize, 0usize);
    let mut evicted = Vec::new();
    for r in records.into_iter().rev() {
        match ServerSession::import(&storage_key, &r.session_id, &r.sealed, &sc_config) {
            Ok(s) => {
                let live = Live::new(s, ClientGroup::parse(&r.client_group), r.generation);
                evicted.extend(end_sessions(
                    sessions.insert(Arc::new(live)).into_iter().map(|(l, _)| l),
                ));
                loaded += 1;
            }
            Err(_) => skipped += 1,
        }
    }
    store.delete_sessions(evicted).await?;
    tracing::info!(loaded, skipped, key_id = %public_key.key_id, "sessions restored");

    let mut trusted = TrustedProxies::new(cfg.trusted_proxies.clone());
    if cfg.test_env {
        trusted = trusted.with_loopback();
    }
    let rates = store
        .shared_rates()
        .unwrap_or_else(|| Arc::new(MemoryRates::new(&cfg.limits)));
    tracing::info!(store = %store.describe(), shared = !store.exclusive(), "store open");
    let app = Arc::new(App {
        server: std::sync::RwLock::new(Arc::new(server)),
        sc_config,
        storage_key,
        answer_headers,
        store,
        sessions,
        limits: Limits::new(&cfg.limits, rates),
        readiness: Readiness::default(),
        trusted: trusted.clone(),
        inflight: Inflight::default(),
        hash_slots: Semaphore::new(cfg.hash_concurrency.max(1)),
        metrics: Metrics::default(),
        tasks: TaskTracker::default(),
        cfg: cfg.clone(),
    });

    let mut router = Router::new()
        .route(PATH_PUBLIC_KEY, get(handlers::public_key))
        .route(PATH_PUBLIC_KEYS, get(handlers::public_keys))
        .route(PATH_SESSION, post(handlers::session_open))
        .route(PATH_SESSION_CLOSE, post(handlers::session_close));
    if cfg.routes.password_init {
        router = router.route(PATH_PASSWORD_INIT, post(password_init::handler));
    }
    if cfg.test_env {
        router = router.route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            headers::require_cloudflare,
        ));
    }
    // Probes: outside the Cloudflare check (load balancers do not send its headers).
    let router = router
        .route(health::PATH_HEALTHZ, get(health::healthz))
        .route(health::PATH_READYZ, get(health::readyz));
    let router = crate::routes::fallback(router, &cfg)?.with_state(app.clone());
    let router = crate::webdemo::apply(router, cfg.web_demo, &public_key)?;
    let router = crate::cors::apply(router, &cfg.cors_origins)?;

    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let net_cfg = NetConfig {
        timeouts: cfg.timeouts,
        max_connections: cfg.max_connections,
        max_connections_per_ip: cfg.max_connections_per_ip,
        trusted,
        clock: cfg.clock.clone(),
    };
    let metrics_listening = match cfg.metrics_listen {
        Some(at) => {
            let l = tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("binding --metrics-listen {at}"))?;
            let r = Router::new()
                .route(health::PATH_METRICS, get(health::metrics))
                .with_state(app.clone());
            let l = net::serve(l, r, net_cfg.clone(), app.clone())?;
            tracing::info!(addr = %l.addr, "metrics on /metrics");
            Some(l)
        }
        None => None,
    };
    let listening = net::serve(listener, router, net_cfg, app.clone())?;
    let addr = listening.addr;
    let key_refresher = tokio::spawn(refresh_keys(app.clone(), from_files, loaded_keys));
    let sweeper_app = app.clone();
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(sweeper_app.cfg.sweep_interval);
        tick.tick().await;
        loop {
            tick.tick().await;
            sweep(&sweeper_app).await;
        }
    });
    tracing::info!(
        %addr,
        max_connections = net::effective_max_connections(cfg.max_connections),
        "listening"
    );
    Ok(Gateway {
        app,
        public_key,
        listening: Some(listening),
        metrics_listening,
        addr,
        sweeper,
        key_refresher,
        lock,
    })
}

/// The batch size of sweeps: the lock is released between batches.
const SWEEP_BATCH: usize = 1024;
/// The most batches of each kind one sweep runs (the rest waits for the next sweep).
const SWEEP_MAX_BATCHES: usize = 64;

/// Drop expired sessions and limiter keys whose window passed from memory, in batches; then the
/// store's expired sessions, used registrations and (shared stores) old limiter entries, in
/// bounded batches (with PostgreSQL on whichever gateway holds the sweep lock).
async fn sweep(app: &Arc<App>) {
    let now = app.cfg.clock.now_ms();
    loop {
        let (gone, _) = app.sessions.sweep_expired(now, SWEEP_BATCH);
        let n = gone.len();
        end_sessions(gone);
        if n < SWEEP_BATCH {
            break;
        }
        tokio::task::yield_now().await;
    }
    loop {
        let s = app.limits.sweep(now, SWEEP_BATCH);
        if s.removed == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    match app.store.sweep(now, SWEEP_BATCH, SWEEP_MAX_BATCHES).await {
        Ok(s) if s.skipped => tracing::debug!("another gateway sweeps the store"),
        Ok(s) => {
            if s.sessions + s.registrations + s.rate_entries > 0 {
                tracing::debug!(
                    sessions = s.sessions,
                    registrations = s.registrations,
                    rate_entries = s.rate_entries,
                    "swept the store"
                );
            }
        }
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "sweeping the store failed"),
    }
}
