//! Established sessions: sealing and opening requests (type 2) and responses (type 129).
//!
//! Both session types are `Send + Sync`: a [`ClientSession`] can seal many requests from several
//! threads at once (its sequence counter is atomic), and a [`ServerSession`] can open concurrent
//! requests (its replay window's check-and-mark is atomic). No call on these paths allocates on
//! the heap, as long as `ctx` is at most [`ZERO_ALLOC_MAX_CTX`] bytes (a longer one needs one
//! temporary buffer for the associated data).

#![forbid(unsafe_code)]

use core::fmt;
use core::ops::Range;
use core::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bytes::BytesMut;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::config::{Limits, ServerConfig};
use crate::error::{Error, Result, TokenError};
use crate::padding;
use crate::primitives::{sha256, AeadKey, NONCE_LEN, TAG_LEN};
use crate::replay::ReplayWindow;
use crate::wire::{self, DATA_HEADER_LEN, DATA_OVERHEAD, TYPE_REQUEST, TYPE_RESPONSE};

/// The largest request sequence number: 2^32 − 1. After it the session is exhausted.
pub const MAX_SEQ: u64 = u32::MAX as u64;
/// The longest session id.
pub const MAX_SESSION_ID_LEN: usize = 64;
/// The longest `ctx` sealed and opened without any heap allocation.
pub const ZERO_ALLOC_MAX_CTX: usize = AAD_STACK - AAD_FIXED;
/// Length of the key material expanded from `prk2`.
pub(crate) const OKM_LEN: usize = 88;

const AAD_SMALL: usize = 128;
const AAD_STACK: usize = 384;
const AAD_FIXED: usize = 4 + 1 + MAX_SESSION_ID_LEN + 2;
const BODY_OFFSET: usize = DATA_HEADER_LEN + NONCE_LEN;

/// Bytes of a type 2 or type 129 envelope carrying `body_len` bytes with padding block `block`.
///
/// `None` if `block` is not in 1..=4096 or the length overflows.
pub fn sealed_len(body_len: usize, block: usize) -> Option<usize> {
    padding::check_block(block).ok()?;
    padding::padded_len(body_len, block)?.checked_add(DATA_OVERHEAD)
}

/// The output capacity an `open` call needs for an envelope of `envelope_len` bytes (the padded
/// plaintext; the body returned is at most one byte shorter). 0 if the envelope is too short to
/// be valid.
pub fn max_open_len(envelope_len: usize) -> usize {
    envelope_len.saturating_sub(DATA_OVERHEAD)
}

/// The key schedule's output: `k_c2s || k_s2c || iv_c2s || iv_s2c`. Zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct KeyMaterial(pub(crate) [u8; OKM_LEN]);

impl KeyMaterial {
    fn key(&self, at: usize) -> Zeroizing<[u8; 32]> {
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(&self.0[at..at + 32]);
        k
    }
    fn iv(&self, at: usize) -> [u8; NONCE_LEN] {
        let mut iv = [0u8; NONCE_LEN];
        iv.copy_from_slice(&self.0[at..at + NONCE_LEN]);
        iv
    }
}

/// One direction's cipher and IV.
struct Direction {
    key: AeadKey,
    iv: [u8; NONCE_LEN],
}

impl Drop for Direction {
    fn drop(&mut self) {
        self.iv.zeroize();
    }
}

impl Direction {
    fn nonce(&self, seq: u64) -> [u8; NONCE_LEN] {
        nonce(&self.iv, seq)
    }

    /// `n = IV XOR iv_dir`; the first four bytes must be zero and `1 <= n <= 2^32 - 1`.
    fn recover_seq(&self, iv: &[u8; NONCE_LEN]) -> Result<u64> {
        recover_seq(&self.iv, iv)
            .filter(|n| (1..=MAX_SEQ).contains(n))
            .ok_or(Error::DecryptionFailed)
    }
}

/// `nonce(dir, n) = iv_dir XOR (0x00000000 || u64be(n))`.
pub(crate) fn nonce(iv: &[u8; NONCE_LEN], seq: u64) -> [u8; NONCE_LEN] {
    let mut out = *iv;
    for (o, s) in out[4..].iter_mut().zip(seq.to_be_bytes()) {
        *o ^= s;
    }
    out
}

/// Inverse of [`nonce`]: `None` if the top four bytes differ.
pub(crate) fn recover_seq(iv_dir: &[u8; NONCE_LEN], received: &[u8; NONCE_LEN]) -> Option<u64> {
    let mut x = [0u8; NONCE_LEN];
    for (i, o) in x.iter_mut().enumerate() {
        *o = iv_dir[i] ^ received[i];
    }
    if x[..4] != [0, 0, 0, 0] {
        return None;
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&x[4..]);
    Some(u64::from_be_bytes(n))
}

/// Both directions of an established session.
pub(crate) struct SessionKeys {
    c2s: Direction,
    s2c: Direction,
    /// Binds [`PendingRequest`]/[`ResponseSlot`] tokens to the session that issued them.
    binding: u64,
}

