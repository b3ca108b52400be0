//! A client/server pair through the Rust API: one server key, a client that pinned it, the
//! handshake run, and helpers for one request at a time.
//!
//! ```
//! use scv2_test_support::{pair::Pair, CTX};
//!
//! let p = Pair::new();
//! let (pending, request) = p.seal(CTX, b"{}");
//! let (slot, body) = p.open(CTX, &request).unwrap();
//! let response = p.respond(slot, CTX, &body);
//! assert_eq!(p.answer(pending, CTX, &response).unwrap(), b"{}");
//! ```

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use scv2::{
    max_open_len, AcceptedHandshake, ClientConfig, ClientHandshake, ClientSession, Error, Limits,
    PendingRequest, PinnedKey, ResponseSlot, Server, ServerConfig, ServerKey, ServerSession, Suite,
};

use crate::NOW;

/// Fixed keys for a pair whose envelopes are always the same bytes (the core's test-vector
/// constructors; feature `test-vectors`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedKeys {
    /// The server's static private key.
    pub server_static: [u8; 32],
    /// The client's ephemeral private key `e`.
    pub client_ephemeral: [u8; 32],
    /// The server's ephemeral private key `f`.
    pub server_ephemeral: [u8; 32],
    /// `iv1`.
    pub iv1: [u8; 12],
}

/// How to build a [`Pair`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Seeds the RNG of the keys, the handshake and the session id (ignored with `fixed`).
    pub seed: u64,
    /// Fixed keys instead of the seeded RNG (feature `test-vectors`; X25519 suite only).
    pub fixed: Option<FixedKeys>,
    /// The suite of the server key (default [`Suite::X25519`]).
    pub suite: Suite,
    /// The server key's id.
    pub key_id: String,
    /// The server key's validity.
    pub key_created_at_ms: u64,
    /// `None`: never expires.
    pub key_expires_at_ms: Option<u64>,
    /// The client's padding block.
    pub client_block: usize,
    /// The server's padding block.
    pub server_block: usize,
    /// The server's replay window.
    pub window: u32,
    /// The server's limits (the client keeps the defaults unless `client_limits` is set).
    pub server_limits: Limits,
    /// The client's limits.
    pub client_limits: Limits,
    /// The session id the server gives.
    pub session_id: String,
    /// The session's expiry.
    pub expires_at_ms: u64,
    /// The type-1 payload.
    pub kx_payload: Vec<u8>,
    /// The type-130 application payload.
    pub app_payload: Vec<u8>,
    /// The time of the handshake (and [`Pair::now_ms`]).
    pub now_ms: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            seed: 1,
            fixed: None,
            suite: Suite::X25519,
            key_id: "k1".to_owned(),
            key_created_at_ms: NOW - 1000,
            key_expires_at_ms: None,
            client_block: 64,
            server_block: 64,
            window: 1024,
            server_limits: Limits::default(),
            client_limits: Limits::default(),
            session_id: "sid-1".to_owned(),
            expires_at_ms: NOW + 600_000,
            kx_payload: Vec::new(),
            app_payload: Vec::new(),
            now_ms: NOW,
        }
    }
}

/// A server, a client configuration that pins its key, the two handshake envelopes and the
/// established session on both sides.
pub struct Pair {
    /// The server (one key).
    pub server: Server,
    /// The client configuration (the key pinned).
    pub config: ClientConfig,
    /// The type 1 of the handshake.
    pub kx: Vec<u8>,
    /// The type 130.
    pub kxr: Vec<u8>,
    /// The client's session.
    pub client: ClientSession,
    /// The server's session.
    pub session: ServerSession,
    /// The time the helpers use.
    pub now_ms: u64,
    /// What the pair was built from.
    pub options: Options,
}

impl Options {
    /// The server with its key, and the client configuration pinning it.
    pub fn server_and_config(&self) -> (Server, ClientConfig) {
        let mut rng = ChaCha20Rng::seed_from_u64(self.seed);
        let cfg = ServerConfig::default()
            .with_padding_block(self.server_block)
            .expect("server block")
            .with_replay_window(self.window)
            .expect("window")
            .with_limits(self.server_limits)
            .expect("limits");
        let mut server = Server::new(cfg);
        let key = match &self.fixed {
            Some(_) if self.suite != Suite::X25519 => {
                panic!("fixed keys are for the X25519 suite only")
            }
            Some(f) => ServerKey::from_private_bytes(
                &self.key_id,
                &f.server_static,
                self.key_created_at_ms,
                self.key_expires_at_ms,
            ),
            None => ServerKey::generate_with_suite(
                self.suite,
                &self.key_id,
                self.key_created_at_ms,
                self.key_expires_at_ms,
                &mut rng,
            ),
        }
        .expect("server key");
        let mut config = ClientConfig::new();
        config.pin(
            PinnedKey::with_suite(&self.key_id, key.suite(), key.public_key_bytes()).expect("pin"),
        );
        config
            .set_padding_block(self.client_block)
            .expect("client block");
        config
            .set_limits(self.client_limits)
            .expect("client limits");
        server.add_key(key).expect("add key");
        (server, config)
    }

