//! The JNI plumbing of the Kotlin binding (feature `jni`): what the native methods declared in
//! `crate::natives` are written with. They call the bridge directly — never the C exports — so a
//! Kotlin call crosses one boundary (`jni_boundary!`, one `catch_unwind`) and its handles and
//! arrays are checked once.
//!
//! - [`Env`]: the `JNIEnv` of the current call, and the few JNI functions used, through the raw
//!   function table of `jni-sys` (no per-call setup: no attach guard, no local frame).
//! - [`Pins`]: the byte arrays of a hot call pinned with `GetPrimitiveArrayCritical` (usually a
//!   direct pointer into the Java heap, no copy): inputs read-only (released with `JNI_ABORT`), the
//!   output written in place. Every length is read before the first pin, and no JNI function is
//!   called while one is held.
//! - [`NewArray`]: a fresh Java array as the bridge's [`Output`]: created at the exact size the
//!   core asks for, pinned, written once (a handshake envelope is made once, in the Java heap).
//! - Cold-path inputs (keys, ids, payloads) are copied into zeroizing Rust memory.
//!
//! Failures become exceptions: a status is thrown as `io.scv2.Scv2Exception(code)`; a pending
//! Java exception (for example an `OutOfMemoryError` from `NewByteArray`) is left as it is; a
//! panic is thrown as `Scv2Exception(255)` (its payload leaked, never dropped).
//!
//! Handles are `Long`s holding the pointer. The Kotlin classes guarantee that a handle is live for
//! the whole call and that its `_free` never races with another call on it (`NativeHandle`).

use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr;

use jni_sys::{
    jarray, jbyte, jbyteArray, jclass, jint, jlong, jlongArray, jmethodID, jsize, jvalue, JNIEnv,
    JNINativeInterface_, JNI_ABORT, JNI_TRUE,
};
use scv2::Error;
use zeroize::Zeroizing;

use crate::bridge::{self, Output};

/// Why a native method failed.
pub(crate) enum Fail {
    /// A status of the library: thrown as `io.scv2.Scv2Exception(code)`.
    Status(Error),
    /// A Java exception is already pending (it propagates as it is).
    Java,
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Status(e)
    }
}

pub(crate) type JResult<T> = Result<T, Fail>;

/// The one boundary of every native method: `jni_boundary!(raw_env, default, |env| { body })` runs
/// `body` (a `JResult<T>`) with an [`Env`] under `catch_unwind`; an error or a panic becomes a
/// thrown exception and `default` is returned.
macro_rules! jni_boundary {
    ($raw:ident, $default:expr, |$env:ident| $body:block) => {{
        // SAFETY: `$raw` is the `JNIEnv` the JVM passed to this native method, valid on this
        // thread for the duration of the call.
        let env = unsafe { crate::jni::Env::new($raw) };
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(
            || -> crate::jni::JResult<_> {
                let $env = &env;
                $body
            },
        )) {
            Ok(Ok(value)) => value,
            Ok(Err(fail)) => {
                env.fail(fail);
                $default
            }
            Err(payload) => {
                ::core::mem::forget(payload);
                env.fail(crate::jni::Fail::Status(::scv2::Error::Internal));
                $default
            }
        }
    }};
}

/// The `JNIEnv` of the current native call.
pub(crate) struct Env {
    raw: *mut JNIEnv,
}

impl Env {
    /// # Safety
    /// `raw` must be the `JNIEnv` the JVM passed to the running native method (valid on this
    /// thread until it returns), with a JNI 1.2 or later function table.
    pub(crate) unsafe fn new(raw: *mut JNIEnv) -> Env {
        Env { raw }
    }

    fn fns(&self) -> &jni_sys::JNINativeInterface__1_2 {
        // SAFETY: `Env::new`'s contract: `raw` points to a valid `JNIEnv`, whose first word points
        // to the JVM's function table, which lives as long as the VM; every JVM this binding runs
        // on implements JNI 1.2 or later, so the 1.2 view of the table is initialized.
        unsafe {
            let table: *const JNINativeInterface_ = *self.raw;
            &(*table).v1_2
        }
    }

