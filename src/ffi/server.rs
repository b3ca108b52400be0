//! Server side of the C ABI: key set, accepted handshake, session.

use std::sync::{Mutex, PoisonError, RwLock};

use super::table::TokenTable;
use super::{
    copy_out, disjoint, finish, fixed, handle, id_str, input, output, publish, put, required,
    scv2_status, status, take_handle, type130_len, FfiResult, GENERATED_SESSION_ID_LEN,
    SCV2_BUFFER_TOO_SMALL, SCV2_INTERNAL, SCV2_INVALID_STATE, SCV2_KEY_LEN, SCV2_MAX_KEY_ID_LEN,
    SCV2_MAX_SESSION_ID_LEN, SCV2_PAYLOAD_TOO_LARGE,
};
use crate::config::ServerConfig;
use crate::ffi_boundary;
use crate::handshake::{generate_session_id, AcceptedHandshake, Server};
use crate::keys::ServerKey;
use crate::session::{max_open_len, ResponseSlot, ServerSession};

/// A server key set: the static X25519 keys (by key id) and the settings of the sessions it opens
/// (padding block, replay window).
///
/// Create with `scv2_server_new`, free with `scv2_server_free` (the private keys are zeroized).
/// Thread safety: internally locked; `scv2_server_accept` may run on several threads at once,
/// also while keys are added or removed.
pub struct scv2_server {
    inner: RwLock<Server>,
}

/// A type-1 envelope the server accepted, waiting for the application to choose the session id,
/// expiry and payload (`scv2_server_handshake_respond`, once). Holds `prk1`, zeroized when it
/// responds or is freed. Thread safety: internally locked.
pub struct scv2_server_handshake {
    inner: Mutex<Option<AcceptedHandshake>>,
    config: ServerConfig,
}

/// An established server session.
///
/// Thread safety: every function taking a `const scv2_server_session *` may be called from
/// several threads at once on the same handle (the replay window and the table of requests
/// awaiting a response are locked). Only `scv2_server_session_free` must not race with other
/// calls on the handle.
pub struct scv2_server_session {
    session: ServerSession,
    slots: TokenTable<ResponseSlot>,
}

// ---------------------------------------------------------------------------------------------
// Key set

/// Create a server key set with no keys in `*out_server`. `padding_block`: 1..=4096, or 0 for the
/// default (64). `replay_window`: a multiple of 64 in 64..=65536, or 0 for the default (1024).
///
/// Ownership: the caller owns the handle and frees it once with `scv2_server_free`.
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT`, `SCV2_INTERNAL`.
///
/// # Safety
/// `out_server` must be NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_new(
    padding_block: usize,
    replay_window: u32,
    out_server: *mut *mut scv2_server,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        finish((|| {
            required(out_server)?;
            let mut config = ServerConfig::default();
            if padding_block != 0 {
                config = config.with_padding_block(padding_block).map_err(status)?;
            }
            if replay_window != 0 {
                config = config.with_replay_window(replay_window).map_err(status)?;
            }
            let server = scv2_server {
                inner: RwLock::new(Server::new(config)),
            };
            // SAFETY: checked non-NULL, writable (contract).
            unsafe { publish(out_server, server) };
            Ok(())
        })())
    })
}

fn add(server: &scv2_server, key: ServerKey) -> FfiResult<()> {
    server
        .inner
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .add_key(key)
        .map_err(status)
}

fn expiry(expires_at_ms: u64) -> Option<u64> {
    (expires_at_ms != 0).then_some(expires_at_ms)
}

/// Add a static key from its 32 private bytes. `key_id`: 1..=255 printable ASCII bytes (not
/// NUL-terminated). `created_at_ms` / `expires_at_ms`: ms since the Unix epoch; `expires_at_ms`
/// 0 means "never expires". The private bytes are copied (the caller should wipe its copy).
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (NULL server, bad key id, `private_key_len` not 32,
/// key id already present), `SCV2_INTERNAL`.
///
/// # Safety
/// `server` NULL or live; pointers valid for their lengths (header contract).
#[no_mangle]
pub unsafe extern "C" fn scv2_server_add_key(
    server: *mut scv2_server,
    key_id: *const u8,
    key_id_len: usize,
    private_key: *const u8,
    private_key_len: usize,
    created_at_ms: u64,
    expires_at_ms: u64,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        finish((|| {
            // SAFETY: NULL or a live handle (contract).
            let server = unsafe { handle(server) }?;
            // SAFETY: pointer/length pairs per the contract.
            let key_id = unsafe { id_str(key_id, key_id_len, SCV2_MAX_KEY_ID_LEN) }?;
            // SAFETY: as above.
            let private = zeroize::Zeroizing::new(unsafe {
                fixed::<SCV2_KEY_LEN>(private_key, private_key_len)
            }?);
            let key = ServerKey::from_private_bytes(
                key_id,
                &private,
                created_at_ms,
                expiry(expires_at_ms),
            )
            .map_err(status)?;
            add(server, key)
        })())
    })
}

/// Generate a new static key `key_id` with the OS RNG and add it (see `scv2_server_add_key`).
/// Read its public half with `scv2_server_public_key`.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT`, `SCV2_INTERNAL` (RNG failure).
///
/// # Safety
/// `server` NULL or live; `key_id` valid for `key_id_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_generate_key(
    server: *mut scv2_server,
    key_id: *const u8,
    key_id_len: usize,
    created_at_ms: u64,
    expires_at_ms: u64,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        finish((|| {
            // SAFETY: NULL or a live handle (contract).
            let server = unsafe { handle(server) }?;
            // SAFETY: pointer/length pair per the contract.
            let key_id = unsafe { id_str(key_id, key_id_len, SCV2_MAX_KEY_ID_LEN) }?;
            let key = ServerKey::generate(
                key_id,
                created_at_ms,
                expiry(expires_at_ms),
                &mut crate::OsRng,
            )
            .map_err(status)?;
            add(server, key)
        })())
    })
}

