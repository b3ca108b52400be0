// The low-level API (the wasm module itself) against tests/vectors/scv2-x25519.json, in Node's
// test runner: every case's envelopes reproduced byte for byte in both roles, every type 130 and
// 129 opened, every negative refused with the vector's error name; then the properties of the
// JavaScript boundary (single-use tokens, state errors, arguments, zeroized copies).
//
// Uses the test build (scripts/build-web.sh --test: debug, features test-vectors + server) from
// target/web-test/pkg/, never the shipped package.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { scrubbedCall } from "./harness.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const PKG = process.env.SCV2_WEB_TEST_PKG ?? join(ROOT, "target/web-test/pkg");
const w = await import(join(PKG, "scv2_web.js"));
const exportsOf = w.initSync({ module: readFileSync(join(PKG, "scv2_web_bg.wasm")) });

const vectors = JSON.parse(readFileSync(join(ROOT, "tests/vectors/scv2-x25519.json"), "utf8"));
const hex = (s) => Uint8Array.from(Buffer.from(s, "hex"));
const text = (s) => Buffer.from(s, "hex").toString("utf8");
const same = (a, b, what) => assert.equal(Buffer.from(a).toString("hex"), Buffer.from(b).toString("hex"), what);

function refused(f, code, what) {
  assert.throws(f, (e) => {
    assert.ok(e instanceof Error, `${what}: an Error`);
    assert.equal(e.name, "Scv2Error", what);
    assert.equal(e.code, code, what);
    assert.equal(typeof e.errno, "number", what);
    return true;
  }, what);
}

function clientConfig(c) {
  const config = new w.ClientConfig();
  config.pinRaw(c.key_id, hex(c.server_static_public));
  config.setPaddingBlock(c.padding_block);
  return config;
}

function startHandshake(c, config) {
  return w.ClientHandshake.startWithEphemeralForTestVectors(
    config, c.key_id, hex(c.kx_payload), hex(c.client_ephemeral_private), hex(c.iv1));
}

/** A client session built from the case's inputs. */
function clientSession(c) {
  const config = clientConfig(c);
  const hs = startHandshake(c, config);
  const s = hs.finish(hex(c.kxr_envelope), c.now_ms);
  hs.free();
  config.free();
  return s;
}

assert.ok(vectors.cases.length >= 8, "the vector file has its cases");

for (const c of vectors.cases) {
  test(`vector case ${c.name}`, () => {
    // Server with the case's static key.
    const server = new w.Server(c.padding_block);
    const spki = server.addKey(c.key_id, hex(c.server_static_private), 0);
    const config = clientConfig(c);
    assert.equal(config.trust(c.key_id, spki).firstUse, false);

    // Type 1, byte for byte, and opened by the server.
    const hs = startHandshake(c, config);
    same(hs.envelope, hex(c.kx_envelope), "type 1");
    const accepted = server.accept(hex(c.kx_envelope), c.now_ms);
    same(accepted.payload, hex(c.kx_payload), "type-1 payload");

    // Type 130, byte for byte, and opened by the client.
    const ss = accepted.respondWithEphemeralForTestVectors(
      c.session_id, c.expires_at_ms, hex(c.kxr_payload), hex(c.server_ephemeral_private));
    same(ss.handshakeResponse, hex(c.kxr_envelope), "type 130");
    const cs = hs.finish(hex(c.kxr_envelope), c.now_ms);
    assert.equal(hs.isFinished, true);
    assert.equal(cs.sessionId, c.session_id);
    assert.equal(ss.sessionId, c.session_id);
    assert.equal(cs.expiresAtMs, c.expires_at_ms);
    same(cs.appPayload, hex(c.kxr_payload), "type-130 app payload");

    // Requests sealed by the client in sequence order, byte for byte.
    const pending = new Map();
    for (const x of [...c.exchanges].sort((a, b) => a.seq - b.seq)) {
      assert.equal(cs.nextSeq, x.seq);
      const p = cs.sealRequest(text(x.ctx), hex(x.request), c.now_ms);
      assert.equal(p.seq, x.seq);
      same(p.envelope, hex(x.request_envelope), `request ${x.seq}`);
      pending.set(x.seq, p);
    }
    // The server opens them in the listed order and answers, byte for byte; the client opens
    // every type 129.
    for (const x of c.exchanges) {
      const opened = ss.openRequest(text(x.ctx), hex(x.request_envelope), c.now_ms);
      assert.equal(opened.seq, x.seq);
      same(opened.body, hex(x.request), `request body ${x.seq}`);
      const answer = ss.sealResponse(opened, text(x.ctx), hex(x.response));
      same(answer, hex(x.response_envelope), `response ${x.seq}`);
      refused(() => ss.sealResponse(opened, text(x.ctx), hex(x.response)), "invalid_state", "one answer per request");
      const p = pending.get(x.seq);
      same(cs.openResponse(p, text(x.ctx), hex(x.response_envelope)), hex(x.response), `response body ${x.seq}`);
      assert.equal(p.isPending, false);
      refused(() => cs.openResponse(p, text(x.ctx), hex(x.response_envelope)), "invalid_state", "a used token");
    }

    // Every negative, with the vector's error.
    assert.ok(c.negative.length > 0);
    const kinds = new Set();
    for (const n of c.negative) {
      const what = `${c.name}: ${n.stage} ${n.kind}`;
      kinds.add(n.kind);
      const env = hex(n.envelope);
      switch (n.stage) {
        case "kx":
          refused(() => server.accept(env, c.now_ms), n.error, what);
          break;
        case "kxr": {
          const h = startHandshake(c, config);
          refused(() => h.finish(env, c.now_ms), n.error, what);
          refused(() => h.finish(hex(c.kxr_envelope), c.now_ms), "invalid_state", `${what}: the handshake is used up`);
          h.free();
          break;
        }
        case "request":
          refused(() => ss.openRequest(text(n.ctx), env, c.now_ms), n.error, what);
          break;
        case "response": {
          const s = clientSession(c);
          let p;
          for (let i = 1; i <= n.seq; i++) p = s.sealRequest("POST /x", new Uint8Array(1), c.now_ms);
          refused(() => s.openResponse(p, text(n.ctx), env), n.error, what);
          assert.equal(p.isPending, true, `${what}: a failed open keeps the token`);
          p.free();
          s.free();
          break;
        }
        default:
          assert.fail(`unknown stage ${n.stage}`);
      }
    }
    for (const k of ["replay", "replayed_tampered", "tampered_ciphertext", "tampered_tag", "wrong_ctx"]) {
      assert.ok(kinds.has(k), `${c.name} has a ${k} negative`);
    }
    for (const p of pending.values()) p.free();
    cs.free();
    ss.free();
    accepted.free();
    config.free();
    server.free();
  });
}

