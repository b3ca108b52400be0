//! The one error type of the library, with stable numeric codes: the single source of every status
//! code, name and description that crosses a boundary (the C header, the Kotlin and Swift enums and
//! the vector file are generated from or checked against [`ALL_ERRORS`]).

#![forbid(unsafe_code)]

use core::fmt;

/// Declares [`Error`] from one table: variant, code, stable name, one-line message (`Display`),
/// and the doc comment (also returned by [`Error::doc`], for the bindings' generated docs).
macro_rules! errors {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $code:literal, $name:literal, $message:literal; )+) => {
        /// Every way an SCv2 operation can fail.
        ///
        /// The numeric codes ([`Error::code`]) are stable: they cross the C ABI, name the `error`
        /// field of the test-vector file ([`Error::name`]) and are never renumbered. A retired
        /// code stays reserved.
        ///
        /// Authentication failures are deliberately coarse: a bad tag, a bad padding marker, a
        /// wrong `ctx` and a nonce outside the allowed range are all [`Error::DecryptionFailed`],
        /// so that a receiver never acts as a padding or tag oracle.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        #[repr(u8)]
        pub enum Error {
            $( $(#[doc = $doc])+ $variant = $code, )+
        }

        /// Every error, in code order (handy for bindings and tests that must cover them all).
        pub const ALL_ERRORS: [Error; [$($code),+].len()] = [$(Error::$variant),+];

        impl Error {
            /// The stable snake_case name (as used in the vector file's `error` field).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Error::$variant => $name,)+
                }
            }

            /// A one-line description (the `Display` text).
            pub const fn message(self) -> &'static str {
                match self {
                    $(Error::$variant => $message,)+
                }
            }

            /// The variant's documentation, one paragraph (what the bindings' generated enums say).
            pub const fn doc(self) -> &'static str {
                match self {
                    $(Error::$variant => concat!($($doc),+).trim_ascii(),)+
                }
            }
        }
    };
}

errors! {
    /// The bytes are not a well-formed envelope of the expected type (bad magic, wrong lengths,
    /// trailing bytes, a known type at the wrong entry point, a bad key id encoding, ...).
    MalformedEnvelope = 1, "malformed_envelope", "malformed SCv2 envelope";
    /// The envelope's version byte is not `0x02`.
    UnsupportedVersion = 2, "unsupported_version", "unsupported SCv2 version";
    /// The envelope's type byte is not one SCv2 defines.
    UnknownType = 3, "unknown_type", "unknown SCv2 envelope type";
    /// A type-1 envelope names a key id the server does not hold, or holds only as expired.
    UnknownKeyId = 4, "unknown_key_id", "unknown or expired server key id";
    /// The server's public key is not pinned by the client (and trust on first use is off).
    UntrustedServerKey = 5, "untrusted_server_key", "server key is not pinned";
    /// A public key is not usable: wrong encoding, or an X25519 result that is all zeros.
    InvalidPublicKey = 6, "invalid_public_key", "invalid public key";
    /// Authentication failed: bad tag, bad padding, wrong `ctx`, or a nonce out of range.
    DecryptionFailed = 7, "decryption_failed", "decryption failed";
    /// The request's sequence number was already accepted, or is older than the replay window.
    Replayed = 8, "replayed", "replayed or too old request";
    /// The session's `expiresAtMs` has passed.
    SessionExpired = 9, "session_expired", "session expired";
    /// The session has used all its sequence numbers (2^32 − 1 requests); open a new one.
    SessionExhausted = 10, "session_exhausted", "session sequence numbers exhausted";
    /// A response carries a sequence number other than the one of the request it answers.
    ResponseMismatch = 11, "response_mismatch", "response does not answer this request";
    /// The output buffer is too small. Decided before any cryptography; no state changed.
    BufferTooSmall = 12, "buffer_too_small", "output buffer too small";
    /// An input is longer than the configured maximum.
    PayloadTooLarge = 13, "payload_too_large", "input larger than the configured maximum";
    /// An argument is out of its documented range.
    InvalidArgument = 14, "invalid_argument", "invalid argument";
    /// The object cannot do this now (closed session, finished handshake, wrong token).
    InvalidState = 15, "invalid_state", "invalid state (closed or already used)";
    /// A failure that should not happen (RNG failure, internal invariant). Report it.
    Internal = 255, "internal", "internal error";
}

/// How a gateway answers a request that failed with a given [`Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpError {
    /// HTTP status code.
    pub status: u16,
    /// The API's error code (the `code` field of the response wrapper).
    pub code: &'static str,
}

impl Error {
    /// The stable numeric code (1–15, 255).
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The error for a numeric code, if it is one.
    pub fn from_code(code: u8) -> Option<Error> {
        ALL_ERRORS.iter().copied().find(|e| e.code() == code)
    }

    /// The error with this stable name, if it is one.
    pub fn from_name(name: &str) -> Option<Error> {
        ALL_ERRORS.iter().copied().find(|e| e.name() == name)
    }

