//! Several gateways on one PostgreSQL database behave as one: three real `scv2 serve` processes
//! on loopback ports and one database of the throwaway cluster (`scripts/with-postgres.sh`;
//! without it every test here says it skipped, and fails under `CI=true`).
//!
//! Each test prints the figure it measures (`-- --nocapture`). Every loop is bounded in count and
//! time; all traffic is on 127.0.0.1.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Serve, R};
use reqwest::Method;
use scv2::ClientSession;
use scv2_gateway::clock::system_now_ms;
use scv2_gateway::config::Database;
use scv2_gateway::paths::PATH_PASSWORD_INIT;
use scv2_gateway::store::{Store, TokenHash};
use scv2_gateway::{ClientOptions, ScClient};
use serde_json::json;

const INIT: &str = PATH_PASSWORD_INIT;

/// A database with `n` gateways on it.
struct Cluster {
    db: String,
    store: Box<dyn Store>,
    gws: Vec<Serve>,
    key: (String, String),
}

/// Start `n` gateways at once on a fresh database (they migrate it and create its first server
/// key between them).
async fn cluster(test: &str, n: usize, extra: &[&str]) -> R<Option<Cluster>> {
    let Some(url) = common::pg_url(test) else {
        return Ok(None);
    };
    let db = common::fresh_database(&url).await?;
    let key = common::test_storage_key_hex();
    let mut args: Vec<String> = [
        "--db",
        &db,
        "--test-env",
        "--argon2-m-kib",
        "1024",
        "--argon2-t",
        "1",
        "--log-level",
        "warn",
        "--db-statement-timeout-ms",
        "3000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let starts: Vec<_> = (0..n)
        .map(|_| {
            let args = args.clone();
            let key = key.clone();
            std::thread::spawn(move || {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                Serve::start(&a, &[("SCV2_STORAGE_KEY", &key)])
            })
        })
        .collect();
    let mut gws = Vec::new();
    for s in starts {
        gws.push(
            s.join()
                .map_err(|_| anyhow::anyhow!("start thread panicked"))??,
        );
    }
    let store = common::open_store(&Database::Postgres(db.clone())).await?;
    // Every gateway advertises the same key.
    let mut docs = Vec::new();
    for g in &gws {
        let mut o = ClientOptions::new(&g.url);
        o.cf_ip = Some("192.0.2.1".into());
        let d = ScClient::new(o)?.public_key().await?;
        docs.push((
            d["keyId"].as_str().unwrap_or("").to_owned(),
            d["publicKey"].as_str().unwrap_or("").to_owned(),
        ));
    }
    anyhow::ensure!(
        docs.iter().all(|d| d == &docs[0]) && !docs[0].0.is_empty(),
        "gateways advertise different keys: {docs:?}"
    );
    let key = docs[0].clone();
    Ok(Some(Cluster {
        db,
        store,
        gws,
        key,
    }))
}

impl Cluster {
    /// A client of gateway `i`, from the address `ip` (CF-Connecting-IP under --test-env).
    fn client(&self, i: usize, hash: &str, ip: &str) -> R<ScClient> {
        let mut o = ClientOptions::new(&self.gws[i].url);
        o.client_hash = hash.to_owned();
        o.cf_ip = Some(ip.to_owned());
        let mut c = ScClient::new(o)?;
        c.pin(&self.key.0, &self.key.1)?;
        Ok(c)
    }

    async fn registration(&self, email: &str) -> R<String> {
        let token = scv2_gateway::util::new_token()?;
        self.store
            .add_registration(
                TokenHash::of(&token),
                email,
                "Multi",
                system_now_ms(),
                86_400_000,
            )
            .await?;
        Ok(token)
    }

    async fn sum(&self, metric: &str) -> R<u64> {
        let mut n = 0;
        for g in &self.gws {
            n += g.metric(metric).await?;
        }
        Ok(n)
    }

    async fn generation(&self, sid: &str) -> R<Option<i64>> {
        let c = common::pg_client(&self.db).await?;
        let row = c
            .query_opt(
                "SELECT generation FROM sc_sessions WHERE session_id = $1",
                &[&sid],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }
}

fn init_body(token: &str) -> Vec<u8> {
    json!({"sessionId": token, "password": "NewP@ssw0rd"})
        .to_string()
        .into_bytes()
}

fn is_129(body: &[u8]) -> bool {
    body.len() > 16 && body[..4] == scv2::wire::data_header(scv2::wire::TYPE_RESPONSE)
}

const GENEROUS: [&str; 8] = [
    "--init-rate-per-client",
    "100000",
    "--init-rate-per-ip",
    "100000",
    "--init-rate-per-session",
    "100000",
    "--session-rate-per-min",
    "100000",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_on_a_init_on_b_close_on_c() -> R {
    let Some(cl) = cluster("handshake_on_a_init_on_b_close_on_c", 3, &[]).await? else {
        return Ok(());
    };
    // The load balancer's probes, without any SCv2 or Cloudflare header.
    for g in &cl.gws {
        for probe in ["/healthz", "/readyz"] {
            let r = reqwest::get(format!("{}{probe}", g.url)).await?;
            assert_eq!(r.status().as_u16(), 200, "{probe}");
        }
    }
    // A registration made with the CLI, on the shared database.
    let out = std::process::Command::new(common::bin())
        .args(["registration", "add", "--db", &cl.db])
        .args(["--email", "abc@example.com", "--name", "A B C"])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)?
        .lines()
        .last()
        .unwrap_or("")
        .to_owned();
    let ip = "198.18.0.10";
    let (a, b, c) = (
        cl.client(0, "h-abc", ip)?,
        cl.client(1, "h-abc", ip)?,
        cl.client(2, "h-abc", ip)?,
    );
    let s = a.open_session(&cl.key.0).await?;
    let r = b.call(&s, "POST", INIT, &init_body(&token)).await?;
    assert_eq!(
        (r.status, r.encrypted, r.code()),
        (201, true, "2000"),
        "{}",
        r.body
    );
    let r = c.close(&s).await?;
    assert_eq!((r.status, r.encrypted), (200, true), "{}", r.body);
    // Closed for every gateway.
    let r = a.call(&s, "POST", INIT, b"{}").await?;
    assert_eq!(
        (r.status, r.encrypted, r.code()),
        (401, false, "SECURE_CHANNEL.SESSION_NOT_FOUND")
    );
    assert_eq!(cl.store.user_count().await?, 1);
    println!(
        "multi: key {} advertised by all 3; session opened on A, 201 on B, closed on C, then \
         refused on A",
        cl.key.0
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_across_gateways_and_200_racing_rounds() -> R {
    let Some(cl) = cluster(
        "replays_across_gateways_and_200_racing_rounds",
        3,
        &GENEROUS,
    )
    .await?
    else {
        return Ok(());
    };
    let ip = "198.18.1.10";
    let cs: Vec<ScClient> = (0..3)
        .map(|i| cl.client(i, "h-race", ip))
        .collect::<R<_>>()?;
    let s = cs[0].open_session(&cl.key.0).await?;
    let h = || cs[0].standard_headers(Some(s.session_id()));
    // Accepted on A; the same bytes to B and C get A's answer; other bytes with that sequence
    // number are refused.
    let (_p, env) = cs[0].seal(&s, "POST", INIT, b"{}")?;
    let first = cs[0].send(Method::POST, INIT, h(), env.clone()).await?;
    assert_eq!(first.status, 400);
    assert!(is_129(&first.body));
    for c in &cs[1..] {
        let again = c.send(Method::POST, INIT, h(), env.clone()).await?;
        assert_eq!((again.status, &again.body), (400, &first.body));
        let mut other = env.clone();
        other[20] ^= 1;
        let r = c.send(Method::POST, INIT, h(), other).await?;
        assert_eq!(r.status, 400);
        assert_eq!(r.json()?["code"], "SECURE_CHANNEL.INVALID_PAYLOAD");
    }
    let before = cl.sum("retransmissions_total").await?;
    // 200 rounds: one request, two copies sent to A and B at the same moment.
    let rounds = 200;
    let mut ivs: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    ivs.insert(first.body[4..16].to_vec(), first.body.clone());
    let (mut identical, mut reused) = (0, 0);
    let t = Instant::now();
    for i in 0..rounds {
        let body = if i % 2 == 0 {
            b"{}".to_vec()
        } else {
            init_body("no-such-token")
        };
        let (_p, env) = cs[0].seal(&s, "POST", INIT, &body)?;
        let (x, y) = tokio::join!(
            cs[0].send(Method::POST, INIT, h(), env.clone()),
            cs[1].send(Method::POST, INIT, h(), env.clone())
        );
        let (x, y) = (x?, y?);
        assert!(
            is_129(&x.body) && is_129(&y.body),
            "round {i}: {} {}",
            x.status,
            y.status
        );
        if x.body == y.body && x.status == y.status {
            identical += 1;
        }
        for a in [&x.body, &y.body] {
            let iv = a[4..16].to_vec();
            match ivs.get(&iv) {
                Some(prev) if prev != a => reused += 1,
                Some(_) => {}
                None => {
                    ivs.insert(iv, a.clone());
                }
            }
        }
    }
    let retransmissions = cl.sum("retransmissions_total").await? - before;
    let generation = cl.generation(s.session_id()).await?;
    println!(
        "multi: {rounds} rounds of two copies to A and B at once in {:.1} s: {identical} rounds \
         with byte-identical answers, {retransmissions} answered from the cache, generation \
         {generation:?} (1 + {rounds} accepted), {} distinct IVs, {reused} IV(s) in two different \
         answers",
        t.elapsed().as_secs_f64(),
        ivs.len()
    );
    assert_eq!(identical, rounds);
    assert_eq!(retransmissions, rounds as u64);
    assert_eq!(generation, Some(1 + rounds as i64));
    assert_eq!(ivs.len(), 1 + rounds);
    assert_eq!(reused, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_init_limits_hold_across_gateways() -> R {
    let Some(cl) = cluster("password_init_limits_hold_across_gateways", 3, &[]).await? else {
        return Ok(());
    };
    // (address, X-Client-Hash): 5 per 300 s, through A, B, C, A, B, then C; each request on a
    // new session opened on yet another gateway.
    let ip = "198.18.2.10";
    let mut statuses = Vec::new();
    for i in 0..6usize {
        let opener = cl.client((i + 1) % 3, "h-limit", ip)?;
        let s = opener.open_session(&cl.key.0).await?;
        let c = cl.client(i % 3, "h-limit", ip)?;
        let r = c.call(&s, "POST", INIT, b"{}").await?;
        statuses.push((r.status, r.raw.header("retry-after").map(str::to_owned)));
    }
    println!("multi: 6 inits of one (address, hash) over A/B/C: {statuses:?}");
    assert!(statuses[..5].iter().all(|(s, _)| *s == 400));
    assert_eq!(statuses[5].0, 429);
    assert!(statuses[5].1.is_some());
    // The address limit (20 per 300 s, whatever the hash): 21 inits with rotating hashes.
    let ip = "198.18.2.11";
    let mut allowed = 0;
    for i in 0..21usize {
        let c = cl.client(i % 3, &format!("rot-{i}"), ip)?;
        let s = cl
            .client((i + 2) % 3, "x", ip)?
            .open_session(&cl.key.0)
            .await?;
        let r = c.call(&s, "POST", INIT, b"{}").await?;
        if r.status != 429 {
            allowed += 1;
        } else {
            assert_eq!(i, 20, "refused early");
        }
    }
    println!("multi: 21 inits from one address with rotating hashes over A/B/C: {allowed} allowed");
    assert_eq!(allowed, 20);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_inits_naming_one_token() -> R {
    let Some(cl) = cluster(
        "twenty_concurrent_inits_naming_one_token",
        3,
        &["--token-failures-per-hour", "1000"],
    )
    .await?
    else {
        return Ok(());
    };
    let token = cl.registration("one@example.com").await?;
    let mut prepared = Vec::new();
    for i in 0..20usize {
        let ip = format!("198.18.3.{}", i + 1);
        let c = cl.client(i % 3, &format!("tok-{i}"), &ip)?;
        let s = cl
            .client((i + 1) % 3, "x", &ip)?
            .open_session(&cl.key.0)
            .await?;
        let (p, e) = c.seal(&s, "POST", INIT, &init_body(&token))?;
        prepared.push((c, s, p, e));
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(prepared.len()));
    let mut tasks = Vec::new();
    for (c, s, p, e) in prepared {
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let h = c.standard_headers(Some(s.session_id()));
            let body = c.body_of(&e);
            barrier.wait().await;
            let raw = c.send(Method::POST, INIT, h, body).await?;
            let r = c.read_answer(&s, p, "POST", INIT, raw)?;
            anyhow::ensure!(r.encrypted, "{}", r.body);
            Ok::<u16, anyhow::Error>(r.status)
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(tokio::time::timeout(Duration::from_secs(60), t).await???);
    }
    let hashes = cl.sum("argon2_hashes_total").await?;
    let created = statuses.iter().filter(|&&s| s == 201).count();
    let not_found = statuses.iter().filter(|&&s| s == 404).count();
    println!(
        "multi: 20 concurrent inits of one token over 3 gateways: {created} × 201, {not_found} × \
         404, {hashes} Argon2 hash(es) in all"
    );
    assert_eq!((created, not_found), (1, 19));
    assert_eq!(hashes, 1);
    assert_eq!(cl.store.user_count().await?, 1);
    Ok(())
}

/// One client of the kill test: its session, its envelope, the gateways it tries in turn.
async fn kill_test_client(
    cs: Vec<ScClient>,
    home: usize,
    token: String,
    key_id: String,
    mut go: tokio::sync::watch::Receiver<bool>,
    done: Arc<std::sync::atomic::AtomicUsize>,
) -> R<(Option<String>, bool, usize)> {
    let (s, opened_on): (ClientSession, usize) = {
        let mut opened = None;
        for k in 0..3 {
            if let Ok(s) = cs[(home + k) % 3].open_session(&key_id).await {
                opened = Some((s, (home + k) % 3));
                break;
            }
        }
        opened.ok_or_else(|| anyhow::anyhow!("no gateway opened a session"))?
    };
    let (p, env) = cs[home].seal(&s, "POST", INIT, &init_body(&token))?;
    // Every client has its session before the load starts.
    let _ = go.wait_for(|g| *g).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut moved = false;
    let mut attempt = 0usize;
    let answer = loop {
        anyhow::ensure!(Instant::now() < deadline, "no answer within 60 s");
        let c = &cs[(home + attempt) % 3];
        let h = c.standard_headers(Some(s.session_id()));
        match c.send(Method::POST, INIT, h, env.clone()).await {
            Ok(raw) if is_129(&raw.body) => break raw,
            Ok(raw) => {
                // 503 while a gateway went away: retransmit the same bytes.
                anyhow::ensure!(
                    raw.status == 503,
                    "HTTP {} {:?}",
                    raw.status,
                    raw.json().ok()
                );
            }
            Err(_) => {}
        }
        attempt += 1;
        moved = true;
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let r = cs[home].read_answer(&s, p, "POST", INIT, answer)?;
    anyhow::ensure!(r.status == 201, "HTTP {} {}", r.status, r.body);
    let biz = r.body["data"]["bizId"].as_str().map(str::to_owned);
    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // The session goes on (no new handshake): closed on whichever gateway answers.
    let mut closed = false;
    for k in 0..3 {
        if let Ok(r) = cs[(home + attempt + k) % 3].close(&s).await {
            if r.status == 200 {
                closed = true;
                break;
            }
        }
    }
    anyhow::ensure!(closed, "the session could not be closed");
    Ok((biz, moved, opened_on))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_one_gateway_during_200_clients() -> R {
    let Some(mut cl) = cluster(
        "kill_9_of_one_gateway_during_200_clients",
        3,
        &["--hash-concurrency", "2"],
    )
    .await?
    else {
        return Ok(());
    };
    let n = 200usize;
    let mut tokens = Vec::new();
    for i in 0..n {
        tokens.push(cl.registration(&format!("k{i:03}@example.com")).await?);
    }
    let (go_tx, go) = tokio::sync::watch::channel(false);
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let ip = format!("198.19.{}.{}", i / 200, i % 200 + 1);
        let cs: Vec<ScClient> = (0..3)
            .map(|g| cl.client(g, &format!("kill-{i}"), &ip))
            .collect::<R<_>>()?;
        let key_id = cl.key.0.clone();
        tasks.push(tokio::spawn(kill_test_client(
            cs,
            i % 3,
            token,
            key_id,
            go.clone(),
            done.clone(),
        )));
    }
    // Sessions open; the load starts; after the first 30 answers, B is killed with SIGKILL.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = Instant::now();
    let _ = go_tx.send(true);
    let kill_deadline = Instant::now() + Duration::from_secs(30);
    while done.load(std::sync::atomic::Ordering::Relaxed) < 30 && Instant::now() < kill_deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let answered_before_kill = done.load(std::sync::atomic::Ordering::Relaxed);
    cl.gws[1].kill9()?;
    let mut bizs = Vec::new();
    let (mut moved, mut orphans) = (0, 0);
    for task in tasks {
        let (biz, m, opened_on) = tokio::time::timeout(Duration::from_secs(120), task).await???;
        bizs.push(biz.ok_or_else(|| anyhow::anyhow!("201 without bizId"))?);
        if m {
            moved += 1;
            // Its session was opened on the gateway that was killed, and it went on elsewhere.
            if opened_on == 1 {
                orphans += 1;
            }
        }
    }
    let c = common::pg_client(&cl.db).await?;
    let rows = c.query("SELECT biz_id, email FROM users", &[]).await?;
    let users: HashMap<String, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let emails: std::collections::HashSet<String> = users.values().cloned().collect();
    let seen_in_db = bizs.iter().filter(|b| users.contains_key(*b)).count();
    let distinct: std::collections::HashSet<&String> = bizs.iter().collect();
    println!(
        "multi: 200 clients, gateway B killed with SIGKILL after {answered_before_kill} answers: {} × 201 seen, {} of \
         them users in the database, {} users ({} emails), {moved} clients retransmitted to \
         another gateway with the same session ({orphans} of them had opened it on B), in {:.1} s",
        bizs.len(),
        seen_in_db,
        users.len(),
        emails.len(),
        t.elapsed().as_secs_f64()
    );
    assert!(!cl.gws[1].alive());
    assert_eq!(bizs.len(), n);
    assert_eq!(
        distinct.len(),
        n,
        "a 201 was answered twice with different users"
    );
    assert_eq!(seen_in_db, n);
    assert_eq!((users.len(), emails.len()), (n, n));
    assert!(orphans > 0, "no client of the killed gateway had to move");
    Ok(())
}

/// Run `scv2 keys ARGS` with the test storage key; returns stdout.
fn keys_cmd(args: &[&str]) -> R<String> {
    let out = std::process::Command::new(common::bin())
        .arg("keys")
        .args(args)
        .env("SCV2_STORAGE_KEY", common::test_storage_key_hex())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "scv2 keys {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// Poll `f` every 100 ms for at most 10 s.
async fn eventually<F, Fut>(what: &str, f: F) -> R
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("not within 10 s: {what}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_on_every_gateway() -> R {
    let Some(cl) = cluster(
        "keys_rotate_on_every_gateway",
        2,
        &["--key-refresh-secs", "1"],
    )
    .await?
    else {
        return Ok(());
    };
    let old = cl.key.clone();
    let ip = "198.18.5.1";
    let old_session = cl.client(0, "rot", ip)?.open_session(&old.0).await?;
    // A new key, advertised in 4 s: every gateway accepts it within the refresh interval.
    let doc: serde_json::Value = serde_json::from_str(&keys_cmd(&[
        "add",
        "--db",
        &cl.db,
        "--key-id",
        "k-next",
        "--activate-in-secs",
        "4",
    ])?)?;
    let public = doc["publicKey"].as_str().unwrap_or("").to_owned();
    let t = Instant::now();
    for g in 0..2 {
        let mut o = ClientOptions::new(&cl.gws[g].url);
        o.cf_ip = Some(ip.into());
        let mut c = ScClient::new(o)?;
        c.pin("k-next", &public)?;
        eventually("the new key accepted", || async {
            c.open_session("k-next").await.is_ok()
        })
        .await?;
        let advertised = c.public_key().await?["keyId"].clone();
        assert_eq!(
            advertised,
            old.0.as_str(),
            "advertised before its createdAt"
        );
    }
    let list = keys_cmd(&["list", "--db", &cl.db])?;
    assert!(
        list.contains("k-next") && list.contains("next (accepted"),
        "{list}"
    );
    // From its createdAt on, every gateway advertises it.
    for g in 0..2 {
        let mut o = ClientOptions::new(&cl.gws[g].url);
        o.cf_ip = Some(ip.into());
        let c = ScClient::new(o)?;
        eventually("the new key advertised", || async {
            c.public_key().await.is_ok_and(|d| d["keyId"] == "k-next")
        })
        .await?;
    }
    let accepted_in = t.elapsed();
    // Retire the old key: no new sessions for it anywhere; sessions opened with it go on.
    keys_cmd(&["retire", "--db", &cl.db, "--key-id", &old.0])?;
    for g in 0..2 {
        let c = cl.client(g, "rot", ip)?;
        eventually("the old key refused", || async {
            c.open_session(&old.0)
                .await
                .is_err_and(|e| e.to_string().contains("UNKNOWN_KEY_ID"))
        })
        .await?;
        let r = c.call(&old_session, "POST", INIT, b"{}").await?;
        assert_eq!((r.status, r.encrypted), (400, true), "{}", r.body);
    }
    // The last key is not retired without --force.
    let out = std::process::Command::new(common::bin())
        .args(["keys", "retire", "--db", &cl.db, "--key-id", "k-next"])
        .output()?;
    assert!(!out.status.success());
    println!(
        "multi: scv2 keys add: accepted by both gateways, advertised by both after {:.1} s \
         (--activate-in-secs 4); retired old key refused for new sessions, its open session \
         still answered",
        accepted_in.as_secs_f64()
    );
    Ok(())
}

#[tokio::test]
async fn postgres_needs_an_external_storage_key() -> R {
    let Some(url) = common::pg_url("postgres_needs_an_external_storage_key") else {
        return Ok(());
    };
    let db = common::fresh_database(&url).await?;
    let err = match Serve::start(&["--db", &db], &[]) {
        Ok(s) => anyhow::bail!("started without a storage key: {}", s.log()),
        Err(e) => e.to_string(),
    };
    println!(
        "multi: serve on PostgreSQL without a storage key: {}",
        err.lines().last().unwrap_or("")
    );
    assert!(
        err.contains("SCV2_STORAGE_KEY or --storage-key-file"),
        "{err}"
    );
    Ok(())
}
