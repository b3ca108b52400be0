//! Client side of the C ABI: configuration, handshake, session. Each function is a shell over
//! one function of `bridge::client`.

use scv2::Error;

use super::args::done;
use super::{scv2_status, status, SCV2_OK};
use crate::bridge;
use crate::handles::{scv2_client_config, scv2_client_handshake, scv2_client_session};

const INVALID_ARGUMENT: scv2_status = Error::InvalidArgument.code() as scv2_status;
const SCV2_INTERNAL: scv2_status = Error::Internal.code() as scv2_status;
const KEY_LEN: usize = scv2::primitives::X25519_LEN;
#[cfg(feature = "test-vectors")]
const IV1_LEN: usize = scv2::primitives::NONCE_LEN;
const MAX_KEY_ID_LEN: usize = scv2::MAX_KEY_ID_LEN;

// ---------------------------------------------------------------------------------------------
// Configuration

/// Create an empty client configuration (no pinned keys, padding block 64) in `*out_config`.
///
/// Ownership: the caller owns the new handle and frees it once with `scv2_client_config_free`.
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (`out_config` NULL), `SCV2_INTERNAL`.
///
/// # Safety
/// `out_config` must be NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_config_new(
    out_config: *mut *mut scv2_client_config,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let out_config = out_ptr!(out_config);
        out_config.publish(bridge::client_config_new());
        SCV2_OK
    })
}

/// Pin a server key: `key_id` (1..=255 printable ASCII bytes, not NUL-terminated) and its raw
/// 32-byte X25519 public key. Pinning a key id again replaces the earlier pin.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (NULL config, bad key id, `public_key_len` not 32),
/// `SCV2_INTERNAL`.
///
/// # Safety
/// `config` must be NULL or a live config handle; `key_id`/`public_key` must point to
/// `key_id_len`/`public_key_len` readable bytes (when those lengths are in range).
#[no_mangle]
pub unsafe extern "C" fn scv2_client_config_pin(
    config: *mut scv2_client_config,
    key_id: *const u8,
    key_id_len: usize,
    public_key: *const u8,
    public_key_len: usize,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let config = handle!(config);
        let key_id = input!(key_id, key_id_len, MAX_KEY_ID_LEN, INVALID_ARGUMENT);
        let public_key = input!(public_key, public_key_len, KEY_LEN, INVALID_ARGUMENT);
        done(
            bridge::client_config_pin(config, key_id, public_key),
            |()| {},
        )
    })
}

/// Pin a server key given as the public-key document's `publicKey` field (standard base64 of the
/// X25519 SubjectPublicKeyInfo, not NUL-terminated).
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (NULL config, bad key id),
/// `SCV2_INVALID_PUBLIC_KEY` (not an X25519 SPKI), `SCV2_PAYLOAD_TOO_LARGE` (`spki_base64_len` >
/// 1024), `SCV2_INTERNAL`.
///
/// # Safety
/// As for `scv2_client_config_pin`.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_config_pin_spki_base64(
    config: *mut scv2_client_config,
    key_id: *const u8,
    key_id_len: usize,
    spki_base64: *const u8,
    spki_base64_len: usize,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let config = handle!(config);
        let key_id = input!(key_id, key_id_len, MAX_KEY_ID_LEN, INVALID_ARGUMENT);
        let spki = input!(spki_base64, spki_base64_len, bridge::MAX_SPKI_BASE64_LEN);
        done(
            bridge::client_config_pin_spki_base64(config, key_id, spki),
            |()| {},
        )
    })
}

