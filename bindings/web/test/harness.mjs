// Test harness shared by the web SDK's suites: real `scv2` processes on loopback (keygen,
// registration add, serve), a static server for pages on other origins, and Debian's Chromium
// driven by playwright-core. Everything is started by the tests and stopped by them.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");
export const SCV2 = process.env.SCV2_BIN ?? join(ROOT, "target/debug/scv2");
/** The package as a web developer installs it (scripts/test-web.sh: npm pack + npm install). */
export const APP = process.env.SCV2_WEB_APP ?? join(ROOT, "target/web-app");
export const PKG_DIST = join(APP, "node_modules/scv2-web/dist");
export const INIT = "/web/v1/system/auth/password/init";

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** `scv2 keygen`: a key file and its public-key document (the pin: keyId, publicKey, algorithm). */
export function keygen(dir, keyId = "k-web-test", suite = "x25519") {
  const out = join(dir, `${keyId}.json`);
  const doc = JSON.parse(execFileSync(SCV2, ["keygen", "--key-id", keyId, "--suite", suite, "--out", out],
    { encoding: "utf8" }));
  return { file: out, pin: { keyId: doc.keyId, publicKey: doc.publicKey, algorithm: doc.algorithm } };
}

/** `scv2 registration add`: a fresh init session id (the last line). */
export function registration(db, email = "user@example.com") {
  const out = execFileSync(SCV2, ["registration", "add", "--db", db, "--email", email, "--name", "Test User"],
    { encoding: "utf8" });
  return out.trim().split("\n").at(-1).trim();
}

/** `scv2 serve` on 127.0.0.1:0 with a fresh database; resolves once it prints its URL. */
export async function startGateway({ keyFile, keyFiles = [], corsOrigins = [], webDemo = false, extra = [] } = {}) {
  const dir = tempDir("scv2-web-gw-");
  const db = join(dir, "gw.sqlite");
  const args = ["serve", "--listen", "127.0.0.1:0", "--db", db, "--argon2-m-kib", "8192", "--argon2-t", "1", ...extra];
  if (keyFile) args.push("--key-file", keyFile);
  for (const f of keyFiles) args.push("--key-file", f);
  if (webDemo) args.push("--web-demo");
  for (const o of corsOrigins) args.push("--cors-origin", o);
  const child = spawn(SCV2, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`scv2 serve did not start:\n${log}`)), 20_000);
    child.stderr.on("data", (d) => {
      log += d;
      const m = /scv2 gateway on (http:\/\/\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`scv2 serve exited ${code}:\n${log}`));
    });
  });
  return {
    url,
    db,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8", ".wasm": "application/wasm" };

/**
 * A static server on 127.0.0.1:0 for the demo page on another origin: the page's sources
 * (gateway/web-demo/) with the configuration given by `setConfig` in its configuration element,
 * and /pkg/ from the installed npm package.
 */
export async function startPageServer() {
  const demo = join(ROOT, "gateway/web-demo");
  const element = '<script type="application/json" id="scv2-config">{"pins":[]}</script>';
  let config = { pins: [] };
  const server = createServer((req, res) => {
    const html = readFileSync(join(demo, "index.html"), "utf8").replace(element,
      `<script type="application/json" id="scv2-config">${JSON.stringify(config).replace(/</g, "\\u003c")}</script>`);
    const path = new URL(req.url, "http://x").pathname;
    let file;
    if (path === "/" || path === "/index.html") {
      res.writeHead(200, { "Content-Type": TYPES[".html"], "Cache-Control": "no-store" });
      return res.end(html);
    } else if (path.startsWith("/pkg/")) {
      file = join(PKG_DIST, normalize(path.slice(5)).replace(/^(\.\.[/\\])+/, ""));
    } else {
      file = join(demo, normalize(path.slice(1)).replace(/^(\.\.[/\\])+/, ""));
    }
    try {
      const body = readFileSync(file);
      res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream", "Cache-Control": "no-store" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    setConfig(c) {
      config = c;
    },
    stop: () => new Promise((r) => server.close(r)),
  };
}

/** The Chromium flags of the brief; playwright adds --headless and the fresh --user-data-dir. */
export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"];

/** Debian's Chromium (never a downloaded browser) with a fresh profile directory. */
export async function launchChromium() {
  const { chromium } = await import(join(ROOT, "bindings/web/node_modules/playwright-core/index.mjs"));
  const profile = tempDir("scv2-web-chromium-");
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.SCV2_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Open `url`, type the password, run the flow, wait for it and return the page's result. */
export async function runDemo(context, url, password = "NewP@ssw0rd-web") {
  const page = await context.newPage();
  const console = [];
  page.on("console", (m) => console.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => console.push(`pageerror: ${e.message}`));
  await page.goto(url);
  await page.fill("#password", password);
  await page.click("#run");
  await page.waitForFunction(() => ["done", "failed"].includes(document.body.dataset.state), null, { timeout: 60_000 });
  const result = JSON.parse(await page.textContent("#result"));
  return { page, result, console };
}

/**
 * Run `f` (one call into the wasm module) and check that the stack scrub covered it: the shadow
 * stack (the linear memory below 1 MiB, where rustc's wasm layout puts it, growing down) is
 * painted before the call; after it, the deepest bytes written must be the scrub's zeros, not the
 * core's frames: below the scrubbed area there may only be the scrub's own helper frames (at most
 * 1 KiB; zeroize's loop is not inlined in a debug build), then 4 KiB of zeros must follow.
 * Returns f's result and the depth reached.
 */
export function scrubbedCall(memory, f) {
  const TOP = 1 << 20;
  const LOW = TOP - 512 * 1024;
  new Uint8Array(memory.buffer).fill(0xa5, LOW, TOP);
  const result = f();
  const m = new Uint8Array(memory.buffer);
  let low = LOW;
  while (low < TOP && m[low] === 0xa5) low++;
  const depth = TOP - low;
  if (depth < 4096 + 1024) throw new Error(`scrub probe: only ${depth} bytes of stack written (layout changed?)`);
  // The scrub's own frames: the first 4 KiB run of zeros must start within 1 KiB of the bottom.
  const window = m.subarray(low, low + 1024 + 4096);
  let start = -1;
  for (let i = 0, run = 0; i < window.length; i++) {
    run = window[i] === 0 ? run + 1 : 0;
    if (run === 4096) {
      start = i - 4095;
      break;
    }
  }
  if (start === -1 || start > 1024) {
    throw new Error(`the core's stack reached ${depth} bytes: its deepest frames were not scrubbed`);
  }
  return { result, depth };
}
