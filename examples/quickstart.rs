//! Quickstart: a whole SCv2 exchange in one process, client and server side by side.
//!
//! Run with `cargo run --example quickstart`. It opens a session, sends an encrypted
//! "Initialize Password" request (`POST /web/v1/system/auth/password/init`) and reads the
//! server's encrypted 201 answer, printing each step. No network: the "transport" is a variable.

use std::time::{SystemTime, UNIX_EPOCH};

use scv2::{
    generate_session_id, max_open_len, web, ClientConfig, ClientHandshake, OsRng, PinnedKey,
    Server, ServerConfig, ServerKey, Trust,
};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn main() -> Result<(), scv2::Error> {
    let mut rng = OsRng;
    let now = now_ms();

    // --- Server set-up: one static X25519 key, advertised by GET /web/v1/secure-channel/public-key.
    let mut server = Server::new(ServerConfig::default());
    server.add_key(ServerKey::generate("k-demo-1", now, None, &mut rng)?)?;
    let doc = server
        .current_key(now)
        .ok_or(scv2::Error::Internal)?
        .document();
    println!(
        "1. public key document: keyId={} algorithm={}",
        doc.key_id, doc.algorithm
    );
    println!("   publicKey={}", doc.public_key);

    // --- Client: the app ships with the server key pinned (here: pinned from the document).
    let mut config = ClientConfig::new();
    config.pin(PinnedKey::from_spki_base64(&doc.key_id, &doc.public_key)?);
    match config.trust(&doc.key_id, &doc.public_key)? {
        Trust::Pinned(_) => println!("2. fetched key matches the pin"),
        Trust::FirstUse(_) => unreachable!("trust on first use is off"),
    }

    // --- POST /web/v1/secure-channel/session: type 1 → type 130.
    let (handshake, type1) = ClientHandshake::start(&config, &doc.key_id, b"{}", &mut rng)?;
    println!("3. client → server: type-1 envelope, {} bytes", type1.len());
    let accepted = server.accept(&type1, now)?;
    let sid = generate_session_id(&mut rng)?;
    let (server_session, type130) = accepted.respond(&sid, now + 30 * 60 * 1000, b"", &mut rng)?;
    println!(
        "4. server → client: type-130 envelope, {} bytes",
        type130.len()
    );
    let client_session = handshake.finish(&type130, now)?;
    println!(
        "   session {} open until {}",
        client_session.session_id(),
        client_session.expires_at_ms()
    );

    // --- POST /web/v1/system/auth/password/init, encrypted.
    let ctx = b"POST /web/v1/system/auth/password/init";
    let body = br#"{"sessionId":"init-session-xxx","password":"NewP@ssw0rd"}"#;
    let mut request = vec![0u8; client_session.sealed_len(body.len())];
    let (pending, n) = client_session.seal_request(ctx, body, now, &mut request)?;
    request.truncate(n);
    println!(
        "5. request #{}: {} plaintext bytes → {} envelope bytes; headers X-SC-Session-Id: {}, X-SC-Version: 2",
        pending.seq(),
        body.len(),
        request.len(),
        client_session.session_id()
    );
    println!("   web form: {}…", &web::encode(&request)[..40]);

    // Server side: open, handle, answer 201 in a type-129 envelope.
    let mut plain = vec![0u8; max_open_len(request.len())];
    let (slot, len) = server_session.open_request(ctx, &request, now, &mut plain)?;
    println!(
        "6. server opened request #{}: {} bytes of JSON",
        slot.seq(),
        len
    );
    let created = br#"{"version":"2.0.0","timestamp":1711929600000,"success":true,"code":"2000","message":"SUCCESS","data":{"bizId":"ACC_USR_00000001","email":"user@example.com","name":"Test User","status":10010202,"createdAt":"2026-03-23T08:00:00Z"}}"#;
    let mut response = vec![0u8; server_session.sealed_len(created.len())];
    let m = server_session.seal_response(slot, ctx, created, &mut response)?;
    response.truncate(m);
    println!(
        "7. server → client: HTTP 201, type-129 envelope, {} bytes",
        response.len()
    );

    // A replay of the same request is refused (answered in plaintext by a real gateway).
    let replay = server_session.open_request(ctx, &request, now, &mut plain);
    println!(
        "   replaying the request: {:?} → HTTP {}",
        replay.as_ref().err(),
        scv2::Error::Replayed.http().status
    );

    let mut answer = vec![0u8; max_open_len(response.len())];
    let len = client_session.open_response(pending, ctx, &response, &mut answer)?;
    println!(
        "8. client decrypted: {}",
        String::from_utf8_lossy(&answer[..len])
    );
    Ok(())
}
