//! # scv2-test-support — the one test harness of scv2
//!
//! Shared by the core's integration tests (`tests/*.rs`), the boundary's tests (`ffi/tests/`),
//! the benchmarks (`benches/`, `ffi/benches/`, the Kotlin baseline) and the fuzz targets
//! (`fuzz/`), so that none of them builds its own world:
//!
//! - [`pair`]: a server, a client that pinned its key, and one established session, through the
//!   Rust API ([`pair::Pair`], deterministic: a seeded RNG, or fixed ephemeral keys with the
//!   `test-vectors` feature);
//! - [`c_pair`] (feature `c-abi`): the same through the C ABI ([`c_pair::CPair`]);
//! - [`spec10`]: an independent model of SPEC.md section 10, the order of checks — what each entry
//!   point must return for bytes that are not authentic — and of the replay window;
//! - [`spec15`]: the same for the hybrid suite (SPEC.md section 15.6), and the cases of
//!   `tests/vectors/scv2-x25519mlkem768.json` (feature `test-vectors`);
//! - [`vectors`]: the cases of `tests/vectors/scv2-x25519.json`;
//! - [`interop`]: both roles of a live exchange over a line protocol, for the `interop-peer`
//!   binary (built with one crypto backend) and `tests/backend_interop.rs` (the other);
//! - [`hex`] and [`alloc`] (a counting global allocator).
//!
//! This is test code: it panics on any failure of its fixtures. Its only `unsafe` code calls the
//! C ABI ([`c_pair`]) and implements the allocator ([`alloc`]).

pub mod alloc;
#[cfg(feature = "c-abi")]
pub mod c_pair;
pub mod hex;
pub mod interop;
pub mod pair;
pub mod spec10;
pub mod spec15;
pub mod vectors;

/// The time every fixture uses, ms since the Unix epoch (2027-01-15).
pub const NOW: u64 = 1_800_000_000_000;
/// The request binding the fixtures use.
pub const CTX: &[u8] = b"POST /web/v1/system/auth/password/init";
