//! The C ABI's plumbing: the one panic boundary, and one macro per kind of argument, each with the
//! one `// SAFETY:` argument that covers every use (the header's contract), in the style of
//! rustls-ffi. The `extern "C"` functions are written with these only:
//!
//! ```text
//! ffi_boundary!(SCV2_INTERNAL, {
//!     let out_len = out_ptr!(out_len);                 // required out-pointer, NULL refused
//!     let s = handle!(session);                        // live handle, NULL refused
//!     let ctx = input!(ctx, ctx_len, max);             // length checked before the pointer
//!     let out = output!(out, out_cap, &out_len, [ctx]); // cut to the size the bridge asks
//!     done(bridge::op(s, ctx, out), |n| out_len.set(n))
//! })
//! ```
//!
//! Rules (the header's "Pointers and lengths"): a length above its maximum is refused before the
//! pointer is looked at; a NULL pointer is accepted only with length 0 and then never read; an
//! output overlapping an input is refused; out-pointers are written only on success (and
//! `*out_len` on `SCV2_BUFFER_TOO_SMALL`).

use core::marker::PhantomData;
use core::ptr::NonNull;

use scv2::Error;

use super::scv2_status;
use crate::bridge::Output;

/// The one boundary every `extern "C"` function goes through.
///
/// `ffi_boundary!(on_panic, { body })` runs `body` under `catch_unwind`; if it panics, the panic
/// is swallowed (its payload is leaked rather than dropped, since dropping it could panic again)
/// and `on_panic` is returned: `SCV2_INTERNAL` for status functions, NULL or 0 for the others.
macro_rules! ffi_boundary {
    ($on_panic:expr, $body:block) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(value) => value,
            Err(payload) => {
                ::core::mem::forget(payload);
                $on_panic
            }
        }
    };
}

/// `let h = handle!(ptr);`: the live handle `ptr` points to, or return `SCV2_INVALID_ARGUMENT`
/// for NULL.
macro_rules! handle {
    ($p:expr) => {
        // SAFETY: header contract: a handle argument is NULL or a live handle of this type,
        // created by this library and not freed during the call; handles are only ever used
        // through shared references (their state is internally synchronized).
        match unsafe { ($p).as_ref() } {
            Some(h) => h,
            None => return crate::c::status(scv2::Error::InvalidArgument),
        }
    };
}

/// `let o = out_ptr!(ptr);`: a required out-pointer ([`Out`]), or return
/// `SCV2_INVALID_ARGUMENT` for NULL.
macro_rules! out_ptr {
    ($p:expr) => {
        // SAFETY: header contract: a non-NULL out-pointer is valid for writing one value of its
        // type (alignment not required) for the duration of the call.
        match unsafe { crate::c::args::Out::new($p) } {
            Some(o) => o,
            None => return crate::c::status(scv2::Error::InvalidArgument),
        }
    };
}

/// `let bytes = input!(ptr, len, max);`: a caller input as a slice. A length above `max` (or
/// `isize::MAX`) returns `SCV2_PAYLOAD_TOO_LARGE` (or the status given as a fourth argument)
/// before the pointer is looked at; length 0 is the empty slice whatever the pointer; a NULL
/// pointer with a non-zero length returns `SCV2_INVALID_ARGUMENT`.
macro_rules! input {
    ($p:expr, $len:expr, $max:expr) => {
        input!(
            $p,
            $len,
            $max,
            crate::c::status(scv2::Error::PayloadTooLarge)
        )
    };
    ($p:expr, $len:expr, $max:expr, $too_long:expr) => {{
        let (p, len): (*const u8, usize) = ($p, $len);
        if len > $max || len > isize::MAX as usize {
            return $too_long;
        }
        if len == 0 {
            &[][..]
        } else if p.is_null() {
            return crate::c::status(scv2::Error::InvalidArgument);
        } else {
            // SAFETY: header contract: a non-NULL input pointer whose length is in range points
            // to that many readable bytes that are not written during the call; `len` is at most
            // `isize::MAX`.
            unsafe { ::core::slice::from_raw_parts(p, len) }
        }
    }};
}

/// `let buf = inout!(ptr, len, max);`: a buffer read and written in place, as a mutable slice,
/// with the rules of [`input!`], not overlapping the inputs listed (`SCV2_INVALID_ARGUMENT`).
macro_rules! inout {
    ($p:expr, $len:expr, $max:expr, [$($input:expr),*]) => {{
        let (p, len): (*mut u8, usize) = ($p, $len);
        if len > $max || len > isize::MAX as usize {
            return crate::c::status(scv2::Error::PayloadTooLarge);
        }
        if !crate::c::args::disjoint(p, len, &[$($input),*]) {
            return crate::c::status(scv2::Error::InvalidArgument);
        }
        if len == 0 {
            &mut [][..]
        } else if p.is_null() {
            return crate::c::status(scv2::Error::InvalidArgument);
        } else {
            // SAFETY: header contract: a non-NULL buffer whose length is in range points to that
            // many readable and writable bytes that nothing else accesses during the call (the
            // inputs of the call were just checked not to overlap it).
            unsafe { ::core::slice::from_raw_parts_mut(p, len) }
        }
    }};
}

