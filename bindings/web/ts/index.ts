/**
 * scv2-web: Secure Channel v2 for web apps.
 *
 * Two levels, one core. Every cryptographic operation (X25519, ML-KEM-768, HKDF, AES-256-GCM,
 * padding, framing, the web form) runs in the scv2 Rust core compiled to WebAssembly; this file
 * only speaks HTTP and manages the session's lifetime. Both suites (X25519 and the hybrid
 * X25519MLKEM768) are there; a pin's `algorithm` chooses, never a fetched document.
 *
 * - High level: {@link SecureChannel} fetches and checks the server key against the pins, opens
 *   one session (shared by concurrent calls), reuses it until shortly before it expires,
 *   re-handshakes once when the gateway no longer knows it, and sends `{"v":2,"p":"…"}` bodies
 *   with the SCv2 headers.
 * - Low level (re-exported from the wasm module): `ClientConfig`, `ClientHandshake`,
 *   `ClientSession`, `PendingRequest`, `webFormEncode`, `webFormDecode`, and the suites' names
 *   and sizes (`suites`, `suitePublicKeyLen`, `keyExchangeLen`, `keyExchangeResponseLen`).
 *
 * Secrets (ephemeral and session keys) stay in the wasm linear memory; `free()` zeroizes a
 * handle's secrets at once, and a `FinalizationRegistry` frees forgotten handles. Nothing here is
 * global: every SecureChannel has its own configuration, session and fetch.
 */

import wasmInit, {
  initSync as wasmInitSync,
  ClientConfig,
  ClientHandshake,
  ClientSession,
  PendingRequest,
  TrustDecision,
  isWebForm,
  keyExchangeLen,
  keyExchangeResponseLen,
  suite,
  suitePublicKeyLen,
  suites,
  webFormDecode,
  webFormEncode,
} from "./scv2_web.js";
import type { InitInput, SyncInitInput } from "./scv2_web.js";

export {
  ClientConfig,
  ClientHandshake,
  ClientSession,
  PendingRequest,
  TrustDecision,
  isWebForm,
  keyExchangeLen,
  keyExchangeResponseLen,
  suite,
  suitePublicKeyLen,
  suites,
  webFormDecode,
  webFormEncode,
};

/** The X25519 suite's name (SPEC.md sections 2–14): the default algorithm of a pin. */
export const SUITE_X25519 = "X25519-HKDF-SHA256-AES-256-GCM";
/** The hybrid post-quantum suite's name (SPEC.md section 15). */
export const SUITE_X25519MLKEM768 = "X25519MLKEM768-HKDF-SHA256-AES-256-GCM";
export type { InitInput, SyncInitInput };

// ------------------------------------------------------------------------------------------
// Loading the wasm module

let ready: Promise<void> | undefined;
let loaded = false;

/**
 * Load the wasm module (once; later calls return the same promise). By default it is fetched
 * from `scv2_web_bg.wasm` next to this file (bundlers that understand
 * `new URL("…", import.meta.url)` copy it). Pass a URL, a `Response`, bytes or a compiled
 * `WebAssembly.Module` to load it from elsewhere. {@link SecureChannel} calls this itself; the
 * low-level classes need it to have completed.
 */
export function init(source?: InitInput | Promise<InitInput>): Promise<void> {
  if (!ready) {
    const p = source === undefined ? wasmInit() : wasmInit({ module_or_path: source });
    ready = p.then(
      () => {
        loaded = true;
      },
      (e: unknown) => {
        ready = undefined; // a failed load can be retried
        throw e;
      },
    );
  }
  return ready;
}

/** Load the wasm module synchronously from its bytes or a compiled module (Node, workers). */
export function initSync(module: SyncInitInput): void {
  if (!loaded) {
    wasmInitSync({ module });
    loaded = true;
    ready = Promise.resolve();
  }
}

// ------------------------------------------------------------------------------------------
// Errors

/** The stable error names of SPEC.md section 10. */
export type Scv2ErrorCode =
  | "malformed_envelope"
  | "unsupported_version"
  | "unknown_type"
  | "unknown_key_id"
  | "untrusted_server_key"
  | "invalid_public_key"
  | "decryption_failed"
  | "replayed"
  | "session_expired"
  | "session_exhausted"
  | "response_mismatch"
  | "buffer_too_small"
  | "payload_too_large"
  | "invalid_argument"
  | "invalid_state"
  | "internal";

