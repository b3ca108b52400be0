//! `envelope_parse`: arbitrary bytes into every envelope parser of `scv2::wire`, and into the web
//! form decoder.
//!
//! Properties:
//! - every parser agrees with the reference model of SPEC.md section 3 / section 10 steps 2–5
//!   (`scv2_fuzz::model_parse`): same success, same error;
//! - errors are only `malformed_envelope`, `unsupported_version`, `unknown_type`;
//! - `parse_any` agrees with the type-specific parser of the type byte (and every other
//!   type-specific parser refuses the input);
//! - on success `Envelope::to_bytes()` gives back exactly the input, and the parts are the
//!   input's bytes (header, IV, ciphertext ≥ 1 byte, tag) in order;
//! - `web::decode` never panics, errors only as documented, and what it decodes re-encodes to a
//!   form that decodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scv2::wire::{
    self, Envelope, TYPE_KEY_EXCHANGE, TYPE_KEY_EXCHANGE_RESPONSE, TYPE_REQUEST, TYPE_RESPONSE,
};
use scv2::{web, Error};
use scv2_fuzz::{assert_documented, model_parse, model_prefix, PARSE_ERRORS};

const TYPES: [u8; 4] = [
    TYPE_KEY_EXCHANGE,
    TYPE_REQUEST,
    TYPE_RESPONSE,
    TYPE_KEY_EXCHANGE_RESPONSE,
];

/// Run the type-specific parser for `ty`; on success return the re-serialized envelope.
fn parse_as(data: &[u8], ty: u8) -> Result<Envelope<'_>, Error> {
    match ty {
        TYPE_KEY_EXCHANGE => wire::parse_key_exchange(data).map(Envelope::KeyExchange),
        TYPE_KEY_EXCHANGE_RESPONSE => {
            wire::parse_key_exchange_response(data).map(Envelope::KeyExchangeResponse)
        }
        TYPE_REQUEST => wire::parse_data(data, TYPE_REQUEST).map(Envelope::Request),
        TYPE_RESPONSE => wire::parse_data(data, TYPE_RESPONSE).map(Envelope::Response),
        _ => unreachable!(),
    }
}

fn check_parts(data: &[u8], env: &Envelope<'_>) {
    let a = env.aead();
    let header_len = data.len() - a.iv.len() - a.ciphertext.len() - a.tag.len();
    assert!(!a.ciphertext.is_empty(), "empty ciphertext accepted");
    assert_eq!(&data[header_len..header_len + 12], &a.iv[..]);
    assert_eq!(&data[data.len() - 16..], &a.tag[..]);
    match env {
        Envelope::KeyExchange(k) => {
            assert_eq!(k.header, &data[..header_len]);
            assert_eq!(header_len, wire::key_exchange_header_len(k.key_id.len()));
            assert!(wire::is_valid_id(k.key_id, 255));
            assert_eq!(&data[5..5 + k.key_id.len()], k.key_id);
            assert_eq!(
                &data[5 + k.key_id.len() + 2..5 + k.key_id.len() + 34],
                &k.client_ephemeral[..]
            );
        }
        Envelope::KeyExchangeResponse(k) => {
            assert_eq!(header_len, wire::KXR_HEADER_LEN);
            assert_eq!(k.header, &data[..header_len]);
            assert_eq!(&data[4..36], &k.server_ephemeral[..]);
        }
        Envelope::Request(_) | Envelope::Response(_) => {
            assert_eq!(header_len, wire::DATA_HEADER_LEN);
            assert_eq!(scv2::max_open_len(data.len()), a.ciphertext.len());
        }
    }
}

