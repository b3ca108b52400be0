//! The PostgreSQL [`Store`]: one database shared by any number of gateways, authoritative for
//! every SC session's replay window, the answer cache, registrations, users, server keys and the
//! rate-limit counters ([`RateStore`]).
//!
//! - **Pool**: `deadpool-postgres` over `tokio-postgres` (no TLS: see gateway/README.md), at most
//!   `pool_size` connections, each with `statement_timeout`, `lock_timeout` and
//!   `idle_in_transaction_session_timeout` set at connect. Every call also has a client-side
//!   deadline; a connection whose call timed out or failed inside a transaction is closed, not
//!   returned to the pool. An unreachable or slow database is [`Unavailable`] (503), and the pool
//!   reconnects by itself when it is back.
//! - **Request transactions** ([`Store::begin`]): `BEGIN` and `SELECT … FOR UPDATE` of the
//!   session row in one round trip; the claim of a registration (`FOR UPDATE SKIP LOCKED`, which
//!   also reserves the user id) and the token-failure counter run in the same transaction; the
//!   commit is one call of `scv2_commit` (effect, compare-and-set of the generation, answer)
//!   pipelined with `COMMIT`. At most `pool_size - pool_size / 4` request transactions at once
//!   (a semaphore), so that the single statements they wait for always find a connection.
//! - **Migrations**: embedded, versioned (`scv2_schema_migrations`), applied at connect in one
//!   transaction under `pg_advisory_xact_lock`, so that gateways starting at once apply each
//!   version exactly once; a database of a newer version is refused.
//! - **Sweeps**: in batches, each a transaction holding `pg_try_advisory_xact_lock`; only the
//!   gateway that gets it sweeps.
//! - **Work counted**: round trips and transactions ([`StoreStats`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};
use zeroize::Zeroizing;

use super::keyseal::KeySeal;
use super::{
    CachedAnswer, Claim, Commit, CommitError, Committed, Effect, EffectOutcome, KeyInfo, Locked,
    Registration, Reseal, Resealed, SessionRecord, SessionTx, Store, StoreResult, StoreStats,
    StoreSwept, StoredKey, TokenHash, Unavailable, User, REGISTRATION_RETENTION_MS,
    USER_STATUS_ACTIVE,
};
use crate::ratelimit::{RateKey, RateStore};

/// Run `$body` (an expression that may use `$c`, a pooled connection, and `?`) within the call
/// deadline. A connection whose call failed or timed out is closed, not returned to the pool (it
/// may be mid-transaction or broken).
macro_rules! on_conn {
    ($self:ident, $what:expr, |$c:ident| $body:expr) => {{
        let $c = $self.conn().await?;
        let r: Result<anyhow::Result<_>, _> =
            tokio::time::timeout($self.inner.timeout, async { $body }).await;
        match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                drop(Object::take($c));
                Err(e.context($what))
            }
            Err(_) => {
                drop(Object::take($c));
                Err(timed_out($what))
            }
        }
    }};
}

/// The answers a session keeps, newest first (read by [`answer_rows`]).
const ANSWERS_OF_SESSION: &str = "SELECT digest, status, code, envelope, headers FROM sc_answers \
                                  WHERE session_id = $1 ORDER BY generation DESC";

/// The rows of [`ANSWERS_OF_SESSION`] (a row whose digest is not 32 bytes is skipped).
fn answer_rows(rows: Vec<tokio_postgres::Row>) -> StoreResult<Vec<CachedAnswer>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let digest: Vec<u8> = r.try_get(0)?;
        let Ok(digest) = <[u8; 32]>::try_from(digest.as_slice()) else {
            continue;
        };
        let status: i16 = r.try_get(1)?;
        out.push(CachedAnswer {
            digest,
            status: u16::try_from(status).unwrap_or(500),
            code: r.try_get(2)?,
            envelope: r.try_get(3)?,
            headers: r.try_get(4)?,
        });
    }
    Ok(out)
}

/// The embedded migrations: `(version, name, SQL)`, applied in order.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "initial", include_str!("migrations/0001_initial.sql")),
    (
        2,
        "answer headers",
        include_str!("migrations/0002_answer_headers.sql"),
    ),
    (
        3,
        "server key suite",
        include_str!("migrations/0003_server_key_suite.sql"),
    ),
];

/// The schema version this code writes.
pub const SCHEMA_VERSION: i32 = 3;

/// Advisory lock keys (`pg_advisory_xact_lock`), one per purpose ("scv2" in ASCII, then a tag).
const LOCK_MIGRATE: i64 = 0x7363_7632_0000_0001;
/// The advisory lock a sweeping gateway holds (`pg_try_advisory_xact_lock`).
pub const LOCK_SWEEP: i64 = 0x7363_7632_0000_0002;
const LOCK_KEYS: i64 = 0x7363_7632_0000_0003;

/// Whether `url` names a PostgreSQL database (`postgres://…` or `postgresql://…`).
pub fn is_postgres_url(url: &str) -> bool {
    let l = url.get(..13).unwrap_or(url).to_ascii_lowercase();
    l.starts_with("postgres://") || l.starts_with("postgresql://")
}

