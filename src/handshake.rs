//! The handshake of both suites, type 1 (client → server) and type 130 (server → client), for
//! both roles: X25519-HKDF-SHA256-AES-256-GCM (SPEC.md section 5) and the hybrid
//! X25519MLKEM768-HKDF-SHA256-AES-256-GCM (SPEC.md section 15). The key schedule is in
//! `schedule.rs`, the layouts in `wire.rs`; this file owns the order of the checks and which
//! secret goes where.
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
//!
//! hybrid: (ct1, ss1) = Encaps(ek_s)   header1 = … | u16 1120 | ct1 | E | u16 1184 | ek_e
//!         h1 = SHA-256(LABEL_PQ || ek_s || S || header1)   prk1 = HKDF-Extract(h1, ss1 || es)
//!         (ct2, ss2) = Encaps(ek_e)   header2 = "SC" 02 82 | ct2 | F
//!         prk2 = HKDF-Extract(prk1, ss2 || ee); the rest as above
//! ```
//!
//! Secrets (`e`, `f`, `dk_e`, `ss1`, `ss2`, `es`, `ee`, the extract inputs, `prk1`, `prk2`,
//! `k1`) live in zeroizing types and are dropped as soon as they are used up.

#![forbid(unsafe_code)]

use core::fmt;
use zeroize::{Zeroize, Zeroizing};

use crate::config::{ClientConfig, Limits, ServerConfig};
use crate::error::{Error, Result};
use crate::keys::{PinnedKey, ServerKey};
use crate::padding;
use crate::primitives::{
    fill_random, AeadKey, MlKemDecapsKey, MlKemEncapsKey, MlKemEncapsulation, X25519Secret,
    MLKEM768_ENCAPS_KEY_LEN, NONCE_LEN, TAG_LEN, X25519_LEN,
};
use crate::replay::ReplayWindow;
use crate::schedule::{
    hybrid_stage1_keys, stage1_keys, stage2_keys, HybridIkm, SessionKeys, Stage1,
};
use crate::session::{check_session_id, ClientSession, ServerSession};
use crate::suite::Suite;
use crate::wire::{self, SessionGrant};

/// Random bytes behind a session id from [`generate_session_id`].
const SESSION_ID_RANDOM_BYTES: usize = 16;
/// The length of a session id from [`generate_session_id`]: 128 random bits in unpadded
/// base64url, 22 characters.
pub const GENERATED_SESSION_ID_LEN: usize = (SESSION_ID_RANDOM_BYTES * 4).div_ceil(3);

// ---------------------------------------------------------------------------------------------
// Client

/// Fixed ML-KEM inputs of a hybrid client handshake, for known-answer tests only (see
/// [`ClientHandshake::start_hybrid_with_ephemeral_for_test_vectors`]).
#[cfg(feature = "test-vectors")]
#[derive(Clone, Copy)]
pub struct HybridClientTestInputs {
    /// `d_e || z_e`, the seed of the ephemeral ML-KEM-768 key.
    pub mlkem_seed: [u8; 64],
    /// `m1`, the randomness of the encapsulation to `ek_s`.
    pub encaps_randomness: [u8; 32],
}

/// What a client handshake draws before it writes a type 1.
struct ClientEphemerals {
    e: X25519Secret,
    /// `dk_e` and `Encaps(ek_s)` (hybrid suite).
    kem: Option<(MlKemDecapsKey, MlKemEncapsulation)>,
    iv1: [u8; NONCE_LEN],
}

/// A client handshake waiting for the server's type-130 answer. Holds the ephemeral secrets
/// (`e`, and `dk_e` in the hybrid suite) and `prk1`, zeroized when the handshake finishes or is
/// dropped.
pub struct ClientHandshake {
    e: X25519Secret,
    /// `dk_e` (hybrid suite).
    kem: Option<MlKemDecapsKey>,
    stage1: Stage1,
    padding_block: usize,
    limits: Limits,
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientHandshake({}, [redacted])", self.suite())
    }
}