    /// The gateway's plaintext answer to a request that failed with this error.
    ///
    /// | error | status | code |
    /// |---|---|---|
    /// | malformed, version, type, public key, decryption failed, replayed, too large | 400 | `SECURE_CHANNEL.INVALID_PAYLOAD` |
    /// | unknown key id | 400 | `SECURE_CHANNEL.UNKNOWN_KEY_ID` |
    /// | session expired, exhausted, closed (`invalid_state`) | 401 | `SECURE_CHANNEL.SESSION_NOT_FOUND` |
    /// | client-side or internal errors | 500 | `SYSTEM.INTERNAL_ERROR` |
    ///
    /// A gateway answers a missing or unknown `X-SC-Session-Id` with the same 401 as an expired
    /// session. These answers are plaintext, never a type-129 envelope.
    pub const fn http(self) -> HttpError {
        match self {
            Error::MalformedEnvelope
            | Error::UnsupportedVersion
            | Error::UnknownType
            | Error::InvalidPublicKey
            | Error::DecryptionFailed
            | Error::Replayed
            | Error::PayloadTooLarge => HttpError {
                status: 400,
                code: "SECURE_CHANNEL.INVALID_PAYLOAD",
            },
            Error::UnknownKeyId => HttpError {
                status: 400,
                code: "SECURE_CHANNEL.UNKNOWN_KEY_ID",
            },
            Error::SessionExpired | Error::SessionExhausted | Error::InvalidState => HttpError {
                status: 401,
                code: "SECURE_CHANNEL.SESSION_NOT_FOUND",
            },
            Error::UntrustedServerKey
            | Error::ResponseMismatch
            | Error::BufferTooSmall
            | Error::InvalidArgument
            | Error::Internal => HttpError {
                status: 500,
                code: "SYSTEM.INTERNAL_ERROR",
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

/// An error that hands back the single-use token it was given, so that nothing is lost.
///
/// Returned by the calls that consume a [`crate::ResponseSlot`] or a [`crate::PendingRequest`]:
/// if the call fails (for example [`Error::BufferTooSmall`]), the token comes back and the call can
/// be retried. Converts into [`Error`] with `?` when the token is no longer wanted.
#[derive(Debug, PartialEq, Eq)]
pub struct TokenError<T> {
    /// What went wrong.
    pub error: Error,
    /// The token, unused.
    pub token: T,
}

impl<T> TokenError<T> {
    /// Take the token back.
    pub fn into_token(self) -> T {
        self.token
    }
}

impl<T> From<TokenError<T>> for Error {
    fn from(e: TokenError<T>) -> Error {
        e.error
    }
}

impl<T: fmt::Debug> fmt::Display for TokenError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T: fmt::Debug> std::error::Error for TokenError<T> {}

/// Result alias.
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_round_trip() {
        let expected: [(u8, &str); 16] = [
            (1, "malformed_envelope"),
            (2, "unsupported_version"),
            (3, "unknown_type"),
            (4, "unknown_key_id"),
            (5, "untrusted_server_key"),
            (6, "invalid_public_key"),
            (7, "decryption_failed"),
            (8, "replayed"),
            (9, "session_expired"),
            (10, "session_exhausted"),
            (11, "response_mismatch"),
            (12, "buffer_too_small"),
            (13, "payload_too_large"),
            (14, "invalid_argument"),
            (15, "invalid_state"),
            (255, "internal"),
        ];
        for (e, (code, name)) in ALL_ERRORS.iter().zip(expected) {
            assert_eq!(e.code(), code);
            assert_eq!(e.name(), name);
            assert_eq!(Error::from_code(code), Some(*e));
            assert_eq!(Error::from_name(name), Some(*e));
        }
        assert_eq!(Error::from_code(0), None);
        assert_eq!(Error::from_code(16), None);
    }

    #[test]
    fn docs_and_messages_come_from_the_table() {
        assert_eq!(
            Error::UnsupportedVersion.doc(),
            "The envelope's version byte is not `0x02`."
        );
        assert!(Error::MalformedEnvelope
            .doc()
            .contains("lengths, trailing bytes"));
        for e in ALL_ERRORS {
            assert!(!e.doc().is_empty() && !e.doc().starts_with(' '));
            assert_eq!(e.to_string(), e.message());
        }
    }

    #[test]
    fn http_mapping() {
        assert_eq!(Error::Replayed.http().status, 400);
        assert_eq!(
            Error::DecryptionFailed.http().code,
            "SECURE_CHANNEL.INVALID_PAYLOAD"
        );
        assert_eq!(Error::SessionExpired.http().status, 401);
        assert_eq!(
            Error::SessionExpired.http().code,
            "SECURE_CHANNEL.SESSION_NOT_FOUND"
        );
        assert_eq!(Error::Internal.http().status, 500);
    }
}
