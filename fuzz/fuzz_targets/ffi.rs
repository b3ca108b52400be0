//! `ffi`: the `server_open` and `client_open` entry points again, through the C ABI
//! (`scv2_ffi`, `include/scv2.h`), with arbitrary pointers, lengths and capacities: NULL
//! pointers, lengths above the caps (up to `usize::MAX`, with a pointer to fewer bytes: the
//! library must refuse them before looking at the pointer, which ASan checks), output buffers
//! too small by any amount or larger than needed, size queries (`out = NULL, out_cap = 0`), an
//! output overlapping the input, sequence numbers that are not outstanding.
//!
//! Input: `flags | ctx selector | seq selector | capacity | envelope` (see `scv2_fuzz::Frame`).
//! Flags:
//! - bit 7: client side (`client_open`'s entry points) instead of the server side;
//! - bits 0–1, server: 0 `scv2_server_accept`, 1 `scv2_server_open_request`,
//!   2 `scv2_server_open_request_in_place`, 3 `scv2_server_open_request` with `out` pointing at
//!   the envelope; client: 0 `scv2_client_handshake_finish` (then a second time),
//!   1 `scv2_client_open_response`, 2 `scv2_client_open_response_in_place`,
//!   3 `scv2_client_open_response` for a sequence number that is not outstanding;
//! - bit 2: at the session's expiry (`accept`: `now = u64::MAX`);
//! - bit 3: size query (`out = NULL`, `out_cap = 0`) first;
//! - bit 4 (server): the session has already opened the case's six requests; with entry point 0,
//!   and on the client side with entry point 0: the hybrid suite (SPEC.md section 15), i.e.
//!   `scv2_server_accept` at a key set holding the hybrid vector case
//!   `pq-password-init-block-64`'s key (loaded with `scv2_server_add_suite_key`, 96 bytes), and
//!   `scv2_client_handshake_finish` of a handshake started with
//!   `scv2_client_handshake_start_hybrid_for_test_vectors` from a hybrid pin
//!   (`scv2_client_config_pin_public_key_base64`), against the model of SPEC 15.6 (`spec15`);
//! - bit 5: the envelope pointer is NULL (with the real length);
//! - bit 6: the envelope length lies: above the cap (`max + 1`, `isize::MAX + 1` or
//!   `usize::MAX`, by the capacity byte) with a pointer to the real, shorter bytes.
//!
//! The capacity byte: below 0x80, the output buffer is that many bytes short of
//! `scv2_max_open_len`; from 0x80, `capacity − 0x80` bytes longer. Buffers are allocated at
//! exactly the capacity passed, so an overrun is an ASan report.
//!
//! Properties: no panic or memory error; every status is documented for the function and is
//! exactly the one decided by the header contract (argument checks, caps before pointers,
//! `SCV2_BUFFER_TOO_SMALL` with the size needed and no state change) followed by SPEC.md section
//! 10 (the same model as `server_open`/`client_open`); a success only for authentic bytes, with
//! the right body, sequence number and follow-ups (a response sealed once, a sequence number
//! answered once, a handshake finished once).
#![no_main]

use std::ptr::{null, null_mut};
use std::sync::{LazyLock, Mutex};

use libfuzzer_sys::fuzz_target;
use scv2::{max_open_len, ClientSession, Error, Limits};
use scv2_ffi::*;
use scv2_fuzz::{
    expected_accept, expected_finish, expected_open_request, expected_open_response, Case, Frame,
    Window, PRIMARY_CASE,
};
use scv2_test_support::spec15::{expected_accept_hybrid, expected_finish_hybrid, HybridCase};

fn st(e: Error) -> scv2_status {
    scv2_status::from(e.code())
}

#[track_caller]
fn ok(s: scv2_status) {
    assert_eq!(s, SCV2_OK, "fixture call failed: {s}");
}

/// The documented statuses of the functions fuzzed here (header: "Returns ...").
const ACCEPT: &[scv2_status] = &[
    SCV2_OK,
    SCV2_INVALID_ARGUMENT,
    SCV2_PAYLOAD_TOO_LARGE,
    SCV2_MALFORMED_ENVELOPE,
    SCV2_UNSUPPORTED_VERSION,
    SCV2_UNKNOWN_TYPE,
    SCV2_UNKNOWN_KEY_ID,
    SCV2_INVALID_PUBLIC_KEY,
    SCV2_DECRYPTION_FAILED,
];
const OPEN_REQUEST: &[scv2_status] = &[
    SCV2_OK,
    SCV2_INVALID_ARGUMENT,
    SCV2_PAYLOAD_TOO_LARGE,
    SCV2_BUFFER_TOO_SMALL,
    SCV2_INVALID_STATE,
    SCV2_MALFORMED_ENVELOPE,
    SCV2_UNSUPPORTED_VERSION,
    SCV2_UNKNOWN_TYPE,
    SCV2_SESSION_EXPIRED,
    SCV2_DECRYPTION_FAILED,
    SCV2_REPLAYED,
];
const FINISH: &[scv2_status] = &[
    SCV2_OK,
    SCV2_INVALID_ARGUMENT,
    SCV2_PAYLOAD_TOO_LARGE,
    SCV2_INVALID_STATE,
    SCV2_MALFORMED_ENVELOPE,
    SCV2_UNSUPPORTED_VERSION,
    SCV2_UNKNOWN_TYPE,
    SCV2_INVALID_PUBLIC_KEY,
    SCV2_DECRYPTION_FAILED,
    SCV2_SESSION_EXPIRED,
];
const OPEN_RESPONSE: &[scv2_status] = &[
    SCV2_OK,
    SCV2_INVALID_ARGUMENT,
    SCV2_PAYLOAD_TOO_LARGE,
    SCV2_BUFFER_TOO_SMALL,
    SCV2_INVALID_STATE,
    SCV2_MALFORMED_ENVELOPE,
    SCV2_UNSUPPORTED_VERSION,
    SCV2_UNKNOWN_TYPE,
    SCV2_DECRYPTION_FAILED,
    SCV2_RESPONSE_MISMATCH,
];

