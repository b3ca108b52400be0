//! `server_open`: a server with fixed keys and an established session (the vector case
//! `many-exchanges-reordered-block-1`, rebuilt with the test-vector constructors) opens arbitrary
//! type-1 and type-2 bytes.
//!
//! Input: `flags | ctx selector | seq selector (unused) | capacity shortfall | envelope` (see
//! `scv2_fuzz::Frame`). Flags:
//! - bits 0–1, the entry point: 0 `Server::accept` (type 1), 1 `ServerSession::open_request`,
//!   2 `open_request_in_place`, 3 `open_request` then `open_request_in_place` on the same bytes;
//! - bit 2: at the session's expiry (`now = expiresAtMs`; for `accept`, `now = u64::MAX`);
//! - bit 3: the session was closed;
//! - bit 4: the session has already opened the case's six requests (so their replays, and the
//!   file's negatives, meet a used window);
//! - bit 5, with entry point 0: the hybrid suite (SPEC.md section 15). `accept` runs at a server
//!   holding the hybrid vector case `pq-password-init-block-64`'s key and the primary case's
//!   X25519-suite key, against the harness's model of SPEC 15.6 (`spec15`): the lengths of the
//!   key's suite after the key-id lookup, the encapsulation-key check of `ek_e`, low-order `E`.
//!
//! Properties: no panic; every error is documented for the entry point AND is exactly the one
//! SPEC.md section 10 decides wherever the input determines it (caps, magic, version, type,
//! structure, key id, low-order `E`, closed, expiry, nonce range, replay pre-check); a success
//! only for authentic input: an accepted type 1 is byte for byte the case's, and an opened
//! request re-seals (same keys, seq, ctx and body) to exactly the input; after a success the same
//! bytes are `replayed`; after a failure the same bytes fail the same way (nothing changed).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use scv2::{
    max_open_len, ClientSession, Error, OsRng, Server, ServerSession, StorageKey, DEFAULT_WINDOW,
};
use scv2_fuzz::{
    assert_documented, expected_accept, expected_open_request, Case, Frame, Window, ACCEPT_ERRORS,
    OPEN_REQUEST_ERRORS, PRIMARY_CASE,
};
use scv2_test_support::spec15::{expected_accept_hybrid, HybridCase};

struct Fixture {
    case: Case,
    server: Server,
    /// The hybrid case, and a server holding its key and the primary case's X25519 key.
    hybrid: HybridCase,
    both: Server,
    /// Re-seals an opened request to prove it authentic.
    client: ClientSession,
    storage: StorageKey,
    /// The established session, exported: nothing opened yet.
    fresh: Vec<u8>,
    /// The same session after opening the case's exchanges in the file's order.
    opened: Vec<u8>,
}

static FX: LazyLock<Fixture> = LazyLock::new(|| {
    let case = Case::load(PRIMARY_CASE);
    let server = case.server();
    let storage = StorageKey::new(&[0x5c; 32]);
    let ss = case.server_session(&server);
    let fresh = ss.export(&storage, &mut OsRng).expect("export");
    for x in &case.exchanges {
        let mut out = vec![0u8; max_open_len(x.request_envelope.len())];
        let (slot, n) = ss
            .open_request(&x.ctx, &x.request_envelope, case.now_ms, &mut out)
            .expect("case request opens");
        assert_eq!(&out[..n], &x.request[..]);
        assert_eq!(slot.seq(), x.seq);
    }
    let opened = ss.export(&storage, &mut OsRng).expect("export");
    let client = case.client_session();
    let hybrid = HybridCase::load("pq-password-init-block-64");
    let mut both = hybrid.server();
    both.add_key(
        scv2::ServerKey::from_private_bytes(&case.key_id, &case.server_static_private, 0, None)
            .expect("key"),
    )
    .expect("add");
    Fixture {
        case,
        server,
        hybrid,
        both,
        client,
        storage,
        fresh,
        opened,
    }
});