/// Remove the key `key_id` (its private half is zeroized). Sessions already open are not
/// affected.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (NULL server, bad key id), `SCV2_UNKNOWN_KEY_ID`
/// (not held), `SCV2_INTERNAL`.
///
/// # Safety
/// `server` NULL or live; `key_id` valid for `key_id_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_remove_key(
    server: *mut scv2_server,
    key_id: *const u8,
    key_id_len: usize,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        finish((|| {
            // SAFETY: NULL or a live handle (contract).
            let server = unsafe { handle(server) }?;
            // SAFETY: pointer/length pair per the contract.
            let key_id = unsafe { id_str(key_id, key_id_len, SCV2_MAX_KEY_ID_LEN) }?;
            let removed = server
                .inner
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove_key(key_id);
            if removed {
                Ok(())
            } else {
                Err(super::SCV2_UNKNOWN_KEY_ID)
            }
        })())
    })
}

/// Copy the raw 32-byte X25519 public key of `key_id` into `out` (publish it as the document's
/// `publicKey`, base64 of the SPKI).
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT`, `SCV2_UNKNOWN_KEY_ID`, `SCV2_BUFFER_TOO_SMALL`
/// (`*out_len` = 32), `SCV2_INTERNAL`.
///
/// # Safety
/// `server` NULL or live; pointers valid for their lengths (header contract).
#[no_mangle]
pub unsafe extern "C" fn scv2_server_public_key(
    server: *const scv2_server,
    key_id: *const u8,
    key_id_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        finish((|| {
            // SAFETY: NULL or a live handle (contract).
            let server = unsafe { handle(server) }?;
            // SAFETY: pointer/length pair per the contract.
            let key_id = unsafe { id_str(key_id, key_id_len, SCV2_MAX_KEY_ID_LEN) }?;
            let public = {
                let guard = server.inner.read().unwrap_or_else(PoisonError::into_inner);
                *guard
                    .key(key_id)
                    .ok_or(super::SCV2_UNKNOWN_KEY_ID)?
                    .public_key()
            };
            // SAFETY: buffer contract.
            unsafe { copy_out(&public, out, out_cap, out_len) }
        })())
    })
}

/// Free a server key set; every private key is zeroized. NULL is a no-op. Sessions and accepted
/// handshakes created from it stay usable. Must not race with any other call on the same handle;
/// free it exactly once.
///
/// # Safety
/// `server` must be NULL or a live server handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_free(server: *mut scv2_server) {
    ffi_boundary!((), {
        // SAFETY: NULL or a live handle freed exactly once (contract).
        drop(unsafe { take_handle(server) });
    })
}

// ---------------------------------------------------------------------------------------------
// Handshake

/// Accept a type-1 envelope at time `now_ms`: on success `*out_handshake` is a new accepted
/// handshake whose decrypted payload `scv2_server_handshake_payload` returns; answer it with
/// `scv2_server_handshake_respond`.
///
/// Ownership: the caller frees the accepted handshake with `scv2_server_handshake_free`.
/// Thread safety: concurrent calls on one server allowed.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT`, `SCV2_PAYLOAD_TOO_LARGE`,
/// `SCV2_MALFORMED_ENVELOPE`, `SCV2_UNSUPPORTED_VERSION`, `SCV2_UNKNOWN_TYPE`,
/// `SCV2_UNKNOWN_KEY_ID` (unknown or expired at `now_ms`), `SCV2_INVALID_PUBLIC_KEY`,
/// `SCV2_DECRYPTION_FAILED`, `SCV2_INTERNAL`.
///
/// # Safety
/// `server` NULL or live; `envelope` valid for `envelope_len` bytes; `out_handshake` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_accept(
    server: *const scv2_server,
    envelope: *const u8,
    envelope_len: usize,
    now_ms: u64,
    out_handshake: *mut *mut scv2_server_handshake,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        finish((|| {
            required(out_handshake)?;
            // SAFETY: NULL or a live handle (contract).
            let server = unsafe { handle(server) }?;
            let guard = server.inner.read().unwrap_or_else(PoisonError::into_inner);
            let config = *guard.config();
            // SAFETY: pointer/length pair per the contract.
            let envelope = unsafe { input(envelope, envelope_len, config.limits().max_envelope) }?;
            let accepted = guard.accept(envelope, now_ms).map_err(status)?;
            drop(guard);
            let hs = scv2_server_handshake {
                inner: Mutex::new(Some(accepted)),
                config,
            };
            // SAFETY: checked non-NULL, writable (contract).
            unsafe { publish(out_handshake, hs) };
            Ok(())
        })())
    })
}

