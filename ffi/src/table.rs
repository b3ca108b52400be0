//! A fixed-capacity, lock-free table of the single-use tokens a session handle keeps on behalf of
//! C and Kotlin (`PendingRequest` on the client, `ResponseSlot` on the server), keyed by sequence
//! number: foreign callers hold sequence numbers, the table holds the core's tokens.
//!
//! [`MAX_OUTSTANDING`](crate::table::MAX_OUTSTANDING) slots are allocated when the session handle is created and never grow.
//! Each slot is one atomic state word and one token cell:
//!
//! - `EMPTY` (0): free;
//! - `BUSY` (`u64::MAX`): owned by exactly one thread, which won it with a compare-exchange
//!   (`TokenTable::claim` from `EMPTY`, `TokenTable::take` from a sequence number) and is the
//!   only one to touch the cell until it stores a new state;
//! - a sequence number `n` (1..=2^32 − 1): the cell holds the token for `n`, written before the
//!   state was stored with `Release`; the `Acquire` compare-exchange of `take` sees it.
//!
//! A token goes to the slot `seq mod MAX_OUTSTANDING` when that is free (the caller passes the
//! sequence number it expects as a hint), else to the next free one, so `take` usually finds it
//! at the first probe. A full table is found out before the core runs (a claim is made first), so
//! a refused call changes nothing. Seal/open costs one compare-exchange and one store per call.

use core::cell::UnsafeCell;
use core::mem::{self, MaybeUninit};
use core::sync::atomic::{AtomicU64, Ordering};

use scv2::{Error, PendingRequest, ResponseSlot, TokenError};

/// The most tokens a table holds (`SCV2_MAX_OUTSTANDING`).
pub const MAX_OUTSTANDING: usize = 1024;
const _: () = assert!(MAX_OUTSTANDING.is_power_of_two());

const EMPTY: u64 = 0;
const BUSY: u64 = u64::MAX;

/// A token with a sequence number.
pub(crate) trait Token {
    fn seq(&self) -> u64;
}

impl Token for PendingRequest {
    fn seq(&self) -> u64 {
        PendingRequest::seq(self)
    }
}

impl Token for ResponseSlot {
    fn seq(&self) -> u64 {
        ResponseSlot::seq(self)
    }
}

struct Slot<T> {
    state: AtomicU64,
    token: UnsafeCell<MaybeUninit<T>>,
}

/// The table (see the module documentation for the protocol of a slot).
pub(crate) struct TokenTable<T> {
    slots: Box<[Slot<T>]>,
}

// SAFETY: the token cells are the only non-`Sync` part. A cell is accessed only by the thread that
// moved its slot to `BUSY` with a successful compare-exchange (or, in `Drop`, through `&mut self`);
// a token written by one thread is published to the next by the `Release` store of the slot's new
// state and the `Acquire` compare-exchange that takes it. Tokens therefore move between threads
// (which needs `T: Send`) and are never shared.
unsafe impl<T: Send> Sync for TokenTable<T> {}

impl<T: Token> TokenTable<T> {
    pub(crate) fn new() -> TokenTable<T> {
        TokenTable {
            slots: (0..MAX_OUTSTANDING)
                .map(|_| Slot {
                    state: AtomicU64::new(EMPTY),
                    token: UnsafeCell::new(MaybeUninit::uninit()),
                })
                .collect(),
        }
    }

    /// The home slot of `seq` (the capacity is a power of two: no division).
    #[inline]
    fn home(&self, seq: u64) -> (usize, Option<&Slot<T>>) {
        let i = (seq & (MAX_OUTSTANDING as u64 - 1)) as usize;
        (i, self.slots.get(i))
    }

    /// The slot indices in probe order for sequence number `seq`: its home slot first.
    fn probe(&self, seq: u64) -> impl Iterator<Item = (usize, &Slot<T>)> {
        let home = self.home(seq).0;
        let (before, after) = self
            .slots
            .split_at_checked(home)
            .unwrap_or((&[], &self.slots));
        let start = before.len();
        after
            .iter()
            .enumerate()
            .map(move |(i, s)| (start + i, s))
            .chain(before.iter().enumerate())
    }

