//! Client side of the C ABI: configuration, handshake, session.

use std::sync::{Mutex, PoisonError, RwLock};

use super::table::TokenTable;
use super::{
    copy_out, data_len, disjoint, finish, fixed, handle, id_str, input, output, publish, put,
    required, scv2_status, status, take_handle, type1_len, FfiResult, SCV2_BUFFER_TOO_SMALL,
    SCV2_INTERNAL, SCV2_INVALID_STATE, SCV2_KEY_LEN, SCV2_MAX_KEY_ID_LEN, SCV2_PAYLOAD_TOO_LARGE,
};
use crate::config::{ClientConfig, Limits};
use crate::ffi_boundary;
use crate::handshake::ClientHandshake;
use crate::keys::PinnedKey;
use crate::session::{max_open_len, ClientSession, PendingRequest};

/// A client configuration: the pinned server keys and the padding block (default 64).
///
/// Create with `scv2_client_config_new`, free with `scv2_client_config_free`. Thread safety:
/// internally locked; it may be read (`scv2_client_handshake_start`) and modified from several
/// threads at once, but modify it before sharing it for clarity.
pub struct scv2_client_config {
    inner: RwLock<ClientConfig>,
}

/// A client handshake in progress: created by `scv2_client_handshake_start`, completed once by
/// `scv2_client_handshake_finish`, freed by `scv2_client_handshake_free`.
///
/// Holds the ephemeral secret; zeroized on finish (whatever the outcome) and on free. After
/// `scv2_client_handshake_finish` has run the protocol once, every further call on the handle
/// returns `SCV2_INVALID_STATE`. Thread safety: internally locked.
pub struct scv2_client_handshake {
    inner: Mutex<Option<ClientHandshake>>,
    limits: Limits,
}

/// An established client session.
///
/// Thread safety: every function taking a `const scv2_client_session *` may be called from
/// several threads at once on the same handle (sequence numbers are allocated atomically, the
/// table of outstanding requests is locked). Only `scv2_client_session_free` must not race with
/// other calls on the handle.
pub struct scv2_client_session {
    session: ClientSession,
    pending: TokenTable<PendingRequest>,
}

/// The input limits the C ABI's client configurations use. The C ABI never changes them, so they
/// are the core's defaults.
fn client_limits() -> Limits {
    Limits::default()
}

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
        finish((|| {
            required(out_config)?;
            let config = scv2_client_config {
                inner: RwLock::new(ClientConfig::new()),
            };
            // SAFETY: `out_config` is not NULL and valid for writes (contract).
            unsafe { publish(out_config, config) };
            Ok(())
        })())
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
        finish((|| {
            // SAFETY: `config` is NULL or a live handle (contract).
            let config = unsafe { handle(config) }?;
            // SAFETY: pointer/length pairs per the contract.
            let key_id = unsafe { id_str(key_id, key_id_len, SCV2_MAX_KEY_ID_LEN) }?;
            // SAFETY: as above.
            let public = unsafe { fixed::<SCV2_KEY_LEN>(public_key, public_key_len) }?;
            let pin = PinnedKey::new(key_id, public).map_err(status)?;
            config
                .inner
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .pin(pin);
            Ok(())
        })())
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
        finish((|| {
            // SAFETY: `config` is NULL or a live handle (contract).
            let config = unsafe { handle(config) }?;
            // SAFETY: pointer/length pairs per the contract.
            let key_id = unsafe { id_str(key_id, key_id_len, SCV2_MAX_KEY_ID_LEN) }?;
            // SAFETY: as above.
            let b64 = unsafe { input(spki_base64, spki_base64_len, 1024) }?;
            let b64 = core::str::from_utf8(b64).map_err(|_| super::SCV2_INVALID_PUBLIC_KEY)?;
            let pin = PinnedKey::from_spki_base64(key_id, b64).map_err(status)?;
            config
                .inner
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .pin(pin);
            Ok(())
        })())
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
        finish((|| {
            // SAFETY: `config` is NULL or a live handle (contract).
            let config = unsafe { handle(config) }?;
            config
                .inner
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .set_padding_block(padding_block)
                .map_err(status)?;
            Ok(())
        })())
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
        // SAFETY: NULL or a live handle freed exactly once (contract).
        drop(unsafe { take_handle(config) });
    })
}

// ---------------------------------------------------------------------------------------------
// Handshake

