// The web SDK's benchmark page (bindings/web/bench/run.mjs serves it cross-origin isolated, so
// performance.now() has a 5 µs resolution, and drives it in headless Chromium). The module is the
// benchmark build (release, wasm-opt -Oz, plus the test-only server role so that the page can
// answer its own handshakes and requests); the client code paths are the shipped ones.
// Each sample times a batch of operations and divides; the figure is the median of the samples.
// Server-side work (accept/respond, openRequest/sealResponse) runs between the timed client
// batches and is not counted. The handshake is timed for both suites (X25519, and the hybrid
// X25519MLKEM768), alternating samples.
import init, { ClientConfig, ClientHandshake, Server, generateSessionId } from "./pkg/scv2_web.js";

await init();
const params = new URLSearchParams(location.search);
const SAMPLES = Number(params.get("samples") ?? 31);
const BATCH = Number(params.get("batch") ?? 20);
const now0 = Date.now();
const PQ = "X25519MLKEM768-HKDF-SHA256-AES-256-GCM";
const server = new Server(64);
const spki = server.generateKey("k-bench", now0);
const pqKey = server.generateKey("k-bench-pq", now0, PQ);
const config = new ClientConfig();
config.pin("k-bench", spki);
config.pin("k-bench-pq", pqKey, PQ);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
const us = (ms) => Math.round(ms * 1000 * 10) / 10;

function handshakeSample(keyId) {
  const t0 = performance.now();
  const hs = [];
  for (let i = 0; i < BATCH; i++) hs.push(ClientHandshake.start(config, keyId));
  const t1 = performance.now();
  const answers = hs.map((h) => {
    const a = server.accept(h.envelope, Date.now());
    const s = a.respond(generateSessionId(), Date.now() + 600_000, new Uint8Array());
    const r = s.handshakeResponse;
    a.free(); s.free();
    return r;
  });
  const t2 = performance.now();
  const sessions = hs.map((h, i) => h.finish(answers[i], Date.now()));
  const t3 = performance.now();
  hs.forEach((h) => h.free());
  sessions.forEach((s) => s.free());
  return (t1 - t0 + (t3 - t2)) / BATCH;
}

function session() {
  const h = ClientHandshake.start(config, "k-bench");
  const a = server.accept(h.envelope, Date.now());
  const ss = a.respond(generateSessionId(), Date.now() + 3_600_000, new Uint8Array());
  const cs = h.finish(ss.handshakeResponse, Date.now());
  h.free(); a.free();
  return { cs, ss };
}

function sealOpenSample({ cs, ss }, body, ctx) {
  const t0 = performance.now();
  const pending = [];
  for (let i = 0; i < BATCH; i++) pending.push(cs.sealRequest(ctx, body, Date.now()));
  const t1 = performance.now();
  const answers = pending.map((p) => {
    const o = ss.openRequest(ctx, p.envelope, Date.now());
    const r = ss.sealResponse(o, ctx, body);
    o.free();
    return r;
  });
  const t2 = performance.now();
  for (let i = 0; i < BATCH; i++) cs.openResponse(pending[i], ctx, answers[i]);
  const t3 = performance.now();
  pending.forEach((p) => p.free());
  return (t1 - t0 + (t3 - t2)) / BATCH;
}

async function webCryptoSample(key, body) {
  const t0 = performance.now();
  for (let i = 0; i < BATCH; i++) {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, body);
    await crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, ct);
  }
  return (performance.now() - t0) / BATCH;
}

const result = { samples: SAMPLES, batch: BATCH, crossOriginIsolated, userAgent: navigator.userAgent };
// The two suites' handshakes alternate sample by sample, so that both see the same load.
for (let i = 0; i < 3; i++) { handshakeSample("k-bench"); handshakeSample("k-bench-pq"); } // warm-up
const hx = [];
const hpq = [];
for (let i = 0; i < SAMPLES; i++) {
  hx.push(handshakeSample("k-bench"));
  hpq.push(handshakeSample("k-bench-pq"));
}
result.handshake_us = us(median(hx));
result.handshake_x25519mlkem768_us = us(median(hpq));
result.handshake_ratio = Math.round((median(hpq) / median(hx)) * 100) / 100;
const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
const ctx = "POST /web/v1/system/auth/password/init";
for (const size of [1024, 16384]) {
  const body = crypto.getRandomValues(new Uint8Array(size));
  const s = session();
  for (let i = 0; i < 3; i++) sealOpenSample(s, body, ctx);
  const sc = median(Array.from({ length: SAMPLES }, () => sealOpenSample(s, body, ctx)));
  for (let i = 0; i < 3; i++) await webCryptoSample(key, body);
  const wc = [];
  for (let i = 0; i < SAMPLES; i++) wc.push(await webCryptoSample(key, body));
  result[`seal_open_${size}_us`] = us(sc);
  result[`webcrypto_${size}_us`] = us(median(wc));
  result[`ratio_${size}`] = Math.round((sc / median(wc)) * 100) / 100;
  s.cs.free(); s.ss.free();
}
document.getElementById("out").textContent = JSON.stringify(result, null, 1);
document.body.dataset.done = "1";
