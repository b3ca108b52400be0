//! Start-up and shutdown: the database lock, the storage key (external or stored, and moving to
//! an external one), the server keys, the sessions kept from the last run, the router, the HTTP
//! server and the sweeper.

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
use crate::config::GatewayConfig;
use crate::files::{self, DbLock};
use crate::limits::Limits;
use crate::net::{self, Listening, MetricsRef, NetConfig};
use crate::paths::{PATH_PASSWORD_INIT, PATH_PUBLIC_KEY, PATH_SESSION, PATH_SESSION_CLOSE};
use crate::sessions::{Live, SessionTable};
use crate::store::{Reseal, SqliteStore, Store, StoredKey};
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
    addr: SocketAddr,
    sweeper: tokio::task::JoinHandle<()>,
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
        self.sweeper.abort();
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

/// The server keys: key files, plus the database's (not with `--require-external-keys`); a new
/// one in the database when there is none.
async fn server_keys(
    cfg: &GatewayConfig,
    store: &Arc<dyn Store>,
    now: u64,
    in_db: &mut Vec<&'static str>,
) -> anyhow::Result<Vec<StoredKey>> {
    let mut keys = Vec::new();
    for f in &cfg.key_files {
        files::check_private(f, "key file")?;
        keys.push(crate::keyfile::read(f)?);
    }
    let stored = store.server_keys().await?;
    if cfg.require_external_keys {
        if !stored.is_empty() {
            let ids: Vec<&str> = stored.iter().map(|k| k.key_id.as_str()).collect();
            tracing::warn!(
                keys = ?ids,
                "--require-external-keys: the private server keys stored in the database are not used"
            );
        }
    } else {
        for k in stored {
            if !keys.iter().any(|x: &StoredKey| x.key_id == k.key_id) {
                in_db.push("a private server key");
                keys.push(k);
            }
        }
    }
    if keys.is_empty() {
        if cfg.require_external_keys {
            bail!("--require-external-keys: give the server key with --key-file");
        }
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
        tracing::info!(key_id = %k.key_id, "generated the server key (kept in the database)");
        store
            .insert_server_key(StoredKey {
                key_id: k.key_id.clone(),
                private: k.private.clone(),
                created_at_ms: k.created_at_ms,
                expires_at_ms: k.expires_at_ms,
            })
            .await?;
        in_db.push("a private server key");
        keys.push(k);
    }
    Ok(keys)
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
    let db_path = cfg.db_path.clone();
    let lock = tokio::task::spawn_blocking(move || {
        DbLock::acquire_within(&db_path, Duration::from_secs(1))
    })
    .await
    .context("locking the database")??;
    let db_path = cfg.db_path.clone();
    let sqlite = tokio::task::spawn_blocking(move || SqliteStore::open(&db_path))
        .await
        .context("opening the database")??;
    let store: Arc<dyn Store> = Arc::new(sqlite);

    let sc_config = ServerConfig::default()
        .with_padding_block(cfg.padding_block)
        .map_err(|e| anyhow::anyhow!("padding block: {e}"))?;
    let mut in_db = Vec::new();
    let key = storage_key(&cfg, &store, &sc_config, &mut in_db).await?;
    let storage_key = StorageKey::new(&key);
    let answer_headers = HeadersKey::new(&key);
    drop(key);
    let mut server = Server::new(sc_config);
    for k in server_keys(&cfg, &store, now, &mut in_db).await? {
        let key =
            ServerKey::from_private_bytes(&k.key_id, &k.private, k.created_at_ms, k.expires_at_ms)
                .map_err(|e| anyhow::anyhow!("server key {}: {e}", k.key_id))?;
        server
            .add_key(key)
            .map_err(|e| anyhow::anyhow!("server key {}: {e}", k.key_id))?;
    }
    in_db.dedup();
    if !in_db.is_empty() {
        tracing::warn!(
            "{} kept in the database {}: whoever can read that file (or a backup of it) can \
             decrypt the sessions and impersonate the server; in production give \
             SCV2_STORAGE_KEY (or --storage-key-file) and --key-file, and run with \
             --require-external-keys (gateway/README.md, Running in production)",
            in_db.join(" and "),
            cfg.db_path.display()
        );
    }
    let public_key = server
        .current_key(now)
        .map(|k| k.document())
        .context("no unexpired server key")?;
    if store.exclusive() {
        let released = store.release_all_claims().await?;
        if released > 0 {
            tracing::info!(released, "released registration claims of the previous run");
        }
    }

    let sessions = SessionTable::new(cfg.max_sessions, cfg.max_sessions_per_ip);
    let records = store.load_sessions(now, cfg.max_sessions).await?;
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
    let app = Arc::new(App {
        server,
        sc_config,
        storage_key,
        answer_headers,
        store,
        sessions,
        limits: Limits::new(&cfg.limits),
        trusted: trusted.clone(),
        inflight: Inflight::default(),
        hash_slots: Semaphore::new(cfg.hash_concurrency.max(1)),
        metrics: Metrics::default(),
        tasks: TaskTracker::default(),
        cfg: cfg.clone(),
    });

    let mut router = Router::new()
        .route(PATH_PUBLIC_KEY, get(handlers::public_key))
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
    let listening = net::serve(listener, router, net_cfg, app.clone())?;
    let addr = listening.addr;
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
        addr,
        sweeper,
        lock: Some(lock),
    })
}

/// The batch size of sweeps: the lock is released between batches.
const SWEEP_BATCH: usize = 1024;

/// Drop expired sessions (memory and store) and limiter keys whose window passed, in batches.
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
    loop {
        match app.store.purge_expired_sessions(now, SWEEP_BATCH).await {
            Ok(n) if n == SWEEP_BATCH => tokio::task::yield_now().await,
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "purging expired sessions failed");
                break;
            }
        }
    }
}