    fn exception_pending(&self) -> bool {
        // SAFETY: a valid env (see `fns`); ExceptionCheck may be called at any time.
        unsafe { (self.fns().ExceptionCheck)(self.raw) == JNI_TRUE }
    }

    /// The length of a byte array; `None` for a Java `null`.
    pub(crate) fn len(&self, array: jbyteArray) -> Option<usize> {
        if array.is_null() {
            return None;
        }
        // SAFETY: a valid env and a live local reference to a byte array (a parameter of the
        // native method); no critical region is open (callers read lengths before pinning).
        let n = unsafe { (self.fns().GetArrayLength)(self.raw, array as jarray) };
        usize::try_from(n).ok()
    }

    /// A copy of a byte array in zeroizing memory (`None` for `null`).
    pub(crate) fn copy_in(&self, array: jbyteArray) -> JResult<Option<Zeroizing<Vec<u8>>>> {
        let Some(n) = self.len(array) else {
            return Ok(None);
        };
        let mut v = Zeroizing::new(vec![0u8; n]);
        if n > 0 {
            let len = jsize::try_from(n).map_err(|_| Fail::Status(Error::Internal))?;
            // SAFETY: a valid env and array; `v` has room for `len` bytes (`jbyte` and `u8` have
            // the same size and alignment); no critical region is open.
            unsafe {
                (self.fns().GetByteArrayRegion)(
                    self.raw,
                    array,
                    0,
                    len,
                    v.as_mut_ptr().cast::<jbyte>(),
                )
            };
            if self.exception_pending() {
                return Err(Fail::Java);
            }
        }
        Ok(Some(v))
    }

    /// [`Env::copy_in`] with `null` read as empty.
    pub(crate) fn bytes_in(&self, array: jbyteArray) -> JResult<Zeroizing<Vec<u8>>> {
        Ok(self.copy_in(array)?.unwrap_or_default())
    }

    /// A new byte array of `n` bytes (zeros).
    fn new_array(&self, n: usize) -> JResult<jbyteArray> {
        let len = jsize::try_from(n).map_err(|_| Fail::Status(Error::PayloadTooLarge))?;
        // SAFETY: a valid env; no critical region is open (a `NewArray` is created before it is
        // pinned, and only while no other array is pinned).
        let a = unsafe { (self.fns().NewByteArray)(self.raw, len) };
        if a.is_null() {
            return Err(Fail::Java);
        }
        Ok(a)
    }

    /// Store `value` as a new heap handle in `out[0]`; if that fails, the handle is freed.
    pub(crate) fn publish<T>(&self, out: jlongArray, value: T) -> JResult<()> {
        let p = Box::into_raw(Box::new(value));
        let h = p as usize as jlong;
        // SAFETY: a valid env and a live `long[]` reference; `h` is one readable `jlong`; no
        // critical region is open. A too-short array raises ArrayIndexOutOfBoundsException.
        unsafe { (self.fns().SetLongArrayRegion)(self.raw, out, 0, 1, &h) };
        if self.exception_pending() {
            // SAFETY: `p` came from `Box::into_raw` just above and was not published.
            drop(unsafe { Box::from_raw(p) });
            return Err(Fail::Java);
        }
        Ok(())
    }

    /// Throw the exception for `fail` (unless one is already pending).
    pub(crate) fn fail(&self, fail: Fail) {
        if self.exception_pending() {
            return;
        }
        let code = match fail {
            Fail::Status(e) => e.code(),
            Fail::Java => Error::Internal.code(),
        };
        if !self.throw_scv2(jint::from(code)) && !self.exception_pending() {
            // SAFETY: a valid env; the class name and message are NUL-terminated literals.
            unsafe {
                let cls =
                    (self.fns().FindClass)(self.raw, c"java/lang/IllegalStateException".as_ptr());
                if !cls.is_null() {
                    (self.fns().ThrowNew)(
                        self.raw,
                        cls,
                        c"scv2: cannot construct io.scv2.Scv2Exception".as_ptr(),
                    );
                }
            }
        }
    }

