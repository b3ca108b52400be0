//! SQLite storage: server keys, the storage key, sealed sessions, registrations and users.
//!
//! One connection behind a mutex (SQLite serializes writers anyway); callers run these blocking
//! calls on the blocking pool. WAL journal, `synchronous=FULL`: a committed window update survives
//! a crash of the process or the machine.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{anyhow, bail, Context};
use rusqlite::{params, Connection, OptionalExtension};
use zeroize::Zeroizing;

/// User status of an account whose password is set (the API's `10010202`).
pub const USER_STATUS_ACTIVE: i64 = 10010202;

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

/// A pending registration (created by `scv2 registration add`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The init session id given to the user.
    pub token: String,
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

/// The database handle (cheap to clone).
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

const SCHEMA: &str = "
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
    expires_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS registrations (
    token TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    used_at_ms INTEGER
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

impl Store {
    /// Open (or create) the database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        let conn = Connection::open(path)
            .with_context(|| format!("opening database {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn lock(&self) -> anyhow::Result<MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| anyhow!("database lock poisoned"))
    }

    /// A 32-byte secret kept in `meta` under `name`, created with `make` on first use.
    pub fn secret_or_create(
        &self,
        name: &str,
        make: impl FnOnce() -> anyhow::Result<[u8; 32]>,
    ) -> anyhow::Result<Zeroizing<[u8; 32]>> {
        let conn = self.lock()?;
        let existing: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        let mut out = Zeroizing::new([0u8; 32]);
        match existing {
            Some(v) => {
                let v = Zeroizing::new(v);
                if v.len() != 32 {
                    bail!("meta secret {name} has a wrong length");
                }
                out.copy_from_slice(&v);
            }
            None => {
                *out = make()?;
                conn.execute(
                    "INSERT INTO meta (name, value) VALUES (?1, ?2)",
                    params![name, &out[..]],
                )?;
            }
        }
        Ok(out)
    }

    /// Every stored server key.
    pub fn server_keys(&self) -> anyhow::Result<Vec<StoredKey>> {
        let conn = self.lock()?;
        let mut st = conn.prepare(
            "SELECT key_id, private_key, created_at_ms, expires_at_ms FROM server_keys \
             ORDER BY created_at_ms",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Zeroizing::new(r.get::<_, Vec<u8>>(1)?),
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (key_id, raw, created, expires) = row?;
            let mut private = Zeroizing::new([0u8; 32]);
            if raw.len() != 32 {
                bail!("server key {key_id} has a wrong length");
            }
            private.copy_from_slice(&raw);
            out.push(StoredKey {
                key_id,
                private,
                created_at_ms: to_u64(created),
                expires_at_ms: expires.map(to_u64),
            });
        }
        Ok(out)
    }

    /// Store a server key.
    pub fn insert_server_key(&self, key: &StoredKey) -> anyhow::Result<()> {
        self.lock()?.execute(
            "INSERT INTO server_keys (key_id, private_key, created_at_ms, expires_at_ms) \
             VALUES (?1, ?2, ?3, ?4)",
            params![
                key.key_id,
                &key.private[..],
                to_i64(key.created_at_ms),
                key.expires_at_ms.map(to_i64)
            ],
        )?;
        Ok(())
    }

    /// Write a sealed session. `seal` runs while the database lock is held, so snapshots are
    /// written in the order they were taken (a later window state never loses to an older one).
    pub fn save_session(
        &self,
        session_id: &str,
        expires_at_ms: u64,
        seal: impl FnOnce() -> Result<Vec<u8>, scv2::Error>,
    ) -> Result<(), SaveError> {
        let conn = self.lock().map_err(SaveError::Db)?;
        let blob = seal().map_err(SaveError::Seal)?;
        conn.execute(
            "INSERT INTO sc_sessions (session_id, sealed, expires_at_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT(session_id) DO UPDATE SET sealed = excluded.sealed",
            params![session_id, blob, to_i64(expires_at_ms)],
        )
        .map_err(|e| SaveError::Db(e.into()))?;
        Ok(())
    }

    /// Delete a session (closed).
    pub fn delete_session(&self, session_id: &str) -> anyhow::Result<()> {
        self.lock()?.execute(
            "DELETE FROM sc_sessions WHERE session_id = ?1",
            [session_id],
        )?;
        Ok(())
    }

    /// Delete expired sessions; returns how many.
    pub fn purge_expired_sessions(&self, now_ms: u64) -> anyhow::Result<usize> {
        Ok(self.lock()?.execute(
            "DELETE FROM sc_sessions WHERE expires_at_ms <= ?1",
            [to_i64(now_ms)],
        )?)
    }

    /// Every unexpired sealed session: `(session id, blob)`.
    pub fn sessions(&self, now_ms: u64) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let conn = self.lock()?;
        let mut st =
            conn.prepare("SELECT session_id, sealed FROM sc_sessions WHERE expires_at_ms > ?1")?;
        let rows = st.query_map([to_i64(now_ms)], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Create a pending registration with the init session id `token`.
    pub fn add_registration(
        &self,
        token: &str,
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
            "INSERT INTO registrations (token, email, name, created_at_ms, expires_at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![token, email, name, to_i64(now_ms), to_i64(expires_at_ms)],
        )?;
        Ok(Registration {
            token: token.to_owned(),
            email: email.to_owned(),
            name: name.to_owned(),
            expires_at_ms,
        })
    }

    /// The pending registration `token`, if it exists, is unused and unexpired at `now_ms`.
    pub fn pending_registration(
        &self,
        token: &str,
        now_ms: u64,
    ) -> anyhow::Result<Option<Registration>> {
        let conn = self.lock()?;
        Ok(conn
            .query_row(
                "SELECT token, email, name, expires_at_ms FROM registrations \
                 WHERE token = ?1 AND used_at_ms IS NULL AND expires_at_ms > ?2",
                params![token, to_i64(now_ms)],
                |r| {
                    Ok(Registration {
                        token: r.get(0)?,
                        email: r.get(1)?,
                        name: r.get(2)?,
                        expires_at_ms: to_u64(r.get(3)?),
                    })
                },
            )
            .optional()?)
    }

    /// Consume the registration `token` and create its user with `password_hash` (a PHC string),
    /// atomically. `None` if the registration is unknown, used or expired at `now_ms`.
    pub fn complete_registration(
        &self,
        token: &str,
        password_hash: &str,
        now_ms: u64,
    ) -> anyhow::Result<Option<User>> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let reg = tx
            .query_row(
                "UPDATE registrations SET used_at_ms = ?2 \
                 WHERE token = ?1 AND used_at_ms IS NULL AND expires_at_ms > ?2 \
                 RETURNING email, name",
                params![token, to_i64(now_ms)],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?;
        let Some((email, name)) = reg else {
            return Ok(None);
        };
        tx.execute(
            "INSERT INTO users (email, name, status, password_hash, created_at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                email,
                name,
                USER_STATUS_ACTIVE,
                password_hash,
                to_i64(now_ms)
            ],
        )?;
        let id = tx.last_insert_rowid();
        let biz_id = format!("ACC_USR_{id:08}");
        tx.execute(
            "UPDATE users SET biz_id = ?1 WHERE id = ?2",
            params![biz_id, id],
        )?;
        tx.commit()?;
        Ok(Some(User {
            biz_id,
            email,
            name,
            status: USER_STATUS_ACTIVE,
            created_at_ms: now_ms,
        }))
    }

    /// The stored password hash of the user with `email` (tests and audits).
    pub fn password_hash(&self, email: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .lock()?
            .query_row(
                "SELECT password_hash FROM users WHERE email = ?1",
                [email],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Number of users.
    pub fn user_count(&self) -> anyhow::Result<u64> {
        let n: i64 = self
            .lock()?
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
        Ok(to_u64(n))
    }
}

/// Why a session could not be saved.
#[derive(Debug)]
pub enum SaveError {
    /// The session could not be exported (closed meanwhile).
    Seal(scv2::Error),
    /// The database failed.
    Db(anyhow::Error),
}
