//! The server's operations: key set, accepted handshake, session. Each function is one exported
//! operation of the C ABI and of the Kotlin binding; its errors are the core's, in the order the
//! header documents (output size first, then the token table, then the core).

#![forbid(unsafe_code)]

use core::ops::Range;
use std::sync::{Mutex, RwLock};

use scv2::primitives::X25519_LEN;
use scv2::{
    Error, Limits, OsRng, Server, ServerConfig, ServerKey, Suite, GENERATED_SESSION_ID_LEN,
    MAX_KEY_ID_LEN, MAX_SESSION_ID_LEN,
};
use zeroize::{Zeroize, Zeroizing};

use super::{copy_out, fixed, id, lock, read, write, Output};
use crate::handles::{scv2_server, scv2_server_handshake, scv2_server_session};
use crate::table::TokenTable;

// ---------------------------------------------------------------------------------------------
// Key set

/// A key set with no keys. `padding_block` 0 and `replay_window` 0 mean the core's defaults.
/// `scv2_server_new`.
pub fn server_new(padding_block: usize, replay_window: u32) -> Result<scv2_server, Error> {
    let mut config = ServerConfig::default();
    if padding_block != 0 {
        config = config.with_padding_block(padding_block)?;
    }
    if replay_window != 0 {
        config = config.with_replay_window(replay_window)?;
    }
    Ok(scv2_server {
        inner: RwLock::new(Server::new(config)),
    })
}

/// `expires_at_ms` 0 means "never".
fn expiry(expires_at_ms: u64) -> Option<u64> {
    (expires_at_ms != 0).then_some(expires_at_ms)
}

/// Add a key from its 32 private bytes. `scv2_server_add_key`.
pub fn server_add_key(
    server: &scv2_server,
    key_id: &[u8],
    private_key: &[u8],
    created_at_ms: u64,
    expires_at_ms: u64,
) -> Result<(), Error> {
    let key_id = id(key_id, MAX_KEY_ID_LEN)?;
    let private = Zeroizing::new(fixed::<X25519_LEN>(private_key)?);
    let key =
        ServerKey::from_private_bytes(key_id, &private, created_at_ms, expiry(expires_at_ms))?;
    write(&server.inner).add_key(key)
}

/// Add a key of `suite` (a `SCV2_SUITE_*` id) from its private form (`Suite::private_key_len`
/// bytes: 32, or 96 for the hybrid suite). `scv2_server_add_suite_key`.
pub fn server_add_suite_key(
    server: &scv2_server,
    suite: u32,
    key_id: &[u8],
    private_key: &[u8],
    created_at_ms: u64,
    expires_at_ms: u64,
) -> Result<(), Error> {
    let suite = suite_of(suite)?;
    let key_id = id(key_id, MAX_KEY_ID_LEN)?;
    let key = ServerKey::from_private_key(
        suite,
        key_id,
        private_key,
        created_at_ms,
        expiry(expires_at_ms),
    )?;
    write(&server.inner).add_key(key)
}

/// Generate a key of `suite` with the OS RNG and add it. `scv2_server_generate_suite_key`.
pub fn server_generate_suite_key(
    server: &scv2_server,
    suite: u32,
    key_id: &[u8],
    created_at_ms: u64,
    expires_at_ms: u64,
) -> Result<(), Error> {
    let suite = suite_of(suite)?;
    let key_id = id(key_id, MAX_KEY_ID_LEN)?;
    let key = ServerKey::generate_with_suite(
        suite,
        key_id,
        created_at_ms,
        expiry(expires_at_ms),
        &mut OsRng,
    )?;
    write(&server.inner).add_key(key)
}

/// The suite of a `SCV2_SUITE_*` id, else [`Error::InvalidArgument`].
pub fn suite_of(id: u32) -> Result<Suite, Error> {
    Suite::from_id(id).ok_or(Error::InvalidArgument)
}

