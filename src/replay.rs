//! The server's sliding replay window over request sequence numbers.
//!
//! Semantics (SPEC.md, "Replay"): with `top` the highest sequence number accepted so far (0 when
//! none) and `W` the window size, a sequence number `n` is
//! - new if `n > top`;
//! - *replayed* if `top - n >= W` (older than the window) or `n` was already accepted.
//!
//! The bitmap has `W + 64` bits indexed by `n mod (W + 64)`, so that clearing whole 64-bit words
//! as `top` advances never clears a bit that is still inside the window: the window is exactly `W`,
//! not "about `W`".

#![forbid(unsafe_code)]

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{Error, Result};

/// The default window: 1024 sequence numbers.
pub const DEFAULT_WINDOW: u32 = 1024;
/// The largest window.
pub const MAX_WINDOW: u32 = 1 << 16;

/// Check a window size: a multiple of 64 in 64..=65536.
pub fn check_window(w: u32) -> Result<()> {
    if (64..=MAX_WINDOW).contains(&w) && w.is_multiple_of(64) {
        Ok(())
    } else {
        Err(Error::InvalidArgument)
    }
}

/// A replay window. Not synchronized: a [`ServerSession`](crate::ServerSession) keeps its window
/// in a lock-free shared form of its own, built from a `ReplayWindow` and snapshotted into the
/// export blob.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    window: u32,
    top: u64,
    bits: Box<[u64]>,
    generation: u64,
}

impl core::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("window", &self.window)
            .field("top", &self.top)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl ReplayWindow {
    /// An empty window of `window` sequence numbers: a multiple of 64 in 64..=65536, else
    /// [`Error::InvalidArgument`].
    pub fn new(window: u32) -> Result<ReplayWindow> {
        check_window(window)?;
        Ok(ReplayWindow {
            window,
            top: 0,
            bits: vec![0u64; Self::words_for(window)].into_boxed_slice(),
            generation: 0,
        })
    }

    fn words_for(window: u32) -> usize {
        window as usize / 64 + 1
    }

    fn bit_count(&self) -> u64 {
        self.bits.len() as u64 * 64
    }

    fn locate(&self, n: u64) -> (usize, u64) {
        let pos = n % self.bit_count();
        ((pos / 64) as usize, 1u64 << (pos % 64))
    }

    /// The window size.
    pub fn window(&self) -> u32 {
        self.window
    }

    /// The highest accepted sequence number (0: none yet).
    pub fn top(&self) -> u64 {
        self.top
    }

    /// How many sequence numbers have been marked since the window was created: every successful
    /// [`ReplayWindow::check_and_mark`] adds one. A later state always has a larger generation, so a
    /// store can refuse to write back an older state than the one it holds.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether `n` may still be accepted ([`Error::Replayed`] if not). Changes nothing.
    pub fn check(&self, n: u64) -> Result<()> {
        if n > self.top {
            return Ok(());
        }
        if self.top - n >= u64::from(self.window) {
            return Err(Error::Replayed);
        }
        let (word, mask) = self.locate(n);
        if self.bits[word] & mask != 0 {
            return Err(Error::Replayed);
        }
        Ok(())
    }

    /// Check `n` again and mark it accepted, atomically with respect to this window.
    pub fn check_and_mark(&mut self, n: u64) -> Result<()> {
        self.check(n)?;
        if n > self.top {
            let words = self.bits.len() as u64;
            let cur = self.top / 64;
            let new = n / 64;
            let advance = (new - cur).min(words);
            for i in 1..=advance {
                let w = ((cur + i) % words) as usize;
                self.bits[w] = 0;
            }
            self.top = n;
        }
        let (word, mask) = self.locate(n);
        self.bits[word] |= mask;
        // At most one increment per accepted request: 2^64 of them cannot happen.
        self.generation = self.generation.saturating_add(1);
        Ok(())
    }

    /// The raw state, for sealed export: `(window, top, bitmap words)`.
    pub(crate) fn raw(&self) -> (u32, u64, &[u64]) {
        (self.window, self.top, &self.bits)
    }

    /// Rebuild from [`ReplayWindow::raw`] output and the exported [`ReplayWindow::generation`].
    pub(crate) fn from_raw(
        window: u32,
        top: u64,
        bits: &[u64],
        generation: u64,
    ) -> Result<ReplayWindow> {
        check_window(window)?;
        if bits.len() != Self::words_for(window) {
            return Err(Error::InvalidArgument);
        }
        Ok(ReplayWindow {
            window,
            top,
            bits: bits.into(),
            generation,
        })
    }
}

