// The low-level API (the wasm module itself) against tests/vectors/scv2-x25519.json and
// tests/vectors/scv2-x25519mlkem768.json (the hybrid suite), in Node's test runner: every case's
// envelopes reproduced byte for byte in both roles (the hybrid ones from the recorded ML-KEM seeds
// and encapsulation randomness), every type 130 and 129 opened, every negative refused with the
// vector's error name; then the properties of the JavaScript boundary (pins and their algorithm,
// a live exchange of each suite, single-use tokens, state errors, arguments, zeroized copies).
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

const X25519 = "X25519-HKDF-SHA256-AES-256-GCM";
const PQ = "X25519MLKEM768-HKDF-SHA256-AES-256-GCM";
const loadVectors = (f) => JSON.parse(readFileSync(join(ROOT, "tests/vectors", f), "utf8"));
const vectors = loadVectors("scv2-x25519.json");
const pqVectors = loadVectors("scv2-x25519mlkem768.json");
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

/** The suite of a vector case: the hybrid cases are the ones with ML-KEM inputs. */
const isHybrid = (c) => c.server_mlkem_seed !== undefined;

function clientConfig(c) {
  const config = new w.ClientConfig();
  config.pinRaw(c.key_id, hex(c.server_static_public), isHybrid(c) ? PQ : undefined);
  config.setPaddingBlock(c.padding_block);
  return config;
}

function startHandshake(c, config) {
  if (isHybrid(c)) {
    return w.ClientHandshake.startHybridWithEphemeralForTestVectors(
      config, c.key_id, hex(c.kx_payload), hex(c.client_ephemeral_private), hex(c.client_mlkem_seed),
      hex(c.encaps_randomness_1), hex(c.iv1));
  }
  return w.ClientHandshake.startWithEphemeralForTestVectors(
    config, c.key_id, hex(c.kx_payload), hex(c.client_ephemeral_private), hex(c.iv1));
}