impl SessionKeys {
    pub(crate) fn from_okm(okm: &KeyMaterial) -> SessionKeys {
        let digest = sha256(&[b"scv2 token binding", &okm.0]);
        let mut b = [0u8; 8];
        b.copy_from_slice(&digest[..8]);
        SessionKeys {
            c2s: Direction {
                key: AeadKey::new(&okm.key(0)),
                iv: okm.iv(64),
            },
            s2c: Direction {
                key: AeadKey::new(&okm.key(32)),
                iv: okm.iv(76),
            },
            binding: u64::from_le_bytes(b),
        }
    }

    /// Seal the first message of the s2c direction (type 130, sequence 0) in place.
    pub(crate) fn seal_handshake(
        &self,
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<([u8; NONCE_LEN], [u8; TAG_LEN])> {
        let n = self.s2c.nonce(0);
        let tag = self.s2c.key.seal_in_place(&n, aad, buf)?;
        Ok((n, tag))
    }

    /// Open the type-130 message: its IV must be `nonce(s2c, 0)`.
    pub(crate) fn open_handshake(
        &self,
        iv: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        if recover_seq(&self.s2c.iv, iv) != Some(0) {
            return Err(Error::DecryptionFailed);
        }
        self.s2c.key.open_in_place(iv, aad, buf, tag)
    }
}

/// Run `f` with `aad = "SC" 0x02 type u8(len sid) sid u16be(len ctx) ctx`.
fn with_aad<T>(ty: u8, sid: &[u8], ctx: &[u8], f: impl FnOnce(&[u8]) -> T) -> T {
    let len = AAD_FIXED - MAX_SESSION_ID_LEN + sid.len() + ctx.len();
    // Two stack sizes: the common case (an HTTP method and path) zeroes only 128 bytes.
    if len <= AAD_SMALL {
        let mut stack = [0u8; AAD_SMALL];
        fill_aad(&mut stack[..len], ty, sid, ctx);
        f(&stack[..len])
    } else if len <= AAD_STACK {
        let mut stack = [0u8; AAD_STACK];
        fill_aad(&mut stack[..len], ty, sid, ctx);
        f(&stack[..len])
    } else {
        let mut heap = vec![0u8; len];
        fill_aad(&mut heap, ty, sid, ctx);
        f(&heap)
    }
}

/// Write `"SC" 0x02 type u8(len sid) sid u16be(len ctx) ctx` into `buf` (exactly that long).
fn fill_aad(buf: &mut [u8], ty: u8, sid: &[u8], ctx: &[u8]) {
    buf[..4].copy_from_slice(&wire::data_header(ty));
    buf[4] = sid.len() as u8;
    buf[5..5 + sid.len()].copy_from_slice(sid);
    let at = 5 + sid.len();
    buf[at..at + 2].copy_from_slice(&(ctx.len() as u16).to_be_bytes());
    buf[at + 2..].copy_from_slice(ctx);
}

/// Seal a body that already sits at `buf[BODY_OFFSET..BODY_OFFSET + body_len]`; `buf` is exactly
/// the envelope's length.
fn seal_body_in_place(
    dir: &Direction,
    ty: u8,
    sid: &[u8],
    ctx: &[u8],
    seq: u64,
    buf: &mut [u8],
    body_len: usize,
) -> Result<usize> {
    let total = buf.len();
    let n = dir.nonce(seq);
    buf[..DATA_HEADER_LEN].copy_from_slice(&wire::data_header(ty));
    buf[DATA_HEADER_LEN..BODY_OFFSET].copy_from_slice(&n);
    let (inner, tag_out) = buf[BODY_OFFSET..].split_at_mut(total - BODY_OFFSET - TAG_LEN);
    padding::write_padding(&mut inner[body_len..]);
    let tag = with_aad(ty, sid, ctx, |aad| dir.key.seal_in_place(&n, aad, inner))?;
    tag_out.copy_from_slice(&tag);
    Ok(total)
}

/// Decrypt and unpad `inner` in place; on a padding failure the plaintext is wiped.
fn open_inner(
    dir: &Direction,
    ty: u8,
    sid: &[u8],
    ctx: &[u8],
    iv: &[u8; NONCE_LEN],
    inner: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<usize> {
    with_aad(ty, sid, ctx, |aad| {
        dir.key.open_in_place(iv, aad, inner, tag)
    })?;
    padding::unpadded_len(inner).inspect_err(|_| inner.zeroize())
}

/// The header, IV and tag of a data envelope, copied out so that the ciphertext can be decrypted
/// in place.
struct DataFrame {
    iv: [u8; NONCE_LEN],
    tag: [u8; TAG_LEN],
    ct: Range<usize>,
}

fn frame(envelope: &[u8], ty: u8) -> Result<DataFrame> {
    let a = wire::parse_data(envelope, ty)?;
    Ok(DataFrame {
        iv: *a.iv,
        tag: *a.tag,
        ct: BODY_OFFSET..envelope.len() - TAG_LEN,
    })
}

/// Copy `body` to the body offset of an envelope buffer whose size the caller already checked.
fn write_body(buf: &mut [u8], body: &[u8]) {
    buf[BODY_OFFSET..BODY_OFFSET + body.len()].copy_from_slice(body);
}

/// Seal the body staged in `buf` (exactly the envelope's length); wipe `buf` if sealing fails.
#[allow(clippy::too_many_arguments)]
fn seal_staged(
    dir: &Direction,
    ty: u8,
    sid: &[u8],
    ctx: &[u8],
    seq: u64,
    buf: &mut [u8],
    body_len: usize,
) -> Result<usize> {
    seal_body_in_place(dir, ty, sid, ctx, seq, buf, body_len).inspect_err(|_| buf.zeroize())
}

/// The client's promise to read the response to request `seq`. Not `Clone`: one per request.
///
/// Consumed by [`ClientSession::open_response`]; a failed call gives it back inside the
/// [`TokenError`].
#[derive(PartialEq, Eq)]
pub struct PendingRequest {
    seq: u64,
    binding: u64,
}

// `Debug` shows the sequence number only: the binding is derived from the session keys.
impl fmt::Debug for PendingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingRequest")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ResponseSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseSlot")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl PendingRequest {
    /// The request's sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

/// The server's right to send exactly one response, to request `seq`. Not `Clone`, and only
/// [`ServerSession::open_request`] makes one, so no s2c nonce is ever used twice.
///
/// Consumed by [`ServerSession::seal_response`]; a failed call gives it back inside the
/// [`TokenError`].
#[derive(PartialEq, Eq)]
pub struct ResponseSlot {
    seq: u64,
    binding: u64,
}

impl ResponseSlot {
    /// The sequence number of the request this slot answers.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

fn check_sid(sid: &str) -> Result<()> {
    if wire::is_valid_id(sid.as_bytes(), MAX_SESSION_ID_LEN) {
        Ok(())
    } else {
        Err(Error::InvalidArgument)
    }
}

// ---------------------------------------------------------------------------------------------
// Client

/// An established client session.
///
/// `Send + Sync`: share it (for example in an `Arc`) and seal requests from many threads at once.
/// [`ClientSession::close`] needs `&mut self`, so it cannot race with other calls.
pub struct ClientSession {
    sid: String,
    expires_at_ms: u64,
    app_payload: Zeroizing<Vec<u8>>,
    keys: Option<SessionKeys>,
    next_seq: AtomicU64,
    padding_block: usize,
    limits: Limits,
}

impl fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSession")
            .field("session_id", &self.sid)
            .field("expires_at_ms", &self.expires_at_ms)
            .field("next_seq", &self.next_seq.load(Ordering::Relaxed))
            .field("closed", &self.keys.is_none())
            .field("keys", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl ClientSession {
    pub(crate) fn new(
        sid: String,
        expires_at_ms: u64,
        app_payload: Zeroizing<Vec<u8>>,
        keys: SessionKeys,
        padding_block: usize,
        limits: Limits,
    ) -> ClientSession {
        ClientSession {
            sid,
            expires_at_ms,
            app_payload,
            keys: Some(keys),
            next_seq: AtomicU64::new(1),
            padding_block,
            limits,
        }
    }

    /// The session id (send it as `X-SC-Session-Id`).
    pub fn session_id(&self) -> &str {
        &self.sid
    }
    /// When the server said the session expires, ms since the Unix epoch.
    pub fn expires_at_ms(&self) -> u64 {
        self.expires_at_ms
    }
    /// The server application's payload from the type-130 message.
    pub fn app_payload(&self) -> &[u8] {
        &self.app_payload
    }
    /// The padding block this session uses for requests.
    pub fn padding_block(&self) -> usize {
        self.padding_block
    }
    /// The input limits this session enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// Whether [`ClientSession::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.keys.is_none()
    }
    /// The sequence number the next request will use.
    pub fn next_seq(&self) -> u64 {
        self.next_seq.load(Ordering::Relaxed)
    }
    /// Envelope length for a request body of `body_len` bytes.
    pub fn sealed_len(&self, body_len: usize) -> usize {
        sealed_len(body_len, self.padding_block).unwrap_or(usize::MAX)
    }

    fn keys(&self) -> Result<&SessionKeys> {
        self.keys.as_ref().ok_or(Error::InvalidState)
    }

    fn reserve_seq(&self) -> Result<u64> {
        self.next_seq
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n <= MAX_SEQ).then_some(n + 1)
            })
            .map_err(|_| Error::SessionExhausted)
    }