/// Shared body of the two start functions.
///
/// # Safety
/// Raw arguments per the contract of `scv2_client_handshake_start`.
#[allow(clippy::too_many_arguments)]
unsafe fn start(
    config: *const scv2_client_config,
    key_id: *const u8,
    key_id_len: usize,
    payload: *const u8,
    payload_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    out_handshake: *mut *mut scv2_client_handshake,
    run: impl FnOnce(&ClientConfig, &str, &[u8]) -> crate::Result<(ClientHandshake, Vec<u8>)>,
) -> FfiResult<()> {
    required(out_len)?;
    required(out_handshake)?;
    // SAFETY: NULL or a live handle (contract).
    let config = unsafe { handle(config) }?;
    let limits = client_limits();
    // SAFETY: pointer/length pairs per the contract.
    let key_id = unsafe { id_str(key_id, key_id_len, SCV2_MAX_KEY_ID_LEN) }?;
    // SAFETY: as above.
    let payload = unsafe { input(payload, payload_len, limits.max_payload) }?;
    let config = config.inner.read().unwrap_or_else(PoisonError::into_inner);
    let needed = type1_len(key_id.len(), payload.len(), config.padding_block())
        .ok_or(SCV2_PAYLOAD_TOO_LARGE)?;
    if out_cap < needed {
        // SAFETY: `out_len` checked non-NULL.
        unsafe { put(out_len, needed) };
        return Err(SCV2_BUFFER_TOO_SMALL);
    }
    disjoint(payload, out, needed)?;
    disjoint(key_id.as_bytes(), out, needed)?;
    // SAFETY: `out_cap >= needed`: `out` has `needed` writable bytes (contract).
    let dst = unsafe { output(out, needed) }?;
    let (hs, envelope) = run(&config, key_id, payload).map_err(status)?;
    if envelope.len() != needed {
        return Err(SCV2_INTERNAL);
    }
    dst.copy_from_slice(&envelope);
    let hs = scv2_client_handshake {
        inner: Mutex::new(Some(hs)),
        limits,
    };
    // SAFETY: `out_len` and `out_handshake` checked non-NULL, valid for writes (contract).
    unsafe {
        put(out_len, needed);
        publish(out_handshake, hs);
    }
    Ok(())
}

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
        // SAFETY: raw arguments forwarded under this function's contract.
        finish(unsafe {
            start(
                config,
                key_id,
                key_id_len,
                payload,
                payload_len,
                out,
                out_cap,
                out_len,
                out_handshake,
                |c, k, p| ClientHandshake::start(c, k, p, &mut crate::OsRng),
            )
        })
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
        finish((|| {
            // SAFETY: pointer/length pairs per the contract.
            let e = zeroize::Zeroizing::new(unsafe {
                fixed::<SCV2_KEY_LEN>(ephemeral_private, ephemeral_private_len)
            }?);
            // SAFETY: as above.
            let iv1 = unsafe { fixed::<{ super::SCV2_IV1_LEN }>(iv1, iv1_len) }?;
            // SAFETY: raw arguments forwarded under this function's contract.
            unsafe {
                start(
                    config,
                    key_id,
                    key_id_len,
                    payload,
                    payload_len,
                    out,
                    out_cap,
                    out_len,
                    out_handshake,
                    |c, k, p| {
                        ClientHandshake::start_with_ephemeral_for_test_vectors(c, k, p, *e, iv1)
                    },
                )
            }
        })())
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
        finish((|| {
            required(out_session)?;
            // SAFETY: NULL or a live handle (contract).
            let hs = unsafe { handle(handshake) }?;
            // SAFETY: pointer/length pair per the contract.
            let envelope = unsafe { input(envelope, envelope_len, hs.limits.max_envelope) }?;
            let taken = hs
                .inner
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
                .ok_or(SCV2_INVALID_STATE)?;
            let session = taken.finish(envelope, now_ms).map_err(status)?;
            let session = scv2_client_session {
                session,
                pending: TokenTable::new(),
            };
            // SAFETY: `out_session` checked non-NULL, valid for writes (contract).
            unsafe { publish(out_session, session) };
            Ok(())
        })())
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
        // SAFETY: NULL or a live handle freed exactly once (contract).
        if let Some(hs) = unsafe { take_handle(handshake) } {
            // Dropping the core handshake zeroizes its ephemeral secret and prk1.
            drop(
                hs.inner
                    .into_inner()
                    .unwrap_or_else(PoisonError::into_inner),
            );
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
        finish((|| {
            // SAFETY: NULL or a live handle (contract).
            let s = unsafe { handle(session) }?;
            // SAFETY: buffer contract.
            unsafe { copy_out(s.session.session_id().as_bytes(), out, out_cap, out_len) }
        })())
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
        finish((|| {
            // SAFETY: NULL or a live handle (contract).
            let s = unsafe { handle(session) }?;
            // SAFETY: buffer contract.
            unsafe { copy_out(s.session.app_payload(), out, out_cap, out_len) }
        })())
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
        finish((|| {
            required(out_expires_at_ms)?;
            // SAFETY: NULL or a live handle (contract).
            let s = unsafe { handle(session) }?;
            // SAFETY: checked non-NULL, writable (contract).
            unsafe { put(out_expires_at_ms, s.session.expires_at_ms()) };
            Ok(())
        })())
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
        // SAFETY: NULL or a live handle (contract).
        match unsafe { handle(session) } {
            Ok(s) => data_len(body_len, s.session.padding_block()).unwrap_or(0),
            Err(_) => 0,
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
        finish((|| {
            required(out_len)?;
            required(out_seq)?;
            // SAFETY: NULL or a live handle (contract).
            let s = unsafe { handle(session) }?;
            // SAFETY: pointer/length pairs per the contract.
            let ctx = unsafe { input(ctx, ctx_len, s.session.limits().max_ctx) }?;
            // SAFETY: as above.
            let body = unsafe { input(body, body_len, s.session.limits().max_payload) }?;
            let needed =
                data_len(body.len(), s.session.padding_block()).ok_or(SCV2_PAYLOAD_TOO_LARGE)?;
            if out_cap < needed {
                // SAFETY: checked non-NULL.
                unsafe { put(out_len, needed) };
                return Err(SCV2_BUFFER_TOO_SMALL);
            }
            disjoint(ctx, out, needed)?;
            disjoint(body, out, needed)?;
            // SAFETY: `out_cap >= needed` writable bytes (contract).
            let dst = unsafe { output(out, needed) }?;
            let slot = s.pending.reserve()?;
            match s.session.seal_request(ctx, body, now_ms, dst) {
                Ok((pending, n)) => {
                    let seq = pending.seq();
                    slot.fill(pending)?;
                    // SAFETY: checked non-NULL, writable (contract).
                    unsafe {
                        put(out_len, n);
                        put(out_seq, seq);
                    }
                    Ok(())
                }
                Err(e) => {
                    zeroize::Zeroize::zeroize(dst);
                    Err(status(e))
                }
            }
        })())
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
        finish((|| {
            required(out_len)?;
            required(out_seq)?;
            // SAFETY: NULL or a live handle (contract).
            let s = unsafe { handle(session) }?;
            // SAFETY: pointer/length pair per the contract.
            let ctx = unsafe { input(ctx, ctx_len, s.session.limits().max_ctx) }?;
            if body_len > s.session.limits().max_payload {
                return Err(SCV2_PAYLOAD_TOO_LARGE);
            }
            let needed =
                data_len(body_len, s.session.padding_block()).ok_or(SCV2_PAYLOAD_TOO_LARGE)?;
            if buf_cap < needed {
                // SAFETY: checked non-NULL.
                unsafe { put(out_len, needed) };
                return Err(SCV2_BUFFER_TOO_SMALL);
            }
            disjoint(ctx, buf, needed)?;
            // SAFETY: `buf_cap >= needed` writable bytes (contract).
            let dst = unsafe { output(buf, needed) }?;
            let slot = s.pending.reserve()?;
            let (pending, n) = s
                .session
                .seal_request_in_place(ctx, dst, body_len, now_ms)
                .map_err(status)?;
            let seq = pending.seq();
            slot.fill(pending)?;
            // SAFETY: checked non-NULL, writable (contract).
            unsafe {
                put(out_len, n);
                put(out_seq, seq);
            }
            Ok(())
        })())
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
        finish((|| {
            required(out_len)?;
            // SAFETY: NULL or a live handle (contract).
            let s = unsafe { handle(session) }?;
            // SAFETY: pointer/length pairs per the contract.
            let ctx = unsafe { input(ctx, ctx_len, s.session.limits().max_ctx) }?;
            let max_envelope = s.session.limits().max_envelope;
            // SAFETY: as above.
            let envelope = unsafe { input(envelope, envelope_len, max_envelope) }?;
            let needed = max_open_len(envelope.len());
            if out_cap < needed {
                // SAFETY: checked non-NULL.
                unsafe { put(out_len, needed) };
                return Err(SCV2_BUFFER_TOO_SMALL);
            }
            disjoint(ctx, out, needed)?;
            disjoint(envelope, out, needed)?;
            // SAFETY: `out_cap >= needed` writable bytes (contract).
            let dst = unsafe { output(out, needed) }?;
            let n = s.pending.use_token(seq, |pending| {
                s.session.open_response(pending, ctx, envelope, dst)
            })?;
            // SAFETY: checked non-NULL, writable (contract).
            unsafe { put(out_len, n) };
            Ok(())
        })())
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
        finish((|| {
            required(out_body_offset)?;
            required(out_body_len)?;
            // SAFETY: NULL or a live handle (contract).
            let s = unsafe { handle(session) }?;
            // SAFETY: pointer/length pair per the contract.
            let ctx = unsafe { input(ctx, ctx_len, s.session.limits().max_ctx) }?;
            if buf_len > s.session.limits().max_envelope {
                return Err(SCV2_PAYLOAD_TOO_LARGE);
            }
            disjoint(ctx, buf, buf_len)?;
            // SAFETY: `buf` holds `buf_len` readable and writable bytes (contract).
            let buf = unsafe { output(buf, buf_len) }?;
            let range = s.pending.use_token(seq, |pending| {
                s.session.open_response_in_place(pending, ctx, buf)
            })?;
            // SAFETY: checked non-NULL, writable (contract).
            unsafe {
                put(out_body_offset, range.start);
                put(out_body_len, range.end.saturating_sub(range.start));
            }
            Ok(())
        })())
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
        // SAFETY: NULL or a live handle freed exactly once, no concurrent use (contract).
        if let Some(mut s) = unsafe { take_handle(session) } {
            s.session.close();
            drop(s);
        }
    })
}
