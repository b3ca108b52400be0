//! A known-answer cross-check of the hybrid suite X25519MLKEM768-HKDF-SHA256-AES-256-GCM
//! (SPEC.md section 15), built from the primitives seam alone, before the suite's handshake
//! exists in the core.
//!
//! This file owns scaffolding, not protocol code: a literal transcription of SPEC 15 (type 1,
//! its opening by the server in the order of checks of 15.6, type 130 and its opening by the
//! client), driven by fixed inputs derived as SPEC 14 describes (SHA-256 of the case name and
//! field name). It checks that the server, holding only `(s, dk_s)`, recovers the client's
//! `h1`, `prk1`, `k1` and payload, that both sides derive the same `prk2` and `okm`, the
//! envelope sizes, the negative cases and their errors, and pins a SHA-256 of every envelope so
//! that both backends (and, later, the core's real handshake) must produce the same bytes.
//!
//! It also writes the ML-KEM-768 values it used (seeds, keys, `m`, ciphertexts, secrets, an
//! implicit rejection, a key failing the modulus check) and the envelopes to
//! `$CARGO_TARGET_TMPDIR/scv2-mlkem768-kat.json`, which `tests/interop/mlkem_kat.py` checks
//! byte for byte with the Python package `kyber-py`.
//!
//! `primitive_timings` (ignored; release mode, without `test-vectors`) measures the ML-KEM
//! primitives next to X25519 and the scaffolded hybrid handshake next to the core's X25519
//! handshake, in one run:
//! `cargo test --release --test hybrid_kat -- --ignored --nocapture primitive_timings`
//! (add `--features aws-lc` for the other backend).

// Without `test-vectors` only the timing test is built: the scaffolding's checks go unused.
#![cfg_attr(not(feature = "test-vectors"), allow(dead_code))]

use scv2::primitives::{
    hkdf_expand, hkdf_extract, sha256, AeadKey, MlKemDecapsKey, MlKemEncapsKey, X25519Secret,
    MLKEM768_CIPHERTEXT_LEN, MLKEM768_ENCAPS_KEY_LEN,
};
use scv2::Error;
use zeroize::Zeroizing;

/// `LABEL_PQ`: 43 ASCII bytes.
const LABEL_PQ: &[u8] = b"SCv2 X25519MLKEM768-HKDF-SHA256-AES-256-GCM";
const INFO_KX_KEY: &[u8] = b"scv2 kx key";
const INFO_SESSION_KEYS: &[u8] = b"scv2 session keys";
/// `reqKey = ct1 || E`.
const REQ_KEY_LEN: usize = MLKEM768_CIPHERTEXT_LEN + 32;
/// `respKey = ek_e`.
const RESP_KEY_LEN: usize = MLKEM768_ENCAPS_KEY_LEN;
/// `header2 = "SC" 02 82 || ct2 || F`.
const HEADER2_LEN: usize = 4 + MLKEM768_CIPHERTEXT_LEN + 32;
/// IV + at least one ciphertext byte + tag.
const MIN_AEAD: usize = 12 + 1 + 16;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Deterministic bytes for a case field, as SPEC 14: SHA-256 in counter mode over
/// `"scv2 test vector/" || case || "/" || field || u32be(i)`.
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

fn det_arr<const N: usize>(case: &str, field: &str) -> [u8; N] {
    det(case, field, N).try_into().expect("length")
}

/// `inner(p) = p || 0x80 || 0x00 * k`, padded to a multiple of `block`.
fn inner(p: &[u8], block: usize) -> Vec<u8> {
    let mut out = p.to_vec();
    out.push(0x80);
    while !out.len().is_multiple_of(block) {
        out.push(0);
    }
    out
}

fn unpad(buf: &[u8]) -> Result<&[u8], Error> {
    let end = buf
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(Error::DecryptionFailed)?;
    if buf[end] != 0x80 {
        return Err(Error::DecryptionFailed);
    }
    Ok(&buf[..end])
}

fn seal(key: &[u8; 32], iv: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut buf = plaintext.to_vec();
    let tag = AeadKey::new(key)
        .seal_in_place(iv, aad, &mut buf)
        .expect("seal");
    let mut out = iv.to_vec();
    out.extend_from_slice(&buf);
    out.extend_from_slice(&tag);
    out
}

/// Open `iv || ct || tag` (`aead.len() >= 29` checked by the caller) and unpad.
fn open(key: &[u8; 32], aad: &[u8], aead: &[u8]) -> Result<(Vec<u8>, [u8; 12]), Error> {
    let iv: [u8; 12] = aead[..12].try_into().expect("iv");
    let tag: [u8; 16] = aead[aead.len() - 16..].try_into().expect("tag");
    let mut buf = aead[12..aead.len() - 16].to_vec();
    AeadKey::new(key).open_in_place(&iv, aad, &mut buf, &tag)?;
    let plain = unpad(&buf)?.to_vec();
    Ok((plain, iv))
}

fn u16be(n: usize) -> [u8; 2] {
    u16::try_from(n).expect("u16").to_be_bytes()
}

// ---------------------------------------------------------------------------------------------
// The scaffolded suite (SPEC 15)
// ---------------------------------------------------------------------------------------------

