//! Every byte layout of this crate, each parser beside its writer (with a round-trip test):
//!
//! - the envelopes (SPEC.md section 3): type 1 with `header1`, type 130 with `header2`, types 2
//!   and 129 (`nom` parsers, checked in the order SPEC.md section 10 fixes); the hybrid suite's
//!   type 1 and type 130 (SPEC.md section 15.2), and the type-1 structure common to every suite
//!   that a server holding keys of several suites parses before the key-id lookup (15.6);
//! - the type-130 plaintext `u8 len(sid) | sid | u64be(expiresAtMs) | app` ([`SessionGrant`]);
//! - the associated data of types 2 and 129 (SPEC.md section 8.1, [`write_data_aad`]);
//! - the sealed export blob and its state (SPEC.md section 12), private to this crate.
//!
//! Parsing is strict, so that every implementation reports the same error for the same bytes:
//! magic → version → type → structure. Every length is exact; no trailing byte is allowed. Nothing
//! in this module touches a key.

#![forbid(unsafe_code)]

use nom::bytes::complete::take;
use nom::number::complete::{be_u16, be_u8};
use nom::{IResult, Parser};

use crate::error::{Error, Result};
use crate::primitives::{
    MLKEM768_CIPHERTEXT_LEN, MLKEM768_ENCAPS_KEY_LEN, NONCE_LEN, TAG_LEN, X25519_LEN,
};
use crate::schedule::OKM_LEN;

/// The two magic bytes every envelope starts with.
pub const MAGIC: [u8; 2] = *b"SC";
/// The protocol version byte.
pub const VERSION: u8 = 0x02;
/// Type 1: key exchange, client → server (opens a session).
pub const TYPE_KEY_EXCHANGE: u8 = 0x01;
/// Type 2: session data, a request, client → server.
pub const TYPE_REQUEST: u8 = 0x02;
/// Type 129: response data, server → client.
pub const TYPE_RESPONSE: u8 = 0x81;
/// Type 130: key-exchange response, server → client (completes the handshake). Added by this suite.
pub const TYPE_KEY_EXCHANGE_RESPONSE: u8 = 0x82;

/// Bytes before the AEAD part of a type 2 or type 129 envelope (`"SC" 0x02 type`).
pub const DATA_HEADER_LEN: usize = 4;
/// The smallest AEAD part: IV, one byte of ciphertext (the padding marker), tag.
pub const MIN_AEAD_LEN: usize = NONCE_LEN + 1 + TAG_LEN;
/// Envelope bytes that are not padded plaintext in a type 2 or type 129 envelope.
pub const DATA_OVERHEAD: usize = DATA_HEADER_LEN + NONCE_LEN + TAG_LEN;
/// Length of a type-130 header (`"SC" 0x02 0x82 F`).
pub const KXR_HEADER_LEN: usize = 4 + X25519_LEN;
/// The longest key id (its length is one byte on the wire).
pub const MAX_KEY_ID_LEN: usize = 255;
/// The longest session id.
pub const MAX_SESSION_ID_LEN: usize = 64;
/// The longest `ctx` the associated data can carry (it is length-prefixed with a u16).
pub const MAX_CTX: usize = u16::MAX as usize;

/// A `nom` error that already knows which [`Error`] it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WireError(pub Error);

impl<I> nom::error::ParseError<I> for WireError {
    fn from_error_kind(_: I, _: nom::error::ErrorKind) -> Self {
        WireError(Error::MalformedEnvelope)
    }
    fn append(_: I, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

type PResult<'a, O> = IResult<&'a [u8], O, WireError>;

fn fail<O>(e: Error) -> core::result::Result<O, nom::Err<WireError>> {
    Err(nom::Err::Failure(WireError(e)))
}

fn finish<O>(r: PResult<'_, O>) -> Result<O> {
    match r {
        Ok(([], o)) => Ok(o),
        Ok(_) => Err(Error::MalformedEnvelope),
        Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => Err(e.0),
        Err(nom::Err::Incomplete(_)) => Err(Error::MalformedEnvelope),
    }
}

/// Whether `t` is a type byte SCv2 defines.
pub fn is_known_type(t: u8) -> bool {
    matches!(
        t,
        TYPE_KEY_EXCHANGE | TYPE_REQUEST | TYPE_RESPONSE | TYPE_KEY_EXCHANGE_RESPONSE
    )
}

/// `"SC" 0x02 type` at the start of `input`: magic, then version, then a known type (in that
/// order: the first failing check decides the error). Returns the type byte and the rest. Written
/// without `nom`: every envelope is parsed through it, on the hot path too.
fn split_prefix(input: &[u8]) -> Result<(u8, &[u8])> {
    let [m0, m1, rest @ ..] = input else {
        return Err(Error::MalformedEnvelope);
    };
    if [*m0, *m1] != MAGIC {
        return Err(Error::MalformedEnvelope);
    }
    let [version, rest @ ..] = rest else {
        return Err(Error::MalformedEnvelope);
    };
    if *version != VERSION {
        return Err(Error::UnsupportedVersion);
    }
    let [ty, rest @ ..] = rest else {
        return Err(Error::MalformedEnvelope);
    };
    if !is_known_type(*ty) {
        return Err(Error::UnknownType);
    }
    Ok((*ty, rest))
}

/// [`split_prefix`] as a `nom` parser.
fn prefix(input: &[u8]) -> PResult<'_, u8> {
    match split_prefix(input) {
        Ok((ty, rest)) => Ok((rest, ty)),
        Err(e) => fail(e),
    }
}

/// The prefix of an envelope that must be of type `expected` (another known type is malformed).
fn prefix_of(expected: u8) -> impl Fn(&[u8]) -> PResult<'_, ()> {
    move |input| {
        let (input, ty) = prefix(input)?;
        if ty != expected {
            return fail(Error::MalformedEnvelope);
        }
        Ok((input, ()))
    }
}

/// The AEAD part of an envelope: `IV (12) | ciphertext (≥ 1) | tag (16)`, to the end of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AeadPart<'a> {
    /// The 12-byte IV (nonce).
    pub iv: &'a [u8; NONCE_LEN],
    /// The ciphertext (padded plaintext), at least one byte.
    pub ciphertext: &'a [u8],
    /// The 16-byte tag.
    pub tag: &'a [u8; TAG_LEN],
}

/// `IV (12) | ciphertext (≥ 1) | tag (16)`: the whole of `input`.
fn split_aead(input: &[u8]) -> Result<AeadPart<'_>> {
    if input.len() < MIN_AEAD_LEN {
        return Err(Error::MalformedEnvelope);
    }
    let (iv, rest) = input
        .split_first_chunk::<NONCE_LEN>()
        .ok_or(Error::MalformedEnvelope)?;
    let (ciphertext, tag) = rest
        .split_last_chunk::<TAG_LEN>()
        .ok_or(Error::MalformedEnvelope)?;
    Ok(AeadPart {
        iv,
        ciphertext,
        tag,
    })
}