/// Copy the client's type-1 payload (authenticated by the server key only, replayable) into
/// `out`.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT`, `SCV2_INVALID_STATE` (already responded),
/// `SCV2_BUFFER_TOO_SMALL` (`*out_len` = size needed), `SCV2_INTERNAL`.
///
/// # Safety
/// `handshake` NULL or live; buffer contract for `out`/`out_cap`/`out_len`.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_handshake_payload(
    handshake: *const scv2_server_handshake,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        finish((|| {
            // SAFETY: NULL or a live handle (contract).
            let hs = unsafe { handle(handshake) }?;
            let guard = hs.inner.lock().unwrap_or_else(PoisonError::into_inner);
            let accepted = guard.as_ref().ok_or(SCV2_INVALID_STATE)?;
            // SAFETY: buffer contract.
            unsafe { copy_out(accepted.payload(), out, out_cap, out_len) }
        })())
    })
}

/// Copy the key id the client used (not NUL-terminated) into `out`.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT`, `SCV2_INVALID_STATE` (already responded),
/// `SCV2_BUFFER_TOO_SMALL` (`*out_len` = size needed), `SCV2_INTERNAL`.
///
/// # Safety
/// As for `scv2_server_handshake_payload`.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_handshake_key_id(
    handshake: *const scv2_server_handshake,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        finish((|| {
            // SAFETY: NULL or a live handle (contract).
            let hs = unsafe { handle(handshake) }?;
            let guard = hs.inner.lock().unwrap_or_else(PoisonError::into_inner);
            let accepted = guard.as_ref().ok_or(SCV2_INVALID_STATE)?;
            // SAFETY: buffer contract.
            unsafe { copy_out(accepted.key_id().as_bytes(), out, out_cap, out_len) }
        })())
    })
}