/// The suite id of the key `key_id`. `scv2_server_key_suite`.
pub fn server_key_suite(server: &scv2_server, key_id: &[u8]) -> Result<u32, Error> {
    let key_id = id(key_id, MAX_KEY_ID_LEN)?;
    Ok(read(&server.inner)
        .key(key_id)
        .ok_or(Error::UnknownKeyId)?
        .suite()
        .id())
}

/// Generate a key with the OS RNG and add it. `scv2_server_generate_key`.
pub fn server_generate_key(
    server: &scv2_server,
    key_id: &[u8],
    created_at_ms: u64,
    expires_at_ms: u64,
) -> Result<(), Error> {
    let key_id = id(key_id, MAX_KEY_ID_LEN)?;
    let key = ServerKey::generate(key_id, created_at_ms, expiry(expires_at_ms), &mut OsRng)?;
    write(&server.inner).add_key(key)
}

/// Remove a key ([`Error::UnknownKeyId`] if not held). `scv2_server_remove_key`.
pub fn server_remove_key(server: &scv2_server, key_id: &[u8]) -> Result<(), Error> {
    let key_id = id(key_id, MAX_KEY_ID_LEN)?;
    if write(&server.inner).remove_key(key_id) {
        Ok(())
    } else {
        Err(Error::UnknownKeyId)
    }
}

/// The raw public key of `key_id` in its suite's form (32 bytes `S`, or 1216 bytes
/// `ek_s || S`). `scv2_server_public_key`.
pub fn server_public_key<'o>(
    server: &scv2_server,
    key_id: &[u8],
    out: impl Output<'o>,
) -> Result<usize, Error> {
    let key_id = id(key_id, MAX_KEY_ID_LEN)?;
    let guard = read(&server.inner);
    let key = guard.key(key_id).ok_or(Error::UnknownKeyId)?;
    copy_out(key.public_key_bytes(), out)
}

/// The limits the key set's sessions check their inputs against.
pub fn server_limits(server: &scv2_server) -> Limits {
    *read(&server.inner).config().limits()
}

/// Drop a key set; its private keys are zeroized by the core. `scv2_server_free`.
pub fn server_free(server: scv2_server) {
    drop(server);
}

// ---------------------------------------------------------------------------------------------
// Handshake

/// Accept a type 1. `scv2_server_accept`.
pub fn server_accept(
    server: &scv2_server,
    envelope: &[u8],
    now_ms: u64,
) -> Result<scv2_server_handshake, Error> {
    let guard = read(&server.inner);
    let accepted = guard.accept(envelope, now_ms)?;
    Ok(scv2_server_handshake {
        suite: accepted.suite(),
        inner: Mutex::new(Some(accepted)),
        config: *guard.config(),
    })
}

/// The limits the accepted handshake's session will check its inputs against.
pub fn server_handshake_limits(hs: &scv2_server_handshake) -> Limits {
    *hs.config.limits()
}

/// `scv2_server_handshake_payload` ([`Error::InvalidState`] once responded).
pub fn server_handshake_payload<'o>(
    hs: &scv2_server_handshake,
    out: impl Output<'o>,
) -> Result<usize, Error> {
    let guard = lock(&hs.inner);
    copy_out(guard.as_ref().ok_or(Error::InvalidState)?.payload(), out)
}

/// `scv2_server_handshake_key_id` ([`Error::InvalidState`] once responded).
pub fn server_handshake_key_id<'o>(
    hs: &scv2_server_handshake,
    out: impl Output<'o>,
) -> Result<usize, Error> {
    let guard = lock(&hs.inner);
    copy_out(
        guard
            .as_ref()
            .ok_or(Error::InvalidState)?
            .key_id()
            .as_bytes(),
        out,
    )
}

