//! Server side of the C ABI: key set, accepted handshake, session. Each function is a shell over
//! one function of `bridge::server`.

use scv2::Error;

use super::args::done;
use super::{scv2_status, status, SCV2_OK};
use crate::bridge;
use crate::handles::{scv2_server, scv2_server_handshake, scv2_server_session};

const INVALID_ARGUMENT: scv2_status = Error::InvalidArgument.code() as scv2_status;
const SCV2_INTERNAL: scv2_status = Error::Internal.code() as scv2_status;
const KEY_LEN: usize = scv2::primitives::X25519_LEN;
const MAX_KEY_ID_LEN: usize = scv2::MAX_KEY_ID_LEN;
const MAX_SESSION_ID_LEN: usize = scv2::MAX_SESSION_ID_LEN;

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
        let out_server = out_ptr!(out_server);
        done(bridge::server_new(padding_block, replay_window), |s| {
            out_server.publish(s)
        })
    })
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
        let server = handle!(server);
        let key_id = input!(key_id, key_id_len, MAX_KEY_ID_LEN, INVALID_ARGUMENT);
        let private_key = input!(private_key, private_key_len, KEY_LEN, INVALID_ARGUMENT);
        done(
            bridge::server_add_key(server, key_id, private_key, created_at_ms, expires_at_ms),
            |()| {},
        )
    })
}

/// Add a static key of suite `suite` (`SCV2_SUITE_X25519` or `SCV2_SUITE_X25519MLKEM768`) from
/// its private form: `scv2_suite_private_key_len(suite)` bytes (32 bytes `s`, or 96 bytes
/// `s || d || z` for the hybrid suite). Otherwise as `scv2_server_add_key`. One key set may hold
/// keys of both suites; a type 1 is matched to its key's suite after the key-id lookup.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (NULL server, unknown suite, bad key id,
/// `private_key_len` not the suite's, key id already present), `SCV2_INTERNAL`.
///
/// # Safety
/// `server` NULL or live; pointers valid for their lengths (header contract).
#[no_mangle]
pub unsafe extern "C" fn scv2_server_add_suite_key(
    server: *mut scv2_server,
    suite: u32,
    key_id: *const u8,
    key_id_len: usize,
    private_key: *const u8,
    private_key_len: usize,
    created_at_ms: u64,
    expires_at_ms: u64,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let server = handle!(server);
        let key_id = input!(key_id, key_id_len, MAX_KEY_ID_LEN, INVALID_ARGUMENT);
        let private_key = input!(
            private_key,
            private_key_len,
            bridge::MAX_PRIVATE_KEY_LEN,
            INVALID_ARGUMENT
        );
        done(
            bridge::server_add_suite_key(
                server,
                suite,
                key_id,
                private_key,
                created_at_ms,
                expires_at_ms,
            ),
            |()| {},
        )
    })
}

/// Generate a new static key of suite `suite` with the OS RNG and add it (see
/// `scv2_server_add_suite_key`). Read its public half with `scv2_server_public_key`.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (also an unknown suite), `SCV2_INTERNAL` (RNG
/// failure).
///
/// # Safety
/// `server` NULL or live; `key_id` valid for `key_id_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_generate_suite_key(
    server: *mut scv2_server,
    suite: u32,
    key_id: *const u8,
    key_id_len: usize,
    created_at_ms: u64,
    expires_at_ms: u64,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let server = handle!(server);
        let key_id = input!(key_id, key_id_len, MAX_KEY_ID_LEN, INVALID_ARGUMENT);
        done(
            bridge::server_generate_suite_key(server, suite, key_id, created_at_ms, expires_at_ms),
            |()| {},
        )
    })
}

