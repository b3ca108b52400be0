//! A client/server pair through the C ABI (`scv2_ffi`, the functions of `include/scv2.h`): a
//! server with one generated key, a client configuration pinning it, the handshake run, and one
//! established session on each side. The handles are freed on drop.
//!
//! ```
//! use scv2_test_support::c_pair::CPair;
//! use scv2_test_support::CTX;
//!
//! let p = CPair::new();
//! let mut buf = [[0u8; 256]; 4];
//! let [env, plain, resp, out] = &mut buf;
//! let (n, seq) = p.seal_request(CTX, b"{}", env).unwrap();
//! let (m, sseq) = p.open_request(CTX, &env[..n], plain).unwrap();
//! let r = p.seal_response(sseq, CTX, &plain[..m], resp).unwrap();
//! let k = p.open_response(seq, CTX, &resp[..r], out).unwrap();
//! assert_eq!(&out[..k], b"{}");
//! ```

use std::ptr::{null, null_mut};

use scv2::Error;
use scv2_ffi::*;

use crate::NOW;

/// The status of a core error.
pub const fn st(e: Error) -> scv2_status {
    e.code() as scv2_status
}

/// Panic unless `s` is `SCV2_OK`.
#[track_caller]
pub fn ok(s: scv2_status) {
    assert_eq!(s, SCV2_OK, "status {s}");
}

#[inline]
fn result(s: scv2_status) -> Result<(), scv2_status> {
    if s == SCV2_OK {
        Ok(())
    } else {
        Err(s)
    }
}

/// The key id of the pair's server key.
pub const KEY_ID: &[u8] = b"k1";

/// The four handles of an established pair.
pub struct CPair {
    /// The server key set.
    pub server: *mut scv2_server,
    /// The client configuration.
    pub config: *mut scv2_client_config,
    /// The client session.
    pub client: *mut scv2_client_session,
    /// The server session.
    pub session: *mut scv2_server_session,
    /// The type 1 and type 130 of the handshake.
    pub kx: Vec<u8>,
    /// The type 130.
    pub kxr: Vec<u8>,
    /// The time the helpers use.
    pub now_ms: u64,
}

impl Drop for CPair {
    fn drop(&mut self) {
        // SAFETY: each pointer is NULL or a live handle created by `CPair::with` and freed only
        // here, once.
        unsafe {
            scv2_client_session_free(self.client);
            scv2_server_session_free(self.session);
            scv2_client_config_free(self.config);
            scv2_server_free(self.server);
        }
    }
}

impl CPair {
    /// Padding block 64 on both sides, the default replay window, a generated session id valid
    /// for 10 minutes, a two-byte application payload.
    pub fn new() -> CPair {
        CPair::with(64, 64, 0)
    }

    /// Padding blocks and replay window as given (0: the library's default).
    pub fn with(server_block: usize, client_block: usize, window: u32) -> CPair {
        let mut p = CPair {
            server: null_mut(),
            config: null_mut(),
            client: null_mut(),
            session: null_mut(),
            kx: vec![0u8; 512],
            kxr: vec![0u8; 512],
            now_ms: NOW,
        };
        let mut public = [0u8; 32];
        let (mut n, mut kx_len, mut kxr_len) = (0usize, 0usize, 0usize);
        let (mut hs, mut shs) = (null_mut(), null_mut());
        // SAFETY: every pointer is a valid local with its length, or a live handle created by an
        // earlier call of this block (`p` frees what was created if an assertion fails).
        unsafe {
            ok(scv2_server_new(server_block, window, &mut p.server));
            ok(scv2_server_generate_key(
                p.server,
                KEY_ID.as_ptr(),
                KEY_ID.len(),
                NOW - 1000,
                0,
            ));
            ok(scv2_server_public_key(
                p.server,
                KEY_ID.as_ptr(),
                KEY_ID.len(),
                public.as_mut_ptr(),
                public.len(),
                &mut n,
            ));
            ok(scv2_client_config_new(&mut p.config));
            ok(scv2_client_config_pin(
                p.config,
                KEY_ID.as_ptr(),
                KEY_ID.len(),
                public.as_ptr(),
                public.len(),
            ));
            if client_block != 64 {
                ok(scv2_client_config_set_padding_block(p.config, client_block));
            }
            ok(scv2_client_handshake_start(
                p.config,
                KEY_ID.as_ptr(),
                KEY_ID.len(),
                null(),
                0,
                p.kx.as_mut_ptr(),
                p.kx.len(),
                &mut kx_len,
                &mut hs,
            ));
            p.kx.truncate(kx_len);
            ok(scv2_server_accept(
                p.server,
                p.kx.as_ptr(),
                kx_len,
                NOW,
                &mut shs,
            ));
            ok(scv2_server_handshake_respond(
                shs,
                null(),
                0,
                NOW + 600_000,
                b"hi".as_ptr(),
                2,
                p.kxr.as_mut_ptr(),
                p.kxr.len(),
                &mut kxr_len,
                &mut p.session,
            ));
            p.kxr.truncate(kxr_len);
            ok(scv2_client_handshake_finish(
                hs,
                p.kxr.as_ptr(),
                kxr_len,
                NOW,
                &mut p.client,
            ));
            scv2_client_handshake_free(hs);
            scv2_server_handshake_free(shs);
        }
        p
    }