/// The replay window of a server session, shared by the threads that open its requests.
///
/// - Reads are lock-free: [`SharedWindow::check`] (the pre-check before the AEAD, so that a replay
///   costs no decryption) and [`SharedWindow::top`].
/// - Marks are serialized by one lock: [`SharedWindow::check_and_mark`] checks again and marks
///   under it, so of two concurrent copies of a request exactly one is accepted.
/// - [`SharedWindow::snapshot`] (for export) reads the window and its generation under the same
///   lock, so an exported generation always counts exactly the marks its window holds.
///
/// The lock is a spin lock that yields: its critical section is a few loads and stores (at most
/// one pass over the bitmap), never blocks and never allocates, so taking it costs one atomic
/// read-modify-write and releasing it one store, where a mutex costs two read-modify-writes.
///
/// Why the lock-free check is sound: every store happens under the lock, and a mark that advances
/// `top` clears the words it reuses *before* it stores the new `top` (`Release`). A check that
/// loads `top` (`Acquire`) therefore sees every clear made for that `top`, so a bit it finds set
/// was set by a mark of `n` itself or of `n + k (W + 64)`, after which `n` is outside the window:
/// `Replayed` is always right. A stale read can only miss a refusal, which the locked
/// check-and-mark then makes.
pub(crate) struct SharedWindow {
    window: u32,
    top: AtomicU64,
    bits: Box<[AtomicU64]>,
    /// `u64::MAX / bits.len() + 1`: reduces a word number modulo the word count without a
    /// division (Lemire's fastmod, exact for 32-bit numerators).
    word_magic: u64,
    generation: AtomicU64,
    marking: AtomicBool,
}

/// Holds [`SharedWindow`]'s lock; releases it on drop.
struct Marking<'a>(&'a AtomicBool);

impl Drop for Marking<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl SharedWindow {
    /// Share a window (a new one, or one rebuilt by an import).
    pub(crate) fn new(w: &ReplayWindow) -> SharedWindow {
        SharedWindow {
            window: w.window,
            top: AtomicU64::new(w.top),
            word_magic: (u64::MAX / (w.bits.len().max(1) as u64)).wrapping_add(1),
            bits: w.bits.iter().map(|&b| AtomicU64::new(b)).collect(),
            generation: AtomicU64::new(w.generation),
            marking: AtomicBool::new(false),
        }
    }

