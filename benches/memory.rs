//! Per-session memory and hot-path allocations, measured with a counting global allocator.
//!
//! Not a criterion benchmark (it counts bytes, it does not time anything): `cargo bench --bench
//! memory` prints lines of the form `name: value` that `scripts/bench-report.sh` copies into
//! BENCHMARKS.md.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use scv2::{ClientConfig, ClientHandshake, PinnedKey, Server, ServerConfig, ServerKey};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    const NOW: u64 = 1_800_000_000_000;
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut server = Server::new(ServerConfig::default());
    let key = ServerKey::generate("mem", 0, None, &mut rng).unwrap();
    let mut config = ClientConfig::new();
    config.pin(PinnedKey::new("mem", *key.public_key()).unwrap());
    server.add_key(key).unwrap();

    // Sessions are boxed so that their inline size is counted on the heap too.
    let (hs, kx) = ClientHandshake::start(&config, "mem", b"", &mut rng).unwrap();
    let accepted = server.accept(&kx, NOW).unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    let (server_session, kxr) = accepted
        .respond("0123456789abcdefghijkl", u64::MAX, b"", &mut rng)
        .map(|(s, e)| (Box::new(s), e))
        .unwrap();
    let kxr_len = kxr.len() as isize;
    let server_bytes = LIVE.load(Ordering::Relaxed) - before - kxr_len;
    let before = LIVE.load(Ordering::Relaxed);
    let client_session = Box::new(hs.finish(&kxr, NOW).unwrap());
    let client_bytes = LIVE.load(Ordering::Relaxed) - before;

    // Hot path: allocations during seal/open (buffers prepared outside the count).
    let ctx = b"POST /web/v1/system/auth/password/init";
    let body = [0x61u8; 1024];
    let mut req = vec![0u8; client_session.sealed_len(body.len())];
    let mut plain = vec![0u8; req.len()];
    let mut resp = vec![0u8; server_session.sealed_len(body.len())];
    let mut out = vec![0u8; resp.len()];
    let allocs_before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..1000 {
        let (pending, n) = client_session
            .seal_request(ctx, &body, NOW, &mut req)
            .unwrap();
        let (slot, _) = server_session
            .open_request(ctx, &req[..n], NOW, &mut plain)
            .unwrap();
        let m = server_session
            .seal_response(slot, ctx, &body, &mut resp)
            .unwrap();
        client_session
            .open_response(pending, ctx, &resp[..m], &mut out)
            .unwrap();
    }
    let hot_allocs = ALLOCATIONS.load(Ordering::Relaxed) - allocs_before;

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
    assert_eq!(hot_allocs, 0, "the seal/open hot path must not allocate");
    drop((server_session, client_session));
}
