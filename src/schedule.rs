//! The key schedule and the nonces (SPEC.md sections 5 and 7): every key, IV and binding this
//! crate derives, and nothing else. The handshake calls it for both stages; the sessions hold its
//! output ([`SessionKeys`]).
//!
//! ```text
//! h1   = SHA-256(LABEL || S || header1)        prk1 = HKDF-Extract(h1, es)
//! k1   = HKDF-Expand(prk1, "scv2 kx key", 32)
//! h2   = SHA-256(h1 || envelope1 || header2)   prk2 = HKDF-Extract(prk1, ee)
//! okm  = HKDF-Expand(prk2, "scv2 session keys" || h2, 88) = k_c2s || k_s2c || iv_c2s || iv_s2c
//! nonce(dir, n) = iv_dir XOR (0x00000000 || u64be(n))
//! ```
//!
//! The hybrid suite (SPEC.md section 15) changes only the inputs of the two extracts and of `h1`:
//!
//! ```text
//! h1   = SHA-256(LABEL_PQ || ek_s || S || header1)   prk1 = HKDF-Extract(h1, ss1 || es)
//! prk2 = HKDF-Extract(prk1, ss2 || ee)
//! ```
//!
//! The 64-byte hybrid inputs `ss || dh` are assembled here, in zeroizing buffers ([`HybridIkm`]).
//!
//! Direction keys are expanded once per session ([`AeadKey`]), never per message.

#![forbid(unsafe_code)]

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::primitives::{
    hkdf_expand, hkdf_extract, sha256, AeadKey, Transcript, KEY_LEN, MLKEM768_ENCAPS_KEY_LEN,
    MLKEM_SHARED_SECRET_LEN, NONCE_LEN, TAG_LEN, X25519_LEN,
};
use crate::suite::{LABEL, LABEL_PQ};

/// HKDF info for the type-1 key.
pub const INFO_KX_KEY: &[u8] = b"scv2 kx key";
/// HKDF info prefix for the session keys (followed by `h2`).
pub const INFO_SESSION_KEYS: &[u8] = b"scv2 session keys";
/// The largest request sequence number: 2^32 − 1. After it the session is exhausted.
pub const MAX_SEQ: u64 = u32::MAX as u64;
/// Length of the key material expanded from `prk2`.
pub(crate) const OKM_LEN: usize = 2 * KEY_LEN + 2 * NONCE_LEN;
/// The label of the token binding (see [`SessionKeys`]).
const TOKEN_BINDING_LABEL: &[u8] = b"scv2 token binding";

/// `prk1` and the transcript after envelope 1 (`h1 || envelope1`), shared by both roles.
pub(crate) struct Stage1 {
    prk1: Zeroizing<[u8; 32]>,
    transcript: Transcript,
}

impl Stage1 {
    /// Stage 1 from the keys [`stage1_keys`] returned and the complete type-1 envelope.
    pub(crate) fn new(prk1: Zeroizing<[u8; 32]>, h1: &[u8; 32], envelope1: &[u8]) -> Stage1 {
        let mut transcript = Transcript::default();
        transcript.update(h1);
        transcript.update(envelope1);
        Stage1 { prk1, transcript }
    }
}

/// What the key schedule of stage 1 returns: `prk1`, `h1` and `k1`.
pub(crate) type Stage1Keys = (Zeroizing<[u8; 32]>, [u8; 32], AeadKey);

/// `prk1`, `h1` and `k1` for a type-1 header of the X25519 suite (`es` = X25519(e, S)).
pub(crate) fn stage1_keys(
    server_public: &[u8; X25519_LEN],
    header1: &[u8],
    es: &[u8; 32],
) -> Result<Stage1Keys> {
    let h1 = sha256(&[LABEL, server_public, header1]);
    stage1_from(h1, es)
}

/// `ss || dh`: the 64-byte input of a hybrid extract (KEM secret first), zeroized on drop.
pub(crate) struct HybridIkm(Zeroizing<[u8; MLKEM_SHARED_SECRET_LEN + X25519_LEN]>);

