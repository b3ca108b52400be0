//! Rust-side tests of the C ABI (`scv2_ffi`, the functions of `include/scv2.h`): a round trip,
//! the buffer-too-small contract (no state change), NULL handling, single-use handshakes and
//! sequence numbers, forgetting requests. On the harness's C-ABI pair. Small enough for
//! `cargo +nightly miri test -p scv2-ffi --features test-vectors --test c_abi`.

use std::ptr::{self, null, null_mut};

use scv2_ffi::*;
use scv2_test_support::c_pair::{ok, CPair, KEY_ID as KID};

const NOW: u64 = scv2_test_support::NOW;
const CTX: &[u8] = b"POST /login";

fn pair() -> CPair {
    CPair::new()
}

/// The handshake through the C ABI: exact lengths from the size helpers, and single use.
#[test]
fn handshake_lengths_and_single_use() {
    let p = CPair::new();
    assert_eq!(p.kx.len(), scv2_type1_len(KID.len(), 0, 64));
    assert_eq!(
        p.kxr.len(),
        scv2_type130_len(scv2_generated_session_id_len(), 2, 64)
    );
    assert_eq!(
        scv2_generated_session_id_len(),
        scv2::GENERATED_SESSION_ID_LEN
    );
    let (mut hs, mut shs, mut session, mut again) =
        (null_mut(), null_mut(), null_mut(), null_mut());
    let (mut t1, mut t130) = ([0u8; 256], [0u8; 256]);
    let (mut t1_len, mut t130_len) = (0usize, 0usize);
    // SAFETY: valid locals and library handles.
    unsafe {
        ok(scv2_client_handshake_start(
            p.config,
            KID.as_ptr(),
            KID.len(),
            null(),
            0,
            t1.as_mut_ptr(),
            t1.len(),
            &mut t1_len,
            &mut hs,
        ));
        ok(scv2_server_accept(
            p.server,
            t1.as_ptr(),
            t1_len,
            NOW,
            &mut shs,
        ));
        ok(scv2_server_handshake_respond(
            shs,
            null(),
            0,
            NOW + 1000,
            null(),
            0,
            t130.as_mut_ptr(),
            t130.len(),
            &mut t130_len,
            &mut session,
        ));
        let mut client = null_mut();
        ok(scv2_client_handshake_finish(
            hs,
            t130.as_ptr(),
            t130_len,
            NOW,
            &mut client,
        ));
        // Finished handshakes refuse further use.
        assert_eq!(
            scv2_client_handshake_finish(hs, t130.as_ptr(), t130_len, NOW, &mut again),
            SCV2_INVALID_STATE
        );
        assert!(again.is_null());
        scv2_client_session_free(client);
        scv2_server_session_free(session);
        scv2_client_handshake_free(hs);
        scv2_server_handshake_free(shs);
    }
}