/// Where the encapsulation randomness comes from.
#[derive(Clone, Copy)]
enum Encaps<'a> {
    /// `Encaps_internal(ek, m)` with the given `m` (known answers).
    #[cfg(feature = "test-vectors")]
    Fixed(&'a [u8; 32]),
    /// `Encaps(ek)`, fresh randomness.
    Random(core::marker::PhantomData<&'a ()>),
}

fn encapsulate(
    ek: &MlKemEncapsKey,
    how: Encaps<'_>,
) -> ([u8; MLKEM768_CIPHERTEXT_LEN], Zeroizing<[u8; 32]>) {
    match how {
        #[cfg(feature = "test-vectors")]
        Encaps::Fixed(m) => ek.encapsulate_deterministic(m).expect("encapsulate"),
        Encaps::Random(_) => ek.encapsulate(&mut scv2::OsRng).expect("encapsulate"),
    }
}

const RANDOM: Encaps<'static> = Encaps::Random(core::marker::PhantomData);

/// The server's key: `(s, S)` and `(dk_s, ek_s)`.
struct ServerKeyPq {
    key_id: Vec<u8>,
    s: X25519Secret,
    dk: MlKemDecapsKey,
}

impl ServerKeyPq {
    /// The 96-byte private form `s || d || z`.
    fn from_private(key_id: &[u8], private: &[u8; 96]) -> ServerKeyPq {
        let s: [u8; 32] = private[..32].try_into().expect("s");
        let seed: [u8; 64] = private[32..].try_into().expect("seed");
        ServerKeyPq {
            key_id: key_id.to_vec(),
            s: X25519Secret::from_bytes(s),
            dk: MlKemDecapsKey::from_seed(seed),
        }
    }

    /// The 1216-byte public key `ek_s || S`.
    fn public(&self) -> Vec<u8> {
        let mut p = self.dk.encaps_key_bytes().to_vec();
        p.extend_from_slice(&self.s.public_key());
        p
    }
}

/// What the client keeps between type 1 and type 130.
struct ClientPending {
    e: X25519Secret,
    dk_e: MlKemDecapsKey,
    h1: [u8; 32],
    prk1: Zeroizing<[u8; 32]>,
    k1: Zeroizing<[u8; 32]>,
    envelope1: Vec<u8>,
}

/// A client's pin: `keyId` and the public key `ek_s || S`.
struct Pin<'a> {
    key_id: &'a [u8],
    public: &'a [u8],
}

/// Client: build type 1 for the pinned key.
fn client_type1(
    pin: Pin<'_>,
    e: X25519Secret,
    dk_e: MlKemDecapsKey,
    m1: Encaps<'_>,
    iv1: &[u8; 12],
    payload: &[u8],
    block: usize,
) -> Result<ClientPending, Error> {
    let Pin { key_id, public } = pin;
    let ek_s_bytes: [u8; MLKEM768_ENCAPS_KEY_LEN] =
        public[..MLKEM768_ENCAPS_KEY_LEN].try_into().expect("ek_s");
    let big_s: [u8; 32] = public[MLKEM768_ENCAPS_KEY_LEN..].try_into().expect("S");
    let ek_s = MlKemEncapsKey::from_bytes(&ek_s_bytes)?;
    let (ct1, ss1) = encapsulate(&ek_s, m1);
    let big_e = e.public_key();
    let ek_e = dk_e.encaps_key_bytes();

    let mut header1 = b"SC\x02\x01".to_vec();
    header1.push(u8::try_from(key_id.len()).expect("keyId length"));
    header1.extend_from_slice(key_id);
    header1.extend_from_slice(&u16be(REQ_KEY_LEN));
    header1.extend_from_slice(&ct1);
    header1.extend_from_slice(&big_e);
    header1.extend_from_slice(&u16be(RESP_KEY_LEN));
    header1.extend_from_slice(&ek_e);

    let es = e.diffie_hellman(&big_s)?;
    let h1 = sha256(&[LABEL_PQ, &ek_s_bytes, &big_s, &header1]);
    let mut ikm = Zeroizing::new([0u8; 64]);
    ikm[..32].copy_from_slice(&ss1[..]);
    ikm[32..].copy_from_slice(&es[..]);
    let prk1 = hkdf_extract(&h1, &ikm[..]);
    let mut k1 = Zeroizing::new([0u8; 32]);
    hkdf_expand(&prk1[..], &[INFO_KX_KEY], &mut k1[..])?;

    let mut envelope1 = header1.clone();
    envelope1.extend_from_slice(&seal(&k1, iv1, &header1, &inner(payload, block)));
    Ok(ClientPending {
        e,
        dk_e,
        h1,
        prk1,
        k1,
        envelope1,
    })
}

/// What the server learns from a type 1.
struct ServerAccepted {
    h1: [u8; 32],
    prk1: Zeroizing<[u8; 32]>,
    k1: Zeroizing<[u8; 32]>,
    payload: Vec<u8>,
    big_e: [u8; 32],
    ek_e: MlKemEncapsKey,
    envelope1: Vec<u8>,
}

