//! Session behaviour: state rules, expiry, close, exhaustion, tokens, concurrency, persistence,
//! key rotation, trust, error order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use scv2_test_support::pair::{self, Options};

use scv2::{
    max_open_len, web, ClientConfig, ClientHandshake, ClientSession, Error, Limits, PinnedKey,
    Server, ServerConfig, ServerKey, ServerSession, StorageKey, Trust,
};

const NOW: u64 = scv2_test_support::NOW;
const TTL: u64 = 600_000;
const CTX: &[u8] = b"POST /web/v1/system/auth/password/init";

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// The harness's pair from `seed` (key "k1", session "sid-1" for `TTL`).
fn options(seed: u64) -> Options {
    Options {
        seed,
        expires_at_ms: NOW + TTL,
        ..Options::default()
    }
}

fn server_and_config(seed: u64) -> (Server, ClientConfig) {
    options(seed).server_and_config()
}

fn connect(seed: u64) -> (Server, ClientSession, ServerSession) {
    let p = options(seed).build();
    (p.server, p.client, p.session)
}

fn seal(c: &ClientSession, body: &[u8]) -> (scv2::PendingRequest, Vec<u8>) {
    pair::seal(c, CTX, body, NOW).unwrap()
}

fn open(s: &ServerSession, env: &[u8], now: u64) -> Result<(scv2::ResponseSlot, Vec<u8>), Error> {
    pair::open(s, CTX, env, now)
}

#[test]
fn buffer_too_small_changes_nothing() {
    let (_, cs, ss) = connect(1);
    let body = b"0123456789";
    let mut small = vec![0u8; cs.sealed_len(body.len()) - 1];
    assert_eq!(
        cs.seal_request(CTX, body, NOW, &mut small).unwrap_err(),
        Error::BufferTooSmall
    );
    assert_eq!(cs.next_seq(), 1, "no sequence number consumed");
    let (pending, env) = seal(&cs, body);
    assert_eq!(pending.seq(), 1);

    let mut out = vec![0u8; max_open_len(env.len()) - 1];
    assert_eq!(
        ss.open_request(CTX, &env, NOW, &mut out).unwrap_err(),
        Error::BufferTooSmall
    );
    assert_eq!(ss.highest_seq(), 0, "replay window untouched");
    let (slot, plain) = open(&ss, &env, NOW).unwrap();
    assert_eq!(plain, body);

    // The response slot and the pending request survive a short buffer.
    let mut small = vec![0u8; ss.sealed_len(2) - 1];
    let slot = ss
        .seal_response(slot, CTX, b"ok", &mut small)
        .unwrap_err()
        .into_token();
    let mut resp = vec![0u8; ss.sealed_len(2)];
    let n = ss.seal_response(slot, CTX, b"ok", &mut resp).unwrap();
    let mut small = vec![0u8; max_open_len(n) - 1];
    let e = cs
        .open_response(pending, CTX, &resp[..n], &mut small)
        .unwrap_err();
    assert_eq!(e.error, Error::BufferTooSmall);
    let mut out = vec![0u8; max_open_len(n)];
    assert_eq!(
        cs.open_response(e.into_token(), CTX, &resp[..n], &mut out),
        Ok(2)
    );
}

#[test]
fn expiry_rules() {
    let (server, config) = server_and_config(2);
    let mut r = rng(3);
    let (hs, kx) = ClientHandshake::start(&config, "k1", b"", &mut r).unwrap();
    let (_, kxr) = server
        .accept(&kx, NOW)
        .unwrap()
        .respond("s", NOW + 10, b"", &mut r)
        .unwrap();
    assert_eq!(
        hs.finish(&kxr, NOW + 10).unwrap_err(),
        Error::SessionExpired
    );

    let (_, cs, ss) = connect(4);
    let (pending, env) = seal(&cs, b"a");
    let mut out = vec![0u8; 100];
    assert_eq!(
        cs.seal_request(CTX, b"a", NOW + TTL, &mut out).unwrap_err(),
        Error::SessionExpired
    );
    assert_eq!(
        open(&ss, &env, NOW + TTL).unwrap_err(),
        Error::SessionExpired
    );
    // Accepted just before expiry: the response is still sealed and opened after it.
    let (slot, _) = open(&ss, &env, NOW + TTL - 1).unwrap();
    let mut resp = vec![0u8; ss.sealed_len(1)];
    let n = ss.seal_response(slot, CTX, b"b", &mut resp).unwrap();
    let mut plain = vec![0u8; n];
    assert_eq!(
        cs.open_response(pending, CTX, &resp[..n], &mut plain),
        Ok(1)
    );
}