const ERRNO: Record<Scv2ErrorCode, number> = {
  malformed_envelope: 1,
  unsupported_version: 2,
  unknown_type: 3,
  unknown_key_id: 4,
  untrusted_server_key: 5,
  invalid_public_key: 6,
  decryption_failed: 7,
  replayed: 8,
  session_expired: 9,
  session_exhausted: 10,
  response_mismatch: 11,
  buffer_too_small: 12,
  payload_too_large: 13,
  invalid_argument: 14,
  invalid_state: 15,
  internal: 255,
};

/**
 * A protocol or key failure, decided on this side: the core's errors (thrown by the wasm
 * classes, which are `Error`s named `Scv2Error`) and the SecureChannel's own (an unpinned key).
 * `instanceof Scv2Error` is true for both.
 */
export class Scv2Error extends Error {
  /** The stable name (SPEC.md section 10), e.g. `"decryption_failed"`. */
  readonly code: Scv2ErrorCode;
  /** Its number. */
  readonly errno: number;

  constructor(code: Scv2ErrorCode, message?: string) {
    super(message ?? `scv2: ${code}`);
    this.name = "Scv2Error";
    this.code = code;
    this.errno = ERRNO[code];
  }

  /** True for errors thrown by the wasm core too (they are plain `Error`s with this shape). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      value instanceof Error &&
      value.name === "Scv2Error" &&
      typeof (value as { code?: unknown }).code === "string"
    );
  }
}

/**
 * A plaintext answer of the gateway to an SCv2 call (never encrypted, so never proof of
 * anything: SPEC.md section 9): `status`, the wrapper's `code` and `message` (null/`HTTP <n>`
 * when the body is not the wrapper, e.g. a proxy's error page), its `data`, the `X-Request-Id`
 * and, for 429, `Retry-After` in seconds.
 */
export class GatewayError extends Error {
  readonly status: number;
  readonly code: string | null;
  readonly data: unknown;
  readonly requestId: string | null;
  readonly retryAfter: number | null;

