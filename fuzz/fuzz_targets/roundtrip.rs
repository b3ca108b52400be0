//! `roundtrip`: structured input (`arbitrary`) drives a whole exchange: handshake payloads,
//! session id, padding blocks of both sides, replay window, first sequence number and gaps, up to
//! eight requests (ctx, body, response body, which API variant seals and opens them), the order
//! the server opens them and the order the client opens the responses, and one mutation of one
//! envelope (or of the ctx it is opened with).
//!
//! Properties:
//! - every seal is the documented length and deterministic (the test-vector re-seal with the same
//!   sequence number gives the same bytes), and every API variant (copy, in place, `BytesMut`)
//!   gives the same bytes;
//! - seal then open returns exactly the bytes sealed: type-1 payload, session id, expiry and
//!   type-130 payload, every request body and every response body;
//! - sequence numbers follow the counter (gaps included), `session_exhausted` past 2^32 − 1,
//!   and the server accepts exactly what a reference replay window accepts (in any open order);
//!   an accepted request is `replayed` the second time;
//! - a mutated envelope (bit flip, byte change, truncation, extension, insertion, removal,
//!   overwrite) or a wrong ctx is rejected, with the error SPEC.md section 10 decides where the
//!   bytes determine it; the rejection changes nothing (the original still opens afterwards);
//! - a response opened with another request's token is `response_mismatch`.
#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use scv2::wire;
use scv2::{
    key_exchange_len, key_exchange_response_len, max_open_len, sealed_len, ClientConfig,
    ClientHandshake, ClientSession, Error, Limits, OsRng, PendingRequest, PinnedKey, ResponseSlot,
    Server, ServerConfig, ServerKey, ServerSession, StorageKey, BODY_OFFSET_IN_PLACE,
};
use scv2_fuzz::{Window, MAX_SEQ};
use scv2_test_support::spec10;

const NOW: u64 = 1_800_000_000_000;
const KEY_ID: &str = "k-rt";
const SERVER_PRIVATE: [u8; 32] = [0x11; 32];
const MAX_MESSAGES: usize = 8;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Run a handshake of its own (with the payloads, ephemerals, session id below and the
    /// type-1/130 mutations), or use a fixed session (fast).
    handshake: bool,
    client_block: u16,
    server_block: u16,
    window: u8,
    e: [u8; 32],
    f: [u8; 32],
    iv1: [u8; 12],
    kx_payload: Vec<u8>,
    kxr_payload: Vec<u8>,
    sid: u8,
    ttl: u32,
    first_seq: u32,
    messages: Vec<Message>,
    open_order: Vec<u8>,
    response_order: Vec<u8>,
    mutation: Option<Mutation>,
}

#[derive(Arbitrary, Debug)]
struct Message {
    ctx: Vec<u8>,
    body: Vec<u8>,
    response: Vec<u8>,
    /// Sequence numbers the client skips before this request.
    skip: u8,
    /// Which API variants seal and open this message (and its response), and buffer slack.
    api: u8,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Kx,
    Kxr,
    Request(u8),
    Response(u8),
}

#[derive(Arbitrary, Debug)]
enum Edit {
    FlipBit {
        at: u16,
        bit: u8,
    },
    SetByte {
        at: u16,
        value: u8,
    },
    Truncate {
        to: u16,
    },
    Append(Vec<u8>),
    Insert {
        at: u16,
        value: u8,
    },
    Remove {
        at: u16,
    },
    Overwrite {
        at: u16,
        bytes: Vec<u8>,
    },
    /// Open with another ctx (requests and responses; a bit flip at `at` for the handshake).
    WrongCtx {
        at: u16,
    },
}

#[derive(Arbitrary, Debug)]
struct Mutation {
    target: Target,
    edit: Edit,
}

