//! The C ABI's cost over the Rust API: a whole round trip at 64 B (client seal, server open,
//! server seal, client open: four calls) through `extern "C"` functions and through the Rust API,
//! measured in the same run. Per-call overhead = (C ABI − Rust) / 4.

use std::hint::black_box;
use std::ptr;

use criterion::{criterion_group, criterion_main, Criterion};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use scv2::ffi::*;
use scv2::primitives::BACKEND;
use scv2::{
    max_open_len, ClientConfig, ClientHandshake, PinnedKey, Server, ServerConfig, ServerKey,
};

const NOW: u64 = 1_800_000_000_000;
const KID: &[u8] = b"bench";
const CTX: &[u8] = b"POST /web/v1/system/auth/password/init";

fn ok(s: scv2_status) {
    assert_eq!(s, SCV2_OK, "status {s}");
}

struct Handles {
    client: *mut scv2_client_session,
    session: *mut scv2_server_session,
    server: *mut scv2_server,
    config: *mut scv2_client_config,
}

impl Drop for Handles {
    fn drop(&mut self) {
        // SAFETY: live handles created in `c_setup`, freed exactly once here.
        unsafe {
            scv2_client_session_free(self.client);
            scv2_server_session_free(self.session);
            scv2_server_free(self.server);
            scv2_client_config_free(self.config);
        }
    }
}

/// Padding block 1 on both sides, as in the Rust setup below.
fn c_setup() -> Handles {
    let mut server = ptr::null_mut();
    let mut config = ptr::null_mut();
    let mut hs = ptr::null_mut();
    let mut shs = ptr::null_mut();
    let mut client = ptr::null_mut();
    let mut session = ptr::null_mut();
    let mut public = [0u8; 32];
    let mut n = 0usize;
    let mut t1 = [0u8; 256];
    let mut t130 = [0u8; 256];
    let (mut t1_len, mut t130_len) = (0usize, 0usize);
    // SAFETY: every pointer is a valid local or a live handle from the library.
    unsafe {
        ok(scv2_server_new(1, 0, &mut server));
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
            public.as_mut_ptr(),
            32,
            &mut n,
        ));
        ok(scv2_client_config_new(&mut config));
        ok(scv2_client_config_pin(
            config,
            KID.as_ptr(),
            KID.len(),
            public.as_ptr(),
            32,
        ));
        ok(scv2_client_config_set_padding_block(config, 1));
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
            u64::MAX,
            ptr::null(),
            0,
            t130.as_mut_ptr(),
            t130.len(),
            &mut t130_len,
            &mut session,
        ));
        scv2_server_handshake_free(shs);
        ok(scv2_client_handshake_finish(
            hs,
            t130.as_ptr(),
            t130_len,
            NOW,
            &mut client,
        ));
        scv2_client_handshake_free(hs);
    }
    Handles {
        client,
        session,
        server,
        config,
    }
}

fn c_abi_overhead(c: &mut Criterion) {
    let body = [0x61u8; 64];
    let mut g = c.benchmark_group(format!("{BACKEND}/c_abi/64B"));

    // Rust API.
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut server = Server::new(ServerConfig::default().with_padding_block(1).unwrap());
    let key = ServerKey::generate("bench", 0, None, &mut rng).unwrap();
    let mut config = ClientConfig::new();
    config.pin(PinnedKey::new("bench", *key.public_key()).unwrap());
    config.set_padding_block(1).unwrap();
    server.add_key(key).unwrap();
    let (hs, kx) = ClientHandshake::start(&config, "bench", b"", &mut rng).unwrap();
    let (session, kxr) = server
        .accept(&kx, NOW)
        .unwrap()
        .respond("0123456789abcdefghijkl", u64::MAX, b"", &mut rng)
        .unwrap();
    let client = hs.finish(&kxr, NOW).unwrap();
    let mut env = [0u8; 256];
    let mut plain = [0u8; 256];
    let mut resp = [0u8; 256];
    let mut out = [0u8; 256];
    g.bench_function("rust_round_trip", |b| {
        b.iter(|| {
            let (p, n) = client.seal_request(CTX, &body, NOW, &mut env).unwrap();
            let (slot, _) = session
                .open_request(CTX, &env[..n], NOW, &mut plain[..max_open_len(n)])
                .unwrap();
            let m = session.seal_response(slot, CTX, &body, &mut resp).unwrap();
            black_box(client.open_response(p, CTX, &resp[..m], &mut out).unwrap())
        })
    });

    // The same four calls through the C ABI.
    let h = c_setup();
    g.bench_function("c_abi_round_trip", |b| {
        b.iter(|| {
            let (mut n, mut pn, mut m, mut on) = (0usize, 0usize, 0usize, 0usize);
            let (mut cseq, mut sseq) = (0u64, 0u64);
            // SAFETY: live handles; every buffer is a valid local with its length.
            unsafe {
                ok(scv2_client_seal_request(
                    h.client,
                    CTX.as_ptr(),
                    CTX.len(),
                    body.as_ptr(),
                    body.len(),
                    NOW,
                    env.as_mut_ptr(),
                    env.len(),
                    &mut n,
                    &mut cseq,
                ));
                ok(scv2_server_open_request(
                    h.session,
                    CTX.as_ptr(),
                    CTX.len(),
                    env.as_ptr(),
                    n,
                    NOW,
                    plain.as_mut_ptr(),
                    plain.len(),
                    &mut pn,
                    &mut sseq,
                ));
                ok(scv2_server_seal_response(
                    h.session,
                    sseq,
                    CTX.as_ptr(),
                    CTX.len(),
                    body.as_ptr(),
                    body.len(),
                    resp.as_mut_ptr(),
                    resp.len(),
                    &mut m,
                ));
                ok(scv2_client_open_response(
                    h.client,
                    cseq,
                    CTX.as_ptr(),
                    CTX.len(),
                    resp.as_ptr(),
                    m,
                    out.as_mut_ptr(),
                    out.len(),
                    &mut on,
                ));
            }
            black_box(on)
        })
    });
    g.finish();
}

criterion_group!(benches, c_abi_overhead);
criterion_main!(benches);
