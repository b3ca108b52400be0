//! ML-KEM-768 (FIPS 203, final) behind the primitives seam: the KEM half of the hybrid suite
//! X25519MLKEM768-HKDF-SHA256-AES-256-GCM (SPEC.md section 15).
//!
//! This module owns the ML-KEM part of the seam: the backend trait [`KemBackend`], the public
//! key types [`MlKemDecapsKey`] and [`MlKemEncapsKey`], and the ML-KEM-768 lengths. The protocol
//! and the Wycheproof tests (`tests/wycheproof.rs`) call these functions and nothing below them.
//!
//! - A decapsulation key is made from its 64-byte seed `d || z` (`ML-KEM.KeyGen_internal(d, z)`);
//!   the seed is the only private-key form SCv2 stores. There is no parser for the 2400-byte
//!   "expanded" form, so no decapsulation-key check is ever needed: a key expanded from a seed
//!   is valid by construction.
//! - An encapsulation key is parsed from its 1184 bytes with FIPS 203's encapsulation-key check
//!   (section 7.2, the modulus check: every 12-bit coefficient is below q = 3329); a key that
//!   fails is [`Error::InvalidPublicKey`]. The length check of section 7.2 is the type
//!   (`&[u8; 1184]`): the envelope parser decides lengths.
//! - Decapsulation never fails on any 1088-byte ciphertext: one not made for the key gives an
//!   unrelated secret (implicit rejection), so a wrong ciphertext surfaces later as an AEAD
//!   failure.
//!
//! ## Backends
//!
//! - default (RustCrypto): the `ml-kem` crate for everything.
//! - `aws-lc`: AWS-LC's ML-KEM-768 (through `aws-lc-rs`) for encapsulation, decapsulation, the
//!   encapsulation-key check and fresh ephemeral keys. `aws-lc-rs` 1.19 cannot make a key from
//!   a seed (it only loads the 2400-byte expanded key, or generates from its own DRBG) and cannot
//!   encapsulate with given randomness. So, in that build, the `ml-kem` crate expands a seed into
//!   the expanded key that AWS-LC then loads (and gives its encapsulation key), and, with the
//!   `test-vectors` feature only, performs [`MlKemEncapsKey::encapsulate_deterministic`]. Every
//!   live operation on hostile input (checking a peer's key, encapsulating to it, decapsulating
//!   its ciphertext) runs in AWS-LC.
//!
//! Shared secrets and seeds are returned in [`Zeroizing`] buffers; decapsulation keys are
//! zeroized on drop (by `ml-kem`'s `zeroize` feature, or by AWS-LC's `OPENSSL_free`, which
//! cleanses) and print as `[redacted]`.

#![forbid(unsafe_code)]

use core::fmt;
use zeroize::Zeroizing;

use super::{fill_random, Active};
use crate::error::Result;

#[cfg(feature = "aws-lc")]
mod awslc;
#[cfg(not(feature = "aws-lc"))]
mod rustcrypto;

/// Length of an ML-KEM seed `d || z` (the stored form of a decapsulation key).
pub const MLKEM_SEED_LEN: usize = 64;
/// Length of an ML-KEM-768 encapsulation (public) key.
pub const MLKEM768_ENCAPS_KEY_LEN: usize = 1184;
/// Length of an ML-KEM-768 ciphertext.
pub const MLKEM768_CIPHERTEXT_LEN: usize = 1088;
/// Length of an ML-KEM shared secret.
pub const MLKEM_SHARED_SECRET_LEN: usize = 32;
/// Length of the encapsulation randomness `m` of `ML-KEM.Encaps_internal(ek, m)`.
pub const MLKEM_ENCAPS_RANDOMNESS_LEN: usize = 32;

/// A ciphertext and the shared secret it carries: the result of an encapsulation.
pub type MlKemEncapsulation = (
    [u8; MLKEM768_CIPHERTEXT_LEN],
    Zeroizing<[u8; MLKEM_SHARED_SECRET_LEN]>,
);

/// What a backend provides for ML-KEM-768. Implementations zeroize secret state on drop.
pub(crate) trait KemBackend {
    /// A decapsulation key (with its encapsulation key).
    type MlKemDecapsKey: Send + Sync;
    /// A checked encapsulation key.
    type MlKemEncapsKey: Send + Sync;

