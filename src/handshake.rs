//! The X25519-HKDF-SHA256-AES-256-GCM handshake: type 1 (client → server) and type 130
//! (server → client), for both roles.
//!
//! ```text
//! header1 = "SC" 02 01 | u8 len(keyId) | keyId | u16 32 | E | u16 0
//! es   = X25519(e, S)            h1 = SHA-256(LABEL || S || header1)
//! prk1 = HKDF-Extract(h1, es)    k1 = HKDF-Expand(prk1, "scv2 kx key", 32)
//! type 1   = header1 | iv1 | AES-256-GCM(k1, iv1, inner(payload), aad = header1)
//!
//! header2 = "SC" 02 82 | F
//! ee   = X25519(f, E)            h2 = SHA-256(h1 || envelope1 || header2)
//! prk2 = HKDF-Extract(prk1, ee)  okm = HKDF-Expand(prk2, "scv2 session keys" || h2, 88)
//! type 130 = header2 | nonce(s2c, 0) | AES-256-GCM(k_s2c, ·, inner(u8 len sid | sid | u64 exp | app), aad = h2)
//! ```

#![forbid(unsafe_code)]

use core::fmt;
use zeroize::{Zeroize, Zeroizing};

use crate::config::{ClientConfig, Limits, ServerConfig};
use crate::error::{Error, Result};
use crate::keys::{ServerKey, LABEL};
use crate::padding;
use crate::primitives::{
    fill_random, hkdf_expand, hkdf_extract, sha256, AeadKey, Transcript, X25519Secret, NONCE_LEN,
    TAG_LEN, X25519_LEN,
};
use crate::replay::ReplayWindow;
use crate::session::{
    check_session_id, ClientSession, KeyMaterial, ServerSession, SessionKeys, OKM_LEN,
};
use crate::wire::{self, KXR_HEADER_LEN, TYPE_KEY_EXCHANGE_RESPONSE};

/// HKDF info for the type-1 key.
pub const INFO_KX_KEY: &[u8] = b"scv2 kx key";
/// HKDF info prefix for the session keys (followed by `h2`).
pub const INFO_SESSION_KEYS: &[u8] = b"scv2 session keys";

/// `prk1` and the transcript after envelope 1 (`h1 || envelope1`), shared by both roles.
struct Stage1 {
    prk1: Zeroizing<[u8; 32]>,
    transcript: Transcript,
}

/// `h1`, `prk1` and `k1` for a type-1 header.
fn stage1_keys(
    server_public: &[u8; X25519_LEN],
    header1: &[u8],
    es: &[u8; 32],
) -> Result<(Zeroizing<[u8; 32]>, [u8; 32], AeadKey)> {
    let h1 = sha256(&[LABEL, server_public, header1]);
    let prk1 = hkdf_extract(&h1, es);
    let mut k1 = Zeroizing::new([0u8; 32]);
    hkdf_expand(prk1.as_ref(), &[INFO_KX_KEY], k1.as_mut())?;
    Ok((prk1, h1, AeadKey::new(&k1)))
}

/// `h2` and the session key material.
fn stage2_keys(stage1: Stage1, header2: &[u8], ee: &[u8; 32]) -> Result<([u8; 32], KeyMaterial)> {
    let mut t = stage1.transcript;
    t.update(header2);
    let h2 = t.finish();
    let prk2 = hkdf_extract(stage1.prk1.as_ref(), ee);
    let mut okm = KeyMaterial([0u8; OKM_LEN]);
    hkdf_expand(prk2.as_ref(), &[INFO_SESSION_KEYS, &h2], &mut okm.0)?;
    Ok((h2, okm))
}

fn transcript_after(h1: &[u8; 32], envelope1: &[u8]) -> Transcript {
    let mut t = Transcript::default();
    t.update(h1);
    t.update(envelope1);
    t
}

// ---------------------------------------------------------------------------------------------
// Client

/// A client handshake waiting for the server's type-130 answer. Holds the ephemeral secret and
/// `prk1`, zeroized when the handshake finishes or is dropped.
pub struct ClientHandshake {
    e: X25519Secret,
    stage1: Stage1,
    padding_block: usize,
    limits: Limits,
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientHandshake([redacted])")
    }
}

