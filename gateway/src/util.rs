//! Small helpers shared by the server, the CLI and `inspect`: hex, randomness, tokens, SHA-256.

use scv2::rand_core::TryRng;
use scv2::OsRng;
use sha2::{Digest, Sha256};

/// Lowercase hex.
pub fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// `N` bytes from the OS RNG.
pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    OsRng
        .try_fill_bytes(&mut b)
        .map_err(|_| anyhow::anyhow!("OS RNG failed"))?;
    Ok(b)
}

/// A fresh random `u64` (claim ids).
pub fn random_u64() -> anyhow::Result<u64> {
    Ok(u64::from_be_bytes(random_bytes::<8>()?))
}

/// A fresh token for a registration (the init session id): 128 random bits, base64url.
pub fn new_token() -> anyhow::Result<String> {
    scv2::generate_session_id(&mut OsRng).map_err(|e| anyhow::anyhow!("token: {e}"))
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The first 16 bytes of SHA-256 over `parts`, each prefixed with its length (an unambiguous
/// fixed-size key for in-memory tables: two different part lists never collide by framing).
pub fn key16(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let d: [u8; 32] = h.finalize().into();
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_hashes() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(
            hex(&sha256(&[b"ab", b"c"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(key16(&[b"ab", b"c"]), key16(&[b"a", b"bc"]));
    }
}
