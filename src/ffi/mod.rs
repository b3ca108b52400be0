//! The C ABI (`include/scv2.h`): opaque handles, caller-owned buffers, numeric status codes.
//!
//! This is the only module of the crate that may use `unsafe`. Every entry point:
//! - goes through [`ffi_boundary!`](crate::ffi_boundary), which catches any panic so that none
//!   unwinds into C (a panic is reported as [`SCV2_INTERNAL`], or NULL / 0);
//! - validates every pointer and length with the helpers of this module before use (lengths above
//!   the configured maximum are refused before the pointer is looked at; a NULL pointer is only
//!   accepted with a zero length and is then never turned into a slice);
//! - writes its outputs only on success.
//!
//! The header is generated from these sources by cbindgen (`scripts/gen-header.sh`); the doc
//! comments below are the C documentation.

#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
// The C names (`scv2_status`, `scv2_client_session`, ...) are the ABI.
#![allow(non_camel_case_types)]

mod client;
#[cfg(feature = "jni")]
mod jni;
mod server;
mod table;

use core::ffi::c_char;

pub use client::*;
pub use server::*;

use crate::error::Error;
use crate::padding;
use crate::primitives::{NONCE_LEN, TAG_LEN};
use crate::wire;

/// A status code: `SCV2_OK` (0) or one of the library's stable error codes.
///
/// The numbers are those of the Rust core's `scv2::Error::code()`. They are never renumbered; a
/// retired number stays reserved and is never reused. Codes 16..=254 are reserved for future
/// errors: treat an unknown non-zero code as a failure.
pub type scv2_status = u32;

/// Success.
pub const SCV2_OK: scv2_status = 0;
/// The bytes are not a well-formed envelope of the expected type.
pub const SCV2_MALFORMED_ENVELOPE: scv2_status = 1;
/// The envelope's version byte is not 0x02.
pub const SCV2_UNSUPPORTED_VERSION: scv2_status = 2;
/// The envelope's type byte is not one SCv2 defines.
pub const SCV2_UNKNOWN_TYPE: scv2_status = 3;
/// A type-1 envelope names a key id the server does not hold, or holds only as expired.
pub const SCV2_UNKNOWN_KEY_ID: scv2_status = 4;
/// The server key is not pinned by the client configuration.
pub const SCV2_UNTRUSTED_SERVER_KEY: scv2_status = 5;
/// A public key is not usable (wrong encoding, or an all-zero X25519 result).
pub const SCV2_INVALID_PUBLIC_KEY: scv2_status = 6;
/// Authentication failed: bad tag, bad padding, wrong ctx, or a nonce out of range.
pub const SCV2_DECRYPTION_FAILED: scv2_status = 7;
/// The request's sequence number was already accepted, or is older than the replay window.
pub const SCV2_REPLAYED: scv2_status = 8;
/// The session's expiry has passed.
pub const SCV2_SESSION_EXPIRED: scv2_status = 9;
/// The session has used all its sequence numbers; open a new one.
pub const SCV2_SESSION_EXHAUSTED: scv2_status = 10;
/// A response carries the sequence number of another request.
pub const SCV2_RESPONSE_MISMATCH: scv2_status = 11;
/// The output buffer is too small: `*out_len` holds the size needed; nothing else changed.
pub const SCV2_BUFFER_TOO_SMALL: scv2_status = 12;
/// An input is longer than the configured maximum (decided before the pointer is read).
pub const SCV2_PAYLOAD_TOO_LARGE: scv2_status = 13;
/// An argument is out of its documented range (including a NULL pointer where one is required).
pub const SCV2_INVALID_ARGUMENT: scv2_status = 14;
/// The handle cannot do this now: finished handshake, unknown or already answered sequence
/// number, full table of outstanding requests.
pub const SCV2_INVALID_STATE: scv2_status = 15;
/// A failure that should not happen (RNG failure, caught panic). Report it.
pub const SCV2_INTERNAL: scv2_status = 255;

/// The version of this C ABI. Incremented on any incompatible change of the header.
pub const SCV2_ABI_VERSION: u32 = 1;

/// The most requests a session handle tracks at once: requests sealed by a client session and not
/// yet answered (`scv2_client_open_response` succeeded), or requests opened by a server session
/// and not yet answered (`scv2_server_seal_response` succeeded). The table is allocated once when
/// the session handle is created and never grows; when it is full, sealing (client) or opening
/// (server) returns `SCV2_INVALID_STATE` and changes nothing.
pub const SCV2_MAX_OUTSTANDING: usize = 1024;

