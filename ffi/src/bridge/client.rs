//! The client's operations: configuration, handshake, session. Each function is one exported
//! operation of the C ABI and of the Kotlin binding; its errors are the core's, in the order the
//! header documents (output size first, then the token table, then the core).

#![forbid(unsafe_code)]

use core::ops::Range;
use std::sync::{Mutex, RwLock};

use scv2::primitives::X25519_LEN;
use scv2::{ClientConfig, ClientHandshake, Error, Limits, OsRng, PinnedKey, MAX_KEY_ID_LEN};

use super::suite_of;
use zeroize::Zeroize;

use super::{
    copy_out, fixed, id, lock, read, write, Output, MAX_PUBLIC_KEY_BASE64_LEN, MAX_SPKI_BASE64_LEN,
};
use crate::handles::{scv2_client_config, scv2_client_handshake, scv2_client_session};
use crate::table::TokenTable;

// ---------------------------------------------------------------------------------------------
// Configuration

/// A configuration with no pins and the core's defaults. `scv2_client_config_new`.
pub fn client_config_new() -> scv2_client_config {
    scv2_client_config {
        inner: RwLock::new(ClientConfig::new()),
    }
}

/// Pin a raw 32-byte X25519 key. `scv2_client_config_pin`.
pub fn client_config_pin(
    config: &scv2_client_config,
    key_id: &[u8],
    public_key: &[u8],
) -> Result<(), Error> {
    let key_id = id(key_id, MAX_KEY_ID_LEN)?;
    let pin = PinnedKey::new(key_id, fixed::<X25519_LEN>(public_key)?)?;
    write(&config.inner).pin(pin);
    Ok(())
}

/// Pin a key given as the document's `publicKey`. `scv2_client_config_pin_spki_base64`.
pub fn client_config_pin_spki_base64(
    config: &scv2_client_config,
    key_id: &[u8],
    spki_base64: &[u8],
) -> Result<(), Error> {
    let key_id = id(key_id, MAX_KEY_ID_LEN)?;
    if spki_base64.len() > MAX_SPKI_BASE64_LEN {
        return Err(Error::PayloadTooLarge);
    }
    let b64 = core::str::from_utf8(spki_base64).map_err(|_| Error::InvalidPublicKey)?;
    let pin = PinnedKey::from_spki_base64(key_id, b64)?;
    write(&config.inner).pin(pin);
    Ok(())
}

/// Pin a raw public key of `suite` (a `SCV2_SUITE_*` id): 32 bytes `S`, or 1216 bytes
/// `ek_s || S` for the hybrid suite. `scv2_client_config_pin_suite`.
pub fn client_config_pin_suite(
    config: &scv2_client_config,
    suite: u32,
    key_id: &[u8],
    public_key: &[u8],
) -> Result<(), Error> {
    let suite = suite_of(suite)?;
    let key_id = id(key_id, MAX_KEY_ID_LEN)?;
    let pin = PinnedKey::with_suite(key_id, suite, public_key)?;
    write(&config.inner).pin(pin);
    Ok(())
}

/// Pin a key of `suite` given as the document's `publicKey`.
/// `scv2_client_config_pin_public_key_base64`.
pub fn client_config_pin_public_key_base64(
    config: &scv2_client_config,
    suite: u32,
    key_id: &[u8],
    public_key_base64: &[u8],
) -> Result<(), Error> {
    let suite = suite_of(suite)?;
    let key_id = id(key_id, MAX_KEY_ID_LEN)?;
    if public_key_base64.len() > MAX_PUBLIC_KEY_BASE64_LEN {
        return Err(Error::PayloadTooLarge);
    }
    let b64 = core::str::from_utf8(public_key_base64).map_err(|_| Error::InvalidPublicKey)?;
    let pin = PinnedKey::from_public_key_base64(key_id, suite, b64)?;
    write(&config.inner).pin(pin);
    Ok(())
}

/// `scv2_client_config_set_padding_block`.
pub fn client_config_set_padding_block(
    config: &scv2_client_config,
    padding_block: usize,
) -> Result<(), Error> {
    write(&config.inner).set_padding_block(padding_block)?;
    Ok(())
}

/// The limits the C ABI checks a configuration's inputs against (the core's).
pub fn client_config_limits(config: &scv2_client_config) -> Limits {
    *read(&config.inner).limits()
}

// ---------------------------------------------------------------------------------------------
// Handshake

/// Start a handshake: the type 1 goes to `out` (exactly `scv2_type1_len` bytes, asked of `out`
/// first). `scv2_client_handshake_start`.
pub fn client_handshake_start<'o>(
    config: &scv2_client_config,
    key_id: &[u8],
    payload: &[u8],
    out: impl Output<'o>,
) -> Result<(scv2_client_handshake, usize), Error> {
    start(config, key_id, payload, out, |c, k, p, out| {
        ClientHandshake::start_into(c, k, p, &mut OsRng, out)
    })
}