/// Respond to an accepted handshake, once: the session, and the type 130 in `out` (exactly
/// `scv2_type130_len` bytes, asked of `out` first). `session_id` `None`: generate one
/// ([`GENERATED_SESSION_ID_LEN`] characters). `scv2_server_handshake_respond`.
pub fn server_handshake_respond<'o>(
    hs: &scv2_server_handshake,
    session_id: Option<&[u8]>,
    expires_at_ms: u64,
    app_payload: &[u8],
    out: impl Output<'o>,
) -> Result<(scv2_server_session, usize), Error> {
    respond(hs, session_id, app_payload, out, |a, sid, out| {
        a.respond_into(sid, expires_at_ms, app_payload, &mut OsRng, out)
    })
}

/// [`server_handshake_respond`] with a fixed ephemeral key and a given session id (test vectors
/// only). `scv2_server_handshake_respond_for_test_vectors`.
#[cfg(feature = "test-vectors")]
pub fn server_handshake_respond_for_test_vectors<'o>(
    hs: &scv2_server_handshake,
    session_id: &[u8],
    expires_at_ms: u64,
    app_payload: &[u8],
    ephemeral_private: &[u8],
    out: impl Output<'o>,
) -> Result<(scv2_server_session, usize), Error> {
    if session_id.is_empty() {
        return Err(Error::InvalidArgument);
    }
    let f = Zeroizing::new(fixed::<X25519_LEN>(ephemeral_private)?);
    respond(hs, Some(session_id), app_payload, out, |a, sid, out| {
        a.respond_into_with_ephemeral_for_test_vectors(sid, expires_at_ms, app_payload, *f, out)
    })
}

fn respond<'o>(
    hs: &scv2_server_handshake,
    session_id: Option<&[u8]>,
    app_payload: &[u8],
    out: impl Output<'o>,
    run: impl FnOnce(
        scv2::AcceptedHandshake,
        &str,
        &mut [u8],
    ) -> scv2::Result<(scv2::ServerSession, usize)>,
) -> Result<(scv2_server_session, usize), Error> {
    // The id is checked before the handshake is consumed (the core checks it after).
    let sid = match session_id {
        Some(bytes) => {
            let sid = id(bytes, MAX_SESSION_ID_LEN)?;
            scv2::check_session_id(sid)?;
            Some(sid)
        }
        None => None,
    };
    let sid_len = sid.map_or(GENERATED_SESSION_ID_LEN, str::len);
    let needed = hs
        .suite
        .key_exchange_response_len(sid_len, app_payload.len(), hs.config.padding_block())
        .ok_or(Error::PayloadTooLarge)?;
    let out = out.take(needed)?;
    // Generated after the size check, so that a short buffer draws no randomness.
    let generated;
    let sid = match sid {
        Some(sid) => sid,
        None => {
            generated = scv2::generate_session_id(&mut OsRng)?;
            generated.as_str()
        }
    };
    let accepted = lock(&hs.inner).take().ok_or(Error::InvalidState)?;
    let (session, n) = run(accepted, sid, out)?;
    Ok((
        scv2_server_session {
            session,
            slots: TokenTable::new(),
        },
        n,
    ))
}

/// Drop an accepted handshake; its secrets are zeroized by the core.
/// `scv2_server_handshake_free`.
pub fn server_handshake_free(hs: scv2_server_handshake) {
    drop(hs);
}

// ---------------------------------------------------------------------------------------------
// Session

/// `scv2_server_session_id`.
pub fn server_session_id<'o>(
    s: &scv2_server_session,
    out: impl Output<'o>,
) -> Result<usize, Error> {
    copy_out(s.session.session_id().as_bytes(), out)
}

/// `scv2_server_session_expires_at_ms`.
pub fn server_session_expires_at_ms(s: &scv2_server_session) -> u64 {
    s.session.expires_at_ms()
}

/// The limits the session checks its inputs against.
#[inline]
pub fn server_session_limits(s: &scv2_server_session) -> &Limits {
    s.session.limits()
}

