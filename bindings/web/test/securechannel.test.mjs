// The high-level SecureChannel (from the npm tarball as installed into target/web-app) against a
// real `scv2 serve` on loopback, in Node: the flow, pinning and trust on first use, one shared
// handshake for concurrent calls, session reuse and refresh, one re-handshake on a plaintext 401,
// typed gateway errors, AbortSignal; pins with their algorithm (the gateway serves an X25519 key:
// a hybrid pin for its key id is refused like another key) and preferredSuite against a second
// gateway holding keys of both suites (its key list, a real hybrid exchange, /public-key when
// there is no list); and the gateway's CORS answers (--cors-origin), which a browser
// enforces but Node lets us read directly.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { INIT, PKG_DIST, ROOT, keygen, registration, scrubbedCall, startGateway, tempDir } from "./harness.mjs";

const sdk = await import(join(PKG_DIST, "index.js"));
const { SecureChannel, GatewayError, Scv2Error, initSync, init, PATH_SESSION, PATH_PUBLIC_KEYS, SUITE_X25519,
  SUITE_X25519MLKEM768 } = sdk;
initSync(readFileSync(join(PKG_DIST, "scv2_web_bg.wasm")));

// A hybrid server key (1216 bytes, document form) from the vector file, pinned under the X25519
// gateway's key id to check that the algorithm is compared.
const pqVectors = JSON.parse(readFileSync(join(ROOT, "tests/vectors/scv2-x25519mlkem768.json"), "utf8"));
const pqCase = pqVectors.cases[0];
const pqPublicKey = Buffer.from(pqCase.server_static_public, "hex").toString("base64");

let key;
let gw;
before(async () => {
  key = keygen(tempDir("scv2-web-key-"));
  // Every test of this file calls from 127.0.0.1: lift the per-address password-init limit (20
  // per 300 s by default) so that the tests stay independent; the 429 test below meets the
  // per-session limit (5), which stays at its default.
  gw = await startGateway({ keyFile: key.file, corsOrigins: ["http://127.0.0.1:5173"],
    extra: ["--init-rate-per-ip", "1000"] });
});
after(async () => {
  await gw?.stop();
});

let hashes = 0;
/** A channel with its own X-Client-Hash (the init rate limit is per IP and client hash). */
function channel(extra = {}) {
  const exchanges = [];
  const sc = new SecureChannel({
    baseUrl: gw.url,
    pins: [key.pin],
    clientHash: `node-test-${++hashes}`,
    language: "ja",
    onExchange: (x) => exchanges.push(x),
    ...extra,
  });
  const count = (path) => exchanges.filter((x) => new URL(x.url).pathname === path).length;
  return { sc, exchanges, count };
}

