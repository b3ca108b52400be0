//! Paired timings of the full handshake of each suite (ignored; run in release mode on a quiet
//! machine, or on a loaded one: the pairing is what makes the ratio usable there).
//!
//! Criterion (`benches/scv2.rs`, group `handshake_suites`) measures each suite in its own time
//! window, so load that comes and goes between the windows moves the ratio. Here the two
//! handshakes (and the primitives the hybrid suite adds) run round-robin, one call of each per
//! round, and the medians over the rounds are compared:
//!
//! `cargo test --release --test hybrid_timing -- --ignored --nocapture` (add `--features aws-lc`
//! for the other backend; `SCV2_TIMING_ROUNDS` sets the rounds, default 2001).

use std::hint::black_box;
use std::time::Instant;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use scv2::primitives::{MlKemDecapsKey, MlKemEncapsKey, X25519Secret};
use scv2::{ClientHandshake, Suite};
use scv2_test_support::pair::Options;

const NOW: u64 = 1_800_000_000_000;

type Op<'a> = (&'static str, Box<dyn FnMut() + 'a>);

/// Median ns per call of each op, round-robin.
fn medians(ops: &mut [Op<'_>], rounds: usize, batch: usize) -> Vec<f64> {
    let mut samples = vec![Vec::with_capacity(rounds); ops.len()];
    for (_, f) in ops.iter_mut() {
        for _ in 0..batch {
            f();
        }
    }
    for _ in 0..rounds {
        for (i, (_, f)) in ops.iter_mut().enumerate() {
            let t = Instant::now();
            for _ in 0..batch {
                f();
            }
            samples[i].push(t.elapsed().as_nanos() as f64 / batch as f64);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

fn handshake_op(suite: Suite) -> Box<dyn FnMut()> {
    let (server, config) = Options {
        seed: 21,
        suite,
        key_id: "bench".to_owned(),
        key_created_at_ms: 0,
        now_ms: NOW,
        ..Options::default()
    }
    .server_and_config();
    let mut rng = ChaCha20Rng::seed_from_u64(22);
    Box::new(move || {
        let (hs, kx) = ClientHandshake::start(&config, "bench", b"{}", &mut rng).unwrap();
        let (session, kxr) = server
            .accept(&kx, NOW)
            .unwrap()
            .respond("0123456789abcdefghijkl", u64::MAX, b"", &mut rng)
            .unwrap();
        black_box((session, hs.finish(&kxr, NOW).unwrap()));
    })
}

#[test]
#[ignore = "timing: run in release mode with --ignored --nocapture"]
fn paired_handshake_timings() {
    let mut rng = ChaCha20Rng::seed_from_u64(23);
    let x = X25519Secret::random(&mut rng).unwrap();
    let peer = X25519Secret::random(&mut rng).unwrap().public_key();
    let dk = MlKemDecapsKey::from_seed([0x42; 64]);
    let ek_bytes = dk.encaps_key_bytes();
    let ek = MlKemEncapsKey::from_bytes(&ek_bytes).unwrap();
    let (ct, _) = ek.encapsulate(&mut rng).unwrap();
    let mut r2 = ChaCha20Rng::seed_from_u64(24);
    let mut r3 = ChaCha20Rng::seed_from_u64(25);
    let mut ops: Vec<Op<'_>> = vec![
        (
            "handshake X25519 suite (both sides)",
            handshake_op(Suite::X25519),
        ),
        (
            "handshake hybrid suite (both sides)",
            handshake_op(Suite::X25519MlKem768),
        ),
        (
            "X25519 DH",
            Box::new(|| {
                black_box(x.diffie_hellman(black_box(&peer)).unwrap());
            }),
        ),
        (
            "ML-KEM-768 ephemeral keygen",
            Box::new(move || {
                black_box(MlKemDecapsKey::generate_ephemeral(&mut r2).unwrap());
            }),
        ),
        (
            "ML-KEM-768 ek check",
            Box::new(|| {
                black_box(MlKemEncapsKey::from_bytes(black_box(&ek_bytes)).unwrap());
            }),
        ),
        (
            "ML-KEM-768 encaps",
            Box::new(move || {
                black_box(ek.encapsulate(&mut r3).unwrap());
            }),
        ),
        (
            "ML-KEM-768 decaps",
            Box::new(|| {
                black_box(dk.decapsulate(black_box(&ct)).unwrap());
            }),
        ),
    ];
    let rounds = std::env::var("SCV2_TIMING_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2001);
    // One call per sample: on a machine shared with other builds, a longer sample is more likely
    // to contain a preemption, which would bias the median against the longer operation.
    let med = medians(&mut ops, rounds, 1);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "backend {} ({rounds} rounds, one call of each per round, medians; load average {})",
        scv2::primitives::BACKEND,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for ((name, _), m) in ops.iter().zip(&med) {
        println!("  {name:40} {:9.1} us", m / 1000.0);
    }
    let (x_hs, pq_hs) = (med[0], med[1]);
    // What the hybrid suite adds to one handshake, both sides: one ephemeral key, two
    // encapsulations, two decapsulations, one key check.
    let kem = med[3] + 2.0 * med[5] + 2.0 * med[6] + med[4];
    println!("  hybrid / X25519 handshake = {:.2}x", pq_hs / x_hs);
    println!(
        "  floor: X25519 handshake + ML-KEM work = {:.1} us = {:.2}x (the rest is hashing ~3.5 KB more)",
        (x_hs + kem) / 1000.0,
        (x_hs + kem) / x_hs
    );
    assert!(pq_hs > x_hs, "the hybrid handshake does strictly more work");
}
