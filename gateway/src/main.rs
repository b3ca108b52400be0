//! `scv2`: the reference gateway server and its tools.

#![forbid(unsafe_code)]

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use scv2_gateway::clock::{rfc3339, system_now_ms};
use scv2_gateway::password::Argon2Params;
use scv2_gateway::ratelimit::RateSpec;
use scv2_gateway::store::Store;
use scv2_gateway::{ClientOptions, GatewayConfig, ScClient};
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
    },
    /// Registrations (admin).
    Registration {
        #[command(subcommand)]
        cmd: RegistrationCmd,
    },
    /// Call an SCv2 endpoint: fetch and check the key, open a session, send, decrypt.
    Call(CallArgs),
    /// Decode an envelope's header (file or `-` for stdin; raw binary or web form).
    Inspect {
        /// File, or `-`.
        input: String,
    },
    /// Start a server on a free loopback port with a temporary database and run the whole flow.
    Demo {
        /// Instead, serve the web demo page and print its link (the flow runs in a browser).
        #[arg(long)]
        browser: bool,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// SQLite database (created if missing).
    #[arg(long, default_value = "scv2.sqlite")]
    db: PathBuf,
    /// Server key file(s) from `scv2 keygen` (repeat for rotation).
    #[arg(long = "key-file")]
    key_files: Vec<PathBuf>,
    /// Cloudflare simulation: client IP from CF-Connecting-IP; Cf-Ray and cf-ipcountry required.
    #[arg(long)]
    test_env: bool,
    /// Secure-channel session lifetime, seconds.
    #[arg(long, default_value_t = 1800)]
    session_ttl_secs: u64,
    /// Session creations allowed per client IP per minute.
    #[arg(long, default_value_t = 60)]
    session_rate_per_min: u32,
    /// Argon2id memory, KiB.
    #[arg(long, default_value_t = 19 * 1024)]
    argon2_m_kib: u32,
    /// Argon2id iterations.
    #[arg(long, default_value_t = 2)]
    argon2_t: u32,
    /// Argon2id parallelism.
    #[arg(long, default_value_t = 1)]
    argon2_p: u32,
    /// Let browser apps on this origin call the gateway (CORS; exact, e.g. https://app.example.com; repeatable).
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Serve the web demo page (the password-init flow with the web SDK) at /demo/.
    #[arg(long)]
    web_demo: bool,
}

