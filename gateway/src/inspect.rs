//! `scv2 inspect`: decode an envelope's header (raw binary or the web form), of either suite.
//!
//! A type 1 says its suite by its key lengths (`reqKeyLen`/`respKeyLen`: 32/0 for X25519,
//! 1120/1184 for X25519MLKEM768). A type 130 does not (its suite is that of the type 1 it
//! answers): it is decoded in the suite given (`--suite`), X25519 by default.

use std::fmt::Write as _;

use scv2::wire::{parse_any, parse_any_key_exchange, parse_hybrid_key_exchange_response, Envelope};
use scv2::Suite;

use crate::util::hex;

/// Describe an envelope, one `name: value` per line (a type 130 is read as X25519, with a
/// note: see [`describe_as`]).
pub fn describe(input: &[u8]) -> Result<String, scv2::Error> {
    describe_as(input, None)
}

/// [`describe`], a type 130 read in `suite_130`'s layout (`None`: X25519, with a note).
pub fn describe_as(input: &[u8], suite_130: Option<Suite>) -> Result<String, scv2::Error> {
    let (bytes, form) = scv2::http::decode_body(input, crate::client::MAX_ANSWER_BODY)?;
    let form = match form {
        scv2::http::BodyForm::Web => "web form {\"v\":2,\"p\":…}",
        scv2::http::BodyForm::Raw => "raw binary",
    };
    let mut s = String::new();
    let ty = bytes.get(3).copied();
    if ty == Some(scv2::wire::TYPE_KEY_EXCHANGE) {
        return key_exchange(&bytes, form);
    }
    if ty == Some(scv2::wire::TYPE_KEY_EXCHANGE_RESPONSE)
        && suite_130 == Some(Suite::X25519MlKem768)
    {
        let k = parse_hybrid_key_exchange_response(&bytes)?;
        head(
            &mut s,
            form,
            "130 (key-exchange response, server → client)",
            &bytes,
            k.header.len(),
        );
        let _ = writeln!(s, "suite: {} (as given)", Suite::X25519MlKem768);
        let _ = writeln!(s, "ML-KEM ciphertext ct2: {} bytes", k.ciphertext.len());
        let _ = writeln!(s, "server ephemeral F: {}", hex(k.server_ephemeral));
        aead(&mut s, &k.aead);
        return Ok(s);
    }
    let env = parse_any(&bytes)?;
    let (name, header_len) = match &env {
        Envelope::KeyExchange(k) => ("1 (key exchange, client → server)", k.header.len()),
        Envelope::KeyExchangeResponse(k) => (
            "130 (key-exchange response, server → client)",
            k.header.len(),
        ),
        Envelope::Request(_) => ("2 (request)", 4),
        Envelope::Response(_) => ("129 (response)", 4),
    };
    head(&mut s, form, name, &bytes, header_len);
    if let Envelope::KeyExchangeResponse(k) = &env {
        match suite_130 {
            Some(suite) => {
                let _ = writeln!(s, "suite: {suite} (as given)");
            }
            None => {
                let _ = writeln!(
                    s,
                    "suite: read as {} (a type 130 has its type 1's suite; give --suite \
                     x25519mlkem768 for a hybrid one)",
                    Suite::X25519
                );
            }
        }
        let _ = writeln!(s, "server ephemeral F: {}", hex(k.server_ephemeral));
    }
    aead(&mut s, env.aead());
    if matches!(env, Envelope::Request(_) | Envelope::Response(_)) {
        let _ = writeln!(
            s,
            "sequence number: needs the session's IV base (iv_c2s / iv_s2c); not shown"
        );
    }
    Ok(s)
}

/// A type 1 of either suite (told apart by its key lengths).
fn key_exchange(bytes: &[u8], form: &str) -> Result<String, scv2::Error> {
    let k = parse_any_key_exchange(bytes)?;
    let mut s = String::new();
    head(
        &mut s,
        form,
        "1 (key exchange, client → server)",
        bytes,
        k.header.len(),
    );
    let _ = writeln!(s, "keyId: {}", String::from_utf8_lossy(k.key_id));
    let lens = (k.request_key.len(), k.response_key.len());
    if let Ok(x) = k.x25519() {
        let _ = writeln!(s, "suite: {} (reqKeyLen 32, respKeyLen 0)", Suite::X25519);
        let _ = writeln!(s, "client ephemeral E: {}", hex(x.client_ephemeral));
    } else if let Ok(h) = k.hybrid() {
        let _ = writeln!(
            s,
            "suite: {} (reqKeyLen {}, respKeyLen {})",
            Suite::X25519MlKem768,
            lens.0,
            lens.1
        );
        let _ = writeln!(s, "ML-KEM ciphertext ct1: {} bytes", h.ciphertext.len());
        let _ = writeln!(s, "client ephemeral E: {}", hex(h.client_ephemeral));
        let _ = writeln!(
            s,
            "client ML-KEM encapsulation key ek_e: {} bytes",
            h.client_kem_key.len()
        );
    } else {
        let _ = writeln!(
            s,
            "suite: none known (reqKeyLen {}, respKeyLen {}): every server refuses it \
             (malformed_envelope)",
            lens.0, lens.1
        );
    }
    aead(&mut s, &k.aead);
    Ok(s)
}

fn head(s: &mut String, form: &str, name: &str, bytes: &[u8], header_len: usize) {
    let _ = writeln!(s, "form: {form}");
    let _ = writeln!(s, "type: {name}");
    let _ = writeln!(s, "length: {} bytes", bytes.len());
    let _ = writeln!(s, "header: {header_len} bytes");
}

fn aead(s: &mut String, a: &scv2::wire::AeadPart<'_>) {
    let _ = writeln!(s, "iv: {}", hex(a.iv));
    let _ = writeln!(
        s,
        "ciphertext: {} bytes (padded plaintext)",
        a.ciphertext.len()
    );
    let _ = writeln!(s, "tag: {}", hex(a.tag));
}
