//! The client side of an established session: [`ClientSession`] seals requests (type 2) and
//! opens the responses (type 129) to them.
//!
//! Order of a request's life: [`ClientSession::seal_request`] (or `_in_place`, `_to`) returns a
//! [`PendingRequest`]; [`ClientSession::open_response`] consumes it with the answer. A request
//! that will never get an envelope back (a plaintext 4xx, a lost connection) is forgotten by
//! dropping its token.

#![forbid(unsafe_code)]

use core::fmt;
use core::ops::Range;
use core::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use zeroize::{Zeroize, Zeroizing};

use super::{frame, open_inner, seal_staged, sealed_len, write_body, DataFrame, PendingRequest};
use crate::config::Limits;
use crate::error::{Error, Result, TokenError};
use crate::schedule::{SessionKeys, MAX_SEQ};
use crate::wire::{DataAad, TYPE_REQUEST, TYPE_RESPONSE};

/// An established client session.
///
/// `Send + Sync`: share it (for example in an `Arc`) and seal requests from many threads at once.
/// [`ClientSession::close`] needs `&mut self`, so it cannot race with other calls.
pub struct ClientSession {
    sid: String,
    /// The associated data's head (`"SC" 0x02 type | u8 len(sid) | sid`), laid out once.
    aad: DataAad,
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
    ) -> Result<ClientSession> {
        Ok(ClientSession {
            aad: DataAad::new(sid.as_bytes())?,
            sid,
            expires_at_ms,
            app_payload,
            keys: Some(keys),
            next_seq: AtomicU64::new(1),
            padding_block,
            limits,
        })
    }

    /// The session id (send it as `X-SC-Session-Id`).
    #[inline]
    pub fn session_id(&self) -> &str {
        &self.sid
    }
    /// When the server said the session expires, ms since the Unix epoch.
    #[inline]
    pub fn expires_at_ms(&self) -> u64 {
        self.expires_at_ms
    }
    /// The server application's payload from the type-130 message.
    pub fn app_payload(&self) -> &[u8] {
        &self.app_payload
    }
    /// The padding block this session uses for requests.
    #[inline]
    pub fn padding_block(&self) -> usize {
        self.padding_block
    }
    /// The input limits this session enforces.
    #[inline]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// Whether [`ClientSession::close`] was called.
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.keys.is_none()
    }
    /// The sequence number the next request will use.
    #[inline]
    pub fn next_seq(&self) -> u64 {
        self.next_seq.load(Ordering::Relaxed)
    }
    /// Envelope length for a request body of `body_len` bytes.
    #[inline]
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
        seal_staged(&keys.c2s, TYPE_REQUEST, &self.aad, ctx, seq, buf, body_len)?;
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
    /// is [`BODY_OFFSET_IN_PLACE`](crate::BODY_OFFSET_IN_PLACE)); `buf` must be at least [`ClientSession::sealed_len`] bytes.
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
            &self.aad,
            ctx,
            &f.iv,
            inner,
            &f.tag,
        )
    }

    /// Open the response to `pending` into `out`; returns the body length.
    ///
    /// `out` needs [`max_open_len`](crate::max_open_len)`(envelope.len())` bytes. Errors, in order:
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
            &self.aad,
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