    /// `ML-KEM.KeyGen_internal(d, z)` with `seed = d || z`.
    fn mlkem_from_seed(seed: &[u8; MLKEM_SEED_LEN]) -> Self::MlKemDecapsKey;
    /// A fresh key whose seed will not be exported; a backend may use its own key generation.
    fn mlkem_generate_ephemeral<R: rand_core::TryCryptoRng + ?Sized>(
        rng: &mut R,
    ) -> Result<Self::MlKemDecapsKey>;
    /// The seed, for keys made by `mlkem_from_seed` (`None` otherwise).
    fn mlkem_seed(key: &Self::MlKemDecapsKey) -> Option<Zeroizing<[u8; MLKEM_SEED_LEN]>>;
    /// The encoded encapsulation key of a decapsulation key.
    fn mlkem_decaps_key_ek(key: &Self::MlKemDecapsKey) -> [u8; MLKEM768_ENCAPS_KEY_LEN];
    /// `ML-KEM.Decaps(dk, c)` (implicit rejection). An error is an internal failure only.
    fn mlkem_decapsulate(
        key: &Self::MlKemDecapsKey,
        ct: &[u8; MLKEM768_CIPHERTEXT_LEN],
    ) -> Result<Zeroizing<[u8; MLKEM_SHARED_SECRET_LEN]>>;

    /// Parse with the encapsulation-key check; failure is `Error::InvalidPublicKey`.
    fn mlkem_encaps_key(bytes: &[u8; MLKEM768_ENCAPS_KEY_LEN]) -> Result<Self::MlKemEncapsKey>;
    fn mlkem_encaps_key_bytes(key: &Self::MlKemEncapsKey) -> [u8; MLKEM768_ENCAPS_KEY_LEN];
    fn mlkem_encaps_key_clone(key: &Self::MlKemEncapsKey) -> Self::MlKemEncapsKey;
    /// `ML-KEM.Encaps(ek)` with fresh randomness (from `rng`, or from the backend's own DRBG).
    fn mlkem_encapsulate<R: rand_core::TryCryptoRng + ?Sized>(
        key: &Self::MlKemEncapsKey,
        rng: &mut R,
    ) -> Result<MlKemEncapsulation>;
    /// `ML-KEM.Encaps_internal(ek, m)`.
    #[cfg(feature = "test-vectors")]
    fn mlkem_encapsulate_deterministic(
        key: &Self::MlKemEncapsKey,
        m: &[u8; MLKEM_ENCAPS_RANDOMNESS_LEN],
    ) -> Result<MlKemEncapsulation>;
}

/// An ML-KEM-768 decapsulation (private) key, with its encapsulation key.
///
/// Zeroized on drop; `Debug` prints `[redacted]`.
///
/// ```
/// use scv2::primitives::{MlKemDecapsKey, MlKemEncapsKey};
///
/// # fn main() -> Result<(), scv2::Error> {
/// let dk = MlKemDecapsKey::from_seed([7u8; 64]);
/// let ek = MlKemEncapsKey::from_bytes(&dk.encaps_key_bytes())?;
/// let (ct, ss_sender) = ek.encapsulate(&mut scv2::OsRng)?;
/// let ss_receiver = dk.decapsulate(&ct)?;
/// assert_eq!(*ss_sender, *ss_receiver);
/// # Ok(())
/// # }
/// ```
pub struct MlKemDecapsKey {
    inner: <Active as KemBackend>::MlKemDecapsKey,
    /// Made by [`MlKemDecapsKey::generate_ephemeral`]: the seed is not exported.
    ephemeral: bool,
}

impl MlKemDecapsKey {
    /// Expand a 64-byte seed `d || z` (FIPS 203 `ML-KEM.KeyGen_internal(d, z)`). Every seed is
    /// valid; the caller keeps, and should zeroize, its own copy.
    pub fn from_seed(seed: [u8; MLKEM_SEED_LEN]) -> MlKemDecapsKey {
        let seed = Zeroizing::new(seed);
        MlKemDecapsKey {
            inner: Active::mlkem_from_seed(&seed),
            ephemeral: false,
        }
    }

    /// Draw a fresh 64-byte seed from `rng` and expand it. Use this for long-term keys: the seed
    /// can be exported with [`MlKemDecapsKey::to_seed`].
    pub fn generate<R: rand_core::TryCryptoRng + ?Sized>(rng: &mut R) -> Result<MlKemDecapsKey> {
        let mut seed = Zeroizing::new([0u8; MLKEM_SEED_LEN]);
        fill_random(rng, seed.as_mut())?;
        Ok(MlKemDecapsKey {
            inner: Active::mlkem_from_seed(&seed),
            ephemeral: false,
        })
    }

