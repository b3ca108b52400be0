//! The native methods of the Kotlin binding, declared once in a table (`natives!`): each entry
//! gives the Kotlin class, the method, its parameters and its body (a call of the bridge). The
//! macro makes, from the same entry,
//!
//! - the exported JNI function `Java_io_scv2_<Class>_<method>` (feature `jni`), its body inside
//!   `jni_boundary!` (one `catch_unwind`), handle parameters turned into references (one
//!   `// SAFETY:` for all of them, in the macro);
//! - a [`Declaration`](crate::natives::Declaration) in [`DECLARATIONS`](crate::natives::DECLARATIONS), from which `ffi/tests/generated.rs` writes the
//!   `external fun` block of `Native.kt` and checks the test-only declarations of the Kotlin tests.
//!
//! Parameter kinds: `Long`, `Int`, `Boolean` (as they are), `Bytes` / `BytesOrNull` (a
//! `ByteArray` / `ByteArray?`: the body pins or copies it), `Longs` (a `LongArray` for a new
//! handle), `Handle<T>` (a `Long` holding a live `T`: the body gets `&T`), `Owned<T>` (a `Long`
//! given back for freeing: the body gets `Option<Box<T>>`).
//!
//! The only `unsafe` code here is in the macros `bind!` (handle parameters) and `jni_boundary!`
//! (the call's `JNIEnv`), each with its one `// SAFETY:` argument.

/// One native method, as Kotlin declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Declaration {
    /// The Kotlin object holding it (`Native`, or the tests' `TestVectorsNative`).
    pub class: &'static str,
    /// The method name.
    pub name: &'static str,
    /// `(Rust parameter name, Kotlin type)`, in order.
    pub params: &'static [(&'static str, &'static str)],
    /// The Kotlin return type (`Unit` for none).
    pub ret: &'static str,
    /// The method's documentation.
    pub doc: &'static str,
}

macro_rules! kotlin_type {
    (Long) => {
        "Long"
    };
    (Int) => {
        "Int"
    };
    (Boolean) => {
        "Boolean"
    };
    (Bytes) => {
        "ByteArray"
    };
    (BytesOrNull) => {
        "ByteArray?"
    };
    (Longs) => {
        "LongArray"
    };
    (Handle) => {
        "Long"
    };
    (Owned) => {
        "Long"
    };
    () => {
        "Unit"
    };
}

#[cfg(feature = "jni")]
macro_rules! jni_type {
    (Long) => {
        jni_sys::jlong
    };
    (Int) => {
        jni_sys::jint
    };
    (Boolean) => {
        jni_sys::jboolean
    };
    (Bytes) => {
        jni_sys::jbyteArray
    };
    (BytesOrNull) => {
        jni_sys::jbyteArray
    };
    (Longs) => {
        jni_sys::jlongArray
    };
    (Handle) => {
        jni_sys::jlong
    };
    (Owned) => {
        jni_sys::jlong
    };
    () => {
        ()
    };
}

/// What a native method returns after it threw.
#[cfg(feature = "jni")]
macro_rules! jni_default {
    (Long) => {
        0
    };
    (Int) => {
        0
    };
    (Boolean) => {
        0
    };
    (Bytes) => {
        ::core::ptr::null_mut()
    };
    () => {
        ()
    };
}

/// Turn a raw parameter into what the body uses.
#[cfg(feature = "jni")]
macro_rules! bind {
    ($arg:ident, Handle, $t:ty) => {
        // SAFETY: the Kotlin classes pass only handles they own and keep them live for the whole
        // call (`NativeHandle` holds its read lock around every call and frees under its write
        // lock), so a non-zero `Long` of a `Handle<T>` parameter is a live `T` from this library.
        let $arg: &$t = unsafe { crate::jni::handle::<$t>($arg) }?;
    };
    ($arg:ident, Owned, $t:ty) => {
        // SAFETY: `NativeHandle.close()` passes each handle it owns exactly once, under its write
        // lock and after zeroing its own copy, so no call on it runs or follows.
        let $arg: Option<Box<$t>> = unsafe { crate::jni::owned::<$t>($arg) };
    };
    ($arg:ident, $kind:ident,) => {};
}

