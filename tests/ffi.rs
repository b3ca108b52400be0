//! Rust-side tests of the C ABI (`scv2::ffi`): a round trip, the buffer-too-small contract (no
//! state change), NULL handling, single-use handshakes and sequence numbers. Small enough for
//! `cargo +nightly miri test --features test-vectors --test ffi`.

use std::ptr::{self, null, null_mut};

use scv2::ffi::*;

const NOW: u64 = 1_764_400_000_000;
const KID: &[u8] = b"k1";
const CTX: &[u8] = b"POST /login";

struct Pair {
    server: *mut scv2_server,
    config: *mut scv2_client_config,
    client: *mut scv2_client_session,
    session: *mut scv2_server_session,
}

impl Drop for Pair {
    fn drop(&mut self) {
        // SAFETY: handles from the library, freed once.
        unsafe {
            scv2_client_session_free(self.client);
            scv2_server_session_free(self.session);
            scv2_client_config_free(self.config);
            scv2_server_free(self.server);
        }
    }
}

fn ok(s: scv2_status) {
    assert_eq!(s, SCV2_OK, "status {s}");
}

fn pair() -> Pair {
    let mut p = Pair {
        server: null_mut(),
        config: null_mut(),
        client: null_mut(),
        session: null_mut(),
    };
    let mut pubkey = [0u8; 32];
    let (mut n, mut t1_len, mut t130_len) = (0usize, 0usize, 0usize);
    let (mut t1, mut t130) = ([0u8; 256], [0u8; 256]);
    let (mut hs, mut shs) = (null_mut(), null_mut());
    // SAFETY: valid locals and library handles.
    unsafe {
        ok(scv2_server_new(0, 0, &mut p.server));
        ok(scv2_server_generate_key(
            p.server,
            KID.as_ptr(),
            KID.len(),
            NOW,
            0,
        ));
        ok(scv2_server_public_key(
            p.server,
            KID.as_ptr(),
            2,
            pubkey.as_mut_ptr(),
            32,
            &mut n,
        ));
        ok(scv2_client_config_new(&mut p.config));
        ok(scv2_client_config_pin(
            p.config,
            KID.as_ptr(),
            2,
            pubkey.as_ptr(),
            32,
        ));
        ok(scv2_client_handshake_start(
            p.config,
            KID.as_ptr(),
            2,
            null(),
            0,
            t1.as_mut_ptr(),
            t1.len(),
            &mut t1_len,
            &mut hs,
        ));
        assert_eq!(t1_len, scv2_type1_len(2, 0, 64));
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
            b"hi".as_ptr(),
            2,
            t130.as_mut_ptr(),
            t130.len(),
            &mut t130_len,
            &mut p.session,
        ));
        assert_eq!(t130_len, scv2_type130_len(22, 2, 64));
        ok(scv2_client_handshake_finish(
            hs,
            t130.as_ptr(),
            t130_len,
            NOW,
            &mut p.client,
        ));
        // Finished handshakes refuse further use.
        let mut again = null_mut();
        assert_eq!(
            scv2_client_handshake_finish(hs, t130.as_ptr(), t130_len, NOW, &mut again),
            SCV2_INVALID_STATE
        );
        assert!(again.is_null());
        scv2_client_handshake_free(hs);
        scv2_server_handshake_free(shs);
    }
    p
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
    let name = unsafe { std::ffi::CStr::from_ptr(scv2::ffi::scv2_backend()) };
    assert_eq!(name.to_str().unwrap(), scv2::primitives::BACKEND);
}
