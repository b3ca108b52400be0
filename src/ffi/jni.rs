//! JNI glue for the Kotlin/Android binding (`bindings/kotlin/`, package `io.scv2`), behind the
//! cargo feature `jni`.
//!
//! Every native method of `io.scv2.Native` is a thin shim over the C ABI functions of this module
//! (`scv2_client_seal_request`, ...), so the Kotlin classes have exactly the C ABI's semantics:
//! opaque handles (a `jlong` holding the pointer), sequence numbers as tokens, one response per
//! request, outputs only on success, the same status codes. A non-OK status is thrown as
//! `io.scv2.Scv2Exception(code)`.
//!
//! Boundary: every exported `Java_…` function's body is [`jni_boundary!`], which runs the body
//! through `jni::EnvUnowned::with_env` (a `catch_unwind`) inside [`ffi_boundary!`](crate::ffi_boundary)
//! (a second `catch_unwind` around the exception throwing itself). A panic becomes a
//! `Scv2Exception(255)` (SCV2_INTERNAL); nothing unwinds into the JVM.
//!
//! Hot path: byte arrays are accessed with `GetPrimitiveArrayCritical` (usually a direct pointer
//! into the Java heap, no copy): inputs are pinned read-only (released with `JNI_ABORT`), outputs
//! are caller-allocated Java arrays that Rust writes into directly. All lengths are read before
//! the first array is pinned, and no other JNI function is called while an array is pinned.
//!
//! Thread safety: the Kotlin classes guarantee that a handle is live for the whole call and that
//! its `_free` function never races with another call on it (a read/write lock per handle).

use core::marker::PhantomData;
use core::ptr;

use ::jni::errors::ErrorPolicy;
use ::jni::objects::{JByteArray, JClass, JLongArray, JThrowable, JValue};
use ::jni::refs::Reference;
use ::jni::sys::{jboolean, jint, jlong, JNI_ABORT};
use ::jni::{jni_sig, jni_str, Env, EnvUnowned};
use zeroize::Zeroizing;

use super::*;

/// Why a native method failed.
#[derive(Debug)]
enum Fail {
    /// A status code of the C ABI: thrown as `io.scv2.Scv2Exception(code)`.
    Status(scv2_status),
    /// A JNI failure (usually with a Java exception already pending, e.g. OutOfMemoryError).
    Jni,
}

impl From<::jni::errors::Error> for Fail {
    fn from(_: ::jni::errors::Error) -> Fail {
        Fail::Jni
    }
}

type JResult<T> = Result<T, Fail>;

/// `Ok` for `SCV2_OK`, the status otherwise.
fn check(st: scv2_status) -> JResult<()> {
    if st == SCV2_OK {
        Ok(())
    } else {
        Err(Fail::Status(st))
    }
}

/// Throw `io.scv2.Scv2Exception(code)` unless an exception is already pending.
fn throw_status(env: &mut Env<'_>, code: scv2_status) {
    if env.exception_check() {
        return;
    }
    let code = jint::try_from(code).unwrap_or(255);
    let made = env.new_object(
        jni_str!("io/scv2/Scv2Exception"),
        jni_sig!("(I)V"),
        &[JValue::Int(code)],
    );
    match made.and_then(|obj| env.cast_local::<JThrowable>(obj)) {
        Ok(t) => {
            // `throw` reports Err(JavaException) once the exception is pending: that is the
            // intended outcome here.
            let _ = env.throw(&t);
        }
        Err(_) => {
            if !env.exception_check() {
                let _ = env.throw_new(
                    jni_str!("java/lang/IllegalStateException"),
                    jni_str!("scv2: cannot construct io.scv2.Scv2Exception"),
                );
            }
        }
    }
}

/// The error policy of every native method: a status becomes `Scv2Exception(code)`, a JNI error
/// keeps its pending Java exception (or becomes `Scv2Exception(SCV2_INTERNAL)`), a panic becomes
/// `Scv2Exception(SCV2_INTERNAL)` (its payload is leaked, never dropped: dropping could panic).
struct ThrowScv2Exception;

impl<T: Default> ErrorPolicy<T, Fail> for ThrowScv2Exception {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        err: Fail,
    ) -> ::jni::errors::Result<T> {
        match err {
            Fail::Status(code) => throw_status(env, code),
            Fail::Jni => throw_status(env, SCV2_INTERNAL),
        }
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        payload: Box<dyn std::any::Any + Send + 'static>,
    ) -> ::jni::errors::Result<T> {
        core::mem::forget(payload);
        throw_status(env, SCV2_INTERNAL);
        Ok(T::default())
    }

    fn on_internal_jni_error<'unowned_env_local: 'native_method, 'native_method>(
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        _err: ::jni::errors::Error,
    ) -> T {
        T::default()
    }

    fn on_internal_panic<'unowned_env_local: 'native_method, 'native_method>(
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        payload: Box<dyn std::any::Any + Send + 'static>,
    ) -> T {
        core::mem::forget(payload);
        T::default()
    }
}

/// The one boundary every `extern "system"` function of this file goes through (checked by
/// `tests/ffi_boundary.rs`): `jni_boundary!(unowned_env, default, |env| { body })` runs `body`
/// (returning `JResult<T>`) with an `Env` under `catch_unwind`, turns its error or panic into a
/// thrown `Scv2Exception` and returns `default` in that case. The outer `ffi_boundary!` catches a
/// panic of the throwing itself.
macro_rules! jni_boundary {
    ($unowned:ident, $default:expr, |$env:ident| $body:block) => {
        $crate::ffi_boundary!($default, {
            $unowned
                .with_env(|$env: &mut Env<'_>| -> JResult<_> { $body })
                .resolve::<ThrowScv2Exception>()
        })
    };
}

/// A Java byte array pinned with `GetPrimitiveArrayCritical` (released on drop).
///
/// Between creating the first `Pinned` and dropping the last, no JNI function other than
/// Get/ReleasePrimitiveArrayCritical may be called; the helpers below read every length first.
struct Pinned<'a> {
    env: *mut ::jni::sys::JNIEnv,
    array: ::jni::sys::jarray,
    ptr: *mut u8,
    len: usize,
    mode: jint,
    _array: PhantomData<&'a JByteArray<'a>>,
}