/// Settings of the PostgreSQL store (the defaults are `scv2 serve`'s).
#[derive(Clone)]
pub struct PgOptions {
    /// Most connections (each gateway).
    pub pool_size: usize,
    /// Longest a statement runs, and a lock or a pooled connection is waited for.
    pub statement_timeout: Duration,
    /// Longest a request transaction may sit idle (its business running) before the database
    /// ends it.
    pub idle_in_transaction_timeout: Duration,
    /// Longest a request waits for one of the request-transaction slots (requests queue there
    /// when every slot is busy, e.g. with Argon2 hashes).
    pub queue_timeout: Duration,
    /// The storage key: server keys in the database are sealed under it. Without it, server
    /// keys cannot be read or added (registrations and users can).
    pub storage_key: Option<Zeroizing<[u8; 32]>>,
}

/// Default pool size.
pub const DEFAULT_POOL_SIZE: usize = 16;
/// Default statement (and lock, and pool wait) timeout, milliseconds.
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 5_000;

impl Default for PgOptions {
    fn default() -> PgOptions {
        PgOptions {
            pool_size: DEFAULT_POOL_SIZE,
            statement_timeout: Duration::from_millis(DEFAULT_STATEMENT_TIMEOUT_MS),
            idle_in_transaction_timeout: Duration::from_secs(60),
            queue_timeout: Duration::from_secs(30),
            storage_key: None,
        }
    }
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("pool_size", &self.pool_size)
            .field("statement_timeout", &self.statement_timeout)
            .field(
                "idle_in_transaction_timeout",
                &self.idle_in_transaction_timeout,
            )
            .field(
                "storage_key",
                &self.storage_key.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

struct Inner {
    pool: Pool,
    tx_slots: Arc<Semaphore>,
    describe: String,
    timeout: Duration,
    queue_timeout: Duration,
    seal: Option<KeySeal>,
    round_trips: AtomicU64,
    transactions: AtomicU64,
}

/// The PostgreSQL store (cheap to clone).
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgStore({})", self.inner.describe)
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Whether a database error means "not now" (503) rather than a failure.
fn transient(code: &SqlState) -> bool {
    let c = code.code();
    c.starts_with("08") // connection exception
        || c.starts_with("53") // insufficient resources (too many connections)
        || c.starts_with("57") // operator intervention: statement timeout, shutdown
        || c.starts_with("40") // deadlock, serialization
        || *code == SqlState::LOCK_NOT_AVAILABLE
        || *code == SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT
}

fn pg_err(e: tokio_postgres::Error) -> anyhow::Error {
    let unavailable = match e.code() {
        None => true,
        Some(c) => transient(c),
    };
    if unavailable || e.is_closed() {
        anyhow::Error::new(Unavailable(e.to_string()))
    } else {
        anyhow::Error::new(e)
    }
}

fn timed_out(what: &str) -> anyhow::Error {
    anyhow::Error::new(Unavailable(format!("{what}: no answer in time")))
}

/// `user@host:port/db` of a URL, without a password.
fn describe_url(cfg: &tokio_postgres::Config) -> String {
    let host = cfg
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(s) => s.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_default();
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        cfg.get_user().unwrap_or(""),
        cfg.get_dbname().unwrap_or("")
    )
}

const SESSION_COLUMNS: &str =
    "session_id, sealed, generation, expires_at_ms, client_group, last_used_ms";

fn session_row(r: &Row) -> anyhow::Result<SessionRecord> {
    Ok(SessionRecord {
        session_id: r.try_get(0)?,
        sealed: r.try_get(1)?,
        generation: to_u64(r.try_get(2)?),
        expires_at_ms: to_u64(r.try_get(3)?),
        client_group: r.try_get(4)?,
        last_used_ms: to_u64(r.try_get(5)?),
    })
}

impl PgStore {
    /// Connect to `url` (`postgres://user[:password]@host:port/dbname[?options]`) and apply the
    /// migrations this version knows (safe when several gateways start at once).
    pub async fn connect(url: &str, opts: PgOptions) -> anyhow::Result<PgStore> {
        let mut cfg: tokio_postgres::Config = url
            .parse()
            .map_err(|e| anyhow!("--db: not a PostgreSQL URL: {e}"))?;
        let ms = |d: Duration| d.as_millis().max(1);
        let extra = format!(
            "-c statement_timeout={} -c lock_timeout={} -c idle_in_transaction_session_timeout={}",
            ms(opts.statement_timeout),
            ms(opts.statement_timeout),
            ms(opts.idle_in_transaction_timeout)
        );
        let options = match cfg.get_options() {
            Some(o) if !o.trim().is_empty() => format!("{o} {extra}"),
            _ => extra,
        };
        cfg.options(&options);
        if cfg.get_application_name().is_none() {
            cfg.application_name("scv2-gateway");
        }
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(opts.statement_timeout);
        }
        cfg.keepalives(true);
        cfg.keepalives_idle(Duration::from_secs(10));
        let describe = describe_url(&cfg);
        let mgr = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let size = opts.pool_size.max(2);
        let pool = Pool::builder(mgr)
            .max_size(size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(opts.statement_timeout))
            .create_timeout(Some(opts.statement_timeout))
            .recycle_timeout(Some(opts.statement_timeout))
            .build()
            .context("building the PostgreSQL pool")?;
        let seal = match &opts.storage_key {
            Some(k) => Some(KeySeal::new(k)?),
            None => None,
        };
        let store = PgStore {
            inner: Arc::new(Inner {
                pool,
                tx_slots: Arc::new(Semaphore::new((size - size / 4).max(1))),
                describe,
                timeout: opts.statement_timeout + Duration::from_secs(2),
                queue_timeout: opts.queue_timeout,
                seal,
                round_trips: AtomicU64::new(0),
                transactions: AtomicU64::new(0),
            }),
        };
        store
            .migrate()
            .await
            .with_context(|| format!("migrating {}", store.inner.describe))?;
        Ok(store)
    }

