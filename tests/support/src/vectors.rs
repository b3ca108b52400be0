//! The cases of `tests/vectors/scv2-x25519.json` (compiled in): the fixtures of the fuzz targets
//! and of any test that needs a session whose envelopes are exactly the vector file's. The
//! fixtures that rebuild a case's handshake need the `test-vectors` feature.

use scv2::{ClientConfig, PinnedKey, Server, ServerConfig, ServerKey};
#[cfg(feature = "test-vectors")]
use scv2::{ClientHandshake, ClientSession, ServerSession};
use serde_json::Value;

use crate::hex::{unhex, unhex_array};

/// The vector file, compiled in.
pub const VECTORS: &str = include_str!("../../vectors/scv2-x25519.json");

/// The case the `server_open`, `client_open` and `ffi` fixtures are built from: padding block 1,
/// six exchanges opened out of order, a full set of negatives.
pub const PRIMARY_CASE: &str = "many-exchanges-reordered-block-1";
/// A second case, used as "another session" (foreign tokens).
pub const OTHER_CASE: &str = "empty-everything-block-1";

/// A key id the fixture servers hold only as expired (at every `now`), so that a type 1 naming
/// it is `unknown_key_id`.
pub const EXPIRED_KEY_ID: &str = "k-expired";

fn arr<const N: usize>(s: &str) -> [u8; N] {
    unhex_array(s)
}

/// One request/response exchange of a case.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub seq: u64,
    pub ctx: Vec<u8>,
    pub request: Vec<u8>,
    pub request_envelope: Vec<u8>,
    pub response: Vec<u8>,
    pub response_envelope: Vec<u8>,
}

/// One case of the vector file.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub key_id: String,
    pub server_static_private: [u8; 32],
    pub server_static_public: [u8; 32],
    pub client_ephemeral_private: [u8; 32],
    pub server_ephemeral_private: [u8; 32],
    pub iv1: [u8; 12],
    pub padding_block: usize,
    pub now_ms: u64,
    pub kx_payload: Vec<u8>,
    pub kx_envelope: Vec<u8>,
    pub session_id: String,
    pub expires_at_ms: u64,
    pub kxr_payload: Vec<u8>,
    pub kxr_envelope: Vec<u8>,
    /// In the file's order (the order the server opens them).
    pub exchanges: Vec<Exchange>,
    /// `iv_c2s` and `iv_s2c`, recovered from the exchanges (`IV XOR seq`).
    pub iv_c2s: [u8; 12],
    pub iv_s2c: [u8; 12],
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("field {k}"))
}
fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("field {k}"))
}

/// `iv_dir` from an envelope's IV and its sequence number.
fn iv_from(envelope: &[u8], seq: u64) -> [u8; 12] {
    let mut iv: [u8; 12] = envelope[4..16].try_into().expect("iv");
    for (b, x) in iv[4..].iter_mut().zip(seq.to_be_bytes()) {
        *b ^= x;
    }
    iv
}

