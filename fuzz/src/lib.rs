//! Shared fixtures and reference models for the scv2 fuzz targets.
//!
//! - [`Case`]: one case of `tests/vectors/scv2-x25519.json` (compiled in), so that the targets'
//!   sessions are exactly the vector file's and the seed corpora (written by `gen_corpus.py` from
//!   the same file) contain authentic envelopes for them.
//! - [`model_parse`]: an independent re-implementation of SPEC.md section 3 and steps 2–5 of
//!   section 10 (magic, version, type, structure). The targets compare the library against it.
//! - [`Frame`]: the byte framing of the `server_open`, `client_open` and `ffi` inputs.
//! - [`Window`]: a reference model of the replay window (SPEC.md 8.2).
//!
//! Everything here panics on a violated property: that is how libFuzzer learns about it.

use std::collections::BTreeSet;

use scv2::wire::{TYPE_KEY_EXCHANGE, TYPE_KEY_EXCHANGE_RESPONSE, TYPE_REQUEST, TYPE_RESPONSE};
use scv2::{
    ClientConfig, ClientHandshake, ClientSession, Error, PinnedKey, Server, ServerConfig,
    ServerKey, ServerSession,
};
use serde_json::Value;

/// The vector file, compiled into every target.
pub const VECTORS: &str = include_str!("../../tests/vectors/scv2-x25519.json");

/// The case the `server_open`, `client_open` and `ffi` fixtures are built from: padding block 1,
/// six exchanges opened out of order, a full set of negatives.
pub const PRIMARY_CASE: &str = "many-exchanges-reordered-block-1";
/// A second case, used as "another session" (foreign tokens).
pub const OTHER_CASE: &str = "empty-everything-block-1";

/// A key id the fixture servers hold only as expired (at every `now`), so that a type 1 naming
/// it is `unknown_key_id`.
pub const EXPIRED_KEY_ID: &str = "k-expired";