/// Server: open a type 1 in SPEC 15.6's order (the prefix checks of SPEC 10 steps 2-4, the
/// generic type-1 structure, the keyId lookup, this suite's lengths, `ek_e`, `es`, then AEAD).
fn server_open_type1(key: &ServerKeyPq, env: &[u8]) -> Result<ServerAccepted, Error> {
    if env.len() < 2 || &env[..2] != b"SC" {
        return Err(Error::MalformedEnvelope);
    }
    match env.get(2) {
        None => return Err(Error::MalformedEnvelope),
        Some(2) => {}
        Some(_) => return Err(Error::UnsupportedVersion),
    }
    match env.get(3) {
        None => return Err(Error::MalformedEnvelope),
        Some(1) => {}
        Some(2 | 129 | 130) => return Err(Error::MalformedEnvelope),
        Some(_) => return Err(Error::UnknownType),
    }
    // Generic structure (step 5).
    let mut pos = 4;
    let take = |pos: &mut usize, n: usize| -> Result<&[u8], Error> {
        let end = pos.checked_add(n).ok_or(Error::MalformedEnvelope)?;
        let s = env.get(*pos..end).ok_or(Error::MalformedEnvelope)?;
        *pos = end;
        Ok(s)
    };
    let key_id_len = usize::from(take(&mut pos, 1)?[0]);
    let key_id = take(&mut pos, key_id_len)?;
    if key_id.is_empty() || !key_id.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(Error::MalformedEnvelope);
    }
    let req_len = usize::from(u16::from_be_bytes(
        take(&mut pos, 2)?.try_into().expect("2"),
    ));
    let req_key = take(&mut pos, req_len)?;
    let resp_len = usize::from(u16::from_be_bytes(
        take(&mut pos, 2)?.try_into().expect("2"),
    ));
    let resp_key = take(&mut pos, resp_len)?;
    let header_end = pos;
    if env.len() - header_end < MIN_AEAD {
        return Err(Error::MalformedEnvelope);
    }
    // keyId (step 6), then this suite's length rules.
    if key_id != key.key_id.as_slice() {
        return Err(Error::UnknownKeyId);
    }
    if req_len != REQ_KEY_LEN || resp_len != RESP_KEY_LEN {
        return Err(Error::MalformedEnvelope);
    }
    let ct1: [u8; MLKEM768_CIPHERTEXT_LEN] =
        req_key[..MLKEM768_CIPHERTEXT_LEN].try_into().expect("ct1");
    let big_e: [u8; 32] = req_key[MLKEM768_CIPHERTEXT_LEN..].try_into().expect("E");
    let ek_e_bytes: [u8; MLKEM768_ENCAPS_KEY_LEN] = resp_key.try_into().expect("ek_e");
    let ek_e = MlKemEncapsKey::from_bytes(&ek_e_bytes)?;
    let es = key.s.diffie_hellman(&big_e)?;
    let ss1 = key.dk.decapsulate(&ct1)?;

    let header1 = &env[..header_end];
    let ek_s = key.dk.encaps_key_bytes();
    let h1 = sha256(&[LABEL_PQ, &ek_s, &key.s.public_key(), header1]);
    let mut ikm = Zeroizing::new([0u8; 64]);
    ikm[..32].copy_from_slice(&ss1[..]);
    ikm[32..].copy_from_slice(&es[..]);
    let prk1 = hkdf_extract(&h1, &ikm[..]);
    let mut k1 = Zeroizing::new([0u8; 32]);
    hkdf_expand(&prk1[..], &[INFO_KX_KEY], &mut k1[..])?;
    let (payload, _) = open(&k1, header1, &env[header_end..])?;
    Ok(ServerAccepted {
        h1,
        prk1,
        k1,
        payload,
        big_e,
        ek_e,
        envelope1: env.to_vec(),
    })
}

/// The 88-byte `okm` and what is cut from it.
struct Keys {
    prk2: Zeroizing<[u8; 32]>,
    okm: Zeroizing<[u8; 88]>,
}

fn session_keys(prk1: &[u8; 32], ss2: &[u8; 32], ee: &[u8; 32], h2: &[u8; 32]) -> Keys {
    let mut ikm = Zeroizing::new([0u8; 64]);
    ikm[..32].copy_from_slice(ss2);
    ikm[32..].copy_from_slice(ee);
    let prk2 = hkdf_extract(prk1, &ikm[..]);
    let mut okm = Zeroizing::new([0u8; 88]);
    hkdf_expand(&prk2[..], &[INFO_SESSION_KEYS, h2], &mut okm[..]).expect("expand");
    Keys { prk2, okm }
}

fn k_s2c(okm: &[u8; 88]) -> [u8; 32] {
    okm[32..64].try_into().expect("k_s2c")
}

fn iv_s2c(okm: &[u8; 88]) -> [u8; 12] {
    okm[76..88].try_into().expect("iv_s2c")
}

/// Server: type 130.
fn server_type130(
    acc: &ServerAccepted,
    f: X25519Secret,
    m2: Encaps<'_>,
    sid: &[u8],
    expires_at_ms: u64,
    app: &[u8],
    block: usize,
) -> Result<(Vec<u8>, Keys), Error> {
    let (ct2, ss2) = encapsulate(&acc.ek_e, m2);
    let mut header2 = b"SC\x02\x82".to_vec();
    header2.extend_from_slice(&ct2);
    header2.extend_from_slice(&f.public_key());
    let ee = f.diffie_hellman(&acc.big_e)?;
    let h2 = sha256(&[&acc.h1, &acc.envelope1, &header2]);
    let keys = session_keys(&acc.prk1, &ss2, &ee, &h2);
    let mut plaintext = vec![u8::try_from(sid.len()).expect("sid")];
    plaintext.extend_from_slice(sid);
    plaintext.extend_from_slice(&expires_at_ms.to_be_bytes());
    plaintext.extend_from_slice(app);
    let mut env = header2;
    env.extend_from_slice(&seal(
        &k_s2c(&keys.okm),
        &iv_s2c(&keys.okm),
        &h2,
        &inner(&plaintext, block),
    ));
    Ok((env, keys))
}