/// The suite (`SCV2_SUITE_*`) of the key `key_id`, in `*out_suite`.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (NULL server or `out_suite`, bad key id),
/// `SCV2_UNKNOWN_KEY_ID` (not held), `SCV2_INTERNAL`.
///
/// # Safety
/// `server` NULL or live; `key_id` valid for `key_id_len` bytes; `out_suite` NULL or valid for
/// writing one `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_key_suite(
    server: *const scv2_server,
    key_id: *const u8,
    key_id_len: usize,
    out_suite: *mut u32,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let server = handle!(server);
        let out_suite = out_ptr!(out_suite);
        let key_id = input!(key_id, key_id_len, MAX_KEY_ID_LEN, INVALID_ARGUMENT);
        done(bridge::server_key_suite(server, key_id), |s| {
            out_suite.set(s)
        })
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
        let server = handle!(server);
        let key_id = input!(key_id, key_id_len, MAX_KEY_ID_LEN, INVALID_ARGUMENT);
        done(
            bridge::server_generate_key(server, key_id, created_at_ms, expires_at_ms),
            |()| {},
        )
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
        let server = handle!(server);
        let key_id = input!(key_id, key_id_len, MAX_KEY_ID_LEN, INVALID_ARGUMENT);
        done(bridge::server_remove_key(server, key_id), |()| {})
    })
}