/// Pin a raw server public key of suite `suite` (`SCV2_SUITE_X25519`: the 32 bytes `S`;
/// `SCV2_SUITE_X25519MLKEM768`: the 1216 bytes `ek_s || S`, whose `ek_s` must pass FIPS 203's
/// encapsulation-key check). The handshake with this key id then runs in the pin's suite (never
/// one a document names). Pinning a key id again replaces the earlier pin.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (NULL config, unknown suite, bad key id,
/// `public_key_len` above 1216), `SCV2_INVALID_PUBLIC_KEY` (not the suite's length, or `ek_s`
/// fails the check), `SCV2_INTERNAL`.
///
/// # Safety
/// As for `scv2_client_config_pin`.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_config_pin_suite(
    config: *mut scv2_client_config,
    suite: u32,
    key_id: *const u8,
    key_id_len: usize,
    public_key: *const u8,
    public_key_len: usize,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let config = handle!(config);
        let key_id = input!(key_id, key_id_len, MAX_KEY_ID_LEN, INVALID_ARGUMENT);
        let public_key = input!(
            public_key,
            public_key_len,
            bridge::MAX_PUBLIC_KEY_LEN,
            INVALID_ARGUMENT
        );
        done(
            bridge::client_config_pin_suite(config, suite, key_id, public_key),
            |()| {},
        )
    })
}

/// Pin a server key of suite `suite` given as the public-key document's `publicKey` field (not
/// NUL-terminated): base64 of the X25519 SPKI for `SCV2_SUITE_X25519`, canonical standard base64
/// of the 1216 bytes `ek_s || S` for `SCV2_SUITE_X25519MLKEM768`. The suite is the caller's (its
/// configuration), never the document's `algorithm`.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (NULL config, unknown suite, bad key id),
/// `SCV2_INVALID_PUBLIC_KEY` (not a key of the suite), `SCV2_PAYLOAD_TOO_LARGE`
/// (`public_key_base64_len` > 4096), `SCV2_INTERNAL`.
///
/// # Safety
/// As for `scv2_client_config_pin`.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_config_pin_public_key_base64(
    config: *mut scv2_client_config,
    suite: u32,
    key_id: *const u8,
    key_id_len: usize,
    public_key_base64: *const u8,
    public_key_base64_len: usize,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let config = handle!(config);
        let key_id = input!(key_id, key_id_len, MAX_KEY_ID_LEN, INVALID_ARGUMENT);
        let b64 = input!(
            public_key_base64,
            public_key_base64_len,
            bridge::MAX_PUBLIC_KEY_BASE64_LEN
        );
        done(
            bridge::client_config_pin_public_key_base64(config, suite, key_id, b64),
            |()| {},
        )
    })
}

/// Set the padding block (1..=4096) for everything sessions started from this configuration send.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (NULL config, block out of range), `SCV2_INTERNAL`.
///
/// # Safety
/// `config` must be NULL or a live config handle.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_config_set_padding_block(
    config: *mut scv2_client_config,
    padding_block: usize,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let config = handle!(config);
        done(
            bridge::client_config_set_padding_block(config, padding_block),
            |()| {},
        )
    })
}