impl<'a> Pinned<'a> {
    /// Pin `array` (of `len` elements, read before) for reading (`write == false`: released with
    /// `JNI_ABORT`, so a copy is never written back) or for writing (released with mode 0).
    /// A NULL or empty array is not pinned (NULL pointer, length 0).
    ///
    /// # Safety
    /// `env` must be the current thread's valid `JNIEnv`, `len` the array's length, and the
    /// caller must call no JNI function other than Get/ReleasePrimitiveArrayCritical while the
    /// result is alive.
    unsafe fn new(
        env: &Env<'_>,
        array: &'a JByteArray<'a>,
        len: usize,
        write: bool,
    ) -> JResult<Pinned<'a>> {
        let raw_env = env.get_raw();
        let raw = array.as_raw();
        let mode = if write { 0 } else { JNI_ABORT };
        if raw.is_null() || len == 0 {
            return Ok(Pinned {
                env: raw_env,
                array: ptr::null_mut(),
                ptr: ptr::null_mut(),
                len: 0,
                mode,
                _array: PhantomData,
            });
        }
        // SAFETY: `raw_env` is the valid JNIEnv of this thread (it comes from the `Env` the JVM
        // passed to the native method), its function table is JNI >= 1.2 (the JVM of every
        // supported platform), and `raw` is a live local reference to a byte array.
        let p = unsafe {
            let interface: *const ::jni::sys::JNINativeInterface_ = *raw_env;
            ((*interface).v1_2.GetPrimitiveArrayCritical)(raw_env, raw, ptr::null_mut())
        };
        if p.is_null() {
            return Err(Fail::Status(SCV2_INTERNAL));
        }
        Ok(Pinned {
            env: raw_env,
            array: raw,
            ptr: p.cast::<u8>(),
            len,
            mode,
            _array: PhantomData,
        })
    }

    fn ptr(&self) -> *const u8 {
        self.ptr
    }

    fn ptr_mut(&self) -> *mut u8 {
        self.ptr
    }
}

impl Drop for Pinned<'_> {
    fn drop(&mut self) {
        if self.ptr.is_null() {
            return;
        }
        // SAFETY: `ptr` was returned by GetPrimitiveArrayCritical for `array` on this thread's
        // `env` and is released exactly once, here.
        unsafe {
            let interface: *const ::jni::sys::JNINativeInterface_ = *self.env;
            ((*interface).v1_2.ReleasePrimitiveArrayCritical)(
                self.env,
                self.array,
                self.ptr.cast(),
                self.mode,
            );
        }
    }
}

/// The length of a byte array (0 for NULL).
fn len_of(env: &Env<'_>, a: &JByteArray<'_>) -> JResult<usize> {
    if a.as_raw().is_null() {
        return Ok(0);
    }
    Ok(a.len(env)?)
}

/// Copy a byte array into zeroizing Rust memory (for the non-hot-path setters and getters).
fn copy_in(env: &Env<'_>, a: &JByteArray<'_>) -> JResult<Zeroizing<Vec<u8>>> {
    let n = len_of(env, a)?;
    let mut v = Zeroizing::new(vec![0u8; n]);
    if n > 0 {
        // SAFETY: i8 and u8 have the same size and alignment; any bit pattern is valid for both.
        let dst: &mut [i8] = unsafe { &mut *(v.as_mut_slice() as *mut [u8] as *mut [i8]) };
        a.get_region(env, 0, dst)?;
    }
    Ok(v)
}

/// Run a C ABI getter with the `(out, out_cap, out_len)` convention and return a new Java array:
/// ask for the size, then fetch into zeroizing memory.
fn query<'l>(
    env: &mut Env<'l>,
    f: impl Fn(*mut u8, usize, *mut usize) -> scv2_status,
) -> JResult<JByteArray<'l>> {
    let mut need = 0usize;
    let st = f(ptr::null_mut(), 0, &mut need);
    if st != SCV2_OK && st != SCV2_BUFFER_TOO_SMALL {
        return Err(Fail::Status(st));
    }
    let mut buf = Zeroizing::new(vec![0u8; need]);
    let mut n = 0usize;
    check(f(buf.as_mut_ptr(), need, &mut n))?;
    let out = buf.get(..n).ok_or(Fail::Status(SCV2_INTERNAL))?;
    Ok(env.byte_array_from_slice(out)?)
}

/// Store a new handle into `out[0]`.
fn put_handle(env: &Env<'_>, out: &JLongArray<'_>, h: jlong) -> JResult<()> {
    out.set_region(env, 0, &[h])?;
    Ok(())
}

/// A handle passed from Kotlin as a `jlong`.
fn h<T>(handle: jlong) -> *mut T {
    handle as usize as *mut T
}

/// A handle returned to Kotlin.
fn jh<T>(p: *mut T) -> jlong {
    p as usize as jlong
}

/// A Java `long` that must be a non-negative `size_t` (a negative one is INVALID_ARGUMENT).
fn size(v: jlong) -> JResult<usize> {
    usize::try_from(v).map_err(|_| Fail::Status(SCV2_INVALID_ARGUMENT))
}

/// A length returned to Kotlin as an `int` (0 when it does not fit: "invalid").
fn jsize_or_zero(n: usize) -> jint {
    jint::try_from(n).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Library-wide

/// `scv2_max_open_len` (0: envelope too short, or too long for a Java array).
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_maxOpenLen<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    envelope_len: jint,
) -> jint {
    jni_boundary!(unowned, 0, |_env| {
        let n = usize::try_from(envelope_len).unwrap_or(0);
        Ok(jsize_or_zero(scv2_max_open_len(n)))
    })
}

