//! Criterion benchmarks: SCv2 against the raw AEAD of the same backend and against snow.
//!
//! Every comparison is measured in the same run. Group names start with the backend
//! (`rustcrypto` or `aws-lc`), so `cargo bench` and `cargo bench --features aws-lc` keep separate
//! results. `scripts/bench-report.sh` runs both and writes BENCHMARKS.md.
//!
//! Do not build these with `-C target-cpu=native` (see BENCHMARKS.md).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use scv2::primitives::{AeadKey, BACKEND};
use scv2::primitives::{MlKemDecapsKey, MlKemEncapsKey, X25519Secret};
use scv2::{ClientHandshake, ReplayWindow, Suite, BODY_OFFSET_IN_PLACE};
use scv2_test_support::pair::{Options, Pair};

const NOW: u64 = 1_800_000_000_000;
const CTX: &[u8] = b"POST /web/v1/system/auth/password/init";
const SIZES: [(usize, &str); 4] = [
    (64, "64B"),
    (1024, "1KiB"),
    (16384, "16KiB"),
    (1 << 20, "1MiB"),
];

/// Sessions with padding block 1 (marker only), so that scv2 and the raw AEAD encrypt the same
/// number of bytes (plus the one marker byte): the shared harness's pair, with a 22-character
/// session id (the length of a generated one) and no expiry.
fn setup() -> Pair {
    Options {
        seed: 7,
        key_id: "bench".to_owned(),
        key_created_at_ms: 0,
        client_block: 1,
        server_block: 1,
        session_id: "0123456789abcdefghijkl".to_owned(),
        expires_at_ms: u64::MAX,
        now_ms: NOW,
        ..Options::default()
    }
    .build()
}

/// The raw-AEAD baseline uses associated data of the same length as scv2's:
/// `"SC" 02 type | u8 len(sid) | sid | u16 len(ctx) | ctx`.
fn raw_aad(sid_len: usize) -> Vec<u8> {
    vec![0x5a; 4 + 1 + sid_len + 2 + CTX.len()]
}

fn envelopes(c: &mut Criterion) {
    let s = setup();
    let raw = AeadKey::new(&[0x11; 32]);
    let aad = raw_aad(s.client.session_id().len());
    let nonce = [0x22u8; 12];

    for (size, label) in SIZES {
        let mut g = c.benchmark_group(format!("{BACKEND}/envelope/{label}"));
        g.throughput(Throughput::Bytes(size as u64));
        if size >= 1 << 20 {
            g.sample_size(20);
        }
        let body = vec![0x61u8; size];

        // --- raw AEAD, in place, same plaintext length as scv2's inner (body + marker).
        let mut buf = vec![0u8; size + 1];
        g.bench_function("raw_aead_seal", |b| {
            b.iter(|| {
                black_box(
                    raw.seal_in_place(&nonce, &aad, black_box(&mut buf))
                        .unwrap(),
                )
            })
        });
        let mut ct = vec![0x61u8; size + 1];
        let tag = raw.seal_in_place(&nonce, &aad, &mut ct).unwrap();
        g.bench_function("raw_aead_open", |b| {
            b.iter_batched_ref(
                || ct.clone(),
                |buf| raw.open_in_place(&nonce, &aad, buf, &tag).unwrap(),
                BatchSize::LargeInput,
            )
        });

        // --- scv2 request: seal in place (client), open in place (server).
        let total = s.client.sealed_len(size);
        let mut env = vec![0u8; total];
        env[BODY_OFFSET_IN_PLACE..BODY_OFFSET_IN_PLACE + size].copy_from_slice(&body);
        g.bench_function("scv2_seal_request_in_place", |b| {
            b.iter(|| {
                // The body stays in place; the session's sequence counter advances.
                s.client
                    .seal_request_in_place(CTX, black_box(&mut env), size, NOW)
                    .unwrap()
            })
        });
        g.bench_function("scv2_open_request_in_place", |b| {
            b.iter_batched_ref(
                || {
                    let mut out = vec![0u8; total];
                    s.client.seal_request(CTX, &body, NOW, &mut out).unwrap();
                    out
                },
                |env| s.session.open_request_in_place(CTX, env, NOW).unwrap(),
                BatchSize::LargeInput,
            )
        });

        // --- scv2 request, copying variants (caller buffers).
        let mut out = vec![0u8; total];
        g.bench_function("scv2_seal_request", |b| {
            b.iter(|| {
                s.client
                    .seal_request(CTX, black_box(&body), NOW, &mut out)
                    .unwrap()
            })
        });
        let mut plain = vec![0u8; total];
        g.bench_function("scv2_open_request", |b| {
            b.iter_batched_ref(
                || {
                    let mut out = vec![0u8; total];
                    s.client.seal_request(CTX, &body, NOW, &mut out).unwrap();
                    out
                },
                |env| s.session.open_request(CTX, env, NOW, &mut plain).unwrap(),
                BatchSize::LargeInput,
            )
        });

        // --- scv2 response: seal (server, needs a fresh slot), open (client, needs its token).
        let mut resp = vec![0u8; total];
        g.bench_function("scv2_seal_response", |b| {
            b.iter_batched(
                || {
                    let mut env = vec![0u8; s.client.sealed_len(0)];
                    let (_, n) = s.client.seal_request(CTX, b"", NOW, &mut env).unwrap();
                    let mut p = vec![0u8; n];
                    s.session
                        .open_request(CTX, &env[..n], NOW, &mut p)
                        .unwrap()
                        .0
                },
                |slot| {
                    s.session
                        .seal_response(slot, CTX, &body, &mut resp)
                        .unwrap()
                },
                BatchSize::SmallInput,
            )
        });
        g.bench_function("scv2_open_response_in_place", |b| {
            b.iter_batched_ref(
                || {
                    let mut env = vec![0u8; s.client.sealed_len(0)];
                    let (pending, n) = s.client.seal_request(CTX, b"", NOW, &mut env).unwrap();
                    let mut p = vec![0u8; n];
                    let (slot, _) = s.session.open_request(CTX, &env[..n], NOW, &mut p).unwrap();
                    let mut out = vec![0u8; total];
                    s.session.seal_response(slot, CTX, &body, &mut out).unwrap();
                    (Some(pending), out)
                },
                |(pending, env)| {
                    let p = pending.take().unwrap();
                    s.client.open_response_in_place(p, CTX, env).unwrap()
                },
                BatchSize::LargeInput,
            )
        });
        g.finish();
    }
}

