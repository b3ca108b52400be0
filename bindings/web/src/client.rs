//! The client role for JavaScript: `ClientConfig` (pins, each with its suite), `ClientHandshake`
//! (type 1 / type 130, in the pin's suite), `ClientSession` (type 2 / type 129) with single-use
//! `PendingRequest` tokens, the suites' names and sizes, and the web form.
//!
//! Conventions: byte strings are `Uint8Array` (copied in and out), `ctx` and ids are strings
//! (UTF-8; over HTTP `ctx` is `METHOD SP path`, SPEC.md section 9), times are numbers of
//! milliseconds since the Unix epoch (`Date.now()`). Every failure throws an `Error` named
//! `Scv2Error` with the stable `code` of SPEC.md section 10. A failed call changes no state.

#![forbid(unsafe_code)]

use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::{js_error, js_u64, scrubbed, scrubbed_handshake, to_js_number, JsResult};

/// Which server keys the client trusts, and its padding and limits.
#[wasm_bindgen]
pub struct ClientConfig {
    pub(crate) inner: scv2::ClientConfig,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig::new()
    }
}

#[wasm_bindgen]
impl ClientConfig {
    /// No pins, trust on first use off, padding block 64, default limits.
    #[wasm_bindgen(constructor)]
    pub fn new() -> ClientConfig {
        ClientConfig {
            inner: scv2::ClientConfig::new(),
        }
    }

    /// Pin a server key in the document form: `keyId`, `publicKey` and `algorithm` (the suite's
    /// name, default `"X25519-HKDF-SHA256-AES-256-GCM"`). For the X25519 suite `publicKey` is
    /// the base64 SPKI; for `"X25519MLKEM768-HKDF-SHA256-AES-256-GCM"` the standard base64 of
    /// `ek_s || S` (1216 bytes). The pin decides the suite of every handshake with this key id.
    /// Pinning a key id again replaces the earlier pin. Throws `invalid_argument` (bad key id,
    /// unknown algorithm) or `invalid_public_key` (not a key of that suite).
    pub fn pin(
        &mut self,
        key_id: &str,
        public_key: &str,
        algorithm: Option<String>,
    ) -> JsResult<()> {
        let suite = pin_suite(algorithm.as_deref()).map_err(js_error)?;
        let key = scrubbed_handshake(suite, || {
            scv2::PinnedKey::from_public_key_base64(key_id, suite, public_key)
        })
        .map_err(js_error)?;
        self.inner.pin(key);
        Ok(())
    }

    /// Pin a server key given as its raw bytes ([`suite_public_key_len`]: `S`, 32 bytes, or
    /// `ek_s || S`, 1216 bytes) in the suite `algorithm` (default: the X25519 suite).
    #[wasm_bindgen(js_name = pinRaw)]
    pub fn pin_raw(
        &mut self,
        key_id: &str,
        public_key: &[u8],
        algorithm: Option<String>,
    ) -> JsResult<()> {
        let suite = pin_suite(algorithm.as_deref()).map_err(js_error)?;
        let key = scrubbed_handshake(suite, || {
            scv2::PinnedKey::with_suite(key_id, suite, public_key)
        })
        .map_err(js_error)?;
        self.inner.pin(key);
        Ok(())
    }

    /// The algorithm (suite name) of the pin of `keyId`, or `undefined` when it is not pinned.
    #[wasm_bindgen(js_name = pinnedAlgorithm)]
    pub fn pinned_algorithm(&self, key_id: &str) -> Option<String> {
        self.inner
            .pinned(key_id)
            .map(|p| p.suite().name().to_owned())
    }

    /// Remove the pin of `keyId`; returns whether there was one.
    pub fn unpin(&mut self, key_id: &str) -> bool {
        self.inner.unpin(key_id)
    }

    /// The pinned key ids.
    #[wasm_bindgen(js_name = pinnedKeyIds)]
    pub fn pinned_key_ids(&self) -> Vec<String> {
        self.inner
            .pins()
            .iter()
            .map(|p| p.key_id().to_owned())
            .collect()
    }

    /// Whether `keyId` is pinned.
    #[wasm_bindgen(js_name = isPinned)]
    pub fn is_pinned(&self, key_id: &str) -> bool {
        self.inner.pinned(key_id).is_some()
    }