// ---------------------------------------------------------------------------------------------
// Client configuration

/// `scv2_client_config_new`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_clientConfigNew<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
) -> jlong {
    jni_boundary!(unowned, 0, |_env| {
        let mut out: *mut scv2_client_config = ptr::null_mut();
        // SAFETY: `out` is a valid place for one pointer.
        check(unsafe { scv2_client_config_new(&mut out) })?;
        Ok(jh(out))
    })
}

/// `scv2_client_config_pin`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_clientConfigPin<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    config: jlong,
    key_id: JByteArray<'caller>,
    public_key: JByteArray<'caller>,
) {
    jni_boundary!(unowned, (), |env| {
        let kid = copy_in(env, &key_id)?;
        let pk = copy_in(env, &public_key)?;
        // SAFETY: `config` is a live config handle that nothing else frees during the call
        // (Kotlin's handle lock); the slices are valid for their lengths.
        check(unsafe {
            scv2_client_config_pin(h(config), kid.as_ptr(), kid.len(), pk.as_ptr(), pk.len())
        })
    })
}

/// `scv2_client_config_pin_spki_base64`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_clientConfigPinSpkiBase64<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    config: jlong,
    key_id: JByteArray<'caller>,
    spki_base64: JByteArray<'caller>,
) {
    jni_boundary!(unowned, (), |env| {
        let kid = copy_in(env, &key_id)?;
        let spki = copy_in(env, &spki_base64)?;
        // SAFETY: as in `clientConfigPin`.
        check(unsafe {
            scv2_client_config_pin_spki_base64(
                h(config),
                kid.as_ptr(),
                kid.len(),
                spki.as_ptr(),
                spki.len(),
            )
        })
    })
}

/// `scv2_client_config_set_padding_block`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_clientConfigSetPaddingBlock<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    config: jlong,
    padding_block: jlong,
) {
    jni_boundary!(unowned, (), |_env| {
        let block = size(padding_block)?;
        // SAFETY: `config` is a live config handle (Kotlin's handle lock).
        check(unsafe { scv2_client_config_set_padding_block(h(config), block) })
    })
}

/// `scv2_client_config_free`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_clientConfigFree<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    config: jlong,
) {
    jni_boundary!(unowned, (), |_env| {
        // SAFETY: Kotlin frees each handle once, under its write lock (no concurrent use).
        unsafe { scv2_client_config_free(h(config)) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Client handshake

/// `scv2_client_handshake_start`: returns the type-1 envelope, the handshake handle in `out[0]`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_clientHandshakeStart<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    config: jlong,
    key_id: JByteArray<'caller>,
    payload: JByteArray<'caller>,
    out_handle: JLongArray<'caller>,
) -> JByteArray<'caller> {
    jni_boundary!(unowned, JByteArray::default(), |env| {
        let kid = copy_in(env, &key_id)?;
        let body = copy_in(env, &payload)?;
        let mut hs: *mut scv2_client_handshake = ptr::null_mut();
        let cell = &mut hs as *mut *mut scv2_client_handshake;
        let bytes = query(env, |out, cap, out_len| {
            // SAFETY: `config` is a live config handle (Kotlin's handle lock); every pointer is
            // valid for its length; `cell` points to the local `hs`, not otherwise borrowed here
            // (only the second, sized call succeeds and stores the handle).
            unsafe {
                if !(*cell).is_null() {
                    return SCV2_INTERNAL;
                }
                scv2_client_handshake_start(
                    h(config),
                    kid.as_ptr(),
                    kid.len(),
                    body.as_ptr(),
                    body.len(),
                    out,
                    cap,
                    out_len,
                    cell,
                )
            }
        });
        finish_with_handle(env, bytes, jh(hs), &out_handle, |p| {
            // SAFETY: `p` is the handshake created above, not yet published to Kotlin.
            unsafe { scv2_client_handshake_free(h(p)) }
        })
    })
}

/// Publish a new handle into `out[0]` with the envelope, or free it if anything failed.
fn finish_with_handle<'l>(
    env: &Env<'l>,
    bytes: JResult<JByteArray<'l>>,
    handle: jlong,
    out: &JLongArray<'_>,
    free: impl FnOnce(jlong),
) -> JResult<JByteArray<'l>> {
    let published = bytes.and_then(|b| {
        if handle == 0 {
            return Err(Fail::Status(SCV2_INTERNAL));
        }
        put_handle(env, out, handle)?;
        Ok(b)
    });
    if published.is_err() && handle != 0 {
        free(handle);
    }
    published
}

/// `scv2_client_handshake_finish`: returns the session handle.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_clientHandshakeFinish<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    handshake: jlong,
    envelope: JByteArray<'caller>,
    now_ms: jlong,
) -> jlong {
    jni_boundary!(unowned, 0, |env| {
        let n = len_of(env, &envelope)?;
        let mut out: *mut scv2_client_session = ptr::null_mut();
        // SAFETY: no JNI call until `e` is dropped; `len` read above.
        let e = unsafe { Pinned::new(env, &envelope, n, false) }?;
        // SAFETY: `handshake` is live (Kotlin's handle lock); `e` is valid for `e.len` bytes.
        let st = unsafe {
            scv2_client_handshake_finish(h(handshake), e.ptr(), e.len, now_ms as u64, &mut out)
        };
        drop(e);
        check(st)?;
        Ok(jh(out))
    })
}

