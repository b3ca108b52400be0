//! The C ABI (`include/scv2.h`): thin `extern "C"` shells over the bridge. Each one turns its
//! raw arguments into handles and slices with the argument macros of `args` (one `// SAFETY:`
//! per macro), calls one bridge function, and turns the result into a status code and
//! out-parameters. Every entry point:
//! - goes through `ffi_boundary!`, which catches any panic so that none unwinds into C (a panic
//!   is reported as `SCV2_INTERNAL`, or NULL / 0);
//! - checks every pointer and length with the argument macros before use (lengths above the
//!   configured maximum are refused before the pointer is looked at; a NULL pointer is only
//!   accepted with a zero length and is then never turned into a slice);
//! - writes its outputs only on success (and `*out_len` on `SCV2_BUFFER_TOO_SMALL`).
//!
//! The header is generated from these sources by cbindgen (`scripts/gen-header.sh`); the doc
//! comments below are the C documentation. The status codes and the lengths that come from the
//! core are in `generated.rs`, written from the core by the same script.

#[macro_use]
pub(crate) mod args;
mod client;
mod generated;
mod server;

use core::ffi::c_char;

pub use client::*;
pub use generated::*;
pub use server::*;

use crate::bridge;

/// A status code: `SCV2_OK` (0) or one of the library's stable error codes.
///
/// The numbers are those of the Rust core's `scv2::Error::code()`. They are never renumbered; a
/// retired number stays reserved and is never reused. Codes 16..=254 are reserved for future
/// errors: treat an unknown non-zero code as a failure.
pub type scv2_status = u32;

/// Success.
pub const SCV2_OK: scv2_status = 0;

/// The version of this C ABI. Incremented on any incompatible change of the header.
pub const SCV2_ABI_VERSION: u32 = 1;

/// The status code of a core error.
pub(crate) fn status(e: scv2::Error) -> scv2_status {
    scv2_status::from(e.code())
}

// ---------------------------------------------------------------------------------------------
// Library-wide functions

/// The library version (the crate version, e.g. "0.1.0") as a static NUL-terminated string.
///
/// Never NULL; the string must not be freed. Thread safety: any thread, any time.
#[no_mangle]
pub extern "C" fn scv2_version() -> *const c_char {
    ffi_boundary!(core::ptr::null(), { bridge::version_c_name().as_ptr() })
}

/// The crypto backend linked into this library, as a static NUL-terminated string: "rustcrypto"
/// (the default, pure Rust) or "aws-lc" (built with the `aws-lc` cargo feature). Apps choose the
/// backend when they build the library; both produce identical envelopes.
///
/// Never NULL; the string must not be freed. Thread safety: any thread, any time.
#[no_mangle]
pub extern "C" fn scv2_backend() -> *const c_char {
    ffi_boundary!(core::ptr::null(), { bridge::backend_c_name().as_ptr() })
}

/// A static NUL-terminated name for a status code: "ok" for `SCV2_OK`, the core's stable snake_case
/// error name otherwise (for example "decryption_failed"), "unknown" for a number that is not a
/// status code.
///
/// Never NULL; the string must not be freed. Thread safety: any thread, any time.
#[no_mangle]
pub extern "C" fn scv2_status_str(code: scv2_status) -> *const c_char {
    ffi_boundary!(core::ptr::null(), { bridge::status_c_name(code).as_ptr() })
}

/// Bytes of a request (type 2) or response (type 129) envelope carrying `body_len` bytes with
/// padding block `padding_block` (1..=4096).
///
/// Returns 0 if `padding_block` is out of range or the size overflows. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn scv2_sealed_len(body_len: usize, padding_block: usize) -> usize {
    ffi_boundary!(0, { bridge::sealed_len(body_len, padding_block) })
}

/// The output capacity an open call (`scv2_server_open_request`, `scv2_client_open_response`)
/// needs for an envelope of `envelope_len` bytes. The body returned is shorter. 0 when the
/// envelope is too short to be valid. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn scv2_max_open_len(envelope_len: usize) -> usize {
    ffi_boundary!(0, { bridge::max_open_len(envelope_len) })
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
        bridge::type1_len(key_id_len, payload_len, padding_block)
    })
}

/// Exact bytes of the type-130 envelope `scv2_server_handshake_respond` writes for a session id
/// of `session_id_len` bytes (`scv2_generated_session_id_len()` when the library generates it),
/// an application payload of `app_payload_len` bytes and the server's padding block
/// `padding_block`.
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
        bridge::type130_len(session_id_len, app_payload_len, padding_block)
    })
}

/// Exact bytes of the type-1 envelope of suite `suite` (`SCV2_SUITE_*`) for a key id of
/// `key_id_len` bytes, a payload of `payload_len` bytes and padding block `padding_block`
/// (`scv2_client_handshake_start` writes this many for a key id pinned in that suite).
///
/// Returns 0 for an unknown suite, and as `scv2_type1_len`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn scv2_suite_type1_len(
    suite: u32,
    key_id_len: usize,
    payload_len: usize,
    padding_block: usize,
) -> usize {
    ffi_boundary!(0, {
        bridge::suite_type1_len(suite, key_id_len, payload_len, padding_block)
    })
}

/// Exact bytes of the type-130 envelope of suite `suite` (`SCV2_SUITE_*`; the suite of the key
/// the type 1 named) for a session id of `session_id_len` bytes, an application payload of
/// `app_payload_len` bytes and padding block `padding_block`.
///
/// Returns 0 for an unknown suite, and as `scv2_type130_len`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn scv2_suite_type130_len(
    suite: u32,
    session_id_len: usize,
    app_payload_len: usize,
    padding_block: usize,
) -> usize {
    ffi_boundary!(0, {
        bridge::suite_type130_len(suite, session_id_len, app_payload_len, padding_block)
    })
}

/// Bytes of a raw public key of suite `suite` (32, or 1216 for `SCV2_SUITE_X25519MLKEM768`); 0
/// for an unknown suite. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn scv2_suite_public_key_len(suite: u32) -> usize {
    ffi_boundary!(0, { bridge::suite_public_key_len(suite) })
}

/// Bytes of a private key of suite `suite` (32, or 96 for `SCV2_SUITE_X25519MLKEM768`); 0 for
/// an unknown suite. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn scv2_suite_private_key_len(suite: u32) -> usize {
    ffi_boundary!(0, { bridge::suite_private_key_len(suite) })
}

/// The length of the session id `scv2_server_handshake_respond` generates when the caller gives
/// none (128 random bits in unpadded base64url). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn scv2_generated_session_id_len() -> usize {
    ffi_boundary!(0, { scv2::GENERATED_SESSION_ID_LEN })
}