/// Hex to bytes (the vector file is lowercase hex).
pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn arr<const N: usize>(s: &str) -> [u8; N] {
    unhex(s).try_into().expect("fixed-size hex field")
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
    pub fn client_session(&self) -> ClientSession {
        self.client_handshake()
            .finish(&self.kxr_envelope, self.now_ms)
            .expect("finish")
    }

    /// The established server session of the case (nothing opened yet).
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

// ---------------------------------------------------------------------------------------------
// Reference model of the framing (SPEC.md section 3, section 10 steps 2-5).

/// Steps 2–4: magic, version, known type. Returns the type byte.
pub fn model_prefix(data: &[u8]) -> Result<u8, Error> {
    if data.len() < 2 || data[0] != b'S' || data[1] != b'C' {
        return Err(Error::MalformedEnvelope);
    }
    let Some(&version) = data.get(2) else {
        return Err(Error::MalformedEnvelope);
    };
    if version != 0x02 {
        return Err(Error::UnsupportedVersion);
    }
    let Some(&ty) = data.get(3) else {
        return Err(Error::MalformedEnvelope);
    };
    if ![1u8, 2, 0x81, 0x82].contains(&ty) {
        return Err(Error::UnknownType);
    }
    Ok(ty)
}

/// Smallest AEAD part: IV (12), one byte of ciphertext, tag (16).
pub const MIN_AEAD: usize = 12 + 1 + 16;

/// Step 5 for an envelope whose prefix is of type `ty`: on success, the offset of the IV.
pub fn model_structure(data: &[u8], ty: u8) -> Result<usize, Error> {
    let bad = Err(Error::MalformedEnvelope);
    let header_len = match ty {
        TYPE_REQUEST | TYPE_RESPONSE => 4,
        TYPE_KEY_EXCHANGE_RESPONSE => 4 + 32,
        TYPE_KEY_EXCHANGE => {
            let Some(&k) = data.get(4) else { return bad };
            let k = usize::from(k);
            let Some(id) = data.get(5..5 + k) else {
                return bad;
            };
            if k == 0 || !id.iter().all(|b| (0x21..=0x7e).contains(b)) {
                return bad;
            }
            let at = 5 + k;
            if data.get(at..at + 2) != Some(&[0x00, 0x20][..]) {
                return bad;
            }
            if data.len() < at + 2 + 32 + 2 || data[at + 34..at + 36] != [0, 0] {
                return bad;
            }
            at + 36
        }
        _ => unreachable!("model_structure called with an unknown type"),
    };
    if data.len() < header_len + MIN_AEAD {
        return bad;
    }
    Ok(header_len)
}

/// Steps 2–5 at an entry point that expects type `expected`; on success the IV offset.
pub fn model_parse(data: &[u8], expected: u8) -> Result<usize, Error> {
    let ty = model_prefix(data)?;
    if ty != expected {
        return Err(Error::MalformedEnvelope);
    }
    model_structure(data, ty)
}

/// The key id of a type 1 that passed [`model_parse`].
pub fn model_key_id(data: &[u8]) -> &[u8] {
    &data[5..5 + usize::from(data[4])]
}

/// The client ephemeral key `E` of a type 1 that passed [`model_parse`].
pub fn model_client_ephemeral(data: &[u8]) -> [u8; 32] {
    let at = 5 + usize::from(data[4]) + 2;
    data[at..at + 32].try_into().expect("32")
}

/// `n = IV XOR iv_dir` if the top four bytes are zero (SPEC.md section 7).
pub fn model_seq(iv_dir: &[u8; 12], iv: &[u8]) -> Option<u64> {
    let x: Vec<u8> = iv_dir.iter().zip(iv).map(|(a, b)| a ^ b).collect();
    if x[..4] != [0, 0, 0, 0] {
        return None;
    }
    Some(u64::from_be_bytes(x[4..12].try_into().expect("8")))
}

/// The largest request sequence number.
pub const MAX_SEQ: u64 = u32::MAX as u64;

/// Whether `n` is a sequence number a type 2 or 129 may carry.
pub fn seq_in_range(n: Option<u64>) -> Option<u64> {
    n.filter(|n| (1..=MAX_SEQ).contains(n))
}

/// The u-coordinates (little-endian, bit 255 clear) that make X25519 output all zeros for every
/// clamped scalar: the small-order points of Curve25519 (its 8-torsion: u = 0 of order 2, u = 1
/// of order 4, the two order-8 u-coordinates; the identity has no u-coordinate), the order-4
/// point u = p − 1 of the quadratic twist, and the non-canonical encodings p (≡ 0) and p + 1
/// (≡ 1). The same list as libsodium's `has_small_order` and cr.yp.to/ecdh.html. Computed
/// independently of the library, so the targets use it as an oracle.
pub const LOW_ORDER_U: [[u8; 32]; 7] = [
    [0; 32],
    {
        let mut u = [0u8; 32];
        u[0] = 1;
        u
    },
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
        0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
        0x11, 0x57,
    ],
    p_plus(-1),
    p_plus(0),
    p_plus(1),
];

/// `p + d` for small `d`, little-endian (p = 2^255 − 19).
const fn p_plus(d: i8) -> [u8; 32] {
    let mut u = [0xffu8; 32];
    u[31] = 0x7f;
    u[0] = (0xed_i16 + d as i16) as u8;
    u
}

/// Whether X25519 with any clamped scalar gives all zeros for the public key `public` (RFC 7748
/// masks bit 255, so it is ignored here too).
pub fn is_low_order(public: &[u8; 32]) -> bool {
    let mut u = *public;
    u[31] &= 0x7f;
    LOW_ORDER_U.contains(&u)
}

// ---------------------------------------------------------------------------------------------
// Reference model of the replay window (SPEC.md 8.2).

/// `top`, the accepted set and the window size.
#[derive(Clone, Debug)]
pub struct Window {
    pub top: u64,
    pub accepted: BTreeSet<u64>,
    pub size: u64,
}

impl Window {
    pub fn new(size: u32) -> Window {
        Window {
            top: 0,
            accepted: BTreeSet::new(),
            size: u64::from(size),
        }
    }
    /// `replayed` if `n` was accepted or is older than the window.
    pub fn check(&self, n: u64) -> Result<(), Error> {
        if n > self.top {
            return Ok(());
        }
        if self.top - n >= self.size || self.accepted.contains(&n) {
            return Err(Error::Replayed);
        }
        Ok(())
    }
    pub fn mark(&mut self, n: u64) {
        self.accepted.insert(n);
        self.top = self.top.max(n);
    }
}

