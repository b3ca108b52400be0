//! An SCv2 HTTP client (used by `scv2 call`, `scv2 demo` and the integration tests).

use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use scv2::{
    ClientConfig, ClientHandshake, ClientSession, OsRng, PendingRequest, PinnedKey, Suite, Trust,
};
use serde_json::Value;

use crate::clock::{Clock, SystemClock};
use crate::paths::{
    CONTENT_TYPE_JSON, PATH_PUBLIC_KEY, PATH_PUBLIC_KEYS, PATH_SESSION, PATH_SESSION_CLOSE,
};

/// Client settings.
#[derive(Clone)]
pub struct ClientOptions {
    /// `http://host:port`.
    pub base_url: String,
    /// `X-Client-Hash`.
    pub client_hash: String,
    /// `Accept-Language`, if any.
    pub lang: Option<String>,
    /// When set, send the Cloudflare simulation headers with this `CF-Connecting-IP`.
    pub cf_ip: Option<String>,
    /// Send envelopes in the web form instead of raw binary.
    pub web_form: bool,
    /// Connect from this local address (tests use several loopback addresses).
    pub local_address: Option<std::net::IpAddr>,
    /// The clock used for the client's expiry checks.
    pub clock: Arc<dyn Clock>,
}

impl ClientOptions {
    /// Defaults for `base_url`.
    pub fn new(base_url: &str) -> ClientOptions {
        ClientOptions {
            base_url: base_url.trim_end_matches('/').to_owned(),
            client_hash: "scv2-cli".to_owned(),
            lang: None,
            cf_ip: None,
            web_form: false,
            local_address: None,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The largest answer body the client (and `scv2 inspect`) decodes: a type 129 carrying the
/// largest proxied upstream answer (1 MiB) in the web form, with room to spare.
pub const MAX_ANSWER_BODY: usize = 1 << 21;

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The body as JSON (plaintext answers).
    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_slice(&self.body).context("the body is not JSON")
    }
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The outcome of a call.
#[derive(Debug, Clone)]
pub struct CallResult {
    /// HTTP status.
    pub status: u16,
    /// Whether the answer was a type-129 envelope that opened (else a plaintext gateway error).
    pub encrypted: bool,
    /// The (decrypted) JSON.
    pub body: Value,
    /// The raw answer.
    pub raw: RawResponse,
}

impl CallResult {
    /// The `code` field.
    pub fn code(&self) -> &str {
        self.body.get("code").and_then(Value::as_str).unwrap_or("")
    }
}

/// An SCv2 client over HTTP.
pub struct ScClient {
    http: reqwest::Client,
    opts: ClientOptions,
    config: ClientConfig,
}

impl ScClient {
    /// A client with no pins yet.
    pub fn new(opts: ClientOptions) -> anyhow::Result<ScClient> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .local_address(opts.local_address)
            .build()
            .context("building the HTTP client")?;
        Ok(ScClient {
            http,
            opts,
            config: ClientConfig::new(),
        })
    }

    /// The options.
    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// Pin `(key_id, publicKey base64 SPKI)`, an X25519-suite key.
    pub fn pin(&mut self, key_id: &str, public_key: &str) -> anyhow::Result<()> {
        self.pin_with_suite(key_id, Suite::X25519, public_key)
    }

    /// Pin `(key_id, suite, publicKey)`: the document's `publicKey` form of `suite` (base64 SPKI
    /// for X25519, standard base64 of `ek_s || S` for X25519MLKEM768).
    pub fn pin_with_suite(
        &mut self,
        key_id: &str,
        suite: Suite,
        public_key: &str,
    ) -> anyhow::Result<()> {
        let p = PinnedKey::from_public_key_base64(key_id, suite, public_key)
            .map_err(|e| anyhow!("pin for {key_id} ({suite}): {e}"))?;
        self.config.pin(p);
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.opts.base_url, path)
    }

