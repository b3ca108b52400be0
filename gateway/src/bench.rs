//! `scv2 bench` (hidden): an SCv2 load generator for the gateway's figures in BENCHMARKS.md.
//!
//! It speaks SCv2 with the same client as `scv2 call` ([`crate::client::ScClient`]): `C` workers,
//! each with its own client address (`CF-Connecting-IP`, so the gateways must run with
//! `--test-env`), send requests for `D` seconds to the given gateways in turn (request `k` of a
//! worker goes to gateway `(worker + k) mod N`: no session affinity, as behind a load balancer
//! that knows nothing of SCv2), and measure each request's latency. Modes:
//!
//! - `init`: a session opened once per worker, then password inits, each with a fresh init token
//!   (201; the registrations are created in the store before the run);
//! - `close`: open a session, close it (the close is measured);
//! - `session`: open sessions (the type 1 → type 130 handshake).
//!
//! Reported: requests, requests/s, p50/p99 latency, the gateways' CPU time per request
//! (utime + stime of `/proc/PID/stat` over the run, `--pid`), and the database work per request
//! from the gateways' own counters (`--metrics`) and, with `--pg-stats`, from PostgreSQL's
//! `pg_stat_database.xact_commit`. Loopback only: it refuses other addresses.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::client::{ClientOptions, ScClient};
use crate::clock::system_now_ms;
use crate::config::Database;
use crate::paths::PATH_PASSWORD_INIT;
use crate::store::{PgOptions, PgStore, SqliteStore, Store, TokenHash};

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Password inits on an open session.
    Init,
    /// Session closes (each on a session opened for it).
    Close,
    /// Session opens.
    Session,
}

impl std::str::FromStr for Mode {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Mode> {
        Ok(match s {
            "init" => Mode::Init,
            "close" => Mode::Close,
            "session" => Mode::Session,
            _ => bail!("--mode: init, close or session"),
        })
    }
}

/// A run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Gateway base URLs (loopback).
    pub urls: Vec<String>,
    /// The store, to create registrations (`init`) before the run.
    pub db: Option<String>,
    /// What to measure.
    pub mode: Mode,
    /// Concurrent workers.
    pub concurrency: usize,
    /// Length of the run.
    pub duration: Duration,
    /// Registrations to create for `init`.
    pub registrations: usize,
    /// Gateway processes whose CPU time is measured.
    pub pids: Vec<u32>,
    /// Gateway metrics base URLs (`--metrics-listen`) for the database counters.
    pub metrics: Vec<String>,
    /// A PostgreSQL URL whose `pg_stat_database.xact_commit` is read before and after.
    pub pg_stats: Option<String>,
    /// A label for the output.
    pub label: String,
}

fn loopback_only(url: &str) -> anyhow::Result<()> {
    let host = url
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    let ok = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !ok {
        bail!("scv2 bench sends load to loopback addresses only, not {url}");
    }
    Ok(())
}

fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3; utime and stime are fields 14 and 15.
    let get = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(get(14) + get(15))
}

async fn metric(base: &str, name: &str) -> anyhow::Result<u64> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await?
        .text()
        .await?;
    let want = format!("scv2_{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&want))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no {name} at {base}"))
}

async fn metrics_sum(bases: &[String], name: &str) -> anyhow::Result<u64> {
    let mut n = 0;
    for b in bases {
        n += metric(b, name).await?;
    }
    Ok(n)
}

