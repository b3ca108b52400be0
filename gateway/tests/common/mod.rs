//! What the gateway's test files share: the store each test runs against (SQLite in a temporary
//! directory, or a fresh database on the throwaway PostgreSQL cluster of
//! `scripts/with-postgres.sh`), and store scenarios run against both.
//!
//! PostgreSQL tests need `SCV2_TEST_PG_URL` (a superuser URL): without it they print that they
//! skipped, except under `CI=true`, where its absence fails them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use scv2_gateway::config::Database;
use scv2_gateway::store::{
    CachedAnswer, Commit, CommitError, Effect, PgOptions, PgStore, SessionRecord, SessionUpdate,
    SqliteStore, Store,
};
use zeroize::Zeroizing;

pub type R<T = ()> = anyhow::Result<T>;

/// A temporary directory, deleted on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            scv2_gateway::util::new_token().unwrap_or_default()
        );
        let p = std::env::temp_dir().join(name);
        let _ = std::fs::create_dir_all(&p);
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Instantiate each named `async fn name(backend: Backend) -> R` as two tests, `name::sqlite`
/// and `name::postgres` (skipped, saying so, without the test cluster; see [`pg_url`]). The file
/// declares `#[macro_use] mod common;` and has `Backend` and `R` in scope.
#[allow(unused_macros)]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() -> super::R {
                super::$name(super::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() -> super::R {
                match super::Backend::postgres(concat!(stringify!($name), "::postgres")) {
                    Some(b) => super::$name(b).await,
                    None => Ok(()),
                }
            }
        }
    )*};
}

/// Which store a test runs against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// The superuser URL of the test cluster.
    Postgres(String),
}

/// The test cluster's superuser URL, or `None` (the test then says it skipped). Under
/// `CI=true` a missing URL is a failure.
pub fn pg_url(test: &str) -> Option<String> {
    match std::env::var("SCV2_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: CI=true but SCV2_TEST_PG_URL is not set: run the tests under \
                 scripts/with-postgres.sh"
            );
            // Straight to stderr: the test harness captures print!, and a skip must be seen.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "{test}: skipped (no PostgreSQL: run under scripts/with-postgres.sh to include it)"
            );
            None
        }
    }
}

impl Backend {
    /// PostgreSQL if the test cluster is there (else `None`, and the test skips).
    pub fn postgres(test: &str) -> Option<Backend> {
        pg_url(test).map(Backend::Postgres)
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Backend::Postgres(_))
    }

    /// A fresh store location for one test: a SQLite file in `dir`, or a new database.
    pub async fn fresh(&self, dir: &TempDir) -> R<Database> {
        match self {
            Backend::Sqlite => Ok(Database::Sqlite(dir.path("gw.sqlite"))),
            Backend::Postgres(url) => Ok(Database::Postgres(fresh_database(url).await?)),
        }
    }
}

static DATABASES: AtomicU64 = AtomicU64::new(0);

