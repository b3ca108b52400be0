//! # scv2-ffi — the boundary of scv2
//!
//! Everything foreign code sees of the library, over the safe Rust core (`scv2`), in four rooms:
//!
//! | module | what | `unsafe` |
//! |---|---|---|
//! | [`handles`] | the opaque handle types (`scv2_client_session`, ...): which Rust object a C pointer or a Kotlin `Long` stands for | no |
//! | [`bridge`] | one safe function per exported operation: output-size rule, token tables, ids as bytes, names | no |
//! | `table` | the lock-free table of single-use tokens each session handle keeps | yes (one cell per slot) |
//! | [`c`] | the C ABI (`include/scv2.h`): `extern "C"` shells over the bridge | yes (argument macros) |
//! | `jni` | the JNI shells of the Kotlin binding (feature `jni`), over the same bridge | yes (JNI calls) |
//!
//! The C library `libscv2.{a,so}` is built by the package `libscv2` (`ffi/libscv2/`), which links
//! this crate under the library name `scv2`. The header is generated from [`c`] and [`handles`]
//! by cbindgen (`scripts/gen-header.sh`, checked by `tests/header.rs`).
//!
//! The boundary asks the core for every length, name and layout: sizes come from
//! `scv2::sealed_len`, `max_open_len` and the suite's `scv2::Suite::key_exchange_len`,
//! `key_exchange_response_len`, `public_key_len`, `private_key_len`; the suite numbers
//! (`SCV2_SUITE_*`) from `scv2::Suite::id`; status names and numbers from `scv2::ALL_ERRORS`; the
//! backend name from `scv2::primitives::BACKEND`.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![warn(missing_docs)]
// The C names (`scv2_status`, `scv2_client_session`, ...) are the ABI.
#![allow(non_camel_case_types)]

/// cbindgen:ignore
pub mod bridge;
pub mod c;
pub mod handles;
/// cbindgen:ignore
#[cfg(feature = "jni")]
#[macro_use]
mod jni;
/// cbindgen:ignore
pub mod natives;
/// cbindgen:ignore
pub mod table;

pub use c::*;
pub use handles::*;