    /// The standard headers of an SCv2 call (Content-Type, Accept, X-Client-Hash, X-SC-Version,
    /// Accept-Language, Cloudflare simulation), plus the session id if given.
    pub fn standard_headers(&self, sid: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        let mut put = |k: &'static str, v: &str| {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(HeaderName::from_static(k), v);
            }
        };
        put("content-type", CONTENT_TYPE_JSON);
        put("accept", "application/json");
        put("x-client-hash", &self.opts.client_hash);
        put("x-sc-version", "2");
        if let Some(l) = &self.opts.lang {
            put("accept-language", l);
        }
        if let Some(ip) = &self.opts.cf_ip {
            put("cf-connecting-ip", ip);
            put("cf-ray", "8f1e2d3c4b5a6978-NRT");
            put("cf-ipcountry", "JP");
        }
        if let Some(s) = sid {
            put("x-sc-session-id", s);
        }
        h
    }

    /// Send a request and collect the answer.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: HeaderMap,
        body: Vec<u8>,
    ) -> anyhow::Result<RawResponse> {
        let r = self
            .http
            .request(method, self.url(path))
            .headers(headers)
            .body(body)
            .send()
            .await
            .with_context(|| format!("sending to {path}"))?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes().await.context("reading the answer")?.to_vec();
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    /// `GET /web/v1/secure-channel/public-key`: the `data` object.
    pub async fn public_key(&self) -> anyhow::Result<Value> {
        let r = self
            .send(
                reqwest::Method::GET,
                PATH_PUBLIC_KEY,
                self.standard_headers(None),
                Vec::new(),
            )
            .await?;
        let v = r.json()?;
        if r.status != 200 || v.get("success") != Some(&Value::Bool(true)) {
            bail!("public key: HTTP {} {}", r.status, v);
        }
        v.get("data").cloned().context("public key: no data")
    }

    /// `GET /web/v1/secure-channel/public-keys`: the documents of every live key, of every
    /// suite. A gateway without that route (404: an older gateway, or the deployed service,
    /// which has only `/public-key`) gives its one advertised document instead.
    pub async fn public_keys(&self) -> anyhow::Result<Vec<Value>> {
        let r = self
            .send(
                reqwest::Method::GET,
                PATH_PUBLIC_KEYS,
                self.standard_headers(None),
                Vec::new(),
            )
            .await?;
        if r.status == 404 {
            return Ok(vec![self.public_key().await?]);
        }
        let v = r.json()?;
        if r.status != 200 || v.get("success") != Some(&Value::Bool(true)) {
            bail!("public keys: HTTP {} {}", r.status, v);
        }
        match v.get("data") {
            Some(Value::Array(a)) => Ok(a.clone()),
            _ => bail!("public keys: data is not an array"),
        }
    }

    /// Check a fetched key document against the pins; returns the key id to use. The suite is
    /// the pin's: a document whose `algorithm` names another known suite is refused.
    pub fn check_document(&self, doc: &Value) -> anyhow::Result<String> {
        let key_id = doc.get("keyId").and_then(Value::as_str).context("keyId")?;
        let public = doc
            .get("publicKey")
            .and_then(Value::as_str)
            .context("publicKey")?;
        // The suite is the pin's; a document naming another known suite for the pinned key id
        // is refused (an unknown `algorithm` string is informational, as SPEC.md says).
        let pinned = self.config.pinned(key_id).map(PinnedKey::suite);
        let named = doc
            .get("algorithm")
            .and_then(Value::as_str)
            .and_then(Suite::from_name);
        let suite = match (pinned, named) {
            (Some(p), Some(n)) if p != n => {
                bail!("server key {key_id}: the document says {n}, the pin {p}")
            }
            (Some(p), _) => p,
            (None, n) => n.unwrap_or(Suite::X25519),
        };
        match self.config.trust_with_suite(suite, key_id, public) {
            Ok(Trust::Pinned(_)) => Ok(key_id.to_owned()),
            Ok(Trust::FirstUse(_)) => bail!("trust on first use is off"),
            Err(e) => bail!("server key {key_id} does not match the pin: {e}"),
        }
    }

    /// The envelope as the body (raw or web form).
    pub fn body_of(&self, envelope: &[u8]) -> Vec<u8> {
        let form = if self.opts.web_form {
            scv2::http::BodyForm::Web
        } else {
            scv2::http::BodyForm::Raw
        };
        scv2::http::encode_body(envelope, form)
    }

    fn envelope_of(&self, body: &[u8]) -> anyhow::Result<Vec<u8>> {
        scv2::http::decode_body(body, MAX_ANSWER_BODY)
            .map(|(b, _)| b.into_owned())
            .map_err(|e| anyhow!("answer body: {e}"))
    }

    /// `POST /web/v1/secure-channel/session` with the pinned key `key_id`.
    pub async fn open_session(&self, key_id: &str) -> anyhow::Result<ClientSession> {
        let (hs, type1) = ClientHandshake::start(&self.config, key_id, b"{}", &mut OsRng)
            .map_err(|e| anyhow!("handshake: {e}"))?;
        let r = self
            .send(
                reqwest::Method::POST,
                PATH_SESSION,
                self.standard_headers(None),
                self.body_of(&type1),
            )
            .await?;
        if r.status != 200 {
            bail!(
                "session: HTTP {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
        }
        let env = self.envelope_of(&r.body)?;
        hs.finish(&env, self.opts.clock.now_ms())
            .map_err(|e| anyhow!("session: type 130 refused: {e}"))
    }

    /// Seal `json` for `METHOD path`.
    pub fn seal(
        &self,
        session: &ClientSession,
        method: &str,
        path: &str,
        json: &[u8],
    ) -> anyhow::Result<(PendingRequest, Vec<u8>)> {
        let ctx = scv2::http::ctx(method, path).map_err(|e| anyhow!("ctx: {e}"))?;
        let mut out = vec![0u8; session.sealed_len(json.len())];
        let (pending, n) = session
            .seal_request(ctx.as_bytes(), json, self.opts.clock.now_ms(), &mut out)
            .map_err(|e| anyhow!("seal: {e}"))?;
        out.truncate(n);
        Ok((pending, out))
    }

    /// Read an answer to a sealed request: a type 129 is opened; anything else is a plaintext
    /// gateway error (never trusted as success, even with a 2xx status).
    pub fn read_answer(
        &self,
        session: &ClientSession,
        pending: PendingRequest,
        method: &str,
        path: &str,
        raw: RawResponse,
    ) -> anyhow::Result<CallResult> {
        let ctx = scv2::http::ctx(method, path).map_err(|e| anyhow!("ctx: {e}"))?;
        let env = self.envelope_of(&raw.body).unwrap_or_default();
        let is_129 =
            env.len() >= 4 && env[..4] == scv2::wire::data_header(scv2::wire::TYPE_RESPONSE);
        if is_129 {
            let mut out = vec![0u8; scv2::max_open_len(env.len())];
            let n = session
                .open_response(pending, ctx.as_bytes(), &env, &mut out)
                .map_err(|e| anyhow!("type 129 does not open: {}", e.error))?;
            out.truncate(n);
            let body: Value =
                serde_json::from_slice(&out).context("decrypted answer is not JSON")?;
            Ok(CallResult {
                status: raw.status,
                encrypted: true,
                body,
                raw,
            })
        } else {
            let body = raw.json().unwrap_or(Value::Null);
            Ok(CallResult {
                status: raw.status,
                encrypted: false,
                body,
                raw,
            })
        }
    }

    /// Seal, send with the standard headers, and read the answer.
    pub async fn call(
        &self,
        session: &ClientSession,
        method: &str,
        path: &str,
        json: &[u8],
    ) -> anyhow::Result<CallResult> {
        let (pending, env) = self.seal(session, method, path, json)?;
        let m = reqwest::Method::from_bytes(method.as_bytes()).context("method")?;
        let raw = self
            .send(
                m,
                path,
                self.standard_headers(Some(session.session_id())),
                self.body_of(&env),
            )
            .await?;
        self.read_answer(session, pending, method, path, raw)
    }

    /// `POST /web/v1/secure-channel/session/close`.
    pub async fn close(&self, session: &ClientSession) -> anyhow::Result<CallResult> {
        self.call(session, "POST", PATH_SESSION_CLOSE, b"{}").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_cap_holds_the_largest_proxied_answer_in_the_web_form() {
        // The largest upstream body proxy mode accepts, in its wrapper, sealed (the largest
        // padding block the core allows), then base64 in `{"v":2,"p":"…"}`.
        let plain = crate::routes::MAX_RESPONSE_BYTES_LIMIT + 1024;
        let sealed = plain + scv2::padding::MAX_BLOCK + 64;
        let web = scv2::web::encode(&vec![0u8; sealed]);
        assert!(web.len() <= MAX_ANSWER_BODY, "{} bytes", web.len());
        assert!(scv2::http::decode_body(web.as_bytes(), MAX_ANSWER_BODY).is_ok());
    }
}
