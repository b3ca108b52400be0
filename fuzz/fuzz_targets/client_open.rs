//! `client_open`: a client with a pending handshake, or an established session, opens arbitrary
//! type-130 and type-129 bytes. Fixtures: the vector case `many-exchanges-reordered-block-1`,
//! rebuilt with the test-vector constructors.
//!
//! Input: `flags | ctx selector | seq selector | capacity shortfall | envelope` (see
//! `scv2_fuzz::Frame`). Flags:
//! - bits 0–1, the entry point: 0 `ClientHandshake::finish` (type 130, a fresh handshake each
//!   time), 1 `ClientSession::open_response`, 2 `open_response_in_place`, 3 `open_response` first
//!   with a token of another session (`invalid_argument`), then with the session's own;
//! - bit 2: `finish` at the session's expiry (`now = expiresAtMs`);
//! - bit 3: the session was closed;
//! - bit 4, with entry point 0: the hybrid suite (SPEC.md section 15): `finish` of a handshake
//!   started from the hybrid vector case `pq-password-init-block-64`, against the harness's
//!   model of SPEC 15.6 (`spec15`: at least 1153 bytes, low-order `F`).
//!
//! The response is opened as the answer to the request with the selected sequence number (the
//! session seals a request with that number first, to get the token).
//!
//! Properties: no panic; errors documented for the entry point and exactly the ones SPEC.md
//! section 10 decides wherever the bytes determine them (caps, magic, version, type, structure,
//! low-order `F`, closed, foreign token, nonce range, `response_mismatch`); a success only for
//! authentic input: a finished handshake is the case's own type 130 (and its session seals the
//! case's first request byte for byte), an opened response is the case's response to that very
//! request and ctx, with the case's body; a failed open gives the token back unchanged.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use scv2::{max_open_len, ClientSession, Error, PendingRequest};
use scv2_fuzz::{
    assert_documented, expected_finish, expected_open_response, Case, Frame, FINISH_ERRORS,
    OPEN_RESPONSE_ERRORS, OTHER_CASE, PRIMARY_CASE,
};
use scv2_test_support::spec15::{expected_finish_hybrid, HybridCase};

struct Fixture {
    case: Case,
    hybrid: HybridCase,
    client: ClientSession,
    closed: ClientSession,
    other: ClientSession,
}

static FX: LazyLock<Fixture> = LazyLock::new(|| {
    let case = Case::load(PRIMARY_CASE);
    let client = case.client_session();
    let mut closed = case.client_session();
    closed.close();
    let other = Case::load(OTHER_CASE).client_session();
    Fixture {
        case,
        hybrid: HybridCase::load("pq-password-init-block-64"),
        client,
        closed,
        other,
    }
});

/// A token for request `seq` of `session` (sealing an empty request with that number).
fn pending(session: &ClientSession, seq: u64, now: u64) -> PendingRequest {
    session.set_next_seq_for_test_vectors(seq);
    let mut buf = vec![0u8; session.sealed_len(0)];
    let (p, _) = session
        .seal_request(b"", b"", now, &mut buf)
        .expect("seal for a token");
    assert_eq!(p.seq(), seq);
    p
}

fn finish(fx: &Fixture, f: &Frame<'_>) {
    let case = &fx.case;
    let env = f.envelope;
    let now = if f.flags & 4 != 0 {
        case.expires_at_ms
    } else {
        case.now_ms
    };
    let hs = case.client_handshake();
    let got = hs.finish(env, now);
    scv2_fuzz::trace!("finish: {:?}", got.as_ref().map(|_| ()));
    let expected = expected_finish(env);
    let authentic = env == &case.kxr_envelope[..];
    match (got, expected) {
        (Err(e), Err(m)) => {
            assert_documented(e, FINISH_ERRORS, "finish");
            assert_eq!(e, m, "finish: wrong error (order of checks)");
        }
        (Err(Error::SessionExpired), Ok(())) => {
            assert!(authentic, "finish decrypted a forged type 130");
            assert!(now >= case.expires_at_ms, "expired too early");
        }
        (Err(e), Ok(())) => {
            assert_eq!(e, Error::DecryptionFailed, "finish: wrong error");
            assert!(!authentic, "the case's own type 130 failed: {e:?}");
        }
        (Ok(_), Err(m)) => panic!("finish succeeded where {m:?} was due"),
        (Ok(cs), Ok(())) => {
            assert!(authentic, "finish accepted a forged type 130");
            assert!(now < case.expires_at_ms);
            assert_eq!(cs.session_id(), case.session_id);
            assert_eq!(cs.expires_at_ms(), case.expires_at_ms);
            assert_eq!(cs.app_payload(), &case.kxr_payload[..]);
            let x = case.exchange(1).expect("exchange 1");
            let mut out = vec![0u8; cs.sealed_len(x.request.len())];
            let (_, n) = cs
                .seal_request(&x.ctx, &x.request, case.now_ms, &mut out)
                .expect("seal");
            assert_eq!(&out[..n], &x.request_envelope[..], "session keys differ");
        }
    }
}

