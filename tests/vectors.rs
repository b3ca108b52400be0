//! The checked-in protocol vectors `tests/vectors/scv2-x25519.json`, in both directions:
//! every envelope is regenerated from the case's inputs and must match byte for byte, and every
//! envelope in the file is opened and must give back the case's plaintexts. Negative cases must
//! fail with exactly the error they name.
//!
//! Regenerate the file (deterministic; the same bytes every time):
//! `SCV2_REGENERATE_VECTORS=1 cargo test --features test-vectors --test vectors`

#![cfg(feature = "test-vectors")]

use serde_json::{json, Value};
use std::path::PathBuf;

use scv2::primitives::{sha256, X25519Secret};
use scv2::{
    max_open_len, ClientConfig, ClientHandshake, ClientSession, Error, PendingRequest, PinnedKey,
    Server, ServerConfig, ServerKey, ServerSession,
};

const SUITE: &str = "X25519-HKDF-SHA256-AES-256-GCM";

fn vector_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/scv2-x25519.json")
}

use scv2_test_support::hex::{hex, unhex, unhex_array as arr};

/// Deterministic bytes for a case field: SHA-256 counter-mode over a label.
fn det(case: &str, field: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0u32;
    while out.len() < len {
        out.extend_from_slice(&sha256(&[
            b"scv2 test vector/",
            case.as_bytes(),
            b"/",
            field.as_bytes(),
            &i.to_be_bytes(),
        ]));
        i += 1;
    }
    out.truncate(len);
    out
}

/// Deterministic printable JSON text of exactly `len` bytes.
fn det_json(case: &str, field: &str, len: usize) -> Vec<u8> {
    if len == 0 {
        return Vec::new();
    }
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let filler: Vec<u8> = det(case, field, len)
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()])
        .collect();
    let head = b"{\"d\":\"";
    let tail = b"\"}";
    if len < head.len() + tail.len() {
        return filler;
    }
    let mut out = head.to_vec();
    out.extend_from_slice(&filler[..len - head.len() - tail.len()]);
    out.extend_from_slice(tail);
    out
}

/// `(seq, ctx, request body, response body)`.
type Exchange = (u64, Vec<u8>, Vec<u8>, Vec<u8>);

struct CaseSpec {
    name: &'static str,
    key_id: String,
    block: usize,
    kx_payload: Vec<u8>,
    session_id: String,
    kxr_payload: Vec<u8>,
    /// (seq, ctx, request, response) in the order the server opens them.
    exchanges: Vec<Exchange>,
}

const NOW_MS: u64 = 1_764_403_200_000; // 2025-11-29T08:00:00Z
const TTL_MS: u64 = 30 * 60 * 1000;
const INIT: &[u8] = b"POST /web/v1/system/auth/password/init";