#[test]
fn round_trip_and_buffer_too_small_changes_nothing() {
    let p = pair();
    let body = b"{\"password\":\"x\"}";
    let mut env = [0u8; 256];
    let mut plain = [0u8; 256];
    let (mut env_len, mut plain_len, mut seq, mut sseq) = (0usize, 0usize, 0u64, 0u64);
    // SAFETY: valid locals and library handles.
    unsafe {
        // Too small: the needed size, nothing else (no seq consumed, out untouched).
        assert_eq!(
            scv2_client_seal_request(
                p.client,
                CTX.as_ptr(),
                CTX.len(),
                body.as_ptr(),
                body.len(),
                NOW,
                env.as_mut_ptr(),
                10,
                &mut env_len,
                &mut seq,
            ),
            SCV2_BUFFER_TOO_SMALL
        );
        assert_eq!(
            env_len,
            scv2_client_session_sealed_len(p.client, body.len())
        );
        assert_eq!(seq, 0);
        assert!(env.iter().all(|&b| b == 0));
        ok(scv2_client_seal_request(
            p.client,
            CTX.as_ptr(),
            CTX.len(),
            body.as_ptr(),
            body.len(),
            NOW,
            env.as_mut_ptr(),
            env.len(),
            &mut env_len,
            &mut seq,
        ));
        assert_eq!(seq, 1);
        // Server: too small, then the same envelope still opens (replay window untouched).
        let mut need = 0usize;
        assert_eq!(
            scv2_server_open_request(
                p.session,
                CTX.as_ptr(),
                CTX.len(),
                env.as_ptr(),
                env_len,
                NOW,
                plain.as_mut_ptr(),
                1,
                &mut need,
                &mut sseq,
            ),
            SCV2_BUFFER_TOO_SMALL
        );
        assert_eq!(need, scv2_max_open_len(env_len));
        ok(scv2_server_open_request(
            p.session,
            CTX.as_ptr(),
            CTX.len(),
            env.as_ptr(),
            env_len,
            NOW,
            plain.as_mut_ptr(),
            plain.len(),
            &mut plain_len,
            &mut sseq,
        ));
        assert_eq!(&plain[..plain_len], body);
        assert_eq!(sseq, 1);
        // Response: too small keeps the slot; then sealed once only.
        let mut resp = [0u8; 128];
        let mut resp_len = 0usize;
        assert_eq!(
            scv2_server_seal_response(
                p.session,
                1,
                CTX.as_ptr(),
                CTX.len(),
                b"ok".as_ptr(),
                2,
                resp.as_mut_ptr(),
                3,
                &mut resp_len
            ),
            SCV2_BUFFER_TOO_SMALL
        );
        ok(scv2_server_seal_response(
            p.session,
            1,
            CTX.as_ptr(),
            CTX.len(),
            b"ok".as_ptr(),
            2,
            resp.as_mut_ptr(),
            resp.len(),
            &mut resp_len,
        ));
        let mut other = [0u8; 128];
        let mut n = 0usize;
        assert_eq!(
            scv2_server_seal_response(
                p.session,
                1,
                CTX.as_ptr(),
                CTX.len(),
                b"ok".as_ptr(),
                2,
                other.as_mut_ptr(),
                other.len(),
                &mut n
            ),
            SCV2_INVALID_STATE
        );
        assert_eq!(
            scv2_server_seal_response(
                p.session,
                9,
                CTX.as_ptr(),
                CTX.len(),
                b"ok".as_ptr(),
                2,
                other.as_mut_ptr(),
                other.len(),
                &mut n
            ),
            SCV2_INVALID_STATE
        );
        // Client: a wrong ctx fails and keeps the token; the right one opens once.
        let mut out = [0u8; 128];
        let mut out_len = 0usize;
        assert_eq!(
            scv2_client_open_response(
                p.client,
                1,
                b"GET /".as_ptr(),
                5,
                resp.as_ptr(),
                resp_len,
                out.as_mut_ptr(),
                out.len(),
                &mut out_len
            ),
            SCV2_DECRYPTION_FAILED
        );
        assert_eq!(out_len, 0);
        ok(scv2_client_open_response(
            p.client,
            1,
            CTX.as_ptr(),
            CTX.len(),
            resp.as_ptr(),
            resp_len,
            out.as_mut_ptr(),
            out.len(),
            &mut out_len,
        ));
        assert_eq!(&out[..out_len], b"ok");
        assert_eq!(
            scv2_client_open_response(
                p.client,
                1,
                CTX.as_ptr(),
                CTX.len(),
                resp.as_ptr(),
                resp_len,
                out.as_mut_ptr(),
                out.len(),
                &mut out_len
            ),
            SCV2_INVALID_STATE
        );
        // Accessors.
        let mut app = [0u8; 8];
        let mut app_len = 0usize;
        ok(scv2_client_session_app_payload(
            p.client,
            app.as_mut_ptr(),
            app.len(),
            &mut app_len,
        ));
        assert_eq!(&app[..app_len], b"hi");
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        let (mut a_len, mut b_len) = (0usize, 0usize);
        ok(scv2_client_session_id(
            p.client,
            a.as_mut_ptr(),
            64,
            &mut a_len,
        ));
        ok(scv2_server_session_id(
            p.session,
            b.as_mut_ptr(),
            64,
            &mut b_len,
        ));
        assert_eq!(a[..a_len], b[..b_len]);
        assert_eq!(a_len, 22);
    }
}

#[test]
fn nulls_and_bad_lengths_are_errors() {
    let p = pair();
    let mut n = 0usize;
    let mut seq = 0u64;
    let mut buf = [0u8; 64];
    // SAFETY: the library must refuse these without reading the bogus pointers.
    unsafe {
        let bogus = ptr::dangling::<u8>();
        assert_eq!(
            scv2_client_seal_request(
                p.client,
                bogus,
                usize::MAX,
                null(),
                0,
                NOW,
                buf.as_mut_ptr(),
                64,
                &mut n,
                &mut seq
            ),
            SCV2_PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            scv2_client_seal_request(
                p.client,
                null(),
                3,
                null(),
                0,
                NOW,
                buf.as_mut_ptr(),
                64,
                &mut n,
                &mut seq
            ),
            SCV2_INVALID_ARGUMENT
        );
        assert_eq!(
            scv2_client_seal_request(
                p.client,
                null(),
                0,
                null(),
                0,
                NOW,
                null_mut(),
                4096,
                &mut n,
                &mut seq
            ),
            SCV2_INVALID_ARGUMENT
        );
        assert_eq!(
            scv2_client_seal_request(
                null(),
                null(),
                0,
                null(),
                0,
                NOW,
                buf.as_mut_ptr(),
                64,
                &mut n,
                &mut seq
            ),
            SCV2_INVALID_ARGUMENT
        );
        assert_eq!(
            scv2_server_open_request(
                p.session,
                null(),
                0,
                bogus,
                isize::MAX as usize + 1,
                NOW,
                null_mut(),
                0,
                &mut n,
                &mut seq
            ),
            SCV2_PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            scv2_server_open_request(
                p.session,
                null(),
                0,
                null(),
                0,
                NOW,
                null_mut(),
                0,
                &mut n,
                &mut seq
            ),
            SCV2_MALFORMED_ENVELOPE
        );
        assert_eq!(
            scv2_client_open_response_in_place(
                p.client,
                1,
                null(),
                0,
                null_mut(),
                0,
                &mut n,
                null_mut()
            ),
            SCV2_INVALID_ARGUMENT
        );
        // Overlapping input and output of a copying call.
        let mut overlap = [0u8; 256];
        let q = overlap.as_mut_ptr();
        assert_eq!(
            scv2_client_seal_request(
                p.client,
                null(),
                0,
                q.cast_const(),
                4,
                NOW,
                q,
                128,
                &mut n,
                &mut seq
            ),
            SCV2_INVALID_ARGUMENT
        );
        assert_eq!(seq, 0);
        let mut hs = null_mut();
        assert_eq!(
            scv2_client_handshake_start(
                p.config,
                b"k 1".as_ptr(),
                3,
                null(),
                0,
                overlap.as_mut_ptr(),
                256,
                &mut n,
                &mut hs
            ),
            SCV2_UNTRUSTED_SERVER_KEY
        );
        assert!(hs.is_null());
        assert!(!scv2_version().is_null());
    }
}

