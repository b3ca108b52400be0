//! The configuration file of `scv2 serve --config FILE` (TOML).
//!
//! - Every top-level key is a `scv2 serve` flag under its long name with `_` for `-`
//!   (`max_body_bytes = 65536` is `--max-body-bytes 65536`; repeatable flags take arrays,
//!   `trust_proxy = ["10.0.0.0/8"]`; switches take booleans, `test_env = true`). The flags are
//!   read from `scv2 serve`'s own definition, so every flag, present and future, can be set
//!   here, and each value is checked by the same parser as on the command line.
//! - `[upstream]`, `[[route]]` and `[builtin]` configure proxy mode ([`crate::routes`]).
//! - A key that is neither is an error naming it, and so is a key of those tables that they
//!   do not define: a typo never silently leaves a limit at its default.
//! - A setting given both in the file and as a flag on the command line is an error naming
//!   both (nothing is silently overridden, in either direction).
//! - Relative paths are relative to the working directory, as on the command line.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use axum::http::{HeaderName, Method};
use clap::parser::ValueSource;
use clap::{ArgAction, Command};
use serde::Deserialize;

use crate::ratelimit::RateSpec;
use crate::routes::{
    LimitKey, MethodMatch, PathMatch, RouteConfig, RouteLimit, RoutesConfig, UpstreamConfig,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpstreamToml {
    url: String,
    connect_timeout_ms: Option<u64>,
    response_timeout_ms: Option<u64>,
    max_response_bytes: Option<usize>,
    pool_size: Option<usize>,
    response_headers: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteToml {
    method: String,
    path: String,
    secure: bool,
    #[serde(default)]
    rate_limit: Vec<LimitToml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum LimitKeyToml {
    Client,
    Session,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitToml {
    key: LimitKeyToml,
    limit: u32,
    window_secs: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BuiltinToml {
    password_init: Option<bool>,
}

/// One flag set in the file.
#[derive(Clone, PartialEq, Eq)]
pub struct FileFlag {
    /// The key as written.
    pub key: String,
    /// The clap id of the flag.
    pub id: String,
    /// The flag's long name.
    pub long: String,
    /// The command-line tokens that give the same setting.
    pub tokens: Vec<OsString>,
}

/// The flag, not its value (a `db` URL may hold a password).
impl std::fmt::Debug for FileFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileFlag")
            .field("key", &self.key)
            .field("long", &self.long)
            .finish_non_exhaustive()
    }
}

/// What a configuration file says.
#[derive(Debug, Clone, Default)]
pub struct FileConfig {
    /// The flags it sets.
    pub flags: Vec<FileFlag>,
    /// Proxy mode.
    pub routes: RoutesConfig,
}

fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

fn flag_tokens(serve: &Command, key: &str, v: &toml::Value) -> anyhow::Result<FileFlag> {
    let long = key.replace('_', "-");
    let arg = serve
        .get_arguments()
        .find(|a| {
            a.get_long() == Some(long.as_str()) && !matches!(long.as_str(), "config" | "help")
        })
        .ok_or_else(|| {
            anyhow!(
                "unknown key `{key}` (neither a `scv2 serve` flag, see `scv2 serve --help`, nor \
                 one of the tables [upstream], [[route]], [builtin])"
            )
        })?;
    let flag = format!("--{long}");
    let mut tokens: Vec<OsString> = Vec::new();
    match (arg.get_action(), v) {
        (ArgAction::SetTrue, toml::Value::Boolean(b)) => {
            if *b {
                tokens.push(flag.clone().into());
            }
        }
        (ArgAction::SetTrue, _) => bail!("key `{key}`: a switch, give true or false"),
        (ArgAction::Append, toml::Value::Array(items)) => {
            for item in items {
                let s = scalar(item).ok_or_else(|| {
                    anyhow!("key `{key}`: array items must be strings or numbers")
                })?;
                tokens.push(format!("{flag}={s}").into());
            }
        }
        (_, toml::Value::Array(_)) => bail!("key `{key}`: takes one value, not an array"),
        (_, v) => {
            let s = scalar(v).ok_or_else(|| anyhow!("key `{key}`: give a string or a number"))?;
            tokens.push(format!("{flag}={s}").into());
        }
    }
    // The same parser as the command line, on this key alone.
    if let Err(e) = serve
        .clone()
        .no_binary_name(true)
        .try_get_matches_from(tokens.iter())
    {
        let text = e.render().to_string();
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ");
        bail!("key `{key}`: {first}");
    }
    Ok(FileFlag {
        key: key.to_owned(),
        id: arg.get_id().as_str().to_owned(),
        long,
        tokens,
    })
}

fn method_of(m: &str) -> anyhow::Result<MethodMatch> {
    if m == "*" {
        return Ok(MethodMatch::Any);
    }
    if m.is_empty() || m.len() > 32 || !m.bytes().all(|b| b.is_ascii_uppercase()) {
        bail!("method {m:?}: an uppercase method (GET, POST, PUT, PATCH, DELETE, …) or \"*\"");
    }
    Ok(MethodMatch::Exact(
        Method::from_bytes(m.as_bytes()).map_err(|_| anyhow!("method {m:?}"))?,
    ))
}

fn routes_of(
    upstream: Option<toml::Value>,
    route: Option<toml::Value>,
    builtin: Option<toml::Value>,
) -> anyhow::Result<RoutesConfig> {
    let mut rc = RoutesConfig::default();
    if let Some(v) = builtin {
        let b: BuiltinToml = v.try_into().context("[builtin]")?;
        if let Some(p) = b.password_init {
            rc.password_init = p;
        }
    }
    if let Some(v) = upstream {
        let u: UpstreamToml = v.try_into().context("[upstream]")?;
        let mut up = UpstreamConfig::new(&u.url);
        if let Some(ms) = u.connect_timeout_ms {
            up.connect_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = u.response_timeout_ms {
            up.response_timeout = Duration::from_millis(ms);
        }
        if let Some(n) = u.max_response_bytes {
            up.max_response_bytes = n;
        }
        if let Some(n) = u.pool_size {
            up.pool_size = n;
        }
        if let Some(list) = u.response_headers {
            up.response_headers = list
                .iter()
                .map(|h| {
                    HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()).map_err(|_| {
                        anyhow!("[upstream] response_headers: {h:?} is not a header name")
                    })
                })
                .collect::<anyhow::Result<_>>()?;
        }
        rc.upstream = Some(up);
    }
    if let Some(v) = route {
        let list: Vec<RouteToml> = v.try_into().context("[[route]]")?;
        for (i, r) in list.into_iter().enumerate() {
            let at = || format!("[[route]] #{} ({} {})", i + 1, r.method, r.path);
            let method = method_of(&r.method).with_context(at)?;
            let path = PathMatch::parse(&r.path).with_context(at)?;
            let limits = r
                .rate_limit
                .iter()
                .map(|l| RouteLimit {
                    key: match l.key {
                        LimitKeyToml::Client => LimitKey::Client,
                        LimitKeyToml::Session => LimitKey::Session,
                    },
                    spec: RateSpec::per_secs(l.limit, l.window_secs),
                })
                .collect();
            rc.routes.push(RouteConfig {
                method,
                path,
                secure: r.secure,
                limits,
            });
        }
    }
    Ok(rc)
}

/// Parse a configuration file's text; `serve` is the `scv2 serve` command (its flags).
pub fn parse(text: &str, serve: &Command) -> anyhow::Result<FileConfig> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| anyhow!("{e}"))?;
    let upstream = table.remove("upstream");
    let route = table.remove("route");
    let builtin = table.remove("builtin");
    let routes = routes_of(upstream, route, builtin)?;
    let mut flags = Vec::new();
    for (key, v) in &table {
        if v.is_table() {
            bail!("unknown table [{key}] (the tables are [upstream], [[route]], [builtin])");
        }
        flags.push(flag_tokens(serve, key, v)?);
    }
    Ok(FileConfig { flags, routes })
}

/// Read and parse the file at `path`.
pub fn load(path: &Path, serve: &Command) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    parse(&text, serve).with_context(|| format!("configuration file {}", path.display()))
}