impl ClientHandshake {
    /// Start a handshake with the pinned server key `key_id`; returns the handshake and the type-1
    /// envelope to send (`POST /web/v1/secure-channel/session`).
    ///
    /// `payload` is protected by the server's static key only: it is not forward-secret and can be
    /// replayed, so it must carry no credentials and must cause no side effect.
    ///
    /// Errors: [`Error::UntrustedServerKey`] (not pinned), [`Error::PayloadTooLarge`],
    /// [`Error::InvalidPublicKey`] (the pinned key is a low-order point), [`Error::Internal`]
    /// (RNG failure).
    pub fn start<R: rand_core::TryCryptoRng + ?Sized>(
        config: &ClientConfig,
        key_id: &str,
        payload: &[u8],
        rng: &mut R,
    ) -> Result<(ClientHandshake, Vec<u8>)> {
        let e = X25519Secret::random(rng)?;
        let mut iv1 = [0u8; NONCE_LEN];
        fill_random(rng, &mut iv1)?;
        Self::start_inner(config, key_id, payload, e, iv1)
    }

    /// [`ClientHandshake::start`] with an explicit ephemeral private key and `iv1`, to rebuild
    /// test vectors. Only with the `test-vectors` feature; never in release builds.
    #[cfg(feature = "test-vectors")]
    pub fn start_with_ephemeral_for_test_vectors(
        config: &ClientConfig,
        key_id: &str,
        payload: &[u8],
        ephemeral_private: [u8; 32],
        iv1: [u8; NONCE_LEN],
    ) -> Result<(ClientHandshake, Vec<u8>)> {
        Self::start_inner(
            config,
            key_id,
            payload,
            X25519Secret::from_bytes(ephemeral_private),
            iv1,
        )
    }

    fn start_inner(
        config: &ClientConfig,
        key_id: &str,
        payload: &[u8],
        e: X25519Secret,
        iv1: [u8; NONCE_LEN],
    ) -> Result<(ClientHandshake, Vec<u8>)> {
        let pin = config.pinned(key_id).ok_or(Error::UntrustedServerKey)?;
        config.limits.check_payload(payload)?;
        let server_public = *pin.public_key();
        let es = e.diffie_hellman(&server_public)?;
        let big_e = e.public_key();

        let inner_len = padding::padded_len(payload.len(), config.padding_block)
            .ok_or(Error::PayloadTooLarge)?;
        let header_len = wire::key_exchange_header_len(key_id.len());
        let mut out = Vec::with_capacity(header_len + NONCE_LEN + inner_len + TAG_LEN);
        wire::write_key_exchange_header(&mut out, key_id.as_bytes(), &big_e);
        let (prk1, h1, k1) = stage1_keys(&server_public, &out, &es)?;

        out.extend_from_slice(&iv1);
        out.extend_from_slice(payload);
        out.resize(header_len + NONCE_LEN + inner_len, 0);
        let (header, rest) = out.split_at_mut(header_len);
        let inner = &mut rest[NONCE_LEN..];
        padding::write_padding(&mut inner[payload.len()..]);
        let tag = k1.seal_in_place(&iv1, header, inner)?;
        out.extend_from_slice(&tag);

        let transcript = transcript_after(&h1, &out);
        Ok((
            ClientHandshake {
                e,
                stage1: Stage1 { prk1, transcript },
                padding_block: config.padding_block,
                limits: config.limits,
            },
            out,
        ))
    }