fn handshakes(c: &mut Criterion) {
    let s = setup();
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut g = c.benchmark_group(format!("{BACKEND}/handshake"));
    g.bench_function("scv2_full_handshake", |b| {
        b.iter(|| {
            let (hs, kx) = ClientHandshake::start(&s.config, "bench", b"", &mut rng).unwrap();
            let (session, kxr) = s
                .server
                .accept(&kx, NOW)
                .unwrap()
                .respond("bench-session", u64::MAX, b"", &mut rng)
                .unwrap();
            let client = hs.finish(&kxr, NOW).unwrap();
            black_box((session, client))
        })
    });

    let params: snow::params::NoiseParams = "Noise_NK_25519_AESGCM_SHA256".parse().unwrap();
    let responder_keys = snow::Builder::new(params.clone())
        .generate_keypair()
        .unwrap();
    g.bench_function("snow_nk_full_handshake", |b| {
        b.iter(|| {
            let mut i = snow::Builder::new(params.clone())
                .remote_public_key(&responder_keys.public)
                .unwrap()
                .build_initiator()
                .unwrap();
            let mut r = snow::Builder::new(params.clone())
                .local_private_key(&responder_keys.private)
                .unwrap()
                .build_responder()
                .unwrap();
            let mut m1 = [0u8; 256];
            let mut m2 = [0u8; 256];
            let mut p = [0u8; 256];
            let n1 = i.write_message(&[], &mut m1).unwrap();
            r.read_message(&m1[..n1], &mut p).unwrap();
            let n2 = r.write_message(&[], &mut m2).unwrap();
            i.read_message(&m2[..n2], &mut p).unwrap();
            black_box((
                i.into_transport_mode().unwrap(),
                r.into_transport_mode().unwrap(),
            ))
        })
    });
    g.finish();
}