/// `scv2_client_handshake_free`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_clientHandshakeFree<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    handshake: jlong,
) {
    jni_boundary!(unowned, (), |_env| {
        // SAFETY: Kotlin frees each handle once, under its write lock.
        unsafe { scv2_client_handshake_free(h(handshake)) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Client session

/// `scv2_client_session_id`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_clientSessionId<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    session: jlong,
) -> JByteArray<'caller> {
    jni_boundary!(unowned, JByteArray::default(), |env| {
        query(env, |out, cap, out_len| {
            // SAFETY: `session` is live (Kotlin's handle lock); `out` is valid for `cap` bytes.
            unsafe { scv2_client_session_id(h(session), out, cap, out_len) }
        })
    })
}

/// `scv2_client_session_app_payload`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_clientSessionAppPayload<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    session: jlong,
) -> JByteArray<'caller> {
    jni_boundary!(unowned, JByteArray::default(), |env| {
        query(env, |out, cap, out_len| {
            // SAFETY: as in `clientSessionId`.
            unsafe { scv2_client_session_app_payload(h(session), out, cap, out_len) }
        })
    })
}

/// `scv2_client_session_expires_at_ms`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_clientSessionExpiresAtMs<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    session: jlong,
) -> jlong {
    jni_boundary!(unowned, 0, |_env| {
        let mut t = 0u64;
        // SAFETY: `session` is live (Kotlin's handle lock); `t` is writable.
        check(unsafe { scv2_client_session_expires_at_ms(h(session), &mut t) })?;
        Ok(t as jlong)
    })
}

/// `scv2_client_session_sealed_len` (0: overflow or too long for a Java array).
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_clientSessionSealedLen<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    session: jlong,
    body_len: jint,
) -> jint {
    jni_boundary!(unowned, 0, |_env| {
        let n = usize::try_from(body_len).map_err(|_| Fail::Status(SCV2_INVALID_ARGUMENT))?;
        // SAFETY: `session` is live (Kotlin's handle lock).
        Ok(jsize_or_zero(unsafe {
            scv2_client_session_sealed_len(h(session), n)
        }))
    })
}

/// Pack a sequence number (<= 2^32 - 1) and a length (< 2^31) into one `long`:
/// `seq << 32 | len`.
fn pack(seq: u64, len: usize) -> JResult<jlong> {
    let seq = u32::try_from(seq).map_err(|_| Fail::Status(SCV2_INTERNAL))?;
    let len = u32::try_from(len).map_err(|_| Fail::Status(SCV2_INTERNAL))?;
    Ok(((u64::from(seq) << 32) | u64::from(len)) as jlong)
}

/// `scv2_client_seal_request` into the caller's `out`: returns `seq << 32 | envelope_len`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_clientSealRequest<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    session: jlong,
    ctx: JByteArray<'caller>,
    body: JByteArray<'caller>,
    now_ms: jlong,
    out: JByteArray<'caller>,
) -> jlong {
    jni_boundary!(unowned, 0, |env| {
        let (nc, nb, no) = (len_of(env, &ctx)?, len_of(env, &body)?, len_of(env, &out)?);
        let (mut n, mut seq) = (0usize, 0u64);
        // SAFETY: lengths were read above; no JNI call until the pins drop.
        let c = unsafe { Pinned::new(env, &ctx, nc, false) }?;
        // SAFETY: as above.
        let b = unsafe { Pinned::new(env, &body, nb, false) }?;
        // SAFETY: as above.
        let o = unsafe { Pinned::new(env, &out, no, true) }?;
        // SAFETY: `session` is live (Kotlin's handle lock); each pinned array is valid for its
        // length; `out` is a distinct Java array, so it overlaps neither input.
        let st = unsafe {
            scv2_client_seal_request(
                h(session),
                c.ptr(),
                c.len,
                b.ptr(),
                b.len,
                now_ms as u64,
                o.ptr_mut(),
                o.len,
                &mut n,
                &mut seq,
            )
        };
        drop((o, b, c));
        check(st)?;
        pack(seq, n)
    })
}

/// `scv2_client_open_response` into the caller's `out`: returns the body length.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_clientOpenResponse<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    session: jlong,
    seq: jlong,
    ctx: JByteArray<'caller>,
    envelope: JByteArray<'caller>,
    out: JByteArray<'caller>,
) -> jint {
    jni_boundary!(unowned, 0, |env| {
        let (nc, ne, no) = (
            len_of(env, &ctx)?,
            len_of(env, &envelope)?,
            len_of(env, &out)?,
        );
        let mut n = 0usize;
        // SAFETY: lengths were read above; no JNI call until the pins drop.
        let c = unsafe { Pinned::new(env, &ctx, nc, false) }?;
        // SAFETY: as above.
        let e = unsafe { Pinned::new(env, &envelope, ne, false) }?;
        // SAFETY: as above.
        let o = unsafe { Pinned::new(env, &out, no, true) }?;
        // SAFETY: `session` is live (Kotlin's handle lock); each pinned array is valid for its
        // length and `out` is a distinct array.
        let st = unsafe {
            scv2_client_open_response(
                h(session),
                seq as u64,
                c.ptr(),
                c.len,
                e.ptr(),
                e.len,
                o.ptr_mut(),
                o.len,
                &mut n,
            )
        };
        drop((o, e, c));
        check(st)?;
        jint::try_from(n).map_err(|_| Fail::Status(SCV2_INTERNAL))
    })
}

