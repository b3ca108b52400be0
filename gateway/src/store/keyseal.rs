//! Server private keys at rest in a shared database: AES-256-GCM under a key derived from the
//! storage key (which never enters that database), bound to the key id.
//!
//! Blob: `0x01 || nonce (12) || ciphertext (32) || tag (16)`; AAD: `"scv2 server key v1" || 0x00
//! || key id`. The sealing key is SHA-256(`"scv2 server key sealing v1"` || storage key), so the
//! storage key itself never seals two kinds of data.

use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use anyhow::bail;
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const NONCE: usize = 12;
const TAG: usize = 16;

/// Seals and opens server private keys.
pub struct KeySeal {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for KeySeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySeal([redacted])")
    }
}

fn aad(key_id: &str) -> Vec<u8> {
    [b"scv2 server key v1\0".as_slice(), key_id.as_bytes()].concat()
}

impl KeySeal {
    /// The sealer for `storage_key`.
    pub fn new(storage_key: &[u8; 32]) -> anyhow::Result<KeySeal> {
        let k = Zeroizing::new(crate::util::sha256(&[
            b"scv2 server key sealing v1",
            storage_key,
        ]));
        let aead = Aes256Gcm::new_from_slice(&k[..])
            .map_err(|_| anyhow::anyhow!("key sealing: bad key length"))?;
        Ok(KeySeal { aead })
    }

    /// Seal the private key of `key_id`.
    pub fn seal(&self, key_id: &str, private: &[u8; 32]) -> anyhow::Result<Vec<u8>> {
        let nonce = crate::util::random_bytes::<NONCE>()?;
        let mut buf = Zeroizing::new(private.to_vec());
        let tag = self
            .aead
            .encrypt_inout_detached(&nonce.into(), &aad(key_id), buf.as_mut_slice().into())
            .map_err(|_| anyhow::anyhow!("sealing server key {key_id} failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE + 32 + TAG);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        out.extend_from_slice(tag.as_slice());
        Ok(out)
    }

    /// Open the sealed private key of `key_id` (fails for another key id, another storage key,
    /// or any altered byte).
    pub fn open(&self, key_id: &str, blob: &[u8]) -> anyhow::Result<Zeroizing<[u8; 32]>> {
        if blob.len() != 1 + NONCE + 32 + TAG || blob[0] != VERSION {
            bail!("server key {key_id}: not a sealed key");
        }
        let mut nonce = [0u8; NONCE];
        nonce.copy_from_slice(&blob[1..1 + NONCE]);
        let mut tag = [0u8; TAG];
        tag.copy_from_slice(&blob[1 + NONCE + 32..]);
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&blob[1 + NONCE..1 + NONCE + 32]);
        self.aead
            .decrypt_inout_detached(
                &nonce.into(),
                &aad(key_id),
                out.as_mut_slice().into(),
                &tag.into(),
            )
            .map_err(|_| {
                anyhow::anyhow!(
                    "server key {key_id} does not open under this storage key (another \
                     SCV2_STORAGE_KEY than the gateways that stored it?)"
                )
            })?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_are_bound_to_key_and_id() -> anyhow::Result<()> {
        let s = KeySeal::new(&[1; 32])?;
        let blob = s.seal("k-1", &[9; 32])?;
        assert_eq!(*s.open("k-1", &blob)?, [9; 32]);
        assert!(s.open("k-2", &blob).is_err());
        assert!(KeySeal::new(&[2; 32])?.open("k-1", &blob).is_err());
        let mut bad = blob.clone();
        bad[20] ^= 1;
        assert!(s.open("k-1", &bad).is_err());
        assert!(!blob.windows(32).any(|w| w == [9; 32]));
        Ok(())
    }
}
