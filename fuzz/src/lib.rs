//! The fuzz targets' fixtures, over the shared test harness (`tests/support`):
//!
//! - [`Case`]: one case of `tests/vectors/scv2-x25519.json` (the harness's `vectors`), so that
//!   the targets' sessions are exactly the vector file's and the seed corpora (written by
//!   `gen_corpus.py` from the same file) contain authentic envelopes for them;
//! - the model of SPEC.md section 10 and of the replay window ([`model_parse`], [`Window`], the
//!   `expected_*` functions): the harness's `spec10`, the same model `tests/hostile.rs` uses;
//!   the wrappers here only apply it to a [`Case`];
//! - [`Frame`]: the byte framing of the `server_open`, `client_open` and `ffi` inputs.
//!
//! Everything here panics on a violated property: that is how libFuzzer learns about it.

pub use scv2_test_support::hex::unhex;
pub use scv2_test_support::spec10::{
    assert_documented, is_low_order, model_client_ephemeral, model_key_id, model_parse,
    model_prefix, model_seq, model_structure, seq_in_range, ServerView, Window, ACCEPT_ERRORS,
    FINISH_ERRORS, LOW_ORDER_U, MAX_SEQ, MIN_AEAD, OPEN_REQUEST_ERRORS, OPEN_RESPONSE_ERRORS,
    PARSE_ERRORS,
};
pub use scv2_test_support::vectors::{
    Case, Exchange, EXPIRED_KEY_ID, OTHER_CASE, PRIMARY_CASE, VECTORS,
};

use scv2::Error;
use scv2_test_support::spec10;

// ---------------------------------------------------------------------------------------------
// Input framing of server_open, client_open and ffi.

/// `flags | ctx selector | seq selector | capacity shortfall | envelope...`
///
/// The meaning of the flag bits is per target (see each target's header comment). The ctx
/// selector picks the request binding:
/// - `0`: empty;
/// - `1..=6`: the ctx of the primary case's exchange with that sequence number;
/// - `0x07`: the ctx of exchange 3 with a `/` appended (a wrong ctx);
/// - `0xFF`: 4097 bytes, one over the default `max_ctx` (`payload_too_large`);
/// - anything else: that one byte.
///
/// The seq selector picks a request sequence number (client side): `0` → 1, `0xFF` → 2^32 − 1,
/// `0xFE` → 2^32 − 2, anything else → itself. The capacity shortfall is how many bytes the output
/// buffer of the copying `open` calls is short of `max_open_len(envelope)` (0: exact).
#[derive(Debug)]
pub struct Frame<'a> {
    pub flags: u8,
    pub ctx: Vec<u8>,
    pub seq: u64,
    pub cap_short: usize,
    pub envelope: &'a [u8],
}

/// The `ctx` for selector `sel` (see [`Frame`]).
pub fn ctx_for(case: &Case, sel: u8) -> Vec<u8> {
    match sel {
        0 => Vec::new(),
        1..=6 => case
            .exchange(u64::from(sel))
            .map(|x| x.ctx.clone())
            .unwrap_or_default(),
        7 => {
            let mut c = case.exchange(3).map(|x| x.ctx.clone()).unwrap_or_default();
            c.push(b'/');
            c
        }
        0xFF => vec![b'c'; 4097],
        other => vec![other],
    }
}

impl<'a> Frame<'a> {
    /// Split an input; `None` if it has fewer than four bytes.
    pub fn parse(case: &Case, data: &'a [u8]) -> Option<Frame<'a>> {
        let (head, envelope) = data.split_at_checked(4)?;
        let seq = match head[2] {
            0 => 1,
            0xFF => MAX_SEQ,
            0xFE => MAX_SEQ - 1,
            n => u64::from(n),
        };
        Some(Frame {
            flags: head[0],
            ctx: ctx_for(case, head[1]),
            seq,
            cap_short: usize::from(head[3]),
            envelope,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The model (SPEC.md section 10) applied to the fixtures built from a `Case`. `Ok` means: only
// authentication is left to decide.

/// `Server::accept` on [`Case::server`] (a type 1): its only valid key is the case's.
pub fn expected_accept(case: &Case, env: &[u8]) -> Result<(), Error> {
    spec10::expected_accept(case.key_id.as_bytes(), env)
}

/// `ClientHandshake::finish` (a type 130).
pub fn expected_finish(env: &[u8]) -> Result<(), Error> {
    spec10::expected_finish(env)
}

/// `ServerSession::open_request` (a type 2) on a session of `case` whose replay state is
/// `window`; `capacity`: the output buffer of the copying call (`None`: in place). On `Ok`, the
/// sequence number the IV carries.
pub fn expected_open_request(
    case: &Case,
    ctx: &[u8],
    env: &[u8],
    now: u64,
    window: &Window,
    closed: bool,
    capacity: Option<usize>,
) -> Result<u64, Error> {
    let view = ServerView {
        iv_c2s: &case.iv_c2s,
        expires_at_ms: case.expires_at_ms,
        window,
        closed,
    };
    spec10::expected_open_request(view, ctx, env, now, capacity)
}

/// `ClientSession::open_response` (a type 129) as the answer to request `seq`.
pub fn expected_open_response(
    case: &Case,
    ctx: &[u8],
    env: &[u8],
    seq: u64,
    closed: bool,
    capacity: Option<usize>,
) -> Result<(), Error> {
    spec10::expected_open_response(&case.iv_s2c, ctx, env, seq, closed, capacity)
}

/// Set `SCV2_FUZZ_TRACE=1` to print each input's outcome (for checking, on a corpus replay, that
/// the seeds reach the success paths); off by default.
pub static TRACE: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| std::env::var_os("SCV2_FUZZ_TRACE").is_some());

/// Print an outcome when [`TRACE`] is on.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => {
        if *$crate::TRACE {
            eprintln!("scv2-fuzz: {}", format_args!($($arg)*));
        }
    };
}