impl ClientHandshake {
    /// Start a handshake with the pinned server key `key_id`, in the pin's suite; returns the
    /// handshake and the type-1 envelope to send (`POST /web/v1/secure-channel/session`).
    ///
    /// `payload` is protected by the server's static key(s) only: it is not forward-secret and
    /// can be replayed, so it must carry no credentials and must cause no side effect.
    ///
    /// Errors: [`Error::UntrustedServerKey`] (not pinned), [`Error::PayloadTooLarge`],
    /// [`Error::InvalidPublicKey`] (the pinned X25519 key is a low-order point),
    /// [`Error::Internal`] (RNG failure).
    pub fn start<R: rand_core::TryCryptoRng + ?Sized>(
        config: &ClientConfig,
        key_id: &str,
        payload: &[u8],
        rng: &mut R,
    ) -> Result<(ClientHandshake, Vec<u8>)> {
        let len = Self::start_len(config, key_id, payload.len())?;
        let mut out = vec![0u8; len];
        let (hs, n) = Self::start_into(config, key_id, payload, rng, &mut out)?;
        out.truncate(n);
        Ok((hs, out))
    }

    /// [`ClientHandshake::start`] writing the type-1 envelope into `out`; returns the handshake
    /// and the envelope's length ([`ClientHandshake::start_len`]).
    ///
    /// Errors, in order: [`Error::UntrustedServerKey`], [`Error::PayloadTooLarge`],
    /// [`Error::BufferTooSmall`] (decided before any randomness is drawn),
    /// [`Error::InvalidPublicKey`], [`Error::Internal`] (RNG failure). On error `out` holds no
    /// part of an envelope.
    pub fn start_into<R: rand_core::TryCryptoRng + ?Sized>(
        config: &ClientConfig,
        key_id: &str,
        payload: &[u8],
        rng: &mut R,
        out: &mut [u8],
    ) -> Result<(ClientHandshake, usize)> {
        let pin = Self::check_start(config, key_id, payload, out.len())?;
        let e = X25519Secret::random(rng)?;
        let kem = match pin.mlkem() {
            None => None,
            Some(ek_s) => {
                let dk_e = MlKemDecapsKey::generate_ephemeral(rng)?;
                Some((dk_e, ek_s.encapsulate(rng)?))
            }
        };
        let mut iv1 = [0u8; NONCE_LEN];
        fill_random(rng, &mut iv1)?;
        Self::build(config, pin, payload, ClientEphemerals { e, kem, iv1 }, out)
    }

    /// The exact length of the type 1 that [`ClientHandshake::start_into`] writes for `key_id`
    /// (in its pin's suite) and a `payload_len`-byte payload under `config`.
    ///
    /// Errors: [`Error::UntrustedServerKey`] (not pinned), [`Error::PayloadTooLarge`] (no
    /// envelope can be that long).
    pub fn start_len(config: &ClientConfig, key_id: &str, payload_len: usize) -> Result<usize> {
        let pin = config.pinned(key_id).ok_or(Error::UntrustedServerKey)?;
        Self::envelope_len(config, pin, payload_len)
    }

    /// [`ClientHandshake::start`] with an explicit ephemeral private key and `iv1`, to rebuild
    /// test vectors of the X25519 suite ([`Error::InvalidArgument`] for a pin of another
    /// suite). Only with the `test-vectors` feature; never in release builds.
    #[cfg(feature = "test-vectors")]
    pub fn start_with_ephemeral_for_test_vectors(
        config: &ClientConfig,
        key_id: &str,
        payload: &[u8],
        ephemeral_private: [u8; 32],
        iv1: [u8; NONCE_LEN],
    ) -> Result<(ClientHandshake, Vec<u8>)> {
        let mut out = vec![0u8; Self::start_len(config, key_id, payload.len())?];
        let (hs, n) = Self::start_into_with_ephemeral_for_test_vectors(
            config,
            key_id,
            payload,
            ephemeral_private,
            iv1,
            &mut out,
        )?;
        out.truncate(n);
        Ok((hs, out))
    }

    /// [`ClientHandshake::start_into`] with an explicit ephemeral private key and `iv1` (X25519
    /// suite). Only with the `test-vectors` feature; never in release builds.
    #[cfg(feature = "test-vectors")]
    pub fn start_into_with_ephemeral_for_test_vectors(
        config: &ClientConfig,
        key_id: &str,
        payload: &[u8],
        ephemeral_private: [u8; 32],
        iv1: [u8; NONCE_LEN],
        out: &mut [u8],
    ) -> Result<(ClientHandshake, usize)> {
        let pin = Self::check_start(config, key_id, payload, out.len())?;
        if pin.suite() != Suite::X25519 {
            return Err(Error::InvalidArgument);
        }
        let e = X25519Secret::from_bytes(ephemeral_private);
        Self::build(
            config,
            pin,
            payload,
            ClientEphemerals { e, kem: None, iv1 },
            out,
        )
    }

