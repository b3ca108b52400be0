//! Generated from the core by `ffi/tests/generated.rs` (`scripts/gen-header.sh`); do not edit.
//! The status codes are `scv2::ALL_ERRORS`; the lengths are the core's constants and the token
//! table's capacity. A test fails when this file differs from what they say.

use super::scv2_status;

/// The bytes are not a well-formed envelope of the expected type (bad magic, wrong lengths,
/// trailing bytes, a known type at the wrong entry point, a bad key id encoding, ...).
pub const SCV2_MALFORMED_ENVELOPE: scv2_status = 1;

/// The envelope's version byte is not `0x02`.
pub const SCV2_UNSUPPORTED_VERSION: scv2_status = 2;

/// The envelope's type byte is not one SCv2 defines.
pub const SCV2_UNKNOWN_TYPE: scv2_status = 3;

/// A type-1 envelope names a key id the server does not hold, or holds only as expired.
pub const SCV2_UNKNOWN_KEY_ID: scv2_status = 4;

/// The server's public key is not pinned by the client (and trust on first use is off).
pub const SCV2_UNTRUSTED_SERVER_KEY: scv2_status = 5;

/// A public key is not usable: wrong encoding, or an X25519 result that is all zeros.
pub const SCV2_INVALID_PUBLIC_KEY: scv2_status = 6;

/// Authentication failed: bad tag, bad padding, wrong `ctx`, or a nonce out of range.
pub const SCV2_DECRYPTION_FAILED: scv2_status = 7;

/// The request's sequence number was already accepted, or is older than the replay window.
pub const SCV2_REPLAYED: scv2_status = 8;

/// The session's `expiresAtMs` has passed.
pub const SCV2_SESSION_EXPIRED: scv2_status = 9;

/// The session has used all its sequence numbers (2^32 − 1 requests); open a new one.
pub const SCV2_SESSION_EXHAUSTED: scv2_status = 10;

/// A response carries a sequence number other than the one of the request it answers.
pub const SCV2_RESPONSE_MISMATCH: scv2_status = 11;

/// The output buffer is too small. Decided before any cryptography; no state changed. In the C ABI,
/// `*out_len` holds the size needed.
pub const SCV2_BUFFER_TOO_SMALL: scv2_status = 12;

/// An input is longer than the configured maximum. In the C ABI, decided before the pointer is
/// read.
pub const SCV2_PAYLOAD_TOO_LARGE: scv2_status = 13;

/// An argument is out of its documented range. In the C ABI, also a NULL pointer where one is
/// required.
pub const SCV2_INVALID_ARGUMENT: scv2_status = 14;

/// The object cannot do this now (closed session, finished handshake, wrong token). In the C ABI,
/// also an unknown or already answered sequence number, or a full table of outstanding requests.
pub const SCV2_INVALID_STATE: scv2_status = 15;

/// A failure that should not happen (RNG failure, internal invariant). Report it. A caught panic is
/// reported as this too.
pub const SCV2_INTERNAL: scv2_status = 255;

/// The most requests a session handle tracks at once: requests sealed by a client session and not
/// yet answered (`scv2_client_open_response` succeeded) or forgotten
/// (`scv2_client_forget_request`), or requests opened by a server session and not yet answered
/// (`scv2_server_seal_response` succeeded) or forgotten. The table is allocated once when the
/// session handle is created and never grows; when it is full, sealing (client) or opening (server)
/// returns `SCV2_INVALID_STATE` and changes nothing.
pub const SCV2_MAX_OUTSTANDING: usize = 1024;

/// Where the body starts inside the buffer of the in-place calls (after the 4-byte header and the
/// 12-byte IV).
pub const SCV2_BODY_OFFSET: usize = 16;

/// Length of an X25519 public or private key.
pub const SCV2_KEY_LEN: usize = 32;

/// Length of `iv1` (test-vector entry points).
pub const SCV2_IV1_LEN: usize = 12;

/// The longest key id (bytes).
pub const SCV2_MAX_KEY_ID_LEN: usize = 255;

/// The longest session id (bytes).
pub const SCV2_MAX_SESSION_ID_LEN: usize = 64;

/// The suite X25519-HKDF-SHA256-AES-256-GCM (SPEC.md), as the `suite` argument of the `*_suite*`
/// functions: public key 32 bytes, private key 32 bytes.
pub const SCV2_SUITE_X25519: u32 = 1;

/// The suite X25519MLKEM768-HKDF-SHA256-AES-256-GCM (SPEC.md), as the `suite` argument of the
/// `*_suite*` functions: public key 1216 bytes, private key 96 bytes.
pub const SCV2_SUITE_X25519MLKEM768: u32 = 2;
