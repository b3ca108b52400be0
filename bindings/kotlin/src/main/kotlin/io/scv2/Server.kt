package io.scv2

/**
 * A server key set: static keys (of either [Suite]) by key id, and the settings of the sessions it opens.
 * [paddingBlock] 1..4096 (0: default 64); [replayWindow] a multiple of 64 in 64..65536
 * (0: default 1024).
 *
 * Thread safety: [accept] may run on several threads at once, also while keys change. [close]
 * zeroizes every private key; sessions and handshakes created from it stay usable.
 */
class Server @JvmOverloads constructor(paddingBlock: Int = 0, replayWindow: Int = 0) : AutoCloseable {
    internal val handle = NativeHandle(
        Native.serverNew(paddingBlock.toLong(), replayWindow), "Server"
    ) { Native.serverFree(it) }

    /** Add a static key from its 32 private bytes (copied; wipe your copy). [expiresAtMs] 0: never. */
    @JvmOverloads
    fun addKey(keyId: String, privateKey: ByteArray, createdAtMs: Long = 0L, expiresAtMs: Long = 0L) {
        val h = handle.acquire()
        try {
            Native.serverAddKey(h, ascii(keyId), privateKey, createdAtMs, expiresAtMs)
        } finally {
            handle.release()
        }
    }

    /** Generate a static key with the OS RNG; read its public half with [publicKey]. */
    @JvmOverloads
    fun generateKey(keyId: String, createdAtMs: Long = System.currentTimeMillis(), expiresAtMs: Long = 0L) {
        val h = handle.acquire()
        try {
            Native.serverGenerateKey(h, ascii(keyId), createdAtMs, expiresAtMs)
        } finally {
            handle.release()
        }
    }

    /**
     * Add a static key of [suite] from its private form ([Suite.privateKeyLen] bytes: 32, or for
     * [Suite.X25519MLKEM768] the 96 bytes `s || d || z`; copied, wipe your copy). One server holds
     * keys of both suites. [expiresAtMs] 0: never.
     */
    @JvmOverloads
    fun addKey(keyId: String, suite: Suite, privateKey: ByteArray, createdAtMs: Long = 0L, expiresAtMs: Long = 0L) {
        val h = handle.acquire()
        try {
            Native.serverAddSuiteKey(h, suite.id, ascii(keyId), privateKey, createdAtMs, expiresAtMs)
        } finally {
            handle.release()
        }
    }

    /** Generate a static key of [suite] with the OS RNG; read its public half with [publicKey]. */
    @JvmOverloads
    fun generateKey(keyId: String, suite: Suite, createdAtMs: Long = System.currentTimeMillis(), expiresAtMs: Long = 0L) {
        val h = handle.acquire()
        try {
            Native.serverGenerateSuiteKey(h, suite.id, ascii(keyId), createdAtMs, expiresAtMs)
        } finally {
            handle.release()
        }
    }

    /** The suite of the key [keyId]; [Status.UNKNOWN_KEY_ID] if not held. */
    fun keySuite(keyId: String): Suite {
        val h = handle.acquire()
        val id = try {
            Native.serverKeySuite(h, ascii(keyId))
        } finally {
            handle.release()
        }
        return Suite.fromId(id) ?: throw Scv2Exception(Status.INTERNAL.code)
    }

    /** Remove (and zeroize) the key [keyId]; [Status.UNKNOWN_KEY_ID] if not held. */
    fun removeKey(keyId: String) {
        val h = handle.acquire()
        try {
            Native.serverRemoveKey(h, ascii(keyId))
        } finally {
            handle.release()
        }
    }

    /**
     * The raw public key of [keyId]: 32 bytes `S` for an X25519-suite key, 1216 bytes
     * `ek_s || S` for a hybrid one (the document's `publicKey` is its base64).
     */
    fun publicKey(keyId: String): ByteArray {
        val h = handle.acquire()
        try {
            return Native.serverPublicKey(h, ascii(keyId))
        } finally {
            handle.release()
        }
    }

    /** Accept a type-1 envelope at [nowMs]: answer it with [ServerHandshake.respond]. */
    @JvmOverloads
    fun accept(envelope: ByteArray, nowMs: Long = System.currentTimeMillis()): ServerHandshake {
        val h = handle.acquire()
        try {
            return ServerHandshake(Native.serverAccept(h, envelope, nowMs))
        } finally {
            handle.release()
        }
    }

    override fun close() = handle.close()
}

/** The result of [ServerHandshake.respond]: `val (session, envelope) = handshake.respond(...)`. */
class ServerResponse internal constructor(val session: ServerSession, val envelope: ByteArray) {
    operator fun component1(): ServerSession = session
    operator fun component2(): ByteArray = envelope
}

/**
 * A type-1 envelope the server accepted. [respond] runs once (later calls, and [payload] /
 * [keyId] afterwards, throw [Status.INVALID_STATE]). [close] zeroizes its secrets.
 */
class ServerHandshake internal constructor(handle: Long) : AutoCloseable {
    internal val handle = NativeHandle(handle, "ServerHandshake") { Native.serverHandshakeFree(it) }