async fn xact_commit(url: &str) -> anyhow::Result<i64> {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let row = c
        .query_one(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// Create `n` registrations; returns their tokens.
async fn registrations(db: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let now = system_now_ms();
    let run = crate::util::hex(&crate::util::random_bytes::<4>()?);
    let mut tokens = Vec::with_capacity(n);
    let mut regs = Vec::with_capacity(n);
    for i in 0..n {
        let t = crate::util::new_token()?;
        regs.push((
            TokenHash::of(&t),
            format!("bench-{run}-{i}@example.com"),
            "Bench".to_owned(),
        ));
        tokens.push(t);
    }
    match Database::parse(db) {
        Database::Sqlite(p) => {
            let s = SqliteStore::open(&p)?;
            tokio::task::spawn_blocking(move || s.add_registrations_bulk(&regs, now, 86_400_000))
                .await??;
        }
        Database::Postgres(url) => {
            let s = Arc::new(PgStore::connect(&url, PgOptions::default()).await?);
            let regs = Arc::new(Mutex::new(regs));
            let mut tasks = Vec::new();
            for _ in 0..8 {
                let (s, regs) = (s.clone(), regs.clone());
                tasks.push(tokio::spawn(async move {
                    loop {
                        let next = regs.lock().ok().and_then(|mut r| r.pop());
                        let Some((t, email, name)) = next else {
                            return Ok::<(), anyhow::Error>(());
                        };
                        s.add_registration(t, &email, &name, now, 86_400_000)
                            .await?;
                    }
                }));
            }
            for t in tasks {
                t.await??;
            }
        }
    }
    Ok(tokens)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

struct Worker {
    clients: Vec<ScClient>,
    key_id: String,
}

/// Run one measurement and return its figures as JSON (also printed).
pub async fn run(cfg: BenchConfig) -> anyhow::Result<Value> {
    if cfg.urls.is_empty() {
        bail!("--url: at least one gateway");
    }
    for u in cfg.urls.iter().chain(cfg.metrics.iter()) {
        loopback_only(u)?;
    }
    let first = ScClient::new({
        let mut o = ClientOptions::new(&cfg.urls[0]);
        o.cf_ip = Some("192.0.2.1".into());
        o
    })?;
    let doc = first.public_key().await?;
    let key_id = doc["keyId"].as_str().context("keyId")?.to_owned();
    let public = doc["publicKey"].as_str().context("publicKey")?.to_owned();
    // The advertised key's suite (`scv2 serve --preferred-suite`): a benchmark may trust it.
    let suite = doc["algorithm"]
        .as_str()
        .and_then(scv2::Suite::from_name)
        .context("algorithm")?;
    let tokens = match (cfg.mode, &cfg.db) {
        (Mode::Init, Some(db)) => registrations(db, cfg.registrations).await?,
        (Mode::Init, None) => bail!("--mode init needs --db (the registrations are created there)"),
        _ => Vec::new(),
    };
    let tokens = Arc::new(Mutex::new(tokens));
    let mut workers = Vec::new();
    for w in 0..cfg.concurrency.max(1) {
        let mut clients = Vec::new();
        for u in &cfg.urls {
            let mut o = ClientOptions::new(u);
            o.client_hash = format!("bench-{w}");
            o.cf_ip = Some(format!(
                "10.{}.{}.{}",
                (w >> 16) & 255,
                (w >> 8) & 255,
                w & 255 | 1
            ));
            let mut c = ScClient::new(o)?;
            c.pin_with_suite(&key_id, suite, &public)?;
            clients.push(c);
        }
        workers.push(Worker {
            clients,
            key_id: key_id.clone(),
        });
    }
    // Warm up: every worker's connections and one session each (not measured).
    let mut opened = Vec::new();
    for w in &workers {
        opened.push(Some(w.clients[0].open_session(&w.key_id).await?));
    }
    let cpu0: u64 = cfg.pids.iter().map(|p| cpu_ticks(*p).unwrap_or(0)).sum();
    let (rt0, tx0, rl0) = if cfg.metrics.is_empty() {
        (0, 0, 0)
    } else {
        (
            metrics_sum(&cfg.metrics, "db_round_trips_total").await?,
            metrics_sum(&cfg.metrics, "db_transactions_total").await?,
            metrics_sum(&cfg.metrics, "session_reloads_total").await?,
        )
    };
    let pg0 = match &cfg.pg_stats {
        Some(u) => Some(xact_commit(u).await?),
        None => None,
    };
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + cfg.duration;
    let mut tasks = Vec::new();
    for (w, (worker, session)) in workers.into_iter().zip(opened).enumerate() {
        let tokens = tokens.clone();
        let errors = errors.clone();
        let mode = cfg.mode;
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u64> = Vec::new();
            let n = worker.clients.len();
            let mut session = session;
            let mut k = w;
            while Instant::now() < deadline {
                k += 1;
                let c = &worker.clients[k % n];
                match mode {
                    Mode::Session => {
                        let t = Instant::now();
                        match c.open_session(&worker.key_id).await {
                            Ok(_) => lat.push(t.elapsed().as_micros() as u64),
                            Err(_) => {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    Mode::Close => {
                        let s = match session.take() {
                            Some(s) => s,
                            None => match c.open_session(&worker.key_id).await {
                                Ok(s) => s,
                                Err(_) => {
                                    errors.fetch_add(1, Ordering::Relaxed);
                                    continue;
                                }
                            },
                        };
                        let closer = &worker.clients[(k + 1) % n];
                        let t = Instant::now();
                        match closer.close(&s).await {
                            Ok(r) if r.status == 200 && r.encrypted => {
                                lat.push(t.elapsed().as_micros() as u64)
                            }
                            _ => {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    Mode::Init => {
                        let Some(s) = session.as_ref() else { break };
                        let Some(token) = tokens.lock().ok().and_then(|mut t| t.pop()) else {
                            break;
                        };
                        let body =
                            json!({"sessionId": token, "password": "NewP@ssw0rd"}).to_string();
                        let t = Instant::now();
                        match c.call(s, "POST", PATH_PASSWORD_INIT, body.as_bytes()).await {
                            Ok(r) if r.status == 201 && r.encrypted => {
                                lat.push(t.elapsed().as_micros() as u64)
                            }
                            _ => {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu1: u64 = cfg.pids.iter().map(|p| cpu_ticks(*p).unwrap_or(0)).sum();
    let (rt1, tx1, rl1) = if cfg.metrics.is_empty() {
        (0, 0, 0)
    } else {
        (
            metrics_sum(&cfg.metrics, "db_round_trips_total").await?,
            metrics_sum(&cfg.metrics, "db_transactions_total").await?,
            metrics_sum(&cfg.metrics, "session_reloads_total").await?,
        )
    };
    let pg1 = match &cfg.pg_stats {
        Some(u) => {
            // PostgreSQL publishes an idle backend's counters within about 10 s.
            tokio::time::sleep(Duration::from_secs(11)).await;
            Some(xact_commit(u).await?)
        }
        None => None,
    };
    all.sort_unstable();
    let n = all.len().max(1) as f64;
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let cpu_ms = (cpu1.saturating_sub(cpu0)) as f64 * 1000.0 / ticks;
    let out = json!({
        "label": cfg.label,
        "mode": format!("{:?}", cfg.mode).to_lowercase(),
        "gateways": cfg.urls.len(),
        "concurrency": cfg.concurrency,
        "duration_s": secs,
        "requests": all.len(),
        "errors": errors.load(Ordering::Relaxed),
        "rps": all.len() as f64 / secs,
        "p50_ms": percentile(&all, 0.50),
        "p99_ms": percentile(&all, 0.99),
        "gateway_cpu_ms_per_request": if cfg.pids.is_empty() { Value::Null } else { json!(cpu_ms / n) },
        "db_round_trips_per_request": if cfg.metrics.is_empty() { Value::Null } else { json!((rt1 - rt0) as f64 / n) },
        "db_transactions_per_request": if cfg.metrics.is_empty() { Value::Null } else { json!((tx1 - tx0) as f64 / n) },
        "session_reloads_per_request": if cfg.metrics.is_empty() { Value::Null } else { json!((rl1 - rl0) as f64 / n) },
        "pg_xact_commit_per_request": match (pg0, pg1) { (Some(a), Some(b)) => json!((b - a) as f64 / n), _ => Value::Null },
    });
    println!("{out}");
    Ok(out)
}