impl HybridIkm {
    /// `ss || dh`.
    pub(crate) fn new(ss: &[u8; MLKEM_SHARED_SECRET_LEN], dh: &[u8; X25519_LEN]) -> HybridIkm {
        let mut ikm = Zeroizing::new([0u8; MLKEM_SHARED_SECRET_LEN + X25519_LEN]);
        ikm[..MLKEM_SHARED_SECRET_LEN].copy_from_slice(ss);
        ikm[MLKEM_SHARED_SECRET_LEN..].copy_from_slice(dh);
        HybridIkm(ikm)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }
}

/// `prk1`, `h1` and `k1` for a type-1 header of the hybrid suite: `h1 = SHA-256(LABEL_PQ ||
/// ek_s || S || header1)`, `prk1 = HKDF-Extract(h1, ss1 || es)`.
pub(crate) fn hybrid_stage1_keys(
    server_kem_key: &[u8; MLKEM768_ENCAPS_KEY_LEN],
    server_public: &[u8; X25519_LEN],
    header1: &[u8],
    ikm: &HybridIkm,
) -> Result<Stage1Keys> {
    let h1 = sha256(&[LABEL_PQ, server_kem_key, server_public, header1]);
    stage1_from(h1, ikm.as_bytes())
}

fn stage1_from(h1: [u8; 32], ikm: &[u8]) -> Result<Stage1Keys> {
    let prk1 = hkdf_extract(&h1, ikm);
    let mut k1 = Zeroizing::new([0u8; 32]);
    hkdf_expand(prk1.as_ref(), &[INFO_KX_KEY], k1.as_mut())?;
    Ok((prk1, h1, AeadKey::new(&k1)))
}

/// `h2` and the session key material (`ikm` = `ee` = X25519(f, E) for the X25519 suite, `ss2 ||
/// ee` ([`HybridIkm`]) for the hybrid suite). Consumes stage 1.
pub(crate) fn stage2_keys(
    stage1: Stage1,
    header2: &[u8],
    ikm: &[u8],
) -> Result<([u8; 32], KeyMaterial)> {
    let mut t = stage1.transcript;
    t.update(header2);
    let h2 = t.finish();
    let prk2 = hkdf_extract(stage1.prk1.as_ref(), ikm);
    let mut okm = KeyMaterial([0u8; OKM_LEN]);
    hkdf_expand(prk2.as_ref(), &[INFO_SESSION_KEYS, &h2], &mut okm.0)?;
    Ok((h2, okm))
}

/// The key schedule's output: `k_c2s || k_s2c || iv_c2s || iv_s2c`. Zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct KeyMaterial(pub(crate) [u8; OKM_LEN]);

impl KeyMaterial {
    fn key(&self, at: usize) -> Zeroizing<[u8; KEY_LEN]> {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        k.copy_from_slice(&self.0[at..at + KEY_LEN]);
        k
    }
    fn iv(&self, at: usize) -> [u8; NONCE_LEN] {
        let mut iv = [0u8; NONCE_LEN];
        iv.copy_from_slice(&self.0[at..at + NONCE_LEN]);
        iv
    }
}

/// `nonce(dir, n) = iv_dir XOR (0x00000000 || u64be(n))`.
pub(crate) fn nonce(iv: &[u8; NONCE_LEN], seq: u64) -> [u8; NONCE_LEN] {
    let mut out = *iv;
    for (o, s) in out[4..].iter_mut().zip(seq.to_be_bytes()) {
        *o ^= s;
    }
    out
}

/// Inverse of [`nonce`]: `None` if the top four bytes differ.
pub(crate) fn recover_seq(iv_dir: &[u8; NONCE_LEN], received: &[u8; NONCE_LEN]) -> Option<u64> {
    let (dir_hi, dir_lo) = split_nonce(iv_dir);
    let (got_hi, got_lo) = split_nonce(received);
    (dir_hi == got_hi).then_some(u64::from_be_bytes(dir_lo) ^ u64::from_be_bytes(got_lo))
}

/// The top four bytes and the low eight of a nonce.
fn split_nonce(n: &[u8; NONCE_LEN]) -> ([u8; 4], [u8; 8]) {
    let [a, b, c, d, lo @ ..] = *n;
    ([a, b, c, d], lo)
}