    /// A fresh key for one handshake, whose seed is never exported ([`MlKemDecapsKey::to_seed`]
    /// returns `None`). The RustCrypto backend draws the seed from `rng`; the AWS-LC backend uses
    /// AWS-LC's own key generation and DRBG (`rng` is unused there), which is faster than
    /// expanding a seed outside AWS-LC. Both are FIPS 203 `ML-KEM.KeyGen` with fresh `d`, `z`.
    pub fn generate_ephemeral<R: rand_core::TryCryptoRng + ?Sized>(
        rng: &mut R,
    ) -> Result<MlKemDecapsKey> {
        Ok(MlKemDecapsKey {
            inner: Active::mlkem_generate_ephemeral(rng)?,
            ephemeral: true,
        })
    }

    /// The 64-byte seed `d || z` (for sealed storage), or `None` for an ephemeral key.
    pub fn to_seed(&self) -> Option<Zeroizing<[u8; MLKEM_SEED_LEN]>> {
        if self.ephemeral {
            return None;
        }
        Active::mlkem_seed(&self.inner)
    }

    /// The matching encapsulation key, encoded (1184 bytes).
    pub fn encaps_key_bytes(&self) -> [u8; MLKEM768_ENCAPS_KEY_LEN] {
        Active::mlkem_decaps_key_ek(&self.inner)
    }

    /// `ML-KEM.Decaps(dk, ct)`: the 32-byte shared secret.
    ///
    /// Every ciphertext is accepted: one that was not made for this key gives an unrelated
    /// secret (implicit rejection), so the caller's AEAD fails later. An error means an internal
    /// failure in the backend ([`crate::Error::Internal`]), never a property of `ct`.
    pub fn decapsulate(
        &self,
        ct: &[u8; MLKEM768_CIPHERTEXT_LEN],
    ) -> Result<Zeroizing<[u8; MLKEM_SHARED_SECRET_LEN]>> {
        Active::mlkem_decapsulate(&self.inner, ct)
    }
}

impl fmt::Debug for MlKemDecapsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MlKemDecapsKey([redacted])")
    }
}

/// An ML-KEM-768 encapsulation (public) key that passed FIPS 203's encapsulation-key check.
pub struct MlKemEncapsKey(<Active as KemBackend>::MlKemEncapsKey);

impl MlKemEncapsKey {
    /// Parse 1184 bytes and run FIPS 203's encapsulation-key check (section 7.2: every encoded
    /// coefficient is below q = 3329, i.e. `ByteEncode12(ByteDecode12(ek[0..1152])) =
    /// ek[0..1152]`). A key that fails is [`crate::Error::InvalidPublicKey`].
    pub fn from_bytes(bytes: &[u8; MLKEM768_ENCAPS_KEY_LEN]) -> Result<MlKemEncapsKey> {
        Active::mlkem_encaps_key(bytes).map(MlKemEncapsKey)
    }

    /// The encoded key (as given to [`MlKemEncapsKey::from_bytes`]).
    pub fn to_bytes(&self) -> [u8; MLKEM768_ENCAPS_KEY_LEN] {
        Active::mlkem_encaps_key_bytes(&self.0)
    }

    /// `ML-KEM.Encaps(ek)`: a fresh ciphertext and the shared secret it carries.
    ///
    /// The RustCrypto backend draws the 32-byte randomness `m` from `rng`; the AWS-LC backend
    /// draws it from AWS-LC's own DRBG (`aws-lc-rs` takes no randomness from the caller), so
    /// `rng` is unused there. An RNG or backend failure is [`crate::Error::Internal`].
    pub fn encapsulate<R: rand_core::TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
    ) -> Result<MlKemEncapsulation> {
        Active::mlkem_encapsulate(&self.0, rng)
    }

    /// `ML-KEM.Encaps_internal(ek, m)` with the given 32 bytes `m`, for known answers. Only with
    /// the `test-vectors` feature, never in release builds: reusing or predicting `m` reveals
    /// the shared secret. With the `aws-lc` backend this runs in the `ml-kem` crate (AWS-LC
    /// cannot take `m`); the result is the same bytes.
    #[cfg(feature = "test-vectors")]
    pub fn encapsulate_deterministic(
        &self,
        m: &[u8; MLKEM_ENCAPS_RANDOMNESS_LEN],
    ) -> Result<MlKemEncapsulation> {
        Active::mlkem_encapsulate_deterministic(&self.0, m)
    }
}

impl Clone for MlKemEncapsKey {
    fn clone(&self) -> MlKemEncapsKey {
        MlKemEncapsKey(Active::mlkem_encaps_key_clone(&self.0))
    }
}