    /// `throw new io.scv2.Scv2Exception(code)`; whether it is now pending.
    fn throw_scv2(&self, code: jint) -> bool {
        // SAFETY: a valid env, no critical region open; the names are NUL-terminated literals;
        // each reference returned is checked before use; `args` is one `jvalue` for the `(I)V`
        // constructor.
        unsafe {
            let f = self.fns();
            let cls: jclass = (f.FindClass)(self.raw, c"io/scv2/Scv2Exception".as_ptr());
            if cls.is_null() {
                return false;
            }
            let init: jmethodID =
                (f.GetMethodID)(self.raw, cls, c"<init>".as_ptr(), c"(I)V".as_ptr());
            if init.is_null() {
                return false;
            }
            let args = [jvalue { i: code }];
            let e = (f.NewObjectA)(self.raw, cls, init, args.as_ptr());
            if e.is_null() {
                return false;
            }
            (f.Throw)(self.raw, e) == 0
        }
    }

    /// The arrays of a hot call: `ctx`, `inputs` (read-only) and `out` (written). Every length is
    /// read first; then a short `ctx` (at most [`SHORT`] bytes: a method and path) is copied with
    /// one `GetByteArrayRegion` (cheaper than a pin and its release), and the rest is pinned. An
    /// `out` that overlaps an input is [`Error::InvalidArgument`]. A `null` array is empty.
    pub(crate) fn pin<const N: usize>(
        &self,
        ctx: jbyteArray,
        inputs: [jbyteArray; N],
        out: jbyteArray,
    ) -> JResult<Pins<'_, N>> {
        let ctx_len = self.len(ctx).unwrap_or(0);
        let lens = inputs.map(|a| self.len(a).unwrap_or(0));
        let out_len = self.len(out).unwrap_or(0);
        let mut pins = Pins {
            _env: PhantomData,
            short: [0u8; SHORT],
            short_len: 0,
            ctx: Pinned::EMPTY,
            inputs: [Pinned::EMPTY; N],
            out: Pinned::EMPTY,
        };
        if ctx_len <= SHORT {
            if ctx_len > 0 {
                let len = jsize::try_from(ctx_len).map_err(|_| Fail::Status(Error::Internal))?;
                // SAFETY: a valid env and array of `ctx_len` bytes; `short` has room for them;
                // no critical region is open yet.
                unsafe {
                    (self.fns().GetByteArrayRegion)(
                        self.raw,
                        ctx,
                        0,
                        len,
                        pins.short.as_mut_ptr().cast::<jbyte>(),
                    )
                };
                if self.exception_pending() {
                    return Err(Fail::Java);
                }
            }
            pins.short_len = ctx_len;
        } else {
            // SAFETY: the length was read above; no JNI function other than the critical pair
            // is called until `pins` is dropped.
            pins.ctx = unsafe { Pinned::new(self, ctx, ctx_len, JNI_ABORT) }?;
        }
        for (slot, (array, len)) in pins.inputs.iter_mut().zip(inputs.into_iter().zip(lens)) {
            // SAFETY: as above.
            *slot = unsafe { Pinned::new(self, array, len, JNI_ABORT) }?;
        }
        // SAFETY: as above.
        pins.out = unsafe { Pinned::new(self, out, out_len, 0) }?;
        let ctx_ok = bridge::disjoint(pins.out.ptr, pins.out.len, &[pins.ctx.slice()]);
        let ins = pins.inputs.each_ref().map(|p| p.slice());
        if !ctx_ok || !bridge::disjoint(pins.out.ptr, pins.out.len, &ins) {
            return Err(Fail::Status(Error::InvalidArgument));
        }
        Ok(pins)
    }

    /// A fresh byte array as the bridge's output (see [`NewArray`]).
    pub(crate) fn new_output(&self) -> NewArray<'_> {
        NewArray {
            env: self,
            array: ptr::null_mut(),
            pin: Pinned::EMPTY,
        }
    }
}