/// Shared body of the two respond functions.
///
/// # Safety
/// Raw arguments per the contract of `scv2_server_handshake_respond`.
#[allow(clippy::too_many_arguments)]
unsafe fn respond(
    handshake: *mut scv2_server_handshake,
    session_id: *const u8,
    session_id_len: usize,
    expires_at_ms: u64,
    app_payload: *const u8,
    app_payload_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    out_session: *mut *mut scv2_server_session,
    run: impl FnOnce(AcceptedHandshake, &str, u64, &[u8]) -> crate::Result<(ServerSession, Vec<u8>)>,
) -> FfiResult<()> {
    required(out_len)?;
    required(out_session)?;
    // SAFETY: NULL or a live handle (contract).
    let hs = unsafe { handle(handshake) }?;
    let limits = *hs.config.limits();
    // An empty `sid` here means "generate one" (after the buffer check, so that
    // `SCV2_BUFFER_TOO_SMALL` consumes no randomness).
    let sid: &str = if session_id_len == 0 {
        ""
    } else {
        // SAFETY: pointer/length pair per the contract.
        unsafe { id_str(session_id, session_id_len, SCV2_MAX_SESSION_ID_LEN) }?
    };
    // Check the id now: the core checks it only after the handshake is consumed.
    if !sid.is_empty() {
        crate::check_session_id(sid).map_err(status)?;
    }
    // SAFETY: as above.
    let app = unsafe { input(app_payload, app_payload_len, limits.max_payload) }?;
    let sid_len = if sid.is_empty() {
        GENERATED_SESSION_ID_LEN
    } else {
        sid.len()
    };
    let needed =
        type130_len(sid_len, app.len(), hs.config.padding_block()).ok_or(SCV2_PAYLOAD_TOO_LARGE)?;
    if out_cap < needed {
        // SAFETY: checked non-NULL.
        unsafe { put(out_len, needed) };
        return Err(SCV2_BUFFER_TOO_SMALL);
    }
    disjoint(app, out, needed)?;
    disjoint(sid.as_bytes(), out, needed)?;
    // SAFETY: `out_cap >= needed` writable bytes (contract).
    let dst = unsafe { output(out, needed) }?;
    let owned_sid;
    let sid = if sid.is_empty() {
        owned_sid = generate_session_id(&mut crate::OsRng).map_err(status)?;
        owned_sid.as_str()
    } else {
        sid
    };
    let accepted = hs
        .inner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .ok_or(SCV2_INVALID_STATE)?;
    let (session, envelope) = run(accepted, sid, expires_at_ms, app).map_err(status)?;
    if envelope.len() != needed {
        return Err(SCV2_INTERNAL);
    }
    dst.copy_from_slice(&envelope);
    let session = scv2_server_session {
        session,
        slots: TokenTable::new(),
    };
    // SAFETY: both out-pointers checked non-NULL, writable (contract).
    unsafe {
        put(out_len, needed);
        publish(out_session, session);
    }
    Ok(())
}

/// Complete an accepted handshake: writes the type-130 envelope (the response body to send) into
/// `out` and a new server session into `*out_session`.
///
/// `session_id`: 1..=64 printable ASCII bytes chosen by the application, or NULL with
/// `session_id_len` 0 to let the library generate one (128 random bits, 22 characters; read it
/// with `scv2_server_session_id`). `expires_at_ms`: the session's expiry, ms since the Unix epoch.
/// `app_payload` (NULL when its length is 0): sent to the client inside the type 130.
/// The envelope is exactly `scv2_type130_len(session_id_len or 22, app_payload_len,
/// padding_block)` bytes.
///
/// An accepted handshake responds at most once: once the argument and buffer checks passed, its
/// secrets are consumed whatever the outcome; later calls return `SCV2_INVALID_STATE`.
/// Ownership: the caller frees the session with `scv2_server_session_free`, and the handshake
/// handle with `scv2_server_handshake_free`.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (NULLs, bad session id), `SCV2_PAYLOAD_TOO_LARGE`,
/// `SCV2_BUFFER_TOO_SMALL` (`*out_len` = size needed; nothing changed), `SCV2_INVALID_STATE`,
/// `SCV2_INVALID_PUBLIC_KEY`, `SCV2_INTERNAL` (RNG failure).
///
/// # Safety
/// Every pointer NULL or valid for its length (header contract).
#[no_mangle]
pub unsafe extern "C" fn scv2_server_handshake_respond(
    handshake: *mut scv2_server_handshake,
    session_id: *const u8,
    session_id_len: usize,
    expires_at_ms: u64,
    app_payload: *const u8,
    app_payload_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    out_session: *mut *mut scv2_server_session,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        // SAFETY: raw arguments forwarded under this function's contract.
        finish(unsafe {
            respond(
                handshake,
                session_id,
                session_id_len,
                expires_at_ms,
                app_payload,
                app_payload_len,
                out,
                out_cap,
                out_len,
                out_session,
                |a, sid, exp, app| a.respond(sid, exp, app, &mut crate::OsRng),
            )
        })
    })
}

