//! # scv2 — Secure Channel v2
//!
//! End-to-end encryption of the JSON bodies of sensitive HTTP API calls (login, registration,
//! password init/reset/change) between an app and the API gateway, on top of TLS, so that a CDN or
//! proxy that terminates TLS sees only ciphertext. This crate implements the suites
//! **X25519-HKDF-SHA256-AES-256-GCM** and the hybrid post-quantum
//! **X25519MLKEM768-HKDF-SHA256-AES-256-GCM** of `SPEC.md` ([`Suite`]), for both roles. The
//! suite is a property of a key id: a [`ServerKey`] and a [`PinnedKey`] carry theirs, a client
//! takes it from its pin and a [`Server`] from the key a type 1 names.
//!
//! It is *sans-io*: no sockets, no threads, no clock, no global state. The caller passes the time
//! (`now_ms`, milliseconds since the Unix epoch) and a cryptographic RNG (the `rand_core` 0.10
//! traits; [`OsRng`] is the operating system's). Every parser and every decrypt path returns an
//! [`Error`]; nothing panics on any input.
//!
//! ## Example: a whole exchange in process
//!
//! ```
//! use scv2::{ClientConfig, ClientHandshake, OsRng, PinnedKey, Server, ServerConfig, ServerKey};
//!
//! # fn main() -> Result<(), scv2::Error> {
//! let now_ms = 1_764_400_000_000;
//! let mut rng = OsRng;
//!
//! // Server: one static key.
//! let mut server = Server::new(ServerConfig::default());
//! server.add_key(ServerKey::generate("k-2026-11", now_ms, None, &mut rng)?)?;
//! let doc = server.current_key(now_ms).unwrap().document();
//!
//! // Client: pin the key, then open a session.
//! let mut config = ClientConfig::new();
//! config.pin(PinnedKey::from_spki_base64(&doc.key_id, &doc.public_key)?);
//! let (handshake, type1) = ClientHandshake::start(&config, &doc.key_id, b"{}", &mut rng)?;
//!
//! let accepted = server.accept(&type1, now_ms)?;
//! let sid = scv2::generate_session_id(&mut rng)?;
//! let (server_session, type130) = accepted.respond(&sid, now_ms + 600_000, b"", &mut rng)?;
//! let client_session = handshake.finish(&type130, now_ms)?;
//!
//! // A request and its response, bound to the HTTP method and path.
//! let ctx = b"POST /web/v1/system/auth/password/init";
//! let body = br#"{"sessionId":"init-session-1","password":"NewP@ssw0rd"}"#;
//! let mut request = vec![0u8; client_session.sealed_len(body.len())];
//! let (pending, n) = client_session.seal_request(ctx, body, now_ms, &mut request)?;
//!
//! let mut plain = vec![0u8; scv2::max_open_len(n)];
//! let (slot, len) = server_session.open_request(ctx, &request[..n], now_ms, &mut plain)?;
//! assert_eq!(&plain[..len], body);
//!
//! let answer = br#"{"success":true,"code":"2000"}"#;
//! let mut response = vec![0u8; server_session.sealed_len(answer.len())];
//! let m = server_session.seal_response(slot, ctx, answer, &mut response)?;
//!
//! let mut out = vec![0u8; scv2::max_open_len(m)];
//! let len = client_session.open_response(pending, ctx, &response[..m], &mut out)?;
//! assert_eq!(&out[..len], answer);
//! # Ok(())
//! # }
//! ```
//!
//! ## Guarantees
//! - Keys, shared secrets, PRKs and plaintext scratch buffers are zeroized; `Debug` never prints
//!   them.
//! - Authentication failures are one error, [`Error::DecryptionFailed`].
//! - Each request sequence number is accepted once (replay window); each accepted request gets at
//!   most one response ([`ResponseSlot`] is single-use), so no nonce is ever used twice.
//! - The seal/open paths allocate nothing (with `ctx` up to [`ZERO_ALLOC_MAX_CTX`] bytes).

// The core has no `unsafe` code at all: raw pointers live in the boundary crate (`ffi/`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(all(feature = "test-vectors", not(debug_assertions)))]
compile_error!(
    "the `test-vectors` feature exposes fixed-ephemeral constructors and must never be enabled in \
     a release build"
);

mod config;
mod error;
mod handshake;
pub mod http;
mod keys;
pub mod padding;
pub mod primitives;
mod replay;
mod schedule;
mod session;
mod suite;
pub mod web;
pub mod wire;

pub use config::{
    ClientConfig, Limits, ServerConfig, Trust, DEFAULT_MAX_CTX, DEFAULT_MAX_ENVELOPE,
    DEFAULT_MAX_PAYLOAD,
};
pub use error::{Error, HttpError, Result, TokenError, ALL_ERRORS};
#[cfg(feature = "test-vectors")]
pub use handshake::HybridClientTestInputs;
pub use handshake::{
    generate_session_id, key_exchange_len, key_exchange_response_len, AcceptedHandshake,
    ClientHandshake, Server, GENERATED_SESSION_ID_LEN,
};
pub use keys::{
    check_key_id, parse_public_key_base64, parse_spki_base64, public_key_base64, spki_base64,
    spki_der, PinnedKey, PublicKeyDocument, ServerKey, LABEL, SPKI_PREFIX, SUITE,
};
pub use replay::{ReplayWindow, DEFAULT_WINDOW, MAX_WINDOW};
pub use schedule::{INFO_KX_KEY, INFO_SESSION_KEYS, MAX_SEQ};
pub use session::{
    check_session_id, export_generation, max_open_len, sealed_len, ClientSession, PendingRequest,
    ResponseSlot, ServerSession, StorageKey, BODY_OFFSET_IN_PLACE, EXPORT_VERSION,
    ZERO_ALLOC_MAX_CTX,
};
pub use suite::{Suite, LABEL_PQ};
pub use wire::{MAX_CTX, MAX_KEY_ID_LEN, MAX_SESSION_ID_LEN};

/// The library version (this crate's version, e.g. `"0.1.0"`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The operating system's RNG (`getrandom`), as a `rand_core` 0.10 `TryCryptoRng`.
///
/// A failure of the OS RNG surfaces as [`Error::Internal`], never as a panic.
pub use getrandom::SysRng as OsRng;

/// The README's Rust examples, compiled as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The `rand_core` version this crate's RNG parameters use.
pub use rand_core;
