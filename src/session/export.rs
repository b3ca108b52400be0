//! A server session sealed at rest (SPEC.md section 12): [`ServerSession::export`] and
//! [`ServerSession::import`], the [`StorageKey`] that seals them, and [`export_generation`]. The
//! blob's bytes are laid out by `wire.rs` (`ExportBlob`, `ExportState`).

#![forbid(unsafe_code)]

use zeroize::Zeroizing;

use super::{check_session_id, ServerSession};
use crate::config::ServerConfig;
use crate::error::{Error, Result};
use crate::primitives::{fill_random, AeadKey, NONCE_LEN, TAG_LEN};
use crate::replay::ReplayWindow;
use crate::schedule::{KeyMaterial, SessionKeys, OKM_LEN};
use crate::wire::{ExportBlob, ExportState, EXPORT_V2};

/// The version byte of an exported session (0x02: with a generation; 0x01 is still imported).
pub const EXPORT_VERSION: u8 = EXPORT_V2;

/// A 32-byte key that seals exported sessions at rest. Zeroized on drop; `Debug` is redacted.
#[derive(Debug)]
pub struct StorageKey(AeadKey);

impl StorageKey {
    /// Use 32 bytes as a storage key.
    pub fn new(key: &[u8; 32]) -> StorageKey {
        StorageKey(AeadKey::new(key))
    }
}

/// The generation an exported blob carries in clear ([`ServerSession::generation`] at export time),
/// without the storage key. It is authenticated: a blob whose generation was altered does not
/// import. Errors: [`Error::MalformedEnvelope`] (too short), [`Error::UnsupportedVersion`].
pub fn export_generation(blob: &[u8]) -> Result<u64> {
    ExportBlob::parse_header(blob).map(|(_, generation, _)| generation)
}

impl ServerSession {
    /// Export the session sealed under `storage_key`, for storage across restarts.
    ///
    /// Includes the keys, the expiry, the replay window (high-water mark and bitmap) and the
    /// [generation](ServerSession::generation), read together under the window's lock. The blob is
    /// `0x02 || u64be(generation) || nonce (12) || AES-256-GCM(storage_key, nonce, state, aad =
    /// 0x02 || u64be(generation) || u8(len sid) || sid)` (SPEC.md section 12): the generation is
    /// readable without the key ([`export_generation`]) and authenticated; the session id is
    /// authenticated but not stored, so [`ServerSession::import`] must be given the same id (a blob
    /// stored under another id does not open).
    pub fn export<R: rand_core::TryCryptoRng + ?Sized>(
        &self,
        storage_key: &StorageKey,
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        let okm = self.okm.as_ref().ok_or(Error::InvalidState)?;
        let mut state = Zeroizing::new(Vec::new());
        // The window and its generation, read together (one snapshot under the window's lock).
        let w = self.window().snapshot();
        let (window, top, bits) = w.raw();
        ExportState::write(&mut state, self.expires_at_ms, &okm.0, window, top, bits);
        let generation = w.generation();
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(rng, &mut nonce)?;
        let tag = ExportBlob::with_aad(EXPORT_VERSION, generation, self.sid.as_bytes(), |aad| {
            storage_key.0.seal_in_place(&nonce, aad, &mut state)
        })?;
        Ok(ExportBlob {
            version: EXPORT_VERSION,
            generation,
            nonce: &nonce,
            ciphertext: &state,
            tag: &tag,
        }
        .to_vec())
    }

    /// Rebuild a session from [`ServerSession::export`] output. `session_id` must be the id it was
    /// exported with. Blobs of the previous format (version 0x01, no generation) import with
    /// generation 0. Errors: [`Error::UnsupportedVersion`], [`Error::MalformedEnvelope`],
    /// [`Error::DecryptionFailed`] (wrong key, wrong id, tampered generation, tampered),
    /// [`Error::InvalidArgument`].
    pub fn import(
        storage_key: &StorageKey,
        session_id: &str,
        blob: &[u8],
        config: &ServerConfig,
    ) -> Result<ServerSession> {
        check_session_id(session_id)?;
        let b = ExportBlob::parse(blob)?;
        let mut state = Zeroizing::new(b.ciphertext.to_vec());
        let tag: &[u8; TAG_LEN] = b.tag;
        ExportBlob::with_aad(b.version, b.generation, session_id.as_bytes(), |aad| {
            storage_key.0.open_in_place(b.nonce, aad, &mut state, tag)
        })?;
        let st = ExportState::parse(&state)?;
        crate::replay::check_window(st.window).map_err(|_| Error::MalformedEnvelope)?;
        let words: Vec<u64> = st.words().collect();
        let window = ReplayWindow::from_raw(st.window, st.top, &words, b.generation)
            .map_err(|_| Error::MalformedEnvelope)?;
        let mut okm = KeyMaterial([0u8; OKM_LEN]);
        okm.0.copy_from_slice(st.okm);
        let keys = SessionKeys::from_okm(&okm);
        ServerSession::new(
            session_id.to_owned(),
            st.expires_at_ms,
            okm,
            keys,
            window,
            config,
        )
    }
}