    /// Every check of a request seal, in the documented order, with the sequence number reserved
    /// last. Nothing is written before all of them pass. Returns the keys, the sequence number
    /// and the envelope length.
    fn begin_request(
        &self,
        ctx: &[u8],
        body_len: usize,
        capacity: usize,
        now_ms: u64,
    ) -> Result<(&SessionKeys, u64, usize)> {
        let keys = self.keys()?;
        self.limits.check_ctx(ctx)?;
        if body_len > self.limits.max_payload {
            return Err(Error::PayloadTooLarge);
        }
        let total = sealed_len(body_len, self.padding_block).ok_or(Error::PayloadTooLarge)?;
        if capacity < total {
            return Err(Error::BufferTooSmall);
        }
        if now_ms >= self.expires_at_ms {
            return Err(Error::SessionExpired);
        }
        let seq = self.reserve_seq()?;
        Ok((keys, seq, total))
    }

    fn finish_request(
        &self,
        keys: &SessionKeys,
        seq: u64,
        ctx: &[u8],
        buf: &mut [u8],
        body_len: usize,
    ) -> Result<PendingRequest> {
        seal_staged(
            &keys.c2s,
            TYPE_REQUEST,
            self.sid.as_bytes(),
            ctx,
            seq,
            buf,
            body_len,
        )?;
        Ok(PendingRequest {
            seq,
            binding: keys.binding,
        })
    }