/// `CREATE DATABASE` on the cluster of `superuser_url`; returns the new database's URL.
pub async fn fresh_database(superuser_url: &str) -> R<String> {
    let (client, conn) = tokio_postgres::connect(superuser_url, tokio_postgres::NoTls).await?;
    let task = tokio::spawn(conn);
    let name = format!(
        "scv2_t{}_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed),
        scv2_gateway::util::hex(&scv2_gateway::util::random_bytes::<4>()?)
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    drop(client);
    let _ = task.await;
    let base = superuser_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(superuser_url);
    Ok(format!("{base}/{name}"))
}

/// A direct connection (for assertions on the database itself).
pub async fn pg_client(url: &str) -> R<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// The storage key the PostgreSQL tests use.
pub fn test_storage_key() -> Zeroizing<[u8; 32]> {
    Zeroizing::new([0x5c; 32])
}

/// The same key as 64 hex characters (`SCV2_STORAGE_KEY`).
pub fn test_storage_key_hex() -> String {
    scv2_gateway::util::hex(&test_storage_key()[..])
}

/// Open a store directly.
pub async fn open_store(db: &Database) -> R<Box<dyn Store>> {
    Ok(match db {
        Database::Sqlite(p) => Box::new(SqliteStore::open(p)?),
        Database::Postgres(url) => Box::new(
            PgStore::connect(
                url,
                PgOptions {
                    storage_key: Some(test_storage_key()),
                    ..PgOptions::default()
                },
            )
            .await?,
        ),
    })
}

/// The path of a SQLite database, if that is the store.
pub fn sqlite_path(db: &Database) -> Option<&Path> {
    db.sqlite_path()
}

/// Figure 2's scenario on any store: a session at generation 0, one commit to 1, then commits
/// from a stale generation or of a state not newer than the one held. Returns how many of the
/// three bad commits were refused (the caller asserts 3).
pub async fn stale_generation_refused(store: &dyn Store) -> R<usize> {
    let rec = SessionRecord {
        session_id: "sid-1".into(),
        sealed: vec![2, 0, 0, 0, 0, 0, 0, 0, 0],
        generation: 0,
        expires_at_ms: u64::MAX / 4,
        client_group: String::new(),
        last_used_ms: 0,
    };
    store.create_session(rec, Vec::new(), 32).await?;
    // An export blob's header: version 2, its generation (the rest is not opened here).
    let blob = |g: u64| [vec![2], g.to_be_bytes().to_vec(), vec![0; 28]].concat();
    let commit = |expected: u64, generation: u64| Commit {
        session_id: "sid-1".into(),
        expected_generation: expected,
        update: Some(SessionUpdate {
            sealed: blob(generation),
            generation,
            last_used_ms: 1,
        }),
        effect: Effect::None,
        seal: Box::new(|_| {
            Ok(CachedAnswer {
                digest: [0; 32],
                status: 200,
                code: "2000".into(),
                envelope: vec![1],
                headers: Vec::new(),
            })
        }),
        cache_answer: true,
    };
    let run = |expected: u64, generation: u64| async move {
        let locked = store
            .begin("sid-1", Some(expected), 1)
            .await?
            .ok_or_else(|| anyhow::anyhow!("session missing"))?;
        Ok::<_, anyhow::Error>(locked.tx.commit(commit(expected, generation)).await)
    };
    anyhow::ensure!(run(0, 1).await?.is_ok(), "the first commit failed");
    // A writer that still believes generation 0 (a stale copy) is refused, whatever it writes;
    // so is a state that is not newer than the one held.
    let mut refused = 0;
    for (expected, generation) in [(0, 1), (0, 5), (1, 1)] {
        if matches!(run(expected, generation).await?, Err(CommitError::Conflict)) {
            refused += 1;
        }
    }
    anyhow::ensure!(run(1, 2).await?.is_ok(), "the commit from 1 to 2 failed");
    let g = store.load_session("sid-1", 1).await?.map(|r| r.generation);
    anyhow::ensure!(g == Some(2), "generation {g:?}, expected 2");
    Ok(refused)
}

/// The `scv2` binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_scv2")
}

/// A running `scv2 serve` process (killed on drop).
pub struct Serve {
    pub child: std::process::Child,
    pub url: String,
    pub metrics: Option<String>,
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Serve {
    /// Start `scv2 serve --listen 127.0.0.1:0 ARGS` with `envs`; waits until it listens.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> R<Serve> {
        use std::io::BufRead as _;
        let mut cmd = std::process::Command::new(bin());
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .env_remove("SCV2_STORAGE_KEY");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn()?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow::anyhow!("stderr"))?;
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<Option<(String, Option<String>)>>();
        let sink = lines.clone();
        std::thread::spawn(move || {
            let mut metrics = None;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(rest) = line.split("scv2 metrics on ").nth(1) {
                    metrics = Some(rest.trim().trim_end_matches("/metrics").to_owned());
                }
                if let Some(rest) = line.split("scv2 gateway on ").nth(1) {
                    let url = rest.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = tx.send(Some((url, metrics.clone())));
                }
                if let Ok(mut l) = sink.lock() {
                    l.push(line);
                }
            }
            let _ = tx.send(None);
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some((url, metrics))) => Ok(Serve {
                child,
                url,
                metrics,
                stderr: lines,
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(50));
                let log = lines.lock().map(|l| l.join("\n")).unwrap_or_default();
                anyhow::bail!("scv2 serve did not start: {log}")
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        self.stderr.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL.
    pub fn kill9(&mut self) -> R {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// One counter of `GET /metrics` (`scv2_NAME`).
    pub async fn metric(&self, name: &str) -> R<u64> {
        let base = self
            .metrics
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no metrics address"))?;
        let text = reqwest::get(format!("{base}/metrics"))
            .await?
            .text()
            .await?;
        let want = format!("scv2_{name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&want))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no {name} in {text}"))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

use std::time::Duration;