  constructor(
    status: number,
    code: string | null,
    message: string,
    data: unknown,
    requestId: string | null,
    retryAfter: number | null,
  ) {
    super(message);
    this.name = "GatewayError";
    this.status = status;
    this.code = code;
    this.data = data;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

// ------------------------------------------------------------------------------------------
// SecureChannel

/**
 * A server key the app trusts, in the key document's form: `keyId`, `publicKey` (base64 SPKI
 * for the X25519 suite, base64 of `ek_s || S` for the hybrid suite) and `algorithm` (the suite's
 * name; absent means {@link SUITE_X25519}). The pin decides the suite of the handshake; a fetched
 * document only has to agree with it.
 */
export interface Pin {
  keyId: string;
  publicKey: string;
  algorithm?: string;
}

/** What an exchange looked like on the wire (for {@link SecureChannelOptions.onExchange}). */
export interface Exchange {
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  /** The request body as sent (the web form: ciphertext only), or null for a GET. */
  requestBody: string | null;
  status: number;
  responseHeaders: Headers;
  /** The response body as received (web form or plaintext gateway JSON). */
  responseBody: string;
}

export interface SecureChannelOptions {
  /** The gateway's origin (and path prefix, if any), e.g. `https://api.example.com`. */
  baseUrl: string;
  /** The server keys to trust (several for rotation or for both suites). Ship them with the app. */
  pins: readonly Pin[];
  /**
   * The suite to use when the gateway lists several keys (`GET /web/v1/secure-channel/public-keys`),
   * e.g. {@link SUITE_X25519MLKEM768}: the first listed key of that suite that is pinned is used,
   * else the first listed pinned key. Without it (the default), or when the gateway has no list
   * (404), the single key of `GET /web/v1/secure-channel/public-key` is used.
   */
  preferredSuite?: string;
  /** `X-Client-Hash` (the API requires it on protected endpoints). */
  clientHash?: string;
  /** `Accept-Language` (en, zh, zh-Hant, ja, vi). */
  language?: string;
  /**
   * Called when the server advertises a key id that is not pinned. Resolve `true` to trust it
   * (store it and pin it next time); anything else refuses it (`untrusted_server_key`). Without
   * it, an unpinned key is always refused. A pinned key id with another key is always refused.
   */
  trustOnFirstUse?: (key: Pin) => boolean | Promise<boolean>;
  /** The fetch to use (default: the global `fetch`). */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** The clock, ms since the Unix epoch (default `Date.now`). */
  now?: () => number;
  /** A session is replaced this long before its `expiresAt` (default 60 000 ms). */
  refreshMarginMs?: number;
  /** Headers added to every request (e.g. a test environment's `CF-Connecting-IP`). */
  headers?: Record<string, string>;
  /** Padding block of the requests (1–4096, default 64); larger blocks hide lengths better. */
  paddingBlock?: number;
  /** Called after every HTTP exchange with what was on the wire (debugging, demos). */
  onExchange?: (exchange: Exchange) => void;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Extra headers for this request. */
  headers?: Record<string, string>;
  /** `X-Request-Id` (a UUID; default: a fresh UUID v4). */
  requestId?: string;
}

/** A decrypted answer. Act on `body.success` / `body.code`, never on `status` alone. */
export interface SecureResponse<T = unknown> {
  /** The HTTP status (not authenticated). */
  status: number;
  /** The decrypted JSON body (the gateway's wrapper `{success, code, message, data}`). */
  body: T;
  /** `X-Request-Id` of the answer. */
  requestId: string | null;
  headers: Headers;
}

/** The gateway's wrapper, as the API documents it. */
export interface ApiWrapper<D = unknown> {
  version?: string;
  timestamp?: number;
  success: boolean;
  code: string;
  message: string;
  data: D;
}

export const PATH_PUBLIC_KEY = "/web/v1/secure-channel/public-key";
export const PATH_PUBLIC_KEYS = "/web/v1/secure-channel/public-keys";
export const PATH_SESSION = "/web/v1/secure-channel/session";
export const PATH_SESSION_CLOSE = "/web/v1/secure-channel/session/close";
const CONTENT_TYPE = "application/json;charset=UTF-8";
const SESSION_NOT_FOUND = "SECURE_CHANNEL.SESSION_NOT_FOUND";

interface Live {
  session: ClientSession;
  keyId: string;
  expiresAtMs: number;
  /** When to replace it: the margin before expiry, or half its lifetime if that is shorter. */
  refreshAtMs: number;
  inFlight: number;
  retired: boolean;
  freed: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * An SCv2 client for one gateway.
 *
 * ```ts
 * const sc = new SecureChannel({ baseUrl, pins: [{ keyId, publicKey }], clientHash, language: "ja" });
 * const r = await sc.post("/web/v1/system/auth/password/init", { sessionId, password });
 * // r.status === 201, r.body is the decrypted wrapper {success, code, message, data}
 * await sc.close();
 * ```
 */
export class SecureChannel {
  readonly #base: string;
  readonly #pins: readonly Pin[];
  readonly #opts: SecureChannelOptions;
  readonly #fetch: (input: string, init: RequestInit) => Promise<Response>;
  readonly #now: () => number;
  readonly #margin: number;
  #config: ClientConfig | null = null;
  #live: Live | null = null;
  #opening: Promise<Live> | null = null;

  constructor(options: SecureChannelOptions) {
    if (typeof options.baseUrl !== "string" || !/^https?:\/\//i.test(options.baseUrl)) {
      throw new TypeError("SecureChannel: baseUrl must be an http(s) URL");
    }
    const base = new URL(options.baseUrl);
    if (base.search || base.hash) {
      throw new TypeError("SecureChannel: baseUrl must not have a query or fragment");
    }
    this.#base = base.href.replace(/\/+$/, "");
    if (!Array.isArray(options.pins)) {
      throw new TypeError("SecureChannel: pins must be an array of {keyId, publicKey}");
    }
    this.#pins = options.pins.map((p) => ({ keyId: p.keyId, publicKey: p.publicKey, algorithm: p.algorithm ?? SUITE_X25519 }));
    if (options.preferredSuite !== undefined && ![SUITE_X25519, SUITE_X25519MLKEM768].includes(options.preferredSuite)) {
      throw new TypeError(`SecureChannel: unknown preferredSuite ${JSON.stringify(options.preferredSuite)}`);
    }
    this.#opts = options;
    const f = options.fetch;
    if (f) {
      this.#fetch = (input, init) => f(input, init);
    } else {
      const g = globalThis.fetch;
      if (typeof g !== "function") throw new TypeError("SecureChannel: no fetch; pass options.fetch");
      this.#fetch = (input, init) => g(input, init);
    }
    this.#now = options.now ?? Date.now;
    this.#margin = options.refreshMarginMs ?? 60_000;
  }

  /** The current session's id, if one is open (for logs; it is not a secret). */
  get sessionId(): string | null {
    const l = this.#live;
    return l && !l.freed ? l.session.sessionId : null;
  }

  /** `POST path` with a JSON body, encrypted; resolves with the decrypted answer. */
  post<T = ApiWrapper>(path: string, body: unknown, options: RequestOptions = {}): Promise<SecureResponse<T>> {
    return this.request<T>("POST", path, body, options);
  }

  /**
   * Send an encrypted request. `ctx` is `METHOD path` (SPEC.md section 9), with the path as
   * the request carries it (base URL prefix included, query excluded).
   *
   * Throws {@link GatewayError} for a plaintext answer (after one re-handshake for a 401
   * `SECURE_CHANNEL.SESSION_NOT_FOUND`), {@link Scv2Error} for a key or protocol failure, the
   * signal's reason when aborted, and fetch's `TypeError` for network failures.
   */
  async request<T = ApiWrapper>(
    method: string,
    path: string,
    body: unknown,
    options: RequestOptions = {},
  ): Promise<SecureResponse<T>> {
    if (!/^[A-Z]+$/.test(method)) {
      throw new TypeError("SecureChannel: the method must be an uppercase token such as POST");
    }
    const url = this.#url(path);
    const ctx = `${method} ${url.pathname}`;
    const json = JSON.stringify(body);
    if (json === undefined) throw new TypeError("SecureChannel: the body must be JSON-serializable");
    const signal = options.signal;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const live = await this.#acquire(signal);
      let pending: PendingRequest | undefined;
      try {
        const bytes = encoder.encode(json);
        try {
          pending = live.session.sealRequest(ctx, bytes, this.#now());
        } finally {
          bytes.fill(0);
        }
        const res = await this.#send(method, url.href, live, webFormEncode(pending.envelope), options);
        const envelope = this.#envelopeOf(res.text);
        if (envelope) {
          const plain = live.session.openResponse(pending, ctx, envelope);
          try {
            return {
              status: res.response.status,
              body: parseJson(plain) as T,
              requestId: res.response.headers.get("X-Request-Id"),
              headers: res.response.headers,
            };
          } finally {
            plain.fill(0);
          }
        }
        const err = gatewayError(res.response, res.text);
        if (attempt === 0 && err.status === 401 && err.code === SESSION_NOT_FOUND) {
          this.#retire(live); // the gateway forgot it (restart, expiry, close): one new session
          continue;
        }
        throw err;
      } finally {
        pending?.free();
        this.#release(live);
      }
    }
  }

  /**
   * Close the session on the gateway (`POST …/session/close`) and zeroize its keys. A later
   * call opens a new session. Requests still in flight finish first on the old session.
   */
  async close(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#opening) await this.#opening.catch(() => undefined);
    const live = this.#live;
    if (!live || live.freed) return;
    live.inFlight++;
    this.#retire(live); // new calls open a new session; the keys are zeroized in #release
    const url = this.#url(PATH_SESSION_CLOSE);
    const ctx = `POST ${url.pathname}`;
    let pending: PendingRequest | undefined;
    try {
      if (this.#now() >= live.expiresAtMs) return; // expired: the gateway has dropped it already
      const bytes = encoder.encode("{}");
      pending = live.session.sealRequest(ctx, bytes, this.#now());
      const res = await this.#send("POST", url.href, live, webFormEncode(pending.envelope), options);
      const envelope = this.#envelopeOf(res.text);
      if (envelope) {
        live.session.openResponse(pending, ctx, envelope).fill(0);
      } else if (!res.response.ok) {
        // The keys are zeroized here all the same; the gateway keeps its copy until it expires.
        throw gatewayError(res.response, res.text);
      }
      // A plaintext 200: the gateway no longer had the session (close is idempotent).
    } finally {
      pending?.free();
      this.#release(live);
    }
  }

  /** Forget the session locally (zeroize its keys) without telling the gateway. */
  dispose(): void {
    if (this.#live) this.#retire(this.#live);
    this.#config?.free();
    this.#config = null;
  }

  // --------------------------------------------------------------------------------------

  #url(path: string): URL {
    if (typeof path !== "string" || !path.startsWith("/") || path.startsWith("//")) {
      throw new TypeError("SecureChannel: the path must start with a single /");
    }
    return new URL(this.#base + path);
  }

  #headers(extra?: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { Accept: "application/json" };
    if (this.#opts.language) h["Accept-Language"] = this.#opts.language;
    if (this.#opts.clientHash) h["X-Client-Hash"] = this.#opts.clientHash;
    Object.assign(h, this.#opts.headers, extra);
    return h;
  }

  async #send(
    method: string,
    url: string,
    live: Live | null,
    body: string | null,
    options: RequestOptions,
  ): Promise<{ response: Response; text: string }> {
    const headers = this.#headers(options.headers);
    headers["X-Request-Id"] = options.requestId ?? uuid4();
    if (body !== null) headers["Content-Type"] = CONTENT_TYPE;
    if (live) {
      headers["X-SC-Session-Id"] = live.session.sessionId;
      headers["X-SC-Version"] = "2";
    }
    const init: RequestInit = {
      method,
      headers,
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
      mode: "cors",
    };
    if (body !== null) init.body = body;
    if (options.signal) init.signal = options.signal;
    const response = await this.#fetch(url, init);
    const text = await response.text();
    this.#opts.onExchange?.({
      method,
      url,
      requestHeaders: headers,
      requestBody: body,
      status: response.status,
      responseHeaders: response.headers,
      responseBody: text,
    });
    return { response, text };
  }

  /** The envelope of a web-form answer, or null for a plaintext answer. */
  #envelopeOf(text: string): Uint8Array | null {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return null;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
    const keys = Object.keys(parsed);
    if (keys.length !== 2 || !keys.includes("v") || !keys.includes("p")) return null;
    return webFormDecode(text); // strict: throws Scv2Error for anything but the exact form
  }

  async #acquire(signal: AbortSignal | undefined): Promise<Live> {
    for (;;) {
      const live = await this.#session(signal);
      if (!live.freed && !live.retired) {
        live.inFlight++;
        return live;
      }
    }
  }

  #release(live: Live): void {
    live.inFlight--;
    if (live.retired && live.inFlight <= 0) this.#free(live);
  }

  #retire(live: Live): void {
    live.retired = true;
    if (this.#live === live) this.#live = null;
    if (live.inFlight <= 0) this.#free(live);
  }

  #free(live: Live): void {
    if (!live.freed) {
      live.freed = true;
      live.session.free(); // drops the Rust session: keys zeroized
    }
  }

  async #session(signal: AbortSignal | undefined): Promise<Live> {
    await withSignal(init(), signal);
    const live = this.#live;
    if (live && !live.retired && this.#now() < live.refreshAtMs) return live;
    if (live) this.#retire(live);
    if (!this.#opening) {
      const p: Promise<Live> = this.#handshake().finally(() => {
        if (this.#opening === p) this.#opening = null;
      });
      this.#opening = p;
    }
    return withSignal(this.#opening, signal);
  }

  #clientConfig(): ClientConfig {
    if (!this.#config) {
      const c = new ClientConfig();
      try {
        for (const p of this.#pins) c.pin(p.keyId, p.publicKey, p.algorithm);
        if (this.#opts.paddingBlock !== undefined) c.setPaddingBlock(this.#opts.paddingBlock);
      } catch (e) {
        c.free();
        throw e;
      }
      this.#config = c;
    }
    return this.#config;
  }

  /**
   * The key to use: with `preferredSuite`, from the gateway's list when it has one; else (or on
   * a 404 for the list) the single advertised key.
   */
  async #serverKey(config: ClientConfig): Promise<Pin> {
    const preferred = this.#opts.preferredSuite;
    if (preferred !== undefined) {
      const list = await this.#send("GET", this.#url(PATH_PUBLIC_KEYS).href, null, null, {});
      if (list.response.status !== 404) {
        const wrapper = parseWrapper(list.text);
        if (!list.response.ok || !wrapper || wrapper.success !== true) {
          throw gatewayError(list.response, list.text);
        }
        const data = wrapper.data as unknown;
        const items = Array.isArray(data) ? data : (data as { keys?: unknown } | null)?.keys;
        if (!Array.isArray(items) || items.length === 0) {
          throw new Scv2Error("malformed_envelope", "scv2: the public-key list has no keys");
        }
        const keys = items.map(documentKey);
        const pinned = keys.filter((k) => config.pinnedAlgorithm(k.keyId) === k.algorithm);
        const pick = pinned.find((k) => k.algorithm === preferred) ?? pinned[0] ?? keys[0]!;
        return pick;
      }
    }
    const doc = await this.#send("GET", this.#url(PATH_PUBLIC_KEY).href, null, null, {});
    const wrapper = parseWrapper(doc.text);
    if (!doc.response.ok || !wrapper || wrapper.success !== true) {
      throw gatewayError(doc.response, doc.text);
    }
    return documentKey(wrapper.data);
  }

  async #handshake(): Promise<Live> {
    const config = this.#clientConfig();
    // 1. The key document, checked against the pins (key and algorithm).
    const key = await this.#serverKey(config);
    if (config.isPinned(key.keyId)) {
      // Throws untrusted_server_key for another key or another algorithm than the pin's.
      config.trust(key.keyId, key.publicKey, key.algorithm).free();
    } else {
      const tofu = this.#opts.trustOnFirstUse;
      if (!tofu || (await tofu({ ...key })) !== true) {
        throw new Scv2Error(
          "untrusted_server_key",
          `scv2: the server key ${JSON.stringify(key.keyId)} is not pinned`,
        );
      }
      config.pin(key.keyId, key.publicKey, key.algorithm);
    }
    // 2. Type 1 → type 130.
    const hs = ClientHandshake.start(config, key.keyId);
    try {
      const res = await this.#send("POST", this.#url(PATH_SESSION).href, null, webFormEncode(hs.envelope), {});
      const envelope = this.#envelopeOf(res.text);
      if (!envelope) throw gatewayError(res.response, res.text);
      const now = this.#now();
      const session = hs.finish(envelope, now);
      const expiresAtMs = session.expiresAtMs;
      const live: Live = {
        session,
        keyId: key.keyId,
        expiresAtMs,
        refreshAtMs: expiresAtMs - Math.min(this.#margin, Math.max(0, (expiresAtMs - now) / 2)),
        inFlight: 0,
        retired: false,
        freed: false,
      };
      this.#live = live;
      return live;
    } finally {
      hs.free(); // the ephemeral secret, zeroized (finish already consumed it on success)
    }
  }
}

// ------------------------------------------------------------------------------------------
// Helpers

/** `{keyId, publicKey, algorithm}` of a key document (`algorithm` absent: the X25519 suite). */
function documentKey(data: unknown): Pin {
  const d = data as { keyId?: unknown; publicKey?: unknown; algorithm?: unknown } | null;
  if (!d || typeof d.keyId !== "string" || typeof d.publicKey !== "string" ||
      (d.algorithm !== undefined && d.algorithm !== null && typeof d.algorithm !== "string")) {
    throw new Scv2Error("malformed_envelope", "scv2: the public-key document has no keyId/publicKey");
  }
  return { keyId: d.keyId, publicKey: d.publicKey, algorithm: typeof d.algorithm === "string" ? d.algorithm : SUITE_X25519 };
}

function parseJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new SyntaxError("scv2: the decrypted answer is not UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new SyntaxError("scv2: the decrypted answer is not JSON");
  }
}

function parseWrapper(text: string): ApiWrapper | null {
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v as ApiWrapper;
  } catch {
    // not JSON
  }
  return null;
}

function gatewayError(res: Response, text: string): GatewayError {
  const w = parseWrapper(text);
  const code = w && typeof w.code === "string" ? w.code : null;
  const message = w && typeof w.message === "string" ? w.message : `HTTP ${res.status}`;
  const retry = res.headers.get("Retry-After");
  const retryAfter = retry !== null && /^\d+$/.test(retry) ? Number(retry) : null;
  return new GatewayError(
    res.status,
    code,
    message,
    w ? w.data ?? null : null,
    res.headers.get("X-Request-Id"),
    retryAfter,
  );
}

function withSignal<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** A random UUID v4 (crypto.getRandomValues works outside secure contexts too). */
function uuid4(): string {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