    /// Seal a request body into `out`; returns the pending request and the envelope length.
    ///
    /// `ctx` is the request binding (over HTTP: `METHOD SP path`). Errors, in order:
    /// [`Error::InvalidState`] (closed), [`Error::PayloadTooLarge`], [`Error::BufferTooSmall`]
    /// (`out` shorter than [`ClientSession::sealed_len`]), [`Error::SessionExpired`]
    /// (`now_ms >= expiresAtMs`), [`Error::SessionExhausted`]. On error nothing was written and
    /// no sequence number was used.
    pub fn seal_request(
        &self,
        ctx: &[u8],
        body: &[u8],
        now_ms: u64,
        out: &mut [u8],
    ) -> Result<(PendingRequest, usize)> {
        let (keys, seq, total) = self.begin_request(ctx, body.len(), out.len(), now_ms)?;
        let buf = &mut out[..total];
        write_body(buf, body);
        let pending = self.finish_request(keys, seq, ctx, buf, body.len())?;
        Ok((pending, total))
    }

    /// Seal a request body that the caller already wrote at `buf[16..16 + body_len]` (the offset
    /// is [`BODY_OFFSET_IN_PLACE`]); `buf` must be at least [`ClientSession::sealed_len`] bytes.
    /// Returns the pending request and the envelope length (the envelope is `buf[..len]`).
    /// Errors as [`ClientSession::seal_request`].
    pub fn seal_request_in_place(
        &self,
        ctx: &[u8],
        buf: &mut [u8],
        body_len: usize,
        now_ms: u64,
    ) -> Result<(PendingRequest, usize)> {
        let (keys, seq, total) = self.begin_request(ctx, body_len, buf.len(), now_ms)?;
        let pending = self.finish_request(keys, seq, ctx, &mut buf[..total], body_len)?;
        Ok((pending, total))
    }

