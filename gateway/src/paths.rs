//! The API surface shared by the server and the client: route paths (and the names they are
//! logged under) and the content type.

/// The `Content-Type` of every answer (also of binary envelopes, as the deployed API does).
pub const CONTENT_TYPE_JSON: &str = "application/json;charset=UTF-8";

/// Path of the public-key document.
pub const PATH_PUBLIC_KEY: &str = "/web/v1/secure-channel/public-key";
/// Path of the list of every live key, of every suite.
pub const PATH_PUBLIC_KEYS: &str = "/web/v1/secure-channel/public-keys";
/// Path that opens a session.
pub const PATH_SESSION: &str = "/web/v1/secure-channel/session";
/// Path that closes a session.
pub const PATH_SESSION_CLOSE: &str = "/web/v1/secure-channel/session/close";
/// Path of Initialize Password.
pub const PATH_PASSWORD_INIT: &str = "/web/v1/system/auth/password/init";

/// Every route's path.
pub const ALL: [&str; 5] = [
    PATH_PUBLIC_KEY,
    PATH_PUBLIC_KEYS,
    PATH_SESSION,
    PATH_SESSION_CLOSE,
    PATH_PASSWORD_INIT,
];

/// The name a request to `path` is logged under.
pub fn endpoint_name(path: &str) -> &'static str {
    match path {
        PATH_PUBLIC_KEY => "public-key",
        PATH_PUBLIC_KEYS => "public-keys",
        PATH_SESSION => "session",
        PATH_SESSION_CLOSE => "session-close",
        PATH_PASSWORD_INIT => "password-init",
        _ => "fallback",
    }
}
