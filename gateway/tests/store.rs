//! The store test suite: the same scenarios against SQLite and PostgreSQL (`name::sqlite`,
//! `name::postgres`; PostgreSQL needs `scripts/with-postgres.sh`, see `tests/common`), plus what
//! only a shared store does: migrations applied once by gateways starting together, the session
//! row held by a request transaction, rate-limit counters shared by two gateways, the sweep lock,
//! server keys sealed at rest.

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{open_store, Backend, TempDir, R};
use scv2_gateway::limits::LimitsConfig;
use scv2_gateway::ratelimit::{MemoryRates, RateKey, RateSpec, RateStore, RateTable};
use scv2_gateway::store::{
    is_unavailable, CachedAnswer, Claim, Commit, Effect, EffectOutcome, PgOptions, PgStore,
    SessionRecord, SessionUpdate, Store, StoredKey, TokenHash,
};

both_stores!(
    stale_generations_are_refused,
    answers_are_cached_per_session_at_most_16,
    claims_are_single_and_end_with_the_transaction,
    a_completed_registration_creates_one_user,
    rate_limits_slide_and_refusals_count_nowhere,
    sweeps_remove_what_expired,
    missing_and_expired_sessions_do_not_begin,
);

struct Fixture {
    _dir: TempDir,
    store: Box<dyn Store>,
}

async fn fixture(b: &Backend) -> R<Fixture> {
    let dir = TempDir::new("scv2-store");
    let db = b.fresh(&dir).await?;
    let store = open_store(&db).await?;
    Ok(Fixture { _dir: dir, store })
}

fn record(sid: &str, group: &str, created: u64, expires: u64) -> SessionRecord {
    SessionRecord {
        session_id: sid.into(),
        sealed: blob(0),
        generation: 0,
        expires_at_ms: expires,
        client_group: group.into(),
        last_used_ms: created,
    }
}

/// An export blob's header (version 2, generation) and filler: stores read only the header.
fn blob(g: u64) -> Vec<u8> {
    [vec![2], g.to_be_bytes().to_vec(), vec![0; 28]].concat()
}

fn commit(sid: &str, expected: u64, effect: Effect, envelope: Vec<u8>) -> Commit {
    Commit {
        session_id: sid.into(),
        expected_generation: expected,
        update: Some(SessionUpdate {
            sealed: blob(expected + 1),
            generation: expected + 1,
            last_used_ms: 10,
        }),
        effect,
        seal: Box::new(move |outcome| {
            let status = match outcome {
                EffectOutcome::UserCreated(_) => 201,
                EffectOutcome::RegistrationGone => 404,
                _ => 200,
            };
            Ok(CachedAnswer {
                digest: scv2_gateway::util::sha256(&[&envelope]),
                status,
                code: "2000".into(),
                // Stands for the sealed response headers of proxy mode: kept byte for byte.
                headers: envelope.iter().rev().copied().collect(),
                envelope,
            })
        }),
        cache_answer: true,
    }
}

const FAR: u64 = 9_000_000_000_000;

async fn stale_generations_are_refused(b: Backend) -> R {
    let f = fixture(&b).await?;
    let refused = common::stale_generation_refused(f.store.as_ref()).await?;
    assert_eq!(refused, 3);
    Ok(())
}

async fn answers_are_cached_per_session_at_most_16(b: Backend) -> R {
    let f = fixture(&b).await?;
    f.store
        .create_session(record("s-a", "g", 1, FAR), Vec::new(), 32)
        .await?;
    for g in 0..20u64 {
        let l = f.store.begin("s-a", Some(g), 2).await?.expect("session");
        assert_eq!(l.generation, g);
        let c =
            l.tx.commit(commit("s-a", g, Effect::None, vec![g as u8; 3]))
                .await;
        assert!(c.is_ok(), "commit {g}: {:?}", c.err());
    }
    let answers = f.store.cached_answers("s-a").await?;
    let mut kept: Vec<u8> = answers.iter().map(|a| a.envelope[0]).collect();
    kept.sort();
    assert_eq!(kept, (4..20).collect::<Vec<u8>>());
    // The same list is read inside a request transaction.
    let mut l = f.store.begin("s-a", Some(20), 3).await?.expect("session");
    assert_eq!(l.tx.cached_answers().await?.len(), 16);
    l.tx.finish().await?;
    // Ending the session deletes it and its answers.
    let l = f.store.begin("s-a", Some(20), 3).await?.expect("session");
    let mut end = commit("s-a", 20, Effect::EndSession, vec![99]);
    end.cache_answer = false;
    let c = l.tx.commit(end).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(c.outcome, EffectOutcome::SessionEnded);
    assert!(f.store.load_session("s-a", 3).await?.is_none());
    assert!(f.store.cached_answers("s-a").await?.is_empty());
    Ok(())
}