test("the flow: 201 decrypted, the same init again 404 inside a type 129, close", async () => {
  const { sc, exchanges, count } = channel();
  const sessionId = registration(gw.db);
  const r = await sc.post(INIT, { sessionId, password: "NewP@ssw0rd" });
  assert.equal(r.status, 201);
  assert.equal(r.body.success, true);
  assert.equal(r.body.code, "2000");
  assert.equal(r.body.data.email, "user@example.com");
  assert.match(r.requestId, /^[0-9a-f-]{36}$/);
  const init = exchanges.at(-1);
  assert.match(init.requestBody, /^\{"v":2,"p":"[A-Za-z0-9+/]+=*"\}$/, "the web form, nothing else");
  assert.equal(init.requestBody.includes("NewP@ssw0rd"), false);
  assert.equal(init.requestHeaders["X-SC-Version"], "2");
  assert.equal(init.requestHeaders["X-SC-Session-Id"], sc.sessionId);
  assert.equal(init.requestHeaders["Content-Type"], "application/json;charset=UTF-8");
  assert.equal(init.requestHeaders.Accept, "application/json");
  assert.equal(init.requestHeaders["Accept-Language"], "ja");
  assert.match(init.requestHeaders["X-Client-Hash"], /^node-test-/);
  assert.equal(init.requestHeaders["X-Request-Id"], r.requestId, "the gateway echoes the request id");
  const again = await sc.post(INIT, { sessionId, password: "NewP@ssw0rd" });
  assert.equal(again.status, 404);
  assert.equal(again.body.success, false);
  assert.equal(again.body.code, "AUTH.SESSION_NOT_FOUND");
  assert.equal(count(PATH_SESSION), 1, "one session for both calls");
  const sid = sc.sessionId;
  await sc.close();
  assert.equal(sc.sessionId, null);
  assert.equal(exchanges.at(-1).status, 200);
  // The gateway forgot it: the old id is refused, and the channel opens a new session.
  const res = await fetch(`${gw.url}${INIT}`, { method: "POST", headers: { "X-SC-Session-Id": sid, "X-SC-Version": "2",
    "Content-Type": "application/json", Accept: "application/json", "X-Client-Hash": "x" }, body: '{"v":2,"p":"U0MCAg=="}' });
  assert.equal(res.status, 401);
  const third = await sc.post(INIT, { sessionId: "unknown-init-id", password: "NewP@ssw0rd" });
  assert.equal(third.status, 404);
  assert.equal(count(PATH_SESSION), 2);
  await sc.close();
});

test("pins: an unpinned key is refused unless trust on first use says yes; a wrong key always", async () => {
  const other = keygen(tempDir("scv2-web-key-"), key.pin.keyId);
  const wrong = channel({ pins: [{ keyId: key.pin.keyId, publicKey: other.pin.publicKey }],
    trustOnFirstUse: () => true });
  await assert.rejects(wrong.sc.post(INIT, {}), (e) => e instanceof Scv2Error && e.code === "untrusted_server_key");
  assert.equal(wrong.count(PATH_SESSION), 0, "no handshake with an untrusted key");

  const none = channel({ pins: [] });
  await assert.rejects(none.sc.post(INIT, {}), (e) => e instanceof Scv2Error && e.code === "untrusted_server_key");

  let asked;
  const no = channel({ pins: [], trustOnFirstUse: async (k) => { asked = k; return false; } });
  await assert.rejects(no.sc.post(INIT, {}), (e) => e instanceof Scv2Error && e.code === "untrusted_server_key");
  assert.deepEqual(asked, key.pin, "the callback sees the advertised key");

  const yes = channel({ pins: [], trustOnFirstUse: (k) => k.keyId === key.pin.keyId });
  const r = await yes.sc.post(INIT, { sessionId: "nope", password: "NewP@ssw0rd" });
  assert.equal(r.status, 404);
  await yes.sc.close();
});

test("pins carry their algorithm: the gateway's X25519 document against a hybrid pin of its key id is refused", async () => {
  assert.deepEqual(sdk.suites(), [SUITE_X25519, SUITE_X25519MLKEM768], "the constants are the module's names");
  assert.equal(key.pin.algorithm, SUITE_X25519, "scv2 keygen's document names the X25519 suite");
  // A pin without algorithm (as before this field existed) is an X25519 pin.
  const legacy = channel({ pins: [{ keyId: key.pin.keyId, publicKey: key.pin.publicKey }] });
  assert.equal((await legacy.sc.post(INIT, { sessionId: "nope", password: "NewP@ssw0rd" })).status, 404);
  await legacy.sc.close();
  // The gateway's key id pinned as a hybrid key: refused before any handshake, TOFU or not.
  const hybrid = channel({ pins: [{ keyId: key.pin.keyId, publicKey: pqPublicKey, algorithm: SUITE_X25519MLKEM768 }],
    trustOnFirstUse: () => true });
  await assert.rejects(hybrid.sc.post(INIT, {}), (e) => e instanceof Scv2Error && e.code === "untrusted_server_key");
  assert.equal(hybrid.count(PATH_SESSION), 0, "no handshake with a document of another algorithm");
  // The right key under the wrong algorithm name is a configuration error of the app.
  const misnamed = channel({ pins: [{ ...key.pin, algorithm: SUITE_X25519MLKEM768 }] });
  await assert.rejects(misnamed.sc.post(INIT, {}), (e) => e instanceof Scv2Error && e.code === "invalid_public_key");
  const unknown = channel({ pins: [{ ...key.pin, algorithm: "X25519" }] });
  await assert.rejects(unknown.sc.post(INIT, {}), (e) => e instanceof Scv2Error && e.code === "invalid_argument");
  // A document that says another algorithm for the pinned key (a proxy rewriting it) is refused.
  const rewritten = channel({ fetch: async (url, init) => {
    const res = await fetch(url, init);
    if (!url.endsWith("/public-key")) return res;
    const doc = await res.json();
    doc.data.algorithm = SUITE_X25519MLKEM768;
    return new Response(JSON.stringify(doc), { status: res.status, headers: res.headers });
  } });
  await assert.rejects(rewritten.sc.post(INIT, {}), (e) => e instanceof Scv2Error && e.code === "untrusted_server_key");
  assert.equal(rewritten.count(PATH_SESSION), 0);
});

