//! The gateway's rate limits: which requests count against what, keyed only on what a client
//! cannot choose freely (its address group, a session the server issued, an init token that
//! exists), plus the documented per-(address, `X-Client-Hash`) limit.
//!
//! | limit | key | default |
//! |---|---|---|
//! | session creation | client group | 60 per 60 s |
//! | password init | (client group, `X-Client-Hash`) | 5 per 300 s |
//! | password init | client group, across all hashes | 20 per 300 s |
//! | password init | SC session | 5 per 300 s |
//! | password init | init token, failed attempts naming an existing one | 10 per 3600 s |
//!
//! A client group is an IPv4 address or an IPv6 /64 ([`crate::client_ip`]). The counters live in
//! a [`RateStore`]: this process's memory (SQLite; each table holds at most `max_entries` keys,
//! [`crate::ratelimit`]) or PostgreSQL (shared by every gateway on it). A request is counted
//! against all its keys in one call, all or none: a request refused by one limit is counted by
//! none.

use std::sync::Arc;

use crate::client_ip::ClientAddr;
use crate::ratelimit::{RateKey, RateSpec, RateStore, RateTable, Swept};
use crate::store::{StoreResult, TokenHash};
use crate::util::key16;

/// The limits and their table size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Session creations per client group.
    pub session_create: RateSpec,
    /// Password inits per (client group, `X-Client-Hash`).
    pub init_per_client: RateSpec,
    /// Password inits per client group, whatever the hash.
    pub init_per_ip: RateSpec,
    /// Password inits per SC session.
    pub init_per_session: RateSpec,
    /// Failed password inits naming one existing init token.
    pub token_failures: RateSpec,
    /// Most keys per in-memory table.
    pub max_entries: usize,
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            session_create: RateSpec::per_secs(60, 60),
            init_per_client: RateSpec::per_secs(5, 300),
            init_per_ip: RateSpec::per_secs(20, 300),
            init_per_session: RateSpec::per_secs(5, 300),
            token_failures: RateSpec::per_secs(10, 3600),
            max_entries: 100_000,
        }
    }
}

/// Keys held by each in-memory table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimiterSizes {
    /// Session creation.
    pub session_create: usize,
    /// Per (group, hash).
    pub init_per_client: usize,
    /// Per group.
    pub init_per_ip: usize,
    /// Per session.
    pub init_per_session: usize,
    /// Per token.
    pub token_failures: usize,
    /// Keys evicted from full tables since start (all tables).
    pub evicted: u64,
}

/// The longest `X-Client-Hash` taken into the key (longer ones are refused by the header check
/// anyway, after counting).
const MAX_CLIENT_HASH: usize = 128;

/// A limit of 0 refuses everything (without asking the store): `Some(retry_after_secs)`.
pub fn zero_limit(keys: &[RateKey]) -> Option<u64> {
    keys.iter()
        .filter(|k| k.spec.limit == 0)
        .map(|k| k.spec.window_ms.div_ceil(1000).max(1))
        .max()
}

