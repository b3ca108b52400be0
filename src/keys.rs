//! Server keys of either suite, their public forms (the X25519 SubjectPublicKeyInfo in base64;
//! base64 of `ek_s || S` for the hybrid suite, SPEC.md section 15.3), and client pins, which
//! carry their suite.

#![forbid(unsafe_code)]

use base64ct::{Base64, Encoding};
use core::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::primitives::{
    MlKemDecapsKey, MlKemEncapsKey, X25519Secret, MLKEM768_ENCAPS_KEY_LEN, MLKEM_SEED_LEN,
    X25519_LEN,
};
use crate::suite::Suite;
pub use crate::suite::LABEL;
use crate::wire::is_valid_id;
pub use crate::wire::MAX_KEY_ID_LEN;

/// The name of the X25519 suite (`Suite::X25519.name()`), kept for existing callers.
pub const SUITE: &str = Suite::X25519.name();
/// The DER prefix of an X25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow.
pub const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00,
];

/// Check a key id: 1–255 bytes of printable ASCII (0x21–0x7E).
pub fn check_key_id(key_id: &str) -> Result<()> {
    if is_valid_id(key_id.as_bytes(), MAX_KEY_ID_LEN) {
        Ok(())
    } else {
        Err(Error::InvalidArgument)
    }
}

/// The 44-byte SubjectPublicKeyInfo DER of an X25519 public key.
pub fn spki_der(public: &[u8; X25519_LEN]) -> [u8; 44] {
    let mut out = [0u8; 44];
    out[..12].copy_from_slice(&SPKI_PREFIX);
    out[12..].copy_from_slice(public);
    out
}

/// Standard base64 (with padding) of the SPKI DER: the document's `publicKey` field.
pub fn spki_base64(public: &[u8; X25519_LEN]) -> String {
    Base64::encode_string(&spki_der(public))
}

/// Parse the document's `publicKey` field back into the raw 32-byte key.
///
/// Anything but canonical base64 of exactly the 44-byte X25519 SPKI is
/// [`Error::InvalidPublicKey`].
pub fn parse_spki_base64(b64: &str) -> Result<[u8; X25519_LEN]> {
    let mut der = [0u8; 44];
    let decoded = Base64::decode(b64.as_bytes(), &mut der).map_err(|_| Error::InvalidPublicKey)?;
    if decoded.len() != 44 || decoded[..12] != SPKI_PREFIX {
        return Err(Error::InvalidPublicKey);
    }
    let mut out = [0u8; X25519_LEN];
    out.copy_from_slice(&der[12..]);
    Ok(out)
}

/// Parse a document's `publicKey` of `suite` into the raw public key
/// ([`Suite::public_key_len`] bytes).
///
/// X25519 suite: [`parse_spki_base64`]. Hybrid suite: canonical standard base64 (padding
/// present, no whitespace, zero unused bits) of exactly 1216 bytes whose first 1184 pass FIPS
/// 203's encapsulation-key check. Anything else is [`Error::InvalidPublicKey`].
pub fn parse_public_key_base64(suite: Suite, b64: &str) -> Result<Vec<u8>> {
    match suite {
        Suite::X25519 => parse_spki_base64(b64).map(|k| k.to_vec()),
        Suite::X25519MlKem768 => {
            let mut raw = vec![0u8; Suite::X25519MlKem768.public_key_len() + 3];
            let n = Base64::decode(b64.as_bytes(), &mut raw)
                .map_err(|_| Error::InvalidPublicKey)?
                .len();
            raw.truncate(n);
            // base64ct decodes only canonical text; re-encoding is a second, cheap guard.
            if raw.len() != Suite::X25519MlKem768.public_key_len()
                || Base64::encode_string(&raw) != b64
            {
                return Err(Error::InvalidPublicKey);
            }
            check_hybrid_public(&raw)?;
            Ok(raw)
        }
    }
}