#[test]
fn close_refuses_everything_after() {
    let (_, mut cs, mut ss) = connect(5);
    let (pending, env) = seal(&cs, b"a");
    let (slot, _) = open(&ss, &env, NOW).unwrap();
    let (_, env2) = seal(&cs, b"a");
    cs.close();
    ss.close();
    assert!(cs.is_closed() && ss.is_closed());
    let mut out = vec![0u8; 200];
    assert_eq!(
        cs.seal_request(CTX, b"a", NOW, &mut out).unwrap_err(),
        Error::InvalidState
    );
    assert_eq!(open(&ss, &env2, NOW).unwrap_err(), Error::InvalidState);
    assert_eq!(
        ss.seal_response(slot, CTX, b"", &mut out)
            .unwrap_err()
            .error,
        Error::InvalidState
    );
    assert_eq!(
        cs.open_response(pending, CTX, &env, &mut out)
            .unwrap_err()
            .error,
        Error::InvalidState
    );
    let mut r = rng(0);
    assert_eq!(
        ss.export(&StorageKey::new(&[1; 32]), &mut r).unwrap_err(),
        Error::InvalidState
    );
    assert!(format!("{cs:?}").contains("closed: true"));
}

#[cfg(feature = "test-vectors")]
#[test]
fn sequence_number_limits() {
    let (_, cs, ss) = connect(6);
    let mut out = vec![0u8; 200];
    // The receiver refuses n = 0 and n > 2^32 - 1 before any AEAD work.
    for bad in [0u64, scv2::MAX_SEQ + 1, u64::MAX] {
        let n = cs
            .seal_request_with_seq_for_test_vectors(bad, CTX, b"x", &mut out)
            .unwrap();
        assert_eq!(
            open(&ss, &out[..n], NOW).unwrap_err(),
            Error::DecryptionFailed,
            "seq {bad}"
        );
    }
    // The last valid number is accepted once; then the client is exhausted.
    cs.set_next_seq_for_test_vectors(scv2::MAX_SEQ);
    let (p, env) = seal(&cs, b"last");
    assert_eq!(p.seq(), scv2::MAX_SEQ);
    assert!(open(&ss, &env, NOW).is_ok());
    assert_eq!(
        cs.seal_request(CTX, b"x", NOW, &mut out).unwrap_err(),
        Error::SessionExhausted
    );
    assert_eq!(
        cs.seal_request(CTX, b"x", NOW, &mut out).unwrap_err(),
        Error::SessionExhausted,
        "stays exhausted"
    );
}

#[test]
fn tokens_are_bound_to_their_session() {
    let (_, cs1, ss1) = connect(7);
    let (_, cs2, ss2) = connect(8);
    let (p1, env1) = seal(&cs1, b"a");
    let (slot1, _) = open(&ss1, &env1, NOW).unwrap();
    let mut out = vec![0u8; 200];
    let e = ss2.seal_response(slot1, CTX, b"x", &mut out).unwrap_err();
    assert_eq!(e.error, Error::InvalidArgument);
    let n = ss1
        .seal_response(e.into_token(), CTX, b"x", &mut out)
        .unwrap();
    let resp = out[..n].to_vec();
    let e = cs2.open_response(p1, CTX, &resp, &mut out).unwrap_err();
    assert_eq!(e.error, Error::InvalidArgument);
    assert_eq!(
        cs1.open_response(e.into_token(), CTX, &resp, &mut out),
        Ok(1)
    );
}

