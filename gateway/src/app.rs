//! The state every handler shares, the gateway's counters, and the tracker of requests that run
//! on after their connection is gone.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use scv2::{Server, ServerConfig, StorageKey};
use tokio::sync::{Notify, Semaphore};

use crate::answer_headers::HeadersKey;
use crate::channel::Inflight;
use crate::client_ip::TrustedProxies;
use crate::config::GatewayConfig;
use crate::limits::{LimiterSizes, Limits};
use crate::sessions::SessionTable;
use crate::store::Store;

/// Shared state.
pub struct App {
    /// The configuration.
    pub cfg: GatewayConfig,
    /// The core server (static keys; replaced when the stored keys change: `scv2 keys`).
    pub server: RwLock<Arc<Server>>,
    /// The core configuration sessions are imported with.
    pub sc_config: ServerConfig,
    /// Seals sessions at rest.
    pub storage_key: StorageKey,
    /// Seals the response headers kept with cached answers (proxy mode).
    pub answer_headers: HeadersKey,
    /// The store.
    pub store: Arc<dyn Store>,
    /// Live sessions.
    pub sessions: SessionTable,
    /// Rate limits.
    pub limits: Limits,
    /// The last `/readyz` result.
    pub readiness: crate::health::Readiness,
    /// Whose client-address headers are believed.
    pub trusted: TrustedProxies,
    /// Requests between open and commit, by (session, envelope digest).
    pub inflight: Inflight,
    /// Concurrent Argon2 hashes.
    pub hash_slots: Semaphore,
    /// Counters.
    pub metrics: Metrics,
    /// Detached request tasks.
    pub tasks: TaskTracker,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("cfg", &self.cfg)
            .field("store", &self.store.describe())
            .finish_non_exhaustive()
    }
}

/// Monotonic counters (read with [`App::snapshot`] or `Gateway::metrics`).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Argon2 hashes computed.
    pub argon2_hashes: AtomicU64,
    /// Retransmissions answered with the cached type 129.
    pub retransmissions: AtomicU64,
    /// Commits refused for a generation conflict.
    pub commit_conflicts: AtomicU64,
    /// Sessions loaded from a shared store because they were not in memory.
    pub session_loads: AtomicU64,
    /// Cached sessions replaced by a newer state from the store (another gateway moved them on).
    pub session_reloads: AtomicU64,
    /// Connections refused at accept because their address had too many.
    pub connections_refused_per_ip: AtomicU64,
    /// Connections refused at accept because every slot had a request in progress.
    pub connections_refused_full: AtomicU64,
    /// Connections closed to make room for a new one (idle or still sending headers).
    pub connections_evicted: AtomicU64,
    /// Connections closed because their headers did not arrive in time.
    pub header_timeouts: AtomicU64,
    /// Keep-alive connections closed for idleness.
    pub idle_closes: AtomicU64,
    /// Requests answered 408 because their body did not arrive in time.
    pub body_timeouts: AtomicU64,
    /// Requests answered 503 because the whole request took too long.
    pub request_timeouts: AtomicU64,
    /// Open connections now.
    pub open_connections: AtomicUsize,
}

/// A copy of the counters and table sizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Argon2 hashes computed.
    pub argon2_hashes: u64,
    /// Retransmissions answered with the cached type 129.
    pub retransmissions: u64,
    /// Commits refused for a generation conflict.
    pub commit_conflicts: u64,
    /// Sessions loaded from a shared store on a miss.
    pub session_loads: u64,
    /// Cached sessions replaced by a newer stored state.
    pub session_reloads: u64,
    /// Database round trips so far.
    pub db_round_trips: u64,
    /// Database transactions so far.
    pub db_transactions: u64,
    /// Connections refused per address.
    pub connections_refused_per_ip: u64,
    /// Connections refused: every slot busy.
    pub connections_refused_full: u64,
    /// Connections evicted for room.
    pub connections_evicted: u64,
    /// Header timeouts.
    pub header_timeouts: u64,
    /// Idle closes.
    pub idle_closes: u64,
    /// Body timeouts.
    pub body_timeouts: u64,
    /// Whole-request timeouts.
    pub request_timeouts: u64,
    /// Open connections.
    pub open_connections: usize,
    /// Live sessions.
    pub sessions: usize,
    /// Sessions evicted by the per-address cap.
    pub sessions_evicted_per_ip: u64,
    /// Sessions evicted by the global cap.
    pub sessions_evicted_global: u64,
    /// Limiter table sizes.
    pub limiters: LimiterSizes,
}

impl App {
    /// The core server now.
    pub fn server(&self) -> Arc<Server> {
        self.server
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Counters and sizes now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let m = &self.metrics;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (per_ip, global) = self.sessions.evictions();
        let db = self.store.stats();
        MetricsSnapshot {
            argon2_hashes: get(&m.argon2_hashes),
            retransmissions: get(&m.retransmissions),
            commit_conflicts: get(&m.commit_conflicts),
            session_loads: get(&m.session_loads),
            session_reloads: get(&m.session_reloads),
            db_round_trips: db.round_trips,
            db_transactions: db.transactions,
            connections_refused_per_ip: get(&m.connections_refused_per_ip),
            connections_refused_full: get(&m.connections_refused_full),
            connections_evicted: get(&m.connections_evicted),
            header_timeouts: get(&m.header_timeouts),
            idle_closes: get(&m.idle_closes),
            body_timeouts: get(&m.body_timeouts),
            request_timeouts: get(&m.request_timeouts),
            open_connections: m.open_connections.load(Ordering::Relaxed),
            sessions: self.sessions.len(),
            sessions_evicted_per_ip: per_ip,
            sessions_evicted_global: global,
            limiters: self.limits.sizes(),
        }
    }
}

/// Counts detached tasks so shutdown can wait for them.
#[derive(Debug, Default)]
pub struct TaskTracker {
    running: AtomicUsize,
    idle: Notify,
}

/// One tracked task; dropping it marks the task done.
#[derive(Debug)]
pub struct TaskToken(Arc<App>);

impl TaskTracker {
    /// Register a task of `app`.
    pub fn start(app: &Arc<App>) -> TaskToken {
        app.tasks.running.fetch_add(1, Ordering::AcqRel);
        TaskToken(app.clone())
    }

    /// Wait until no task runs.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.running.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for TaskToken {
    fn drop(&mut self) {
        if self.0.tasks.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.tasks.idle.notify_waiters();
        }
    }
}