// ---------------------------------------------------------------------------------------------
// Error sets (the rustdoc of each entry point).

/// `Server::accept`.
pub const ACCEPT_ERRORS: &[Error] = &[
    Error::PayloadTooLarge,
    Error::MalformedEnvelope,
    Error::UnsupportedVersion,
    Error::UnknownType,
    Error::UnknownKeyId,
    Error::InvalidPublicKey,
    Error::DecryptionFailed,
];
/// `ClientHandshake::finish`.
pub const FINISH_ERRORS: &[Error] = &[
    Error::PayloadTooLarge,
    Error::MalformedEnvelope,
    Error::UnsupportedVersion,
    Error::UnknownType,
    Error::InvalidPublicKey,
    Error::DecryptionFailed,
    Error::SessionExpired,
];
/// `ServerSession::open_request` (and `_in_place`, which never returns `buffer_too_small`).
pub const OPEN_REQUEST_ERRORS: &[Error] = &[
    Error::InvalidState,
    Error::PayloadTooLarge,
    Error::MalformedEnvelope,
    Error::UnsupportedVersion,
    Error::UnknownType,
    Error::BufferTooSmall,
    Error::SessionExpired,
    Error::DecryptionFailed,
    Error::Replayed,
];
/// `ClientSession::open_response` (and `_in_place`).
pub const OPEN_RESPONSE_ERRORS: &[Error] = &[
    Error::InvalidState,
    Error::InvalidArgument,
    Error::PayloadTooLarge,
    Error::MalformedEnvelope,
    Error::UnsupportedVersion,
    Error::UnknownType,
    Error::BufferTooSmall,
    Error::DecryptionFailed,
    Error::ResponseMismatch,
];
/// The parsers.
pub const PARSE_ERRORS: &[Error] = &[
    Error::MalformedEnvelope,
    Error::UnsupportedVersion,
    Error::UnknownType,
];

/// Panic unless `e` is one of `allowed`.
#[track_caller]
pub fn assert_documented(e: Error, allowed: &[Error], what: &str) {
    assert!(
        allowed.contains(&e),
        "{what}: undocumented error {e:?} ({})",
        e.name()
    );
}

// ---------------------------------------------------------------------------------------------
// Input framing of server_open, client_open and ffi.

/// `flags | ctx selector | seq selector | capacity shortfall | envelope...`
///
/// The meaning of the flag bits is per target (see each target's header comment). The ctx
/// selector picks the request binding:
/// - `0`: empty;
/// - `1..=6`: the ctx of the primary case's exchange with that sequence number;
/// - `0x07`: the ctx of exchange 3 with a `/` appended (a wrong ctx);
/// - `0xFF`: 4097 bytes, one over the default `max_ctx` (`payload_too_large`);
/// - anything else: that one byte.
///
/// The seq selector picks a request sequence number (client side): `0` → 1, `0xFF` → 2^32 − 1,
/// `0xFE` → 2^32 − 2, anything else → itself. The capacity shortfall is how many bytes the output
/// buffer of the copying `open` calls is short of `max_open_len(envelope)` (0: exact).
#[derive(Debug)]
pub struct Frame<'a> {
    pub flags: u8,
    pub ctx: Vec<u8>,
    pub seq: u64,
    pub cap_short: usize,
    pub envelope: &'a [u8],
}

/// The `ctx` for selector `sel` (see [`Frame`]).
pub fn ctx_for(case: &Case, sel: u8) -> Vec<u8> {
    match sel {
        0 => Vec::new(),
        1..=6 => case
            .exchange(u64::from(sel))
            .map(|x| x.ctx.clone())
            .unwrap_or_default(),
        7 => {
            let mut c = case.exchange(3).map(|x| x.ctx.clone()).unwrap_or_default();
            c.push(b'/');
            c
        }
        0xFF => vec![b'c'; 4097],
        other => vec![other],
    }
}