#[test]
fn responses_cannot_be_swapped() {
    let (_, cs, ss) = connect(9);
    let (p1, e1) = seal(&cs, b"one");
    let (p2, e2) = seal(&cs, b"two");
    let (s1, _) = open(&ss, &e1, NOW).unwrap();
    let (s2, _) = open(&ss, &e2, NOW).unwrap();
    let mut r1 = vec![0u8; 200];
    let n1 = ss.seal_response(s1, CTX, b"r1", &mut r1).unwrap();
    let mut r2 = vec![0u8; 200];
    let n2 = ss.seal_response(s2, CTX, b"r2", &mut r2).unwrap();
    let mut out = vec![0u8; 200];
    let e = cs.open_response(p1, CTX, &r2[..n2], &mut out).unwrap_err();
    assert_eq!(e.error, Error::ResponseMismatch);
    let p1 = e.into_token();
    // The right response under another ctx (another endpoint) does not open either.
    let e = cs
        .open_response(p1, b"POST /other", &r1[..n1], &mut out)
        .unwrap_err();
    assert_eq!(e.error, Error::DecryptionFailed);
    let p1 = e.into_token();
    assert_eq!(cs.open_response(p1, CTX, &r1[..n1], &mut out), Ok(2));
    assert_eq!(cs.open_response(p2, CTX, &r2[..n2], &mut out), Ok(2));
}

#[test]
fn concurrent_sealing_and_opening() {
    let (_, cs, ss) = connect(10);
    let cs = Arc::new(cs);
    let ss = Arc::new(ss);
    let per_thread = if cfg!(miri) { 2 } else { 250 };
    let envelopes: Vec<Vec<Vec<u8>>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let cs = Arc::clone(&cs);
                s.spawn(move || {
                    (0..per_thread)
                        .map(|i| seal(&cs, format!("{t}/{i}").as_bytes()).1)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        cs.next_seq(),
        4 * per_thread as u64 + 1,
        "every seq used once"
    );
    // Open on 4 threads; every envelope also gets a concurrent duplicate. Exactly one of each pair
    // is accepted.
    let accepted = AtomicUsize::new(0);
    let replayed = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for batch in &envelopes {
            for _copy in 0..2 {
                let ss = Arc::clone(&ss);
                let (accepted, replayed) = (&accepted, &replayed);
                s.spawn(move || {
                    for env in batch {
                        match open(&ss, env, NOW) {
                            Ok(_) => accepted.fetch_add(1, Ordering::Relaxed),
                            Err(Error::Replayed) => replayed.fetch_add(1, Ordering::Relaxed),
                            Err(e) => panic!("unexpected {e}"),
                        };
                    }
                });
            }
        }
    });
    assert_eq!(accepted.load(Ordering::Relaxed), 4 * per_thread);
    assert_eq!(replayed.load(Ordering::Relaxed), 4 * per_thread);
}