/// Free a client configuration. NULL is a no-op. Handshakes already started from it are not
/// affected. Must not race with any other call on the same handle; free it exactly once.
///
/// # Safety
/// `config` must be NULL or a live config handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_config_free(config: *mut scv2_client_config) {
    ffi_boundary!((), {
        if let Some(config) = take_handle!(config) {
            drop(config);
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Handshake

/// Start a handshake with the pinned server key `key_id`: writes the type-1 envelope (to send as
/// the body of `POST /web/v1/secure-channel/session`) into `out` and a new handshake handle into
/// `*out_handshake`.
///
/// `payload` (may be NULL when `payload_len` is 0) is protected by the server's static key only:
/// it is not forward-secret and can be replayed; it must carry no credentials.
/// The envelope is exactly `scv2_type1_len(key_id_len, payload_len, padding_block)` bytes.
///
/// Ownership: the caller owns the new handshake and frees it with `scv2_client_handshake_free`
/// (also after finishing it). Thread safety: `config` may be shared.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (NULL config/out_len/out_handshake, bad key id),
/// `SCV2_PAYLOAD_TOO_LARGE`, `SCV2_BUFFER_TOO_SMALL` (`*out_len` = size needed),
/// `SCV2_UNTRUSTED_SERVER_KEY` (key id not pinned), `SCV2_INVALID_PUBLIC_KEY`, `SCV2_INTERNAL`
/// (RNG failure).
///
/// # Safety
/// Every pointer must be NULL or valid for its length as described in the header's contract.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_handshake_start(
    config: *const scv2_client_config,
    key_id: *const u8,
    key_id_len: usize,
    payload: *const u8,
    payload_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    out_handshake: *mut *mut scv2_client_handshake,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let out_len = out_ptr!(out_len);
        let out_handshake = out_ptr!(out_handshake);
        let config = handle!(config);
        let max_payload = bridge::client_config_limits(config).max_payload;
        let key_id = input!(key_id, key_id_len, MAX_KEY_ID_LEN, INVALID_ARGUMENT);
        let payload = input!(payload, payload_len, max_payload);
        let out = output!(out, out_cap, &out_len, [payload, key_id]);
        done(
            bridge::client_handshake_start(config, key_id, payload, out),
            |(hs, n)| {
                out_len.set(n);
                out_handshake.publish(hs);
            },
        )
    })
}

/// TEST ONLY (feature `test-vectors`, never in release builds): `scv2_client_handshake_start`
/// with an explicit 32-byte ephemeral private key and 12-byte `iv1`, to rebuild the test vectors.
///
/// Returns the codes of `scv2_client_handshake_start`; `SCV2_INVALID_ARGUMENT` also when
/// `ephemeral_private_len` is not 32 or `iv1_len` not 12.
///
/// # Safety
/// As for `scv2_client_handshake_start`.
#[cfg(feature = "test-vectors")]
#[no_mangle]
pub unsafe extern "C" fn scv2_client_handshake_start_for_test_vectors(
    config: *const scv2_client_config,
    key_id: *const u8,
    key_id_len: usize,
    payload: *const u8,
    payload_len: usize,
    ephemeral_private: *const u8,
    ephemeral_private_len: usize,
    iv1: *const u8,
    iv1_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    out_handshake: *mut *mut scv2_client_handshake,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let e = input!(
            ephemeral_private,
            ephemeral_private_len,
            KEY_LEN,
            INVALID_ARGUMENT
        );
        let iv1 = input!(iv1, iv1_len, IV1_LEN, INVALID_ARGUMENT);
        let out_len = out_ptr!(out_len);
        let out_handshake = out_ptr!(out_handshake);
        let config = handle!(config);
        let max_payload = bridge::client_config_limits(config).max_payload;
        let key_id = input!(key_id, key_id_len, MAX_KEY_ID_LEN, INVALID_ARGUMENT);
        let payload = input!(payload, payload_len, max_payload);
        let out = output!(out, out_cap, &out_len, [payload, key_id, e, iv1]);
        done(
            bridge::client_handshake_start_for_test_vectors(config, key_id, payload, e, iv1, out),
            |(hs, n)| {
                out_len.set(n);
                out_handshake.publish(hs);
            },
        )
    })
}

