//! The safe bridge: one safe Rust function per exported operation, shared by the C shells
//! (`crate::c`) and the JNI shells (`crate::jni`), so that both languages get exactly the same
//! semantics. No `unsafe` here: the shells turn raw pointers and Java arrays into slices and
//! handle references, the bridge does everything else:
//!
//! - the **output-size rule**: an operation asks its [`Output`](crate::bridge::Output) for exactly the bytes the core
//!   says it needs (`sealed_len`, `max_open_len`, `key_exchange_len`, ...), before any
//!   cryptography, so a short buffer changes no state and the caller learns the size;
//! - the **token tables**: foreign callers hold sequence numbers, the session handles hold the
//!   core's single-use tokens (`crate::table`);
//! - the id and key arguments given as bytes;
//! - the names and numbers (status names, the backend name) as C strings built from the core.
//!
//! Every function returns the core's [`Error`](scv2::Error); the shells turn it into a status code or an
//! exception.

#![forbid(unsafe_code)]

mod client;
mod names;
mod server;

pub use client::*;
pub use names::{backend_c_name, status_c_name, version_c_name};
pub use server::*;

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use scv2::Error;

/// The longest `publicKey` text `scv2_client_config_pin_spki_base64` reads (a canonical X25519
/// SPKI in base64 is 60 characters).
pub const MAX_SPKI_BASE64_LEN: usize = 1024;

/// The longest `publicKey` text `scv2_client_config_pin_public_key_base64` reads (the hybrid
/// suite's is 1624 characters).
pub const MAX_PUBLIC_KEY_BASE64_LEN: usize = 4096;

/// The longest raw public key of any suite (the core's; 1216 bytes).
pub const MAX_PUBLIC_KEY_LEN: usize = scv2::MAX_PUBLIC_KEY_LEN;

/// The longest private key form of any suite (the core's; 96 bytes).
pub const MAX_PRIVATE_KEY_LEN: usize = scv2::MAX_PRIVATE_KEY_LEN;

/// The caller's output buffer. An operation asks it for exactly the bytes the core needs
/// ([`Output::take`]) before it runs; an implementation refuses a shorter buffer with
/// [`Error::BufferTooSmall`] and reports the size needed its own way (the C ABI writes it to
/// `*out_len`; the JNI shells size their arrays from it).
pub trait Output<'a> {
    /// The first `needed` bytes of the buffer.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when the buffer is shorter; [`Error::InvalidArgument`] when it
    /// cannot be used (a NULL C pointer with a non-zero capacity, an overlap with an input).
    fn take(self, needed: usize) -> Result<&'a mut [u8], Error>;
}

impl<'a> Output<'a> for &'a mut [u8] {
    fn take(self, needed: usize) -> Result<&'a mut [u8], Error> {
        self.get_mut(..needed).ok_or(Error::BufferTooSmall)
    }
}

/// Whether the output range `[p, p + len)` overlaps none of `inputs` (an empty range overlaps
/// nothing). Rust forbids a mutable and a shared view of the same bytes, so both shells refuse an
/// output that overlaps an input of the same call ([`Error::InvalidArgument`]) before they form
/// the slices; the in-place calls work inside one buffer instead.
#[inline]
pub(crate) fn disjoint(p: *const u8, len: usize, inputs: &[&[u8]]) -> bool {
    if len == 0 {
        return true;
    }
    let b = p as usize;
    let b_end = b.saturating_add(len);
    inputs.iter().all(|input| {
        let a = input.as_ptr() as usize;
        input.is_empty() || a.saturating_add(input.len()) <= b || b_end <= a
    })
}

/// Copy `bytes` out: the output-size rule for getters.
fn copy_out<'a>(bytes: &[u8], out: impl Output<'a>) -> Result<usize, Error> {
    let dst = out.take(bytes.len())?;
    dst.copy_from_slice(bytes);
    Ok(bytes.len())
}

