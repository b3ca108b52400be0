//! # scv2-web — the SCv2 core in the browser
//!
//! `wasm-bindgen` wrappers over the `scv2` crate for `wasm32-unknown-unknown`: the client role
//! (`ClientConfig`, whose pins carry their suite; `ClientHandshake`, `ClientSession`, single-use
//! `PendingRequest` tokens), the suites' names and sizes, and the web form `{"v":2,"p":"…"}`.
//! Both suites of the core: X25519 and the hybrid X25519MLKEM768 (SPEC.md section 15). Every cryptographic operation is the core's; this crate only
//! converts arguments (numbers, strings, `Uint8Array`s) and errors. The npm package
//! (`bindings/web/`, built by `scripts/build-web.sh`) adds the high-level `SecureChannel` in
//! TypeScript on top of these classes.
//!
//! What this crate owns:
//! - `client`: the client classes and the web form;
//! - `server` (cargo feature `server`, test and benchmark builds only): the server role, so that
//!   a test page can run both ends of a handshake;
//! - `alloc`: the global allocator on wasm, which zeroizes every block it frees, so that the
//!   copies wasm-bindgen makes of arguments and results (bodies, plaintexts) do not linger in
//!   the linear memory;
//! - here: the error conversion and the time argument.
//!
//! Secrets (ephemeral keys, session keys) live only in the wasm linear memory, inside the core's
//! zeroizing types; JavaScript holds handles. `free()` drops a handle's Rust value at once (its
//! secrets are zeroized); wasm-bindgen's `FinalizationRegistry` frees handles the program forgot.
//!
//! Time comes from the caller (`Date.now()`, milliseconds since the Unix epoch).

mod alloc;
mod client;
#[cfg(feature = "server")]
mod server;

use wasm_bindgen::prelude::*;

pub use client::{
    is_web_form, key_exchange_len, key_exchange_response_len, suite, suite_public_key_len, suites,
    web_form_decode, web_form_encode, ClientConfig, ClientHandshake, ClientSession, PendingRequest,
    TrustDecision,
};
#[cfg(feature = "server")]
pub use server::{generate_session_id, AcceptedHandshake, OpenedRequest, Server, ServerSession};

#[wasm_bindgen]
extern "C" {
    /// The global `Error` constructor (as js-sys binds it), to throw real `Error`s with a stable
    /// `code` property.
    #[wasm_bindgen(js_name = Error)]
    type JsErr;
    #[wasm_bindgen(constructor, js_class = "Error")]
    fn new(message: &str) -> JsErr;
    #[wasm_bindgen(method, setter = name, js_class = "Error")]
    fn set_name(this: &JsErr, name: &str);
    #[wasm_bindgen(method, setter = code, js_class = "Error")]
    fn set_code(this: &JsErr, code: &str);
    #[wasm_bindgen(method, setter = errno, js_class = "Error")]
    fn set_errno(this: &JsErr, errno: u8);
}

/// The JavaScript form of a core error: an `Error` named `Scv2Error` with `code` (the stable name
/// of SPEC.md section 10, e.g. `"decryption_failed"`) and `errno` (its number). The message
/// names nothing secret: it is the core's fixed text.
pub(crate) fn js_error(e: scv2::Error) -> JsValue {
    let err = JsErr::new(&format!("scv2: {e} ({})", e.name()));
    err.set_name("Scv2Error");
    err.set_code(e.name());
    err.set_errno(e.code());
    err.into()
}

/// How much of the shadow stack [`scrubbed`] overwrites after a session operation (seal, open),
/// in 8-byte words. Measured (the memory-probe tests in `test/`): a session export goes well
/// under 1 KiB below its frame in a release build and about 31 KiB in a debug build, the same in
/// both suites; the scrub covers 16 KiB (release) and 1.5 times the debug depth (48 KiB). The
/// tests check, for every export that runs cryptography, that the deepest bytes written by a
/// call are the scrub's zeros.
#[cfg(not(debug_assertions))]
const SCRUB_WORDS: usize = 2048; // 16 KiB
#[cfg(debug_assertions)]
const SCRUB_WORDS: usize = 6144; // 48 KiB