/// What the client gets from a type 130.
struct ClientFinished {
    keys: Keys,
    sid: Vec<u8>,
    expires_at_ms: u64,
    app: Vec<u8>,
}

/// Client: open type 130 (SPEC 15.6).
fn client_open_type130(
    p: &ClientPending,
    env: &[u8],
    now_ms: u64,
) -> Result<ClientFinished, Error> {
    if env.len() < 2 || &env[..2] != b"SC" {
        return Err(Error::MalformedEnvelope);
    }
    match env.get(2) {
        None => return Err(Error::MalformedEnvelope),
        Some(2) => {}
        Some(_) => return Err(Error::UnsupportedVersion),
    }
    match env.get(3) {
        None => return Err(Error::MalformedEnvelope),
        Some(130) => {}
        Some(1 | 2 | 129) => return Err(Error::MalformedEnvelope),
        Some(_) => return Err(Error::UnknownType),
    }
    if env.len() < HEADER2_LEN + MIN_AEAD {
        return Err(Error::MalformedEnvelope);
    }
    let header2 = &env[..HEADER2_LEN];
    let ct2: [u8; MLKEM768_CIPHERTEXT_LEN] = header2[4..4 + MLKEM768_CIPHERTEXT_LEN]
        .try_into()
        .expect("ct2");
    let big_f: [u8; 32] = header2[4 + MLKEM768_CIPHERTEXT_LEN..]
        .try_into()
        .expect("F");
    let ee = p.e.diffie_hellman(&big_f)?;
    let ss2 = p.dk_e.decapsulate(&ct2)?;
    let h2 = sha256(&[&p.h1, &p.envelope1, header2]);
    let keys = session_keys(&p.prk1, &ss2, &ee, &h2);
    if env[HEADER2_LEN..HEADER2_LEN + 12] != iv_s2c(&keys.okm) {
        return Err(Error::DecryptionFailed);
    }
    let (plain, _) = open(&k_s2c(&keys.okm), &h2, &env[HEADER2_LEN..])?;
    let sid_len = usize::from(*plain.first().ok_or(Error::MalformedEnvelope)?);
    let sid = plain.get(1..1 + sid_len).ok_or(Error::MalformedEnvelope)?;
    if !(1..=64).contains(&sid_len) || !sid.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(Error::MalformedEnvelope);
    }
    let exp: [u8; 8] = plain
        .get(1 + sid_len..9 + sid_len)
        .ok_or(Error::MalformedEnvelope)?
        .try_into()
        .expect("8");
    let expires_at_ms = u64::from_be_bytes(exp);
    if now_ms >= expires_at_ms {
        return Err(Error::SessionExpired);
    }
    Ok(ClientFinished {
        keys,
        sid: sid.to_vec(),
        expires_at_ms,
        app: plain[9 + sid_len..].to_vec(),
    })
}

// ---------------------------------------------------------------------------------------------
// The known-answer cases
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "test-vectors")]
mod kat {
    use super::*;
    use serde_json::{json, Value};

    const NOW_MS: u64 = 1_764_403_200_000;

    struct Case {
        name: &'static str,
        key_id: Vec<u8>,
        block: usize,
        payload: Vec<u8>,
        sid: Vec<u8>,
        app: Vec<u8>,
    }

    fn cases() -> Vec<Case> {
        vec![
            Case {
                name: "hybrid-password-init-block-64",
                key_id: b"k-2026-pq".to_vec(),
                block: 64,
                payload: b"{}".to_vec(),
                sid: b"Yk9mS0lHd2xhZ3Z0Zk5xUQ".to_vec(),
                app: Vec::new(),
            },
            Case {
                name: "hybrid-empty-everything-block-1",
                key_id: b"a".to_vec(),
                block: 1,
                payload: Vec::new(),
                sid: b"s".to_vec(),
                app: Vec::new(),
            },
            Case {
                name: "hybrid-longest-key-id-block-256",
                key_id: vec![b'K'; 255],
                block: 256,
                payload: br#"{"platform":"android","app":"5.0.0","note":"hybrid"}"#.to_vec(),
                sid: vec![b'S'; 64],
                app: br#"{"ttl":1800}"#.to_vec(),
            },
        ]
    }

    /// The per-case inputs of SPEC 15's vector schema, derived from the case name.
    struct Inputs {
        server_private: [u8; 96],
        client_ephemeral_private: [u8; 32],
        client_mlkem_seed: [u8; 64],
        encaps_randomness_1: [u8; 32],
        encaps_randomness_2: [u8; 32],
        server_ephemeral_private: [u8; 32],
        iv1: [u8; 12],
    }