    /// Seal a request, appending the envelope to a growable buffer. Errors as
    /// [`ClientSession::seal_request`] (never [`Error::BufferTooSmall`]); on error `out` is
    /// unchanged.
    pub fn seal_request_to(
        &self,
        ctx: &[u8],
        body: &[u8],
        now_ms: u64,
        out: &mut BytesMut,
    ) -> Result<PendingRequest> {
        let (keys, seq, total) = self.begin_request(ctx, body.len(), usize::MAX, now_ms)?;
        let start = out.len();
        out.resize(start + total, 0);
        write_body(&mut out[start..], body);
        let r = self.finish_request(keys, seq, ctx, &mut out[start..], body.len());
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    fn open_response_checks(
        &self,
        pending: &PendingRequest,
        ctx: &[u8],
        envelope: &[u8],
    ) -> Result<(&SessionKeys, DataFrame)> {
        let keys = self.keys()?;
        if pending.binding != keys.binding {
            return Err(Error::InvalidArgument);
        }
        self.limits.check_envelope(envelope)?;
        self.limits.check_ctx(ctx)?;
        Ok((keys, frame(envelope, TYPE_RESPONSE)?))
    }

    fn open_response_frame(
        &self,
        keys: &SessionKeys,
        pending: &PendingRequest,
        ctx: &[u8],
        f: &DataFrame,
        inner: &mut [u8],
    ) -> Result<usize> {
        let seq = keys.s2c.recover_seq(&f.iv)?;
        if seq != pending.seq {
            return Err(Error::ResponseMismatch);
        }
        open_inner(
            &keys.s2c,
            TYPE_RESPONSE,
            self.sid.as_bytes(),
            ctx,
            &f.iv,
            inner,
            &f.tag,
        )
    }

    /// Open the response to `pending` into `out`; returns the body length.
    ///
    /// `out` needs [`max_open_len`]`(envelope.len())` bytes. Errors, in order:
    /// [`Error::InvalidState`], [`Error::InvalidArgument`] (token of another session),
    /// [`Error::PayloadTooLarge`], the parse errors, [`Error::BufferTooSmall`],
    /// [`Error::DecryptionFailed`] (nonce out of range, bad tag, bad padding),
    /// [`Error::ResponseMismatch`] (the response answers another request). On error the token
    /// comes back. Expiry is not checked: the answer to an accepted request stays readable.
    pub fn open_response(
        &self,
        pending: PendingRequest,
        ctx: &[u8],
        envelope: &[u8],
        out: &mut [u8],
    ) -> Result<usize, TokenError<PendingRequest>> {
        let r = (|| {
            let (keys, f) = self.open_response_checks(&pending, ctx, envelope)?;
            let inner = out.get_mut(..f.ct.len()).ok_or(Error::BufferTooSmall)?;
            inner.copy_from_slice(&envelope[f.ct.clone()]);
            self.open_response_frame(keys, &pending, ctx, &f, inner)
        })();
        r.map_err(|error| TokenError {
            error,
            token: pending,
        })
    }

    /// Open the response to `pending` in place; returns the body's range inside `buf`.
    pub fn open_response_in_place(
        &self,
        pending: PendingRequest,
        ctx: &[u8],
        buf: &mut [u8],
    ) -> Result<Range<usize>, TokenError<PendingRequest>> {
        let r = (|| {
            let (keys, f) = self.open_response_checks(&pending, ctx, buf)?;
            let n = self.open_response_frame(keys, &pending, ctx, &f, &mut buf[f.ct.clone()])?;
            Ok(f.ct.start..f.ct.start + n)
        })();
        r.map_err(|error| TokenError {
            error,
            token: pending,
        })
    }

    /// Set the next sequence number, to test exhaustion and the receiver's range checks.
    /// Only with the `test-vectors` feature; never in release builds.
    #[cfg(feature = "test-vectors")]
    pub fn set_next_seq_for_test_vectors(&self, seq: u64) {
        self.next_seq.store(seq, Ordering::Release);
    }

    /// Seal a request with an arbitrary sequence number (0, or above 2^32 − 1, too), bypassing
    /// the counter, to build hostile inputs. Only with the `test-vectors` feature.
    #[cfg(feature = "test-vectors")]
    pub fn seal_request_with_seq_for_test_vectors(
        &self,
        seq: u64,
        ctx: &[u8],
        body: &[u8],
        out: &mut [u8],
    ) -> Result<usize> {
        let keys = self.keys()?;
        self.limits.check_ctx(ctx)?;
        let total = sealed_len(body.len(), self.padding_block).ok_or(Error::PayloadTooLarge)?;
        let buf = out.get_mut(..total).ok_or(Error::BufferTooSmall)?;
        write_body(buf, body);
        seal_staged(
            &keys.c2s,
            TYPE_REQUEST,
            self.sid.as_bytes(),
            ctx,
            seq,
            buf,
            body.len(),
        )
    }

    /// Close the session: the keys are zeroized now, and every later call is
    /// [`Error::InvalidState`].
    pub fn close(&mut self) {
        self.keys = None;
        self.app_payload.zeroize();
    }
}

/// Where an in-place body starts inside the caller's buffer: after `"SC" 0x02 type` and the IV.
pub const BODY_OFFSET_IN_PLACE: usize = BODY_OFFSET;

// ---------------------------------------------------------------------------------------------
// Server

/// An established server session.
///
/// `Send + Sync`: concurrent requests can be opened from several threads; the replay window's
/// check-and-mark is atomic, so of two concurrent copies of one request exactly one is accepted.
pub struct ServerSession {
    sid: String,
    expires_at_ms: u64,
    keys: Option<SessionKeys>,
    okm: Option<KeyMaterial>,
    window: Mutex<ReplayWindow>,
    padding_block: usize,
    limits: Limits,
}

impl fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSession")
            .field("session_id", &self.sid)
            .field("expires_at_ms", &self.expires_at_ms)
            .field("closed", &self.keys.is_none())
            .field("keys", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl ServerSession {
    pub(crate) fn new(
        sid: String,
        expires_at_ms: u64,
        okm: KeyMaterial,
        keys: SessionKeys,
        window: ReplayWindow,
        config: &ServerConfig,
    ) -> ServerSession {
        ServerSession {
            sid,
            expires_at_ms,
            keys: Some(keys),
            okm: Some(okm),
            window: Mutex::new(window),
            padding_block: config.padding_block,
            limits: config.limits,
        }
    }

    /// The session id.
    pub fn session_id(&self) -> &str {
        &self.sid
    }
    /// Expiry, ms since the Unix epoch.
    pub fn expires_at_ms(&self) -> u64 {
        self.expires_at_ms
    }
    /// Whether the session is expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        now_ms >= self.expires_at_ms
    }
    /// Whether [`ServerSession::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.keys.is_none()
    }
    /// The padding block this session uses for responses.
    pub fn padding_block(&self) -> usize {
        self.padding_block
    }
    /// The input limits this session enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// The highest request sequence number accepted so far (0: none).
    pub fn highest_seq(&self) -> u64 {
        self.lock_window().top()
    }
    /// Envelope length for a response body of `body_len` bytes.
    pub fn sealed_len(&self, body_len: usize) -> usize {
        sealed_len(body_len, self.padding_block).unwrap_or(usize::MAX)
    }

    fn keys(&self) -> Result<&SessionKeys> {
        self.keys.as_ref().ok_or(Error::InvalidState)
    }