    /** The client's type-1 payload (authenticated by the server key only, replayable). */
    val payload: ByteArray get() = call { Native.serverHandshakePayload(it) }

    /** The key id the client used. */
    val keyId: String get() = String(call { Native.serverHandshakeKeyId(it) }, Charsets.UTF_8)

    /**
     * Complete the handshake: the new session (owned by the caller) and the type-130 envelope to
     * send back. [sessionId] null: the library generates one (22 characters).
     */
    @JvmOverloads
    fun respond(expiresAtMs: Long, appPayload: ByteArray = EMPTY, sessionId: String? = null): ServerResponse {
        val out = LongArray(1)
        val sid = if (sessionId == null) null else ascii(sessionId)
        val envelope = call { Native.serverHandshakeRespond(it, sid, expiresAtMs, appPayload, out) }
        return ServerResponse(ServerSession(out[0]), envelope)
    }

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

/**
 * A request opened by [ServerSession.openRequest]: its sequence number [seq] (the token to answer
 * it exactly once) and its body, `body[0 until length]` ([ServerSession.openRequestInto] returns
 * the caller's array as [body]).
 */
class OpenedRequest internal constructor(val seq: Long, val body: ByteArray, val length: Int) {
    override fun toString(): String = "OpenedRequest(seq=$seq, length=$length)"
}

/**
 * An established server session.
 *
 * Thread safety: every function may be called from several threads at once (of two copies of
 * one request exactly one is accepted). [close] waits for calls in flight, then frees it; requests
 * still awaiting a response can no longer be answered.
 */
class ServerSession internal constructor(handle: Long) : AutoCloseable {
    internal val handle = NativeHandle(handle, "ServerSession") { Native.serverSessionFree(it) }

    /** The session id. */
    val sessionId: String = String(call { Native.serverSessionId(it) }, Charsets.UTF_8)

    /** The session's expiry, ms since the Unix epoch. */
    val expiresAtMs: Long get() = call { Native.serverSessionExpiresAtMs(it) }

    /** Bytes of the response envelope for a body of [bodyLen] bytes. */
    fun sealedLen(bodyLen: Int): Int = call { Native.serverSessionSealedLen(it, bodyLen) }

    /** Open a request at [nowMs]; [ctx] must be the client's. Answer failures in plaintext. */
    @JvmOverloads
    fun openRequest(ctx: String, envelope: ByteArray, nowMs: Long = System.currentTimeMillis()): OpenedRequest =
        openRequest(ascii(ctx), envelope, nowMs)

    /** Open a request at [nowMs]; [ctx] must be the client's. Answer failures in plaintext. */
    @JvmOverloads
    fun openRequest(ctx: ByteArray, envelope: ByteArray, nowMs: Long = System.currentTimeMillis()): OpenedRequest {
        val tmp = ByteArray(Native.maxOpenLen(envelope.size))
        try {
            val r = openRequestInto(ctx, envelope, tmp, nowMs)
            return OpenedRequest(r.seq, tmp.copyOf(r.length), r.length)
        } finally {
            tmp.fill(0)
        }
    }

    /** Open into the caller's [out] (at least [maxOpenLen] of `envelope.size` bytes). */
    @JvmOverloads
    fun openRequestInto(
        ctx: ByteArray,
        envelope: ByteArray,
        out: ByteArray,
        nowMs: Long = System.currentTimeMillis()
    ): OpenedRequest {
        val r = call { Native.serverOpenRequest(it, ctx, envelope, nowMs, out, out.size) }
        return OpenedRequest(unpackHigh(r), out, unpackLow(r))
    }

    /** Seal the response to [request] (once; a second time throws [Status.INVALID_STATE]). */
    fun sealResponse(request: OpenedRequest, ctx: String, body: ByteArray): ByteArray =
        sealResponse(request, ascii(ctx), body)

    /** Seal the response to [request] (once); the envelope is written directly by Rust. */
    fun sealResponse(request: OpenedRequest, ctx: ByteArray, body: ByteArray): ByteArray {
        val h = handle.acquire()
        try {
            val out = ByteArray(Native.serverSessionSealedLen(h, body.size))
            Native.serverSealResponse(h, request.seq, ctx, body, out, out.size)
            return out
        } finally {
            handle.release()
        }
    }

    /** Seal into the caller's [out]; returns the envelope length. */
    fun sealResponseInto(request: OpenedRequest, ctx: ByteArray, body: ByteArray, out: ByteArray): Int =
        call { Native.serverSealResponse(it, request.seq, ctx, body, out, out.size) }

    /**
     * Forget [request] without answering it (for example after answering it in plaintext): it can
     * never be answered, and its place in the table of requests awaiting a response is free again.
     * Returns whether it was still awaiting a response.
     */
    fun forget(request: OpenedRequest): Boolean = call {
        try {
            Native.serverForgetRequest(it, request.seq)
            true
        } catch (e: Scv2Exception) {
            if (e.status != Status.INVALID_STATE) throw e
            false
        }
    }

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