/// The document's `publicKey` for a raw public key of `suite` (SPKI base64 for X25519, standard
/// base64 of `ek_s || S` for the hybrid suite). A raw key of the wrong length gives `None`.
pub fn public_key_base64(suite: Suite, public: &[u8]) -> Option<String> {
    if public.len() != suite.public_key_len() {
        return None;
    }
    match suite {
        Suite::X25519 => public.try_into().ok().map(spki_base64),
        Suite::X25519MlKem768 => Some(Base64::encode_string(public)),
    }
}

/// Split a 1216-byte hybrid public key into its checked `ek_s` and `S`.
fn check_hybrid_public(public: &[u8]) -> Result<(MlKemEncapsKey, [u8; X25519_LEN])> {
    let (ek, s) = public
        .split_first_chunk::<MLKEM768_ENCAPS_KEY_LEN>()
        .ok_or(Error::InvalidPublicKey)?;
    let s: [u8; X25519_LEN] = s.try_into().map_err(|_| Error::InvalidPublicKey)?;
    Ok((MlKemEncapsKey::from_bytes(ek)?, s))
}

/// The ML-KEM-768 half of a hybrid server key.
struct ServerKem {
    dk: MlKemDecapsKey,
}

/// A server's static key: key id, suite, key pairs, validity. The private half is zeroized on
/// drop and never printed.
///
/// ```
/// use scv2::{ServerKey, Suite};
/// # fn main() -> Result<(), scv2::Error> {
/// let key = ServerKey::generate_with_suite(Suite::X25519MlKem768, "k-2026-pq", 0, None, &mut scv2::OsRng)?;
/// assert_eq!(key.suite(), Suite::X25519MlKem768);
/// assert_eq!(key.public_key_bytes().len(), 1216);
/// let doc = key.document();
/// assert_eq!(doc.algorithm, "X25519MLKEM768-HKDF-SHA256-AES-256-GCM");
/// assert_eq!(doc.public_key.len(), 1624);
/// let again = ServerKey::from_private_key(Suite::X25519MlKem768, "k-2026-pq", &key.private_key(), 0, None)?;
/// assert_eq!(again.public_key_bytes(), key.public_key_bytes());
/// # Ok(())
/// # }
/// ```
pub struct ServerKey {
    key_id: String,
    suite: Suite,
    secret: X25519Secret,
    /// `S`.
    x25519_public: [u8; X25519_LEN],
    /// The suite's raw public key: `S`, or `ek_s || S`.
    public: Vec<u8>,
    kem: Option<ServerKem>,
    created_at_ms: u64,
    expires_at_ms: Option<u64>,
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let public = public_key_base64(self.suite, &self.public).unwrap_or_default();
        f.debug_struct("ServerKey")
            .field("key_id", &self.key_id)
            .field("suite", &self.suite)
            .field("public", &public)
            .field("secret", &"[redacted]")
            .field("created_at_ms", &self.created_at_ms)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

impl ServerKey {
    /// Generate a new key of the X25519 suite (see [`ServerKey::generate_with_suite`]).
    pub fn generate<R: rand_core::TryCryptoRng + ?Sized>(
        key_id: &str,
        created_at_ms: u64,
        expires_at_ms: Option<u64>,
        rng: &mut R,
    ) -> Result<ServerKey> {
        Self::generate_with_suite(Suite::X25519, key_id, created_at_ms, expires_at_ms, rng)
    }

    /// Generate a new key of `suite`: an X25519 pair, and for the hybrid suite an ML-KEM-768
    /// pair from a fresh 64-byte seed. Errors: [`Error::InvalidArgument`] (bad key id),
    /// [`Error::Internal`] (RNG failure).
    pub fn generate_with_suite<R: rand_core::TryCryptoRng + ?Sized>(
        suite: Suite,
        key_id: &str,
        created_at_ms: u64,
        expires_at_ms: Option<u64>,
        rng: &mut R,
    ) -> Result<ServerKey> {
        check_key_id(key_id)?;
        let secret = X25519Secret::random(rng)?;
        let kem = match suite {
            Suite::X25519 => None,
            Suite::X25519MlKem768 => Some(MlKemDecapsKey::generate(rng)?),
        };
        Ok(Self::from_parts(
            key_id,
            secret,
            kem,
            created_at_ms,
            expires_at_ms,
        ))
    }

