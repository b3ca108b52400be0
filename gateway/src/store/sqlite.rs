//! The SQLite [`Store`]: one file owned by one process (see [`crate::files::DbLock`]).
//!
//! One connection behind a mutex (SQLite serializes writers anyway); the async trait methods run
//! the blocking calls on tokio's blocking pool. WAL journal, `synchronous=FULL`: a committed
//! transaction survives a crash of the process or the machine. The file is created 0600 (SQLite
//! gives `-wal` and `-shm` the database's mode) and refused when group/other-readable or owned by
//! another user. The schema is versioned (`PRAGMA user_version`) and migrated at open.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{anyhow, bail, Context};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use zeroize::Zeroizing;

use super::{
    stored_suite, CachedAnswer, Claim, Commit, CommitError, Committed, Effect, EffectOutcome,
    Locked, Registration, Reseal, Resealed, SessionRecord, SessionTx, Store, StoreResult,
    StoreSwept, StoredKey, TokenHash, User, ANSWER_CACHE, REGISTRATION_RETENTION_MS,
    USER_STATUS_ACTIVE,
};
use crate::files;

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = 3;

/// The SQLite database handle (cheap to clone).
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteStore({})", self.path.display())
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS server_keys (
    key_id TEXT PRIMARY KEY,
    private_key BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER
);
CREATE TABLE IF NOT EXISTS sc_sessions (
    session_id TEXT PRIMARY KEY,
    sealed BLOB NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    client_group TEXT NOT NULL DEFAULT '',
    last_used_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sc_sessions_expiry ON sc_sessions (expires_at_ms);
CREATE TABLE IF NOT EXISTS sc_answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sc_sessions (session_id) ON DELETE CASCADE,
    digest BLOB NOT NULL,
    status INTEGER NOT NULL,
    code TEXT NOT NULL,
    envelope BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sc_answers_session ON sc_answers (session_id, id);
CREATE TABLE IF NOT EXISTS registrations (
    token_hash BLOB PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    used_at_ms INTEGER,
    claim_id INTEGER,
    claimed_until_ms INTEGER
);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    biz_id TEXT UNIQUE,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    status INTEGER NOT NULL,
    password_hash TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
";

fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    let mut st = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names = st.query_map([table], |r| r.get::<_, String>(0))?;
    for n in names {
        if n? == column {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A version-0 registration row: token, email, name, created, expires, used.
type RegistrationV0 = (Zeroizing<String>, String, String, i64, i64, Option<i64>);

/// Version 0 (the first gateway): plaintext tokens, sessions without generation or group.
fn migrate_from_v0(tx: &Transaction<'_>) -> anyhow::Result<()> {
    if has_column(tx, "registrations", "token")? {
        tx.execute_batch("ALTER TABLE registrations RENAME TO registrations_v0")?;
        tx.execute_batch(SCHEMA_V1)?;
        let rows: Vec<RegistrationV0> = {
            let mut st = tx.prepare(
                "SELECT token, email, name, created_at_ms, expires_at_ms, used_at_ms \
                 FROM registrations_v0",
            )?;
            let it = st.query_map([], |r| {
                Ok((
                    Zeroizing::new(r.get::<_, String>(0)?),
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?;
            it.collect::<Result<_, _>>()?
        };
        for (token, email, name, created, expires, used) in rows {
            tx.execute(
                "INSERT INTO registrations (token_hash, email, name, created_at_ms, \
                 expires_at_ms, used_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    &TokenHash::of(&token).as_bytes()[..],
                    email,
                    name,
                    created,
                    expires,
                    used
                ],
            )?;
        }
        tx.execute_batch("DROP TABLE registrations_v0")?;
    }
    if !has_column(tx, "sc_sessions", "generation")? {
        tx.execute_batch(
            "ALTER TABLE sc_sessions ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE sc_sessions ADD COLUMN client_group TEXT NOT NULL DEFAULT '';
             ALTER TABLE sc_sessions ADD COLUMN last_used_ms INTEGER NOT NULL DEFAULT 0;",
        )?;
        let blobs: Vec<(String, Vec<u8>)> = {
            let mut st = tx.prepare("SELECT session_id, sealed FROM sc_sessions")?;
            let it = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            it.collect::<Result<_, _>>()?
        };
        for (sid, blob) in blobs {
            let generation = scv2::export_generation(&blob).unwrap_or(0);
            tx.execute(
                "UPDATE sc_sessions SET generation = ?2 WHERE session_id = ?1",
                params![sid, to_i64(generation)],
            )?;
        }
    }
    tx.execute_batch(SCHEMA_V1)?;
    Ok(())
}

/// Version 2: the sealed response headers of a cached answer (proxy mode).
fn migrate_to_v2(tx: &Transaction<'_>) -> anyhow::Result<()> {
    if !has_column(tx, "sc_answers", "headers")? {
        tx.execute_batch("ALTER TABLE sc_answers ADD COLUMN headers BLOB NOT NULL DEFAULT x''")?;
    }
    Ok(())
}

/// Version 3: the suite of each server key, by the document's `algorithm` name (every key of
/// version 2 is an X25519 key); the private key is the suite's form (32 or 96 bytes).
fn migrate_to_v3(tx: &Transaction<'_>) -> anyhow::Result<()> {
    if !has_column(tx, "server_keys", "suite")? {
        tx.execute(
            &format!(
                "ALTER TABLE server_keys ADD COLUMN suite TEXT NOT NULL DEFAULT '{}'",
                scv2::Suite::X25519.name()
            ),
            [],
        )?;
    }
    Ok(())
}

impl SqliteStore {
    /// Open (or create, mode 0600) the database at `path`, checking the modes and owners of the
    /// file and its `-wal`/`-shm`, and migrate its schema.
    pub fn open(path: &Path) -> anyhow::Result<SqliteStore> {
        files::check_private(path, "database")?;
        for c in files::sqlite_companions(path) {
            files::check_private(&c, "database file")?;
        }
        files::create_private(path)?;
        let conn = Connection::open(path)
            .with_context(|| format!("opening database {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Deleted rows (used tokens, closed sessions, a replaced storage key) are zeroed on disk.
        conn.pragma_update(None, "secure_delete", "ON")?;
        // The companions exist now (WAL mode): they must have come out private too.
        for c in files::sqlite_companions(path) {
            files::check_private(&c, "database file")?;
        }
        let mut store = SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> anyhow::Result<()> {
        let mut conn = self.lock()?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            bail!(
                "database {} has schema version {version}; this scv2 knows up to {SCHEMA_VERSION} \
                 (use a newer scv2)",
                self.path.display()
            );
        }
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        let tx = conn.transaction()?;
        let has_tables: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE name = 'registrations')",
            [],
            |r| r.get(0),
        )?;
        if has_tables {
            migrate_from_v0(&tx)?;
        } else {
            tx.execute_batch(SCHEMA_V1)?;
        }
        migrate_to_v2(&tx)?;
        migrate_to_v3(&tx)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> anyhow::Result<MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| anyhow!("database lock poisoned"))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&SqliteStore) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me))
            .await
            .map_err(|e| anyhow!("database task: {e}"))
    }

    /// Every stored server key.
    pub fn server_keys_sync(&self) -> anyhow::Result<Vec<StoredKey>> {
        let conn = self.lock()?;
        let mut st = conn.prepare(
            "SELECT key_id, private_key, created_at_ms, expires_at_ms, suite FROM server_keys \
             ORDER BY created_at_ms, key_id",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Zeroizing::new(r.get::<_, Vec<u8>>(1)?),
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (key_id, private, created, expires, suite) = row?;
            let suite = stored_suite(&key_id, &suite, private.len())?;
            out.push(StoredKey {
                key_id,
                suite,
                private,
                created_at_ms: to_u64(created),
                expires_at_ms: expires.map(to_u64),
            });
        }
        Ok(out)
    }

    fn meta_secret(&self, name: &str) -> anyhow::Result<Option<Zeroizing<[u8; 32]>>> {
        let conn = self.lock()?;
        let v: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(v) = v.map(Zeroizing::new) else {
            return Ok(None);
        };
        if v.len() != 32 {
            bail!("meta secret {name} has a wrong length");
        }
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&v);
        Ok(Some(out))
    }

    /// Create a pending registration for `token` (stored as its SHA-256 only).
    pub fn add_registration_sync(
        &self,
        token: &TokenHash,
        email: &str,
        name: &str,
        now_ms: u64,
        ttl_ms: u64,
    ) -> anyhow::Result<Registration> {
        let conn = self.lock()?;
        let taken: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM users WHERE email = ?1) OR EXISTS(SELECT 1 FROM \
             registrations WHERE email = ?1 AND used_at_ms IS NULL AND expires_at_ms > ?2)",
            params![email, to_i64(now_ms)],
            |r| r.get(0),
        )?;
        if taken {
            bail!("{email} already has an account or a pending registration");
        }
        let expires_at_ms = now_ms.saturating_add(ttl_ms);
        conn.execute(
            "INSERT INTO registrations (token_hash, email, name, created_at_ms, expires_at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                &token.as_bytes()[..],
                email,
                name,
                to_i64(now_ms),
                to_i64(expires_at_ms)
            ],
        )?;
        Ok(Registration {
            email: email.to_owned(),
            name: name.to_owned(),
            expires_at_ms,
        })
    }

    /// Create many pending registrations in one transaction (load generators).
    pub fn add_registrations_bulk(
        &self,
        regs: &[(TokenHash, String, String)],
        now_ms: u64,
        ttl_ms: u64,
    ) -> anyhow::Result<()> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        {
            let mut st = tx.prepare(
                "INSERT INTO registrations (token_hash, email, name, created_at_ms, \
                 expires_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (t, email, name) in regs {
                st.execute(params![
                    &t.as_bytes()[..],
                    email,
                    name,
                    to_i64(now_ms),
                    to_i64(now_ms.saturating_add(ttl_ms))
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn release_claim_sync(
        conn: &Connection,
        token: &TokenHash,
        claim: u64,
    ) -> rusqlite::Result<()> {
        conn.execute(
            "UPDATE registrations SET claim_id = NULL, claimed_until_ms = NULL \
             WHERE token_hash = ?1 AND claim_id = ?2",
            params![&token.as_bytes()[..], claim as i64],
        )?;
        Ok(())
    }

    fn commit_sync(
        &self,
        c: Commit,
        claim: Option<(TokenHash, u64)>,
    ) -> Result<Committed, CommitError> {
        let mut conn = self.lock().map_err(CommitError::Db)?;
        let result = Self::commit_tx(&mut conn, c, claim);
        if result.is_err() {
            if let Some((token, claim)) = claim {
                if let Err(e) = Self::release_claim_sync(&conn, &token, claim) {
                    tracing::warn!(error = %e, "releasing a registration claim failed (its lease ends it)");
                }
            }
        }
        result
    }

    fn commit_tx(
        conn: &mut Connection,
        c: Commit,
        claim: Option<(TokenHash, u64)>,
    ) -> Result<Committed, CommitError> {
        let db = |e: rusqlite::Error| CommitError::Db(e.into());
        let tx = conn.transaction().map_err(db)?;
        let stored: Option<i64> = tx
            .query_row(
                "SELECT generation FROM sc_sessions WHERE session_id = ?1",
                [&c.session_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        match stored {
            None => return Err(CommitError::Gone),
            Some(g) if to_u64(g) != c.expected_generation => return Err(CommitError::Conflict),
            Some(_) => {}
        }
        let outcome = match &c.effect {
            Effect::None => EffectOutcome::None,
            Effect::EndSession => EffectOutcome::SessionEnded,
            Effect::CompleteRegistration {
                token,
                password_hash,
                now_ms,
            } => {
                let claim = match claim {
                    Some((t, id)) if t == *token => id,
                    _ => return Err(CommitError::Db(anyhow!("no claim for this registration"))),
                };
                let reg = tx
                    .query_row(
                        "UPDATE registrations SET used_at_ms = ?3, claim_id = NULL, \
                         claimed_until_ms = NULL \
                         WHERE token_hash = ?1 AND claim_id = ?2 AND used_at_ms IS NULL \
                         RETURNING email, name",
                        params![&token.as_bytes()[..], claim as i64, to_i64(*now_ms)],
                        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                    )
                    .optional()
                    .map_err(db)?;
                match reg {
                    None => EffectOutcome::RegistrationGone,
                    Some((email, name)) => {
                        tx.execute(
                            "INSERT INTO users (email, name, status, password_hash, \
                             created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                            params![
                                email,
                                name,
                                USER_STATUS_ACTIVE,
                                password_hash,
                                to_i64(*now_ms)
                            ],
                        )
                        .map_err(db)?;
                        let id = tx.last_insert_rowid();
                        let biz_id = format!("ACC_USR_{id:08}");
                        tx.execute(
                            "UPDATE users SET biz_id = ?1 WHERE id = ?2",
                            params![biz_id, id],
                        )
                        .map_err(db)?;
                        EffectOutcome::UserCreated(User {
                            biz_id,
                            email,
                            name,
                            status: USER_STATUS_ACTIVE,
                            created_at_ms: *now_ms,
                        })
                    }
                }
            }
        };
        if let Some(u) = &c.update {
            // Generations only grow, and the row's column is the blob's own (checked before the
            // answer is sealed: an answer is sealed only for a commit that can happen).
            if u.generation <= c.expected_generation
                || scv2::export_generation(&u.sealed).ok() != Some(u.generation)
            {
                return Err(CommitError::Conflict);
            }
        }
        let answer = (c.seal)(&outcome).map_err(CommitError::Seal)?;
        if matches!(c.effect, Effect::EndSession) {
            tx.execute(
                "DELETE FROM sc_sessions WHERE session_id = ?1",
                [&c.session_id],
            )
            .map_err(db)?;
        } else {
            if let Some(u) = &c.update {
                let n = tx
                    .execute(
                        "UPDATE sc_sessions SET sealed = ?2, generation = ?3, last_used_ms = ?4 \
                         WHERE session_id = ?1 AND generation = ?5",
                        params![
                            c.session_id,
                            u.sealed,
                            to_i64(u.generation),
                            to_i64(u.last_used_ms),
                            to_i64(c.expected_generation)
                        ],
                    )
                    .map_err(db)?;
                if n != 1 {
                    return Err(CommitError::Conflict);
                }
            }
            if c.cache_answer {
                tx.execute(
                    "INSERT INTO sc_answers (session_id, digest, status, code, envelope, \
                     headers) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        c.session_id,
                        &answer.digest[..],
                        i64::from(answer.status),
                        answer.code,
                        answer.envelope,
                        answer.headers
                    ],
                )
                .map_err(db)?;
                tx.execute(
                    "DELETE FROM sc_answers WHERE session_id = ?1 AND id NOT IN \
                     (SELECT id FROM sc_answers WHERE session_id = ?1 ORDER BY id DESC LIMIT ?2)",
                    params![c.session_id, ANSWER_CACHE as i64],
                )
                .map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(Committed { answer, outcome })
    }

    fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRecord> {
        Ok(SessionRecord {
            session_id: r.get(0)?,
            sealed: r.get(1)?,
            generation: to_u64(r.get(2)?),
            expires_at_ms: to_u64(r.get(3)?),
            client_group: r.get(4)?,
            last_used_ms: to_u64(r.get(5)?),
        })
    }
}

const SESSION_COLUMNS: &str =
    "session_id, sealed, generation, expires_at_ms, client_group, last_used_ms";

#[async_trait]
impl Store for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    fn exclusive(&self) -> bool {
        true
    }

    async fn ready(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn server_keys(&self) -> StoreResult<Vec<StoredKey>> {
        self.blocking(|s| s.server_keys_sync()).await?
    }

    async fn insert_server_key(&self, key: StoredKey) -> StoreResult<()> {
        stored_suite(&key.key_id, key.suite.name(), key.private.len())?;
        self.blocking(move |s| -> anyhow::Result<()> {
            s.lock()?.execute(
                "INSERT INTO server_keys (key_id, private_key, created_at_ms, expires_at_ms, \
                 suite) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    key.key_id,
                    &key.private[..],
                    to_i64(key.created_at_ms),
                    key.expires_at_ms.map(to_i64),
                    key.suite.name()
                ],
            )?;
            Ok(())
        })
        .await?
    }

    async fn insert_first_server_key(&self, key: StoredKey, now_ms: u64) -> StoreResult<bool> {
        stored_suite(&key.key_id, key.suite.name(), key.private.len())?;
        self.blocking(move |s| -> anyhow::Result<bool> {
            let mut conn = s.lock()?;
            let tx = conn.transaction()?;
            let live: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM server_keys WHERE expires_at_ms IS NULL \
                 OR expires_at_ms > ?1)",
                [to_i64(now_ms)],
                |r| r.get(0),
            )?;
            if live {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO server_keys (key_id, private_key, created_at_ms, expires_at_ms, \
                 suite) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    key.key_id,
                    &key.private[..],
                    to_i64(key.created_at_ms),
                    key.expires_at_ms.map(to_i64),
                    key.suite.name()
                ],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await?
    }

    async fn expire_server_key(&self, key_id: &str, expires_at_ms: u64) -> StoreResult<bool> {
        let key_id = key_id.to_owned();
        self.blocking(move |s| -> anyhow::Result<bool> {
            Ok(s.lock()?.execute(
                "UPDATE server_keys SET expires_at_ms = ?2 WHERE key_id = ?1",
                params![key_id, to_i64(expires_at_ms)],
            )? == 1)
        })
        .await?
    }

    async fn stored_storage_key(&self) -> StoreResult<Option<Zeroizing<[u8; 32]>>> {
        self.blocking(|s| s.meta_secret("storage_key")).await?
    }

    async fn create_storage_key(&self, key: Zeroizing<[u8; 32]>) -> StoreResult<()> {
        self.blocking(move |s| -> anyhow::Result<()> {
            s.lock()?.execute(
                "INSERT INTO meta (name, value) VALUES ('storage_key', ?1)",
                params![&key[..]],
            )?;
            Ok(())
        })
        .await?
    }

    async fn adopt_external_storage_key(&self, reseal: Reseal) -> StoreResult<Resealed> {
        self.blocking(move |s| -> anyhow::Result<Resealed> {
            let mut conn = s.lock()?;
            let tx = conn.transaction()?;
            let records: Vec<SessionRecord> = {
                let mut st = tx.prepare(&format!("SELECT {SESSION_COLUMNS} FROM sc_sessions"))?;
                let it = st.query_map([], Self::session_row)?;
                it.collect::<Result<_, _>>()?
            };
            let mut out = Resealed::default();
            for r in records {
                match reseal(&r) {
                    Some(blob) => {
                        tx.execute(
                            "UPDATE sc_sessions SET sealed = ?2 WHERE session_id = ?1",
                            params![r.session_id, blob],
                        )?;
                        out.resealed += 1;
                    }
                    None => {
                        tx.execute(
                            "DELETE FROM sc_sessions WHERE session_id = ?1",
                            [&r.session_id],
                        )?;
                        out.dropped += 1;
                    }
                }
            }
            tx.execute("DELETE FROM meta WHERE name = 'storage_key'", [])?;
            tx.commit()?;
            // secure_delete zeroed the key's page; truncating the WAL drops the frames that
            // still held it.
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(out)
        })
        .await?
    }

    async fn load_sessions(&self, now_ms: u64, max: usize) -> StoreResult<Vec<SessionRecord>> {
        self.blocking(move |s| -> anyhow::Result<Vec<SessionRecord>> {
            let conn = s.lock()?;
            let mut st = conn.prepare(&format!(
                "SELECT {SESSION_COLUMNS} FROM sc_sessions WHERE expires_at_ms > ?1 \
                 ORDER BY last_used_ms DESC LIMIT ?2"
            ))?;
            let it = st.query_map(
                params![to_i64(now_ms), i64::try_from(max).unwrap_or(i64::MAX)],
                Self::session_row,
            )?;
            Ok(it.collect::<Result<_, _>>()?)
        })
        .await?
    }

    async fn load_session(
        &self,
        session_id: &str,
        now_ms: u64,
    ) -> StoreResult<Option<SessionRecord>> {
        let sid = session_id.to_owned();
        self.blocking(move |s| -> anyhow::Result<Option<SessionRecord>> {
            let conn = s.lock()?;
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {SESSION_COLUMNS} FROM sc_sessions \
                         WHERE session_id = ?1 AND expires_at_ms > ?2"
                    ),
                    params![sid, to_i64(now_ms)],
                    Self::session_row,
                )
                .optional()?)
        })
        .await?
    }

    async fn create_session(
        &self,
        r: SessionRecord,
        evicted: Vec<String>,
        _max_per_group: usize,
    ) -> StoreResult<()> {
        self.blocking(move |s| -> anyhow::Result<()> {
            let mut conn = s.lock()?;
            let tx = conn.transaction()?;
            for sid in &evicted {
                tx.execute("DELETE FROM sc_sessions WHERE session_id = ?1", [sid])?;
            }
            tx.execute(
                &format!(
                    "INSERT INTO sc_sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                params![
                    r.session_id,
                    r.sealed,
                    to_i64(r.generation),
                    to_i64(r.expires_at_ms),
                    r.client_group,
                    to_i64(r.last_used_ms)
                ],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?
    }

    async fn delete_sessions(&self, session_ids: Vec<String>) -> StoreResult<()> {
        if session_ids.is_empty() {
            return Ok(());
        }
        self.blocking(move |s| -> anyhow::Result<()> {
            let mut conn = s.lock()?;
            let tx = conn.transaction()?;
            for sid in &session_ids {
                tx.execute("DELETE FROM sc_sessions WHERE session_id = ?1", [sid])?;
            }
            tx.commit()?;
            Ok(())
        })
        .await?
    }

    async fn begin(
        &self,
        session_id: &str,
        known_generation: Option<u64>,
        now_ms: u64,
    ) -> StoreResult<Option<Locked>> {
        let tx = Box::new(SqliteTx {
            store: self.clone(),
            session_id: session_id.to_owned(),
            claim: None,
        });
        // The only writer: the caller's copy is the current state (it is re-read only when the
        // caller has none, e.g. after a failed commit).
        if let Some(generation) = known_generation {
            return Ok(Some(Locked {
                generation,
                sealed: None,
                tx,
            }));
        }
        Ok(self
            .load_session(session_id, now_ms)
            .await?
            .map(|r| Locked {
                generation: r.generation,
                sealed: Some(r.sealed),
                tx,
            }))
    }

    async fn sweep(
        &self,
        now_ms: u64,
        batch: usize,
        max_batches: usize,
    ) -> StoreResult<StoreSwept> {
        let mut out = StoreSwept::default();
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        for _ in 0..max_batches {
            let n = self
                .blocking(move |s| -> anyhow::Result<usize> {
                    Ok(s.lock()?.execute(
                        "DELETE FROM sc_sessions WHERE session_id IN (SELECT session_id FROM \
                         sc_sessions WHERE expires_at_ms <= ?1 LIMIT ?2)",
                        params![to_i64(now_ms), limit],
                    )?)
                })
                .await??;
            out.sessions += n;
            if n < batch {
                break;
            }
        }
        let old = to_i64(now_ms.saturating_sub(REGISTRATION_RETENTION_MS));
        for _ in 0..max_batches {
            let n = self
                .blocking(move |s| -> anyhow::Result<usize> {
                    Ok(s.lock()?.execute(
                        "DELETE FROM registrations WHERE token_hash IN (SELECT token_hash FROM \
                         registrations WHERE used_at_ms <= ?1 OR expires_at_ms <= ?1 LIMIT ?2)",
                        params![old, limit],
                    )?)
                })
                .await??;
            out.registrations += n;
            if n < batch {
                break;
            }
        }
        Ok(out)
    }

    async fn cached_answers(&self, session_id: &str) -> StoreResult<Vec<CachedAnswer>> {
        let sid = session_id.to_owned();
        self.blocking(move |s| -> anyhow::Result<Vec<CachedAnswer>> {
            let conn = s.lock()?;
            let mut st = conn.prepare(
                "SELECT digest, status, code, envelope, headers FROM sc_answers \
                 WHERE session_id = ?1 \
                 ORDER BY id DESC LIMIT ?2",
            )?;
            let it = st.query_map(params![sid, ANSWER_CACHE as i64], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in it {
                let (digest, status, code, envelope, headers) = row?;
                let Ok(digest) = <[u8; 32]>::try_from(digest.as_slice()) else {
                    continue;
                };
                out.push(CachedAnswer {
                    digest,
                    status: u16::try_from(status).unwrap_or(500),
                    code,
                    envelope,
                    headers,
                });
            }
            Ok(out)
        })
        .await?
    }

    async fn add_registration(
        &self,
        token: TokenHash,
        email: &str,
        name: &str,
        now_ms: u64,
        ttl_ms: u64,
    ) -> StoreResult<Registration> {
        let (email, name) = (email.to_owned(), name.to_owned());
        self.blocking(move |s| s.add_registration_sync(&token, &email, &name, now_ms, ttl_ms))
            .await?
    }

    async fn release_all_claims(&self) -> StoreResult<usize> {
        self.blocking(|s| -> anyhow::Result<usize> {
            Ok(s.lock()?.execute(
                "UPDATE registrations SET claim_id = NULL, claimed_until_ms = NULL \
                 WHERE claim_id IS NOT NULL",
                [],
            )?)
        })
        .await?
    }

    async fn password_hash(&self, email: &str) -> StoreResult<Option<String>> {
        let email = email.to_owned();
        self.blocking(move |s| -> anyhow::Result<Option<String>> {
            Ok(s.lock()?
                .query_row(
                    "SELECT password_hash FROM users WHERE email = ?1",
                    [email],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await?
    }

    async fn user_count(&self) -> StoreResult<u64> {
        self.blocking(|s| -> anyhow::Result<u64> {
            let n: i64 = s
                .lock()?
                .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
            Ok(to_u64(n))
        })
        .await?
    }
}

impl SqliteStore {
    /// Claim the pending registration `token` for `lease_ms` under the id `claim` (atomically:
    /// of concurrent claims exactly one succeeds).
    pub async fn claim_registration(
        &self,
        token: TokenHash,
        claim: u64,
        now_ms: u64,
        lease_ms: u64,
    ) -> StoreResult<Claim> {
        self.blocking(move |s| -> anyhow::Result<Claim> {
            let conn = s.lock()?;
            let now = to_i64(now_ms);
            let claimed = conn
                .query_row(
                    "UPDATE registrations SET claim_id = ?2, claimed_until_ms = ?4 \
                     WHERE token_hash = ?1 AND used_at_ms IS NULL AND expires_at_ms > ?3 \
                     AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?3) \
                     RETURNING email, name, expires_at_ms",
                    params![
                        &token.as_bytes()[..],
                        claim as i64,
                        now,
                        to_i64(now_ms.saturating_add(lease_ms))
                    ],
                    |r| {
                        Ok(Registration {
                            email: r.get(0)?,
                            name: r.get(1)?,
                            expires_at_ms: to_u64(r.get(2)?),
                        })
                    },
                )
                .optional()?;
            if let Some(reg) = claimed {
                return Ok(Claim::Claimed(reg));
            }
            let exists: bool = conn.query_row(
                "SELECT EXISTS(SELECT 1 FROM registrations WHERE token_hash = ?1)",
                [&token.as_bytes()[..]],
                |r| r.get(0),
            )?;
            Ok(if exists {
                Claim::Unavailable
            } else {
                Claim::Unknown
            })
        })
        .await?
    }

    /// Release a claim (the hash failed or the commit did not happen).
    pub async fn release_claim(&self, token: TokenHash, claim: u64) -> StoreResult<()> {
        self.blocking(move |s| -> anyhow::Result<()> {
            Ok(Self::release_claim_sync(&*s.lock()?, &token, claim)?)
        })
        .await?
    }
}

/// The request transaction of the SQLite store. The process is the only writer and the gateway
/// runs one request per session at a time, so nothing is held in the database meanwhile: the
/// claim is a row update with a lease (a crashed process's claims are released at its next
/// start), and the commit is one SQLite transaction.
struct SqliteTx {
    store: SqliteStore,
    session_id: String,
    claim: Option<(TokenHash, u64)>,
}

#[async_trait]
impl SessionTx for SqliteTx {
    async fn cached_answers(&mut self) -> StoreResult<Vec<CachedAnswer>> {
        self.store.cached_answers(&self.session_id).await
    }

    async fn claim_registration(
        &mut self,
        token: TokenHash,
        now_ms: u64,
        lease_ms: u64,
    ) -> StoreResult<Claim> {
        let id = crate::util::random_u64()?;
        let c = self
            .store
            .claim_registration(token, id, now_ms, lease_ms)
            .await?;
        if matches!(c, Claim::Claimed(_)) {
            self.claim = Some((token, id));
        }
        Ok(c)
    }

    async fn release_claim(&mut self) -> StoreResult<()> {
        match self.claim.take() {
            Some((token, id)) => self.store.release_claim(token, id).await,
            None => Ok(()),
        }
    }

    async fn commit(self: Box<Self>, commit: Commit) -> Result<Committed, CommitError> {
        let claim = self.claim;
        match self
            .store
            .blocking(move |s| s.commit_sync(commit, claim))
            .await
        {
            Ok(r) => r,
            Err(e) => Err(CommitError::Db(e)),
        }
    }

    async fn finish(mut self: Box<Self>) -> StoreResult<()> {
        self.release_claim().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA_V0: &str = "
        CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
        CREATE TABLE server_keys (key_id TEXT PRIMARY KEY, private_key BLOB NOT NULL,
            created_at_ms INTEGER NOT NULL, expires_at_ms INTEGER);
        CREATE TABLE sc_sessions (session_id TEXT PRIMARY KEY, sealed BLOB NOT NULL,
            expires_at_ms INTEGER NOT NULL);
        CREATE TABLE registrations (token TEXT PRIMARY KEY, email TEXT NOT NULL,
            name TEXT NOT NULL, created_at_ms INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL,
            used_at_ms INTEGER);
        CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, biz_id TEXT UNIQUE,
            email TEXT NOT NULL, name TEXT NOT NULL, status INTEGER NOT NULL,
            password_hash TEXT NOT NULL, created_at_ms INTEGER NOT NULL);
        INSERT INTO registrations VALUES ('old-plaintext-token', 'a@example.com', 'A', 1, 9000000000000, NULL);
        INSERT INTO sc_sessions VALUES ('sid-old', X'02000000000000000700', 9000000000000);
    ";

    #[tokio::test]
    async fn version_0_databases_are_migrated() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("scv2-mig-{}", crate::util::new_token()?));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("old.sqlite");
        files::create_private(&path)?;
        Connection::open(&path)?.execute_batch(SCHEMA_V0)?;
        let store = SqliteStore::open(&path)?;
        let token = TokenHash::of("old-plaintext-token");
        let claim = store.claim_registration(token, 1, 2, 1000).await?;
        assert!(
            matches!(claim, Claim::Claimed(ref r) if r.email == "a@example.com"),
            "{claim:?}"
        );
        let rec = store.load_session("sid-old", 0).await?;
        assert_eq!(rec.map(|r| r.generation), Some(7));
        let version: i64 = store
            .lock()?
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        assert_eq!(version, SCHEMA_VERSION);
        drop(store);
        // The plaintext token is gone from the file (secure_delete zeroed the old table).
        let conn = Connection::open(&path)?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        drop(conn);
        let bytes = std::fs::read(&path)?;
        assert!(!bytes.windows(19).any(|w| w == b"old-plaintext-token"));
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[tokio::test]
    async fn claims_are_single_and_released() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("scv2-claim-{}", crate::util::new_token()?));
        std::fs::create_dir_all(&dir)?;
        let store = SqliteStore::open(&dir.join("c.sqlite"))?;
        let t = TokenHash::of("tok");
        store
            .add_registration(t, "c@example.com", "C", 0, 1_000_000)
            .await?;
        assert!(matches!(
            store.claim_registration(t, 1, 10, 100).await?,
            Claim::Claimed(_)
        ));
        assert_eq!(
            store.claim_registration(t, 2, 20, 100).await?,
            Claim::Unavailable
        );
        // Another claim id cannot release it; the holder can.
        store.release_claim(t, 2).await?;
        assert_eq!(
            store.claim_registration(t, 3, 30, 100).await?,
            Claim::Unavailable
        );
        store.release_claim(t, 1).await?;
        assert!(matches!(
            store.claim_registration(t, 4, 40, 100).await?,
            Claim::Claimed(_)
        ));
        // A lease ends by itself.
        assert!(matches!(
            store.claim_registration(t, 5, 140, 100).await?,
            Claim::Claimed(_)
        ));
        assert_eq!(
            store
                .claim_registration(TokenHash::of("nope"), 6, 150, 100)
                .await?,
            Claim::Unknown
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
