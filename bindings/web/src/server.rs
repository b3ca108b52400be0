//! The server role for JavaScript, in test and benchmark builds only (cargo feature `server`):
//! the vector tests open type-1 and type-2 envelopes with it, and the Chromium benchmark runs
//! both ends of a handshake in one page. The shipped npm package is built without it
//! (`scripts/build-web.sh` checks that none of these names is exported).

#![forbid(unsafe_code)]

use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::{js_error, js_u64, scrubbed, scrubbed_handshake, to_js_number, JsResult};

/// A random session id (128 bits, base64url, 22 characters).
#[wasm_bindgen(js_name = generateSessionId)]
pub fn generate_session_id() -> JsResult<String> {
    scv2::generate_session_id(&mut scv2::OsRng).map_err(js_error)
}

/// The server: static keys by key id.
#[wasm_bindgen]
pub struct Server {
    inner: scv2::Server,
}

#[wasm_bindgen]
impl Server {
    /// A server whose envelopes use `paddingBlock` (1..=4096).
    #[wasm_bindgen(constructor)]
    pub fn new(padding_block: usize) -> JsResult<Server> {
        let config = scv2::ServerConfig::default()
            .with_padding_block(padding_block)
            .map_err(js_error)?;
        Ok(Server {
            inner: scv2::Server::new(config),
        })
    }

    /// Add a key of the suite `algorithm` (default: the X25519 suite) from its private form
    /// (`s`, 32 bytes, or `s || d_s || z_s`, 96 bytes, for the hybrid suite); returns its
    /// document's `publicKey` (base64 SPKI, or base64 of `ek_s || S`).
    #[wasm_bindgen(js_name = addKey)]
    pub fn add_key(
        &mut self,
        key_id: &str,
        private_key: Vec<u8>,
        created_at_ms: f64,
        algorithm: Option<String>,
    ) -> JsResult<String> {
        let private = Zeroizing::new(private_key);
        let suite = suite_of(algorithm.as_deref())?;
        let created = js_u64(created_at_ms).map_err(js_error)?;
        let key = scrubbed_handshake(suite, || {
            scv2::ServerKey::from_private_key(suite, key_id, &private, created, None)
        })
        .map_err(js_error)?;
        self.add(key)
    }

    /// Generate and add a random key of the suite `algorithm` (default: the X25519 suite);
    /// returns its document's `publicKey`.
    #[wasm_bindgen(js_name = generateKey)]
    pub fn generate_key(
        &mut self,
        key_id: &str,
        now_ms: f64,
        algorithm: Option<String>,
    ) -> JsResult<String> {
        let suite = suite_of(algorithm.as_deref())?;
        let now = js_u64(now_ms).map_err(js_error)?;
        let key = scrubbed_handshake(suite, || {
            scv2::ServerKey::generate_with_suite(suite, key_id, now, None, &mut scv2::OsRng)
        })
        .map_err(js_error)?;
        self.add(key)
    }

    fn add(&mut self, key: scv2::ServerKey) -> JsResult<String> {
        let public = key.document().public_key;
        self.inner.add_key(key).map_err(js_error)?;
        Ok(public)
    }

    /// Open a type-1 envelope at `nowMs`.
    pub fn accept(&self, envelope: &[u8], now_ms: f64) -> JsResult<AcceptedHandshake> {
        let now = js_u64(now_ms).map_err(js_error)?;
        let accepted = scrubbed_handshake(scv2::Suite::X25519MlKem768, || {
            self.inner.accept(envelope, now)
        })
        .map_err(js_error)?;
        Ok(AcceptedHandshake {
            inner: Some(accepted),
        })
    }
}

/// An opened type 1, to be answered once.
#[wasm_bindgen]
pub struct AcceptedHandshake {
    inner: Option<scv2::AcceptedHandshake>,
}

#[wasm_bindgen]
impl AcceptedHandshake {
    /// The algorithm (suite name) of the key the type 1 named.
    #[wasm_bindgen(getter)]
    pub fn algorithm(&self) -> String {
        self.inner
            .as_ref()
            .map(|a| a.suite().name().to_owned())
            .unwrap_or_default()
    }

    /// The client's type-1 payload.
    #[wasm_bindgen(getter)]
    pub fn payload(&self) -> Vec<u8> {
        self.inner
            .as_ref()
            .map(|a| a.payload().to_vec())
            .unwrap_or_default()
    }

    /// Answer: the new session (its type 130 is [`ServerSession::handshake_response`]).
    pub fn respond(
        &mut self,
        session_id: &str,
        expires_at_ms: f64,
        app_payload: &[u8],
    ) -> JsResult<ServerSession> {
        let exp = js_u64(expires_at_ms).map_err(js_error)?;
        let accepted = self
            .inner
            .take()
            .ok_or_else(|| js_error(scv2::Error::InvalidState))?;
        let (session, type130) = scrubbed_handshake(accepted.suite(), || {
            accepted.respond(session_id, exp, app_payload, &mut scv2::OsRng)
        })
        .map_err(js_error)?;
        Ok(ServerSession {
            inner: session,
            type130,
        })
    }