    fn inputs(name: &str) -> Inputs {
        let mut server_private = [0u8; 96];
        server_private[..32].copy_from_slice(&det(name, "server_static_private", 32));
        server_private[32..].copy_from_slice(&det(name, "server_mlkem_seed", 64));
        Inputs {
            server_private,
            client_ephemeral_private: det_arr(name, "client_ephemeral_private"),
            client_mlkem_seed: det_arr(name, "client_mlkem_seed"),
            encaps_randomness_1: det_arr(name, "encaps_randomness_1"),
            encaps_randomness_2: det_arr(name, "encaps_randomness_2"),
            server_ephemeral_private: det_arr(name, "server_ephemeral_private"),
            iv1: det_arr(name, "iv1"),
        }
    }

    fn expires(name: &str) -> u64 {
        // Half an hour from NOW_MS, plus a few case-dependent milliseconds.
        NOW_MS + 1_800_000 + u64::from(det(name, "expires", 1)[0])
    }

    struct Run {
        server: ServerKeyPq,
        pending: ClientPending,
        accepted: ServerAccepted,
        type130: Vec<u8>,
        server_keys: Keys,
        finished: ClientFinished,
    }

    fn run(c: &Case, inp: &Inputs) -> Run {
        let server = ServerKeyPq::from_private(&c.key_id, &inp.server_private);
        let public = server.public();
        assert_eq!(public.len(), 1216);
        let pending = client_type1(
            Pin {
                key_id: &c.key_id,
                public: &public,
            },
            X25519Secret::from_bytes(inp.client_ephemeral_private),
            MlKemDecapsKey::from_seed(inp.client_mlkem_seed),
            Encaps::Fixed(&inp.encaps_randomness_1),
            &inp.iv1,
            &c.payload,
            c.block,
        )
        .expect("type 1");
        let accepted = server_open_type1(&server, &pending.envelope1).expect("server opens type 1");
        let (type130, server_keys) = server_type130(
            &accepted,
            X25519Secret::from_bytes(inp.server_ephemeral_private),
            Encaps::Fixed(&inp.encaps_randomness_2),
            &c.sid,
            expires(c.name),
            &c.app,
            c.block,
        )
        .expect("type 130");
        let finished = client_open_type130(&pending, &type130, NOW_MS).expect("client opens 130");
        Run {
            server,
            pending,
            accepted,
            type130,
            server_keys,
            finished,
        }
    }

    #[test]
    fn server_recovers_k1_prk2_and_okm() {
        for c in cases() {
            let inp = inputs(c.name);
            let r = run(&c, &inp);
            let n = c.name;
            assert_eq!(r.accepted.h1, r.pending.h1, "{n}: h1");
            assert_eq!(*r.accepted.prk1, *r.pending.prk1, "{n}: prk1");
            assert_eq!(*r.accepted.k1, *r.pending.k1, "{n}: k1");
            assert_eq!(r.accepted.payload, c.payload, "{n}: type-1 payload");
            assert_eq!(*r.finished.keys.prk2, *r.server_keys.prk2, "{n}: prk2");
            assert_eq!(*r.finished.keys.okm, *r.server_keys.okm, "{n}: okm");
            assert_eq!(r.finished.sid, c.sid, "{n}: sid");
            assert_eq!(r.finished.expires_at_ms, expires(n), "{n}: expiry");
            assert_eq!(r.finished.app, c.app, "{n}: app payload");

            // Sizes (SPEC 15.7): type 1 = 2341 + len(keyId) + len(inner(payload)),
            // type 130 = 1152 + len(inner(plaintext)).
            let inner1 = inner(&c.payload, c.block).len();
            assert_eq!(
                r.pending.envelope1.len(),
                2341 + c.key_id.len() + inner1,
                "{n}"
            );
            let inner130 = inner(&vec![0; 9 + c.sid.len() + c.app.len()], c.block).len();
            assert_eq!(r.type130.len(), 1152 + inner130, "{n}");

            // Every input matters: another m1 (or client seed) gives another k1.
            let mut other = inputs(c.name);
            other.encaps_randomness_1[0] ^= 1;
            assert_ne!(
                *run(&c, &other).pending.k1,
                *r.pending.k1,
                "{n}: m1 not in k1"
            );
            let mut other = inputs(c.name);
            other.encaps_randomness_2[0] ^= 1;
            assert_ne!(
                *run(&c, &other).server_keys.okm,
                *r.server_keys.okm,
                "{n}: m2"
            );
        }
    }

    /// The envelopes are pinned: any change to the key schedule, the layouts or a primitive
    /// (either backend) changes these digests. They were produced by this scaffolding from SPEC
    /// 15; the independent Python implementation of SPEC.md is what checks them against the
    /// text.
    #[test]
    fn pinned_digests() {
        let pinned: &[(&str, &str, &str)] = &PINNED;
        let mut got = Vec::new();
        for c in cases() {
            let inp = inputs(c.name);
            let r = run(&c, &inp);
            got.push((
                c.name,
                hex(&sha256(&[&r.pending.envelope1])),
                hex(&sha256(&[&r.type130])),
            ));
        }
        for (name, d1, d130) in &got {
            eprintln!("{name}: SHA-256(type 1) = {d1}, SHA-256(type 130) = {d130}");
        }
        assert_eq!(got.len(), pinned.len(), "one pinned digest pair per case");
        for ((name, d1, d130), (pn, p1, p130)) in got.iter().zip(pinned) {
            assert_eq!(name, pn);
            assert_eq!(d1, p1, "{name}: type-1 envelope changed");
            assert_eq!(d130, p130, "{name}: type-130 envelope changed");
        }
    }