test("preferredSuite against a gateway holding both suites: the key list, a hybrid exchange, /public-key without a list", async () => {
  assert.throws(() => new SecureChannel({ baseUrl: gw.url, pins: [], preferredSuite: "X25519" }), TypeError);
  const dir = tempDir("scv2-web-suites-");
  const xKey = keygen(dir, "k-web-x");
  const pqKey = keygen(dir, "k-web-pq", "x25519mlkem768");
  assert.equal(pqKey.pin.algorithm, SUITE_X25519MLKEM768);
  const both = await startGateway({ keyFiles: [xKey.file, pqKey.file], extra: ["--init-rate-per-ip", "1000"] });
  try {
    const open = (extra) => {
      const exchanges = [];
      const sc = new SecureChannel({ baseUrl: both.url, pins: [xKey.pin, pqKey.pin],
        clientHash: `node-test-${++hashes}`, onExchange: (x) => exchanges.push(x), ...extra });
      const type1 = () => Buffer.from(
        JSON.parse(exchanges.find((x) => x.url.endsWith(PATH_SESSION)).requestBody).p, "base64");
      const count = (path) => exchanges.filter((x) => new URL(x.url).pathname === path).length;
      return { sc, type1, count };
    };
    const keyIdOf = (t1) => t1.subarray(5, 5 + t1[4]).toString();
    // Preferring the hybrid suite: the gateway's list names both keys; a real hybrid exchange
    // with the gateway, the password init answered 201 inside a type 129.
    const pq = open({ preferredSuite: SUITE_X25519MLKEM768 });
    const r = await pq.sc.post(INIT, { sessionId: registration(both.db), password: "NewP@ssw0rd" });
    assert.equal(r.status, 201);
    assert.equal(r.body.data.email, "user@example.com");
    assert.equal(keyIdOf(pq.type1()), "k-web-pq");
    assert.equal(pq.type1().length, sdk.keyExchangeLen(SUITE_X25519MLKEM768, "k-web-pq".length, 0, 64));
    assert.equal(pq.count(PATH_PUBLIC_KEYS), 1);
    assert.equal(pq.count("/web/v1/secure-channel/public-key"), 0, "the list was used");
    await pq.sc.close();
    // Preferring X25519: its key.
    const x = open({ preferredSuite: SUITE_X25519 });
    assert.equal((await x.sc.post(INIT, { sessionId: "nope", password: "NewP@ssw0rd" })).status, 404);
    assert.equal(keyIdOf(x.type1()), "k-web-x");
    await x.sc.close();
    // A service without the list (404, as the deployed one): /public-key, which advertises the
    // gateway's preferred suite (X25519 by default).
    const noList = async (url, init) => url.endsWith(PATH_PUBLIC_KEYS)
      ? new Response("{}", { status: 404, headers: { "Content-Type": "application/json" } })
      : fetch(url, init);
    const fallback = open({ preferredSuite: SUITE_X25519MLKEM768, fetch: noList });
    assert.equal((await fallback.sc.post(INIT, { sessionId: "nope", password: "NewP@ssw0rd" })).status, 404);
    assert.equal(fallback.count("/web/v1/secure-channel/public-key"), 1);
    assert.equal(keyIdOf(fallback.type1()), "k-web-x");
    await fallback.sc.close();
    // Preferring the hybrid suite without a hybrid pin: the first listed pinned key.
    const only = new SecureChannel({ baseUrl: both.url, pins: [xKey.pin], clientHash: `node-test-${++hashes}`,
      preferredSuite: SUITE_X25519MLKEM768 });
    assert.equal((await only.post(INIT, { sessionId: "nope", password: "NewP@ssw0rd" })).status, 404);
    await only.close();
  } finally {
    await both.stop();
  }
});