    fn count(&self, round_trips: u64, transactions: u64) {
        self.inner
            .round_trips
            .fetch_add(round_trips, Ordering::Relaxed);
        self.inner
            .transactions
            .fetch_add(transactions, Ordering::Relaxed);
    }

    /// A pooled connection (waits at most the statement timeout).
    async fn conn(&self) -> anyhow::Result<Object> {
        match tokio::time::timeout(self.inner.timeout, self.inner.pool.get()).await {
            Err(_) => Err(timed_out("waiting for a database connection")),
            Ok(Err(deadpool_postgres::PoolError::Backend(e))) => Err(pg_err(e)),
            Ok(Err(e)) => Err(anyhow::Error::new(Unavailable(e.to_string()))),
            Ok(Ok(c)) => Ok(c),
        }
    }

    /// One prepared statement (cached per connection; preparing costs a round trip).
    async fn prepare(&self, c: &Object, sql: &str) -> anyhow::Result<tokio_postgres::Statement> {
        let before = c.statement_cache.size();
        let st = c.prepare_cached(sql).await.map_err(pg_err)?;
        if c.statement_cache.size() != before {
            self.count(1, 0);
        }
        Ok(st)
    }

    /// One statement on its own (a transaction of its own: counted as one).
    async fn query(
        &self,
        c: &Object,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> anyhow::Result<Vec<Row>> {
        let rows = self.query_tx(c, sql, params).await?;
        self.count(0, 1);
        Ok(rows)
    }

    /// One statement inside an explicit transaction.
    async fn query_tx(
        &self,
        c: &Object,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> anyhow::Result<Vec<Row>> {
        let st = self.prepare(c, sql).await?;
        let rows = c.query(&st, params).await.map_err(pg_err)?;
        self.count(1, 0);
        Ok(rows)
    }

    /// [`PgStore::query`] returning the number of rows affected.
    async fn execute(
        &self,
        c: &Object,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> anyhow::Result<u64> {
        let n = self.execute_tx(c, sql, params).await?;
        self.count(0, 1);
        Ok(n)
    }

    /// [`PgStore::query_tx`] returning the number of rows affected.
    async fn execute_tx(
        &self,
        c: &Object,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> anyhow::Result<u64> {
        let st = self.prepare(c, sql).await?;
        let n = c.execute(&st, params).await.map_err(pg_err)?;
        self.count(1, 0);
        Ok(n)
    }

    /// `BEGIN` (sent with the next statement: no round trip of its own).
    async fn begin_tx(&self, c: &Object) -> anyhow::Result<()> {
        c.batch_execute("BEGIN").await.map_err(pg_err)
    }

    /// `COMMIT`: a round trip, a transaction.
    async fn commit_tx(&self, c: &Object) -> anyhow::Result<()> {
        c.batch_execute("COMMIT").await.map_err(pg_err)?;
        self.count(1, 1);
        Ok(())
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        let c = self.conn().await?;
        let r = tokio::time::timeout(Duration::from_secs(120), async {
            c.batch_execute("BEGIN; SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0;")
                .await
                .map_err(pg_err)?;
            let applied: anyhow::Result<()> = async {
                c.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_MIGRATE])
                    .await
                    .map_err(pg_err)?;
                c.batch_execute(
                    "CREATE TABLE IF NOT EXISTS scv2_schema_migrations (\
                     version integer PRIMARY KEY, name text NOT NULL, \
                     applied_at timestamptz NOT NULL DEFAULT now())",
                )
                .await
                .map_err(pg_err)?;
                let row = c
                    .query_one(
                        "SELECT coalesce(max(version), 0) FROM scv2_schema_migrations",
                        &[],
                    )
                    .await
                    .map_err(pg_err)?;
                let current: i32 = row.try_get(0)?;
                if current > SCHEMA_VERSION {
                    bail!(
                        "the database has schema version {current}; this scv2 knows up to \
                         {SCHEMA_VERSION} (use a newer scv2)"
                    );
                }
                for (version, name, sql) in MIGRATIONS {
                    if *version <= current {
                        continue;
                    }
                    c.batch_execute(sql)
                        .await
                        .map_err(pg_err)
                        .with_context(|| format!("migration {version} ({name})"))?;
                    c.execute(
                        "INSERT INTO scv2_schema_migrations (version, name) VALUES ($1, $2)",
                        &[version, name],
                    )
                    .await
                    .map_err(pg_err)?;
                    tracing::info!(version, name, "applied a database migration");
                }
                Ok(())
            }
            .await;
            match applied {
                Ok(()) => c.batch_execute("COMMIT").await.map_err(pg_err),
                Err(e) => {
                    let _ = c.batch_execute("ROLLBACK").await;
                    Err(e)
                }
            }
        })
        .await;
        match r {
            Ok(r) => r,
            Err(_) => {
                drop(Object::take(c));
                Err(timed_out("applying migrations"))
            }
        }
    }

    /// The applied schema version.
    pub async fn schema_version(&self) -> anyhow::Result<i32> {
        let rows = on_conn!(self, "reading the schema version", |c| {
            self.query(
                &c,
                "SELECT coalesce(max(version), 0) FROM scv2_schema_migrations",
                &[],
            )
            .await
        })?;
        Ok(rows.first().map(|r| r.try_get(0)).transpose()?.unwrap_or(0))
    }

    /// Every server key's id, suite, creation and expiry (without opening the sealed keys).
    pub async fn key_list(&self) -> anyhow::Result<Vec<KeyInfo>> {
        let rows = on_conn!(self, "listing server keys", |c| {
            self.query(
                &c,
                "SELECT key_id, suite, created_at_ms, expires_at_ms FROM server_keys \
                         ORDER BY created_at_ms, key_id",
                &[],
            )
            .await
        })?;
        rows.iter()
            .map(|r| {
                let key_id: String = r.try_get(0)?;
                let name: String = r.try_get(1)?;
                let Some(suite) = scv2::Suite::from_name(&name) else {
                    bail!("server key {key_id}: unknown suite {name:?} (use a newer scv2)");
                };
                Ok(KeyInfo {
                    key_id,
                    suite,
                    created_at_ms: to_u64(r.try_get(2)?),
                    expires_at_ms: r.try_get::<_, Option<i64>>(3)?.map(to_u64),
                })
            })
            .collect()
    }

    fn seal(&self) -> anyhow::Result<&KeySeal> {
        self.inner.seal.as_ref().context(
            "server keys in PostgreSQL are sealed under the storage key: give SCV2_STORAGE_KEY \
             or --storage-key-file",
        )
    }

    async fn rate_on(
        &self,
        c: &Object,
        keys: &[RateKey],
        now_ms: u64,
        count: bool,
        in_tx: bool,
    ) -> anyhow::Result<Result<(), u64>> {
        let tbl: Vec<i16> = keys.iter().map(|k| k.table as i16).collect();
        let key: Vec<&[u8]> = keys.iter().map(|k| &k.key[..]).collect();
        let limit: Vec<i32> = keys
            .iter()
            .map(|k| i32::try_from(k.spec.limit).unwrap_or(i32::MAX))
            .collect();
        let window: Vec<i64> = keys.iter().map(|k| to_i64(k.spec.window_ms)).collect();
        let rows = self
            .query_tx(
                c,
                "SELECT scv2_rate($1::smallint[], $2::bytea[], $3::integer[], $4::bigint[], \
                 $5::bigint, $6::boolean)",
                &[&tbl, &key, &limit, &window, &to_i64(now_ms), &count],
            )
            .await?;
        if !in_tx {
            self.count(0, 1);
        }
        let wait: i64 = rows.first().context("scv2_rate: no row")?.try_get(0)?;
        Ok(if wait > 0 {
            Err(to_u64(wait).div_ceil(1000).max(1))
        } else {
            Ok(())
        })
    }

    /// Run `sql` (a `DELETE … LIMIT $2` of at most `batch` rows) in transactions that hold the
    /// sweep lock, until fewer than `batch` rows go or `max_batches` ran. `None`: another
    /// gateway holds the lock.
    async fn sweep_kind(
        &self,
        sql: &'static str,
        before_ms: u64,
        batch: usize,
        max_batches: usize,
    ) -> anyhow::Result<Option<usize>> {
        let mut total = 0;
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        for _ in 0..max_batches {
            let n = on_conn!(self, "sweeping", |c| {
                self.begin_tx(&c).await?;
                let got = self
                    .query_tx(&c, "SELECT pg_try_advisory_xact_lock($1)", &[&LOCK_SWEEP])
                    .await?;
                let locked: bool = got.first().context("no row")?.try_get(0)?;
                if !locked {
                    self.commit_tx(&c).await?;
                    return Ok(None);
                }
                let n = self
                    .execute_tx(&c, sql, &[&to_i64(before_ms), &limit])
                    .await?;
                self.commit_tx(&c).await?;
                Ok(Some(n as usize))
            })?;
            match n {
                None => return Ok(None),
                Some(n) => {
                    total += n;
                    if n < batch {
                        break;
                    }
                }
            }
        }
        Ok(Some(total))
    }
}

#[async_trait]
impl RateStore for PgStore {
    async fn hit(&self, keys: &[RateKey], now_ms: u64) -> StoreResult<Result<(), u64>> {
        let keys = keys.to_vec();
        on_conn!(self, "counting rate limits", |c| self
            .rate_on(&c, &keys, now_ms, true, false)
            .await)
    }

    async fn check(&self, key: &RateKey, now_ms: u64) -> StoreResult<Result<(), u64>> {
        let key = *key;
        on_conn!(self, "checking a rate limit", |c| self
            .rate_on(&c, &[key], now_ms, false, false)
            .await)
    }
}

/// A claimed registration: its row is locked by the request transaction.
struct PgClaim {
    token: TokenHash,
    email: String,
    name: String,
    user_id: i64,
}

/// The request transaction: a connection in `BEGIN … COMMIT` holding the session row.
struct PgTx {
    store: PgStore,
    conn: Option<Object>,
    _slot: OwnedSemaphorePermit,
    session_id: String,
    claim: Option<PgClaim>,
}

impl Drop for PgTx {
    fn drop(&mut self) {
        // Not committed or finished: close the connection (the server rolls the transaction
        // back) rather than return it to the pool inside a transaction.
        if let Some(c) = self.conn.take() {
            drop(Object::take(c));
        }
    }
}

impl PgTx {
    fn conn(&self) -> anyhow::Result<&Object> {
        self.conn
            .as_ref()
            .ok_or_else(|| anyhow!("the request transaction is closed"))
    }

    /// Run a step of the transaction within the deadline; on failure the transaction is over
    /// (its connection is closed when this is dropped).
    async fn step<'a, T>(
        &'a self,
        what: &str,
        f: impl std::future::Future<Output = anyhow::Result<T>> + Send + 'a,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(self.store.inner.timeout, f).await {
            Ok(r) => r.with_context(|| what.to_owned()),
            Err(_) => Err(timed_out(what)),
        }
    }

