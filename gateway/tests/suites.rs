//! The two suites in the gateway (issue 14): keys of X25519 and X25519MLKEM768 in one
//! `scv2 serve`, on SQLite and on PostgreSQL — sessions and password init over each,
//! `GET /public-keys`, `--preferred-suite`, a type 1 of the wrong suite for its keyId refused in
//! plaintext, rotation from one suite to the other with `scv2 keys`, `scv2 call --suite`,
//! `scv2 inspect` of hybrid envelopes, and the schema migrations that add the key's suite
//! (SQLite version 2 → 3, PostgreSQL migration 3).

use std::time::Duration;

use scv2::Suite;
use scv2_gateway::config::Database;
use scv2_gateway::paths::{PATH_PASSWORD_INIT, PATH_SESSION};
use scv2_gateway::store::{PgOptions, PgStore, SqliteStore, Store, StoredKey};
use scv2_gateway::{ClientOptions, ScClient};
use serde_json::Value;

#[macro_use]
mod common;

use common::{Backend, Serve, TempDir, R};

both_stores!(both_suites_through_scv2_serve, key_rotation_across_suites);

const PQ: Suite = Suite::X25519MlKem768;

/// A `scv2 serve` on a fresh store of `b`, plus what the admin commands need to reach it.
struct Gw {
    serve: Serve,
    db: String,
    envs: Vec<(&'static str, String)>,
    _dir: TempDir,
}

async fn serve(b: &Backend, extra: &[&str]) -> R<Gw> {
    let dir = TempDir::new("scv2-suites");
    let db = match b.fresh(&dir).await? {
        Database::Sqlite(p) => p.display().to_string(),
        Database::Postgres(u) => u,
    };
    let mut envs = Vec::new();
    if b.is_postgres() {
        envs.push(("SCV2_STORAGE_KEY", common::test_storage_key_hex()));
    }
    let mut args = vec![
        "--db",
        &db,
        "--key-refresh-secs",
        "1",
        "--argon2-m-kib",
        "8192",
        "--argon2-t",
        "1",
    ];
    args.extend_from_slice(extra);
    let env_refs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let serve = Serve::start(&args, &env_refs)?;
    Ok(Gw {
        serve,
        db,
        envs,
        _dir: dir,
    })
}

impl Gw {
    /// Run `scv2 ARGS` against this store; returns stdout (fails on a non-zero exit).
    fn admin(&self, args: &[&str]) -> R<String> {
        let mut cmd = std::process::Command::new(common::bin());
        cmd.args(args).env_remove("SCV2_STORAGE_KEY");
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        let out = cmd.output()?;
        anyhow::ensure!(
            out.status.success(),
            "scv2 {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?)
    }

    /// A pending registration; its init session id.
    fn registration(&self, email: &str) -> R<String> {
        let out = self.admin(&[
            "registration",
            "add",
            "--db",
            &self.db,
            "--email",
            email,
            "--name",
            "Suite User",
        ])?;
        out.lines()
            .last()
            .map(|l| l.trim().to_owned())
            .ok_or_else(|| anyhow::anyhow!("no init session id in {out}"))
    }

    fn client(&self, hash: &str) -> R<ScClient> {
        let mut o = ClientOptions::new(&self.serve.url);
        o.client_hash = hash.to_owned();
        ScClient::new(o)
    }

    /// `GET /public-keys` until `want(list)` holds (the gateway re-reads keys every second).
    async fn keys_until(&self, want: impl Fn(&[Value]) -> bool) -> R<Vec<Value>> {
        let c = self.client("scv2-keys")?;
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let list = c.public_keys().await?;
            if want(&list) {
                return Ok(list);
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the key list never became what was expected: {list:?}\n{}",
                self.serve.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn field<'a>(doc: &'a Value, name: &str) -> &'a str {
    doc.get(name).and_then(Value::as_str).unwrap_or_default()
}

fn of_suite(list: &[Value], suite: Suite) -> Vec<Value> {
    list.iter()
        .filter(|d| field(d, "algorithm") == suite.name())
        .cloned()
        .collect()
}

/// Pin the listed document `doc` in its suite `suite`, open a session, initialize the
/// password of `token`: 201, in a type 129.
async fn init_over(gw: &Gw, hash: &str, suite: Suite, doc: &Value, token: &str) -> R {
    let mut c = gw.client(hash)?;
    let key_id = field(doc, "keyId");
    c.pin_with_suite(key_id, suite, field(doc, "publicKey"))?;
    assert_eq!(c.check_document(doc)?, key_id);
    let session = c.open_session(key_id).await?;
    let body = format!(r#"{{"sessionId":"{token}","password":"Suite-P@ssw0rd-1"}}"#);
    let r = c
        .call(&session, "POST", PATH_PASSWORD_INIT, body.as_bytes())
        .await?;
    assert_eq!(
        (r.status, r.encrypted, r.code()),
        (201, true, "2000"),
        "{suite}: {}",
        r.body
    );
    let r = c.close(&session).await?;
    assert_eq!((r.status, r.encrypted), (200, true), "{}", r.body);
    Ok(())
}

/// POST a raw type 1 to `/session`; the answer must be the plaintext refusal of `e`.
async fn refused_in_plaintext(gw: &Gw, type1: Vec<u8>, e: scv2::Error) -> R {
    let c = gw.client("scv2-wrong-suite")?;
    let r = c
        .send(
            reqwest::Method::POST,
            PATH_SESSION,
            c.standard_headers(None),
            type1,
        )
        .await?;
    let h = e.http();
    let v = r.json()?;
    assert_eq!(r.status, h.status, "{v}");
    assert_eq!(v.get("code").and_then(Value::as_str), Some(h.code), "{v}");
    assert_eq!(v.get("success"), Some(&Value::Bool(false)), "{v}");
    assert!(r.header("x-sc-session-id").is_none());
    Ok(())
}

/// One `scv2 serve` preferring the hybrid suite: its first key is hybrid; an X25519 key added
/// with `scv2 keys add` is loaded beside it; `/public-keys` lists both, `/public-key` keeps the
/// preferred one; password init works over each suite (the library client and `scv2 call
/// --suite`); a type 1 of one suite sent to a keyId of the other is refused in plaintext.
async fn both_suites_through_scv2_serve(b: Backend) -> R {
    let gw = serve(&b, &["--preferred-suite", "x25519mlkem768"]).await?;
    let c = gw.client("scv2-first")?;
    let first = c.public_key().await?;
    assert_eq!(field(&first, "algorithm"), PQ.name(), "{first}");
    assert_eq!(
        first.get("keySize").and_then(Value::as_u64),
        Some(u64::from(PQ.key_size_bits()))
    );
    gw.admin(&[
        "keys",
        "add",
        "--db",
        &gw.db,
        "--suite",
        "x25519",
        "--key-id",
        "k-suites-x",
        "--activate-in-secs",
        "0",
    ])?;
    let list = gw.keys_until(|l| l.len() == 2).await?;
    // Ordered by suite; each entry is the /public-key document of that key.
    assert_eq!(field(&list[0], "keyId"), "k-suites-x");
    assert_eq!(field(&list[0], "algorithm"), Suite::X25519.name());
    assert_eq!(list[1], first);
    for d in &list {
        for k in [
            "keyId",
            "publicKey",
            "algorithm",
            "keySize",
            "createdAt",
            "expiresAt",
        ] {
            assert!(d.get(k).is_some(), "{k} missing in {d}");
        }
    }
    // /public-key still advertises the preferred suite's key, not the newer X25519 one.
    assert_eq!(c.public_key().await?, first);
    let listing = gw.admin(&["keys", "list", "--db", &gw.db])?;
    let line = |id: &str| {
        listing
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line(field(&first, "keyId")).contains("x25519mlkem768"),
        "{listing}"
    );
    assert!(
        line(field(&first, "keyId")).ends_with("advertised"),
        "{listing}"
    );
    assert!(line("k-suites-x").contains(" x25519 "), "{listing}");

    let x = of_suite(&list, Suite::X25519).remove(0);
    init_over(
        &gw,
        "scv2-pq",
        PQ,
        &first,
        &gw.registration("pq@example.com")?,
    )
    .await?;
    init_over(
        &gw,
        "scv2-x",
        Suite::X25519,
        &x,
        &gw.registration("x@example.com")?,
    )
    .await?;

    // `scv2 call --suite x25519mlkem768 --pin …`: the CLI pins the hybrid key.
    let dir = TempDir::new("scv2-suites-call");
    let body = dir.path("body.json");
    let token = gw.registration("cli@example.com")?;
    std::fs::write(
        &body,
        format!(r#"{{"sessionId":"{token}","password":"Cli-P@ssw0rd-1"}}"#),
    )?;
    let out = gw.admin(&[
        "call",
        "--url",
        &gw.serve.url,
        "--suite",
        "x25519mlkem768",
        "--pin",
        field(&first, "publicKey"),
        "--client-hash",
        "scv2-cli-pq",
        "--json-file",
        &body.display().to_string(),
        "POST",
        PATH_PASSWORD_INIT,
    ])?;
    assert!(
        out.contains("HTTP 201 (type-129 envelope, decrypted)"),
        "{out}"
    );
    // A hybrid pin that is not the listed key is refused before anything is sent.
    let other = scv2::ServerKey::generate_with_suite(PQ, "k-other", 0, None, &mut scv2::OsRng)?;
    let wrong = gw.admin(&[
        "call",
        "--url",
        &gw.serve.url,
        "--suite",
        "x25519mlkem768",
        "--pin",
        &other.document().public_key,
        "--json",
        "{}",
        "POST",
        PATH_PASSWORD_INIT,
    ]);
    let wrong = format!(
        "{:#}",
        wrong
            .err()
            .ok_or_else(|| anyhow::anyhow!("wrong pin accepted"))?
    );
    assert!(wrong.contains("does not match the pin"), "{wrong}");

    // An X25519-suite type 1 naming the hybrid keyId, and a hybrid one naming the X25519 keyId.
    let pq_id = field(&first, "keyId");
    let mut cfg = scv2::ClientConfig::new();
    cfg.pin(scv2::PinnedKey::from_spki_base64(
        pq_id,
        field(&x, "publicKey"),
    )?);
    let (_hs, type1) = scv2::ClientHandshake::start(&cfg, pq_id, b"{}", &mut scv2::OsRng)?;
    refused_in_plaintext(&gw, type1, scv2::Error::MalformedEnvelope).await?;
    let mut cfg = scv2::ClientConfig::new();
    cfg.pin(scv2::PinnedKey::from_public_key_base64(
        "k-suites-x",
        PQ,
        field(&first, "publicKey"),
    )?);
    let (_hs, type1) = scv2::ClientHandshake::start(&cfg, "k-suites-x", b"{}", &mut scv2::OsRng)?;
    refused_in_plaintext(&gw, type1, scv2::Error::MalformedEnvelope).await?;
    println!(
        "suites ({b:?}): /public-keys {:?}; both suites opened sessions and initialized passwords",
        list.iter().map(|d| field(d, "keyId")).collect::<Vec<_>>()
    );
    Ok(())
}

/// Rotation from the X25519 suite to the hybrid one on a running `scv2 serve` with
/// `scv2 keys add --suite` and `scv2 keys retire`: the hybrid key is accepted once loaded; after
/// the X25519 key is retired, `/public-keys` lists only the hybrid key, `/public-key` (preferred
/// suite X25519) falls back to it with a warning, a new X25519 session is refused and an open
/// one goes on.
async fn key_rotation_across_suites(b: Backend) -> R {
    let gw = serve(&b, &[]).await?;
    let c = gw.client("scv2-rot")?;
    let old = c.public_key().await?;
    assert_eq!(field(&old, "algorithm"), Suite::X25519.name(), "{old}");
    let old_id = field(&old, "keyId").to_owned();
    let mut x_client = gw.client("scv2-rot-x")?;
    x_client.pin(&old_id, field(&old, "publicKey"))?;
    let open_x = x_client.open_session(&old_id).await?;

    gw.admin(&[
        "keys",
        "add",
        "--db",
        &gw.db,
        "--suite",
        "x25519mlkem768",
        "--key-id",
        "k-rot-pq",
        "--activate-in-secs",
        "0",
    ])?;
    let list = gw.keys_until(|l| !of_suite(l, PQ).is_empty()).await?;
    let pq = of_suite(&list, PQ).remove(0);
    assert_eq!(field(&pq, "keyId"), "k-rot-pq");
    assert_eq!(
        c.public_key().await?,
        old,
        "the preferred suite is still X25519"
    );
    init_over(
        &gw,
        "scv2-rot-pq",
        PQ,
        &pq,
        &gw.registration("rot@example.com")?,
    )
    .await?;

    gw.admin(&["keys", "retire", "--db", &gw.db, "--key-id", &old_id])?;
    let list = gw.keys_until(|l| l.len() == 1).await?;
    assert_eq!(field(&list[0], "keyId"), "k-rot-pq");
    let advertised = c.public_key().await?;
    assert_eq!(
        advertised, pq,
        "no X25519 key left: the hybrid key is advertised"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !gw
        .serve
        .log()
        .contains("no live server key of the preferred suite")
    {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "no warning: {}",
            gw.serve.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A new session with the retired X25519 key: refused in plaintext.
    let mut cfg = scv2::ClientConfig::new();
    cfg.pin(scv2::PinnedKey::from_spki_base64(
        &old_id,
        field(&old, "publicKey"),
    )?);
    let (_hs, type1) = scv2::ClientHandshake::start(&cfg, &old_id, b"{}", &mut scv2::OsRng)?;
    let r = c
        .send(
            reqwest::Method::POST,
            PATH_SESSION,
            c.standard_headers(None),
            type1,
        )
        .await?;
    let v = r.json()?;
    assert!(r.status >= 400, "{} {v}", r.status);
    assert_eq!(v.get("success"), Some(&Value::Bool(false)), "{v}");
    // The session opened before the retirement goes on.
    let r = x_client.close(&open_x).await?;
    assert_eq!((r.status, r.encrypted), (200, true), "{}", r.body);

    // A hybrid key activated in an hour: accepted once loaded, not listed before its createdAt.
    let out = gw.admin(&[
        "keys",
        "add",
        "--db",
        &gw.db,
        "--suite",
        "x25519mlkem768",
        "--key-id",
        "k-rot-next",
        "--activate-in-secs",
        "3600",
    ])?;
    let next: Value = serde_json::from_str(&out)?;
    assert_eq!(field(&next, "algorithm"), PQ.name());
    let mut n = gw.client("scv2-rot-next")?;
    n.pin_with_suite("k-rot-next", PQ, field(&next, "publicKey"))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let session = loop {
        match n.open_session("k-rot-next").await {
            Ok(s) => break s,
            Err(e) => {
                anyhow::ensure!(
                    std::time::Instant::now() < deadline,
                    "never accepted: {e:#}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let r = n.close(&session).await?;
    assert_eq!((r.status, r.encrypted), (200, true), "{}", r.body);
    let list = gw.client("scv2-rot-list")?.public_keys().await?;
    let ids: Vec<&str> = list.iter().map(|d| field(d, "keyId")).collect();
    assert_eq!(ids, ["k-rot-pq"]);
    Ok(())
}

/// `scv2 inspect` on hybrid envelopes: a type 1 says its suite and the lengths of ct1, E and
/// ek_e; a type 130 is read in the suite given.
#[tokio::test]
async fn inspect_decodes_hybrid_envelopes() -> R {
    let key = scv2::ServerKey::generate_with_suite(PQ, "k-inspect-pq", 0, None, &mut scv2::OsRng)?;
    let d = key.document();
    let mut cfg = scv2::ClientConfig::new();
    cfg.pin(scv2::PinnedKey::from_document(
        &d.key_id,
        d.algorithm,
        &d.public_key,
    )?);
    let (_hs, type1) = scv2::ClientHandshake::start(&cfg, "k-inspect-pq", b"{}", &mut scv2::OsRng)?;
    let text = scv2_gateway::inspect::describe(&type1)?;
    for want in [
        "type: 1 ",
        "keyId: k-inspect-pq",
        "suite: X25519MLKEM768-HKDF-SHA256-AES-256-GCM (reqKeyLen 1120, respKeyLen 1184)",
        "ML-KEM ciphertext ct1: 1088 bytes",
        "client ephemeral E: ",
        "ek_e: 1184 bytes",
    ] {
        assert!(text.contains(want), "{want:?} not in\n{text}");
    }
    let mut server = scv2::Server::new(scv2::ServerConfig::default());
    server.add_key(key)?;
    let accepted = server.accept(&type1, 1)?;
    let (_s, type130) = accepted.respond("sid-inspect", 10_000, b"", &mut scv2::OsRng)?;
    let text = scv2_gateway::inspect::describe_as(&type130, Some(PQ))?;
    assert!(text.contains("ML-KEM ciphertext ct2: 1088 bytes"), "{text}");
    assert!(text.contains("server ephemeral F: "), "{text}");
    assert!(
        text.contains(&format!("header: {} bytes", PQ.response_header_len())),
        "{text}"
    );
    // Without --suite a type 130 is read as X25519, and says so.
    let text = scv2_gateway::inspect::describe(&type130)?;
    assert!(text.contains("give --suite x25519mlkem768"), "{text}");
    // The CLI, on a web-form file.
    let dir = TempDir::new("scv2-inspect-pq");
    let f = dir.path("type130.json");
    std::fs::write(&f, scv2::web::encode(&type130))?;
    let out = std::process::Command::new(common::bin())
        .args(["inspect", "--suite", "x25519mlkem768"])
        .arg(&f)
        .output()?;
    let text = String::from_utf8(out.stdout)?;
    assert!(
        out.status.success() && text.contains("ct2: 1088 bytes"),
        "{text}"
    );
    // A type 1 whose key lengths fit no suite (32 and 5), and one cut inside ct1.
    let mut odd = b"SC\x02\x01\x05k-odd".to_vec();
    odd.extend_from_slice(&32u16.to_be_bytes());
    odd.extend_from_slice(&[7; 32]);
    odd.extend_from_slice(&5u16.to_be_bytes());
    odd.extend_from_slice(&[8; 5]);
    odd.extend_from_slice(&[9; 12 + 17 + 16]);
    let text = scv2_gateway::inspect::describe(&odd)?;
    assert!(
        text.contains("suite: none known (reqKeyLen 32, respKeyLen 5)"),
        "{text}"
    );
    assert!(scv2_gateway::inspect::describe(&type1[..600]).is_err());
    Ok(())
}

/// A SQLite database of schema version 2 (keys without a suite) opens as version 3: its keys
/// are X25519 keys, a hybrid key can be added beside them, and a gateway serves both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v2_database_is_migrated() -> R {
    let dir = TempDir::new("scv2-sqlite-v2");
    let path = dir.path("v2.sqlite");
    let x = scv2::ServerKey::generate("k-v2", 1, None, &mut scv2::OsRng)?;
    {
        let store = SqliteStore::open(&path)?;
        store.insert_server_key(StoredKey::of(&x)).await?;
    }
    // Back to exactly what version 2 wrote: the same tables without the suite column.
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch("ALTER TABLE server_keys DROP COLUMN suite; PRAGMA user_version = 2;")?;
    }
    let store = SqliteStore::open(&path)?;
    let version: i64 =
        rusqlite::Connection::open(&path)?.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    assert_eq!(version, scv2_gateway::store::sqlite::SCHEMA_VERSION);
    assert_eq!(version, 3);
    let keys = store.server_keys_sync()?;
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (keys[0].suite, &keys[0].private[..]),
        (Suite::X25519, &x.private_key()[..])
    );
    let pq = scv2::ServerKey::generate_with_suite(PQ, "k-v3-pq", 2, None, &mut scv2::OsRng)?;
    store.insert_server_key(StoredKey::of(&pq)).await?;
    // A hybrid row with a 32-byte key is refused on the way in and on the way out.
    let mut bad = StoredKey::of(&pq);
    bad.key_id = "k-bad".into();
    bad.private.truncate(32);
    assert!(store.insert_server_key(bad).await.is_err());
    drop(store);
    let mut cfg =
        scv2_gateway::GatewayConfig::new("127.0.0.1:0".parse()?, Database::Sqlite(path.clone()));
    cfg.argon2 = scv2_gateway::password::Argon2Params::cheap();
    let gw = scv2_gateway::start(cfg).await?;
    let c = ScClient::new(ClientOptions::new(&gw.url()))?;
    let list = c.public_keys().await?;
    let ids: Vec<&str> = list.iter().map(|d| field(d, "keyId")).collect();
    assert_eq!(ids, ["k-v2", "k-v3-pq"]);
    assert_eq!(
        list[1].get("publicKey").and_then(Value::as_str),
        Some(pq.document().public_key.as_str())
    );
    gw.shutdown().await?;
    rusqlite::Connection::open(&path)?.execute(
        "INSERT INTO server_keys (key_id, private_key, created_at_ms, suite) VALUES ('k-short', x'00', 3, ?1)",
        [PQ.name()],
    )?;
    let err = SqliteStore::open(&path)?
        .server_keys_sync()
        .err()
        .map(|e| format!("{e:#}"));
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("k-short") && e.contains("96 bytes")),
        "{err:?}"
    );
    Ok(())
}

/// A PostgreSQL schema of version 2 is migrated to 3 once when three gateways start together;
/// its sealed X25519 key opens as before; a hybrid key is sealed beside it and bound to its
/// suite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_v2_schema_is_migrated() -> R {
    let Some(url) = common::pg_url("pg_v2_schema_is_migrated") else {
        return Ok(());
    };
    let db = common::fresh_database(&url).await?;
    let opts = || PgOptions {
        storage_key: Some(common::test_storage_key()),
        ..PgOptions::default()
    };
    let x = scv2::ServerKey::generate("k-pg-v2", 1, None, &mut scv2::OsRng)?;
    PgStore::connect(&db, opts())
        .await?
        .insert_server_key(StoredKey::of(&x))
        .await?;
    let c = common::pg_client(&db).await?;
    // Back to exactly what version 2 was.
    c.batch_execute(
        "ALTER TABLE server_keys DROP COLUMN suite; \
         DELETE FROM scv2_schema_migrations WHERE version = 3;",
    )
    .await?;
    let mut starts = Vec::new();
    for _ in 0..3 {
        let db = db.clone();
        starts.push(tokio::spawn(
            async move { PgStore::connect(&db, opts()).await },
        ));
    }
    let mut stores = Vec::new();
    for s in starts {
        stores.push(s.await??);
    }
    let rows = c
        .query(
            "SELECT version, count(*) FROM scv2_schema_migrations GROUP BY version ORDER BY version",
            &[],
        )
        .await?;
    let versions: Vec<(i32, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(versions, [(1, 1), (2, 1), (3, 1)]);
    // A gateway of version 2 still running stores keys without naming the column: X25519.
    c.execute(
        "INSERT INTO server_keys (key_id, sealed_private, created_at_ms) \
         SELECT 'k-v2-late', sealed_private, 0 FROM server_keys WHERE key_id = 'k-pg-v2'",
        &[],
    )
    .await?;
    let late = stores[0].key_list().await?;
    assert_eq!(
        late.first().map(|k| (k.key_id.as_str(), k.suite)),
        Some(("k-v2-late", Suite::X25519))
    );
    c.execute("DELETE FROM server_keys WHERE key_id = 'k-v2-late'", &[])
        .await?;
    let keys = stores[0].server_keys().await?;
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (keys[0].suite, &keys[0].private[..]),
        (Suite::X25519, &x.private_key()[..])
    );
    let pq = scv2::ServerKey::generate_with_suite(PQ, "k-pg-pq", 2, None, &mut scv2::OsRng)?;
    stores[1].insert_server_key(StoredKey::of(&pq)).await?;
    let keys = stores[2].server_keys().await?;
    assert_eq!(keys.len(), 2);
    assert_eq!(
        (keys[1].suite, &keys[1].private[..]),
        (PQ, &pq.private_key()[..])
    );
    assert_eq!(
        keys[1].server_key()?.public_key_bytes(),
        pq.public_key_bytes()
    );
    let listed = stores[0].key_list().await?;
    assert_eq!(
        listed
            .iter()
            .map(|k| (k.key_id.as_str(), k.suite))
            .collect::<Vec<_>>(),
        [("k-pg-v2", Suite::X25519), ("k-pg-pq", PQ)]
    );
    // Sealed at rest; a row moved to the other suite does not open.
    let row = c
        .query_one(
            "SELECT sealed_private FROM server_keys WHERE key_id = 'k-pg-pq'",
            &[],
        )
        .await?;
    let sealed: Vec<u8> = row.get(0);
    assert!(!sealed.windows(32).any(|w| w == &pq.private_key()[..32]));
    c.execute(
        "UPDATE server_keys SET suite = $1 WHERE key_id = 'k-pg-pq'",
        &[&Suite::X25519.name()],
    )
    .await?;
    assert!(stores[0].server_keys().await.is_err());
    Ok(())
}

/// `scv2 keygen --suite` writes key files of both suites (0600, the suite in `algorithm`);
/// `scv2 serve --key-file A --key-file B --require-external-keys` serves both, advertising the
/// preferred one; `scv2 call --suite x25519mlkem768` without `--pin` takes the listed hybrid key
/// and says that it did not check it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_files_of_both_suites_served() -> R {
    let dir = TempDir::new("scv2-suites-keygen");
    let mut docs = Vec::new();
    for (suite, id) in [("x25519", "k-file-x"), ("x25519mlkem768", "k-file-pq")] {
        let out = std::process::Command::new(common::bin())
            .args(["keygen", "--suite", suite, "--key-id", id, "--out"])
            .arg(dir.path(id))
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        docs.push(serde_json::from_slice::<Value>(&out.stdout)?);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path(id))?.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let file: Value = serde_json::from_str(&std::fs::read_to_string(dir.path(id))?)?;
        assert_eq!(
            field(&file, "algorithm"),
            field(&docs[docs.len() - 1], "algorithm")
        );
    }
    assert_eq!(field(&docs[1], "algorithm"), PQ.name());
    let db = dir.path("gw.sqlite").display().to_string();
    let (kx, kpq) = (
        dir.path("k-file-x").display().to_string(),
        dir.path("k-file-pq").display().to_string(),
    );
    let key = common::test_storage_key_hex();
    let serve = Serve::start(
        &[
            "--db",
            &db,
            "--key-file",
            &kx,
            "--key-file",
            &kpq,
            "--require-external-keys",
            "--preferred-suite",
            "x25519mlkem768",
            "--argon2-m-kib",
            "8192",
            "--argon2-t",
            "1",
        ],
        &[("SCV2_STORAGE_KEY", &key)],
    )?;
    let gw = Gw {
        serve,
        db,
        envs: vec![("SCV2_STORAGE_KEY", key.clone())],
        _dir: TempDir::new("scv2-suites-keygen-unused"),
    };
    let c = gw.client("scv2-keygen")?;
    let listed = c.public_keys().await?;
    let pairs = |l: &[Value]| {
        l.iter()
            .map(|d| {
                (
                    field(d, "keyId").to_owned(),
                    field(d, "publicKey").to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(pairs(&listed), pairs(&docs));
    assert_eq!(field(&c.public_key().await?, "keyId"), "k-file-pq");

    let token = gw.registration("nopin@example.com")?;
    let body = dir.path("body.json");
    std::fs::write(
        &body,
        format!(r#"{{"sessionId":"{token}","password":"NoPin-P@ssw0rd-1"}}"#),
    )?;
    let out = std::process::Command::new(common::bin())
        .args(["call", "--url", &gw.serve.url, "--suite", "x25519mlkem768"])
        .args(["--client-hash", "scv2-nopin", "--json-file"])
        .arg(&body)
        .args(["POST", PATH_PASSWORD_INIT])
        .output()?;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("HTTP 201 (type-129 envelope, decrypted)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("no --pin") && stderr.contains("k-file-pq"),
        "{stderr}"
    );
    Ok(())
}

/// Against a server with only `/public-key` (an older gateway, the deployed service), the key
/// list is that one document, so `scv2 call` still works there.
#[tokio::test]
async fn the_key_list_falls_back_to_public_key() -> R {
    let key = scv2::ServerKey::generate("k-only", 1, None, &mut scv2::OsRng)?;
    let doc = scv2_gateway::keyfile::document_json(&key.document());
    let body =
        serde_json::json!({"success": true, "code": "2000", "data": doc.clone()}).to_string();
    let app = axum::Router::new().route(
        scv2_gateway::paths::PATH_PUBLIC_KEY,
        axum::routing::get(move || {
            let body = body.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let c = ScClient::new(ClientOptions::new(&url))?;
    assert_eq!(c.public_keys().await?, vec![doc]);
    server.abort();
    Ok(())
}

/// The suite of a key comes from the pin: a document naming the other suite for a pinned key id
/// is refused; an `algorithm` string no suite has is only informational (the key must still be
/// the pinned one).
#[test]
fn documents_are_read_in_the_pins_suite() -> R {
    let key = scv2::ServerKey::generate("k-doc", 1, None, &mut scv2::OsRng)?;
    let d = key.document();
    let mut c = ScClient::new(ClientOptions::new("http://127.0.0.1:9"))?;
    c.pin("k-doc", &d.public_key)?;
    let doc = |algorithm: &str, public: &str| serde_json::json!({"keyId": "k-doc", "algorithm": algorithm, "publicKey": public});
    assert_eq!(c.check_document(&doc(d.algorithm, &d.public_key))?, "k-doc");
    assert_eq!(
        c.check_document(&doc("RSA-OAEP-256", &d.public_key))?,
        "k-doc"
    );
    let e = c.check_document(&doc(PQ.name(), &d.public_key)).err();
    let e = format!(
        "{:#}",
        e.ok_or_else(|| anyhow::anyhow!("other suite accepted"))?
    );
    assert!(e.contains("the document says"), "{e}");
    let other = scv2::ServerKey::generate("k-doc", 1, None, &mut scv2::OsRng)?.document();
    assert!(c
        .check_document(&doc(d.algorithm, &other.public_key))
        .is_err());
    Ok(())
}
