//! Integration tests: the real server on 127.0.0.1:0, driven over HTTP with reqwest. Every
//! test that touches the store runs twice, against SQLite (`name::sqlite`) and against a fresh
//! database on the throwaway PostgreSQL cluster of `scripts/with-postgres.sh`
//! (`name::postgres`; skipped with a message when there is none, a failure under `CI=true`).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;
use scv2::ClientSession;
use scv2_gateway::clock::system_now_ms;
use scv2_gateway::password::Argon2Params;
use scv2_gateway::paths::{PATH_PASSWORD_INIT, PATH_SESSION, PATH_SESSION_CLOSE};
use scv2_gateway::ratelimit::RateSpec;
use scv2_gateway::store::TokenHash;
use scv2_gateway::{CallResult, ClientOptions, Gateway, GatewayConfig, ManualClock, ScClient};
use serde_json::{json, Value};

type R<T = ()> = anyhow::Result<T>;

const INIT: &str = PATH_PASSWORD_INIT;

#[macro_use]
mod common;

use common::{Backend, TempDir};

both_stores!(
    password_init_201_and_single_use,
    web_form_and_alias_header,
    every_validation_error,
    wrong_and_missing_headers,
    test_env_requires_cloudflare_headers,
    replay_swapped_ctx_and_bad_bodies,
    session_endpoint_errors_and_rate_limit,
    expired_and_closed_sessions,
    rate_limit_sliding_window,
    restart_keeps_sessions_and_refuses_replays,
    key_rotation_with_key_files,
    two_hundred_concurrent_clients,
);

struct Env {
    gw: Option<Gateway>,
    clock: Arc<ManualClock>,
    dir: TempDir,
    cfg: GatewayConfig,
}

async fn config(b: &Backend, dir: &TempDir, clock: &Arc<ManualClock>) -> R<GatewayConfig> {
    let mut cfg = GatewayConfig::new("127.0.0.1:0".parse()?, b.fresh(dir).await?);
    if b.is_postgres() {
        cfg.storage_key = Some(common::test_storage_key());
    }
    cfg.clock = clock.clone();
    cfg.argon2 = Argon2Params::cheap();
    cfg.session_ttl_ms = 600_000;
    Ok(cfg)
}

async fn env_with(b: &Backend, tweak: impl FnOnce(&mut GatewayConfig)) -> R<Env> {
    let dir = TempDir::new("scv2-gw-test");
    let clock = Arc::new(ManualClock::new(system_now_ms()));
    let mut cfg = config(b, &dir, &clock).await?;
    tweak(&mut cfg);
    let gw = scv2_gateway::start(cfg.clone()).await?;
    Ok(Env {
        gw: Some(gw),
        clock,
        dir,
        cfg,
    })
}

async fn env(b: &Backend) -> R<Env> {
    env_with(b, |_| {}).await
}

impl Env {
    fn gw(&self) -> &Gateway {
        self.gw.as_ref().expect("running")
    }

    fn client(&self, hash: &str) -> R<ScClient> {
        self.client_at(hash, "203.0.113.7")
    }

    /// A client whose CF-Connecting-IP (with `--test-env`) is `ip`.
    fn client_at(&self, hash: &str, ip: &str) -> R<ScClient> {
        let mut o = ClientOptions::new(&self.gw().url());
        o.client_hash = hash.to_owned();
        o.clock = self.clock.clone();
        if self.cfg.test_env {
            o.cf_ip = Some(ip.into());
        }
        let mut c = ScClient::new(o)?;
        let doc = self.gw().public_key();
        c.pin(&doc.key_id, &doc.public_key)?;
        Ok(c)
    }

    async fn session(&self, c: &ScClient) -> R<ClientSession> {
        c.open_session(&self.gw().public_key().key_id).await
    }

    async fn registration(&self, email: &str) -> R<String> {
        let token = scv2_gateway::util::new_token()?;
        self.gw()
            .store()
            .add_registration(
                TokenHash::of(&token),
                email,
                "Test User",
                self.clock.now(),
                86_400_000,
            )
            .await?;
        Ok(token)
    }

    async fn restart(&mut self) -> R {
        if let Some(gw) = self.gw.take() {
            gw.shutdown().await?;
        }
        let mut cfg = self.cfg.clone();
        cfg.clock = self.clock.clone();
        self.gw = Some(scv2_gateway::start(cfg).await?);
        Ok(())
    }
}

