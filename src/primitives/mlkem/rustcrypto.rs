//! ML-KEM-768 for the default backend: RustCrypto's `ml-kem` crate, in pure Rust.

#![forbid(unsafe_code)]

use ml_kem::kem::{Decapsulate, KeyExport};
use ml_kem::ml_kem_768::Ciphertext;
use ml_kem::{DecapsulationKey768, EncapsulationKey768, Seed, SharedKey, B32};
use zeroize::{Zeroize, Zeroizing};

use super::{
    KemBackend, MlKemEncapsulation, MLKEM768_CIPHERTEXT_LEN, MLKEM768_ENCAPS_KEY_LEN,
    MLKEM_ENCAPS_RANDOMNESS_LEN, MLKEM_SEED_LEN, MLKEM_SHARED_SECRET_LEN,
};
use crate::error::{Error, Result};
use crate::primitives::fill_random;
use crate::primitives::rustcrypto::RustCrypto;

/// Copy a shared key out into a zeroizing buffer and wipe the original.
fn take_secret(mut k: SharedKey) -> Zeroizing<[u8; MLKEM_SHARED_SECRET_LEN]> {
    let out = Zeroizing::new(k.0);
    k.zeroize();
    out
}

fn encaps_with(
    ek: &EncapsulationKey768,
    m: &[u8; MLKEM_ENCAPS_RANDOMNESS_LEN],
) -> MlKemEncapsulation {
    let (ct, k) = ek.encapsulate_deterministic(<&B32>::from(m));
    (ct.0, take_secret(k))
}

impl KemBackend for RustCrypto {
    // Zeroized on drop (`ml-kem`'s `zeroize` feature): the secret vector, d and z.
    type MlKemDecapsKey = DecapsulationKey768;
    type MlKemEncapsKey = EncapsulationKey768;

    fn mlkem_from_seed(seed: &[u8; MLKEM_SEED_LEN]) -> DecapsulationKey768 {
        let mut s = Seed::from(*seed);
        let key = DecapsulationKey768::from_seed(s);
        s.zeroize();
        key
    }

    fn mlkem_generate_ephemeral<R: rand_core::TryCryptoRng + ?Sized>(
        rng: &mut R,
    ) -> Result<DecapsulationKey768> {
        let mut seed = Zeroizing::new([0u8; MLKEM_SEED_LEN]);
        fill_random(rng, seed.as_mut())?;
        Ok(Self::mlkem_from_seed(&seed))
    }

    fn mlkem_seed(key: &DecapsulationKey768) -> Option<Zeroizing<[u8; MLKEM_SEED_LEN]>> {
        key.to_seed().map(|mut s| {
            let out = Zeroizing::new(s.0);
            s.zeroize();
            out
        })
    }

    fn mlkem_decaps_key_ek(key: &DecapsulationKey768) -> [u8; MLKEM768_ENCAPS_KEY_LEN] {
        key.encapsulation_key().to_bytes().0
    }

    fn mlkem_decapsulate(
        key: &DecapsulationKey768,
        ct: &[u8; MLKEM768_CIPHERTEXT_LEN],
    ) -> Result<Zeroizing<[u8; MLKEM_SHARED_SECRET_LEN]>> {
        Ok(take_secret(key.decapsulate(<&Ciphertext>::from(ct))))
    }

    fn mlkem_encaps_key(bytes: &[u8; MLKEM768_ENCAPS_KEY_LEN]) -> Result<EncapsulationKey768> {
        // `new` runs FIPS 203's modulus check (ml-kem's `EncryptionKey::from_bytes`).
        EncapsulationKey768::new(bytes.into()).map_err(|_| Error::InvalidPublicKey)
    }

    fn mlkem_encaps_key_bytes(key: &EncapsulationKey768) -> [u8; MLKEM768_ENCAPS_KEY_LEN] {
        key.to_bytes().0
    }

    fn mlkem_encaps_key_clone(key: &EncapsulationKey768) -> EncapsulationKey768 {
        key.clone()
    }

    fn mlkem_encapsulate<R: rand_core::TryCryptoRng + ?Sized>(
        key: &EncapsulationKey768,
        rng: &mut R,
    ) -> Result<MlKemEncapsulation> {
        // FIPS 203 ML-KEM.Encaps: m <- 32 random bytes, then Encaps_internal(ek, m).
        let mut m = Zeroizing::new([0u8; MLKEM_ENCAPS_RANDOMNESS_LEN]);
        fill_random(rng, m.as_mut())?;
        Ok(encaps_with(key, &m))
    }

    #[cfg(feature = "test-vectors")]
    fn mlkem_encapsulate_deterministic(
        key: &EncapsulationKey768,
        m: &[u8; MLKEM_ENCAPS_RANDOMNESS_LEN],
    ) -> Result<MlKemEncapsulation> {
        Ok(encaps_with(key, m))
    }
}