/// TEST ONLY (feature `test-vectors`, never in release builds): `scv2_server_handshake_respond`
/// with an explicit 32-byte ephemeral private key, to rebuild the test vectors. `session_id` is
/// required here.
///
/// Returns the codes of `scv2_server_handshake_respond`; `SCV2_INVALID_ARGUMENT` also when
/// `ephemeral_private_len` is not 32 or `session_id_len` is 0.
///
/// # Safety
/// As for `scv2_server_handshake_respond`.
#[cfg(feature = "test-vectors")]
#[no_mangle]
pub unsafe extern "C" fn scv2_server_handshake_respond_for_test_vectors(
    handshake: *mut scv2_server_handshake,
    session_id: *const u8,
    session_id_len: usize,
    expires_at_ms: u64,
    app_payload: *const u8,
    app_payload_len: usize,
    ephemeral_private: *const u8,
    ephemeral_private_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    out_session: *mut *mut scv2_server_session,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        finish((|| {
            if session_id_len == 0 {
                return Err(super::SCV2_INVALID_ARGUMENT);
            }
            // SAFETY: pointer/length pair per the contract.
            let f = zeroize::Zeroizing::new(unsafe {
                fixed::<SCV2_KEY_LEN>(ephemeral_private, ephemeral_private_len)
            }?);
            // SAFETY: raw arguments forwarded under this function's contract.
            unsafe {
                respond(
                    handshake,
                    session_id,
                    session_id_len,
                    expires_at_ms,
                    app_payload,
                    app_payload_len,
                    out,
                    out_cap,
                    out_len,
                    out_session,
                    |a, sid, exp, app| a.respond_with_ephemeral_for_test_vectors(sid, exp, app, *f),
                )
            }
        })())
    })
}

/// Free an accepted handshake (responded or not); its secrets are zeroized. NULL is a no-op. Must
/// not race with any other call on the same handle; free it exactly once.
///
/// # Safety
/// `handshake` must be NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_handshake_free(handshake: *mut scv2_server_handshake) {
    ffi_boundary!((), {
        // SAFETY: NULL or a live handle freed exactly once (contract).
        if let Some(hs) = unsafe { take_handle(handshake) } {
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

/// Copy the session id (not NUL-terminated) into `out`.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT`, `SCV2_BUFFER_TOO_SMALL` (`*out_len` = size
/// needed), `SCV2_INTERNAL`. Thread safety: concurrent calls allowed.
///
/// # Safety
/// `session` NULL or live; buffer contract for `out`/`out_cap`/`out_len`.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_session_id(
    session: *const scv2_server_session,
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

/// Write the session's expiry (ms since the Unix epoch) into `*out_expires_at_ms`.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT`, `SCV2_INTERNAL`. Thread safety: concurrent calls
/// allowed.
///
/// # Safety
/// `session` NULL or live; `out_expires_at_ms` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_session_expires_at_ms(
    session: *const scv2_server_session,
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

/// Bytes of the response envelope this session seals for a body of `body_len` bytes. 0 if
/// `session` is NULL or on overflow. Thread safety: concurrent calls allowed.
///
/// # Safety
/// `session` must be NULL or a live session handle.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_session_sealed_len(
    session: *const scv2_server_session,
    body_len: usize,
) -> usize {
    ffi_boundary!(0, {
        // SAFETY: NULL or a live handle (contract).
        match unsafe { handle(session) } {
            Ok(s) => match s.session.sealed_len(body_len) {
                usize::MAX => 0,
                n => n,
            },
            Err(_) => 0,
        }
    })
}

/// Open a request (type 2) at time `now_ms` into `out`, which needs
/// `scv2_max_open_len(envelope_len)` bytes; `*out_len` is the body length and `*out_seq` the
/// request's sequence number: answer it exactly once with `scv2_server_seal_response`.
///
/// `ctx` must be the request binding the client used (over HTTP: `METHOD SP path`). Answer every
/// failure in plaintext, never with a type 129. The session tracks at most
/// `SCV2_MAX_OUTSTANDING` unanswered requests.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT`, `SCV2_PAYLOAD_TOO_LARGE`,
/// `SCV2_BUFFER_TOO_SMALL` (`*out_len` = size needed; nothing changed), `SCV2_INVALID_STATE`
/// (`SCV2_MAX_OUTSTANDING` requests unanswered; nothing changed), `SCV2_MALFORMED_ENVELOPE`,
/// `SCV2_UNSUPPORTED_VERSION`, `SCV2_UNKNOWN_TYPE`, `SCV2_SESSION_EXPIRED`,
/// `SCV2_DECRYPTION_FAILED`, `SCV2_REPLAYED`, `SCV2_INTERNAL`. On failure the contents of `out`
/// are unspecified (never unauthenticated plaintext).
///
/// Thread safety: concurrent calls on one session allowed (of two copies of one request, exactly
/// one is accepted). No heap allocation (ctx up to 313 bytes).
///
/// # Safety
/// Every pointer NULL or valid for its length (header contract).
#[no_mangle]
pub unsafe extern "C" fn scv2_server_open_request(
    session: *const scv2_server_session,
    ctx: *const u8,
    ctx_len: usize,
    envelope: *const u8,
    envelope_len: usize,
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
            let reservation = s.slots.reserve()?;
            let (slot, n) = s
                .session
                .open_request(ctx, envelope, now_ms, dst)
                .map_err(status)?;
            let seq = slot.seq();
            reservation.fill(slot)?;
            // SAFETY: checked non-NULL, writable (contract).
            unsafe {
                put(out_len, n);
                put(out_seq, seq);
            }
            Ok(())
        })())
    })
}

