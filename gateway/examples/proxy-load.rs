//! Proxy mode's load generator (BENCHMARKS.md, "Proxy mode"): the same 1 KiB request made
//! directly to an upstream and through `scv2 serve --config` (a secure route), on loopback, with
//! latency percentiles, requests per second, and the gateway's CPU per proxied request (utime +
//! stime of the `scv2 serve` process from /proc/PID/stat).
//!
//! ```sh
//! cargo build --release -p scv2-gateway --bin scv2 --example proxy-load
//! target/release/examples/proxy-load --runs 5 --secs 5 --concurrency 1,16 --body 1024
//! ```
//!
//! It starts everything itself: its upstream (this program with `upstream`: a hyper HTTP/1.1
//! server that answers every request 200 with the request's body), the gateway (the `scv2`
//! binary next to this example, or `--scv2 PATH`; a temporary database on the disk of
//! `$TMPDIR` or of `--db-dir DIR`, route `POST /bench/*` secure), then for each run and concurrency: `c` workers, each
//! with its own connection (and through the gateway its own SC session, opened before timing),
//! sending requests back to back for `--secs` after a warm-up. Self-contained on purpose
//! (another load generator may live beside it; they can be merged).

use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use scv2_gateway::{ClientOptions, ScClient};

struct Args {
    runs: usize,
    secs: u64,
    concurrency: Vec<usize>,
    body: usize,
    scv2: Option<PathBuf>,
    db_dir: Option<PathBuf>,
}

fn args() -> anyhow::Result<(bool, Args)> {
    let mut a = Args {
        runs: 5,
        secs: 5,
        concurrency: vec![1, 16],
        body: 1024,
        scv2: None,
        db_dir: None,
    };
    let mut it = std::env::args().skip(1);
    let mut upstream = false;
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or_else(|| anyhow!("{k} needs a value"));
        match k.as_str() {
            "upstream" => upstream = true,
            "--runs" => a.runs = v()?.parse()?,
            "--secs" => a.secs = v()?.parse()?,
            "--body" => a.body = v()?.parse()?,
            "--scv2" => a.scv2 = Some(v()?.into()),
            "--db-dir" => a.db_dir = Some(v()?.into()),
            "--concurrency" => {
                a.concurrency = v()?
                    .split(',')
                    .map(|s| s.trim().parse())
                    .collect::<Result<_, _>>()?
            }
            other => bail!(
                "unknown argument {other} (--runs N --secs S --concurrency 1,16 --body BYTES --scv2 PATH --db-dir DIR)"
            ),
        }
    }
    Ok((upstream, a))
}

/// The upstream: 200 with the request's body, for every request.
async fn upstream() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("PORT {}", listener.local_addr()?.port());
    loop {
        let (sock, _) = listener.accept().await?;
        let _ = sock.set_nodelay(true);
        tokio::spawn(async move {
            let svc = service_fn(|req: Request<Incoming>| async move {
                let body = req
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let mut r = Response::new(Full::new(body));
                r.headers_mut().insert(
                    "content-type",
                    hyper::header::HeaderValue::from_static("application/json;charset=UTF-8"),
                );
                Ok::<_, Infallible>(r)
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(sock), svc)
                .await;
        });
    }
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_upstream() -> anyhow::Result<(Proc, String)> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("upstream")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let out = child.stdout.take().ok_or_else(|| anyhow!("stdout"))?;
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line)?;
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .ok_or_else(|| anyhow!("upstream said {line:?}"))?
        .to_owned();
    Ok((Proc(child), format!("http://127.0.0.1:{port}")))
}

