//! The seal/open hot path of the C ABI does not allocate: a counting global allocator watches the
//! `extern "C"` functions (copying and in-place variants, both directions) after setup.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use scv2::ffi::*;

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only adds a counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::SeqCst) {
            ALLOCS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, layout) }
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::SeqCst) {
            ALLOCS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const NOW: u64 = 1_764_400_000_000;
const KID: &[u8] = b"k1";

fn ok(s: scv2_status) {
    assert_eq!(s, SCV2_OK, "status {s}");
}

#[test]
fn hot_path_does_not_allocate() {
    // Setup (allocates freely).
    let mut server = ptr::null_mut();
    let mut config = ptr::null_mut();
    let mut hs = ptr::null_mut();
    let mut shs = ptr::null_mut();
    let mut client = ptr::null_mut();
    let mut session = ptr::null_mut();
    let mut pubkey = [0u8; 32];
    let mut n = 0usize;
    let mut t1 = [0u8; 256];
    let mut t130 = [0u8; 256];
    let (mut t1_len, mut t130_len) = (0usize, 0usize);
    // SAFETY: every pointer below is a valid local or a handle from the library.
    unsafe {
        ok(scv2_server_new(0, 0, &mut server));
        ok(scv2_server_generate_key(
            server,
            KID.as_ptr(),
            KID.len(),
            NOW,
            0,
        ));
        ok(scv2_server_public_key(
            server,
            KID.as_ptr(),
            KID.len(),
            pubkey.as_mut_ptr(),
            32,
            &mut n,
        ));
        ok(scv2_client_config_new(&mut config));
        ok(scv2_client_config_pin(
            config,
            KID.as_ptr(),
            KID.len(),
            pubkey.as_ptr(),
            32,
        ));
        ok(scv2_client_handshake_start(
            config,
            KID.as_ptr(),
            KID.len(),
            ptr::null(),
            0,
            t1.as_mut_ptr(),
            t1.len(),
            &mut t1_len,
            &mut hs,
        ));
        ok(scv2_server_accept(
            server,
            t1.as_ptr(),
            t1_len,
            NOW,
            &mut shs,
        ));
        ok(scv2_server_handshake_respond(
            shs,
            ptr::null(),
            0,
            NOW + 600_000,
            ptr::null(),
            0,
            t130.as_mut_ptr(),
            t130.len(),
            &mut t130_len,
            &mut session,
        ));
        ok(scv2_client_handshake_finish(
            hs,
            t130.as_ptr(),
            t130_len,
            NOW,
            &mut client,
        ));
    }

    let ctx = b"POST /web/v1/system/auth/password/init";
    let body = br#"{"sessionId":"init-session-1","password":"NewP@ssw0rd"}"#;
    let answer = br#"{"success":true,"code":"2000"}"#;
    let mut env = [0u8; 512];
    let mut plain = [0u8; 512];
    let mut resp = [0u8; 512];
    let mut out = [0u8; 512];
    let rounds = if cfg!(miri) { 2 } else { 200 };

    ALLOCS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
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
        }
    }
    COUNTING.store(false, Ordering::SeqCst);
    let allocs = ALLOCS.load(Ordering::SeqCst);

    // SAFETY: live handles, freed once.
    unsafe {
        scv2_client_session_free(client);
        scv2_server_session_free(session);
        scv2_client_handshake_free(hs);
        scv2_server_handshake_free(shs);
        scv2_client_config_free(config);
        scv2_server_free(server);
    }
    assert_eq!(allocs, 0, "the hot path allocated {allocs} times");
}