fn accept(fx: &Fixture, f: &Frame<'_>) {
    let case = &fx.case;
    let env = f.envelope;
    let now = if f.flags & 4 != 0 {
        u64::MAX
    } else {
        case.now_ms
    };
    let got = fx.server.accept(env, now);
    let expected = expected_accept(case, env);
    scv2_fuzz::trace!("accept: {:?}", got.as_ref().map(|_| ()));
    match (got, expected) {
        (Err(e), Err(m)) => {
            assert_documented(e, ACCEPT_ERRORS, "accept");
            assert_eq!(e, m, "accept: wrong error (order of checks)");
        }
        (Err(e), Ok(())) => assert_eq!(e, Error::DecryptionFailed, "accept: wrong error"),
        (Ok(acc), Err(m)) => panic!("accept succeeded where {m:?} was due: {acc:?}"),
        (Ok(acc), Ok(())) => {
            // Only the case's own type 1 is authentic for this key.
            assert_eq!(env, &case.kx_envelope[..], "accept: a forged type 1 opened");
            assert_eq!(acc.payload(), &case.kx_payload[..]);
            assert_eq!(acc.key_id(), case.key_id);
            let (_, kxr) = acc
                .respond_with_ephemeral_for_test_vectors(
                    &case.session_id,
                    case.expires_at_ms,
                    &case.kxr_payload,
                    case.server_ephemeral_private,
                )
                .expect("respond");
            assert_eq!(kxr, case.kxr_envelope, "respond is not deterministic");
        }
    }
}

/// `accept` at the server holding keys of both suites.
fn accept_hybrid(fx: &Fixture, f: &Frame<'_>) {
    let (h, x) = (&fx.hybrid, &fx.case);
    let env = f.envelope;
    let got = fx.both.accept(env, h.now_ms);
    let expected = expected_accept_hybrid(h.key_id.as_bytes(), Some(x.key_id.as_bytes()), env);
    scv2_fuzz::trace!(
        "accept (both suites): {:?}",
        got.as_ref().map(|a| a.suite())
    );
    match (got, expected) {
        (Err(e), Err(m)) => {
            assert_documented(e, ACCEPT_ERRORS, "accept");
            assert_eq!(e, m, "accept (both suites): wrong error (order of checks)");
        }
        (Err(e), Ok(_)) => assert_eq!(e, Error::DecryptionFailed, "accept: wrong error"),
        (Ok(acc), Err(m)) => panic!("accept succeeded where {m:?} was due: {acc:?}"),
        (Ok(acc), Ok(suite)) => {
            assert_eq!(acc.suite(), suite, "accepted in another suite");
            if suite == scv2::Suite::X25519 {
                assert_eq!(env, &x.kx_envelope[..], "accept: a forged type 1 opened");
                return;
            }
            assert_eq!(
                env,
                &h.kx_envelope[..],
                "accept: a forged hybrid type 1 opened"
            );
            assert_eq!(acc.payload(), &h.kx_payload[..]);
            let (_, kxr) = acc
                .respond_hybrid_with_ephemeral_for_test_vectors(
                    &h.session_id,
                    h.expires_at_ms,
                    &h.kxr_payload,
                    h.f,
                    h.m2,
                )
                .expect("respond");
            assert_eq!(kxr, h.kxr_envelope, "respond is not deterministic");
        }
    }
}

fn expected_open(
    fx: &Fixture,
    f: &Frame<'_>,
    closed: bool,
    now: u64,
    window: &Window,
    capacity: Option<usize>,
) -> Result<u64, Error> {
    expected_open_request(&fx.case, &f.ctx, f.envelope, now, window, closed, capacity)
}

/// Check one open result against the expectation; on success prove the input authentic.
fn check_open(
    fx: &Fixture,
    f: &Frame<'_>,
    got: Result<(scv2::ResponseSlot, Vec<u8>), Error>,
    expected: Result<u64, Error>,
    ss: &ServerSession,
) -> bool {
    scv2_fuzz::trace!("open_request: {:?}", got.as_ref().map(|(s, _)| s.seq()));
    match (got, expected) {
        (Err(e), Err(m)) => {
            assert_documented(e, OPEN_REQUEST_ERRORS, "open_request");
            assert_eq!(e, m, "open_request: wrong error (order of checks)");
            false
        }
        (Err(e), Ok(_)) => {
            assert_eq!(e, Error::DecryptionFailed, "open_request: wrong error");
            false
        }
        (Ok((slot, body)), Err(m)) => {
            panic!(
                "open_request succeeded where {m:?} was due: seq {}, {body:?}",
                slot.seq()
            )
        }
        (Ok((slot, body)), Ok(n)) => {
            assert_eq!(slot.seq(), n, "slot for another sequence number");
            // Authentic: the holder of the keys seals exactly these bytes.
            let mut again = vec![0u8; f.envelope.len()];
            let len = fx
                .client
                .seal_request_with_seq_for_test_vectors(n, &f.ctx, &body, &mut again)
                .expect("re-seal");
            assert_eq!(
                &again[..len],
                f.envelope,
                "open_request accepted bytes the client never sealed"
            );
            // The slot answers: for a case exchange the response is the file's.
            let case = &fx.case;
            let x = case
                .exchange(n)
                .filter(|x| x.ctx == f.ctx && x.request == body);
            let resp_body: &[u8] = x.map_or(b"ok", |x| &x.response);
            let mut resp = vec![0u8; ss.sealed_len(resp_body.len())];
            let m = ss
                .seal_response(slot, &f.ctx, resp_body, &mut resp)
                .expect("seal_response");
            if let Some(x) = x {
                assert_eq!(
                    &resp[..m],
                    &x.response_envelope[..],
                    "response not the file's"
                );
            }
            true
        }
    }
}