/// TEST ONLY (feature `test-vectors`, never in release builds): `scv2_client_handshake_start` for
/// a key pinned in the hybrid suite, with every input fixed: the 32-byte X25519 ephemeral private
/// key, the 64-byte ML-KEM seed `d || z`, the 32-byte encapsulation randomness `m1` and the
/// 12-byte `iv1`, to rebuild the hybrid test vectors.
///
/// Returns the codes of `scv2_client_handshake_start`; `SCV2_INVALID_ARGUMENT` also when a fixed
/// input has another length or the pin is not of the hybrid suite.
///
/// # Safety
/// As for `scv2_client_handshake_start`.
#[cfg(feature = "test-vectors")]
#[no_mangle]
pub unsafe extern "C" fn scv2_client_handshake_start_hybrid_for_test_vectors(
    config: *const scv2_client_config,
    key_id: *const u8,
    key_id_len: usize,
    payload: *const u8,
    payload_len: usize,
    ephemeral_private: *const u8,
    ephemeral_private_len: usize,
    mlkem_seed: *const u8,
    mlkem_seed_len: usize,
    encaps_randomness: *const u8,
    encaps_randomness_len: usize,
    iv1: *const u8,
    iv1_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    out_handshake: *mut *mut scv2_client_handshake,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let e = input!(
            ephemeral_private,
            ephemeral_private_len,
            KEY_LEN,
            INVALID_ARGUMENT
        );
        let seed = input!(
            mlkem_seed,
            mlkem_seed_len,
            scv2::primitives::MLKEM_SEED_LEN,
            INVALID_ARGUMENT
        );
        let m1 = input!(
            encaps_randomness,
            encaps_randomness_len,
            scv2::primitives::MLKEM_ENCAPS_RANDOMNESS_LEN,
            INVALID_ARGUMENT
        );
        let iv1 = input!(iv1, iv1_len, IV1_LEN, INVALID_ARGUMENT);
        let out_len = out_ptr!(out_len);
        let out_handshake = out_ptr!(out_handshake);
        let config = handle!(config);
        let max_payload = bridge::client_config_limits(config).max_payload;
        let key_id = input!(key_id, key_id_len, MAX_KEY_ID_LEN, INVALID_ARGUMENT);
        let payload = input!(payload, payload_len, max_payload);
        let out = output!(out, out_cap, &out_len, [payload, key_id, e, seed, m1, iv1]);
        done(
            bridge::client_handshake_start_hybrid_for_test_vectors(
                config, key_id, payload, e, seed, m1, iv1, out,
            ),
            |(hs, n)| {
                out_len.set(n);
                out_handshake.publish(hs);
            },
        )
    })
}

/// Finish the handshake with the server's type-130 envelope, at time `now_ms` (ms since the Unix
/// epoch); writes a new session handle into `*out_session`.
///
/// The handshake runs at most once: after this function has passed its argument checks (NULL
/// pointers, `envelope_len` above the maximum), the handshake's secrets are consumed and zeroized
/// whatever the outcome, and every later call returns `SCV2_INVALID_STATE`. Free the handshake
/// handle with `scv2_client_handshake_free` in every case.
///
/// Ownership: the caller owns the new session and frees it with `scv2_client_session_free`.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (NULL handshake/envelope/out_session),
/// `SCV2_INVALID_STATE` (already finished), `SCV2_PAYLOAD_TOO_LARGE`, `SCV2_MALFORMED_ENVELOPE`,
/// `SCV2_UNSUPPORTED_VERSION`, `SCV2_UNKNOWN_TYPE`, `SCV2_INVALID_PUBLIC_KEY`,
/// `SCV2_DECRYPTION_FAILED`, `SCV2_SESSION_EXPIRED`, `SCV2_INTERNAL`.
///
/// # Safety
/// `handshake` NULL or live; `envelope` valid for `envelope_len` bytes; `out_session` NULL or
/// valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_handshake_finish(
    handshake: *mut scv2_client_handshake,
    envelope: *const u8,
    envelope_len: usize,
    now_ms: u64,
    out_session: *mut *mut scv2_client_session,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let out_session = out_ptr!(out_session);
        let hs = handle!(handshake);
        let max_envelope = bridge::client_handshake_limits(hs).max_envelope;
        let envelope = input!(envelope, envelope_len, max_envelope);
        done(
            bridge::client_handshake_finish(hs, envelope, now_ms),
            |session| out_session.publish(session),
        )
    })
}