    /// Load a key of the X25519 suite from its 32 private bytes (for example from a key file).
    pub fn from_private_bytes(
        key_id: &str,
        private: &[u8; X25519_LEN],
        created_at_ms: u64,
        expires_at_ms: Option<u64>,
    ) -> Result<ServerKey> {
        Self::from_private_key(Suite::X25519, key_id, private, created_at_ms, expires_at_ms)
    }

    /// Load a key of `suite` from its private form ([`Suite::private_key_len`] bytes: `s`, or
    /// `s || d_s || z_s` for the hybrid suite; every string of that length is a valid key).
    /// Errors: [`Error::InvalidArgument`] (bad key id, or a private key of another length).
    pub fn from_private_key(
        suite: Suite,
        key_id: &str,
        private: &[u8],
        created_at_ms: u64,
        expires_at_ms: Option<u64>,
    ) -> Result<ServerKey> {
        check_key_id(key_id)?;
        if private.len() != suite.private_key_len() {
            return Err(Error::InvalidArgument);
        }
        let (s, seed) = private
            .split_first_chunk::<X25519_LEN>()
            .ok_or(Error::InvalidArgument)?;
        let secret = X25519Secret::from_bytes(*s);
        let kem = match suite {
            Suite::X25519 => None,
            Suite::X25519MlKem768 => {
                let seed: [u8; MLKEM_SEED_LEN] =
                    seed.try_into().map_err(|_| Error::InvalidArgument)?;
                let seed = Zeroizing::new(seed);
                Some(MlKemDecapsKey::from_seed(*seed))
            }
        };
        Ok(Self::from_parts(
            key_id,
            secret,
            kem,
            created_at_ms,
            expires_at_ms,
        ))
    }

    fn from_parts(
        key_id: &str,
        secret: X25519Secret,
        kem: Option<MlKemDecapsKey>,
        created_at_ms: u64,
        expires_at_ms: Option<u64>,
    ) -> ServerKey {
        let x25519_public = secret.public_key();
        let (suite, public) = match &kem {
            None => (Suite::X25519, x25519_public.to_vec()),
            Some(dk) => {
                let mut p = dk.encaps_key_bytes().to_vec();
                p.extend_from_slice(&x25519_public);
                (Suite::X25519MlKem768, p)
            }
        };
        ServerKey {
            key_id: key_id.to_owned(),
            suite,
            secret,
            x25519_public,
            public,
            kem: kem.map(|dk| ServerKem { dk }),
            created_at_ms,
            expires_at_ms,
        }
    }