    fn lock_window(&self) -> std::sync::MutexGuard<'_, ReplayWindow> {
        // No code path panics while holding the lock; if one ever did, the window's state is
        // still consistent (every mutation is a single bit or word store).
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open_request_frame(
        &self,
        keys: &SessionKeys,
        ctx: &[u8],
        f: &DataFrame,
        now_ms: u64,
        inner: &mut [u8],
    ) -> Result<(ResponseSlot, usize)> {
        if now_ms >= self.expires_at_ms {
            return Err(Error::SessionExpired);
        }
        let seq = keys.c2s.recover_seq(&f.iv)?;
        self.lock_window().check(seq)?;
        let n = open_inner(
            &keys.c2s,
            TYPE_REQUEST,
            self.sid.as_bytes(),
            ctx,
            &f.iv,
            inner,
            &f.tag,
        )?;
        if let Err(e) = self.lock_window().check_and_mark(seq) {
            inner.zeroize();
            return Err(e);
        }
        Ok((
            ResponseSlot {
                seq,
                binding: keys.binding,
            },
            n,
        ))
    }

    fn open_request_checks(
        &self,
        ctx: &[u8],
        envelope: &[u8],
    ) -> Result<(&SessionKeys, DataFrame)> {
        let keys = self.keys()?;
        self.limits.check_envelope(envelope)?;
        self.limits.check_ctx(ctx)?;
        Ok((keys, frame(envelope, TYPE_REQUEST)?))
    }

    /// Open a request into `out`; returns the response slot and the body length.
    ///
    /// `out` needs [`max_open_len`]`(envelope.len())` bytes. Errors, in order:
    /// [`Error::InvalidState`] (closed), [`Error::PayloadTooLarge`], the parse errors
    /// (malformed, version, type), [`Error::BufferTooSmall`], [`Error::SessionExpired`],
    /// [`Error::DecryptionFailed`] (nonce out of range), [`Error::Replayed`],
    /// [`Error::DecryptionFailed`] (tag, `ctx`, padding), [`Error::Replayed`] (a concurrent copy
    /// won). Answer every failure in plaintext, never with a type 129.
    pub fn open_request(
        &self,
        ctx: &[u8],
        envelope: &[u8],
        now_ms: u64,
        out: &mut [u8],
    ) -> Result<(ResponseSlot, usize)> {
        let (keys, f) = self.open_request_checks(ctx, envelope)?;
        let inner = out.get_mut(..f.ct.len()).ok_or(Error::BufferTooSmall)?;
        inner.copy_from_slice(&envelope[f.ct.clone()]);
        self.open_request_frame(keys, ctx, &f, now_ms, inner)
    }

    /// Open a request in place; returns the slot and the body's range inside `buf`.
    pub fn open_request_in_place(
        &self,
        ctx: &[u8],
        buf: &mut [u8],
        now_ms: u64,
    ) -> Result<(ResponseSlot, Range<usize>)> {
        let (keys, f) = self.open_request_checks(ctx, buf)?;
        let (slot, n) = self.open_request_frame(keys, ctx, &f, now_ms, &mut buf[f.ct.clone()])?;
        Ok((slot, f.ct.start..f.ct.start + n))
    }

    /// Every check of a response seal; returns the keys and the envelope length.
    fn begin_response(
        &self,
        slot: &ResponseSlot,
        ctx: &[u8],
        body_len: usize,
        capacity: usize,
    ) -> Result<(&SessionKeys, usize)> {
        let keys = self.keys()?;
        if slot.binding != keys.binding {
            return Err(Error::InvalidArgument);
        }
        self.limits.check_ctx(ctx)?;
        if body_len > self.limits.max_payload {
            return Err(Error::PayloadTooLarge);
        }
        let total = sealed_len(body_len, self.padding_block).ok_or(Error::PayloadTooLarge)?;
        if capacity < total {
            return Err(Error::BufferTooSmall);
        }
        Ok((keys, total))
    }

    fn finish_response(
        &self,
        keys: &SessionKeys,
        slot: &ResponseSlot,
        ctx: &[u8],
        buf: &mut [u8],
        body_len: usize,
    ) -> Result<usize> {
        seal_staged(
            &keys.s2c,
            TYPE_RESPONSE,
            self.sid.as_bytes(),
            ctx,
            slot.seq,
            buf,
            body_len,
        )
    }

    /// Seal the response to the request `slot` was issued for; returns the envelope length.
    ///
    /// Never checks expiry: an accepted request always gets its answer. Errors:
    /// [`Error::InvalidState`] (closed), [`Error::InvalidArgument`] (slot of another session),
    /// [`Error::PayloadTooLarge`], [`Error::BufferTooSmall`]; on error the slot comes back and
    /// nothing was written.
    pub fn seal_response(
        &self,
        slot: ResponseSlot,
        ctx: &[u8],
        body: &[u8],
        out: &mut [u8],
    ) -> Result<usize, TokenError<ResponseSlot>> {
        let r = self
            .begin_response(&slot, ctx, body.len(), out.len())
            .and_then(|(keys, total)| {
                let buf = &mut out[..total];
                write_body(buf, body);
                self.finish_response(keys, &slot, ctx, buf, body.len())
            });
        r.map_err(|error| TokenError { error, token: slot })
    }