#[track_caller]
fn documented(s: scv2_status, allowed: &[scv2_status], what: &str) {
    assert!(allowed.contains(&s), "{what}: undocumented status {s}");
    // SAFETY: scv2_status_str returns a static NUL-terminated string.
    let name = unsafe { std::ffi::CStr::from_ptr(scv2_status_str(s)) };
    assert_ne!(
        name.to_bytes(),
        b"unknown",
        "{what}: status {s} has no name"
    );
}

// ---------------------------------------------------------------------------------------------
// Fixtures, built through the C ABI from the vector case.

/// Handles owned by the fixture; only used under the fixture's mutex.
struct Handles {
    server: *mut scv2_server,
    /// A session that has opened nothing.
    fresh: *mut scv2_server_session,
    /// A session that has opened the case's six requests (not answered).
    opened: *mut scv2_server_session,
    config: *mut scv2_client_config,
    /// A client session with the case's six requests sealed (outstanding 1..=6).
    client: *mut scv2_client_session,
    /// A key set holding only the hybrid case's key, and a configuration pinning it.
    pq_server: *mut scv2_server,
    pq_config: *mut scv2_client_config,
}

// SAFETY: the handles are only touched with the fixture's mutex held (and the C ABI documents
// every handle as usable from any thread).
unsafe impl Send for Handles {}

struct Fx {
    case: Case,
    hybrid: HybridCase,
    /// Re-seals an opened request to prove it authentic (the Rust API, same keys).
    core_client: ClientSession,
    handles: Mutex<Option<Handles>>,
}

static FX: LazyLock<Fx> = LazyLock::new(|| {
    let case = Case::load(PRIMARY_CASE);
    let core_client = case.client_session();
    Fx {
        case,
        hybrid: HybridCase::load("pq-password-init-block-64"),
        core_client,
        handles: Mutex::new(None),
    }
});

/// A server session of the case, through `scv2_server_accept` and
/// `scv2_server_handshake_respond_for_test_vectors`.
fn server_session(case: &Case, server: *mut scv2_server) -> *mut scv2_server_session {
    let mut hs = null_mut();
    let mut out = vec![0u8; case.kxr_envelope.len()];
    let mut len = 0usize;
    let mut session = null_mut();
    // SAFETY: live handles, buffers valid for their lengths.
    unsafe {
        ok(scv2_server_accept(
            server,
            case.kx_envelope.as_ptr(),
            case.kx_envelope.len(),
            case.now_ms,
            &mut hs,
        ));
        ok(scv2_server_handshake_respond_for_test_vectors(
            hs,
            case.session_id.as_ptr(),
            case.session_id.len(),
            case.expires_at_ms,
            case.kxr_payload.as_ptr(),
            case.kxr_payload.len(),
            case.server_ephemeral_private.as_ptr(),
            32,
            out.as_mut_ptr(),
            out.len(),
            &mut len,
            &mut session,
        ));
        scv2_server_handshake_free(hs);
    }
    assert_eq!(&out[..len], &case.kxr_envelope[..], "kxr through the C ABI");
    session
}

/// A client handshake of the case, through `scv2_client_handshake_start_for_test_vectors`.
fn client_handshake(case: &Case, config: *const scv2_client_config) -> *mut scv2_client_handshake {
    let mut hs = null_mut();
    let mut out = vec![0u8; case.kx_envelope.len()];
    let mut len = 0usize;
    // SAFETY: live config, buffers valid for their lengths.
    unsafe {
        ok(scv2_client_handshake_start_for_test_vectors(
            config,
            case.key_id.as_ptr(),
            case.key_id.len(),
            case.kx_payload.as_ptr(),
            case.kx_payload.len(),
            case.client_ephemeral_private.as_ptr(),
            32,
            case.iv1.as_ptr(),
            12,
            out.as_mut_ptr(),
            out.len(),
            &mut len,
            &mut hs,
        ));
    }
    assert_eq!(&out[..len], &case.kx_envelope[..], "kx through the C ABI");
    hs
}