    /// `scv2_client_seal_request` into `out`: the envelope's length and sequence number.
    #[inline]
    pub fn seal_request(
        &self,
        ctx: &[u8],
        body: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, u64), scv2_status> {
        let (mut n, mut seq) = (0usize, 0u64);
        // SAFETY: a live handle; every buffer is a valid slice with its length.
        result(unsafe {
            scv2_client_seal_request(
                self.client,
                ctx.as_ptr(),
                ctx.len(),
                body.as_ptr(),
                body.len(),
                self.now_ms,
                out.as_mut_ptr(),
                out.len(),
                &mut n,
                &mut seq,
            )
        })
        .map(|()| (n, seq))
    }

    /// `scv2_server_open_request` into `out`: the body's length and sequence number.
    #[inline]
    pub fn open_request(
        &self,
        ctx: &[u8],
        envelope: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, u64), scv2_status> {
        let (mut n, mut seq) = (0usize, 0u64);
        // SAFETY: a live handle; every buffer is a valid slice with its length.
        result(unsafe {
            scv2_server_open_request(
                self.session,
                ctx.as_ptr(),
                ctx.len(),
                envelope.as_ptr(),
                envelope.len(),
                self.now_ms,
                out.as_mut_ptr(),
                out.len(),
                &mut n,
                &mut seq,
            )
        })
        .map(|()| (n, seq))
    }

    /// `scv2_server_seal_response` into `out`: the envelope's length.
    #[inline]
    pub fn seal_response(
        &self,
        seq: u64,
        ctx: &[u8],
        body: &[u8],
        out: &mut [u8],
    ) -> Result<usize, scv2_status> {
        let mut n = 0usize;
        // SAFETY: a live handle; every buffer is a valid slice with its length.
        result(unsafe {
            scv2_server_seal_response(
                self.session,
                seq,
                ctx.as_ptr(),
                ctx.len(),
                body.as_ptr(),
                body.len(),
                out.as_mut_ptr(),
                out.len(),
                &mut n,
            )
        })
        .map(|()| n)
    }

    /// `scv2_client_open_response` into `out`: the body's length.
    #[inline]
    pub fn open_response(
        &self,
        seq: u64,
        ctx: &[u8],
        envelope: &[u8],
        out: &mut [u8],
    ) -> Result<usize, scv2_status> {
        let mut n = 0usize;
        // SAFETY: a live handle; every buffer is a valid slice with its length.
        result(unsafe {
            scv2_client_open_response(
                self.client,
                seq,
                ctx.as_ptr(),
                ctx.len(),
                envelope.as_ptr(),
                envelope.len(),
                out.as_mut_ptr(),
                out.len(),
                &mut n,
            )
        })
        .map(|()| n)
    }

    /// `scv2_client_forget_request`.
    #[inline]
    pub fn forget_request(&self, seq: u64) -> Result<(), scv2_status> {
        // SAFETY: a live handle.
        result(unsafe { scv2_client_forget_request(self.client, seq) })
    }
}

impl Default for CPair {
    fn default() -> CPair {
        CPair::new()
    }
}
