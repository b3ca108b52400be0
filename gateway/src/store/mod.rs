//! The storage interface the handlers use, without knowing the engine: server keys, the storage
//! key, sealed SC sessions with their generation and answer cache, registrations (claimed before
//! hashing), users, and (shared stores) the rate-limit counters.
//!
//! Two implementations with the same observable behaviour: [`sqlite::SqliteStore`] (one file,
//! one process; each call runs on the blocking pool) and [`postgres::PgStore`] (one database
//! shared by any number of gateways).
//!
//! Replay safety rests on one operation, the **request transaction** ([`Store::begin`] →
//! [`SessionTx`]): it starts before a request is opened and holds the session for that request
//! (PostgreSQL: `SELECT … FOR UPDATE` on the session row; SQLite: the process is the only
//! writer), returns the generation the store holds (and the sealed state when the caller's copy
//! is older), then carries the business's claims and, in [`SessionTx::commit`], the window update
//! (compare-and-set on the generation), the business effect and the sealed answer in one
//! transaction, before the answer is sent. A second copy of the request, on any gateway, waits for
//! that commit, sees the new generation, and is answered from the answer cache.

use std::fmt;

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::ratelimit::{RateKey, RateStore};

mod keyseal;
pub mod postgres;
pub mod sqlite;

pub use postgres::{PgOptions, PgStore};
pub use sqlite::SqliteStore;

/// The database cannot be reached or did not answer in time (a pool, connection or statement
/// timeout, the server shutting down): answered 503 `SYSTEM.SERVICE_UNAVAILABLE`, and the
/// gateway recovers by itself when the database is back.
#[derive(Debug)]
pub struct Unavailable(pub String);

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "database unavailable: {}", self.0)
    }
}

impl std::error::Error for Unavailable {}

/// Whether `e` (or its cause) is [`Unavailable`].
pub fn is_unavailable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Unavailable>())
}

/// User status of an account whose password is set (the API's `10010202`).
pub const USER_STATUS_ACTIVE: i64 = 10010202;

/// How many answers a session keeps for retransmissions (the most recent ones).
pub const ANSWER_CACHE: usize = 16;

/// Storage errors that are not an outcome (the database failed, a row is corrupt).
pub type StoreResult<T> = anyhow::Result<T>;

/// A stored server key.
pub struct StoredKey {
    /// Key id.
    pub key_id: String,
    /// Its suite (stored by name, the document's `algorithm`; rows of schema version 2 and key
    /// files without one are X25519).
    pub suite: scv2::Suite,
    /// The suite's private key form ([`scv2::ServerKey::private_key`]: 32 bytes for X25519,
    /// 96 for the hybrid suite).
    pub private: Zeroizing<Vec<u8>>,
    /// Creation time (ms).
    pub created_at_ms: u64,
    /// Expiry (ms), if any.
    pub expires_at_ms: Option<u64>,
}

impl StoredKey {
    /// The stored form of `key`.
    pub fn of(key: &scv2::ServerKey) -> StoredKey {
        StoredKey {
            key_id: key.key_id().to_owned(),
            suite: key.suite(),
            private: key.private_key(),
            created_at_ms: key.created_at_ms(),
            expires_at_ms: key.expires_at_ms(),
        }
    }

    /// The core key (errors name the key, never its bytes).
    pub fn server_key(&self) -> anyhow::Result<scv2::ServerKey> {
        scv2::ServerKey::from_private_key(
            self.suite,
            &self.key_id,
            &self.private,
            self.created_at_ms,
            self.expires_at_ms,
        )
        .map_err(|e| anyhow::anyhow!("server key {} ({}): {e}", self.key_id, self.suite))
    }

    /// A copy (the private key stays in zeroized memory).
    pub fn duplicate(&self) -> StoredKey {
        StoredKey {
            key_id: self.key_id.clone(),
            suite: self.suite,
            private: self.private.clone(),
            created_at_ms: self.created_at_ms,
            expires_at_ms: self.expires_at_ms,
        }
    }
}

/// A stored server key without its private key (`scv2 keys list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key id.
    pub key_id: String,
    /// Its suite.
    pub suite: scv2::Suite,
    /// Creation time (ms).
    pub created_at_ms: u64,
    /// Expiry (ms), if any.
    pub expires_at_ms: Option<u64>,
}

