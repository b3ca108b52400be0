//! A fixed-capacity table of the single-use tokens a session handle keeps on behalf of C
//! (`PendingRequest` on the client, `ResponseSlot` on the server), keyed by sequence number.
//!
//! The vector is allocated once, with capacity [`SCV2_MAX_OUTSTANDING`], when the session handle is
//! created, and never grows: a slot is *reserved* before the crypto runs (so a full table is
//! refused before any state changes), and the reservation is what a later `push` uses. Taking a
//! token out also keeps its slot reserved until the caller either consumes it or puts it back.

use core::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{status, FfiResult, SCV2_INTERNAL, SCV2_INVALID_STATE, SCV2_MAX_OUTSTANDING};
use crate::error::TokenError;
use crate::session::{PendingRequest, ResponseSlot};

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

/// The tokens and a count of the slots in use. `used` counts stored tokens *and* outstanding
/// reservations, so a reservation is one atomic step and filling it is one locked push: each C
/// call takes the lock once (`fill` or `take`), not for every bookkeeping step.
pub(crate) struct TokenTable<T> {
    tokens: Mutex<Vec<T>>,
    used: AtomicUsize,
}

impl<T: Token> TokenTable<T> {
    pub(crate) fn new() -> TokenTable<T> {
        TokenTable {
            tokens: Mutex::new(Vec::with_capacity(SCV2_MAX_OUTSTANDING)),
            used: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<T>> {
        // Nothing panics while the lock is held; if something ever did, the vector (updated in
        // one step by push / swap_remove) is still consistent.
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserve a slot for a token to come; `SCV2_INVALID_STATE` (and nothing changed) when the
    /// table is full.
    pub(crate) fn reserve(&self) -> FfiResult<Reservation<'_, T>> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < SCV2_MAX_OUTSTANDING).then_some(n + 1)
            })
            .map_err(|_| SCV2_INVALID_STATE)?;
        Ok(Reservation { table: self })
    }

    /// Take the token for `seq` out; its slot stays reserved until the reservation is filled
    /// again (the token is put back) or dropped (the token was consumed).
    pub(crate) fn take(&self, seq: u64) -> FfiResult<(T, Reservation<'_, T>)> {
        let mut tokens = self.lock();
        let i = tokens
            .iter()
            .position(|t| t.seq() == seq)
            .ok_or(SCV2_INVALID_STATE)?;
        let token = tokens.swap_remove(i);
        Ok((token, Reservation { table: self }))
    }

    /// Run `f` with the token for `seq`: on success the token is consumed and its slot freed; on
    /// failure `f` hands the token back (the core's `TokenError`) and it is stored again, so the
    /// call can be retried.
    pub(crate) fn use_token<R>(
        &self,
        seq: u64,
        f: impl FnOnce(T) -> Result<R, TokenError<T>>,
    ) -> FfiResult<R> {
        let (token, reservation) = self.take(seq)?;
        match f(token) {
            Ok(r) => {
                drop(reservation);
                Ok(r)
            }
            Err(e) => {
                reservation.fill(e.token)?;
                Err(status(e.error))
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// A reserved slot: [`Reservation::fill`] stores a token in it; dropping it frees it.
pub(crate) struct Reservation<'a, T: Token> {
    table: &'a TokenTable<T>,
}

impl<T: Token> Reservation<'_, T> {
    pub(crate) fn fill(self, token: T) -> FfiResult<()> {
        let table = self.table;
        // The slot becomes a stored token: it stays counted in `used`, so no `Drop`.
        core::mem::forget(self);
        let mut tokens = table.lock();
        // Belt and braces: `len <= used <= SCV2_MAX_OUTSTANDING <= capacity` holds by
        // construction, so this never fires; if it did, refusing beats reallocating.
        if tokens.len() >= tokens.capacity() {
            drop(tokens);
            table.used.fetch_sub(1, Ordering::AcqRel);
            return Err(SCV2_INTERNAL);
        }
        tokens.push(token);
        Ok(())
    }
}

impl<T: Token> Drop for Reservation<'_, T> {
    fn drop(&mut self) {
        self.table.used.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct T(u64);
    impl Token for T {
        fn seq(&self) -> u64 {
            self.0
        }
    }

    #[test]
    fn fixed_capacity_and_single_use() {
        let t = TokenTable::<T>::new();
        let cap = t.lock().capacity();
        for i in 0..SCV2_MAX_OUTSTANDING as u64 {
            t.reserve().map(|r| r.fill(T(i))).unwrap().unwrap();
        }
        assert_eq!(t.len(), SCV2_MAX_OUTSTANDING);
        assert_eq!(t.reserve().err(), Some(SCV2_INVALID_STATE));
        // Taking a token keeps its slot: the table stays full until the token is consumed.
        let (tok, r) = t.take(7).unwrap();
        assert_eq!(t.reserve().err(), Some(SCV2_INVALID_STATE));
        assert!(t.take(7).is_err());
        r.fill(tok).unwrap();
        let (_tok, r) = t.take(7).unwrap();
        drop(r);
        assert!(t.take(7).is_err());
        assert_eq!(t.len(), SCV2_MAX_OUTSTANDING - 1);
        t.reserve().map(|r| r.fill(T(7))).unwrap().unwrap();
        assert_eq!(t.lock().capacity(), cap);
        assert_eq!(t.used.load(Ordering::Relaxed), SCV2_MAX_OUTSTANDING);
        // An unfilled reservation frees its slot.
        let (_tok, r) = t.take(7).unwrap();
        drop(r);
        assert_eq!(t.used.load(Ordering::Relaxed), SCV2_MAX_OUTSTANDING - 1);
        drop(t.reserve().unwrap());
        assert_eq!(t.used.load(Ordering::Relaxed), SCV2_MAX_OUTSTANDING - 1);
    }
}
