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
//! A client group is an IPv4 address or an IPv6 /64 ([`crate::client_ip`]). Each table holds at
//! most `max_entries` keys ([`crate::ratelimit`]); a request refused by one limit is counted by
//! none.

use crate::client_ip::{ClientAddr, ClientGroup};
use crate::ratelimit::{RateLimiter, RateSpec, Swept};
use crate::store::TokenHash;
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
    /// Most keys per table.
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

/// Keys held by each table.
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

/// The live limiters.
#[derive(Debug)]
pub struct Limits {
    session_create: RateLimiter<ClientGroup>,
    init_client: RateLimiter<[u8; 16]>,
    init_ip: RateLimiter<ClientGroup>,
    init_session: RateLimiter<[u8; 16]>,
    token: RateLimiter<[u8; 16]>,
}

/// A password-init attempt counted by the address limits (taken back if a later limit refuses).
#[derive(Debug)]
pub struct InitTicket {
    group: ClientGroup,
    client_key: [u8; 16],
    at: u64,
}

/// The longest `X-Client-Hash` taken into the key (longer ones are refused by the header check
/// anyway, after counting).
const MAX_CLIENT_HASH: usize = 128;

impl Limits {
    /// Empty tables for `cfg`.
    pub fn new(cfg: &LimitsConfig) -> Limits {
        let cap = cfg.max_entries;
        Limits {
            session_create: RateLimiter::new(cfg.session_create, cap),
            init_client: RateLimiter::new(cfg.init_per_client, cap),
            init_ip: RateLimiter::new(cfg.init_per_ip, cap),
            init_session: RateLimiter::new(cfg.init_per_session, cap),
            token: RateLimiter::new(cfg.token_failures, cap),
        }
    }

    /// Count a session creation. `Err(retry_after_secs)`.
    pub fn session_create(&self, client: &ClientAddr, now_ms: u64) -> Result<(), u64> {
        self.session_create.hit(&client.group, now_ms)
    }

    /// Count a password-init attempt against the client group and (group, `X-Client-Hash`).
    pub fn init_attempt(
        &self,
        client: &ClientAddr,
        client_hash: &[u8],
        now_ms: u64,
    ) -> Result<InitTicket, u64> {
        let hash = &client_hash[..client_hash.len().min(MAX_CLIENT_HASH)];
        let client_key = key16(&[b"init-client", &client.group.bytes(), hash]);
        self.init_ip.hit(&client.group, now_ms)?;
        if let Err(retry) = self.init_client.hit(&client_key, now_ms) {
            self.init_ip.undo(&client.group, now_ms);
            return Err(retry);
        }
        Ok(InitTicket {
            group: client.group,
            client_key,
            at: now_ms,
        })
    }

    /// Count the attempt against the SC session it names (a session the server issued and
    /// found). A refusal takes back `ticket`.
    pub fn init_session(
        &self,
        ticket: &InitTicket,
        session_id: &str,
        now_ms: u64,
    ) -> Result<(), u64> {
        let key = key16(&[b"init-session", session_id.as_bytes()]);
        self.init_session.hit(&key, now_ms).inspect_err(|_| {
            self.init_ip.undo(&ticket.group, ticket.at);
            self.init_client.undo(&ticket.client_key, ticket.at);
        })
    }

    fn token_key(token: &TokenHash) -> [u8; 16] {
        key16(&[b"init-token", token.as_bytes()])
    }

    /// Whether the init token may be tried (fewer than the limit of failed attempts named it).
    pub fn token_check(&self, token: &TokenHash, now_ms: u64) -> Result<(), u64> {
        self.token.check(&Self::token_key(token), now_ms)
    }

    /// Record a failed attempt naming an existing init token.
    pub fn token_failed(&self, token: &TokenHash, now_ms: u64) {
        let _ = self.token.hit(&Self::token_key(token), now_ms);
    }

    /// Drop keys whose hits all left their window, at most `budget` per table.
    pub fn sweep(&self, now_ms: u64, budget: usize) -> Swept {
        let mut total = Swept::default();
        for s in [
            self.session_create.sweep(now_ms, budget),
            self.init_client.sweep(now_ms, budget),
            self.init_ip.sweep(now_ms, budget),
            self.init_session.sweep(now_ms, budget),
            self.token.sweep(now_ms, budget),
        ] {
            total.removed += s.removed;
            total.visited += s.visited;
        }
        total
    }

    /// Table sizes.
    pub fn sizes(&self) -> LimiterSizes {
        LimiterSizes {
            session_create: self.session_create.len(),
            init_per_client: self.init_client.len(),
            init_per_ip: self.init_ip.len(),
            init_per_session: self.init_session.len(),
            token_failures: self.token.len(),
            evicted: self.session_create.evicted()
                + self.init_client.evicted()
                + self.init_ip.evicted()
                + self.init_session.evicted()
                + self.token.evicted(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotating_hashes_share_the_address_budget() {
        let l = Limits::new(&LimitsConfig::default());
        let c = ClientAddr::new(
            "203.0.113.5"
                .parse()
                .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
        );
        let allowed = (0..200)
            .filter(|i| {
                l.init_attempt(&c, format!("hash-{i}").as_bytes(), 1000)
                    .is_ok()
            })
            .count();
        assert_eq!(allowed, 20);
    }

    #[test]
    fn a_refusal_counts_nowhere() {
        let l = Limits::new(&LimitsConfig::default());
        let c = ClientAddr::new(
            "203.0.113.6"
                .parse()
                .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
        );
        for _ in 0..5 {
            assert!(l.init_attempt(&c, b"h", 1000).is_ok());
        }
        // The per-hash limit refuses the 6th: the address budget is not charged for it.
        for _ in 0..10 {
            assert_eq!(l.init_attempt(&c, b"h", 1000).err(), Some(300));
        }
        let allowed = (0..100)
            .filter(|i| l.init_attempt(&c, format!("x{i}").as_bytes(), 1000).is_ok())
            .count();
        assert_eq!(allowed, 15);
        // The session limit takes back the address hits when it refuses.
        let l = Limits::new(&LimitsConfig::default());
        for i in 0..5 {
            let t = l.init_attempt(&c, format!("s{i}").as_bytes(), 1000);
            assert!(t.is_ok_and(|t| l.init_session(&t, "sid", 1000).is_ok()));
        }
        for i in 0..10 {
            let t = l.init_attempt(&c, format!("r{i}").as_bytes(), 1000);
            assert!(t.is_ok_and(|t| l.init_session(&t, "sid", 1000).is_err()));
        }
        assert_eq!(l.sizes().init_per_client, 5);
    }
}
