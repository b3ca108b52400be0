//! The cryptographic primitives SCv2 uses, behind one small seam.
//!
//! Every protocol operation goes through these functions, and so do the Wycheproof tests
//! (`tests/wycheproof.rs`): what is tested is what runs. Nothing here allocates, except the
//! AWS-LC backend's ML-KEM (`aws-lc-rs` returns its keys and outputs on the heap).
//!
//! - AES-256-GCM with a 12-byte nonce and a 16-byte tag, sealing and opening in place;
//!   one [`AeadKey`] holds one expanded key schedule and is reused for every message of a
//!   session direction (never re-keyed per message).
//! - X25519 (RFC 7748, clamped scalars) that refuses an all-zero result.
//! - HKDF-SHA256 (RFC 5869) extract and expand, and SHA-256.
//! - ML-KEM-768 (FIPS 203) for the hybrid suite: [`MlKemDecapsKey`] (from a 64-byte seed) and
//!   [`MlKemEncapsKey`] (with the encapsulation-key check), in their own files (`mlkem.rs`,
//!   `mlkem/`), with a backend trait of their own.
//!
//! ## Backends
//!
//! An internal `Backend` trait is the seam: AEAD seal/open in place, X25519, HKDF. Exactly one
//! implementation is compiled in, chosen at build time:
//!
//! - default: RustCrypto (`aes-gcm`, `x25519-dalek`, `hkdf`), pure Rust;
//! - cargo feature `aws-lc`: `aws-lc-rs` (AWS-LC, assembly AES-GCM and X25519).
//!
//! Both produce byte-identical envelopes and pass the same vectors. [`BACKEND`] names the one
//! linked. SHA-256 (transcript hashes) always comes from `sha2`.

#![forbid(unsafe_code)]

use core::fmt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

#[cfg(feature = "aws-lc")]
mod awslc;
mod mlkem;
#[cfg(not(feature = "aws-lc"))]
mod rustcrypto;

#[cfg(feature = "aws-lc")]
type Active = awslc::AwsLc;
#[cfg(not(feature = "aws-lc"))]
type Active = rustcrypto::RustCrypto;

pub use mlkem::{
    MlKemDecapsKey, MlKemEncapsKey, MlKemEncapsulation, MLKEM768_CIPHERTEXT_LEN,
    MLKEM768_ENCAPS_KEY_LEN, MLKEM_ENCAPS_RANDOMNESS_LEN, MLKEM_SEED_LEN, MLKEM_SHARED_SECRET_LEN,
};

/// The name of the crypto backend linked into this build: `"rustcrypto"` or `"aws-lc"`.
pub const BACKEND: &str = <Active as Backend>::NAME;

/// Length of an AES-256 key.
pub const KEY_LEN: usize = 32;
/// Length of an AES-GCM nonce (the envelope's IV).
pub const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag.
pub const TAG_LEN: usize = 16;
/// Length of an X25519 public or private key, and of a shared secret.
pub const X25519_LEN: usize = 32;

/// What a crypto backend provides. Implementations must zeroize their secret state on drop.
pub(crate) trait Backend {
    /// A short name for diagnostics and the C ABI.
    const NAME: &'static str;
    /// An expanded AES-256-GCM key.
    type AeadKey: Send + Sync;
    /// An X25519 private key.
    type X25519Secret: Send + Sync;

    fn aead_new(key: &[u8; KEY_LEN]) -> Self::AeadKey;
    /// Encrypt `buf` in place; return the tag.
    fn aead_seal(
        key: &Self::AeadKey,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]>;
    /// Verify the tag and decrypt in place; on failure `buf` must hold no decrypted data.
    fn aead_open(
        key: &Self::AeadKey,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()>;

    fn x25519_from_bytes(bytes: &[u8; X25519_LEN]) -> Self::X25519Secret;
    fn x25519_to_bytes(secret: &Self::X25519Secret) -> Zeroizing<[u8; X25519_LEN]>;
    fn x25519_public(secret: &Self::X25519Secret) -> [u8; X25519_LEN];
    /// The raw X25519 output (the all-zero check is done by the caller). An implementation that
    /// refuses low-order inputs itself returns [`Error::InvalidPublicKey`].
    fn x25519(
        secret: &Self::X25519Secret,
        peer: &[u8; X25519_LEN],
    ) -> Result<Zeroizing<[u8; X25519_LEN]>>;

    fn hkdf_extract(salt: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]>;
    /// Fails when `okm` is longer than 255 × 32 bytes or `prk` shorter than 32 bytes.
    fn hkdf_expand(prk: &[u8], info: &[&[u8]], okm: &mut [u8]) -> Result<()>;
}

/// An expanded AES-256-GCM key. Zeroized on drop; `Debug` prints `[redacted]`.
pub struct AeadKey(<Active as Backend>::AeadKey);

impl AeadKey {
    /// Expand a 32-byte key.
    pub fn new(key: &[u8; KEY_LEN]) -> AeadKey {
        AeadKey(Active::aead_new(key))
    }