/// Open a request in place: `buf[0 .. buf_len]` holds the type-2 envelope; on success the body is
/// `buf[*out_body_offset .. *out_body_offset + *out_body_len]` and `*out_seq` its sequence
/// number.
///
/// Returns the codes of `scv2_server_open_request` (no `SCV2_BUFFER_TOO_SMALL`). On failure the
/// contents of `buf` are unspecified (never unauthenticated plaintext).
///
/// Thread safety: concurrent calls on one session allowed (distinct buffers). No heap allocation
/// (ctx up to 313 bytes).
///
/// # Safety
/// Every pointer NULL or valid for its length (header contract); `ctx` must not point into `buf`.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_open_request_in_place(
    session: *const scv2_server_session,
    ctx: *const u8,
    ctx_len: usize,
    buf: *mut u8,
    buf_len: usize,
    now_ms: u64,
    out_body_offset: *mut usize,
    out_body_len: *mut usize,
    out_seq: *mut u64,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        finish((|| {
            required(out_body_offset)?;
            required(out_body_len)?;
            required(out_seq)?;
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
            let reservation = s.slots.reserve()?;
            let (slot, range) = s
                .session
                .open_request_in_place(ctx, buf, now_ms)
                .map_err(status)?;
            let seq = slot.seq();
            reservation.fill(slot)?;
            // SAFETY: checked non-NULL, writable (contract).
            unsafe {
                put(out_body_offset, range.start);
                put(out_body_len, range.end.saturating_sub(range.start));
                put(out_seq, seq);
            }
            Ok(())
        })())
    })
}

