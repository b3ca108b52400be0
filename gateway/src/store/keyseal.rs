//! Server private keys at rest in a shared database: AES-256-GCM under a key derived from the
//! storage key (which never enters that database), bound to the key id.
//!
//! Blob: `0x01 || nonce (12) || ciphertext (the suite's private key length: 32 for X25519, 96
//! for X25519MLKEM768) || tag (16)`; AAD: `"scv2 server key v1" || 0x00 || key id` for an X25519
//! key (the form of schema version 2, unchanged), and that `|| 0x00 || suite name` for any other
//! suite, so a sealed key never opens as a key of another suite. The sealing key is
//! SHA-256(`"scv2 server key sealing v1"` || storage key), so the storage key itself never seals
//! two kinds of data.

use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use anyhow::bail;
use scv2::Suite;
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

fn aad(key_id: &str, suite: Suite) -> Vec<u8> {
    let mut a = [b"scv2 server key v1\0".as_slice(), key_id.as_bytes()].concat();
    if suite != Suite::X25519 {
        a.push(0);
        a.extend_from_slice(suite.name().as_bytes());
    }
    a
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

    /// Seal the private key of `key_id` (of `suite`, [`Suite::private_key_len`] bytes).
    pub fn seal(&self, key_id: &str, suite: Suite, private: &[u8]) -> anyhow::Result<Vec<u8>> {
        if private.len() != suite.private_key_len() {
            bail!("server key {key_id}: not a {suite} private key");
        }
        let nonce = crate::util::random_bytes::<NONCE>()?;
        let mut buf = Zeroizing::new(private.to_vec());
        let tag = self
            .aead
            .encrypt_inout_detached(
                &nonce.into(),
                &aad(key_id, suite),
                buf.as_mut_slice().into(),
            )
            .map_err(|_| anyhow::anyhow!("sealing server key {key_id} failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE + private.len() + TAG);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        out.extend_from_slice(tag.as_slice());
        Ok(out)
    }

    /// Open the sealed private key of `key_id`, of `suite` (fails for another key id, another
    /// suite, another storage key, or any altered byte).
    pub fn open(
        &self,
        key_id: &str,
        suite: Suite,
        blob: &[u8],
    ) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        let len = suite.private_key_len();
        if blob.len() != 1 + NONCE + len + TAG || blob[0] != VERSION {
            bail!("server key {key_id}: not a sealed {suite} key");
        }
        let mut nonce = [0u8; NONCE];
        nonce.copy_from_slice(&blob[1..1 + NONCE]);
        let mut tag = [0u8; TAG];
        tag.copy_from_slice(&blob[1 + NONCE + len..]);
        let mut out = Zeroizing::new(blob[1 + NONCE..1 + NONCE + len].to_vec());
        self.aead
            .decrypt_inout_detached(
                &nonce.into(),
                &aad(key_id, suite),
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
        let x = Suite::X25519;
        let blob = s.seal("k-1", x, &[9; 32])?;
        assert_eq!(*s.open("k-1", x, &blob)?, [9; 32]);
        assert!(s.open("k-2", x, &blob).is_err());
        assert!(KeySeal::new(&[2; 32])?.open("k-1", x, &blob).is_err());
        let mut bad = blob.clone();
        bad[20] ^= 1;
        assert!(s.open("k-1", x, &bad).is_err());
        assert!(!blob.windows(32).any(|w| w == [9; 32]));
        Ok(())
    }

    #[test]
    fn hybrid_seals_are_bound_to_their_suite() -> anyhow::Result<()> {
        let s = KeySeal::new(&[1; 32])?;
        let pq = Suite::X25519MlKem768;
        assert!(s.seal("k-pq", pq, &[7; 32]).is_err());
        let blob = s.seal("k-pq", pq, &[7; 96])?;
        assert_eq!(blob.len(), 1 + NONCE + 96 + TAG);
        assert_eq!(*s.open("k-pq", pq, &blob)?, [7; 96]);
        assert!(s.open("k-pq", Suite::X25519, &blob).is_err());
        assert!(s.open("k-other", pq, &blob).is_err());
        // An X25519 blob never opens as a hybrid key, even at the right length.
        let x = s.seal("k-pq", Suite::X25519, &[7; 32])?;
        assert!(s.open("k-pq", pq, &x).is_err());
        let mut bad = blob.clone();
        bad[1 + NONCE + 50] ^= 1;
        assert!(s.open("k-pq", pq, &bad).is_err());
        assert!(!blob.windows(96).any(|w| w == [7; 96]));
        Ok(())
    }
}