impl fmt::Debug for MlKemEncapsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.to_bytes();
        write!(
            f,
            "MlKemEncapsKey({:02x}{:02x}{:02x}{:02x}…)",
            b[0], b[1], b[2], b[3]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    /// FIPS 203 keygen from seed, encapsulation and decapsulation agree (the known answers are in
    /// tests/wycheproof.rs and tests/hybrid_kat.rs).
    #[test]
    #[cfg_attr(miri, ignore)]
    fn round_trip_and_seed_export() {
        let dk = MlKemDecapsKey::from_seed([3u8; 64]);
        assert_eq!(dk.to_seed().as_deref(), Some(&[3u8; 64]));
        let ek = MlKemEncapsKey::from_bytes(&dk.encaps_key_bytes()).unwrap();
        assert_eq!(ek.to_bytes(), dk.encaps_key_bytes());
        let (ct, ss) = ek.encapsulate(&mut crate::OsRng).unwrap();
        assert_eq!(*dk.decapsulate(&ct).unwrap(), *ss);

        // Implicit rejection: a changed ciphertext decapsulates to an unrelated secret.
        let mut bad = ct;
        bad[100] ^= 1;
        assert_ne!(*dk.decapsulate(&bad).unwrap(), *ss);

        let eph = MlKemDecapsKey::generate_ephemeral(&mut crate::OsRng).unwrap();
        assert!(eph.to_seed().is_none());
        let ek2 = MlKemEncapsKey::from_bytes(&eph.encaps_key_bytes()).unwrap();
        let (ct2, ss2) = ek2.encapsulate(&mut crate::OsRng).unwrap();
        assert_eq!(*eph.decapsulate(&ct2).unwrap(), *ss2);

        let long = MlKemDecapsKey::generate(&mut crate::OsRng).unwrap();
        let again = MlKemDecapsKey::from_seed(*long.to_seed().unwrap());
        assert_eq!(long.encaps_key_bytes(), again.encaps_key_bytes());
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn modulus_check_refuses_unreduced_coefficients() {
        let dk = MlKemDecapsKey::from_seed([5u8; 64]);
        let good = dk.encaps_key_bytes();
        // Coefficient 0 is the low 12 bits of bytes 0..2 (little-endian): make it 0xfff.
        let mut bad = good;
        bad[0] = 0xff;
        bad[1] |= 0x0f;
        assert_eq!(
            MlKemEncapsKey::from_bytes(&bad).map(|_| ()),
            Err(Error::InvalidPublicKey)
        );
        // The last coefficient (bytes 1150..1152, high 12 bits) = 3329 = q exactly.
        let mut bad = good;
        bad[1150] = (bad[1150] & 0x0f) | 0x10;
        bad[1151] = 0xd0;
        assert_eq!(
            MlKemEncapsKey::from_bytes(&bad).map(|_| ()),
            Err(Error::InvalidPublicKey)
        );
        // rho (the last 32 bytes) is not checked.
        let mut rho = good;
        rho[1183] ^= 0xff;
        assert!(MlKemEncapsKey::from_bytes(&rho).is_ok());
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn debug_is_redacted() {
        let dk = MlKemDecapsKey::from_seed([9u8; 64]);
        assert_eq!(format!("{dk:?}"), "MlKemDecapsKey([redacted])");
        let ek = MlKemEncapsKey::from_bytes(&dk.encaps_key_bytes()).unwrap();
        assert!(format!("{ek:?}").starts_with("MlKemEncapsKey("));
    }

    #[test]
    fn key_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<MlKemDecapsKey>();
        check::<MlKemEncapsKey>();
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn cloned_encaps_key_is_the_same_key() {
        let dk = MlKemDecapsKey::from_seed([11u8; 64]);
        // The original goes out of scope before the copy is used.
        let copy = {
            let ek = MlKemEncapsKey::from_bytes(&dk.encaps_key_bytes()).unwrap();
            ek.clone()
        };
        assert_eq!(copy.to_bytes(), dk.encaps_key_bytes());
        let (ct, ss) = copy.encapsulate(&mut crate::OsRng).unwrap();
        assert_eq!(*dk.decapsulate(&ct).unwrap(), *ss);
    }

    #[test]
    fn lengths_are_fips_203_ml_kem_768() {
        // 384k + 32 and 32(du k + dv) with k = 3, du = 10, dv = 4.
        assert_eq!(MLKEM768_ENCAPS_KEY_LEN, 384 * 3 + 32);
        assert_eq!(MLKEM768_CIPHERTEXT_LEN, 32 * (10 * 3 + 4));
    }
}
