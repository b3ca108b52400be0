//! Everything the gateway can be configured with, and the defaults (the CLI's `--help` prints
//! the same values: they come from the constants here).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use zeroize::Zeroizing;

use crate::clock::{Clock, SystemClock};
use crate::limits::LimitsConfig;
use crate::password::Argon2Params;
use crate::routes::RoutesConfig;

/// Default secure-channel session lifetime, seconds.
pub const DEFAULT_SESSION_TTL_SECS: u64 = 1800;
/// Default cap on live SC sessions.
pub const DEFAULT_MAX_SESSIONS: usize = 100_000;
/// Default cap on live SC sessions per client group.
pub const DEFAULT_MAX_SESSIONS_PER_IP: usize = 32;
/// Default header read timeout, seconds.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;
/// Default body read timeout, seconds.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 10;
/// Default keep-alive idle timeout, seconds.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 60;
/// Default whole-request timeout, seconds.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
/// Default cap on open connections (lowered to the open-file limit minus a reserve).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default cap on open connections per client address (untrusted peers).
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 64;
/// Default largest request body, bytes.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// How long a registration claim lasts before another request may take it (a crashed hash).
pub const CLAIM_LEASE_MS: u64 = 120_000;
/// Default interval of the sweeper (expired sessions, old limiter entries, used registrations),
/// seconds.
pub const DEFAULT_SWEEP_INTERVAL_SECS: u64 = 60;
/// Default interval at which the server keys are re-read from the store, seconds.
pub const DEFAULT_KEY_REFRESH_SECS: u64 = 30;
pub use crate::store::postgres::{DEFAULT_POOL_SIZE, DEFAULT_STATEMENT_TIMEOUT_MS};

/// Where the gateway keeps its state.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// One SQLite file, owned by one process.
    Sqlite(PathBuf),
    /// A PostgreSQL database shared by any number of gateways (`postgres://…`).
    Postgres(String),
}

impl Database {
    /// `--db`: a `postgres://` or `postgresql://` URL selects PostgreSQL, anything else is the
    /// path of a SQLite file.
    pub fn parse(s: &str) -> Database {
        if crate::store::postgres::is_postgres_url(s) {
            Database::Postgres(s.to_owned())
        } else {
            Database::Sqlite(PathBuf::from(s))
        }
    }

    /// The SQLite file, if that is the store.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Database::Sqlite(p) => Some(p),
            Database::Postgres(_) => None,
        }
    }

    /// For logs and errors (a password in the URL is not shown).
    pub fn display(&self) -> String {
        match self {
            Database::Sqlite(p) => p.display().to_string(),
            Database::Postgres(url) => redact_url(url),
        }
    }
}

/// `scheme://user:[redacted]@host…` for a URL with a password.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    match auth {
        Some(a) => match a.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:[redacted]@{host}"),
            None => format!("{scheme}://{a}@{host}"),
        },
        None => format!("{scheme}://{host}"),
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

impl From<PathBuf> for Database {
    fn from(p: PathBuf) -> Database {
        Database::Sqlite(p)
    }
}

impl From<&Path> for Database {
    fn from(p: &Path) -> Database {
        Database::Sqlite(p.to_owned())
    }
}

/// Settings of the PostgreSQL store (ignored with SQLite).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PgSettings {
    /// Most database connections of this gateway.
    pub pool_size: usize,
    /// Longest a statement runs, and a row lock or a pooled connection is waited for.
    pub statement_timeout: Duration,
}

impl Default for PgSettings {
    fn default() -> PgSettings {
        PgSettings {
            pool_size: DEFAULT_POOL_SIZE,
            statement_timeout: Duration::from_millis(DEFAULT_STATEMENT_TIMEOUT_MS),
        }
    }
}

/// Timeouts of the HTTP server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// From the first byte of a request to the end of its headers.
    pub header: Duration,
    /// Reading the body, from the start of the read.
    pub body: Duration,
    /// A keep-alive connection with no request.
    pub idle: Duration,
    /// A whole request, headers read to answer ready.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            header: Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECS),
            body: Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECS),
            idle: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECS),
            request: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
        }
    }
}

