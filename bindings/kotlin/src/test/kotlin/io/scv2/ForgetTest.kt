package io.scv2

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.IOException

/** Requests that never get a type-129 answer release their token (scv2_client_forget_request). */
class ForgetTest {
    private val ctx = "POST /web/v1/system/auth/password/init"
    private val plaintext429 = """{"success":false,"code":"SYSTEM.TOO_MANY_REQUESTS"}""".toByteArray()

    @Test
    fun threeThousandPlaintextAnswersThenANormalExchange() {
        Pair2.open().use { p ->
            for (i in 1..3000) {
                val (pending, _) = p.client.sealRequest(ctx, "{}".toByteArray(), p.nowMs)
                assertEquals(i.toLong(), pending.seq)
                // The gateway answered in plaintext: the error is thrown and the request forgotten.
                expectStatus(Status.MALFORMED_ENVELOPE) { p.client.openResponse(pending, ctx, plaintext429) }
                assertFalse(p.client.forget(pending), "already forgotten")
            }
            val (pending, envelope) = p.client.sealRequest(ctx, "ping".toByteArray(), p.nowMs)
            assertEquals(3001L, pending.seq)
            val req = p.session.openRequest(ctx, envelope, p.nowMs)
            val resp = p.session.sealResponse(req, ctx, "pong".toByteArray())
            assertArrayEquals("pong".toByteArray(), p.client.openResponse(pending, ctx, resp))
        }
    }

    @Test
    fun aTamperedTypeResponseStaysOutstanding() {
        Pair2.open().use { p ->
            val (pending, envelope) = p.client.sealRequest(ctx, "x".toByteArray(), p.nowMs)
            val resp = p.session.sealResponse(p.session.openRequest(ctx, envelope, p.nowMs), ctx, "y".toByteArray())
            val bad = resp.copyOf()
            bad[bad.size - 1] = (bad[bad.size - 1].toInt() xor 1).toByte()
            // A type 129 that does not open keeps the request: the right answer still opens.
            expectStatus(Status.DECRYPTION_FAILED) { p.client.openResponse(pending, ctx, bad) }
            assertArrayEquals("y".toByteArray(), p.client.openResponse(pending, ctx, resp))
        }
    }

    @Test
    fun exchangeForgetsFailedAndCancelledCalls() {
        Pair2.open().use { p ->
            // Without forgetting, 1024 unanswered requests fill the table; exchange() forgets them.
            for (i in 1..1100) {
                assertThrows(IOException::class.java) {
                    p.client.exchange(ctx, "{}".toByteArray(), p.nowMs) { throw IOException("connection reset") }
                }
            }
            for (i in 1..1100) {
                expectStatus(Status.UNSUPPORTED_VERSION) {
                    p.client.exchange(ctx, "{}".toByteArray(), p.nowMs) { "SC\u0001\u0081...".toByteArray() }
                }
            }
            val answer = p.client.exchange(ctx, "q".toByteArray(), p.nowMs) { envelope ->
                val req = p.session.openRequest(ctx, envelope, p.nowMs)
                p.session.sealResponse(req, ctx, "a".toByteArray())
            }
            assertArrayEquals("a".toByteArray(), answer)
        }
    }

    @Test
    fun serverForgetsRequestsItAnsweredInPlaintext() {
        Pair2.open().use { p ->
            for (i in 1..1100) {
                val (pending, envelope) = p.client.sealRequest(ctx, "{}".toByteArray(), p.nowMs)
                val req = p.session.openRequest(ctx, envelope, p.nowMs)
                assertTrue(p.session.forget(req))
                assertFalse(p.session.forget(req))
                expectStatus(Status.INVALID_STATE) { p.session.sealResponse(req, ctx, "late".toByteArray()) }
                // The client got the plaintext answer: it forgets its side too.
                assertTrue(p.client.forget(pending))
            }
        }
    }
}