/// A byte array pinned with `GetPrimitiveArrayCritical`, released on drop.
pub(crate) struct Pinned {
    env: *mut JNIEnv,
    array: jarray,
    ptr: *mut u8,
    len: usize,
    mode: jint,
}

impl Pinned {
    const EMPTY: Pinned = Pinned {
        env: ptr::null_mut(),
        array: ptr::null_mut(),
        ptr: ptr::null_mut(),
        len: 0,
        mode: JNI_ABORT,
    };

    /// Pin `array` (`len` elements, read before). `mode` is the release mode: `JNI_ABORT` for an
    /// input (a copy is never written back), 0 for an output. `null` or empty is not pinned.
    ///
    /// # Safety
    /// `len` must be the array's length, and the caller must call no JNI function other than the
    /// critical pair while the result is alive.
    unsafe fn new(env: &Env, array: jbyteArray, len: usize, mode: jint) -> JResult<Pinned> {
        if array.is_null() || len == 0 {
            return Ok(Pinned {
                mode,
                ..Pinned::EMPTY
            });
        }
        // SAFETY: a valid env (see `Env::fns`) and a live local reference to a byte array.
        let p = unsafe {
            (env.fns().GetPrimitiveArrayCritical)(env.raw, array as jarray, ptr::null_mut())
        };
        if p.is_null() {
            return Err(Fail::Status(Error::Internal));
        }
        Ok(Pinned {
            env: env.raw,
            array: array as jarray,
            ptr: p.cast::<u8>(),
            len,
            mode,
        })
    }

    fn slice(&self) -> &[u8] {
        if self.ptr.is_null() {
            return &[];
        }
        // SAFETY: `ptr` points to the array's `len` bytes, pinned until `self` is dropped; inputs
        // are only read, and an output is only written through `slice_mut`, whose range
        // `Env::pin` checked against every input.
        unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
    }

    fn slice_mut(&mut self) -> &mut [u8] {
        if self.ptr.is_null() {
            return &mut [];
        }
        // SAFETY: as in `slice`; `&mut self` makes this the only view of the output's bytes.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if self.ptr.is_null() {
            return;
        }
        // SAFETY: `ptr` was returned by GetPrimitiveArrayCritical for `array` on this thread's
        // `env` and is released exactly once, here.
        unsafe {
            let table: *const JNINativeInterface_ = *self.env;
            ((*table).v1_2.ReleasePrimitiveArrayCritical)(
                self.env,
                self.array,
                self.ptr.cast::<c_void>(),
                self.mode,
            );
        }
    }
}

/// Room for a copied input (see [`Env::call`]).
const COPY_IN: usize = 1024;
/// Room for a copied output: a copied body's envelope.
const COPY_OUT: usize = COPY_IN + 128;

/// Stack room for one short array of at most `C` bytes (stored as `C / 8` words), initialized
/// only as far as it is used, and wiped (the words used, with volatile word stores) on drop: a
/// copied body or plaintext never outlives the call.
struct Scratch<const C: usize> {
    buf: [core::mem::MaybeUninit<u64>; C],
    used: usize,
}

impl<const C: usize> Scratch<C> {
    /// The byte capacity.
    const BYTES: usize = C * 8;

    fn new() -> Self {
        Scratch {
            buf: [core::mem::MaybeUninit::uninit(); C],
            used: 0,
        }
    }

    fn ptr(&mut self) -> *mut u8 {
        self.buf.as_mut_ptr().cast::<u8>()
    }

    /// The first `used` bytes.
    fn bytes(&self) -> &[u8] {
        // SAFETY: the first `used` bytes (at most `C * 8`) were initialized: by the JVM
        // (`GetByteArrayRegion` of exactly `used` bytes, with no exception) or by `zeroed`.
        unsafe { core::slice::from_raw_parts(self.buf.as_ptr().cast::<u8>(), self.used) }
    }