/// Apply `edit`; `None` if it changes nothing. `has_ctx`: the envelope is opened with a ctx (a
/// handshake envelope is not: `WrongCtx` flips a bit instead).
fn mutate(edit: &Edit, env: &[u8], ctx: &[u8], has_ctx: bool) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut v = env.to_vec();
    let mut c = ctx.to_vec();
    let at = |i: u16, len: usize| usize::from(i) % len.max(1);
    match edit {
        Edit::FlipBit { at: i, bit } => {
            let i = at(*i, v.len());
            v[i] ^= 1 << (bit % 8);
        }
        Edit::SetByte { at: i, value } => {
            let i = at(*i, v.len());
            v[i] = if v[i] == *value { !value } else { *value };
        }
        Edit::Truncate { to } => v.truncate(at(*to, v.len())),
        Edit::Append(extra) => {
            if extra.is_empty() {
                return None;
            }
            v.extend_from_slice(extra);
        }
        Edit::Insert { at: i, value } => v.insert(at(*i, v.len() + 1), *value),
        Edit::Remove { at: i } => {
            v.remove(at(*i, v.len()));
        }
        Edit::Overwrite { at: i, bytes } => {
            let i = at(*i, v.len());
            let n = bytes.len().min(v.len() - i);
            v[i..i + n].copy_from_slice(&bytes[..n]);
        }
        Edit::WrongCtx { at: i } if !has_ctx => {
            let i = at(*i, v.len());
            v[i] ^= 0x01;
        }
        Edit::WrongCtx { at: i } => {
            c.push(b'/');
            let k = at(*i, c.len());
            c.rotate_right(k);
            if c == ctx {
                c.push(b'/');
            }
        }
    }
    (v != env || c != ctx).then_some((v, c))
}

/// The permutation of `0..n` that `bytes` pick (Fisher–Yates).
fn permutation(n: usize, bytes: &[u8]) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in 0..n {
        let b = usize::from(bytes.get(i).copied().unwrap_or(0));
        p.swap(i, i + b % (n - i));
    }
    p
}

fn session_id(sel: u8) -> String {
    let len = 1 + usize::from(sel) % 64;
    (0..len)
        .map(|i| char::from(0x21 + ((i * 37 + usize::from(sel)) % 94) as u8))
        .collect()
}

// What the entry points must return for bytes that are not authentic: the shared model of SPEC.md
// section 10 (`scv2_test_support::spec10`), where `Ok` (only authentication left) means
// `decryption_failed` here.

/// `Server::accept`'s error for bytes that are not the authentic type 1.
fn expected_accept(env: &[u8]) -> Error {
    spec10::expected_accept(KEY_ID.as_bytes(), env)
        .err()
        .unwrap_or(Error::DecryptionFailed)
}

/// `ClientHandshake::finish`'s error for bytes that are not the authentic type 130.
fn expected_finish(env: &[u8]) -> Error {
    spec10::expected_finish(env)
        .err()
        .unwrap_or(Error::DecryptionFailed)
}

/// The IV of a type 2 or 129 (their IV is at offset 4).
fn iv_of(env: &[u8]) -> [u8; 12] {
    env[4..16].try_into().expect("iv")
}

/// `open_request`'s error for bytes that are not an authentic request under `ctx` (the
/// sessions here never expire before `NOW`).
fn expected_request_error(env: &[u8], ctx: &[u8], iv_c2s: &[u8; 12], window: &Window) -> Error {
    let view = spec10::ServerView {
        iv_c2s,
        expires_at_ms: u64::MAX,
        window,
        closed: false,
    };
    spec10::expected_open_request(view, ctx, env, NOW, None)
        .err()
        .unwrap_or(Error::DecryptionFailed)
}

/// `open_response`'s error for bytes that are not the authentic response to `seq` under `ctx`.
fn expected_response_error(env: &[u8], ctx: &[u8], iv_s2c: &[u8; 12], seq: u64) -> Error {
    spec10::expected_open_response(iv_s2c, ctx, env, seq, false, None)
        .err()
        .unwrap_or(Error::DecryptionFailed)
}