/// The hybrid key set and pin, through the suite functions of the C ABI.
fn build_hybrid(h: &HybridCase) -> (*mut scv2_server, *mut scv2_client_config) {
    let mut server = null_mut();
    let mut config = null_mut();
    let doc = h.server_key().document();
    // SAFETY: out-pointers valid; inputs valid for their lengths.
    unsafe {
        ok(scv2_server_new(h.padding_block, 0, &mut server));
        ok(scv2_server_add_suite_key(
            server,
            SCV2_SUITE_X25519MLKEM768,
            h.key_id.as_ptr(),
            h.key_id.len(),
            h.private.as_ptr(),
            h.private.len(),
            0,
            0,
        ));
        ok(scv2_client_config_new(&mut config));
        ok(scv2_client_config_pin_public_key_base64(
            config,
            SCV2_SUITE_X25519MLKEM768,
            h.key_id.as_ptr(),
            h.key_id.len(),
            doc.public_key.as_ptr(),
            doc.public_key.len(),
        ));
        ok(scv2_client_config_set_padding_block(
            config,
            h.padding_block,
        ));
    }
    (server, config)
}

/// A hybrid client handshake of the case, through
/// `scv2_client_handshake_start_hybrid_for_test_vectors`.
fn hybrid_handshake(
    h: &HybridCase,
    config: *const scv2_client_config,
) -> *mut scv2_client_handshake {
    let mut hs = null_mut();
    let mut out = vec![0u8; h.kx_envelope.len()];
    let mut len = 0usize;
    // SAFETY: live config, buffers valid for their lengths.
    unsafe {
        ok(scv2_client_handshake_start_hybrid_for_test_vectors(
            config,
            h.key_id.as_ptr(),
            h.key_id.len(),
            h.kx_payload.as_ptr(),
            h.kx_payload.len(),
            h.e.as_ptr(),
            32,
            h.client_seed.as_ptr(),
            64,
            h.m1.as_ptr(),
            32,
            h.iv1.as_ptr(),
            12,
            out.as_mut_ptr(),
            out.len(),
            &mut len,
            &mut hs,
        ));
    }
    assert_eq!(
        &out[..len],
        &h.kx_envelope[..],
        "hybrid kx through the C ABI"
    );
    hs
}

fn build(case: &Case, hybrid: &HybridCase) -> Handles {
    let mut server = null_mut();
    let mut config = null_mut();
    let mut client = null_mut();
    // SAFETY: out-pointers valid; inputs valid for their lengths.
    unsafe {
        ok(scv2_server_new(case.padding_block, 0, &mut server));
        ok(scv2_server_add_key(
            server,
            case.key_id.as_ptr(),
            case.key_id.len(),
            case.server_static_private.as_ptr(),
            32,
            case.now_ms - 86_400_000,
            0,
        ));
        ok(scv2_server_add_key(
            server,
            scv2_fuzz::EXPIRED_KEY_ID.as_ptr(),
            scv2_fuzz::EXPIRED_KEY_ID.len(),
            [0x42u8; 32].as_ptr(),
            32,
            0,
            1,
        ));
        ok(scv2_client_config_new(&mut config));
        ok(scv2_client_config_pin(
            config,
            case.key_id.as_ptr(),
            case.key_id.len(),
            case.server_static_public.as_ptr(),
            32,
        ));
        ok(scv2_client_config_set_padding_block(
            config,
            case.padding_block,
        ));
        let hs = client_handshake(case, config);
        ok(scv2_client_handshake_finish(
            hs,
            case.kxr_envelope.as_ptr(),
            case.kxr_envelope.len(),
            case.now_ms,
            &mut client,
        ));
        scv2_client_handshake_free(hs);
    }
    // The client seals the case's requests in sequence order: outstanding 1..=6.
    let mut sorted = case.exchanges.clone();
    sorted.sort_by_key(|x| x.seq);
    for x in &sorted {
        let mut out = vec![0u8; x.request_envelope.len()];
        let (mut len, mut seq) = (0usize, 0u64);
        // SAFETY: live session, buffers valid for their lengths.
        unsafe {
            ok(scv2_client_seal_request(
                client,
                x.ctx.as_ptr(),
                x.ctx.len(),
                x.request.as_ptr(),
                x.request.len(),
                case.now_ms,
                out.as_mut_ptr(),
                out.len(),
                &mut len,
                &mut seq,
            ));
        }
        assert_eq!((seq, &out[..len]), (x.seq, &x.request_envelope[..]));
    }
    let fresh = server_session(case, server);
    let opened = server_session(case, server);
    for x in &case.exchanges {
        let mut out = vec![0u8; max_open_len(x.request_envelope.len())];
        let (mut len, mut seq) = (0usize, 0u64);
        // SAFETY: live session, buffers valid for their lengths.
        unsafe {
            ok(scv2_server_open_request(
                opened,
                x.ctx.as_ptr(),
                x.ctx.len(),
                x.request_envelope.as_ptr(),
                x.request_envelope.len(),
                case.now_ms,
                out.as_mut_ptr(),
                out.len(),
                &mut len,
                &mut seq,
            ));
        }
        assert_eq!((seq, &out[..len]), (x.seq, &x.request[..]));
    }
    let (pq_server, pq_config) = build_hybrid(hybrid);
    Handles {
        server,
        fresh,
        opened,
        config,
        client,
        pq_server,
        pq_config,
    }
}

