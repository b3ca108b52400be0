package io.scv2

import java.util.concurrent.locks.ReentrantReadWriteLock

/**
 * The native methods (src/ffi/jni.rs). Each is a thin shim over one C ABI function; a non-OK
 * status is thrown as [Scv2Exception]. Handles are the C pointers as `Long`s.
 * Keep this class and its native methods in minified builds (proguard-rules.pro).
 */
internal object Native {
    init {
        System.loadLibrary("scv2")
    }

    @JvmStatic external fun maxOpenLen(envelopeLen: Int): Int

    @JvmStatic external fun clientConfigNew(): Long
    @JvmStatic external fun clientConfigPin(config: Long, keyId: ByteArray, publicKey: ByteArray)
    @JvmStatic external fun clientConfigPinSpkiBase64(config: Long, keyId: ByteArray, spki: ByteArray)
    @JvmStatic external fun clientConfigSetPaddingBlock(config: Long, paddingBlock: Long)
    @JvmStatic external fun clientConfigFree(config: Long)

    @JvmStatic external fun clientHandshakeStart(
        config: Long, keyId: ByteArray, payload: ByteArray, outHandle: LongArray
    ): ByteArray
    @JvmStatic external fun clientHandshakeFinish(handshake: Long, envelope: ByteArray, nowMs: Long): Long
    @JvmStatic external fun clientHandshakeFree(handshake: Long)

    @JvmStatic external fun clientSessionId(session: Long): ByteArray
    @JvmStatic external fun clientSessionAppPayload(session: Long): ByteArray
    @JvmStatic external fun clientSessionExpiresAtMs(session: Long): Long
    @JvmStatic external fun clientSessionSealedLen(session: Long, bodyLen: Int): Int
    /** Returns `seq shl 32 or envelopeLen`. */
    @JvmStatic external fun clientSealRequest(
        session: Long, ctx: ByteArray, body: ByteArray, nowMs: Long, out: ByteArray
    ): Long
    /** Returns the body length. */
    @JvmStatic external fun clientOpenResponse(
        session: Long, seq: Long, ctx: ByteArray, envelope: ByteArray, out: ByteArray
    ): Int
    @JvmStatic external fun clientSessionFree(session: Long)

    @JvmStatic external fun serverNew(paddingBlock: Long, replayWindow: Int): Long
    @JvmStatic external fun serverAddKey(
        server: Long, keyId: ByteArray, privateKey: ByteArray, createdAtMs: Long, expiresAtMs: Long
    )
    @JvmStatic external fun serverGenerateKey(server: Long, keyId: ByteArray, createdAtMs: Long, expiresAtMs: Long)
    @JvmStatic external fun serverRemoveKey(server: Long, keyId: ByteArray)
    @JvmStatic external fun serverPublicKey(server: Long, keyId: ByteArray): ByteArray
    @JvmStatic external fun serverFree(server: Long)
    @JvmStatic external fun serverAccept(server: Long, envelope: ByteArray, nowMs: Long): Long

    @JvmStatic external fun serverHandshakePayload(handshake: Long): ByteArray
    @JvmStatic external fun serverHandshakeKeyId(handshake: Long): ByteArray
    @JvmStatic external fun serverHandshakeRespond(
        handshake: Long, sessionId: ByteArray?, expiresAtMs: Long, appPayload: ByteArray, outSession: LongArray
    ): ByteArray
    @JvmStatic external fun serverHandshakeFree(handshake: Long)

    @JvmStatic external fun serverSessionId(session: Long): ByteArray
    @JvmStatic external fun serverSessionExpiresAtMs(session: Long): Long
    @JvmStatic external fun serverSessionSealedLen(session: Long, bodyLen: Int): Int
    /** Returns `seq shl 32 or bodyLen`. */
    @JvmStatic external fun serverOpenRequest(
        session: Long, ctx: ByteArray, envelope: ByteArray, nowMs: Long, out: ByteArray
    ): Long
    /** Returns the envelope length. */
    @JvmStatic external fun serverSealResponse(
        session: Long, seq: Long, ctx: ByteArray, body: ByteArray, out: ByteArray
    ): Int
    @JvmStatic external fun serverSessionFree(session: Long)

    /**
     * Benchmark baseline: nanoseconds for [iterations] exchanges timed inside Rust, through the
     * Rust core API ([cAbi] false) or the C ABI functions the JNI shims call ([cAbi] true).
     */
    @JvmStatic external fun rustBaselineNanos(bodyLen: Int, iterations: Int, cAbi: Boolean): Long
}

/**
 * Owns one native handle. Calls take the read lock (so several threads may use a session at
 * once, as the C ABI allows); [close] takes the write lock, so the `_free` function never races
 * with a call in flight, and runs once. Use after close throws [IllegalStateException].
 */
internal class NativeHandle(handle: Long, private val what: String, private val free: (Long) -> Unit) {
    private val lock = ReentrantReadWriteLock()
    @Volatile private var handle: Long = handle

    /** The live handle, with the read lock held: pair every call with [release]. */
    fun acquire(): Long {
        val l = lock.readLock()
        l.lock()
        val h = handle
        if (h == 0L) {
            l.unlock()
            throw IllegalStateException("$what is closed")
        }
        return h
    }

    fun release() {
        lock.readLock().unlock()
    }

    val isClosed: Boolean get() = handle == 0L

    /** Free the handle (zeroizing its secrets) once; later calls do nothing. */
    fun close() {
        val l = lock.writeLock()
        l.lock()
        try {
            val h = handle
            if (h != 0L) {
                handle = 0L
                free(h)
            }
        } finally {
            l.unlock()
        }
    }

    /** Forget the handle without freeing it (ownership moved elsewhere). */
    fun forget() {
        val l = lock.writeLock()
        l.lock()
        try {
            handle = 0L
        } finally {
            l.unlock()
        }
    }
}

internal fun ascii(s: String): ByteArray = s.toByteArray(Charsets.UTF_8)

internal fun unpackHigh(v: Long): Long = v ushr 32

internal fun unpackLow(v: Long): Int = (v and 0xFFFFFFFFL).toInt()

internal val EMPTY = ByteArray(0)