test("concurrent calls share one handshake; the session is reused until shortly before it expires", async () => {
  let offset = 0;
  const { sc, count } = channel({ now: () => Date.now() + offset, refreshMarginMs: 60_000 });
  const calls = await Promise.all([1, 2, 3, 4].map(() => sc.post(INIT, {})));
  for (const r of calls) {
    assert.equal(r.status, 400);
    assert.equal(r.body.code, "VALIDATION.INVALID_PARAMETER", "validation errors come back encrypted");
  }
  assert.equal(count("/web/v1/secure-channel/public-key"), 1);
  assert.equal(count(PATH_SESSION), 1, "four concurrent calls, one handshake");
  const first = sc.sessionId;
  // 29 minutes later (the gateway's sessions last 30): within the refresh margin → a new session.
  offset = 29 * 60_000 + 1_000;
  const r = await sc.post(INIT, { sessionId: "nope", password: "NewP@ssw0rd" });
  assert.equal(r.status, 404);
  assert.equal(count(PATH_SESSION), 2);
  assert.notEqual(sc.sessionId, first);
  await sc.close();
});

test("one re-handshake on a plaintext 401 SESSION_NOT_FOUND, then a typed GatewayError", async () => {
  // A fetch that sends a session id the gateway does not know (as after a gateway restart).
  let spoil = 1;
  const fetchSpoiled = (url, init) => {
    if (new URL(url).pathname === INIT && spoil > 0) {
      spoil--;
      init = { ...init, headers: { ...init.headers, "X-SC-Session-Id": "forgotten-session-id" } };
    }
    return fetch(url, init);
  };
  const once = channel({ fetch: fetchSpoiled });
  const r = await once.sc.post(INIT, { sessionId: "nope", password: "NewP@ssw0rd" });
  assert.equal(r.status, 404);
  assert.equal(once.count(PATH_SESSION), 2, "re-handshaked once");
  await once.sc.close();

  spoil = 2;
  const twice = channel({ fetch: fetchSpoiled });
  await assert.rejects(twice.sc.post(INIT, { sessionId: "nope", password: "NewP@ssw0rd" }), (e) => {
    assert.ok(e instanceof GatewayError);
    assert.equal(e.status, 401);
    assert.equal(e.code, "SECURE_CHANNEL.SESSION_NOT_FOUND");
    assert.equal(typeof e.message, "string");
    assert.match(e.requestId, /^[0-9a-f-]{36}$/);
    return true;
  });
  assert.equal(twice.count(PATH_SESSION), 2, "only one retry");
  await twice.sc.close();
});

test("plaintext gateway errors are typed: 429 with Retry-After", async () => {
  const { sc } = channel();
  for (let i = 0; i < 5; i++) assert.equal((await sc.post(INIT, {})).status, 400);
  await assert.rejects(sc.post(INIT, {}), (e) => {
    assert.ok(e instanceof GatewayError, String(e));
    assert.equal(e.status, 429);
    assert.equal(e.code, "RATE_LIMIT.EXCEEDED");
    assert.ok(e.retryAfter >= 1 && e.retryAfter <= 300, `Retry-After ${e.retryAfter}`);
    return true;
  });
  await sc.close();
});