/// Seal a request with API variant `api % 3`; `slack` extra bytes of buffer.
fn seal_request(
    cs: &ClientSession,
    api: u8,
    ctx: &[u8],
    body: &[u8],
) -> Result<(PendingRequest, Vec<u8>), Error> {
    let slack = usize::from(api >> 4);
    let need = cs.sealed_len(body.len());
    match api % 3 {
        0 => {
            let mut out = vec![0xA5u8; need.saturating_add(slack)];
            let (p, n) = cs.seal_request(ctx, body, NOW, &mut out)?;
            out.truncate(n);
            Ok((p, out))
        }
        1 => {
            let mut buf = vec![
                0xA5u8;
                need.saturating_add(slack)
                    .max(BODY_OFFSET_IN_PLACE + body.len())
            ];
            buf[BODY_OFFSET_IN_PLACE..BODY_OFFSET_IN_PLACE + body.len()].copy_from_slice(body);
            let (p, n) = cs.seal_request_in_place(ctx, &mut buf, body.len(), NOW)?;
            buf.truncate(n);
            Ok((p, buf))
        }
        _ => {
            let mut out = BytesMut::from(&b"prefix"[..]);
            let p = cs.seal_request_to(ctx, body, NOW, &mut out)?;
            assert_eq!(
                &out[..6],
                b"prefix",
                "seal_request_to touched what was there"
            );
            Ok((p, out[6..].to_vec()))
        }
    }
}

fn open_request(
    ss: &ServerSession,
    api: u8,
    ctx: &[u8],
    env: &[u8],
) -> Result<(ResponseSlot, Vec<u8>), Error> {
    if (api / 3).is_multiple_of(2) {
        let mut out = vec![0u8; max_open_len(env.len())];
        let (slot, n) = ss.open_request(ctx, env, NOW, &mut out)?;
        out.truncate(n);
        Ok((slot, out))
    } else {
        let mut buf = env.to_vec();
        let (slot, r) = ss.open_request_in_place(ctx, &mut buf, NOW)?;
        Ok((slot, buf[r].to_vec()))
    }
}

fn seal_response(
    ss: &ServerSession,
    api: u8,
    slot: ResponseSlot,
    ctx: &[u8],
    body: &[u8],
) -> Vec<u8> {
    let need = ss.sealed_len(body.len());
    match (api / 6) % 3 {
        0 => {
            let mut out = vec![0u8; need];
            let n = ss
                .seal_response(slot, ctx, body, &mut out)
                .expect("seal_response");
            out.truncate(n);
            out
        }
        1 => {
            let mut buf = vec![0u8; need + 3];
            buf[BODY_OFFSET_IN_PLACE..BODY_OFFSET_IN_PLACE + body.len()].copy_from_slice(body);
            let n = ss
                .seal_response_in_place(slot, ctx, &mut buf, body.len())
                .expect("seal_response_in_place");
            buf.truncate(n);
            buf
        }
        _ => {
            let mut out = BytesMut::new();
            ss.seal_response_to(slot, ctx, body, &mut out)
                .expect("seal_response_to");
            out.to_vec()
        }
    }
}

fn open_response(
    cs: &ClientSession,
    api: u8,
    p: PendingRequest,
    ctx: &[u8],
    env: &[u8],
) -> Result<Vec<u8>, scv2::TokenError<PendingRequest>> {
    if (api / 18).is_multiple_of(2) {
        let mut out = vec![0u8; max_open_len(env.len())];
        let n = cs.open_response(p, ctx, env, &mut out)?;
        out.truncate(n);
        Ok(out)
    } else {
        let mut buf = env.to_vec();
        let r = cs.open_response_in_place(p, ctx, &mut buf)?;
        Ok(buf[r].to_vec())
    }
}

struct Sent<'a> {
    msg: &'a Message,
    seq: u64,
    env: Vec<u8>,
    pending: Option<PendingRequest>,
}

/// Sessions built once, for the inputs that do not ask for a handshake of their own: one client
/// session per padding block of [`FIXED_BLOCKS`], and for each the server side exported once per
/// replay window (64, 128, 192, 256), imported afresh for every input.
struct Fixed {
    client: ClientSession,
    blobs: Vec<Vec<u8>>,
}

const FIXED_BLOCKS: [usize; 5] = [1, 7, 64, 256, 4096];
const FIXED_SID: &str = "rt-fixed-session";
const FIXED_EXPIRES: u64 = NOW + 600_000;

fn storage() -> StorageKey {
    StorageKey::new(&[0x77; 32])
}

