//! The request context ([`Req`]: language, request id, client, time) and every answer the
//! gateway sends: the API's JSON wrapper in plaintext, and envelopes (type 130 / 129) in the
//! form of the request.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::app::App;
use crate::client_ip::ClientAddr;
use crate::i18n::{message, Lang};
use crate::paths::endpoint_name;
use crate::util::random_bytes;
use crate::validate::{problems_json, Problems};

pub use crate::paths::CONTENT_TYPE_JSON;
/// The response wrapper's `version`.
pub const API_VERSION: &str = "2.0.0";

/// The socket peer of a connection (put into every request by the HTTP server).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// A header as text.
pub fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The request's `X-Request-Id` when it is a UUID, else a fresh UUID v4.
pub fn request_id(h: &HeaderMap) -> String {
    header(h, "x-request-id")
        .filter(|v| uuid::Uuid::try_parse(v).is_ok())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            random_bytes::<16>()
                .map(|b| uuid::Builder::from_random_bytes(b).into_uuid().to_string())
                .unwrap_or_default()
        })
}

/// One request's context.
#[derive(Clone, Debug)]
pub struct Req {
    /// Endpoint name for the log.
    pub endpoint: &'static str,
    /// Language of `message`.
    pub lang: Lang,
    /// Echoed in `X-Request-Id`.
    pub request_id: String,
    /// The client.
    pub client: ClientAddr,
    /// Time of arrival (ms).
    pub now: u64,
    /// First characters of the session id, for the log.
    pub sid_prefix: String,
}

impl FromRequestParts<Arc<App>> for Req {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Req, Infallible> {
        Ok(Req::from_parts(app, parts))
    }
}

impl Req {
    /// The context of a request.
    pub fn from_parts(app: &App, parts: &Parts) -> Req {
        let peer = parts
            .extensions
            .get::<Peer>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0.ip());
        Req {
            endpoint: endpoint_name(parts.uri.path()),
            lang: Lang::from_accept_language(header(&parts.headers, "accept-language")),
            request_id: request_id(&parts.headers),
            client: ClientAddr::new(app.trusted.client_ip(peer, &parts.headers)),
            now: app.cfg.clock.now_ms(),
            sid_prefix: String::new(),
        }
    }

    /// Note the session (its first 6 characters are logged).
    pub fn set_session(&mut self, sid: &str) {
        self.sid_prefix = sid.chars().take(6).collect();
    }

    /// The API's response wrapper.
    pub fn wrapper(&self, success: bool, code: &str, data: Value) -> Value {
        json!({
            "version": API_VERSION,
            "timestamp": self.now,
            "success": success,
            "code": code,
            "message": message(code, self.lang),
            "data": data,
        })
    }

    /// The log line of an answer.
    pub fn log(&self, status: StatusCode, code: &str) {
        tracing::info!(
            request_id = %self.request_id,
            endpoint = self.endpoint,
            status = status.as_u16(),
            code,
            sid = %self.sid_prefix,
            ip = %self.client.ip,
            "request"
        );
    }

    fn base(&self, status: StatusCode, body: Body) -> Response {
        let mut r = (status, body).into_response();
        let h = r.headers_mut();
        h.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static(CONTENT_TYPE_JSON),
        );
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            h.insert(HeaderName::from_static("x-request-id"), v);
        }
        r
    }

    /// A plaintext JSON answer.
    pub fn plain(&self, status: StatusCode, code: &str, data: Value) -> Response {
        self.log(status, code);
        let body = self.wrapper(status.is_success(), code, data).to_string();
        self.base(status, Body::from(body))
    }

    /// The plaintext answer to a refused envelope (SPEC section 9's table).
    pub fn sc_error(&self, e: scv2::Error) -> Response {
        let h = e.http();
        let status = StatusCode::from_u16(h.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        tracing::debug!(request_id = %self.request_id, error = e.name(), "secure channel refused");
        self.plain(status, h.code, Value::Null)
    }

    /// 401 `SECURE_CHANNEL.SESSION_NOT_FOUND`.
    pub fn session_not_found(&self) -> Response {
        self.plain(
            StatusCode::UNAUTHORIZED,
            "SECURE_CHANNEL.SESSION_NOT_FOUND",
            Value::Null,
        )
    }

    /// 500 `SYSTEM.INTERNAL_ERROR`.
    pub fn internal(&self) -> Response {
        self.plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM.INTERNAL_ERROR",
            Value::Null,
        )
    }

    /// 503 `SYSTEM.SERVICE_UNAVAILABLE`.
    pub fn unavailable(&self) -> Response {
        self.plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "SYSTEM.SERVICE_UNAVAILABLE",
            Value::Null,
        )
    }

    /// The answer to a failed store call: 503 `SYSTEM.SERVICE_UNAVAILABLE` when the database is
    /// unreachable or too slow (the gateway recovers by itself), else 500.
    pub fn store_error(&self, e: &anyhow::Error) -> Response {
        if crate::store::is_unavailable(e) {
            tracing::warn!(request_id = %self.request_id, error = %format!("{e:#}"), "database unavailable");
            self.unavailable()
        } else {
            tracing::error!(request_id = %self.request_id, error = %format!("{e:#}"), "database failed");
            self.internal()
        }
    }

    /// 408 `SYSTEM.REQUEST_TIMEOUT` (the body did not arrive in time).
    pub fn body_timeout(&self) -> Response {
        self.plain(
            StatusCode::REQUEST_TIMEOUT,
            "SYSTEM.REQUEST_TIMEOUT",
            Value::Null,
        )
    }

    /// 400 `VALIDATION.INVALID_PARAMETER` naming headers.
    pub fn header_problems(&self, problems: &Problems) -> Response {
        self.plain(
            StatusCode::BAD_REQUEST,
            "VALIDATION.INVALID_PARAMETER",
            problems_json(problems, self.lang),
        )
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(&self, retry_after: u64) -> Response {
        let mut r = self.plain(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMIT.EXCEEDED",
            Value::Null,
        );
        r.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            HeaderValue::from(retry_after),
        );
        r
    }

    /// An envelope answer (type 130 or 129), raw or in the web form like the request.
    pub fn envelope(&self, status: StatusCode, code: &str, envelope: &[u8], web: bool) -> Response {
        self.log(status, code);
        let body = if web {
            Body::from(scv2::web::encode(envelope))
        } else {
            Body::from(envelope.to_vec())
        };
        let mut r = self.base(status, body);
        r.headers_mut().insert(
            HeaderName::from_static("x-sc-version"),
            HeaderValue::from_static("2"),
        );
        r
    }
}