test("AbortSignal: an aborted call rejects with the signal's reason and leaves the channel usable", async () => {
  const slow = (url, init) => new Promise((resolve, reject) => {
    const t = setTimeout(() => fetch(url, init).then(resolve, reject), 300);
    init.signal?.addEventListener("abort", () => { clearTimeout(t); reject(init.signal.reason); });
  });
  const { sc } = channel({ fetch: slow });
  await assert.rejects(sc.post(INIT, {}, { signal: AbortSignal.abort(new Error("gone")) }), /gone/);
  const ac = new AbortController();
  const p = sc.post(INIT, {}, { signal: ac.signal });
  setTimeout(() => ac.abort(new Error("cancelled")), 50);
  await assert.rejects(p, /cancelled/);
  const r = await sc.post(INIT, {});
  assert.equal(r.status, 400);
  await sc.close();
});

test("arguments are checked", async () => {
  assert.throws(() => new SecureChannel({ baseUrl: "ftp://x", pins: [] }), TypeError);
  assert.throws(() => new SecureChannel({ baseUrl: `${gw.url}?q=1`, pins: [] }), TypeError);
  const { sc } = channel();
  await assert.rejects(sc.request("post", INIT, {}), TypeError);
  await assert.rejects(sc.post("web/v1/x", {}), TypeError);
  await assert.rejects(sc.post(INIT, undefined), TypeError);
  const bad = channel({ pins: [{ keyId: key.pin.keyId, publicKey: "AAAA" }] });
  await assert.rejects(bad.sc.post(INIT, {}), (e) => e instanceof Scv2Error && e.code === "invalid_public_key");
  await init(); // idempotent after initSync
});

test("CORS: exact origins only, preflight answered, headers exposed; none without the flag", async () => {
  const allowed = "http://127.0.0.1:5173";
  const pre = await fetch(`${gw.url}${INIT}`, { method: "OPTIONS", headers: { Origin: allowed,
    "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-sc-session-id,x-sc-version,x-client-hash,x-request-id,accept-language" } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), allowed);
  assert.match(pre.headers.get("access-control-allow-methods"), /POST/);
  for (const h of ["content-type", "x-sc-session-id", "x-sc-version", "x-client-hash", "x-request-id", "accept-language"]) {
    assert.ok(pre.headers.get("access-control-allow-headers").split(/,\s*/).includes(h), h);
  }
  assert.equal(pre.headers.get("access-control-allow-credentials"), null);
  const get = await fetch(`${gw.url}/web/v1/secure-channel/public-key`, { headers: { Origin: allowed } });
  assert.equal(get.headers.get("access-control-allow-origin"), allowed);
  assert.deepEqual(get.headers.get("access-control-expose-headers").split(/,\s*/).sort(),
    ["Retry-After", "X-Request-Id", "X-SC-Session-Id"]);
  assert.match(get.headers.get("vary"), /Origin/);
  for (const origin of ["http://127.0.0.1:5174", "http://127.0.0.1:5173/", "http://localhost:5173", "null"]) {
    const p = await fetch(`${gw.url}${INIT}`, { method: "OPTIONS", headers: { Origin: origin, "Access-Control-Request-Method": "POST" } });
    assert.equal(p.status, 403, origin);
    assert.equal(p.headers.get("access-control-allow-origin"), null, origin);
    const g = await fetch(`${gw.url}/web/v1/secure-channel/public-key`, { headers: { Origin: origin } });
    assert.equal(g.status, 200);
    assert.equal(g.headers.get("access-control-allow-origin"), null, origin);
  }
  // Without --cors-origin: no CORS header at all, and OPTIONS is just another method.
  const plain = await startGateway({ keyFile: key.file });
  try {
    const p = await fetch(`${plain.url}${INIT}`, { method: "OPTIONS", headers: { Origin: allowed, "Access-Control-Request-Method": "POST" } });
    assert.equal(p.status, 405);
    const g = await fetch(`${plain.url}/web/v1/secure-channel/public-key`, { headers: { Origin: allowed } });
    for (const [name] of [...p.headers, ...g.headers]) assert.doesNotMatch(name, /^access-control-|^vary$/, name);
  } finally {
    await plain.stop();
  }
  // A bad origin is refused at start.
  await assert.rejects(startGateway({ keyFile: key.file, corsOrigins: ["https://App.example.com/"] }), /cors-origin/);
});