    /// [`ClientHandshake::start`] for a pin of the hybrid suite with every input fixed: `e`,
    /// the ML-KEM seed `d_e || z_e`, `m1` and `iv1` ([`Error::InvalidArgument`] for a pin of
    /// another suite). Only with the `test-vectors` feature; never in release builds: a known
    /// `m1` reveals `ss1`.
    #[cfg(feature = "test-vectors")]
    pub fn start_hybrid_with_ephemeral_for_test_vectors(
        config: &ClientConfig,
        key_id: &str,
        payload: &[u8],
        ephemeral_private: [u8; 32],
        kem: HybridClientTestInputs,
        iv1: [u8; NONCE_LEN],
    ) -> Result<(ClientHandshake, Vec<u8>)> {
        let mut out = vec![0u8; Self::start_len(config, key_id, payload.len())?];
        let pin = Self::check_start(config, key_id, payload, out.len())?;
        let ek_s = pin.mlkem().ok_or(Error::InvalidArgument)?;
        let e = X25519Secret::from_bytes(ephemeral_private);
        let dk_e = MlKemDecapsKey::from_seed(kem.mlkem_seed);
        let enc = ek_s.encapsulate_deterministic(&kem.encaps_randomness)?;
        let eph = ClientEphemerals {
            e,
            kem: Some((dk_e, enc)),
            iv1,
        };
        let (hs, n) = Self::build(config, pin, payload, eph, &mut out)?;
        out.truncate(n);
        Ok((hs, out))
    }

    /// The length of the type 1 for `pin` and a `payload_len`-byte payload under `config` (its
    /// padding block), or [`Error::PayloadTooLarge`] when no envelope can be that long.
    fn envelope_len(config: &ClientConfig, pin: &PinnedKey, payload_len: usize) -> Result<usize> {
        pin.suite()
            .key_exchange_len(pin.key_id().len(), payload_len, config.padding_block)
            .ok_or(Error::PayloadTooLarge)
    }