    /// Opt into trust on first use (off by default): then [`ClientConfig::trust`] answers an
    /// unpinned key id with a first-use decision instead of throwing.
    #[wasm_bindgen(js_name = setTrustOnFirstUse)]
    pub fn set_trust_on_first_use(&mut self, on: bool) {
        self.inner.set_trust_on_first_use(on);
    }

    /// Padding block of everything this client sends (1..=4096, default 64). Throws
    /// `invalid_argument` outside that range.
    #[wasm_bindgen(js_name = setPaddingBlock)]
    pub fn set_padding_block(&mut self, block: usize) -> JsResult<()> {
        self.inner.set_padding_block(block).map_err(js_error)?;
        Ok(())
    }

    /// The padding block.
    #[wasm_bindgen(getter, js_name = paddingBlock)]
    pub fn padding_block(&self) -> usize {
        self.inner.padding_block()
    }

    /// Input limits, bytes: largest envelope opened, largest `ctx`, largest body sealed.
    /// Throws `invalid_argument` for a `maxCtx` above 65535.
    #[wasm_bindgen(js_name = setLimits)]
    pub fn set_limits(
        &mut self,
        max_envelope: usize,
        max_ctx: usize,
        max_payload: usize,
    ) -> JsResult<()> {
        let limits = scv2::Limits {
            max_envelope,
            max_ctx,
            max_payload,
        };
        self.inner.set_limits(limits).map_err(js_error)?;
        Ok(())
    }

    /// Check a fetched public-key document (`keyId`, `publicKey`, `algorithm`) against the pins.
    /// `algorithm` is the document's (default: the X25519 suite's name, as for pins).
    ///
    /// Pinned key id with the same algorithm and the same key: a decision with
    /// `firstUse = false`. Unpinned key id with trust on first use on: `firstUse = true` (the
    /// caller stores the key and pins it, algorithm included, before using it). Throws
    /// `untrusted_server_key` (pinned id with another key or another algorithm, an algorithm
    /// this client does not know, or an unpinned id without trust on first use) or
    /// `invalid_public_key` (not a key of the suite).
    pub fn trust(
        &self,
        key_id: &str,
        public_key: &str,
        algorithm: Option<String>,
    ) -> JsResult<TrustDecision> {
        let suite = document_suite(&self.inner, key_id, algorithm.as_deref()).map_err(js_error)?;
        let trust = scrubbed_handshake(suite, || {
            self.inner.trust_with_suite(suite, key_id, public_key)
        })
        .map_err(js_error)?;
        let (first_use, key) = match trust {
            scv2::Trust::Pinned(k) => (false, k),
            scv2::Trust::FirstUse(k) => (true, k),
        };
        Ok(TrustDecision {
            first_use,
            key_id: key.key_id().to_owned(),
            public_key: key.spki_base64(),
            algorithm: key.suite().name(),
        })
    }
}

/// The suite of a pin: its `algorithm`, the X25519 suite when absent; an unknown name is
/// `invalid_argument` (a configuration error of the app).
fn pin_suite(algorithm: Option<&str>) -> scv2::Result<scv2::Suite> {
    match algorithm {
        None => Ok(scv2::Suite::X25519),
        Some(name) => scv2::Suite::from_name(name).ok_or(scv2::Error::InvalidArgument),
    }
}

/// The suite a fetched document claims, checked against the pin of its key id before its key is
/// looked at: another suite than the pin's, or a name this client does not know, is
/// `untrusted_server_key`, the same answer as another key. The pin's suite is what the
/// handshake uses; the document's name is only compared with it.
fn document_suite(
    config: &scv2::ClientConfig,
    key_id: &str,
    algorithm: Option<&str>,
) -> scv2::Result<scv2::Suite> {
    let suite = match algorithm {
        None => scv2::Suite::X25519,
        Some(name) => scv2::Suite::from_name(name).ok_or(scv2::Error::UntrustedServerKey)?,
    };
    match config.pinned(key_id) {
        Some(pin) if pin.suite() != suite => Err(scv2::Error::UntrustedServerKey),
        _ => Ok(suite),
    }
}

/// What [`ClientConfig::trust`] decided.
#[wasm_bindgen]
pub struct TrustDecision {
    first_use: bool,
    key_id: String,
    public_key: String,
    algorithm: &'static str,
}