    /// The first `n` bytes (at most `C * 8`), zeroed, writable.
    fn zeroed(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > Self::BYTES {
            return None;
        }
        let p = self.ptr();
        // SAFETY: `p` points to `C * 8 >= n` bytes owned by `self`; zeroing initializes them.
        unsafe { p.write_bytes(0, n) };
        self.used = self.used.max(n);
        // SAFETY: the `n` bytes were just initialized, and `&mut self` makes this the only view.
        Some(unsafe { core::slice::from_raw_parts_mut(p, n) })
    }
}

impl<const C: usize> Drop for Scratch<C> {
    fn drop(&mut self) {
        let words = self.used.div_ceil(8).min(C);
        for w in self.buf.iter_mut().take(words) {
            // SAFETY: `w` is a valid, aligned, owned word; a volatile write is not elided.
            unsafe { core::ptr::write_volatile(w.as_mut_ptr(), 0) };
        }
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    }
}

/// The arrays of one hot call (`ctx`, one input, one output), moved the cheapest safe way (see
/// [`Env::call`]).
pub(crate) struct Call<'e> {
    env: &'e Env,
    copied: Option<Copied>,
    pins: Option<Pins<'e, 1>>,
    out: jbyteArray,
}

struct Copied {
    ctx: Scratch<{ SHORT / 8 }>,
    input: Scratch<{ COPY_IN / 8 }>,
    out: Scratch<{ COPY_OUT / 8 }>,
    /// The output capacity Kotlin gave (checked by the JVM when the result is copied back).
    out_cap: usize,
}

/// The copied output as the bridge's [`Output`]: the `needed` bytes are zeroed on the stack.
pub(crate) struct CopiedOut<'a> {
    out: &'a mut Scratch<{ COPY_OUT / 8 }>,
    cap: usize,
}

impl<'a> Output<'a> for CopiedOut<'a> {
    fn take(self, needed: usize) -> Result<&'a mut [u8], Error> {
        if needed > self.cap {
            return Err(Error::BufferTooSmall);
        }
        self.out.zeroed(needed).ok_or(Error::BufferTooSmall)
    }
}

impl Env {
    /// The arrays of a hot call. Short ones (a `ctx` of at most [`SHORT`] bytes, an input of at
    /// most [`COPY_IN`], an output capacity of at most [`COPY_OUT`]) are copied through the stack:
    /// each input costs its length and one `GetByteArrayRegion`, and the output one
    /// `SetByteArrayRegion` at the end ([`Call::finish`]), for the capacity `out_cap` the Kotlin
    /// wrapper passes (`out.size`; the JVM checks the copy against the real array, so a wrong
    /// one raises `ArrayIndexOutOfBoundsException`, never an overrun). That is five JNI calls
    /// where pinning takes eight. Long ones are pinned ([`Env::pin`]), with every length read
    /// from the arrays.
    pub(crate) fn call(
        &self,
        ctx: jbyteArray,
        input: jbyteArray,
        out: jbyteArray,
        out_cap: jint,
    ) -> JResult<Call<'_>> {
        let ctx_len = self.len(ctx).unwrap_or(0);
        let in_len = self.len(input).unwrap_or(0);
        let out_cap = usize::try_from(out_cap).map_err(|_| Fail::Status(Error::InvalidArgument))?;
        if ctx_len > SHORT || in_len > COPY_IN || out_cap > COPY_OUT || out.is_null() {
            let pins = self.pin(ctx, [input], out)?;
            return Ok(Call {
                env: self,
                copied: None,
                pins: Some(pins),
                out,
            });
        }
        let mut c = Copied {
            ctx: Scratch::new(),
            input: Scratch::new(),
            out: Scratch::new(),
            out_cap,
        };
        self.region(ctx, ctx_len, &mut c.ctx)?;
        self.region(input, in_len, &mut c.input)?;
        Ok(Call {
            env: self,
            copied: Some(c),
            pins: None,
            out,
        })
    }

    /// Copy the `len` bytes of `array` (its length, read before) into `to`.
    fn region<const C: usize>(
        &self,
        array: jbyteArray,
        len: usize,
        to: &mut Scratch<C>,
    ) -> JResult<()> {
        if len == 0 {
            return Ok(());
        }
        if len > Scratch::<C>::BYTES {
            return Err(Fail::Status(Error::Internal));
        }
        let n = jsize::try_from(len).map_err(|_| Fail::Status(Error::Internal))?;
        let dst = to.ptr().cast::<jbyte>();
        // SAFETY: a valid env and a live byte array of `len` bytes (its length read above, and
        // arrays never change length), so the region is in bounds and raises nothing; `dst` has
        // room for `len <= C * 8` bytes; no critical region is open.
        unsafe { (self.fns().GetByteArrayRegion)(self.raw, array, 0, n, dst) };
        to.used = len;
        Ok(())
    }
}