    const PINNED: [(&str, &str, &str); 3] = [
        (
            "hybrid-password-init-block-64",
            "d795798fc048b4b872888abace94f59549c9255518738e3ec34b39602c4595b1",
            "5550ddb139b9bc261e77d6183047421c4c67e8816a157662aeafc206a68be2dc",
        ),
        (
            "hybrid-empty-everything-block-1",
            "6af302f02b62d22469218795c317d12c16eef1591d89fef25a2879bb764e18c0",
            "b880aa072da7504ab423df740129f636e84bb7914940bda1e46c1447bbe504af",
        ),
        (
            "hybrid-longest-key-id-block-256",
            "4cbd226a15fe436eab4334fcae28a9cea695d29ae9d5358a943e2838f222b221",
            "4ea8edb4eb2e41cc3a026497e725b8479ef22acf234954c7185ccedf2b5dea81",
        ),
    ];

    /// The negatives the suite's vector file must carry (issue 14), with their errors.
    #[test]
    fn negatives() {
        let c = &cases()[0];
        let inp = inputs(c.name);
        let r = run(c, &inp);
        let env1 = &r.pending.envelope1;
        let off_ct1 = 4 + 1 + c.key_id.len() + 2;
        let off_e = off_ct1 + MLKEM768_CIPHERTEXT_LEN;
        let off_ek_e = off_e + 32 + 2;
        let server = &r.server;

        let flip = |env: &[u8], at: usize| {
            let mut v = env.to_vec();
            v[at] ^= 0x01;
            v
        };
        let err1 = |env: &[u8]| server_open_type1(server, env).map(|_| ()).unwrap_err();

        // Tampered ct1: implicit rejection gives another ss1, so the AEAD fails.
        assert_eq!(err1(&flip(env1, off_ct1 + 500)), Error::DecryptionFailed);
        // Tampered E.
        assert_eq!(err1(&flip(env1, off_e + 3)), Error::DecryptionFailed);
        // E replaced by the all-zero point.
        let mut v = env1.clone();
        v[off_e..off_e + 32].fill(0);
        assert_eq!(err1(&v), Error::InvalidPublicKey);
        // ek_e failing the modulus check (coefficient 0 = 0xfff); the AEAD would fail too,
        // the key check comes first.
        let mut v = env1.clone();
        v[off_ek_e] = 0xff;
        v[off_ek_e + 1] |= 0x0f;
        assert_eq!(err1(&v), Error::InvalidPublicKey);
        // Tampered ek_e that still passes the check: h1 differs, the AEAD fails.
        assert_eq!(err1(&flip(env1, off_ek_e + 1183)), Error::DecryptionFailed);
        // reqKeyLen 1119 (respKeyLen is then read one byte early: malformed either way).
        let mut v = env1.clone();
        v[off_ct1 - 2..off_ct1].copy_from_slice(&u16be(1119));
        assert_eq!(err1(&v), Error::MalformedEnvelope);
        // An X25519-suite type 1 (reqKeyLen 32, respKeyLen 0) sent to the hybrid keyId.
        let mut v = env1[..off_ct1 - 2].to_vec();
        v.extend_from_slice(&u16be(32));
        v.extend_from_slice(&[9u8; 32]);
        v.extend_from_slice(&u16be(0));
        v.extend_from_slice(&env1[env1.len() - 40..]);
        assert_eq!(err1(&v), Error::MalformedEnvelope);
        // Wrong keyId (after the generic structure): unknown_key_id, before the suite rules.
        let mut v = v.clone();
        v[5] ^= 0x01;
        assert_eq!(err1(&v), Error::UnknownKeyId);

        let err130 = |env: &[u8]| {
            client_open_type130(&r.pending, env, NOW_MS)
                .map(|_| ())
                .unwrap_err()
        };
        // Tampered ct2.
        assert_eq!(err130(&flip(&r.type130, 4 + 77)), Error::DecryptionFailed);
        // Tampered F.
        assert_eq!(
            err130(&flip(&r.type130, 4 + MLKEM768_CIPHERTEXT_LEN + 1)),
            Error::DecryptionFailed
        );
        // F replaced by the all-zero point.
        let mut v = r.type130.clone();
        v[4 + MLKEM768_CIPHERTEXT_LEN..HEADER2_LEN].fill(0);
        assert_eq!(err130(&v), Error::InvalidPublicKey);
        // An X25519-suite-sized type 130 (F || AEAD, 65..1152 bytes) is malformed here.
        assert_eq!(
            err130(&r.type130[..HEADER2_LEN + 28]),
            Error::MalformedEnvelope
        );
        // Expired when finishing.
        assert_eq!(
            client_open_type130(&r.pending, &r.type130, expires(c.name))
                .map(|_| ())
                .unwrap_err(),
            Error::SessionExpired
        );
    }

