//! An independent model of SPEC.md section 10 — the order of checks — and of the replay window
//! (section 8.2), written from the specification, not from the library: the fuzz oracles and the
//! hostile-input campaign (`tests/hostile.rs`) compare every entry point against it.
//!
//! - [`model_parse`]: section 3 and steps 2–5 (magic, version, type, structure);
//! - [`model_seq`], [`seq_in_range`]: section 7 (the sequence number an IV carries);
//! - [`is_low_order`]: the X25519 inputs that give an all-zero result;
//! - [`Window`]: the replay window with exact semantics;
//! - `expected_*`: what each entry point must return for bytes that are not authentic, before
//!   authentication decides (`Ok`: only the AEAD is left);
//! - the documented error sets of each entry point.

use std::collections::BTreeSet;

use scv2::wire::{TYPE_KEY_EXCHANGE, TYPE_KEY_EXCHANGE_RESPONSE, TYPE_REQUEST, TYPE_RESPONSE};
use scv2::{Error, Limits};

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

/// `n` if it is a sequence number a type 2 or 129 may carry (1..=2^32 − 1).
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

// The replay window (SPEC.md 8.2).

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

// What each entry point must return for bytes that are not authentic (SPEC.md section 10).
// `Ok` means: only authentication is left to decide.

/// `Server::accept` (a type 1) on a server whose only valid key is `key_id` (default limits).
pub fn expected_accept(key_id: &[u8], env: &[u8]) -> Result<(), Error> {
    if env.len() > Limits::default().max_envelope {
        return Err(Error::PayloadTooLarge); // 1.
    }
    model_parse(env, TYPE_KEY_EXCHANGE)?; // 2.-5.
    if model_key_id(env) != key_id {
        return Err(Error::UnknownKeyId); // 6. (unknown, or held only as expired)
    }
    if is_low_order(&model_client_ephemeral(env)) {
        return Err(Error::InvalidPublicKey);
    }
    Ok(())
}

/// `ClientHandshake::finish` (a type 130).
pub fn expected_finish(env: &[u8]) -> Result<(), Error> {
    if env.len() > Limits::default().max_envelope {
        return Err(Error::PayloadTooLarge);
    }
    model_parse(env, TYPE_KEY_EXCHANGE_RESPONSE)?;
    if is_low_order(env[4..36].try_into().expect("F")) {
        return Err(Error::InvalidPublicKey);
    }
    Ok(())
}

/// The server session an `expected_open_request` call models.
#[derive(Clone, Copy, Debug)]
pub struct ServerView<'a> {
    /// `iv_c2s` (SPEC.md section 7).
    pub iv_c2s: &'a [u8; 12],
    /// The session's expiry.
    pub expires_at_ms: u64,
    /// Its replay state.
    pub window: &'a Window,
    /// Whether it was closed.
    pub closed: bool,
}

/// `ServerSession::open_request` (a type 2) on the session `s` (default limits); `capacity`:
/// the output buffer of the copying call (`None`: in place). On `Ok`, the sequence number the IV
/// carries.
pub fn expected_open_request(
    s: ServerView<'_>,
    ctx: &[u8],
    env: &[u8],
    now: u64,
    capacity: Option<usize>,
) -> Result<u64, Error> {
    let limits = Limits::default();
    let (window, closed) = (s.window, s.closed);
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
    if now >= s.expires_at_ms {
        return Err(Error::SessionExpired); // 7.
    }
    let n = seq_in_range(model_seq(s.iv_c2s, &env[iv_at..iv_at + 12]))
        .ok_or(Error::DecryptionFailed)?;
    window.check(n)?;
    Ok(n)
}

/// `ClientSession::open_response` (a type 129) as the answer to request `seq`, on a client
/// session whose `iv_s2c` is `iv_s2c` (default limits).
pub fn expected_open_response(
    iv_s2c: &[u8; 12],
    ctx: &[u8],
    env: &[u8],
    seq: u64,
    closed: bool,
    capacity: Option<usize>,
) -> Result<(), Error> {
    let limits = Limits::default();
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
    let n =
        seq_in_range(model_seq(iv_s2c, &env[iv_at..iv_at + 12])).ok_or(Error::DecryptionFailed)?;
    if n != seq {
        return Err(Error::ResponseMismatch);
    }
    Ok(())
}
