//! `scv2 inspect`: decode an envelope's header (raw binary or the web form).

use std::fmt::Write as _;

use scv2::wire::{parse_any, Envelope};

use crate::util::hex;

/// Describe an envelope, one `name: value` per line.
pub fn describe(input: &[u8]) -> Result<String, scv2::Error> {
    let (bytes, form) = scv2::http::decode_body(input, crate::client::MAX_ANSWER_BODY)?;
    let form = match form {
        scv2::http::BodyForm::Web => "web form {\"v\":2,\"p\":…}",
        scv2::http::BodyForm::Raw => "raw binary",
    };
    let env = parse_any(&bytes)?;
    let mut s = String::new();
    let a = env.aead();
    let (name, header_len) = match &env {
        Envelope::KeyExchange(k) => ("1 (key exchange, client → server)", k.header.len()),
        Envelope::KeyExchangeResponse(k) => (
            "130 (key-exchange response, server → client)",
            k.header.len(),
        ),
        Envelope::Request(_) => ("2 (request)", 4),
        Envelope::Response(_) => ("129 (response)", 4),
    };
    let _ = writeln!(s, "form: {form}");
    let _ = writeln!(s, "type: {name}");
    let _ = writeln!(s, "length: {} bytes", bytes.len());
    let _ = writeln!(s, "header: {header_len} bytes");
    match &env {
        Envelope::KeyExchange(k) => {
            let _ = writeln!(s, "keyId: {}", String::from_utf8_lossy(k.key_id));
            let _ = writeln!(s, "client ephemeral E: {}", hex(k.client_ephemeral));
        }
        Envelope::KeyExchangeResponse(k) => {
            let _ = writeln!(s, "server ephemeral F: {}", hex(k.server_ephemeral));
        }
        _ => {}
    }
    let _ = writeln!(s, "iv: {}", hex(a.iv));
    let _ = writeln!(
        s,
        "ciphertext: {} bytes (padded plaintext)",
        a.ciphertext.len()
    );
    let _ = writeln!(s, "tag: {}", hex(a.tag));
    if matches!(env, Envelope::Request(_) | Envelope::Response(_)) {
        let _ = writeln!(
            s,
            "sequence number: needs the session's IV base (iv_c2s / iv_s2c); not shown"
        );
    }
    Ok(s)
}