// ------------------------------------------------------------------------------------------
// The boundary's own properties.

function pair(now = 1_764_400_000_000) {
  const server = new w.Server(64);
  const spki = server.generateKey("k-test", now);
  const config = new w.ClientConfig();
  config.pin("k-test", spki);
  const hs = w.ClientHandshake.start(config, "k-test");
  const accepted = server.accept(hs.envelope, now);
  const ss = accepted.respond(w.generateSessionId(), now + 600_000, new Uint8Array());
  const cs = hs.finish(ss.handshakeResponse, now);
  return { server, spki, config, cs, ss, now };
}

test("tokens: one open per pending request; a failed open keeps it; tokens are per session", () => {
  const a = pair();
  const b = pair();
  const ctx = "POST /web/v1/system/auth/password/init";
  const p = a.cs.sealRequest(ctx, new TextEncoder().encode("{}"), a.now);
  const request = p.envelope;
  const opened = a.ss.openRequest(ctx, request, a.now);
  const answer = a.ss.sealResponse(opened, ctx, new TextEncoder().encode('{"ok":1}'));
  const bad = answer.slice();
  bad[bad.length - 1] ^= 1;
  refused(() => a.cs.openResponse(p, ctx, bad), "decryption_failed", "tampered answer");
  refused(() => a.cs.openResponse(p, ctx + "/", answer), "decryption_failed", "wrong ctx");
  refused(() => b.cs.openResponse(p, ctx, answer), "invalid_argument", "token of another session");
  assert.equal(p.isPending, true);
  assert.equal(new TextDecoder().decode(a.cs.openResponse(p, ctx, answer)), '{"ok":1}');
  refused(() => a.cs.openResponse(p, ctx, answer), "invalid_state", "second open");
  assert.equal(p.envelope.length, 0, "the envelope copy is dropped once answered");
  refused(() => a.ss.openRequest(ctx, request, a.now), "replayed", "replay");
});

test("state and argument errors", () => {
  const a = pair();
  refused(() => a.cs.sealRequest("POST /x", new Uint8Array(1), NaN), "invalid_argument", "NaN time");
  refused(() => a.cs.sealRequest("POST /x", new Uint8Array(1), -1), "invalid_argument", "negative time");
  refused(() => a.cs.sealRequest("POST /x", new Uint8Array(1), 1.5), "invalid_argument", "fractional time");
  refused(() => a.cs.sealRequest("POST /x", new Uint8Array(1), a.now + 600_000), "session_expired", "expired");
  assert.equal(a.cs.nextSeq, 1, "a refused seal uses no sequence number");
  const config = new w.ClientConfig();
  refused(() => w.ClientHandshake.start(config, "k-test"), "untrusted_server_key", "unpinned");
  refused(() => config.pin("k-test", "AAAA"), "invalid_public_key", "bad SPKI");
  refused(() => config.pinRaw("k-test", new Uint8Array(31)), "invalid_public_key", "31 bytes");
  refused(() => config.setPaddingBlock(0), "invalid_argument", "block 0");
  refused(() => config.setLimits(1 << 20, 70000, 1 << 20), "invalid_argument", "ctx limit");
  config.pin("k-test", a.spki);
  assert.deepEqual(config.pinnedKeyIds(), ["k-test"]);
  const other = pair();
  refused(() => config.trust("k-test", other.spki), "untrusted_server_key", "pinned id, other key");
  refused(() => config.trust("k-new", other.spki), "untrusted_server_key", "unpinned, no TOFU");
  config.setTrustOnFirstUse(true);
  const d = config.trust("k-new", other.spki);
  assert.equal(d.firstUse, true);
  assert.equal(d.keyId, "k-new");
  assert.equal(d.publicKey, other.spki);
  refused(() => config.trust("k-test", other.spki), "untrusted_server_key", "TOFU never overrides a pin");
  a.cs.close();
  assert.equal(a.cs.isClosed, true);
  refused(() => a.cs.sealRequest("POST /x", new Uint8Array(1), a.now), "invalid_state", "closed");
});