/// Declare native methods; see the module documentation.
macro_rules! natives {
    ($(
        $(#[doc = $doc:literal])*
        $(#[cfg($cfg:meta)])?
        $class:ident fn $name:ident ( $($arg:ident : $kind:ident $(<$t:ty>)?),* $(,)? )
            $(-> $ret:ident)? |$env:ident| $body:block
    )*) => {
        /// Every native method of the Kotlin binding, in declaration order.
        pub const DECLARATIONS: &[Declaration] = &[$(
            Declaration {
                class: stringify!($class),
                name: stringify!($name),
                params: &[$((stringify!($arg), kotlin_type!($kind))),*],
                ret: kotlin_type!($($ret)?),
                doc: concat!($($doc, "\n"),*),
            }
        ),*];

        $(
            // One block per method: two classes may declare the same method name.
            #[cfg(all(feature = "jni" $(, $cfg)?))]
            const _: () = {
                $(#[doc = $doc])*
                #[allow(non_snake_case, unused_variables, clippy::too_many_arguments)]
                #[export_name = concat!("Java_io_scv2_", stringify!($class), "_", stringify!($name))]
                extern "system" fn $name(
                    raw_env: *mut jni_sys::JNIEnv,
                    _class: jni_sys::jclass,
                    $($arg: jni_type!($kind)),*
                ) -> jni_type!($($ret)?) {
                    jni_boundary!(raw_env, jni_default!($($ret)?), |$env| {
                        $(bind!($arg, $kind, $($t)?);)*
                        $body
                    })
                }
            };
        )*
    };
}

#[cfg(feature = "jni")]
use crate::bridge;
#[cfg(feature = "jni")]
use crate::handles::*;
#[cfg(feature = "jni")]
use crate::jni::{int_len, into_handle, jint_or_zero, pack, size, suite_id, Fail};

natives! {
    // ---- Library-wide

    /// `scv2_max_open_len` (0: envelope too short, or too long for a Java array).
    Native fn maxOpenLen(envelope_len: Int) -> Int |env| {
        Ok(jint_or_zero(bridge::max_open_len(usize::try_from(envelope_len).unwrap_or(0))))
    }

    // ---- Suites

    /// Bytes of a type 1 of suite `suite` (0: unknown suite, arguments out of range, or too long
    /// for a Java array) (`scv2_suite_type1_len`).
    Native fn suiteType1Len(
        suite: Int,
        key_id_len: Int,
        payload_len: Int,
        padding_block: Int,
    ) -> Int |env| {
        let (k, p, b) = (int_len(key_id_len), int_len(payload_len), int_len(padding_block));
        Ok(jint_or_zero(bridge::suite_type1_len(suite_id(suite), k, p, b)))
    }

    /// Bytes of a type 130 of suite `suite` (0: unknown suite, arguments out of range, or too
    /// long for a Java array) (`scv2_suite_type130_len`).
    Native fn suiteType130Len(
        suite: Int,
        session_id_len: Int,
        app_payload_len: Int,
        padding_block: Int,
    ) -> Int |env| {
        let (s, a, b) = (int_len(session_id_len), int_len(app_payload_len), int_len(padding_block));
        Ok(jint_or_zero(bridge::suite_type130_len(suite_id(suite), s, a, b)))
    }

    /// Bytes of a raw public key of suite `suite` (0: unknown suite) (`scv2_suite_public_key_len`).
    Native fn suitePublicKeyLen(suite: Int) -> Int |env| {
        Ok(jint_or_zero(bridge::suite_public_key_len(suite_id(suite))))
    }

    /// Bytes of a private key of suite `suite` (0: unknown suite) (`scv2_suite_private_key_len`).
    Native fn suitePrivateKeyLen(suite: Int) -> Int |env| {
        Ok(jint_or_zero(bridge::suite_private_key_len(suite_id(suite))))
    }

    // ---- Client configuration

    /// A new client configuration (`scv2_client_config_new`).
    Native fn clientConfigNew() -> Long |env| {
        Ok(into_handle(bridge::client_config_new()))
    }

    /// Pin a raw 32-byte X25519 key (`scv2_client_config_pin`).
    Native fn clientConfigPin(config: Handle<scv2_client_config>, key_id: Bytes, public_key: Bytes) |env| {
        let (key_id, public_key) = (env.bytes_in(key_id)?, env.bytes_in(public_key)?);
        Ok(bridge::client_config_pin(config, &key_id, &public_key)?)
    }

    /// Pin the document's `publicKey` (`scv2_client_config_pin_spki_base64`).
    Native fn clientConfigPinSpkiBase64(config: Handle<scv2_client_config>, key_id: Bytes, spki: Bytes) |env| {
        let (key_id, spki) = (env.bytes_in(key_id)?, env.bytes_in(spki)?);
        Ok(bridge::client_config_pin_spki_base64(config, &key_id, &spki)?)
    }

    /// Pin a raw public key of suite `suite` (`scv2_client_config_pin_suite`).
    Native fn clientConfigPinSuite(
        config: Handle<scv2_client_config>,
        suite: Int,
        key_id: Bytes,
        public_key: Bytes,
    ) |env| {
        let (key_id, public_key) = (env.bytes_in(key_id)?, env.bytes_in(public_key)?);
        Ok(bridge::client_config_pin_suite(config, suite_id(suite), &key_id, &public_key)?)
    }

    /// Pin a key of suite `suite` given as the document's `publicKey`
    /// (`scv2_client_config_pin_public_key_base64`).
    Native fn clientConfigPinPublicKeyBase64(
        config: Handle<scv2_client_config>,
        suite: Int,
        key_id: Bytes,
        public_key_base64: Bytes,
    ) |env| {
        let (key_id, b64) = (env.bytes_in(key_id)?, env.bytes_in(public_key_base64)?);
        Ok(bridge::client_config_pin_public_key_base64(config, suite_id(suite), &key_id, &b64)?)
    }

    /// `scv2_client_config_set_padding_block`.
    Native fn clientConfigSetPaddingBlock(config: Handle<scv2_client_config>, padding_block: Long) |env| {
        Ok(bridge::client_config_set_padding_block(config, size(padding_block)?)?)
    }

    /// `scv2_client_config_free`.
    Native fn clientConfigFree(config: Owned<scv2_client_config>) |env| {
        drop(config);
        Ok(())
    }

    // ---- Client handshake

    /// Start a handshake: returns the type-1 envelope; the handshake handle goes to `outHandle[0]`
    /// (`scv2_client_handshake_start`).
    Native fn clientHandshakeStart(
        config: Handle<scv2_client_config>,
        key_id: Bytes,
        payload: Bytes,
        out_handle: Longs,
    ) -> Bytes |env| {
        let (key_id, payload) = (env.bytes_in(key_id)?, env.bytes_in(payload)?);
        let mut out = env.new_output();
        let (hs, _) = bridge::client_handshake_start(config, &key_id, &payload, &mut out)?;
        let envelope = out.finish()?;
        env.publish(out_handle, hs)?;
        Ok(envelope)
    }

    /// Finish a handshake: returns the session handle (`scv2_client_handshake_finish`).
    Native fn clientHandshakeFinish(handshake: Handle<scv2_client_handshake>, envelope: Bytes, now_ms: Long) -> Long |env| {
        let mut pins = env.pin(core::ptr::null_mut(), [envelope], core::ptr::null_mut())?;
        let (_, [envelope], _) = pins.split();
        let session = bridge::client_handshake_finish(handshake, envelope, now_ms as u64);
        drop(pins);
        Ok(into_handle(session?))
    }

    /// `scv2_client_handshake_free`.
    Native fn clientHandshakeFree(handshake: Owned<scv2_client_handshake>) |env| {
        drop(handshake);
        Ok(())
    }

    // ---- Client session

    /// The session id (`scv2_client_session_id`).
    Native fn clientSessionId(session: Handle<scv2_client_session>) -> Bytes |env| {
        let mut out = env.new_output();
        bridge::client_session_id(session, &mut out)?;
        out.finish()
    }

    /// The server application's payload (`scv2_client_session_app_payload`).
    Native fn clientSessionAppPayload(session: Handle<scv2_client_session>) -> Bytes |env| {
        let mut out = env.new_output();
        bridge::client_session_app_payload(session, &mut out)?;
        out.finish()
    }

    /// `scv2_client_session_expires_at_ms`.
    Native fn clientSessionExpiresAtMs(session: Handle<scv2_client_session>) -> Long |env| {
        Ok(bridge::client_session_expires_at_ms(session) as jni_sys::jlong)
    }

    /// `scv2_client_session_sealed_len` (0: overflow or too long for a Java array).
    Native fn clientSessionSealedLen(session: Handle<scv2_client_session>, body_len: Int) -> Int |env| {
        let n = usize::try_from(body_len).map_err(|_| Fail::Status(scv2::Error::InvalidArgument))?;
        Ok(jint_or_zero(bridge::client_session_sealed_len(session, n)))
    }

    /// Seal a request into the caller's `out` (`outLen`: `out.size`): returns
    /// `seq shl 32 or envelopeLen` (`scv2_client_seal_request`).
    Native fn clientSealRequest(
        session: Handle<scv2_client_session>,
        ctx: Bytes,
        body: Bytes,
        now_ms: Long,
        out: Bytes,
        out_len: Int,
    ) -> Long |env| {
        let mut call = env.call(ctx, body, out, out_len)?;
        let (ctx, body, out) = call.split();
        let (n, seq) = bridge::client_seal_request(session, ctx, body, now_ms as u64, out)?;
        call.finish(n)?;
        pack(seq, n)
    }

    /// Open the response to request `seq` into the caller's `out` (`outLen`: `out.size`):
    /// returns the body length (`scv2_client_open_response`).
    Native fn clientOpenResponse(
        session: Handle<scv2_client_session>,
        seq: Long,
        ctx: Bytes,
        envelope: Bytes,
        out: Bytes,
        out_len: Int,
    ) -> Int |env| {
        let mut call = env.call(ctx, envelope, out, out_len)?;
        let (ctx, envelope, out) = call.split();
        let n = bridge::client_open_response(session, seq as u64, ctx, envelope, out)?;
        call.finish(n)?;
        jni_sys::jint::try_from(n).map_err(|_| Fail::Status(scv2::Error::Internal))
    }

    /// Forget request `seq` (no type-129 answer will be opened for it)
    /// (`scv2_client_forget_request`).
    Native fn clientForgetRequest(session: Handle<scv2_client_session>, seq: Long) |env| {
        Ok(bridge::client_forget_request(session, seq as u64)?)
    }

    /// `scv2_client_session_free`.
    Native fn clientSessionFree(session: Owned<scv2_client_session>) |env| {
        if let Some(s) = session {
            bridge::client_session_free(*s);
        }
        Ok(())
    }

    // ---- Server

    /// A new key set (`scv2_server_new`).
    Native fn serverNew(padding_block: Long, replay_window: Int) -> Long |env| {
        let window = u32::try_from(replay_window).map_err(|_| Fail::Status(scv2::Error::InvalidArgument))?;
        let server = bridge::server_new(size(padding_block)?, window)?;
        Ok(into_handle(server))
    }

    /// `scv2_server_add_key`.
    Native fn serverAddKey(
        server: Handle<scv2_server>,
        key_id: Bytes,
        private_key: Bytes,
        created_at_ms: Long,
        expires_at_ms: Long,
    ) |env| {
        let (key_id, private_key) = (env.bytes_in(key_id)?, env.bytes_in(private_key)?);
        Ok(bridge::server_add_key(server, &key_id, &private_key, created_at_ms as u64, expires_at_ms as u64)?)
    }

    /// `scv2_server_generate_key`.
    Native fn serverGenerateKey(server: Handle<scv2_server>, key_id: Bytes, created_at_ms: Long, expires_at_ms: Long) |env| {
        let key_id = env.bytes_in(key_id)?;
        Ok(bridge::server_generate_key(server, &key_id, created_at_ms as u64, expires_at_ms as u64)?)
    }

    /// `scv2_server_add_suite_key` (the private form: 32 bytes, or 96 for the hybrid suite).
    Native fn serverAddSuiteKey(
        server: Handle<scv2_server>,
        suite: Int,
        key_id: Bytes,
        private_key: Bytes,
        created_at_ms: Long,
        expires_at_ms: Long,
    ) |env| {
        let (key_id, private_key) = (env.bytes_in(key_id)?, env.bytes_in(private_key)?);
        let (created, expires) = (created_at_ms as u64, expires_at_ms as u64);
        let suite = suite_id(suite);
        Ok(bridge::server_add_suite_key(server, suite, &key_id, &private_key, created, expires)?)
    }

    /// `scv2_server_generate_suite_key`.
    Native fn serverGenerateSuiteKey(
        server: Handle<scv2_server>,
        suite: Int,
        key_id: Bytes,
        created_at_ms: Long,
        expires_at_ms: Long,
    ) |env| {
        let key_id = env.bytes_in(key_id)?;
        let (created, expires) = (created_at_ms as u64, expires_at_ms as u64);
        Ok(bridge::server_generate_suite_key(server, suite_id(suite), &key_id, created, expires)?)
    }

    /// The suite id of the key `keyId` (`scv2_server_key_suite`).
    Native fn serverKeySuite(server: Handle<scv2_server>, key_id: Bytes) -> Int |env| {
        let key_id = env.bytes_in(key_id)?;
        let suite = bridge::server_key_suite(server, &key_id)?;
        jni_sys::jint::try_from(suite).map_err(|_| Fail::Status(scv2::Error::Internal))
    }

    /// `scv2_server_remove_key`.
    Native fn serverRemoveKey(server: Handle<scv2_server>, key_id: Bytes) |env| {
        let key_id = env.bytes_in(key_id)?;
        Ok(bridge::server_remove_key(server, &key_id)?)
    }

    /// The raw public key of `keyId` (`scv2_server_public_key`).
    Native fn serverPublicKey(server: Handle<scv2_server>, key_id: Bytes) -> Bytes |env| {
        let key_id = env.bytes_in(key_id)?;
        let mut out = env.new_output();
        bridge::server_public_key(server, &key_id, &mut out)?;
        out.finish()
    }

    /// `scv2_server_free`.
    Native fn serverFree(server: Owned<scv2_server>) |env| {
        drop(server);
        Ok(())
    }

    /// Accept a type 1: returns the accepted handshake's handle (`scv2_server_accept`).
    Native fn serverAccept(server: Handle<scv2_server>, envelope: Bytes, now_ms: Long) -> Long |env| {
        let mut pins = env.pin(core::ptr::null_mut(), [envelope], core::ptr::null_mut())?;
        let (_, [envelope], _) = pins.split();
        let hs = bridge::server_accept(server, envelope, now_ms as u64);
        drop(pins);
        Ok(into_handle(hs?))
    }

    /// `scv2_server_handshake_payload`.
    Native fn serverHandshakePayload(handshake: Handle<scv2_server_handshake>) -> Bytes |env| {
        let mut out = env.new_output();
        bridge::server_handshake_payload(handshake, &mut out)?;
        out.finish()
    }

    /// `scv2_server_handshake_key_id`.
    Native fn serverHandshakeKeyId(handshake: Handle<scv2_server_handshake>) -> Bytes |env| {
        let mut out = env.new_output();
        bridge::server_handshake_key_id(handshake, &mut out)?;
        out.finish()
    }

    /// Respond: returns the type-130 envelope; the session handle goes to `outSession[0]`.
    /// `sessionId` null: the library generates one (`scv2_server_handshake_respond`).
    Native fn serverHandshakeRespond(
        handshake: Handle<scv2_server_handshake>,
        session_id: BytesOrNull,
        expires_at_ms: Long,
        app_payload: Bytes,
        out_session: Longs,
    ) -> Bytes |env| {
        let (sid, app) = (env.copy_in(session_id)?, env.bytes_in(app_payload)?);
        let mut out = env.new_output();
        let sid = sid.as_deref().map(Vec::as_slice).filter(|s| !s.is_empty());
        let (session, _) =
            bridge::server_handshake_respond(handshake, sid, expires_at_ms as u64, &app, &mut out)?;
        let envelope = out.finish()?;
        env.publish(out_session, session)?;
        Ok(envelope)
    }

    /// `scv2_server_handshake_free`.
    Native fn serverHandshakeFree(handshake: Owned<scv2_server_handshake>) |env| {
        drop(handshake);
        Ok(())
    }

    // ---- Server session

    /// `scv2_server_session_id`.
    Native fn serverSessionId(session: Handle<scv2_server_session>) -> Bytes |env| {
        let mut out = env.new_output();
        bridge::server_session_id(session, &mut out)?;
        out.finish()
    }

    /// `scv2_server_session_expires_at_ms`.
    Native fn serverSessionExpiresAtMs(session: Handle<scv2_server_session>) -> Long |env| {
        Ok(bridge::server_session_expires_at_ms(session) as jni_sys::jlong)
    }

    /// `scv2_server_session_sealed_len` (0: overflow or too long for a Java array).
    Native fn serverSessionSealedLen(session: Handle<scv2_server_session>, body_len: Int) -> Int |env| {
        let n = usize::try_from(body_len).map_err(|_| Fail::Status(scv2::Error::InvalidArgument))?;
        Ok(jint_or_zero(bridge::server_session_sealed_len(session, n)))
    }

    /// Open a request into the caller's `out` (`outLen`: `out.size`): returns
    /// `seq shl 32 or bodyLen` (`scv2_server_open_request`).
    Native fn serverOpenRequest(
        session: Handle<scv2_server_session>,
        ctx: Bytes,
        envelope: Bytes,
        now_ms: Long,
        out: Bytes,
        out_len: Int,
    ) -> Long |env| {
        let mut call = env.call(ctx, envelope, out, out_len)?;
        let (ctx, envelope, out) = call.split();
        let (n, seq) = bridge::server_open_request(session, ctx, envelope, now_ms as u64, out)?;
        call.finish(n)?;
        pack(seq, n)
    }

    /// Seal the response to request `seq` into the caller's `out` (`outLen`: `out.size`):
    /// returns the envelope length (`scv2_server_seal_response`).
    Native fn serverSealResponse(
        session: Handle<scv2_server_session>,
        seq: Long,
        ctx: Bytes,
        body: Bytes,
        out: Bytes,
        out_len: Int,
    ) -> Int |env| {
        let mut call = env.call(ctx, body, out, out_len)?;
        let (ctx, body, out) = call.split();
        let n = bridge::server_seal_response(session, seq as u64, ctx, body, out)?;
        call.finish(n)?;
        jni_sys::jint::try_from(n).map_err(|_| Fail::Status(scv2::Error::Internal))
    }

    /// Forget request `seq` without answering it (`scv2_server_forget_request`).
    Native fn serverForgetRequest(session: Handle<scv2_server_session>, seq: Long) |env| {
        Ok(bridge::server_forget_request(session, seq as u64)?)
    }

    /// `scv2_server_session_free`.
    Native fn serverSessionFree(session: Owned<scv2_server_session>) |env| {
        if let Some(s) = session {
            bridge::server_session_free(*s);
        }
        Ok(())
    }

    // ---- Test-only entry points (feature `test-vectors`), declared by the Kotlin tests

    /// `clientHandshakeStart` with a fixed ephemeral key and `iv1`.
    #[cfg(feature = "test-vectors")]
    TestVectorsNative fn clientHandshakeStart(
        config: Handle<scv2_client_config>,
        key_id: Bytes,
        payload: Bytes,
        ephemeral_private: Bytes,
        iv1: Bytes,
        out_handle: Longs,
    ) -> Bytes |env| {
        let (key_id, payload) = (env.bytes_in(key_id)?, env.bytes_in(payload)?);
        let (e, iv1) = (env.bytes_in(ephemeral_private)?, env.bytes_in(iv1)?);
        let mut out = env.new_output();
        let (hs, _) = bridge::client_handshake_start_for_test_vectors(
            config, &key_id, &payload, &e, &iv1, &mut out,
        )?;
        let envelope = out.finish()?;
        env.publish(out_handle, hs)?;
        Ok(envelope)
    }

    /// `clientHandshakeStart` for a hybrid pin with every input fixed: `e`, the 64-byte ML-KEM
    /// seed, `m1` and `iv1`.
    #[cfg(feature = "test-vectors")]
    TestVectorsNative fn clientHandshakeStartHybrid(
        config: Handle<scv2_client_config>,
        key_id: Bytes,
        payload: Bytes,
        ephemeral_private: Bytes,
        mlkem_seed: Bytes,
        encaps_randomness: Bytes,
        iv1: Bytes,
        out_handle: Longs,
    ) -> Bytes |env| {
        let (key_id, payload) = (env.bytes_in(key_id)?, env.bytes_in(payload)?);
        let (e, seed) = (env.bytes_in(ephemeral_private)?, env.bytes_in(mlkem_seed)?);
        let (m1, iv1) = (env.bytes_in(encaps_randomness)?, env.bytes_in(iv1)?);
        let mut out = env.new_output();
        let (hs, _) = bridge::client_handshake_start_hybrid_for_test_vectors(
            config, &key_id, &payload, &e, &seed, &m1, &iv1, &mut out,
        )?;
        let envelope = out.finish()?;
        env.publish(out_handle, hs)?;
        Ok(envelope)
    }

    /// `serverHandshakeRespond` with a fixed ephemeral key.
    #[cfg(feature = "test-vectors")]
    TestVectorsNative fn serverHandshakeRespond(
        handshake: Handle<scv2_server_handshake>,
        session_id: Bytes,
        expires_at_ms: Long,
        app_payload: Bytes,
        ephemeral_private: Bytes,
        out_session: Longs,
    ) -> Bytes |env| {
        let (sid, app) = (env.bytes_in(session_id)?, env.bytes_in(app_payload)?);
        let e = env.bytes_in(ephemeral_private)?;
        let mut out = env.new_output();
        let (session, _) = bridge::server_handshake_respond_for_test_vectors(
            handshake, &sid, expires_at_ms as u64, &app, &e, &mut out,
        )?;
        let envelope = out.finish()?;
        env.publish(out_session, session)?;
        Ok(envelope)
    }

    /// Panic inside the boundary: the test checks that it arrives as `Scv2Exception(255)`.
    #[cfg(feature = "test-vectors")]
    TestVectorsNative fn panicInsideBoundary() -> Int |env| {
        #[allow(clippy::panic)]
        if std::hint::black_box(true) {
            panic!("deliberate panic inside the JNI boundary");
        }
        Ok(0)
    }
}