    /// Every check of a start, in the documented order, before anything is drawn or written.
    fn check_start<'c>(
        config: &'c ClientConfig,
        key_id: &str,
        payload: &[u8],
        capacity: usize,
    ) -> Result<&'c PinnedKey> {
        let pin = config.pinned(key_id).ok_or(Error::UntrustedServerKey)?;
        config.limits.check_payload(payload)?;
        if capacity < Self::envelope_len(config, pin, payload.len())? {
            return Err(Error::BufferTooSmall);
        }
        Ok(pin)
    }

    /// Write the type 1 into `out` (already checked to be long enough).
    fn build(
        config: &ClientConfig,
        pin: &PinnedKey,
        payload: &[u8],
        eph: ClientEphemerals,
        out: &mut [u8],
    ) -> Result<(ClientHandshake, usize)> {
        let ClientEphemerals { e, kem, iv1 } = eph;
        let r = (|| -> Result<_> {
            let server_public = pin.public_key();
            let es = e.diffie_hellman(server_public)?;
            let total = Self::envelope_len(config, pin, payload.len())?;
            let out = out.get_mut(..total).ok_or(Error::BufferTooSmall)?;
            let (header_len, (prk1, h1, k1)) = match (&kem, pin.mlkem()) {
                (None, None) => {
                    let n = wire::write_key_exchange_header_into(
                        out,
                        pin.key_id().as_bytes(),
                        &e.public_key(),
                    )?;
                    (n, stage1_keys(server_public, &out[..n], &es)?)
                }
                (Some((dk_e, (ct1, ss1))), Some(_)) => {
                    let ek_s = server_kem_key(pin.public_key_bytes())?;
                    let n = wire::write_hybrid_key_exchange_header_into(
                        out,
                        pin.key_id().as_bytes(),
                        ct1,
                        &e.public_key(),
                        &dk_e.encaps_key_bytes(),
                    )?;
                    let ikm = HybridIkm::new(ss1, &es);
                    (n, hybrid_stage1_keys(ek_s, server_public, &out[..n], &ikm)?)
                }
                _ => return Err(Error::Internal),
            };
            seal_type1(out, header_len, payload, &iv1, &k1)?;
            Ok((prk1, h1, total))
        })();
        let (prk1, h1, total) = r.inspect_err(|_| out.zeroize())?;
        Ok((
            ClientHandshake {
                e,
                kem: kem.map(|(dk_e, _)| dk_e),
                stage1: Stage1::new(prk1, &h1, &out[..total]),
                padding_block: config.padding_block,
                limits: config.limits,
            },
            total,
        ))
    }

    /// The suite of the pin this handshake was started with.
    pub fn suite(&self) -> Suite {
        if self.kem.is_some() {
            Suite::X25519MlKem768
        } else {
            Suite::X25519
        }
    }

    /// Finish the handshake with the server's type-130 envelope.
    ///
    /// Consumes the handshake (its secrets are zeroized whatever the outcome). Errors, in order:
    /// [`Error::PayloadTooLarge`], the parse errors (a type 130 shorter than its suite's
    /// minimum is [`Error::MalformedEnvelope`]), [`Error::InvalidPublicKey`] (`F` gives an
    /// all-zero X25519 result), [`Error::DecryptionFailed`] (IV not `nonce(s2c, 0)`, bad tag,
    /// bad padding; a changed `ct2` ends here too), [`Error::MalformedEnvelope`] (bad plaintext
    /// structure or session id), [`Error::SessionExpired`] (`now_ms >= expiresAtMs`).
    pub fn finish(self, envelope: &[u8], now_ms: u64) -> Result<ClientSession> {
        let ClientHandshake {
            e,
            kem,
            stage1,
            padding_block,
            limits,
        } = self;
        limits.check_envelope(envelope)?;
        let (h2, okm, aead) = match &kem {
            None => {
                let m = wire::parse_key_exchange_response(envelope)?;
                let ee = e.diffie_hellman(m.server_ephemeral)?;
                drop(e);
                let (h2, okm) = stage2_keys(stage1, m.header, ee.as_ref())?;
                (h2, okm, m.aead)
            }
            Some(dk_e) => {
                let m = wire::parse_hybrid_key_exchange_response(envelope)?;
                let ee = e.diffie_hellman(m.server_ephemeral)?;
                drop(e);
                let ss2 = dk_e.decapsulate(m.ciphertext)?;
                let ikm = HybridIkm::new(&ss2, &ee);
                drop((ss2, ee));
                let (h2, okm) = stage2_keys(stage1, m.header, ikm.as_bytes())?;
                (h2, okm, m.aead)
            }
        };
        drop(kem);
        let keys = SessionKeys::from_okm(&okm);
        drop(okm);

        let mut inner = Zeroizing::new(aead.ciphertext.to_vec());
        keys.open_handshake(aead.iv, &h2, &mut inner, aead.tag)?;
        let len = padding::unpadded_len(&inner)?;
        let grant = SessionGrant::parse(&inner[..len])?;
        if now_ms >= grant.expires_at_ms {
            return Err(Error::SessionExpired);
        }
        ClientSession::new(
            grant.session_id.to_owned(),
            grant.expires_at_ms,
            Zeroizing::new(grant.app_payload.to_vec()),
            keys,
            padding_block,
            limits,
        )
    }
}

/// `ek_s`: the first 1184 bytes of a hybrid public key.
fn server_kem_key(public: &[u8]) -> Result<&[u8; MLKEM768_ENCAPS_KEY_LEN]> {
    public
        .split_first_chunk::<MLKEM768_ENCAPS_KEY_LEN>()
        .map(|(ek, _)| ek)
        .ok_or(Error::Internal)
}

