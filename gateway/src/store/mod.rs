//! The storage interface the handlers use, without knowing the engine: server keys, the storage
//! key, sealed SC sessions with their generation and answer cache, registrations (claimed before
//! hashing), users.
//!
//! [`Store`] is async; the SQLite implementation ([`sqlite::SqliteStore`]) runs each call on the
//! blocking pool. The one operation that matters for replay safety is [`Store::commit`]: an
//! accepted request's window update (compare-and-set on the session's generation), its business
//! effect and its sealed answer commit in one transaction, before the answer is sent.

use std::fmt;

use async_trait::async_trait;
use zeroize::Zeroizing;

pub mod sqlite;

pub use sqlite::SqliteStore;

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
    /// X25519 private key.
    pub private: Zeroizing<[u8; 32]>,
    /// Creation time (ms).
    pub created_at_ms: u64,
    /// Expiry (ms), if any.
    pub expires_at_ms: Option<u64>,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("key_id", &self.key_id)
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
    /// Claimed by this request until the lease ends; complete it in [`Store::commit`] or release
    /// it with [`Store::release_claim`].
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
    /// Consume the registration this request claimed and create its user.
    CompleteRegistration {
        /// The token.
        token: TokenHash,
        /// The claim id given to [`Store::claim_registration`].
        claim: u64,
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
    /// The generation this process believes the store holds; anything else is a conflict.
    pub expected_generation: u64,
    /// The new state, or `None` when the store already holds a state that includes this
    /// request (a concurrent commit of the same session exported it).
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

/// The storage engine behind the gateway.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// What and where (`sqlite:/path`), for logs and errors.
    fn describe(&self) -> String;

    /// Whether this process is the only writer (SQLite with its lock file): the in-memory
    /// sessions are then authoritative between commits. A shared store (several gateways)
    /// answers `false`, and every request must re-validate its session's generation.
    fn exclusive(&self) -> bool;

    /// Every stored server key.
    async fn server_keys(&self) -> StoreResult<Vec<StoredKey>>;
    /// Store a server key.
    async fn insert_server_key(&self, key: StoredKey) -> StoreResult<()>;

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
    /// Store a new session (generation 0) and delete `evicted` ones, in one transaction.
    async fn create_session(&self, record: SessionRecord, evicted: Vec<String>) -> StoreResult<()>;
    /// Delete sessions (and their answers).
    async fn delete_sessions(&self, session_ids: Vec<String>) -> StoreResult<()>;
    /// Delete up to `batch` expired sessions; returns how many.
    async fn purge_expired_sessions(&self, now_ms: u64, batch: usize) -> StoreResult<usize>;
    /// Commit an accepted request (see [`Commit`]).
    async fn commit(&self, commit: Commit) -> Result<Committed, CommitError>;
    /// The answers a session keeps for retransmissions.
    async fn cached_answers(&self, session_id: &str) -> StoreResult<Vec<CachedAnswer>>;

    /// Create a pending registration for `token` (only its hash is stored).
    async fn add_registration(
        &self,
        token: TokenHash,
        email: &str,
        name: &str,
        now_ms: u64,
        ttl_ms: u64,
    ) -> StoreResult<Registration>;
    /// Claim the pending registration `token` for `lease_ms` under the id `claim` (atomically:
    /// of concurrent claims exactly one succeeds).
    async fn claim_registration(
        &self,
        token: TokenHash,
        claim: u64,
        now_ms: u64,
        lease_ms: u64,
    ) -> StoreResult<Claim>;
    /// Release a claim (the hash failed or the commit did not happen).
    async fn release_claim(&self, token: TokenHash, claim: u64) -> StoreResult<()>;
    /// Release every claim (start-up of the only writer: claims of a dead process).
    async fn release_all_claims(&self) -> StoreResult<usize>;

    /// The stored password hash of the user with `email` (tests and audits).
    async fn password_hash(&self, email: &str) -> StoreResult<Option<String>>;
    /// Number of users.
    async fn user_count(&self) -> StoreResult<u64>;
}
