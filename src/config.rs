//! Configuration: input limits, padding, replay window, and the client's pinned server keys.

#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use crate::keys::{parse_public_key_base64, parse_spki_base64, PinnedKey};
use crate::padding::{check_block, DEFAULT_BLOCK};
use crate::replay::{check_window, DEFAULT_WINDOW};
use crate::suite::Suite;

/// Maximum input sizes, checked before any other work.
///
/// Exceeding one is [`Error::PayloadTooLarge`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest envelope accepted by any `open`/`accept`/`finish` call. Default 1 MiB + 8 KiB.
    pub max_envelope: usize,
    /// Largest request binding (`ctx`). Default 4096; never more than 65535.
    pub max_ctx: usize,
    /// Largest plaintext a `seal`/`start`/`respond` call takes. Default 1 MiB.
    pub max_payload: usize,
}

pub use crate::wire::MAX_CTX;

/// The default cap on an envelope (and on a request or response body carrying one): 1 MiB + 8 KiB.
pub const DEFAULT_MAX_ENVELOPE: usize = (1 << 20) + 8192;
/// The default cap on `ctx`.
pub const DEFAULT_MAX_CTX: usize = 4096;
/// The default cap on a plaintext sealed: 1 MiB.
pub const DEFAULT_MAX_PAYLOAD: usize = 1 << 20;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_envelope: DEFAULT_MAX_ENVELOPE,
            max_ctx: DEFAULT_MAX_CTX,
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }
}

impl Limits {
    pub(crate) fn check_envelope(&self, envelope: &[u8]) -> Result<()> {
        if envelope.len() > self.max_envelope {
            return Err(Error::PayloadTooLarge);
        }
        Ok(())
    }

    pub(crate) fn check_ctx(&self, ctx: &[u8]) -> Result<()> {
        if ctx.len() > self.max_ctx || ctx.len() > MAX_CTX {
            return Err(Error::PayloadTooLarge);
        }
        Ok(())
    }

    pub(crate) fn check_payload(&self, payload: &[u8]) -> Result<()> {
        if payload.len() > self.max_payload {
            return Err(Error::PayloadTooLarge);
        }
        Ok(())
    }
}

/// Server-side settings shared by every session a [`crate::Server`] opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    pub(crate) padding_block: usize,
    pub(crate) replay_window: u32,
    pub(crate) limits: Limits,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            padding_block: DEFAULT_BLOCK,
            replay_window: DEFAULT_WINDOW,
            limits: Limits::default(),
        }
    }
}

impl ServerConfig {
    /// Padding block for everything the server sends (1..=4096; default 64).
    pub fn with_padding_block(mut self, block: usize) -> Result<ServerConfig> {
        check_block(block)?;
        self.padding_block = block;
        Ok(self)
    }
    /// Replay window per session (a multiple of 64 in 64..=65536; default 1024).
    pub fn with_replay_window(mut self, window: u32) -> Result<ServerConfig> {
        check_window(window)?;
        self.replay_window = window;
        Ok(self)
    }
    /// Input limits.
    pub fn with_limits(mut self, limits: Limits) -> Result<ServerConfig> {
        if limits.max_ctx > MAX_CTX {
            return Err(Error::InvalidArgument);
        }
        self.limits = limits;
        Ok(self)
    }
    /// The padding block.
    pub fn padding_block(&self) -> usize {
        self.padding_block
    }
    /// The replay window.
    pub fn replay_window(&self) -> u32 {
        self.replay_window
    }
    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// How a client came to trust a server key (see [`ClientConfig::trust`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The key id is pinned and the document's key matches the pin.
    Pinned(PinnedKey),
    /// Not pinned, and trust on first use is on: the caller should store this key and
    /// [`ClientConfig::pin`] it before starting a handshake with it.
    FirstUse(PinnedKey),
}

/// Client-side settings: the server keys it trusts, padding, limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    pins: Vec<PinnedKey>,
    trust_on_first_use: bool,
    pub(crate) padding_block: usize,
    pub(crate) limits: Limits,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            pins: Vec::new(),
            trust_on_first_use: false,
            padding_block: DEFAULT_BLOCK,
            limits: Limits::default(),
        }
    }
}

impl ClientConfig {
    /// An empty configuration: no pins, trust on first use off, padding block 64.
    pub fn new() -> ClientConfig {
        ClientConfig::default()
    }

    /// Pin a server key (several may be pinned, for rotation). Pinning a key id twice replaces the
    /// earlier pin.
    pub fn pin(&mut self, key: PinnedKey) -> &mut ClientConfig {
        self.pins.retain(|p| p.key_id() != key.key_id());
        self.pins.push(key);
        self
    }

    /// Remove the pin for `key_id`; returns whether there was one.
    pub fn unpin(&mut self, key_id: &str) -> bool {
        let before = self.pins.len();
        self.pins.retain(|p| p.key_id() != key_id);
        before != self.pins.len()
    }

    /// The pinned keys.
    pub fn pins(&self) -> &[PinnedKey] {
        &self.pins
    }

    /// The pin for `key_id`, if any.
    pub fn pinned(&self, key_id: &str) -> Option<&PinnedKey> {
        self.pins.iter().find(|p| p.key_id() == key_id)
    }

