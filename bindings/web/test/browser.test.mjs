// The web SDK in real headless Chromium (Debian's package, driven by playwright-core) against
// real `scv2 serve` processes on loopback:
//   1. same origin: the demo page served by `scv2 serve --web-demo` runs public key → session →
//      password init 201 (decrypted in the page) → the same envelope retransmitted → second init
//      404 inside a type 129 → close;
//   2. cross origin: the page (from the installed npm tarball) on a second loopback port, the
//      gateway with --cors-origin for it: the same flow works; the page on a third port (not
//      allowed) is refused by the browser;
//   3. a screenshot of the demo page after the flow: target/web-demo.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
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