/// Copy the raw public key of `key_id` into `out`: for an X25519-suite key its 32 bytes `S`
/// (publish it as the document's `publicKey`, base64 of the SPKI); for a hybrid key the 1216 bytes
/// `ek_s || S` (`scv2_suite_public_key_len`; the document's `publicKey` is their base64).
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT`, `SCV2_UNKNOWN_KEY_ID`, `SCV2_BUFFER_TOO_SMALL`
/// (`*out_len` = the key's length), `SCV2_INTERNAL`.
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
        let server = handle!(server);
        let key_id = input!(key_id, key_id_len, MAX_KEY_ID_LEN, INVALID_ARGUMENT);
        let out_len = out_ptr!(out_len);
        let out = output!(out, out_cap, &out_len, [key_id]);
        done(bridge::server_public_key(server, key_id, out), |n| {
            out_len.set(n)
        })
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
        if let Some(server) = take_handle!(server) {
            bridge::server_free(*server);
        }
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
        let out_handshake = out_ptr!(out_handshake);
        let server = handle!(server);
        let max_envelope = bridge::server_limits(server).max_envelope;
        let envelope = input!(envelope, envelope_len, max_envelope);
        done(bridge::server_accept(server, envelope, now_ms), |hs| {
            out_handshake.publish(hs)
        })
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
        let hs = handle!(handshake);
        let out_len = out_ptr!(out_len);
        let out = output!(out, out_cap, &out_len, []);
        done(bridge::server_handshake_payload(hs, out), |n| {
            out_len.set(n)
        })
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
        let hs = handle!(handshake);
        let out_len = out_ptr!(out_len);
        let out = output!(out, out_cap, &out_len, []);
        done(bridge::server_handshake_key_id(hs, out), |n| out_len.set(n))
    })
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
        let out_len = out_ptr!(out_len);
        let out_session = out_ptr!(out_session);
        let hs = handle!(handshake);
        // Length 0: the library generates the id.
        let session_id = input!(
            session_id,
            session_id_len,
            MAX_SESSION_ID_LEN,
            INVALID_ARGUMENT
        );
        let max_payload = bridge::server_handshake_limits(hs).max_payload;
        let app = input!(app_payload, app_payload_len, max_payload);
        let out = output!(out, out_cap, &out_len, [app, session_id]);
        let session_id = (!session_id.is_empty()).then_some(session_id);
        done(
            bridge::server_handshake_respond(hs, session_id, expires_at_ms, app, out),
            |(session, n)| {
                out_len.set(n);
                out_session.publish(session);
            },
        )
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
        if session_id_len == 0 {
            return INVALID_ARGUMENT;
        }
        let f = input!(
            ephemeral_private,
            ephemeral_private_len,
            KEY_LEN,
            INVALID_ARGUMENT
        );
        let out_len = out_ptr!(out_len);
        let out_session = out_ptr!(out_session);
        let hs = handle!(handshake);
        let session_id = input!(
            session_id,
            session_id_len,
            MAX_SESSION_ID_LEN,
            INVALID_ARGUMENT
        );
        let max_payload = bridge::server_handshake_limits(hs).max_payload;
        let app = input!(app_payload, app_payload_len, max_payload);
        let out = output!(out, out_cap, &out_len, [app, session_id, f]);
        done(
            bridge::server_handshake_respond_for_test_vectors(
                hs,
                session_id,
                expires_at_ms,
                app,
                f,
                out,
            ),
            |(session, n)| {
                out_len.set(n);
                out_session.publish(session);
            },
        )
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
        if let Some(hs) = take_handle!(handshake) {
            bridge::server_handshake_free(*hs);
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
        let out_len = out_ptr!(out_len);
        let s = handle!(session);
        let out = output!(out, out_cap, &out_len, []);
        done(bridge::server_session_id(s, out), |n| out_len.set(n))
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
        let out_expires_at_ms = out_ptr!(out_expires_at_ms);
        let s = handle!(session);
        out_expires_at_ms.set(bridge::server_session_expires_at_ms(s));
        SCV2_OK
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
        // SAFETY: header contract: `session` is NULL or a live session handle.
        match unsafe { session.as_ref() } {
            Some(s) => bridge::server_session_sealed_len(s, body_len),
            None => 0,
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
        let out_len = out_ptr!(out_len);
        let out_seq = out_ptr!(out_seq);
        let s = handle!(session);
        let limits = bridge::server_session_limits(s);
        let ctx = input!(ctx, ctx_len, limits.max_ctx);
        let envelope = input!(envelope, envelope_len, limits.max_envelope);
        let out = output!(out, out_cap, &out_len, [ctx, envelope]);
        done(
            bridge::server_open_request(s, ctx, envelope, now_ms, out),
            |(n, seq)| {
                out_len.set(n);
                out_seq.set(seq);
            },
        )
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
        let out_body_offset = out_ptr!(out_body_offset);
        let out_body_len = out_ptr!(out_body_len);
        let out_seq = out_ptr!(out_seq);
        let s = handle!(session);
        let limits = bridge::server_session_limits(s);
        let ctx = input!(ctx, ctx_len, limits.max_ctx);
        let buf = inout!(buf, buf_len, limits.max_envelope, [ctx]);
        done(
            bridge::server_open_request_in_place(s, ctx, buf, now_ms),
            |(range, seq)| {
                out_body_offset.set(range.start);
                out_body_len.set(range.len());
                out_seq.set(seq);
            },
        )
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
        let out_len = out_ptr!(out_len);
        let s = handle!(session);
        let limits = bridge::server_session_limits(s);
        let ctx = input!(ctx, ctx_len, limits.max_ctx);
        let body = input!(body, body_len, limits.max_payload);
        let out = output!(out, out_cap, &out_len, [ctx, body]);
        done(bridge::server_seal_response(s, seq, ctx, body, out), |n| {
            out_len.set(n)
        })
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
        let out_len = out_ptr!(out_len);
        let s = handle!(session);
        let limits = bridge::server_session_limits(s);
        let ctx = input!(ctx, ctx_len, limits.max_ctx);
        if body_len > limits.max_payload {
            return status(Error::PayloadTooLarge);
        }
        let buf = output!(buf, buf_cap, &out_len, [ctx]);
        done(
            bridge::server_seal_response_in_place(s, seq, ctx, buf, body_len),
            |n| out_len.set(n),
        )
    })
}

/// Forget the request `seq` (from `scv2_server_open_request`) without answering it: its response
/// slot is dropped, so it can never be answered, and its place in the table of
/// `SCV2_MAX_OUTSTANDING` requests awaiting a response is freed. Call it when the application
/// answers an opened request in plaintext instead (an error it could not seal), so that such
/// requests do not fill the table.
///
/// Returns `SCV2_OK`, `SCV2_INVALID_ARGUMENT` (NULL session), `SCV2_INVALID_STATE` (`seq` not
/// awaiting a response), `SCV2_INTERNAL`.
///
/// Thread safety: concurrent calls on one session allowed. No heap allocation.
///
/// # Safety
/// `session` must be NULL or a live session handle.
#[no_mangle]
pub unsafe extern "C" fn scv2_server_forget_request(
    session: *const scv2_server_session,
    seq: u64,
) -> scv2_status {
    ffi_boundary!(SCV2_INTERNAL, {
        let s = handle!(session);
        done(bridge::server_forget_request(s, seq), |()| {})
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
        if let Some(s) = take_handle!(session) {
            bridge::server_session_free(*s);
        }
    })
}