static FIXED: LazyLock<Vec<Fixed>> = LazyLock::new(|| {
    FIXED_BLOCKS
        .iter()
        .map(|&cblock| {
            let mut client = None;
            let blobs = (1..=4)
                .map(|w| {
                    let (cs, ss) = handshake_once(
                        cblock,
                        64,
                        64 * w,
                        b"{}",
                        b"",
                        FIXED_SID,
                        FIXED_EXPIRES,
                        [0x21; 32],
                        [0x22; 32],
                        [0x23; 12],
                    );
                    client.get_or_insert(cs);
                    ss.export(&storage(), &mut OsRng).expect("export")
                })
                .collect();
            Fixed {
                client: client.expect("client"),
                blobs,
            }
        })
        .collect()
});

fn server_config(sblock: usize, window: u32) -> ServerConfig {
    ServerConfig::default()
        .with_padding_block(sblock)
        .and_then(|c| c.with_replay_window(window))
        .expect("server config")
}

fn parties(cblock: usize, sblock: usize, window: u32) -> (Server, ClientConfig) {
    let mut server = Server::new(server_config(sblock, window));
    let key = ServerKey::from_private_bytes(KEY_ID, &SERVER_PRIVATE, 0, None).expect("key");
    let server_public = *key.public_key();
    server.add_key(key).expect("add key");
    let mut cconfig = ClientConfig::new();
    cconfig.pin(PinnedKey::new(KEY_ID, server_public).expect("pin"));
    cconfig.set_padding_block(cblock).expect("block");
    (server, cconfig)
}

/// A plain handshake (for the fixed sessions).
#[allow(clippy::too_many_arguments)]
fn handshake_once(
    cblock: usize,
    sblock: usize,
    window: u32,
    kx_payload: &[u8],
    kxr_payload: &[u8],
    sid: &str,
    expires: u64,
    e: [u8; 32],
    f: [u8; 32],
    iv1: [u8; 12],
) -> (ClientSession, ServerSession) {
    let (server, cconfig) = parties(cblock, sblock, window);
    let (hs, kx) = ClientHandshake::start_with_ephemeral_for_test_vectors(
        &cconfig, KEY_ID, kx_payload, e, iv1,
    )
    .expect("start");
    let (ss, kxr) = server
        .accept(&kx, NOW)
        .expect("accept")
        .respond_with_ephemeral_for_test_vectors(sid, expires, kxr_payload, f)
        .expect("respond");
    (hs.finish(&kxr, NOW).expect("finish"), ss)
}

/// The input's own handshake, with its checks and its type-1 / type-130 mutation.
fn handshake(
    input: &Input,
    cblock: usize,
    sblock: usize,
    window_size: u32,
) -> (ClientSession, ServerSession) {
    let mutation = input.mutation.as_ref();
    let (server, cconfig) = parties(cblock, sblock, window_size);

    // Type 1.
    let start = || {
        ClientHandshake::start_with_ephemeral_for_test_vectors(
            &cconfig,
            KEY_ID,
            &input.kx_payload,
            input.e,
            input.iv1,
        )
        .expect("start")
    };
    let (hs, kx) = start();
    assert_eq!(
        Some(kx.len()),
        key_exchange_len(KEY_ID.len(), input.kx_payload.len(), cblock)
    );
    let parsed = wire::parse_key_exchange(&kx).expect("own type 1 parses");
    assert_eq!(parsed.key_id, KEY_ID.as_bytes());
    assert_eq!(parsed.aead.iv, &input.iv1);
    if let Some(m) = mutation.filter(|m| m.target == Target::Kx) {
        if let Some((bad, _)) = mutate(&m.edit, &kx, b"", false) {
            let e = server
                .accept(&bad, NOW)
                .expect_err("a mutated type 1 was accepted");
            assert_eq!(e, expected_accept(&bad), "mutated type 1: wrong error");
        }
    }
    let accepted = server.accept(&kx, NOW).expect("own type 1 accepted");
    assert_eq!(accepted.payload(), &input.kx_payload[..], "type-1 payload");
    assert_eq!(accepted.key_id(), KEY_ID);

    // Type 130.
    let sid = session_id(input.sid);
    let expires = NOW + 1 + u64::from(input.ttl);
    let (ss, kxr) = accepted
        .respond_with_ephemeral_for_test_vectors(&sid, expires, &input.kxr_payload, input.f)
        .expect("respond");
    assert_eq!(
        Some(kxr.len()),
        key_exchange_response_len(sid.len(), input.kxr_payload.len(), sblock)
    );
    let hs = match mutation
        .filter(|m| m.target == Target::Kxr)
        .and_then(|m| mutate(&m.edit, &kxr, b"", false))
    {
        Some((bad, _)) => {
            let e = hs
                .finish(&bad, NOW)
                .expect_err("a mutated type 130 finished");
            assert_eq!(e, expected_finish(&bad), "mutated type 130: wrong error");
            let (hs2, kx2) = start();
            assert_eq!(kx2, kx, "type 1 not deterministic");
            hs2
        }
        None => hs,
    };
    let cs = hs.finish(&kxr, NOW).expect("own type 130 finishes");
    assert_eq!(cs.session_id(), sid);
    assert_eq!(cs.expires_at_ms(), expires);
    assert_eq!(cs.app_payload(), &input.kxr_payload[..], "type-130 payload");
    (cs, ss)
}

