package io.scv2

import java.util.concurrent.atomic.AtomicLong

/**
 * The native methods (ffi/src/natives.rs). Each is a thin shell over one function of the Rust
 * bridge, the same function the C ABI calls; a failure is thrown as [Scv2Exception]. Handles are
 * the Rust objects' addresses as `Long`s. The declarations below are generated from the Rust table.
 * Keep this class and its native methods in minified builds (proguard-rules.pro).
 */
internal object Native {
    init {
        System.loadLibrary("scv2")
    }

    // BEGIN GENERATED from the JNI table ffi/src/natives.rs (scripts/gen-header.sh); do not edit.

    /** `scv2_max_open_len` (0: envelope too short, or too long for a Java array). */
    @JvmStatic external fun maxOpenLen(envelopeLen: Int): Int

    /**
     * Bytes of a type 1 of suite `suite` (0: unknown suite, arguments out of range, or too long for
     * a Java array) (`scv2_suite_type1_len`).
     */
    @JvmStatic external fun suiteType1Len(
        suite: Int, keyIdLen: Int, payloadLen: Int, paddingBlock: Int
    ): Int

    /**
     * Bytes of a type 130 of suite `suite` (0: unknown suite, arguments out of range, or too long
     * for a Java array) (`scv2_suite_type130_len`).
     */
    @JvmStatic external fun suiteType130Len(
        suite: Int, sessionIdLen: Int, appPayloadLen: Int, paddingBlock: Int
    ): Int

    /**
     * Bytes of a raw public key of suite `suite` (0: unknown suite) (`scv2_suite_public_key_len`).
     */
    @JvmStatic external fun suitePublicKeyLen(suite: Int): Int

    /**
     * Bytes of a private key of suite `suite` (0: unknown suite) (`scv2_suite_private_key_len`).
     */
    @JvmStatic external fun suitePrivateKeyLen(suite: Int): Int

    /** A new client configuration (`scv2_client_config_new`). */
    @JvmStatic external fun clientConfigNew(): Long

    /** Pin a raw 32-byte X25519 key (`scv2_client_config_pin`). */
    @JvmStatic external fun clientConfigPin(config: Long, keyId: ByteArray, publicKey: ByteArray)

    /** Pin the document's `publicKey` (`scv2_client_config_pin_spki_base64`). */
    @JvmStatic external fun clientConfigPinSpkiBase64(
        config: Long, keyId: ByteArray, spki: ByteArray
    )

    /** Pin a raw public key of suite `suite` (`scv2_client_config_pin_suite`). */
    @JvmStatic external fun clientConfigPinSuite(
        config: Long, suite: Int, keyId: ByteArray, publicKey: ByteArray
    )

    /**
     * Pin a key of suite `suite` given as the document's `publicKey`
     * (`scv2_client_config_pin_public_key_base64`).
     */
    @JvmStatic external fun clientConfigPinPublicKeyBase64(
        config: Long, suite: Int, keyId: ByteArray, publicKeyBase64: ByteArray
    )

    /** `scv2_client_config_set_padding_block`. */
    @JvmStatic external fun clientConfigSetPaddingBlock(config: Long, paddingBlock: Long)

    /** `scv2_client_config_free`. */
    @JvmStatic external fun clientConfigFree(config: Long)

    /**
     * Start a handshake: returns the type-1 envelope; the handshake handle goes to `outHandle[0]`
     * (`scv2_client_handshake_start`).
     */
    @JvmStatic external fun clientHandshakeStart(
        config: Long, keyId: ByteArray, payload: ByteArray, outHandle: LongArray
    ): ByteArray

    /** Finish a handshake: returns the session handle (`scv2_client_handshake_finish`). */
    @JvmStatic external fun clientHandshakeFinish(
        handshake: Long, envelope: ByteArray, nowMs: Long
    ): Long

    /** `scv2_client_handshake_free`. */
    @JvmStatic external fun clientHandshakeFree(handshake: Long)

    /** The session id (`scv2_client_session_id`). */
    @JvmStatic external fun clientSessionId(session: Long): ByteArray

    /** The server application's payload (`scv2_client_session_app_payload`). */
    @JvmStatic external fun clientSessionAppPayload(session: Long): ByteArray

    /** `scv2_client_session_expires_at_ms`. */
    @JvmStatic external fun clientSessionExpiresAtMs(session: Long): Long

    /** `scv2_client_session_sealed_len` (0: overflow or too long for a Java array). */
    @JvmStatic external fun clientSessionSealedLen(session: Long, bodyLen: Int): Int

    /**
     * Seal a request into the caller's `out` (`outLen`: `out.size`): returns `seq shl 32 or
     * envelopeLen` (`scv2_client_seal_request`).
     */
    @JvmStatic external fun clientSealRequest(
        session: Long, ctx: ByteArray, body: ByteArray, nowMs: Long, out: ByteArray, outLen: Int
    ): Long

    /**
     * Open the response to request `seq` into the caller's `out` (`outLen`: `out.size`): returns
     * the body length (`scv2_client_open_response`).
     */
    @JvmStatic external fun clientOpenResponse(
        session: Long, seq: Long, ctx: ByteArray, envelope: ByteArray, out: ByteArray, outLen: Int
    ): Int

    /**
     * Forget request `seq` (no type-129 answer will be opened for it)
     * (`scv2_client_forget_request`).
     */
    @JvmStatic external fun clientForgetRequest(session: Long, seq: Long)

    /** `scv2_client_session_free`. */
    @JvmStatic external fun clientSessionFree(session: Long)

    /** A new key set (`scv2_server_new`). */
    @JvmStatic external fun serverNew(paddingBlock: Long, replayWindow: Int): Long