/// `let out = output!(ptr, cap, &out_len, [inputs]);`: the caller's output buffer as an
/// [`Output`] ([`COut`]): the bridge cuts it to the size the core needs.
macro_rules! output {
    ($p:expr, $cap:expr, $out_len:expr, [$($input:expr),*]) => {
        // SAFETY: header contract: a non-NULL output pointer points to `cap` writable bytes that
        // nothing else accesses during the call, except the inputs named here, which `COut`
        // checks for overlap before it forms a slice.
        unsafe { crate::c::args::COut::new($p, $cap, $out_len, [$($input),*]) }
    };
}

/// `take_handle!(ptr)`: the handle `ptr` points to, taken back for freeing (`None` for NULL).
macro_rules! take_handle {
    ($p:expr) => {{
        let p = $p;
        if p.is_null() {
            None
        } else {
            // SAFETY: header contract: a non-NULL argument of a `_free` function is a live
            // handle of this type, created by `Box::into_raw` in this library (`publish`), freed
            // exactly once, with no other call on it running or following.
            Some(unsafe { Box::from_raw(p) })
        }
    }};
}

/// A required out-pointer: written only through [`Out::set`].
pub(crate) struct Out<'a, T> {
    p: NonNull<T>,
    _call: PhantomData<&'a mut T>,
}

impl<T> Out<'_, T> {
    /// # Safety
    /// A non-NULL `p` must be valid for writing one `T` (alignment not required) while the
    /// result lives.
    pub(crate) unsafe fn new(p: *mut T) -> Option<Self> {
        NonNull::new(p).map(|p| Out {
            p,
            _call: PhantomData,
        })
    }

    /// Store `value`.
    pub(crate) fn set(&self, value: T) {
        // SAFETY: `Out::new`'s contract: `p` is valid for one (unaligned) write of a `T`.
        unsafe { self.p.as_ptr().write_unaligned(value) }
    }
}

impl<T> Out<'_, *mut T> {
    /// Move `value` into a new heap handle and store its pointer (the caller frees it with the
    /// matching `_free` function).
    pub(crate) fn publish(&self, value: T) {
        self.set(Box::into_raw(Box::new(value)));
    }
}

pub(crate) use crate::bridge::disjoint;

/// The caller's `(out, out_cap, *out_len)` output buffer.
pub(crate) struct COut<'a, const N: usize> {
    p: *mut u8,
    cap: usize,
    out_len: &'a Out<'a, usize>,
    inputs: [&'a [u8]; N],
}

impl<'a, const N: usize> COut<'a, N> {
    /// # Safety
    /// A non-NULL `p` must point to `cap` writable bytes that nothing but `inputs` (checked for
    /// overlap in [`Output::take`]) accesses while the result and the slice it gives live.
    pub(crate) unsafe fn new(
        p: *mut u8,
        cap: usize,
        out_len: &'a Out<'a, usize>,
        inputs: [&'a [u8]; N],
    ) -> Self {
        COut {
            p,
            cap,
            out_len,
            inputs,
        }
    }
}

impl<'a, const N: usize> Output<'a> for COut<'a, N> {
    #[inline]
    /// `SCV2_BUFFER_TOO_SMALL` with `*out_len` = `needed` when `cap < needed`; then the NULL and
    /// overlap rules on the `needed` bytes used.
    fn take(self, needed: usize) -> Result<&'a mut [u8], Error> {
        if self.cap < needed {
            self.out_len.set(needed);
            return Err(Error::BufferTooSmall);
        }
        if needed == 0 {
            return Ok(&mut []);
        }
        if self.p.is_null() || needed > isize::MAX as usize {
            return Err(Error::InvalidArgument);
        }
        if !disjoint(self.p, needed, &self.inputs) {
            return Err(Error::InvalidArgument);
        }
        // SAFETY: `COut::new`'s contract: `p` (not NULL) points to `cap >= needed` writable bytes
        // that nothing else accesses (the inputs were just checked not to overlap them);
        // `needed <= isize::MAX`.
        Ok(unsafe { core::slice::from_raw_parts_mut(self.p, needed) })
    }
}

/// The status of a result: `SCV2_OK`, or the error's stable code.
#[inline]
pub(crate) fn done<T>(r: Result<T, Error>, on_ok: impl FnOnce(T)) -> scv2_status {
    match r {
        Ok(v) => {
            on_ok(v);
            super::SCV2_OK
        }
        Err(e) => super::status(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_rule() {
        let buf = [0u8; 16];
        let p = buf.as_ptr();
        assert!(disjoint(p, 0, &[&buf]));
        assert!(!disjoint(p, 1, &[&buf]));
        assert!(!disjoint(p.wrapping_add(15), 4, &[&buf]));
        assert!(disjoint(p.wrapping_add(16), 4, &[&buf]));
        assert!(disjoint(p, 4, &[&buf[4..], &[]]));
        assert!(!disjoint(p, 5, &[&buf[4..]]));
    }
}