fn aead_part(input: &[u8]) -> PResult<'_, AeadPart<'_>> {
    match split_aead(input) {
        Ok(a) => Ok((&[][..], a)),
        Err(e) => fail(e),
    }
}

fn as_array<const N: usize>(s: &[u8]) -> core::result::Result<&[u8; N], nom::Err<WireError>> {
    s.try_into()
        .map_err(|_| nom::Err::Failure(WireError(Error::MalformedEnvelope)))
}

/// Whether `s` is a valid key id or session id: `1..=max` bytes, each printable ASCII 0x21–0x7E.
pub fn is_valid_id(s: &[u8], max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// A parsed type-1 (key exchange) envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyExchange<'a> {
    /// `header1`: every byte before the IV (the AEAD's associated data).
    pub header: &'a [u8],
    /// The server key id, 1–255 printable ASCII bytes.
    pub key_id: &'a [u8],
    /// The client's ephemeral X25519 public key `E`.
    pub client_ephemeral: &'a [u8; X25519_LEN],
    /// IV, ciphertext and tag.
    pub aead: AeadPart<'a>,
}

/// Parse a type-1 envelope.
///
/// Structure (this suite): `u8 keyIdLen (≥ 1) | keyId (printable) | u16 32 | E | u16 0 | AEAD`.
pub fn parse_key_exchange(input: &[u8]) -> Result<KeyExchange<'_>> {
    finish(key_exchange(input))
}

fn key_exchange(input: &[u8]) -> PResult<'_, KeyExchange<'_>> {
    let start = input;
    let (input, ()) = prefix_of(TYPE_KEY_EXCHANGE)(input)?;
    let (input, key_id_len) = be_u8(input)?;
    let (input, key_id) = take(key_id_len).parse(input)?;
    if !is_valid_id(key_id, MAX_KEY_ID_LEN) {
        return fail(Error::MalformedEnvelope);
    }
    let (input, req_key_len) = be_u16(input)?;
    if usize::from(req_key_len) != X25519_LEN {
        return fail(Error::MalformedEnvelope);
    }
    let (input, req_key) = take(X25519_LEN).parse(input)?;
    let (input, resp_key_len) = be_u16(input)?;
    if resp_key_len != 0 {
        return fail(Error::MalformedEnvelope);
    }
    let header = &start[..start.len() - input.len()];
    let (input, aead) = aead_part(input)?;
    Ok((
        input,
        KeyExchange {
            header,
            key_id,
            client_ephemeral: as_array(req_key)?,
            aead,
        },
    ))
}

/// The length of `header1` for a key id of `key_id_len` bytes.
pub const fn key_exchange_header_len(key_id_len: usize) -> usize {
    4 + 1 + key_id_len + 2 + X25519_LEN + 2
}

/// Append `header1` to `out` (see [`write_key_exchange_header_into`]; a key id that is not 1–255
/// printable bytes appends nothing).
pub fn write_key_exchange_header(out: &mut Vec<u8>, key_id: &[u8], e: &[u8; X25519_LEN]) {
    let start = out.len();
    out.resize(start + key_exchange_header_len(key_id.len()), 0);
    if write_key_exchange_header_into(&mut out[start..], key_id, e).is_err() {
        out.truncate(start);
    }
}

/// Write `header1` = `"SC" 0x02 0x01 | u8 len(keyId) | keyId | u16 32 | E | u16 0` at the start of
/// `out`; returns its length ([`key_exchange_header_len`]).
///
/// Errors: [`Error::InvalidArgument`] (key id not 1–255 printable ASCII bytes),
/// [`Error::BufferTooSmall`].
pub fn write_key_exchange_header_into(
    out: &mut [u8],
    key_id: &[u8],
    e: &[u8; X25519_LEN],
) -> Result<usize> {
    if !is_valid_id(key_id, MAX_KEY_ID_LEN) {
        return Err(Error::InvalidArgument);
    }
    let len = key_exchange_header_len(key_id.len());
    let out = out.get_mut(..len).ok_or(Error::BufferTooSmall)?;
    let (prefix, rest) = out.split_at_mut(5);
    prefix[..4].copy_from_slice(&data_header(TYPE_KEY_EXCHANGE));
    prefix[4] = key_id.len() as u8;
    let (id, rest) = rest.split_at_mut(key_id.len());
    id.copy_from_slice(key_id);
    let (req_len, rest) = rest.split_at_mut(2);
    req_len.copy_from_slice(&(X25519_LEN as u16).to_be_bytes());
    let (req_key, resp_len) = rest.split_at_mut(X25519_LEN);
    req_key.copy_from_slice(e);
    resp_len.copy_from_slice(&0u16.to_be_bytes());
    Ok(len)
}

/// A parsed type-130 (key-exchange response) envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyExchangeResponse<'a> {
    /// `header2` = `"SC" 0x02 0x82 F`.
    pub header: &'a [u8],
    /// The server's ephemeral X25519 public key `F`.
    pub server_ephemeral: &'a [u8; X25519_LEN],
    /// IV, ciphertext and tag.
    pub aead: AeadPart<'a>,
}

/// `header2` = `"SC" 0x02 0x82 | F`.
pub fn key_exchange_response_header(f: &[u8; X25519_LEN]) -> [u8; KXR_HEADER_LEN] {
    let mut h = [0u8; KXR_HEADER_LEN];
    h[..4].copy_from_slice(&data_header(TYPE_KEY_EXCHANGE_RESPONSE));
    h[4..].copy_from_slice(f);
    h
}

/// Parse a type-130 envelope: `"SC" 0x02 0x82 | F (32) | AEAD`.
pub fn parse_key_exchange_response(input: &[u8]) -> Result<KeyExchangeResponse<'_>> {
    finish(key_exchange_response(input))
}

