//! The web form of an envelope: exactly `{"v":2,"p":"<standard base64 with padding>"}`.
//!
//! Encoding produces exactly that text. Decoding accepts JSON whitespace between tokens and the
//! two members in either order, and nothing else: no other member, no duplicate, `v` must be the
//! number `2` and `p` canonical standard base64 with padding (no escapes, no line breaks).

#![forbid(unsafe_code)]

use base64ct::{Base64, Encoding};

use crate::error::{Error, Result};

/// Encode an envelope in the web form.
pub fn encode(envelope: &[u8]) -> String {
    let mut s = String::with_capacity(16 + envelope.len().div_ceil(3) * 4);
    s.push_str("{\"v\":2,\"p\":\"");
    s.push_str(&Base64::encode_string(envelope));
    s.push_str("\"}");
    s
}

/// Decode the web form back into the envelope bytes.
///
/// Anything but the exact form (see the module docs) is [`Error::MalformedEnvelope`]; a `v` other
/// than 2 is [`Error::UnsupportedVersion`]. Inputs longer than `max_len` bytes are
/// [`Error::PayloadTooLarge`] before any parsing.
pub fn decode(text: &[u8], max_len: usize) -> Result<Vec<u8>> {
    if text.len() > max_len {
        return Err(Error::PayloadTooLarge);
    }
    let mut p = Cursor { s: text, i: 0 };
    p.ws();
    p.expect(b'{')?;
    let mut version = None;
    let mut payload: Option<&[u8]> = None;
    for member in 0..2 {
        if member == 1 {
            p.ws();
            p.expect(b',')?;
        }
        p.ws();
        let key = p.string()?;
        p.ws();
        p.expect(b':')?;
        p.ws();
        match key {
            b"v" if version.is_none() => version = Some(p.number()?),
            b"p" if payload.is_none() => payload = Some(p.string()?),
            _ => return Err(Error::MalformedEnvelope),
        }
    }
    p.ws();
    p.expect(b'}')?;
    p.ws();
    if p.i != text.len() {
        return Err(Error::MalformedEnvelope);
    }
    let (Some(v), Some(b64)) = (version, payload) else {
        return Err(Error::MalformedEnvelope);
    };
    if v != b"2" {
        return Err(Error::UnsupportedVersion);
    }
    Base64::decode_vec(core::str::from_utf8(b64).map_err(|_| Error::MalformedEnvelope)?)
        .map_err(|_| Error::MalformedEnvelope)
}

/// Whether a request body looks like the web form (its first non-blank byte is `{`).
pub fn is_web_form(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b" \t\r\n".contains(b))
        .is_some_and(|&b| b == b'{')
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && b" \t\r\n".contains(&self.s[self.i]) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Error::MalformedEnvelope)
        }
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Result<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.i;
        while let Some(&c) = self.s.get(self.i) {
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(&self.s[start..self.i - 1]);
                }
                b'\\' | 0..=0x1f => return Err(Error::MalformedEnvelope),
                _ => self.i += 1,
            }
        }
        Err(Error::MalformedEnvelope)
    }

    /// A JSON integer, returned as text: exactly `-?(0|[1-9][0-9]*)` (RFC 8259), and not `-0`
    /// (a negative zero is not an integer in most JSON readers). Anything else is
    /// [`Error::MalformedEnvelope`]; a fraction or exponent after it fails the next token.
    fn number(&mut self) -> Result<&'a [u8]> {
        let start = self.i;
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                    self.i += 1;
                }
            }
            _ => return Err(Error::MalformedEnvelope),
        }
        let text = &self.s[start..self.i];
        // A leading zero must stand alone (`02`), and `-0` is refused.
        if self.s.get(self.i).is_some_and(u8::is_ascii_digit) || text == b"-0" {
            return Err(Error::MalformedEnvelope);
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    #[test]
    fn round_trip() {
        for env in [&b""[..], b"S", b"SC\x02\x02abc", &[0xffu8; 100]] {
            let s = encode(env);
            assert_eq!(decode(s.as_bytes(), MAX).unwrap(), env);
        }
        assert_eq!(encode(b"SC\x02\x02"), r#"{"v":2,"p":"U0MCAg=="}"#);
    }

    #[test]
    fn accepted_variants() {
        assert_eq!(
            decode(br#" { "p" : "U0MCAg==" , "v" : 2 } "#, MAX).unwrap(),
            b"SC\x02\x02"
        );
        assert!(is_web_form(b"  {\"v\":2}"));
        assert!(!is_web_form(b"SC\x02\x02"));
    }

    #[test]
    fn rejected_variants() {
        let bad: &[&[u8]] = &[
            b"",
            b"{}",
            br#"{"v":2}"#,
            br#"{"p":"U0MCAg=="}"#,
            br#"{"v":2,"p":"U0MCAg==","x":1}"#,
            br#"{"v":2,"v":2}"#,
            br#"{"v":"2","p":"U0MCAg=="}"#,
            br#"{"v":2,"p":"U0MCAg"}"#,
            br#"{"v":2,"p":"U0MC\nAg=="}"#,
            br#"{"v":2,"p":"U0MCAg=="}x"#,
            br#"{"v":2,"p":"U0MCAg\u003d="}"#,
            br#"{"v":2.0,"p":"U0MCAg=="}"#,
            br#"["v",2]"#,
        ];
        for b in bad {
            assert!(decode(b, MAX).is_err(), "{}", String::from_utf8_lossy(b));
        }
        for v in ["3", "0", "-2", "20", "99999999999999999999999"] {
            let text = format!(r#"{{"v":{v},"p":"U0MCAg=="}}"#);
            assert_eq!(
                decode(text.as_bytes(), MAX),
                Err(Error::UnsupportedVersion),
                "a well-formed integer other than 2: {v}"
            );
        }
        // Not the JSON integer grammar (or a negative zero): malformed, not a version.
        for v in [
            "-0", "02", "002", "-02", "-", "+2", "2.", "2e0", "0x2", "--2", "-00",
        ] {
            let text = format!(r#"{{"v":{v},"p":"U0MCAg=="}}"#);
            assert_eq!(
                decode(text.as_bytes(), MAX),
                Err(Error::MalformedEnvelope),
                "{v}"
            );
        }
        assert_eq!(decode(&[b' '; 100], 99), Err(Error::PayloadTooLarge));
    }
}
