//! `scv2`: the reference gateway server and its tools.

#![forbid(unsafe_code)]

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{CommandFactory, Parser, Subcommand};
use scv2_gateway::clock::{rfc3339, system_now_ms};
use scv2_gateway::config;
use scv2_gateway::config::{Database, PgSettings};
use scv2_gateway::config_file;
use scv2_gateway::limits::LimitsConfig;
use scv2_gateway::password::Argon2Params;
use scv2_gateway::ratelimit::RateSpec;
use scv2_gateway::routes::RoutesConfig;
use scv2_gateway::store::{KeyInfo, PgOptions, PgStore, SqliteStore, Store, StoredKey, TokenHash};
use scv2_gateway::{ClientOptions, GatewayConfig, ScClient, Timeouts};
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(name = "scv2", version, about = "SCv2 reference gateway and tools")]
struct Cli {
    /// Log level: error, warn, info, debug, trace.
    #[arg(long, global = true)]
    log_level: Option<tracing::Level>,
    /// Logs as JSON lines.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the gateway.
    Serve(ServeArgs),
    /// Write a new server key file (mode 0600) and print its public-key document.
    Keygen {
        /// Key id (1–255 printable ASCII).
        #[arg(long)]
        key_id: String,
        /// Output file (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Expiry, ms since the Unix epoch (default: never).
        #[arg(long)]
        expires_at_ms: Option<u64>,
        /// Suite: x25519 or x25519mlkem768 (hybrid post-quantum).
        #[arg(long, value_parser = config::parse_suite, default_value = "x25519")]
        suite: scv2::Suite,
    },
    /// Registrations (admin).
    Registration {
        #[command(subcommand)]
        cmd: RegistrationCmd,
    },
    /// Server keys in the database (admin): rotation for every gateway on it.
    Keys {
        #[command(subcommand)]
        cmd: KeysCmd,
    },
    /// Call an SCv2 endpoint: fetch and check the key, open a session, send, decrypt.
    Call(CallArgs),
    /// Decode an envelope's header (file or `-` for stdin; raw binary or web form).
    Inspect {
        /// File, or `-`.
        input: String,
        /// The suite to read a type 130 in (a type 1 says its own): x25519 or x25519mlkem768.
        #[arg(long, value_parser = config::parse_suite)]
        suite: Option<scv2::Suite>,
    },
    /// SCv2 load generator for BENCHMARKS.md (loopback only).
    #[command(hide = true)]
    Bench(BenchArgs),
    /// Start a server on a free loopback port with a temporary database and run the whole flow.
    Demo {
        /// Instead, serve the web demo page and print its link (the flow runs in a browser).
        #[arg(long)]
        browser: bool,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Configuration file (TOML): any of these flags under its long name with `_` for `-`, and
    /// proxy mode's [upstream], [[route]] and [builtin] (gateway/README.md, "Proxy mode"). A
    /// setting may be given in the file or as a flag, not both.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Check the flags and the configuration file (routes included) and exit: 0 if they are
    /// valid. Reads no key file and opens no database (those are checked when serving).
    #[arg(long)]
    check: bool,
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The store: a SQLite file (created 0600 if missing; one `serve` per file), or a PostgreSQL
    /// URL postgres://user@host:port/dbname shared by any number of gateways (needs
    /// SCV2_STORAGE_KEY or --storage-key-file, the same on every gateway).
    #[arg(long, default_value = "scv2.sqlite")]
    db: String,
    /// PostgreSQL: most database connections of this gateway.
    #[arg(long, default_value_t = config::DEFAULT_POOL_SIZE)]
    db_pool_size: usize,
    /// PostgreSQL: statement timeout, ms; it also bounds the wait for a session held by a
    /// request on another gateway and for a pooled connection (then 503).
    #[arg(long, default_value_t = config::DEFAULT_STATEMENT_TIMEOUT_MS)]
    db_statement_timeout_ms: u64,
    /// Interval of the sweeper (expired sessions, old limiter entries, used registrations;
    /// with PostgreSQL on whichever gateway holds the sweep lock), seconds.
    #[arg(long, default_value_t = config::DEFAULT_SWEEP_INTERVAL_SECS)]
    sweep_interval_secs: u64,
    /// How often the server keys are re-read from the database (`scv2 keys`), seconds.
    #[arg(long, default_value_t = config::DEFAULT_KEY_REFRESH_SECS)]
    key_refresh_secs: u64,
    /// Serve GET /metrics (Prometheus text) on this address (default: not served); keep it on
    /// loopback or a private network.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// Server key file(s) from `scv2 keygen`, mode 0600 (repeat for rotation).
    #[arg(long = "key-file")]
    key_files: Vec<PathBuf>,
    /// File holding the storage key (64 hex characters), mode 0600; instead of SCV2_STORAGE_KEY.
    #[arg(long)]
    storage_key_file: Option<PathBuf>,
    /// Refuse to start unless the storage key (SCV2_STORAGE_KEY or --storage-key-file) and the
    /// server key (--key-file) come from outside the database.
    #[arg(long)]
    require_external_keys: bool,
    /// Believe CF-Connecting-IP / X-Forwarded-For from peers in this network (repeatable), e.g.
    /// your CDN's or load balancer's ranges. Other peers are the client themselves.
    #[arg(long = "trust-proxy", value_name = "CIDR")]
    trust_proxy: Vec<ipnet::IpNet>,
    /// Cloudflare simulation: Cf-Ray and cf-ipcountry required on every route; loopback peers
    /// are trusted proxies (their CF-Connecting-IP is the client).
    #[arg(long)]
    test_env: bool,
    /// Secure-channel session lifetime, seconds.
    #[arg(long, default_value_t = config::DEFAULT_SESSION_TTL_SECS)]
    session_ttl_secs: u64,
    /// Most live SC sessions (beyond: the least recently used idle one is evicted).
    #[arg(long, default_value_t = config::DEFAULT_MAX_SESSIONS)]
    max_sessions: usize,
    /// Most live SC sessions per client IPv4 address or IPv6 /64 (beyond: its oldest is evicted).
    #[arg(long, default_value_t = config::DEFAULT_MAX_SESSIONS_PER_IP)]
    max_sessions_per_ip: usize,
    /// Session creations allowed per client address per minute.
    #[arg(long, default_value_t = 60)]
    session_rate_per_min: u32,
    /// Password inits per (client address, X-Client-Hash) per window.
    #[arg(long, default_value_t = 5)]
    init_rate_per_client: u32,
    /// Password inits per client address per window, whatever the X-Client-Hash.
    #[arg(long, default_value_t = 20)]
    init_rate_per_ip: u32,
    /// Password inits per SC session per window.
    #[arg(long, default_value_t = 5)]
    init_rate_per_session: u32,
    /// The password-init window, seconds.
    #[arg(long, default_value_t = 300)]
    init_window_secs: u64,
    /// Failed password inits naming one existing init token, per hour (then 429).
    #[arg(long, default_value_t = 10)]
    token_failures_per_hour: u32,
    /// Most keys per rate-limit table (beyond: the key with the oldest last hit is evicted).
    #[arg(long, default_value_t = 100_000)]
    max_limiter_entries: usize,
    /// Header read timeout (first byte of a request to the end of its headers), seconds.
    #[arg(long, default_value_t = config::DEFAULT_HEADER_TIMEOUT_SECS)]
    header_timeout_secs: u64,
    /// Body read timeout, seconds (then 408).
    #[arg(long, default_value_t = config::DEFAULT_BODY_TIMEOUT_SECS)]
    body_timeout_secs: u64,
    /// Keep-alive idle timeout, seconds.
    #[arg(long, default_value_t = config::DEFAULT_IDLE_TIMEOUT_SECS)]
    idle_timeout_secs: u64,
    /// Whole-request timeout (headers read to answer ready), seconds (then 503).
    #[arg(long, default_value_t = config::DEFAULT_REQUEST_TIMEOUT_SECS)]
    request_timeout_secs: u64,
    /// Most open connections (lowered to the open-file limit minus 32).
    #[arg(long, default_value_t = config::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Most open connections per client address (peers that are not trusted proxies).
    #[arg(long, default_value_t = config::DEFAULT_MAX_CONNECTIONS_PER_IP)]
    max_connections_per_ip: usize,
    /// Largest request body, bytes.
    #[arg(long, default_value_t = config::DEFAULT_MAX_BODY)]
    max_body_bytes: usize,
    /// Argon2id memory, KiB.
    #[arg(long, default_value_t = 19 * 1024)]
    argon2_m_kib: u32,
    /// Argon2id iterations.
    #[arg(long, default_value_t = 2)]
    argon2_t: u32,
    /// Argon2id parallelism.
    #[arg(long, default_value_t = 1)]
    argon2_p: u32,
    /// Argon2 hashes at once (default: the number of CPUs).
    #[arg(long)]
    hash_concurrency: Option<usize>,
    /// Let browser apps on this origin call the gateway (CORS; exact, e.g. https://app.example.com; repeatable).
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Serve the web demo page (the password-init flow with the web SDK) at /demo/.
    #[arg(long)]
    web_demo: bool,
    /// The suite whose key GET /public-key advertises and a fresh database's first key gets:
    /// x25519 or x25519mlkem768. Keys of every suite are accepted; GET /public-keys lists them.
    #[arg(long, value_parser = config::parse_suite, default_value = "x25519")]
    preferred_suite: scv2::Suite,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Gateway base URL (repeat: the load is spread over them, request by request).
    #[arg(long = "url", required = true)]
    urls: Vec<String>,
    /// The store, where `--mode init` creates its registrations.
    #[arg(long)]
    db: Option<String>,
    /// init (password inits on an open session), close, or session (opens).
    #[arg(long, default_value = "init")]
    mode: scv2_gateway::bench::Mode,
    /// Concurrent workers (each its own client address).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Registrations created for `--mode init`.
    #[arg(long, default_value_t = 20_000)]
    registrations: usize,
    /// Gateway pid whose CPU time is measured (repeat).
    #[arg(long = "pid")]
    pids: Vec<u32>,
    /// Gateway metrics base URL, e.g. http://127.0.0.1:9100 (repeat).
    #[arg(long = "metrics")]
    metrics: Vec<String>,
    /// PostgreSQL URL whose pg_stat_database.xact_commit is read before and after.
    #[arg(long)]
    pg_stats: Option<String>,
    /// A label for the output line.
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Subcommand)]
enum RegistrationCmd {
    /// Create a pending registration; prints the init session id as the last line.
    Add {
        /// Database: a SQLite file or a postgres:// URL.
        #[arg(long)]
        db: String,
        /// Email.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Validity of the init session id, seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl_secs: u64,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Add a server key to the database (sealed under the storage key with PostgreSQL). Every
    /// gateway on it loads it within --key-refresh-secs and accepts it at once; it is advertised
    /// from --activate-in-secs on (so every gateway accepts it before any advertises it).
    Add {
        /// Database: a SQLite file or a postgres:// URL.
        #[arg(long)]
        db: String,
        /// Key id (default: k-YYYY-MM-DD-xxxxxx).
        #[arg(long)]
        key_id: Option<String>,
        /// Seconds until the key is advertised (its createdAt).
        #[arg(long, default_value_t = 2 * config::DEFAULT_KEY_REFRESH_SECS)]
        activate_in_secs: u64,
        /// Seconds until the key expires (default: never).
        #[arg(long)]
        expires_in_secs: Option<u64>,
        /// File holding the storage key (else SCV2_STORAGE_KEY); PostgreSQL only.
        #[arg(long)]
        storage_key_file: Option<PathBuf>,
        /// Suite: x25519 or x25519mlkem768 (hybrid post-quantum).
        #[arg(long, value_parser = config::parse_suite, default_value = "x25519")]
        suite: scv2::Suite,
    },
    /// List the server keys, their suites, and which key of each suite is advertised.
    List {
        /// Database: a SQLite file or a postgres:// URL.
        #[arg(long)]
        db: String,
    },
    /// Retire a key: from --in-secs on it is neither advertised nor accepted for new sessions
    /// (open sessions go on). Refuses to retire the last unexpired key unless --force.
    Retire {
        /// Database: a SQLite file or a postgres:// URL.
        #[arg(long)]
        db: String,
        /// The key.
        #[arg(long)]
        key_id: String,
        /// Seconds from now.
        #[arg(long, default_value_t = 0)]
        in_secs: u64,
        /// Retire it even if no other key would be left.
        #[arg(long)]
        force: bool,
    },
}

#[derive(clap::Args)]
struct CallArgs {
    /// Base URL of the gateway.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The pinned server public key (the `publicKey` of `scv2 keygen`: base64 SPKI for x25519,
    /// standard base64 of ek_s || S for x25519mlkem768). Without it, the key of --suite listed
    /// by GET /public-keys is used unchecked (trust on first use: for tests only).
    #[arg(long)]
    pin: Option<String>,
    /// Key id of the pin (default: the keyId the gateway lists for --suite, which must then
    /// match the pin).
    #[arg(long)]
    key_id: Option<String>,
    /// The suite of the pin: x25519 or x25519mlkem768 (the suite comes from the pin, never
    /// from the server's document).
    #[arg(long, value_parser = config::parse_suite, default_value = "x25519")]
    suite: scv2::Suite,
    /// X-Client-Hash.
    #[arg(long, default_value = "scv2-cli")]
    client_hash: String,
    /// Accept-Language.
    #[arg(long)]
    lang: Option<String>,
    /// Send the Cloudflare simulation headers (CF-Connecting-IP: 127.0.0.1, Cf-Ray, cf-ipcountry).
    #[arg(long)]
    test_env: bool,
    /// Send envelopes in the web form `{"v":2,"p":…}`.
    #[arg(long)]
    web_form: bool,
    /// HTTP method.
    method: String,
    /// Path, e.g. /web/v1/system/auth/password/init.
    path: String,
    /// The JSON body to encrypt, inline (`-`: read it from stdin). A body with a password
    /// belongs in --json-file or stdin: command lines are visible to other local users.
    #[arg(
        long,
        conflicts_with = "json_file",
        required_unless_present = "json_file"
    )]
    json: Option<String>,
    /// Read the JSON body to encrypt from this file.
    #[arg(long)]
    json_file: Option<PathBuf>,
}