fn key_exchange_response(input: &[u8]) -> PResult<'_, KeyExchangeResponse<'_>> {
    let start = input;
    let (input, ()) = prefix_of(TYPE_KEY_EXCHANGE_RESPONSE)(input)?;
    let (input, f) = take(X25519_LEN).parse(input)?;
    let header = &start[..KXR_HEADER_LEN];
    let (input, aead) = aead_part(input)?;
    Ok((
        input,
        KeyExchangeResponse {
            header,
            server_ephemeral: as_array(f)?,
            aead,
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// Type 1 of any suite, and the hybrid suite's type 1 and type 130 (SPEC.md sections 15.2, 15.6).

/// `reqKeyLen` of the hybrid suite: `ct1 || E`.
pub const HYBRID_REQUEST_KEY_LEN: usize = MLKEM768_CIPHERTEXT_LEN + X25519_LEN;
/// `respKeyLen` of the hybrid suite: `ek_e`.
pub const HYBRID_RESPONSE_KEY_LEN: usize = MLKEM768_ENCAPS_KEY_LEN;
/// Length of the hybrid suite's `header2` (`"SC" 0x02 0x82 ct2 F`).
pub const HYBRID_KXR_HEADER_LEN: usize = 4 + MLKEM768_CIPHERTEXT_LEN + X25519_LEN;

/// A type 1 parsed with the structure common to every suite (SPEC.md section 15.6, step 5):
/// the key lengths are whatever the envelope says; the suite of the key found decides them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnyKeyExchange<'a> {
    /// `header1`: every byte before the IV.
    pub header: &'a [u8],
    /// The server key id, 1–255 printable ASCII bytes.
    pub key_id: &'a [u8],
    /// `reqKey` (`reqKeyLen` bytes).
    pub request_key: &'a [u8],
    /// `respKey` (`respKeyLen` bytes).
    pub response_key: &'a [u8],
    /// IV, ciphertext and tag.
    pub aead: AeadPart<'a>,
}

/// Parse a type 1 with the structure common to every suite: `u8 keyIdLen (≥ 1) | keyId
/// (printable) | u16be reqKeyLen | reqKey | u16be respKeyLen | respKey | AEAD`, every announced
/// byte present and at least 29 bytes of AEAD, else [`Error::MalformedEnvelope`].
pub fn parse_any_key_exchange(input: &[u8]) -> Result<AnyKeyExchange<'_>> {
    finish(any_key_exchange(input))
}

fn any_key_exchange(input: &[u8]) -> PResult<'_, AnyKeyExchange<'_>> {
    let start = input;
    let (input, ()) = prefix_of(TYPE_KEY_EXCHANGE)(input)?;
    let (input, key_id_len) = be_u8(input)?;
    let (input, key_id) = take(key_id_len).parse(input)?;
    if !is_valid_id(key_id, MAX_KEY_ID_LEN) {
        return fail(Error::MalformedEnvelope);
    }
    let (input, req_key_len) = be_u16(input)?;
    let (input, request_key) = take(req_key_len).parse(input)?;
    let (input, resp_key_len) = be_u16(input)?;
    let (input, response_key) = take(resp_key_len).parse(input)?;
    let header = &start[..start.len() - input.len()];
    let (input, aead) = aead_part(input)?;
    Ok((
        input,
        AnyKeyExchange {
            header,
            key_id,
            request_key,
            response_key,
            aead,
        },
    ))
}

impl<'a> AnyKeyExchange<'a> {
    /// The X25519 suite's view: `reqKeyLen = 32`, `respKeyLen = 0`, else
    /// [`Error::MalformedEnvelope`].
    pub fn x25519(&self) -> Result<KeyExchange<'a>> {
        if !self.response_key.is_empty() {
            return Err(Error::MalformedEnvelope);
        }
        Ok(KeyExchange {
            header: self.header,
            key_id: self.key_id,
            client_ephemeral: self
                .request_key
                .try_into()
                .map_err(|_| Error::MalformedEnvelope)?,
            aead: self.aead,
        })
    }

    /// The hybrid suite's view: `reqKeyLen = 1120`, `respKeyLen = 1184`, else
    /// [`Error::MalformedEnvelope`].
    pub fn hybrid(&self) -> Result<HybridKeyExchange<'a>> {
        let req: &[u8; HYBRID_REQUEST_KEY_LEN] = self
            .request_key
            .try_into()
            .map_err(|_| Error::MalformedEnvelope)?;
        let ek_e = self
            .response_key
            .try_into()
            .map_err(|_| Error::MalformedEnvelope)?;
        let (ct1, e) = req
            .split_first_chunk::<MLKEM768_CIPHERTEXT_LEN>()
            .ok_or(Error::MalformedEnvelope)?;
        Ok(HybridKeyExchange {
            header: self.header,
            key_id: self.key_id,
            ciphertext: ct1,
            client_ephemeral: e.try_into().map_err(|_| Error::MalformedEnvelope)?,
            client_kem_key: ek_e,
            aead: self.aead,
        })
    }
}

/// A parsed type 1 of the hybrid suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HybridKeyExchange<'a> {
    /// `header1`: every byte before the IV.
    pub header: &'a [u8],
    /// The server key id.
    pub key_id: &'a [u8],
    /// `ct1`, the encapsulation to the server's `ek_s`.
    pub ciphertext: &'a [u8; MLKEM768_CIPHERTEXT_LEN],
    /// `E`, the client's ephemeral X25519 public key.
    pub client_ephemeral: &'a [u8; X25519_LEN],
    /// `ek_e`, the client's ephemeral ML-KEM-768 encapsulation key (unchecked bytes).
    pub client_kem_key: &'a [u8; MLKEM768_ENCAPS_KEY_LEN],
    /// IV, ciphertext and tag.
    pub aead: AeadPart<'a>,
}

/// Parse a type 1 of the hybrid suite (the common structure, then its lengths).
pub fn parse_hybrid_key_exchange(input: &[u8]) -> Result<HybridKeyExchange<'_>> {
    parse_any_key_exchange(input)?.hybrid()
}

/// The length of the hybrid suite's `header1` for a key id of `key_id_len` bytes.
pub const fn hybrid_key_exchange_header_len(key_id_len: usize) -> usize {
    4 + 1 + key_id_len + 2 + HYBRID_REQUEST_KEY_LEN + 2 + HYBRID_RESPONSE_KEY_LEN
}

/// Write the hybrid suite's `header1` = `"SC" 0x02 0x01 | u8 len(keyId) | keyId | u16be 1120 |
/// ct1 | E | u16be 1184 | ek_e` at the start of `out`; returns its length.
///
/// Errors: [`Error::InvalidArgument`] (key id not 1–255 printable ASCII bytes),
/// [`Error::BufferTooSmall`].
pub fn write_hybrid_key_exchange_header_into(
    out: &mut [u8],
    key_id: &[u8],
    ct1: &[u8; MLKEM768_CIPHERTEXT_LEN],
    e: &[u8; X25519_LEN],
    ek_e: &[u8; MLKEM768_ENCAPS_KEY_LEN],
) -> Result<usize> {
    if !is_valid_id(key_id, MAX_KEY_ID_LEN) {
        return Err(Error::InvalidArgument);
    }
    let len = hybrid_key_exchange_header_len(key_id.len());
    let out = out.get_mut(..len).ok_or(Error::BufferTooSmall)?;
    let (prefix, rest) = out.split_at_mut(5);
    prefix[..4].copy_from_slice(&data_header(TYPE_KEY_EXCHANGE));
    prefix[4] = key_id.len() as u8;
    let (id, rest) = rest.split_at_mut(key_id.len());
    id.copy_from_slice(key_id);
    let (req_len, rest) = rest.split_at_mut(2);
    req_len.copy_from_slice(&(HYBRID_REQUEST_KEY_LEN as u16).to_be_bytes());
    let (ct_out, rest) = rest.split_at_mut(MLKEM768_CIPHERTEXT_LEN);
    ct_out.copy_from_slice(ct1);
    let (e_out, rest) = rest.split_at_mut(X25519_LEN);
    e_out.copy_from_slice(e);
    let (resp_len, ek_out) = rest.split_at_mut(2);
    resp_len.copy_from_slice(&(HYBRID_RESPONSE_KEY_LEN as u16).to_be_bytes());
    ek_out.copy_from_slice(ek_e);
    Ok(len)
}