/// The suite whose stored name is `name`, and the check that `private_len` fits it.
pub fn stored_suite(key_id: &str, name: &str, private_len: usize) -> anyhow::Result<scv2::Suite> {
    let Some(suite) = scv2::Suite::from_name(name) else {
        anyhow::bail!("server key {key_id}: unknown suite {name:?} (use a newer scv2)");
    };
    if private_len != suite.private_key_len() {
        anyhow::bail!(
            "server key {key_id}: a {} private key must be {} bytes, not {private_len}",
            suite,
            suite.private_key_len()
        );
    }
    Ok(suite)
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("key_id", &self.key_id)
            .field("suite", &self.suite)
            .field("private", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// SHA-256 of an init token (the init session id). Tokens are stored and looked up only by this.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of `token`.
    pub fn of(token: &str) -> TokenHash {
        TokenHash(crate::util::sha256(&[token.as_bytes()]))
    }
    /// From stored bytes.
    pub fn from_bytes(b: [u8; 32]) -> TokenHash {
        TokenHash(b)
    }
    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", crate::util::hex(&self.0[..4]))
    }
}

/// A pending registration (created by `scv2 registration add`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Expiry (ms).
    pub expires_at_ms: u64,
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// `ACC_USR_` + 8 digits.
    pub biz_id: String,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// Status code.
    pub status: i64,
    /// Creation time (ms).
    pub created_at_ms: u64,
}

/// The outcome of claiming a registration before hashing its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Claimed by this request's transaction; completed by [`SessionTx::commit`] with
    /// [`Effect::CompleteRegistration`], released by [`SessionTx::release_claim`] or when the
    /// transaction ends without it.
    Claimed(Registration),
    /// The token exists but cannot be used now: already used, expired, or claimed by a
    /// concurrent request.
    Unavailable,
    /// No registration has this token.
    Unknown,
}

/// A sealed session as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Session id.
    pub session_id: String,
    /// `ServerSession::export` output.
    pub sealed: Vec<u8>,
    /// The generation of `sealed` (`scv2::export_generation`).
    pub generation: u64,
    /// Expiry (ms).
    pub expires_at_ms: u64,
    /// The client group that opened it (per-address caps survive a restart).
    pub client_group: String,
    /// Last accepted request (ms).
    pub last_used_ms: u64,
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("session_id", &self.session_id)
            .field("generation", &self.generation)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// The answer a session sent to an accepted request, kept for byte-identical retransmissions.
#[derive(Clone, PartialEq, Eq)]
pub struct CachedAnswer {
    /// SHA-256 of the request envelope (raw binary form).
    pub digest: [u8; 32],
    /// HTTP status it was sent with.
    pub status: u16,
    /// Its API `code` (for the log line).
    pub code: String,
    /// The type-129 envelope (raw binary form).
    pub envelope: Vec<u8>,
    /// The response headers sent with it (a proxied upstream's `Set-Cookie`, …), sealed
    /// ([`crate::answer_headers`]); empty when there are none.
    pub headers: Vec<u8>,
}

impl fmt::Debug for CachedAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedAnswer")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("envelope_len", &self.envelope.len())
            .field("headers_len", &self.headers.len())
            .finish_non_exhaustive()
    }
}

/// The business effect of an accepted request, applied in the same transaction as its window
/// update and its answer.
#[derive(Debug)]
pub enum Effect {
    /// Nothing besides the window and the answer.
    None,
    /// Consume the registration this request's transaction claimed and create its user.
    CompleteRegistration {
        /// The token.
        token: TokenHash,
        /// The Argon2id PHC string.
        password_hash: String,
        /// Now (ms).
        now_ms: u64,
    },
    /// End the session (close): the row and its answers are deleted instead of updated.
    EndSession,
}

/// What the effect did; the answer is built from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectOutcome {
    /// [`Effect::None`].
    None,
    /// The user was created.
    UserCreated(User),
    /// The claim was no longer held (lease over, registration gone): nothing changed.
    RegistrationGone,
    /// The session was deleted.
    SessionEnded,
}

/// The session's state after the request, when it is newer than what the store holds.
#[derive(Clone)]
pub struct SessionUpdate {
    /// `ServerSession::export` output.
    pub sealed: Vec<u8>,
    /// Its generation.
    pub generation: u64,
    /// Now (ms).
    pub last_used_ms: u64,
}

/// Seals the answer once the effect is known (runs inside the transaction; must not block).
pub type SealAnswer =
    Box<dyn FnOnce(&EffectOutcome) -> Result<CachedAnswer, scv2::Error> + Send + 'static>;

/// Everything an accepted request commits at once.
pub struct Commit {
    /// The session.
    pub session_id: String,
    /// The generation the request transaction found; anything else is a conflict.
    pub expected_generation: u64,
    /// The new state (`None`: the session ends, or nothing changed).
    pub update: Option<SessionUpdate>,
    /// The business effect.
    pub effect: Effect,
    /// Builds and seals the answer from the effect's outcome.
    pub seal: SealAnswer,
    /// Keep the answer for retransmissions (the last [`ANSWER_CACHE`] per session).
    pub cache_answer: bool,
}