test("the shipped (release) module: the stack scrub covers the hybrid suite's client calls", async () => {
  // The same module instance the SDK uses: initSync returns its exports.
  const glue = await import(join(PKG_DIST, "scv2_web.js"));
  const memory = glue.initSync({ module: readFileSync(join(PKG_DIST, "scv2_web_bg.wasm")) }).memory;
  const call = (f) => scrubbedCall(memory, () => {
    try {
      return f();
    } catch (e) {
      return e;
    }
  }).result;
  const config = new sdk.ClientConfig();
  call(() => config.pin(pqCase.key_id, pqPublicKey, SUITE_X25519MLKEM768));
  assert.equal(call(() => config.trust(pqCase.key_id, pqPublicKey, SUITE_X25519MLKEM768)).algorithm, SUITE_X25519MLKEM768);
  const hs = call(() => sdk.ClientHandshake.start(config, pqCase.key_id, new TextEncoder().encode("{}")));
  assert.equal(hs.envelope.length, sdk.keyExchangeLen(SUITE_X25519MLKEM768, pqCase.key_id.length, 2, 64));
  // The vector's type 130 answers another type 1: decapsulation runs, then the AEAD fails.
  const e = call(() => hs.finish(Buffer.from(pqCase.kxr_envelope, "hex"), Date.now()));
  assert.ok(e instanceof Scv2Error && e.code === "decryption_failed", String(e));
  config.free();
  hs.free();
});

test("the shipped (release) module: the stack scrub covers the client's calls", async () => {
  // The same module instance the SDK uses: initSync returns its exports.
  const glue = await import(join(PKG_DIST, "scv2_web.js"));
  const memory = glue.initSync({ module: readFileSync(join(PKG_DIST, "scv2_web_bg.wasm")) }).memory;
  const call = (f) => scrubbedCall(memory, f).result;
  const config = new sdk.ClientConfig();
  config.pin(key.pin.keyId, key.pin.publicKey);
  const headers = { "Content-Type": "application/json;charset=UTF-8", Accept: "application/json", "X-Client-Hash": "scrub" };
  const hs = call(() => sdk.ClientHandshake.start(config, key.pin.keyId));
  const r130 = await fetch(`${gw.url}${PATH_SESSION}`, { method: "POST", headers, body: sdk.webFormEncode(hs.envelope) });
  const type130 = sdk.webFormDecode(await r130.text());
  const cs = call(() => hs.finish(type130, Date.now()));
  const ctx = `POST ${INIT}`;
  const p = call(() => cs.sealRequest(ctx, new TextEncoder().encode('{"sessionId":"nope","password":"NewP@ssw0rd"}'), Date.now()));
  const res = await fetch(`${gw.url}${INIT}`, { method: "POST", body: sdk.webFormEncode(p.envelope),
    headers: { ...headers, "X-SC-Session-Id": cs.sessionId, "X-SC-Version": "2" } });
  const type129 = sdk.webFormDecode(await res.text());
  const plain = call(() => cs.openResponse(p, ctx, type129));
  assert.equal(JSON.parse(new TextDecoder().decode(plain)).code, "AUTH.SESSION_NOT_FOUND");
});
