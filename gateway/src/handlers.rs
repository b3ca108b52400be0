//! The secure-channel routes: the public-key document (of the preferred suite) and the list of
//! every live key (`/public-keys`), session open and close, and the
//! fallback for unknown paths and methods. (Password init is in [`crate::password_init`].)

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use scv2::OsRng;
use serde_json::Value;

use crate::answer::Req;
use crate::app::App;
use crate::channel::{self, end_sessions, OnGone, Reply};
use crate::paths;
use crate::sessions::Live;
use crate::store::{Effect, SessionRecord};

/// Unknown path → 404; known path, other method → 405.
pub async fn fallback(req: Req, uri: Uri) -> Response {
    if paths::ALL.contains(&uri.path()) {
        req.plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "SYSTEM.METHOD_NOT_ALLOWED",
            Value::Null,
        )
    } else {
        req.plain(StatusCode::NOT_FOUND, "SYSTEM.NOT_FOUND", Value::Null)
    }
}

/// The key of `suite` to advertise at `now_ms`: the newest unexpired key of that suite whose
/// `createdAt` has come (a key added with a later `createdAt` is accepted by every gateway that
/// loaded it, and advertised from then on: `scv2 keys add --activate-in-secs`), else the newest
/// unexpired key of that suite.
pub fn advertised_key_of(
    server: &scv2::Server,
    suite: scv2::Suite,
    now_ms: u64,
) -> Option<&scv2::ServerKey> {
    server
        .keys()
        .iter()
        .filter(|k| k.suite() == suite && !k.is_expired(now_ms) && k.created_at_ms() <= now_ms)
        .fold(None, |best: Option<&scv2::ServerKey>, k| match best {
            Some(b) if b.created_at_ms() > k.created_at_ms() => Some(b),
            _ => Some(k),
        })
        .or_else(|| server.current_key_of(suite, now_ms))
}

/// The key `GET /public-key` advertises at `now_ms`: that of the preferred suite
/// ([`advertised_key_of`]); when the server holds no live key of it, that of the other suites
/// in their order (`scv2 serve` warns about it at start).
pub fn advertised_key(
    server: &scv2::Server,
    preferred: scv2::Suite,
    now_ms: u64,
) -> Option<&scv2::ServerKey> {
    advertised_key_of(server, preferred, now_ms).or_else(|| {
        scv2::Suite::ALL
            .into_iter()
            .find_map(|s| advertised_key_of(server, s, now_ms))
    })
}

/// Every key `GET /public-keys` lists at `now_ms`: the unexpired keys whose `createdAt` has come
/// (as for `/public-key`, a key added with a later `createdAt` is listed only from then on, so no
/// client is sent a key another gateway may not have loaded yet), and for a suite that has none
/// of those, its [`advertised_key_of`] fallback. Suites in their order, newest first within one.
pub fn live_keys(server: &scv2::Server, now_ms: u64) -> Vec<&scv2::ServerKey> {
    let mut keys: Vec<&scv2::ServerKey> = server
        .keys()
        .iter()
        .filter(|k| !k.is_expired(now_ms) && k.created_at_ms() <= now_ms)
        .collect();
    for suite in scv2::Suite::ALL {
        if !keys.iter().any(|k| k.suite() == suite) {
            keys.extend(advertised_key_of(server, suite, now_ms));
        }
    }
    keys.sort_by(|a, b| {
        (a.suite(), std::cmp::Reverse(a.created_at_ms()), a.key_id()).cmp(&(
            b.suite(),
            std::cmp::Reverse(b.created_at_ms()),
            b.key_id(),
        ))
    });
    keys
}

/// `GET /web/v1/secure-channel/public-keys`: `data` is an array of public-key documents (the
/// shape of `/public-key`'s `data`), one per live key of every suite.
pub async fn public_keys(State(app): State<Arc<App>>, req: Req) -> Response {
    let server = app.server();
    let docs: Vec<Value> = live_keys(&server, req.now)
        .into_iter()
        .map(|k| crate::keyfile::document_json(&k.document()))
        .collect();
    if docs.is_empty() {
        return req.internal();
    }
    req.plain(StatusCode::OK, "2000", Value::Array(docs))
}

