// The web SDK in real headless Chromium (Debian's package, driven by playwright-core) against
// real `scv2 serve` processes on loopback:
//   1. same origin: the demo page served by `scv2 serve --web-demo` runs public key → session →
//      password init 201 (decrypted in the page) → the same envelope retransmitted → second init
//      404 inside a type 129 → close;
//   2. cross origin: the page (from the installed npm tarball) on a second loopback port, the
//      gateway with --cors-origin for it: the same flow works; the page on a third port (not
//      allowed) is refused by the browser;
//   3. a screenshot of the demo page after the flow: target/web-demo.png;
//   4. the hybrid suite in Chromium's wasm engine: the test build (target/web-test/pkg, with the
//      test-only server role; the gateway of this branch serves X25519 keys) rebuilds a vector
//      case of tests/vectors/scv2-x25519mlkem768.json byte for byte and runs a live hybrid
//      exchange with fresh randomness (crypto.getRandomValues), both in one page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { ROOT, SCV2, keygen, launchChromium, registration, runDemo, startGateway, startPageServer, tempDir } from "./harness.mjs";

function assertFlow(result) {
  assert.equal(result.error, undefined, `the flow failed: ${JSON.stringify(result.error)}`);
  assert.equal(result.ok, true);
  assert.equal(result.init1.status, 201);
  assert.equal(result.init1.success, true);
  assert.equal(result.init1.code, "2000");
  // A byte-identical retransmission of an accepted envelope gets the byte-identical first
  // answer (SPEC 8.4), not a second password init and not a refusal.
  assert.deepEqual(result.retransmit, { status: 201, plaintext: false, identical: true, code: null });
  assert.deepEqual(result.init2, { status: 404, success: false, code: "AUTH.SESSION_NOT_FOUND" });
  assert.equal(result.closed, true);
  assert.deepEqual(result.wire.map((x) => `${x.method} ${x.path} ${x.status}`), [
    "GET /web/v1/secure-channel/public-key 200",
    "POST /web/v1/secure-channel/session 200",
    "POST /web/v1/system/auth/password/init 201",
    "POST /web/v1/system/auth/password/init 404",
    "POST /web/v1/secure-channel/session/close 200",
  ]);
}

let browser;
let key;
before(async () => {
  key = keygen(tempDir("scv2-web-key-"));
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
});

test("same origin: the demo page served by scv2 serve --web-demo runs the whole flow", async () => {
  const gw = await startGateway({ keyFile: key.file, webDemo: true });
  try {
    const sid = registration(gw.db);
    const { page, result, console } = await runDemo(browser.context, `${gw.url}/demo/?sid=${encodeURIComponent(sid)}`);
    assertFlow(result);
    assert.equal(result.keyId, key.pin.keyId);
    assert.equal(result.origin, gw.url);
    assert.deepEqual(console.filter((l) => l.startsWith("pageerror")), []);
    // 3. The screenshot, for a person to look at.
    mkdirSync(join(ROOT, "target"), { recursive: true });
    await page.screenshot({ path: join(ROOT, "target/web-demo.png"), fullPage: true });
    assert.match(await page.textContent("#verdict"), /Flow complete/);
    await page.close();
  } finally {
    await gw.stop();
  }
});

test("cross origin: an allowed origin runs the flow; another origin is refused by the browser", async () => {
  const a = await startPageServer();
  const b = await startPageServer();
  const gw = await startGateway({ keyFile: key.file, corsOrigins: [a.origin] });
  try {
    a.setConfig({ pins: [key.pin], baseUrl: gw.url });
    b.setConfig({ pins: [key.pin], baseUrl: gw.url });
    try {
      const sid = registration(gw.db);
      const ok = await runDemo(browser.context, `${a.origin}/?sid=${encodeURIComponent(sid)}`);
      assertFlow(ok.result);
      assert.notEqual(new URL(ok.result.origin).port, new URL(gw.url).port, "the page is on another origin");
      await ok.page.close();

      const sid2 = registration(gw.db, "other@example.com");
      const refused = await runDemo(browser.context, `${b.origin}/?sid=${encodeURIComponent(sid2)}`);
      assert.equal(refused.result.ok, false);
      assert.equal(refused.result.error.name, "TypeError", JSON.stringify(refused.result.error));
      assert.deepEqual(refused.result.wire, [], "nothing reached the page: the browser refused the first call");
      assert.ok(refused.console.some((l) => /CORS policy/.test(l)), `Chromium reports the CORS refusal:\n${refused.console.join("\n")}`);
      await refused.page.close();
    } finally {
      await a.stop();
      await b.stop();
    }
  } finally {
    await gw.stop();
  }
});