fn init_logs(level: tracing::Level, json: bool) {
    let b = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

fn parse_storage_key(text: &str, from: &str) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let t = text.trim();
    if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("{from} must hold 64 hex characters");
    }
    let mut k = Zeroizing::new([0u8; 32]);
    for (i, slot) in k.iter_mut().enumerate() {
        *slot = u8::from_str_radix(t.get(2 * i..2 * i + 2).unwrap_or("00"), 16)?;
    }
    Ok(k)
}

/// The external storage key: `--storage-key-file` (0600, owned by us) or `SCV2_STORAGE_KEY`.
fn external_storage_key(file: Option<&Path>) -> anyhow::Result<Option<Zeroizing<[u8; 32]>>> {
    if let Some(f) = file {
        if std::env::var_os("SCV2_STORAGE_KEY").is_some() {
            bail!("give the storage key either in SCV2_STORAGE_KEY or with --storage-key-file, not both");
        }
        scv2_gateway::files::check_private(f, "storage key file")?;
        let text = Zeroizing::new(
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
        );
        return parse_storage_key(&text, &format!("storage key file {}", f.display())).map(Some);
    }
    match std::env::var("SCV2_STORAGE_KEY") {
        Ok(v) => parse_storage_key(&Zeroizing::new(v), "SCV2_STORAGE_KEY").map(Some),
        Err(_) => Ok(None),
    }
}

