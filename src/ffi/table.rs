//! A fixed-capacity table of the single-use tokens a session handle keeps on behalf of C
//! (`PendingRequest` on the client, `ResponseSlot` on the server), keyed by sequence number.
//!
//! The vector is allocated once, with capacity [`SCV2_MAX_OUTSTANDING`], when the session handle is
//! created, and never grows: a slot is *reserved* before the crypto runs (so a full table is
//! refused before any state changes), and the reservation is what a later `push` uses. Taking a
//! token out also keeps its slot reserved until the caller either consumes it or puts it back.

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{FfiResult, SCV2_INTERNAL, SCV2_INVALID_STATE, SCV2_MAX_OUTSTANDING};
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

struct State<T> {
    tokens: Vec<T>,
    /// Slots promised to in-flight calls (not in `tokens`).
    reserved: usize,
}

/// The table. `Sync`: every access holds the mutex for a few instructions only (never during
/// crypto).
pub(crate) struct TokenTable<T> {
    state: Mutex<State<T>>,
}

impl<T: Token> TokenTable<T> {
    /// Allocate the table (the only allocation it ever makes).
    pub(crate) fn new() -> TokenTable<T> {
        TokenTable {
            state: Mutex::new(State {
                tokens: Vec::with_capacity(SCV2_MAX_OUTSTANDING),
                reserved: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while the lock is held; if something ever did, the state (a vector and a
        // counter, each updated in one step) is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserve a slot for a token that an operation is about to create. Full:
    /// `SCV2_INVALID_STATE`.
    pub(crate) fn reserve(&self) -> FfiResult<Reservation<'_, T>> {
        let mut s = self.lock();
        if s.tokens.len() + s.reserved >= SCV2_MAX_OUTSTANDING {
            return Err(SCV2_INVALID_STATE);
        }
        s.reserved += 1;
        Ok(Reservation { table: self })
    }

    /// Take the token for `seq` out of the table, keeping its slot reserved. Absent:
    /// `SCV2_INVALID_STATE` (never issued, or already used).
    pub(crate) fn take(&self, seq: u64) -> FfiResult<(T, Reservation<'_, T>)> {
        let mut s = self.lock();
        let i = s
            .tokens
            .iter()
            .position(|t| t.seq() == seq)
            .ok_or(SCV2_INVALID_STATE)?;
        let token = s.tokens.swap_remove(i);
        s.reserved += 1;
        Ok((token, Reservation { table: self }))
    }

    /// Number of tokens held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().tokens.len()
    }
}

/// A reserved slot. Dropping it releases the slot; [`Reservation::fill`] stores a token in it.
pub(crate) struct Reservation<'a, T: Token> {
    table: &'a TokenTable<T>,
}

impl<T: Token> Reservation<'_, T> {
    /// Store `token` in the reserved slot (never reallocates: the slot was counted against the
    /// fixed capacity).
    pub(crate) fn fill(self, token: T) -> FfiResult<()> {
        let mut s = self.table.lock();
        // Belt and braces: `len + reserved <= SCV2_MAX_OUTSTANDING <= capacity` holds by
        // construction, so this never fires; if it did, refusing beats reallocating.
        if s.tokens.len() >= s.tokens.capacity() {
            return Err(SCV2_INTERNAL);
        }
        s.tokens.push(token);
        // The slot is now a stored token: `Drop` releases the reservation count.
        Ok(())
    }
}

impl<T: Token> Drop for Reservation<'_, T> {
    fn drop(&mut self) {
        let mut s = self.table.lock();
        s.reserved = s.reserved.saturating_sub(1);
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
        let cap = t.lock().tokens.capacity();
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
        assert_eq!(t.lock().tokens.capacity(), cap);
        assert_eq!(t.lock().reserved, 0);
    }
}