fn open_copy(
    ss: &ServerSession,
    f: &Frame<'_>,
    now: u64,
    cap: usize,
) -> Result<(scv2::ResponseSlot, Vec<u8>), Error> {
    let mut out = vec![0u8; cap];
    let (slot, n) = ss.open_request(&f.ctx, f.envelope, now, &mut out)?;
    assert!(n < cap, "body longer than the padded plaintext");
    out.truncate(n);
    Ok((slot, out))
}

fn open_in_place(
    ss: &ServerSession,
    f: &Frame<'_>,
    now: u64,
) -> Result<(scv2::ResponseSlot, Vec<u8>), Error> {
    let mut buf = f.envelope.to_vec();
    let (slot, range) = ss.open_request_in_place(&f.ctx, &mut buf, now)?;
    assert!(
        range.start == 16 && range.end <= buf.len() - 16,
        "body range {range:?}"
    );
    Ok((slot, buf[range].to_vec()))
}

fn open(fx: &Fixture, f: &Frame<'_>) {
    let mode = f.flags & 3;
    let closed = f.flags & 8 != 0;
    let pre_opened = f.flags & 16 != 0;
    let now = if f.flags & 4 != 0 {
        fx.case.expires_at_ms
    } else {
        fx.case.now_ms
    };
    let blob = if pre_opened { &fx.opened } else { &fx.fresh };
    let mut ss = ServerSession::import(
        &fx.storage,
        &fx.case.session_id,
        blob,
        &fx.case.server_config(),
    )
    .expect("import");
    if closed {
        ss.close();
    }
    let mut window = Window::new(DEFAULT_WINDOW);
    if pre_opened {
        for x in &fx.case.exchanges {
            window.mark(x.seq);
        }
    }

    let cap = max_open_len(f.envelope.len()).saturating_sub(f.cap_short);
    let first = if mode == 2 {
        let expected = expected_open(fx, f, closed, now, &window, None);
        let got = open_in_place(&ss, f, now);
        (check_open(fx, f, got, expected, &ss), expected)
    } else {
        let expected = expected_open(fx, f, closed, now, &window, Some(cap));
        let got = open_copy(&ss, f, now, cap);
        (check_open(fx, f, got, expected, &ss), expected)
    };
    if mode == 3 {
        // The same bytes again, in place: replayed after a success; after a failure the same
        // error again (a failed open changes nothing), except that in place has no buffer that
        // can be short, so a `buffer_too_small` may now open.
        let got = open_in_place(&ss, f, now);
        match first {
            (true, _) => {
                assert_eq!(
                    got.map(|(s, _)| s.seq()),
                    Err(Error::Replayed),
                    "accepted twice"
                )
            }
            (false, Err(Error::BufferTooSmall)) => {
                let expected = expected_open(fx, f, closed, now, &window, None);
                check_open(fx, f, got, expected, &ss);
            }
            (false, first_expected) => {
                let e = got.map(|(s, _)| s.seq()).expect_err("opened after failing");
                if let Err(m) = first_expected {
                    assert_eq!(e, m, "second open differs");
                } else {
                    assert_eq!(e, Error::DecryptionFailed, "second open differs");
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let fx = &*FX;
    let Some(frame) = Frame::parse(&fx.case, data) else {
        return;
    };
    if frame.flags & 3 == 0 && frame.flags & 32 != 0 {
        accept_hybrid(fx, &frame);
    } else if frame.flags & 3 == 0 {
        accept(fx, &frame);
    } else {
        open(fx, &frame);
    }
});
