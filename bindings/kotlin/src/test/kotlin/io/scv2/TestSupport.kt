package io.scv2

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.fail
import java.io.File

/** Test-only native entry points (Rust feature `test-vectors`; src/ffi/jni.rs). */
internal object TestVectorsNative {
    init {
        System.loadLibrary("scv2")
    }

    @JvmStatic external fun clientHandshakeStart(
        config: Long, keyId: ByteArray, payload: ByteArray, ephemeralPrivate: ByteArray, iv1: ByteArray,
        outHandle: LongArray
    ): ByteArray

    @JvmStatic external fun clientHandshakeStartHybrid(
        config: Long, keyId: ByteArray, payload: ByteArray, ephemeralPrivate: ByteArray, mlkemSeed: ByteArray,
        encapsRandomness: ByteArray, iv1: ByteArray, outHandle: LongArray
    ): ByteArray

    @JvmStatic external fun serverHandshakeRespond(
        handshake: Long, sessionId: ByteArray, expiresAtMs: Long, appPayload: ByteArray,
        ephemeralPrivate: ByteArray, outSession: LongArray
    ): ByteArray

    @JvmStatic external fun panicInsideBoundary(): Int

    fun start(config: ClientConfig, keyId: ByteArray, payload: ByteArray, eph: ByteArray, iv1: ByteArray): ClientHandshake {
        val out = LongArray(1)
        val c = config.handle.acquire()
        val envelope = try {
            clientHandshakeStart(c, keyId, payload, eph, iv1, out)
        } finally {
            config.handle.release()
        }
        return ClientHandshake(out[0], envelope)
    }

    fun startHybrid(
        config: ClientConfig, keyId: ByteArray, payload: ByteArray, eph: ByteArray, seed: ByteArray, m1: ByteArray,
        iv1: ByteArray
    ): ClientHandshake {
        val out = LongArray(1)
        val c = config.handle.acquire()
        val envelope = try {
            clientHandshakeStartHybrid(c, keyId, payload, eph, seed, m1, iv1, out)
        } finally {
            config.handle.release()
        }
        return ClientHandshake(out[0], envelope)
    }

    fun respond(hs: ServerHandshake, sessionId: ByteArray, expiresAtMs: Long, app: ByteArray, eph: ByteArray): ServerResponse {
        val out = LongArray(1)
        val h = hs.handle.acquire()
        val envelope = try {
            serverHandshakeRespond(h, sessionId, expiresAtMs, app, eph, out)
        } finally {
            hs.handle.release()
        }
        return ServerResponse(ServerSession(out[0]), envelope)
    }
}

/** Run [block]; it must throw [Scv2Exception] with [expected]. */
fun expectStatus(expected: Status, block: () -> Unit): Scv2Exception {
    try {
        block()
    } catch (e: Scv2Exception) {
        assertEquals(expected, e.status, "status of " + e.message)
        assertEquals(expected.code, e.code)
        return e
    }
    fail<Unit>("expected Scv2Exception($expected), nothing thrown")
    throw AssertionError()
}

fun hex(s: String): ByteArray {
    require(s.length % 2 == 0)
    return ByteArray(s.length / 2) { i -> s.substring(2 * i, 2 * i + 2).toInt(16).toByte() }
}

fun toHex(b: ByteArray): String {
    val sb = StringBuilder()
    for (x in b) sb.append(String.format("%02x", x.toInt() and 0xff))
    return sb.toString()
}

fun repoFile(property: String, fallback: String): File {
    val p = System.getProperty(property)
    val f = if (p != null) File(p) else File(fallback)
    require(f.exists()) { "missing " + f + " (set -D" + property + "=...)" }
    return f
}

/** A minimal JSON parser (objects, arrays, strings, integers, true/false/null): enough for the vectors. */
class Json(private val s: String) {
    private var i = 0