    /// A client handshake under `config` and its type 1 (the same bytes every time with fixed
    /// keys; a new one from the seeded RNG, advanced by `round`, otherwise).
    pub fn start(&self, config: &ClientConfig, round: u64) -> (ClientHandshake, Vec<u8>) {
        match &self.fixed {
            #[cfg(feature = "test-vectors")]
            Some(f) => ClientHandshake::start_with_ephemeral_for_test_vectors(
                config,
                &self.key_id,
                &self.kx_payload,
                f.client_ephemeral,
                f.iv1,
            ),
            #[cfg(not(feature = "test-vectors"))]
            Some(_) => panic!("fixed keys need the `test-vectors` feature"),
            None => {
                let mut rng = ChaCha20Rng::seed_from_u64(self.seed.wrapping_add(1 + round));
                ClientHandshake::start(config, &self.key_id, &self.kx_payload, &mut rng)
            }
        }
        .expect("handshake start")
    }

    /// The server's answer to an accepted type 1.
    pub fn respond(&self, accepted: AcceptedHandshake) -> (ServerSession, Vec<u8>) {
        match &self.fixed {
            #[cfg(feature = "test-vectors")]
            Some(f) => accepted.respond_with_ephemeral_for_test_vectors(
                &self.session_id,
                self.expires_at_ms,
                &self.app_payload,
                f.server_ephemeral,
            ),
            #[cfg(not(feature = "test-vectors"))]
            Some(_) => panic!("fixed keys need the `test-vectors` feature"),
            None => {
                let mut rng = ChaCha20Rng::seed_from_u64(self.seed.wrapping_add(1_000_003));
                accepted.respond(
                    &self.session_id,
                    self.expires_at_ms,
                    &self.app_payload,
                    &mut rng,
                )
            }
        }
        .expect("handshake respond")
    }

    /// Build the pair.
    pub fn build(&self) -> Pair {
        let (server, config) = self.server_and_config();
        let (hs, kx) = self.start(&config, 0);
        let accepted = server.accept(&kx, self.now_ms).expect("accept");
        let (session, kxr) = self.respond(accepted);
        let client = hs.finish(&kxr, self.now_ms).expect("finish");
        Pair {
            server,
            config,
            kx,
            kxr,
            client,
            session,
            now_ms: self.now_ms,
            options: self.clone(),
        }
    }
}

impl Pair {
    /// The default pair: padding block 64, window 1024, session "sid-1" for 10 minutes.
    pub fn new() -> Pair {
        Options::default().build()
    }

    /// A pair from the default options changed by `f`.
    pub fn with(f: impl FnOnce(&mut Options)) -> Pair {
        let mut o = Options::default();
        f(&mut o);
        o.build()
    }

    /// Seal a request; the envelope is exactly `sealed_len` bytes.
    pub fn seal(&self, ctx: &[u8], body: &[u8]) -> (PendingRequest, Vec<u8>) {
        seal(&self.client, ctx, body, self.now_ms).expect("seal_request")
    }

    /// Open a request at [`Pair::now_ms`].
    pub fn open(&self, ctx: &[u8], envelope: &[u8]) -> Result<(ResponseSlot, Vec<u8>), Error> {
        open(&self.session, ctx, envelope, self.now_ms)
    }

    /// Seal the response to `slot`.
    pub fn respond(&self, slot: ResponseSlot, ctx: &[u8], body: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; self.session.sealed_len(body.len())];
        let n = self
            .session
            .seal_response(slot, ctx, body, &mut out)
            .expect("seal_response");
        out.truncate(n);
        out
    }

    /// Open the response to `pending`.
    pub fn answer(
        &self,
        pending: PendingRequest,
        ctx: &[u8],
        envelope: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let mut out = vec![0u8; max_open_len(envelope.len())];
        let n = self
            .client
            .open_response(pending, ctx, envelope, &mut out)
            .map_err(|e| e.error)?;
        out.truncate(n);
        Ok(out)
    }

    /// One whole exchange; returns the answer as the client read it.
    pub fn round_trip(&self, ctx: &[u8], body: &[u8], answer: &[u8]) -> Vec<u8> {
        let (pending, request) = self.seal(ctx, body);
        let (slot, got) = self.open(ctx, &request).expect("open_request");
        assert_eq!(got, body);
        let response = self.respond(slot, ctx, answer);
        self.answer(pending, ctx, &response).expect("open_response")
    }
}

impl Default for Pair {
    fn default() -> Pair {
        Pair::new()
    }
}

/// Seal a request on `client` at `now_ms` into an exact-size envelope.
pub fn seal(
    client: &ClientSession,
    ctx: &[u8],
    body: &[u8],
    now_ms: u64,
) -> Result<(PendingRequest, Vec<u8>), Error> {
    let mut out = vec![0u8; client.sealed_len(body.len())];
    let (p, n) = client.seal_request(ctx, body, now_ms, &mut out)?;
    out.truncate(n);
    Ok((p, out))
}

/// Open a request on `session` at `now_ms`; returns the slot and the body.
pub fn open(
    session: &ServerSession,
    ctx: &[u8],
    envelope: &[u8],
    now_ms: u64,
) -> Result<(ResponseSlot, Vec<u8>), Error> {
    let mut out = vec![0u8; max_open_len(envelope.len())];
    let (slot, n) = session.open_request(ctx, envelope, now_ms, &mut out)?;
    out.truncate(n);
    Ok((slot, out))
}
