package io.scv2

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test

/** Every status code mapped to the right [Scv2Exception], produced through the API where possible. */
class ErrorsTest {
    private val ctx = "POST /web/v1/auth/login"

    @Test
    fun statusMirrorsTheHeader() {
        val header = repoFile("scv2.header", "../../include/scv2.h").readText()
        val re = Regex("#define SCV2_([A-Z_]+) (\\d+)")
        val skip = setOf("OK", "ABI_VERSION", "MAX_OUTSTANDING", "BODY_OFFSET", "KEY_LEN", "IV1_LEN",
            "MAX_KEY_ID_LEN", "MAX_SESSION_ID_LEN", "VERSION_MAJOR", "VERSION_MINOR", "VERSION_PATCH")
        val codes = re.findAll(header).map { it.groupValues[1] to it.groupValues[2].toInt() }
            .filter { it.first !in skip }.toList()
        assertEquals(16, codes.size, codes.toString())
        for ((name, code) in codes) {
            val s = Status.fromCode(code)
            assertEquals(name, s?.name, "code $code")
        }
        assertEquals(codes.size, Status.values().size)
        assertNull(Status.fromCode(16))
        assertNull(Status.fromCode(0))
        assertEquals(null, Scv2Exception(200).status)
        assertEquals(Status.SESSION_EXHAUSTED, Scv2Exception(10).status)
    }

    @Test
    fun handshakeErrors() {
        Pair2.open().use { p ->
            // 5: key id not pinned.
            expectStatus(Status.UNTRUSTED_SERVER_KEY) { ClientHandshake.start(p.config, "k-other") }
            // 14: bad arguments.
            expectStatus(Status.INVALID_ARGUMENT) { ClientHandshake.start(p.config, "") }
            expectStatus(Status.INVALID_ARGUMENT) { p.config.paddingBlock(0) }
            expectStatus(Status.INVALID_ARGUMENT) { p.config.paddingBlock(4097) }
            expectStatus(Status.INVALID_ARGUMENT) { p.config.pin("k", ByteArray(31)) }
            expectStatus(Status.INVALID_ARGUMENT) { Server(5000, 0) }
            expectStatus(Status.INVALID_ARGUMENT) { Server(0, 100) }
            expectStatus(Status.INVALID_ARGUMENT) { p.server.generateKey("k-test", 0) } // already present
            expectStatus(Status.INVALID_ARGUMENT) { p.server.addKey("k2", ByteArray(16)) }
            // 6: not an X25519 SPKI.
            expectStatus(Status.INVALID_PUBLIC_KEY) { p.config.pinSpkiBase64("k", "AAAA") }
            // 13: SPKI text too long.
            expectStatus(Status.PAYLOAD_TOO_LARGE) { p.config.pinSpkiBase64("k", "A".repeat(1025)) }
            // 4: unknown key id.
            expectStatus(Status.UNKNOWN_KEY_ID) { p.server.removeKey("nope") }
            expectStatus(Status.UNKNOWN_KEY_ID) { p.server.publicKey("nope") }

            val hs = ClientHandshake.start(p.config, "k-test", "{}".toByteArray())
            val type1 = hs.envelope
            // 1, 2, 3: malformed, version, type.
            expectStatus(Status.MALFORMED_ENVELOPE) { p.server.accept(type1.copyOf(10), p.nowMs) }
            expectStatus(Status.UNSUPPORTED_VERSION) { p.server.accept(type1.copyOf().also { it[2] = 3 }, p.nowMs) }
            expectStatus(Status.UNKNOWN_TYPE) { p.server.accept(type1.copyOf().also { it[3] = 9 }, p.nowMs) }
            // 7: tampered.
            expectStatus(Status.DECRYPTION_FAILED) {
                p.server.accept(type1.copyOf().also { it[it.size - 1] = (it[it.size - 1] + 1).toByte() }, p.nowMs)
            }
            // 13: envelope above the maximum.
            expectStatus(Status.PAYLOAD_TOO_LARGE) { p.server.accept(ByteArray((1 shl 20) + 8193), p.nowMs) }
            expectStatus(Status.PAYLOAD_TOO_LARGE) { ClientHandshake.start(p.config, "k-test", ByteArray((1 shl 20) + 1)) }

            val accepted = p.server.accept(type1, p.nowMs)
            expectStatus(Status.INVALID_ARGUMENT) { accepted.respond(p.expiresAtMs, EMPTY, "bad id with spaces") }
            val (session, type130) = accepted.respond(p.expiresAtMs)
            // 15: responded already.
            expectStatus(Status.INVALID_STATE) { accepted.respond(p.expiresAtMs) }
            expectStatus(Status.INVALID_STATE) { accepted.payload }
            expectStatus(Status.INVALID_STATE) { accepted.keyId }
            accepted.close()
            // 9: expired at finish.
            val hs2 = ClientHandshake.start(p.config, "k-test")
            val acc2 = p.server.accept(hs2.envelope, p.nowMs)
            val (s2, t2) = acc2.respond(p.nowMs + 10)
            expectStatus(Status.SESSION_EXPIRED) { hs2.finish(t2, p.nowMs + 10) }
            // 15: the handshake ran once (failed finish consumed it too).
            expectStatus(Status.INVALID_STATE) { hs2.finish(t2, p.nowMs) }
            hs2.close(); acc2.close(); s2.close()
            // 7 at finish, then 15.
            expectStatus(Status.DECRYPTION_FAILED) {
                hs.finish(type130.copyOf().also { it[it.size - 1] = (it[it.size - 1] + 1).toByte() }, p.nowMs)
            }
            expectStatus(Status.INVALID_STATE) { hs.finish(type130, p.nowMs) }
            hs.close()
            session.close()
        }
    }

