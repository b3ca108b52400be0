//! The response headers that go with an answer (a proxied upstream's `Set-Cookie`,
//! `Cache-Control`, …), kept with the cached type 129 so that a byte-identical retransmission
//! gets them too, and sealed at rest: a `Set-Cookie` is as secret as the body it came with.
//!
//! Sealing: AES-256-GCM under a key of its own for every blob, derived with HKDF-SHA256 from
//! the storage key (input key material), a fresh random 32-byte salt, and the info
//! `"scv2-gateway answer headers v1" || u8(len sid) || sid || digest` (the session id and the
//! SHA-256 of the request envelope the answer belongs to), nonce all zero (each key seals one
//! blob). A blob is `0x01 || salt (32) || ciphertext || tag (16)`; it opens only for its own
//! session and request, so rows cannot be swapped. No headers: an empty blob (the built-in routes).
//!
//! The plaintext is the header list, each `u16be(len name) || name || u16be(len value) || value`,
//! in order (repeated names, such as several `Set-Cookie`, stay separate).

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::Aes256Enc;
use aes_gcm::{AesGcm, Key, Nonce, Tag};
use axum::http::{HeaderName, HeaderValue};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::util::random_bytes;

type Aes256Gcm = AesGcm<Aes256Enc, U12>;

const VERSION: u8 = 1;
const SALT: usize = 32;
const TAG: usize = 16;
const INFO: &[u8] = b"scv2-gateway answer headers v1";

/// Headers sent with an answer, in order.
pub type HeaderList = Vec<(HeaderName, HeaderValue)>;

/// The key material blobs are sealed under (derived from the storage key; zeroized on drop).
pub struct HeadersKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for HeadersKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeadersKey([redacted])")
    }
}

impl HeadersKey {
    /// The key for `storage_key`.
    pub fn new(storage_key: &[u8; 32]) -> HeadersKey {
        HeadersKey(Zeroizing::new(*storage_key))
    }

    fn cipher(&self, salt: &[u8], sid: &str, digest: &[u8; 32]) -> Option<Aes256Gcm> {
        let sid = sid.as_bytes();
        let sid_len = u8::try_from(sid.len()).ok()?;
        let mut info = Vec::with_capacity(INFO.len() + 1 + sid.len() + 32);
        info.extend_from_slice(INFO);
        info.push(sid_len);
        info.extend_from_slice(sid);
        info.extend_from_slice(digest);
        let mut okm = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(salt), &self.0[..])
            .expand(&info, &mut okm[..])
            .ok()?;
        Some(Aes256Gcm::new(<&Key<Aes256Gcm>>::from(&*okm)))
    }

    /// Seal `headers` for the answer to the request with `digest` on session `sid`.
    pub fn seal(
        &self,
        sid: &str,
        digest: &[u8; 32],
        headers: &[(HeaderName, HeaderValue)],
    ) -> Result<Vec<u8>, scv2::Error> {
        if headers.is_empty() {
            return Ok(Vec::new());
        }
        let mut plain = Zeroizing::new(Vec::new());
        for (name, value) in headers {
            for part in [name.as_str().as_bytes(), value.as_bytes()] {
                let len = u16::try_from(part.len()).map_err(|_| scv2::Error::PayloadTooLarge)?;
                plain.extend_from_slice(&len.to_be_bytes());
                plain.extend_from_slice(part);
            }
        }
        let salt = random_bytes::<SALT>().map_err(|_| scv2::Error::Internal)?;
        let cipher = self
            .cipher(&salt, sid, digest)
            .ok_or(scv2::Error::Internal)?;
        let mut out = Vec::with_capacity(1 + SALT + plain.len() + TAG);
        out.push(VERSION);
        out.extend_from_slice(&salt);
        let start = out.len();
        out.extend_from_slice(&plain);
        let nonce = [0u8; 12];
        let tag = cipher
            .encrypt_inout_detached(<&Nonce<U12>>::from(&nonce), b"", (&mut out[start..]).into())
            .map_err(|_| scv2::Error::Internal)?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Open a blob of [`HeadersKey::seal`] (`None`: it does not open, or it is corrupt).
    pub fn open(&self, sid: &str, digest: &[u8; 32], blob: &[u8]) -> Option<HeaderList> {
        if blob.is_empty() {
            return Some(Vec::new());
        }
        if blob.len() < 1 + SALT + TAG || blob[0] != VERSION {
            return None;
        }
        let (salt, rest) = blob[1..].split_at(SALT);
        let (ct, tag) = rest.split_at(rest.len() - TAG);
        let cipher = self.cipher(salt, sid, digest)?;
        let mut plain = Zeroizing::new(ct.to_vec());
        let tag: [u8; TAG] = tag.try_into().ok()?;
        let nonce = [0u8; 12];
        cipher
            .decrypt_inout_detached(
                <&Nonce<U12>>::from(&nonce),
                b"",
                (&mut plain[..]).into(),
                <&Tag>::from(&tag),
            )
            .ok()?;
        let mut list = Vec::new();
        let mut rest: &[u8] = &plain;
        while !rest.is_empty() {
            let name = take(&mut rest)?;
            let value = take(&mut rest)?;
            list.push((
                HeaderName::from_bytes(name).ok()?,
                HeaderValue::from_bytes(value).ok()?,
            ));
        }
        Some(list)
    }
}

fn take<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len_bytes: [u8; 2] = rest.get(..2)?.try_into().ok()?;
    let len = usize::from(u16::from_be_bytes(len_bytes));
    let part = rest.get(2..2 + len)?;
    *rest = &rest[2 + len..];
    Some(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let k = HeadersKey::new(&[7u8; 32]);
        let h: HeaderList = vec![
            (
                HeaderName::from_static("set-cookie"),
                HeaderValue::from_static("a=1; HttpOnly"),
            ),
            (
                HeaderName::from_static("set-cookie"),
                HeaderValue::from_static("b=2"),
            ),
            (
                HeaderName::from_static("cache-control"),
                HeaderValue::from_static("no-store"),
            ),
        ];
        let d = [1u8; 32];
        let blob = k.seal("sid-1", &d, &h).unwrap_or_default();
        assert!(!blob.windows(3).any(|w| w == b"a=1"));
        assert_eq!(k.open("sid-1", &d, &blob), Some(h.clone()));
        // Bound to the session, the request and the key.
        assert_eq!(k.open("sid-2", &d, &blob), None);
        assert_eq!(k.open("sid-1", &[2u8; 32], &blob), None);
        assert_eq!(HeadersKey::new(&[8u8; 32]).open("sid-1", &d, &blob), None);
        let mut bad = blob.clone();
        if let Some(b) = bad.last_mut() {
            *b ^= 1;
        }
        assert_eq!(k.open("sid-1", &d, &bad), None);
        assert_eq!(k.open("sid-1", &d, &blob[..10]), None);
        // Two seals of the same list differ (fresh salt).
        assert_ne!(k.seal("sid-1", &d, &h).unwrap_or_default(), blob);
        assert_eq!(k.seal("sid-1", &d, &[]), Ok(Vec::new()));
        assert_eq!(k.open("sid-1", &d, &[]), Some(Vec::new()));
    }
}