    fun parse(): Any? {
        val v = value()
        ws()
        require(i == s.length) { "trailing data at $i" }
        return v
    }

    private fun ws() {
        while (i < s.length && s[i].isWhitespace()) i++
    }

    private fun value(): Any? {
        ws()
        require(i < s.length) { "unexpected end" }
        return when (s[i]) {
            '{' -> obj()
            '[' -> arr()
            '"' -> str()
            't' -> { lit("true"); true }
            'f' -> { lit("false"); false }
            'n' -> { lit("null"); null }
            else -> num()
        }
    }

    private fun lit(w: String) {
        require(s.startsWith(w, i)) { "bad literal at $i" }
        i += w.length
    }

    private fun obj(): Map<String, Any?> {
        val m = LinkedHashMap<String, Any?>()
        i++
        ws()
        if (s[i] == '}') { i++; return m }
        while (true) {
            ws()
            val k = str()
            ws()
            require(s[i] == ':') { "expected : at $i" }
            i++
            m[k] = value()
            ws()
            if (s[i] == ',') { i++; continue }
            require(s[i] == '}') { "expected } at $i" }
            i++
            return m
        }
    }

    private fun arr(): List<Any?> {
        val l = ArrayList<Any?>()
        i++
        ws()
        if (s[i] == ']') { i++; return l }
        while (true) {
            l.add(value())
            ws()
            if (s[i] == ',') { i++; continue }
            require(s[i] == ']') { "expected ] at $i" }
            i++
            return l
        }
    }

    private fun str(): String {
        require(s[i] == '"') { "expected string at $i" }
        i++
        val sb = StringBuilder()
        while (true) {
            val c = s[i++]
            when (c) {
                '"' -> return sb.toString()
                '\\' -> {
                    val e = s[i++]
                    when (e) {
                        'n' -> sb.append('\n')
                        't' -> sb.append('\t')
                        'r' -> sb.append('\r')
                        'b' -> sb.append('\b')
                        'f' -> sb.append('\u000c')
                        'u' -> { sb.append(s.substring(i, i + 4).toInt(16).toChar()); i += 4 }
                        else -> sb.append(e)
                    }
                }
                else -> sb.append(c)
            }
        }
    }

    private fun num(): Long {
        val start = i
        if (s[i] == '-') i++
        while (i < s.length && s[i].isDigit()) i++
        require(i > start) { "bad value at $start" }
        return s.substring(start, i).toLong()
    }
}

@Suppress("UNCHECKED_CAST")
fun Any?.obj(): Map<String, Any?> = this as Map<String, Any?>

@Suppress("UNCHECKED_CAST")
fun Any?.list(): List<Any?> = this as List<Any?>

fun Map<String, Any?>.str(k: String): String = this[k] as String

fun Map<String, Any?>.long(k: String): Long = this[k] as Long

fun Map<String, Any?>.bytes(k: String): ByteArray = hex(str(k))

/** A connected client/server session pair over a generated key. */
class Pair2(
    val server: Server,
    val config: ClientConfig,
    val client: ClientSession,
    val session: ServerSession,
    val nowMs: Long,
    val expiresAtMs: Long
) : AutoCloseable {
    override fun close() {
        client.close()
        session.close()
        config.close()
        server.close()
    }

    companion object {
        fun open(padding: Int = 0, replayWindow: Int = 0): Pair2 {
            val now = 1_764_400_000_000L
            val exp = now + 600_000L
            val server = Server(padding, replayWindow)
            server.generateKey("k-test", now)
            val config = ClientConfig().pin("k-test", server.publicKey("k-test"))
            if (padding != 0) config.paddingBlock(padding)
            val hs = ClientHandshake.start(config, "k-test", "{}".toByteArray())
            val (session, type130) = server.accept(hs.envelope, now).use { it.respond(exp) }
            val client = hs.use { it.finish(type130, now) }
            return Pair2(server, config, client, session, now, exp)
        }
    }
}