fn specs() -> Vec<CaseSpec> {
    let init_body = br#"{"sessionId":"init-session-7f3a","password":"NewP@ssw0rd"}"#.to_vec();
    let created = br#"{"version":"2.0.0","timestamp":1764403200000,"success":true,"code":"2000","message":"SUCCESS","data":{"bizId":"ACC_USR_00000001","email":"user@example.com","name":"Test User","status":10010202,"createdAt":"2025-11-29T08:00:00Z"}}"#.to_vec();
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    vec![
        CaseSpec {
            name: "password-init-block-64",
            key_id: "k-2025-11".into(),
            block: 64,
            kx_payload: b"{}".to_vec(),
            session_id: "Yk9mS0lHd2xhZ3Z0Zk5xUQ".into(),
            kxr_payload: Vec::new(),
            exchanges: vec![(1, INIT.to_vec(), init_body.clone(), created.clone())],
        },
        CaseSpec {
            name: "empty-everything-block-1",
            key_id: "a".into(),
            block: 1,
            kx_payload: Vec::new(),
            session_id: "s".into(),
            kxr_payload: Vec::new(),
            exchanges: vec![
                (1, Vec::new(), Vec::new(), Vec::new()),
                (2, Vec::new(), b"x".to_vec(), Vec::new()),
            ],
        },
        CaseSpec {
            name: "block-256-out-of-order",
            key_id: "prod/x25519/3".into(),
            block: 256,
            kx_payload: br#"{"platform":"ios","app":"4.2.0"}"#.to_vec(),
            session_id: "sess-0001".into(),
            kxr_payload: br#"{"ttl":1800}"#.to_vec(),
            exchanges: vec![
                (
                    2,
                    b"POST /web/v1/system/auth/login".to_vec(),
                    det_json("b256", "r2", 300),
                    det_json("b256", "s2", 10),
                ),
                (1, INIT.to_vec(), init_body.clone(), created.clone()),
                (
                    3,
                    b"POST /web/v1/system/auth/password/change".to_vec(),
                    det_json("b256", "r3", 255),
                    det_json("b256", "s3", 256),
                ),
            ],
        },
        CaseSpec {
            name: "longest-key-id-and-session-id",
            key_id: String::from_utf8((0..255u32).map(|i| 0x21 + (i % 94) as u8).collect())
                .unwrap(),
            block: 64,
            kx_payload: Vec::new(),
            session_id: String::from_utf8((0..64u32).map(|i| 0x7e - (i % 94) as u8).collect())
                .unwrap(),
            kxr_payload: det("longest", "kxr", 100),
            exchanges: vec![(1, INIT.to_vec(), init_body.clone(), created.clone())],
        },
        CaseSpec {
            name: "large-payloads-70000",
            key_id: "k-large".into(),
            block: 64,
            kx_payload: det_json("large", "kx", 1000),
            session_id: "large-payload-session".into(),
            kxr_payload: Vec::new(),
            exchanges: vec![
                (
                    1,
                    b"POST /web/v1/system/auth/register".to_vec(),
                    det_json("large", "r1", 70000),
                    det_json("large", "s1", 65536),
                ),
                (
                    2,
                    INIT.to_vec(),
                    det_json("large", "r2", 63),
                    det_json("large", "s2", 64),
                ),
            ],
        },
        CaseSpec {
            name: "binary-payloads-block-256",
            key_id: "bin".into(),
            block: 256,
            kx_payload: all_bytes.clone(),
            session_id: "bin-0".into(),
            kxr_payload: all_bytes.clone(),
            exchanges: vec![(
                1,
                b"PUT /v1/blob".to_vec(),
                all_bytes.clone(),
                det("bin", "s1", 513),
            )],
        },
        CaseSpec {
            name: "many-exchanges-reordered-block-1",
            key_id: "k7".into(),
            block: 1,
            kx_payload: b"hello".to_vec(),
            session_id: "MANY".into(),
            kxr_payload: b"welcome".to_vec(),
            exchanges: [3u64, 1, 2, 6, 4, 5]
                .iter()
                .map(|&n| {
                    (
                        n,
                        format!("POST /web/v1/op/{n}").into_bytes(),
                        det_json("many", &format!("r{n}"), (n as usize) * 17),
                        det_json("many", &format!("s{n}"), (n as usize) * 5),
                    )
                })
                .collect(),
        },
        CaseSpec {
            name: "padding-edges-block-64",
            key_id: "edge".into(),
            block: 64,
            kx_payload: det("edge", "kx", 63),
            session_id: "edge-session".into(),
            kxr_payload: det("edge", "kxr", 64 - 1 - 12 - 8),
            exchanges: vec![
                (
                    1,
                    INIT.to_vec(),
                    det("edge", "r1", 63),
                    det("edge", "s1", 64),
                ),
                (
                    2,
                    INIT.to_vec(),
                    det("edge", "r2", 0),
                    det("edge", "s2", 127),
                ),
                (
                    3,
                    INIT.to_vec(),
                    det("edge", "r3", 128),
                    det("edge", "s3", 1),
                ),
            ],
        },
    ]
}

fn server_for(key_id: &str, private: &[u8; 32], block: usize) -> Server {
    let config = ServerConfig::default().with_padding_block(block).unwrap();
    let mut server = Server::new(config);
    server
        .add_key(ServerKey::from_private_bytes(key_id, private, NOW_MS - 86_400_000, None).unwrap())
        .unwrap();
    server
}

fn client_config_for(key_id: &str, public: [u8; 32], block: usize) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.pin(PinnedKey::new(key_id, public).unwrap());
    c.set_padding_block(block).unwrap();
    c
}

fn open_req(
    s: &ServerSession,
    ctx: &[u8],
    env: &[u8],
    now: u64,
) -> Result<(scv2::ResponseSlot, Vec<u8>), Error> {
    let mut out = vec![0u8; max_open_len(env.len())];
    let (slot, n) = s.open_request(ctx, env, now, &mut out)?;
    out.truncate(n);
    Ok((slot, out))
}