/// Everything the gateway can be configured with.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The store: a SQLite file or a PostgreSQL URL.
    pub db: Database,
    /// PostgreSQL pool and timeouts.
    pub pg: PgSettings,
    /// Key files from `scv2 keygen` (loaded besides the keys in the database).
    pub key_files: Vec<PathBuf>,
    /// The storage key sealing sessions at rest, from outside the database
    /// (`SCV2_STORAGE_KEY` or `--storage-key-file`); `None`: kept in the database.
    pub storage_key: Option<Zeroizing<[u8; 32]>>,
    /// Refuse to start unless the storage key and the static key come from outside the database.
    pub require_external_keys: bool,
    /// Cloudflare simulation: `Cf-Ray` and `cf-ipcountry` required, loopback trusted as a proxy.
    pub test_env: bool,
    /// Proxies whose `CF-Connecting-IP` / `X-Forwarded-For` are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Lifetime of a secure-channel session.
    pub session_ttl_ms: u64,
    /// Most live sessions held at once (the least recently used idle one is evicted beyond).
    pub max_sessions: usize,
    /// Most live sessions per client group (its oldest is evicted beyond).
    pub max_sessions_per_ip: usize,
    /// The rate limits.
    pub limits: LimitsConfig,
    /// Argon2id parameters for stored passwords.
    pub argon2: Argon2Params,
    /// How many Argon2 hashes run at once (each takes `m` of memory).
    pub hash_concurrency: usize,
    /// Largest request body accepted, bytes.
    pub max_body: usize,
    /// HTTP timeouts.
    pub timeouts: Timeouts,
    /// Most open connections.
    pub max_connections: usize,
    /// Most open connections from one client group (peers that are not trusted proxies).
    pub max_connections_per_ip: usize,
    /// Padding block of the server's envelopes.
    pub padding_block: usize,
    /// How often expired sessions and limiter entries are swept.
    pub sweep_interval: Duration,
    /// How often the server keys are re-read from the store (rotation by `scv2 keys`).
    pub key_refresh: Duration,
    /// The suite whose key `GET /public-key` advertises, and of the first key a fresh store
    /// gets (keys of every suite are accepted; `GET /public-keys` lists them all).
    pub preferred_suite: scv2::Suite,
    /// Serve `GET /metrics` on this address (off by default; bind it to loopback).
    pub metrics_listen: Option<SocketAddr>,
    /// Browser origins allowed to call the gateway (CORS, exact match; see `cors.rs`).
    pub cors_origins: Vec<String>,
    /// Serve the web demo page at `/demo/` (see `webdemo.rs`).
    pub web_demo: bool,
    /// Proxy mode: the upstream and the routes to it (`scv2 serve --config`; see `routes.rs`).
    pub routes: RoutesConfig,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("listen", &self.listen)
            .field("db", &self.db)
            .field("pg", &self.pg)
            .field(
                "storage_key",
                &self.storage_key.as_ref().map(|_| "[redacted]"),
            )
            .field("test_env", &self.test_env)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("session_ttl_ms", &self.session_ttl_ms)
            .field("limits", &self.limits)
            .field("timeouts", &self.timeouts)
            .field("cors_origins", &self.cors_origins)
            .field("web_demo", &self.web_demo)
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

impl GatewayConfig {
    /// The documented defaults (gateway/README.md, `scv2 serve --help`).
    pub fn new(listen: SocketAddr, db: impl Into<Database>) -> GatewayConfig {
        GatewayConfig {
            listen,
            db: db.into(),
            pg: PgSettings::default(),
            key_files: Vec::new(),
            storage_key: None,
            require_external_keys: false,
            test_env: false,
            trusted_proxies: Vec::new(),
            session_ttl_ms: DEFAULT_SESSION_TTL_SECS * 1000,
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_sessions_per_ip: DEFAULT_MAX_SESSIONS_PER_IP,
            limits: LimitsConfig::default(),
            argon2: Argon2Params::default(),
            hash_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            max_body: DEFAULT_MAX_BODY,
            timeouts: Timeouts::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            padding_block: 64,
            sweep_interval: Duration::from_secs(DEFAULT_SWEEP_INTERVAL_SECS),
            key_refresh: Duration::from_secs(DEFAULT_KEY_REFRESH_SECS),
            preferred_suite: scv2::Suite::X25519,
            metrics_listen: None,
            cors_origins: Vec::new(),
            web_demo: false,
            routes: RoutesConfig::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// The short names of the suites on the command line (`--suite`, `--preferred-suite`).
pub const SUITE_NAMES: [(&str, scv2::Suite); 2] = [
    ("x25519", scv2::Suite::X25519),
    ("x25519mlkem768", scv2::Suite::X25519MlKem768),
];

/// A suite from its short name (`x25519`, `x25519mlkem768`, any case) or its `algorithm` name.
pub fn parse_suite(name: &str) -> Result<scv2::Suite, String> {
    SUITE_NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, s)| *s)
        .or_else(|| scv2::Suite::from_name(name))
        .ok_or_else(|| {
            format!(
                "unknown suite {name:?}: one of {}",
                SUITE_NAMES.map(|(n, _)| n).join(", ")
            )
        })
}

/// The short name of `suite` (`x25519`, `x25519mlkem768`).
pub fn suite_short_name(suite: scv2::Suite) -> &'static str {
    SUITE_NAMES
        .iter()
        .find(|(_, s)| *s == suite)
        .map_or("unknown", |(n, _)| n)
}
