//! Operations endpoints: `GET /healthz` (the process answers), `GET /readyz` (the store is
//! reachable and its schema is this version's: a load balancer sends traffic only then), and
//! `GET /metrics` on the separate `--metrics-listen` address (the counters of
//! [`crate::app::MetricsSnapshot`] in the Prometheus text format).
//!
//! `/healthz` and `/readyz` need no SCv2 header and no Cloudflare header, count against no
//! limit, and `/readyz` asks the store at most once per second (answers in between reuse the
//! last result), so probing it cannot load the database.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::answer::Req;
use crate::app::App;

/// Path of the liveness probe.
pub const PATH_HEALTHZ: &str = "/healthz";
/// Path of the readiness probe.
pub const PATH_READYZ: &str = "/readyz";
/// Path of the counters (on `--metrics-listen` only).
pub const PATH_METRICS: &str = "/metrics";

/// How long a readiness result is reused.
const READY_CACHE: Duration = Duration::from_secs(1);

/// The last readiness result.
#[derive(Debug, Default)]
pub struct Readiness {
    last: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Readiness {
    async fn check(&self, app: &App) -> Result<(), String> {
        let mut last = self.last.lock().await;
        if let Some((at, r)) = last.as_ref() {
            if at.elapsed() < READY_CACHE {
                return r.clone();
            }
        }
        let timeout = app.cfg.pg.statement_timeout + Duration::from_secs(1);
        let r = match tokio::time::timeout(timeout, app.store.ready()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(_) => Err("the database did not answer in time".to_owned()),
        };
        *last = Some((Instant::now(), r.clone()));
        r
    }
}

/// `GET /healthz`: 200 while the process serves.
pub async fn healthz(req: Req) -> Response {
    req.plain(StatusCode::OK, "2000", json!({"status": "up"}))
}

/// `GET /readyz`: 200 when the store is reachable with this version's schema, else 503
/// `SYSTEM.SERVICE_UNAVAILABLE`.
pub async fn readyz(State(app): State<Arc<App>>, req: Req) -> Response {
    match app.readiness.check(&app).await {
        Ok(()) => req.plain(
            StatusCode::OK,
            "2000",
            json!({"status": "ready", "store": app.store.describe()}),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            req.plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "SYSTEM.SERVICE_UNAVAILABLE",
                json!({"status": "not ready"}),
            )
        }
    }
}

/// `GET /metrics` (Prometheus text format).
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    let m = app.snapshot();
    let mut out = String::new();
    let mut line = |name: &str, help: &str, kind: &str, v: u64| {
        let _ = writeln!(
            out,
            "# HELP scv2_{name} {help}\n# TYPE scv2_{name} {kind}\nscv2_{name} {v}"
        );
    };
    line(
        "argon2_hashes_total",
        "Argon2 hashes computed.",
        "counter",
        m.argon2_hashes,
    );
    line(
        "retransmissions_total",
        "Retransmissions answered with the cached type 129.",
        "counter",
        m.retransmissions,
    );
    line(
        "commit_conflicts_total",
        "Commits refused for a generation conflict.",
        "counter",
        m.commit_conflicts,
    );
    line(
        "session_loads_total",
        "Sessions loaded from the store on a miss.",
        "counter",
        m.session_loads,
    );
    line(
        "session_reloads_total",
        "Cached sessions replaced by a newer stored state.",
        "counter",
        m.session_reloads,
    );
    line(
        "db_round_trips_total",
        "Database round trips.",
        "counter",
        m.db_round_trips,
    );
    line(
        "db_transactions_total",
        "Database transactions.",
        "counter",
        m.db_transactions,
    );
    line(
        "request_timeouts_total",
        "Requests answered 503 for the whole-request timeout.",
        "counter",
        m.request_timeouts,
    );
    line(
        "sessions",
        "Live sessions in memory.",
        "gauge",
        m.sessions as u64,
    );
    line(
        "open_connections",
        "Open connections.",
        "gauge",
        m.open_connections as u64,
    );
    let mut r = out.into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}
