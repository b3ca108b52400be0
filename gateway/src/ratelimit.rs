//! Sliding-window rate limiting: the [`RateStore`] interface the limits use (one call counts a
//! request against several keys, all or none), its in-memory implementation ([`MemoryRates`],
//! one process), and the bounded in-memory table under it ([`RateLimiter`]). The PostgreSQL
//! store implements [`RateStore`] too, so that with several gateways every limit holds across
//! all of them (`crate::store::postgres`).
//!
//! A key may make at most `limit` counted requests in any span of `window_ms`: a request at time
//! `t` is allowed when fewer than `limit` earlier counted requests happened in `(t − window, t]`.
//! A refused request (answered 429) is not counted, so a client that keeps retrying is let in
//! again as soon as its oldest counted request leaves the window. `Retry-After` is the number of
//! whole seconds (rounded up) until that happens.
//!
//! Memory ([`RateLimiter`]): the table holds at most `cap` keys, ordered by their last counted
//! hit. Keys whose hits all left the window are dropped from the front (a few on every hit, and
//! in bounded batches by the sweeper: the cost is the number of expired keys, never a scan of the
//! table). When the table is full the key with the oldest last hit is evicted (its count
//! restarts); nobody is refused because the table is full.

use std::collections::VecDeque;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use hashlink::LinkedHashMap;

use crate::limits::{LimiterSizes, LimitsConfig};
use crate::store::StoreResult;

/// A limit: `limit` requests per `window_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateSpec {
    /// Requests allowed in any window.
    pub limit: u32,
    /// The window, in milliseconds.
    pub window_ms: u64,
}

impl RateSpec {
    /// `limit` per `secs` seconds.
    pub fn per_secs(limit: u32, secs: u64) -> RateSpec {
        RateSpec {
            limit,
            window_ms: secs.saturating_mul(1000),
        }
    }
}

/// How many keys an incremental sweep looks at on each hit.
const SWEEP_PER_HIT: usize = 2;

/// What a sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Keys removed.
    pub removed: usize,
    /// Keys looked at (removed ones plus at most one that stopped the sweep).
    pub visited: usize,
}

/// A sliding-window limiter keyed by `K`, holding at most `cap` keys.
#[derive(Debug)]
pub struct RateLimiter<K: Hash + Eq> {
    spec: RateSpec,
    cap: usize,
    table: Mutex<LinkedHashMap<K, VecDeque<u64>>>,
    evicted: AtomicU64,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// A limiter with `spec` holding at most `cap` keys (at least 1).
    pub fn new(spec: RateSpec, cap: usize) -> RateLimiter<K> {
        RateLimiter {
            spec,
            cap: cap.max(1),
            table: Mutex::new(LinkedHashMap::new()),
            evicted: AtomicU64::new(0),
        }
    }