/// The limits: which keys a request counts against, and where they are counted.
pub struct Limits {
    cfg: LimitsConfig,
    rates: Arc<dyn RateStore>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl Limits {
    /// The limits of `cfg`, counted in `rates`.
    pub fn new(cfg: &LimitsConfig, rates: Arc<dyn RateStore>) -> Limits {
        Limits { cfg: *cfg, rates }
    }

    /// Where the counters live.
    pub fn rates(&self) -> &Arc<dyn RateStore> {
        &self.rates
    }

    async fn hit(&self, keys: &[RateKey], now_ms: u64) -> StoreResult<Result<(), u64>> {
        if let Some(retry) = zero_limit(keys) {
            return Ok(Err(retry));
        }
        self.rates.hit(keys, now_ms).await
    }

    /// Count a session creation against the client group. `Ok(Err(retry_after_secs))`: 429.
    pub async fn session_create(
        &self,
        client: &ClientAddr,
        now_ms: u64,
    ) -> StoreResult<Result<(), u64>> {
        let key = RateKey {
            table: RateTable::SessionCreate,
            key: key16(&[b"session-create", &client.group.bytes()]),
            spec: self.cfg.session_create,
        };
        self.hit(&[key], now_ms).await
    }

    /// Count a password-init attempt against the client group, (group, `X-Client-Hash`) and,
    /// when given, the SC session it names (a session the server issued and found), all or
    /// none. `Ok(Err(retry_after_secs))`: 429.
    pub async fn init_attempt(
        &self,
        client: &ClientAddr,
        client_hash: &[u8],
        session_id: Option<&str>,
        now_ms: u64,
    ) -> StoreResult<Result<(), u64>> {
        let hash = &client_hash[..client_hash.len().min(MAX_CLIENT_HASH)];
        let group = client.group.bytes();
        let mut keys = vec![
            RateKey {
                table: RateTable::InitIp,
                key: key16(&[b"init-ip", &group]),
                spec: self.cfg.init_per_ip,
            },
            RateKey {
                table: RateTable::InitClient,
                key: key16(&[b"init-client", &group, hash]),
                spec: self.cfg.init_per_client,
            },
        ];
        if let Some(sid) = session_id {
            keys.push(RateKey {
                table: RateTable::InitSession,
                key: key16(&[b"init-session", sid.as_bytes()]),
                spec: self.cfg.init_per_session,
            });
        }
        self.hit(&keys, now_ms).await
    }

    /// The key of failed attempts naming the init token `token`.
    pub fn token_key(&self, token: &TokenHash) -> RateKey {
        RateKey {
            table: RateTable::TokenFailures,
            key: key16(&[b"init-token", token.as_bytes()]),
            spec: self.cfg.token_failures,
        }
    }

    /// Drop in-memory keys whose hits all left their window, at most `budget` per table.
    pub fn sweep(&self, now_ms: u64, budget: usize) -> Swept {
        self.rates.sweep_memory(now_ms, budget)
    }

    /// In-memory table sizes.
    pub fn sizes(&self) -> LimiterSizes {
        self.rates.sizes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::MemoryRates;

    fn limits() -> Limits {
        let cfg = LimitsConfig::default();
        Limits::new(&cfg, Arc::new(MemoryRates::new(&cfg)))
    }

    fn addr(s: &str) -> ClientAddr {
        ClientAddr::new(s.parse().unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()))
    }

    #[tokio::test]
    async fn rotating_hashes_share_the_address_budget() -> StoreResult<()> {
        let l = limits();
        let c = addr("203.0.113.5");
        let mut allowed = 0;
        for i in 0..200 {
            let h = format!("hash-{i}");
            if l.init_attempt(&c, h.as_bytes(), None, 1000).await?.is_ok() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 20);
        Ok(())
    }

    #[tokio::test]
    async fn a_refusal_counts_nowhere() -> StoreResult<()> {
        let l = limits();
        let c = addr("203.0.113.6");
        for _ in 0..5 {
            assert!(l.init_attempt(&c, b"h", None, 1000).await?.is_ok());
        }
        // The per-hash limit refuses the 6th: the address budget is not charged for it.
        for _ in 0..10 {
            assert_eq!(l.init_attempt(&c, b"h", None, 1000).await?, Err(300));
        }
        let mut allowed = 0;
        for i in 0..100 {
            let h = format!("x{i}");
            if l.init_attempt(&c, h.as_bytes(), None, 1000).await?.is_ok() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 15);
        // The session limit refuses without charging the address limits.
        let l = limits();
        for i in 0..5 {
            let h = format!("s{i}");
            assert!(l
                .init_attempt(&c, h.as_bytes(), Some("sid"), 1000)
                .await?
                .is_ok());
        }
        for i in 0..10 {
            let h = format!("r{i}");
            assert!(l
                .init_attempt(&c, h.as_bytes(), Some("sid"), 1000)
                .await?
                .is_err());
        }
        assert_eq!(l.sizes().init_per_client, 5);
        Ok(())
    }

    #[tokio::test]
    async fn a_zero_limit_refuses_everything() -> StoreResult<()> {
        let cfg = LimitsConfig {
            session_create: RateSpec::per_secs(0, 60),
            ..LimitsConfig::default()
        };
        let l = Limits::new(&cfg, Arc::new(MemoryRates::new(&cfg)));
        assert_eq!(l.session_create(&addr("192.0.2.1"), 5).await?, Err(60));
        Ok(())
    }
}
