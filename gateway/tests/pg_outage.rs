//! PostgreSQL stopped for a few seconds under load: two `scv2 serve` processes answer 503
//! `SYSTEM.SERVICE_UNAVAILABLE` in plaintext while it is down (and `/readyz` says so), answer
//! normally when it is back without being restarted, and accept nothing twice.
//!
//! Its own test binary: it stops the shared test cluster of `scripts/with-postgres.sh`
//! (`SCV2_TEST_PG_BIN`, `SCV2_TEST_PG_DATA`, `SCV2_TEST_PG_OPTS`), so no other test may run
//! meanwhile. Bounded: 30 clients, at most 40 requests each, 60 s.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Serve, R};
use reqwest::Method;
use scv2_gateway::clock::system_now_ms;
use scv2_gateway::config::Database;
use scv2_gateway::paths::PATH_PASSWORD_INIT;
use scv2_gateway::store::TokenHash;
use scv2_gateway::{ClientOptions, ScClient};
use serde_json::json;

const INIT: &str = PATH_PASSWORD_INIT;

/// `pg_ctl ARGS` on the test cluster (as `postgres` when running as root).
fn pg_ctl(args: &[&str]) -> R {
    let bin = std::env::var("SCV2_TEST_PG_BIN")?;
    let data = std::env::var("SCV2_TEST_PG_DATA")?;
    let ctl = format!("{bin}/pg_ctl");
    let mut cmd = if rustix::process::geteuid().is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &ctl]);
        c
    } else {
        Command::new(&ctl)
    };
    cmd.args(["-D", &data]).args(args);
    let out = cmd.output()?;
    anyhow::ensure!(
        out.status.success(),
        "pg_ctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn start_postgres() -> R {
    let data = std::env::var("SCV2_TEST_PG_DATA")?;
    let opts = std::env::var("SCV2_TEST_PG_OPTS")?;
    let log = format!("{data}/../server.log");
    pg_ctl(&["-l", &log, "-w", "-t", "60", "start", "-o", &opts])
}