    /** `scv2_server_add_key`. */
    @JvmStatic external fun serverAddKey(
        server: Long, keyId: ByteArray, privateKey: ByteArray, createdAtMs: Long, expiresAtMs: Long
    )

    /** `scv2_server_generate_key`. */
    @JvmStatic external fun serverGenerateKey(
        server: Long, keyId: ByteArray, createdAtMs: Long, expiresAtMs: Long
    )

    /** `scv2_server_add_suite_key` (the private form: 32 bytes, or 96 for the hybrid suite). */
    @JvmStatic external fun serverAddSuiteKey(
        server: Long, suite: Int, keyId: ByteArray, privateKey: ByteArray, createdAtMs: Long, expiresAtMs: Long
    )

    /** `scv2_server_generate_suite_key`. */
    @JvmStatic external fun serverGenerateSuiteKey(
        server: Long, suite: Int, keyId: ByteArray, createdAtMs: Long, expiresAtMs: Long
    )

    /** The suite id of the key `keyId` (`scv2_server_key_suite`). */
    @JvmStatic external fun serverKeySuite(server: Long, keyId: ByteArray): Int

    /** `scv2_server_remove_key`. */
    @JvmStatic external fun serverRemoveKey(server: Long, keyId: ByteArray)

    /** The raw public key of `keyId` (`scv2_server_public_key`). */
    @JvmStatic external fun serverPublicKey(server: Long, keyId: ByteArray): ByteArray

    /** `scv2_server_free`. */
    @JvmStatic external fun serverFree(server: Long)

    /** Accept a type 1: returns the accepted handshake's handle (`scv2_server_accept`). */
    @JvmStatic external fun serverAccept(server: Long, envelope: ByteArray, nowMs: Long): Long

    /** `scv2_server_handshake_payload`. */
    @JvmStatic external fun serverHandshakePayload(handshake: Long): ByteArray

    /** `scv2_server_handshake_key_id`. */
    @JvmStatic external fun serverHandshakeKeyId(handshake: Long): ByteArray

    /**
     * Respond: returns the type-130 envelope; the session handle goes to `outSession[0]`.
     * `sessionId` null: the library generates one (`scv2_server_handshake_respond`).
     */
    @JvmStatic external fun serverHandshakeRespond(
        handshake: Long, sessionId: ByteArray?, expiresAtMs: Long, appPayload: ByteArray, outSession: LongArray
    ): ByteArray

    /** `scv2_server_handshake_free`. */
    @JvmStatic external fun serverHandshakeFree(handshake: Long)

    /** `scv2_server_session_id`. */
    @JvmStatic external fun serverSessionId(session: Long): ByteArray

    /** `scv2_server_session_expires_at_ms`. */
    @JvmStatic external fun serverSessionExpiresAtMs(session: Long): Long

    /** `scv2_server_session_sealed_len` (0: overflow or too long for a Java array). */
    @JvmStatic external fun serverSessionSealedLen(session: Long, bodyLen: Int): Int

    /**
     * Open a request into the caller's `out` (`outLen`: `out.size`): returns `seq shl 32 or
     * bodyLen` (`scv2_server_open_request`).
     */
    @JvmStatic external fun serverOpenRequest(
        session: Long, ctx: ByteArray, envelope: ByteArray, nowMs: Long, out: ByteArray, outLen: Int
    ): Long

    /**
     * Seal the response to request `seq` into the caller's `out` (`outLen`: `out.size`): returns
     * the envelope length (`scv2_server_seal_response`).
     */
    @JvmStatic external fun serverSealResponse(
        session: Long, seq: Long, ctx: ByteArray, body: ByteArray, out: ByteArray, outLen: Int
    ): Int

    /** Forget request `seq` without answering it (`scv2_server_forget_request`). */
    @JvmStatic external fun serverForgetRequest(session: Long, seq: Long)

    /** `scv2_server_session_free`. */
    @JvmStatic external fun serverSessionFree(session: Long)
    // END GENERATED
}

/**
 * Owns one native handle. Every call holds it (a count of calls in flight, so several threads may
 * use a session at once, as the native side allows); [close] marks it closed at once (later calls
 * throw [IllegalStateException]), waits for the calls in flight, then runs `free` exactly once.
 * Holding it costs one atomic increment and one decrement (no lock, no thread-local bookkeeping).
 */
internal class NativeHandle(handle: Long, private val what: String, private val free: (Long) -> Unit) {
    /** Bit 62: closed; the bits below: calls in flight. */
    private val state = AtomicLong(0L)
    private val handle: Long = handle

    /** The live handle, held: pair every call with [release]. */
    fun acquire(): Long {
        while (true) {
            val s = state.get()
            if (s and CLOSED != 0L) throw IllegalStateException("$what is closed")
            if (state.compareAndSet(s, s + 1)) return handle
        }
    }

    fun release() {
        state.decrementAndGet()
    }

    val isClosed: Boolean get() = state.get() and CLOSED != 0L

    /** Free the handle (zeroizing its secrets) once, after the calls in flight; later calls do nothing. */
    fun close() {
        while (true) {
            val s = state.get()
            if (s and CLOSED != 0L) return
            if (state.compareAndSet(s, s or CLOSED)) break
        }
        // Calls in flight finish (they are short: a seal or an open); new ones are refused.
        var spins = 0
        while (state.get() != CLOSED) {
            if (++spins < 100) Thread.yield() else Thread.sleep(1)
        }
        if (handle != 0L) free(handle)
    }

    private companion object {
        const val CLOSED = 1L shl 62
    }
}

internal fun ascii(s: String): ByteArray = s.toByteArray(Charsets.UTF_8)

internal fun unpackHigh(v: Long): Long = v ushr 32

internal fun unpackLow(v: Long): Int = (v and 0xFFFFFFFFL).toInt()

internal val EMPTY = ByteArray(0)
