//! The key-exchange suites (SPEC.md sections 4 and 15): their names, labels and every length
//! that differs between them, in one place. The handshake, the key store, the pins and the
//! boundary (`ffi/`) ask [`Suite`] for these values and never spell them out themselves.
//!
//! | | [`Suite::X25519`] | [`Suite::X25519MlKem768`] |
//! |---|---|---|
//! | `algorithm` | `X25519-HKDF-SHA256-AES-256-GCM` | `X25519MLKEM768-HKDF-SHA256-AES-256-GCM` |
//! | `reqKey` | `E` (32) | `ct1 \|\| E` (1120) |
//! | `respKey` | none (0) | `ek_e` (1184) |
//! | `header2` | `"SC" 02 82 \|\| F` (36) | `"SC" 02 82 \|\| ct2 \|\| F` (1124) |
//! | public key | `S` (32; SPKI in the document) | `ek_s \|\| S` (1216) |
//! | private key | `s` (32) | `s \|\| d_s \|\| z_s` (96) |

#![forbid(unsafe_code)]

use core::fmt;

use crate::padding;
use crate::primitives::{
    MLKEM768_CIPHERTEXT_LEN, MLKEM768_ENCAPS_KEY_LEN, MLKEM_SEED_LEN, NONCE_LEN, TAG_LEN,
    X25519_LEN,
};
use crate::wire::{self, MAX_KEY_ID_LEN, MAX_SESSION_ID_LEN};

/// A key-exchange suite. The suite is a property of a key id (SPEC.md section 4): a client takes
/// it from its pin, a server from the key the type 1 names. There is no negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Suite {
    /// `X25519-HKDF-SHA256-AES-256-GCM` (SPEC.md sections 2–14).
    X25519,
    /// `X25519MLKEM768-HKDF-SHA256-AES-256-GCM`, hybrid post-quantum (SPEC.md section 15).
    X25519MlKem768,
}

/// `LABEL` of the X25519 suite: the 35 ASCII bytes that start `h1`.
pub const LABEL: &[u8; 35] = b"SCv2 X25519-HKDF-SHA256-AES-256-GCM";
/// `LABEL_PQ` of the hybrid suite: the 43 ASCII bytes that start `h1`.
pub const LABEL_PQ: &[u8; 43] = b"SCv2 X25519MLKEM768-HKDF-SHA256-AES-256-GCM";

impl Suite {
    /// Every suite, in the order of their [`Suite::id`]s.
    pub const ALL: [Suite; 2] = [Suite::X25519, Suite::X25519MlKem768];