    /// The limit.
    pub fn spec(&self) -> RateSpec {
        self.spec
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LinkedHashMap<K, VecDeque<u64>>> {
        // Every mutation below is complete before anything that could panic; a poisoned table is
        // still consistent.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expired(&self, last: u64, now_ms: u64) -> bool {
        now_ms >= last.saturating_add(self.spec.window_ms)
    }

    fn retry_after(&self, q: &VecDeque<u64>, now_ms: u64) -> u64 {
        let free_at = q
            .front()
            .map_or(now_ms, |&f| f.saturating_add(self.spec.window_ms));
        free_at.saturating_sub(now_ms).div_ceil(1000).max(1)
    }

    /// Drop up to `budget` keys from the front whose hits all left the window.
    fn sweep_front(
        &self,
        t: &mut LinkedHashMap<K, VecDeque<u64>>,
        now_ms: u64,
        budget: usize,
    ) -> Swept {
        let mut s = Swept::default();
        while s.visited < budget {
            let Some((_, q)) = t.front() else { break };
            s.visited += 1;
            if q.back().is_some_and(|&last| !self.expired(last, now_ms)) {
                break;
            }
            t.pop_front();
            s.removed += 1;
        }
        s
    }

    /// Whether `key` would be allowed at `now_ms`, without counting. `Err(retry_after_secs)`.
    pub fn check(&self, key: &K, now_ms: u64) -> Result<(), u64> {
        if self.spec.limit == 0 {
            return Err(self.spec.window_ms.div_ceil(1000).max(1));
        }
        let t = self.lock();
        match t.get(key) {
            Some(q) => {
                let live = q.iter().filter(|&&h| !self.expired(h, now_ms)).count();
                if live >= self.spec.limit as usize {
                    let first_live = q.iter().copied().find(|&h| !self.expired(h, now_ms));
                    let free_at =
                        first_live.map_or(now_ms, |f| f.saturating_add(self.spec.window_ms));
                    Err(free_at.saturating_sub(now_ms).div_ceil(1000).max(1))
                } else {
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }

    /// Count a request of `key` at `now_ms`. `Ok(())` if allowed (and counted); otherwise
    /// `Err(retry_after_secs)`, not counted.
    pub fn hit(&self, key: &K, now_ms: u64) -> Result<(), u64> {
        if self.spec.limit == 0 {
            return Err(self.spec.window_ms.div_ceil(1000).max(1));
        }
        let mut t = self.lock();
        self.sweep_front(&mut t, now_ms, SWEEP_PER_HIT);
        if let Some(q) = t.get_mut(key) {
            while q.front().is_some_and(|&first| self.expired(first, now_ms)) {
                q.pop_front();
            }
            if q.len() >= self.spec.limit as usize {
                return Err(self.retry_after(q, now_ms));
            }
            q.push_back(now_ms);
            t.to_back(key);
            return Ok(());
        }
        if t.len() >= self.cap {
            t.pop_front();
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
        let mut q = VecDeque::with_capacity((self.spec.limit as usize).min(8));
        q.push_back(now_ms);
        t.insert(key.clone(), q);
        Ok(())
    }

    /// Take back one hit of `key` counted at `now_ms` (a later check refused the request, so it
    /// must not count here either).
    pub fn undo(&self, key: &K, now_ms: u64) {
        let mut t = self.lock();
        let empty = match t.get_mut(key) {
            Some(q) => {
                if let Some(pos) = q.iter().rposition(|&h| h == now_ms) {
                    q.remove(pos);
                }
                q.is_empty()
            }
            None => false,
        };
        if empty {
            t.remove(key);
        }
    }

    /// Drop up to `budget` keys whose hits all left the window (the sweeper calls this in
    /// batches, releasing the lock in between).
    pub fn sweep(&self, now_ms: u64, budget: usize) -> Swept {
        let mut t = self.lock();
        self.sweep_front(&mut t, now_ms, budget)
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys held.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Keys evicted because the table was full, since start.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }
}

/// The limit tables. The numbers are stored by the PostgreSQL store: never renumber one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i16)]
pub enum RateTable {
    /// Session creations per client group.
    SessionCreate = 1,
    /// Password inits per (client group, `X-Client-Hash`).
    InitClient = 2,
    /// Password inits per client group.
    InitIp = 3,
    /// Password inits per SC session.
    InitSession = 4,
    /// Failed password inits per init token.
    TokenFailures = 5,
}

/// One key of one table, with the limit that applies to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateKey {
    /// The table.
    pub table: RateTable,
    /// A fixed-size key the client cannot choose freely (a hash of its address group, of a
    /// session id, of a token hash: [`crate::util::key16`]).
    pub key: [u8; 16],
    /// The limit.
    pub spec: RateSpec,
}

/// Where the rate-limit counters live.
#[async_trait]
pub trait RateStore: Send + Sync + 'static {
    /// Count one request at `now_ms` against every key in `keys`, all or none: `Ok(Ok(()))` when
    /// every key allowed it (it is counted by each), `Ok(Err(retry_after_secs))` when one refused
    /// (the largest wait; counted by none).
    async fn hit(&self, keys: &[RateKey], now_ms: u64) -> StoreResult<Result<(), u64>>;
    /// Whether `key` would allow a request at `now_ms`, without counting it.
    async fn check(&self, key: &RateKey, now_ms: u64) -> StoreResult<Result<(), u64>>;
    /// Drop up to `budget` keys per table whose hits all left their window (the memory tables;
    /// a shared store sweeps its counters in [`crate::store::Store::sweep`]).
    fn sweep_memory(&self, _now_ms: u64, _budget: usize) -> Swept {
        Swept::default()
    }
    /// Keys held in memory per table.
    fn sizes(&self) -> LimiterSizes {
        LimiterSizes::default()
    }
}

/// The counters in this process's memory (one gateway; they restart with it).
#[derive(Debug)]
pub struct MemoryRates {
    session_create: RateLimiter<[u8; 16]>,
    init_client: RateLimiter<[u8; 16]>,
    init_ip: RateLimiter<[u8; 16]>,
    init_session: RateLimiter<[u8; 16]>,
    token: RateLimiter<[u8; 16]>,
}

impl MemoryRates {
    /// Empty tables for `cfg`, each of at most `cfg.max_entries` keys.
    pub fn new(cfg: &LimitsConfig) -> MemoryRates {
        let cap = cfg.max_entries;
        MemoryRates {
            session_create: RateLimiter::new(cfg.session_create, cap),
            init_client: RateLimiter::new(cfg.init_per_client, cap),
            init_ip: RateLimiter::new(cfg.init_per_ip, cap),
            init_session: RateLimiter::new(cfg.init_per_session, cap),
            token: RateLimiter::new(cfg.token_failures, cap),
        }
    }

    fn table(&self, t: RateTable) -> &RateLimiter<[u8; 16]> {
        match t {
            RateTable::SessionCreate => &self.session_create,
            RateTable::InitClient => &self.init_client,
            RateTable::InitIp => &self.init_ip,
            RateTable::InitSession => &self.init_session,
            RateTable::TokenFailures => &self.token,
        }
    }

    /// [`RateStore::hit`], synchronously: hit each key in turn and take the hits back when one
    /// refuses.
    pub fn hit_now(&self, keys: &[RateKey], now_ms: u64) -> Result<(), u64> {
        for (i, k) in keys.iter().enumerate() {
            if let Err(retry) = self.table(k.table).hit(&k.key, now_ms) {
                for done in &keys[..i] {
                    self.table(done.table).undo(&done.key, now_ms);
                }
                return Err(retry);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl RateStore for MemoryRates {
    async fn hit(&self, keys: &[RateKey], now_ms: u64) -> StoreResult<Result<(), u64>> {
        Ok(self.hit_now(keys, now_ms))
    }

    async fn check(&self, key: &RateKey, now_ms: u64) -> StoreResult<Result<(), u64>> {
        Ok(self.table(key.table).check(&key.key, now_ms))
    }

    fn sweep_memory(&self, now_ms: u64, budget: usize) -> Swept {
        let mut total = Swept::default();
        for t in [
            &self.session_create,
            &self.init_client,
            &self.init_ip,
            &self.init_session,
            &self.token,
        ] {
            let s = t.sweep(now_ms, budget);
            total.removed += s.removed;
            total.visited += s.visited;
        }
        total
    }

    fn sizes(&self) -> LimiterSizes {
        let all = [
            &self.session_create,
            &self.init_client,
            &self.init_ip,
            &self.init_session,
            &self.token,
        ];
        LimiterSizes {
            session_create: self.session_create.len(),
            init_per_client: self.init_client.len(),
            init_per_ip: self.init_ip.len(),
            init_per_session: self.init_session.len(),
            token_failures: self.token.len(),
            evicted: all.iter().map(|t| t.evicted()).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window() {
        let l = RateLimiter::new(RateSpec::per_secs(5, 300), 100);
        let t0 = 1_000_000;
        for i in 0..5 {
            assert_eq!(l.hit(&"a", t0 + i * 1000), Ok(()));
        }
        assert_eq!(l.check(&"a", t0 + 5_000), Err(295));
        assert_eq!(l.hit(&"a", t0 + 5_000), Err(295));
        assert_eq!(l.hit(&"b", t0 + 5_000), Ok(()));
        assert_eq!(l.hit(&"a", t0 + 299_999), Err(1));
        // The first hit leaves the window: exactly one slot frees.
        assert_eq!(l.check(&"a", t0 + 300_000), Ok(()));
        assert_eq!(l.hit(&"a", t0 + 300_000), Ok(()));
        assert_eq!(l.hit(&"a", t0 + 300_000), Err(1));
        assert_eq!(l.hit(&"a", t0 + 301_000), Ok(()));
    }

    #[test]
    fn undo_takes_back_one_hit() {
        let l = RateLimiter::new(RateSpec::per_secs(2, 10), 100);
        assert_eq!(l.hit(&1, 5), Ok(()));
        assert_eq!(l.hit(&1, 6), Ok(()));
        assert!(l.hit(&1, 7).is_err());
        l.undo(&1, 6);
        assert_eq!(l.hit(&1, 7), Ok(()));
        l.undo(&1, 7);
        l.undo(&1, 5);
        assert_eq!(l.len(), 0);
    }

    #[test]
    fn full_table_evicts_the_oldest_key() {
        let l = RateLimiter::new(RateSpec::per_secs(1, 1000), 3);
        for k in 0..3u32 {
            assert_eq!(l.hit(&k, 10 + u64::from(k)), Ok(()));
        }
        // Key 0 is hit again (refused: not moved), key 1 is the oldest after it.
        assert!(l.hit(&0, 20).is_err());
        assert_eq!(l.hit(&9, 21), Ok(()));
        assert_eq!((l.len(), l.evicted()), (3, 1));
        // Key 0 was evicted: its budget restarted.
        assert_eq!(l.hit(&0, 22), Ok(()));
        assert!(l.hit(&2, 23).is_err(), "key 2 survived");
    }

    #[test]
    fn sweeps_cost_the_expired_keys_only() {
        let l = RateLimiter::new(
            RateSpec {
                limit: 1,
                window_ms: 10,
            },
            1 << 20,
        );
        for k in 0..10u32 {
            assert_eq!(l.hit(&k, 0), Ok(()));
        }
        for k in 10..10_010u32 {
            assert_eq!(l.hit(&k, 1_000), Ok(()));
        }
        // The hits above swept the 10 stale keys incrementally; a sweep now visits one key.
        assert_eq!(l.len(), 10_000);
        assert_eq!(
            l.sweep(1_005, usize::MAX),
            Swept {
                removed: 0,
                visited: 1
            }
        );
        let s = l.sweep(1_010, 4096);
        assert_eq!(
            s,
            Swept {
                removed: 4096,
                visited: 4096
            }
        );
        assert_eq!(l.len(), 10_000 - 4096);
    }
}