/// [`client_handshake_start`] with a fixed ephemeral key and `iv1` (test vectors only).
/// `scv2_client_handshake_start_for_test_vectors`.
#[cfg(feature = "test-vectors")]
pub fn client_handshake_start_for_test_vectors<'o>(
    config: &scv2_client_config,
    key_id: &[u8],
    payload: &[u8],
    ephemeral_private: &[u8],
    iv1: &[u8],
    out: impl Output<'o>,
) -> Result<(scv2_client_handshake, usize), Error> {
    let e = zeroize::Zeroizing::new(fixed::<X25519_LEN>(ephemeral_private)?);
    let iv1 = fixed::<{ scv2::primitives::NONCE_LEN }>(iv1)?;
    start(config, key_id, payload, out, |c, k, p, out| {
        ClientHandshake::start_into_with_ephemeral_for_test_vectors(c, k, p, *e, iv1, out)
    })
}

/// [`client_handshake_start`] for a hybrid pin with every input fixed: `e`, the 64-byte ML-KEM
/// seed, `m1` and `iv1` (test vectors only).
/// `scv2_client_handshake_start_hybrid_for_test_vectors`.
#[cfg(feature = "test-vectors")]
#[allow(clippy::too_many_arguments)] // one per argument of the C function
pub fn client_handshake_start_hybrid_for_test_vectors<'o>(
    config: &scv2_client_config,
    key_id: &[u8],
    payload: &[u8],
    ephemeral_private: &[u8],
    mlkem_seed: &[u8],
    encaps_randomness: &[u8],
    iv1: &[u8],
    out: impl Output<'o>,
) -> Result<(scv2_client_handshake, usize), Error> {
    let e = zeroize::Zeroizing::new(fixed::<X25519_LEN>(ephemeral_private)?);
    let kem = scv2::HybridClientTestInputs {
        mlkem_seed: fixed::<{ scv2::primitives::MLKEM_SEED_LEN }>(mlkem_seed)?,
        encaps_randomness: fixed::<{ scv2::primitives::MLKEM_ENCAPS_RANDOMNESS_LEN }>(
            encaps_randomness,
        )?,
    };
    let iv1 = fixed::<{ scv2::primitives::NONCE_LEN }>(iv1)?;
    start(config, key_id, payload, out, |c, k, p, out| {
        let (hs, env) =
            ClientHandshake::start_hybrid_with_ephemeral_for_test_vectors(c, k, p, *e, kem, iv1)?;
        let dst = out.get_mut(..env.len()).ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(&env);
        Ok((hs, env.len()))
    })
}

fn start<'o>(
    config: &scv2_client_config,
    key_id: &[u8],
    payload: &[u8],
    out: impl Output<'o>,
    run: impl FnOnce(&ClientConfig, &str, &[u8], &mut [u8]) -> scv2::Result<(ClientHandshake, usize)>,
) -> Result<(scv2_client_handshake, usize), Error> {
    let key_id = id(key_id, MAX_KEY_ID_LEN)?;
    // One read lock for the size and the start, so that both see the same padding block.
    let config = read(&config.inner);
    // The pin's suite decides the length; for a key id that is not pinned the start fails with
    // `untrusted_server_key` after the size check, which then uses the X25519 suite's length.
    let needed = match ClientHandshake::start_len(&config, key_id, payload.len()) {
        Err(Error::UntrustedServerKey) => {
            scv2::key_exchange_len(key_id.len(), payload.len(), config.padding_block())
                .ok_or(Error::PayloadTooLarge)?
        }
        other => other?,
    };
    let out = out.take(needed)?;
    let (hs, n) = run(&config, key_id, payload, out)?;
    Ok((
        scv2_client_handshake {
            inner: Mutex::new(Some(hs)),
            limits: *config.limits(),
        },
        n,
    ))
}

/// The limits a handshake checks the type 130 against.
pub fn client_handshake_limits(handshake: &scv2_client_handshake) -> Limits {
    handshake.limits
}

/// Finish a handshake once: the session, or the core's error (the handshake is consumed either
/// way; a second call is [`Error::InvalidState`]). `scv2_client_handshake_finish`.
pub fn client_handshake_finish(
    handshake: &scv2_client_handshake,
    envelope: &[u8],
    now_ms: u64,
) -> Result<scv2_client_session, Error> {
    let taken = lock(&handshake.inner).take().ok_or(Error::InvalidState)?;
    let session = taken.finish(envelope, now_ms)?;
    Ok(scv2_client_session {
        session,
        pending: TokenTable::new(),
    })
}

/// Drop a handshake; its secrets are zeroized by the core. `scv2_client_handshake_free`.
pub fn client_handshake_free(handshake: scv2_client_handshake) {
    drop(handshake);
}