    /// The key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
    /// The key's suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }
    /// The raw X25519 public key `S` (for the hybrid suite: its X25519 half; the whole public
    /// key is [`ServerKey::public_key_bytes`]).
    pub fn public_key(&self) -> &[u8; X25519_LEN] {
        &self.x25519_public
    }
    /// The suite's raw public key: `S` (32 bytes), or `ek_s || S` (1216 bytes).
    pub fn public_key_bytes(&self) -> &[u8] {
        &self.public
    }
    /// The X25519 private key bytes `s` (for the hybrid suite only its X25519 half: store
    /// [`ServerKey::private_key`] instead).
    pub fn private_bytes(&self) -> Zeroizing<[u8; X25519_LEN]> {
        self.secret.to_bytes()
    }
    /// The suite's private key form, for sealed storage: `s` (32 bytes), or `s || d_s || z_s`
    /// (96 bytes). Load it back with [`ServerKey::from_private_key`].
    pub fn private_key(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.suite.private_key_len()));
        out.extend_from_slice(self.secret.to_bytes().as_ref());
        if let Some(kem) = &self.kem {
            // Server keys are made from seeds, so the seed is always there.
            if let Some(seed) = kem.dk.to_seed() {
                out.extend_from_slice(seed.as_ref());
            }
        }
        out
    }
    /// Creation time, ms since the Unix epoch.
    pub fn created_at_ms(&self) -> u64 {
        self.created_at_ms
    }
    /// Expiry, ms since the Unix epoch (`None`: never).
    pub fn expires_at_ms(&self) -> Option<u64> {
        self.expires_at_ms
    }
    /// Whether the key is expired at `now_ms` (`now_ms >= expiresAt`).
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|e| now_ms >= e)
    }
    /// The public-key document's fields.
    pub fn document(&self) -> PublicKeyDocument {
        PublicKeyDocument {
            key_id: self.key_id.clone(),
            public_key: public_key_base64(self.suite, &self.public).unwrap_or_default(),
            algorithm: self.suite.name(),
            suite: self.suite,
            key_size_bits: self.suite.key_size_bits(),
            created_at_ms: self.created_at_ms,
            expires_at_ms: self.expires_at_ms,
        }
    }

    pub(crate) fn secret(&self) -> &X25519Secret {
        &self.secret
    }

    /// The ML-KEM decapsulation key `dk_s` (hybrid suite only).
    pub(crate) fn mlkem(&self) -> Option<&MlKemDecapsKey> {
        self.kem.as_ref().map(|k| &k.dk)
    }
}

/// The fields of the public-key document (`GET /web/v1/secure-channel/public-key`).
///
/// JSON encoding stays with the caller (the core has no JSON dependency). The document is
/// unauthenticated: clients check it against their pins with [`crate::ClientConfig::trust`] and
/// never take the suite from `algorithm`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKeyDocument {
    /// `keyId`.
    pub key_id: String,
    /// `publicKey`: standard base64 of the X25519 SPKI DER, or of `ek_s || S` (hybrid suite).
    pub public_key: String,
    /// `algorithm`: the suite's name ([`Suite::name`]).
    pub algorithm: &'static str,
    /// The key's suite (what `algorithm` names).
    pub suite: Suite,
    /// `keySize`: bits of the raw public key (256, or 9728), informational.
    pub key_size_bits: u32,
    /// `createdAt`, ms since the Unix epoch.
    pub created_at_ms: u64,
    /// `expiresAt`, ms since the Unix epoch, or `None` (JSON `null`).
    pub expires_at_ms: Option<u64>,
}

/// A server key a client trusts: key id, suite and raw public key. The suite is the pin's,
/// never a document's.
#[derive(Clone)]
pub struct PinnedKey {
    key_id: String,
    suite: Suite,
    /// `S`.
    x25519_public: [u8; X25519_LEN],
    /// The suite's raw public key: `S`, or `ek_s || S`.
    public: Vec<u8>,
    /// `ek_s`, checked when the pin was made (hybrid suite).
    kem: Option<MlKemEncapsKey>,
}

impl fmt::Debug for PinnedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedKey")
            .field("key_id", &self.key_id)
            .field("suite", &self.suite)
            .field(
                "public",
                &public_key_base64(self.suite, &self.public).unwrap_or_default(),
            )
            .finish()
    }
}

impl PartialEq for PinnedKey {
    fn eq(&self, other: &PinnedKey) -> bool {
        self.key_id == other.key_id && self.suite == other.suite && self.public == other.public
    }
}
impl Eq for PinnedKey {}

impl PinnedKey {
    /// A pin of the X25519 suite from a key id and a raw 32-byte public key.
    pub fn new(key_id: &str, public: [u8; X25519_LEN]) -> Result<PinnedKey> {
        Self::with_suite(key_id, Suite::X25519, &public)
    }