/// The replay window's check is lock-free and its marks are serialized: threads racing to open
/// copies of the same requests accept each exactly once, and every export taken during the race
/// carries a generation equal to the number of requests its window refuses as replays.
#[test]
fn racing_copies_are_accepted_once_and_exports_stay_consistent() {
    let (_, cs, ss) = connect(24);
    let n = if cfg!(miri) { 4 } else { 600 };
    let envelopes: Vec<Vec<u8>> = (0..n)
        .map(|i| seal(&cs, format!("{i}").as_bytes()).1)
        .collect();
    let storage = StorageKey::new(&[0x24; 32]);
    let accepted = AtomicUsize::new(0);
    let exports = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..6usize {
            let (ss, envelopes, accepted) = (&ss, &envelopes, &accepted);
            s.spawn(move || {
                for i in 0..n {
                    // Each thread walks the requests in its own order.
                    let i = (i * (2 * t + 1) + t) % n;
                    match open(ss, &envelopes[i], NOW) {
                        Ok(_) => {
                            accepted.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(Error::Replayed) => {}
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
            });
        }
        let (ss, exports) = (&ss, &exports);
        let storage = &storage;
        s.spawn(move || {
            for _ in 0..5 {
                let blob = ss.export(storage, &mut rng(25)).unwrap();
                exports.lock().unwrap().push(blob);
            }
        });
    });
    assert_eq!(accepted.load(Ordering::SeqCst), n);
    assert_eq!(ss.generation(), n as u64);
    for blob in exports.into_inner().unwrap() {
        let generation = scv2::export_generation(&blob).unwrap();
        let copy =
            ServerSession::import(&storage, "sid-1", &blob, &ServerConfig::default()).unwrap();
        assert_eq!(copy.generation(), generation);
        let refused = envelopes
            .iter()
            .filter(|e| open(&copy, e, NOW).err() == Some(Error::Replayed))
            .count();
        assert_eq!(
            refused as u64, generation,
            "the export's generation counts its window"
        );
    }
}

#[test]
fn export_carries_an_authenticated_generation_that_only_grows() {
    use scv2::primitives::AeadKey;
    let (_, cs, ss) = connect(13);
    let key = [0x5c; 32];
    let storage = StorageKey::new(&key);
    let config = ServerConfig::default();
    let mut r = rng(14);
    assert_eq!(ss.generation(), 0);
    let g0 = ss.export(&storage, &mut r).unwrap();
    assert_eq!(scv2::export_generation(&g0), Ok(0));
    let (_, e1) = seal(&cs, b"one");
    let (_, e2) = seal(&cs, b"two");
    open(&ss, &e2, NOW).unwrap();
    open(&ss, &e1, NOW).unwrap();
    assert_eq!(open(&ss, &e1, NOW).unwrap_err(), Error::Replayed);
    assert_eq!(
        ss.generation(),
        2,
        "two accepted requests; the replay counts for nothing"
    );
    let blob = ss.export(&storage, &mut r).unwrap();
    assert_eq!(blob[0], scv2::EXPORT_VERSION);
    assert_eq!(scv2::export_generation(&blob), Ok(2));
    let restored = ServerSession::import(&storage, "sid-1", &blob, &config).unwrap();
    assert_eq!(restored.generation(), 2);
    let (_, e3) = seal(&cs, b"three");
    open(&restored, &e3, NOW).unwrap();
    assert_eq!(restored.generation(), 3);

    // The generation is in clear but authenticated: lowering it breaks the blob.
    let mut older = blob.clone();
    older[8] ^= 0x03;
    assert_eq!(scv2::export_generation(&older), Ok(1));
    assert_eq!(
        ServerSession::import(&storage, "sid-1", &older, &config).unwrap_err(),
        Error::DecryptionFailed
    );
    assert_eq!(
        scv2::export_generation(&blob[..5]),
        Err(Error::MalformedEnvelope)
    );
    assert_eq!(scv2::export_generation(&[]), Err(Error::MalformedEnvelope));
    assert_eq!(
        scv2::export_generation(&[0x03; 40]),
        Err(Error::UnsupportedVersion)
    );

    // A blob of the previous format (0x01 || nonce || ct || tag, aad 0x01 || len || sid), made
    // here from the same state, still imports, with generation 0.
    let (nonce, rest) = blob[9..].split_at(12);
    let (ct, tag) = rest.split_at(rest.len() - 16);
    let aad2 = [&[0x02][..], &2u64.to_be_bytes(), &[5], b"sid-1"].concat();
    let mut state = ct.to_vec();
    AeadKey::new(&key)
        .open_in_place(
            nonce.try_into().unwrap(),
            &aad2,
            &mut state,
            tag.try_into().unwrap(),
        )
        .unwrap();
    let aad1 = [&[0x01][..], &[5], b"sid-1"].concat();
    let tag1 = AeadKey::new(&key)
        .seal_in_place(nonce.try_into().unwrap(), &aad1, &mut state)
        .unwrap();
    let v1 = [&[0x01][..], nonce, &state, &tag1].concat();
    assert_eq!(scv2::export_generation(&v1), Ok(0));
    let from_v1 = ServerSession::import(&storage, "sid-1", &v1, &config).unwrap();
    assert_eq!(from_v1.generation(), 0);
    assert_eq!(
        open(&from_v1, &e2, NOW).unwrap_err(),
        Error::Replayed,
        "the window came along"
    );
}

#[test]
fn export_import_keeps_keys_and_replay_state() {
    let (_, cs, ss) = connect(11);
    let storage = StorageKey::new(&[0x5a; 32]);
    let (_, e1) = seal(&cs, b"one");
    let (p2, e2) = seal(&cs, b"two");
    open(&ss, &e1, NOW).unwrap();
    let mut r = rng(12);
    let blob = ss.export(&storage, &mut r).unwrap();
    assert!(
        !blob.windows(3).any(|w| w == b"sid"),
        "the session id is not stored in the blob"
    );
    let config = ServerConfig::default();
    let restored = ServerSession::import(&storage, "sid-1", &blob, &config).unwrap();
    assert_eq!(restored.session_id(), "sid-1");
    assert_eq!(restored.expires_at_ms(), NOW + TTL);
    assert_eq!(
        open(&restored, &e1, NOW).unwrap_err(),
        Error::Replayed,
        "replay after restart"
    );
    let (slot, body) = open(&restored, &e2, NOW).unwrap();
    assert_eq!(body, b"two");
    let mut out = vec![0u8; 200];
    let n = restored.seal_response(slot, CTX, b"ok", &mut out).unwrap();
    let mut plain = vec![0u8; 200];
    assert_eq!(cs.open_response(p2, CTX, &out[..n], &mut plain), Ok(2));

    // Wrong id, wrong key, tampering, bad version.
    assert_eq!(
        ServerSession::import(&storage, "sid-2", &blob, &config).unwrap_err(),
        Error::DecryptionFailed
    );
    assert_eq!(
        ServerSession::import(&StorageKey::new(&[0x5b; 32]), "sid-1", &blob, &config).unwrap_err(),
        Error::DecryptionFailed
    );
    for i in 0..blob.len() {
        let mut b = blob.clone();
        b[i] ^= 0x80;
        assert!(
            ServerSession::import(&storage, "sid-1", &b, &config).is_err(),
            "byte {i}"
        );
    }
    assert_eq!(
        ServerSession::import(&storage, "sid-1", &blob[..blob.len() - 1], &config).unwrap_err(),
        Error::DecryptionFailed
    );
    assert_eq!(
        ServerSession::import(&storage, "sid-1", &blob[..20], &config).unwrap_err(),
        Error::MalformedEnvelope
    );
    assert_eq!(
        ServerSession::import(&storage, "sid-1", &[], &config).unwrap_err(),
        Error::MalformedEnvelope
    );
}

#[test]
fn key_rotation_and_expiry() {
    let mut r = rng(13);
    let mut server = Server::new(ServerConfig::default());
    let old = ServerKey::generate("old", NOW - 10_000, Some(NOW + 5_000), &mut r).unwrap();
    let new = ServerKey::generate("new", NOW - 1_000, None, &mut r).unwrap();
    let mut config = ClientConfig::new();
    config.pin(PinnedKey::new("old", *old.public_key()).unwrap());
    config.pin(PinnedKey::new("new", *new.public_key()).unwrap());
    server.add_key(old).unwrap();
    server.add_key(new).unwrap();
    assert_eq!(server.current_key(NOW).unwrap().key_id(), "new");
    let dup = ServerKey::generate("new", NOW, None, &mut r).unwrap();
    assert_eq!(server.add_key(dup), Err(Error::InvalidArgument));

    let (_, kx_old) = ClientHandshake::start(&config, "old", b"", &mut r).unwrap();
    assert!(
        server.accept(&kx_old, NOW).is_ok(),
        "the older key still opens sessions"
    );
    assert_eq!(
        server.accept(&kx_old, NOW + 5_000).unwrap_err(),
        Error::UnknownKeyId
    );
    assert!(server.remove_key("new"));
    let (_, kx_new) = ClientHandshake::start(&config, "new", b"", &mut r).unwrap();
    assert_eq!(
        server.accept(&kx_new, NOW).unwrap_err(),
        Error::UnknownKeyId
    );
    assert_eq!(
        ClientHandshake::start(&config, "unpinned", b"", &mut r).unwrap_err(),
        Error::UntrustedServerKey
    );
}

#[test]
fn trust_on_first_use_flow() {
    let mut r = rng(14);
    let key = ServerKey::generate("tofu", NOW, None, &mut r).unwrap();
    let doc = key.document();
    assert_eq!(doc.algorithm, "X25519-HKDF-SHA256-AES-256-GCM");
    let mut config = ClientConfig::new();
    assert_eq!(
        config.trust(&doc.key_id, &doc.public_key).unwrap_err(),
        Error::UntrustedServerKey
    );
    config.set_trust_on_first_use(true);
    let Trust::FirstUse(pin) = config.trust(&doc.key_id, &doc.public_key).unwrap() else {
        panic!("expected first use")
    };
    config.pin(pin);
    assert!(matches!(
        config.trust(&doc.key_id, &doc.public_key),
        Ok(Trust::Pinned(_))
    ));
    assert!(ClientHandshake::start(&config, "tofu", b"", &mut r).is_ok());
}

#[test]
fn low_order_points_are_refused() {
    let (server, config) = server_and_config(15);
    let mut r = rng(16);
    let (hs, kx) = ClientHandshake::start(&config, "k1", b"", &mut r).unwrap();
    // E replaced by the all-zero point (and by u = 1, a point of order 4): es = 0.
    let e_at = 4 + 1 + 2 + 2;
    for point in [[0u8; 32], {
        let mut p = [0u8; 32];
        p[0] = 1;
        p
    }] {
        let mut bad = kx.clone();
        bad[e_at..e_at + 32].copy_from_slice(&point);
        assert_eq!(
            server.accept(&bad, NOW).unwrap_err(),
            Error::InvalidPublicKey
        );
    }
    let (_, kxr) = server
        .accept(&kx, NOW)
        .unwrap()
        .respond("s", NOW + TTL, b"", &mut r)
        .unwrap();
    let mut bad = kxr.clone();
    bad[4..36].copy_from_slice(&[0u8; 32]);
    assert_eq!(hs.finish(&bad, NOW).unwrap_err(), Error::InvalidPublicKey);
    // A pinned key that is itself a low-order point cannot start a handshake.
    let mut c = ClientConfig::new();
    c.pin(PinnedKey::new("zero", [0u8; 32]).unwrap());
    assert_eq!(
        ClientHandshake::start(&c, "zero", b"", &mut r).unwrap_err(),
        Error::InvalidPublicKey
    );
}

#[test]
fn size_caps_come_first() {
    let mut r = rng(17);
    let limits = Limits {
        max_envelope: 100,
        max_ctx: 10,
        max_payload: 50,
    };
    let mut server = Server::new(ServerConfig::default().with_limits(limits).unwrap());
    server
        .add_key(ServerKey::generate("k", NOW, None, &mut r).unwrap())
        .unwrap();
    // Over the cap with a bad magic: the cap is reported.
    assert_eq!(
        server.accept(&[0u8; 101], NOW).unwrap_err(),
        Error::PayloadTooLarge
    );
    assert_eq!(
        server.accept(&[0u8; 100], NOW).unwrap_err(),
        Error::MalformedEnvelope
    );

    let (_, cs, ss) = connect(18);
    let mut out = vec![0u8; 4096];
    let big_ctx = vec![b'a'; 4097];
    assert_eq!(
        cs.seal_request(&big_ctx, b"", NOW, &mut out).unwrap_err(),
        Error::PayloadTooLarge
    );
    assert_eq!(
        ss.open_request(&big_ctx, b"junk", NOW, &mut out)
            .unwrap_err(),
        Error::PayloadTooLarge
    );
    let big = vec![0u8; (1 << 20) + 1];
    assert_eq!(
        cs.seal_request(CTX, &big, NOW, &mut out).unwrap_err(),
        Error::PayloadTooLarge
    );
    let huge = vec![0u8; (1 << 20) + 8193];
    assert_eq!(
        ss.open_request(CTX, &huge, NOW, &mut out).unwrap_err(),
        Error::PayloadTooLarge
    );
    // Order after the caps: magic, version, type, structure.
    assert_eq!(
        ss.open_request(CTX, b"XX\x02\x02", NOW, &mut out)
            .unwrap_err(),
        Error::MalformedEnvelope
    );
    assert_eq!(
        ss.open_request(CTX, b"SC\x01\x02", NOW, &mut out)
            .unwrap_err(),
        Error::UnsupportedVersion
    );
    assert_eq!(
        ss.open_request(CTX, b"SC\x02\x09", NOW, &mut out)
            .unwrap_err(),
        Error::UnknownType
    );
    assert_eq!(
        ss.open_request(CTX, b"SC\x02\x81", NOW, &mut out)
            .unwrap_err(),
        Error::MalformedEnvelope
    );
    assert_eq!(
        ss.open_request(CTX, b"SC\x02\x02", NOW, &mut out)
            .unwrap_err(),
        Error::MalformedEnvelope
    );
}

#[test]
fn debug_output_is_redacted() {
    let (server, cs, ss) = connect(19);
    for text in [format!("{cs:?}"), format!("{ss:?}"), format!("{server:?}")] {
        assert!(text.contains("[redacted]"), "{text}");
    }
    let key = &server.keys()[0];
    let private = key.private_bytes();
    let dbg = format!("{key:?}");
    assert!(!dbg.contains(&format!("{:?}", &private[..4])), "{dbg}");
}

#[test]
fn tokens_print_only_their_sequence_number() {
    let (_, cs, ss) = connect(23);
    let (pending, env) = seal(&cs, b"a");
    let (slot, _) = open(&ss, &env, NOW).unwrap();
    assert_eq!(format!("{pending:?}"), "PendingRequest { seq: 1, .. }");
    assert_eq!(format!("{slot:?}"), "ResponseSlot { seq: 1, .. }");
}

#[test]
fn web_form_carries_envelopes() {
    let (_, cs, ss) = connect(20);
    let (_, env) = seal(&cs, b"{\"password\":\"x\"}");
    let form = web::encode(&env);
    // Exactly `{"v":2,"p":"<standard base64 with padding>"}`, the type-2 prefix "SC\x02\x02" first.
    use base64ct::{Base64, Encoding};
    assert_eq!(
        form,
        format!("{{\"v\":2,\"p\":\"{}\"}}", Base64::encode_string(&env))
    );
    assert!(form.starts_with("{\"v\":2,\"p\":\"U0MC") && env.starts_with(b"SC\x02\x02"));
    let back = web::decode(form.as_bytes(), 1 << 21).unwrap();
    assert_eq!(back, env);
    assert!(open(&ss, &back, NOW).is_ok());
}

#[test]
fn handshake_payloads_round_trip() {
    let (server, config) = server_and_config(21);
    let mut r = rng(22);
    let (hs, kx) = ClientHandshake::start(&config, "k1", b"{\"device\":\"ios\"}", &mut r).unwrap();
    let accepted = server.accept(&kx, NOW).unwrap();
    assert_eq!(accepted.payload(), b"{\"device\":\"ios\"}");
    assert_eq!(accepted.key_id(), "k1");
    let sid = scv2::generate_session_id(&mut r).unwrap();
    assert_eq!(sid.len(), 22);
    assert!(accepted
        .respond("bad sid", NOW + TTL, b"", &mut rng(0))
        .is_err_and(|e| e == Error::InvalidArgument));
    let accepted = server.accept(&kx, NOW).unwrap();
    let (_, kxr) = accepted
        .respond(&sid, NOW + TTL, b"{\"ttl\":600}", &mut r)
        .unwrap();
    let cs = hs.finish(&kxr, NOW).unwrap();
    assert_eq!(cs.session_id(), sid);
    assert_eq!(cs.app_payload(), b"{\"ttl\":600}");
    // The size helpers predict the handshake envelopes exactly.
    assert_eq!(scv2::key_exchange_len(2, 16, 64), Some(kx.len()));
    assert_eq!(
        scv2::key_exchange_response_len(sid.len(), 11, 64),
        Some(kxr.len())
    );
    assert_eq!(scv2::key_exchange_len(2, 16, 0), None);
}