    /// Seal a response whose body the caller wrote at `buf[16..16 + body_len]`.
    pub fn seal_response_in_place(
        &self,
        slot: ResponseSlot,
        ctx: &[u8],
        buf: &mut [u8],
        body_len: usize,
    ) -> Result<usize, TokenError<ResponseSlot>> {
        let r = self
            .begin_response(&slot, ctx, body_len, buf.len())
            .and_then(|(keys, total)| {
                self.finish_response(keys, &slot, ctx, &mut buf[..total], body_len)
            });
        r.map_err(|error| TokenError { error, token: slot })
    }

    /// Seal a response, appending the envelope to a growable buffer; on error `out` is unchanged.
    pub fn seal_response_to(
        &self,
        slot: ResponseSlot,
        ctx: &[u8],
        body: &[u8],
        out: &mut BytesMut,
    ) -> Result<(), TokenError<ResponseSlot>> {
        let r = self
            .begin_response(&slot, ctx, body.len(), usize::MAX)
            .and_then(|(keys, total)| {
                let start = out.len();
                out.resize(start + total, 0);
                write_body(&mut out[start..], body);
                self.finish_response(keys, &slot, ctx, &mut out[start..], body.len())
                    .inspect_err(|_| out.truncate(start))
            });
        r.map(|_| ())
            .map_err(|error| TokenError { error, token: slot })
    }

    /// Close the session: keys zeroized now; every later call is [`Error::InvalidState`].
    pub fn close(&mut self) {
        self.keys = None;
        self.okm = None;
    }

    /// The generation of this session's state: how many requests it has accepted since the
    /// handshake (restored by [`ServerSession::import`]). It only grows, so a store holding
    /// exports of one session can refuse to write back an older state than the one it holds
    /// (compare-and-set on [`export_generation`]).
    pub fn generation(&self) -> u64 {
        self.lock_window().generation()
    }

    /// Export the session sealed under `storage_key`, for storage across restarts.
    ///
    /// Includes the keys, the expiry, the replay window (high-water mark and bitmap) and the
    /// [generation](ServerSession::generation), read together under the window's lock. The blob is
    /// `0x02 || u64be(generation) || nonce (12) || AES-256-GCM(storage_key, nonce, state, aad =
    /// 0x02 || u64be(generation) || u8(len sid) || sid)` (SPEC.md section 12): the generation is
    /// readable without the key ([`export_generation`]) and authenticated; the session id is
    /// authenticated but not stored, so [`ServerSession::import`] must be given the same id (a blob
    /// stored under another id does not open).
    pub fn export<R: rand_core::TryCryptoRng + ?Sized>(
        &self,
        storage_key: &StorageKey,
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        let okm = self.okm.as_ref().ok_or(Error::InvalidState)?;
        let (window, top, bits, generation) = {
            let w = self.lock_window();
            let (window, top, bits) = w.raw();
            (window, top, bits.to_vec(), w.generation())
        };
        let mut state = Zeroizing::new(Vec::with_capacity(8 + OKM_LEN + 4 + 8 + 8 * bits.len()));
        state.extend_from_slice(&self.expires_at_ms.to_be_bytes());
        state.extend_from_slice(&okm.0);
        state.extend_from_slice(&window.to_be_bytes());
        state.extend_from_slice(&top.to_be_bytes());
        for w in &bits {
            state.extend_from_slice(&w.to_be_bytes());
        }
        let mut nonce = [0u8; NONCE_LEN];
        crate::primitives::fill_random(rng, &mut nonce)?;
        let tag = with_export_aad(EXPORT_VERSION, generation, &self.sid, |aad| {
            storage_key.0.seal_in_place(&nonce, aad, &mut state)
        })?;
        let mut out = Vec::with_capacity(EXPORT_HEADER_LEN + state.len() + TAG_LEN);
        out.push(EXPORT_VERSION);
        out.extend_from_slice(&generation.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&state);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Rebuild a session from [`ServerSession::export`] output. `session_id` must be the id it was
    /// exported with. Blobs of the previous format (version 0x01, no generation) import with
    /// generation 0. Errors: [`Error::UnsupportedVersion`], [`Error::MalformedEnvelope`],
    /// [`Error::DecryptionFailed`] (wrong key, wrong id, tampered generation, tampered),
    /// [`Error::InvalidArgument`].
    pub fn import(
        storage_key: &StorageKey,
        session_id: &str,
        blob: &[u8],
        config: &ServerConfig,
    ) -> Result<ServerSession> {
        check_sid(session_id)?;
        let (version, generation, rest) = split_export_header(blob)?;
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(Error::MalformedEnvelope);
        }
        let (nonce, rest) = rest.split_at(NONCE_LEN);
        let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::MalformedEnvelope)?;
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| Error::MalformedEnvelope)?;
        let mut state = Zeroizing::new(ct.to_vec());
        with_export_aad(version, generation, session_id, |aad| {
            storage_key.0.open_in_place(&nonce, aad, &mut state, &tag)
        })?;
        parse_export_state(&state, session_id, generation, config)
    }
}