fuzz_target!(|input: Input| run(input));

fn run(input: Input) {
    let sblock = 1 + usize::from(input.server_block) % 4096;
    let window_size = 64 * (1 + u32::from(input.window % 4));
    let mutation = input.mutation.as_ref();
    let mutation_for = |t: &dyn Fn(Target) -> bool| mutation.filter(|m| t(m.target));

    // Either the input's own handshake (slow: six X25519), or a fixed session.
    let owned;
    let (cs, ss, cblock): (&ClientSession, ServerSession, usize) = if input.handshake {
        let cblock = 1 + usize::from(input.client_block) % 4096;
        let (c, s) = handshake(&input, cblock, sblock, window_size);
        owned = c;
        (&owned, s, cblock)
    } else {
        let i = usize::from(input.client_block) % FIXED_BLOCKS.len();
        let fixed = &FIXED[i];
        let blob = &fixed.blobs[usize::from(input.window % 4)];
        let ss = ServerSession::import(
            &storage(),
            FIXED_SID,
            blob,
            &server_config(sblock, window_size),
        )
        .expect("import");
        (&fixed.client, ss, FIXED_BLOCKS[i])
    };

    // Requests, sealed in counter order (with gaps).
    let messages = &input.messages[..input.messages.len().min(MAX_MESSAGES)];
    let mut next = u64::from(input.first_seq).max(1);
    cs.set_next_seq_for_test_vectors(next);
    let mut sent: Vec<Sent<'_>> = Vec::new();
    for msg in messages {
        if msg.skip % 4 == 3 {
            next += u64::from(msg.skip);
            cs.set_next_seq_for_test_vectors(next);
        }
        let expected = if msg.ctx.len() > Limits::default().max_ctx {
            Err(Error::PayloadTooLarge)
        } else if next > MAX_SEQ {
            Err(Error::SessionExhausted)
        } else {
            Ok(next)
        };
        match (seal_request(cs, msg.api, &msg.ctx, &msg.body), expected) {
            (Ok((p, env)), Ok(seq)) => {
                assert_eq!(p.seq(), seq, "sequence number");
                assert_eq!(Some(env.len()), sealed_len(msg.body.len(), cblock));
                let mut again = vec![0u8; env.len()];
                let n = cs
                    .seal_request_with_seq_for_test_vectors(seq, &msg.ctx, &msg.body, &mut again)
                    .expect("re-seal");
                assert_eq!(&again[..n], &env[..], "seal is not deterministic");
                sent.push(Sent {
                    msg,
                    seq,
                    env,
                    pending: Some(p),
                });
                next += 1;
            }
            (Err(e), Err(m)) => assert_eq!(e, m, "seal_request: wrong error"),
            (got, want) => panic!("seal_request: {:?}, expected {want:?}", got.map(|x| x.0)),
        }
        assert_eq!(cs.next_seq(), next, "counter");
    }
    if sent.is_empty() {
        return;
    }

    // The keys' IVs, from the first request and its sequence number (SPEC.md section 7).
    let iv_c2s = {
        let mut iv = iv_of(&sent[0].env);
        for (b, x) in iv[4..].iter_mut().zip(sent[0].seq.to_be_bytes()) {
            *b ^= x;
        }
        iv
    };

    // The server opens them in the input's order.
    let n_sent = sent.len();
    let chosen = |t: Target| match t {
        Target::Request(i) | Target::Response(i) => usize::from(i) % n_sent,
        _ => usize::MAX,
    };
    let mut window = Window::new(window_size);
    let mut slots: Vec<(usize, ResponseSlot)> = Vec::new();
    for i in permutation(sent.len(), &input.open_order) {
        let s = &sent[i];
        if let Some(m) = mutation_for(&|t| matches!(t, Target::Request(_)) && chosen(t) == i) {
            if let Some((bad, bad_ctx)) = mutate(&m.edit, &s.env, &s.msg.ctx, true) {
                let e = open_request(&ss, s.msg.api, &bad_ctx, &bad)
                    .map(|(slot, _)| slot.seq())
                    .expect_err("a mutated request was accepted");
                assert_eq!(
                    e,
                    expected_request_error(&bad, &bad_ctx, &iv_c2s, &window),
                    "mutated request: wrong error"
                );
            }
        }
        match (
            open_request(&ss, s.msg.api, &s.msg.ctx, &s.env),
            window.check(s.seq),
        ) {
            (Ok((slot, body)), Ok(())) => {
                assert_eq!(slot.seq(), s.seq);
                assert_eq!(body, s.msg.body, "request body");
                window.mark(s.seq);
                let again = open_request(&ss, s.msg.api / 3, &s.msg.ctx, &s.env);
                assert_eq!(
                    again.map(|(s, _)| s.seq()),
                    Err(Error::Replayed),
                    "accepted twice"
                );
                slots.push((i, slot));
            }
            (Err(e), Err(m)) => assert_eq!(e, m, "open_request: wrong error"),
            (got, want) => panic!(
                "open_request seq {}: {:?}, want {want:?}",
                s.seq,
                got.map(|x| x.1)
            ),
        }
        assert_eq!(ss.highest_seq(), window.top, "highest_seq");
    }

    // Responses: sealed per accepted request, opened by the client in the input's order.
    let mut responses: Vec<(usize, Vec<u8>)> = slots
        .into_iter()
        .map(|(i, slot)| {
            let s = &sent[i];
            let env = seal_response(&ss, s.msg.api, slot, &s.msg.ctx, &s.msg.response);
            assert_eq!(Some(env.len()), sealed_len(s.msg.response.len(), sblock));
            (i, env)
        })
        .collect();
    let order = permutation(responses.len(), &input.response_order);
    let mut reordered: Vec<(usize, Vec<u8>)> = Vec::new();
    for k in order {
        reordered.push(std::mem::take(&mut responses[k]));
    }
    let Some((i0, env0)) = reordered.first() else {
        return;
    };
    let iv_s2c = {
        let (i, env) = (i0, env0);
        let mut iv = iv_of(env);
        for (b, x) in iv[4..].iter_mut().zip(sent[*i].seq.to_be_bytes()) {
            *b ^= x;
        }
        iv
    };
    for (j, (i, env)) in reordered.iter().enumerate() {
        let i = *i;
        let seq = sent[i].seq;
        let (ctx, api) = (sent[i].msg.ctx.clone(), sent[i].msg.api);
        let mut p = sent[i].pending.take().expect("pending");
        // Another request's token: response_mismatch (nonce checked before the tag).
        if let Some((_, other)) = reordered.get(j + 1) {
            let e = open_response(cs, api, p, &ctx, other)
                .expect_err("answer to another request opened");
            assert_eq!(e.error, Error::ResponseMismatch, "swapped responses");
            p = e.into_token();
        }
        if let Some(m) = mutation_for(&|t| matches!(t, Target::Response(_)) && chosen(t) == i) {
            if let Some((bad, bad_ctx)) = mutate(&m.edit, env, &ctx, true) {
                let e = open_response(cs, api, p, &bad_ctx, &bad)
                    .expect_err("a mutated response was opened");
                assert_eq!(
                    e.error,
                    expected_response_error(&bad, &bad_ctx, &iv_s2c, seq),
                    "mutated response: wrong error"
                );
                p = e.into_token();
            }
        }
        assert_eq!(p.seq(), seq);
        let body = open_response(cs, api, p, &ctx, env).expect("own response opens");
        assert_eq!(body, sent[i].msg.response, "response body");
    }
}
