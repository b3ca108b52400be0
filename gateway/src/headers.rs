//! Header checks: the Cloudflare simulation headers (one middleware for every route under
//! `--test-env`), the headers password init requires, and the session id header.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use crate::answer::{header, Req};
use crate::app::App;
use crate::i18n::Problem;
use crate::validate::Problems;

fn add_problem(problems: &mut Problems, field: &str, p: Problem) {
    problems.push((field.to_owned(), vec![p]));
}

/// The Cloudflare simulation headers (`--test-env`): `CF-Connecting-IP` (an address),
/// `Cf-Ray` (1–64 characters), `cf-ipcountry` (ISO 3166-1 alpha-2).
pub fn cf_problems(h: &HeaderMap) -> Problems {
    let mut problems = Problems::new();
    match header(h, "cf-connecting-ip") {
        None => add_problem(&mut problems, "CF-Connecting-IP", Problem::Required),
        Some(v) if v.trim().parse::<IpAddr>().is_err() => add_problem(
            &mut problems,
            "CF-Connecting-IP",
            Problem::HeaderValue("an IP address"),
        ),
        Some(_) => {}
    }
    match header(h, "cf-ray") {
        None => add_problem(&mut problems, "Cf-Ray", Problem::Required),
        Some(v) if v.trim().is_empty() || v.len() > 64 => {
            add_problem(&mut problems, "Cf-Ray", Problem::Length(1, 64))
        }
        Some(_) => {}
    }
    match header(h, "cf-ipcountry") {
        None => add_problem(&mut problems, "cf-ipcountry", Problem::Required),
        Some(v) if v.len() != 2 || !v.bytes().all(|b| b.is_ascii_alphabetic()) => add_problem(
            &mut problems,
            "cf-ipcountry",
            Problem::HeaderValue("an ISO 3166-1 alpha-2 code"),
        ),
        Some(_) => {}
    }
    problems
}

/// Middleware on every route under `--test-env`: a request without valid Cloudflare headers
/// did not come through the (simulated) CDN and is answered 400 in plaintext before anything
/// else (no limit counts it, nothing is read or decrypted).
pub async fn require_cloudflare(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    let problems = cf_problems(request.headers());
    if problems.is_empty() {
        return next.run(request).await;
    }
    let (parts, _body) = request.into_parts();
    Req::from_parts(&app, &parts).header_problems(&problems)
}

/// `Content-Type: application/json`, charset UTF-8 or none.
pub fn content_type_ok(v: &str) -> bool {
    let mut parts = v.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|p| {
        let p = p.trim();
        match p.split_once('=') {
            Some((k, val)) if k.trim().eq_ignore_ascii_case("charset") => {
                val.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        }
    })
}

/// `Accept` allows JSON.
pub fn accept_ok(v: &str) -> bool {
    v.split(',').take(64).any(|item| {
        let media = item.split(';').next().unwrap_or("").trim();
        ["application/json", "application/*", "*/*"]
            .iter()
            .any(|m| media.eq_ignore_ascii_case(m))
    })
}

/// The headers `POST /web/v1/system/auth/password/init` requires.
pub fn init_header_problems(h: &HeaderMap) -> Problems {
    let mut p = Problems::new();
    match header(h, "content-type") {
        None => add_problem(&mut p, "Content-Type", Problem::Required),
        Some(v) if !content_type_ok(v) => add_problem(
            &mut p,
            "Content-Type",
            Problem::HeaderValue("application/json;charset=UTF-8"),
        ),
        Some(_) => {}
    }
    match header(h, "accept") {
        None => add_problem(&mut p, "Accept", Problem::Required),
        Some(v) if !accept_ok(v) => {
            add_problem(&mut p, "Accept", Problem::HeaderValue("application/json"))
        }
        Some(_) => {}
    }
    match header(h, "x-client-hash") {
        None => add_problem(&mut p, "X-Client-Hash", Problem::Required),
        Some(v) if !scv2::wire::is_valid_id(v.as_bytes(), 128) => {
            add_problem(&mut p, "X-Client-Hash", Problem::Length(1, 128))
        }
        Some(_) => {}
    }
    match header(h, "x-sc-version") {
        None => add_problem(&mut p, "X-SC-Version", Problem::Required),
        Some(v) if v.trim() != "2" => {
            add_problem(&mut p, "X-SC-Version", Problem::HeaderValue("2"))
        }
        Some(_) => {}
    }
    p
}

/// The raw `X-Client-Hash` bytes (limits key on them before the header check judges them).
pub fn client_hash(h: &HeaderMap) -> &[u8] {
    h.get("x-client-hash").map_or(&[], |v| v.as_bytes())
}

/// The session id header (`X-SC-Session-Id`, alias `X-Secure-Channel-Session-Id`).
pub fn session_header(h: &HeaderMap) -> Option<&str> {
    header(h, "x-sc-session-id")
        .or_else(|| header(h, "x-secure-channel-session-id"))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        assert!(content_type_ok("application/json;charset=UTF-8"));
        assert!(content_type_ok("application/json; charset=utf-8"));
        assert!(content_type_ok("application/json"));
        assert!(!content_type_ok("application/json;charset=latin1"));
        assert!(!content_type_ok("application/octet-stream"));
        assert!(accept_ok("application/json"));
        assert!(accept_ok("text/html, */*;q=0.1"));
        assert!(!accept_ok("text/html"));
    }

    #[test]
    fn every_required_header_is_reported() {
        let fields = |p: Problems| p.into_iter().map(|(f, _)| f).collect::<Vec<_>>();
        assert_eq!(
            fields(init_header_problems(&HeaderMap::new())),
            ["Content-Type", "Accept", "X-Client-Hash", "X-SC-Version"]
        );
        assert_eq!(
            fields(cf_problems(&HeaderMap::new())),
            ["CF-Connecting-IP", "Cf-Ray", "cf-ipcountry"]
        );
    }
}