/// A parsed type 130 of the hybrid suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HybridKeyExchangeResponse<'a> {
    /// `header2` = `"SC" 0x02 0x82 ct2 F`.
    pub header: &'a [u8],
    /// `ct2`, the encapsulation to the client's `ek_e`.
    pub ciphertext: &'a [u8; MLKEM768_CIPHERTEXT_LEN],
    /// `F`, the server's ephemeral X25519 public key.
    pub server_ephemeral: &'a [u8; X25519_LEN],
    /// IV, ciphertext and tag.
    pub aead: AeadPart<'a>,
}

/// The hybrid suite's `header2` = `"SC" 0x02 0x82 | ct2 | F`.
pub fn hybrid_key_exchange_response_header(
    ct2: &[u8; MLKEM768_CIPHERTEXT_LEN],
    f: &[u8; X25519_LEN],
) -> [u8; HYBRID_KXR_HEADER_LEN] {
    let mut h = [0u8; HYBRID_KXR_HEADER_LEN];
    h[..4].copy_from_slice(&data_header(TYPE_KEY_EXCHANGE_RESPONSE));
    h[4..4 + MLKEM768_CIPHERTEXT_LEN].copy_from_slice(ct2);
    h[4 + MLKEM768_CIPHERTEXT_LEN..].copy_from_slice(f);
    h
}

/// Parse a type 130 of the hybrid suite: `"SC" 0x02 0x82 | ct2 (1088) | F (32) | AEAD`, at
/// least 1153 bytes, else [`Error::MalformedEnvelope`].
pub fn parse_hybrid_key_exchange_response(input: &[u8]) -> Result<HybridKeyExchangeResponse<'_>> {
    let (ty, rest) = split_prefix(input)?;
    if ty != TYPE_KEY_EXCHANGE_RESPONSE {
        return Err(Error::MalformedEnvelope);
    }
    let (ct2, rest) = rest
        .split_first_chunk::<MLKEM768_CIPHERTEXT_LEN>()
        .ok_or(Error::MalformedEnvelope)?;
    let (f, rest) = rest
        .split_first_chunk::<X25519_LEN>()
        .ok_or(Error::MalformedEnvelope)?;
    let aead = split_aead(rest)?;
    Ok(HybridKeyExchangeResponse {
        header: &input[..HYBRID_KXR_HEADER_LEN],
        ciphertext: ct2,
        server_ephemeral: f,
        aead,
    })
}

/// Parse a type-2 (request, `ty` = [`TYPE_REQUEST`]) or type-129 (response, `ty` =
/// [`TYPE_RESPONSE`]) envelope: `"SC" 0x02 type | AEAD`.
pub fn parse_data(input: &[u8], ty: u8) -> Result<AeadPart<'_>> {
    let (found, rest) = split_prefix(input)?;
    if found != ty {
        return Err(Error::MalformedEnvelope);
    }
    split_aead(rest)
}

/// The plaintext a type 130 carries (before padding): `u8 len(sid) | sid | u64be(expiresAtMs) |
/// app` — what the server grants the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionGrant<'a> {
    /// The session id: 1–64 printable ASCII bytes.
    pub session_id: &'a str,
    /// The session's expiry, ms since the Unix epoch.
    pub expires_at_ms: u64,
    /// The server application's payload (the rest of the plaintext).
    pub app_payload: &'a [u8],
}

impl<'a> SessionGrant<'a> {
    /// Bytes of the unpadded plaintext (`None` on overflow).
    pub fn len(&self) -> Option<usize> {
        session_grant_len(self.session_id.len(), self.app_payload.len())
    }

    /// Never empty (the length byte and the expiry are always there); for clippy's sake.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Parse a decrypted, unpadded type-130 plaintext. Errors: [`Error::MalformedEnvelope`] (too
    /// short, or a session id that is not 1–64 printable ASCII bytes).
    pub fn parse(plain: &'a [u8]) -> Result<SessionGrant<'a>> {
        let (&sid_len, rest) = plain.split_first().ok_or(Error::MalformedEnvelope)?;
        let sid_len = usize::from(sid_len);
        if rest.len() < sid_len + 8 {
            return Err(Error::MalformedEnvelope);
        }
        let (sid, rest) = rest.split_at(sid_len);
        if !is_valid_id(sid, MAX_SESSION_ID_LEN) {
            return Err(Error::MalformedEnvelope);
        }
        let session_id = core::str::from_utf8(sid).map_err(|_| Error::MalformedEnvelope)?;
        let (exp, app_payload) = rest
            .split_first_chunk::<8>()
            .ok_or(Error::MalformedEnvelope)?;
        Ok(SessionGrant {
            session_id,
            expires_at_ms: u64::from_be_bytes(*exp),
            app_payload,
        })
    }

    /// Write the plaintext at the start of `out`; returns its length. Errors:
    /// [`Error::InvalidArgument`] (bad session id), [`Error::BufferTooSmall`].
    pub fn write(&self, out: &mut [u8]) -> Result<usize> {
        let sid = self.session_id.as_bytes();
        if !is_valid_id(sid, MAX_SESSION_ID_LEN) {
            return Err(Error::InvalidArgument);
        }
        let len = self.len().ok_or(Error::BufferTooSmall)?;
        let out = out.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        let (first, rest) = out.split_at_mut(1);
        first[0] = sid.len() as u8;
        let (id, rest) = rest.split_at_mut(sid.len());
        id.copy_from_slice(sid);
        let (exp, app) = rest.split_at_mut(8);
        exp.copy_from_slice(&self.expires_at_ms.to_be_bytes());
        app.copy_from_slice(self.app_payload);
        Ok(len)
    }
}

/// Bytes of a type-130 plaintext with a `session_id_len`-byte id and an `app_payload_len`-byte
/// application payload, before padding (`None` on overflow).
pub const fn session_grant_len(session_id_len: usize, app_payload_len: usize) -> Option<usize> {
    (1 + 8 + session_id_len).checked_add(app_payload_len)
}

/// Bytes of the associated data of a type 2 or 129 (SPEC.md section 8.1).
pub const fn data_aad_len(session_id_len: usize, ctx_len: usize) -> usize {
    DATA_HEADER_LEN + 1 + session_id_len + 2 + ctx_len
}

/// Write the associated data of a type 2 or 129, `"SC" 0x02 type | u8 len(sid) | sid | u16be
/// len(ctx) | ctx`, into `out`, which must be exactly [`data_aad_len`] bytes.
///
/// Errors: [`Error::InvalidArgument`] (`out` of another length, a session id over 64 bytes or a
/// `ctx` over 65535 bytes).
pub fn write_data_aad(out: &mut [u8], ty: u8, session_id: &[u8], ctx: &[u8]) -> Result<()> {
    if session_id.len() > MAX_SESSION_ID_LEN
        || ctx.len() > MAX_CTX
        || out.len() != data_aad_len(session_id.len(), ctx.len())
    {
        return Err(Error::InvalidArgument);
    }
    let (header, rest) = out.split_at_mut(DATA_HEADER_LEN + 1);
    header[..DATA_HEADER_LEN].copy_from_slice(&data_header(ty));
    header[DATA_HEADER_LEN] = session_id.len() as u8;
    let (sid, rest) = rest.split_at_mut(session_id.len());
    sid.copy_from_slice(session_id);
    let (ctx_len, ctx_out) = rest.split_at_mut(2);
    ctx_len.copy_from_slice(&(ctx.len() as u16).to_be_bytes());
    ctx_out.copy_from_slice(ctx);
    Ok(())
}

/// The associated data of one session's data envelopes, with its fixed head laid out once:
/// `"SC" 0x02 type | u8 len(sid) | sid` is prepared when the session is made, and each call only
/// adds `u16be len(ctx) | ctx` (the layout of [`write_data_aad`]). Keeps the hot path to one
/// fixed-size copy and one copy of `ctx`.
#[derive(Clone)]
pub(crate) struct DataAad {
    head: [u8; Self::INLINE],
    sid_len: usize,
}

impl DataAad {
    /// The longest associated data built inline (a method and path plus a session id fit).
    pub(crate) const INLINE: usize = 128;