/// The full handshake of each suite (client start, server accept and respond, client finish) in
/// one group, so that the hybrid suite's cost is read against the X25519 suite's in the same run;
/// with the primitives the hybrid suite adds, measured in the same run too.
fn handshake_suites(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("{BACKEND}/handshake_suites"));
    for suite in Suite::ALL {
        let (server, config) = Options {
            seed: 11,
            suite,
            key_id: "bench".to_owned(),
            key_created_at_ms: 0,
            now_ms: NOW,
            ..Options::default()
        }
        .server_and_config();
        let mut rng = ChaCha20Rng::seed_from_u64(12);
        let name = match suite {
            Suite::X25519 => "x25519",
            _ => "x25519mlkem768",
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                let (hs, kx) = ClientHandshake::start(&config, "bench", b"{}", &mut rng).unwrap();
                let (session, kxr) = server
                    .accept(&kx, NOW)
                    .unwrap()
                    .respond("0123456789abcdefghijkl", u64::MAX, b"", &mut rng)
                    .unwrap();
                let client = hs.finish(&kxr, NOW).unwrap();
                black_box((session, client))
            })
        });
    }
    // The primitives, as the handshake uses them (both sides of one hybrid handshake: one
    // ephemeral key, two encapsulations, two decapsulations, one key check, four X25519).
    let mut rng = ChaCha20Rng::seed_from_u64(13);
    let x = X25519Secret::random(&mut rng).unwrap();
    let peer = X25519Secret::random(&mut rng).unwrap().public_key();
    let dk = MlKemDecapsKey::from_seed([0x42; 64]);
    let ek_bytes = dk.encaps_key_bytes();
    let ek = MlKemEncapsKey::from_bytes(&ek_bytes).unwrap();
    let (ct, _) = ek.encapsulate(&mut rng).unwrap();
    g.bench_function("prim_x25519_dh", |b| {
        b.iter(|| black_box(x.diffie_hellman(black_box(&peer)).unwrap()))
    });
    g.bench_function("prim_mlkem768_keygen_ephemeral", |b| {
        b.iter(|| black_box(MlKemDecapsKey::generate_ephemeral(&mut rng).unwrap()))
    });
    g.bench_function("prim_mlkem768_ek_check", |b| {
        b.iter(|| black_box(MlKemEncapsKey::from_bytes(black_box(&ek_bytes)).unwrap()))
    });
    g.bench_function("prim_mlkem768_encaps", |b| {
        b.iter(|| black_box(ek.encapsulate(&mut rng).unwrap()))
    });
    g.bench_function("prim_mlkem768_decaps", |b| {
        b.iter(|| black_box(dk.decapsulate(black_box(&ct)).unwrap()))
    });
    g.finish();
}

fn transport_vs_snow(c: &mut Criterion) {
    let s = setup();
    let params: snow::params::NoiseParams = "Noise_NK_25519_AESGCM_SHA256".parse().unwrap();
    let keys = snow::Builder::new(params.clone())
        .generate_keypair()
        .unwrap();
    let mut i = snow::Builder::new(params.clone())
        .remote_public_key(&keys.public)
        .unwrap()
        .build_initiator()
        .unwrap();
    let mut r = snow::Builder::new(params)
        .local_private_key(&keys.private)
        .unwrap()
        .build_responder()
        .unwrap();
    let mut m = [0u8; 256];
    let mut p = [0u8; 256];
    let n = i.write_message(&[], &mut m).unwrap();
    r.read_message(&m[..n], &mut p).unwrap();
    let n = r.write_message(&[], &mut m).unwrap();
    i.read_message(&m[..n], &mut p).unwrap();
    let mut i = i.into_transport_mode().unwrap();
    let mut r = r.into_transport_mode().unwrap();

    for (size, label) in [(1024usize, "1KiB"), (16384, "16KiB")] {
        let mut g = c.benchmark_group(format!("{BACKEND}/transport/{label}"));
        g.throughput(Throughput::Bytes(size as u64));
        let body = vec![0x61u8; size];
        let mut wire = vec![0u8; size + 64];
        let mut out = vec![0u8; size + 64];
        g.bench_function("snow_write_read", |b| {
            b.iter(|| {
                let n = i.write_message(black_box(&body), &mut wire).unwrap();
                r.read_message(&wire[..n], &mut out).unwrap()
            })
        });
        let total = s.client.sealed_len(size);
        let mut env = vec![0u8; total];
        g.bench_function("scv2_seal_open", |b| {
            b.iter(|| {
                env[BODY_OFFSET_IN_PLACE..BODY_OFFSET_IN_PLACE + size].copy_from_slice(&body);
                let (_, n) = s
                    .client
                    .seal_request_in_place(CTX, &mut env, size, NOW)
                    .unwrap();
                s.session
                    .open_request_in_place(CTX, &mut env[..n], NOW)
                    .unwrap()
            })
        });
        g.finish();
    }
}

fn replay_window(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("{BACKEND}/replay_window"));
    let mut w = ReplayWindow::new(1024).unwrap();
    let mut n = 0u64;
    g.bench_function("check_and_mark_in_order", |b| {
        b.iter(|| {
            n += 1;
            w.check_and_mark(black_box(n)).unwrap()
        })
    });
    let mut w = ReplayWindow::new(1024).unwrap();
    let mut n = 1000u64;
    g.bench_function("check_and_mark_reordered", |b| {
        b.iter(|| {
            // Pairs arrive swapped: n+1 before n.
            n += 2;
            w.check_and_mark(black_box(n + 1)).unwrap();
            w.check_and_mark(black_box(n)).unwrap()
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    envelopes,
    handshakes,
    handshake_suites,
    transport_vs_snow,
    replay_window
);
criterion_main!(benches);