fn free(h: Handles) {
    // SAFETY: every handle is live and freed once.
    unsafe {
        scv2_server_session_free(h.fresh);
        scv2_server_session_free(h.opened);
        scv2_client_session_free(h.client);
        scv2_client_config_free(h.config);
        scv2_server_free(h.server);
        scv2_client_config_free(h.pq_config);
        scv2_server_free(h.pq_server);
    }
}

// ---------------------------------------------------------------------------------------------
// Arguments.

/// The envelope as passed: pointer and length (bits 5 and 6).
fn envelope_arg(f: &Frame<'_>, max: usize) -> (*const u8, usize) {
    let ptr = if f.flags & 0x20 != 0 {
        null()
    } else {
        f.envelope.as_ptr()
    };
    let len = if f.flags & 0x40 != 0 {
        match f.cap_short % 3 {
            0 => max + 1,
            1 => isize::MAX as usize + 1,
            _ => usize::MAX,
        }
    } else {
        f.envelope.len()
    };
    (ptr, len)
}

/// The header contract's checks of an input `(ptr, len)` against its cap.
fn input_check(ptr: *const u8, len: usize, max: usize) -> Result<(), scv2_status> {
    if len > max || len > isize::MAX as usize {
        return Err(SCV2_PAYLOAD_TOO_LARGE);
    }
    if len > 0 && ptr.is_null() {
        return Err(SCV2_INVALID_ARGUMENT);
    }
    Ok(())
}

/// The output capacity for `needed` bytes (the capacity byte). With a lying envelope length
/// (bit 6) `needed` is huge; the buffer is then at most 4 KiB (the call must refuse the length
/// before it looks at the output).
fn capacity(f: &Frame<'_>, needed: usize) -> usize {
    let c = f.cap_short;
    let cap = if c < 0x80 {
        needed.saturating_sub(c)
    } else {
        needed.saturating_add(c - 0x80)
    };
    if f.flags & 0x40 != 0 {
        cap.min(4096)
    } else {
        cap
    }
}

fn now(f: &Frame<'_>, case: &Case) -> u64 {
    if f.flags & 4 != 0 {
        case.expires_at_ms
    } else {
        case.now_ms
    }
}

// ---------------------------------------------------------------------------------------------
// Server side.

fn accept(fx: &Fx, h: &Handles, f: &Frame<'_>) {
    let case = &fx.case;
    let (ptr, len) = envelope_arg(f, Limits::default().max_envelope);
    let now = if f.flags & 4 != 0 {
        u64::MAX
    } else {
        case.now_ms
    };
    let mut hs = null_mut();
    // SAFETY: `ptr` is NULL or valid for `f.envelope.len()` bytes; a larger `len` is above the
    // cap, which the contract says is refused before the pointer is read.
    let got = unsafe { scv2_server_accept(h.server, ptr, len, now, &mut hs) };
    documented(got, ACCEPT, "scv2_server_accept");
    scv2_fuzz::trace!("ffi accept: {got}");
    let want = input_check(ptr, len, Limits::default().max_envelope)
        .and_then(|()| expected_accept(case, f.envelope).map_err(st));
    match want {
        Err(w) => assert_eq!(got, w, "scv2_server_accept"),
        Ok(()) if got == SCV2_OK => {
            assert_eq!(
                f.envelope,
                &case.kx_envelope[..],
                "a forged type 1 accepted"
            );
            let mut out = vec![0u8; 64];
            let mut n = 0usize;
            // SAFETY: live handle, buffer valid.
            unsafe {
                ok(scv2_server_handshake_payload(
                    hs,
                    out.as_mut_ptr(),
                    out.len(),
                    &mut n,
                ));
                scv2_server_handshake_free(hs);
            }
            assert_eq!(&out[..n], &case.kx_payload[..]);
        }
        Ok(()) => assert_eq!(got, SCV2_DECRYPTION_FAILED, "scv2_server_accept"),
    }
    if got != SCV2_OK {
        assert!(hs.is_null(), "a handle was written on failure");
    }
}