/// Free a client handshake (finished or not); its secrets are zeroized. NULL is a no-op. Must not
/// race with any other call on the same handle; free it exactly once.
///
/// # Safety
/// `handshake` must be NULL or a live handshake handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_handshake_free(handshake: *mut scv2_client_handshake) {
    ffi_boundary!((), {
        if let Some(hs) = take_handle!(handshake) {
            bridge::client_handshake_free(*hs);
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Session

/// Copy the session id (1..=64 printable ASCII bytes, not NUL-terminated; send it as
/// `X-SC-Session-Id`) into `out`.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT`, `SCV2_BUFFER_TOO_SMALL` (`*out_len` = size
/// needed), `SCV2_INTERNAL`. Thread safety: concurrent calls allowed.
///
/// # Safety
/// `session` NULL or live; `out` valid for `out_cap` bytes; `out_len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_session_id(
    session: *const scv2_client_session,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let out_len = out_ptr!(out_len);
        let s = handle!(session);
        let out = output!(out, out_cap, &out_len, []);
        done(bridge::client_session_id(s, out), |n| out_len.set(n))
    })
}

/// Copy the server application's payload from the type-130 message into `out`.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT`, `SCV2_BUFFER_TOO_SMALL` (`*out_len` = size
/// needed), `SCV2_INTERNAL`. Thread safety: concurrent calls allowed.
///
/// # Safety
/// As for `scv2_client_session_id`.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_session_app_payload(
    session: *const scv2_client_session,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let out_len = out_ptr!(out_len);
        let s = handle!(session);
        let out = output!(out, out_cap, &out_len, []);
        done(bridge::client_session_app_payload(s, out), |n| {
            out_len.set(n)
        })
    })
}

/// Write the session's expiry (ms since the Unix epoch) into `*out_expires_at_ms`.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT`, `SCV2_INTERNAL`. Thread safety: concurrent calls
/// allowed.
///
/// # Safety
/// `session` NULL or live; `out_expires_at_ms` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_session_expires_at_ms(
    session: *const scv2_client_session,
    out_expires_at_ms: *mut u64,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let out_expires_at_ms = out_ptr!(out_expires_at_ms);
        let s = handle!(session);
        out_expires_at_ms.set(bridge::client_session_expires_at_ms(s));
        SCV2_OK
    })
}

/// Bytes of the request envelope this session seals for a body of `body_len` bytes (its padding
/// block applied). 0 if `session` is NULL or on overflow. Thread safety: concurrent calls
/// allowed.
///
/// # Safety
/// `session` must be NULL or a live session handle.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_session_sealed_len(
    session: *const scv2_client_session,
    body_len: usize,
) -> usize {
    ffi_boundary!(0, {
        // SAFETY: header contract: `session` is NULL or a live session handle.
        match unsafe { session.as_ref() } {
            Some(s) => bridge::client_session_sealed_len(s, body_len),
            None => 0,
        }
    })
}

/// Seal a request body into `out`: a type-2 envelope of exactly
/// `scv2_client_session_sealed_len(session, body_len)` bytes, bound to `ctx` (over HTTP:
/// `METHOD SP path`, for example "POST /web/v1/auth/login"). On success `*out_len` is the envelope
/// length and `*out_seq` the request's sequence number: keep it to open the response with
/// `scv2_client_open_response`.
///
/// `out` must not overlap `ctx` or `body` (`SCV2_INVALID_ARGUMENT`; use
/// `scv2_client_seal_request_in_place`). `ctx` and `body` may be NULL when their length is 0.
/// The session tracks at most `SCV2_MAX_OUTSTANDING` unanswered requests.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (NULL session/out_len/out_seq, NULL pointer with a
/// non-zero length, overlap), `SCV2_PAYLOAD_TOO_LARGE` (ctx or body above the maximum),
/// `SCV2_BUFFER_TOO_SMALL` (`*out_len` = size needed; nothing changed), `SCV2_INVALID_STATE`
/// (`SCV2_MAX_OUTSTANDING` requests unanswered), `SCV2_SESSION_EXPIRED` (`now_ms` >= expiry),
/// `SCV2_SESSION_EXHAUSTED`, `SCV2_INTERNAL`. On failure the contents of `out` are unspecified
/// (any partially written bytes are wiped).
///
/// Thread safety: concurrent calls on one session allowed. No heap allocation (ctx up to 313
/// bytes).
///
/// # Safety
/// Every pointer NULL or valid for its length (header contract).
#[no_mangle]
pub unsafe extern "C" fn scv2_client_seal_request(
    session: *const scv2_client_session,
    ctx: *const u8,
    ctx_len: usize,
    body: *const u8,
    body_len: usize,
    now_ms: u64,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    out_seq: *mut u64,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let out_len = out_ptr!(out_len);
        let out_seq = out_ptr!(out_seq);
        let s = handle!(session);
        let limits = bridge::client_session_limits(s);
        let ctx = input!(ctx, ctx_len, limits.max_ctx);
        let body = input!(body, body_len, limits.max_payload);
        let out = output!(out, out_cap, &out_len, [ctx, body]);
        done(
            bridge::client_seal_request(s, ctx, body, now_ms, out),
            |(n, seq)| {
                out_len.set(n);
                out_seq.set(seq);
            },
        )
    })
}