#[wasm_bindgen]
impl TrustDecision {
    /// `true`: the key id is not pinned and is trusted on first use only.
    #[wasm_bindgen(getter, js_name = firstUse)]
    pub fn first_use(&self) -> bool {
        self.first_use
    }
    /// The key id.
    #[wasm_bindgen(getter, js_name = keyId)]
    pub fn key_id(&self) -> String {
        self.key_id.clone()
    }
    /// The key in the document form (the pin to store): base64 SPKI, or base64 of `ek_s || S`.
    #[wasm_bindgen(getter, js_name = publicKey)]
    pub fn public_key(&self) -> String {
        self.public_key.clone()
    }
    /// The key's algorithm (suite name), to store with the pin.
    #[wasm_bindgen(getter)]
    pub fn algorithm(&self) -> String {
        self.algorithm.to_owned()
    }
}

/// A handshake waiting for the server's type-130 answer. Holds the ephemeral secret (in wasm
/// memory) until [`ClientHandshake::finish`] or `free()`.
#[wasm_bindgen]
pub struct ClientHandshake {
    inner: Option<scv2::ClientHandshake>,
    envelope: Vec<u8>,
}

#[wasm_bindgen]
impl ClientHandshake {
    /// Start a handshake with the pinned key `keyId`; the type-1 envelope to POST to
    /// `/web/v1/secure-channel/session` is [`ClientHandshake::envelope`].
    ///
    /// `payload` (default empty) is protected by the server's static key only (not
    /// forward-secret, replayable): never put credentials in it. Throws
    /// `untrusted_server_key` (not pinned), `payload_too_large`, `invalid_public_key`,
    /// `internal` (no randomness).
    pub fn start(
        config: &ClientConfig,
        key_id: &str,
        payload: Option<Vec<u8>>,
    ) -> JsResult<ClientHandshake> {
        let payload = Zeroizing::new(payload.unwrap_or_default());
        let (hs, envelope) = scrubbed_handshake(
            config
                .inner
                .pinned(key_id)
                .map_or(scv2::Suite::X25519, scv2::PinnedKey::suite),
            || scv2::ClientHandshake::start(&config.inner, key_id, &payload, &mut scv2::OsRng),
        )
        .map_err(js_error)?;
        Ok(ClientHandshake {
            inner: Some(hs),
            envelope,
        })
    }

    /// [`ClientHandshake::start`] with a fixed ephemeral private key (32 bytes) and `iv1`
    /// (12 bytes), to reproduce the test vectors. Test builds only (cargo feature
    /// `test-vectors`); the shipped package does not have it.
    #[cfg(feature = "test-vectors")]
    #[wasm_bindgen(js_name = startWithEphemeralForTestVectors)]
    pub fn start_with_ephemeral_for_test_vectors(
        config: &ClientConfig,
        key_id: &str,
        payload: &[u8],
        ephemeral_private: &[u8],
        iv1: &[u8],
    ) -> JsResult<ClientHandshake> {
        let e: [u8; 32] = ephemeral_private
            .try_into()
            .map_err(|_| js_error(scv2::Error::InvalidArgument))?;
        let iv: [u8; 12] = iv1
            .try_into()
            .map_err(|_| js_error(scv2::Error::InvalidArgument))?;
        let (hs, envelope) = scrubbed_handshake(scv2::Suite::X25519, || {
            scv2::ClientHandshake::start_with_ephemeral_for_test_vectors(
                &config.inner,
                key_id,
                payload,
                e,
                iv,
            )
        })
        .map_err(js_error)?;
        Ok(ClientHandshake {
            inner: Some(hs),
            envelope,
        })
    }

