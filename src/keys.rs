//! Server keys, their public form (X25519 SubjectPublicKeyInfo in base64), and client pins.

#![forbid(unsafe_code)]

use base64ct::{Base64, Encoding};
use core::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::primitives::{X25519Secret, X25519_LEN};
use crate::wire::is_valid_id;
pub use crate::wire::MAX_KEY_ID_LEN;

/// The name of the only suite this crate implements.
pub const SUITE: &str = "X25519-HKDF-SHA256-AES-256-GCM";
/// `LABEL`: the 35 ASCII bytes that start `h1`.
pub const LABEL: &[u8; 35] = b"SCv2 X25519-HKDF-SHA256-AES-256-GCM";
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

/// A server's static key: key id, X25519 pair, validity. The private half is zeroized on drop
/// and never printed.
pub struct ServerKey {
    key_id: String,
    secret: X25519Secret,
    public: [u8; X25519_LEN],
    created_at_ms: u64,
    expires_at_ms: Option<u64>,
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKey")
            .field("key_id", &self.key_id)
            .field("public", &spki_base64(&self.public))
            .field("secret", &"[redacted]")
            .field("created_at_ms", &self.created_at_ms)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

impl ServerKey {
    /// Generate a new key.
    pub fn generate<R: rand_core::TryCryptoRng + ?Sized>(
        key_id: &str,
        created_at_ms: u64,
        expires_at_ms: Option<u64>,
        rng: &mut R,
    ) -> Result<ServerKey> {
        check_key_id(key_id)?;
        let secret = X25519Secret::random(rng)?;
        Ok(Self::from_secret(
            key_id,
            secret,
            created_at_ms,
            expires_at_ms,
        ))
    }

    /// Load a key from its 32 private bytes (for example from a key file).
    pub fn from_private_bytes(
        key_id: &str,
        private: &[u8; X25519_LEN],
        created_at_ms: u64,
        expires_at_ms: Option<u64>,
    ) -> Result<ServerKey> {
        check_key_id(key_id)?;
        let secret = X25519Secret::from_bytes(*private);
        Ok(Self::from_secret(
            key_id,
            secret,
            created_at_ms,
            expires_at_ms,
        ))
    }

    fn from_secret(
        key_id: &str,
        secret: X25519Secret,
        created_at_ms: u64,
        expires_at_ms: Option<u64>,
    ) -> ServerKey {
        ServerKey {
            key_id: key_id.to_owned(),
            public: secret.public_key(),
            secret,
            created_at_ms,
            expires_at_ms,
        }
    }

    /// The key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
    /// The raw X25519 public key.
    pub fn public_key(&self) -> &[u8; X25519_LEN] {
        &self.public
    }
    /// The private key bytes, for sealed storage.
    pub fn private_bytes(&self) -> Zeroizing<[u8; X25519_LEN]> {
        self.secret.to_bytes()
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
            public_key: spki_base64(&self.public),
            algorithm: SUITE,
            created_at_ms: self.created_at_ms,
            expires_at_ms: self.expires_at_ms,
        }
    }

    pub(crate) fn secret(&self) -> &X25519Secret {
        &self.secret
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
    /// `publicKey`: standard base64 of the X25519 SPKI DER.
    pub public_key: String,
    /// `algorithm`: always [`SUITE`].
    pub algorithm: &'static str,
    /// `createdAt`, ms since the Unix epoch.
    pub created_at_ms: u64,
    /// `expiresAt`, ms since the Unix epoch, or `None` (JSON `null`).
    pub expires_at_ms: Option<u64>,
}

/// A server key a client trusts: key id and raw public key. The suite is the key's, by pin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinnedKey {
    key_id: String,
    public: [u8; X25519_LEN],
}

impl PinnedKey {
    /// A pin from a key id and a raw 32-byte public key.
    pub fn new(key_id: &str, public: [u8; X25519_LEN]) -> Result<PinnedKey> {
        check_key_id(key_id)?;
        Ok(PinnedKey {
            key_id: key_id.to_owned(),
            public,
        })
    }

    /// A pin from a key id and the document's `publicKey` (base64 SPKI).
    pub fn from_spki_base64(key_id: &str, public_key: &str) -> Result<PinnedKey> {
        let public = parse_spki_base64(public_key)?;
        PinnedKey::new(key_id, public)
    }

    /// The key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
    /// The raw X25519 public key.
    pub fn public_key(&self) -> &[u8; X25519_LEN] {
        &self.public
    }
    /// The base64 SPKI form.
    pub fn spki_base64(&self) -> String {
        spki_base64(&self.public)
    }

    pub(crate) fn same_key(&self, public: &[u8; X25519_LEN]) -> bool {
        bool::from(self.public.ct_eq(public))
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
}