trait Now {
    fn now(&self) -> u64;
}

impl Now for ManualClock {
    fn now(&self) -> u64 {
        scv2_gateway::Clock::now_ms(self)
    }
}

/// Address and session limits out of the way (tests that are not about them send many requests
/// from one address on one session).
fn generous(c: &mut GatewayConfig) {
    let many = RateSpec {
        limit: 1000,
        window_ms: 300_000,
    };
    c.limits.init_per_client = many;
    c.limits.init_per_ip = many;
    c.limits.init_per_session = many;
}

fn init_body(token: &str, password: &str) -> Vec<u8> {
    json!({"sessionId": token, "password": password})
        .to_string()
        .into_bytes()
}

/// Seal `body` for `POST path`, send it with `headers`, read the answer.
async fn send_with(
    c: &ScClient,
    s: &ClientSession,
    path: &str,
    headers: HeaderMap,
    body: &[u8],
) -> R<CallResult> {
    let (pending, env) = c.seal(s, "POST", path, body)?;
    let raw = c.send(Method::POST, path, headers, c.body_of(&env)).await?;
    c.read_answer(s, pending, "POST", path, raw)
}

/// The envelope with one ciphertext bit flipped (same sequence number, other bytes).
fn flip(envelope: &[u8]) -> Vec<u8> {
    let mut e = envelope.to_vec();
    if let Some(b) = e.get_mut(20) {
        *b ^= 1;
    }
    e
}

fn check(r: &CallResult, status: u16, encrypted: bool, code: &str) {
    assert_eq!(
        (r.status, r.encrypted, r.code()),
        (status, encrypted, code),
        "body: {}",
        r.body
    );
    assert_eq!(r.body["version"], "2.0.0");
    assert!(r.body["timestamp"].is_u64());
    assert_eq!(r.body["success"], Value::Bool(code == "2000"));
}