/// `scv2_server_accept` at the hybrid key set.
fn accept_hybrid(fx: &Fx, h: &Handles, f: &Frame<'_>) {
    let pq = &fx.hybrid;
    let (ptr, len) = envelope_arg(f, Limits::default().max_envelope);
    let now = if f.flags & 4 != 0 {
        u64::MAX
    } else {
        pq.now_ms
    };
    let mut hs = null_mut();
    // SAFETY: as in `accept`.
    let got = unsafe { scv2_server_accept(h.pq_server, ptr, len, now, &mut hs) };
    documented(got, ACCEPT, "scv2_server_accept (hybrid)");
    scv2_fuzz::trace!("ffi accept (hybrid): {got}");
    let want = input_check(ptr, len, Limits::default().max_envelope).and_then(|()| {
        expected_accept_hybrid(pq.key_id.as_bytes(), None, f.envelope)
            .map(drop)
            .map_err(st)
    });
    match want {
        Err(w) => assert_eq!(got, w, "scv2_server_accept (hybrid)"),
        Ok(()) if got == SCV2_OK => {
            assert_eq!(
                f.envelope,
                &pq.kx_envelope[..],
                "a forged hybrid type 1 accepted"
            );
            let mut out = vec![0u8; 64];
            let mut n = 0usize;
            // SAFETY: live handle, buffer valid.
            unsafe {
                ok(scv2_server_handshake_payload(
                    hs,
                    out.as_mut_ptr(),
                    out.len(),
                    &mut n,
                ));
                scv2_server_handshake_free(hs);
            }
            assert_eq!(&out[..n], &pq.kx_payload[..]);
        }
        Ok(()) => assert_eq!(got, SCV2_DECRYPTION_FAILED, "scv2_server_accept (hybrid)"),
    }
    if got != SCV2_OK {
        assert!(hs.is_null(), "a handle was written on failure");
    }
}

/// `scv2_client_handshake_finish` of the hybrid handshake.
fn finish_hybrid(fx: &Fx, h: &Handles, f: &Frame<'_>) {
    let pq = &fx.hybrid;
    let now = if f.flags & 4 != 0 {
        pq.expires_at_ms
    } else {
        pq.now_ms
    };
    let (ptr, len) = envelope_arg(f, Limits::default().max_envelope);
    let hs = hybrid_handshake(pq, h.pq_config);
    let mut session = null_mut();
    // SAFETY: as in `finish`.
    let got = unsafe { scv2_client_handshake_finish(hs, ptr, len, now, &mut session) };
    documented(got, FINISH, "scv2_client_handshake_finish (hybrid)");
    let authentic = f.envelope == &pq.kxr_envelope[..];
    match input_check(ptr, len, Limits::default().max_envelope)
        .and_then(|()| expected_finish_hybrid(f.envelope).map_err(st))
    {
        Err(w) => assert_eq!(got, w, "scv2_client_handshake_finish (hybrid)"),
        Ok(()) if authentic && now >= pq.expires_at_ms => assert_eq!(got, SCV2_SESSION_EXPIRED),
        Ok(()) if authentic => {
            assert_eq!(got, SCV2_OK, "the hybrid case's type 130");
            // SAFETY: live session, freed once.
            unsafe { scv2_client_session_free(session) };
        }
        Ok(()) => assert_eq!(got, SCV2_DECRYPTION_FAILED, "forged hybrid type 130"),
    }
    if got != SCV2_OK {
        assert!(session.is_null(), "a session was written on failure");
    }
    // SAFETY: live handle, freed once.
    unsafe { scv2_client_handshake_free(hs) };
}