/// Seal a request in place: the caller wrote the body at `buf + SCV2_BODY_OFFSET` (16), `body_len`
/// bytes; `buf_cap` is the buffer's capacity, at least
/// `scv2_client_session_sealed_len(session, body_len)`. On success the envelope is
/// `buf[0 .. *out_len]` and `*out_seq` its sequence number.
///
/// Returns the codes of `scv2_client_seal_request` (`SCV2_BUFFER_TOO_SMALL`: `*out_len` = capacity
/// needed, `buf` untouched). On failure the contents of `buf` are unspecified.
///
/// Thread safety: concurrent calls on one session allowed (distinct buffers). No heap allocation
/// (ctx up to 313 bytes).
///
/// # Safety
/// Every pointer NULL or valid for its length (header contract); `ctx` must not point into `buf`.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_seal_request_in_place(
    session: *const scv2_client_session,
    ctx: *const u8,
    ctx_len: usize,
    buf: *mut u8,
    buf_cap: usize,
    body_len: usize,
    now_ms: u64,
    out_len: *mut usize,
    out_seq: *mut u64,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let out_len = out_ptr!(out_len);
        let out_seq = out_ptr!(out_seq);
        let s = handle!(session);
        let limits = bridge::client_session_limits(s);
        let ctx = input!(ctx, ctx_len, limits.max_ctx);
        if body_len > limits.max_payload {
            return status(Error::PayloadTooLarge);
        }
        let buf = output!(buf, buf_cap, &out_len, [ctx]);
        done(
            bridge::client_seal_request_in_place(s, ctx, buf, body_len, now_ms),
            |(n, seq)| {
                out_len.set(n);
                out_seq.set(seq);
            },
        )
    })
}