/// Seal the response to request `seq` (from `scv2_server_open_request`) into `out`: a type-129
/// envelope of exactly `scv2_server_session_sealed_len(session, body_len)` bytes; `ctx` must be
/// the request's. Expiry is not checked: an accepted request always gets its answer.
///
/// Each opened request gets at most one response: on success `seq` is forgotten, and a second
/// response for it, or a response for a `seq` that was never opened, is `SCV2_INVALID_STATE`. On
/// failure `seq` stays answerable.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT`, `SCV2_PAYLOAD_TOO_LARGE`,
/// `SCV2_BUFFER_TOO_SMALL` (`*out_len` = size needed; nothing changed), `SCV2_INVALID_STATE`,
/// `SCV2_INTERNAL`. On failure the contents of `out` are unspecified.
///
/// Thread safety: concurrent calls on one session allowed. No heap allocation (ctx up to 313
/// bytes).
///
/// # Safety
/// Every pointer NULL or valid for its length (header contract).
#[no_mangle]
pub unsafe extern "C" fn scv2_server_seal_response(
    session: *const scv2_server_session,
    seq: u64,
    ctx: *const u8,
    ctx_len: usize,
    body: *const u8,
    body_len: usize,
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
            // SAFETY: as above.
            let body = unsafe { input(body, body_len, s.session.limits().max_payload) }?;
            let needed = s.session.sealed_len(body.len());
            if needed == usize::MAX {
                return Err(SCV2_PAYLOAD_TOO_LARGE);
            }
            if out_cap < needed {
                // SAFETY: checked non-NULL.
                unsafe { put(out_len, needed) };
                return Err(SCV2_BUFFER_TOO_SMALL);
            }
            disjoint(ctx, out, needed)?;
            disjoint(body, out, needed)?;
            // SAFETY: `out_cap >= needed` writable bytes (contract).
            let dst = unsafe { output(out, needed) }?;
            let n = s
                .slots
                .use_token(seq, |slot| s.session.seal_response(slot, ctx, body, dst))
                .inspect_err(|_| zeroize::Zeroize::zeroize(dst))?;
            // SAFETY: checked non-NULL, writable (contract).
            unsafe { put(out_len, n) };
            Ok(())
        })())
    })
}

/// Seal the response to request `seq` in place: the caller wrote the body at
/// `buf + SCV2_BODY_OFFSET` (16), `body_len` bytes; `buf_cap` is at least
/// `scv2_server_session_sealed_len(session, body_len)`. On success the envelope is
/// `buf[0 .. *out_len]`.
///
/// Returns the codes of `scv2_server_seal_response` (`SCV2_BUFFER_TOO_SMALL`: `*out_len` =
/// capacity needed, `buf` untouched). On failure the contents of `buf` are unspecified.
///
/// Thread safety: concurrent calls on one session allowed (distinct buffers). No heap allocation
/// (ctx up to 313 bytes).
///
/// # Safety
/// Every pointer NULL or valid for its length (header contract); `ctx` must not point into `buf`.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_seal_response_in_place(
    session: *const scv2_server_session,
    seq: u64,
    ctx: *const u8,
    ctx_len: usize,
    buf: *mut u8,
    buf_cap: usize,
    body_len: usize,
    out_len: *mut usize,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        finish((|| {
            required(out_len)?;
            // SAFETY: NULL or a live handle (contract).
            let s = unsafe { handle(session) }?;
            // SAFETY: pointer/length pair per the contract.
            let ctx = unsafe { input(ctx, ctx_len, s.session.limits().max_ctx) }?;
            if body_len > s.session.limits().max_payload {
                return Err(SCV2_PAYLOAD_TOO_LARGE);
            }
            let needed = s.session.sealed_len(body_len);
            if needed == usize::MAX {
                return Err(SCV2_PAYLOAD_TOO_LARGE);
            }
            if buf_cap < needed {
                // SAFETY: checked non-NULL.
                unsafe { put(out_len, needed) };
                return Err(SCV2_BUFFER_TOO_SMALL);
            }
            disjoint(ctx, buf, needed)?;
            // SAFETY: `buf_cap >= needed` writable bytes (contract).
            let dst = unsafe { output(buf, needed) }?;
            let n = s.slots.use_token(seq, |slot| {
                s.session.seal_response_in_place(slot, ctx, dst, body_len)
            })?;
            // SAFETY: checked non-NULL, writable (contract).
            unsafe { put(out_len, n) };
            Ok(())
        })())
    })
}

/// Free a server session: its keys are zeroized, and requests still awaiting a response can no
/// longer be answered. NULL is a no-op. Must not race with any other call on the same handle;
/// free it exactly once.
///
/// # Safety
/// `session` must be NULL or a live session handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_session_free(session: *mut scv2_server_session) {
    ffi_boundary!((), {
        // SAFETY: NULL or a live handle freed exactly once, no concurrent use (contract).
        if let Some(mut s) = unsafe { take_handle(session) } {
            s.session.close();
            drop(s);
        }
    })
}