/// Returns whether the session's state changed (a request was accepted).
fn open_request(fx: &Fx, h: &Handles, f: &Frame<'_>) -> bool {
    let case = &fx.case;
    let mode = f.flags & 3;
    let pre_opened = f.flags & 0x10 != 0;
    let session = if pre_opened { h.opened } else { h.fresh };
    let mut window = Window::new(scv2::DEFAULT_WINDOW);
    if pre_opened {
        for x in &case.exchanges {
            window.mark(x.seq);
        }
    }
    let now = now(f, case);
    let max = Limits::default();
    let (ptr, len) = envelope_arg(f, max.max_envelope);
    // The statuses decided before the session state is read, in the C ABI's order.
    let pre = input_check(f.ctx.as_ptr(), f.ctx.len(), max.max_ctx)
        .and_then(|()| input_check(ptr, len, max.max_envelope));
    let core =
        || expected_open_request(case, &f.ctx, f.envelope, now, &window, false, None).map_err(st);

    let (mut body, mut seq) = (Vec::new(), 0u64);
    if mode == 2 {
        // In place: the buffer is a copy of the envelope (NULL or lying length as flagged).
        let mut buf = f.envelope.to_vec();
        let bptr = if ptr.is_null() {
            null_mut()
        } else {
            buf.as_mut_ptr()
        };
        let (mut off, mut n) = (usize::MAX, usize::MAX);
        // SAFETY: `bptr` is NULL or valid for `buf.len()` bytes; a larger length is above the cap.
        let got = unsafe {
            scv2_server_open_request_in_place(
                session,
                f.ctx.as_ptr(),
                f.ctx.len(),
                bptr,
                len,
                now,
                &mut off,
                &mut n,
                &mut seq,
            )
        };
        if got == SCV2_OK {
            assert_eq!(off, 16, "body offset");
            body = buf[off..off + n].to_vec();
        } else {
            assert_eq!(
                (off, n),
                (usize::MAX, usize::MAX),
                "outputs written on failure"
            );
        }
        documented(got, OPEN_REQUEST, "scv2_server_open_request_in_place");
        let want = pre.and_then(|()| core().map(|_| ()));
        check_open(fx, h, f, session, got, want, &body, seq)
    } else {
        let needed = max_open_len(len);
        let want = pre.and_then(|()| {
            let cap = capacity(f, needed);
            if cap < needed {
                return Err(SCV2_BUFFER_TOO_SMALL);
            }
            if mode == 3 && needed > 0 && len > 0 {
                return Err(SCV2_INVALID_ARGUMENT); // output overlaps the envelope
            }
            core().map(|_| ())
        });
        // A size query first (bit 3): BUFFER_TOO_SMALL with the size, or what the call decides
        // without an output (argument errors, or an envelope too short to need one).
        if f.flags & 8 != 0 {
            let mut n = 0usize;
            // SAFETY: as below, with no output buffer.
            let q = unsafe {
                scv2_server_open_request(
                    session,
                    f.ctx.as_ptr(),
                    f.ctx.len(),
                    ptr,
                    len,
                    now,
                    null_mut(),
                    0,
                    &mut n,
                    &mut seq,
                )
            };
            let qwant = pre.and_then(|()| {
                if needed > 0 {
                    Err(SCV2_BUFFER_TOO_SMALL)
                } else {
                    core().map(|_| ())
                }
            });
            assert_eq!(Some(q), qwant.err(), "size query");
            if q == SCV2_BUFFER_TOO_SMALL {
                assert_eq!(n, needed, "size needed");
            }
        }
        let cap = capacity(f, needed);
        let mut env_buf = f.envelope.to_vec();
        let mut out = vec![0xa5u8; cap];
        let (optr, eptr) = if mode == 3 {
            // `out` is the envelope's own buffer.
            let p = env_buf.as_mut_ptr();
            (
                p,
                if ptr.is_null() {
                    null()
                } else {
                    p.cast_const()
                },
            )
        } else {
            (out.as_mut_ptr(), ptr)
        };
        let cap = if mode == 3 {
            cap.min(env_buf.len())
        } else {
            cap
        };
        let want = if mode == 3 && cap < needed && pre.is_ok() {
            Err(SCV2_BUFFER_TOO_SMALL)
        } else {
            want
        };
        let mut n = usize::MAX;
        // SAFETY: `eptr` is NULL or valid for the envelope's bytes (a larger length is above the
        // cap); `optr` is valid for `cap` writable bytes.
        let got = unsafe {
            scv2_server_open_request(
                session,
                f.ctx.as_ptr(),
                f.ctx.len(),
                eptr,
                len,
                now,
                optr,
                cap,
                &mut n,
                &mut seq,
            )
        };
        documented(got, OPEN_REQUEST, "scv2_server_open_request");
        if got == SCV2_BUFFER_TOO_SMALL {
            assert_eq!(n, needed, "size needed");
            assert!(out.iter().all(|&b| b == 0xa5), "output written");
        } else if got == SCV2_OK {
            body = out[..n].to_vec();
        } else {
            assert_eq!(n, usize::MAX, "out_len written on failure");
        }
        check_open(fx, h, f, session, got, want, &body, seq)
    }
}