/// `finish` of the hybrid case's handshake.
fn finish_hybrid(fx: &Fixture, f: &Frame<'_>) {
    let h = &fx.hybrid;
    let env = f.envelope;
    let now = if f.flags & 4 != 0 {
        h.expires_at_ms
    } else {
        h.now_ms
    };
    let got = h.client_handshake().finish(env, now);
    scv2_fuzz::trace!("finish (hybrid): {:?}", got.as_ref().map(|_| ()));
    let authentic = env == &h.kxr_envelope[..];
    match (got, expected_finish_hybrid(env)) {
        (Err(e), Err(m)) => {
            assert_documented(e, FINISH_ERRORS, "finish");
            assert_eq!(e, m, "finish (hybrid): wrong error (order of checks)");
        }
        (Err(Error::SessionExpired), Ok(())) => {
            assert!(authentic && now >= h.expires_at_ms, "expired: {authentic}")
        }
        (Err(e), Ok(())) => {
            assert_eq!(e, Error::DecryptionFailed, "finish (hybrid): wrong error");
            assert!(!authentic, "the hybrid case's own type 130 failed: {e:?}");
        }
        (Ok(_), Err(m)) => panic!("hybrid finish succeeded where {m:?} was due"),
        (Ok(cs), Ok(())) => {
            assert!(authentic, "finish accepted a forged hybrid type 130");
            assert_eq!(cs.session_id(), h.session_id);
            assert_eq!(cs.app_payload(), &h.kxr_payload[..]);
        }
    }
}

fn expected_open(
    fx: &Fixture,
    f: &Frame<'_>,
    closed: bool,
    capacity: Option<usize>,
) -> Result<(), Error> {
    expected_open_response(&fx.case, &f.ctx, f.envelope, f.seq, closed, capacity)
}

fn open(fx: &Fixture, f: &Frame<'_>) {
    let case = &fx.case;
    let mode = f.flags & 3;
    let closed = f.flags & 8 != 0;
    let session = if closed { &fx.closed } else { &fx.client };
    let env = f.envelope;

    if mode == 3 {
        // A token of another session: refused before the bytes are looked at.
        let foreign = pending(&fx.other, f.seq, 1);
        let e = session
            .open_response(foreign, &f.ctx, env, &mut vec![0u8; env.len()])
            .expect_err("foreign token accepted");
        let want = if closed {
            Error::InvalidState
        } else {
            Error::InvalidArgument
        };
        assert_eq!(e.error, want, "foreign token");
        assert_eq!(e.token.seq(), f.seq, "token changed");
    }

    let token = pending(&fx.client, f.seq, case.now_ms);
    let (got, expected) = if mode == 2 {
        let mut buf = env.to_vec();
        let got = session
            .open_response_in_place(token, &f.ctx, &mut buf)
            .map(|r| {
                assert!(r.start == 16 && r.end <= buf.len() - 16, "range {r:?}");
                buf[r].to_vec()
            });
        (got, expected_open(fx, f, closed, None))
    } else {
        let cap = max_open_len(env.len()).saturating_sub(f.cap_short);
        let mut out = vec![0u8; cap];
        let got = session
            .open_response(token, &f.ctx, env, &mut out)
            .map(|n| out[..n].to_vec());
        (got, expected_open(fx, f, closed, Some(cap)))
    };
    scv2_fuzz::trace!(
        "open_response seq {}: {:?}",
        f.seq,
        got.as_ref().map(|b| b.len()).map_err(|e| e.error)
    );
    match (got, expected) {
        (Err(e), expected) => {
            assert_documented(e.error, OPEN_RESPONSE_ERRORS, "open_response");
            assert_eq!(e.token.seq(), f.seq, "token changed");
            match expected {
                Err(m) => assert_eq!(e.error, m, "open_response: wrong error"),
                Ok(()) => {
                    assert_eq!(
                        e.error,
                        Error::DecryptionFailed,
                        "open_response: wrong error"
                    )
                }
            }
        }
        (Ok(body), Err(m)) => panic!("open_response succeeded where {m:?} was due: {body:?}"),
        (Ok(body), Ok(())) => {
            let x = case
                .exchange(f.seq)
                .expect("opened a response to a request the case never answered");
            assert_eq!(env, &x.response_envelope[..], "forged response opened");
            assert_eq!(f.ctx, x.ctx, "response opened under another ctx");
            assert_eq!(body, x.response, "wrong body");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let fx = &*FX;
    let Some(frame) = Frame::parse(&fx.case, data) else {
        return;
    };
    if frame.flags & 3 == 0 && frame.flags & 16 != 0 {
        finish_hybrid(fx, &frame);
    } else if frame.flags & 3 == 0 {
        finish(fx, &frame);
    } else {
        open(fx, &frame);
    }
});