/** The server's answer with the case's fixed ephemerals. */
function respond(c, accepted) {
  if (isHybrid(c)) {
    return accepted.respondHybridWithEphemeralForTestVectors(c.session_id, c.expires_at_ms, hex(c.kxr_payload),
      hex(c.server_ephemeral_private), hex(c.encaps_randomness_2));
  }
  return accepted.respondWithEphemeralForTestVectors(
    c.session_id, c.expires_at_ms, hex(c.kxr_payload), hex(c.server_ephemeral_private));
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
assert.equal(vectors.suite, X25519);
assert.ok(pqVectors.cases.length >= 6, "the hybrid vector file has its cases");
assert.equal(pqVectors.suite, PQ);
assert.ok(pqVectors.cases.every(isHybrid) && !vectors.cases.some(isHybrid));

/** The negatives every case of a suite's file must have (so that a thinner file fails here). */
const REQUIRED_NEGATIVES = {
  [X25519]: ["replay", "replayed_tampered", "tampered_ciphertext", "tampered_tag", "wrong_ctx"],
  [PQ]: ["replay", "replayed_tampered", "tampered_ciphertext", "tampered_tag", "wrong_ctx", "tampered_ct1",
    "tampered_ct2", "tampered_ephemeral_key", "tampered_server_ephemeral_key", "tampered_ek_e",
    "ek_e_fails_key_check", "request_key_length_1119", "x25519_suite_type1"],
};

for (const c of [...vectors.cases, ...pqVectors.cases]) {
  const algorithm = isHybrid(c) ? PQ : X25519;
  test(`vector case ${c.name}`, () => {
    // Server with the case's static key (the hybrid private form is s || d_s || z_s).
    const server = new w.Server(c.padding_block);
    const privateKey = isHybrid(c) ? hex(c.server_static_private + c.server_mlkem_seed) : hex(c.server_static_private);
    const publicKey = server.addKey(c.key_id, privateKey, 0, isHybrid(c) ? PQ : undefined);
    const config = clientConfig(c);
    assert.equal(config.pinnedAlgorithm(c.key_id), algorithm);
    const decision = config.trust(c.key_id, publicKey, algorithm);
    assert.equal(decision.firstUse, false);
    assert.equal(decision.algorithm, algorithm);
    same(Buffer.from(decision.publicKey, "base64").subarray(isHybrid(c) ? 0 : 12), hex(c.server_static_public),
      "the server's public key is the vector's");
    refused(() => config.trust(c.key_id, publicKey, isHybrid(c) ? X25519 : PQ), "untrusted_server_key",
      "a document of another algorithm");

    // Type 1, byte for byte, and opened by the server.
    const hs = startHandshake(c, config);
    assert.equal(hs.algorithm, algorithm);
    same(hs.envelope, hex(c.kx_envelope), "type 1");
    assert.equal(hs.envelope.length, w.keyExchangeLen(algorithm, Buffer.byteLength(c.key_id), c.kx_payload.length / 2,
      c.padding_block), "keyExchangeLen");
    const accepted = server.accept(hex(c.kx_envelope), c.now_ms);
    assert.equal(accepted.algorithm, algorithm);
    same(accepted.payload, hex(c.kx_payload), "type-1 payload");

    // Type 130, byte for byte, and opened by the client.
    const ss = respond(c, accepted);
    same(ss.handshakeResponse, hex(c.kxr_envelope), "type 130");
    assert.equal(ss.handshakeResponse.length, w.keyExchangeResponseLen(algorithm, Buffer.byteLength(c.session_id),
      c.kxr_payload.length / 2, c.padding_block), "keyExchangeResponseLen");
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
    for (const k of REQUIRED_NEGATIVES[algorithm]) {
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

function pair(now = 1_764_400_000_000, algorithm = undefined) {
  const server = new w.Server(64);
  const spki = server.generateKey("k-test", now, algorithm);
  const config = new w.ClientConfig();
  config.pin("k-test", spki, algorithm);
  const hs = w.ClientHandshake.start(config, "k-test");
  const accepted = server.accept(hs.envelope, now);
  const ss = accepted.respond(w.generateSessionId(), now + 600_000, new Uint8Array());
  const cs = hs.finish(ss.handshakeResponse, now);
  return { server, spki, config, cs, ss, now };
}

test("a live hybrid exchange: random keys of both suites in one server, each handshake in its pin's suite", () => {
  const now = 1_764_400_000_000;
  const server = new w.Server(64);
  const pqKey = server.generateKey("k-pq", now, PQ);
  const xKey = server.generateKey("k-x", now);
  assert.equal(Buffer.from(pqKey, "base64").length, w.suitePublicKeyLen(PQ));
  assert.equal(Buffer.from(xKey, "base64").length, 44, "the X25519 key stays a base64 SPKI");
  const config = new w.ClientConfig();
  config.pin("k-pq", pqKey, PQ);
  config.pin("k-x", xKey); // no algorithm: the X25519 suite
  assert.equal(config.pinnedAlgorithm("k-x"), X25519);
  assert.equal(config.pinnedAlgorithm("k-pq"), PQ);
  assert.equal(config.pinnedAlgorithm("k-none"), undefined);
  for (const [keyId, algorithm] of [["k-pq", PQ], ["k-x", X25519]]) {
    const hs = w.ClientHandshake.start(config, keyId, new TextEncoder().encode("{}"));
    assert.equal(hs.algorithm, algorithm);
    assert.equal(hs.envelope.length, w.keyExchangeLen(algorithm, keyId.length, 2, 64));
    if (keyId === "k-pq") assert.equal(hs.envelope.length, 2414 - 9 + 4, "SPEC 15.7's 2414 bytes, for a 4-byte keyId");
    const acc = server.accept(hs.envelope, now);
    assert.equal(acc.algorithm, algorithm);
    const sid = "0123456789abcdefghijkl"; // 22 characters, as generated ones
    const ss = acc.respond(sid, now + 600_000, new Uint8Array());
    assert.equal(ss.handshakeResponse.length, w.keyExchangeResponseLen(algorithm, 22, 0, 64));
    if (keyId === "k-pq") assert.equal(ss.handshakeResponse.length, 1216, "SPEC 15.7's 1216 bytes");
    const cs = hs.finish(ss.handshakeResponse, now);
    assert.equal(hs.algorithm, "", "a finished handshake has no algorithm any more");
    const ctx = "POST /web/v1/system/auth/password/init";
    const p = cs.sealRequest(ctx, new TextEncoder().encode('{"password":"x"}'), now);
    const o = ss.openRequest(ctx, p.envelope, now);
    assert.equal(new TextDecoder().decode(o.body), '{"password":"x"}');
    const answer = ss.sealResponse(o, ctx, new TextEncoder().encode('{"success":true}'));
    assert.equal(new TextDecoder().decode(cs.openResponse(p, ctx, answer)), '{"success":true}');
    // A tampered type 130 (its ct2, or F) does not open.
    const h2 = w.ClientHandshake.start(config, keyId);
    const a2 = server.accept(h2.envelope, now);
    const t130 = a2.respond(sid, now + 600_000, new Uint8Array()).handshakeResponse;
    t130[4] ^= 1;
    refused(() => h2.finish(t130, now), "decryption_failed", `${algorithm}: tampered type 130`);
    [hs, acc, ss, cs, p, o, h2, a2].forEach((x) => x.free());
  }
  // A handshake started on the X25519 pin never opens with the hybrid key and vice versa: the
  // type 1 names its key id, and the server applies that key's suite (SPEC 15: wrong lengths).
  const hx = w.ClientHandshake.start(config, "k-x");
  const t1 = hx.envelope;
  const renamed = Uint8Array.from([...t1.subarray(0, 5), ...new TextEncoder().encode("k-pq"), ...t1.subarray(5 + 3)]);
  renamed[4] = 4;
  refused(() => server.accept(renamed, now), "malformed_envelope", "an X25519 type 1 to the hybrid key id");
  hx.free();
  config.free();
  server.free();
});

test("pins carry their algorithm; a document of another algorithm is refused like another key", () => {
  const now = 1_764_400_000_000;
  const server = new w.Server(64);
  const pqKey = server.generateKey("k-pq", now, PQ);
  const xKey = server.generateKey("k-x", now);
  const config = new w.ClientConfig();
  refused(() => config.pin("k-pq", pqKey), "invalid_public_key", "a hybrid key under the default (X25519) algorithm");
  refused(() => config.pin("k-x", xKey, PQ), "invalid_public_key", "an SPKI under the hybrid algorithm");
  refused(() => config.pin("k-pq", pqKey, "X25519MLKEM768"), "invalid_argument", "an unknown algorithm name");
  refused(() => config.pin("k-pq", pqKey, PQ.toLowerCase()), "invalid_argument", "names are case-sensitive");
  refused(() => config.pinRaw("k-pq", new Uint8Array(1215), PQ), "invalid_public_key", "1215 bytes");
  refused(() => config.pinRaw("k-pq", new Uint8Array(1216).fill(0xff), PQ), "invalid_public_key",
    "an ek_s that fails the FIPS 203 key check");
  refused(() => config.pinRaw("k-x", Buffer.from(pqKey, "base64")), "invalid_public_key", "1216 bytes as X25519");
  assert.deepEqual(config.pinnedKeyIds(), [], "no refused pin was kept");
  config.pinRaw("k-pq", Buffer.from(pqKey, "base64"), PQ);
  config.pin("k-x", xKey, X25519);

  const d = config.trust("k-pq", pqKey, PQ);
  assert.equal(d.firstUse, false);
  assert.equal(d.algorithm, PQ);
  assert.equal(d.publicKey, pqKey);
  assert.equal(config.trust("k-x", xKey).algorithm, X25519, "a document without algorithm is X25519");
  refused(() => config.trust("k-pq", pqKey), "untrusted_server_key", "hybrid pin, document without algorithm");
  refused(() => config.trust("k-pq", pqKey, X25519), "untrusted_server_key", "hybrid pin, X25519 document");
  refused(() => config.trust("k-x", xKey, PQ), "untrusted_server_key", "X25519 pin, hybrid document");
  refused(() => config.trust("k-x", pqKey, PQ), "untrusted_server_key", "X25519 pin, hybrid key and algorithm");
  refused(() => config.trust("k-pq", pqKey, "X25519MLKEM1024-HKDF-SHA256-AES-256-GCM"), "untrusted_server_key",
    "an unknown algorithm");
  const otherPq = new w.Server(64).generateKey("k-pq", now, PQ);
  refused(() => config.trust("k-pq", otherPq, PQ), "untrusted_server_key", "hybrid pin, another hybrid key");
  refused(() => config.trust("k-pq", pqKey.slice(0, -4), PQ), "invalid_public_key", "a truncated hybrid key");

  // Trust on first use: the document's algorithm is what the app is asked to store.
  refused(() => config.trust("k-new", otherPq, PQ), "untrusted_server_key", "unpinned, no TOFU");
  config.setTrustOnFirstUse(true);
  const f = config.trust("k-new", otherPq, PQ);
  assert.equal(f.firstUse, true);
  assert.equal(f.algorithm, PQ);
  assert.equal(f.publicKey, otherPq);
  refused(() => config.trust("k-new", otherPq, "nope"), "untrusted_server_key", "TOFU of an unknown algorithm");
  refused(() => config.trust("k-pq", xKey, X25519), "untrusted_server_key", "TOFU never overrides a pin's suite");
  config.free();
  server.free();
});

test("suites and their sizes", () => {
  assert.deepEqual(w.suites(), [X25519, PQ]);
  assert.equal(w.suite(), X25519);
  assert.equal(w.suitePublicKeyLen(X25519), 32);
  assert.equal(w.suitePublicKeyLen(PQ), 1216);
  // SPEC.md 15.7: a 9-byte keyId, payload "{}", block 64; a 22-byte session id.
  assert.equal(w.keyExchangeLen(PQ, 9, 2, 64), 2414);
  assert.equal(w.keyExchangeLen(PQ, 1, 0, 1), 2343);
  assert.equal(w.keyExchangeResponseLen(PQ, 22, 0, 64), 1216);
  assert.equal(w.keyExchangeLen(X25519, 2, 0, 64), 43 + 12 + 64 + 16);
  for (const [f, args] of [[w.suitePublicKeyLen, ["x"]], [w.keyExchangeLen, [PQ, 0, 0, 64]], [w.keyExchangeLen, [PQ, 256, 0, 64]],
    [w.keyExchangeLen, [PQ, 1, 0, 0]], [w.keyExchangeLen, ["x", 1, 0, 64]], [w.keyExchangeResponseLen, [PQ, 65, 0, 64]],
    [w.keyExchangeResponseLen, [X25519, 1, 0, 4097]]]) {
    refused(() => f(...args), "invalid_argument", `${f.name}(${args})`);
  }
  const s = new w.Server(64);
  refused(() => s.addKey("k", new Uint8Array(32), 0, PQ), "invalid_argument", "a 32-byte private key for the hybrid suite");
  refused(() => s.addKey("k", new Uint8Array(96), 0), "invalid_argument", "a 96-byte private key for X25519");
  refused(() => s.generateKey("k", 0, "nope"), "invalid_argument", "an unknown suite");
  s.free();
});

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

for (const algorithm of [X25519, PQ]) {
  test(`the stack scrub covers every export that runs the core's cryptography (debug frames, ${algorithm})`, () => {
    const call = (f) => scrubbedCall(exportsOf.memory, f).result;
    const now = 1_764_400_000_000;
    const server = new w.Server(64);
    const key = call(() => server.generateKey("k-scrub", now, algorithm));
    const config = new w.ClientConfig();
    call(() => config.pin("k-scrub", key, algorithm));
    call(() => config.trust("k-scrub", key, algorithm).free());
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
}