#[derive(Subcommand)]
enum RegistrationCmd {
    /// Create a pending registration; prints the init session id as the last line.
    Add {
        /// Database.
        #[arg(long)]
        db: PathBuf,
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

#[derive(clap::Args)]
struct CallArgs {
    /// Base URL of the gateway.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The pinned server public key (base64 SPKI, the `publicKey` of `scv2 keygen`).
    #[arg(long)]
    pin: String,
    /// Key id of the pin (default: the advertised keyId, which must then match the pin).
    #[arg(long)]
    key_id: Option<String>,
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
    /// The JSON body to encrypt.
    #[arg(long)]
    json: String,
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

fn storage_key_from_env() -> anyhow::Result<Option<Zeroizing<[u8; 32]>>> {
    let Ok(v) = std::env::var("SCV2_STORAGE_KEY") else {
        return Ok(None);
    };
    let v = Zeroizing::new(v);
    let t = v.trim();
    if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("SCV2_STORAGE_KEY must be 64 hex characters");
    }
    let mut k = Zeroizing::new([0u8; 32]);
    for (i, slot) in k.iter_mut().enumerate() {
        *slot = u8::from_str_radix(t.get(2 * i..2 * i + 2).unwrap_or("00"), 16)?;
    }
    Ok(Some(k))
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let mut cfg = GatewayConfig::new(a.listen, a.db);
    cfg.key_files = a.key_files;
    cfg.test_env = a.test_env;
    cfg.session_ttl_ms = a.session_ttl_secs.saturating_mul(1000);
    cfg.session_rate = RateSpec {
        limit: a.session_rate_per_min,
        window_ms: 60_000,
    };
    cfg.argon2 = Argon2Params {
        m_kib: a.argon2_m_kib,
        t: a.argon2_t,
        p: a.argon2_p,
    };
    cfg.storage_key = storage_key_from_env()?;
    (cfg.cors_origins, cfg.web_demo) = (a.cors_origins, a.web_demo);
    let gw = scv2_gateway::start(cfg).await?;
    let doc = gw.public_key();
    tracing::info!(url = %gw.url(), key_id = %doc.key_id, public_key = %doc.public_key, "scv2 gateway ready");
    eprintln!(
        "scv2 gateway on {} — keyId {} publicKey {}",
        gw.url(),
        doc.key_id,
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

fn keygen(key_id: &str, out: &Path, expires: Option<u64>) -> anyhow::Result<()> {
    let now = system_now_ms();
    let key = scv2::ServerKey::generate(key_id, now, expires, &mut scv2::OsRng)
        .map_err(|e| anyhow::anyhow!("key: {e}"))?;
    scv2_gateway::keyfile::write(out, &key)?;
    let doc = scv2_gateway::keyfile::document_json(&key.document());
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

fn registration_add(db: &Path, email: &str, name: &str, ttl_secs: u64) -> anyhow::Result<()> {
    let email = email.trim();
    if email.len() > 254 || !email.contains('@') || email.chars().any(char::is_whitespace) {
        bail!("--email does not look like an email address");
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        bail!("--name must be 1–100 characters");
    }
    let store = Store::open(db)?;
    let token = scv2_gateway::server::new_token()?;
    let now = system_now_ms();
    let reg = store.add_registration(&token, email, name, now, ttl_secs.saturating_mul(1000))?;
    println!(
        "registration for {} ({}) created; valid until {}",
        reg.email,
        reg.name,
        rfc3339(reg.expires_at_ms)
    );
    println!("init session id:");
    println!("{}", reg.token);
    Ok(())
}

async fn call(a: CallArgs) -> anyhow::Result<ExitCode> {
    let mut opts = ClientOptions::new(&a.url);
    opts.client_hash = a.client_hash;
    opts.lang = a.lang;
    opts.web_form = a.web_form;
    if a.test_env {
        opts.cf_ip = Some("127.0.0.1".into());
    }
    let mut client = ScClient::new(opts)?;
    let doc = client.public_key().await?;
    let advertised = doc
        .get("keyId")
        .and_then(|v| v.as_str())
        .context("keyId")?
        .to_owned();
    let key_id = a.key_id.unwrap_or_else(|| advertised.clone());
    client.pin(&key_id, &a.pin)?;
    if key_id == advertised {
        client.check_document(&doc)?;
        eprintln!("server key {key_id} matches the pin");
    } else {
        eprintln!("server advertises {advertised}; using the pinned key {key_id}");
    }
    let session = client.open_session(&key_id).await?;
    eprintln!(
        "session {} open until {}",
        session.session_id(),
        rfc3339(session.expires_at_ms())
    );
    serde_json::from_str::<serde_json::Value>(&a.json).context("--json is not JSON")?;
    let method = a.method.to_ascii_uppercase();
    let r = client
        .call(&session, &method, &a.path, a.json.as_bytes())
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

fn inspect(input: &str) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    if input == "-" {
        std::io::stdin().read_to_end(&mut bytes)?;
    } else {
        bytes = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    }
    let text = scv2_gateway::inspect::describe(&bytes)
        .map_err(|e| anyhow::anyhow!("not an SCv2 envelope: {e} ({})", e.name()))?;
    print!("{text}");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
            Cmd::Serve(a) => serve(a).await.map(|_| ExitCode::SUCCESS),
            Cmd::Keygen {
                key_id,
                out,
                expires_at_ms,
            } => keygen(&key_id, &out, expires_at_ms).map(|_| ExitCode::SUCCESS),
            Cmd::Registration {
                cmd:
                    RegistrationCmd::Add {
                        db,
                        email,
                        name,
                        ttl_secs,
                    },
            } => registration_add(&db, &email, &name, ttl_secs).map(|_| ExitCode::SUCCESS),
            Cmd::Call(a) => call(a).await,
            Cmd::Inspect { input } => inspect(&input).map(|_| ExitCode::SUCCESS),
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