    /// End the transaction with `COMMIT` and give the connection back.
    async fn end(mut self: Box<Self>) -> anyhow::Result<()> {
        let c = self.conn()?;
        let store = self.store.clone();
        self.step("committing", store.commit_tx(c)).await?;
        drop(self.conn.take());
        Ok(())
    }
}

#[async_trait]
impl SessionTx for PgTx {
    async fn cached_answers(&mut self) -> StoreResult<Vec<CachedAnswer>> {
        let c = self.conn()?;
        let rows = self
            .step(
                "reading the answer cache",
                self.store
                    .query_tx(c, ANSWERS_OF_SESSION, &[&self.session_id]),
            )
            .await?;
        answer_rows(rows)
    }

    async fn claim_registration(
        &mut self,
        token: TokenHash,
        now_ms: u64,
        _lease_ms: u64,
    ) -> StoreResult<Claim> {
        let c = self.conn()?;
        let hash = &token.as_bytes()[..];
        let rows = self
            .step(
                "claiming a registration",
                self.store.query_tx(
                    c,
                    "WITH c AS (SELECT email, name, expires_at_ms FROM registrations \
                     WHERE token_hash = $1 AND used_at_ms IS NULL AND expires_at_ms > $2 \
                     FOR UPDATE SKIP LOCKED) \
                     SELECT c.email, c.name, c.expires_at_ms, \
                     CASE WHEN c.email IS NOT NULL THEN nextval('users_id_seq') END, \
                     EXISTS (SELECT 1 FROM registrations WHERE token_hash = $1) \
                     FROM (SELECT 1) AS one LEFT JOIN c ON true",
                    &[&hash, &to_i64(now_ms)],
                ),
            )
            .await?;
        let r = rows.first().context("claim: no row")?;
        let email: Option<String> = r.try_get(0)?;
        let exists: bool = r.try_get(4)?;
        match email {
            Some(email) => {
                let name: String = r.try_get(1)?;
                let expires: i64 = r.try_get(2)?;
                let user_id: i64 = r.try_get(3)?;
                self.claim = Some(PgClaim {
                    token,
                    email: email.clone(),
                    name: name.clone(),
                    user_id,
                });
                Ok(Claim::Claimed(Registration {
                    email,
                    name,
                    expires_at_ms: to_u64(expires),
                }))
            }
            None if exists => Ok(Claim::Unavailable),
            None => Ok(Claim::Unknown),
        }
    }