    /// Take the lock: spin briefly, then yield the thread between attempts (a holder that was
    /// preempted gets the CPU back). Nothing in the critical sections can panic or block.
    #[inline]
    fn lock(&self) -> Marking<'_> {
        let mut spins = 0u32;
        while self
            .marking
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            while self.marking.load(Ordering::Relaxed) {
                spins = spins.saturating_add(1);
                if spins < 64 {
                    core::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
        Marking(&self.marking)
    }

    /// `word mod words` (the ring has `W / 64 + 1` words: not a power of two).
    #[inline]
    fn word_index(&self, word: u64) -> usize {
        let words = self.bits.len() as u64;
        match u32::try_from(word) {
            Ok(w) => {
                let low = self.word_magic.wrapping_mul(u64::from(w));
                ((u128::from(low) * u128::from(words)) >> 64) as usize
            }
            Err(_) => (word % words.max(1)) as usize,
        }
    }

    /// The word and bit of `n`: bit `n mod 64` of word `(n / 64) mod words` (the same as
    /// [`ReplayWindow`]'s `p = n mod (W + 64)`, since `W + 64` is a multiple of 64).
    #[inline]
    fn locate(&self, n: u64) -> (Option<&AtomicU64>, u64) {
        (self.bits.get(self.word_index(n / 64)), 1u64 << (n % 64))
    }

    /// The highest accepted sequence number (0: none yet).
    pub(crate) fn top(&self) -> u64 {
        self.top.load(Ordering::Acquire)
    }

    /// How many sequence numbers have been marked.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether `n` may still be accepted ([`Error::Replayed`] if not), without the lock.
    pub(crate) fn check(&self, n: u64) -> Result<()> {
        let top = self.top.load(Ordering::Acquire);
        if n > top {
            return Ok(());
        }
        if top - n >= u64::from(self.window) {
            return Err(Error::Replayed);
        }
        match self.locate(n) {
            (Some(word), mask) if word.load(Ordering::Relaxed) & mask == 0 => Ok(()),
            _ => Err(Error::Replayed),
        }
    }

    /// Check `n` again and mark it accepted, under the lock: the one decision that counts.
    pub(crate) fn check_and_mark(&self, n: u64) -> Result<()> {
        let _marking = self.lock();
        let top = self.top.load(Ordering::Relaxed);
        if n <= top {
            if top - n >= u64::from(self.window) {
                return Err(Error::Replayed);
            }
        } else {
            // Clear the words `n` moves into (at most all of them), then publish the new top.
            let words = self.bits.len() as u64;
            let (cur, new) = (top / 64, n / 64);
            for i in 1..=(new - cur).min(words) {
                if let Some(w) = self.bits.get(self.word_index(cur + i)) {
                    w.store(0, Ordering::Relaxed);
                }
            }
            self.top.store(n, Ordering::Release);
        }
        let (Some(word), mask) = self.locate(n) else {
            return Err(Error::Internal);
        };
        let w = word.load(Ordering::Relaxed);
        if w & mask != 0 {
            return Err(Error::Replayed);
        }
        word.store(w | mask, Ordering::Relaxed);
        // At most one increment per accepted request: 2^64 of them cannot happen.
        let g = self.generation.load(Ordering::Relaxed);
        self.generation
            .store(g.saturating_add(1), Ordering::Release);
        Ok(())
    }

    /// The window, its top, bitmap and generation as one consistent value (under the lock).
    pub(crate) fn snapshot(&self) -> ReplayWindow {
        let _marking = self.lock();
        ReplayWindow {
            window: self.window,
            top: self.top.load(Ordering::Relaxed),
            bits: self
                .bits
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            generation: self.generation.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model with exact semantics: a set of accepted numbers.
    struct Model {
        w: u64,
        top: u64,
        seen: std::collections::BTreeSet<u64>,
    }

    impl Model {
        fn accept(&mut self, n: u64) -> bool {
            if n <= self.top && (self.top - n >= self.w || self.seen.contains(&n)) {
                return false;
            }
            self.seen.insert(n);
            self.top = self.top.max(n);
            true
        }
    }

    #[test]
    fn basic() {
        let mut w = ReplayWindow::new(64).unwrap();
        assert!(w.check_and_mark(1).is_ok());
        assert_eq!(w.check_and_mark(1), Err(Error::Replayed));
        assert!(w.check_and_mark(64).is_ok());
        assert!(w.check_and_mark(2).is_ok()); // 64 - 2 = 62 < 64
        assert!(w.check_and_mark(65).is_ok());
        assert_eq!(w.check_and_mark(1), Err(Error::Replayed)); // 65 - 1 = 64: out
        assert!(w.check_and_mark(10_000).is_ok());
        assert_eq!(w.check(10_000 - 64), Err(Error::Replayed));
        assert!(w.check(10_000 - 63).is_ok());
    }

    #[test]
    fn generation_counts_accepted_numbers_only() {
        let mut w = ReplayWindow::new(64).unwrap();
        assert_eq!(w.generation(), 0);
        w.check_and_mark(3).unwrap();
        w.check_and_mark(1).unwrap();
        assert_eq!(w.generation(), 2);
        assert!(w.check_and_mark(3).is_err());
        assert!(w.check(9).is_ok());
        assert_eq!(w.generation(), 2, "a refusal or a check changes nothing");
        w.check_and_mark(500).unwrap();
        assert_eq!(w.generation(), 3);
    }

    #[test]
    fn matches_model_exhaustively_on_a_pseudo_random_walk() {
        for &win in &[64u32, 128, 1024] {
            let mut w = ReplayWindow::new(win).unwrap();
            let mut m = Model {
                w: win as u64,
                top: 0,
                seen: Default::default(),
            };
            let mut x: u64 = 0x2545F4914F6CDD1D;
            let mut base: u64 = 1;
            for _ in 0..200_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly near the top, sometimes far ahead, sometimes just outside the window.
                let n = match x % 16 {
                    0 => base + (x >> 8) % (3 * win as u64),
                    1 => base.saturating_sub(win as u64 + (x >> 8) % 70).max(1),
                    _ => (base + (x >> 8) % 80).saturating_sub(40).max(1),
                };
                let got = w.check_and_mark(n).is_ok();
                assert_eq!(got, m.accept(n), "window {win}, n {n}, top {}", m.top);
                base = m.top.max(1);
            }
        }
    }

    #[test]
    fn the_shared_window_is_the_same_window() {
        for &win in &[64u32, 1024] {
            let mut plain = ReplayWindow::new(win).unwrap();
            let shared = SharedWindow::new(&plain);
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            for _ in 0..if cfg!(miri) { 300 } else { 50_000 } {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let n = (shared.top() + (x >> 8) % 200).saturating_sub(100).max(1);
                assert_eq!(shared.check(n), plain.check(n), "check {n}");
                assert_eq!(
                    shared.check_and_mark(n),
                    plain.check_and_mark(n),
                    "mark {n}"
                );
                assert_eq!(shared.top(), plain.top());
            }
            assert_eq!(shared.snapshot(), plain);
            assert_eq!(shared.generation(), plain.generation());
        }
    }

    /// Threads race to accept the same sequence numbers, with checks running beside them. Going
    /// the same way, every number is accepted exactly once; going opposite ways (some numbers then
    /// fall out of the window unaccepted), none is accepted twice. The generation counts exactly
    /// the acceptances.
    #[test]
    fn concurrent_marks_accept_each_number_once() {
        use std::sync::atomic::AtomicU8;
        use std::sync::Arc;
        let n_max: u64 = if cfg!(miri) { 40 } else { 20_000 };
        for mixed in [false, true] {
            let shared = Arc::new(SharedWindow::new(&ReplayWindow::new(64).unwrap()));
            let wins: Arc<Vec<AtomicU8>> =
                Arc::new((0..=n_max).map(|_| AtomicU8::new(0)).collect());
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    let (shared, wins) = (shared.clone(), wins.clone());
                    std::thread::spawn(move || {
                        for i in 1..=n_max {
                            let n = if mixed && t % 2 == 1 {
                                n_max + 1 - i
                            } else {
                                i
                            };
                            if shared.check_and_mark(n).is_ok() {
                                wins[n as usize].fetch_add(1, Ordering::SeqCst);
                            }
                            let _ = shared.check(n);
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            let counts: Vec<u8> = wins.iter().map(|w| w.load(Ordering::SeqCst)).collect();
            assert!(counts.iter().all(|&c| c <= 1), "a number accepted twice");
            let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
            if !mixed {
                assert_eq!(total, n_max, "every number accepted once");
            }
            assert_eq!(shared.generation(), total);
            for n in 1..=n_max {
                assert_eq!(shared.check_and_mark(n), Err(Error::Replayed), "{n} again");
            }
        }
    }

    #[test]
    fn the_word_index_needs_no_division() {
        for window in [64u32, 128, 1024, 4096, MAX_WINDOW] {
            let shared = SharedWindow::new(&ReplayWindow::new(window).unwrap());
            let words = shared.bits.len() as u64;
            let mut probes: Vec<u64> = (0..if cfg!(miri) { 300 } else { 5000 }).collect();
            probes.extend([
                u64::from(u32::MAX),
                u64::from(u32::MAX) - 1,
                1 << 32,
                u64::MAX,
            ]);
            for w in probes {
                assert_eq!(
                    shared.word_index(w) as u64,
                    w % words,
                    "window {window}, {w}"
                );
            }
        }
    }

    #[test]
    fn window_sizes() {
        assert!(ReplayWindow::new(0).is_err());
        assert!(ReplayWindow::new(100).is_err());
        assert!(ReplayWindow::new(MAX_WINDOW + 64).is_err());
        assert_eq!(ReplayWindow::new(1024).unwrap().raw().2.len(), 17);
    }
}