/// One direction's cipher and IV.
pub(crate) struct Direction {
    pub(crate) key: AeadKey,
    iv: [u8; NONCE_LEN],
}

impl Drop for Direction {
    fn drop(&mut self) {
        self.iv.zeroize();
    }
}

impl Direction {
    /// The nonce of message `seq` in this direction.
    pub(crate) fn nonce(&self, seq: u64) -> [u8; NONCE_LEN] {
        nonce(&self.iv, seq)
    }

    /// `n = IV XOR iv_dir`; the first four bytes must be zero and `1 <= n <= 2^32 - 1`, else
    /// [`Error::DecryptionFailed`].
    pub(crate) fn recover_seq(&self, iv: &[u8; NONCE_LEN]) -> Result<u64> {
        recover_seq(&self.iv, iv)
            .filter(|n| (1..=MAX_SEQ).contains(n))
            .ok_or(Error::DecryptionFailed)
    }
}

/// Both directions of an established session, and the token binding: the first 8 bytes of
/// `SHA-256("scv2 token binding" || okm)`, which ties `PendingRequest`/`ResponseSlot` tokens to
/// the session that issued them.
pub(crate) struct SessionKeys {
    pub(crate) c2s: Direction,
    pub(crate) s2c: Direction,
    pub(crate) binding: u64,
}

impl SessionKeys {
    pub(crate) fn from_okm(okm: &KeyMaterial) -> SessionKeys {
        let digest = sha256(&[TOKEN_BINDING_LABEL, &okm.0]);
        let mut b = [0u8; 8];
        b.copy_from_slice(&digest[..8]);
        SessionKeys {
            c2s: Direction {
                key: AeadKey::new(&okm.key(0)),
                iv: okm.iv(2 * KEY_LEN),
            },
            s2c: Direction {
                key: AeadKey::new(&okm.key(KEY_LEN)),
                iv: okm.iv(2 * KEY_LEN + NONCE_LEN),
            },
            binding: u64::from_le_bytes(b),
        }
    }

    /// Seal the first message of the s2c direction (type 130, sequence 0) in place.
    pub(crate) fn seal_handshake(
        &self,
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<([u8; NONCE_LEN], [u8; TAG_LEN])> {
        let n = self.s2c.nonce(0);
        let tag = self.s2c.key.seal_in_place(&n, aad, buf)?;
        Ok((n, tag))
    }

    /// Open the type-130 message: its IV must be `nonce(s2c, 0)`.
    pub(crate) fn open_handshake(
        &self,
        iv: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        if recover_seq(&self.s2c.iv, iv) != Some(0) {
            return Err(Error::DecryptionFailed);
        }
        self.s2c.key.open_in_place(iv, aad, buf, tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_round_trip() {
        let iv = [0xA5u8; 12];
        for n in [0u64, 1, 2, MAX_SEQ, u64::MAX] {
            assert_eq!(recover_seq(&iv, &nonce(&iv, n)), Some(n));
        }
        let mut bad = nonce(&iv, 5);
        bad[0] ^= 1;
        assert_eq!(recover_seq(&iv, &bad), None);
    }

    #[test]
    fn okm_layout() {
        assert_eq!(OKM_LEN, 88);
        let mut okm = KeyMaterial([0u8; OKM_LEN]);
        for (i, b) in okm.0.iter_mut().enumerate() {
            *b = i as u8;
        }
        assert_eq!(okm.iv(64)[0], 64);
        assert_eq!(okm.iv(76)[11], 87);
        let keys = SessionKeys::from_okm(&okm);
        assert_eq!(keys.c2s.nonce(0), okm.iv(64));
        assert_eq!(keys.s2c.nonce(0), okm.iv(76));
        assert_eq!(
            keys.c2s.recover_seq(&okm.iv(64)),
            Err(Error::DecryptionFailed)
        );
        assert_eq!(keys.c2s.recover_seq(&keys.c2s.nonce(MAX_SEQ)), Ok(MAX_SEQ));
        assert!(keys.c2s.recover_seq(&keys.c2s.nonce(MAX_SEQ + 1)).is_err());
    }
}