/// `scv2_client_session_free`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_clientSessionFree<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    session: jlong,
) {
    jni_boundary!(unowned, (), |_env| {
        // SAFETY: Kotlin frees each handle once, under its write lock.
        unsafe { scv2_client_session_free(h(session)) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Server

/// `scv2_server_new`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverNew<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    padding_block: jlong,
    replay_window: jint,
) -> jlong {
    jni_boundary!(unowned, 0, |_env| {
        let block = size(padding_block)?;
        let window =
            u32::try_from(replay_window).map_err(|_| Fail::Status(SCV2_INVALID_ARGUMENT))?;
        let mut out: *mut scv2_server = ptr::null_mut();
        // SAFETY: `out` is a valid place for one pointer.
        check(unsafe { scv2_server_new(block, window, &mut out) })?;
        Ok(jh(out))
    })
}

/// `scv2_server_add_key`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverAddKey<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    server: jlong,
    key_id: JByteArray<'caller>,
    private_key: JByteArray<'caller>,
    created_at_ms: jlong,
    expires_at_ms: jlong,
) {
    jni_boundary!(unowned, (), |env| {
        let kid = copy_in(env, &key_id)?;
        let sk = copy_in(env, &private_key)?;
        // SAFETY: `server` is live (Kotlin's handle lock); slices valid for their lengths.
        check(unsafe {
            scv2_server_add_key(
                h(server),
                kid.as_ptr(),
                kid.len(),
                sk.as_ptr(),
                sk.len(),
                created_at_ms as u64,
                expires_at_ms as u64,
            )
        })
    })
}

/// `scv2_server_generate_key`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverGenerateKey<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    server: jlong,
    key_id: JByteArray<'caller>,
    created_at_ms: jlong,
    expires_at_ms: jlong,
) {
    jni_boundary!(unowned, (), |env| {
        let kid = copy_in(env, &key_id)?;
        // SAFETY: `server` is live (Kotlin's handle lock); `kid` valid for its length.
        check(unsafe {
            scv2_server_generate_key(
                h(server),
                kid.as_ptr(),
                kid.len(),
                created_at_ms as u64,
                expires_at_ms as u64,
            )
        })
    })
}

/// `scv2_server_remove_key`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverRemoveKey<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    server: jlong,
    key_id: JByteArray<'caller>,
) {
    jni_boundary!(unowned, (), |env| {
        let kid = copy_in(env, &key_id)?;
        // SAFETY: `server` is live (Kotlin's handle lock); `kid` valid for its length.
        check(unsafe { scv2_server_remove_key(h(server), kid.as_ptr(), kid.len()) })
    })
}

/// `scv2_server_public_key`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverPublicKey<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    server: jlong,
    key_id: JByteArray<'caller>,
) -> JByteArray<'caller> {
    jni_boundary!(unowned, JByteArray::default(), |env| {
        let kid = copy_in(env, &key_id)?;
        query(env, |out, cap, out_len| {
            // SAFETY: `server` is live (Kotlin's handle lock); buffers valid for their lengths.
            unsafe { scv2_server_public_key(h(server), kid.as_ptr(), kid.len(), out, cap, out_len) }
        })
    })
}

/// `scv2_server_free`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverFree<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    server: jlong,
) {
    jni_boundary!(unowned, (), |_env| {
        // SAFETY: Kotlin frees each handle once, under its write lock.
        unsafe { scv2_server_free(h(server)) };
        Ok(())
    })
}

/// `scv2_server_accept`: returns the accepted handshake handle.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverAccept<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    server: jlong,
    envelope: JByteArray<'caller>,
    now_ms: jlong,
) -> jlong {
    jni_boundary!(unowned, 0, |env| {
        let n = len_of(env, &envelope)?;
        let mut out: *mut scv2_server_handshake = ptr::null_mut();
        // SAFETY: length read above; no JNI call until `e` drops.
        let e = unsafe { Pinned::new(env, &envelope, n, false) }?;
        // SAFETY: `server` is live (Kotlin's handle lock); `e` valid for its length.
        let st = unsafe { scv2_server_accept(h(server), e.ptr(), e.len, now_ms as u64, &mut out) };
        drop(e);
        check(st)?;
        Ok(jh(out))
    })
}

/// `scv2_server_handshake_payload`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverHandshakePayload<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    handshake: jlong,
) -> JByteArray<'caller> {
    jni_boundary!(unowned, JByteArray::default(), |env| {
        query(env, |out, cap, out_len| {
            // SAFETY: `handshake` is live (Kotlin's handle lock); `out` valid for `cap` bytes.
            unsafe { scv2_server_handshake_payload(h(handshake), out, cap, out_len) }
        })
    })
}

/// `scv2_server_handshake_key_id`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverHandshakeKeyId<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    handshake: jlong,
) -> JByteArray<'caller> {
    jni_boundary!(unowned, JByteArray::default(), |env| {
        query(env, |out, cap, out_len| {
            // SAFETY: as in `serverHandshakePayload`.
            unsafe { scv2_server_handshake_key_id(h(handshake), out, cap, out_len) }
        })
    })
}

/// `scv2_server_handshake_respond`: returns the type-130 envelope, the session in `out[0]`.
/// `session_id` NULL (Kotlin `null`): the library generates one.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverHandshakeRespond<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    handshake: jlong,
    session_id: JByteArray<'caller>,
    expires_at_ms: jlong,
    app_payload: JByteArray<'caller>,
    out_session: JLongArray<'caller>,
) -> JByteArray<'caller> {
    jni_boundary!(unowned, JByteArray::default(), |env| {
        let sid = copy_in(env, &session_id)?;
        let app = copy_in(env, &app_payload)?;
        let mut session: *mut scv2_server_session = ptr::null_mut();
        let cell = &mut session as *mut *mut scv2_server_session;
        let bytes = query(env, |out, cap, out_len| {
            // SAFETY: `handshake` is live (Kotlin's handle lock); buffers valid for their
            // lengths; `cell` points to the local `session`, not otherwise borrowed here.
            unsafe {
                if !(*cell).is_null() {
                    return SCV2_INTERNAL;
                }
                scv2_server_handshake_respond(
                    h(handshake),
                    if sid.is_empty() {
                        ptr::null()
                    } else {
                        sid.as_ptr()
                    },
                    sid.len(),
                    expires_at_ms as u64,
                    app.as_ptr(),
                    app.len(),
                    out,
                    cap,
                    out_len,
                    cell,
                )
            }
        });
        finish_with_handle(env, bytes, jh(session), &out_session, |p| {
            // SAFETY: `p` is the session created above, not yet published to Kotlin.
            unsafe { scv2_server_session_free(h(p)) }
        })
    })
}

