//! The seal/open hot path of the C ABI does not allocate: the harness's counting global
//! allocator watches the `extern "C"` functions (copying and in-place variants, both directions,
//! the size helpers, `SCV2_BUFFER_TOO_SMALL` answers and `scv2_client_forget_request`) after
//! setup.

use std::ptr;

use scv2_ffi::*;
use scv2_test_support::alloc::{allocations_in, Counting};
use scv2_test_support::c_pair::{ok, CPair};

#[global_allocator]
static GLOBAL: Counting = Counting;

const NOW: u64 = scv2_test_support::NOW;

#[test]
fn hot_path_does_not_allocate() {
    // Setup (allocates freely).
    let p = CPair::new();
    let (client, session) = (p.client, p.session);

    let ctx = b"POST /web/v1/system/auth/password/init";
    let body = br#"{"sessionId":"init-session-1","password":"NewP@ssw0rd"}"#;
    let answer = br#"{"success":true,"code":"2000"}"#;
    let mut env = [0u8; 512];
    let mut plain = [0u8; 512];
    let mut resp = [0u8; 512];
    let mut out = [0u8; 512];
    let rounds = if cfg!(miri) { 2 } else { 200 };

    let ((), allocs) = allocations_in(|| {
        for i in 0..rounds {
            let (mut env_len, mut plain_len, mut resp_len, mut out_len) =
                (0usize, 0usize, 0usize, 0usize);
            let (mut off, mut cseq, mut sseq) = (0usize, 0u64, 0u64);
            // SAFETY: valid locals and live handles.
            unsafe {
                if i % 2 == 0 {
                    ok(scv2_client_seal_request(
                        client,
                        ctx.as_ptr(),
                        ctx.len(),
                        body.as_ptr(),
                        body.len(),
                        NOW,
                        env.as_mut_ptr(),
                        env.len(),
                        &mut env_len,
                        &mut cseq,
                    ));
                    ok(scv2_server_open_request(
                        session,
                        ctx.as_ptr(),
                        ctx.len(),
                        env.as_ptr(),
                        env_len,
                        NOW,
                        plain.as_mut_ptr(),
                        plain.len(),
                        &mut plain_len,
                        &mut sseq,
                    ));
                    assert_eq!(&plain[..plain_len], body);
                    ok(scv2_server_seal_response(
                        session,
                        sseq,
                        ctx.as_ptr(),
                        ctx.len(),
                        answer.as_ptr(),
                        answer.len(),
                        resp.as_mut_ptr(),
                        resp.len(),
                        &mut resp_len,
                    ));
                    ok(scv2_client_open_response(
                        client,
                        cseq,
                        ctx.as_ptr(),
                        ctx.len(),
                        resp.as_ptr(),
                        resp_len,
                        out.as_mut_ptr(),
                        out.len(),
                        &mut out_len,
                    ));
                    assert_eq!(&out[..out_len], answer);
                } else {
                    env[SCV2_BODY_OFFSET..SCV2_BODY_OFFSET + body.len()].copy_from_slice(body);
                    ok(scv2_client_seal_request_in_place(
                        client,
                        ctx.as_ptr(),
                        ctx.len(),
                        env.as_mut_ptr(),
                        env.len(),
                        body.len(),
                        NOW,
                        &mut env_len,
                        &mut cseq,
                    ));
                    ok(scv2_server_open_request_in_place(
                        session,
                        ctx.as_ptr(),
                        ctx.len(),
                        env.as_mut_ptr(),
                        env_len,
                        NOW,
                        &mut off,
                        &mut plain_len,
                        &mut sseq,
                    ));
                    assert_eq!(&env[off..off + plain_len], body);
                    resp[SCV2_BODY_OFFSET..SCV2_BODY_OFFSET + answer.len()].copy_from_slice(answer);
                    ok(scv2_server_seal_response_in_place(
                        session,
                        sseq,
                        ctx.as_ptr(),
                        ctx.len(),
                        resp.as_mut_ptr(),
                        resp.len(),
                        answer.len(),
                        &mut resp_len,
                    ));
                    ok(scv2_client_open_response_in_place(
                        client,
                        cseq,
                        ctx.as_ptr(),
                        ctx.len(),
                        resp.as_mut_ptr(),
                        resp_len,
                        &mut off,
                        &mut out_len,
                    ));
                    assert_eq!(&resp[off..off + out_len], answer);
                }
                // The size helpers and a BUFFER_TOO_SMALL answer allocate nothing either.
                assert!(scv2_client_session_sealed_len(client, body.len()) > 0);
                assert_eq!(
                    scv2_client_seal_request(
                        client,
                        ctx.as_ptr(),
                        ctx.len(),
                        body.as_ptr(),
                        body.len(),
                        NOW,
                        ptr::null_mut(),
                        0,
                        &mut env_len,
                        &mut cseq,
                    ),
                    SCV2_BUFFER_TOO_SMALL
                );
                // Forgetting a request allocates nothing.
                ok(scv2_client_seal_request(
                    client,
                    ctx.as_ptr(),
                    ctx.len(),
                    body.as_ptr(),
                    body.len(),
                    NOW,
                    env.as_mut_ptr(),
                    env.len(),
                    &mut env_len,
                    &mut cseq,
                ));
                ok(scv2_client_forget_request(client, cseq));
            }
        }
    });
    drop(p);
    assert_eq!(allocs, 0, "the hot path allocated {allocs} times");
}