test("web form: exact encoding, strict decoding", () => {
  assert.equal(w.webFormEncode(Uint8Array.from([0x53, 0x43, 2, 2])), '{"v":2,"p":"U0MCAg=="}');
  same(w.webFormDecode(' { "p" : "U0MCAg==" , "v" : 2 } '), [0x53, 0x43, 2, 2], "either order, whitespace");
  refused(() => w.webFormDecode('{"v":3,"p":"U0MCAg=="}'), "unsupported_version", "v 3");
  for (const bad of ['{"v":02,"p":"U0MCAg=="}', '{"v":"2","p":"U0MCAg=="}', '{"v":2,"p":"U0MCAg"}',
    '{"v":2,"p":"U0MCAg==","x":1}', '{"v":2}', "[]", ""]) {
    refused(() => w.webFormDecode(bad), "malformed_envelope", bad);
  }
  refused(() => w.webFormDecode(" ".repeat(101), 100), "payload_too_large", "cap");
  assert.equal(w.isWebForm('  {"v":2}'), true);
  assert.equal(w.isWebForm("SC"), false);
  assert.equal(w.suite(), "X25519-HKDF-SHA256-AES-256-GCM");
});

test("plaintexts that crossed the boundary are zeroized in wasm memory", () => {
  const a = pair();
  const memory = () => Buffer.from(exportsOf.memory.buffer);
  const marker = "PASSWORD-MARKER-7f3a9c";
  const ctx = "POST /web/v1/system/auth/password/init";
  const body = new TextEncoder().encode(`{"sessionId":"s","password":"${marker}"}`);
  const p = a.cs.sealRequest(ctx, body, a.now);
  assert.equal(memory().indexOf(marker), -1, "the sealed body's copy was zeroized");
  const opened = a.ss.openRequest(ctx, p.envelope, a.now);
  assert.equal(new TextDecoder().decode(opened.body).includes(marker), true);
  const answerMarker = "ANSWER-MARKER-51be02";
  const answer = a.ss.sealResponse(opened, ctx, new TextEncoder().encode(answerMarker));
  assert.equal(memory().indexOf(answerMarker), -1, "the answer body's copy was zeroized");
  opened.free(); // the server's Zeroizing copy of the request body
  assert.equal(memory().indexOf(marker), -1, "no copy of the password left after free");
  assert.ok(answer.length > 0);
  p.free();
});

test("the decrypted answer's copy is zeroized once it is handed to JavaScript", () => {
  const a = pair();
  const ctx = "POST /web/v1/x";
  const p = a.cs.sealRequest(ctx, new TextEncoder().encode("{}"), a.now);
  const o = a.ss.openRequest(ctx, p.envelope, a.now);
  const marker = "DECRYPTED-MARKER-0c81d4";
  const answer = a.ss.sealResponse(o, ctx, new TextEncoder().encode(marker));
  const plain = a.cs.openResponse(p, ctx, answer);
  assert.equal(new TextDecoder().decode(plain), marker);
  assert.equal(Buffer.from(exportsOf.memory.buffer).indexOf(marker), -1);
});

test("the stack scrub covers every export that runs the core's cryptography (debug frames)", () => {
  const call = (f) => scrubbedCall(exportsOf.memory, f).result;
  const now = 1_764_400_000_000;
  const server = new w.Server(64);
  const spki = call(() => server.generateKey("k-scrub", now));
  const config = new w.ClientConfig();
  config.pin("k-scrub", spki);
  const hs = call(() => w.ClientHandshake.start(config, "k-scrub"));
  const acc = call(() => server.accept(hs.envelope, now));
  const ss = call(() => acc.respond("sid-scrub", now + 600_000, new Uint8Array()));
  const cs = call(() => hs.finish(ss.handshakeResponse, now));
  for (const size of [0, 1024, 16384]) {
    const body = new Uint8Array(size).fill(0x41);
    const p = call(() => cs.sealRequest("POST /x", body, now));
    const o = call(() => ss.openRequest("POST /x", p.envelope, now));
    const a = call(() => ss.sealResponse(o, "POST /x", body));
    assert.equal(call(() => cs.openResponse(p, "POST /x", a)).length, size);
  }
});