fn data_keys(r: &CallResult) -> Vec<String> {
    r.body["data"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

async fn password_init_201_and_single_use(b: Backend) -> R {
    let env = env(&b).await?;
    let c = env.client("hash-201")?;
    let doc = c.public_key().await?;
    assert_eq!(c.check_document(&doc)?, env.gw().public_key().key_id);
    assert_eq!(doc["algorithm"], "X25519-HKDF-SHA256-AES-256-GCM");
    assert_eq!(doc["keySize"], 256);
    assert_eq!(doc["expiresAt"], Value::Null);

    let s = env.session(&c).await?;
    let token = env.registration("user@example.com").await?;
    let mut h = c.standard_headers(Some(s.session_id()));
    let rid = "123e4567-e89b-42d3-a456-426614174000";
    h.insert("x-request-id", HeaderValue::from_static(rid));
    let r = send_with(&c, &s, INIT, h, &init_body(&token, "NewP@ssw0rd")).await?;
    check(&r, 201, true, "2000");
    assert_eq!(r.raw.header("x-request-id"), Some(rid));
    assert_eq!(
        r.raw.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    let d = &r.body["data"];
    assert_eq!(d["bizId"], "ACC_USR_00000001");
    assert_eq!(d["email"], "user@example.com");
    assert_eq!(d["name"], "Test User");
    assert_eq!(d["status"], 10010202);
    let created = d["createdAt"].as_str().unwrap_or("");
    assert!(created.len() == 20 && created.ends_with('Z'), "{created}");

    let hash = env
        .gw()
        .store()
        .password_hash("user@example.com")
        .await?
        .unwrap_or_default();
    assert!(hash.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{hash}");
    assert!(!hash.contains("NewP@ssw0rd"));
    assert!(scv2_gateway::password::verify(&hash, "NewP@ssw0rd"));

    // The init session id is single use.
    let r = c
        .call(&s, "POST", INIT, &init_body(&token, "NewP@ssw0rd"))
        .await?;
    check(&r, 404, true, "AUTH.SESSION_NOT_FOUND");
    // Unknown and expired init session ids are 404 too.
    let r = c
        .call(&s, "POST", INIT, &init_body("nope", "NewP@ssw0rd"))
        .await?;
    check(&r, 404, true, "AUTH.SESSION_NOT_FOUND");
    let expiring = scv2_gateway::util::new_token()?;
    env.gw()
        .store()
        .add_registration(
            TokenHash::of(&expiring),
            "late@example.com",
            "Late",
            env.clock.now(),
            1000,
        )
        .await?;
    env.clock.advance(1000);
    let r = c
        .call(&s, "POST", INIT, &init_body(&expiring, "NewP@ssw0rd"))
        .await?;
    check(&r, 404, true, "AUTH.SESSION_NOT_FOUND");
    Ok(())
}

async fn web_form_and_alias_header(b: Backend) -> R {
    let env = env(&b).await?;
    let mut o = ClientOptions::new(&env.gw().url());
    o.web_form = true;
    o.clock = env.clock.clone();
    let mut c = ScClient::new(o)?;
    let doc = env.gw().public_key();
    c.pin(&doc.key_id, &doc.public_key)?;
    let s = env.session(&c).await?;
    let token = env.registration("web@example.com").await?;
    let mut h = c.standard_headers(None);
    h.insert(
        "x-secure-channel-session-id",
        HeaderValue::from_str(s.session_id())?,
    );
    let r = send_with(&c, &s, INIT, h, &init_body(&token, "NewP@ssw0rd")).await?;
    check(&r, 201, true, "2000");
    assert!(r.raw.body.starts_with(b"{\"v\":2,\"p\":"));
    Ok(())
}

async fn every_validation_error(b: Backend) -> R {
    let env = env_with(&b, generous).await?;
    let c = env.client("hash-validation")?;
    let s = env.session(&c).await?;
    let long64 = "s".repeat(64);
    let long65 = "s".repeat(65);
    let p128 = "p".repeat(128);
    let p129 = "p".repeat(129);
    let cases: Vec<(String, Vec<&str>)> = vec![
        (r#"{"password":"NewP@ssw0rd"}"#.into(), vec!["sessionId"]),
        (r#"{"sessionId":"abc"}"#.into(), vec!["password"]),
        ("{}".into(), vec!["sessionId", "password"]),
        (
            r#"{"sessionId":"abc","password":"NewP@ssw0rd","extra":1}"#.into(),
            vec!["extra"],
        ),
        (
            r#"{"sessionId":1,"password":"NewP@ssw0rd"}"#.into(),
            vec!["sessionId"],
        ),
        (
            r#"{"sessionId":"abc","password":null}"#.into(),
            vec!["password"],
        ),
        (
            r#"{"sessionId":["a"],"password":{"x":1}}"#.into(),
            vec!["sessionId", "password"],
        ),
        (
            r#"{"sessionId":"","password":"NewP@ssw0rd"}"#.into(),
            vec!["sessionId"],
        ),
        (
            format!(r#"{{"sessionId":"{long65}","password":"NewP@ssw0rd"}}"#),
            vec!["sessionId"],
        ),
        (
            r#"{"sessionId":"abc","password":"1234567"}"#.into(),
            vec!["password"],
        ),
        (
            format!(r#"{{"sessionId":"abc","password":"{p129}"}}"#),
            vec!["password"],
        ),
        (
            r#"{"sessionId":"abc","sessionId":"abd","password":"NewP@ssw0rd"}"#.into(),
            vec!["sessionId"],
        ),
        ("[]".into(), vec!["body"]),
        (r#""text""#.into(), vec!["body"]),
        ("null".into(), vec!["body"]),
        ("{not json".into(), vec!["body"]),
        (
            r#"{"sessionId":"abc","password":"NewP@ssw0rd"} trailing"#.into(),
            vec!["body"],
        ),
    ];
    for (body, fields) in &cases {
        let r = c.call(&s, "POST", INIT, body.as_bytes()).await?;
        check(&r, 400, true, "VALIDATION.INVALID_PARAMETER");
        assert_eq!(r.body["message"], "Invalid request parameters");
        let mut got = data_keys(&r);
        let mut want: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "body {body}: {}", r.body);
        for f in fields {
            let list = r.body["data"][f].as_array().cloned().unwrap_or_default();
            assert!(
                !list.is_empty() && list.iter().all(Value::is_string),
                "{}",
                r.body
            );
        }
    }
    // Boundary lengths are accepted by validation (then 404: no such registration).
    let ok = format!(r#"{{"sessionId":"{long64}","password":"{p128}"}}"#);
    let r = c.call(&s, "POST", INIT, ok.as_bytes()).await?;
    check(&r, 404, true, "AUTH.SESSION_NOT_FOUND");
    let ok = r#"{"sessionId":"a","password":"12345678"}"#;
    let r = c.call(&s, "POST", INIT, ok.as_bytes()).await?;
    check(&r, 404, true, "AUTH.SESSION_NOT_FOUND");

    // Messages follow Accept-Language.
    for (lang, msg) in [
        ("zh-CN", "请求参数无效"),
        ("zh-Hant", "請求參數無效"),
        ("ja", "リクエストパラメータが無効です"),
        ("vi", "Tham số yêu cầu không hợp lệ"),
        ("fr, en;q=0.5", "Invalid request parameters"),
    ] {
        let mut h = c.standard_headers(Some(s.session_id()));
        h.insert("accept-language", HeaderValue::from_str(lang)?);
        let r = send_with(&c, &s, INIT, h, b"{}").await?;
        check(&r, 400, true, "VALIDATION.INVALID_PARAMETER");
        assert_eq!(r.body["message"], msg, "{lang}");
    }
    Ok(())
}

async fn wrong_and_missing_headers(b: Backend) -> R {
    let env = env_with(&b, generous).await?;
    let c = env.client("hash-headers")?;
    let s = env.session(&c).await?;
    let sid = s.session_id().to_owned();
    let cases: Vec<(&str, Option<&str>, &str)> = vec![
        ("content-type", None, "Content-Type"),
        ("content-type", Some("text/plain"), "Content-Type"),
        (
            "content-type",
            Some("application/json;charset=ISO-8859-1"),
            "Content-Type",
        ),
        // (reqwest adds `Accept: */*` when none is set, so "missing" is covered by a unit test.)
        ("accept", Some("text/html, image/png"), "Accept"),
        ("accept", Some("text/html"), "Accept"),
        ("x-client-hash", None, "X-Client-Hash"),
        ("x-client-hash", Some("has space"), "X-Client-Hash"),
        ("x-sc-version", None, "X-SC-Version"),
        ("x-sc-version", Some("1"), "X-SC-Version"),
    ];
    for (name, value, field) in cases {
        let mut h = c.standard_headers(Some(&sid));
        match value {
            None => {
                h.remove(name);
            }
            Some(v) => {
                h.insert(name, HeaderValue::from_str(v)?);
            }
        }
        let r = send_with(&c, &s, INIT, h, b"{}").await?;
        assert!(!r.encrypted, "{name}: {value:?}");
        check(&r, 400, false, "VALIDATION.INVALID_PARAMETER");
        assert_eq!(data_keys(&r), vec![field.to_string()], "{name}: {}", r.body);
    }
    // Missing or unknown session id: 401 in plaintext.
    let r = send_with(&c, &s, INIT, c.standard_headers(None), b"{}").await?;
    check(&r, 401, false, "SECURE_CHANNEL.SESSION_NOT_FOUND");
    let r = send_with(
        &c,
        &s,
        INIT,
        c.standard_headers(Some("unknown-session")),
        b"{}",
    )
    .await?;
    check(&r, 401, false, "SECURE_CHANNEL.SESSION_NOT_FOUND");
    // Unknown paths and methods.
    let r = c
        .send(
            Method::GET,
            INIT,
            c.standard_headers(Some(&sid)),
            Vec::new(),
        )
        .await?;
    assert_eq!(r.status, 405);
    let r = c
        .send(Method::GET, "/web/v1/nope", HeaderMap::new(), Vec::new())
        .await?;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()?["code"], "SYSTEM.NOT_FOUND");
    Ok(())
}

async fn test_env_requires_cloudflare_headers(b: Backend) -> R {
    let env = env_with(&b, |c| c.test_env = true).await?;
    let c = env.client("hash-cf")?;
    let s = env.session(&c).await?;
    let token = env.registration("cf@example.com").await?;
    for (name, value) in [
        ("cf-connecting-ip", None),
        ("cf-connecting-ip", Some("not-an-ip")),
        ("cf-ray", None),
        ("cf-ipcountry", None),
        ("cf-ipcountry", Some("JPN")),
    ] {
        let mut h = c.standard_headers(Some(s.session_id()));
        match value {
            None => {
                h.remove(name);
            }
            Some(v) => {
                h.insert(name, HeaderValue::from_str(v)?);
            }
        }
        let r = send_with(&c, &s, INIT, h, &init_body(&token, "NewP@ssw0rd")).await?;
        check(&r, 400, false, "VALIDATION.INVALID_PARAMETER");
        assert_eq!(data_keys(&r).len(), 1, "{}", r.body);
    }
    // The public key endpoint needs them too.
    let r = c
        .send(
            Method::GET,
            "/web/v1/secure-channel/public-key",
            HeaderMap::new(),
            Vec::new(),
        )
        .await?;
    assert_eq!(r.status, 400);
    let r = c
        .call(&s, "POST", INIT, &init_body(&token, "NewP@ssw0rd"))
        .await?;
    check(&r, 201, true, "2000");
    Ok(())
}

async fn replay_swapped_ctx_and_bad_bodies(b: Backend) -> R {
    let env = env_with(&b, generous).await?;
    let c = env.client("hash-replay")?;
    let s = env.session(&c).await?;
    let h = || c.standard_headers(Some(s.session_id()));

    // Replay: the first copy opens (400 validation inside a 129); a byte-identical copy gets
    // the same bytes again (SPEC 8.4), any other envelope with that sequence number is refused.
    let (_pending, envelope) = c.seal(&s, "POST", INIT, b"{}")?;
    let first = c.send(Method::POST, INIT, h(), envelope.clone()).await?;
    assert_eq!(first.status, 400);
    assert_eq!(&first.body[..4], b"SC\x02\x81");
    let again = c.send(Method::POST, INIT, h(), envelope.clone()).await?;
    assert_eq!((again.status, &again.body), (400, &first.body));
    let other = c.send(Method::POST, INIT, h(), flip(&envelope)).await?;
    assert_eq!(other.status, 400);
    assert_eq!(other.json()?["code"], "SECURE_CHANNEL.INVALID_PAYLOAD");

    // Swapped ctx: an envelope sealed for another endpoint.
    let (_p, for_close) = c.seal(&s, "POST", PATH_SESSION_CLOSE, b"{}")?;
    let r = c.send(Method::POST, INIT, h(), for_close).await?;
    assert_eq!(
        (r.status, r.json()?["code"].clone()),
        (400, json!("SECURE_CHANNEL.INVALID_PAYLOAD"))
    );
    // Same endpoint, other method spelled in ctx.
    let (_p, wrong_method) = c.seal(&s, "PUT", INIT, b"{}")?;
    let r = c.send(Method::POST, INIT, h(), wrong_method).await?;
    assert_eq!(r.json()?["code"], "SECURE_CHANNEL.INVALID_PAYLOAD");

    // Moved to another session.
    let s2 = env.session(&c).await?;
    let (_p, env2) = c.seal(&s2, "POST", INIT, b"{}")?;
    let r = c.send(Method::POST, INIT, h(), env2).await?;
    assert_eq!(r.json()?["code"], "SECURE_CHANNEL.INVALID_PAYLOAD");

    // Tampered tag, plaintext JSON body, empty body, garbage, a type 1 at the wrong endpoint.
    let (_p, mut tampered) = c.seal(&s, "POST", INIT, b"{}")?;
    if let Some(last) = tampered.last_mut() {
        *last ^= 1;
    }
    let plaintext = init_body("abc", "NewP@ssw0rd");
    for body in [tampered, plaintext, Vec::new(), b"SC\x02\x02short".to_vec()] {
        let r = c.send(Method::POST, INIT, h(), body).await?;
        assert_eq!(r.status, 400);
        let v = r.json()?;
        assert_eq!(v["code"], "SECURE_CHANNEL.INVALID_PAYLOAD", "{v}");
        assert_eq!(v["success"], false);
    }
    // The session still works after all that.
    let r = c.call(&s, "POST", INIT, b"{}").await?;
    check(&r, 400, true, "VALIDATION.INVALID_PARAMETER");
    Ok(())
}

async fn session_endpoint_errors_and_rate_limit(b: Backend) -> R {
    let env = env_with(&b, |c| {
        c.limits.session_create = RateSpec {
            limit: 3,
            window_ms: 60_000,
        }
    })
    .await?;
    let c = env.client("hash-session")?;
    // Unknown key id.
    let mut other = ScClient::new(ClientOptions::new(&env.gw().url()))?;
    other.pin("k-unknown", &env.gw().public_key().public_key)?;
    let err = other
        .open_session("k-unknown")
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("SECURE_CHANNEL.UNKNOWN_KEY_ID")),
        "{err:?}"
    );
    // Garbage body.
    let r = c
        .send(
            Method::POST,
            PATH_SESSION,
            c.standard_headers(None),
            b"hello".to_vec(),
        )
        .await?;
    assert_eq!(
        (r.status, r.json()?["code"].clone()),
        (400, json!("SECURE_CHANNEL.INVALID_PAYLOAD"))
    );
    // Third in the window is allowed, the fourth is 429.
    let _s = env.session(&c).await?;
    let r = c
        .send(
            Method::POST,
            PATH_SESSION,
            c.standard_headers(None),
            b"x".to_vec(),
        )
        .await?;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()?["code"], "RATE_LIMIT.EXCEEDED");
    assert!(r.header("retry-after").is_some());
    env.clock.advance(60_000);
    let _s = env.session(&c).await?;
    Ok(())
}

async fn expired_and_closed_sessions(b: Backend) -> R {
    let env = env_with(&b, |c| c.session_ttl_ms = 60_000).await?;
    let c = env.client("hash-expiry")?;
    let s = env.session(&c).await?;
    // Sealed while valid, delivered after expiry: 401 in plaintext.
    let (_p, envelope) = c.seal(&s, "POST", INIT, b"{}")?;
    env.clock.advance(60_000);
    let r = c
        .send(
            Method::POST,
            INIT,
            c.standard_headers(Some(s.session_id())),
            envelope,
        )
        .await?;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()?["code"], "SECURE_CHANNEL.SESSION_NOT_FOUND");
    // Closing an expired session is not an error.
    env.clock.set(env.clock.now() - 60_000);
    let (_p, close_env) = c.seal(&s, "POST", PATH_SESSION_CLOSE, b"{}")?;
    env.clock.advance(60_000);
    let r = c
        .send(
            Method::POST,
            PATH_SESSION_CLOSE,
            c.standard_headers(Some(s.session_id())),
            close_env,
        )
        .await?;
    assert_eq!((r.status, r.json()?["data"].clone()), (200, Value::Null));

    // Close: a type 129; afterwards the session is gone; closing again is 200 in plaintext.
    let s = env.session(&c).await?;
    let r = c.close(&s).await?;
    check(&r, 200, true, "2000");
    assert_eq!(r.body["data"], Value::Null);
    let r = c.call(&s, "POST", INIT, b"{}").await?;
    check(&r, 401, false, "SECURE_CHANNEL.SESSION_NOT_FOUND");
    let r = c.close(&s).await?;
    check(&r, 200, false, "2000");
    let r = c
        .send(
            Method::POST,
            PATH_SESSION_CLOSE,
            c.standard_headers(Some("never-existed")),
            b"x".to_vec(),
        )
        .await?;
    assert_eq!((r.status, r.json()?["data"].clone()), (200, Value::Null));
    // A closed session does not come back after a restart.
    let mut env = env;
    env.restart().await?;
    let r = env
        .client("hash-expiry")?
        .call(&s, "POST", INIT, b"{}")
        .await;
    let r = r?;
    check(&r, 401, false, "SECURE_CHANNEL.SESSION_NOT_FOUND");
    Ok(())
}

async fn rate_limit_sliding_window(b: Backend) -> R {
    let env = env_with(&b, |c| c.session_ttl_ms = 3_600_000).await?;
    let c = env.client("hash-rl")?;
    let s = env.session(&c).await?;
    let t0 = env.clock.now();
    // Five requests (failing ones count too: a validation error, a missing header, a bad body).
    for i in 0..5u64 {
        env.clock.set(t0 + i * 1000);
        let r = match i {
            0 => c.call(&s, "POST", INIT, b"{}").await?,
            1 => {
                let mut h = c.standard_headers(Some(s.session_id()));
                h.remove("accept");
                send_with(&c, &s, INIT, h, b"{}").await?
            }
            2 => {
                let raw = c
                    .send(
                        Method::POST,
                        INIT,
                        c.standard_headers(Some(s.session_id())),
                        b"junk".to_vec(),
                    )
                    .await?;
                let body = raw.json()?;
                CallResult {
                    status: raw.status,
                    encrypted: false,
                    body,
                    raw,
                }
            }
            _ => c.call(&s, "POST", INIT, b"{}").await?,
        };
        assert_ne!(r.status, 429, "request {i}");
    }
    env.clock.set(t0 + 5_000);
    let r = c.call(&s, "POST", INIT, b"{}").await?;
    check(&r, 429, false, "RATE_LIMIT.EXCEEDED");
    assert_eq!(r.raw.header("retry-after"), Some("295"));
    // Another client hash from the same IP has its own budget (on its own session: a session
    // has a budget of 5 too).
    let other = env.client("hash-rl-other")?;
    let s_other = env.session(&other).await?;
    let r = other.call(&s_other, "POST", INIT, b"{}").await?;
    check(&r, 400, true, "VALIDATION.INVALID_PARAMETER");
    // Just before the first request leaves the window: still refused.
    env.clock.set(t0 + 299_999);
    let r = c.call(&s, "POST", INIT, b"{}").await?;
    assert_eq!((r.status, r.raw.header("retry-after")), (429, Some("1")));
    // Sliding: at t0 + 300 s exactly one slot frees.
    env.clock.set(t0 + 300_000);
    let r = c.call(&s, "POST", INIT, b"{}").await?;
    check(&r, 400, true, "VALIDATION.INVALID_PARAMETER");
    let r = c.call(&s, "POST", INIT, b"{}").await?;
    check(&r, 429, false, "RATE_LIMIT.EXCEEDED");
    // After a whole window of silence the full budget is back.
    env.clock.set(t0 + 700_000);
    for _ in 0..5 {
        let r = c.call(&s, "POST", INIT, b"{}").await?;
        check(&r, 400, true, "VALIDATION.INVALID_PARAMETER");
    }
    let r = c.call(&s, "POST", INIT, b"{}").await?;
    check(&r, 429, false, "RATE_LIMIT.EXCEEDED");
    Ok(())
}

async fn restart_keeps_sessions_and_refuses_replays(b: Backend) -> R {
    // (With PostgreSQL the rate-limit counters survive the restarts: out of the way here.)
    let mut env = env_with(&b, generous).await?;
    let key_before = env.gw().public_key().clone();
    let c = env.client("hash-restart")?;
    let s = env.session(&c).await?;
    let token = env.registration("restart@example.com").await?;
    let h = c.standard_headers(Some(s.session_id()));
    let (_p, first) = c.seal(&s, "POST", INIT, b"{}")?;
    let r = c.send(Method::POST, INIT, h.clone(), first.clone()).await?;
    assert_eq!((r.status, &r.body[..4]), (400, &b"SC\x02\x81"[..]));
    let first_answer = r.body;

    env.restart().await?;
    assert_eq!(env.gw().public_key(), &key_before, "the server key is kept");
    let c = env.client("hash-restart")?;
    // The request accepted before the restart is not opened again after it: another envelope
    // with its sequence number is refused, and the same bytes get the same answer (the answer
    // cache is kept with the session).
    let r = c.send(Method::POST, INIT, h.clone(), flip(&first)).await?;
    assert_eq!(
        (r.status, r.json()?["code"].clone()),
        (400, json!("SECURE_CHANNEL.INVALID_PAYLOAD"))
    );
    let r = c.send(Method::POST, INIT, h.clone(), first).await?;
    assert_eq!((r.status, &r.body), (400, &first_answer));
    // The session itself works: request #2 opens and succeeds.
    let r = c
        .call(&s, "POST", INIT, &init_body(&token, "NewP@ssw0rd"))
        .await?;
    check(&r, 201, true, "2000");
    // And its window survives a second restart too.
    let (_p, third) = c.seal(&s, "POST", INIT, b"{}")?;
    let r = c.send(Method::POST, INIT, h.clone(), third.clone()).await?;
    assert_eq!(r.status, 400);
    env.restart().await?;
    let c = env.client("hash-restart")?;
    let r = c.send(Method::POST, INIT, h, flip(&third)).await?;
    assert_eq!(r.json()?["code"], "SECURE_CHANNEL.INVALID_PAYLOAD");
    let _ = &env.dir;
    Ok(())
}

async fn key_rotation_with_key_files(b: Backend) -> R {
    let dir = TempDir::new("scv2-gw-test");
    let clock = Arc::new(ManualClock::new(system_now_ms()));
    let now = clock.now();
    let old = scv2::ServerKey::generate("k-old", now - 10_000, None, &mut scv2::OsRng)?;
    let new = scv2::ServerKey::generate("k-new", now, None, &mut scv2::OsRng)?;
    let (f_old, f_new) = (dir.0.join("old.json"), dir.0.join("new.json"));
    scv2_gateway::keyfile::write(&f_old, &old)?;
    scv2_gateway::keyfile::write(&f_new, &new)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&f_old)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let mut cfg = config(&b, &dir, &clock).await?;
    cfg.key_files = vec![f_old, f_new];
    let gw = scv2_gateway::start(cfg).await?;
    assert_eq!(gw.public_key().key_id, "k-new");
    let mut c = ScClient::new(ClientOptions::new(&gw.url()))?;
    let old_doc = old.document();
    c.pin(&old_doc.key_id, &old_doc.public_key)?;
    let s = c.open_session("k-old").await?;
    let r = c.call(&s, "POST", INIT, b"{}").await?;
    check(&r, 400, true, "VALIDATION.INVALID_PARAMETER");
    gw.shutdown().await?;
    Ok(())
}

async fn two_hundred_concurrent_clients(b: Backend) -> R {
    // Behind a (simulated) CDN: every client has its own CF-Connecting-IP, as in production.
    let env = env_with(&b, |c| {
        c.test_env = true;
        c.hash_concurrency = 2;
        // This test is about concurrency, not Argon2 cost: 1 MiB keeps a debug build fast.
        c.argon2 = Argon2Params {
            m_kib: 1024,
            t: 1,
            p: 1,
        };
    })
    .await?;
    let env = Arc::new(env);
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let env = env.clone();
        tasks.push(tokio::spawn(async move {
            let c = env.client_at(
                &format!("client-hash-{i:03}"),
                &format!("198.18.{}.{}", i / 100, i % 100 + 1),
            )?;
            let token = env.registration(&format!("user{i:03}@example.com")).await?;
            let doc = c.public_key().await?;
            let key_id = c.check_document(&doc)?;
            let s = c.open_session(&key_id).await?;
            let r = c
                .call(&s, "POST", INIT, &init_body(&token, "NewP@ssw0rd"))
                .await?;
            anyhow::ensure!(
                r.status == 201 && r.encrypted && r.code() == "2000",
                "{}",
                r.body
            );
            let r = c.close(&s).await?;
            anyhow::ensure!(r.status == 200 && r.encrypted, "{}", r.body);
            Ok::<String, anyhow::Error>(r.body["code"].to_string())
        }));
    }
    let mut ok = 0;
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(120), t).await???;
        ok += 1;
    }
    assert_eq!(ok, 200);
    assert_eq!(env.gw().store().user_count().await?, 200);
    Ok(())
}

#[tokio::test]
async fn inspect_describes_envelopes() -> R {
    let cfg = scv2::ClientConfig::new();
    let mut cfg = cfg;
    let key = scv2::ServerKey::generate("k-inspect", 0, None, &mut scv2::OsRng)?;
    let d = key.document();
    cfg.pin(scv2::PinnedKey::from_spki_base64(&d.key_id, &d.public_key)?);
    let (_hs, type1) = scv2::ClientHandshake::start(&cfg, "k-inspect", b"{}", &mut scv2::OsRng)?;
    let text = scv2_gateway::inspect::describe(&type1)?;
    assert!(
        text.contains("type: 1 ") && text.contains("keyId: k-inspect"),
        "{text}"
    );
    let web = scv2::web::encode(&type1);
    let text = scv2_gateway::inspect::describe(web.as_bytes())?;
    assert!(text.contains("web form"), "{text}");
    assert!(scv2_gateway::inspect::describe(b"nope").is_err());
    Ok(())
}
