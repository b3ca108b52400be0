//! `scv2 demo`: a server on a free loopback port holding a key of each suite, a registration,
//! and the whole flow over the X25519 suite, then one password init over the hybrid
//! post-quantum suite (X25519MLKEM768).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use serde_json::Value;

use crate::client::{CallResult, ClientOptions, ScClient};
use crate::clock::{rfc3339, system_now_ms};
use crate::config::GatewayConfig;
use crate::paths::PATH_PASSWORD_INIT;
use crate::store::TokenHash;
use crate::util::new_token;

fn temp_dir() -> anyhow::Result<PathBuf> {
    let token = new_token()?;
    let dir = std::env::temp_dir().join(format!("scv2-demo-{}-{token}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn expect(
    step: &str,
    r: &CallResult,
    status: u16,
    encrypted: bool,
    code: &str,
) -> anyhow::Result<()> {
    if r.status != status || r.encrypted != encrypted || r.code() != code {
        bail!(
            "{step}: expected HTTP {status} {} {code}, got HTTP {} {} {}",
            if encrypted { "type 129" } else { "plaintext" },
            r.status,
            if r.encrypted { "type 129" } else { "plaintext" },
            r.body
        );
    }
    Ok(())
}

fn show(r: &CallResult) -> String {
    format!(
        "HTTP {} ({}): {}",
        r.status,
        if r.encrypted {
            "type-129 envelope, decrypted"
        } else {
            "plaintext gateway error"
        },
        r.body
    )
}

/// Run the demo; prints every step. Errors on any unexpected answer.
pub async fn run() -> anyhow::Result<()> {
    let dir = temp_dir()?;
    let result = run_in(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_in(dir: &std::path::Path) -> anyhow::Result<()> {
    let db = dir.join("scv2-demo.sqlite");
    let listen: SocketAddr = "127.0.0.1:0".parse()?;
    // Keys from outside the database, as in production: a key file (0600) and a storage key.
    let key_file = dir.join("server-key.json");
    let now = system_now_ms();
    let key_id = format!(
        "k-demo-{}",
        crate::util::hex(&crate::util::random_bytes::<3>()?)
    );
    let key = scv2::ServerKey::generate(&key_id, now, None, &mut scv2::OsRng)
        .map_err(|e| anyhow::anyhow!("demo key: {e}"))?;
    crate::keyfile::write(&key_file, &key)?;
    let pq_key_file = dir.join("server-key-pq.json");
    let pq_key = scv2::ServerKey::generate_with_suite(
        scv2::Suite::X25519MlKem768,
        &format!("{key_id}-pq"),
        now,
        None,
        &mut scv2::OsRng,
    )
    .map_err(|e| anyhow::anyhow!("demo key: {e}"))?;
    crate::keyfile::write(&pq_key_file, &pq_key)?;
    drop((key, pq_key));
    let mut cfg = GatewayConfig::new(listen, db.clone());
    cfg.key_files = vec![key_file, pq_key_file];
    cfg.storage_key = Some(zeroize::Zeroizing::new(crate::util::random_bytes::<32>()?));
    cfg.require_external_keys = true;
    let gw = crate::start(cfg).await?;
    println!("== scv2 demo ==");
    println!(
        "0. server listening on {} (temporary database {}, server key files of both suites and \
         the storage key outside it)",
        gw.url(),
        db.display()
    );

    let token = new_token()?;
    let reg = gw
        .store()
        .add_registration(
            TokenHash::of(&token),
            "user@example.com",
            "Test User",
            now,
            24 * 3600 * 1000,
        )
        .await?;
    println!(
        "1. registration for {} ({}); init session id {token} valid until {} (the database keeps its SHA-256 only)",
        reg.email,
        reg.name,
        rfc3339(reg.expires_at_ms)
    );

    let pinned = gw.public_key().clone();
    let mut client = ScClient::new(ClientOptions::new(&gw.url()))?;
    client.pin(&pinned.key_id, &pinned.public_key)?;
    let doc = client.public_key().await?;
    let key_id = client.check_document(&doc)?;
    println!(
        "2. GET /web/v1/secure-channel/public-key → keyId {key_id}, {} — matches the pin",
        doc.get("algorithm").and_then(Value::as_str).unwrap_or("?")
    );

    let session = client.open_session(&key_id).await?;
    println!(
        "3. POST /web/v1/secure-channel/session → type 130; session {} until {}",
        session.session_id(),
        rfc3339(session.expires_at_ms())
    );

    let body = format!(r#"{{"sessionId":"{token}","password":"NewP@ssw0rd"}}"#);
    let (pending, envelope) = client.seal(&session, "POST", PATH_PASSWORD_INIT, body.as_bytes())?;
    let raw = client
        .send(
            reqwest::Method::POST,
            PATH_PASSWORD_INIT,
            client.standard_headers(Some(session.session_id())),
            client.body_of(&envelope),
        )
        .await?;
    let first_bytes = raw.body.clone();
    let r = client.read_answer(&session, pending, "POST", PATH_PASSWORD_INIT, raw)?;
    println!(
        "4. POST {PATH_PASSWORD_INIT} (request #1, {} envelope bytes)\n   → {}",
        envelope.len(),
        show(&r)
    );
    expect("password init", &r, 201, true, "2000")?;
    let stored = gw
        .store()
        .password_hash("user@example.com")
        .await?
        .unwrap_or_default();
    println!(
        "   stored password: {}… (Argon2id PHC string only)",
        stored.get(..30).unwrap_or("")
    );

    // The answer to #1 could have been lost on the way: the client sends the same bytes again.
    let raw = client
        .send(
            reqwest::Method::POST,
            PATH_PASSWORD_INIT,
            client.standard_headers(Some(session.session_id())),
            client.body_of(&envelope),
        )
        .await?;
    let identical = raw.status == 201 && raw.body == first_bytes;
    println!(
        "5. the same envelope sent again (a retransmission after a lost answer)\n   → HTTP {}, {} bytes, {} the first answer (no new encryption: the answer is cached with the session)",
        raw.status,
        raw.body.len(),
        if identical { "byte-identical to" } else { "DIFFERENT from" }
    );
    if !identical {
        bail!("retransmission: expected the first answer's exact bytes");
    }

    // The same sequence number with other bytes is still a replay.
    let mut tampered = envelope.clone();
    if let Some(b) = tampered.get_mut(20) {
        *b ^= 1;
    }
    let raw = client
        .send(
            reqwest::Method::POST,
            PATH_PASSWORD_INIT,
            client.standard_headers(Some(session.session_id())),
            client.body_of(&tampered),
        )
        .await?;
    let replay = CallResult {
        status: raw.status,
        encrypted: false,
        body: raw.json().unwrap_or(Value::Null),
        raw,
    };
    println!(
        "   the same sequence number with one ciphertext bit flipped\n   → {}",
        show(&replay)
    );
    expect(
        "replay",
        &replay,
        400,
        false,
        "SECURE_CHANNEL.INVALID_PAYLOAD",
    )?;

    let r = client
        .call(&session, "POST", PATH_PASSWORD_INIT, body.as_bytes())
        .await?;
    println!(
        "6. a second password init with the same init session id (request #2)\n   → {}",
        show(&r)
    );
    expect("second attempt", &r, 404, true, "AUTH.SESSION_NOT_FOUND")?;

    let r = client.close(&session).await?;
    println!(
        "7. POST /web/v1/secure-channel/session/close\n   → {}",
        show(&r)
    );
    expect("close", &r, 200, true, "2000")?;

    let r = client
        .call(&session, "POST", PATH_PASSWORD_INIT, body.as_bytes())
        .await?;
    println!("8. a request on the closed session\n   → {}", show(&r));
    expect(
        "closed session",
        &r,
        401,
        false,
        "SECURE_CHANNEL.SESSION_NOT_FOUND",
    )?;

    hybrid(&gw, now).await?;

    gw.shutdown().await?;
    println!("demo OK: every step answered as expected, over both suites");
    Ok(())
}

/// Steps 9–11: the hybrid suite, pinned from the list of keys, and a second registration.
async fn hybrid(gw: &crate::Gateway, now: u64) -> anyhow::Result<()> {
    let suite = scv2::Suite::X25519MlKem768;
    let token = new_token()?;
    gw.store()
        .add_registration(
            TokenHash::of(&token),
            "pq@example.com",
            "PQ User",
            now,
            24 * 3600 * 1000,
        )
        .await?;
    // Another app install (its own X-Client-Hash, so its own per-client init limit).
    let mut opts = ClientOptions::new(&gw.url());
    opts.client_hash = "scv2-demo-pq".to_owned();
    let mut client = ScClient::new(opts)?;
    let docs = client.public_keys().await?;
    let names: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{} ({})",
                d.get("keyId").and_then(Value::as_str).unwrap_or("?"),
                d.get("algorithm").and_then(Value::as_str).unwrap_or("?")
            )
        })
        .collect();
    println!(
        "9. GET /web/v1/secure-channel/public-keys → {}",
        names.join(", ")
    );
    let doc = docs
        .iter()
        .find(|d| d.get("algorithm").and_then(Value::as_str) == Some(suite.name()))
        .context("no hybrid key listed")?;
    let key_id = doc.get("keyId").and_then(Value::as_str).context("keyId")?;
    let public = doc
        .get("publicKey")
        .and_then(Value::as_str)
        .context("publicKey")?;
    // The demo pins what the gateway lists; an app ships the pin (keyId, suite, publicKey).
    client.pin_with_suite(key_id, suite, public)?;
    let session = client.open_session(key_id).await?;
    let type1 = suite
        .key_exchange_len(key_id.len(), 2, 64)
        .unwrap_or_default();
    let type130 = suite
        .key_exchange_response_len(session.session_id().len(), 0, 64)
        .unwrap_or_default();
    println!(
        "10. POST /web/v1/secure-channel/session with {key_id} ({suite}): type 1 of {type1} \
         bytes (ML-KEM ciphertext, E, ek_e) → type 130 of {type130} bytes; session {}",
        session.session_id()
    );
    let body = format!(r#"{{"sessionId":"{token}","password":"N3w-PQ-P@ssw0rd"}}"#);
    let r = client
        .call(&session, "POST", PATH_PASSWORD_INIT, body.as_bytes())
        .await?;
    println!(
        "11. POST {PATH_PASSWORD_INIT} over the hybrid session\n   → {}",
        show(&r)
    );
    expect("hybrid password init", &r, 201, true, "2000")?;
    let r = client.close(&session).await?;
    expect("hybrid close", &r, 200, true, "2000")?;
    Ok(())
}
