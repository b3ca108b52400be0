//! ML-KEM-768 for the `aws-lc` backend: AWS-LC through `aws-lc-rs`, with the `ml-kem` crate for
//! what `aws-lc-rs` 1.19 cannot do (expanding a 64-byte seed; encapsulating with given `m`).
//!
//! `aws-lc-rs` 1.19's `kem` module offers: `DecapsulationKey::generate` (AWS-LC's DRBG),
//! `DecapsulationKey::new` from the 2400-byte expanded key (FIPS 203 `dk`), `decapsulate`,
//! `EncapsulationKey::new` from 1184 bytes, `encapsulate` (AWS-LC's DRBG) and `key_bytes`. It has
//! no key generation from a seed `d || z`, no seed export and no `Encaps_internal(ek, m)`. So a
//! seed is expanded by `ml-kem` (`KeyGen_internal(d, z)`) into the expanded key AWS-LC loads; the
//! encapsulation key comes from the same expansion (AWS-LC cannot derive it from a loaded key).
//!
//! AWS-LC runs FIPS 203's encapsulation-key check only inside `encapsulate` (measured with
//! `aws-lc-rs` 1.19: `EncapsulationKey::new` accepts a key with a coefficient ≥ q, and
//! `encapsulate` then fails). The seam must refuse such a key when it is parsed (SPEC orders that
//! check before any AEAD work), so [`modulus_check`] does it at parse time; AWS-LC's own check
//! stays behind it.

#![forbid(unsafe_code)]

use aws_lc_rs::kem::{self, Ciphertext, ML_KEM_768};
use ml_kem::kem::KeyExport;
#[allow(deprecated)]
use ml_kem::ExpandedKeyEncoding;
use ml_kem::{DecapsulationKey768, Seed};
use zeroize::{Zeroize, Zeroizing};

#[cfg(feature = "test-vectors")]
use super::MLKEM_ENCAPS_RANDOMNESS_LEN;
use super::{
    KemBackend, MlKemEncapsulation, MLKEM768_CIPHERTEXT_LEN, MLKEM768_ENCAPS_KEY_LEN,
    MLKEM_SEED_LEN, MLKEM_SHARED_SECRET_LEN,
};
use crate::error::{Error, Result};
use crate::primitives::awslc::{allocation_failure, AwsLc};

/// An AWS-LC decapsulation key, its encapsulation key, and the seed it came from (if any).
/// AWS-LC cleanses the key when it is freed (`OPENSSL_free`); the seed is zeroized.
pub(crate) struct AwsMlKemDecaps {
    key: kem::DecapsulationKey,
    seed: Option<Zeroizing<[u8; MLKEM_SEED_LEN]>>,
    ek: [u8; MLKEM768_ENCAPS_KEY_LEN],
}

/// An AWS-LC encapsulation key and its encoding.
pub(crate) struct AwsMlKemEncaps {
    key: kem::EncapsulationKey,
    bytes: [u8; MLKEM768_ENCAPS_KEY_LEN],
}

/// ML-KEM's prime q.
const Q: u16 = 3329;

/// FIPS 203 section 7.2, modulus check: `ByteEncode12(ByteDecode12(ek[0..384k])) = ek[0..384k]`,
/// which holds exactly when every 12-bit little-endian coefficient is below q. Two coefficients
/// per three bytes. Public data: variable time is fine.
fn modulus_check(ek: &[u8; MLKEM768_ENCAPS_KEY_LEN]) -> bool {
    ek[..MLKEM768_ENCAPS_KEY_LEN - 32].chunks_exact(3).all(|b| {
        let c0 = u16::from(b[0]) | (u16::from(b[1] & 0x0f) << 8);
        let c1 = u16::from(b[1] >> 4) | (u16::from(b[2]) << 4);
        c0 < Q && c1 < Q
    })
}

fn secret(bytes: &[u8]) -> Result<Zeroizing<[u8; MLKEM_SHARED_SECRET_LEN]>> {
    let mut out = Zeroizing::new([0u8; MLKEM_SHARED_SECRET_LEN]);
    if bytes.len() != MLKEM_SHARED_SECRET_LEN {
        return Err(Error::Internal);
    }
    out.copy_from_slice(bytes);
    Ok(out)
}

fn ciphertext(bytes: &[u8]) -> Result<[u8; MLKEM768_CIPHERTEXT_LEN]> {
    <[u8; MLKEM768_CIPHERTEXT_LEN]>::try_from(bytes).map_err(|_| Error::Internal)
}

impl KemBackend for AwsLc {
    type MlKemDecapsKey = AwsMlKemDecaps;
    type MlKemEncapsKey = AwsMlKemEncaps;