fn open_resp(
    c: &ClientSession,
    p: PendingRequest,
    ctx: &[u8],
    env: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut out = vec![0u8; max_open_len(env.len())];
    let n = c.open_response(p, ctx, env, &mut out)?;
    out.truncate(n);
    Ok(out)
}

fn seal_req(c: &ClientSession, ctx: &[u8], body: &[u8]) -> (PendingRequest, Vec<u8>) {
    let mut out = vec![0u8; c.sealed_len(body.len())];
    let (p, n) = c.seal_request(ctx, body, NOW_MS, &mut out).unwrap();
    out.truncate(n);
    (p, out)
}

fn flip(env: &[u8], at: usize) -> Vec<u8> {
    let mut v = env.to_vec();
    v[at] ^= 0x01;
    v
}

/// Build one case's JSON from its spec (the generation direction).
fn generate(spec: &CaseSpec) -> Value {
    let s_priv: [u8; 32] = det(spec.name, "server_static_private", 32)
        .try_into()
        .unwrap();
    let e_priv: [u8; 32] = det(spec.name, "client_ephemeral_private", 32)
        .try_into()
        .unwrap();
    let f_priv: [u8; 32] = det(spec.name, "server_ephemeral_private", 32)
        .try_into()
        .unwrap();
    let iv1: [u8; 12] = det(spec.name, "iv1", 12).try_into().unwrap();
    let s_pub = X25519Secret::from_bytes(s_priv).public_key();
    let expires = NOW_MS + TTL_MS;

    let server = server_for(&spec.key_id, &s_priv, spec.block);
    let config = client_config_for(&spec.key_id, s_pub, spec.block);
    let (hs, kx) = ClientHandshake::start_with_ephemeral_for_test_vectors(
        &config,
        &spec.key_id,
        &spec.kx_payload,
        e_priv,
        iv1,
    )
    .unwrap();
    let accepted = server.accept(&kx, NOW_MS).unwrap();
    let (ss, kxr) = accepted
        .respond_with_ephemeral_for_test_vectors(
            &spec.session_id,
            expires,
            &spec.kxr_payload,
            f_priv,
        )
        .unwrap();
    let cs = hs.finish(&kxr, NOW_MS).unwrap();

    let mut sorted: Vec<_> = spec.exchanges.iter().collect();
    sorted.sort_by_key(|x| x.0);
    let mut sealed = std::collections::BTreeMap::new();
    for (seq, ctx, req, _) in sorted {
        let (p, env) = seal_req(&cs, ctx, req);
        assert_eq!(p.seq(), *seq, "exchange seqs must be 1..=k");
        sealed.insert(*seq, (p, env));
    }
    let mut exchanges = Vec::new();
    for (seq, ctx, req, resp) in &spec.exchanges {
        let (pending, req_env) = sealed.remove(seq).unwrap();
        let (slot, body) = open_req(&ss, ctx, &req_env, NOW_MS).unwrap();
        assert_eq!(&body, req);
        let mut out = vec![0u8; ss.sealed_len(resp.len())];
        let n = ss.seal_response(slot, ctx, resp, &mut out).unwrap();
        out.truncate(n);
        assert_eq!(&open_resp(&cs, pending, ctx, &out).unwrap(), resp);
        exchanges.push(json!({
            "seq": seq, "ctx": hex(ctx), "request": hex(req), "request_envelope": hex(&req_env),
            "response": hex(resp), "response_envelope": hex(&out),
        }));
    }

    // Negatives.
    let first = &spec.exchanges[0];
    let first_req = unhex(exchanges[0]["request_envelope"].as_str().unwrap());
    let first_resp = unhex(exchanges[0]["response_envelope"].as_str().unwrap());
    let mut wrong_id = kx.clone();
    wrong_id[5] = if wrong_id[5] == b'Z' { b'Y' } else { b'Z' };
    let mut bad_version = kx.clone();
    bad_version[2] = 0x03;
    let mut wrong_ctx = first.1.clone();
    wrong_ctx.extend_from_slice(b"/");
    // A request the server never sees: tampering with it must fail authentication, not replay.
    let fresh_seq = spec.exchanges.len() as u64 + 1;
    let fresh_body = b"{\"fresh\":true}";
    let (_, fresh) = seal_req(&cs, &first.1, fresh_body);
    let mut negative = vec![
        json!({"kind": "wrong_key_id", "stage": "kx", "seq": 0, "ctx": "", "envelope": hex(&wrong_id), "error": "unknown_key_id"}),
        json!({"kind": "tampered_ciphertext", "stage": "kx", "seq": 0, "ctx": "", "envelope": hex(&flip(&kx, kx.len() - 17)), "error": "decryption_failed"}),
        json!({"kind": "tampered_ephemeral_key", "stage": "kx", "seq": 0, "ctx": "", "envelope": hex(&flip(&kx, 8 + spec.key_id.len())), "error": "decryption_failed"}),
        json!({"kind": "unsupported_version", "stage": "kx", "seq": 0, "ctx": "", "envelope": hex(&bad_version), "error": "unsupported_version"}),
        json!({"kind": "tampered_tag", "stage": "kxr", "seq": 0, "ctx": "", "envelope": hex(&flip(&kxr, kxr.len() - 1)), "error": "decryption_failed"}),
        json!({"kind": "tampered_header", "stage": "kxr", "seq": 0, "ctx": "", "envelope": hex(&flip(&kxr, 10)), "error": "decryption_failed"}),
        json!({"kind": "replay", "stage": "request", "seq": first.0, "ctx": hex(&first.1), "envelope": hex(&first_req), "error": "replayed"}),
        json!({"kind": "tampered_ciphertext", "stage": "request", "seq": fresh_seq, "ctx": hex(&first.1), "envelope": hex(&flip(&fresh, 16)), "error": "decryption_failed"}),
        json!({"kind": "replayed_tampered", "stage": "request", "seq": first.0, "ctx": hex(&first.1), "envelope": hex(&flip(&first_req, 16)), "error": "replayed"}),
        json!({"kind": "wrong_ctx", "stage": "request", "seq": fresh_seq, "ctx": hex(&wrong_ctx), "envelope": hex(&fresh), "error": "decryption_failed"}),
        json!({"kind": "truncated", "stage": "request", "seq": fresh_seq, "ctx": hex(&first.1), "envelope": hex(&fresh[..fresh.len() - 1]),
               "error": if fresh.len() - 1 < 33 { "malformed_envelope" } else { "decryption_failed" }}),
        json!({"kind": "response_at_request_entry", "stage": "request", "seq": first.0, "ctx": hex(&first.1), "envelope": hex(&first_resp), "error": "malformed_envelope"}),
        json!({"kind": "tampered_tag", "stage": "response", "seq": first.0, "ctx": hex(&first.1), "envelope": hex(&flip(&first_resp, first_resp.len() - 1)), "error": "decryption_failed"}),
        json!({"kind": "wrong_ctx", "stage": "response", "seq": first.0, "ctx": hex(&wrong_ctx), "envelope": hex(&first_resp), "error": "decryption_failed"}),
    ];
    // Structural and range negatives.
    let e_at = 7 + spec.key_id.len();
    let mut zero_e = kx.clone();
    zero_e[e_at..e_at + 32].fill(0);
    let mut unknown_type = kx.clone();
    unknown_type[3] = 0x05;
    let mut req_key_len = kx.clone();
    req_key_len[e_at - 1] = 31;
    let mut zero_f = kxr.clone();
    zero_f[4..36].fill(0);
    let mut iv_not_zero_seq = kxr.clone();
    iv_not_zero_seq[36 + 11] ^= 0x01; // IV = nonce(s2c, 1): right keys, wrong sequence number
    let seq_env = |seq: u64| {
        let mut out = vec![0u8; cs.sealed_len(fresh_body.len())];
        let n = cs
            .seal_request_with_seq_for_test_vectors(seq, &first.1, fresh_body, &mut out)
            .unwrap();
        out.truncate(n);
        out
    };
    let (seq0, seq_max1) = (seq_env(0), seq_env(1 << 32));
    let mut high_iv = fresh.clone();
    high_iv[4] ^= 0x01; // a nonce whose top four bytes are not zero
    negative.extend([
        json!({"kind": "low_order_client_ephemeral", "stage": "kx", "seq": 0, "ctx": "", "envelope": hex(&zero_e), "error": "invalid_public_key"}),
        json!({"kind": "unknown_type", "stage": "kx", "seq": 0, "ctx": "", "envelope": hex(&unknown_type), "error": "unknown_type"}),
        json!({"kind": "request_key_length_31", "stage": "kx", "seq": 0, "ctx": "", "envelope": hex(&req_key_len), "error": "malformed_envelope"}),
        json!({"kind": "low_order_server_ephemeral", "stage": "kxr", "seq": 0, "ctx": "", "envelope": hex(&zero_f), "error": "invalid_public_key"}),
        json!({"kind": "iv_not_sequence_zero", "stage": "kxr", "seq": 0, "ctx": "", "envelope": hex(&iv_not_zero_seq), "error": "decryption_failed"}),
        json!({"kind": "sequence_zero", "stage": "request", "seq": 0, "ctx": hex(&first.1), "envelope": hex(&seq0), "error": "decryption_failed"}),
        json!({"kind": "sequence_2_pow_32", "stage": "request", "seq": 1u64 << 32, "ctx": hex(&first.1), "envelope": hex(&seq_max1), "error": "decryption_failed"}),
        json!({"kind": "nonce_top_bytes_not_zero", "stage": "request", "seq": fresh_seq, "ctx": hex(&first.1), "envelope": hex(&high_iv), "error": "decryption_failed"}),
    ]);
    if spec.exchanges.len() > 1 {
        let other = &exchanges[1];
        negative.push(json!({
            "kind": "response_for_other_request", "stage": "response", "seq": first.0,
            "ctx": other["ctx"], "envelope": other["response_envelope"], "error": "response_mismatch",
        }));
    }

    json!({
        "name": spec.name,
        "key_id": spec.key_id,
        "server_static_private": hex(&s_priv),
        "server_static_public": hex(&s_pub),
        "client_ephemeral_private": hex(&e_priv),
        "server_ephemeral_private": hex(&f_priv),
        "iv1": hex(&iv1),
        "padding_block": spec.block,
        "now_ms": NOW_MS,
        "kx_payload": hex(&spec.kx_payload),
        "kx_envelope": hex(&kx),
        "session_id": spec.session_id,
        "expires_at_ms": expires,
        "kxr_payload": hex(&spec.kxr_payload),
        "kxr_envelope": hex(&kxr),
        "exchanges": exchanges,
        "negative": negative,
    })
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("field {k} missing or not a string"))
}
fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("field {k} missing or not an integer"))
}