/// `GET /web/v1/secure-channel/public-key`.
pub async fn public_key(State(app): State<Arc<App>>, req: Req) -> Response {
    let server = app.server();
    match advertised_key(&server, app.cfg.preferred_suite, req.now) {
        Some(k) => req.plain(
            StatusCode::OK,
            "2000",
            crate::keyfile::document_json(&k.document()),
        ),
        None => req.internal(),
    }
}

/// `POST /web/v1/secure-channel/session`: a type 1 in, a type 130 out.
pub async fn session_open(State(app): State<Arc<App>>, mut req: Req, body: Body) -> Response {
    match app.limits.session_create(&req.client, req.now).await {
        Ok(Ok(())) => {}
        Ok(Err(retry)) => return req.rate_limited(retry),
        Err(e) => return req.store_error(&e),
    }
    let env = match channel::read_envelope(&app, &req, body).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let accepted = match app.server().accept(env.bytes(), req.now) {
        Ok(a) => a,
        Err(e) => return req.sc_error(e),
    };
    let sid = match scv2::generate_session_id(&mut OsRng) {
        Ok(s) => s,
        Err(_) => return req.internal(),
    };
    req.set_session(&sid);
    let expires = req.now.saturating_add(app.cfg.session_ttl_ms);
    let (session, type130) = match accepted.respond(&sid, expires, b"", &mut OsRng) {
        Ok(x) => x,
        Err(e) => return req.sc_error(e),
    };
    let sealed = match session.export(&app.storage_key, &mut OsRng) {
        Ok(b) => b,
        Err(e) => return req.sc_error(e),
    };
    let record = SessionRecord {
        session_id: sid.clone(),
        generation: session.generation(),
        sealed,
        expires_at_ms: expires,
        client_group: req.client.group.to_string(),
        last_used_ms: req.now,
    };
    let live = Arc::new(Live::new(
        session,
        Some(req.client.group),
        record.generation,
    ));
    let evicted = end_sessions(app.sessions.insert(live).into_iter().map(|(l, _)| l));
    let evicted = if app.store.exclusive() {
        evicted
    } else {
        Vec::new()
    };
    if let Err(e) = app
        .store
        .create_session(record, evicted, app.cfg.max_sessions_per_ip)
        .await
    {
        if let Some(l) = app.sessions.remove(&sid) {
            l.close();
        }
        return req.store_error(&e);
    }
    let mut r = req.envelope(StatusCode::OK, "2000", &type130, env.web());
    if let Ok(v) = HeaderValue::from_str(&sid) {
        r.headers_mut()
            .insert(HeaderName::from_static("x-sc-session-id"), v);
    }
    r
}

/// `POST /web/v1/secure-channel/session/close`: idempotent; an accepted close is answered in a
/// type 129 and the session is deleted with it.
pub async fn session_close(
    State(app): State<Arc<App>>,
    mut req: Req,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let idempotent_ok = |req: &Req| req.plain(StatusCode::OK, "2000", Value::Null);
    if crate::headers::session_header(&headers).is_none() {
        return req.session_not_found();
    }
    let live = match channel::find_session(&app, &mut req, &headers).await {
        Ok(Some(l)) => l,
        Ok(None) => return idempotent_ok(&req),
        Err(r) => return r,
    };
    let opened =
        match channel::read_and_open(&app, &req, live, &method, &uri, body, OnGone::IdempotentOk)
            .await
        {
            Ok(o) => o,
            Err(r) => return r,
        };
    channel::respond(&app, req, opened, |_app, req, _plain| async move {
        let body = req.wrapper(true, "2000", Value::Null);
        Reply {
            effect: Effect::EndSession,
            cache: false,
            ..Reply::answer(StatusCode::OK, body)
        }
    })
    .await
}