async fn serve(a: ServeArgs, routes: RoutesConfig) -> anyhow::Result<()> {
    let mut cfg = GatewayConfig::new(a.listen, Database::parse(&a.db));
    cfg.pg = PgSettings {
        pool_size: a.db_pool_size.max(2),
        statement_timeout: std::time::Duration::from_millis(a.db_statement_timeout_ms.max(1)),
    };
    cfg.sweep_interval = std::time::Duration::from_secs(a.sweep_interval_secs.max(1));
    cfg.key_refresh = std::time::Duration::from_secs(a.key_refresh_secs.max(1));
    cfg.metrics_listen = a.metrics_listen;
    cfg.routes = routes;
    cfg.key_files = a.key_files;
    cfg.storage_key = if a.check {
        None
    } else {
        external_storage_key(a.storage_key_file.as_deref())?
    };
    cfg.require_external_keys = a.require_external_keys;
    cfg.trusted_proxies = a.trust_proxy;
    cfg.test_env = a.test_env;
    cfg.session_ttl_ms = a.session_ttl_secs.saturating_mul(1000);
    cfg.max_sessions = a.max_sessions;
    cfg.max_sessions_per_ip = a.max_sessions_per_ip;
    cfg.limits = LimitsConfig {
        session_create: RateSpec::per_secs(a.session_rate_per_min, 60),
        init_per_client: RateSpec::per_secs(a.init_rate_per_client, a.init_window_secs),
        init_per_ip: RateSpec::per_secs(a.init_rate_per_ip, a.init_window_secs),
        init_per_session: RateSpec::per_secs(a.init_rate_per_session, a.init_window_secs),
        token_failures: RateSpec::per_secs(a.token_failures_per_hour, 3600),
        max_entries: a.max_limiter_entries,
    };
    let secs = std::time::Duration::from_secs;
    cfg.timeouts = Timeouts {
        header: secs(a.header_timeout_secs.max(1)),
        body: secs(a.body_timeout_secs.max(1)),
        idle: secs(a.idle_timeout_secs.max(1)),
        request: secs(a.request_timeout_secs.max(1)),
    };
    cfg.max_connections = a.max_connections;
    cfg.max_connections_per_ip = a.max_connections_per_ip;
    cfg.max_body = a.max_body_bytes;
    cfg.argon2 = Argon2Params {
        m_kib: a.argon2_m_kib,
        t: a.argon2_t,
        p: a.argon2_p,
    };
    if let Some(n) = a.hash_concurrency {
        cfg.hash_concurrency = n;
    }
    (cfg.cors_origins, cfg.web_demo) = (a.cors_origins, a.web_demo);
    cfg.preferred_suite = a.preferred_suite;
    if a.check {
        cfg.routes.validate(&cfg)?;
        for o in &cfg.cors_origins {
            scv2_gateway::cors::check_origin(o)?;
        }
        println!(
            "configuration ok: listen {}, database {}, {} route(s){}",
            cfg.listen,
            cfg.db.display(),
            cfg.routes.routes.len(),
            cfg.routes
                .upstream
                .as_ref()
                .map(|u| format!(" to {}", u.url))
                .unwrap_or_default()
        );
        return Ok(());
    }
    let gw = scv2_gateway::start(cfg).await?;
    let doc = gw.public_key();
    tracing::info!(url = %gw.url(), key_id = %doc.key_id, suite = %doc.algorithm, public_key = %doc.public_key, "scv2 gateway ready");
    if let Some(m) = gw.metrics_addr() {
        eprintln!("scv2 metrics on http://{m}/metrics");
    }
    eprintln!(
        "scv2 gateway on {} — keyId {} ({}) publicKey {}",
        gw.url(),
        doc.key_id,
        doc.algorithm,
        doc.public_key
    );
    if a.web_demo {
        eprintln!(
            "web demo: {}{}?sid=<init session id>",
            gw.url(),
            scv2_gateway::webdemo::PATH
        );
    }
    gw.run_until_signal().await
}