    /// Opt into trust on first use (off by default). See [`ClientConfig::trust`].
    pub fn set_trust_on_first_use(&mut self, on: bool) -> &mut ClientConfig {
        self.trust_on_first_use = on;
        self
    }

    /// Padding block for everything the client sends (1..=4096; default 64).
    pub fn set_padding_block(&mut self, block: usize) -> Result<&mut ClientConfig> {
        check_block(block)?;
        self.padding_block = block;
        Ok(self)
    }

    /// Input limits.
    pub fn set_limits(&mut self, limits: Limits) -> Result<&mut ClientConfig> {
        if limits.max_ctx > MAX_CTX {
            return Err(Error::InvalidArgument);
        }
        self.limits = limits;
        Ok(self)
    }

    /// The padding block.
    pub fn padding_block(&self) -> usize {
        self.padding_block
    }

    /// The input limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Check a fetched public-key document (`keyId`, `publicKey`) against the pins.
    ///
    /// - pinned key id, same key: [`Trust::Pinned`] (`publicKey` is read in the pin's suite);
    /// - pinned key id, other key: [`Error::UntrustedServerKey`];
    /// - unknown key id: [`Trust::FirstUse`] (an X25519-suite key; see
    ///   [`ClientConfig::trust_with_suite`]) if trust on first use is on, else
    ///   [`Error::UntrustedServerKey`];
    /// - a `publicKey` that is not a key of the suite: [`Error::InvalidPublicKey`].
    pub fn trust(&self, key_id: &str, public_key_spki_base64: &str) -> Result<Trust> {
        let suite = self.pinned(key_id).map_or(Suite::X25519, PinnedKey::suite);
        self.trust_with_suite(suite, key_id, public_key_spki_base64)
    }

    /// [`ClientConfig::trust`] where the application says which suite an unpinned key id is
    /// of (under trust on first use). A pinned key id is always read in its pin's suite, so a
    /// document cannot move a pinned key id to another suite: a different `suite` here is
    /// [`Error::UntrustedServerKey`].
    pub fn trust_with_suite(&self, suite: Suite, key_id: &str, public_key: &str) -> Result<Trust> {
        match self.pinned(key_id) {
            // Another suite than the pin's is refused as another key would be, before the key
            // is read (it is not of the pin's layout).
            Some(pin) if pin.suite() != suite => Err(Error::UntrustedServerKey),
            Some(pin) => {
                let public = parse_public_key_base64(pin.suite(), public_key)?;
                if pin.same_key(&public) {
                    Ok(Trust::Pinned(pin.clone()))
                } else {
                    Err(Error::UntrustedServerKey)
                }
            }
            None if self.trust_on_first_use => {
                let pin = match suite {
                    Suite::X25519 => PinnedKey::new(key_id, parse_spki_base64(public_key)?)?,
                    _ => PinnedKey::from_public_key_base64(key_id, suite, public_key)?,
                };
                Ok(Trust::FirstUse(pin))
            }
            None => {
                parse_public_key_base64(suite, public_key)?;
                Err(Error::UntrustedServerKey)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::spki_base64;

    #[test]
    fn trust_rules() {
        let mut c = ClientConfig::new();
        c.pin(PinnedKey::new("k1", [1u8; 32]).unwrap());
        assert!(matches!(
            c.trust("k1", &spki_base64(&[1u8; 32])),
            Ok(Trust::Pinned(_))
        ));
        assert_eq!(
            c.trust("k1", &spki_base64(&[2u8; 32])),
            Err(Error::UntrustedServerKey)
        );
        assert_eq!(
            c.trust("k2", &spki_base64(&[2u8; 32])),
            Err(Error::UntrustedServerKey)
        );
        assert_eq!(c.trust("k1", "AAAA"), Err(Error::InvalidPublicKey));
        c.set_trust_on_first_use(true);
        match c.trust("k2", &spki_base64(&[2u8; 32])) {
            Ok(Trust::FirstUse(k)) => assert_eq!(k.public_key(), &[2u8; 32]),
            other => panic!("{other:?}"),
        }
        // A pinned id with another key is refused even with TOFU on.
        assert_eq!(
            c.trust("k1", &spki_base64(&[2u8; 32])),
            Err(Error::UntrustedServerKey)
        );
        // A document of another suite for a pinned id is another key, whatever its bytes (they
        // are not read in the pin's layout).
        let hybrid_doc = <base64ct::Base64 as base64ct::Encoding>::encode_string(
            &[7u8; Suite::X25519MlKem768.public_key_len()],
        );
        assert_eq!(
            c.trust_with_suite(Suite::X25519MlKem768, "k1", &hybrid_doc),
            Err(Error::UntrustedServerKey)
        );
        assert!(c.unpin("k1"));
        assert!(!c.unpin("k1"));
    }

    #[test]
    fn bad_settings() {
        assert!(ClientConfig::new().set_padding_block(0).is_err());
        assert!(ServerConfig::default().with_padding_block(4097).is_err());
        assert!(ServerConfig::default().with_replay_window(65).is_err());
        let l = Limits {
            max_ctx: 70000,
            ..Limits::default()
        };
        assert!(ServerConfig::default().with_limits(l).is_err());
    }
}