/// A key id or session id given as bytes: 1..=`max` bytes of UTF-8 (the core checks the exact
/// character set), else [`Error::InvalidArgument`].
fn id(bytes: &[u8], max: usize) -> Result<&str, Error> {
    if bytes.is_empty() || bytes.len() > max {
        return Err(Error::InvalidArgument);
    }
    core::str::from_utf8(bytes).map_err(|_| Error::InvalidArgument)
}

/// A fixed-size argument (a key, an IV): exactly `N` bytes, else [`Error::InvalidArgument`].
fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], Error> {
    bytes.try_into().map_err(|_| Error::InvalidArgument)
}

// Nothing panics while these locks are held; if something ever did, the protected values are
// still consistent (each is replaced or read in one step), so a poisoned lock is used anyway.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}
fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

/// Bytes of a type 2 or 129 envelope for a body of `body_len` bytes (0: invalid block or
/// overflow). `scv2_sealed_len`.
pub fn sealed_len(body_len: usize, padding_block: usize) -> usize {
    scv2::sealed_len(body_len, padding_block).unwrap_or(0)
}

/// The output capacity an open call needs. `scv2_max_open_len`.
pub fn max_open_len(envelope_len: usize) -> usize {
    scv2::max_open_len(envelope_len)
}

/// Bytes of a type 1 (0: invalid arguments). `scv2_type1_len`.
pub fn type1_len(key_id_len: usize, payload_len: usize, padding_block: usize) -> usize {
    scv2::key_exchange_len(key_id_len, payload_len, padding_block).unwrap_or(0)
}

/// Bytes of a type 1 of suite `suite` (0: invalid arguments or suite). `scv2_suite_type1_len`.
pub fn suite_type1_len(suite: u32, key_id_len: usize, payload_len: usize, block: usize) -> usize {
    suite_of(suite)
        .ok()
        .and_then(|s| s.key_exchange_len(key_id_len, payload_len, block))
        .unwrap_or(0)
}

/// Bytes of a type 130 of suite `suite` (0: invalid arguments or suite).
/// `scv2_suite_type130_len`.
pub fn suite_type130_len(suite: u32, sid_len: usize, app_len: usize, block: usize) -> usize {
    suite_of(suite)
        .ok()
        .and_then(|s| s.key_exchange_response_len(sid_len, app_len, block))
        .unwrap_or(0)
}

/// Bytes of a raw public key of suite `suite` (0: unknown suite). `scv2_suite_public_key_len`.
pub fn suite_public_key_len(suite: u32) -> usize {
    suite_of(suite).map_or(0, |s| s.public_key_len())
}

/// Bytes of a private key of suite `suite` (0: unknown suite). `scv2_suite_private_key_len`.
pub fn suite_private_key_len(suite: u32) -> usize {
    suite_of(suite).map_or(0, |s| s.private_key_len())
}

/// Bytes of a type 130 (0: invalid arguments). `scv2_type130_len`.
pub fn type130_len(session_id_len: usize, app_payload_len: usize, padding_block: usize) -> usize {
    scv2::key_exchange_response_len(session_id_len, app_payload_len, padding_block).unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_outputs() {
        let mut buf = [0u8; 4];
        assert_eq!(copy_out(b"abc", &mut buf[..]), Ok(3));
        assert_eq!(&buf[..3], b"abc");
        assert_eq!(copy_out(b"abcde", &mut buf[..]), Err(Error::BufferTooSmall));
        assert_eq!(id(b"", 5), Err(Error::InvalidArgument));
        assert_eq!(id(b"abcdef", 5), Err(Error::InvalidArgument));
        assert_eq!(id(&[0xff], 5), Err(Error::InvalidArgument));
        assert_eq!(id(b"k1", 5), Ok("k1"));
        assert_eq!(fixed::<2>(b"ab"), Ok(*b"ab"));
        assert_eq!(fixed::<2>(b"abc"), Err(Error::InvalidArgument));
    }
}