/// Open the response to the request `seq` (from `scv2_client_seal_request`) into `out`, which
/// needs `scv2_max_open_len(envelope_len)` bytes; `*out_len` is the body length. `ctx` must be
/// the request's.
///
/// On success the request is answered and `seq` is forgotten (a second call is
/// `SCV2_INVALID_STATE`); on failure `seq` stays outstanding and the call can be retried (for
/// example with the right envelope).
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT`, `SCV2_PAYLOAD_TOO_LARGE`,
/// `SCV2_BUFFER_TOO_SMALL` (`*out_len` = size needed; nothing changed), `SCV2_INVALID_STATE`
/// (`seq` not outstanding: never sealed, or already answered), `SCV2_MALFORMED_ENVELOPE`,
/// `SCV2_UNSUPPORTED_VERSION`, `SCV2_UNKNOWN_TYPE`, `SCV2_DECRYPTION_FAILED`,
/// `SCV2_RESPONSE_MISMATCH` (the response answers another request), `SCV2_INTERNAL`. Expiry is
/// not checked. On failure the contents of `out` are unspecified (never unauthenticated
/// plaintext).
///
/// Thread safety: concurrent calls on one session allowed. No heap allocation (ctx up to 313
/// bytes).
///
/// # Safety
/// Every pointer NULL or valid for its length (header contract).
#[no_mangle]
pub unsafe extern "C" fn scv2_client_open_response(
    session: *const scv2_client_session,
    seq: u64,
    ctx: *const u8,
    ctx_len: usize,
    envelope: *const u8,
    envelope_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let out_len = out_ptr!(out_len);
        let s = handle!(session);
        let limits = bridge::client_session_limits(s);
        let ctx = input!(ctx, ctx_len, limits.max_ctx);
        let envelope = input!(envelope, envelope_len, limits.max_envelope);
        let out = output!(out, out_cap, &out_len, [ctx, envelope]);
        done(
            bridge::client_open_response(s, seq, ctx, envelope, out),
            |n| out_len.set(n),
        )
    })
}

/// Open the response to request `seq` in place: `buf[0 .. buf_len]` holds the type-129
/// envelope; on success the body is `buf[*out_body_offset .. *out_body_offset + *out_body_len]`.
///
/// Returns the codes of `scv2_client_open_response` (no `SCV2_BUFFER_TOO_SMALL`). On failure the
/// contents of `buf` are unspecified (never unauthenticated plaintext).
///
/// Thread safety: concurrent calls on one session allowed (distinct buffers). No heap allocation
/// (ctx up to 313 bytes).
///
/// # Safety
/// Every pointer NULL or valid for its length (header contract); `ctx` must not point into `buf`.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_open_response_in_place(
    session: *const scv2_client_session,
    seq: u64,
    ctx: *const u8,
    ctx_len: usize,
    buf: *mut u8,
    buf_len: usize,
    out_body_offset: *mut usize,
    out_body_len: *mut usize,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let out_body_offset = out_ptr!(out_body_offset);
        let out_body_len = out_ptr!(out_body_len);
        let s = handle!(session);
        let limits = bridge::client_session_limits(s);
        let ctx = input!(ctx, ctx_len, limits.max_ctx);
        let buf = inout!(buf, buf_len, limits.max_envelope, [ctx]);
        done(
            bridge::client_open_response_in_place(s, seq, ctx, buf),
            |range| {
                out_body_offset.set(range.start);
                out_body_len.set(range.len());
            },
        )
    })
}

/// Forget the request `seq` (from `scv2_client_seal_request`): its response will never be opened.
/// Call it when a request gets no type-129 answer — a plaintext error (HTTP 400, 401, 429, ...),
/// a lost or cancelled call — so that its place in the table of `SCV2_MAX_OUTSTANDING`
/// outstanding requests is freed. Sequence numbers are never reused, so forgetting is always safe;
/// an answer that arrives later can no longer be opened (`SCV2_INVALID_STATE`).
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (NULL session), `SCV2_INVALID_STATE` (`seq` not
/// outstanding: never sealed, already answered or already forgotten), `SCV2_INTERNAL`.
///
/// Thread safety: concurrent calls on one session allowed. No heap allocation.
///
/// # Safety
/// `session` must be NULL or a live session handle.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_forget_request(
    session: *const scv2_client_session,
    seq: u64,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let s = handle!(session);
        done(bridge::client_forget_request(s, seq), |()| {})
    })
}

/// Free a client session: its keys, the server's application payload and the outstanding request
/// tokens are zeroized. NULL is a no-op. Must not race with any other call on the same handle;
/// free it exactly once.
///
/// # Safety
/// `session` must be NULL or a live session handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn scv2_client_session_free(session: *mut scv2_client_session) {
    ffi_boundary!((), {
        if let Some(s) = take_handle!(session) {
            bridge::client_session_free(*s);
        }
    })
}
