//! Instruction counts of the hot paths, for `valgrind --tool=callgrind` (deterministic where the
//! timings of a shared machine are not): `scripts/bench-instructions.sh` runs this program once per
//! operation under callgrind, counting only inside [`measured`], and divides by the number of
//! operations. Run alone (`cargo bench --bench instructions`), it just checks that every
//! operation works.
//!
//! Operations (64-byte bodies, padding block 1, a 22-character session id, ctx
//! `POST /web/v1/system/auth/password/init`; envelopes prepared outside [`measured`]):
//! - `raw_seal`, `raw_open`: the backend's AES-256-GCM alone, with associated data of the same
//!   length as scv2's;
//! - `seal_request`, `seal_request_in_place`, `open_request`, `open_request_in_place`: the Rust API;
//! - `rust_round_trip`, `c_round_trip`: client seal, server open, server seal, client open, through
//!   the Rust API and through the C ABI (per-call overhead = difference / 4).

use std::hint::black_box;

use scv2::primitives::AeadKey;
use scv2::BODY_OFFSET_IN_PLACE;
use scv2_test_support::c_pair::CPair;
use scv2_test_support::pair::Pair;

const CTX: &[u8] = b"POST /web/v1/system/auth/password/init";
const SID: &str = "0123456789abcdefghijkl";
const BODY: [u8; 64] = [0x61; 64];

/// The operations `measured` can run.
const OPS: [&str; 8] = [
    "raw_seal",
    "raw_open",
    "seal_request",
    "seal_request_in_place",
    "open_request",
    "open_request_in_place",
    "rust_round_trip",
    "c_round_trip",
];

/// Everything an operation needs, prepared before counting starts.
struct World {
    pair: Pair,
    cpair: CPair,
    raw: AeadKey,
    aad: Vec<u8>,
    /// Pre-sealed request envelopes (for the opens) or raw ciphertexts, one per iteration.
    inputs: Vec<Vec<u8>>,
    tag: [u8; 16],
}

fn world(op: &str, n: usize) -> World {
    let pair = Pair::with(|o| {
        o.client_block = 1;
        o.server_block = 1;
        o.window = 65536;
        o.session_id = SID.to_owned();
        o.expires_at_ms = u64::MAX;
    });
    let cpair = CPair::with(1, 1, 0);
    let raw = AeadKey::new(&[7u8; 32]);
    let aad = vec![0x5a; scv2::wire::data_aad_len(SID.len(), CTX.len())];
    let mut tag = [0u8; 16];
    let inputs = match op {
        "open_request" | "open_request_in_place" => {
            (0..n).map(|_| pair.seal(CTX, &BODY).1).collect()
        }
        "raw_open" => (0..n)
            .map(|_| {
                let mut ct = vec![0x61u8; BODY.len() + 1];
                tag = raw.seal_in_place(&[1u8; 12], &aad, &mut ct).unwrap();
                ct
            })
            .collect(),
        _ => Vec::new(),
    };
    World {
        pair,
        cpair,
        raw,
        aad,
        inputs,
        tag,
    }
}

/// The counted loop: `n` runs of `op`.
#[inline(never)]
fn measured(w: &mut World, op: &str, n: usize) {
    let p = &w.pair;
    let now = p.now_ms;
    let mut env = [0u8; 256];
    let mut plain = [0u8; 256];
    let mut resp = [0u8; 256];
    let mut out = [0u8; 256];
    match op {
        "raw_seal" => {
            let mut buf = [0x61u8; 65];
            for _ in 0..n {
                black_box(w.raw.seal_in_place(&[1u8; 12], &w.aad, &mut buf).unwrap());
            }
        }
        "raw_open" => {
            for ct in &mut w.inputs {
                w.raw.open_in_place(&[1u8; 12], &w.aad, ct, &w.tag).unwrap();
            }
        }
        "seal_request" => {
            for _ in 0..n {
                black_box(p.client.seal_request(CTX, &BODY, now, &mut env).unwrap());
            }
        }
        "seal_request_in_place" => {
            let total = p.client.sealed_len(BODY.len());
            for _ in 0..n {
                env[BODY_OFFSET_IN_PLACE..BODY_OFFSET_IN_PLACE + BODY.len()].copy_from_slice(&BODY);
                black_box(
                    p.client
                        .seal_request_in_place(CTX, &mut env[..total], BODY.len(), now)
                        .unwrap(),
                );
            }
        }
        "open_request" => {
            for e in &w.inputs {
                black_box(p.session.open_request(CTX, e, now, &mut plain).unwrap());
            }
        }
        "open_request_in_place" => {
            for e in &mut w.inputs {
                black_box(p.session.open_request_in_place(CTX, e, now).unwrap());
            }
        }
        "rust_round_trip" => {
            for _ in 0..n {
                let (pending, m) = p.client.seal_request(CTX, &BODY, now, &mut env).unwrap();
                let (slot, _) = p
                    .session
                    .open_request(CTX, &env[..m], now, &mut plain)
                    .unwrap();
                let r = p
                    .session
                    .seal_response(slot, CTX, &BODY, &mut resp)
                    .unwrap();
                black_box(
                    p.client
                        .open_response(pending, CTX, &resp[..r], &mut out)
                        .unwrap(),
                );
            }
        }
        "c_round_trip" => {
            let c = &w.cpair;
            for _ in 0..n {
                let (m, seq) = c.seal_request(CTX, &BODY, &mut env).unwrap();
                let (_, sseq) = c.open_request(CTX, &env[..m], &mut plain).unwrap();
                let r = c.seal_response(sseq, CTX, &BODY, &mut resp).unwrap();
                black_box(c.open_response(seq, CTX, &resp[..r], &mut out).unwrap());
            }
        }
        other => panic!("unknown operation {other}; one of {OPS:?}"),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; the script passes `OP N`.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let ops: Vec<&str> = match args.first() {
        Some(op) => vec![op.as_str()],
        None => OPS.to_vec(),
    };
    let n: usize = args.get(1).map_or(100, |s| s.parse().expect("N"));
    for op in ops {
        let mut w = world(op, n);
        measured(&mut w, op, n);
        println!("{op}: {n} runs");
    }
}