    async fn release_claim(&mut self) -> StoreResult<()> {
        // The row lock is the claim: it ends with the transaction, which commits only the
        // window and the answer.
        self.claim = None;
        Ok(())
    }

    async fn rate(
        &mut self,
        keys: &[RateKey],
        now_ms: u64,
        count: bool,
    ) -> StoreResult<Option<Result<(), u64>>> {
        let c = self.conn()?;
        let r = self
            .step(
                "rate limit",
                self.store.rate_on(c, keys, now_ms, count, true),
            )
            .await?;
        Ok(Some(r))
    }

    async fn commit(mut self: Box<Self>, commit: Commit) -> Result<Committed, CommitError> {
        // Generations only grow, and the row's column is the blob's own (checked before anything
        // is sealed: an answer is sealed only for a commit that can happen).
        if let Some(u) = &commit.update {
            if u.generation <= commit.expected_generation
                || scv2::export_generation(&u.sealed).ok() != Some(u.generation)
            {
                return Err(CommitError::Conflict);
            }
        }
        let outcome = match &commit.effect {
            Effect::None => EffectOutcome::None,
            Effect::EndSession => EffectOutcome::SessionEnded,
            Effect::CompleteRegistration { token, now_ms, .. } => match &self.claim {
                Some(cl) if cl.token == *token => EffectOutcome::UserCreated(User {
                    biz_id: format!("ACC_USR_{:08}", cl.user_id),
                    email: cl.email.clone(),
                    name: cl.name.clone(),
                    status: USER_STATUS_ACTIVE,
                    created_at_ms: *now_ms,
                }),
                _ => EffectOutcome::RegistrationGone,
            },
        };
        let answer = (commit.seal)(&outcome).map_err(CommitError::Seal)?;
        let end = matches!(commit.effect, Effect::EndSession);
        let (token, now, user_id, biz_id, password_hash): (
            Option<Vec<u8>>,
            i64,
            Option<i64>,
            Option<String>,
            Option<String>,
        ) = match (&commit.effect, &outcome) {
            (
                Effect::CompleteRegistration {
                    token,
                    password_hash,
                    now_ms,
                },
                EffectOutcome::UserCreated(u),
            ) => (
                Some(token.as_bytes().to_vec()),
                to_i64(*now_ms),
                self.claim.as_ref().map(|c| c.user_id),
                Some(u.biz_id.clone()),
                Some(password_hash.clone()),
            ),
            _ => (None, 0, None, None, None),
        };
        let (sealed, generation, last_used) = match &commit.update {
            Some(u) => (
                Some(u.sealed.clone()),
                to_i64(u.generation),
                to_i64(u.last_used_ms),
            ),
            None => (None, to_i64(commit.expected_generation), 0),
        };
        let status = i16::try_from(answer.status).unwrap_or(500);
        let cache = commit.cache_answer && !end;
        let expected = to_i64(commit.expected_generation);
        let store = self.store.clone();
        let c = self.conn().map_err(CommitError::Db)?;
        let sid = self.session_id.clone();
        let r: anyhow::Result<()> = self
            .step("committing the request", async {
                let st = store
                    .prepare(
                        c,
                        "SELECT scv2_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
                         $13, $14, $15, $16, $17, $18)",
                    )
                    .await?;
                let params: [&(dyn ToSql + Sync); 18] = [
                    &sid,
                    &expected,
                    &sealed,
                    &generation,
                    &last_used,
                    &end,
                    &cache,
                    &&answer.digest[..],
                    &status,
                    &answer.code,
                    &answer.envelope,
                    &token,
                    &now,
                    &user_id,
                    &biz_id,
                    &password_hash,
                    &USER_STATUS_ACTIVE,
                    &answer.headers,
                ];
                // The commit call and COMMIT in one round trip: if the call raises, the
                // server turns the COMMIT into a rollback.
                let (called, committed) =
                    tokio::join!(c.query(&st, &params), c.batch_execute("COMMIT"));
                store.count(1, 1);
                called.map_err(pg_err)?;
                committed.map_err(pg_err)?;
                Ok(())
            })
            .await;
        match r {
            Ok(()) => {
                drop(self.conn.take());
                Ok(Committed { answer, outcome })
            }
            Err(e) => {
                let code = e
                    .chain()
                    .find_map(|c| c.downcast_ref::<tokio_postgres::Error>())
                    .and_then(|p| p.code().map(|c| c.code().to_owned()));
                // `self` is dropped: the connection is closed, the transaction rolled back.
                match code.as_deref() {
                    Some("SC001") => Err(CommitError::Conflict),
                    _ => Err(CommitError::Db(e)),
                }
            }
        }
    }

    async fn finish(self: Box<Self>) -> StoreResult<()> {
        self.end().await
    }
}