    /// [`ClientHandshake::start`] for a pin of the hybrid suite with every input fixed: the X25519
    /// ephemeral private key (32 bytes), the ML-KEM-768 seed `d_e || z_e` (64 bytes), the
    /// encapsulation randomness `m1` (32 bytes) and `iv1` (12 bytes), to reproduce the test
    /// vectors. Test builds only (cargo feature `test-vectors`); the shipped package does not
    /// have it.
    #[cfg(feature = "test-vectors")]
    #[wasm_bindgen(js_name = startHybridWithEphemeralForTestVectors)]
    pub fn start_hybrid_with_ephemeral_for_test_vectors(
        config: &ClientConfig,
        key_id: &str,
        payload: &[u8],
        ephemeral_private: &[u8],
        mlkem_seed: &[u8],
        encaps_randomness: &[u8],
        iv1: &[u8],
    ) -> JsResult<ClientHandshake> {
        let bad = || js_error(scv2::Error::InvalidArgument);
        let e: [u8; 32] = ephemeral_private.try_into().map_err(|_| bad())?;
        let kem = scv2::HybridClientTestInputs {
            mlkem_seed: mlkem_seed.try_into().map_err(|_| bad())?,
            encaps_randomness: encaps_randomness.try_into().map_err(|_| bad())?,
        };
        let iv: [u8; 12] = iv1.try_into().map_err(|_| bad())?;
        let (hs, envelope) = scrubbed_handshake(scv2::Suite::X25519MlKem768, || {
            scv2::ClientHandshake::start_hybrid_with_ephemeral_for_test_vectors(
                &config.inner,
                key_id,
                payload,
                e,
                kem,
                iv,
            )
        })
        .map_err(js_error)?;
        Ok(ClientHandshake {
            inner: Some(hs),
            envelope,
        })
    }

    /// The handshake's algorithm (suite name): its pin's. Empty once finished.
    #[wasm_bindgen(getter)]
    pub fn algorithm(&self) -> String {
        self.inner
            .as_ref()
            .map(|h| h.suite().name().to_owned())
            .unwrap_or_default()
    }

    /// The type-1 envelope (raw bytes; `webFormEncode` gives the `{"v":2,"p":…}` form).
    #[wasm_bindgen(getter)]
    pub fn envelope(&self) -> Vec<u8> {
        self.envelope.clone()
    }

    /// Whether [`ClientHandshake::finish`] was called.
    #[wasm_bindgen(getter, js_name = isFinished)]
    pub fn is_finished(&self) -> bool {
        self.inner.is_none()
    }

    /// Finish with the server's type-130 envelope, at `nowMs` (`Date.now()`).
    ///
    /// One call only: the ephemeral secrets are zeroized whatever the outcome, and a second call
    /// throws `invalid_state`. Throws, in order: `payload_too_large`, the parse errors
    /// (`malformed_envelope`, `unsupported_version`, `unknown_type`), `invalid_public_key`,
    /// `decryption_failed`, `malformed_envelope` (bad session id), `session_expired`;
    /// `invalid_argument` for a `nowMs` that is not a non-negative integer.
    pub fn finish(&mut self, envelope: &[u8], now_ms: f64) -> JsResult<ClientSession> {
        let now = js_u64(now_ms).map_err(js_error)?;
        let hs = self
            .inner
            .take()
            .ok_or_else(|| js_error(scv2::Error::InvalidState))?;
        let suite = hs.suite();
        let session = scrubbed_handshake(suite, || hs.finish(envelope, now)).map_err(js_error)?;
        Ok(ClientSession { inner: session })
    }
}

/// An established session. Seal requests with [`ClientSession::seal_request`] and open their
/// answers with [`ClientSession::open_response`]; several requests may be in flight at once.
#[wasm_bindgen]
pub struct ClientSession {
    inner: scv2::ClientSession,
}

#[wasm_bindgen]
impl ClientSession {
    /// The session id: send it as `X-SC-Session-Id`.
    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> String {
        self.inner.session_id().to_owned()
    }

    /// When the server said the session expires (ms since the Unix epoch).
    #[wasm_bindgen(getter, js_name = expiresAtMs)]
    pub fn expires_at_ms(&self) -> f64 {
        to_js_number(self.inner.expires_at_ms())
    }

    /// The server application's payload of the type 130 (often empty).
    #[wasm_bindgen(getter, js_name = appPayload)]
    pub fn app_payload(&self) -> Vec<u8> {
        self.inner.app_payload().to_vec()
    }

    /// The padding block of this session's requests.
    #[wasm_bindgen(getter, js_name = paddingBlock)]
    pub fn padding_block(&self) -> usize {
        self.inner.padding_block()
    }

    /// The sequence number the next request will use.
    #[wasm_bindgen(getter, js_name = nextSeq)]
    pub fn next_seq(&self) -> f64 {
        to_js_number(self.inner.next_seq())
    }