impl fmt::Debug for Commit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commit")
            .field("session_id", &self.session_id)
            .field("expected_generation", &self.expected_generation)
            .field("update", &self.update.as_ref().map(|u| u.generation))
            .field("effect", &self.effect)
            .finish_non_exhaustive()
    }
}

/// A committed request.
#[derive(Debug)]
pub struct Committed {
    /// The sealed answer (send exactly these bytes).
    pub answer: CachedAnswer,
    /// What the effect did.
    pub outcome: EffectOutcome,
}

/// Why a commit did not happen (nothing of it was applied; a claim it carried is released).
#[derive(Debug)]
pub enum CommitError {
    /// The store holds another generation than expected: another writer moved the session on.
    Conflict,
    /// The session is not in the store (closed, evicted, expired).
    Gone,
    /// The answer could not be sealed.
    Seal(scv2::Error),
    /// The database failed.
    Db(anyhow::Error),
}

impl fmt::Display for CommitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommitError::Conflict => f.write_str("generation conflict"),
            CommitError::Gone => f.write_str("session not in the store"),
            CommitError::Seal(e) => write!(f, "sealing the answer: {e}"),
            CommitError::Db(e) => write!(f, "database: {e:#}"),
        }
    }
}

/// What moving to an external storage key did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Sessions re-sealed under the new key.
    pub resealed: usize,
    /// Sessions that did not open under the stored key (deleted).
    pub dropped: usize,
}

/// Re-seal one session blob (`None`: it does not open; drop it).
pub type Reseal = Box<dyn Fn(&SessionRecord) -> Option<Vec<u8>> + Send + 'static>;

/// A session held by a request transaction.
pub struct Locked {
    /// The generation the store holds.
    pub generation: u64,
    /// The sealed state, when the caller's copy is not of `generation` (import it).
    pub sealed: Option<Vec<u8>>,
    /// The transaction.
    pub tx: Box<dyn SessionTx>,
}

impl fmt::Debug for Locked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Locked")
            .field("generation", &self.generation)
            .field("sealed", &self.sealed.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

/// The transaction of one request on one session, from before it is opened to its commit.
/// Dropping it without [`SessionTx::commit`] or [`SessionTx::finish`] rolls it back.
#[async_trait]
pub trait SessionTx: Send + 'static {
    /// The answers the session keeps for retransmissions.
    async fn cached_answers(&mut self) -> StoreResult<Vec<CachedAnswer>>;
    /// Claim the pending registration `token` for this request (of concurrent claims exactly
    /// one succeeds, on any gateway; the others get [`Claim::Unavailable`] without waiting).
    /// `lease_ms`: how long a claim outlives a crashed holder where the store needs a lease.
    async fn claim_registration(
        &mut self,
        token: TokenHash,
        now_ms: u64,
        lease_ms: u64,
    ) -> StoreResult<Claim>;
    /// Release this request's claim (the hash failed).
    async fn release_claim(&mut self) -> StoreResult<()>;
    /// Run rate-limit keys inside this transaction (`count`: hit, else check). `Ok(None)`: this
    /// store does not count inside request transactions (use the gateway's [`RateStore`]).
    async fn rate(
        &mut self,
        _keys: &[RateKey],
        _now_ms: u64,
        _count: bool,
    ) -> StoreResult<Option<Result<(), u64>>> {
        Ok(None)
    }
    /// Commit an accepted request (see [`Commit`]). On error nothing of it was applied and a
    /// claim it carried is released.
    async fn commit(self: Box<Self>, commit: Commit) -> Result<Committed, CommitError>;
    /// End the transaction without an accepted request (the envelope was refused): keeps what
    /// it counted, changes nothing else.
    async fn finish(self: Box<Self>) -> StoreResult<()>;
}

/// What a sweep of the store removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreSwept {
    /// Expired sessions (with their answers).
    pub sessions: usize,
    /// Used or long-expired registrations.
    pub registrations: usize,
    /// Rate-limit entries whose window passed (shared stores).
    pub rate_entries: usize,
    /// Another gateway holds the sweep lock: nothing was done here.
    pub skipped: bool,
}

/// Database work counted by a store (the figures of BENCHMARKS.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Round trips to the database server (pipelined statements count once).
    pub round_trips: u64,
    /// Transactions committed (explicit ones and single statements).
    pub transactions: u64,
}

/// How long a used registration (or an expired one) is kept before the sweep deletes it: the
/// token-failure window, so that naming it again still counts as a failed attempt meanwhile.
pub const REGISTRATION_RETENTION_MS: u64 = 3_600_000;