/// For `scv2 serve --config FILE …`: the command line with the file's flags added (`args` is
/// the whole argv, program name first; `cli` the program's command), and the file's proxy
/// configuration. Any other command line is returned as it is (clap then reports its errors).
pub fn expand(cli: &Command, args: Vec<OsString>) -> anyhow::Result<(Vec<OsString>, RoutesConfig)> {
    let Ok(m) = cli.clone().try_get_matches_from(args.iter()) else {
        return Ok((args, RoutesConfig::default()));
    };
    let Some(sm) = m.subcommand_matches("serve") else {
        return Ok((args, RoutesConfig::default()));
    };
    let Some(path) = sm.get_one::<PathBuf>("config").cloned() else {
        return Ok((args, RoutesConfig::default()));
    };
    // Built, so that the program's global flags (`--log-level`, …) are among serve's.
    let mut built = cli.clone();
    built.build();
    let serve = built
        .find_subcommand("serve")
        .ok_or_else(|| anyhow!("no serve command"))?;
    let file = load(&path, serve)?;
    let mut out = args;
    for f in &file.flags {
        if sm.value_source(&f.id) == Some(ValueSource::CommandLine) {
            bail!(
                "`{}` is set both in {} and as --{} on the command line; set it in one place",
                f.key,
                path.display(),
                f.long
            );
        }
        out.extend(f.tokens.iter().cloned());
    }
    Ok((out, file.routes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction};

    fn serve() -> Command {
        Command::new("serve")
            .arg(
                Arg::new("listen")
                    .long("listen")
                    .default_value("127.0.0.1:8080"),
            )
            .arg(
                Arg::new("max_body_bytes")
                    .long("max-body-bytes")
                    .value_parser(clap::value_parser!(usize))
                    .default_value("65536"),
            )
            .arg(
                Arg::new("trust_proxy")
                    .long("trust-proxy")
                    .action(ArgAction::Append),
            )
            .arg(
                Arg::new("test_env")
                    .long("test-env")
                    .action(ArgAction::SetTrue),
            )
            .arg(
                Arg::new("config")
                    .long("config")
                    .value_parser(clap::value_parser!(PathBuf)),
            )
    }

    fn cli() -> Command {
        Command::new("scv2").subcommand(serve())
    }

    fn err(text: &str) -> String {
        parse(text, &serve())
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default()
    }

    #[test]
    fn flags_become_tokens() -> anyhow::Result<()> {
        let f = parse(
            "listen = \"0.0.0.0:9\"\nmax_body_bytes = 1024\ntrust_proxy = [\"10.0.0.0/8\", \"::1/128\"]\ntest_env = true\n",
            &serve(),
        )?;
        let tokens: Vec<OsString> = f.flags.iter().flat_map(|f| f.tokens.clone()).collect();
        assert_eq!(
            tokens,
            [
                "--listen=0.0.0.0:9",
                "--max-body-bytes=1024",
                "--test-env",
                "--trust-proxy=10.0.0.0/8",
                "--trust-proxy=::1/128",
            ]
            .map(OsString::from)
        );
        let f = parse("test_env = false\n", &serve())?;
        assert!(f.flags[0].tokens.is_empty());
        // Debug names the flags, never their values (a `db` URL may hold a password).
        let f = parse("listen = \"10.9.8.7:6\"\n", &serve())?;
        let text = format!("{f:?}");
        assert!(
            text.contains("listen") && !text.contains("10.9.8.7"),
            "{text}"
        );
        Ok(())
    }

    #[test]
    fn errors_name_the_key() {
        assert!(err("max_body_byte = 1\n").contains("unknown key `max_body_byte`"));
        assert!(err("max_body_bytes = \"lots\"\n").contains("key `max_body_bytes`"));
        assert!(err("max_body_bytes = -1\n").contains("key `max_body_bytes`"));
        assert!(err("test_env = 1\n").contains("switch"));
        assert!(err("listen = [\"a\"]\n").contains("not an array"));
        assert!(err("config = \"x\"\n").contains("unknown key `config`"));
        assert!(err("[upstrem]\nurl = \"x\"\n").contains("unknown table [upstrem]"));
        assert!(err("[upstream]\nurl = \"http://a\"\npool = 3\n").contains("unknown field `pool`"));
        assert!(err("[[route]]\nmethod = \"GET\"\npath = \"/h\"\n").contains("secure"));
        assert!(
            err("[[route]]\nmethod = \"GET\"\npath = \"/h\"\nsecure = false\nsecur = true\n")
                .contains("unknown field `secur`")
        );
        assert!(
            err("[[route]]\nmethod = \"post\"\npath = \"/h\"\nsecure = true\n")
                .contains("uppercase")
        );
        assert!(err(
            "[[route]]\nmethod = \"POST\"\npath = \"/h\"\nsecure = true\nrate_limit = [{ key = \"hash\", limit = 1, window_secs = 1 }]\n"
        )
        .contains("hash"));
        assert!(err(
            "[[route]]\nmethod = \"POST\"\npath = \"/h\"\nsecure = true\n[[route.rate_limit]]\nkey = \"client\"\nlimit = 1\nwindow = 1\n"
        )
        .contains("unknown field `window`"));
        assert!(err("[builtin]\npassword = false\n").contains("unknown field `password`"));
        assert!(err("not toml [").contains("TOML parse error") || !err("not toml [").is_empty());
    }

    #[test]
    fn proxy_tables() -> anyhow::Result<()> {
        let f = parse(
            r#"
[builtin]
password_init = false
[upstream]
url = "http://127.0.0.1:9000"
connect_timeout_ms = 250
response_timeout_ms = 5000
max_response_bytes = 4096
pool_size = 8
response_headers = ["Set-Cookie", "x-api-version"]
[[route]]
method = "POST"
path = "/api/login"
secure = true
rate_limit = [
    { key = "client", limit = 10, window_secs = 60 },
    { key = "session", limit = 5, window_secs = 300 },
]
[[route]]
method = "*"
path = "/*"
secure = false
[[route.rate_limit]]
key = "client"
limit = 100
window_secs = 1
"#,
            &serve(),
        )?;
        let rc = f.routes;
        assert!(!rc.password_init);
        let up = rc.upstream.ok_or_else(|| anyhow!("upstream"))?;
        assert_eq!(up.connect_timeout, Duration::from_millis(250));
        assert_eq!(up.response_timeout, Duration::from_millis(5000));
        assert_eq!((up.max_response_bytes, up.pool_size), (4096, 8));
        assert_eq!(up.response_headers, ["set-cookie", "x-api-version"]);
        assert_eq!(rc.routes.len(), 2);
        assert_eq!(rc.routes[0].limits.len(), 2);
        assert_eq!(rc.routes[0].limits[1].key, LimitKey::Session);
        assert_eq!(rc.routes[1].method, MethodMatch::Any);
        assert_eq!(rc.routes[1].path, PathMatch::Prefix(String::new()));
        assert_eq!(rc.routes[1].limits[0].spec, RateSpec::per_secs(100, 1));
        Ok(())
    }

    #[test]
    fn command_line_conflicts_are_refused() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("scv2-cfg-{}", crate::util::new_token()?));
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("scv2.toml");
        std::fs::write(&file, "max_body_bytes = 1024\ntest_env = true\n")?;
        let argv = |extra: &[&str]| {
            let mut v: Vec<OsString> = vec!["scv2".into(), "serve".into(), "--config".into()];
            v.push(file.clone().into());
            v.extend(extra.iter().map(OsString::from));
            v
        };
        let (args, _) = expand(&cli(), argv(&["--listen", "127.0.0.1:1"]))?;
        let m = cli().try_get_matches_from(args)?;
        let sm = m
            .subcommand_matches("serve")
            .ok_or_else(|| anyhow!("serve"))?;
        assert_eq!(sm.get_one::<usize>("max_body_bytes"), Some(&1024));
        assert!(sm.get_flag("test_env"));
        assert_eq!(
            sm.get_one::<String>("listen").map(String::as_str),
            Some("127.0.0.1:1")
        );
        let e = expand(&cli(), argv(&["--max-body-bytes", "9"]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("`max_body_bytes` is set both in") && e.contains("--max-body-bytes"),
            "{e}"
        );
        let e = expand(&cli(), argv(&["--test-env"]))
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("test_env")));
        // Without --config nothing changes; a missing file is an error naming it.
        let plain: Vec<OsString> = ["scv2", "serve"].map(OsString::from).to_vec();
        assert_eq!(expand(&cli(), plain.clone())?.0, plain);
        std::fs::remove_file(&file)?;
        let e = expand(&cli(), argv(&[])).err().map(|e| format!("{e:#}"));
        assert!(e.is_some_and(|e| e.contains("scv2.toml")));
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