    /// Whether [`ClientSession::close`] was called.
    #[wasm_bindgen(getter, js_name = isClosed)]
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The envelope length of a request body of `bodyLen` bytes.
    #[wasm_bindgen(js_name = sealedLen)]
    pub fn sealed_len(&self, body_len: usize) -> f64 {
        to_js_number(self.inner.sealed_len(body_len) as u64)
    }

    /// Seal a request body bound to `ctx` (`"POST /web/v1/…"`) at `nowMs`. Returns the pending
    /// request, which carries the envelope to send and must be given to
    /// [`ClientSession::open_response`] with the answer.
    ///
    /// The copy of `body` in wasm memory is zeroized before this returns. Throws, in order:
    /// `invalid_state` (closed), `payload_too_large`, `session_expired`, `session_exhausted`;
    /// `invalid_argument` for a bad `nowMs`. On error no sequence number was used.
    #[wasm_bindgen(js_name = sealRequest)]
    pub fn seal_request(&self, ctx: &str, body: Vec<u8>, now_ms: f64) -> JsResult<PendingRequest> {
        let body = Zeroizing::new(body);
        let now = js_u64(now_ms).map_err(js_error)?;
        let cap = if body.len() > self.inner.limits().max_payload {
            0 // refused by the core before the buffer is looked at
        } else {
            self.inner.sealed_len(body.len())
        };
        let mut out = vec![0u8; cap];
        let (token, n) = scrubbed(|| {
            self.inner
                .seal_request(ctx.as_bytes(), &body, now, &mut out)
        })
        .map_err(js_error)?;
        out.truncate(n);
        Ok(PendingRequest {
            seq: token.seq(),
            token: Some(token),
            envelope: out,
        })
    }

    /// Open the answer (a type-129 envelope) to `pending`, with the same `ctx`; returns the
    /// decrypted body. On success the token is used up (a second call throws `invalid_state`);
    /// on failure it stays pending.
    ///
    /// Throws, in order: `invalid_state` (closed session, or a used token), `invalid_argument`
    /// (a token of another session), `payload_too_large`, the parse errors, `decryption_failed`,
    /// `response_mismatch` (the answer to another request).
    #[wasm_bindgen(js_name = openResponse)]
    pub fn open_response(
        &self,
        pending: &mut PendingRequest,
        ctx: &str,
        envelope: &[u8],
    ) -> JsResult<Vec<u8>> {
        if self.inner.is_closed() {
            return Err(js_error(scv2::Error::InvalidState));
        }
        let token = pending
            .token
            .take()
            .ok_or_else(|| js_error(scv2::Error::InvalidState))?;
        let cap = if envelope.len() > self.inner.limits().max_envelope {
            0 // refused by the core before the buffer is looked at
        } else {
            scv2::max_open_len(envelope.len())
        };
        let mut out = Zeroizing::new(vec![0u8; cap]);
        match scrubbed(|| {
            self.inner
                .open_response(token, ctx.as_bytes(), envelope, &mut out)
        }) {
            Ok(n) => {
                pending.envelope = Vec::new();
                Ok(out[..n].to_vec())
            }
            Err(e) => {
                pending.token = Some(e.token);
                Err(js_error(e.error))
            }
        }
    }

    /// Close the session: its keys are zeroized now; every later seal or open throws
    /// `invalid_state`. (Tell the server too: `POST /web/v1/secure-channel/session/close`.)
    pub fn close(&mut self) {
        self.inner.close();
    }
}

/// A sealed request waiting for its answer: the envelope to send, and the single-use right to
/// open the answer.
#[wasm_bindgen]
pub struct PendingRequest {
    token: Option<scv2::PendingRequest>,
    seq: u64,
    envelope: Vec<u8>,
}

#[wasm_bindgen]
impl PendingRequest {
    /// The request's sequence number.
    #[wasm_bindgen(getter)]
    pub fn seq(&self) -> f64 {
        to_js_number(self.seq)
    }

    /// The type-2 envelope to send (raw bytes; empty once the answer was opened).
    #[wasm_bindgen(getter)]
    pub fn envelope(&self) -> Vec<u8> {
        self.envelope.clone()
    }