/// The version byte of an exported session (0x02: with a generation; 0x01 is still imported).
pub const EXPORT_VERSION: u8 = 0x02;
const EXPORT_VERSION_1: u8 = 0x01;
/// Version, generation and nonce.
const EXPORT_HEADER_LEN: usize = 1 + 8 + NONCE_LEN;

/// The generation an exported blob carries in clear ([`ServerSession::generation`] at export time),
/// without the storage key. It is authenticated: a blob whose generation was altered does not
/// import. Errors: [`Error::MalformedEnvelope`] (too short), [`Error::UnsupportedVersion`].
pub fn export_generation(blob: &[u8]) -> Result<u64> {
    split_export_header(blob).map(|(_, generation, _)| generation)
}

/// `(version, generation, rest)`: version 0x01 blobs have no generation field (generation 0).
fn split_export_header(blob: &[u8]) -> Result<(u8, u64, &[u8])> {
    let (&version, rest) = blob.split_first().ok_or(Error::MalformedEnvelope)?;
    match version {
        EXPORT_VERSION_1 => Ok((version, 0, rest)),
        EXPORT_VERSION => {
            let (g, rest) = rest
                .split_first_chunk::<8>()
                .ok_or(Error::MalformedEnvelope)?;
            Ok((version, u64::from_be_bytes(*g), rest))
        }
        _ => Err(Error::UnsupportedVersion),
    }
}

fn with_export_aad<T>(version: u8, generation: u64, sid: &str, f: impl FnOnce(&[u8]) -> T) -> T {
    let mut aad = [0u8; 1 + 8 + 1 + MAX_SESSION_ID_LEN];
    let mut n = 0;
    aad[n] = version;
    n += 1;
    if version != EXPORT_VERSION_1 {
        aad[n..n + 8].copy_from_slice(&generation.to_be_bytes());
        n += 8;
    }
    aad[n] = sid.len() as u8;
    n += 1;
    aad[n..n + sid.len()].copy_from_slice(sid.as_bytes());
    f(&aad[..n + sid.len()])
}

fn parse_export_state(
    state: &[u8],
    sid: &str,
    generation: u64,
    config: &ServerConfig,
) -> Result<ServerSession> {
    let fixed = 8 + OKM_LEN + 4 + 8;
    if state.len() < fixed {
        return Err(Error::MalformedEnvelope);
    }
    let be64 = |b: &[u8]| -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        u64::from_be_bytes(a)
    };
    let expires = be64(&state[..8]);
    let mut okm = KeyMaterial([0u8; OKM_LEN]);
    okm.0.copy_from_slice(&state[8..8 + OKM_LEN]);
    let mut w = [0u8; 4];
    w.copy_from_slice(&state[8 + OKM_LEN..12 + OKM_LEN]);
    let window = u32::from_be_bytes(w);
    let top = be64(&state[12 + OKM_LEN..fixed]);
    crate::replay::check_window(window).map_err(|_| Error::MalformedEnvelope)?;
    let words = ReplayWindow::words(window);
    if state.len() != fixed + 8 * words {
        return Err(Error::MalformedEnvelope);
    }
    let bits: Vec<u64> = state[fixed..].chunks_exact(8).map(be64).collect();
    let window = ReplayWindow::from_raw(window, top, &bits, generation)?;
    let keys = SessionKeys::from_okm(&okm);
    Ok(ServerSession::new(
        sid.to_owned(),
        expires,
        okm,
        keys,
        window,
        config,
    ))
}

/// A 32-byte key that seals exported sessions at rest. Zeroized on drop; `Debug` is redacted.
#[derive(Debug)]
pub struct StorageKey(AeadKey);

impl StorageKey {
    /// Use 32 bytes as a storage key.
    pub fn new(key: &[u8; 32]) -> StorageKey {
        StorageKey(AeadKey::new(key))
    }
}

/// Check a session id: 1–64 printable ASCII bytes (0x21–0x7E), else [`Error::InvalidArgument`].
///
/// [`crate::AcceptedHandshake::respond`] consumes the handshake even when it refuses the id, so
/// check an id from elsewhere first.
pub fn check_session_id(sid: &str) -> Result<()> {
    check_sid(sid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_round_trip() {
        let iv = [0xA5u8; 12];
        for n in [0u64, 1, 2, MAX_SEQ, u64::MAX] {
            assert_eq!(recover_seq(&iv, &nonce(&iv, n)), Some(n));
        }
        let mut bad = nonce(&iv, 5);
        bad[0] ^= 1;
        assert_eq!(recover_seq(&iv, &bad), None);
    }

    #[test]
    fn lengths() {
        assert_eq!(sealed_len(0, 1), Some(33));
        assert_eq!(sealed_len(0, 64), Some(32 + 64));
        assert_eq!(sealed_len(0, 0), None);
        assert_eq!(max_open_len(33), 1);
        assert_eq!(max_open_len(3), 0);
    }

    #[test]
    fn sessions_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<ClientSession>();
        check::<ServerSession>();
    }
}
