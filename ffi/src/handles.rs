//! The handles of the boundary: which Rust object each opaque C handle (and each Kotlin `Long`)
//! stands for. They are created and consumed by the bridge; the C and JNI shells only move them in
//! and out of raw pointers. Their doc comments are the C header's.

#![forbid(unsafe_code)]

use std::sync::{Mutex, RwLock};

use scv2::{
    AcceptedHandshake, ClientConfig, ClientHandshake, ClientSession, Limits, PendingRequest,
    ResponseSlot, Server, ServerConfig, ServerSession,
};

use crate::table::TokenTable;

/// A client configuration: the pinned server keys and the padding block (default 64).
///
/// Create with `scv2_client_config_new`, free with `scv2_client_config_free`. Thread safety:
/// internally locked; it may be read (`scv2_client_handshake_start`) and modified from several
/// threads at once, but modify it before sharing it for clarity.
pub struct scv2_client_config {
    pub(crate) inner: RwLock<ClientConfig>,
}

/// A client handshake in progress: created by `scv2_client_handshake_start`, completed once by
/// `scv2_client_handshake_finish`, freed by `scv2_client_handshake_free`.
///
/// Holds the ephemeral secret; zeroized on finish (whatever the outcome) and on free. After
/// `scv2_client_handshake_finish` has run the protocol once, every further call on the handle
/// returns `SCV2_INVALID_STATE`. Thread safety: internally locked.
pub struct scv2_client_handshake {
    pub(crate) inner: Mutex<Option<ClientHandshake>>,
    pub(crate) limits: Limits,
}

/// An established client session.
///
/// Thread safety: every function taking a `const scv2_client_session *` may be called from
/// several threads at once on the same handle (sequence numbers are allocated atomically, the
/// table of outstanding requests is lock-free). Only `scv2_client_session_free` must not race with
/// other calls on the handle.
pub struct scv2_client_session {
    pub(crate) session: ClientSession,
    pub(crate) pending: TokenTable<PendingRequest>,
}

/// A server key set: the static X25519 keys (by key id) and the settings of the sessions it opens
/// (padding block, replay window).
///
/// Create with `scv2_server_new`, free with `scv2_server_free` (the private keys are zeroized).
/// Thread safety: internally locked; `scv2_server_accept` may run on several threads at once,
/// also while keys are added or removed.
pub struct scv2_server {
    pub(crate) inner: RwLock<Server>,
}

/// A type-1 envelope the server accepted, waiting for the application to choose the session id,
/// expiry and payload (`scv2_server_handshake_respond`, once). Holds `prk1`, zeroized when it
/// responds or is freed. Thread safety: internally locked.
pub struct scv2_server_handshake {
    /// The suite of the key the type 1 named (kept for the size of the answer).
    pub(crate) suite: scv2::Suite,
    pub(crate) inner: Mutex<Option<AcceptedHandshake>>,
    pub(crate) config: ServerConfig,
}

/// An established server session.
///
/// Thread safety: every function taking a `const scv2_server_session *` may be called from
/// several threads at once on the same handle (the replay window is synchronized, the table of
/// requests awaiting a response is lock-free). Only `scv2_server_session_free` must not race with
/// other calls on the handle.
pub struct scv2_server_session {
    pub(crate) session: ServerSession,
    pub(crate) slots: TokenTable<ResponseSlot>,
}