#[allow(clippy::too_many_arguments)]
fn check_open(
    fx: &Fx,
    _h: &Handles,
    f: &Frame<'_>,
    session: *mut scv2_server_session,
    got: scv2_status,
    want: Result<(), scv2_status>,
    body: &[u8],
    seq: u64,
) -> bool {
    scv2_fuzz::trace!("ffi open_request: {got} (want {want:?})");
    match want {
        Err(w) => {
            assert_eq!(got, w, "open_request: wrong status");
            false
        }
        Ok(()) if got == SCV2_OK => {
            // Authentic: the holder of the keys seals exactly these bytes.
            let mut again = vec![0u8; f.envelope.len()];
            let n = fx
                .core_client
                .seal_request_with_seq_for_test_vectors(seq, &f.ctx, body, &mut again)
                .expect("re-seal");
            assert_eq!(
                &again[..n],
                f.envelope,
                "opened bytes the client never sealed"
            );
            // Answer it once; a second answer is refused.
            let x = fx
                .case
                .exchange(seq)
                .filter(|x| x.ctx == f.ctx && x.request == body);
            let resp: &[u8] = x.map_or(b"ok", |x| &x.response);
            let mut out = vec![0u8; 1024];
            let mut len = 0usize;
            for attempt in 0..2 {
                // SAFETY: live session, buffers valid for their lengths.
                let s = unsafe {
                    scv2_server_seal_response(
                        session,
                        seq,
                        f.ctx.as_ptr(),
                        f.ctx.len(),
                        resp.as_ptr(),
                        resp.len(),
                        out.as_mut_ptr(),
                        out.len(),
                        &mut len,
                    )
                };
                if attempt == 0 {
                    ok(s);
                    if let Some(x) = x {
                        assert_eq!(&out[..len], &x.response_envelope[..], "response");
                    }
                } else {
                    assert_eq!(s, SCV2_INVALID_STATE, "answered twice");
                }
            }
            true
        }
        Ok(()) => {
            assert_eq!(got, SCV2_DECRYPTION_FAILED, "open_request: wrong status");
            false
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Client side.

fn finish(fx: &Fx, h: &Handles, f: &Frame<'_>) {
    let case = &fx.case;
    let now = now(f, case);
    let (ptr, len) = envelope_arg(f, Limits::default().max_envelope);
    let hs = client_handshake(case, h.config);
    let mut session = null_mut();
    // SAFETY: live handshake; `ptr` NULL or valid for the envelope (larger lengths are above the
    // cap).
    let got = unsafe { scv2_client_handshake_finish(hs, ptr, len, now, &mut session) };
    documented(got, FINISH, "scv2_client_handshake_finish");
    scv2_fuzz::trace!("ffi finish: {got}");
    let authentic = f.envelope == &case.kxr_envelope[..];
    match input_check(ptr, len, Limits::default().max_envelope)
        .and_then(|()| expected_finish(f.envelope).map_err(st))
    {
        Err(w) => assert_eq!(got, w, "scv2_client_handshake_finish"),
        Ok(()) if authentic && now >= case.expires_at_ms => {
            assert_eq!(got, SCV2_SESSION_EXPIRED)
        }
        Ok(()) if authentic => {
            assert_eq!(got, SCV2_OK, "the case's type 130");
            let mut sid = [0u8; 64];
            let mut n = 0usize;
            // SAFETY: live session, buffer valid.
            unsafe {
                ok(scv2_client_session_id(
                    session,
                    sid.as_mut_ptr(),
                    sid.len(),
                    &mut n,
                ));
                scv2_client_session_free(session);
            }
            assert_eq!(&sid[..n], case.session_id.as_bytes());
        }
        Ok(()) => assert_eq!(got, SCV2_DECRYPTION_FAILED, "forged type 130"),
    }
    if got != SCV2_OK {
        assert!(session.is_null(), "a session was written on failure");
    }
    // A handshake runs once: afterwards INVALID_STATE (if the arguments passed their checks).
    let mut again = null_mut();
    // SAFETY: as above.
    let second = unsafe { scv2_client_handshake_finish(hs, ptr, len, now, &mut again) };
    let first_ran = !matches!(got, SCV2_INVALID_ARGUMENT | SCV2_PAYLOAD_TOO_LARGE);
    if first_ran {
        assert_eq!(second, SCV2_INVALID_STATE, "handshake finished twice");
    } else {
        assert_eq!(second, got, "a refused call changed the handshake");
    }
    // SAFETY: live handle, freed once.
    unsafe { scv2_client_handshake_free(hs) };
}

/// Returns whether the session's state changed (a response was opened).
fn open_response(fx: &Fx, h: &Handles, f: &Frame<'_>) -> bool {
    let case = &fx.case;
    let mode = f.flags & 3;
    let seq = if mode == 3 { f.seq + 1_000_000 } else { f.seq };
    let outstanding = (1..=6).contains(&seq);
    let max = Limits::default();
    let (ptr, len) = envelope_arg(f, max.max_envelope);
    let pre = input_check(f.ctx.as_ptr(), f.ctx.len(), max.max_ctx)
        .and_then(|()| input_check(ptr, len, max.max_envelope));
    let core = || {
        if !outstanding {
            return Err(SCV2_INVALID_STATE);
        }
        expected_open_response(case, &f.ctx, f.envelope, seq, false, None).map_err(st)
    };
    let mut body = Vec::new();
    let got;
    let want;
    if mode == 2 {
        let mut buf = f.envelope.to_vec();
        let bptr = if ptr.is_null() {
            null_mut()
        } else {
            buf.as_mut_ptr()
        };
        let (mut off, mut n) = (usize::MAX, usize::MAX);
        // SAFETY: `bptr` NULL or valid for `buf.len()` bytes (larger lengths are above the cap).
        got = unsafe {
            scv2_client_open_response_in_place(
                h.client,
                seq,
                f.ctx.as_ptr(),
                f.ctx.len(),
                bptr,
                len,
                &mut off,
                &mut n,
            )
        };
        if got == SCV2_OK {
            body = buf[off..off + n].to_vec();
        }
        want = pre.and_then(|()| core());
    } else {
        let needed = max_open_len(len);
        if f.flags & 8 != 0 {
            let mut n = 0usize;
            // SAFETY: no output buffer; inputs as below.
            let q = unsafe {
                scv2_client_open_response(
                    h.client,
                    seq,
                    f.ctx.as_ptr(),
                    f.ctx.len(),
                    ptr,
                    len,
                    null_mut(),
                    0,
                    &mut n,
                )
            };
            let qwant = pre.and_then(|()| {
                if needed > 0 {
                    Err(SCV2_BUFFER_TOO_SMALL)
                } else {
                    core()
                }
            });
            assert_eq!(Some(q), qwant.err(), "size query");
            if q == SCV2_BUFFER_TOO_SMALL {
                assert_eq!(n, needed);
            }
            if q == SCV2_OK {
                // Only an (impossible) authentic envelope shorter than 29 bytes could get here.
                panic!("size query opened a response");
            }
        }
        let cap = capacity(f, needed);
        let mut out = vec![0xa5u8; cap];
        let mut n = usize::MAX;
        // SAFETY: `ptr` NULL or valid for the envelope (larger lengths are above the cap); `out`
        // valid for `cap` bytes.
        got = unsafe {
            scv2_client_open_response(
                h.client,
                seq,
                f.ctx.as_ptr(),
                f.ctx.len(),
                ptr,
                len,
                out.as_mut_ptr(),
                cap,
                &mut n,
            )
        };
        if got == SCV2_BUFFER_TOO_SMALL {
            assert_eq!(n, needed, "size needed");
            assert!(out.iter().all(|&b| b == 0xa5), "output written");
        } else if got == SCV2_OK {
            body = out[..n].to_vec();
        }
        want = pre.and_then(|()| {
            if cap < needed {
                Err(SCV2_BUFFER_TOO_SMALL)
            } else {
                core()
            }
        });
    }
    documented(got, OPEN_RESPONSE, "scv2_client_open_response");
    scv2_fuzz::trace!("ffi open_response seq {seq}: {got} (want {want:?})");
    match want {
        Err(w) => {
            assert_eq!(got, w, "open_response: wrong status");
            false
        }
        Ok(()) if got == SCV2_OK => {
            let x = case
                .exchange(seq)
                .expect("outstanding seq is a case exchange");
            assert_eq!(
                f.envelope,
                &x.response_envelope[..],
                "forged response opened"
            );
            assert_eq!(f.ctx, x.ctx, "response opened under another ctx");
            assert_eq!(body, x.response, "wrong body");
            // Answered: the sequence number is no longer outstanding.
            let mut out = vec![0u8; f.envelope.len()];
            let mut n = 0usize;
            // SAFETY: live session, buffers valid.
            let again = unsafe {
                scv2_client_open_response(
                    h.client,
                    seq,
                    f.ctx.as_ptr(),
                    f.ctx.len(),
                    f.envelope.as_ptr(),
                    f.envelope.len(),
                    out.as_mut_ptr(),
                    out.len(),
                    &mut n,
                )
            };
            assert_eq!(again, SCV2_INVALID_STATE, "answered twice");
            true
        }
        Ok(()) => {
            assert_eq!(got, SCV2_DECRYPTION_FAILED, "open_response: wrong status");
            false
        }
    }
}

/// The size helpers against the core, on numbers taken from the input.
fn size_helpers(f: &Frame<'_>) {
    let c = f.cap_short;
    let big = usize::MAX - c;
    for (x, b) in [
        (f.envelope.len(), c),
        (big, 64),
        (isize::MAX as usize - c, 1),
        (f.seq as usize, 4096),
    ] {
        let limit = |n: Option<usize>| n.filter(|&n| n <= isize::MAX as usize).unwrap_or(0);
        assert_eq!(scv2_sealed_len(x, b), limit(scv2::sealed_len(x, b)));
        assert_eq!(scv2_max_open_len(x), max_open_len(x));
        let k = usize::from(f.flags);
        let t1 = if (1..=255).contains(&k) {
            limit(scv2::key_exchange_len(k, x, b))
        } else {
            0
        };
        assert_eq!(scv2_type1_len(k, x, b), t1);
        let s = c % 70;
        let t130 = if (1..=64).contains(&s) {
            limit(scv2::key_exchange_response_len(s, x, b))
        } else {
            0
        };
        assert_eq!(scv2_type130_len(s, x, b), t130);
        // The suite helpers, for the two suites and unknown ids.
        let id = u32::from(f.flags % 4);
        let suite = scv2::Suite::from_id(id);
        let st1 = suite.map_or(0, |su| limit(su.key_exchange_len(k, x, b)));
        assert_eq!(scv2_suite_type1_len(id, k, x, b), st1);
        let st130 = suite.map_or(0, |su| limit(su.key_exchange_response_len(s, x, b)));
        assert_eq!(scv2_suite_type130_len(id, s, x, b), st130);
        assert_eq!(
            scv2_suite_public_key_len(id),
            suite.map_or(0, |su| su.public_key_len())
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let fx = &*FX;
    let Some(frame) = Frame::parse(&fx.case, data) else {
        return;
    };
    size_helpers(&frame);
    let mut guard = fx.handles.lock().unwrap_or_else(|p| p.into_inner());
    let h = guard.get_or_insert_with(|| build(&fx.case, &fx.hybrid));
    let hybrid = frame.flags & 0x10 != 0;
    let changed = if frame.flags & 0x80 == 0 {
        match frame.flags & 3 {
            0 if hybrid => {
                accept_hybrid(fx, h, &frame);
                false
            }
            0 => {
                accept(fx, h, &frame);
                false
            }
            _ => open_request(fx, h, &frame),
        }
    } else {
        match frame.flags & 3 {
            0 if hybrid => {
                finish_hybrid(fx, h, &frame);
                false
            }
            0 => {
                finish(fx, h, &frame);
                false
            }
            _ => open_response(fx, h, &frame),
        }
    };
    // A success changed the fixture's state (window, outstanding requests): rebuild it, so that
    // every input meets the same fixture.
    if changed {
        if let Some(old) = guard.take() {
            free(old);
        }
    }
});
