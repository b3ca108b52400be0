//! The hot paths one operation at a time, for two kinds of measurement that a shared, noisy
//! machine does not blur:
//!
//! - instruction counts: `scripts/bench-instructions.sh` runs `hot_paths OP N [LEN]` under
//!   `valgrind --tool=callgrind`, counting only inside [`measured`] (N runs of OP with a LEN-byte
//!   body), and divides by N;
//! - paired timings: `hot_paths paired A B BLOCKS N [LEN]` (run by `scripts/bench-paired.sh`) times
//!   BLOCKS alternating blocks of N runs of A, then N runs of B, and prints the median of the
//!   per-block differences B − A and the fastest block of each. Load slows both neighbours of a
//!   pair alike, and only ever adds time, so the paired median and the minima stay put where a
//!   criterion run (A for seconds, then B for seconds) drifts with the load.
//!
//! Run alone (`cargo bench -p scv2-ffi --bench hot_paths`), it only checks that every operation
//! works.
//!
//! Operations (padding block 1, a 22-character session id, ctx
//! `POST /web/v1/system/auth/password/init`; envelopes to open are prepared outside [`measured`]):
//! - `raw_seal`, `raw_open`: the backend's AES-256-GCM alone, with associated data of the same
//!   length as scv2's;
//! - `seal_request`, `seal_request_in_place`, `open_request`, `open_request_in_place`: the Rust API;
//! - `rust_round_trip`, `c_round_trip`: client seal, server open, server seal, client open, through
//!   the Rust API and through the C ABI (per-call overhead = difference / 4);
//! - `handshake`: client start, server accept and respond, client finish (both sides).

use std::hint::black_box;
use std::time::Instant;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use scv2::primitives::AeadKey;
use scv2::{ClientHandshake, BODY_OFFSET_IN_PLACE};
use scv2_test_support::c_pair::CPair;
use scv2_test_support::pair::Pair;

const CTX: &[u8] = b"POST /web/v1/system/auth/password/init";
const SID: &str = "0123456789abcdefghijkl";

/// The operations `measured` can run.
const OPS: [&str; 9] = [
    "raw_seal",
    "raw_open",
    "seal_request",
    "seal_request_in_place",
    "open_request",
    "open_request_in_place",
    "rust_round_trip",
    "c_round_trip",
    "handshake",
];

/// Everything an operation needs, prepared before counting starts.
struct World {
    pair: Pair,
    cpair: CPair,
    raw: AeadKey,
    aad: Vec<u8>,
    body: Vec<u8>,
    /// Pre-sealed request envelopes (for the opens) or raw ciphertexts, one per run.
    inputs: Vec<Vec<u8>>,
    /// The next unused entry of `inputs`.
    next: usize,
    tag: [u8; 16],
    /// Scratch buffers of the copying calls.
    env: Vec<u8>,
    plain: Vec<u8>,
    resp: Vec<u8>,
    out: Vec<u8>,
}

/// A world for `n` runs of `op` with a `len`-byte body.
fn world(op: &str, n: usize, len: usize) -> World {
    let pair = Pair::with(|o| {
        o.client_block = 1;
        o.server_block = 1;
        o.session_id = SID.to_owned();
        o.expires_at_ms = u64::MAX;
    });
    let cpair = CPair::with(1, 1, 0);
    let raw = AeadKey::new(&[7u8; 32]);
    let aad = vec![0x5a; scv2::wire::data_aad_len(SID.len(), CTX.len())];
    let body = vec![0x61u8; len];
    let mut tag = [0u8; 16];
    let inputs = match op {
        "open_request" | "open_request_in_place" => {
            (0..n).map(|_| pair.seal(CTX, &body).1).collect()
        }
        "raw_open" => (0..n)
            .map(|_| {
                let mut ct = vec![0x61u8; len + 1];
                tag = raw.seal_in_place(&[1u8; 12], &aad, &mut ct).unwrap();
                ct
            })
            .collect(),
        _ => Vec::new(),
    };
    let cap = pair
        .client
        .sealed_len(len)
        .max(pair.session.sealed_len(len));
    World {
        pair,
        cpair,
        raw,
        aad,
        body,
        inputs,
        next: 0,
        tag,
        env: vec![0; cap],
        plain: vec![0; cap],
        resp: vec![0; cap],
        out: vec![0; cap],
    }
}

