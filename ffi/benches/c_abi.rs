//! The C ABI's cost over the Rust API: a whole round trip at 64 B (client seal, server open,
//! server seal, client open: four calls) through the `extern "C"` functions and through the Rust
//! API, measured in the same run, on pairs from the shared harness with the same settings
//! (padding block 1 on both sides, a 22-character session id). Per-call overhead =
//! (C ABI − Rust) / 4.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

use scv2::primitives::BACKEND;
use scv2_test_support::c_pair::CPair;
use scv2_test_support::pair::Pair;

const CTX: &[u8] = b"POST /web/v1/system/auth/password/init";

fn c_abi_overhead(c: &mut Criterion) {
    let body = [0x61u8; 64];
    let mut g = c.benchmark_group(format!("{BACKEND}/c_abi/64B"));
    let mut env = [0u8; 256];
    let mut plain = [0u8; 256];
    let mut resp = [0u8; 256];
    let mut out = [0u8; 256];

    let p = Pair::with(|o| {
        o.client_block = 1;
        o.server_block = 1;
        o.session_id = "0123456789abcdefghijkl".to_owned();
    });
    let now = p.now_ms;
    g.bench_function("rust_round_trip", |b| {
        b.iter(|| {
            let (pending, n) = p.client.seal_request(CTX, &body, now, &mut env).unwrap();
            let (slot, _) = p
                .session
                .open_request(CTX, &env[..n], now, &mut plain)
                .unwrap();
            let m = p
                .session
                .seal_response(slot, CTX, &body, &mut resp)
                .unwrap();
            black_box(
                p.client
                    .open_response(pending, CTX, &resp[..m], &mut out)
                    .unwrap(),
            )
        })
    });

    let h = CPair::with(1, 1, 0);
    g.bench_function("c_abi_round_trip", |b| {
        b.iter(|| {
            let (n, seq) = h.seal_request(CTX, &body, &mut env).unwrap();
            let (_, sseq) = h.open_request(CTX, &env[..n], &mut plain).unwrap();
            let m = h.seal_response(sseq, CTX, &body, &mut resp).unwrap();
            black_box(h.open_response(seq, CTX, &resp[..m], &mut out).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, c_abi_overhead);
criterion_main!(benches);