/// Where the body starts inside the buffer of the in-place calls (after the 4-byte header and the
/// 12-byte IV).
pub const SCV2_BODY_OFFSET: usize = 16;

/// Length of an X25519 public or private key.
pub const SCV2_KEY_LEN: usize = 32;

/// Length of `iv1` (test-vector entry points).
pub const SCV2_IV1_LEN: usize = 12;

/// The longest key id (bytes).
pub const SCV2_MAX_KEY_ID_LEN: usize = 255;

/// The longest session id (bytes).
pub const SCV2_MAX_SESSION_ID_LEN: usize = 64;

// The constants above are the ABI; check them against the core at compile time.
const _: () = {
    assert!(SCV2_MALFORMED_ENVELOPE == Error::MalformedEnvelope.code() as u32);
    assert!(SCV2_UNSUPPORTED_VERSION == Error::UnsupportedVersion.code() as u32);
    assert!(SCV2_UNKNOWN_TYPE == Error::UnknownType.code() as u32);
    assert!(SCV2_UNKNOWN_KEY_ID == Error::UnknownKeyId.code() as u32);
    assert!(SCV2_UNTRUSTED_SERVER_KEY == Error::UntrustedServerKey.code() as u32);
    assert!(SCV2_INVALID_PUBLIC_KEY == Error::InvalidPublicKey.code() as u32);
    assert!(SCV2_DECRYPTION_FAILED == Error::DecryptionFailed.code() as u32);
    assert!(SCV2_REPLAYED == Error::Replayed.code() as u32);
    assert!(SCV2_SESSION_EXPIRED == Error::SessionExpired.code() as u32);
    assert!(SCV2_SESSION_EXHAUSTED == Error::SessionExhausted.code() as u32);
    assert!(SCV2_RESPONSE_MISMATCH == Error::ResponseMismatch.code() as u32);
    assert!(SCV2_BUFFER_TOO_SMALL == Error::BufferTooSmall.code() as u32);
    assert!(SCV2_PAYLOAD_TOO_LARGE == Error::PayloadTooLarge.code() as u32);
    assert!(SCV2_INVALID_ARGUMENT == Error::InvalidArgument.code() as u32);
    assert!(SCV2_INVALID_STATE == Error::InvalidState.code() as u32);
    assert!(SCV2_INTERNAL == Error::Internal.code() as u32);
    assert!(SCV2_BODY_OFFSET == crate::session::BODY_OFFSET_IN_PLACE);
    assert!(SCV2_KEY_LEN == crate::primitives::X25519_LEN);
    assert!(SCV2_IV1_LEN == NONCE_LEN);
    assert!(SCV2_MAX_KEY_ID_LEN == crate::wire::MAX_KEY_ID_LEN);
    assert!(SCV2_MAX_SESSION_ID_LEN == crate::wire::MAX_SESSION_ID_LEN);
};

/// The one boundary every `extern "C"` function of this module goes through.
///
/// `ffi_boundary!(on_panic, { body })` runs `body` under `catch_unwind`; if it panics, the panic
/// is swallowed (its payload is leaked rather than dropped, since dropping it could panic again)
/// and `on_panic` is returned: `SCV2_INTERNAL` for status functions, NULL or 0 for the others.
#[doc(hidden)]
#[macro_export]
macro_rules! ffi_boundary {
    ($on_panic:expr, $body:block) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(value) => value,
            Err(payload) => {
                ::core::mem::forget(payload);
                $on_panic
            }
        }
    };
}

/// The status for a core error.
pub(crate) fn status(e: Error) -> scv2_status {
    scv2_status::from(e.code())
}

/// Result type of the helpers: the error is a status code.
pub(crate) type FfiResult<T> = Result<T, scv2_status>;

/// Collapse a helper result into a status.
pub(crate) fn finish(r: FfiResult<()>) -> scv2_status {
    match r {
        Ok(()) => SCV2_OK,
        Err(s) => s,
    }
}

/// The largest length any slice may have (Rust's `isize::MAX` rule).
const MAX_SLICE: usize = isize::MAX as usize;