/// Seal a type 1 whose `header1` (`header_len` bytes) is already at the start of `out`:
/// `iv1 | AES-256-GCM(k1, iv1, inner(payload), aad = header1)` fills the rest of `out`.
fn seal_type1(
    out: &mut [u8],
    header_len: usize,
    payload: &[u8],
    iv1: &[u8; NONCE_LEN],
    k1: &AeadKey,
) -> Result<()> {
    let (header, rest) = out.split_at_mut(header_len);
    if rest.len() < NONCE_LEN + TAG_LEN + payload.len() + 1 {
        return Err(Error::BufferTooSmall);
    }
    let (iv, rest) = rest.split_at_mut(NONCE_LEN);
    iv.copy_from_slice(iv1);
    let (inner, tag_out) = rest.split_at_mut(rest.len() - TAG_LEN);
    let (body, pad) = inner.split_at_mut(payload.len());
    body.copy_from_slice(payload);
    padding::write_padding(pad);
    let tag = k1.seal_in_place(iv1, header, inner)?;
    tag_out.copy_from_slice(&tag);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Server

/// The server side: its static keys of either suite (by key id) and the settings of the
/// sessions it opens.
///
/// Holds several keys for rotation: the newest is advertised by the application; older ones still
/// open sessions until removed or expired. Keys of both suites may be held at once; a type 1 is
/// matched to its key's suite after the key-id lookup (SPEC.md sections 10 and 15.6).
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

    /// Add a key. A key id that is already present (in any suite) is [`Error::InvalidArgument`].
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
    /// one on a tie), of any suite: the one to advertise.
    pub fn current_key(&self, now_ms: u64) -> Option<&ServerKey> {
        self.newest(now_ms, |_| true)
    }

    /// [`Server::current_key`] among the keys of `suite`.
    pub fn current_key_of(&self, suite: Suite, now_ms: u64) -> Option<&ServerKey> {
        self.newest(now_ms, |k| k.suite() == suite)
    }

    fn newest(&self, now_ms: u64, pick: impl Fn(&ServerKey) -> bool) -> Option<&ServerKey> {
        self.keys
            .iter()
            .filter(|k| !k.is_expired(now_ms) && pick(k))
            .fold(None, |best: Option<&ServerKey>, k| match best {
                Some(b) if b.created_at_ms() > k.created_at_ms() => Some(b),
                _ => Some(k),
            })
    }

    /// The session settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Accept a type-1 envelope. The decrypted payload is available on the result, which then
    /// [responds](AcceptedHandshake::respond).
    ///
    /// Errors, in order (SPEC.md sections 10 and 15.6): [`Error::PayloadTooLarge`], the parse
    /// errors (malformed, version, type; a server holding only X25519-suite keys checks that
    /// suite's key lengths here), [`Error::UnknownKeyId`] (unknown or expired at `now_ms`),
    /// [`Error::MalformedEnvelope`] (key lengths not those of the key's suite),
    /// [`Error::InvalidPublicKey`] (`ek_e` fails FIPS 203's encapsulation-key check, or `E`
    /// gives an all-zero X25519 result), [`Error::DecryptionFailed`].
    pub fn accept(&self, envelope: &[u8], now_ms: u64) -> Result<AcceptedHandshake> {
        self.config.limits.check_envelope(envelope)?;
        let holds_other_suites = self.keys.iter().any(|k| k.suite() != Suite::X25519);
        if !holds_other_suites {
            // SPEC.md section 10 as it is: the X25519 suite's lengths belong to step 5.
            let m = wire::parse_key_exchange(envelope)?;
            let key = self.live_key(m.key_id, now_ms)?;
            return self.accept_x25519(key, &m, envelope);
        }
        let m = wire::parse_any_key_exchange(envelope)?;
        let key = self.live_key(m.key_id, now_ms)?;
        match key.suite() {
            Suite::X25519 => self.accept_x25519(key, &m.x25519()?, envelope),
            Suite::X25519MlKem768 => self.accept_hybrid(key, &m.hybrid()?, envelope),
        }
    }

    /// Step 6: the key named, unless unknown or expired.
    fn live_key(&self, key_id: &[u8], now_ms: u64) -> Result<&ServerKey> {
        self.keys
            .iter()
            .find(|k| k.key_id().as_bytes() == key_id)
            .filter(|k| !k.is_expired(now_ms))
            .ok_or(Error::UnknownKeyId)
    }

    fn accept_x25519(
        &self,
        key: &ServerKey,
        m: &wire::KeyExchange<'_>,
        envelope: &[u8],
    ) -> Result<AcceptedHandshake> {
        let es = key.secret().diffie_hellman(m.client_ephemeral)?;
        let (prk1, h1, k1) = stage1_keys(key.public_key(), m.header, &es)?;
        drop(es);
        let payload = open_type1(&k1, m.header, &m.aead)?;
        Ok(AcceptedHandshake {
            key_id: key.key_id().to_owned(),
            client_ephemeral: *m.client_ephemeral,
            client_kem_key: None,
            stage1: Stage1::new(prk1, &h1, envelope),
            payload,
            config: self.config,
        })
    }

    /// SPEC.md section 15.6, steps 6b–6d and 10.
    fn accept_hybrid(
        &self,
        key: &ServerKey,
        m: &wire::HybridKeyExchange<'_>,
        envelope: &[u8],
    ) -> Result<AcceptedHandshake> {
        let dk_s = key.mlkem().ok_or(Error::Internal)?;
        let ek_e = MlKemEncapsKey::from_bytes(m.client_kem_key)?; // 6b
        let es = key.secret().diffie_hellman(m.client_ephemeral)?; // 6c
        let ss1 = dk_s.decapsulate(m.ciphertext)?; // 6d
        let ikm = HybridIkm::new(&ss1, &es);
        drop((ss1, es));
        let ek_s = server_kem_key(key.public_key_bytes())?;
        let (prk1, h1, k1) = hybrid_stage1_keys(ek_s, key.public_key(), m.header, &ikm)?;
        drop(ikm);
        let payload = open_type1(&k1, m.header, &m.aead)?;
        Ok(AcceptedHandshake {
            key_id: key.key_id().to_owned(),
            client_ephemeral: *m.client_ephemeral,
            client_kem_key: Some(ek_e),
            stage1: Stage1::new(prk1, &h1, envelope),
            payload,
            config: self.config,
        })
    }
}