async fn claims_are_single_and_end_with_the_transaction(b: Backend) -> R {
    let f = fixture(&b).await?;
    let t = TokenHash::of("tok-claims");
    f.store
        .add_registration(t, "c@example.com", "C", 0, 1_000_000)
        .await?;
    for sid in ["s-1", "s-2", "s-3"] {
        f.store
            .create_session(record(sid, "g", 1, FAR), Vec::new(), 32)
            .await?;
    }
    let mut one = f.store.begin("s-1", Some(0), 10).await?.expect("s-1");
    let mut two = f.store.begin("s-2", Some(0), 10).await?.expect("s-2");
    assert!(matches!(
        one.tx.claim_registration(t, 10, 100_000).await?,
        Claim::Claimed(ref r) if r.email == "c@example.com"
    ));
    // A concurrent claim does not wait: the token is unavailable meanwhile.
    let started = Instant::now();
    assert_eq!(
        two.tx.claim_registration(t, 11, 100_000).await?,
        Claim::Unavailable
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        two.tx
            .claim_registration(TokenHash::of("nope"), 11, 100_000)
            .await?,
        Claim::Unknown
    );
    two.tx.finish().await?;
    // The first transaction releases its claim (its hash failed) and ends: claimable again.
    one.tx.release_claim().await?;
    one.tx.finish().await?;
    let mut three = f.store.begin("s-3", Some(0), 12).await?.expect("s-3");
    assert!(matches!(
        three.tx.claim_registration(t, 12, 100_000).await?,
        Claim::Claimed(_)
    ));
    three.tx.finish().await?;
    Ok(())
}