    /// The head for session id `sid` (at most 64 bytes, else [`Error::InvalidArgument`]).
    pub(crate) fn new(sid: &[u8]) -> Result<DataAad> {
        if sid.len() > MAX_SESSION_ID_LEN {
            return Err(Error::InvalidArgument);
        }
        let mut head = [0u8; Self::INLINE];
        write_data_aad(&mut head[..data_aad_len(sid.len(), 0)], 0, sid, &[])?;
        Ok(DataAad {
            head,
            sid_len: sid.len(),
        })
    }

    /// The longest associated data built on the stack: anything longer (a `ctx` of more than
    /// `384 - 71 = 313` bytes with the longest session id) takes one heap buffer.
    pub(crate) const STACK: usize = 384;

    /// The session id of the head.
    fn sid(&self) -> &[u8] {
        &self.head[DATA_HEADER_LEN + 1..DATA_HEADER_LEN + 1 + self.sid_len]
    }

    /// Run `f` with the associated data of a type-`ty` envelope bound to `ctx`: built inline from
    /// the prepared head when it fits in [`DataAad::INLINE`] bytes, else on the stack (up to
    /// [`DataAad::STACK`] bytes) or in one heap buffer.
    ///
    /// Errors: [`Error::InvalidArgument`] for a `ctx` over 65535 bytes; `f`'s.
    #[inline]
    pub(crate) fn with<T>(
        &self,
        ty: u8,
        ctx: &[u8],
        f: impl FnOnce(&[u8]) -> Result<T>,
    ) -> Result<T> {
        let len = data_aad_len(self.sid_len, ctx.len());
        if len > Self::INLINE {
            return self.with_long(ty, ctx, f);
        }
        let at = DATA_HEADER_LEN + 1 + self.sid_len;
        let mut aad = self.head;
        aad[DATA_HEADER_LEN - 1] = ty;
        let (ctx_len, rest) = aad[at..len].split_at_mut(2);
        ctx_len.copy_from_slice(&(ctx.len() as u16).to_be_bytes());
        rest.copy_from_slice(ctx);
        f(&aad[..len])
    }

    #[cold]
    fn with_long<T>(&self, ty: u8, ctx: &[u8], f: impl FnOnce(&[u8]) -> Result<T>) -> Result<T> {
        let len = data_aad_len(self.sid_len, ctx.len());
        if len <= Self::STACK {
            let mut stack = [0u8; Self::STACK];
            let aad = &mut stack[..len];
            write_data_aad(aad, ty, self.sid(), ctx)?;
            f(aad)
        } else {
            let mut heap = vec![0u8; len];
            write_data_aad(&mut heap, ty, self.sid(), ctx)?;
            f(&heap)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The sealed export blob (SPEC.md section 12): private to this crate, laid out here for review.

/// The version byte of the current export format (with a generation).
pub(crate) const EXPORT_V2: u8 = 0x02;
/// The version byte of the first format (no generation), still imported.
pub(crate) const EXPORT_V1: u8 = 0x01;
/// The longest export AAD: version, generation, `u8 len(sid)`, sid.
const EXPORT_AAD_MAX: usize = 1 + 8 + 1 + MAX_SESSION_ID_LEN;

/// `version || [u64be(generation)] || nonce || ciphertext || tag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExportBlob<'a> {
    pub(crate) version: u8,
    /// 0 for version 0x01, which has no generation field.
    pub(crate) generation: u64,
    pub(crate) nonce: &'a [u8; NONCE_LEN],
    pub(crate) ciphertext: &'a [u8],
    pub(crate) tag: &'a [u8; TAG_LEN],
}

impl<'a> ExportBlob<'a> {
    /// `(version, generation)` and what follows them. Errors: [`Error::MalformedEnvelope`] (too
    /// short), [`Error::UnsupportedVersion`].
    pub(crate) fn parse_header(blob: &'a [u8]) -> Result<(u8, u64, &'a [u8])> {
        let (&version, rest) = blob.split_first().ok_or(Error::MalformedEnvelope)?;
        match version {
            EXPORT_V1 => Ok((version, 0, rest)),
            EXPORT_V2 => {
                let (g, rest) = rest
                    .split_first_chunk::<8>()
                    .ok_or(Error::MalformedEnvelope)?;
                Ok((version, u64::from_be_bytes(*g), rest))
            }
            _ => Err(Error::UnsupportedVersion),
        }
    }

    /// Parse a whole blob. Errors: as [`ExportBlob::parse_header`], [`Error::MalformedEnvelope`]
    /// (no room for the nonce and the tag).
    pub(crate) fn parse(blob: &'a [u8]) -> Result<ExportBlob<'a>> {
        let (version, generation, rest) = Self::parse_header(blob)?;
        let (nonce, rest) = rest
            .split_first_chunk::<NONCE_LEN>()
            .ok_or(Error::MalformedEnvelope)?;
        let (ciphertext, tag) = rest
            .split_last_chunk::<TAG_LEN>()
            .ok_or(Error::MalformedEnvelope)?;
        Ok(ExportBlob {
            version,
            generation,
            nonce,
            ciphertext,
            tag,
        })
    }

    /// Bytes before the ciphertext.
    pub(crate) fn header_len(version: u8) -> usize {
        1 + if version == EXPORT_V1 { 0 } else { 8 } + NONCE_LEN
    }

    /// The blob's bytes.
    pub(crate) fn to_vec(self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(Self::header_len(self.version) + self.ciphertext.len() + TAG_LEN);
        out.push(self.version);
        if self.version != EXPORT_V1 {
            out.extend_from_slice(&self.generation.to_be_bytes());
        }
        out.extend_from_slice(self.nonce);
        out.extend_from_slice(self.ciphertext);
        out.extend_from_slice(self.tag);
        out
    }

    /// Run `f` with the blob's associated data: `version || [u64be(generation)] || u8 len(sid)
    /// || sid` (no generation for version 0x01). A session id over 64 bytes is
    /// [`Error::InvalidArgument`].
    pub(crate) fn with_aad<T>(
        version: u8,
        generation: u64,
        session_id: &[u8],
        f: impl FnOnce(&[u8]) -> Result<T>,
    ) -> Result<T> {
        if session_id.len() > MAX_SESSION_ID_LEN {
            return Err(Error::InvalidArgument);
        }
        let mut aad = [0u8; EXPORT_AAD_MAX];
        let mut n = 0;
        aad[n] = version;
        n += 1;
        if version != EXPORT_V1 {
            aad[n..n + 8].copy_from_slice(&generation.to_be_bytes());
            n += 8;
        }
        aad[n] = session_id.len() as u8;
        n += 1;
        aad[n..n + session_id.len()].copy_from_slice(session_id);
        f(&aad[..n + session_id.len()])
    }
}

/// The exported state (the blob's plaintext): `u64be(expiresAtMs) || okm (88) || u32be(W) ||
/// u64be(top) || (W/64 + 1) × u64be(bitmap word)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExportState<'a> {
    pub(crate) expires_at_ms: u64,
    pub(crate) okm: &'a [u8; OKM_LEN],
    pub(crate) window: u32,
    pub(crate) top: u64,
    /// The bitmap words, big-endian, 8 bytes each.
    pub(crate) bits: &'a [u8],
}

/// Bytes of the state before the bitmap.
const EXPORT_STATE_FIXED: usize = 8 + OKM_LEN + 4 + 8;

impl<'a> ExportState<'a> {
    /// Parse a decrypted state. The bitmap's word count is checked by the replay window. Errors:
    /// [`Error::MalformedEnvelope`] (too short, or a bitmap that is not whole words).
    pub(crate) fn parse(state: &'a [u8]) -> Result<ExportState<'a>> {
        let (exp, rest) = state
            .split_first_chunk::<8>()
            .ok_or(Error::MalformedEnvelope)?;
        let (okm, rest) = rest
            .split_first_chunk::<OKM_LEN>()
            .ok_or(Error::MalformedEnvelope)?;
        let (window, rest) = rest
            .split_first_chunk::<4>()
            .ok_or(Error::MalformedEnvelope)?;
        let (top, bits) = rest
            .split_first_chunk::<8>()
            .ok_or(Error::MalformedEnvelope)?;
        if bits.len() % 8 != 0 {
            return Err(Error::MalformedEnvelope);
        }
        Ok(ExportState {
            expires_at_ms: u64::from_be_bytes(*exp),
            okm,
            window: u32::from_be_bytes(*window),
            top: u64::from_be_bytes(*top),
            bits,
        })
    }

    /// The bitmap words.
    pub(crate) fn words(&self) -> impl Iterator<Item = u64> + 'a {
        self.bits
            .chunks_exact(8)
            .map(|w| u64::from_be_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]))
    }

