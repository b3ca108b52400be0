//! The HTTP binding (SPEC.md section 9): the request binding `ctx` = `METHOD SP path`, the header
//! names, and the two body forms (the raw envelope, or the web form `{"v":2,"p":…}`) behind one
//! size cap. A gateway, a CLI and an inspector use the same functions, so they agree on every
//! byte.
//!
//! ```
//! use scv2::http::{ctx, decode_body, encode_body, BodyForm, DEFAULT_MAX_BODY};
//!
//! // What both sides bind each request to: the method and the path as sent, no query string.
//! let c = ctx("POST", "/web/v1/system/auth/password/init?lang=en")?;
//! assert_eq!(c, "POST /web/v1/system/auth/password/init");
//!
//! // A body in either form decodes to the envelope; answer in the form the request used.
//! let envelope = b"SC\x02\x02...";
//! let web = encode_body(envelope, BodyForm::Web);
//! let (decoded, form) = decode_body(&web, DEFAULT_MAX_BODY)?;
//! assert_eq!((&decoded[..], form), (&envelope[..], BodyForm::Web));
//! # Ok::<(), scv2::Error>(())
//! ```

#![forbid(unsafe_code)]

use std::borrow::Cow;

use crate::config::DEFAULT_MAX_ENVELOPE;
use crate::error::{Error, Result};
use crate::web;
use crate::wire::MAX_CTX;

/// The header carrying the session id on every request after the handshake.
pub const SESSION_ID_HEADER: &str = "X-SC-Session-Id";
/// The alias of [`SESSION_ID_HEADER`] that servers accept too.
pub const SESSION_ID_HEADER_ALIAS: &str = "X-Secure-Channel-Session-Id";
/// The header naming the protocol version.
pub const VERSION_HEADER: &str = "X-SC-Version";
/// The value of [`VERSION_HEADER`].
pub const VERSION_VALUE: &str = "2";
/// The default cap on a body, raw or web form: the default envelope cap (SPEC.md: the envelope
/// cap applies to the JSON text of the web form).
pub const DEFAULT_MAX_BODY: usize = DEFAULT_MAX_ENVELOPE;

/// The path part of an HTTP request-target, as sent: everything before the query string of an
/// origin-form target (`/a/b?x` → `/a/b`); for an absolute-form target (`https://host/a?x`), the
/// part after the authority (`/a`, empty when there is none); `*` stays `*`. Nothing is decoded or
/// normalised.
pub fn request_path(target: &str) -> &str {
    let target = target.split_once('?').map_or(target, |(p, _)| p);
    match target.split_once("://") {
        Some((scheme, rest)) if !scheme.is_empty() && !scheme.contains('/') => {
            rest.find('/').map_or("", |i| &rest[i..])
        }
        _ => target,
    }
}

/// The request binding of SPEC.md section 9: the method, one space, and the path of
/// `request_target` ([`request_path`]).
///
/// Errors: [`Error::InvalidArgument`] (a method that is not an HTTP token, or a target with a
/// space or a control character), [`Error::PayloadTooLarge`] (longer than 65535 bytes, the most
/// the associated data can carry).
pub fn ctx(method: &str, request_target: &str) -> Result<String> {
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(Error::InvalidArgument);
    }
    if request_target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(Error::InvalidArgument);
    }
    let path = request_path(request_target);
    let len = method.len() + 1 + path.len();
    if len > MAX_CTX {
        return Err(Error::PayloadTooLarge);
    }
    let mut out = String::with_capacity(len);
    out.push_str(method);
    out.push(' ');
    out.push_str(path);
    Ok(out)
}

/// RFC 9110 `tchar`: the characters of a method name.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// How an envelope travels in an HTTP body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyForm {
    /// The envelope's bytes.
    Raw,
    /// The web form `{"v":2,"p":"<base64>"}` ([`crate::web`]).
    Web,
}

/// The envelope in a request or response body, raw or in the web form (a body whose first
/// non-blank byte is `{`), and which form it was in.
///
/// `max_len` caps the body as received (the JSON text of the web form). Errors:
/// [`Error::PayloadTooLarge`] (over `max_len`, before anything is read), and for the web form the
/// errors of [`web::decode`] ([`Error::MalformedEnvelope`], [`Error::UnsupportedVersion`]). A raw
/// body is returned as it is: the envelope parser judges it.
pub fn decode_body(body: &[u8], max_len: usize) -> Result<(Cow<'_, [u8]>, BodyForm)> {
    if body.len() > max_len {
        return Err(Error::PayloadTooLarge);
    }
    if web::is_web_form(body) {
        Ok((Cow::Owned(web::decode(body, max_len)?), BodyForm::Web))
    } else {
        Ok((Cow::Borrowed(body), BodyForm::Raw))
    }
}

/// The body carrying `envelope` in `form` (the inverse of [`decode_body`]).
pub fn encode_body(envelope: &[u8], form: BodyForm) -> Vec<u8> {
    match form {
        BodyForm::Raw => envelope.to_vec(),
        BodyForm::Web => web::encode(envelope).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctx_is_method_space_path_without_query() {
        assert_eq!(
            ctx("POST", "/web/v1/auth/login").unwrap(),
            "POST /web/v1/auth/login"
        );
        assert_eq!(ctx("GET", "/a/b?x=1&y=2").unwrap(), "GET /a/b");
        assert_eq!(ctx("GET", "/a%2Fb/../c").unwrap(), "GET /a%2Fb/../c");
        assert_eq!(ctx("get", "/x").unwrap(), "get /x", "the method as sent");
        assert_eq!(
            ctx("GET", "https://h.example:8443/p/q?r").unwrap(),
            "GET /p/q"
        );
        assert_eq!(ctx("GET", "http://h.example").unwrap(), "GET ");
        assert_eq!(ctx("OPTIONS", "*").unwrap(), "OPTIONS *");
        assert_eq!(ctx("GET", "/x://y").unwrap(), "GET /x://y");
        for (m, t) in [
            ("", "/"),
            ("PO ST", "/"),
            ("GET", "/a b"),
            ("GET", "/a\n"),
            ("G\u{e9}T", "/"),
        ] {
            assert_eq!(ctx(m, t), Err(Error::InvalidArgument), "{m:?} {t:?}");
        }
        // The cap (skipped under Miri, where the 4 KiB string searches take half a minute).
        if !cfg!(miri) {
            let long = format!("/{}", "a".repeat(MAX_CTX));
            assert_eq!(ctx("GET", &long), Err(Error::PayloadTooLarge));
            assert_eq!(ctx("G", &long[..MAX_CTX - 2]).unwrap().len(), MAX_CTX);
        }
    }

    #[test]
    fn bodies_in_both_forms() {
        let env = b"SC\x02\x02\x00\x01";
        for form in [BodyForm::Raw, BodyForm::Web] {
            let body = encode_body(env, form);
            let (got, f) = decode_body(&body, DEFAULT_MAX_BODY).unwrap();
            assert_eq!((&got[..], f), (&env[..], form));
            assert_eq!(
                decode_body(&body, body.len() - 1),
                Err(Error::PayloadTooLarge)
            );
        }
        assert_eq!(
            decode_body(b" {\"v\":3,\"p\":\"\"}", 100),
            Err(Error::UnsupportedVersion)
        );
        assert_eq!(
            decode_body(b"{\"v\":2}", 100),
            Err(Error::MalformedEnvelope)
        );
        let (raw, f) = decode_body(b"not an envelope", 100).unwrap();
        assert_eq!((&raw[..], f), (&b"not an envelope"[..], BodyForm::Raw));
    }
}