async fn a_completed_registration_creates_one_user(b: Backend) -> R {
    let f = fixture(&b).await?;
    let t = TokenHash::of("tok-user");
    f.store
        .add_registration(t, "u@example.com", "U", 0, 1_000_000)
        .await?;
    assert!(
        f.store
            .add_registration(TokenHash::of("other"), "u@example.com", "U", 0, 1_000_000)
            .await
            .is_err(),
        "a second pending registration for one email"
    );
    f.store
        .create_session(record("s-u", "g", 1, FAR), Vec::new(), 32)
        .await?;
    let mut l = f.store.begin("s-u", Some(0), 10).await?.expect("s-u");
    assert!(matches!(
        l.tx.claim_registration(t, 10, 100_000).await?,
        Claim::Claimed(_)
    ));
    let effect = Effect::CompleteRegistration {
        token: t,
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        now_ms: 10,
    };
    let c =
        l.tx.commit(commit("s-u", 0, effect, vec![7]))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    match c.outcome {
        EffectOutcome::UserCreated(u) => {
            assert_eq!(
                (u.biz_id.as_str(), u.email.as_str()),
                ("ACC_USR_00000001", "u@example.com")
            )
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(c.answer.status, 201);
    assert_eq!(f.store.user_count().await?, 1);
    assert!(f.store.password_hash("u@example.com").await?.is_some());
    // Used: unavailable from now on, and no second user.
    let mut l = f.store.begin("s-u", Some(1), 11).await?.expect("s-u");
    assert_eq!(
        l.tx.claim_registration(t, 11, 100_000).await?,
        Claim::Unavailable
    );
    l.tx.finish().await?;
    assert_eq!(f.store.user_count().await?, 1);
    Ok(())
}

async fn rate_limits_slide_and_refusals_count_nowhere(b: Backend) -> R {
    let f = fixture(&b).await?;
    let cfg = LimitsConfig {
        init_per_ip: RateSpec::per_secs(5, 300),
        init_per_client: RateSpec::per_secs(2, 300),
        ..LimitsConfig::default()
    };
    // SQLite: the gateway's memory; PostgreSQL: the store's counters.
    let rates: Arc<dyn RateStore> = match f.store.shared_rates() {
        Some(r) => r,
        None => Arc::new(MemoryRates::new(&cfg)),
    };
    let ip = RateKey {
        table: RateTable::InitIp,
        key: [1; 16],
        spec: cfg.init_per_ip,
    };
    let client = |k: u8| RateKey {
        table: RateTable::InitClient,
        key: [k; 16],
        spec: cfg.init_per_client,
    };
    let t0 = 1_000_000u64;
    assert_eq!(rates.hit(&[ip, client(1)], t0).await?, Ok(()));
    assert_eq!(rates.hit(&[ip, client(1)], t0 + 1000).await?, Ok(()));
    // The client key refuses the 3rd: the address key is not charged for it.
    assert_eq!(rates.hit(&[ip, client(1)], t0 + 2000).await?, Err(298));
    for k in 2..5u8 {
        assert_eq!(rates.hit(&[ip, client(k)], t0 + 3000).await?, Ok(()));
    }
    assert_eq!(rates.check(&ip, t0 + 3000).await?, Err(297));
    assert_eq!(rates.hit(&[ip, client(9)], t0 + 3000).await?, Err(297));
    // Sliding: the first hit leaves the window at t0 + 300 s, exactly one slot frees.
    assert_eq!(rates.hit(&[ip, client(9)], t0 + 299_999).await?, Err(1));
    assert_eq!(rates.check(&ip, t0 + 300_000).await?, Ok(()));
    assert_eq!(rates.hit(&[ip, client(9)], t0 + 300_000).await?, Ok(()));
    assert_eq!(rates.hit(&[ip, client(8)], t0 + 300_000).await?, Err(1));
    Ok(())
}

async fn sweeps_remove_what_expired(b: Backend) -> R {
    let f = fixture(&b).await?;
    for i in 0..30u64 {
        let exp = if i < 20 { 1_000 } else { FAR };
        f.store
            .create_session(
                record(&format!("sw-{i}"), &format!("g{i}"), 1, exp),
                Vec::new(),
                32,
            )
            .await?;
    }
    f.store
        .add_registration(TokenHash::of("old"), "old@example.com", "O", 0, 1_000)
        .await?;
    f.store
        .add_registration(TokenHash::of("new"), "new@example.com", "N", 0, FAR)
        .await?;
    let now = 1_000 + scv2_gateway::store::REGISTRATION_RETENTION_MS;
    let s = f.store.sweep(now, 8, 100).await?;
    assert!(!s.skipped);
    assert_eq!((s.sessions, s.registrations), (20, 1));
    assert_eq!(f.store.load_sessions(now, 100).await?.len(), 10);
    // Bounded: at most `max_batches` batches of `batch` rows per sweep.
    for i in 0..30u64 {
        f.store
            .create_session(
                record(&format!("sw2-{i}"), &format!("h{i}"), 1, 2_000),
                Vec::new(),
                32,
            )
            .await?;
    }
    let s = f.store.sweep(now, 8, 2).await?;
    assert_eq!(s.sessions, 16);
    Ok(())
}

async fn missing_and_expired_sessions_do_not_begin(b: Backend) -> R {
    let f = fixture(&b).await?;
    assert!(f.store.begin("nope", None, 5).await?.is_none());
    f.store
        .create_session(record("s-e", "g", 1, 100), Vec::new(), 32)
        .await?;
    assert!(f
        .store
        .begin("s-e", None, 99)
        .await?
        .is_some_and(|l| l.sealed.is_some()));
    assert!(f.store.begin("s-e", None, 100).await?.is_none());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL only: what several gateways on one database rely on.

async fn pg(test: &str) -> R<Option<(String, String)>> {
    let Some(url) = common::pg_url(test) else {
        return Ok(None);
    };
    let db = common::fresh_database(&url).await?;
    Ok(Some((url, db)))
}

fn opts() -> PgOptions {
    PgOptions {
        storage_key: Some(common::test_storage_key()),
        ..PgOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_migrations_run_once_when_gateways_start_together() -> R {
    let Some((_, db)) = pg("pg_migrations_run_once_when_gateways_start_together").await? else {
        return Ok(());
    };
    let starts = (0..4).map(|_| {
        let db = db.clone();
        async move { PgStore::connect(&db, opts()).await }
    });
    let stores = futures_join_all(starts).await;
    let ok = stores.iter().filter(|s| s.is_ok()).count();
    let c = common::pg_client(&db).await?;
    let rows = c
        .query(
            "SELECT version, count(*) FROM scv2_schema_migrations GROUP BY version \
             ORDER BY version",
            &[],
        )
        .await?;
    let versions: Vec<(i32, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    println!(
        "store: 4 gateways started at once on an empty database: {ok} up, migrations {versions:?}"
    );
    assert_eq!(
        ok,
        4,
        "{:?}",
        stores
            .iter()
            .filter_map(|s| s.as_ref().err())
            .collect::<Vec<_>>()
    );
    // Every migration up to this version, each applied exactly once.
    assert_eq!(
        versions,
        (1..=scv2_gateway::store::postgres::SCHEMA_VERSION)
            .map(|v| (v, 1))
            .collect::<Vec<_>>()
    );
    // A database migrated by a newer scv2 is refused, with a clear message.
    c.execute(
        "INSERT INTO scv2_schema_migrations (version, name) VALUES (999, 'future')",
        &[],
    )
    .await?;
    let err = PgStore::connect(&db, opts())
        .await
        .err()
        .map(|e| format!("{e:#}"));
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("schema version 999")),
        "{err:?}"
    );
    Ok(())
}

async fn futures_join_all<F, T>(futs: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_a_request_transaction_holds_its_session_on_every_gateway() -> R {
    let Some((_, db)) = pg("pg_a_request_transaction_holds_its_session_on_every_gateway").await?
    else {
        return Ok(());
    };
    let a = PgStore::connect(&db, opts()).await?;
    let b = PgStore::connect(&db, opts()).await?;
    a.create_session(record("s-l", "g", 1, FAR), Vec::new(), 32)
        .await?;
    let la = a.begin("s-l", Some(0), 5).await?.expect("s-l");
    assert!(la.sealed.is_none(), "the caller's copy is current");
    let b2 = b.clone();
    let waiting = tokio::spawn(async move { b2.begin("s-l", Some(0), 6).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "B did not wait for A's transaction");
    la.tx
        .commit(commit("s-l", 0, Effect::None, vec![1]))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let lb = waiting.await??.expect("s-l");
    // B sees A's commit: the new generation, and the state to import (its copy was older).
    assert_eq!(lb.generation, 1);
    assert_eq!(
        lb.sealed.as_deref().map(scv2::export_generation),
        Some(Ok(1))
    );
    lb.tx.finish().await?;
    // A dropped transaction (a crashed request) releases the row at once.
    let la = a.begin("s-l", Some(1), 7).await?.expect("s-l");
    drop(la);
    let t = Instant::now();
    let lb = b.begin("s-l", Some(1), 8).await?.expect("s-l");
    assert!(t.elapsed() < Duration::from_secs(2));
    lb.tx.finish().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_rate_limits_hold_across_gateways() -> R {
    let Some((_, db)) = pg("pg_rate_limits_hold_across_gateways").await? else {
        return Ok(());
    };
    let a = PgStore::connect(&db, opts()).await?;
    let b = PgStore::connect(&db, opts()).await?;
    let key = RateKey {
        table: RateTable::InitClient,
        key: [3; 16],
        spec: RateSpec::per_secs(5, 300),
    };
    let mut allowed = 0;
    for i in 0..8u64 {
        let s: &PgStore = if i % 2 == 0 { &a } else { &b };
        if RateStore::hit(s, &[key], 1_000 + i).await?.is_ok() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5);
    // Concurrent hits from both gateways: still 5 in all.
    let key2 = RateKey {
        key: [4; 16],
        ..key
    };
    let mut tasks = Vec::new();
    for i in 0..20u64 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            RateStore::hit(&s, &[key2], 2_000).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await??.is_ok() {
            ok += 1;
        }
    }
    println!("store: 20 concurrent hits of one key from two gateways: {ok} allowed (limit 5)");
    assert_eq!(ok, 5);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_sweeps_take_turns_and_clear_rate_entries() -> R {
    let Some((_, db)) = pg("pg_sweeps_take_turns_and_clear_rate_entries").await? else {
        return Ok(());
    };
    let a = PgStore::connect(&db, opts()).await?;
    let key = RateKey {
        table: RateTable::SessionCreate,
        key: [5; 16],
        spec: RateSpec::per_secs(60, 60),
    };
    assert_eq!(RateStore::hit(&a, &[key], 1_000).await?, Ok(()));
    // Another gateway is sweeping (it holds the lock): this one skips.
    let c = common::pg_client(&db).await?;
    c.batch_execute("BEGIN").await?;
    c.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&scv2_gateway::store::postgres::LOCK_SWEEP],
    )
    .await?;
    assert!(a.sweep(100_000, 100, 10).await?.skipped);
    c.batch_execute("COMMIT").await?;
    let s = a.sweep(100_000, 100, 10).await?;
    assert_eq!((s.skipped, s.rate_entries), (false, 1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_server_keys_are_sealed_and_created_once() -> R {
    let Some((_, db)) = pg("pg_server_keys_are_sealed_and_created_once").await? else {
        return Ok(());
    };
    let stores: Vec<PgStore> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(PgStore::connect(&db, opts()).await?);
        }
        v
    };
    let mut tasks = Vec::new();
    for (i, s) in stores.iter().enumerate() {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let k = StoredKey {
                key_id: format!("k-{i}"),
                suite: scv2::Suite::X25519,
                private: zeroize::Zeroizing::new(vec![i as u8 + 1; 32]),
                created_at_ms: 1,
                expires_at_ms: None,
            };
            s.insert_first_server_key(k, 10).await
        }));
    }
    let mut created = 0;
    for t in tasks {
        if t.await?? {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    let keys = stores[0].server_keys().await?;
    assert_eq!(keys.len(), 1);
    let private = keys[0].private.clone();
    // At rest: sealed (the private bytes are not in the row), and useless without the key.
    let c = common::pg_client(&db).await?;
    let row = c
        .query_one("SELECT sealed_private FROM server_keys", &[])
        .await?;
    let sealed: Vec<u8> = row.get(0);
    assert!(!sealed.windows(32).any(|w| w == &private[..]));
    let other = PgStore::connect(
        &db,
        PgOptions {
            storage_key: Some(zeroize::Zeroizing::new([0x11; 32])),
            ..PgOptions::default()
        },
    )
    .await?;
    assert!(other.server_keys().await.is_err());
    let none = PgStore::connect(&db, PgOptions::default()).await?;
    assert!(none.server_keys().await.is_err());
    // The storage key never goes into the shared database.
    assert!(none
        .create_storage_key(zeroize::Zeroizing::new([1; 32]))
        .await
        .is_err());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_the_per_address_session_cap_is_kept_in_the_database() -> R {
    let Some((_, db)) = pg("pg_the_per_address_session_cap_is_kept_in_the_database").await? else {
        return Ok(());
    };
    let a = PgStore::connect(&db, opts()).await?;
    for i in 0..40u64 {
        a.create_session(
            record(&format!("c-{i:02}"), "198.51.100.9", 10 + i, FAR),
            Vec::new(),
            32,
        )
        .await?;
    }
    let mut left: Vec<String> = a
        .load_sessions(1, 100)
        .await?
        .into_iter()
        .map(|r| r.session_id)
        .collect();
    left.sort();
    assert_eq!(left.len(), 32);
    assert_eq!(left.first().map(String::as_str), Some("c-08"));
    Ok(())
}

#[tokio::test]
async fn pg_an_unreachable_database_is_unavailable() -> R {
    // Nothing listens on this port (bound and closed): connection refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let t = Instant::now();
    let err = PgStore::connect(
        &format!("postgres://scv2@127.0.0.1:{port}/none"),
        PgOptions {
            statement_timeout: Duration::from_millis(500),
            ..PgOptions::default()
        },
    )
    .await
    .err()
    .ok_or_else(|| anyhow::anyhow!("connected to nothing"))?;
    assert!(is_unavailable(&err), "{err:#}");
    assert!(t.elapsed() < Duration::from_secs(5));
    Ok(())
}