    /// Append the state to `out` with the given bitmap words (into zeroizing memory: the caller
    /// owns `out`).
    pub(crate) fn write(
        out: &mut Vec<u8>,
        expires_at_ms: u64,
        okm: &[u8; OKM_LEN],
        window: u32,
        top: u64,
        words: &[u64],
    ) {
        out.reserve(EXPORT_STATE_FIXED + 8 * words.len());
        out.extend_from_slice(&expires_at_ms.to_be_bytes());
        out.extend_from_slice(okm);
        out.extend_from_slice(&window.to_be_bytes());
        out.extend_from_slice(&top.to_be_bytes());
        for w in words {
            out.extend_from_slice(&w.to_be_bytes());
        }
    }
}

/// Any SCv2 envelope, for inspection and fuzzing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope<'a> {
    /// Type 1.
    KeyExchange(KeyExchange<'a>),
    /// Type 130.
    KeyExchangeResponse(KeyExchangeResponse<'a>),
    /// Type 2.
    Request(AeadPart<'a>),
    /// Type 129.
    Response(AeadPart<'a>),
}

/// Parse an envelope of any type.
pub fn parse_any(input: &[u8]) -> Result<Envelope<'_>> {
    let (ty, _) = split_prefix(input)?;
    match ty {
        TYPE_KEY_EXCHANGE => parse_key_exchange(input).map(Envelope::KeyExchange),
        TYPE_KEY_EXCHANGE_RESPONSE => {
            parse_key_exchange_response(input).map(Envelope::KeyExchangeResponse)
        }
        TYPE_REQUEST => parse_data(input, TYPE_REQUEST).map(Envelope::Request),
        _ => parse_data(input, TYPE_RESPONSE).map(Envelope::Response),
    }
}

impl Envelope<'_> {
    /// The type byte.
    pub fn type_byte(&self) -> u8 {
        match self {
            Envelope::KeyExchange(_) => TYPE_KEY_EXCHANGE,
            Envelope::KeyExchangeResponse(_) => TYPE_KEY_EXCHANGE_RESPONSE,
            Envelope::Request(_) => TYPE_REQUEST,
            Envelope::Response(_) => TYPE_RESPONSE,
        }
    }

    /// The AEAD part.
    pub fn aead(&self) -> &AeadPart<'_> {
        match self {
            Envelope::KeyExchange(k) => &k.aead,
            Envelope::KeyExchangeResponse(k) => &k.aead,
            Envelope::Request(a) | Envelope::Response(a) => a,
        }
    }

    /// Serialize back to bytes (the exact input for any envelope that parsed).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Envelope::KeyExchange(k) => out.extend_from_slice(k.header),
            Envelope::KeyExchangeResponse(k) => out.extend_from_slice(k.header),
            Envelope::Request(_) | Envelope::Response(_) => {
                out.extend_from_slice(&data_header(self.type_byte()))
            }
        }
        let a = self.aead();
        out.extend_from_slice(a.iv);
        out.extend_from_slice(a.ciphertext);
        out.extend_from_slice(a.tag);
        out
    }
}

