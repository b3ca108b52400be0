package io.scv2

/**
 * A client configuration: the pinned server keys and the padding block (default 64).
 *
 * Thread safety: safe to share; configure it before sharing for clarity. [close] frees it
 * (handshakes already started are not affected); using it afterwards throws
 * [IllegalStateException].
 */
class ClientConfig : AutoCloseable {
    internal val handle = NativeHandle(Native.clientConfigNew(), "ClientConfig") { Native.clientConfigFree(it) }

    /**
     * Pin a server key of the X25519 suite: [keyId] (1..255 printable ASCII) and its raw 32-byte
     * X25519 public key (see the overload with a [Suite] for the hybrid suite).
     */
    fun pin(keyId: String, publicKey: ByteArray): ClientConfig {
        val h = handle.acquire()
        try {
            Native.clientConfigPin(h, ascii(keyId), publicKey)
        } finally {
            handle.release()
        }
        return this
    }

    /** Pin a server key given as the public-key document's `publicKey` (base64 of the SPKI). */
    fun pinSpkiBase64(keyId: String, spkiBase64: String): ClientConfig {
        val h = handle.acquire()
        try {
            Native.clientConfigPinSpkiBase64(h, ascii(keyId), ascii(spkiBase64))
        } finally {
            handle.release()
        }
        return this
    }

    /**
     * Pin a server key of [suite]: [keyId] and its raw public key ([Suite.publicKeyLen] bytes:
     * the 32 bytes `S`, or for [Suite.X25519MLKEM768] the 1216 bytes `ek_s || S`). The handshake
     * with [keyId] then runs in [suite]. Throws [Scv2Exception] with [Status.INVALID_PUBLIC_KEY]
     * for a key that is not of the suite (wrong length, an `ek_s` failing FIPS 203's check).
     */
    fun pin(keyId: String, suite: Suite, publicKey: ByteArray): ClientConfig {
        val h = handle.acquire()
        try {
            Native.clientConfigPinSuite(h, suite.id, ascii(keyId), publicKey)
        } finally {
            handle.release()
        }
        return this
    }

    /**
     * Pin a server key of [suite] given as the public-key document's `publicKey` (base64 of the
     * SPKI for [Suite.X25519], standard base64 of the 1216 bytes for [Suite.X25519MLKEM768]).
     */
    fun pinPublicKeyBase64(keyId: String, suite: Suite, publicKeyBase64: String): ClientConfig {
        val h = handle.acquire()
        try {
            Native.clientConfigPinPublicKeyBase64(h, suite.id, ascii(keyId), ascii(publicKeyBase64))
        } finally {
            handle.release()
        }
        return this
    }

    /**
     * Pin a key in its document form, as an app ships it: [keyId], [algorithm] (the suite's name,
     * for example "X25519MLKEM768-HKDF-SHA256-AES-256-GCM") and [publicKeyBase64]. An
     * [algorithm] that names no suite throws [Scv2Exception] with [Status.INVALID_ARGUMENT].
     * These three values are the pin, fixed in the app: never take them from a document fetched
     * at run time.
     */
    fun pinDocument(keyId: String, algorithm: String, publicKeyBase64: String): ClientConfig {
        val suite = Suite.fromAlgorithm(algorithm) ?: throw Scv2Exception(Status.INVALID_ARGUMENT.code)
        return pinPublicKeyBase64(keyId, suite, publicKeyBase64)
    }

    /** Set the padding block (1..4096) of everything sessions started from this config send. */
    fun paddingBlock(block: Int): ClientConfig {
        val h = handle.acquire()
        try {
            Native.clientConfigSetPaddingBlock(h, block.toLong())
        } finally {
            handle.release()
        }
        return this
    }

    /** Free the configuration (idempotent). */
    override fun close() = handle.close()
}

/**
 * A client handshake in progress: [start] writes the type-1 [envelope] (the body of
 * `POST /web/v1/secure-channel/session`); [finish] consumes the handshake once, whatever its
 * outcome (a second call throws [Scv2Exception] with [Status.INVALID_STATE]).
 * [close] zeroizes the ephemeral secret; close it in every case.
 */