// ---------------------------------------------------------------------------------------------
// Session

/// `scv2_client_session_id`.
pub fn client_session_id<'o>(
    s: &scv2_client_session,
    out: impl Output<'o>,
) -> Result<usize, Error> {
    copy_out(s.session.session_id().as_bytes(), out)
}

/// `scv2_client_session_app_payload`.
pub fn client_session_app_payload<'o>(
    s: &scv2_client_session,
    out: impl Output<'o>,
) -> Result<usize, Error> {
    copy_out(s.session.app_payload(), out)
}

/// `scv2_client_session_expires_at_ms`.
pub fn client_session_expires_at_ms(s: &scv2_client_session) -> u64 {
    s.session.expires_at_ms()
}

/// The limits the session checks its inputs against.
#[inline]
pub fn client_session_limits(s: &scv2_client_session) -> &Limits {
    s.session.limits()
}

/// Bytes of this session's request envelope for a `body_len`-byte body (0: too large).
/// `scv2_client_session_sealed_len`.
pub fn client_session_sealed_len(s: &scv2_client_session, body_len: usize) -> usize {
    super::sealed_len(body_len, s.session.padding_block())
}

#[inline]
fn request_len(s: &scv2_client_session, body_len: usize) -> Result<usize, Error> {
    scv2::sealed_len(body_len, s.session.padding_block()).ok_or(Error::PayloadTooLarge)
}

/// Seal a request into `out`; returns the envelope's length and the sequence number, whose token
/// the session keeps. `scv2_client_seal_request`.
#[inline]
pub fn client_seal_request<'o>(
    s: &scv2_client_session,
    ctx: &[u8],
    body: &[u8],
    now_ms: u64,
    out: impl Output<'o>,
) -> Result<(usize, u64), Error> {
    let out = out.take(request_len(s, body.len())?)?;
    let claim = s
        .pending
        .claim(s.session.next_seq())
        .ok_or(Error::InvalidState)?;
    match s.session.seal_request(ctx, body, now_ms, out) {
        Ok((pending, n)) => {
            let seq = pending.seq();
            claim.fill(pending)?;
            Ok((n, seq))
        }
        Err(e) => {
            out.zeroize();
            Err(e)
        }
    }
}

/// Seal the body the caller wrote at offset 16 of `buf`. `scv2_client_seal_request_in_place`.
#[inline]
pub fn client_seal_request_in_place<'o>(
    s: &scv2_client_session,
    ctx: &[u8],
    buf: impl Output<'o>,
    body_len: usize,
    now_ms: u64,
) -> Result<(usize, u64), Error> {
    let buf = buf.take(request_len(s, body_len)?)?;
    let claim = s
        .pending
        .claim(s.session.next_seq())
        .ok_or(Error::InvalidState)?;
    let (pending, n) = s
        .session
        .seal_request_in_place(ctx, buf, body_len, now_ms)?;
    let seq = pending.seq();
    claim.fill(pending)?;
    Ok((n, seq))
}

/// Open the response to request `seq` into `out` (which must hold `scv2_max_open_len` bytes);
/// returns the body's length. On success the request is answered; on failure it stays
/// outstanding. `scv2_client_open_response`.
#[inline]
pub fn client_open_response<'o>(
    s: &scv2_client_session,
    seq: u64,
    ctx: &[u8],
    envelope: &[u8],
    out: impl Output<'o>,
) -> Result<usize, Error> {
    let out = out.take(scv2::max_open_len(envelope.len()))?;
    s.pending.use_token(seq, |pending| {
        s.session.open_response(pending, ctx, envelope, out)
    })
}

/// Open the response to request `seq` in place; returns the body's range in `buf`.
/// `scv2_client_open_response_in_place`.
#[inline]
pub fn client_open_response_in_place(
    s: &scv2_client_session,
    seq: u64,
    ctx: &[u8],
    buf: &mut [u8],
) -> Result<Range<usize>, Error> {
    s.pending.use_token(seq, |pending| {
        s.session.open_response_in_place(pending, ctx, buf)
    })
}

/// Forget request `seq`: its answer will never be opened (a plaintext error, a lost response, a
/// cancelled call), and its slot in the table of outstanding requests is free again. Sequence
/// numbers are never reused, so this is always safe. [`Error::InvalidState`] if `seq` is not
/// outstanding. `scv2_client_forget_request`.
pub fn client_forget_request(s: &scv2_client_session, seq: u64) -> Result<(), Error> {
    if s.pending.forget(seq) {
        Ok(())
    } else {
        Err(Error::InvalidState)
    }
}

/// Close and drop a session: its keys, the server's payload and the outstanding tokens are
/// zeroized. `scv2_client_session_free`.
pub fn client_session_free(mut s: scv2_client_session) {
    s.session.close();
}