#[async_trait]
impl Store for PgStore {
    fn describe(&self) -> String {
        self.inner.describe.clone()
    }

    fn exclusive(&self) -> bool {
        false
    }

    fn shared_rates(&self) -> Option<Arc<dyn RateStore>> {
        Some(Arc::new(self.clone()))
    }

    async fn ready(&self) -> StoreResult<()> {
        let v = self.schema_version().await?;
        if v != SCHEMA_VERSION {
            bail!("schema version {v}, expected {SCHEMA_VERSION}");
        }
        Ok(())
    }

    fn stats(&self) -> StoreStats {
        StoreStats {
            round_trips: self.inner.round_trips.load(Ordering::Relaxed),
            transactions: self.inner.transactions.load(Ordering::Relaxed),
        }
    }

    async fn server_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let seal = self.seal()?;
        let rows = on_conn!(self, "reading server keys", |c| {
            self.query(
                &c,
                "SELECT key_id, sealed_private, created_at_ms, expires_at_ms, suite \
                         FROM server_keys ORDER BY created_at_ms, key_id",
                &[],
            )
            .await
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let key_id: String = r.try_get(0)?;
            let blob: Vec<u8> = r.try_get(1)?;
            let name: String = r.try_get(4)?;
            let Some(suite) = scv2::Suite::from_name(&name) else {
                bail!("server key {key_id}: unknown suite {name:?} (use a newer scv2)");
            };
            out.push(StoredKey {
                private: seal.open(&key_id, suite, &blob)?,
                suite,
                key_id,
                created_at_ms: to_u64(r.try_get(2)?),
                expires_at_ms: r.try_get::<_, Option<i64>>(3)?.map(to_u64),
            });
        }
        Ok(out)
    }

    async fn insert_server_key(&self, key: StoredKey) -> StoreResult<()> {
        let blob = self.seal()?.seal(&key.key_id, key.suite, &key.private)?;
        on_conn!(self, "storing a server key", |c| {
            self.execute(
                &c,
                "INSERT INTO server_keys (key_id, sealed_private, created_at_ms, \
                     expires_at_ms, suite) VALUES ($1, $2, $3, $4, $5)",
                &[
                    &key.key_id,
                    &blob,
                    &to_i64(key.created_at_ms),
                    &key.expires_at_ms.map(to_i64),
                    &key.suite.name(),
                ],
            )
            .await
            .map(|_| ())
        })
    }

    async fn insert_first_server_key(&self, key: StoredKey, now_ms: u64) -> StoreResult<bool> {
        let blob = self.seal()?.seal(&key.key_id, key.suite, &key.private)?;
        on_conn!(self, "storing the first server key", |c| {
            self.begin_tx(&c).await?;
            self.execute_tx(&c, "SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEYS])
                .await?;
            let live = self
                .query_tx(
                    &c,
                    "SELECT EXISTS (SELECT 1 FROM server_keys WHERE expires_at_ms IS NULL \
                         OR expires_at_ms > $1)",
                    &[&to_i64(now_ms)],
                )
                .await?;
            let live: bool = live.first().context("no row")?.try_get(0)?;
            if !live {
                self.execute_tx(
                    &c,
                    "INSERT INTO server_keys (key_id, sealed_private, created_at_ms, \
                         expires_at_ms, suite) VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &key.key_id,
                        &blob,
                        &to_i64(key.created_at_ms),
                        &key.expires_at_ms.map(to_i64),
                        &key.suite.name(),
                    ],
                )
                .await?;
            }
            self.commit_tx(&c).await?;
            Ok(!live)
        })
    }

