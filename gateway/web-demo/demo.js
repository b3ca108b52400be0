// The web demo: the password-init flow with the scv2-web SDK, each exchange shown as the network
// sees it and as the page reads it. Served by `scv2 serve --web-demo` at /demo/ (same origin) and
// by the cross-origin test's own server; the configuration element gives the pins (and, on
// another origin, the gateway's baseUrl). The outcome is also written as JSON to #result.
import { SecureChannel, GatewayError, Scv2Error } from "./pkg/index.js";

const INIT = "/web/v1/system/auth/password/init";
const config = JSON.parse(document.getElementById("scv2-config").textContent);
const baseUrl = config.baseUrl ?? location.origin;
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
$("sid").value = params.get("sid") ?? "";
$("gateway").textContent = `gateway ${baseUrl} · pinned ${config.pins.map((p) => p.keyId).join(", ") || "(none)"}`;

const tbody = document.querySelector("#steps tbody");
function row(step, status, wire, read, ok) {
  const tr = document.createElement("tr");
  for (const [i, v] of [step, status, wire, read].entries()) {
    const td = document.createElement("td");
    if (i >= 2) {
      const pre = document.createElement("pre");
      pre.textContent = v;
      if (i === 2) pre.className = "wire";
      td.append(pre);
    } else {
      td.textContent = v;
    }
    if (i === 1) td.className = ok ? "ok" : "bad";
    tr.append(td);
  }
  tbody.append(tr);
}
const short = (s, n = 160) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);
const pathOf = (url) => new URL(url).pathname;

async function run(sessionId, password, language) {
  const exchanges = [];
  const result = { ok: false, origin: location.origin, baseUrl };
  const sc = new SecureChannel({
    baseUrl,
    pins: config.pins,
    clientHash: "scv2-web-demo",
    language,
    headers: config.headers ?? {},
    onExchange: (x) => exchanges.push(x),
  });
  const expect = (cond, what) => {
    if (!cond) throw new Error(`unexpected: ${what}`);
  };
  try {
    // 1. Public key → session → init (201), all inside the first post.
    const first = await sc.post(INIT, { sessionId, password });
    const [keyDoc, session, init] = exchanges;
    const doc = JSON.parse(keyDoc.responseBody).data;
    result.keyId = doc.keyId;
    row("public key (checked against the pin)", keyDoc.status, short(keyDoc.responseBody),
      `keyId ${doc.keyId}: matches the pin`, keyDoc.status === 200);
    result.sessionId = sc.sessionId;
    row("open a session (type 1 → type 130)", session.status, `→ ${short(session.requestBody)}\n← ${short(session.responseBody)}`,
      `session ${sc.sessionId.slice(0, 6)}…`, session.status === 200);
    result.init1 = { status: first.status, success: first.body.success, code: first.body.code };
    row("password init (type 2 → type 129)", first.status, `→ ${short(init.requestBody)}\n← ${short(init.responseBody)}`,
      JSON.stringify(first.body, null, 1), first.status === 201 && first.body.success === true);
    expect(first.status === 201 && first.body.success === true, `first init ${first.status}`);

    // 2. The same envelope retransmitted byte for byte (what a retrying proxy would do).
    const again = await fetch(init.url, { method: "POST", headers: init.requestHeaders, body: init.requestBody,
      credentials: "omit", cache: "no-store" });
    const againText = await again.text();
    const identical = againText === init.responseBody;
    let plain = null;
    try {
      plain = JSON.parse(againText);
    } catch { /* not JSON */ }
    const plaintext = !(plain && "v" in plain && "p" in plain);
    result.retransmit = { status: again.status, plaintext, identical, code: plaintext ? plain?.code ?? null : null };
    row("the same envelope again", again.status, `→ (identical request)\n← ${short(againText)}`,
      identical ? "byte-identical to the first answer (SPEC 8.4: no second init, no new encryption)"
        : plaintext ? `refused in plaintext: ${plain?.code}` : "an envelope that is not the first answer",
      identical && again.status === 201);

    // 3. A new request with the same init session id: 404 inside a type 129.
    const second = await sc.post(INIT, { sessionId, password });
    const x2 = exchanges[exchanges.length - 1];
    result.init2 = { status: second.status, success: second.body.success, code: second.body.code };
    row("password init again (new envelope)", second.status, `→ ${short(x2.requestBody)}\n← ${short(x2.responseBody)}`,
      JSON.stringify(second.body, null, 1), second.status === 404 && second.body.code === "AUTH.SESSION_NOT_FOUND");
    expect(second.status === 404 && second.body.success === false, `second init ${second.status}`);

    // 4. Close the session.
    await sc.close();
    const xc = exchanges[exchanges.length - 1];
    result.closed = xc.status === 200 && pathOf(xc.url).endsWith("/session/close");
    row("close the session", xc.status, `→ ${short(xc.requestBody)}\n← ${short(xc.responseBody)}`,
      "keys zeroized in wasm memory", result.closed);
    result.ok = result.closed;
  } catch (e) {
    sc.dispose();
    result.error = {
      name: e?.name ?? "Error",
      message: String(e?.message ?? e),
      code: e instanceof GatewayError || e instanceof Scv2Error ? e.code : null,
      status: e instanceof GatewayError ? e.status : null,
    };
    row("error", e instanceof GatewayError ? e.status : "—", "", `${result.error.name}: ${result.error.message}`, false);
  }
  result.wire = exchanges.map((x) => ({ method: x.method, path: pathOf(x.url), status: x.status }));
  return result;
}

$("flow").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("run").disabled = true;
  document.body.dataset.state = "running";
  tbody.replaceChildren();
  const result = await run($("sid").value.trim(), $("password").value, $("lang").value);
  $("verdict").textContent = result.ok ? "Flow complete: every answer as expected." : `Flow failed: ${result.error?.message ?? "see above"}`;
  $("verdict").className = result.ok ? "ok" : "bad";
  $("result").textContent = JSON.stringify(result);
  document.body.dataset.state = result.ok ? "done" : "failed";
  $("run").disabled = false;
});
