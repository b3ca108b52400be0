//! Both roles of a live exchange (handshake, one request, one response) over a line protocol,
//! for checking one crypto backend against the other in two processes: the `interop-peer`
//! binary of this crate plays one role, `tests/backend_interop.rs` the other.
//!
//! Lines are `<tag> <hex>`: both sides first send `backend`; then the server sends `key` (the key's suite id, key id and
//! raw public key as `id:keyId:hex`), `kxr`, `resp`; the client sends `kx`, `req`.
//! The request body is [`REQUEST`]; the server answers with the body reversed.

use std::io::{BufRead, Write};

use scv2::{
    generate_session_id, max_open_len, ClientConfig, ClientHandshake, OsRng, PinnedKey, Server,
    ServerConfig, ServerKey, Suite,
};

use crate::hex::{hex, unhex};
use crate::{CTX, NOW};

/// The request the client sends.
pub const REQUEST: &[u8] = br#"{"sessionId":"interop","password":"across-backends"}"#;

type R<T> = Result<T, String>;

fn e<E: core::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Write one line.
pub fn send(out: &mut dyn Write, tag: &str, payload: &[u8]) -> R<()> {
    writeln!(out, "{tag} {}", hex(payload))
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())
}

/// Read one line with `tag`.
pub fn recv(input: &mut dyn BufRead, tag: &str) -> R<Vec<u8>> {
    let mut line = String::new();
    input.read_line(&mut line).map_err(|e| e.to_string())?;
    let (t, h) = line
        .trim_end()
        .split_once(' ')
        .ok_or_else(|| format!("expected `{tag} <hex>`, got {line:?}"))?;
    if t != tag {
        return Err(format!("expected {tag}, got {t}"));
    }
    Ok(unhex(h))
}

/// Send our backend's name, read the peer's.
fn hello(input: &mut dyn BufRead, out: &mut dyn Write) -> R<String> {
    send(out, "backend", scv2::primitives::BACKEND.as_bytes())?;
    String::from_utf8(recv(input, "backend")?).map_err(e)
}

/// The server role: a fresh key of `suite`, then answer one handshake and one request. Returns
/// the peer's backend.
pub fn serve(suite: Suite, input: &mut dyn BufRead, out: &mut dyn Write) -> R<String> {
    let peer = hello(input, out)?;
    let key =
        ServerKey::generate_with_suite(suite, "k-interop", NOW, None, &mut OsRng).map_err(e)?;
    let announce = format!(
        "{}:{}:{}",
        suite.id(),
        key.key_id(),
        hex(key.public_key_bytes())
    );
    send(out, "key", announce.as_bytes())?;
    let mut server = Server::new(ServerConfig::default());
    server.add_key(key).map_err(e)?;
    let kx = recv(input, "kx")?;
    let accepted = server.accept(&kx, NOW).map_err(e)?;
    if accepted.payload() != b"{}" || accepted.suite() != suite {
        return Err("type-1 payload or suite".to_owned());
    }
    let sid = generate_session_id(&mut OsRng).map_err(e)?;
    let (session, kxr) = accepted
        .respond(&sid, NOW + 600_000, b"hello", &mut OsRng)
        .map_err(e)?;
    send(out, "kxr", &kxr)?;
    let req = recv(input, "req")?;
    let mut body = vec![0u8; max_open_len(req.len())];
    let (slot, n) = session.open_request(CTX, &req, NOW, &mut body).map_err(e)?;
    if &body[..n] != REQUEST {
        return Err("request body".to_owned());
    }
    let answer: Vec<u8> = body[..n].iter().rev().copied().collect();
    let mut resp = vec![0u8; session.sealed_len(answer.len())];
    let m = session
        .seal_response(slot, CTX, &answer, &mut resp)
        .map_err(e)?;
    send(out, "resp", &resp[..m])?;
    Ok(peer)
}

/// The client role: pin the announced key, open a session, send one request, check the answer.
/// Returns the peer's backend.
pub fn call(suite: Suite, input: &mut dyn BufRead, out: &mut dyn Write) -> R<String> {
    let peer = hello(input, out)?;
    let announce = String::from_utf8(recv(input, "key")?).map_err(|e| e.to_string())?;
    let mut parts = announce.splitn(3, ':');
    let (id, key_id, public) = (parts.next(), parts.next(), parts.next());
    let (Some(id), Some(key_id), Some(public)) = (id, key_id, public) else {
        return Err(format!("bad key line {announce:?}"));
    };
    if id != suite.id().to_string() {
        return Err("the peer announced another suite".to_owned());
    }
    let mut config = ClientConfig::new();
    config.pin(PinnedKey::with_suite(key_id, suite, &unhex(public)).map_err(e)?);
    let (hs, kx) = ClientHandshake::start(&config, key_id, b"{}", &mut OsRng).map_err(e)?;
    send(out, "kx", &kx)?;
    let client = hs.finish(&recv(input, "kxr")?, NOW).map_err(e)?;
    if client.app_payload() != b"hello" {
        return Err("type-130 app payload".to_owned());
    }
    let mut req = vec![0u8; client.sealed_len(REQUEST.len())];
    let (pending, n) = client
        .seal_request(CTX, REQUEST, NOW, &mut req)
        .map_err(e)?;
    send(out, "req", &req[..n])?;
    let resp = recv(input, "resp")?;
    let mut body = vec![0u8; max_open_len(resp.len())];
    let n = client
        .open_response(pending, CTX, &resp, &mut body)
        .map_err(e)?;
    let want: Vec<u8> = REQUEST.iter().rev().copied().collect();
    if body[..n] != want[..] {
        return Err("response body".to_owned());
    }
    Ok(peer)
}