/// Borrow a caller input `(ptr, len)`.
///
/// `len > max` (or above `isize::MAX`) is `SCV2_PAYLOAD_TOO_LARGE`, decided before the pointer is
/// looked at; `len == 0` gives an empty slice whatever `ptr` is (NULL included); a NULL `ptr`
/// with `len > 0` is `SCV2_INVALID_ARGUMENT`.
///
/// # Safety
/// If `ptr` is not NULL and `0 < len <= max`, `ptr` must point to `len` readable bytes that are
/// not written during the call.
pub(crate) unsafe fn input<'a>(ptr: *const u8, len: usize, max: usize) -> FfiResult<&'a [u8]> {
    if len > max || len > MAX_SLICE {
        return Err(SCV2_PAYLOAD_TOO_LARGE);
    }
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(SCV2_INVALID_ARGUMENT);
    }
    // SAFETY: `ptr` is not NULL, `len` is at most isize::MAX, and the caller guarantees (header
    // contract) that `ptr` points to `len` readable bytes not mutated during the call.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// Borrow the first `len` bytes of a caller output buffer `(ptr, cap)`; the caller of this
/// helper has already checked `len <= cap` and `len <= isize::MAX`.
///
/// `len == 0` gives an empty slice (NULL allowed); a NULL `ptr` otherwise is
/// `SCV2_INVALID_ARGUMENT`.
///
/// # Safety
/// If `ptr` is not NULL and `len > 0`, `ptr` must point to at least `len` writable bytes that
/// nothing else accesses during the call.
pub(crate) unsafe fn output<'a>(ptr: *mut u8, len: usize) -> FfiResult<&'a mut [u8]> {
    if len > MAX_SLICE {
        return Err(SCV2_PAYLOAD_TOO_LARGE);
    }
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(SCV2_INVALID_ARGUMENT);
    }
    // SAFETY: not NULL, `len <= isize::MAX`, and the caller guarantees `len` writable bytes with
    // no other access during the call.
    Ok(unsafe { core::slice::from_raw_parts_mut(ptr, len) })
}

/// Refuse an output range `[out, out + out_len)` that overlaps an input slice: Rust forbids a
/// mutable and a shared view of the same bytes, so overlapping copying calls are
/// `SCV2_INVALID_ARGUMENT` (use the in-place variants instead).
pub(crate) fn disjoint(input: &[u8], out: *const u8, out_len: usize) -> FfiResult<()> {
    if input.is_empty() || out_len == 0 {
        return Ok(());
    }
    let a = input.as_ptr() as usize;
    let a_end = a.saturating_add(input.len());
    let b = out as usize;
    let b_end = b.saturating_add(out_len);
    if a < b_end && b < a_end {
        return Err(SCV2_INVALID_ARGUMENT);
    }
    Ok(())
}

/// Check that a required out-pointer is not NULL.
pub(crate) fn required<T>(p: *const T) -> FfiResult<()> {
    if p.is_null() {
        Err(SCV2_INVALID_ARGUMENT)
    } else {
        Ok(())
    }
}

/// Store `value` through an out-pointer already checked with [`required`].
///
/// # Safety
/// `p` must be non-NULL and valid for a write of a `T` (alignment not required).
pub(crate) unsafe fn put<T>(p: *mut T, value: T) {
    // SAFETY: the caller checked `p` is not NULL (`required`) and the header contract says every
    // out-pointer is valid for writes; `write_unaligned` needs no alignment.
    unsafe { p.write_unaligned(value) }
}

/// Borrow a handle the caller passed; NULL is `SCV2_INVALID_ARGUMENT`.
///
/// # Safety
/// If not NULL, `p` must be a live handle of type `T` returned by this library and not yet freed.
pub(crate) unsafe fn handle<'a, T>(p: *const T) -> FfiResult<&'a T> {
    // SAFETY: the caller guarantees that a non-NULL `p` is a live handle (a `Box<T>` leaked by this
    // library and not yet freed); handles are only ever accessed through shared references.
    unsafe { p.as_ref() }.ok_or(SCV2_INVALID_ARGUMENT)
}

/// Move a value into a new heap handle and write it to `out`.
///
/// # Safety
/// `out` must be non-NULL (checked by the caller with [`required`]) and valid for writes.
pub(crate) unsafe fn publish<T>(out: *mut *mut T, value: T) {
    let p = Box::into_raw(Box::new(value));
    // SAFETY: `out` was checked non-NULL by the caller and is valid for writes per the contract.
    unsafe { put(out, p) }
}