impl<'e> Call<'e> {
    /// `ctx`, the input, and the output (an [`Output`] for the bridge).
    pub(crate) fn split(&mut self) -> (&[u8], &[u8], CallOut<'_>) {
        match (&mut self.copied, &mut self.pins) {
            (Some(c), _) => (
                c.ctx.bytes(),
                c.input.bytes(),
                CallOut::Copied(CopiedOut {
                    out: &mut c.out,
                    cap: c.out_cap,
                }),
            ),
            (None, Some(p)) => {
                let (ctx, [input], out) = p.split();
                (ctx, input, CallOut::Pinned(out))
            }
            (None, None) => (&[], &[], CallOut::Pinned(&mut [])),
        }
    }

    /// After a successful call that wrote `n` bytes of output: release the pins, or copy the
    /// `n` bytes back into the Java array (one `SetByteArrayRegion`).
    pub(crate) fn finish(self, n: usize) -> JResult<()> {
        let Call {
            env,
            copied,
            pins,
            out,
            ..
        } = self;
        drop(pins);
        let Some(c) = copied else { return Ok(()) };
        let bytes = c
            .out
            .bytes()
            .get(..n)
            .ok_or(Fail::Status(Error::Internal))?;
        if bytes.is_empty() {
            return Ok(());
        }
        let len = jsize::try_from(n).map_err(|_| Fail::Status(Error::Internal))?;
        // SAFETY: a valid env and a live byte array; `bytes` holds `len` readable bytes; no
        // critical region is open. The JVM checks the region against the array (an array shorter
        // than the capacity Kotlin claimed raises ArrayIndexOutOfBoundsException).
        unsafe {
            (env.fns().SetByteArrayRegion)(env.raw, out, 0, len, bytes.as_ptr().cast::<jbyte>())
        };
        // No exception check: the Kotlin wrapper passes `out.size`, so this never throws; if a
        // caller lied, the pending exception is what the JVM raises when the method returns.
        Ok(())
    }
}

/// The output of a [`Call`]: the copied stack buffer or the pinned array.
pub(crate) enum CallOut<'a> {
    Copied(CopiedOut<'a>),
    Pinned(&'a mut [u8]),
}

impl<'a> Output<'a> for CallOut<'a> {
    fn take(self, needed: usize) -> Result<&'a mut [u8], Error> {
        match self {
            CallOut::Copied(c) => c.take(needed),
            CallOut::Pinned(out) => out.take(needed),
        }
    }
}

/// The longest `ctx` a hot call copies instead of pinning.
const SHORT: usize = 256;

/// The arrays of one hot call (see [`Env::pin`]).
pub(crate) struct Pins<'e, const N: usize> {
    _env: PhantomData<&'e Env>,
    short: [u8; SHORT],
    short_len: usize,
    ctx: Pinned,
    inputs: [Pinned; N],
    out: Pinned,
}

impl<const N: usize> Pins<'_, N> {
    /// `ctx`, the inputs and the output.
    pub(crate) fn split(&mut self) -> (&[u8], [&[u8]; N], &mut [u8]) {
        let Pins {
            short,
            short_len,
            ctx,
            inputs,
            out,
            ..
        } = self;
        let ctx = if ctx.ptr.is_null() {
            short.get(..*short_len).unwrap_or_default()
        } else {
            ctx.slice()
        };
        (ctx, inputs.each_ref().map(Pinned::slice), out.slice_mut())
    }
}