    /// The document's `algorithm` string.
    pub const fn name(self) -> &'static str {
        match self {
            Suite::X25519 => "X25519-HKDF-SHA256-AES-256-GCM",
            Suite::X25519MlKem768 => "X25519MLKEM768-HKDF-SHA256-AES-256-GCM",
        }
    }

    /// The suite whose `algorithm` string is `name` (exact, case-sensitive).
    pub fn from_name(name: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.name() == name)
    }

    /// A stable small number for the boundary (`SCV2_SUITE_*` in the C ABI): 1 and 2.
    pub const fn id(self) -> u32 {
        match self {
            Suite::X25519 => 1,
            Suite::X25519MlKem768 => 2,
        }
    }

    /// The suite with [`Suite::id`] `id`.
    pub fn from_id(id: u32) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The label that starts `h1`.
    pub const fn label(self) -> &'static [u8] {
        match self {
            Suite::X25519 => LABEL,
            Suite::X25519MlKem768 => LABEL_PQ,
        }
    }

    /// `reqKeyLen` of a type 1.
    pub const fn request_key_len(self) -> usize {
        match self {
            Suite::X25519 => X25519_LEN,
            Suite::X25519MlKem768 => MLKEM768_CIPHERTEXT_LEN + X25519_LEN,
        }
    }

    /// `respKeyLen` of a type 1.
    pub const fn response_key_len(self) -> usize {
        match self {
            Suite::X25519 => 0,
            Suite::X25519MlKem768 => MLKEM768_ENCAPS_KEY_LEN,
        }
    }

    /// Length of `header2`, the type-130 bytes before the IV.
    pub const fn response_header_len(self) -> usize {
        match self {
            Suite::X25519 => 4 + X25519_LEN,
            Suite::X25519MlKem768 => 4 + MLKEM768_CIPHERTEXT_LEN + X25519_LEN,
        }
    }

    /// Length of the raw public key (`S`, or `ek_s || S`).
    pub const fn public_key_len(self) -> usize {
        match self {
            Suite::X25519 => X25519_LEN,
            Suite::X25519MlKem768 => MLKEM768_ENCAPS_KEY_LEN + X25519_LEN,
        }
    }

    /// Length of the private key form (`s`, or `s || d_s || z_s`).
    pub const fn private_key_len(self) -> usize {
        match self {
            Suite::X25519 => X25519_LEN,
            Suite::X25519MlKem768 => X25519_LEN + MLKEM_SEED_LEN,
        }
    }

    /// The document's informational `keySize`: bits of the raw public key.
    pub const fn key_size_bits(self) -> u32 {
        (self.public_key_len() * 8) as u32
    }

    /// Length of `header1` for a key id of `key_id_len` bytes.
    pub const fn key_exchange_header_len(self, key_id_len: usize) -> usize {
        4 + 1 + key_id_len + 2 + self.request_key_len() + 2 + self.response_key_len()
    }

    /// Length of the type-1 envelope for a key id of `key_id_len` bytes and a
    /// `payload_len`-byte payload padded to `block`.
    ///
    /// `None` if `key_id_len` is not in 1..=255, `block` not in 1..=4096, or the length
    /// overflows (or exceeds `isize::MAX`).
    pub fn key_exchange_len(
        self,
        key_id_len: usize,
        payload_len: usize,
        block: usize,
    ) -> Option<usize> {
        if !(1..=MAX_KEY_ID_LEN).contains(&key_id_len) {
            return None;
        }
        padding::check_block(block).ok()?;
        padding::padded_len(payload_len, block)?
            .checked_add(self.key_exchange_header_len(key_id_len) + NONCE_LEN + TAG_LEN)
            .filter(|&n| n <= isize::MAX as usize)
    }

    /// Length of the type-130 envelope for a session id of `session_id_len` bytes and an
    /// `app_payload_len`-byte application payload padded to `block`.
    ///
    /// `None` if `session_id_len` is not in 1..=64, `block` not in 1..=4096, or the length
    /// overflows (or exceeds `isize::MAX`).
    pub fn key_exchange_response_len(
        self,
        session_id_len: usize,
        app_payload_len: usize,
        block: usize,
    ) -> Option<usize> {
        if !(1..=MAX_SESSION_ID_LEN).contains(&session_id_len) {
            return None;
        }
        padding::check_block(block).ok()?;
        let plain = wire::session_grant_len(session_id_len, app_payload_len)?;
        padding::padded_len(plain, block)?
            .checked_add(self.response_header_len() + NONCE_LEN + TAG_LEN)
            .filter(|&n| n <= isize::MAX as usize)
    }

    /// The smallest type 130 of this suite (`header2` and 29 bytes of AEAD).
    pub const fn min_key_exchange_response_len(self) -> usize {
        self.response_header_len() + wire::MIN_AEAD_LEN
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_spec_section_15() {
        let h = Suite::X25519MlKem768;
        assert_eq!(h.request_key_len(), 1120);
        assert_eq!(h.response_key_len(), 1184);
        assert_eq!(h.response_header_len(), 1124);
        assert_eq!(h.public_key_len(), 1216);
        assert_eq!(h.private_key_len(), 96);
        assert_eq!(h.key_size_bits(), 9728);
        assert_eq!(h.min_key_exchange_response_len(), 1153);
        // 15.7: 2414 for a 9-byte keyId, payload "{}", block 64; 1216 for a 22-byte sid.
        assert_eq!(h.key_exchange_len(9, 2, 64), Some(2414));
        assert_eq!(h.key_exchange_len(1, 0, 1), Some(2343));
        assert_eq!(h.key_exchange_response_len(22, 0, 64), Some(1216));
        let x = Suite::X25519;
        assert_eq!(x.key_size_bits(), 256);
        assert_eq!(x.key_exchange_len(2, 0, 64), Some(43 + 12 + 64 + 16));
        assert_eq!(x.min_key_exchange_response_len(), 65);
        assert_eq!(LABEL_PQ.len(), 43);
        assert_eq!(&LABEL_PQ[5..], h.name().as_bytes());
        assert_eq!(&LABEL[5..], x.name().as_bytes());
    }

    #[test]
    fn names_and_ids_round_trip() {
        for s in Suite::ALL {
            assert_eq!(Suite::from_name(s.name()), Some(s));
            assert_eq!(Suite::from_id(s.id()), Some(s));
            assert_eq!(s.to_string(), s.name());
        }
        assert_eq!(Suite::from_name("x25519-hkdf-sha256-aes-256-gcm"), None);
        assert_eq!(Suite::from_id(0), None);
        assert_eq!(Suite::from_id(3), None);
    }
}