/// Take back and drop a handle (NULL: nothing).
///
/// # Safety
/// If not NULL, `p` must come from [`publish`] for the same `T`, not yet freed, and not in use by
/// any other thread.
pub(crate) unsafe fn take_handle<T>(p: *mut T) -> Option<Box<T>> {
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` came from `Box::into_raw` in `publish` for this `T` and is freed exactly once
    // (contract), with no concurrent use.
    Some(unsafe { Box::from_raw(p) })
}

/// Write `bytes` into a caller buffer with the usual `out`/`out_cap`/`*out_len` convention.
///
/// # Safety
/// As for [`output`] with `(out, out_cap)`; `out_len` must be valid for writes (checked non-NULL
/// here).
pub(crate) unsafe fn copy_out(
    bytes: &[u8],
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> FfiResult<()> {
    required(out_len)?;
    if out_cap < bytes.len() {
        // SAFETY: `out_len` is not NULL and valid for writes (contract).
        unsafe { put(out_len, bytes.len()) };
        return Err(SCV2_BUFFER_TOO_SMALL);
    }
    disjoint(bytes, out, bytes.len())?;
    // SAFETY: `out_cap >= bytes.len()`, so `out` has `bytes.len()` writable bytes (contract).
    let dst = unsafe { output(out, bytes.len()) }?;
    dst.copy_from_slice(bytes);
    // SAFETY: as above.
    unsafe { put(out_len, bytes.len()) };
    Ok(())
}

/// A key id or session id passed as bytes: 1..=`max` bytes of UTF-8 (the core checks the exact
/// character set).
///
/// # Safety
/// As for [`input`].
pub(crate) unsafe fn id_str<'a>(ptr: *const u8, len: usize, max: usize) -> FfiResult<&'a str> {
    if len == 0 || len > max {
        return Err(SCV2_INVALID_ARGUMENT);
    }
    // SAFETY: forwarded caller contract.
    let bytes = unsafe { input(ptr, len, max) }?;
    core::str::from_utf8(bytes).map_err(|_| SCV2_INVALID_ARGUMENT)
}

/// A fixed-size input (a key, an IV): the length must be exactly `N`.
///
/// # Safety
/// As for [`input`].
pub(crate) unsafe fn fixed<const N: usize>(ptr: *const u8, len: usize) -> FfiResult<[u8; N]> {
    if len != N {
        return Err(SCV2_INVALID_ARGUMENT);
    }
    // SAFETY: forwarded caller contract.
    let bytes = unsafe { input(ptr, len, N) }?;
    bytes.try_into().map_err(|_| SCV2_INVALID_ARGUMENT)
}

/// Envelope bytes of a type 1: `header1 || iv1 || padded payload || tag`.
fn type1_len(key_id_len: usize, payload_len: usize, padding_block: usize) -> Option<usize> {
    if key_id_len == 0 || key_id_len > SCV2_MAX_KEY_ID_LEN {
        return None;
    }
    padding::check_block(padding_block).ok()?;
    padding::padded_len(payload_len, padding_block)?
        .checked_add(wire::key_exchange_header_len(key_id_len) + NONCE_LEN + TAG_LEN)
        .filter(|&n| n <= MAX_SLICE)
}

/// Envelope bytes of a type 130: `header2 || iv || padded(u8 len sid || sid || u64 exp || app)
/// || tag`.
fn type130_len(session_id_len: usize, app_len: usize, padding_block: usize) -> Option<usize> {
    if session_id_len == 0 || session_id_len > SCV2_MAX_SESSION_ID_LEN {
        return None;
    }
    padding::check_block(padding_block).ok()?;
    let plain = app_len.checked_add(1 + session_id_len + 8)?;
    padding::padded_len(plain, padding_block)?
        .checked_add(wire::KXR_HEADER_LEN + NONCE_LEN + TAG_LEN)
        .filter(|&n| n <= MAX_SLICE)
}

/// Envelope bytes of a type 2 or 129 (None on a bad block or overflow).
fn data_len(body_len: usize, padding_block: usize) -> Option<usize> {
    crate::session::sealed_len(body_len, padding_block).filter(|&n| n <= MAX_SLICE)
}

/// The length of the default session id that `scv2_server_handshake_respond` generates when the
/// caller gives none (128 random bits in unpadded base64url).
pub(crate) const GENERATED_SESSION_ID_LEN: usize = 22;

// ---------------------------------------------------------------------------------------------
// Library-wide functions

/// The library version (the crate version, e.g. "0.1.0") as a static NUL-terminated string.
///
/// Never NULL; the string must not be freed. Thread safety: any thread, any time.
#[no_mangle]
pub extern "C" fn scv2_version() -> *const c_char {
    ffi_boundary!(core::ptr::null(), {
        concat!(env!("CARGO_PKG_VERSION"), "\0")
            .as_ptr()
            .cast::<c_char>()
    })
}

/// The crypto backend linked into this library, as a static NUL-terminated string: "rustcrypto"
/// (the default, pure Rust) or "aws-lc" (built with the `aws-lc` cargo feature). Apps choose the
/// backend when they build the library; both produce identical envelopes.
///
/// Never NULL; the string must not be freed. Thread safety: any thread, any time.
#[no_mangle]
pub extern "C" fn scv2_backend() -> *const c_char {
    ffi_boundary!(core::ptr::null(), {
        if cfg!(feature = "aws-lc") {
            c"aws-lc".as_ptr()
        } else {
            c"rustcrypto".as_ptr()
        }
    })
}

/// A static NUL-terminated name for a status code: "ok" for `SCV2_OK`, the core's stable snake_case
/// error name otherwise (for example "decryption_failed"), "unknown" for a number that is not a
/// status code.
///
/// Never NULL; the string must not be freed. Thread safety: any thread, any time.
#[no_mangle]
pub extern "C" fn scv2_status_str(code: scv2_status) -> *const c_char {
    ffi_boundary!(core::ptr::null(), {
        let s: &'static core::ffi::CStr = match code {
            SCV2_OK => c"ok",
            SCV2_MALFORMED_ENVELOPE => c"malformed_envelope",
            SCV2_UNSUPPORTED_VERSION => c"unsupported_version",
            SCV2_UNKNOWN_TYPE => c"unknown_type",
            SCV2_UNKNOWN_KEY_ID => c"unknown_key_id",
            SCV2_UNTRUSTED_SERVER_KEY => c"untrusted_server_key",
            SCV2_INVALID_PUBLIC_KEY => c"invalid_public_key",
            SCV2_DECRYPTION_FAILED => c"decryption_failed",
            SCV2_REPLAYED => c"replayed",
            SCV2_SESSION_EXPIRED => c"session_expired",
            SCV2_SESSION_EXHAUSTED => c"session_exhausted",
            SCV2_RESPONSE_MISMATCH => c"response_mismatch",
            SCV2_BUFFER_TOO_SMALL => c"buffer_too_small",
            SCV2_PAYLOAD_TOO_LARGE => c"payload_too_large",
            SCV2_INVALID_ARGUMENT => c"invalid_argument",
            SCV2_INVALID_STATE => c"invalid_state",
            SCV2_INTERNAL => c"internal",
            _ => c"unknown",
        };
        s.as_ptr()
    })
}