#[test]
fn backend_name_matches_the_core() {
    // SAFETY: scv2_backend returns a static NUL-terminated string.
    let name = unsafe { std::ffi::CStr::from_ptr(scv2_ffi::scv2_backend()) };
    assert_eq!(name.to_str().unwrap(), scv2::primitives::BACKEND);
}

/// A client whose requests are answered in plaintext (HTTP 429, 400, 401) never gets a type 129
/// for them: without `scv2_client_forget_request` the session's table of outstanding requests
/// fills up after `SCV2_MAX_OUTSTANDING` of them, and even the next request is refused.
// 1026 AES-GCM seals: minutes under Miri, which checks the same table through the unit tests of
// ffi/src/table.rs and the shorter forget test below.
#[test]
#[cfg_attr(miri, ignore)]
fn unanswered_requests_fill_the_table_unless_forgotten() {
    let p = CPair::new();
    let mut env = [0u8; 256];
    for i in 1..=SCV2_MAX_OUTSTANDING as u64 {
        assert_eq!(p.seal_request(CTX, b"{}", &mut env).map(|(_, s)| s), Ok(i));
    }
    assert_eq!(
        p.seal_request(CTX, b"{}", &mut env),
        Err(SCV2_INVALID_STATE)
    );
    // Forgetting one frees one place, and the refused call consumed no sequence number.
    p.forget_request(7).unwrap();
    assert_eq!(
        p.seal_request(CTX, b"{}", &mut env).map(|(_, s)| s),
        Ok(SCV2_MAX_OUTSTANDING as u64 + 1)
    );
    assert_eq!(
        p.seal_request(CTX, b"{}", &mut env),
        Err(SCV2_INVALID_STATE)
    );
}

/// 3000 requests answered in plaintext and forgotten (some of them opened by the server, which
/// then forgets their response slots), then a normal exchange on the same session.
#[test]
fn three_thousand_plaintext_answers_then_a_normal_exchange() {
    let p = CPair::new();
    let (mut env, mut plain, mut resp, mut out) = ([0u8; 256], [0u8; 256], [0u8; 256], [0u8; 256]);
    let rounds = if cfg!(miri) { 3 } else { 3000 };
    for i in 1..=rounds {
        let (n, seq) = p
            .seal_request(CTX, b"{\"password\":\"x\"}", &mut env)
            .unwrap();
        assert_eq!(seq, i);
        if i % 3 == 0 {
            // The server opened it, then answered in plaintext: it forgets the slot.
            let (_, sseq) = p.open_request(CTX, &env[..n], &mut plain).unwrap();
            // SAFETY: a live handle.
            ok(unsafe { scv2_server_forget_request(p.session, sseq) });
            // SAFETY: a live handle.
            let again = unsafe { scv2_server_forget_request(p.session, sseq) };
            assert_eq!(again, SCV2_INVALID_STATE);
        }
        p.forget_request(seq).unwrap();
        // An answer that arrives after all is refused: the request is gone.
        assert_eq!(
            p.open_response(seq, CTX, b"SC\x02\x81", &mut out),
            Err(SCV2_INVALID_STATE)
        );
        assert_eq!(p.forget_request(seq), Err(SCV2_INVALID_STATE));
    }
    let (n, seq) = p.seal_request(CTX, b"ping", &mut env).unwrap();
    assert_eq!(seq, rounds + 1);
    let (m, sseq) = p.open_request(CTX, &env[..n], &mut plain).unwrap();
    assert_eq!(&plain[..m], b"ping");
    let r = p.seal_response(sseq, CTX, b"pong", &mut resp).unwrap();
    let k = p.open_response(seq, CTX, &resp[..r], &mut out).unwrap();
    assert_eq!(&out[..k], b"pong");
    // SAFETY: NULL handle.
    assert_eq!(
        unsafe { scv2_client_forget_request(null(), 1) },
        SCV2_INVALID_ARGUMENT
    );
}