/// The counted loop: `n` runs of `op`.
#[inline(never)]
fn measured(w: &mut World, op: &str, n: usize) {
    let p = &w.pair;
    let now = p.now_ms;
    let body = &w.body[..];
    let (env, plain, resp, out) = (&mut w.env, &mut w.plain, &mut w.resp, &mut w.out);
    let from = w.next.min(w.inputs.len());
    let to = (from + n).min(w.inputs.len());
    w.next = to;
    let inputs = &mut w.inputs[from..to];
    match op {
        "raw_seal" => {
            let mut buf = vec![0x61u8; body.len() + 1];
            for _ in 0..n {
                black_box(w.raw.seal_in_place(&[1u8; 12], &w.aad, &mut buf).unwrap());
            }
        }
        "raw_open" => {
            for ct in inputs {
                w.raw.open_in_place(&[1u8; 12], &w.aad, ct, &w.tag).unwrap();
            }
        }
        "seal_request" => {
            for _ in 0..n {
                black_box(p.client.seal_request(CTX, body, now, env).unwrap());
            }
        }
        "seal_request_in_place" => {
            let total = p.client.sealed_len(body.len());
            // The body is written once: each run seals what the buffer holds at the body's place
            // (the previous ciphertext), as the raw AEAD seals its buffer again and again. (A
            // copy per run would add one callgrind "instruction" per byte: `rep movsb` counts
            // each byte.)
            env[BODY_OFFSET_IN_PLACE..BODY_OFFSET_IN_PLACE + body.len()].copy_from_slice(body);
            for _ in 0..n {
                black_box(
                    p.client
                        .seal_request_in_place(CTX, &mut env[..total], body.len(), now)
                        .unwrap(),
                );
            }
        }
        "open_request" => {
            for e in inputs {
                black_box(p.session.open_request(CTX, e, now, plain).unwrap());
            }
        }
        "open_request_in_place" => {
            for e in inputs {
                black_box(p.session.open_request_in_place(CTX, e, now).unwrap());
            }
        }
        "rust_round_trip" => {
            for _ in 0..n {
                let (pending, m) = p.client.seal_request(CTX, body, now, env).unwrap();
                let (slot, _) = p.session.open_request(CTX, &env[..m], now, plain).unwrap();
                let r = p.session.seal_response(slot, CTX, body, resp).unwrap();
                black_box(
                    p.client
                        .open_response(pending, CTX, &resp[..r], out)
                        .unwrap(),
                );
            }
        }
        "c_round_trip" => {
            let c = &w.cpair;
            for _ in 0..n {
                let (m, seq) = c.seal_request(CTX, body, env).unwrap();
                let (_, sseq) = c.open_request(CTX, &env[..m], plain).unwrap();
                let r = c.seal_response(sseq, CTX, body, resp).unwrap();
                black_box(c.open_response(seq, CTX, &resp[..r], out).unwrap());
            }
        }
        "handshake" => {
            let mut rng = ChaCha20Rng::seed_from_u64(9);
            for _ in 0..n {
                let (hs, kx) =
                    ClientHandshake::start(&p.config, &p.options.key_id, b"", &mut rng).unwrap();
                let (session, kxr) = p
                    .server
                    .accept(&kx, now)
                    .unwrap()
                    .respond("bench-session", u64::MAX, b"", &mut rng)
                    .unwrap();
                black_box((session, hs.finish(&kxr, now).unwrap()));
            }
        }
        other => panic!("unknown operation {other}; one of {OPS:?}"),
    }
}

/// `paired A B BLOCKS N LEN`: alternating blocks, see the crate comment.
fn paired(a: &str, b: &str, blocks: usize, n: usize, len: usize) {
    let (mut wa, mut wb) = (world(a, blocks * n, len), world(b, blocks * n, len));
    // Warm-up: one block each, not counted (the worlds have one block of inputs to spare).
    let (mut wa_warm, mut wb_warm) = (world(a, n, len), world(b, n, len));
    measured(&mut wa_warm, a, n);
    measured(&mut wb_warm, b, n);
    let per_op = |w: &mut World, op: &str| {
        let t = Instant::now();
        measured(w, op, n);
        t.elapsed().as_nanos() as f64 / n as f64
    };
    let (mut ta, mut tb, mut diff) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..blocks {
        let x = per_op(&mut wa, a);
        let y = per_op(&mut wb, b);
        ta.push(x);
        tb.push(y);
        diff.push(y - x);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (ma, mb) = (median(&mut ta.clone()), median(&mut tb.clone()));
    let (fa, fb) = (
        ta.iter().copied().fold(f64::MAX, f64::min),
        tb.iter().copied().fold(f64::MAX, f64::min),
    );
    println!(
        "{a} vs {b} ({len} B, {blocks} blocks of {n}): median {ma:.1} / {mb:.1} ns, \
         fastest {fa:.1} / {fb:.1} ns, paired difference median {:+.1} ns",
        median(&mut diff)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; the scripts pass `OP N [LEN]` or `paired A B BLOCKS N [LEN]`.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let num = |i: usize, default: usize| {
        args.get(i)
            .map_or(default, |s| s.parse().expect("a number"))
    };
    if args.first().map(String::as_str) == Some("paired") {
        paired(&args[1], &args[2], num(3, 200), num(4, 100), num(5, 64));
        return;
    }
    let ops: Vec<&str> = match args.first() {
        Some(op) => vec![op.as_str()],
        None => OPS.to_vec(),
    };
    let (n, len) = (num(1, 20), num(2, 64));
    for op in ops {
        let mut w = world(op, n, len);
        measured(&mut w, op, n);
        println!("{op}: {n} runs, {len}-byte body");
    }
}