    /// [`AcceptedHandshake::respond`] with a fixed ephemeral private key (test vectors).
    #[cfg(feature = "test-vectors")]
    #[wasm_bindgen(js_name = respondWithEphemeralForTestVectors)]
    pub fn respond_with_ephemeral_for_test_vectors(
        &mut self,
        session_id: &str,
        expires_at_ms: f64,
        app_payload: &[u8],
        ephemeral_private: &[u8],
    ) -> JsResult<ServerSession> {
        let exp = js_u64(expires_at_ms).map_err(js_error)?;
        let f: [u8; 32] = ephemeral_private
            .try_into()
            .map_err(|_| js_error(scv2::Error::InvalidArgument))?;
        let accepted = self
            .inner
            .take()
            .ok_or_else(|| js_error(scv2::Error::InvalidState))?;
        let (session, type130) = scrubbed_handshake(accepted.suite(), || {
            accepted.respond_with_ephemeral_for_test_vectors(session_id, exp, app_payload, f)
        })
        .map_err(js_error)?;
        Ok(ServerSession {
            inner: session,
            type130,
        })
    }

    /// [`AcceptedHandshake::respond`] for a hybrid handshake with the X25519 ephemeral private
    /// key (32 bytes) and the encapsulation randomness `m2` (32 bytes) fixed (test vectors).
    #[cfg(feature = "test-vectors")]
    #[wasm_bindgen(js_name = respondHybridWithEphemeralForTestVectors)]
    pub fn respond_hybrid_with_ephemeral_for_test_vectors(
        &mut self,
        session_id: &str,
        expires_at_ms: f64,
        app_payload: &[u8],
        ephemeral_private: &[u8],
        encaps_randomness: &[u8],
    ) -> JsResult<ServerSession> {
        let exp = js_u64(expires_at_ms).map_err(js_error)?;
        let bad = || js_error(scv2::Error::InvalidArgument);
        let f: [u8; 32] = ephemeral_private.try_into().map_err(|_| bad())?;
        let m2: [u8; 32] = encaps_randomness.try_into().map_err(|_| bad())?;
        let accepted = self
            .inner
            .take()
            .ok_or_else(|| js_error(scv2::Error::InvalidState))?;
        let (session, type130) = scrubbed_handshake(accepted.suite(), || {
            accepted.respond_hybrid_with_ephemeral_for_test_vectors(
                session_id,
                exp,
                app_payload,
                f,
                m2,
            )
        })
        .map_err(js_error)?;
        Ok(ServerSession {
            inner: session,
            type130,
        })
    }
}

/// The suite named `algorithm` (default: the X25519 suite), else `invalid_argument`.
fn suite_of(algorithm: Option<&str>) -> JsResult<scv2::Suite> {
    match algorithm {
        None => Ok(scv2::Suite::X25519),
        Some(name) => {
            scv2::Suite::from_name(name).ok_or_else(|| js_error(scv2::Error::InvalidArgument))
        }
    }
}

/// A server session.
#[wasm_bindgen]
pub struct ServerSession {
    inner: scv2::ServerSession,
    type130: Vec<u8>,
}

#[wasm_bindgen]
impl ServerSession {
    /// The type-130 envelope that opened this session.
    #[wasm_bindgen(getter, js_name = handshakeResponse)]
    pub fn handshake_response(&self) -> Vec<u8> {
        self.type130.clone()
    }

    /// The session id.
    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> String {
        self.inner.session_id().to_owned()
    }

    /// The highest accepted sequence number.
    #[wasm_bindgen(getter, js_name = highestSeq)]
    pub fn highest_seq(&self) -> f64 {
        to_js_number(self.inner.highest_seq())
    }

    /// Open a type-2 request bound to `ctx` at `nowMs`.
    #[wasm_bindgen(js_name = openRequest)]
    pub fn open_request(&self, ctx: &str, envelope: &[u8], now_ms: f64) -> JsResult<OpenedRequest> {
        let now = js_u64(now_ms).map_err(js_error)?;
        let cap = if envelope.len() > self.inner.limits().max_envelope {
            0
        } else {
            scv2::max_open_len(envelope.len())
        };
        let mut out = Zeroizing::new(vec![0u8; cap]);
        let (slot, n) = scrubbed(|| {
            self.inner
                .open_request(ctx.as_bytes(), envelope, now, &mut out)
        })
        .map_err(js_error)?;
        Ok(OpenedRequest {
            seq: slot.seq(),
            slot: Some(slot),
            body: Zeroizing::new(out[..n].to_vec()),
        })
    }

    /// Seal the one answer to `request` (same `ctx`).
    #[wasm_bindgen(js_name = sealResponse)]
    pub fn seal_response(
        &self,
        request: &mut OpenedRequest,
        ctx: &str,
        body: &[u8],
    ) -> JsResult<Vec<u8>> {
        let slot = request
            .slot
            .take()
            .ok_or_else(|| js_error(scv2::Error::InvalidState))?;
        let mut out = vec![0u8; self.inner.sealed_len(body.len()).min(1 << 24)];
        match scrubbed(|| {
            self.inner
                .seal_response(slot, ctx.as_bytes(), body, &mut out)
        }) {
            Ok(n) => {
                out.truncate(n);
                Ok(out)
            }
            Err(e) => {
                request.slot = Some(e.token);
                Err(js_error(e.error))
            }
        }
    }
}

/// An accepted request: its body and the single-use right to answer it.
#[wasm_bindgen]
pub struct OpenedRequest {
    slot: Option<scv2::ResponseSlot>,
    seq: u64,
    body: Zeroizing<Vec<u8>>,
}

#[wasm_bindgen]
impl OpenedRequest {
    /// The request's sequence number.
    #[wasm_bindgen(getter)]
    pub fn seq(&self) -> f64 {
        to_js_number(self.seq)
    }
    /// The decrypted body.
    #[wasm_bindgen(getter)]
    pub fn body(&self) -> Vec<u8> {
        self.body.to_vec()
    }
}