    /// A pin of `suite` from a key id and the raw public key ([`Suite::public_key_len`] bytes:
    /// `S`, or `ek_s || S` whose `ek_s` must pass FIPS 203's encapsulation-key check).
    /// Errors: [`Error::InvalidArgument`] (bad key id), [`Error::InvalidPublicKey`].
    pub fn with_suite(key_id: &str, suite: Suite, public: &[u8]) -> Result<PinnedKey> {
        check_key_id(key_id)?;
        if public.len() != suite.public_key_len() {
            return Err(Error::InvalidPublicKey);
        }
        let (x25519_public, kem) = match suite {
            Suite::X25519 => (
                public.try_into().map_err(|_| Error::InvalidPublicKey)?,
                None,
            ),
            Suite::X25519MlKem768 => {
                let (ek, s) = check_hybrid_public(public)?;
                (s, Some(ek))
            }
        };
        Ok(PinnedKey {
            key_id: key_id.to_owned(),
            suite,
            x25519_public,
            public: public.to_vec(),
            kem,
        })
    }

    /// A pin of the X25519 suite from a key id and the document's `publicKey` (base64 SPKI).
    pub fn from_spki_base64(key_id: &str, public_key: &str) -> Result<PinnedKey> {
        let public = parse_spki_base64(public_key)?;
        PinnedKey::new(key_id, public)
    }

    /// A pin of `suite` from the document form: `keyId` and `publicKey` (see
    /// [`parse_public_key_base64`]). The suite is the caller's choice (its configuration),
    /// never the document's `algorithm`.
    pub fn from_public_key_base64(
        key_id: &str,
        suite: Suite,
        public_key: &str,
    ) -> Result<PinnedKey> {
        let public = parse_public_key_base64(suite, public_key)?;
        PinnedKey::with_suite(key_id, suite, &public)
    }

    /// A pin from a document's three fields `(keyId, algorithm, publicKey)`, as an application
    /// configured them (for example a pin list shipped with the app). `algorithm` must name a
    /// suite exactly ([`Suite::from_name`]), else [`Error::InvalidArgument`]. Do not feed it a
    /// document fetched from the server: that would take the suite from the document.
    pub fn from_document(key_id: &str, algorithm: &str, public_key: &str) -> Result<PinnedKey> {
        let suite = Suite::from_name(algorithm).ok_or(Error::InvalidArgument)?;
        PinnedKey::from_public_key_base64(key_id, suite, public_key)
    }

    /// The key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
    /// The pin's suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }
    /// The raw X25519 public key `S` (for the hybrid suite its X25519 half; the whole key is
    /// [`PinnedKey::public_key_bytes`]).
    pub fn public_key(&self) -> &[u8; X25519_LEN] {
        &self.x25519_public
    }
    /// The suite's raw public key: `S` (32 bytes), or `ek_s || S` (1216 bytes).
    pub fn public_key_bytes(&self) -> &[u8] {
        &self.public
    }
    /// The document's `publicKey` form: base64 SPKI (X25519 suite), or base64 of `ek_s || S`.
    pub fn spki_base64(&self) -> String {
        public_key_base64(self.suite, &self.public).unwrap_or_default()
    }

    /// The checked `ek_s` (hybrid suite).
    pub(crate) fn mlkem(&self) -> Option<&MlKemEncapsKey> {
        self.kem.as_ref()
    }