/// Step 10 of a type 1: decrypt and unpad.
fn open_type1(
    k1: &AeadKey,
    header: &[u8],
    aead: &wire::AeadPart<'_>,
) -> Result<Zeroizing<Vec<u8>>> {
    let mut inner = Zeroizing::new(aead.ciphertext.to_vec());
    k1.open_in_place(aead.iv, header, &mut inner, aead.tag)?;
    let len = padding::unpadded_len(&inner)?;
    inner.truncate(len);
    Ok(inner)
}

/// A type-1 envelope the server accepted, waiting for the application to choose the session id
/// and expiry. Holds `prk1`, zeroized when it responds or is dropped.
pub struct AcceptedHandshake {
    key_id: String,
    client_ephemeral: [u8; X25519_LEN],
    /// `ek_e`, checked (hybrid suite).
    client_kem_key: Option<MlKemEncapsKey>,
    stage1: Stage1,
    payload: Zeroizing<Vec<u8>>,
    config: ServerConfig,
}

impl fmt::Debug for AcceptedHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptedHandshake")
            .field("key_id", &self.key_id)
            .field("suite", &self.suite())
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

    /// The suite of the key the client used.
    pub fn suite(&self) -> Suite {
        if self.client_kem_key.is_some() {
            Suite::X25519MlKem768
        } else {
            Suite::X25519
        }
    }

    /// The client's type-1 payload (authenticated by the server key only; replayable).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The exact length of the type 130 that [`AcceptedHandshake::respond_into`] writes for a
    /// session id of `session_id_len` bytes and an `app_payload_len`-byte payload (this server's
    /// padding block, this handshake's suite), or `None` if no such envelope exists (see
    /// [`Suite::key_exchange_response_len`]).
    pub fn response_len(&self, session_id_len: usize, app_payload_len: usize) -> Option<usize> {
        self.suite().key_exchange_response_len(
            session_id_len,
            app_payload_len,
            self.config.padding_block,
        )
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
        let len = self.check_respond(session_id, app_payload, usize::MAX)?;
        let mut out = vec![0u8; len];
        let (session, n) =
            self.respond_into(session_id, expires_at_ms, app_payload, rng, &mut out)?;
        out.truncate(n);
        Ok((session, out))
    }

    /// [`AcceptedHandshake::respond`] writing the type-130 envelope into `out`; returns the
    /// session and the envelope's length ([`AcceptedHandshake::response_len`]).
    ///
    /// Errors, in order: [`Error::InvalidArgument`] (bad session id), [`Error::PayloadTooLarge`],
    /// [`Error::BufferTooSmall`] (decided before any randomness is drawn), [`Error::Internal`]
    /// (RNG). The handshake is consumed whatever the outcome, so size `out` with
    /// [`AcceptedHandshake::response_len`] (and check an id from elsewhere with
    /// [`check_session_id`]) first. On error `out` holds no part of an envelope.
    pub fn respond_into<R: rand_core::TryCryptoRng + ?Sized>(
        self,
        session_id: &str,
        expires_at_ms: u64,
        app_payload: &[u8],
        rng: &mut R,
        out: &mut [u8],
    ) -> Result<(ServerSession, usize)> {
        self.check_respond(session_id, app_payload, out.len())?;
        let f = X25519Secret::random(rng)?;
        let kem = match &self.client_kem_key {
            None => None,
            Some(ek_e) => Some(ek_e.encapsulate(rng)?),
        };
        self.build(session_id, expires_at_ms, app_payload, f, kem, out)
    }

    /// [`AcceptedHandshake::respond`] with an explicit ephemeral private key, to rebuild test
    /// vectors of the X25519 suite ([`Error::InvalidArgument`] for another suite). Only with
    /// the `test-vectors` feature; never in release builds.
    #[cfg(feature = "test-vectors")]
    pub fn respond_with_ephemeral_for_test_vectors(
        self,
        session_id: &str,
        expires_at_ms: u64,
        app_payload: &[u8],
        ephemeral_private: [u8; 32],
    ) -> Result<(ServerSession, Vec<u8>)> {
        let len = self.check_respond(session_id, app_payload, usize::MAX)?;
        let mut out = vec![0u8; len];
        let (session, n) = self.respond_into_with_ephemeral_for_test_vectors(
            session_id,
            expires_at_ms,
            app_payload,
            ephemeral_private,
            &mut out,
        )?;
        out.truncate(n);
        Ok((session, out))
    }

    /// [`AcceptedHandshake::respond_into`] with an explicit ephemeral private key (X25519
    /// suite). Only with the `test-vectors` feature; never in release builds.
    #[cfg(feature = "test-vectors")]
    pub fn respond_into_with_ephemeral_for_test_vectors(
        self,
        session_id: &str,
        expires_at_ms: u64,
        app_payload: &[u8],
        ephemeral_private: [u8; 32],
        out: &mut [u8],
    ) -> Result<(ServerSession, usize)> {
        self.check_respond(session_id, app_payload, out.len())?;
        if self.client_kem_key.is_some() {
            return Err(Error::InvalidArgument);
        }
        let f = X25519Secret::from_bytes(ephemeral_private);
        self.build(session_id, expires_at_ms, app_payload, f, None, out)
    }

    /// [`AcceptedHandshake::respond`] for a hybrid handshake with `f` and `m2` fixed
    /// ([`Error::InvalidArgument`] for another suite). Only with the `test-vectors` feature;
    /// never in release builds: a known `m2` reveals `ss2`.
    #[cfg(feature = "test-vectors")]
    pub fn respond_hybrid_with_ephemeral_for_test_vectors(
        self,
        session_id: &str,
        expires_at_ms: u64,
        app_payload: &[u8],
        ephemeral_private: [u8; 32],
        encaps_randomness: [u8; 32],
    ) -> Result<(ServerSession, Vec<u8>)> {
        let len = self.check_respond(session_id, app_payload, usize::MAX)?;
        let ek_e = self.client_kem_key.as_ref().ok_or(Error::InvalidArgument)?;
        let kem = ek_e.encapsulate_deterministic(&encaps_randomness)?;
        let mut out = vec![0u8; len];
        let f = X25519Secret::from_bytes(ephemeral_private);
        let (session, n) = self.build(
            session_id,
            expires_at_ms,
            app_payload,
            f,
            Some(kem),
            &mut out,
        )?;
        out.truncate(n);
        Ok((session, out))
    }

    /// Every check of a response, in the documented order; returns the envelope's length.
    fn check_respond(
        &self,
        session_id: &str,
        app_payload: &[u8],
        capacity: usize,
    ) -> Result<usize> {
        check_session_id(session_id)?;
        self.config.limits.check_payload(app_payload)?;
        let len = self
            .response_len(session_id.len(), app_payload.len())
            .ok_or(Error::PayloadTooLarge)?;
        if capacity < len {
            return Err(Error::BufferTooSmall);
        }
        Ok(len)
    }

    /// Write the type 130 into `out` (already checked to be long enough).
    fn build(
        self,
        session_id: &str,
        expires_at_ms: u64,
        app_payload: &[u8],
        f: X25519Secret,
        kem: Option<MlKemEncapsulation>,
        out: &mut [u8],
    ) -> Result<(ServerSession, usize)> {
        let suite = self.suite();
        let total = self
            .response_len(session_id.len(), app_payload.len())
            .ok_or(Error::PayloadTooLarge)?;
        let AcceptedHandshake {
            client_ephemeral,
            stage1,
            config,
            ..
        } = self;
        let grant = SessionGrant {
            session_id,
            expires_at_ms,
            app_payload,
        };
        let r = (|| -> Result<_> {
            let out = out.get_mut(..total).ok_or(Error::BufferTooSmall)?;
            let ee = f.diffie_hellman(&client_ephemeral)?;
            let (header, rest) = out.split_at_mut(suite.response_header_len());
            let (h2, okm) = match &kem {
                None => {
                    header.copy_from_slice(&wire::key_exchange_response_header(&f.public_key()));
                    drop(f);
                    stage2_keys(stage1, header, ee.as_ref())?
                }
                Some((ct2, ss2)) => {
                    header.copy_from_slice(&wire::hybrid_key_exchange_response_header(
                        ct2,
                        &f.public_key(),
                    ));
                    drop(f);
                    let ikm = HybridIkm::new(ss2, &ee);
                    stage2_keys(stage1, header, ikm.as_bytes())?
                }
            };
            drop((ee, kem));
            let keys = SessionKeys::from_okm(&okm);
            let (iv, rest) = rest.split_at_mut(NONCE_LEN);
            let (inner, tag_out) = rest.split_at_mut(rest.len() - TAG_LEN);
            let plain_len = grant.write(inner)?;
            padding::write_padding(&mut inner[plain_len..]);
            let (nonce, tag) = keys.seal_handshake(&h2, inner)?;
            iv.copy_from_slice(&nonce);
            tag_out.copy_from_slice(&tag);
            Ok((okm, keys, total))
        })();
        let (okm, keys, total) = r.inspect_err(|_| out.zeroize())?;
        let window = ReplayWindow::new(config.replay_window)?;
        let session = ServerSession::new(
            session_id.to_owned(),
            expires_at_ms,
            okm,
            keys,
            window,
            &config,
        )?;
        Ok((session, total))
    }
}