struct Gateway {
    proc: Proc,
    url: String,
    key_id: String,
    public_key: String,
    dir: PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.proc.0.kill();
        let _ = self.proc.0.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn_gateway(
    bin: &PathBuf,
    upstream: &str,
    db_dir: Option<&PathBuf>,
) -> anyhow::Result<Gateway> {
    let dir = db_dir
        .cloned()
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("scv2-proxy-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let cfg = dir.join("scv2.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"listen = "127.0.0.1:0"
db = "{db}"
session_rate_per_min = 1000000
max_sessions_per_ip = 100000
max_connections_per_ip = 4096
log_level = "warn"

[upstream]
url = "{upstream}"
pool_size = 64

[[route]]
method = "POST"
path = "/bench/*"
secure = true
"#,
            db = dir.join("gw.sqlite").display()
        ),
    )?;
    let mut child = Command::new(bin)
        .args(["serve", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let err = child.stderr.take().ok_or_else(|| anyhow!("stderr"))?;
    let mut lines = BufReader::new(err).lines();
    let line = loop {
        match lines.next() {
            Some(Ok(l)) if l.contains("scv2 gateway on ") => break l,
            Some(Ok(_)) => continue,
            _ => bail!("scv2 serve did not start"),
        }
    };
    // Keep draining stderr so the gateway never blocks on it.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    let word = |after: &str| {
        line.split(after)
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("")
            .to_owned()
    };
    Ok(Gateway {
        proc: Proc(child),
        url: word("scv2 gateway on "),
        key_id: word("keyId "),
        public_key: word("publicKey "),
        dir,
    })
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces, in parentheses).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("stat"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14, stime 15.
    let utime: u64 = f.get(11).ok_or_else(|| anyhow!("utime"))?.parse()?;
    let stime: u64 = f.get(12).ok_or_else(|| anyhow!("stime"))?.parse()?;
    Ok(utime + stime)
}

fn ticks_per_sec() -> u64 {
    // Linux's USER_HZ is 100 on every architecture it supports for /proc/PID/stat.
    100
}

#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    p50_us: f64,
    p99_us: f64,
    rps: f64,
    requests: usize,
}

fn figures(mut lat_ns: Vec<u64>, elapsed: Duration) -> Figures {
    lat_ns.sort_unstable();
    let pct = |p: f64| {
        if lat_ns.is_empty() {
            return 0.0;
        }
        let i = ((lat_ns.len() as f64 - 1.0) * p).round() as usize;
        lat_ns[i.min(lat_ns.len() - 1)] as f64 / 1000.0
    };
    Figures {
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        rps: lat_ns.len() as f64 / elapsed.as_secs_f64(),
        requests: lat_ns.len(),
    }
}

/// A JSON body of exactly `size` bytes (at least the 25 of its frame).
fn body_of(size: usize) -> Vec<u8> {
    let frame = r#"{"user":"bench","pad":""}"#.len();
    let pad = "x".repeat(size.saturating_sub(frame));
    format!("{{\"user\":\"bench\",\"pad\":\"{pad}\"}}").into_bytes()
}

