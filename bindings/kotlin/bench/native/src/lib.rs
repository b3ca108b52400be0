//! The baseline of the Kotlin benchmark (`bindings/kotlin/bench/Bench.kt`): the same whole
//! exchange the Kotlin loop runs, timed inside Rust in the same JVM process, through the Rust
//! core API and through the C ABI functions. A library of its own (`libscv2_bench.so`), so that
//! the production library carries no benchmark code. Both pairs come from the shared harness.

use std::hint::black_box;
use std::time::Instant;

use jni_sys::{jboolean, jbyte, jbyteArray, jclass, jint, jlong, jsize, JNIEnv};
use scv2_test_support::{c_pair::CPair, pair::Pair};

const CTX: &[u8] = b"POST /web/v1/auth/login";

/// `io.scv2.BenchNative.rustBaselineNanos(bodyLen, iterations, cAbi)`: the nanoseconds of
/// `iterations` exchanges (client seal, server open, server seal, client open) of `bodyLen`-byte
/// bodies through the Rust API (`cAbi` false) or the C ABI (`cAbi` true); -1 if anything failed
/// (set-up excluded from the time).
#[no_mangle]
pub extern "system" fn Java_io_scv2_BenchNative_rustBaselineNanos(
    _env: *mut JNIEnv,
    _class: jclass,
    body_len: jint,
    iterations: jint,
    c_abi: jboolean,
) -> jlong {
    std::panic::catch_unwind(|| {
        let body = vec![0x5au8; usize::try_from(body_len).ok()?];
        let n = u32::try_from(iterations).ok()?;
        let nanos = if c_abi {
            c_loop(&body, n)?
        } else {
            rust_loop(&body, n)?
        };
        jlong::try_from(nanos).ok()
    })
    .ok()
    .flatten()
    .unwrap_or(-1)
}

/// `io.scv2.BenchNative.arrays(ctx, input, out, outCap, copy)`: the JNI part of a hot call alone,
/// to split the Kotlin overhead: with `copy` false nothing but the crossing with four arguments;
/// with `copy` true also what `ffi/src/jni` does with short arrays (two `GetArrayLength`, two
/// `GetByteArrayRegion` into the stack, one `SetByteArrayRegion` of `input`'s length + 32 bytes,
/// at most `outCap`). Returns the bytes written.
///
/// # Safety
/// Called by the JVM only: `env` is the calling thread's env, the arrays live local references.
#[no_mangle]
pub unsafe extern "system" fn Java_io_scv2_BenchNative_arrays(
    env: *mut JNIEnv,
    _class: jclass,
    ctx: jbyteArray,
    input: jbyteArray,
    out: jbyteArray,
    out_cap: jint,
    copy: jboolean,
) -> jint {
    if !copy {
        return out_cap;
    }
    let mut buf = [0u8; 2048];
    // SAFETY: the JVM's env and live local references to byte arrays (the benchmark passes
    // non-null arrays of at most 1024 bytes, `outCap` at most out's length), so every region is in
    // bounds and `buf` has room for each.
    unsafe {
        let f = &(**env).v1_2;
        let c = (f.GetArrayLength)(env, ctx);
        let n = (f.GetArrayLength)(env, input);
        (f.GetByteArrayRegion)(env, ctx, 0, c, buf.as_mut_ptr().cast::<jbyte>());
        (f.GetByteArrayRegion)(env, input, 0, n, buf.as_mut_ptr().add(256).cast::<jbyte>());
        let m: jsize = (n + 32).min(out_cap);
        (f.SetByteArrayRegion)(env, out, 0, m, buf.as_ptr().add(256).cast::<jbyte>());
        black_box(&buf);
        m
    }
}

fn rust_loop(body: &[u8], iterations: u32) -> Option<u128> {
    let p = Pair::new();
    let mut request = vec![0u8; p.client.sealed_len(body.len())];
    let mut plain = vec![0u8; scv2::max_open_len(request.len())];
    let mut response = vec![0u8; p.session.sealed_len(body.len())];
    let mut answer = vec![0u8; scv2::max_open_len(response.len())];
    let now = p.now_ms;
    let start = Instant::now();
    for _ in 0..iterations {
        let (pending, n) = p.client.seal_request(CTX, body, now, &mut request).ok()?;
        let (slot, len) = p
            .session
            .open_request(CTX, request.get(..n)?, now, &mut plain)
            .ok()?;
        let m = p
            .session
            .seal_response(slot, CTX, plain.get(..len)?, &mut response)
            .ok()?;
        let k = p
            .client
            .open_response(pending, CTX, response.get(..m)?, &mut answer)
            .ok()?;
        black_box(k);
    }
    Some(start.elapsed().as_nanos())
}

fn c_loop(body: &[u8], iterations: u32) -> Option<u128> {
    let p = CPair::new();
    let big = body.len() + 256;
    let (mut request, mut plain) = (vec![0u8; big], vec![0u8; big]);
    let (mut response, mut answer) = (vec![0u8; big], vec![0u8; big]);
    let start = Instant::now();
    for _ in 0..iterations {
        let (n, seq) = p.seal_request(CTX, body, &mut request).ok()?;
        let (len, sseq) = p.open_request(CTX, request.get(..n)?, &mut plain).ok()?;
        let m = p
            .seal_response(sseq, CTX, plain.get(..len)?, &mut response)
            .ok()?;
        let k = p
            .open_response(seq, CTX, response.get(..m)?, &mut answer)
            .ok()?;
        black_box(k);
    }
    Some(start.elapsed().as_nanos())
}