fn keygen(
    suite: scv2::Suite,
    key_id: &str,
    out: &Path,
    expires: Option<u64>,
) -> anyhow::Result<()> {
    let now = system_now_ms();
    let key = scv2::ServerKey::generate_with_suite(suite, key_id, now, expires, &mut scv2::OsRng)
        .map_err(|e| anyhow::anyhow!("key: {e}"))?;
    scv2_gateway::keyfile::write(out, &key)?;
    let doc = scv2_gateway::keyfile::document_json(&key.document());
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

/// Open the store `db` for an admin command (no lock: `serve` may be running on it).
async fn admin_store(db: &str, storage_key_file: Option<&Path>) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match Database::parse(db) {
        Database::Sqlite(path) => Arc::new(SqliteStore::open(&path)?),
        Database::Postgres(url) => {
            let opts = PgOptions {
                pool_size: 2,
                storage_key: external_storage_key(storage_key_file)?,
                ..PgOptions::default()
            };
            Arc::new(PgStore::connect(&url, opts).await?)
        }
    })
}

async fn registration_add(db: &str, email: &str, name: &str, ttl_secs: u64) -> anyhow::Result<()> {
    let email = email.trim();
    if email.len() > 254 || !email.contains('@') || email.chars().any(char::is_whitespace) {
        bail!("--email does not look like an email address");
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        bail!("--name must be 1–100 characters");
    }
    let store = admin_store(db, None).await?;
    let token = Zeroizing::new(scv2_gateway::util::new_token()?);
    let now = system_now_ms();
    let reg = store
        .add_registration(
            TokenHash::of(&token),
            email,
            name,
            now,
            ttl_secs.saturating_mul(1000),
        )
        .await?;
    println!(
        "registration for {} ({}) created; valid until {}",
        reg.email,
        reg.name,
        rfc3339(reg.expires_at_ms)
    );
    println!("init session id (shown once; the database keeps only its SHA-256):");
    println!("{}", token.as_str());
    Ok(())
}