async fn direct(url: &str, c: usize, secs: u64, body: &[u8]) -> anyhow::Result<Figures> {
    let target = format!("{url}/bench/echo");
    let mut tasks = Vec::new();
    let start_at = Instant::now() + Duration::from_millis(500);
    let end_at = start_at + Duration::from_secs(secs);
    for _ in 0..c {
        let (target, body) = (target.clone(), body.to_vec());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()?;
            let mut lat = Vec::new();
            loop {
                let t = Instant::now();
                if t >= end_at {
                    break;
                }
                let r = http
                    .post(&target)
                    .header("content-type", "application/json;charset=UTF-8")
                    .body(body.clone())
                    .send()
                    .await?;
                let ok = r.status() == 200;
                let got = r.bytes().await?;
                anyhow::ensure!(ok && got.len() == body.len(), "direct: bad answer");
                if t >= start_at {
                    lat.push(t.elapsed().as_nanos() as u64);
                }
            }
            Ok::<Vec<u64>, anyhow::Error>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(figures(all, Duration::from_secs(secs)))
}

async fn proxied(gw: &Gateway, c: usize, secs: u64, body: &[u8]) -> anyhow::Result<(Figures, u64)> {
    let mut clients = Vec::new();
    for _ in 0..c {
        let mut o = ClientOptions::new(&gw.url);
        o.client_hash = "proxy-load".into();
        let mut client = ScClient::new(o)?;
        client.pin(&gw.key_id, &gw.public_key)?;
        let s = client.open_session(&gw.key_id).await?;
        clients.push((client, s));
    }
    let warm_until = Instant::now() + Duration::from_millis(500);
    let start_at = warm_until;
    let end_at = start_at + Duration::from_secs(secs);
    let pid = gw.proc.0.id();
    let mut tasks = Vec::new();
    for (client, s) in clients {
        let body = body.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let t = Instant::now();
                if t >= end_at {
                    break;
                }
                let r = client.call(&s, "POST", "/bench/echo", &body).await?;
                anyhow::ensure!(
                    r.status == 200 && r.encrypted,
                    "proxied: HTTP {} {}",
                    r.status,
                    r.body
                );
                if t >= start_at {
                    lat.push(t.elapsed().as_nanos() as u64);
                }
            }
            Ok::<Vec<u64>, anyhow::Error>(lat)
        }));
    }
    tokio::time::sleep_until(start_at.into()).await;
    let cpu0 = cpu_ticks(pid)?;
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let cpu1 = cpu_ticks(pid)?;
    let f = figures(all, Duration::from_secs(secs));
    // Gateway CPU per request, µs (the CPU read after the last worker finished: a little of its
    // tail is after `end_at`, so this slightly overstates it).
    let cpu_us = (cpu1 - cpu0) * 1_000_000 / ticks_per_sec() / (f.requests.max(1) as u64);
    Ok((f, cpu_us))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" / "))
        .unwrap_or_default()
}

async fn bench(a: Args) -> anyhow::Result<()> {
    let bin = match &a.scv2 {
        Some(p) => p.clone(),
        None => {
            let exe = std::env::current_exe()?;
            exe.parent()
                .and_then(|p| p.parent())
                .map(|p| p.join("scv2"))
                .ok_or_else(|| anyhow!("give --scv2 PATH"))?
        }
    };
    let (_up, up_url) = spawn_upstream()?;
    let gw = spawn_gateway(&bin, &up_url, a.db_dir.as_ref())?;
    let body = body_of(a.body);
    println!(
        "proxy-load: body {} B, {} runs × {} s per concurrency, gateway {} (pid {}), load average {}",
        body.len(),
        a.runs,
        a.secs,
        bin.display(),
        gw.proc.0.id(),
        loadavg()
    );
    for &c in &a.concurrency {
        let (mut d50, mut d99, mut drps) = (Vec::new(), Vec::new(), Vec::new());
        let (mut p50, mut p99, mut prps, mut cpu) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut added = Vec::new();
        for run in 1..=a.runs {
            let d = direct(&up_url, c, a.secs, &body).await?;
            let (p, cpu_us) = proxied(&gw, c, a.secs, &body).await?;
            println!(
                "c={c} run {run}: direct p50 {:.0} µs p99 {:.0} µs {:.0} req/s | proxy p50 {:.0} µs p99 {:.0} µs {:.0} req/s, gateway CPU {cpu_us} µs/req | load {}",
                d.p50_us, d.p99_us, d.rps, p.p50_us, p.p99_us, p.rps, loadavg()
            );
            added.push(p.p50_us - d.p50_us);
            d50.push(d.p50_us);
            d99.push(d.p99_us);
            drps.push(d.rps);
            p50.push(p.p50_us);
            p99.push(p.p99_us);
            prps.push(p.rps);
            cpu.push(cpu_us as f64);
        }
        println!(
            "| {c} | {:.0} µs | {:.0} µs | {:.0} | {:.0} µs | {:.0} µs | {:.0} | **{:.0} µs** | {:.0} µs |",
            median(d50),
            median(d99),
            median(drps),
            median(p50),
            median(p99),
            median(prps),
            median(added),
            median(cpu)
        );
    }
    println!("load average at the end: {}", loadavg());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let (is_upstream, a) = args()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if is_upstream {
        return rt.block_on(upstream());
    }
    rt.block_on(bench(a))
}