impl<'a> Frame<'a> {
    /// Split an input; `None` if it has fewer than four bytes.
    pub fn parse(case: &Case, data: &'a [u8]) -> Option<Frame<'a>> {
        let (head, envelope) = data.split_at_checked(4)?;
        let seq = match head[2] {
            0 => 1,
            0xFF => MAX_SEQ,
            0xFE => MAX_SEQ - 1,
            n => u64::from(n),
        };
        Some(Frame {
            flags: head[0],
            ctx: ctx_for(case, head[1]),
            seq,
            cap_short: usize::from(head[3]),
            envelope,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// What each entry point must return for bytes that are not authentic (SPEC.md section 10), for
// the fixtures built from a `Case`. `Ok` means: only authentication is left to decide.

/// `Server::accept` on [`Case::server`] (a type 1).
pub fn expected_accept(case: &Case, env: &[u8]) -> Result<(), Error> {
    if env.len() > scv2::Limits::default().max_envelope {
        return Err(Error::PayloadTooLarge);
    }
    model_parse(env, TYPE_KEY_EXCHANGE)?;
    if model_key_id(env) != case.key_id.as_bytes() {
        return Err(Error::UnknownKeyId); // unknown, or EXPIRED_KEY_ID
    }
    if is_low_order(&model_client_ephemeral(env)) {
        return Err(Error::InvalidPublicKey);
    }
    Ok(())
}

/// `ClientHandshake::finish` (a type 130).
pub fn expected_finish(env: &[u8]) -> Result<(), Error> {
    if env.len() > scv2::Limits::default().max_envelope {
        return Err(Error::PayloadTooLarge);
    }
    model_parse(env, TYPE_KEY_EXCHANGE_RESPONSE)?;
    if is_low_order(env[4..36].try_into().expect("F")) {
        return Err(Error::InvalidPublicKey);
    }
    Ok(())
}

/// `ServerSession::open_request` (a type 2) on a session of `case` whose replay state is
/// `window`; `capacity`: the output buffer of the copying call (`None`: in place). On `Ok`, the
/// sequence number the IV carries.
pub fn expected_open_request(
    case: &Case,
    ctx: &[u8],
    env: &[u8],
    now: u64,
    window: &Window,
    closed: bool,
    capacity: Option<usize>,
) -> Result<u64, Error> {
    let limits = scv2::Limits::default();
    if closed {
        return Err(Error::InvalidState);
    }
    if env.len() > limits.max_envelope || ctx.len() > limits.max_ctx {
        return Err(Error::PayloadTooLarge);
    }
    let iv_at = model_parse(env, TYPE_REQUEST)?;
    if let Some(cap) = capacity {
        if cap < env.len() - iv_at - 12 - 16 {
            return Err(Error::BufferTooSmall);
        }
    }
    if now >= case.expires_at_ms {
        return Err(Error::SessionExpired);
    }
    let n = seq_in_range(model_seq(&case.iv_c2s, &env[iv_at..iv_at + 12]))
        .ok_or(Error::DecryptionFailed)?;
    window.check(n)?;
    Ok(n)
}

/// `ClientSession::open_response` (a type 129) as the answer to request `seq`.
pub fn expected_open_response(
    case: &Case,
    ctx: &[u8],
    env: &[u8],
    seq: u64,
    closed: bool,
    capacity: Option<usize>,
) -> Result<(), Error> {
    let limits = scv2::Limits::default();
    if closed {
        return Err(Error::InvalidState);
    }
    if env.len() > limits.max_envelope || ctx.len() > limits.max_ctx {
        return Err(Error::PayloadTooLarge);
    }
    let iv_at = model_parse(env, TYPE_RESPONSE)?;
    if let Some(cap) = capacity {
        if cap < env.len() - iv_at - 12 - 16 {
            return Err(Error::BufferTooSmall);
        }
    }
    let n = seq_in_range(model_seq(&case.iv_s2c, &env[iv_at..iv_at + 12]))
        .ok_or(Error::DecryptionFailed)?;
    if n != seq {
        return Err(Error::ResponseMismatch);
    }
    Ok(())
}

/// Set `SCV2_FUZZ_TRACE=1` to print each input's outcome (for checking, on a corpus replay, that
/// the seeds reach the success paths); off by default.
pub static TRACE: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| std::env::var_os("SCV2_FUZZ_TRACE").is_some());

/// Print an outcome when [`TRACE`] is on.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => {
        if *$crate::TRACE {
            eprintln!("scv2-fuzz: {}", format_args!($($arg)*));
        }
    };
}
