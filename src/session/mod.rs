//! Established sessions: sealing and opening requests (type 2) and responses (type 129).
//!
//! - [`client`]: [`ClientSession`] seals requests and opens their responses;
//! - [`server`]: [`ServerSession`] opens requests and seals one response each;
//! - [`export`]: a server session sealed at rest ([`ServerSession::export`] / `import`);
//! - this file: what both roles share — the envelope lengths, the single-use tokens, the
//!   associated data and the in-place seal/open of one data envelope.
//!
//! Both session types are `Send + Sync`: a [`ClientSession`] can seal many requests from several
//! threads at once (its sequence counter is atomic), and a [`ServerSession`] can open concurrent
//! requests (its replay window's check-and-mark is atomic). No call on these paths allocates on
//! the heap, as long as `ctx` is at most [`ZERO_ALLOC_MAX_CTX`] bytes (a longer one needs one
//! temporary buffer for the associated data).

#![forbid(unsafe_code)]

mod client;
mod export;
mod server;

pub use client::ClientSession;
pub use export::{export_generation, StorageKey, EXPORT_VERSION};
pub use server::ServerSession;

use core::fmt;
use core::ops::Range;

use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::padding;
use crate::primitives::{NONCE_LEN, TAG_LEN};
use crate::schedule::Direction;
use crate::wire::{self, DataAad, DATA_HEADER_LEN, DATA_OVERHEAD, MAX_SESSION_ID_LEN};

/// The longest `ctx` sealed and opened without any heap allocation.
pub const ZERO_ALLOC_MAX_CTX: usize = DataAad::STACK - wire::data_aad_len(MAX_SESSION_ID_LEN, 0);
/// Where an in-place body starts inside the caller's buffer: after `"SC" 0x02 type` and the IV.
pub const BODY_OFFSET_IN_PLACE: usize = BODY_OFFSET;

const BODY_OFFSET: usize = DATA_HEADER_LEN + NONCE_LEN;

/// Bytes of a type 2 or type 129 envelope carrying `body_len` bytes with padding block `block`.
///
/// `None` if `block` is not in 1..=4096 or the length overflows (or exceeds `isize::MAX`, the
/// largest buffer there can be).
#[inline]
pub fn sealed_len(body_len: usize, block: usize) -> Option<usize> {
    padding::check_block(block).ok()?;
    padding::padded_len(body_len, block)?
        .checked_add(DATA_OVERHEAD)
        .filter(|&n| n <= isize::MAX as usize)
}

/// The output capacity an `open` call needs for an envelope of `envelope_len` bytes (the padded
/// plaintext; the body returned is at most one byte shorter). 0 if the envelope is too short to
/// be valid.
#[inline]
pub fn max_open_len(envelope_len: usize) -> usize {
    envelope_len.saturating_sub(DATA_OVERHEAD)
}

/// Check a session id: 1–64 printable ASCII bytes (0x21–0x7E), else [`Error::InvalidArgument`].
///
/// [`crate::AcceptedHandshake::respond`] consumes the handshake even when it refuses the id, so
/// check an id from elsewhere first.
pub fn check_session_id(sid: &str) -> Result<()> {
    if wire::is_valid_id(sid.as_bytes(), MAX_SESSION_ID_LEN) {
        Ok(())
    } else {
        Err(Error::InvalidArgument)
    }
}

// ---------------------------------------------------------------------------------------------
// Single-use tokens

/// The client's promise to read the response to request `seq`. Not `Clone`: one per request.
///
/// Consumed by [`ClientSession::open_response`]; a failed call gives it back inside the
/// [`crate::TokenError`]. Dropping it forgets the request (its answer can then no longer be
/// opened); sequence numbers are never reused, so that is always safe.
#[derive(PartialEq, Eq)]
pub struct PendingRequest {
    seq: u64,
    binding: u64,
}

impl PendingRequest {
    /// The request's sequence number.
    #[inline]
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

/// The server's right to send exactly one response, to request `seq`. Not `Clone`, and only
/// [`ServerSession::open_request`] makes one, so no s2c nonce is ever used twice.
///
/// Consumed by [`ServerSession::seal_response`]; a failed call gives it back inside the
/// [`crate::TokenError`].
#[derive(PartialEq, Eq)]
pub struct ResponseSlot {
    seq: u64,
    binding: u64,
}

impl ResponseSlot {
    /// The sequence number of the request this slot answers.
    #[inline]
    pub fn seq(&self) -> u64 {
        self.seq
    }
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

// ---------------------------------------------------------------------------------------------
// One data envelope, sealed or opened in place

/// Seal the body staged at `buf[BODY_OFFSET..BODY_OFFSET + body_len]`; `buf` is exactly the
/// envelope's length. Returns that length; on failure `buf` is wiped.
fn seal_staged(
    dir: &Direction,
    ty: u8,
    aad: &DataAad,
    ctx: &[u8],
    seq: u64,
    buf: &mut [u8],
    body_len: usize,
) -> Result<usize> {
    let total = buf.len();
    let r = (|| {
        let n = dir.nonce(seq);
        let (header, rest) = buf.split_at_mut(BODY_OFFSET);
        header[..DATA_HEADER_LEN].copy_from_slice(&wire::data_header(ty));
        header[DATA_HEADER_LEN..].copy_from_slice(&n);
        let (inner, tag_out) = rest.split_at_mut(total - BODY_OFFSET - TAG_LEN);
        padding::write_padding(&mut inner[body_len..]);
        let tag = aad.with(ty, ctx, |aad| dir.key.seal_in_place(&n, aad, inner))?;
        tag_out.copy_from_slice(&tag);
        Ok(total)
    })();
    r.inspect_err(|_| buf.zeroize())
}

/// Decrypt and unpad `inner` in place; on a padding failure the plaintext is wiped.
fn open_inner(
    dir: &Direction,
    ty: u8,
    aad: &DataAad,
    ctx: &[u8],
    iv: &[u8; NONCE_LEN],
    inner: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<usize> {
    aad.with(ty, ctx, |aad| dir.key.open_in_place(iv, aad, inner, tag))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        assert_eq!(sealed_len(0, 1), Some(33));
        assert_eq!(sealed_len(0, 64), Some(32 + 64));
        assert_eq!(sealed_len(0, 0), None);
        assert_eq!(sealed_len(usize::MAX - 64, 1), None);
        assert_eq!(max_open_len(33), 1);
        assert_eq!(max_open_len(3), 0);
        assert_eq!(ZERO_ALLOC_MAX_CTX, 313);
    }

    #[test]
    fn sessions_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<ClientSession>();
        check::<ServerSession>();
    }
}