/// Bytes of this session's response envelope for a `body_len`-byte body (0: too large).
/// `scv2_server_session_sealed_len`.
pub fn server_session_sealed_len(s: &scv2_server_session, body_len: usize) -> usize {
    super::sealed_len(body_len, s.session.padding_block())
}

#[inline]
fn response_len(s: &scv2_server_session, body_len: usize) -> Result<usize, Error> {
    scv2::sealed_len(body_len, s.session.padding_block()).ok_or(Error::PayloadTooLarge)
}

/// Open a request into `out` (which must hold `scv2_max_open_len` bytes); returns the body's
/// length and the sequence number, whose response slot the session keeps.
/// `scv2_server_open_request`.
#[inline]
pub fn server_open_request<'o>(
    s: &scv2_server_session,
    ctx: &[u8],
    envelope: &[u8],
    now_ms: u64,
    out: impl Output<'o>,
) -> Result<(usize, u64), Error> {
    let out = out.take(scv2::max_open_len(envelope.len()))?;
    let claim = s
        .slots
        .claim(s.session.highest_seq().wrapping_add(1))
        .ok_or(Error::InvalidState)?;
    let (slot, n) = s.session.open_request(ctx, envelope, now_ms, out)?;
    let seq = slot.seq();
    claim.fill(slot)?;
    Ok((n, seq))
}

/// Open a request in place; returns the body's range in `buf` and the sequence number.
/// `scv2_server_open_request_in_place`.
#[inline]
pub fn server_open_request_in_place(
    s: &scv2_server_session,
    ctx: &[u8],
    buf: &mut [u8],
    now_ms: u64,
) -> Result<(Range<usize>, u64), Error> {
    let claim = s
        .slots
        .claim(s.session.highest_seq().wrapping_add(1))
        .ok_or(Error::InvalidState)?;
    let (slot, range) = s.session.open_request_in_place(ctx, buf, now_ms)?;
    let seq = slot.seq();
    claim.fill(slot)?;
    Ok((range, seq))
}

/// Seal the one response to request `seq` into `out`; returns the envelope's length. On failure
/// `seq` stays answerable. `scv2_server_seal_response`.
#[inline]
pub fn server_seal_response<'o>(
    s: &scv2_server_session,
    seq: u64,
    ctx: &[u8],
    body: &[u8],
    out: impl Output<'o>,
) -> Result<usize, Error> {
    let out = out.take(response_len(s, body.len())?)?;
    s.slots
        .use_token(seq, |slot| {
            s.session.seal_response(slot, ctx, body, &mut *out)
        })
        .inspect_err(|_| out.zeroize())
}

/// Seal the response whose body the caller wrote at offset 16 of `buf`.
/// `scv2_server_seal_response_in_place`.
#[inline]
pub fn server_seal_response_in_place<'o>(
    s: &scv2_server_session,
    seq: u64,
    ctx: &[u8],
    buf: impl Output<'o>,
    body_len: usize,
) -> Result<usize, Error> {
    let buf = buf.take(response_len(s, body_len)?)?;
    s.slots.use_token(seq, |slot| {
        s.session.seal_response_in_place(slot, ctx, buf, body_len)
    })
}

/// Forget request `seq` without answering it (for example after answering it in plaintext):
/// its response slot is dropped, so it can never be answered, and its place in the table is
/// free again. [`Error::InvalidState`] if `seq` is not awaiting a response.
/// `scv2_server_forget_request`.
pub fn server_forget_request(s: &scv2_server_session, seq: u64) -> Result<(), Error> {
    if s.slots.forget(seq) {
        Ok(())
    } else {
        Err(Error::InvalidState)
    }
}

/// Close and drop a session: its keys are zeroized; requests awaiting a response can no longer
/// be answered. `scv2_server_session_free`.
pub fn server_session_free(mut s: scv2_server_session) {
    s.session.close();
}