class ClientHandshake internal constructor(handle: Long, envelope: ByteArray) : AutoCloseable {
    internal val handle = NativeHandle(handle, "ClientHandshake") { Native.clientHandshakeFree(it) }
    private val type1 = envelope

    /** The type-1 envelope to send (a copy). */
    val envelope: ByteArray get() = type1.copyOf()

    /**
     * Finish with the server's type-130 envelope at time [nowMs] (ms since the Unix epoch):
     * the new session, owned by the caller.
     */
    @JvmOverloads
    fun finish(serverEnvelope: ByteArray, nowMs: Long = System.currentTimeMillis()): ClientSession {
        val h = handle.acquire()
        try {
            return ClientSession(Native.clientHandshakeFinish(h, serverEnvelope, nowMs))
        } finally {
            handle.release()
        }
    }

    override fun close() = handle.close()

    companion object {
        /**
         * Start a handshake with the pinned server key [keyId]. [payload] is protected by the
         * server's static key only (not forward-secret, replayable): no credentials in it.
         */
        @JvmStatic
        @JvmOverloads
        fun start(config: ClientConfig, keyId: String, payload: ByteArray = EMPTY): ClientHandshake {
            val out = LongArray(1)
            val c = config.handle.acquire()
            val envelope = try {
                Native.clientHandshakeStart(c, ascii(keyId), payload, out)
            } finally {
                config.handle.release()
            }
            return ClientHandshake(out[0], envelope)
        }
    }
}

/**
 * A request sealed by [ClientSession.sealRequest] and not yet answered: its sequence number is the
 * token that [ClientSession.openResponse] needs. A response is accepted once per request.
 */
class PendingRequest internal constructor(val seq: Long) {
    override fun toString(): String = "PendingRequest(seq=$seq)"
}

/** The result of [ClientSession.sealRequest]: `val (pending, envelope) = session.sealRequest(...)`. */
class SealedRequest internal constructor(val pending: PendingRequest, val envelope: ByteArray) {
    operator fun component1(): PendingRequest = pending
    operator fun component2(): ByteArray = envelope
}

/**
 * An established client session.
 *
 * Thread safety: every function may be called from several threads at once (sequence numbers are
 * allocated atomically). [close] waits for calls in flight, then frees and zeroizes the keys and
 * the outstanding request tokens; using the session afterwards throws [IllegalStateException].
 */
class ClientSession internal constructor(handle: Long) : AutoCloseable {
    internal val handle = NativeHandle(handle, "ClientSession") { Native.clientSessionFree(it) }

    /** The session id (send it as `X-SC-Session-Id`). */
    val sessionId: String = String(call { Native.clientSessionId(it) }, Charsets.UTF_8)

    /** The server application's payload from the type-130 message (a copy). */
    val appPayload: ByteArray get() = call { Native.clientSessionAppPayload(it) }

    /** The session's expiry, ms since the Unix epoch. */
    val expiresAtMs: Long get() = call { Native.clientSessionExpiresAtMs(it) }

    /** Bytes of the request envelope for a body of [bodyLen] bytes. */
    fun sealedLen(bodyLen: Int): Int = call { Native.clientSessionSealedLen(it, bodyLen) }

    /** Seal a request [body] bound to [ctx] (over HTTP: `METHOD SP path`). */
    @JvmOverloads
    fun sealRequest(ctx: String, body: ByteArray, nowMs: Long = System.currentTimeMillis()): SealedRequest =
        sealRequest(ascii(ctx), body, nowMs)

    /** Seal a request [body] bound to [ctx]; the envelope is written directly by Rust (no copy). */
    @JvmOverloads
    fun sealRequest(ctx: ByteArray, body: ByteArray, nowMs: Long = System.currentTimeMillis()): SealedRequest {
        val h = handle.acquire()
        try {
            val out = ByteArray(Native.clientSessionSealedLen(h, body.size))
            val r = Native.clientSealRequest(h, ctx, body, nowMs, out, out.size)
            return SealedRequest(PendingRequest(unpackHigh(r)), out)
        } finally {
            handle.release()
        }
    }