/// The storage engine behind the gateway.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// What and where (`sqlite:/path`, `postgres://user@host:port/db`), for logs and errors.
    fn describe(&self) -> String;

    /// Whether this process is the only writer (SQLite with its lock file): the in-memory
    /// sessions are then authoritative, and a session missing from memory does not exist. A
    /// shared store (several gateways) answers `false`: sessions are loaded on a miss, memory
    /// evictions do not delete them, and every request re-validates its session's generation in
    /// [`Store::begin`].
    fn exclusive(&self) -> bool;

    /// The rate-limit counters of a shared store (every gateway on it counts in the same
    /// place); `None`: the gateway counts in its own memory.
    fn shared_rates(&self) -> Option<std::sync::Arc<dyn RateStore>> {
        None
    }

    /// Whether the store can serve requests now (`/readyz`): reachable, schema up to date.
    async fn ready(&self) -> StoreResult<()>;

    /// Database work done so far.
    fn stats(&self) -> StoreStats {
        StoreStats::default()
    }

    /// Every stored server key.
    async fn server_keys(&self) -> StoreResult<Vec<StoredKey>>;
    /// Store a server key.
    async fn insert_server_key(&self, key: StoredKey) -> StoreResult<()>;
    /// Store `key` unless the store holds an unexpired server key at `now_ms` (several gateways
    /// starting at once on an empty store create one key between them). `true`: stored.
    async fn insert_first_server_key(&self, key: StoredKey, now_ms: u64) -> StoreResult<bool>;
    /// Set a server key's expiry (retire it). `false`: no such key.
    async fn expire_server_key(&self, key_id: &str, expires_at_ms: u64) -> StoreResult<bool>;

    /// The storage key kept in the store, if any.
    async fn stored_storage_key(&self) -> StoreResult<Option<Zeroizing<[u8; 32]>>>;
    /// Keep a newly generated storage key in the store (no external key was given).
    async fn create_storage_key(&self, key: Zeroizing<[u8; 32]>) -> StoreResult<()>;
    /// Re-seal every stored session with `reseal` and delete the stored storage key, in one
    /// transaction (an external key replaces the stored one).
    async fn adopt_external_storage_key(&self, reseal: Reseal) -> StoreResult<Resealed>;

    /// Unexpired sessions, most recently used first, at most `max`.
    async fn load_sessions(&self, now_ms: u64, max: usize) -> StoreResult<Vec<SessionRecord>>;
    /// One unexpired session.
    async fn load_session(
        &self,
        session_id: &str,
        now_ms: u64,
    ) -> StoreResult<Option<SessionRecord>>;
    /// Store a new session (generation 0). `evicted`: sessions the caller dropped for its
    /// caps, deleted in the same transaction by an exclusive store; a shared store keeps them
    /// (the caller's memory is a cache) and applies the per-address cap of `max_per_group`
    /// sessions itself, oldest first.
    async fn create_session(
        &self,
        record: SessionRecord,
        evicted: Vec<String>,
        max_per_group: usize,
    ) -> StoreResult<()>;
    /// Delete sessions (and their answers).
    async fn delete_sessions(&self, session_ids: Vec<String>) -> StoreResult<()>;
    /// Begin the request transaction on `session_id` (see the module doc), waiting for a
    /// concurrent request on the same session to commit. `known_generation`: the generation of
    /// the caller's copy (`None`: it has none, or it is not trusted). `Ok(None)`: the session is
    /// not in the store (closed, evicted, expired at `now_ms`).
    async fn begin(
        &self,
        session_id: &str,
        known_generation: Option<u64>,
        now_ms: u64,
    ) -> StoreResult<Option<Locked>>;
    /// The answers a session keeps for retransmissions (outside a request transaction).
    async fn cached_answers(&self, session_id: &str) -> StoreResult<Vec<CachedAnswer>>;
    /// Delete, in batches of at most `batch` rows, expired sessions, registrations used or
    /// expired [`REGISTRATION_RETENTION_MS`] ago and (shared stores) rate-limit entries whose
    /// window passed; at most `max_batches` batches per kind. A shared store does it only on the
    /// gateway that holds its sweep lock.
    async fn sweep(&self, now_ms: u64, batch: usize, max_batches: usize)
        -> StoreResult<StoreSwept>;

    /// Create a pending registration for `token` (only its hash is stored).
    async fn add_registration(
        &self,
        token: TokenHash,
        email: &str,
        name: &str,
        now_ms: u64,
        ttl_ms: u64,
    ) -> StoreResult<Registration>;
    /// Release every claim (start-up of the only writer: claims of a dead process).
    async fn release_all_claims(&self) -> StoreResult<usize>;

    /// The stored password hash of the user with `email` (tests and audits).
    async fn password_hash(&self, email: &str) -> StoreResult<Option<String>>;
    /// Number of users.
    async fn user_count(&self) -> StoreResult<u64>;
}
