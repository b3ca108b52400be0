//! Per-session memory and hot-path allocations, measured with a counting global allocator.
//!
//! Not a criterion benchmark (it counts bytes, it does not time anything): `cargo bench --bench
//! memory` prints lines of the form `name: value` that `scripts/bench-report.sh` copies into
//! BENCHMARKS.md.

use scv2_test_support::alloc::{allocations_in, live_bytes, Counting};
use scv2_test_support::pair::Options;

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    // The harness's server and client (default padding and window), a 22-character session id.
    let options = Options {
        key_id: "mem".to_owned(),
        session_id: "0123456789abcdefghijkl".to_owned(),
        expires_at_ms: u64::MAX,
        ..Options::default()
    };
    let now = options.now_ms;
    let (server, config) = options.server_and_config();

    // Sessions are boxed so that their inline size is counted on the heap too.
    let (hs, kx) = options.start(&config, 0);
    let accepted = server.accept(&kx, now).unwrap();
    let before = live_bytes();
    let (server_session, kxr) = options.respond(accepted);
    let server_session = Box::new(server_session);
    let kxr_len = kxr.len() as isize;
    let server_bytes = live_bytes() - before - kxr_len;
    let before = live_bytes();
    let client_session = Box::new(hs.finish(&kxr, now).unwrap());
    let client_bytes = live_bytes() - before;

    // Hot path: allocations during seal/open (buffers prepared outside the count).
    let ctx = b"POST /web/v1/system/auth/password/init";
    let body = [0x61u8; 1024];
    let mut req = vec![0u8; client_session.sealed_len(body.len())];
    let mut plain = vec![0u8; req.len()];
    let mut resp = vec![0u8; server_session.sealed_len(body.len())];
    let mut out = vec![0u8; resp.len()];
    let ((), hot_allocs) = allocations_in(|| {
        for _ in 0..1000 {
            let (pending, n) = client_session
                .seal_request(ctx, &body, now, &mut req)
                .unwrap();
            let (slot, _) = server_session
                .open_request(ctx, &req[..n], now, &mut plain)
                .unwrap();
            let m = server_session
                .seal_response(slot, ctx, &body, &mut resp)
                .unwrap();
            client_session
                .open_response(pending, ctx, &resp[..m], &mut out)
                .unwrap();
        }
    });

    println!("backend: {}", scv2::primitives::BACKEND);
    println!("server_session_bytes: {server_bytes}");
    println!("client_session_bytes: {client_bytes}");
    println!(
        "size_of_server_session: {}",
        std::mem::size_of::<scv2::ServerSession>()
    );
    println!(
        "size_of_client_session: {}",
        std::mem::size_of::<scv2::ClientSession>()
    );
    println!("hot_path_allocations_per_1000_round_trips: {hot_allocs}");
    in_flight();
    assert_eq!(hot_allocs, 0, "the seal/open hot path must not allocate");
    drop((server_session, client_session));
}

/// Memory of a handshake in flight, per suite: the heap held by a client handshake between its
/// type 1 and the type 130 (the handshake boxed, so that its inline size counts), by an accepted
/// server handshake before it responds, and the envelope sizes.
fn in_flight() {
    for suite in scv2::Suite::ALL {
        let options = Options {
            suite,
            key_id: "mem".to_owned(),
            session_id: "0123456789abcdefghijkl".to_owned(),
            expires_at_ms: u64::MAX,
            ..Options::default()
        };
        let now = options.now_ms;
        let (server, config) = options.server_and_config();
        let name = suite.name();
        let before = live_bytes();
        let (hs, kx) = options.start(&config, 0);
        let hs = Box::new(hs);
        let client_bytes = live_bytes() - before - kx.len() as isize;
        let before = live_bytes();
        let accepted = Box::new(server.accept(&kx, now).unwrap());
        let server_bytes = live_bytes() - before;
        let (_session, kxr) = options.respond(*accepted);
        let _client = hs.finish(&kxr, now).unwrap();
        println!("{name} client_handshake_in_flight_bytes: {client_bytes}");
        println!("{name} server_handshake_in_flight_bytes: {server_bytes}");
        println!(
            "{name} type1_bytes (keyId \"mem\", empty payload, block 64): {}",
            kx.len()
        );
        println!(
            "{name} type130_bytes (22-byte sid, no app payload, block 64): {}",
            kxr.len()
        );
    }
}