    /// Finish the handshake with the server's type-130 envelope.
    ///
    /// Consumes the handshake (its secrets are zeroized whatever the outcome). Errors, in order:
    /// [`Error::PayloadTooLarge`], the parse errors, [`Error::InvalidPublicKey`] (`F` gives an
    /// all-zero X25519 result), [`Error::DecryptionFailed`] (IV not `nonce(s2c, 0)`, bad tag,
    /// bad padding), [`Error::MalformedEnvelope`] (bad plaintext structure or session id),
    /// [`Error::SessionExpired`] (`now_ms >= expiresAtMs`).
    pub fn finish(self, envelope: &[u8], now_ms: u64) -> Result<ClientSession> {
        self.limits.check_envelope(envelope)?;
        let m = wire::parse_key_exchange_response(envelope)?;
        let ee = self.e.diffie_hellman(m.server_ephemeral)?;
        let (h2, okm) = stage2_keys(self.stage1, m.header, &ee)?;
        let keys = SessionKeys::from_okm(&okm);
        drop(okm);

        let mut inner = Zeroizing::new(m.aead.ciphertext.to_vec());
        keys.open_handshake(m.aead.iv, &h2, &mut inner, m.aead.tag)?;
        let len = padding::unpadded_len(&inner)?;
        let plain = &inner[..len];

        let (&sid_len, rest) = plain.split_first().ok_or(Error::MalformedEnvelope)?;
        let sid_len = usize::from(sid_len);
        if rest.len() < sid_len + 8 {
            return Err(Error::MalformedEnvelope);
        }
        let (sid, rest) = rest.split_at(sid_len);
        let sid = core::str::from_utf8(sid).map_err(|_| Error::MalformedEnvelope)?;
        check_session_id(sid).map_err(|_| Error::MalformedEnvelope)?;
        let (exp, app) = rest.split_at(8);
        let mut exp_bytes = [0u8; 8];
        exp_bytes.copy_from_slice(exp);
        let expires_at_ms = u64::from_be_bytes(exp_bytes);
        if now_ms >= expires_at_ms {
            return Err(Error::SessionExpired);
        }
        Ok(ClientSession::new(
            sid.to_owned(),
            expires_at_ms,
            Zeroizing::new(app.to_vec()),
            keys,
            self.padding_block,
            self.limits,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Server

/// The server side: its static keys (by key id) and the settings of the sessions it opens.
///
/// Holds several keys for rotation: the newest is advertised by the application; older ones still
/// open sessions until removed or expired.
#[derive(Debug)]
pub struct Server {
    keys: Vec<ServerKey>,
    config: ServerConfig,
}

impl Server {
    /// A server with no keys yet.
    pub fn new(config: ServerConfig) -> Server {
        Server {
            keys: Vec::new(),
            config,
        }
    }

    /// Add a key. A key id that is already present is [`Error::InvalidArgument`].
    pub fn add_key(&mut self, key: ServerKey) -> Result<()> {
        if self.key(key.key_id()).is_some() {
            return Err(Error::InvalidArgument);
        }
        self.keys.push(key);
        Ok(())
    }

    /// Remove the key `key_id` (it is zeroized); returns whether it was present.
    pub fn remove_key(&mut self, key_id: &str) -> bool {
        let before = self.keys.len();
        self.keys.retain(|k| k.key_id() != key_id);
        before != self.keys.len()
    }

    /// The key `key_id`, if held.
    pub fn key(&self, key_id: &str) -> Option<&ServerKey> {
        self.keys.iter().find(|k| k.key_id() == key_id)
    }

    /// All keys, in the order they were added.
    pub fn keys(&self) -> &[ServerKey] {
        &self.keys
    }

    /// The newest key that is not expired at `now_ms` (greatest `created_at_ms`; the later-added
    /// one on a tie): the one to advertise.
    pub fn current_key(&self, now_ms: u64) -> Option<&ServerKey> {
        self.keys.iter().filter(|k| !k.is_expired(now_ms)).fold(
            None,
            |best: Option<&ServerKey>, k| match best {
                Some(b) if b.created_at_ms() > k.created_at_ms() => Some(b),
                _ => Some(k),
            },
        )
    }

    /// The session settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Accept a type-1 envelope. The decrypted payload is available on the result, which then
    /// [responds](AcceptedHandshake::respond).
    ///
    /// Errors, in order: [`Error::PayloadTooLarge`], the parse errors (malformed, version, type),
    /// [`Error::UnknownKeyId`] (unknown or expired at `now_ms`), [`Error::InvalidPublicKey`]
    /// (`E` gives an all-zero X25519 result), [`Error::DecryptionFailed`].
    pub fn accept(&self, envelope: &[u8], now_ms: u64) -> Result<AcceptedHandshake> {
        self.config.limits.check_envelope(envelope)?;
        let m = wire::parse_key_exchange(envelope)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.key_id().as_bytes() == m.key_id)
            .filter(|k| !k.is_expired(now_ms))
            .ok_or(Error::UnknownKeyId)?;
        let es = key.secret().diffie_hellman(m.client_ephemeral)?;
        let (prk1, h1, k1) = stage1_keys(key.public_key(), m.header, &es)?;
        let mut inner = Zeroizing::new(m.aead.ciphertext.to_vec());
        k1.open_in_place(m.aead.iv, m.header, &mut inner, m.aead.tag)?;
        let len = padding::unpadded_len(&inner)?;
        inner.truncate(len);
        Ok(AcceptedHandshake {
            key_id: key.key_id().to_owned(),
            client_ephemeral: *m.client_ephemeral,
            stage1: Stage1 {
                prk1,
                transcript: transcript_after(&h1, envelope),
            },
            payload: inner,
            config: self.config,
        })
    }
}

/// A type-1 envelope the server accepted, waiting for the application to choose the session id
/// and expiry. Holds `prk1`, zeroized when it responds or is dropped.
pub struct AcceptedHandshake {
    key_id: String,
    client_ephemeral: [u8; X25519_LEN],
    stage1: Stage1,
    payload: Zeroizing<Vec<u8>>,
    config: ServerConfig,
}

impl fmt::Debug for AcceptedHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptedHandshake")
            .field("key_id", &self.key_id)
            .field("payload_len", &self.payload.len())
            .field("secrets", &"[redacted]")
            .finish()
    }
}

impl AcceptedHandshake {
    /// The key id the client used.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The client's type-1 payload (authenticated by the server key only; replayable).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Complete the handshake: returns the new session and the type-130 envelope to send.
    ///
    /// `session_id`: 1–64 printable ASCII bytes (see [`generate_session_id`]). Errors:
    /// [`Error::InvalidArgument`] (bad session id), [`Error::PayloadTooLarge`],
    /// [`Error::Internal`] (RNG).
    pub fn respond<R: rand_core::TryCryptoRng + ?Sized>(
        self,
        session_id: &str,
        expires_at_ms: u64,
        app_payload: &[u8],
        rng: &mut R,
    ) -> Result<(ServerSession, Vec<u8>)> {
        let f = X25519Secret::random(rng)?;
        self.respond_inner(session_id, expires_at_ms, app_payload, f)
    }