/// Bytes of a request (type 2) or response (type 129) envelope carrying `body_len` bytes with
/// padding block `padding_block` (1..=4096).
///
/// Returns 0 if `padding_block` is out of range or the size overflows. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn scv2_sealed_len(body_len: usize, padding_block: usize) -> usize {
    ffi_boundary!(0, { data_len(body_len, padding_block).unwrap_or(0) })
}

/// The output capacity an open call (`scv2_server_open_request`, `scv2_client_open_response`)
/// needs for an envelope of `envelope_len` bytes. The body returned is shorter. 0 when the
/// envelope is too short to be valid. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn scv2_max_open_len(envelope_len: usize) -> usize {
    ffi_boundary!(0, { crate::session::max_open_len(envelope_len) })
}

/// Exact bytes of the type-1 envelope `scv2_client_handshake_start` writes for a key id of
/// `key_id_len` bytes, a payload of `payload_len` bytes and padding block `padding_block`.
///
/// Returns 0 if `key_id_len` is not in 1..=255, `padding_block` not in 1..=4096, or on overflow.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn scv2_type1_len(
    key_id_len: usize,
    payload_len: usize,
    padding_block: usize,
) -> usize {
    ffi_boundary!(0, {
        type1_len(key_id_len, payload_len, padding_block).unwrap_or(0)
    })
}

/// Exact bytes of the type-130 envelope `scv2_server_handshake_respond` writes for a session id
/// of `session_id_len` bytes (22 when the library generates it), an application payload of
/// `app_payload_len` bytes and the server's padding block `padding_block`.
///
/// Returns 0 if `session_id_len` is not in 1..=64, `padding_block` not in 1..=4096, or on
/// overflow. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn scv2_type130_len(
    session_id_len: usize,
    app_payload_len: usize,
    padding_block: usize,
) -> usize {
    ffi_boundary!(0, {
        type130_len(session_id_len, app_payload_len, padding_block).unwrap_or(0)
    })
}
