//! The server side of an established session: [`ServerSession`] opens requests (type 2) and
//! seals exactly one response (type 129) to each.
//!
//! Order of a request's life: [`ServerSession::open_request`] (or `_in_place`) checks the replay
//! window and returns a [`ResponseSlot`]; [`ServerSession::seal_response`] (or `_in_place`,
//! `_to`) consumes it. [`ServerSession::export`] / [`ServerSession::import`] (in `export.rs`)
//! keep a session across restarts.

#![forbid(unsafe_code)]

use bytes::BytesMut;
use core::fmt;
use core::ops::Range;
use zeroize::Zeroize;

use super::{frame, open_inner, seal_staged, sealed_len, write_body, DataFrame, ResponseSlot};
use crate::config::{Limits, ServerConfig};
use crate::error::{Error, Result, TokenError};
use crate::replay::{ReplayWindow, SharedWindow};
use crate::schedule::{KeyMaterial, SessionKeys};
use crate::wire::{DataAad, TYPE_REQUEST, TYPE_RESPONSE};

/// An established server session.
///
/// `Send + Sync`: concurrent requests can be opened from several threads; the replay window's
/// check-and-mark is atomic, so of two concurrent copies of one request exactly one is accepted.
pub struct ServerSession {
    pub(super) sid: String,
    /// The associated data's head (`"SC" 0x02 type | u8 len(sid) | sid`), laid out once.
    aad: DataAad,
    pub(super) expires_at_ms: u64,
    keys: Option<SessionKeys>,
    pub(super) okm: Option<KeyMaterial>,
    window: SharedWindow,
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
    ) -> Result<ServerSession> {
        Ok(ServerSession {
            aad: DataAad::new(sid.as_bytes())?,
            sid,
            expires_at_ms,
            keys: Some(keys),
            okm: Some(okm),
            window: SharedWindow::new(&window),
            padding_block: config.padding_block,
            limits: config.limits,
        })
    }

    /// The session id.
    #[inline]
    pub fn session_id(&self) -> &str {
        &self.sid
    }
    /// Expiry, ms since the Unix epoch.
    #[inline]
    pub fn expires_at_ms(&self) -> u64 {
        self.expires_at_ms
    }
    /// Whether the session is expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        now_ms >= self.expires_at_ms
    }
    /// Whether [`ServerSession::close`] was called.
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.keys.is_none()
    }
    /// The padding block this session uses for responses.
    #[inline]
    pub fn padding_block(&self) -> usize {
        self.padding_block
    }
    /// The input limits this session enforces.
    #[inline]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// The highest request sequence number accepted so far (0: none).
    #[inline]
    pub fn highest_seq(&self) -> u64 {
        self.window.top()
    }
    /// Envelope length for a response body of `body_len` bytes.
    #[inline]
    pub fn sealed_len(&self, body_len: usize) -> usize {
        sealed_len(body_len, self.padding_block).unwrap_or(usize::MAX)
    }

    fn keys(&self) -> Result<&SessionKeys> {
        self.keys.as_ref().ok_or(Error::InvalidState)
    }

    pub(super) fn window(&self) -> &SharedWindow {
        &self.window
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
        self.window.check(seq)?;
        let n = open_inner(
            &keys.c2s,
            TYPE_REQUEST,
            &self.aad,
            ctx,
            &f.iv,
            inner,
            &f.tag,
        )?;
        if let Err(e) = self.window.check_and_mark(seq) {
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
    /// `out` needs [`max_open_len`](crate::max_open_len)`(envelope.len())` bytes. Errors, in order:
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
            &self.aad,
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
    /// (compare-and-set on [`export_generation`](crate::export_generation)).
    pub fn generation(&self) -> u64 {
        self.window.generation()
    }
}