/// Check one case from the file in both directions.
fn verify(case: &Value) {
    let name = s(case, "name");
    let key_id = s(case, "key_id");
    let block = u(case, "padding_block") as usize;
    let now = u(case, "now_ms");
    let s_priv: [u8; 32] = arr(s(case, "server_static_private"));
    let s_pub: [u8; 32] = arr(s(case, "server_static_public"));
    assert_eq!(
        X25519Secret::from_bytes(s_priv).public_key(),
        s_pub,
        "{name}: static public key"
    );
    let kx_file = unhex(s(case, "kx_envelope"));
    let kxr_file = unhex(s(case, "kxr_envelope"));
    let kx_payload = unhex(s(case, "kx_payload"));
    let kxr_payload = unhex(s(case, "kxr_payload"));
    let sid = s(case, "session_id");
    let expires = u(case, "expires_at_ms");

    let server = server_for(key_id, &s_priv, block);
    let config = client_config_for(key_id, s_pub, block);
    let new_handshake = || {
        ClientHandshake::start_with_ephemeral_for_test_vectors(
            &config,
            key_id,
            &kx_payload,
            arr(s(case, "client_ephemeral_private")),
            arr(s(case, "iv1")),
        )
        .unwrap()
    };

    // Generate: the type-1 envelope.
    let (hs, kx) = new_handshake();
    assert_eq!(hex(&kx), hex(&kx_file), "{name}: kx_envelope");
    // Open the file's type 1 and answer it.
    let accepted = server.accept(&kx_file, now).unwrap();
    assert_eq!(accepted.payload(), &kx_payload[..], "{name}: kx_payload");
    let (ss, kxr) = accepted
        .respond_with_ephemeral_for_test_vectors(
            sid,
            expires,
            &kxr_payload,
            arr(s(case, "server_ephemeral_private")),
        )
        .unwrap();
    assert_eq!(hex(&kxr), hex(&kxr_file), "{name}: kxr_envelope");
    // Open the file's type 130.
    let cs = hs.finish(&kxr_file, now).unwrap();
    assert_eq!(cs.session_id(), sid);
    assert_eq!(cs.expires_at_ms(), expires);
    assert_eq!(cs.app_payload(), &kxr_payload[..], "{name}: kxr_payload");

    let exchanges = case["exchanges"].as_array().expect("exchanges");
    let mut sorted: Vec<&Value> = exchanges.iter().collect();
    sorted.sort_by_key(|x| u(x, "seq"));
    let mut pendings = std::collections::BTreeMap::new();
    for x in sorted {
        let (p, env) = seal_req(&cs, &unhex(s(x, "ctx")), &unhex(s(x, "request")));
        assert_eq!(p.seq(), u(x, "seq"));
        assert_eq!(
            hex(&env),
            s(x, "request_envelope"),
            "{name}: request_envelope seq {}",
            p.seq()
        );
        pendings.insert(p.seq(), p);
    }
    for x in exchanges {
        let seq = u(x, "seq");
        let ctx = unhex(s(x, "ctx"));
        let (slot, body) = open_req(&ss, &ctx, &unhex(s(x, "request_envelope")), now).unwrap();
        assert_eq!(slot.seq(), seq);
        assert_eq!(hex(&body), s(x, "request"), "{name}: request seq {seq}");
        let resp = unhex(s(x, "response"));
        let mut out = vec![0u8; ss.sealed_len(resp.len())];
        let n = ss.seal_response(slot, &ctx, &resp, &mut out).unwrap();
        assert_eq!(
            hex(&out[..n]),
            s(x, "response_envelope"),
            "{name}: response_envelope seq {seq}"
        );
        let got = open_resp(
            &cs,
            pendings.remove(&seq).unwrap(),
            &ctx,
            &unhex(s(x, "response_envelope")),
        )
        .unwrap();
        assert_eq!(got, resp, "{name}: response seq {seq}");
    }

    // Negatives.
    let negs = case["negative"].as_array().expect("negative");
    assert!(!negs.is_empty());
    for n in negs {
        let kind = s(n, "kind");
        let want = Error::from_name(s(n, "error")).unwrap_or_else(|| panic!("unknown error name"));
        let env = unhex(s(n, "envelope"));
        let ctx = unhex(s(n, "ctx"));
        let got = match s(n, "stage") {
            "kx" => server.accept(&env, now).map(|_| ()),
            "kxr" => new_handshake().0.finish(&env, now).map(|_| ()),
            "request" => open_req(&ss, &ctx, &env, now).map(|_| ()),
            "response" => {
                // A fresh client session (same keys) that has sealed the case's requests in order.
                let (hs, _) = new_handshake();
                let cs2 = hs.finish(&kxr_file, now).unwrap();
                let mut pending = None;
                for _ in 0..u(n, "seq") {
                    pending = Some(seal_req(&cs2, b"", b"").0);
                }
                open_resp(&cs2, pending.expect("seq >= 1"), &ctx, &env).map(|_| ())
            }
            other => panic!("unknown stage {other}"),
        };
        assert_eq!(
            got,
            Err(want),
            "{name}: negative {kind} ({})",
            s(n, "stage")
        );
    }
}