    pub(crate) fn same_key(&self, public: &[u8]) -> bool {
        self.public.len() == public.len() && bool::from(self.public.as_slice().ct_eq(public))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spki_round_trip() {
        let k = [0x42u8; 32];
        let b = spki_base64(&k);
        assert!(b.starts_with("MCowBQYDK2VuAyEA"));
        assert_eq!(parse_spki_base64(&b), Ok(k));
        assert_eq!(
            parse_spki_base64("MCowBQYDK2VuAyEA"),
            Err(Error::InvalidPublicKey)
        );
        assert_eq!(
            parse_spki_base64("not base64!"),
            Err(Error::InvalidPublicKey)
        );
        // An Ed25519 SPKI (OID 1.3.101.112) is refused.
        let mut der = spki_der(&k);
        der[8] = 0x70;
        assert_eq!(
            parse_spki_base64(&Base64::encode_string(&der)),
            Err(Error::InvalidPublicKey)
        );
    }

    #[test]
    fn key_ids() {
        assert!(check_key_id("k-2026.11").is_ok());
        assert!(check_key_id("").is_err());
        assert!(check_key_id("a b").is_err());
        assert!(check_key_id(&"x".repeat(255)).is_ok());
        assert!(check_key_id(&"x".repeat(256)).is_err());
        assert!(check_key_id("ключ").is_err());
    }

    #[test]
    fn debug_hides_the_private_key() {
        let k = ServerKey::from_private_bytes("k1", &[7u8; 32], 0, None).unwrap();
        let d = format!("{k:?}");
        assert!(d.contains("[redacted]"));
        assert!(!d.contains("7, 7"));
    }

    #[test]
    fn hybrid_keys_round_trip_and_pin() {
        let key = ServerKey::from_private_key(Suite::X25519MlKem768, "k-pq", &[3u8; 96], 5, None)
            .unwrap();
        assert_eq!(key.suite(), Suite::X25519MlKem768);
        assert_eq!(&key.private_key()[..], &[3u8; 96][..]);
        assert_eq!(key.public_key_bytes().len(), 1216);
        assert_eq!(&key.public_key_bytes()[1184..], key.public_key());
        let doc = key.document();
        assert_eq!(doc.key_size_bits, 9728);
        assert_eq!(doc.public_key.len(), 1624);
        let pin = PinnedKey::from_document("k-pq", doc.algorithm, &doc.public_key).unwrap();
        assert_eq!(pin.suite(), Suite::X25519MlKem768);
        assert_eq!(pin.public_key_bytes(), key.public_key_bytes());
        assert_eq!(pin.spki_base64(), doc.public_key);
        // The suite comes from the caller: the X25519 parser refuses the hybrid text.
        assert_eq!(
            PinnedKey::from_public_key_base64("k-pq", Suite::X25519, &doc.public_key),
            Err(Error::InvalidPublicKey)
        );
        assert_eq!(
            PinnedKey::from_document("k-pq", "X25519MLKEM768", &doc.public_key),
            Err(Error::InvalidArgument)
        );
        // Wrong lengths, bad base64, non-canonical base64, a failing ek_s.
        assert_eq!(
            ServerKey::from_private_key(Suite::X25519MlKem768, "k", &[0u8; 32], 0, None)
                .map(|_| ()),
            Err(Error::InvalidArgument)
        );
        let short = Base64::encode_string(&key.public_key_bytes()[..1215]);
        assert_eq!(
            parse_public_key_base64(Suite::X25519MlKem768, &short),
            Err(Error::InvalidPublicKey)
        );
        let mut text = doc.public_key.clone();
        text.push('\n');
        assert_eq!(
            parse_public_key_base64(Suite::X25519MlKem768, &text),
            Err(Error::InvalidPublicKey)
        );
        // 1216 = 3 * 405 + 1: the text ends in "xx==", whose second character has 4 unused bits.
        let mut nc = doc.public_key.clone().into_bytes();
        let i = nc.len() - 3;
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let pos = alphabet.iter().position(|&c| c == nc[i]).unwrap();
        nc[i] = alphabet[pos ^ 1];
        assert_eq!(
            parse_public_key_base64(Suite::X25519MlKem768, core::str::from_utf8(&nc).unwrap()),
            Err(Error::InvalidPublicKey)
        );
        let mut bad = key.public_key_bytes().to_vec();
        bad[0] = 0xff;
        bad[1] |= 0x0f;
        assert_eq!(
            PinnedKey::with_suite("k-pq", Suite::X25519MlKem768, &bad),
            Err(Error::InvalidPublicKey)
        );
        assert_eq!(
            PinnedKey::with_suite("k-pq", Suite::X25519MlKem768, &bad[..32]),
            Err(Error::InvalidPublicKey)
        );
        let d = format!("{key:?}");
        assert!(d.contains("[redacted]") && !d.contains("3, 3"));
    }
}
