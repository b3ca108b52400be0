//! CORS for browser apps on other origins: `scv2 serve --cors-origin ORIGIN` (repeatable).
//!
//! Owns one router layer ([`apply`]) and nothing else; without a configured origin the router is
//! returned unchanged, so the gateway sends no CORS header at all.
//!
//! With origins configured:
//! - a request whose `Origin` is exactly one of them (byte for byte: browsers send the serialized
//!   origin, `scheme://host[:port]`, lowercase, no path) gets `Access-Control-Allow-Origin: <that
//!   origin>` and `Access-Control-Expose-Headers: X-SC-Session-Id, X-Request-Id, Retry-After`;
//! - a preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin is
//!   answered here, 204, with the methods (`GET, POST`), the SCv2 request headers
//!   ([`ALLOW_HEADERS`]) and `Access-Control-Max-Age: 600`; from any other origin it is answered
//!   403 without CORS headers, so the browser refuses the call;
//! - other requests (same-origin ones, which carry `Origin` too on POST, and requests from
//!   origins not listed) are handled as usual without CORS headers: a browser does not let a
//!   page of another origin read the answer;
//! - every answer carries `Vary: Origin`, so that caches keep the variants apart.
//!
//! No credentials are ever allowed (`Access-Control-Allow-Credentials` is never sent): SCv2
//! calls need no cookies.

use std::sync::Arc;

use anyhow::bail;
use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
    VARY,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

/// The request headers a page may send: the API's and SCv2's, the session-id alias, and the
/// Cloudflare simulation headers (read only with `--test-env`).
pub const ALLOW_HEADERS: &str = "accept, accept-language, content-type, x-client-hash, \
     x-request-id, x-sc-session-id, x-sc-version, x-secure-channel-session-id, \
     cf-connecting-ip, cf-ray, cf-ipcountry";
/// The response headers a page may read besides the CORS-safelisted ones.
pub const EXPOSE_HEADERS: &str = "X-SC-Session-Id, X-Request-Id, Retry-After";
/// The methods of the API.
pub const ALLOW_METHODS: &str = "GET, POST";
/// How long a browser may cache a preflight answer, seconds.
pub const MAX_AGE_SECS: &str = "600";

/// Check that `origin` is a serialized origin as browsers send it: `http://` or `https://`, a
/// lowercase host, an optional port, nothing else (no path, no trailing slash, no wildcard).
pub fn check_origin(origin: &str) -> anyhow::Result<()> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let Some(authority) = rest else {
        bail!("--cors-origin {origin:?}: must start with http:// or https://");
    };
    // host[:port], the host an IPv6 literal in brackets or a lowercase name / IPv4 address.
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => {
                let (h, rest) = authority.split_at(end + 1);
                match rest.strip_prefix(':') {
                    _ if rest.is_empty() => (h, None),
                    Some(p) => (h, Some(p)),
                    None => (h, Some("")), // junk after the literal: refused as a port
                }
            }
            None => ("", None),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !v6.is_empty()
            && v6
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b':')
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && !p.starts_with('0')
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok()
    });
    if !host_ok || !port_ok {
        bail!(
            "--cors-origin {origin:?}: must be exactly a browser's Origin, \
             scheme://host[:port] in lowercase, with no path or trailing slash \
             (e.g. https://app.example.com or http://127.0.0.1:5173)"
        );
    }
    Ok(())
}

struct Origins(Vec<HeaderValue>);

/// Add the CORS layer for `origins` to `router` (unchanged when `origins` is empty).
///
/// Errors: an origin that is not a serialized origin ([`check_origin`]).
pub fn apply(router: Router, origins: &[String]) -> anyhow::Result<Router> {
    if origins.is_empty() {
        return Ok(router);
    }
    let mut list = Vec::with_capacity(origins.len());
    for o in origins {
        check_origin(o)?;
        list.push(HeaderValue::from_str(o)?);
    }
    let state = Arc::new(Origins(list));
    Ok(router.layer(axum::middleware::from_fn_with_state(state, cors)))
}

async fn cors(State(origins): State<Arc<Origins>>, req: Request, next: Next) -> Response {
    let allowed = req
        .headers()
        .get(ORIGIN)
        .filter(|o| origins.0.iter().any(|a| a.as_bytes() == o.as_bytes()))
        .cloned();
    let preflight = req.method() == Method::OPTIONS
        && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let mut resp = if preflight {
        match &allowed {
            Some(origin) => {
                let mut r = StatusCode::NO_CONTENT.into_response();
                let h = r.headers_mut();
                h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                h.insert(
                    ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static(ALLOW_METHODS),
                );
                h.insert(
                    ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static(ALLOW_HEADERS),
                );
                h.insert(
                    ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static(MAX_AGE_SECS),
                );
                r
            }
            None => StatusCode::FORBIDDEN.into_response(),
        }
    } else {
        let mut r = next.run(req).await;
        if let Some(origin) = &allowed {
            let h = r.headers_mut();
            h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            h.insert(
                ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
        }
        r
    };
    resp.headers_mut()
        .append(VARY, HeaderValue::from_static("Origin"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        for ok in [
            "https://app.example.com",
            "http://127.0.0.1:5173",
            "http://localhost:8080",
            "https://a-b.example",
            "http://[::1]:3000",
        ] {
            assert!(check_origin(ok).is_ok(), "{ok}");
        }
        for bad in [
            "*",
            "null",
            "app.example.com",
            "https://app.example.com/",
            "https://App.example.com",
            "https://app.example.com/path",
            "ftp://x",
            "https://",
            "http://127.0.0.1:",
            "http://127.0.0.1:080",
            "http://127.0.0.1:70000",
            "https://app.example.com?x",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}