#[test]
fn vectors_regenerate_and_open() {
    let path = vector_path();
    let generated = json!({
        "suite": SUITE,
        "description": "SCv2 X25519-HKDF-SHA256-AES-256-GCM test vectors; see SPEC.md, section Test vectors",
        "cases": specs().iter().map(generate).collect::<Vec<_>>(),
    });
    if std::env::var_os("SCV2_REGENERATE_VECTORS").is_some() {
        let mut text = serde_json::to_string_pretty(&generated).unwrap();
        text.push('\n');
        std::fs::write(&path, text).unwrap();
        eprintln!("wrote {}", path.display());
    }
    let text = std::fs::read_to_string(&path).expect("tests/vectors/scv2-x25519.json");
    let file: Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(file["suite"], SUITE);
    let cases = file["cases"].as_array().expect("cases");
    assert!(cases.len() >= 8, "at least 8 cases");
    // Generation direction: the file is exactly what the inputs produce.
    assert_eq!(cases.len(), generated["cases"].as_array().unwrap().len());
    for (f, g) in cases.iter().zip(generated["cases"].as_array().unwrap()) {
        assert_eq!(f, g, "case {} differs from its regeneration", f["name"]);
    }
    // Both directions again, from the file's own inputs only.
    for case in cases {
        verify(case);
    }
}
