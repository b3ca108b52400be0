//! The `aws-lc` feature's backend: AWS-LC through `aws-lc-rs` (assembly AES-GCM and X25519).

#![forbid(unsafe_code)]

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_256_GCM};
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};
use aws_lc_rs::{hkdf, hmac};
use zeroize::Zeroizing;

use super::{Backend, KEY_LEN, NONCE_LEN, TAG_LEN, X25519_LEN};
use crate::error::{Error, Result};

/// AWS-LC.
pub(crate) struct AwsLc;

/// An X25519 key: AWS-LC's key object, and the raw bytes kept (zeroized) for export.
pub(crate) struct AwsX25519 {
    key: PrivateKey,
    raw: Zeroizing<[u8; X25519_LEN]>,
    public: [u8; X25519_LEN],
}

/// AWS-LC cleanses its key schedules (`EVP_AEAD_CTX_cleanup`, `OPENSSL_free`) when these drop.
pub(crate) struct AwsAead(LessSafeKey);

struct OkmLen(usize);

impl hkdf::KeyType for OkmLen {
    fn len(&self) -> usize {
        self.0
    }
}

impl Backend for AwsLc {
    const NAME: &'static str = "aws-lc";
    type AeadKey = AwsAead;
    type X25519Secret = AwsX25519;

    fn aead_new(key: &[u8; KEY_LEN]) -> AwsAead {
        match UnboundKey::new(&AES_256_GCM, key) {
            Ok(k) => AwsAead(LessSafeKey::new(k)),
            Err(_) => allocation_failure(),
        }
    }

    fn aead_seal(
        key: &AwsAead,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let tag: Tag = key
            .0
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), buf)
            .map_err(|_| Error::Internal)?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    fn aead_open(
        key: &AwsAead,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        let r = key.0.open_in_place_separate_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(aad),
            tag,
            buf,
        );
        if r.is_err() {
            // AWS-LC may leave unauthenticated plaintext behind on failure: wipe it.
            buf.fill(0);
            return Err(Error::DecryptionFailed);
        }
        Ok(())
    }

    fn x25519_from_bytes(bytes: &[u8; X25519_LEN]) -> AwsX25519 {
        let key = match PrivateKey::from_private_key(&X25519, bytes) {
            Ok(k) => k,
            Err(_) => allocation_failure(),
        };
        let mut public = [0u8; X25519_LEN];
        match key.compute_public_key() {
            Ok(p) if p.as_ref().len() == X25519_LEN => public.copy_from_slice(p.as_ref()),
            _ => allocation_failure(),
        }
        AwsX25519 {
            key,
            raw: Zeroizing::new(*bytes),
            public,
        }
    }

    fn x25519_to_bytes(secret: &AwsX25519) -> Zeroizing<[u8; X25519_LEN]> {
        secret.raw.clone()
    }

    fn x25519_public(secret: &AwsX25519) -> [u8; X25519_LEN] {
        secret.public
    }

    fn x25519(secret: &AwsX25519, peer: &[u8; X25519_LEN]) -> Result<Zeroizing<[u8; X25519_LEN]>> {
        // AWS-LC itself refuses an all-zero result.
        agreement::agree(
            &secret.key,
            UnparsedPublicKey::new(&X25519, peer),
            Error::InvalidPublicKey,
            |shared| {
                let mut out = Zeroizing::new([0u8; X25519_LEN]);
                if shared.len() != X25519_LEN {
                    return Err(Error::InvalidPublicKey);
                }
                out.copy_from_slice(shared);
                Ok(out)
            },
        )
    }

    fn hkdf_extract(salt: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]> {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, salt), ikm);
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(tag.as_ref());
        out
    }

    fn hkdf_expand(prk: &[u8], info: &[&[u8]], okm: &mut [u8]) -> Result<()> {
        if prk.len() < 32 || okm.len() > 255 * 32 {
            return Err(Error::InvalidArgument);
        }
        let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, prk);
        prk.expand(info, OkmLen(okm.len()))
            .and_then(|o| o.fill(okm))
            .map_err(|_| Error::InvalidArgument)
    }
}

/// AWS-LC failed to set up a key from bytes of the right length. Every 32-byte string is a valid
/// AES-256 and X25519 key (and an ML-KEM key expanded from a seed is valid by construction), so
/// the only cause is an allocation failure inside AWS-LC; like an
/// allocation failure in Rust code (`handle_alloc_error`), it aborts the process. No input reaches
/// this.
#[cold]
pub(super) fn allocation_failure() -> ! {
    std::process::abort()
}
