//! Sliding-window rate limiting (an exact log of the last `limit` hits per key).
//!
//! A key may make at most `limit` counted requests in any span of `window_ms`: a request at time
//! `t` is allowed when fewer than `limit` earlier counted requests happened in `(t − window, t]`.
//! A refused request (answered 429) is not counted, so a client that keeps retrying is let in
//! again as soon as its oldest counted request leaves the window. `Retry-After` is the number of
//! whole seconds (rounded up) until that happens.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;

/// A limit: `limit` requests per `window_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateSpec {
    /// Requests allowed in any window.
    pub limit: u32,
    /// The window, in milliseconds.
    pub window_ms: u64,
}

/// A sliding-window limiter keyed by `K`. Memory is bounded: keys whose hits all left the window
/// are dropped when the table grows.
#[derive(Debug)]
pub struct RateLimiter<K> {
    spec: RateSpec,
    table: Mutex<Table<K>>,
}

#[derive(Debug)]
struct Table<K> {
    hits: HashMap<K, VecDeque<u64>>,
    next_sweep: usize,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// A limiter with `spec`.
    pub fn new(spec: RateSpec) -> RateLimiter<K> {
        RateLimiter {
            spec,
            table: Mutex::new(Table {
                hits: HashMap::new(),
                next_sweep: 1024,
            }),
        }
    }

    /// The limit.
    pub fn spec(&self) -> RateSpec {
        self.spec
    }

    /// Count a request of `key` at `now_ms`. `Ok(())` if allowed (and counted); otherwise
    /// `Err(retry_after_secs)`, not counted.
    pub fn hit(&self, key: &K, now_ms: u64) -> Result<(), u64> {
        if self.spec.limit == 0 {
            return Err(self.spec.window_ms.div_ceil(1000).max(1));
        }
        let window = self.spec.window_ms;
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if t.hits.len() >= t.next_sweep {
            t.hits.retain(|_, q| {
                q.back()
                    .is_some_and(|&last| now_ms < last.saturating_add(window))
            });
            t.next_sweep = (t.hits.len() * 2).max(1024);
        }
        let q = t.hits.entry(key.clone()).or_default();
        while q
            .front()
            .is_some_and(|&first| now_ms >= first.saturating_add(window))
        {
            q.pop_front();
        }
        if q.len() >= self.spec.limit as usize {
            let free_at = q.front().map_or(now_ms, |&f| f.saturating_add(window));
            let wait_ms = free_at.saturating_sub(now_ms);
            return Err(wait_ms.div_ceil(1000).max(1));
        }
        q.push_back(now_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window() {
        let l = RateLimiter::new(RateSpec {
            limit: 5,
            window_ms: 300_000,
        });
        let t0 = 1_000_000;
        for i in 0..5 {
            assert_eq!(l.hit(&"a", t0 + i * 1000), Ok(()));
        }
        assert_eq!(l.hit(&"a", t0 + 5_000), Err(295));
        assert_eq!(l.hit(&"b", t0 + 5_000), Ok(()));
        assert_eq!(l.hit(&"a", t0 + 299_999), Err(1));
        // The first hit leaves the window: exactly one slot frees.
        assert_eq!(l.hit(&"a", t0 + 300_000), Ok(()));
        assert_eq!(l.hit(&"a", t0 + 300_000), Err(1));
        assert_eq!(l.hit(&"a", t0 + 301_000), Ok(()));
    }

    #[test]
    fn sweeps_idle_keys() {
        let l = RateLimiter::new(RateSpec {
            limit: 1,
            window_ms: 10,
        });
        for k in 0..5000u32 {
            assert_eq!(l.hit(&k, u64::from(k) * 100), Ok(()));
        }
        let len = l.table.lock().map(|t| t.hits.len()).unwrap_or(0);
        assert!(len <= 2048, "{len}");
    }
}