    @Test
    fun sessionErrors() {
        Pair2.open().use { p ->
            val c = p.client
            val s = p.session
            val (pending1, env1) = c.sealRequest(ctx, "a".toByteArray(), p.nowMs)
            val (pending2, env2) = c.sealRequest(ctx, "b".toByteArray(), p.nowMs)
            // 7: wrong ctx; 8: replay; 1: a response at the request entry; 3: unknown type.
            expectStatus(Status.DECRYPTION_FAILED) { s.openRequest("GET /other", env1, p.nowMs) }
            val r1 = s.openRequest(ctx, env1, p.nowMs)
            expectStatus(Status.REPLAYED) { s.openRequest(ctx, env1, p.nowMs) }
            val resp1 = s.sealResponse(r1, ctx, "A".toByteArray())
            expectStatus(Status.MALFORMED_ENVELOPE) { s.openRequest(ctx, resp1, p.nowMs) }
            expectStatus(Status.UNKNOWN_TYPE) { s.openRequest(ctx, env2.copyOf().also { it[3] = 9 }, p.nowMs) }
            expectStatus(Status.UNSUPPORTED_VERSION) { s.openRequest(ctx, env2.copyOf().also { it[2] = 1 }, p.nowMs) }
            // 15: a second response to one request.
            expectStatus(Status.INVALID_STATE) { s.sealResponse(r1, ctx, "again".toByteArray()) }
            // 11: the response to request 1 opened as request 2's.
            expectStatus(Status.RESPONSE_MISMATCH) { c.openResponse(pending2, ctx, resp1) }
            // 7: wrong ctx on the response; the request stays outstanding.
            expectStatus(Status.DECRYPTION_FAILED) { c.openResponse(pending1, "GET /x", resp1) }
            assertArrayEquals("A".toByteArray(), c.openResponse(pending1, ctx, resp1))
            // 15: answered already / never sealed.
            expectStatus(Status.INVALID_STATE) { c.openResponse(pending1, ctx, resp1) }
            expectStatus(Status.INVALID_STATE) { c.openResponse(PendingRequest(999), ctx, resp1) }
            // 12: caller buffers too small.
            expectStatus(Status.BUFFER_TOO_SMALL) { c.sealRequestInto(ctx.toByteArray(), ByteArray(10), ByteArray(5), p.nowMs) }
            val r2 = s.openRequest(ctx, env2, p.nowMs)
            expectStatus(Status.BUFFER_TOO_SMALL) { s.sealResponseInto(r2, ctx.toByteArray(), ByteArray(10), ByteArray(5)) }
            val resp2 = s.sealResponse(r2, ctx, "B".toByteArray())
            expectStatus(Status.BUFFER_TOO_SMALL) { c.openResponseInto(pending2, ctx.toByteArray(), resp2, ByteArray(1)) }
            expectStatus(Status.BUFFER_TOO_SMALL) {
                val (_, e3) = c.sealRequest(ctx, "c".toByteArray(), p.nowMs)
                s.openRequestInto(ctx.toByteArray(), e3, ByteArray(1), p.nowMs)
            }
            assertArrayEquals("B".toByteArray(), c.openResponse(pending2, ctx, resp2))
            // 13: ctx and body above the maximum.
            expectStatus(Status.PAYLOAD_TOO_LARGE) { c.sealRequest(ByteArray(4097), ByteArray(1), p.nowMs) }
            expectStatus(Status.PAYLOAD_TOO_LARGE) { c.sealRequest(ctx, ByteArray((1 shl 20) + 1), p.nowMs) }
            expectStatus(Status.PAYLOAD_TOO_LARGE) { s.openRequest(ctx, ByteArray((1 shl 20) + 8193), p.nowMs) }
            // 9: expired session.
            expectStatus(Status.SESSION_EXPIRED) { c.sealRequest(ctx, "x".toByteArray(), p.expiresAtMs) }
            val (_, late) = c.sealRequest(ctx, "late".toByteArray(), p.expiresAtMs - 1)
            expectStatus(Status.SESSION_EXPIRED) { s.openRequest(ctx, late, p.expiresAtMs) }
            // 14: negative length / sizes from Kotlin.
            expectStatus(Status.INVALID_ARGUMENT) { c.sealedLen(-1) }
        }
    }

    @Test
    fun outstandingTableFull() {
        Pair2.open().use { p ->
            for (i in 1..1024) p.client.sealRequest(ctx, EMPTY, p.nowMs)
            // 15: SCV2_MAX_OUTSTANDING unanswered requests.
            expectStatus(Status.INVALID_STATE) { p.client.sealRequest(ctx, EMPTY, p.nowMs) }
        }
    }

    @Test
    fun panicBecomesInternal() {
        // 255: a panic inside the JNI boundary is caught and thrown as Scv2Exception(INTERNAL).
        expectStatus(Status.INTERNAL) { TestVectorsNative.panicInsideBoundary() }
        // The library still works afterwards.
        Pair2.open().use { p -> p.client.sealRequest(ctx, EMPTY, p.nowMs) }
    }

    @Test
    fun sessionExhaustedIsMapped() {
        // 10 needs 2^32 - 1 requests on one session: not producible in a test; check the mapping.
        val e = Scv2Exception(10)
        assertEquals(Status.SESSION_EXHAUSTED, e.status)
        assertEquals("scv2 error 10 (session_exhausted)", e.message)
    }
}