/// `scv2_server_handshake_free`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverHandshakeFree<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    handshake: jlong,
) {
    jni_boundary!(unowned, (), |_env| {
        // SAFETY: Kotlin frees each handle once, under its write lock.
        unsafe { scv2_server_handshake_free(h(handshake)) };
        Ok(())
    })
}

/// `scv2_server_session_id`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverSessionId<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    session: jlong,
) -> JByteArray<'caller> {
    jni_boundary!(unowned, JByteArray::default(), |env| {
        query(env, |out, cap, out_len| {
            // SAFETY: `session` is live (Kotlin's handle lock); `out` valid for `cap` bytes.
            unsafe { scv2_server_session_id(h(session), out, cap, out_len) }
        })
    })
}

/// `scv2_server_session_expires_at_ms`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverSessionExpiresAtMs<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    session: jlong,
) -> jlong {
    jni_boundary!(unowned, 0, |_env| {
        let mut t = 0u64;
        // SAFETY: `session` is live (Kotlin's handle lock); `t` is writable.
        check(unsafe { scv2_server_session_expires_at_ms(h(session), &mut t) })?;
        Ok(t as jlong)
    })
}

/// `scv2_server_session_sealed_len` (0: overflow or too long for a Java array).
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverSessionSealedLen<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    session: jlong,
    body_len: jint,
) -> jint {
    jni_boundary!(unowned, 0, |_env| {
        let n = usize::try_from(body_len).map_err(|_| Fail::Status(SCV2_INVALID_ARGUMENT))?;
        // SAFETY: `session` is live (Kotlin's handle lock).
        Ok(jsize_or_zero(unsafe {
            scv2_server_session_sealed_len(h(session), n)
        }))
    })
}

/// `scv2_server_open_request` into the caller's `out`: returns `seq << 32 | body_len`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverOpenRequest<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    session: jlong,
    ctx: JByteArray<'caller>,
    envelope: JByteArray<'caller>,
    now_ms: jlong,
    out: JByteArray<'caller>,
) -> jlong {
    jni_boundary!(unowned, 0, |env| {
        let (nc, ne, no) = (
            len_of(env, &ctx)?,
            len_of(env, &envelope)?,
            len_of(env, &out)?,
        );
        let (mut n, mut seq) = (0usize, 0u64);
        // SAFETY: lengths were read above; no JNI call until the pins drop.
        let c = unsafe { Pinned::new(env, &ctx, nc, false) }?;
        // SAFETY: as above.
        let e = unsafe { Pinned::new(env, &envelope, ne, false) }?;
        // SAFETY: as above.
        let o = unsafe { Pinned::new(env, &out, no, true) }?;
        // SAFETY: `session` is live (Kotlin's handle lock); each pinned array is valid for its
        // length and `out` is a distinct array.
        let st = unsafe {
            scv2_server_open_request(
                h(session),
                c.ptr(),
                c.len,
                e.ptr(),
                e.len,
                now_ms as u64,
                o.ptr_mut(),
                o.len,
                &mut n,
                &mut seq,
            )
        };
        drop((o, e, c));
        check(st)?;
        pack(seq, n)
    })
}

/// `scv2_server_seal_response` into the caller's `out`: returns the envelope length.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverSealResponse<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    session: jlong,
    seq: jlong,
    ctx: JByteArray<'caller>,
    body: JByteArray<'caller>,
    out: JByteArray<'caller>,
) -> jint {
    jni_boundary!(unowned, 0, |env| {
        let (nc, nb, no) = (len_of(env, &ctx)?, len_of(env, &body)?, len_of(env, &out)?);
        let mut n = 0usize;
        // SAFETY: lengths were read above; no JNI call until the pins drop.
        let c = unsafe { Pinned::new(env, &ctx, nc, false) }?;
        // SAFETY: as above.
        let b = unsafe { Pinned::new(env, &body, nb, false) }?;
        // SAFETY: as above.
        let o = unsafe { Pinned::new(env, &out, no, true) }?;
        // SAFETY: `session` is live (Kotlin's handle lock); each pinned array is valid for its
        // length and `out` is a distinct array.
        let st = unsafe {
            scv2_server_seal_response(
                h(session),
                seq as u64,
                c.ptr(),
                c.len,
                b.ptr(),
                b.len,
                o.ptr_mut(),
                o.len,
                &mut n,
            )
        };
        drop((o, b, c));
        check(st)?;
        jint::try_from(n).map_err(|_| Fail::Status(SCV2_INTERNAL))
    })
}

