//! The default backend: RustCrypto's `aes-gcm`, `x25519-dalek` and `hkdf`, in pure Rust.

#![forbid(unsafe_code)]

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::Aes256Enc;
use aes_gcm::{AesGcm, Key, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

use super::{Backend, KEY_LEN, NONCE_LEN, TAG_LEN, X25519_LEN};
use crate::error::{Error, Result};

/// RustCrypto.
pub(crate) struct RustCrypto;

/// AES-256-GCM over the encryption-only key schedule: GCM never runs the block cipher backwards,
/// so the decryption round keys (240 bytes per key with `Aes256`) are not needed. 384 bytes
/// instead of 624 per direction.
pub(crate) type Aes256Gcm = AesGcm<Aes256Enc, U12>;

impl Backend for RustCrypto {
    const NAME: &'static str = "rustcrypto";
    // Zeroized on drop through the `zeroize` feature of `aes-gcm` / `x25519-dalek`.
    type AeadKey = Aes256Gcm;
    type X25519Secret = StaticSecret;

    fn aead_new(key: &[u8; KEY_LEN]) -> Aes256Gcm {
        Aes256Gcm::new(<&Key<Aes256Gcm>>::from(key))
    }

    fn aead_seal(
        key: &Aes256Gcm,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let tag = key
            .encrypt_inout_detached(<&Nonce<_>>::from(nonce), aad, buf.into())
            .map_err(|_| Error::Internal)?;
        Ok(tag.into())
    }

    fn aead_open(
        key: &Aes256Gcm,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        key.decrypt_inout_detached(<&Nonce<_>>::from(nonce), aad, buf.into(), <&Tag>::from(tag))
            .map_err(|_| Error::DecryptionFailed)
    }

    fn x25519_from_bytes(bytes: &[u8; X25519_LEN]) -> StaticSecret {
        StaticSecret::from(*bytes)
    }

    fn x25519_to_bytes(secret: &StaticSecret) -> Zeroizing<[u8; X25519_LEN]> {
        Zeroizing::new(secret.to_bytes())
    }

    fn x25519_public(secret: &StaticSecret) -> [u8; X25519_LEN] {
        PublicKey::from(secret).to_bytes()
    }

    fn x25519(
        secret: &StaticSecret,
        peer: &[u8; X25519_LEN],
    ) -> Result<Zeroizing<[u8; X25519_LEN]>> {
        let shared = secret.diffie_hellman(&PublicKey::from(*peer));
        Ok(Zeroizing::new(*shared.as_bytes()))
    }

    fn hkdf_extract(salt: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]> {
        let (mut prk, _) = Hkdf::<Sha256>::extract(Some(salt), ikm);
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&prk);
        prk.zeroize();
        out
    }

    fn hkdf_expand(prk: &[u8], info: &[&[u8]], okm: &mut [u8]) -> Result<()> {
        let hk = Hkdf::<Sha256>::from_prk(prk).map_err(|_| Error::InvalidArgument)?;
        hk.expand_multi_info(info, okm)
            .map_err(|_| Error::InvalidArgument)
    }
}