    /// `false` once its answer was opened.
    #[wasm_bindgen(getter, js_name = isPending)]
    pub fn is_pending(&self) -> bool {
        self.token.is_some()
    }
}

/// The web form of an envelope: exactly `{"v":2,"p":"<standard base64>"}`.
#[wasm_bindgen(js_name = webFormEncode)]
pub fn web_form_encode(envelope: &[u8]) -> String {
    scv2::web::encode(envelope)
}

/// The envelope inside a web-form text (SPEC.md section 9, strict: only that form, any JSON
/// whitespace, either member order). Throws `payload_too_large` above `maxLen` (default: what
/// the default envelope limit needs), `unsupported_version` for a `v` other than 2, and
/// `malformed_envelope` for anything else.
#[wasm_bindgen(js_name = webFormDecode)]
pub fn web_form_decode(text: &str, max_len: Option<usize>) -> JsResult<Vec<u8>> {
    let max = max_len.unwrap_or_else(default_web_form_max);
    scv2::web::decode(text.as_bytes(), max).map_err(js_error)
}

/// Whether a body looks like the web form (its first non-blank character is `{`).
#[wasm_bindgen(js_name = isWebForm)]
pub fn is_web_form(text: &str) -> bool {
    scv2::web::is_web_form(text.as_bytes())
}

/// The X25519 suite's name, `"X25519-HKDF-SHA256-AES-256-GCM"` (the default algorithm of a
/// pin). Every suite: [`suites`].
#[wasm_bindgen]
pub fn suite() -> String {
    scv2::Suite::X25519.name().to_owned()
}

/// The names of every suite this module implements, in the order of their ids:
/// `["X25519-HKDF-SHA256-AES-256-GCM", "X25519MLKEM768-HKDF-SHA256-AES-256-GCM"]`.
#[wasm_bindgen]
pub fn suites() -> Vec<String> {
    scv2::Suite::ALL
        .iter()
        .map(|s| s.name().to_owned())
        .collect()
}

/// The suite named `algorithm`, else `invalid_argument`.
fn named_suite(algorithm: &str) -> JsResult<scv2::Suite> {
    scv2::Suite::from_name(algorithm).ok_or_else(|| js_error(scv2::Error::InvalidArgument))
}

/// The length of a raw public key of the suite `algorithm` (`pinRaw`'s argument): 32 or 1216.
/// Throws `invalid_argument` for an unknown name.
#[wasm_bindgen(js_name = suitePublicKeyLen)]
pub fn suite_public_key_len(algorithm: &str) -> JsResult<usize> {
    Ok(named_suite(algorithm)?.public_key_len())
}

/// The length of the type-1 envelope of the suite `algorithm` for a key id of `keyIdLen` bytes
/// and a `payloadLen`-byte payload padded to `block`. Throws `invalid_argument` for an unknown
/// name, a key id length outside 1..=255 or a block outside 1..=4096.
#[wasm_bindgen(js_name = keyExchangeLen)]
pub fn key_exchange_len(
    algorithm: &str,
    key_id_len: usize,
    payload_len: usize,
    block: usize,
) -> JsResult<f64> {
    named_suite(algorithm)?
        .key_exchange_len(key_id_len, payload_len, block)
        .map(|n| to_js_number(n as u64))
        .ok_or_else(|| js_error(scv2::Error::InvalidArgument))
}

/// The length of the type-130 envelope of the suite `algorithm` for a session id of
/// `sessionIdLen` bytes and an `appPayloadLen`-byte application payload padded to `block`.
/// Throws `invalid_argument` for an unknown name, a session id length outside 1..=64 or a
/// block outside 1..=4096.
#[wasm_bindgen(js_name = keyExchangeResponseLen)]
pub fn key_exchange_response_len(
    algorithm: &str,
    session_id_len: usize,
    app_payload_len: usize,
    block: usize,
) -> JsResult<f64> {
    named_suite(algorithm)?
        .key_exchange_response_len(session_id_len, app_payload_len, block)
        .map(|n| to_js_number(n as u64))
        .ok_or_else(|| js_error(scv2::Error::InvalidArgument))
}

/// Base64 of the default largest envelope, plus the form's 16 bytes and some whitespace.
fn default_web_form_max() -> usize {
    scv2::Limits::default().max_envelope.div_ceil(3) * 4 + 64
}