    /**
     * Seal into the caller's [out] (reusable; at least [sealedLen] of `body.size` bytes, else
     * [Status.BUFFER_TOO_SMALL]); the envelope is `out[0 until sealedLen(body.size)]`.
     */
    @JvmOverloads
    fun sealRequestInto(
        ctx: ByteArray,
        body: ByteArray,
        out: ByteArray,
        nowMs: Long = System.currentTimeMillis()
    ): PendingRequest {
        val h = handle.acquire()
        try {
            return PendingRequest(unpackHigh(Native.clientSealRequest(h, ctx, body, nowMs, out, out.size)))
        } finally {
            handle.release()
        }
    }

    /** Open the response to [pending]; [ctx] must be the request's. Returns the body. */
    fun openResponse(pending: PendingRequest, ctx: String, envelope: ByteArray): ByteArray =
        openResponse(pending, ascii(ctx), envelope)

    /**
     * Open the response to [pending]; [ctx] must be the request's. On success the request is
     * answered (a second call throws [Status.INVALID_STATE]). When [envelope] is not a type-129
     * envelope at all (a plaintext error such as an HTTP 401 or 429 body: [Status.MALFORMED_ENVELOPE],
     * [Status.UNSUPPORTED_VERSION], [Status.UNKNOWN_TYPE], [Status.PAYLOAD_TOO_LARGE]), the request
     * is forgotten ([forget]) and the exception thrown; after any other failure (a type 129 that
     * does not open) it stays outstanding and can be retried.
     */
    fun openResponse(pending: PendingRequest, ctx: ByteArray, envelope: ByteArray): ByteArray {
        val tmp = ByteArray(Native.maxOpenLen(envelope.size))
        try {
            val n = openResponseInto(pending, ctx, envelope, tmp)
            return if (n == tmp.size) tmp.copyOf() else tmp.copyOf(n)
        } finally {
            tmp.fill(0)
        }
    }

    /**
     * Open into the caller's [out] (at least [maxOpenLen] of `envelope.size` bytes, else
     * [Status.BUFFER_TOO_SMALL]); returns the body length (the body is `out[0 until n]`).
     */
    fun openResponseInto(pending: PendingRequest, ctx: ByteArray, envelope: ByteArray, out: ByteArray): Int {
        val h = handle.acquire()
        try {
            return Native.clientOpenResponse(h, pending.seq, ctx, envelope, out, out.size)
        } catch (e: Scv2Exception) {
            if (e.meansNotAResponse()) forgetHeld(h, pending)
            throw e
        } finally {
            handle.release()
        }
    }

    /**
     * Forget [pending]: its answer will never be opened (it was a plaintext error, it was lost,
     * the call was cancelled), and its place in the table of outstanding requests is free again.
     * Sequence numbers are never reused, so this is always safe. Returns whether the request was
     * still outstanding.
     */
    fun forget(pending: PendingRequest): Boolean = call { forgetHeld(it, pending) }

    private fun forgetHeld(h: Long, pending: PendingRequest): Boolean =
        try {
            Native.clientForgetRequest(h, pending.seq)
            true
        } catch (e: Scv2Exception) {
            if (e.status != Status.INVALID_STATE) throw e
            false
        }

    /**
     * One whole request: seal [body] for [ctx] (`METHOD SP path`), hand the envelope to [send]
     * (your HTTP call, returning the response body) and open the answer. If [send] throws (an I/O
     * error, a timeout, an interrupted or cancelled call) or the answer is not a type-129 envelope,
     * the request is forgotten, so that failed calls never fill the table of outstanding requests.
     */
    @JvmOverloads
    fun exchange(ctx: String, body: ByteArray, nowMs: Long = System.currentTimeMillis(), send: (ByteArray) -> ByteArray): ByteArray {
        val (pending, envelope) = sealRequest(ctx, body, nowMs)
        val answer = try {
            send(envelope)
        } catch (t: Throwable) {
            forget(pending)
            throw t
        }
        return openResponse(pending, ctx, answer)
    }

    /** Free the session (idempotent; waits for calls in flight). */
    override fun close() = handle.close()

    private inline fun <T> call(f: (Long) -> T): T {
        val h = handle.acquire()
        try {
            return f(h)
        } finally {
            handle.release()
        }
    }
}

/** The output capacity an open call needs for an envelope of [envelopeLen] bytes (0: too short). */
fun maxOpenLen(envelopeLen: Int): Int = Native.maxOpenLen(envelopeLen)