    /// Encrypt `buf` in place and return the tag.
    pub fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        Active::aead_seal(&self.0, nonce, aad, buf)
    }

    /// Verify `tag` over `buf` (in constant time, before releasing anything) and decrypt in place.
    ///
    /// On failure the error is always [`Error::DecryptionFailed`] and `buf` holds no decrypted
    /// data: the RustCrypto backend leaves the ciphertext, the AWS-LC backend wipes it to zeros.
    pub fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        Active::aead_open(&self.0, nonce, aad, buf, tag).map_err(|_| Error::DecryptionFailed)
    }
}

impl fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AeadKey([redacted])")
    }
}

/// An X25519 private key (clamped when used). Zeroized on drop; `Debug` prints `[redacted]`.
pub struct X25519Secret(<Active as Backend>::X25519Secret);

impl X25519Secret {
    /// Wrap 32 private-key bytes (the caller keeps, and should zeroize, its own copy).
    pub fn from_bytes(bytes: [u8; X25519_LEN]) -> X25519Secret {
        let bytes = Zeroizing::new(bytes);
        X25519Secret(Active::x25519_from_bytes(&bytes))
    }

    /// Draw a fresh private key from `rng`.
    pub fn random<R: rand_core::TryCryptoRng + ?Sized>(rng: &mut R) -> Result<X25519Secret> {
        let mut bytes = Zeroizing::new([0u8; X25519_LEN]);
        fill_random(rng, bytes.as_mut())?;
        Ok(X25519Secret(Active::x25519_from_bytes(&bytes)))
    }

    /// The private key bytes (for sealed storage).
    pub fn to_bytes(&self) -> Zeroizing<[u8; X25519_LEN]> {
        Active::x25519_to_bytes(&self.0)
    }

    /// The matching public key.
    pub fn public_key(&self) -> [u8; X25519_LEN] {
        Active::x25519_public(&self.0)
    }

    /// X25519(self, peer). An all-zero result (a low-order or otherwise non-contributory peer key)
    /// is refused with [`Error::InvalidPublicKey`], checked in constant time.
    pub fn diffie_hellman(&self, peer: &[u8; X25519_LEN]) -> Result<Zeroizing<[u8; X25519_LEN]>> {
        let out = Active::x25519(&self.0, peer)?;
        if bool::from(out.ct_eq(&[0u8; X25519_LEN])) {
            return Err(Error::InvalidPublicKey);
        }
        Ok(out)
    }
}

impl fmt::Debug for X25519Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("X25519Secret([redacted])")
    }
}

/// HKDF-Extract(salt, ikm) with SHA-256: the 32-byte PRK.
pub fn hkdf_extract(salt: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]> {
    Active::hkdf_extract(salt, ikm)
}

/// HKDF-Expand(prk, info_1 || info_2 || ..., len(okm)) with SHA-256.
///
/// Fails with [`Error::InvalidArgument`] when `okm` is longer than 255 × 32 bytes or `prk` is
/// shorter than 32 bytes.
pub fn hkdf_expand(prk: &[u8], info: &[&[u8]], okm: &mut [u8]) -> Result<()> {
    Active::hkdf_expand(prk, info, okm).map_err(|_| Error::InvalidArgument)
}

/// SHA-256 over the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// An incremental SHA-256 (for transcript hashes).
#[derive(Clone, Default)]
pub(crate) struct Transcript(Sha256);

impl Transcript {
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    pub(crate) fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// Fill `buf` from a caller's RNG; an RNG failure is [`Error::Internal`].
pub(crate) fn fill_random<R: rand_core::TryCryptoRng + ?Sized>(
    rng: &mut R,
    buf: &mut [u8],
) -> Result<()> {
    rng.try_fill_bytes(buf).map_err(|_| Error::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7748_x25519_vector() {
        // RFC 7748 section 6.1 (Alice/Bob).
        let a = hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let b_pub = hex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let shared = X25519Secret::from_bytes(a).diffie_hellman(&b_pub).unwrap();
        assert_eq!(
            *shared,
            hex32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        );
        assert_eq!(
            X25519Secret::from_bytes(a).public_key(),
            hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
    }

    #[test]
    fn backend_is_the_one_selected_at_build_time() {
        let expected = if cfg!(feature = "aws-lc") {
            "aws-lc"
        } else {
            "rustcrypto"
        };
        assert_eq!(BACKEND, expected);
    }

    #[test]
    fn zero_point_refused() {
        let s = X25519Secret::from_bytes([7u8; 32]);
        assert_eq!(s.diffie_hellman(&[0u8; 32]), Err(Error::InvalidPublicKey));
    }

    #[test]
    fn debug_is_redacted() {
        let s = X25519Secret::from_bytes([7u8; 32]);
        assert_eq!(format!("{s:?}"), "X25519Secret([redacted])");
        let k = AeadKey::new(&[9u8; 32]);
        assert_eq!(format!("{k:?}"), "AeadKey([redacted])");
    }

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }
}