    /// Writes the ML-KEM values for `tests/interop/mlkem_kat.py` (and the envelopes, for
    /// whoever implements the suite next).
    #[test]
    fn write_interop_kat() {
        let mut entries: Vec<Value> = Vec::new();
        for c in cases() {
            let inp = inputs(c.name);
            let r = run(&c, &inp);
            let env1 = &r.pending.envelope1;
            let off_ct1 = 4 + 1 + c.key_id.len() + 2;
            let ct1: [u8; MLKEM768_CIPHERTEXT_LEN] =
                env1[off_ct1..off_ct1 + 1088].try_into().expect("ct1");
            let ct2: [u8; MLKEM768_CIPHERTEXT_LEN] =
                r.type130[4..4 + 1088].try_into().expect("ct2");
            let server_seed: [u8; 64] = inp.server_private[32..].try_into().expect("seed");
            for (role, seed, m, ct, dk) in [
                (
                    "server",
                    server_seed,
                    inp.encaps_randomness_1,
                    ct1,
                    &r.server.dk,
                ),
                (
                    "client",
                    inp.client_mlkem_seed,
                    inp.encaps_randomness_2,
                    ct2,
                    &r.pending.dk_e,
                ),
            ] {
                let ss = dk.decapsulate(&ct).expect("decapsulate");
                let mut rejected = ct;
                rejected[0] ^= 0x01;
                let rejected_ss = dk.decapsulate(&rejected).expect("decapsulate");
                let mut bad_ek = dk.encaps_key_bytes();
                bad_ek[1150] = (bad_ek[1150] & 0x0f) | 0x10;
                bad_ek[1151] = 0xd0; // last coefficient = 3329 = q
                assert_eq!(
                    MlKemEncapsKey::from_bytes(&bad_ek).map(|_| ()),
                    Err(Error::InvalidPublicKey)
                );
                entries.push(json!({
                    "name": format!("{}/{role}", c.name),
                    "seed": hex(&seed),
                    "ek": hex(&dk.encaps_key_bytes()),
                    "m": hex(&m),
                    "c": hex(&ct),
                    "K": hex(&ss[..]),
                    "rejected_c": hex(&rejected),
                    "rejected_K": hex(&rejected_ss[..]),
                    "ek_failing_modulus_check": hex(&bad_ek),
                }));
            }
        }
        let envelopes: Vec<Value> = cases()
            .iter()
            .map(|c| {
                let r = run(c, &inputs(c.name));
                json!({"name": c.name, "kx_envelope": hex(&r.pending.envelope1),
                       "kxr_envelope": hex(&r.type130)})
            })
            .collect();
        let doc = json!({
            "description": "ML-KEM-768 values of tests/hybrid_kat.rs, written by that test for \
                            tests/interop/mlkem_kat.py",
            "backend": scv2::primitives::BACKEND,
            "mlkem768": entries,
            "envelopes": envelopes,
        });
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&dir).expect("target tmp dir");
        let path = dir.join("scv2-mlkem768-kat.json");
        let tmp = dir.join(format!("scv2-mlkem768-kat.json.{}", std::process::id()));
        std::fs::write(&tmp, serde_json::to_string_pretty(&doc).expect("json")).expect("write");
        std::fs::rename(&tmp, &path).expect("rename");
        eprintln!("wrote {}", path.display());
    }
}

// ---------------------------------------------------------------------------------------------
// Timings (ignored; release mode)
// ---------------------------------------------------------------------------------------------