/// Every stored key, without its private key.
async fn key_list_of(db: &str) -> anyhow::Result<Vec<KeyInfo>> {
    Ok(match Database::parse(db) {
        Database::Sqlite(path) => SqliteStore::open(&path)?
            .server_keys_sync()?
            .into_iter()
            .map(|k| KeyInfo {
                key_id: k.key_id.clone(),
                suite: k.suite,
                created_at_ms: k.created_at_ms,
                expires_at_ms: k.expires_at_ms,
            })
            .collect(),
        Database::Postgres(url) => {
            let opts = PgOptions {
                pool_size: 2,
                ..PgOptions::default()
            };
            PgStore::connect(&url, opts).await?.key_list().await?
        }
    })
}

async fn keys(cmd: KeysCmd) -> anyhow::Result<()> {
    let now = system_now_ms();
    match cmd {
        KeysCmd::Add {
            db,
            key_id,
            activate_in_secs,
            expires_in_secs,
            storage_key_file,
            suite,
        } => {
            let store = admin_store(&db, storage_key_file.as_deref()).await?;
            let key_id = match key_id {
                Some(k) => k,
                None => format!(
                    "k-{}-{}",
                    rfc3339(now).get(..10).unwrap_or("0000-00-00"),
                    scv2_gateway::util::hex(&scv2_gateway::util::random_bytes::<3>()?)
                ),
            };
            let created = now.saturating_add(activate_in_secs.saturating_mul(1000));
            let expires = expires_in_secs.map(|s| now.saturating_add(s.saturating_mul(1000)));
            let key = scv2::ServerKey::generate_with_suite(
                suite,
                &key_id,
                created,
                expires,
                &mut scv2::OsRng,
            )
            .map_err(|e| anyhow::anyhow!("key: {e}"))?;
            store.insert_server_key(StoredKey::of(&key)).await?;
            eprintln!(
                "added {key_id} ({suite}): accepted by every gateway within its --key-refresh-secs, \
                 advertised from {}",
                rfc3339(created)
            );
            let doc = scv2_gateway::keyfile::document_json(&key.document());
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        KeysCmd::List { db } => {
            let list = key_list_of(&db).await?;
            // The key each suite advertises (GET /public-key shows that of --preferred-suite;
            // GET /public-keys lists every live one).
            let advertised: Vec<&str> = scv2::Suite::ALL
                .into_iter()
                .filter_map(|suite| {
                    list.iter()
                        .filter(|k| {
                            k.suite == suite
                                && k.created_at_ms <= now
                                && k.expires_at_ms.is_none_or(|e| e > now)
                        })
                        .max_by_key(|k| k.created_at_ms)
                        .map(|k| k.key_id.as_str())
                })
                .collect();
            println!(
                "{:<32} {:<16} {:<24} {:<24} state",
                "keyId", "suite", "createdAt", "expiresAt"
            );
            for k in &list {
                let state = if k.expires_at_ms.is_some_and(|e| e <= now) {
                    "retired"
                } else if advertised.contains(&k.key_id.as_str()) {
                    "advertised"
                } else if k.created_at_ms > now {
                    "next (accepted, not yet advertised)"
                } else {
                    "accepted"
                };
                println!(
                    "{:<32} {:<16} {:<24} {:<24} {state}",
                    k.key_id,
                    config::suite_short_name(k.suite),
                    rfc3339(k.created_at_ms),
                    k.expires_at_ms.map_or("never".to_owned(), rfc3339)
                );
            }
        }
        KeysCmd::Retire {
            db,
            key_id,
            in_secs,
            force,
        } => {
            let at = now.saturating_add(in_secs.saturating_mul(1000));
            let list = key_list_of(&db).await?;
            let others = list
                .iter()
                .filter(|k| k.key_id != key_id && k.expires_at_ms.is_none_or(|e| e > at))
                .count();
            if others == 0 && !force {
                bail!(
                    "{key_id} is the last key that would be left: add one first (scv2 keys add), \
                     or give --force"
                );
            }
            let store = admin_store(&db, None).await?;
            if !store.expire_server_key(&key_id, at).await? {
                bail!("no key {key_id} in the database");
            }
            if let Some(k) = list.iter().find(|k| k.key_id == key_id) {
                let same_suite = list
                    .iter()
                    .filter(|o| {
                        o.key_id != key_id
                            && o.suite == k.suite
                            && o.expires_at_ms.is_none_or(|e| e > at)
                    })
                    .count();
                if same_suite == 0 {
                    eprintln!(
                        "warning: {key_id} was the last {} key: apps that pin only that suite \
                         cannot open sessions any more",
                        k.suite
                    );
                }
            }
            eprintln!(
                "{key_id} retired from {}: every gateway stops using it for new sessions within \
                 its --key-refresh-secs after that",
                rfc3339(at)
            );
        }
    }
    Ok(())
}

/// The body of `scv2 call`: `--json-file`, `--json -` (stdin), or inline `--json` (with a
/// warning when it holds a password: argv is readable in /proc by every local user).
fn call_body(a: &CallArgs) -> anyhow::Result<Zeroizing<String>> {
    let text = match (&a.json, &a.json_file) {
        (_, Some(f)) => Zeroizing::new(
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
        ),
        (Some(j), None) if j == "-" => {
            let mut s = Zeroizing::new(String::new());
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the JSON body from stdin")?;
            s
        }
        (Some(j), None) => {
            let v: Option<serde_json::Value> = serde_json::from_str(j).ok();
            if v.as_ref().is_some_and(has_password) {
                eprintln!(
                    "warning: --json holds a password, and command lines are visible to every \
                     local user (ps, /proc/PID/cmdline) and land in shell history; use \
                     --json-file PATH or --json - (stdin)"
                );
            }
            Zeroizing::new(j.clone())
        }
        (None, None) => bail!("give the body with --json, --json - or --json-file"),
    };
    serde_json::from_str::<serde::de::IgnoredAny>(&text).context("the body is not JSON")?;
    Ok(text)
}

fn has_password(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .any(|(k, v)| k.to_ascii_lowercase().contains("password") || has_password(v)),
        serde_json::Value::Array(a) => a.iter().any(has_password),
        _ => false,
    }
}