/// A fresh Java array as the bridge's [`Output`]: [`Output::take`] creates it with exactly the
/// bytes the core needs and pins it; [`NewArray::finish`] releases the pin and returns it.
pub(crate) struct NewArray<'e> {
    env: &'e Env,
    array: jbyteArray,
    pin: Pinned,
}

impl NewArray<'_> {
    /// The array (unpinned). [`Error::Internal`] if the bridge never asked for it.
    pub(crate) fn finish(mut self) -> JResult<jbyteArray> {
        self.pin = Pinned::EMPTY;
        if self.array.is_null() {
            return Err(Fail::Status(Error::Internal));
        }
        Ok(self.array)
    }
}

impl<'a> Output<'a> for &'a mut NewArray<'_> {
    fn take(self, needed: usize) -> Result<&'a mut [u8], Error> {
        if !self.array.is_null() {
            return Err(Error::Internal);
        }
        // An OutOfMemoryError stays pending and is what Kotlin sees.
        self.array = self.env.new_array(needed).map_err(|_| Error::Internal)?;
        // SAFETY: `needed` is the new array's length; the bridge calls no JNI function, and the
        // pin is released (`finish` or drop) before the shell calls one.
        let pin = unsafe { Pinned::new(self.env, self.array, needed, 0) };
        self.pin = pin.map_err(|_| Error::Internal)?;
        Ok(self.pin.slice_mut())
    }
}

/// A handle argument: the live object behind a Kotlin `Long`.
///
/// # Safety
/// `h` must be 0 or a live handle of type `T` created by this library (the Kotlin classes pass
/// only handles they own, under their handle lock).
pub(crate) unsafe fn handle<'a, T>(h: jlong) -> JResult<&'a T> {
    // SAFETY: the caller's contract: 0 or a live `T` that no `_free` races with.
    unsafe { (h as usize as *const T).as_ref() }.ok_or(Fail::Status(Error::InvalidArgument))
}

/// A handle given back for freeing (`None` for 0).
///
/// # Safety
/// `h` must be 0 or a live handle of type `T` created by this library, freed exactly once here,
/// with no other call on it running or following (Kotlin's `close()` under the write lock).
pub(crate) unsafe fn owned<T>(h: jlong) -> Option<Box<T>> {
    let p = h as usize as *mut T;
    // SAFETY: the caller's contract: `p` came from `Box::into_raw` in `Env::publish`.
    (!p.is_null()).then(|| unsafe { Box::from_raw(p) })
}

/// A new heap handle for Kotlin (freed by the matching `...Free`).
pub(crate) fn into_handle<T>(value: T) -> jlong {
    Box::into_raw(Box::new(value)) as usize as jlong
}

/// A non-negative `long` as a size (a negative one is [`Error::InvalidArgument`]).
pub(crate) fn size(v: jlong) -> JResult<usize> {
    usize::try_from(v).map_err(|_| Fail::Status(Error::InvalidArgument))
}

/// A suite id from Kotlin's `Suite.id` (a negative `int` is no suite: `u32::MAX`).
pub(crate) fn suite_id(v: jint) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// An `int` length argument of a size helper (a negative one becomes `usize::MAX`, which every
/// size helper answers with 0, "invalid", as for any other out-of-range length).
pub(crate) fn int_len(v: jint) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// A length returned to Kotlin as an `int` (0 when it does not fit: "invalid").
pub(crate) fn jint_or_zero(n: usize) -> jint {
    jint::try_from(n).unwrap_or(0)
}

/// Pack a sequence number (at most 2^32 − 1) and a length (below 2^31) into one `long`:
/// `seq << 32 | len`.
pub(crate) fn pack(seq: u64, len: usize) -> JResult<jlong> {
    let seq = u32::try_from(seq).map_err(|_| Fail::Status(Error::Internal))?;
    let len = u32::try_from(len).map_err(|_| Fail::Status(Error::Internal))?;
    Ok(((u64::from(seq) << 32) | u64::from(len)) as jlong)
}