test("scv2 demo --browser prints a link that runs the flow", async () => {
  const child = spawn(SCV2, ["demo", "--browser"], { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH, HOME: process.env.HOME ?? "/tmp" } }); // no DISPLAY: nothing is opened
  try {
    let out = "";
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no link printed:\n${out}`)), 20_000);
      child.stdout.on("data", (d) => {
        out += d;
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/demo\/\?sid=\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.on("exit", (code) => reject(new Error(`scv2 demo --browser exited ${code}:\n${out}`)));
    });
    const { page, result } = await runDemo(browser.context, url);
    assertFlow(result);
    await page.close();
  } finally {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
});

test("the hybrid suite in Chromium: a vector case rebuilt byte for byte, and a live exchange", async () => {
  const pkg = process.env.SCV2_WEB_TEST_PKG ?? join(ROOT, "target/web-test/pkg");
  const files = {
    "/": ["text/html", "<!doctype html><title>scv2 hybrid</title>"],
    "/pkg/scv2_web.js": ["text/javascript", readFileSync(join(pkg, "scv2_web.js"))],
    "/pkg/scv2_web_bg.wasm": ["application/wasm", readFileSync(join(pkg, "scv2_web_bg.wasm"))],
  };
  const server = createServer((req, res) => {
    const f = files[new URL(req.url, "http://x").pathname];
    if (!f) return res.writeHead(404).end();
    res.writeHead(200, { "Content-Type": f[0], "Cache-Control": "no-store" }).end(f[1]);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const vectors = JSON.parse(readFileSync(join(ROOT, "tests/vectors/scv2-x25519mlkem768.json"), "utf8"));
  const page = await browser.context.newPage();
  try {
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    const result = await page.evaluate(async (c) => {
      const w = await import("/pkg/scv2_web.js");
      await w.default();
      const PQ = "X25519MLKEM768-HKDF-SHA256-AES-256-GCM";
      const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
      const toHex = (a) => Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
      const enc = (t) => new TextEncoder().encode(t);
      const out = {};
      const t0 = performance.now();
      // The vector case, both roles, with its fixed inputs.
      const vs = new w.Server(c.padding_block);
      vs.addKey(c.key_id, hex(c.server_static_private + c.server_mlkem_seed), 0, PQ);
      const vc = new w.ClientConfig();
      vc.pinRaw(c.key_id, hex(c.server_static_public), PQ);
      vc.setPaddingBlock(c.padding_block);
      const vh = w.ClientHandshake.startHybridWithEphemeralForTestVectors(vc, c.key_id, hex(c.kx_payload),
        hex(c.client_ephemeral_private), hex(c.client_mlkem_seed), hex(c.encaps_randomness_1), hex(c.iv1));
      out.type1 = toHex(vh.envelope) === c.kx_envelope;
      const va = vs.accept(vh.envelope, c.now_ms);
      const vss = va.respondHybridWithEphemeralForTestVectors(c.session_id, c.expires_at_ms, hex(c.kxr_payload),
        hex(c.server_ephemeral_private), hex(c.encaps_randomness_2));
      out.type130 = toHex(vss.handshakeResponse) === c.kxr_envelope;
      out.sessionId = vh.finish(vss.handshakeResponse, c.now_ms).sessionId;
      // A live exchange with fresh randomness.
      const now = Date.now();
      const server = new w.Server(64);
      const key = server.generateKey("k-pq", now, PQ);
      const config = new w.ClientConfig();
      config.pin("k-pq", key, PQ);
      const hs = w.ClientHandshake.start(config, "k-pq", enc("{}"));
      out.algorithm = hs.algorithm;
      out.type1Len = hs.envelope.length;
      const acc = server.accept(hs.envelope, now);
      const ss = acc.respond(w.generateSessionId(), now + 600_000, new Uint8Array());
      out.type130Len = ss.handshakeResponse.length;
      const cs = hs.finish(ss.handshakeResponse, now);
      const ctx = "POST /web/v1/system/auth/password/init";
      const p = cs.sealRequest(ctx, enc('{"password":"x"}'), now);
      const o = ss.openRequest(ctx, p.envelope, now);
      out.request = new TextDecoder().decode(o.body);
      const answer = ss.sealResponse(o, ctx, enc('{"success":true}'));
      out.answer = new TextDecoder().decode(cs.openResponse(p, ctx, answer));
      const p2 = cs.sealRequest(ctx, enc("{}"), now);
      const bad = ss.sealResponse(ss.openRequest(ctx, p2.envelope, now), ctx, enc("{}"));
      bad[bad.length - 1] ^= 1;
      try {
        cs.openResponse(p2, ctx, bad);
      } catch (e) {
        out.tampered = e.code;
      }
      out.ms = Math.round(performance.now() - t0);
      return out;
    }, vectors.cases[0]);
    console.log(`hybrid in Chromium: ${result.ms} ms`);
    delete result.ms;
    assert.deepEqual(result, {
      type1: true,
      type130: true,
      sessionId: vectors.cases[0].session_id,
      algorithm: "X25519MLKEM768-HKDF-SHA256-AES-256-GCM",
      type1Len: 2414 - 9 + 4, // SPEC.md 15.7's 2414 bytes for a 9-byte keyId; this one has 4
      type130Len: 1216,
      request: '{"password":"x"}',
      answer: '{"success":true}',
      tampered: "decryption_failed",
    });
  } finally {
    await page.close();
    // Chromium keeps its keep-alive connections; close them, or close() waits for their timeout.
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