impl Case {
    /// Load the case `name` from the compiled-in vector file.
    pub fn load(name: &str) -> Case {
        let file: Value = serde_json::from_str(VECTORS).expect("vector file is JSON");
        let c = file["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no case {name}"));
        let exchanges: Vec<Exchange> = c["exchanges"]
            .as_array()
            .expect("exchanges")
            .iter()
            .map(|x| Exchange {
                seq: u(x, "seq"),
                ctx: unhex(s(x, "ctx")),
                request: unhex(s(x, "request")),
                request_envelope: unhex(s(x, "request_envelope")),
                response: unhex(s(x, "response")),
                response_envelope: unhex(s(x, "response_envelope")),
            })
            .collect();
        let first = exchanges.first().expect("at least one exchange");
        let iv_c2s = iv_from(&first.request_envelope, first.seq);
        let iv_s2c = iv_from(&first.response_envelope, first.seq);
        for x in &exchanges {
            assert_eq!(iv_from(&x.request_envelope, x.seq), iv_c2s);
            assert_eq!(iv_from(&x.response_envelope, x.seq), iv_s2c);
        }
        Case {
            name: name.to_owned(),
            key_id: s(c, "key_id").to_owned(),
            server_static_private: arr(s(c, "server_static_private")),
            server_static_public: arr(s(c, "server_static_public")),
            client_ephemeral_private: arr(s(c, "client_ephemeral_private")),
            server_ephemeral_private: arr(s(c, "server_ephemeral_private")),
            iv1: arr(s(c, "iv1")),
            padding_block: u(c, "padding_block") as usize,
            now_ms: u(c, "now_ms"),
            kx_payload: unhex(s(c, "kx_payload")),
            kx_envelope: unhex(s(c, "kx_envelope")),
            session_id: s(c, "session_id").to_owned(),
            expires_at_ms: u(c, "expires_at_ms"),
            kxr_payload: unhex(s(c, "kxr_payload")),
            kxr_envelope: unhex(s(c, "kxr_envelope")),
            exchanges,
            iv_c2s,
            iv_s2c,
        }
    }

    /// The exchange with sequence number `seq`.
    pub fn exchange(&self, seq: u64) -> Option<&Exchange> {
        self.exchanges.iter().find(|x| x.seq == seq)
    }

    /// The server configuration of the case (its padding block, default limits and window).
    pub fn server_config(&self) -> ServerConfig {
        ServerConfig::default()
            .with_padding_block(self.padding_block)
            .expect("block")
    }

    /// A server holding the case's key (valid forever) and [`EXPIRED_KEY_ID`] (expired).
    pub fn server(&self) -> Server {
        let mut server = Server::new(self.server_config());
        server
            .add_key(
                ServerKey::from_private_bytes(
                    &self.key_id,
                    &self.server_static_private,
                    self.now_ms - 86_400_000,
                    None,
                )
                .expect("case key"),
            )
            .expect("add key");
        server
            .add_key(
                ServerKey::from_private_bytes(EXPIRED_KEY_ID, &[0x42; 32], 0, Some(1))
                    .expect("expired key"),
            )
            .expect("add key");
        server
    }

    /// The client configuration: the case's key pinned, the case's block.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.pin(PinnedKey::new(&self.key_id, self.server_static_public).expect("pin"));
        c.set_padding_block(self.padding_block).expect("block");
        c
    }

    /// A pending client handshake whose type 1 is exactly the case's `kx_envelope`.
    #[cfg(feature = "test-vectors")]
    pub fn client_handshake(&self) -> ClientHandshake {
        let (hs, kx) = ClientHandshake::start_with_ephemeral_for_test_vectors(
            &self.client_config(),
            &self.key_id,
            &self.kx_payload,
            self.client_ephemeral_private,
            self.iv1,
        )
        .expect("start");
        assert_eq!(kx, self.kx_envelope, "{}: kx_envelope", self.name);
        hs
    }

    /// The established client session of the case (next sequence number 1).
    #[cfg(feature = "test-vectors")]
    pub fn client_session(&self) -> ClientSession {
        self.client_handshake()
            .finish(&self.kxr_envelope, self.now_ms)
            .expect("finish")
    }

    /// The established server session of the case (nothing opened yet).
    #[cfg(feature = "test-vectors")]
    pub fn server_session(&self, server: &Server) -> ServerSession {
        let (ss, kxr) = server
            .accept(&self.kx_envelope, self.now_ms)
            .expect("accept")
            .respond_with_ephemeral_for_test_vectors(
                &self.session_id,
                self.expires_at_ms,
                &self.kxr_payload,
                self.server_ephemeral_private,
            )
            .expect("respond");
        assert_eq!(kxr, self.kxr_envelope, "{}: kxr_envelope", self.name);
        ss
    }
}