    /// Claim a free slot for a token to come, searching from the home slot of `hint` (the
    /// sequence number the token will probably carry). `None` when all slots are in use.
    #[inline]
    pub(crate) fn claim(&self, hint: u64) -> Option<Claim<'_, T>> {
        // The usual case: the home slot is free.
        if let (index, Some(slot)) = self.home(hint) {
            if slot.state.load(Ordering::Relaxed) == EMPTY
                && slot
                    .state
                    .compare_exchange(EMPTY, BUSY, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return Some(Claim { table: self, index });
            }
        }
        self.claim_probing(hint)
    }

    #[cold]
    fn claim_probing(&self, hint: u64) -> Option<Claim<'_, T>> {
        // (A `Claim` frees its slot when dropped: build one only for a slot won here.)
        self.probe(hint).find_map(|(index, slot)| {
            let won = slot.state.load(Ordering::Relaxed) == EMPTY
                && slot
                    .state
                    .compare_exchange(EMPTY, BUSY, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok();
            if won {
                Some(Claim { table: self, index })
            } else {
                None
            }
        })
    }

    /// Take the token for `seq` out of the table. Its slot stays claimed until the returned
    /// [`Claim`] is filled (the token put back) or dropped (the slot freed).
    #[inline]
    pub(crate) fn take(&self, seq: u64) -> Option<(T, Claim<'_, T>)> {
        if seq == EMPTY || seq == BUSY {
            return None;
        }
        // The usual case: the token is in its home slot.
        if let (index, Some(slot)) = self.home(seq) {
            if let Some(token) = self.take_from(slot, seq) {
                return Some((token, Claim { table: self, index }));
            }
        }
        self.take_probing(seq)
    }

    /// Move the token for `seq` out of `slot` if it is there (the slot is then `BUSY`, owned by
    /// the caller).
    #[inline]
    fn take_from(&self, slot: &Slot<T>, seq: u64) -> Option<T> {
        if slot.state.load(Ordering::Relaxed) != seq
            || slot
                .state
                .compare_exchange(seq, BUSY, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return None;
        }
        // SAFETY: this thread owns the slot (its compare-exchange moved it from `seq` to `BUSY`),
        // and a state equal to a sequence number is only stored (with `Release`, synchronized
        // with that `Acquire`) after the token was written into the cell, so the cell holds an
        // initialized token, which is moved out here; the cell is then treated as empty (the
        // claim either refills it or frees the slot).
        Some(unsafe { (*slot.token.get()).assume_init_read() })
    }

    #[cold]
    fn take_probing(&self, seq: u64) -> Option<(T, Claim<'_, T>)> {
        self.probe(seq).find_map(|(index, slot)| {
            self.take_from(slot, seq)
                .map(|token| (token, Claim { table: self, index }))
        })
    }

    /// Run `f` with the token for `seq`: on success the token is consumed and its slot freed; on
    /// failure `f` hands the token back (the core's `TokenError`) and it is stored again, so the
    /// call can be retried. A `seq` that is not in the table is [`Error::InvalidState`].
    #[inline]
    pub(crate) fn use_token<R>(
        &self,
        seq: u64,
        f: impl FnOnce(T) -> Result<R, TokenError<T>>,
    ) -> Result<R, Error> {
        let (token, claim) = self.take(seq).ok_or(Error::InvalidState)?;
        match f(token) {
            Ok(r) => Ok(r),
            Err(e) => {
                claim.fill(e.token)?;
                Err(e.error)
            }
        }
    }

    /// Drop the token for `seq`; whether it was there.
    pub(crate) fn forget(&self, seq: u64) -> bool {
        self.take(seq).is_some()
    }

    /// How many slots hold a token or are claimed (a snapshot).
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.state.load(Ordering::Relaxed) != EMPTY)
            .count()
    }
}

impl<T> Drop for TokenTable<T> {
    fn drop(&mut self) {
        for slot in self.slots.iter_mut() {
            let state = *slot.state.get_mut();
            if state != EMPTY && state != BUSY {
                // SAFETY: `&mut self`: no other access; a state that is a sequence number means
                // the cell holds an initialized token (see `take`), dropped exactly once here.
                unsafe { slot.token.get_mut().assume_init_drop() };
            }
        }
    }
}

/// A claimed slot: [`Claim::fill`] stores a token in it; dropping it frees it.
pub(crate) struct Claim<'a, T: Token> {
    table: &'a TokenTable<T>,
    index: usize,
}

impl<T: Token> Claim<'_, T> {
    /// Store `token` in the claimed slot. A token whose sequence number cannot be a state (0 or
    /// `u64::MAX`; the core never makes one) is refused with [`Error::Internal`] and dropped.
    #[inline]
    pub(crate) fn fill(self, token: T) -> Result<(), Error> {
        let seq = token.seq();
        if seq == EMPTY || seq == BUSY {
            return Err(Error::Internal);
        }
        let Some(slot) = self.table.slots.get(self.index) else {
            return Err(Error::Internal);
        };
        // SAFETY: this thread owns the slot (`BUSY`, claimed by it) and its cell is empty: a claim
        // is made on an `EMPTY` slot, or by `take`, which moved the token out.
        unsafe { (*slot.token.get()).write(token) };
        slot.state.store(seq, Ordering::Release);
        // The slot now holds a token: it must not be freed.
        mem::forget(self);
        Ok(())
    }
}