/// The type-1 parser common to every suite and the hybrid suite's parsers (SPEC 15.2, 15.6)
/// against the harness's model (`spec15`), and their agreement with the X25519 parser.
fn hybrid_parsers(data: &[u8]) {
    use scv2_test_support::spec15::{model_common_type1, EK_LEN, HEADER2_LEN, REQ_KEY_LEN};
    let model_any = model_prefix(data).and_then(|ty| {
        if ty == TYPE_KEY_EXCHANGE {
            model_common_type1(data)
        } else {
            Err(Error::MalformedEnvelope)
        }
    });
    match (wire::parse_any_key_exchange(data), model_any) {
        (Ok(k), Ok((key_id, req, resp))) => {
            assert_eq!(
                (k.key_id, k.request_key, k.response_key),
                (key_id, req, resp)
            );
            assert_eq!(
                k.header.len() + 12 + k.aead.ciphertext.len() + 16,
                data.len()
            );
            assert_eq!(&data[..k.header.len()], k.header);
            // The suite views: exactly the lengths of their suite.
            let x = k.x25519();
            assert_eq!(x.is_ok(), req.len() == 32 && resp.is_empty());
            if let Ok(x) = x {
                assert_eq!(
                    wire::parse_key_exchange(data),
                    Ok(x),
                    "the two X25519 parsers differ"
                );
            }
            let h = k.hybrid();
            assert_eq!(h.is_ok(), req.len() == REQ_KEY_LEN && resp.len() == EK_LEN);
            if let Ok(h) = h {
                assert_eq!(&req[1088..], &h.client_ephemeral[..]);
                assert_eq!(&req[..1088], &h.ciphertext[..]);
                assert_eq!(resp, &h.client_kem_key[..]);
                assert_eq!(wire::parse_hybrid_key_exchange(data), Ok(h));
            } else {
                assert_eq!(
                    wire::parse_hybrid_key_exchange(data),
                    Err(Error::MalformedEnvelope)
                );
            }
        }
        (Err(e), Err(m)) => assert_eq!(e, m, "parse_any_key_exchange: error differs"),
        (r, m) => panic!("parse_any_key_exchange {r:?}, model {m:?}"),
    }
    let model130 = model_prefix(data).and_then(|ty| {
        if ty != TYPE_KEY_EXCHANGE_RESPONSE || data.len() < HEADER2_LEN + 29 {
            Err(Error::MalformedEnvelope)
        } else {
            Ok(())
        }
    });
    match (wire::parse_hybrid_key_exchange_response(data), model130) {
        (Ok(k), Ok(())) => {
            assert_eq!(k.header, &data[..HEADER2_LEN]);
            assert_eq!(&data[4..4 + 1088], &k.ciphertext[..]);
            assert_eq!(&data[4 + 1088..HEADER2_LEN], &k.server_ephemeral[..]);
            assert_eq!(HEADER2_LEN + 12 + k.aead.ciphertext.len() + 16, data.len());
        }
        (Err(e), Err(m)) => assert_eq!(e, m, "parse_hybrid_key_exchange_response: error differs"),
        (r, m) => panic!("parse_hybrid_key_exchange_response {r:?}, model {m:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    // parse_any against the model.
    let any = wire::parse_any(data);
    let prefix = model_prefix(data);
    match (&any, prefix) {
        (Ok(env), Ok(ty)) => {
            assert_eq!(env.type_byte(), ty);
            assert_eq!(model_parse(data, ty).map(|_| ()), Ok(()), "model refuses");
            assert_eq!(env.to_bytes(), data, "to_bytes is not the input");
            check_parts(data, env);
        }
        (Ok(env), Err(e)) => panic!("parse_any accepted {env:?}, the model says {e:?}"),
        (Err(e), Ok(ty)) => {
            assert_documented(*e, PARSE_ERRORS, "parse_any");
            assert_eq!(model_parse(data, ty), Err(*e), "parse_any error differs");
        }
        (Err(e), Err(m)) => assert_eq!(*e, m, "parse_any prefix error differs"),
    }

    // Every type-specific parser: the model's answer at that entry point; the one of the type
    // byte agrees with parse_any.
    let mut successes = 0;
    for ty in TYPES {
        let r = parse_as(data, ty);
        match (&r, model_parse(data, ty)) {
            (Ok(env), Ok(_)) => {
                successes += 1;
                assert_eq!(env.type_byte(), ty);
                assert_eq!(env.to_bytes(), data, "to_bytes is not the input");
                check_parts(data, env);
                assert_eq!(any.as_ref().ok(), Some(env), "parse_any disagrees");
            }
            (Err(e), Err(m)) => {
                assert_documented(*e, PARSE_ERRORS, "type-specific parser");
                assert_eq!(*e, m, "type {ty:#04x}: error differs from the model");
                if prefix == Ok(ty) {
                    assert_eq!(any.as_ref().err(), Some(e), "parse_any disagrees");
                }
            }
            (r, m) => panic!("type {ty:#04x}: parser {r:?}, model {m:?}"),
        }
    }
    assert!(successes <= 1, "two parsers accepted one input");
    assert_eq!(successes == 1, any.is_ok());

    // The web form.
    hybrid_parsers(data);

    match web::decode(data, 1 << 16) {
        Ok(bytes) => {
            let form = web::encode(&bytes);
            assert_eq!(
                web::decode(form.as_bytes(), usize::MAX).as_ref(),
                Ok(&bytes)
            );
            assert!(
                web::is_web_form(data),
                "decoded something that is not a web form"
            );
        }
        Err(e) => assert_documented(
            e,
            &[
                Error::MalformedEnvelope,
                Error::UnsupportedVersion,
                Error::PayloadTooLarge,
            ],
            "web::decode",
        ),
    }
});