    fn mlkem_from_seed(seed: &[u8; MLKEM_SEED_LEN]) -> AwsMlKemDecaps {
        let mut s = Seed::from(*seed);
        let rc = DecapsulationKey768::from_seed(s);
        s.zeroize();
        #[allow(deprecated)]
        let mut expanded = rc.to_expanded_bytes();
        let ek = rc.encapsulation_key().to_bytes().0;
        drop(rc); // zeroized on drop
        let key = kem::DecapsulationKey::new(&ML_KEM_768, &expanded);
        expanded.zeroize();
        // The expanded key has the exact length, so AWS-LC can only fail to allocate.
        let key = key.unwrap_or_else(|_| allocation_failure());
        AwsMlKemDecaps {
            key,
            seed: Some(Zeroizing::new(*seed)),
            ek,
        }
    }

    fn mlkem_generate_ephemeral<R: rand_core::TryCryptoRng + ?Sized>(
        _rng: &mut R,
    ) -> Result<AwsMlKemDecaps> {
        let key = kem::DecapsulationKey::generate(&ML_KEM_768).map_err(|_| Error::Internal)?;
        let ek_bytes = key
            .encapsulation_key()
            .and_then(|ek| ek.key_bytes())
            .map_err(|_| Error::Internal)?;
        let ek = <[u8; MLKEM768_ENCAPS_KEY_LEN]>::try_from(ek_bytes.as_ref())
            .map_err(|_| Error::Internal)?;
        Ok(AwsMlKemDecaps {
            key,
            seed: None,
            ek,
        })
    }

    fn mlkem_seed(key: &AwsMlKemDecaps) -> Option<Zeroizing<[u8; MLKEM_SEED_LEN]>> {
        key.seed.clone()
    }

    fn mlkem_decaps_key_ek(key: &AwsMlKemDecaps) -> [u8; MLKEM768_ENCAPS_KEY_LEN] {
        key.ek
    }

    fn mlkem_decapsulate(
        key: &AwsMlKemDecaps,
        ct: &[u8; MLKEM768_CIPHERTEXT_LEN],
    ) -> Result<Zeroizing<[u8; MLKEM_SHARED_SECRET_LEN]>> {
        let ss = key
            .key
            .decapsulate(Ciphertext::from(&ct[..]))
            .map_err(|_| Error::Internal)?;
        secret(ss.as_ref())
    }

    fn mlkem_encaps_key(bytes: &[u8; MLKEM768_ENCAPS_KEY_LEN]) -> Result<AwsMlKemEncaps> {
        if !modulus_check(bytes) {
            return Err(Error::InvalidPublicKey);
        }
        let key =
            kem::EncapsulationKey::new(&ML_KEM_768, bytes).map_err(|_| Error::InvalidPublicKey)?;
        Ok(AwsMlKemEncaps { key, bytes: *bytes })
    }

    fn mlkem_encaps_key_bytes(key: &AwsMlKemEncaps) -> [u8; MLKEM768_ENCAPS_KEY_LEN] {
        key.bytes
    }

    fn mlkem_encaps_key_clone(key: &AwsMlKemEncaps) -> AwsMlKemEncaps {
        // The bytes passed the check when first parsed: only an allocation can fail.
        let k = kem::EncapsulationKey::new(&ML_KEM_768, &key.bytes)
            .unwrap_or_else(|_| allocation_failure());
        AwsMlKemEncaps {
            key: k,
            bytes: key.bytes,
        }
    }

    fn mlkem_encapsulate<R: rand_core::TryCryptoRng + ?Sized>(
        key: &AwsMlKemEncaps,
        _rng: &mut R,
    ) -> Result<MlKemEncapsulation> {
        // Fails only on an internal error: the key passed the modulus check when parsed.
        let (ct, ss) = key.key.encapsulate().map_err(|_| Error::Internal)?;
        Ok((ciphertext(ct.as_ref())?, secret(ss.as_ref())?))
    }

    #[cfg(feature = "test-vectors")]
    fn mlkem_encapsulate_deterministic(
        key: &AwsMlKemEncaps,
        m: &[u8; MLKEM_ENCAPS_RANDOMNESS_LEN],
    ) -> Result<MlKemEncapsulation> {
        // AWS-LC takes no caller randomness: the known-answer path is ml-kem's.
        let ek = ml_kem::EncapsulationKey768::new((&key.bytes).into())
            .map_err(|_| Error::InvalidPublicKey)?;
        let (ct, mut k) = ek.encapsulate_deterministic(m.into());
        let ss = Zeroizing::new(k.0);
        k.zeroize();
        Ok((ct.0, ss))
    }
}