/// `"SC" 0x02 type`.
pub const fn data_header(ty: u8) -> [u8; 4] {
    [MAGIC[0], MAGIC[1], VERSION, ty]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kx(key_id: &[u8], req_len: u16, resp_len: u16, aead_len: usize) -> Vec<u8> {
        let mut v = b"SC\x02\x01".to_vec();
        v.push(key_id.len() as u8);
        v.extend_from_slice(key_id);
        v.extend_from_slice(&req_len.to_be_bytes());
        v.extend_from_slice(&[9u8; 32]);
        v.extend_from_slice(&resp_len.to_be_bytes());
        v.extend(std::iter::repeat_n(0xAA, aead_len));
        v
    }

    #[test]
    fn hybrid_layouts_round_trip() {
        let ct = [7u8; MLKEM768_CIPHERTEXT_LEN];
        let e = [8u8; 32];
        let ek = [9u8; MLKEM768_ENCAPS_KEY_LEN];
        let mut env = vec![0u8; hybrid_key_exchange_header_len(4) + MIN_AEAD_LEN];
        let n = write_hybrid_key_exchange_header_into(&mut env, b"k-pq", &ct, &e, &ek).unwrap();
        assert_eq!(n, 4 + 1 + 4 + 2 + 1120 + 2 + 1184);
        let m = parse_hybrid_key_exchange(&env).unwrap();
        assert_eq!(
            (m.key_id, m.ciphertext, m.client_ephemeral, m.client_kem_key),
            (&b"k-pq"[..], &ct, &e, &ek)
        );
        assert_eq!(m.header, &env[..n]);
        // The X25519 view of a hybrid type 1 is malformed, and the other way round.
        assert_eq!(
            parse_any_key_exchange(&env).unwrap().x25519(),
            Err(Error::MalformedEnvelope)
        );
        let x = kx(b"kid", 32, 0, 29);
        assert!(parse_any_key_exchange(&x).unwrap().x25519().is_ok());
        assert_eq!(
            parse_any_key_exchange(&x).unwrap().hybrid(),
            Err(Error::MalformedEnvelope)
        );
        // One byte short of the AEAD minimum; a respKey that runs past the end.
        assert_eq!(
            parse_hybrid_key_exchange(&env[..env.len() - 1]),
            Err(Error::MalformedEnvelope)
        );
        assert_eq!(
            parse_any_key_exchange(&kx(b"kid", 32, 40, 29)),
            Err(Error::MalformedEnvelope)
        );
        assert!(parse_any_key_exchange(&kx(b"kid", 32, 1, 30)).is_ok());

        let h2 = hybrid_key_exchange_response_header(&ct, &e);
        let mut r = h2.to_vec();
        r.extend_from_slice(&[0xAA; MIN_AEAD_LEN]);
        assert_eq!(r.len(), 1153);
        let p = parse_hybrid_key_exchange_response(&r).unwrap();
        assert_eq!(
            (p.header, p.ciphertext, p.server_ephemeral),
            (&h2[..], &ct, &e)
        );
        assert_eq!(
            parse_hybrid_key_exchange_response(&r[..1152]),
            Err(Error::MalformedEnvelope)
        );
        assert_eq!(
            parse_hybrid_key_exchange_response(b"SC\x03\x82"),
            Err(Error::UnsupportedVersion)
        );
        assert_eq!(
            parse_hybrid_key_exchange_response(b"SC\x02\x81"),
            Err(Error::MalformedEnvelope)
        );
    }

    #[test]
    fn prefix_errors_in_order() {
        assert_eq!(parse_any(b""), Err(Error::MalformedEnvelope));
        assert_eq!(parse_any(b"S"), Err(Error::MalformedEnvelope));
        assert_eq!(parse_any(b"XC\x02\x02"), Err(Error::MalformedEnvelope));
        assert_eq!(parse_any(b"SC"), Err(Error::MalformedEnvelope));
        assert_eq!(parse_any(b"SC\x01"), Err(Error::UnsupportedVersion));
        assert_eq!(parse_any(b"SC\x03\x77"), Err(Error::UnsupportedVersion));
        assert_eq!(parse_any(b"SC\x02"), Err(Error::MalformedEnvelope));
        assert_eq!(parse_any(b"SC\x02\x03"), Err(Error::UnknownType));
        assert_eq!(parse_any(b"SC\x02\x80"), Err(Error::UnknownType));
        // A known type, but too short.
        assert_eq!(parse_any(b"SC\x02\x02"), Err(Error::MalformedEnvelope));
    }

    #[test]
    fn data_envelope_bounds() {
        let mut v = b"SC\x02\x02".to_vec();
        v.extend(std::iter::repeat_n(1u8, MIN_AEAD_LEN - 1));
        assert_eq!(parse_data(&v, TYPE_REQUEST), Err(Error::MalformedEnvelope));
        v.push(1);
        let a = parse_data(&v, TYPE_REQUEST).unwrap();
        assert_eq!(a.ciphertext.len(), 1);
        // The right type at the wrong entry point.
        assert_eq!(parse_data(&v, TYPE_RESPONSE), Err(Error::MalformedEnvelope));
        assert_eq!(parse_any(&v).unwrap().to_bytes(), v);
    }

    #[test]
    fn key_exchange_structure() {
        let ok = kx(b"k1", 32, 0, MIN_AEAD_LEN);
        let k = parse_key_exchange(&ok).unwrap();
        assert_eq!(k.key_id, b"k1");
        assert_eq!(k.header.len(), key_exchange_header_len(2));
        assert_eq!(parse_any(&ok).unwrap().to_bytes(), ok);
        assert_eq!(
            parse_key_exchange(&kx(b"", 32, 0, MIN_AEAD_LEN)),
            Err(Error::MalformedEnvelope)
        );
        assert_eq!(
            parse_key_exchange(&kx(b"a b", 32, 0, MIN_AEAD_LEN)),
            Err(Error::MalformedEnvelope)
        );
        assert_eq!(
            parse_key_exchange(&kx(b"k1", 33, 0, MIN_AEAD_LEN)),
            Err(Error::MalformedEnvelope)
        );
        assert_eq!(
            parse_key_exchange(&kx(b"k1", 32, 1, MIN_AEAD_LEN)),
            Err(Error::MalformedEnvelope)
        );
        assert_eq!(
            parse_key_exchange(&kx(b"k1", 32, 0, MIN_AEAD_LEN - 1)),
            Err(Error::MalformedEnvelope)
        );
        // keyIdLen claims more than is present.
        assert_eq!(
            parse_key_exchange(b"SC\x02\x01\xff abc"),
            Err(Error::MalformedEnvelope)
        );
    }

    #[test]
    fn key_exchange_response_structure() {
        let mut v = b"SC\x02\x82".to_vec();
        v.extend_from_slice(&[5u8; 32]);
        v.extend(std::iter::repeat_n(0u8, MIN_AEAD_LEN));
        let k = parse_key_exchange_response(&v).unwrap();
        assert_eq!(k.server_ephemeral, &[5u8; 32]);
        assert_eq!(parse_any(&v).unwrap().to_bytes(), v);
        v.pop();
        assert_eq!(
            parse_key_exchange_response(&v),
            Err(Error::MalformedEnvelope)
        );
    }
    #[test]
    fn header1_round_trip() {
        let e = [7u8; 32];
        let mut env = Vec::new();
        write_key_exchange_header(&mut env, b"k-2026", &e);
        assert_eq!(env.len(), key_exchange_header_len(6));
        let header = env.clone();
        env.extend(std::iter::repeat_n(0xAB, MIN_AEAD_LEN));
        let k = parse_key_exchange(&env).unwrap();
        assert_eq!(
            (k.header, k.key_id, k.client_ephemeral),
            (&header[..], &b"k-2026"[..], &e)
        );
        let mut short = [0u8; 10];
        assert_eq!(
            write_key_exchange_header_into(&mut short, b"k-2026", &e),
            Err(Error::BufferTooSmall)
        );
        let mut buf = [0u8; 64];
        assert_eq!(
            write_key_exchange_header_into(&mut buf, b"", &e),
            Err(Error::InvalidArgument)
        );
        let mut v = Vec::new();
        write_key_exchange_header(&mut v, &[b'k'; 256], &e);
        assert!(v.is_empty(), "an id too long to encode appends nothing");
    }

    #[test]
    fn header2_round_trip() {
        let f = [0x33u8; 32];
        let mut env = key_exchange_response_header(&f).to_vec();
        assert_eq!(&env[..4], b"SC\x02\x82");
        env.extend(std::iter::repeat_n(1u8, MIN_AEAD_LEN));
        let k = parse_key_exchange_response(&env).unwrap();
        assert_eq!(k.header, &key_exchange_response_header(&f)[..]);
        assert_eq!(k.server_ephemeral, &f);
    }

    #[test]
    fn session_grant_round_trip() {
        let g = SessionGrant {
            session_id: "sid-1",
            expires_at_ms: 0x0102_0304_0506_0708,
            app_payload: b"{\"a\":1}",
        };
        let mut buf = [0u8; 64];
        let n = g.write(&mut buf).unwrap();
        assert_eq!(Some(n), g.len());
        assert_eq!(&buf[..7], b"\x05sid-1\x01");
        assert_eq!(SessionGrant::parse(&buf[..n]), Ok(g));
        // Too short for the expiry, a bad id, an empty id.
        assert_eq!(
            SessionGrant::parse(&buf[..13]),
            Err(Error::MalformedEnvelope)
        );
        assert_eq!(
            SessionGrant::parse(b"\x01 \0\0\0\0\0\0\0\0"),
            Err(Error::MalformedEnvelope)
        );
        assert_eq!(
            SessionGrant::parse(&[0u8; 9]),
            Err(Error::MalformedEnvelope)
        );
        assert_eq!(SessionGrant::parse(&[]), Err(Error::MalformedEnvelope));
        assert_eq!(g.write(&mut buf[..n - 1]), Err(Error::BufferTooSmall));
        let bad = SessionGrant {
            session_id: "a b",
            ..g
        };
        assert_eq!(bad.write(&mut buf), Err(Error::InvalidArgument));
    }

    #[test]
    fn data_aad_layout() {
        let mut aad = [0u8; 13];
        assert_eq!(data_aad_len(2, 4), 13);
        write_data_aad(&mut aad, TYPE_RESPONSE, b"s1", b"GET ").unwrap();
        assert_eq!(&aad, b"SC\x02\x81\x02s1\x00\x04GET ");
        assert_eq!(
            write_data_aad(&mut aad[..12], TYPE_RESPONSE, b"s1", b"GET "),
            Err(Error::InvalidArgument)
        );
    }

    #[test]
    fn data_aad_inline_is_the_layout() {
        let sid = b"0123456789abcdefghijkl";
        let head = DataAad::new(sid).unwrap();
        for (ty, ctx) in [
            (TYPE_REQUEST, &b"POST /web/v1/system/auth/password/init"[..]),
            (TYPE_RESPONSE, b""),
            (TYPE_REQUEST, &[b'x'; 128 - 29][..]),
        ] {
            let mut want = vec![0u8; data_aad_len(sid.len(), ctx.len())];
            write_data_aad(&mut want, ty, sid, ctx).unwrap();
            assert_eq!(head.with(ty, ctx, |aad| Ok(aad.to_vec())), Ok(want));
        }
        // Longer: on the stack, then on the heap, the same layout.
        for n in [128 - 28, 384 - 29, 384 - 28, 5000] {
            let ctx = vec![b'y'; n];
            let mut want = vec![0u8; data_aad_len(sid.len(), n)];
            write_data_aad(&mut want, TYPE_RESPONSE, sid, &ctx).unwrap();
            assert_eq!(
                head.with(TYPE_RESPONSE, &ctx, |aad| Ok(aad.to_vec())),
                Ok(want)
            );
        }
        assert_eq!(
            head.with(TYPE_REQUEST, &vec![0u8; MAX_CTX + 1], |_| Ok(())),
            Err(Error::InvalidArgument)
        );
        assert!(DataAad::new(&[b's'; 65]).is_err());
    }

    #[test]
    fn export_blob_and_state_round_trip() {
        let okm = [9u8; OKM_LEN];
        let mut state = Vec::new();
        ExportState::write(&mut state, 77, &okm, 64, 5, &[1, u64::MAX]);
        let st = ExportState::parse(&state).unwrap();
        assert_eq!(
            (st.expires_at_ms, st.okm, st.window, st.top),
            (77, &okm, 64, 5)
        );
        assert_eq!(st.words().collect::<Vec<_>>(), vec![1, u64::MAX]);
        assert_eq!(
            ExportState::parse(&state[..state.len() - 1]),
            Err(Error::MalformedEnvelope)
        );
        assert_eq!(
            ExportState::parse(&state[..20]),
            Err(Error::MalformedEnvelope)
        );

        for version in [EXPORT_V1, EXPORT_V2] {
            let blob = ExportBlob {
                version,
                generation: if version == EXPORT_V1 { 0 } else { 42 },
                nonce: &[3u8; NONCE_LEN],
                ciphertext: &state,
                tag: &[4u8; TAG_LEN],
            };
            let bytes = blob.to_vec();
            assert_eq!(
                bytes.len(),
                ExportBlob::header_len(version) + state.len() + TAG_LEN
            );
            assert_eq!(ExportBlob::parse(&bytes), Ok(blob));
            let (v, g, _) = ExportBlob::parse_header(&bytes).unwrap();
            assert_eq!((v, g), (version, blob.generation));
            let aad = ExportBlob::with_aad(version, blob.generation, b"sid", |a| Ok(a.to_vec()));
            let mut want = vec![version];
            if version == EXPORT_V2 {
                want.extend_from_slice(&42u64.to_be_bytes());
            }
            want.extend_from_slice(b"\x03sid");
            assert_eq!(aad, Ok(want));
        }
        assert_eq!(ExportBlob::parse(&[]), Err(Error::MalformedEnvelope));
        assert_eq!(
            ExportBlob::parse(&[3, 0, 0]),
            Err(Error::UnsupportedVersion)
        );
        assert_eq!(ExportBlob::parse(&[2, 0, 0]), Err(Error::MalformedEnvelope));
        assert_eq!(ExportBlob::parse(&[1; 28]), Err(Error::MalformedEnvelope));
    }
}