/// Length of the type-1 envelope of the X25519 suite for a key id of `key_id_len` bytes and a
/// `payload_len`-byte payload padded to `block` (any suite: [`Suite::key_exchange_len`]).
///
/// `None` if `key_id_len` is not in 1..=255, `block` not in 1..=4096, or the length overflows
/// (or exceeds `isize::MAX`, the largest buffer there can be).
pub fn key_exchange_len(key_id_len: usize, payload_len: usize, block: usize) -> Option<usize> {
    Suite::X25519.key_exchange_len(key_id_len, payload_len, block)
}

/// Length of the type-130 envelope of the X25519 suite for a session id of `session_id_len`
/// bytes and an `app_payload_len`-byte application payload padded to `block` (any suite:
/// [`Suite::key_exchange_response_len`]).
///
/// `None` if `session_id_len` is not in 1..=64 ([`GENERATED_SESSION_ID_LEN`] for a generated
/// one), `block` not in 1..=4096, or the length overflows (or exceeds `isize::MAX`).
pub fn key_exchange_response_len(
    session_id_len: usize,
    app_payload_len: usize,
    block: usize,
) -> Option<usize> {
    Suite::X25519.key_exchange_response_len(session_id_len, app_payload_len, block)
}

/// The default session id generator: 128 random bits, base64url without padding
/// ([`GENERATED_SESSION_ID_LEN`] = 22 characters).
pub fn generate_session_id<R: rand_core::TryCryptoRng + ?Sized>(rng: &mut R) -> Result<String> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let mut raw = [0u8; SESSION_ID_RANDOM_BYTES];
    fill_random(rng, &mut raw)?;
    Ok(Base64UrlUnpadded::encode_string(&raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_session_ids_have_the_documented_length() {
        for _ in 0..8 {
            let sid = generate_session_id(&mut crate::OsRng).unwrap();
            assert_eq!(sid.len(), GENERATED_SESSION_ID_LEN);
            assert_eq!(check_session_id(&sid), Ok(()));
        }
        assert_eq!(GENERATED_SESSION_ID_LEN, 22);
    }

    #[test]
    fn lengths_refuse_impossible_ids() {
        assert_eq!(key_exchange_len(0, 0, 64), None);
        assert_eq!(key_exchange_len(256, 0, 64), None);
        assert_eq!(key_exchange_len(2, 0, 0), None);
        assert_eq!(key_exchange_len(2, usize::MAX, 1), None);
        assert_eq!(key_exchange_len(2, 0, 64), Some(43 + 12 + 64 + 16));
        assert_eq!(key_exchange_response_len(0, 0, 64), None);
        assert_eq!(key_exchange_response_len(65, 0, 64), None);
        assert_eq!(
            key_exchange_response_len(22, 0, 64),
            Some(36 + 12 + 64 + 16)
        );
    }
}
