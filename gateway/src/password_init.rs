//! `POST /web/v1/system/auth/password/init`: its order of checks and its business logic (the
//! registration claimed before hashing, so that one token costs at most one Argon2 hash).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::answer::Req;
use crate::app::App;
use crate::channel::{self, Answer, OnGone, Reply, RequestTx};
use crate::clock::rfc3339;
use crate::config::CLAIM_LEASE_MS;
use crate::headers::{client_hash, init_header_problems};
use crate::store::{Claim, Effect, EffectOutcome, TokenHash};
use crate::validate::{problems_json, validate_init};

/// The handler. Order: address limits (every request that reaches the endpoint counts),
/// headers, session, session limit, open, then the business in a type 129. The limits are one
/// count (address, (address, hash) and, when the request names a live session, the session), so
/// the headers are checked and the session looked up first, and the answers keep that order.
pub async fn handler(
    State(app): State<Arc<App>>,
    mut req: Req,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let problems = init_header_problems(&headers);
    let live = if problems.is_empty() {
        match channel::find_session(&app, &mut req, &headers).await {
            Ok(l) => l,
            Err(r) => return r,
        }
    } else {
        None
    };
    let counted = app
        .limits
        .init_attempt(
            &req.client,
            client_hash(&headers),
            live.as_ref().map(|l| l.session_id()),
            req.now,
        )
        .await;
    match counted {
        Ok(Ok(())) => {}
        Ok(Err(retry)) => return req.rate_limited(retry),
        Err(e) => return req.store_error(&e),
    }
    if !problems.is_empty() {
        return req.header_problems(&problems);
    }
    let Some(live) = live else {
        return req.session_not_found();
    };
    let opened =
        match channel::read_and_open(&app, &req, live, &method, &uri, body, OnGone::Refuse).await {
            Ok(o) => o,
            Err(r) => return r,
        };
    let tx = opened.tx();
    channel::respond(&app, req, opened, move |app, req, plain| {
        password_init(app, req, plain, tx)
    })
    .await
}

fn not_found(req: &Req) -> Answer {
    Answer {
        status: StatusCode::NOT_FOUND,
        body: req.wrapper(false, "AUTH.SESSION_NOT_FOUND", Value::Null),
    }
}

fn internal(req: &Req) -> Reply {
    Reply::answer(
        StatusCode::INTERNAL_SERVER_ERROR,
        req.wrapper(false, "SYSTEM.INTERNAL_ERROR", Value::Null),
    )
}

/// The business logic, on the decrypted body; its claim and token counter run in the request
/// transaction `tx`.
async fn password_init(app: Arc<App>, req: Req, plain: Zeroizing<Vec<u8>>, tx: RequestTx) -> Reply {
    let parsed = validate_init(&plain);
    drop(plain);
    let body = match parsed {
        Ok(b) => b,
        Err(p) => {
            return Reply::answer(
                StatusCode::BAD_REQUEST,
                req.wrapper(
                    false,
                    "VALIDATION.INVALID_PARAMETER",
                    problems_json(&p, req.lang),
                ),
            )
        }
    };
    let token = TokenHash::of(&body.session_id);
    let now = req.now;
    let token_key = app.limits.token_key(&token);
    match tx.check(token_key, now).await {
        Ok(Ok(())) => {}
        Ok(Err(retry)) => {
            return Reply {
                retry_after: Some(retry),
                ..Reply::answer(
                    StatusCode::TOO_MANY_REQUESTS,
                    req.wrapper(false, "RATE_LIMIT.EXCEEDED", Value::Null),
                )
            }
        }
        Err(e) => {
            tracing::error!(request_id = %req.request_id, error = %format!("{e:#}"), "checking the token limit failed");
            return internal(&req);
        }
    }
    match tx.claim_registration(token, now, CLAIM_LEASE_MS).await {
        Ok(Claim::Claimed(_)) => {}
        Ok(Claim::Unavailable) => {
            if let Err(e) = tx.hit(&[token_key], now).await {
                tracing::warn!(error = %format!("{e:#}"), "counting a failed attempt on a token failed");
            }
            let a = not_found(&req);
            return Reply::answer(a.status, a.body);
        }
        Ok(Claim::Unknown) => {
            let a = not_found(&req);
            return Reply::answer(a.status, a.body);
        }
        Err(e) => {
            tracing::error!(request_id = %req.request_id, error = %format!("{e:#}"), "claiming a registration failed");
            return internal(&req);
        }
    }
    let hash = match app.hash_slots.acquire().await {
        Ok(permit) => {
            app.metrics.argon2_hashes.fetch_add(1, Ordering::Relaxed);
            let params = app.cfg.argon2;
            let password = body.password;
            let h = tokio::task::spawn_blocking(move || params.hash(&password)).await;
            drop(permit);
            match h {
                Ok(Ok(h)) => Some(h),
                _ => None,
            }
        }
        Err(_) => None,
    };
    let Some(password_hash) = hash else {
        if let Err(e) = tx.release_claim().await {
            tracing::warn!(error = %format!("{e:#}"), "releasing a claim failed (its lease ends it)");
        }
        return internal(&req);
    };
    let r = req.clone();
    Reply {
        effect: Effect::CompleteRegistration {
            token,
            password_hash,
            now_ms: now,
        },
        build: Box::new(move |outcome| match outcome {
            EffectOutcome::UserCreated(user) => Answer {
                status: StatusCode::CREATED,
                body: r.wrapper(
                    true,
                    "2000",
                    json!({
                        "bizId": user.biz_id,
                        "email": user.email,
                        "name": user.name,
                        "status": user.status,
                        "createdAt": rfc3339(user.created_at_ms),
                    }),
                ),
            },
            _ => not_found(&r),
        }),
        cache: true,
        retry_after: None,
    }
}