    async fn expire_server_key(&self, key_id: &str, expires_at_ms: u64) -> StoreResult<bool> {
        let key_id = key_id.to_owned();
        on_conn!(self, "retiring a server key", |c| {
            Ok(self
                .execute(
                    &c,
                    "UPDATE server_keys SET expires_at_ms = $2 WHERE key_id = $1",
                    &[&key_id, &to_i64(expires_at_ms)],
                )
                .await?
                == 1)
        })
    }

    async fn stored_storage_key(&self) -> StoreResult<Option<Zeroizing<[u8; 32]>>> {
        Ok(None)
    }

    async fn create_storage_key(&self, _key: Zeroizing<[u8; 32]>) -> StoreResult<()> {
        bail!(
            "the storage key never goes into a shared database: give SCV2_STORAGE_KEY or \
             --storage-key-file"
        )
    }

    async fn adopt_external_storage_key(&self, _reseal: Reseal) -> StoreResult<Resealed> {
        Ok(Resealed::default())
    }

    async fn load_sessions(&self, now_ms: u64, max: usize) -> StoreResult<Vec<SessionRecord>> {
        let rows = on_conn!(self, "loading sessions", |c| {
            self.query(
                &c,
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sc_sessions WHERE expires_at_ms > $1 \
                             ORDER BY last_used_ms DESC LIMIT $2"
                ),
                &[&to_i64(now_ms), &i64::try_from(max).unwrap_or(i64::MAX)],
            )
            .await
        })?;
        rows.iter().map(session_row).collect()
    }

    async fn load_session(
        &self,
        session_id: &str,
        now_ms: u64,
    ) -> StoreResult<Option<SessionRecord>> {
        let sid = session_id.to_owned();
        let rows = on_conn!(self, "loading a session", |c| {
            self.query(
                &c,
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sc_sessions \
                             WHERE session_id = $1 AND expires_at_ms > $2"
                ),
                &[&sid, &to_i64(now_ms)],
            )
            .await
        })?;
        rows.first().map(session_row).transpose()
    }

    async fn create_session(
        &self,
        r: SessionRecord,
        _evicted: Vec<String>,
        max_per_group: usize,
    ) -> StoreResult<()> {
        let keep = i64::try_from(max_per_group.max(1) - 1).unwrap_or(i64::MAX);
        on_conn!(self, "storing a new session", |c| {
            // The group's oldest beyond the cap go in the same statement (a session with a
            // request in flight is skipped; the next creation takes it).
            self.execute(
                &c,
                "WITH gone AS (DELETE FROM sc_sessions WHERE session_id IN (\
                     SELECT session_id FROM sc_sessions WHERE client_group = $5 \
                     ORDER BY created_seq DESC OFFSET $7 \
                     FOR UPDATE SKIP LOCKED) RETURNING 1) \
                     INSERT INTO sc_sessions (session_id, sealed, generation, expires_at_ms, \
                     client_group, created_at_ms, last_used_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6)",
                &[
                    &r.session_id,
                    &r.sealed,
                    &to_i64(r.generation),
                    &to_i64(r.expires_at_ms),
                    &r.client_group,
                    &to_i64(r.last_used_ms),
                    &keep,
                ],
            )
            .await
            .map(|_| ())
        })
    }

    async fn delete_sessions(&self, session_ids: Vec<String>) -> StoreResult<()> {
        if session_ids.is_empty() {
            return Ok(());
        }
        on_conn!(self, "deleting sessions", |c| {
            self.execute(
                &c,
                "DELETE FROM sc_sessions WHERE session_id = ANY($1)",
                &[&session_ids],
            )
            .await
            .map(|_| ())
        })
    }

    async fn begin(
        &self,
        session_id: &str,
        known_generation: Option<u64>,
        now_ms: u64,
    ) -> StoreResult<Option<Locked>> {
        let slot = match tokio::time::timeout(
            self.inner.queue_timeout,
            self.inner.tx_slots.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(_)) => bail!("the store is closing"),
            Err(_) => return Err(timed_out("waiting for a request transaction slot")),
        };
        let conn = self.conn().await?;
        let tx = Box::new(PgTx {
            store: self.clone(),
            conn: Some(conn),
            _slot: slot,
            session_id: session_id.to_owned(),
            claim: None,
        });
        let known = known_generation.map(to_i64);
        let now = to_i64(now_ms);
        let row = {
            let c = tx.conn()?;
            let store = self.clone();
            let sid = session_id.to_owned();
            tx.step("locking the session", async move {
                let st = store
                    .prepare(
                        c,
                        "SELECT generation, CASE WHEN generation IS DISTINCT FROM $2 \
                         THEN sealed END FROM sc_sessions \
                         WHERE session_id = $1 AND expires_at_ms > $3 FOR UPDATE",
                    )
                    .await?;
                // BEGIN and the locking read in one round trip.
                let params: [&(dyn ToSql + Sync); 3] = [&sid, &known, &now];
                let (begun, row) =
                    tokio::join!(c.batch_execute("BEGIN"), c.query_opt(&st, &params));
                store.count(1, 0);
                begun.map_err(pg_err)?;
                row.map_err(pg_err)
            })
            .await?
        };
        let Some(row) = row else {
            tx.end().await?;
            return Ok(None);
        };
        let generation: i64 = row.try_get(0)?;
        let sealed: Option<Vec<u8>> = row.try_get(1)?;
        Ok(Some(Locked {
            generation: to_u64(generation),
            sealed,
            tx,
        }))
    }

    async fn cached_answers(&self, session_id: &str) -> StoreResult<Vec<CachedAnswer>> {
        let sid = session_id.to_owned();
        let rows = on_conn!(self, "reading the answer cache", |c| {
            self.query(&c, ANSWERS_OF_SESSION, &[&sid]).await
        })?;
        answer_rows(rows)
    }

    async fn sweep(
        &self,
        now_ms: u64,
        batch: usize,
        max_batches: usize,
    ) -> StoreResult<StoreSwept> {
        let mut out = StoreSwept::default();
        let kinds: [(&'static str, u64); 3] = [
            (
                "DELETE FROM sc_sessions WHERE session_id IN (SELECT session_id FROM \
                 sc_sessions WHERE expires_at_ms <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                now_ms,
            ),
            (
                "DELETE FROM registrations WHERE token_hash IN (SELECT token_hash FROM \
                 registrations WHERE used_at_ms <= $1 OR expires_at_ms <= $1 LIMIT $2 \
                 FOR UPDATE SKIP LOCKED)",
                now_ms.saturating_sub(REGISTRATION_RETENTION_MS),
            ),
            (
                "DELETE FROM rate_limits WHERE (tbl, key) IN (SELECT tbl, key FROM \
                 rate_limits WHERE expires_at_ms <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                now_ms,
            ),
        ];
        for (i, (sql, before)) in kinds.into_iter().enumerate() {
            match self.sweep_kind(sql, before, batch, max_batches).await? {
                None => {
                    out.skipped = true;
                    return Ok(out);
                }
                Some(n) => match i {
                    0 => out.sessions = n,
                    1 => out.registrations = n,
                    _ => out.rate_entries = n,
                },
            }
        }
        Ok(out)
    }

    async fn add_registration(
        &self,
        token: TokenHash,
        email: &str,
        name: &str,
        now_ms: u64,
        ttl_ms: u64,
    ) -> StoreResult<Registration> {
        let (email_s, name_s) = (email.to_owned(), name.to_owned());
        let expires_at_ms = now_ms.saturating_add(ttl_ms);
        let n = on_conn!(self, "adding a registration", |c| {
            self.execute(
                &c,
                "INSERT INTO registrations (token_hash, email, name, created_at_ms, \
                         expires_at_ms) SELECT $1, $2, $3, $4, $5 \
                         WHERE NOT EXISTS (SELECT 1 FROM users WHERE email = $2) \
                         AND NOT EXISTS (SELECT 1 FROM registrations WHERE email = $2 \
                         AND used_at_ms IS NULL AND expires_at_ms > $4)",
                &[
                    &&token.as_bytes()[..],
                    &email_s,
                    &name_s,
                    &to_i64(now_ms),
                    &to_i64(expires_at_ms),
                ],
            )
            .await
        })?;
        if n != 1 {
            bail!("{email} already has an account or a pending registration");
        }
        Ok(Registration {
            email: email.to_owned(),
            name: name.to_owned(),
            expires_at_ms,
        })
    }

    async fn release_all_claims(&self) -> StoreResult<usize> {
        // Claims are row locks of live transactions: a dead gateway's ended with its
        // connection.
        Ok(0)
    }

    async fn password_hash(&self, email: &str) -> StoreResult<Option<String>> {
        let email = email.to_owned();
        let rows = on_conn!(self, "reading a password hash", |c| {
            self.query(
                &c,
                "SELECT password_hash FROM users WHERE email = $1 ORDER BY id LIMIT 1",
                &[&email],
            )
            .await
        })?;
        Ok(rows.first().map(|r| r.try_get(0)).transpose()?)
    }

    async fn user_count(&self) -> StoreResult<u64> {
        let rows = on_conn!(self, "counting users", |c| self
            .query(&c, "SELECT count(*) FROM users", &[])
            .await)?;
        let n: i64 = rows.first().context("no row")?.try_get(0)?;
        Ok(to_u64(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ANSWER_CACHE;

    #[test]
    fn urls_and_the_answer_slots() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("PostgreSQL://u@h:5/db"));
        assert!(!is_postgres_url("/var/lib/scv2.sqlite"));
        assert!(!is_postgres_url("postgres.sqlite"));
        // The commit function (as every migration that defines it) keeps ANSWER_CACHE answers
        // per session.
        for (_, _, sql) in MIGRATIONS
            .iter()
            .filter(|m| m.2.contains("CREATE FUNCTION scv2_commit"))
        {
            assert!(sql.contains(&format!("(p_generation % {ANSWER_CACHE})")));
        }
        // The commit function in force (the last migration defining it) stores the headers.
        let commit = MIGRATIONS
            .iter()
            .rev()
            .find(|m| m.2.contains("CREATE FUNCTION scv2_commit"))
            .map(|m| m.2);
        assert!(commit.is_some_and(|sql| sql.contains("p_headers bytea")));
        assert_eq!(MIGRATIONS.last().map(|m| m.0), Some(SCHEMA_VERSION));
    }
}
