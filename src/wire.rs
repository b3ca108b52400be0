//! The SCv2 wire format: `nom` parsers and the matching writers, side by side.
//!
//! Parsing is strict and checks in the order SPEC.md fixes, so that every implementation reports the
//! same error for the same bytes: magic → version → type → structure. Every length is exact; no
//! trailing byte is allowed. Nothing in this module touches a key.

#![forbid(unsafe_code)]

use nom::bytes::complete::{tag, take};
use nom::number::complete::{be_u16, be_u8};
use nom::{IResult, Parser};

use crate::error::{Error, Result};
use crate::primitives::{NONCE_LEN, TAG_LEN, X25519_LEN};

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

/// `"SC" 0x02 type`: magic, then version, then a known type. Returns the type byte.
fn prefix(input: &[u8]) -> PResult<'_, u8> {
    let (input, _) = tag(&MAGIC[..]).parse(input)?;
    let (input, version) = be_u8(input)?;
    if version != VERSION {
        return fail(Error::UnsupportedVersion);
    }
    let (input, ty) = be_u8(input)?;
    if !is_known_type(ty) {
        return fail(Error::UnknownType);
    }
    Ok((input, ty))
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

fn aead_part(input: &[u8]) -> PResult<'_, AeadPart<'_>> {
    if input.len() < MIN_AEAD_LEN {
        return fail(Error::MalformedEnvelope);
    }
    let (input, iv) = take(NONCE_LEN).parse(input)?;
    let (tag_bytes, ciphertext) = take(input.len() - TAG_LEN).parse(input)?;
    Ok((
        &[][..],
        AeadPart {
            iv: as_array(iv)?,
            ciphertext,
            tag: as_array(tag_bytes)?,
        },
    ))
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
    if !is_valid_id(key_id, 255) {
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

/// Append `header1` to `out`.
pub fn write_key_exchange_header(out: &mut Vec<u8>, key_id: &[u8], e: &[u8; X25519_LEN]) {
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(TYPE_KEY_EXCHANGE);
    out.push(key_id.len() as u8);
    out.extend_from_slice(key_id);
    out.extend_from_slice(&(X25519_LEN as u16).to_be_bytes());
    out.extend_from_slice(e);
    out.extend_from_slice(&0u16.to_be_bytes());
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

/// Parse a type-2 (request, `ty` = [`TYPE_REQUEST`]) or type-129 (response, `ty` =
/// [`TYPE_RESPONSE`]) envelope: `"SC" 0x02 type | AEAD`.
pub fn parse_data(input: &[u8], ty: u8) -> Result<AeadPart<'_>> {
    finish(data(input, ty))
}

fn data(input: &[u8], ty: u8) -> PResult<'_, AeadPart<'_>> {
    let (input, ()) = prefix_of(ty)(input)?;
    aead_part(input)
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
    let ty = finish(prefix(input).map(|(_, ty)| (&[][..], ty)))?;
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
}
