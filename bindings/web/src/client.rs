//! The client role for JavaScript: `ClientConfig` (pins), `ClientHandshake` (type 1 / type 130),
//! `ClientSession` (type 2 / type 129) with single-use `PendingRequest` tokens, and the web form.
//!
//! Conventions: byte strings are `Uint8Array` (copied in and out), `ctx` and ids are strings
//! (UTF-8; over HTTP `ctx` is `METHOD SP path`, SPEC.md section 9), times are numbers of
//! milliseconds since the Unix epoch (`Date.now()`). Every failure throws an `Error` named
//! `Scv2Error` with the stable `code` of SPEC.md section 10. A failed call changes no state.

#![forbid(unsafe_code)]

use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::{js_error, js_u64, scrubbed, to_js_number, JsResult};

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

    /// Pin a server key: its key id and the base64 SPKI of the public-key document
    /// (`publicKey`). Pinning a key id again replaces the earlier pin. Throws
    /// `invalid_argument` (bad key id) or `invalid_public_key` (not an X25519 SPKI).
    pub fn pin(&mut self, key_id: &str, public_key_spki_base64: &str) -> JsResult<()> {
        let key =
            scv2::PinnedKey::from_spki_base64(key_id, public_key_spki_base64).map_err(js_error)?;
        self.inner.pin(key);
        Ok(())
    }

    /// Pin a server key given as its raw 32 bytes.
    #[wasm_bindgen(js_name = pinRaw)]
    pub fn pin_raw(&mut self, key_id: &str, public_key: &[u8]) -> JsResult<()> {
        let raw: [u8; 32] = public_key
            .try_into()
            .map_err(|_| js_error(scv2::Error::InvalidPublicKey))?;
        let key = scv2::PinnedKey::new(key_id, raw).map_err(js_error)?;
        self.inner.pin(key);
        Ok(())
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

    /// Check a fetched public-key document (`keyId`, `publicKey`) against the pins.
    ///
    /// Pinned key id with the same key: a decision with `firstUse = false`. Unpinned key id with
    /// trust on first use on: `firstUse = true` (the caller stores the key and pins it before
    /// using it). Throws `untrusted_server_key` (pinned id with another key, or unpinned without
    /// trust on first use) or `invalid_public_key`.
    pub fn trust(&self, key_id: &str, public_key_spki_base64: &str) -> JsResult<TrustDecision> {
        let (first_use, key) = match self
            .inner
            .trust(key_id, public_key_spki_base64)
            .map_err(js_error)?
        {
            scv2::Trust::Pinned(k) => (false, k),
            scv2::Trust::FirstUse(k) => (true, k),
        };
        Ok(TrustDecision {
            first_use,
            key_id: key.key_id().to_owned(),
            public_key: key.spki_base64(),
        })
    }
}

/// What [`ClientConfig::trust`] decided.
#[wasm_bindgen]
pub struct TrustDecision {
    first_use: bool,
    key_id: String,
    public_key: String,
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
    /// The key as base64 SPKI (the pin to store).
    #[wasm_bindgen(getter, js_name = publicKey)]
    pub fn public_key(&self) -> String {
        self.public_key.clone()
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
        let (hs, envelope) = scrubbed(|| {
            scv2::ClientHandshake::start(&config.inner, key_id, &payload, &mut scv2::OsRng)
        })
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
        let (hs, envelope) = scrubbed(|| {
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
        let session = scrubbed(|| hs.finish(envelope, now)).map_err(js_error)?;
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

/// The suite name, `"X25519-HKDF-SHA256-AES-256-GCM"`.
#[wasm_bindgen]
pub fn suite() -> String {
    scv2::SUITE.to_owned()
}

/// Base64 of the default largest envelope, plus the form's 16 bytes and some whitespace.
fn default_web_form_max() -> usize {
    scv2::Limits::default().max_envelope.div_ceil(3) * 4 + 64
}