async fn call(a: CallArgs) -> anyhow::Result<ExitCode> {
    let json = call_body(&a)?;
    let mut opts = ClientOptions::new(&a.url);
    opts.client_hash = a.client_hash;
    opts.lang = a.lang;
    opts.web_form = a.web_form;
    if a.test_env {
        opts.cf_ip = Some("127.0.0.1".into());
    }
    let mut client = ScClient::new(opts)?;
    let suite = a.suite;
    // The documents the gateway lists for the pin's suite, newest first.
    let listed: Vec<serde_json::Value> = client
        .public_keys()
        .await?
        .into_iter()
        .filter(|d| d.get("algorithm").and_then(|v| v.as_str()) == Some(suite.name()))
        .collect();
    let doc_id = |d: &serde_json::Value| {
        d.get("keyId")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let key_id = match (&a.key_id, listed.first()) {
        (Some(k), _) => k.clone(),
        (None, Some(d)) => doc_id(d),
        (None, None) => bail!("the gateway lists no key of {suite} (GET /public-keys)"),
    };
    let doc = listed.iter().find(|d| doc_id(d) == key_id);
    match (&a.pin, doc) {
        (Some(pin), Some(doc)) => {
            client.pin_with_suite(&key_id, suite, pin)?;
            client.check_document(doc)?;
            eprintln!("server key {key_id} ({suite}) matches the pin");
        }
        (Some(pin), None) => {
            client.pin_with_suite(&key_id, suite, pin)?;
            eprintln!("the gateway does not list {key_id} for {suite}; using the pinned key");
        }
        (None, Some(doc)) => {
            let public = doc
                .get("publicKey")
                .and_then(|v| v.as_str())
                .context("publicKey")?;
            client.pin_with_suite(&key_id, suite, public)?;
            eprintln!(
                "warning: no --pin: trusting the key the gateway lists, {key_id} ({suite}), \
                 unchecked (first use); give --pin for a call that detects a substituted key"
            );
        }
        (None, None) => bail!("the gateway lists no key {key_id} of {suite}: give --pin"),
    }
    let session = client.open_session(&key_id).await?;
    eprintln!(
        "session {} open until {}",
        session.session_id(),
        rfc3339(session.expires_at_ms())
    );
    let method = a.method.to_ascii_uppercase();
    let r = client
        .call(&session, &method, &a.path, json.as_bytes())
        .await?;
    println!(
        "HTTP {} ({})",
        r.status,
        if r.encrypted {
            "type-129 envelope, decrypted"
        } else {
            "plaintext gateway answer, not encrypted"
        }
    );
    println!("{}", serde_json::to_string_pretty(&r.body)?);
    let _ = client.close(&session).await;
    Ok(
        if r.encrypted && r.body.get("success") == Some(&serde_json::Value::Bool(true)) {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        },
    )
}

fn inspect(input: &str, suite: Option<scv2::Suite>) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    if input == "-" {
        std::io::stdin().read_to_end(&mut bytes)?;
    } else {
        bytes = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    }
    let text = scv2_gateway::inspect::describe_as(&bytes, suite)
        .map_err(|e| anyhow::anyhow!("not an SCv2 envelope: {e} ({})", e.name()))?;
    print!("{text}");
    Ok(())
}

