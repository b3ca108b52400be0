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

use crate::error::{Error, Result};

/// The default window: 1024 sequence numbers.
pub const DEFAULT_WINDOW: u32 = 1024;
/// The largest window.
pub const MAX_WINDOW: u32 = 1 << 16;

/// Check a window size: a multiple of 64 in 64..=65536.
pub fn check_window(w: u32) -> Result<()> {
    if (64..=MAX_WINDOW).contains(&w) && w % 64 == 0 {
        Ok(())
    } else {
        Err(Error::InvalidArgument)
    }
}

/// A replay window. Not synchronized: the session wraps it in a lock.
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
    fn window_sizes() {
        assert!(ReplayWindow::new(0).is_err());
        assert!(ReplayWindow::new(100).is_err());
        assert!(ReplayWindow::new(MAX_WINDOW + 64).is_err());
        assert_eq!(ReplayWindow::new(1024).unwrap().raw().2.len(), 17);
    }
}