/// `scv2_server_session_free`.
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_serverSessionFree<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    session: jlong,
) {
    jni_boundary!(unowned, (), |_env| {
        // SAFETY: Kotlin frees each handle once, under its write lock.
        unsafe { scv2_server_session_free(h(session)) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Benchmark baseline (bindings/kotlin/bench): the same exchange through the Rust API, timed in
// the same process as the Kotlin loop.

/// Time `iterations` whole exchanges (client seal_request, server open_request, server
/// seal_response, client open_response: 2 seals + 2 opens) with a body and an answer of
/// `body_len` bytes, ctx "POST /web/v1/auth/login", through the Rust core API (`c_abi` false) or
/// through the C ABI functions called from Rust (`c_abi` true, what the JNI shims call); returns
/// the elapsed nanoseconds of the loop (set-up excluded).
#[no_mangle]
pub extern "system" fn Java_io_scv2_Native_rustBaselineNanos<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    body_len: jint,
    iterations: jint,
    c_abi: jboolean,
) -> jlong {
    jni_boundary!(unowned, 0, |_env| {
        let body_len =
            usize::try_from(body_len).map_err(|_| Fail::Status(SCV2_INVALID_ARGUMENT))?;
        let iterations =
            u32::try_from(iterations).map_err(|_| Fail::Status(SCV2_INVALID_ARGUMENT))?;
        if c_abi {
            c_abi_baseline(body_len, iterations)
        } else {
            rust_baseline(body_len, iterations).map_err(|e| Fail::Status(status(e)))
        }
    })
}

/// The baseline loop through the C ABI functions (the handles are freed on every path).
fn c_abi_baseline(body_len: usize, iterations: u32) -> JResult<jlong> {
    struct Handles {
        server: *mut scv2_server,
        config: *mut scv2_client_config,
        hs: *mut scv2_client_handshake,
        shs: *mut scv2_server_handshake,
        client: *mut scv2_client_session,
        session: *mut scv2_server_session,
    }
    impl Drop for Handles {
        fn drop(&mut self) {
            // SAFETY: each pointer is NULL or a live handle created below and freed only here.
            unsafe {
                scv2_client_session_free(self.client);
                scv2_server_session_free(self.session);
                scv2_server_handshake_free(self.shs);
                scv2_client_handshake_free(self.hs);
                scv2_client_config_free(self.config);
                scv2_server_free(self.server);
            }
        }
    }
    let mut hd = Handles {
        server: ptr::null_mut(),
        config: ptr::null_mut(),
        hs: ptr::null_mut(),
        shs: ptr::null_mut(),
        client: ptr::null_mut(),
        session: ptr::null_mut(),
    };
    let now = 1_764_400_000_000u64;
    let kid = b"bench";
    let mut pk = [0u8; 32];
    let mut buf = vec![0u8; 4096];
    let mut n = 0usize;
    // SAFETY: every pointer passed is valid for its length (local buffers) or a live handle
    // created by an earlier call of this block; out-pointers are valid places.
    unsafe {
        check(scv2_server_new(0, 0, &mut hd.server))?;
        check(scv2_server_generate_key(
            hd.server,
            kid.as_ptr(),
            kid.len(),
            now,
            0,
        ))?;
        check(scv2_server_public_key(
            hd.server,
            kid.as_ptr(),
            kid.len(),
            pk.as_mut_ptr(),
            32,
            &mut n,
        ))?;
        check(scv2_client_config_new(&mut hd.config))?;
        check(scv2_client_config_pin(
            hd.config,
            kid.as_ptr(),
            kid.len(),
            pk.as_ptr(),
            32,
        ))?;
        check(scv2_client_handshake_start(
            hd.config,
            kid.as_ptr(),
            kid.len(),
            b"{}".as_ptr(),
            2,
            buf.as_mut_ptr(),
            buf.len(),
            &mut n,
            &mut hd.hs,
        ))?;
        check(scv2_server_accept(
            hd.server,
            buf.as_ptr(),
            n,
            now,
            &mut hd.shs,
        ))?;
        check(scv2_server_handshake_respond(
            hd.shs,
            ptr::null(),
            0,
            now + 3_600_000,
            ptr::null(),
            0,
            buf.as_mut_ptr(),
            buf.len(),
            &mut n,
            &mut hd.session,
        ))?;
        check(scv2_client_handshake_finish(
            hd.hs,
            buf.as_ptr(),
            n,
            now,
            &mut hd.client,
        ))?;
    }
    let ctx = b"POST /web/v1/auth/login";
    let body = vec![0x5au8; body_len];
    let big = body_len + 256;
    let (mut request, mut plain) = (vec![0u8; big], vec![0u8; big]);
    let (mut response, mut answer) = (vec![0u8; big], vec![0u8; big]);
    let start = std::time::Instant::now();
    for _ in 0..iterations {
        let (mut rn, mut seq, mut pn, mut sseq, mut sn, mut an) = (0, 0, 0, 0, 0, 0);
        // SAFETY: live handles (above); every buffer is a local Vec valid for its length.
        unsafe {
            check(scv2_client_seal_request(
                hd.client,
                ctx.as_ptr(),
                ctx.len(),
                body.as_ptr(),
                body.len(),
                now,
                request.as_mut_ptr(),
                request.len(),
                &mut rn,
                &mut seq,
            ))?;
            check(scv2_server_open_request(
                hd.session,
                ctx.as_ptr(),
                ctx.len(),
                request.as_ptr(),
                rn,
                now,
                plain.as_mut_ptr(),
                plain.len(),
                &mut pn,
                &mut sseq,
            ))?;
            check(scv2_server_seal_response(
                hd.session,
                sseq,
                ctx.as_ptr(),
                ctx.len(),
                plain.as_ptr(),
                pn,
                response.as_mut_ptr(),
                response.len(),
                &mut sn,
            ))?;
            check(scv2_client_open_response(
                hd.client,
                seq,
                ctx.as_ptr(),
                ctx.len(),
                response.as_ptr(),
                sn,
                answer.as_mut_ptr(),
                answer.len(),
                &mut an,
            ))?;
        }
        std::hint::black_box(an);
    }
    let elapsed = start.elapsed().as_nanos();
    drop(hd);
    Ok(jlong::try_from(elapsed).unwrap_or(jlong::MAX))
}

fn rust_baseline(body_len: usize, iterations: u32) -> crate::Result<jlong> {
    use crate::{ClientConfig, ClientHandshake, OsRng, PinnedKey, Server, ServerConfig, ServerKey};
    let now_ms = 1_764_400_000_000u64;
    let mut rng = OsRng;
    let mut server = Server::new(ServerConfig::default());
    server.add_key(ServerKey::generate("bench", now_ms, None, &mut rng)?)?;
    let doc = server
        .current_key(now_ms)
        .ok_or(crate::Error::Internal)?
        .document();
    let mut config = ClientConfig::new();
    config.pin(PinnedKey::from_spki_base64(&doc.key_id, &doc.public_key)?);
    let (handshake, type1) = ClientHandshake::start(&config, &doc.key_id, b"{}", &mut rng)?;
    let accepted = server.accept(&type1, now_ms)?;
    let sid = crate::generate_session_id(&mut rng)?;
    let (server_session, type130) = accepted.respond(&sid, now_ms + 3_600_000, b"", &mut rng)?;
    let client = handshake.finish(&type130, now_ms)?;

    let ctx = b"POST /web/v1/auth/login";
    let body = vec![0x5au8; body_len];
    let mut request = vec![0u8; client.sealed_len(body_len)];
    let mut plain = vec![0u8; crate::max_open_len(request.len())];
    let mut response = vec![0u8; server_session.sealed_len(body_len)];
    let mut answer = vec![0u8; crate::max_open_len(response.len())];
    let start = std::time::Instant::now();
    for _ in 0..iterations {
        let (pending, n) = client.seal_request(ctx, &body, now_ms, &mut request)?;
        let req = request.get(..n).ok_or(crate::Error::Internal)?;
        let (slot, len) = server_session.open_request(ctx, req, now_ms, &mut plain)?;
        let got = plain.get(..len).ok_or(crate::Error::Internal)?;
        let m = server_session.seal_response(slot, ctx, got, &mut response)?;
        let resp = response.get(..m).ok_or(crate::Error::Internal)?;
        let k = client.open_response(pending, ctx, resp, &mut answer)?;
        std::hint::black_box(k);
    }
    let elapsed = start.elapsed().as_nanos();
    Ok(jlong::try_from(elapsed).unwrap_or(jlong::MAX))
}

// ---------------------------------------------------------------------------------------------
// Test-only entry points (feature `test-vectors`, never in release builds), bound to the test
// class `io.scv2.TestVectorsNative` of bindings/kotlin/src/test.

/// `scv2_client_handshake_start_for_test_vectors`: as `clientHandshakeStart` with an explicit
/// ephemeral private key and iv1.
#[cfg(feature = "test-vectors")]
#[no_mangle]
pub extern "system" fn Java_io_scv2_TestVectorsNative_clientHandshakeStart<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    config: jlong,
    key_id: JByteArray<'caller>,
    payload: JByteArray<'caller>,
    ephemeral_private: JByteArray<'caller>,
    iv1: JByteArray<'caller>,
    out_handle: JLongArray<'caller>,
) -> JByteArray<'caller> {
    jni_boundary!(unowned, JByteArray::default(), |env| {
        let kid = copy_in(env, &key_id)?;
        let body = copy_in(env, &payload)?;
        let eph = copy_in(env, &ephemeral_private)?;
        let iv = copy_in(env, &iv1)?;
        let mut hs: *mut scv2_client_handshake = ptr::null_mut();
        let cell = &mut hs as *mut *mut scv2_client_handshake;
        let bytes = query(env, |out, cap, out_len| {
            // SAFETY: `config` is live (Kotlin's handle lock); buffers valid for their lengths;
            // `cell` points to the local `hs`, not otherwise borrowed here.
            unsafe {
                if !(*cell).is_null() {
                    return SCV2_INTERNAL;
                }
                scv2_client_handshake_start_for_test_vectors(
                    h(config),
                    kid.as_ptr(),
                    kid.len(),
                    body.as_ptr(),
                    body.len(),
                    eph.as_ptr(),
                    eph.len(),
                    iv.as_ptr(),
                    iv.len(),
                    out,
                    cap,
                    out_len,
                    cell,
                )
            }
        });
        finish_with_handle(env, bytes, jh(hs), &out_handle, |p| {
            // SAFETY: `p` is the handshake created above, not yet published to Kotlin.
            unsafe { scv2_client_handshake_free(h(p)) }
        })
    })
}

/// `scv2_server_handshake_respond_for_test_vectors`.
#[cfg(feature = "test-vectors")]
#[no_mangle]
pub extern "system" fn Java_io_scv2_TestVectorsNative_serverHandshakeRespond<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    handshake: jlong,
    session_id: JByteArray<'caller>,
    expires_at_ms: jlong,
    app_payload: JByteArray<'caller>,
    ephemeral_private: JByteArray<'caller>,
    out_session: JLongArray<'caller>,
) -> JByteArray<'caller> {
    jni_boundary!(unowned, JByteArray::default(), |env| {
        let sid = copy_in(env, &session_id)?;
        let app = copy_in(env, &app_payload)?;
        let eph = copy_in(env, &ephemeral_private)?;
        let mut session: *mut scv2_server_session = ptr::null_mut();
        let cell = &mut session as *mut *mut scv2_server_session;
        let bytes = query(env, |out, cap, out_len| {
            // SAFETY: `handshake` is live (Kotlin's handle lock); buffers valid for their
            // lengths; `cell` points to the local `session`, not otherwise borrowed here.
            unsafe {
                if !(*cell).is_null() {
                    return SCV2_INTERNAL;
                }
                scv2_server_handshake_respond_for_test_vectors(
                    h(handshake),
                    sid.as_ptr(),
                    sid.len(),
                    expires_at_ms as u64,
                    app.as_ptr(),
                    app.len(),
                    eph.as_ptr(),
                    eph.len(),
                    out,
                    cap,
                    out_len,
                    cell,
                )
            }
        });
        finish_with_handle(env, bytes, jh(session), &out_session, |p| {
            // SAFETY: `p` is the session created above, not yet published to Kotlin.
            unsafe { scv2_server_session_free(h(p)) }
        })
    })
}

/// Panic inside the boundary: the test checks that it arrives as `Scv2Exception(255)`.
#[cfg(feature = "test-vectors")]
#[allow(clippy::panic)]
#[no_mangle]
pub extern "system" fn Java_io_scv2_TestVectorsNative_panicInsideBoundary<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
) -> jint {
    jni_boundary!(unowned, -1, |_env| {
        if std::hint::black_box(true) {
            panic!("deliberate panic inside the JNI boundary");
        }
        Ok(0)
    })
}