fn main() -> ExitCode {
    // Everything this process creates (database, WAL, lock, key files) is private to its user.
    scv2_gateway::files::private_umask();
    // `serve --config FILE`: the file's settings become flags (conflicts refused).
    let (args, routes) = match config_file::expand(&Cli::command(), std::env::args_os().collect()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let cli = Cli::parse_from(args);
    let default_level = match cli.cmd {
        Cmd::Serve(_) => tracing::Level::INFO,
        _ => tracing::Level::WARN,
    };
    init_logs(cli.log_level.unwrap_or(default_level), cli.log_json);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<ExitCode> = rt.block_on(async {
        match cli.cmd {
            Cmd::Serve(a) => serve(a, routes).await.map(|_| ExitCode::SUCCESS),
            Cmd::Keygen {
                key_id,
                out,
                expires_at_ms,
                suite,
            } => keygen(suite, &key_id, &out, expires_at_ms).map(|_| ExitCode::SUCCESS),
            Cmd::Registration {
                cmd:
                    RegistrationCmd::Add {
                        db,
                        email,
                        name,
                        ttl_secs,
                    },
            } => registration_add(&db, &email, &name, ttl_secs)
                .await
                .map(|_| ExitCode::SUCCESS),
            Cmd::Keys { cmd } => keys(cmd).await.map(|_| ExitCode::SUCCESS),
            Cmd::Bench(a) => scv2_gateway::bench::run(scv2_gateway::bench::BenchConfig {
                urls: a.urls,
                db: a.db,
                mode: a.mode,
                concurrency: a.concurrency,
                duration: std::time::Duration::from_secs(a.duration_secs.clamp(1, 600)),
                registrations: a.registrations,
                pids: a.pids,
                metrics: a.metrics,
                pg_stats: a.pg_stats,
                label: a.label,
            })
            .await
            .map(|_| ExitCode::SUCCESS),
            Cmd::Call(a) => call(a).await,
            Cmd::Inspect { input, suite } => inspect(&input, suite).map(|_| ExitCode::SUCCESS),
            Cmd::Demo { browser: false } => {
                scv2_gateway::demo::run().await.map(|_| ExitCode::SUCCESS)
            }
            Cmd::Demo { browser: true } => scv2_gateway::webdemo::run_browser()
                .await
                .map(|_| ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
