//! The global allocator of the wasm build: the platform allocator, except that every block is
//! zeroized before it is freed (or moved by a reallocation).
//!
//! wasm-bindgen copies every `Uint8Array` and string argument into the linear memory and every
//! returned byte vector out of it, through this allocator. Zeroizing on free means that a
//! plaintext body or password that crossed the boundary does not stay readable in freed memory
//! (a later heap dump, a memory-disclosure bug). The core zeroizes its own secrets already; this
//! covers the boundary's transient copies. Only on wasm32: host builds use the system allocator.

#![cfg(target_arch = "wasm32")]
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};

use zeroize::Zeroize;

struct ZeroizeOnFree;

// SAFETY: every method forwards to `System` with the caller's arguments; `dealloc` first
// overwrites the block it is about to free, which the caller owns until the call returns.
unsafe impl GlobalAlloc for ZeroizeOnFree {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract (non-zero size).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was returned by this allocator for `layout`, so `layout.size()` bytes
        // from `ptr` are valid for writes and owned by the caller until they are freed below.
        unsafe { core::slice::from_raw_parts_mut(ptr, layout.size()) }.zeroize();
        // SAFETY: same pointer and layout as allocated.
        unsafe { System.dealloc(ptr, layout) }
    }

    // `realloc` keeps the default implementation (allocate, copy, `dealloc` the old block), so
    // the old block is zeroized too.
}

#[global_allocator]
static ALLOCATOR: ZeroizeOnFree = ZeroizeOnFree;