/// Median ns per call of each closure, sampled round-robin (one batch of each per round) so
/// that machine load hits every operation alike.
fn medians(ops: &mut [(&str, &mut dyn FnMut())], rounds: usize, batch: usize) -> Vec<f64> {
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); ops.len()];
    for (_, f) in ops.iter_mut() {
        for _ in 0..batch {
            f(); // warm up
        }
    }
    for _ in 0..rounds {
        for (i, (_, f)) in ops.iter_mut().enumerate() {
            let t = std::time::Instant::now();
            for _ in 0..batch {
                f();
            }
            samples[i].push(t.elapsed().as_nanos() as f64 / batch as f64);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

#[test]
#[ignore = "timing: run in release mode with --ignored --nocapture"]
fn primitive_timings() {
    use std::hint::black_box;
    let mut rng = scv2::OsRng;
    let x = X25519Secret::random(&mut rng).expect("x25519");
    let peer = X25519Secret::random(&mut rng).expect("x25519").public_key();
    let seed = [0x42u8; 64];
    let dk = MlKemDecapsKey::from_seed(seed);
    let ek_bytes = dk.encaps_key_bytes();
    let ek = MlKemEncapsKey::from_bytes(&ek_bytes).expect("ek");
    let (ct, _) = ek.encapsulate(&mut rng).expect("encaps");

    // The X25519 suite through the core, and the hybrid suite through this file's scaffolding.
    let now_ms = 1_764_400_000_000u64;
    let mut server = scv2::Server::new(scv2::ServerConfig::default());
    server
        .add_key(scv2::ServerKey::generate("k-x", now_ms, None, &mut rng).expect("key"))
        .expect("add");
    let doc = server.current_key(now_ms).expect("key").document();
    let mut config = scv2::ClientConfig::new();
    config.pin(scv2::PinnedKey::from_spki_base64(&doc.key_id, &doc.public_key).expect("pin"));
    let mut private = [0u8; 96];
    private[..32].copy_from_slice(&[7u8; 32]);
    private[32..].copy_from_slice(&seed);
    let pq_key = ServerKeyPq::from_private(b"k-pq", &private);
    let pq_public = pq_key.public();
    // The bytes both sides hash for h1 and h2 in one hybrid handshake (keyId "k-pq", payload
    // "{}", block 64): 2 x ((43 + 1216 + len header1) + (32 + len envelope1 + 1124)).
    let header1_len = 4 + 1 + 4 + 2 + 1120 + 2 + 1184;
    let envelope1_len = header1_len + 12 + 64 + 16;
    let transcript = vec![0x5au8; 2 * ((43 + 1216 + header1_len) + (32 + envelope1_len + 1124))];

    type Op<'a> = (&'static str, Box<dyn FnMut() + 'a>);
    let mut ops: Vec<Op<'_>> = vec![
        (
            "x25519 DH",
            Box::new(|| {
                black_box(x.diffie_hellman(black_box(&peer)).ok());
            }),
        ),
        (
            "x25519 keygen (random + public key)",
            Box::new(|| {
                let s = X25519Secret::random(&mut scv2::OsRng).expect("x");
                black_box(s.public_key());
            }),
        ),
        (
            "ML-KEM-768 keygen from seed",
            Box::new(|| {
                let k = MlKemDecapsKey::from_seed(black_box(seed));
                black_box(k.encaps_key_bytes());
            }),
        ),
        (
            "ML-KEM-768 keygen ephemeral",
            Box::new(|| {
                let k = MlKemDecapsKey::generate_ephemeral(&mut scv2::OsRng).expect("k");
                black_box(k.encaps_key_bytes());
            }),
        ),
        (
            "ML-KEM-768 ek parse + check",
            Box::new(|| {
                black_box(MlKemEncapsKey::from_bytes(black_box(&ek_bytes)).ok());
            }),
        ),
        (
            "ML-KEM-768 encaps",
            Box::new(|| {
                black_box(ek.encapsulate(&mut scv2::OsRng).ok());
            }),
        ),
        (
            "ML-KEM-768 decaps",
            Box::new(|| {
                black_box(dk.decapsulate(black_box(&ct)).ok());
            }),
        ),
        (
            "SHA-256 of the hybrid transcripts (both sides)",
            Box::new(|| {
                black_box(sha256(&[black_box(&transcript)]));
            }),
        ),
        (
            "X25519 suite handshake (core, both sides)",
            Box::new(|| {
                let mut rng = scv2::OsRng;
                let (hs, t1) =
                    scv2::ClientHandshake::start(&config, "k-x", b"{}", &mut rng).expect("start");
                let acc = server.accept(&t1, now_ms).expect("accept");
                let (_s, t130) = acc
                    .respond("sid-0000000000000000000", now_ms + 600_000, b"", &mut rng)
                    .expect("respond");
                black_box(hs.finish(&t130, now_ms).expect("finish"));
            }),
        ),
        (
            "hybrid handshake (scaffold, both sides)",
            Box::new(|| {
                let mut rng = scv2::OsRng;
                let p = client_type1(
                    Pin {
                        key_id: b"k-pq",
                        public: &pq_public,
                    },
                    X25519Secret::random(&mut rng).expect("e"),
                    MlKemDecapsKey::generate_ephemeral(&mut rng).expect("dk_e"),
                    RANDOM,
                    &[1u8; 12],
                    b"{}",
                    64,
                )
                .expect("type 1");
                let acc = server_open_type1(&pq_key, &p.envelope1).expect("open 1");
                let (t130, _) = server_type130(
                    &acc,
                    X25519Secret::random(&mut rng).expect("f"),
                    RANDOM,
                    b"sid-0000000000000000000",
                    now_ms + 600_000,
                    b"",
                    64,
                )
                .expect("type 130");
                black_box(
                    client_open_type130(&p, &t130, now_ms)
                        .expect("open 130")
                        .sid,
                );
            }),
        ),
    ];
    let mut refs: Vec<(&str, &mut dyn FnMut())> = ops
        .iter_mut()
        .map(|(n, f)| (*n, f.as_mut() as &mut dyn FnMut()))
        .collect();
    let rounds: usize = std::env::var("SCV2_TIMING_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(201);
    let med = medians(&mut refs, rounds, 20);
    let by = |name: &str| {
        let i = refs.iter().position(|(n, _)| *n == name).expect("op name");
        med[i]
    };
    let dh = by("x25519 DH");
    println!(
        "backend {} ({} rounds x 20 calls, medians; ratio = op / X25519 DH)",
        scv2::primitives::BACKEND,
        rounds
    );
    for ((name, _), m) in refs.iter().zip(&med) {
        println!("  {name:48} {:9.2} us  {:6.2}x", m / 1000.0, m / dh);
    }
    // What the hybrid adds to a handshake, both sides: the client's ephemeral key, two
    // encapsulations, two decapsulations, the server's check of ek_e, and hashing 14 KB more.
    let x25519_handshake = by("X25519 suite handshake (core, both sides)");
    let added = by("ML-KEM-768 keygen ephemeral")
        + 2.0 * by("ML-KEM-768 encaps")
        + 2.0 * by("ML-KEM-768 decaps")
        + by("ML-KEM-768 ek parse + check")
        + by("SHA-256 of the hybrid transcripts (both sides)");
    println!(
        "  predicted hybrid = X25519 handshake + {:.2} us of ML-KEM and hashing = {:.2} us = {:.2}x",
        added / 1000.0,
        (x25519_handshake + added) / 1000.0,
        (x25519_handshake + added) / x25519_handshake
    );
    println!(
        "  measured: hybrid scaffold / X25519 core handshake = {:.2}x",
        by("hybrid handshake (scaffold, both sides)") / x25519_handshake
    );
}