async fn readyz(base: &str) -> u16 {
    let c = reqwest::Client::new();
    match c
        .get(format!("{base}/readyz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// What one client saw.
#[derive(Debug, Default)]
struct Seen {
    /// Envelopes that got their type 129.
    answered: usize,
    /// Plaintext 503 SYSTEM.SERVICE_UNAVAILABLE (or no answer), each followed by a
    /// retransmission of the same bytes.
    unavailable: usize,
    /// The bizIds of 201s received (one envelope; several when retransmitted).
    biz: Vec<String>,
    sid: String,
}

async fn client_run(cs: Vec<ScClient>, token: String, key_id: String, init_at: usize) -> R<Seen> {
    let deadline = Instant::now() + Duration::from_secs(45);
    let s = cs[0].open_session(&key_id).await?;
    let mut seen = Seen {
        sid: s.session_id().to_owned(),
        ..Seen::default()
    };
    for k in 0..40usize {
        if Instant::now() > deadline {
            break;
        }
        let body = if k == init_at {
            json!({"sessionId": token, "password": "NewP@ssw0rd"}).to_string()
        } else {
            "{}".to_owned()
        };
        let (p, env) = cs[0].seal(&s, "POST", INIT, body.as_bytes())?;
        let mut pending = Some(p);
        let mut attempt = 0usize;
        loop {
            anyhow::ensure!(
                Instant::now() < deadline,
                "no answer to request {k} in time"
            );
            let c = &cs[(k + attempt) % cs.len()];
            let h = c.standard_headers(Some(s.session_id()));
            let raw = c.send(Method::POST, INIT, h, env.clone()).await;
            match raw {
                Ok(raw)
                    if raw.body.len() > 16
                        && raw.body[..4] == scv2::wire::data_header(scv2::wire::TYPE_RESPONSE) =>
                {
                    let r = c.read_answer(
                        &s,
                        pending.take().ok_or_else(|| anyhow::anyhow!("pending"))?,
                        "POST",
                        INIT,
                        raw,
                    )?;
                    seen.answered += 1;
                    if k == init_at {
                        anyhow::ensure!(r.status == 201, "init: {} {}", r.status, r.body);
                        seen.biz
                            .push(r.body["data"]["bizId"].as_str().unwrap_or("").to_owned());
                    } else {
                        anyhow::ensure!(r.status == 400, "{} {}", r.status, r.body);
                    }
                    break;
                }
                Ok(raw) => {
                    let code = raw
                        .json()
                        .ok()
                        .and_then(|v| v["code"].as_str().map(str::to_owned));
                    anyhow::ensure!(
                        raw.status == 503 && code.as_deref() == Some("SYSTEM.SERVICE_UNAVAILABLE"),
                        "HTTP {} {code:?}",
                        raw.status
                    );
                    seen.unavailable += 1;
                }
                Err(_) => seen.unavailable += 1,
            }
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    Ok(seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_for_seconds_under_load() -> R {
    let Some(url) = common::pg_url("postgres_stopped_for_seconds_under_load") else {
        return Ok(());
    };
    let db = common::fresh_database(&url).await?;
    let key = common::test_storage_key_hex();
    let args = [
        "--db",
        db.as_str(),
        "--test-env",
        "--argon2-m-kib",
        "1024",
        "--argon2-t",
        "1",
        "--log-level",
        "error",
        "--db-statement-timeout-ms",
        "1000",
        "--init-rate-per-session",
        "1000",
        "--init-rate-per-client",
        "1000",
        "--init-rate-per-ip",
        "1000",
    ];
    let mut gws = [
        Serve::start(&args, &[("SCV2_STORAGE_KEY", &key)])?,
        Serve::start(&args, &[("SCV2_STORAGE_KEY", &key)])?,
    ];
    let pids: Vec<u32> = gws.iter().map(Serve::pid).collect();
    let store = common::open_store(&Database::Postgres(db.clone())).await?;
    let mut o = ClientOptions::new(&gws[0].url);
    o.cf_ip = Some("192.0.2.1".into());
    let doc = ScClient::new(o)?.public_key().await?;
    let (key_id, public) = (
        doc["keyId"].as_str().unwrap_or("").to_owned(),
        doc["publicKey"].as_str().unwrap_or("").to_owned(),
    );
    let n = 30usize;
    let mut tasks = Vec::new();
    for i in 0..n {
        let token = scv2_gateway::util::new_token()?;
        store
            .add_registration(
                TokenHash::of(&token),
                &format!("o{i:02}@example.com"),
                "Outage",
                system_now_ms(),
                86_400_000,
            )
            .await?;
        let mut cs = Vec::new();
        for g in [i % 2, (i + 1) % 2] {
            let mut o = ClientOptions::new(&gws[g].url);
            o.client_hash = format!("outage-{i}");
            o.cf_ip = Some(format!("198.18.9.{}", i + 1));
            let mut c = ScClient::new(o)?;
            c.pin(&key_id, &public)?;
            cs.push(c);
        }
        // The password inits fall before, during and after the outage.
        tasks.push(tokio::spawn(client_run(
            cs,
            token,
            key_id.clone(),
            4 + 3 * (i % 8),
        )));
    }
    drop(store);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stopped = Instant::now();
    pg_ctl(&["-m", "fast", "-w", "-t", "60", "stop"])?;
    // Not ready while the database is down (within a second or two).
    let mut not_ready = 0;
    for _ in 0..30 {
        if readyz(&gws[0].url).await == 503 {
            not_ready = 503;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wait = Duration::from_secs(3).saturating_sub(stopped.elapsed());
    tokio::time::sleep(wait).await;
    let down_for = stopped.elapsed();
    start_postgres()?;
    let back = Instant::now();
    let mut ready_after = None;
    for _ in 0..150 {
        if readyz(&gws[1].url).await == 200 {
            ready_after = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(tokio::time::timeout(Duration::from_secs(60), t).await???);
    }
    let alive = gws.iter_mut().all(Serve::alive);
    let unavailable: usize = seen.iter().map(|s| s.unavailable).sum();
    let answered: usize = seen.iter().map(|s| s.answered).sum();
    // Nothing accepted twice: each session's generation is the number of its envelopes that
    // were answered, and each token made one user.
    let c = common::pg_client(&db).await?;
    let mut mismatched = 0;
    for s in &seen {
        let row = c
            .query_one(
                "SELECT generation FROM sc_sessions WHERE session_id = $1",
                &[&s.sid],
            )
            .await?;
        let g: i64 = row.get(0);
        if g != s.answered as i64 {
            mismatched += 1;
        }
    }
    let users: i64 = c.query_one("SELECT count(*) FROM users", &[]).await?.get(0);
    let distinct_biz: std::collections::HashSet<&String> =
        seen.iter().flat_map(|s| s.biz.iter()).collect();
    println!(
        "outage: PostgreSQL stopped for {:.1} s under {n} clients: {unavailable} answers were 503 \
         SYSTEM.SERVICE_UNAVAILABLE (then retransmitted), /readyz {not_ready} while down and 200 \
         {:.1} s after the restart; {answered} envelopes answered in all, {mismatched} sessions \
         whose generation differs from their answered envelopes, {users} users from {} distinct \
         201s; gateways alive without a restart: {alive} (pids {pids:?})",
        down_for.as_secs_f64(),
        ready_after.map_or(f64::NAN, |d| d.as_secs_f64()),
        distinct_biz.len()
    );
    assert!(unavailable > 0, "no 503 while the database was down");
    assert_eq!(not_ready, 503);
    assert!(ready_after.is_some(), "not ready again after the restart");
    assert!(alive);
    assert_eq!(gws.iter().map(Serve::pid).collect::<Vec<_>>(), pids);
    assert_eq!(mismatched, 0);
    assert_eq!(users, n as i64);
    assert_eq!(distinct_biz.len(), n);
    assert!(seen.iter().all(|s| s.biz.len() == 1));
    Ok(())
}
