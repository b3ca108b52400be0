//! `libscv2`: the C library artefact. Every exported symbol (`scv2_*`, and `Java_io_scv2_*` with
//! the `jni` feature) comes from `scv2-ffi`; this crate only links it into `libscv2.a` and
//! `libscv2.so` under the name C users expect.

#![forbid(unsafe_code)]

pub use scv2_ffi::*;
