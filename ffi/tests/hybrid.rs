//! The hybrid suite through the C ABI (Rust side): the suite functions reproduce the hybrid
//! vector file's envelopes (key from its 96-byte private form, pin from the document's
//! `publicKey`, `scv2_client_handshake_start_hybrid_for_test_vectors`), the server answers in the
//! key's suite with the size its helper names, and a key set holding both suites matches each
//! type 1 to its key. Needs `--features test-vectors`.
#![cfg(feature = "test-vectors")]

use std::ptr::null_mut;

use scv2_ffi::*;
use scv2_test_support::c_pair::ok;
use scv2_test_support::spec15::HybridCase;

#[test]
fn hybrid_vector_case_through_the_c_abi() {
    let h = HybridCase::load("pq-block-256-out-of-order");
    let doc = h.server_key().document();
    let (mut server, mut config, mut hs, mut shs, mut client, mut session) = (
        null_mut(),
        null_mut(),
        null_mut(),
        null_mut(),
        null_mut(),
        null_mut(),
    );
    let mut kx = vec![0u8; h.kx_envelope.len()];
    let mut kxr = vec![0u8; 4096];
    let (mut kx_len, mut kxr_len, mut suite) = (0usize, 0usize, 0u32);
    // SAFETY: valid locals and library handles, buffers valid for their lengths.
    unsafe {
        ok(scv2_server_new(h.padding_block, 0, &mut server));
        ok(scv2_server_add_suite_key(
            server,
            SCV2_SUITE_X25519MLKEM768,
            h.key_id.as_ptr(),
            h.key_id.len(),
            h.private.as_ptr(),
            h.private.len(),
            0,
            0,
        ));
        ok(scv2_server_generate_suite_key(
            server,
            SCV2_SUITE_X25519,
            b"k-x".as_ptr(),
            3,
            0,
            0,
        ));
        ok(scv2_server_key_suite(
            server,
            h.key_id.as_ptr(),
            h.key_id.len(),
            &mut suite,
        ));
        assert_eq!(suite, SCV2_SUITE_X25519MLKEM768);
        let mut public = vec![0u8; 1216];
        let mut n = 0usize;
        ok(scv2_server_public_key(
            server,
            h.key_id.as_ptr(),
            h.key_id.len(),
            public.as_mut_ptr(),
            public.len(),
            &mut n,
        ));
        assert_eq!(&public[..n], &h.public[..]);

        ok(scv2_client_config_new(&mut config));
        // The document's text is longer than the SPKI cap of the X25519 function.
        assert_eq!(
            scv2_client_config_pin_spki_base64(
                config,
                h.key_id.as_ptr(),
                h.key_id.len(),
                doc.public_key.as_ptr(),
                doc.public_key.len(),
            ),
            SCV2_PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            scv2_client_config_pin_public_key_base64(
                config,
                SCV2_SUITE_X25519,
                h.key_id.as_ptr(),
                h.key_id.len(),
                doc.public_key.as_ptr(),
                doc.public_key.len(),
            ),
            SCV2_INVALID_PUBLIC_KEY
        );
        ok(scv2_client_config_pin_public_key_base64(
            config,
            SCV2_SUITE_X25519MLKEM768,
            h.key_id.as_ptr(),
            h.key_id.len(),
            doc.public_key.as_ptr(),
            doc.public_key.len(),
        ));
        ok(scv2_client_config_set_padding_block(
            config,
            h.padding_block,
        ));
        // A size query first: the pin's suite decides.
        assert_eq!(
            start_fixed(config, &h, null_mut(), 0, &mut kx_len, &mut hs),
            SCV2_BUFFER_TOO_SMALL
        );
        assert_eq!(kx_len, h.kx_envelope.len());
        assert_eq!(
            kx_len,
            scv2_suite_type1_len(
                SCV2_SUITE_X25519MLKEM768,
                h.key_id.len(),
                h.kx_payload.len(),
                h.padding_block
            )
        );
        ok(start_fixed(
            config,
            &h,
            kx.as_mut_ptr(),
            kx.len(),
            &mut kx_len,
            &mut hs,
        ));
        assert_eq!(&kx[..kx_len], &h.kx_envelope[..], "the file's type 1");
        ok(scv2_server_accept(
            server,
            kx.as_ptr(),
            kx_len,
            h.now_ms,
            &mut shs,
        ));
        ok(scv2_server_handshake_respond(
            shs,
            h.session_id.as_ptr(),
            h.session_id.len(),
            h.expires_at_ms,
            h.kxr_payload.as_ptr(),
            h.kxr_payload.len(),
            kxr.as_mut_ptr(),
            kxr.len(),
            &mut kxr_len,
            &mut session,
        ));
        assert_eq!(
            kxr_len,
            scv2_suite_type130_len(
                SCV2_SUITE_X25519MLKEM768,
                h.session_id.len(),
                h.kxr_payload.len(),
                h.padding_block
            )
        );
        ok(scv2_client_handshake_finish(
            hs,
            kxr.as_ptr(),
            kxr_len,
            h.now_ms,
            &mut client,
        ));
        // The file's own type 130 for the same handshake inputs finishes a second handshake.
        let mut hs2 = null_mut();
        let mut client2 = null_mut();
        ok(start_fixed(
            config,
            &h,
            kx.as_mut_ptr(),
            kx.len(),
            &mut kx_len,
            &mut hs2,
        ));
        ok(scv2_client_handshake_finish(
            hs2,
            h.kxr_envelope.as_ptr(),
            h.kxr_envelope.len(),
            h.now_ms,
            &mut client2,
        ));
        // The X25519-suite fixed-input start refuses a hybrid pin.
        let mut hs3 = null_mut();
        assert_eq!(
            scv2_client_handshake_start_for_test_vectors(
                config,
                h.key_id.as_ptr(),
                h.key_id.len(),
                h.kx_payload.as_ptr(),
                h.kx_payload.len(),
                h.e.as_ptr(),
                32,
                h.iv1.as_ptr(),
                12,
                kx.as_mut_ptr(),
                kx.len(),
                &mut kx_len,
                &mut hs3,
            ),
            SCV2_INVALID_ARGUMENT
        );
        assert!(hs3.is_null());
        scv2_client_session_free(client2);
        scv2_client_handshake_free(hs2);
        scv2_client_session_free(client);
        scv2_server_session_free(session);
        scv2_server_handshake_free(shs);
        scv2_client_handshake_free(hs);
        scv2_client_config_free(config);
        scv2_server_free(server);
    }
}

/// `scv2_client_handshake_start_hybrid_for_test_vectors` with the case's fixed inputs (its
/// ephemeral X25519 key, ML-KEM seed, encapsulation randomness and iv1).
///
/// # Safety
/// As the C function: `config` a live configuration, `out` valid for `out_cap` bytes.
unsafe fn start_fixed(
    config: *const scv2_client_config,
    h: &HybridCase,
    out: *mut u8,
    out_cap: usize,
    out_len: &mut usize,
    hs: &mut *mut scv2_client_handshake,
) -> scv2_status {
    // SAFETY: every input slice is the case's own, with its length; the caller vouches for
    // `config` and `out`.
    unsafe {
        scv2_client_handshake_start_hybrid_for_test_vectors(
            config,
            h.key_id.as_ptr(),
            h.key_id.len(),
            h.kx_payload.as_ptr(),
            h.kx_payload.len(),
            h.e.as_ptr(),
            h.e.len(),
            h.client_seed.as_ptr(),
            h.client_seed.len(),
            h.m1.as_ptr(),
            h.m1.len(),
            h.iv1.as_ptr(),
            h.iv1.len(),
            out,
            out_cap,
            out_len,
            hs,
        )
    }
}