/// How much [`scrubbed_handshake`] overwrites after a key or handshake operation of the X25519
/// suite (pin, trust, start, finish; the test-only server's key generation and respond).
/// Measured (from the top of the stack): the deepest (`start`) reaches 124 KiB in a debug build
/// (1.5 times: 192 KiB); in a release build 16 KiB below the export's frame cover it, as the
/// tests check.
#[cfg(not(debug_assertions))]
const X25519_HANDSHAKE_SCRUB_WORDS: usize = 2048; // 16 KiB
#[cfg(debug_assertions)]
const X25519_HANDSHAKE_SCRUB_WORDS: usize = 24576; // 192 KiB

/// The same for the hybrid suite, whose ML-KEM-768 keeps its matrix and polynomials on the
/// stack: measured, its deepest export (`start`) reaches 52 KiB below the top of the stack in a
/// release build and 175 KiB in a debug build. The scrub covers about twice the release depth (112 KiB) and 1.5
/// times the debug one (272 KiB). Used too where the suite is not known before the call (the
/// test-only server's `accept`).
#[cfg(not(debug_assertions))]
const HYBRID_HANDSHAKE_SCRUB_WORDS: usize = 14336; // 112 KiB
#[cfg(debug_assertions)]
const HYBRID_HANDSHAKE_SCRUB_WORDS: usize = 34816; // 272 KiB

/// Overwrite `N` words of the shadow stack below the caller's frame (in wasm, a region of the
/// linear memory that JavaScript can read), so that the plaintexts and key schedules the core's
/// functions left in their returned frames do not outlive the call.
///
/// The zeros are written by the array's initialization (a bulk fill, instead of `zeroize`'s
/// word-by-word volatile stores, which cost about 0.1 ms per 112 KiB scrub in Chromium, see
/// BENCHMARKS.md); `black_box` hands the array to an opaque use, so the compiler must
/// materialize every byte of it. The memory-probe tests check, in the debug and the release
/// module, that the zeros are there after each export.
#[inline(never)]
fn scrub_stack<const N: usize>() {
    let area = [0u64; N];
    core::hint::black_box(&area);
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// Run `f` (a session operation of the core: seal or open), then overwrite the stack it used.
pub(crate) fn scrubbed<T>(f: impl FnOnce() -> T) -> T {
    let r = f();
    scrub_stack::<SCRUB_WORDS>();
    r
}

/// Run `f` (a key or handshake operation of the core in `suite`), then overwrite the stack it
/// used: as deep as that suite's operations go.
pub(crate) fn scrubbed_handshake<T>(suite: scv2::Suite, f: impl FnOnce() -> T) -> T {
    let r = f();
    match suite {
        scv2::Suite::X25519 => scrub_stack::<X25519_HANDSHAKE_SCRUB_WORDS>(),
        _ => scrub_stack::<HYBRID_HANDSHAKE_SCRUB_WORDS>(),
    }
    r
}

/// Result type of every fallible export.
pub(crate) type JsResult<T> = Result<T, JsValue>;

/// The largest integer a JavaScript number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A time or count argument from JavaScript (`Date.now()`): a non-negative integer number up to
/// 2^53 − 1, else `invalid_argument`.
pub(crate) fn js_u64(v: f64) -> scv2::Result<u64> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= MAX_SAFE_INTEGER {
        // Exact: an integer in [0, 2^53) converts without loss.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(v as u64)
    } else {
        Err(scv2::Error::InvalidArgument)
    }
}

/// A `u64` for JavaScript: exact up to 2^53 − 1; larger values (an expiry far in the future)
/// round to the nearest representable number.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn to_js_number(v: u64) -> f64 {
    v as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_arguments() {
        assert_eq!(js_u64(0.0), Ok(0));
        assert_eq!(js_u64(1_764_400_000_000.0), Ok(1_764_400_000_000));
        assert_eq!(js_u64(MAX_SAFE_INTEGER), Ok(9_007_199_254_740_991));
        for bad in [
            -1.0,
            0.5,
            f64::NAN,
            f64::INFINITY,
            MAX_SAFE_INTEGER + 2.0,
            -0.000_1,
        ] {
            assert_eq!(js_u64(bad), Err(scv2::Error::InvalidArgument), "{bad}");
        }
        assert_eq!(to_js_number(42), 42.0);
    }
}