    /// [`AcceptedHandshake::respond`] with an explicit ephemeral private key, to rebuild test
    /// vectors. Only with the `test-vectors` feature; never in release builds.
    #[cfg(feature = "test-vectors")]
    pub fn respond_with_ephemeral_for_test_vectors(
        self,
        session_id: &str,
        expires_at_ms: u64,
        app_payload: &[u8],
        ephemeral_private: [u8; 32],
    ) -> Result<(ServerSession, Vec<u8>)> {
        self.respond_inner(
            session_id,
            expires_at_ms,
            app_payload,
            X25519Secret::from_bytes(ephemeral_private),
        )
    }

    fn respond_inner(
        self,
        session_id: &str,
        expires_at_ms: u64,
        app_payload: &[u8],
        f: X25519Secret,
    ) -> Result<(ServerSession, Vec<u8>)> {
        check_session_id(session_id)?;
        self.config.limits.check_payload(app_payload)?;
        let ee = f.diffie_hellman(&self.client_ephemeral)?;
        let mut header2 = [0u8; KXR_HEADER_LEN];
        header2[..4].copy_from_slice(&wire::data_header(TYPE_KEY_EXCHANGE_RESPONSE));
        header2[4..].copy_from_slice(&f.public_key());
        drop(f);
        let (h2, okm) = stage2_keys(self.stage1, &header2, &ee)?;
        let keys = SessionKeys::from_okm(&okm);

        let plain_len = 1 + session_id.len() + 8 + app_payload.len();
        let inner_len = padding::padded_len(plain_len, self.config.padding_block)
            .ok_or(Error::PayloadTooLarge)?;
        let mut inner = Zeroizing::new(Vec::with_capacity(inner_len));
        inner.push(session_id.len() as u8);
        inner.extend_from_slice(session_id.as_bytes());
        inner.extend_from_slice(&expires_at_ms.to_be_bytes());
        inner.extend_from_slice(app_payload);
        inner.resize(inner_len, 0);
        padding::write_padding(&mut inner[plain_len..]);
        let (iv, tag) = keys.seal_handshake(&h2, &mut inner)?;

        let mut out = Vec::with_capacity(KXR_HEADER_LEN + NONCE_LEN + inner_len + TAG_LEN);
        out.extend_from_slice(&header2);
        out.extend_from_slice(&iv);
        out.extend_from_slice(&inner);
        out.extend_from_slice(&tag);
        inner.zeroize();

        let window = ReplayWindow::new(self.config.replay_window)?;
        let session = ServerSession::new(
            session_id.to_owned(),
            expires_at_ms,
            okm,
            keys,
            window,
            &self.config,
        );
        Ok((session, out))
    }
}

/// Length of the type-1 envelope for a key id of `key_id_len` bytes and a `payload_len`-byte
/// payload padded to `block` (`None` if `block` is not in 1..=4096 or on overflow).
pub fn key_exchange_len(key_id_len: usize, payload_len: usize, block: usize) -> Option<usize> {
    padding::check_block(block).ok()?;
    padding::padded_len(payload_len, block)?
        .checked_add(wire::key_exchange_header_len(key_id_len) + NONCE_LEN + TAG_LEN)
}

/// Length of the type-130 envelope for a session id of `session_id_len` bytes and an
/// `app_payload_len`-byte application payload padded to `block`.
pub fn key_exchange_response_len(
    session_id_len: usize,
    app_payload_len: usize,
    block: usize,
) -> Option<usize> {
    padding::check_block(block).ok()?;
    let plain = (1 + 8 + session_id_len).checked_add(app_payload_len)?;
    padding::padded_len(plain, block)?.checked_add(KXR_HEADER_LEN + NONCE_LEN + TAG_LEN)
}

/// The default session id generator: 128 random bits, base64url without padding (22 characters).
pub fn generate_session_id<R: rand_core::TryCryptoRng + ?Sized>(rng: &mut R) -> Result<String> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let mut raw = [0u8; 16];
    fill_random(rng, &mut raw)?;
    Ok(Base64UrlUnpadded::encode_string(&raw))
}