impl<T: Token> Drop for Claim<'_, T> {
    fn drop(&mut self) {
        if let Some(slot) = self.table.slots.get(self.index) {
            slot.state.store(EMPTY, Ordering::Release);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    /// A token that counts how many of its kind are alive (a leak or a double drop shows).
    struct T(u64, Arc<AtomicUsize>);
    impl T {
        fn new(seq: u64, live: &Arc<AtomicUsize>) -> T {
            live.fetch_add(1, Ordering::SeqCst);
            T(seq, live.clone())
        }
    }
    impl Drop for T {
        fn drop(&mut self) {
            self.1.fetch_sub(1, Ordering::SeqCst);
        }
    }
    impl Token for T {
        fn seq(&self) -> u64 {
            self.0
        }
    }

    const N: u64 = MAX_OUTSTANDING as u64;

    #[test]
    fn fixed_capacity_and_single_use() {
        let live = Arc::new(AtomicUsize::new(0));
        let t = TokenTable::<T>::new();
        // Fill it, with hints that collide (every token wants slot 0) and ones that do not. Under
        // Miri only the first 64 collide (512 colliding probes take minutes there).
        let collides = |i: u64| i % 2 == 0 && (!cfg!(miri) || i <= 64);
        for i in 1..=N {
            let hint = if collides(i) { 0 } else { i };
            t.claim(hint).unwrap().fill(T::new(i, &live)).unwrap();
        }
        assert_eq!(t.used(), MAX_OUTSTANDING);
        assert!(t.claim(1).is_none());
        // Taking a token keeps its slot: the table stays full until the token is consumed.
        let (tok, c) = t.take(7).unwrap();
        assert!(t.claim(7).is_none());
        assert!(t.take(7).is_none());
        c.fill(tok).unwrap();
        let (tok, c) = t.take(7).unwrap();
        drop((tok, c));
        assert!(t.take(7).is_none());
        assert_eq!(t.used(), MAX_OUTSTANDING - 1);
        // A claim that is not filled frees its slot.
        drop(t.claim(7).unwrap());
        assert_eq!(t.used(), MAX_OUTSTANDING - 1);
        // Every other token is found wherever it went.
        for i in (1..=N).filter(|&i| i != 7) {
            assert!(t.forget(i), "{i}");
        }
        assert_eq!(t.used(), 0);
        assert!(!t.forget(7) && t.take(0).is_none() && t.take(u64::MAX).is_none());
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn use_token_gives_the_token_back_on_failure() {
        let live = Arc::new(AtomicUsize::new(0));
        let t = TokenTable::<T>::new();
        t.claim(5).unwrap().fill(T::new(5, &live)).unwrap();
        let r: Result<(), Error> = t.use_token(5, |tok| {
            Err(TokenError {
                error: Error::DecryptionFailed,
                token: tok,
            })
        });
        assert_eq!(r, Err(Error::DecryptionFailed));
        assert_eq!(t.use_token(5, |tok| Ok(tok.0)), Ok(5));
        assert_eq!(t.use_token(5, |tok| Ok(tok.0)), Err(Error::InvalidState));
        assert_eq!(
            t.claim(9).unwrap().fill(T::new(0, &live)),
            Err(Error::Internal)
        );
        assert_eq!(t.used(), 0);
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn dropping_the_table_drops_its_tokens() {
        let live = Arc::new(AtomicUsize::new(0));
        let t = TokenTable::<T>::new();
        for i in 1..=10 {
            t.claim(i).unwrap().fill(T::new(i, &live)).unwrap();
        }
        assert_eq!(live.load(Ordering::SeqCst), 10);
        drop(t);
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }

    /// Threads fill, take and forget at once; each token is taken by exactly one of two racing
    /// takers.
    #[test]
    fn concurrent_takers_get_each_token_once() {
        let live = Arc::new(AtomicUsize::new(0));
        let t = Arc::new(TokenTable::<T>::new());
        let rounds: u64 = if cfg!(miri) { 20 } else { 2000 };
        for i in 1..=rounds {
            t.claim(i).unwrap().fill(T::new(i, &live)).unwrap();
            let won = Arc::new(AtomicUsize::new(0));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let (t, won) = (t.clone(), won.clone());
                    std::thread::spawn(move || {
                        if let Some((tok, c)) = t.take(i) {
                            assert_eq!(tok.0, i);
                            won.fetch_add(1, Ordering::SeqCst);
                            drop((tok, c));
                        }
                    })
                })
                .collect();
            for th in threads {
                th.join().unwrap();
            }
            assert_eq!(won.load(Ordering::SeqCst), 1, "round {i}");
        }
        assert_eq!(t.used(), 0);
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }
}
