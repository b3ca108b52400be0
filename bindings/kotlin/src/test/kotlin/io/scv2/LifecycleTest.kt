package io.scv2

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

class LifecycleTest {
    private val ctx = "POST /web/v1/auth/login"

    private fun closed(block: () -> Unit) {
        assertThrows(IllegalStateException::class.java) { block() }
    }

    @Test
    fun useAfterCloseThrows() {
        val p = Pair2.open()
        val (pending, env) = p.client.sealRequest(ctx, EMPTY, p.nowMs)
        val req = p.session.openRequest(ctx, env, p.nowMs)
        val hs = ClientHandshake.start(p.config, "k-test")
        val accepted = p.server.accept(hs.envelope, p.nowMs)
        p.close()
        p.close() // idempotent
        closed { p.client.sealRequest(ctx, EMPTY, p.nowMs) }
        closed { p.client.openResponse(pending, ctx, env) }
        closed { p.client.expiresAtMs }
        closed { p.client.appPayload }
        closed { p.client.sealedLen(1) }
        closed { p.session.openRequest(ctx, env, p.nowMs) }
        closed { p.session.sealResponse(req, ctx, EMPTY) }
        closed { p.session.expiresAtMs }
        closed { p.config.pin("k", ByteArray(32)) }
        closed { p.config.paddingBlock(16) }
        closed { ClientHandshake.start(p.config, "k-test") }
        closed { p.server.generateKey("k2") }
        closed { p.server.publicKey("k-test") }
        closed { p.server.accept(hs.envelope, p.nowMs) }
        // Handshakes outlive the objects they came from, until closed themselves.
        val (s, t) = accepted.respond(p.expiresAtMs)
        hs.finish(t, p.nowMs).use { c -> assertEquals(s.sessionId, c.sessionId) }
        s.close()
        accepted.close()
        hs.close()
        closed { hs.finish(t, p.nowMs) }
        closed { accepted.payload }
        closed { accepted.respond(p.expiresAtMs) }
        // Session ids were read at construction and stay readable.
        assertEquals(22, p.client.sessionId.length)
    }

    @Test
    fun concurrentSealingThenOpeningAll() {
        Pair2.open().use { p ->
            val threads = 8
            val perThread = 100
            val sealed = Collections.synchronizedList(ArrayList<Triple<PendingRequest, ByteArray, ByteArray>>())
            val pool = Executors.newFixedThreadPool(threads)
            val go = CountDownLatch(1)
            val futures = (0 until threads).map { t ->
                pool.submit {
                    go.await()
                    for (i in 0 until perThread) {
                        val body = "thread $t request $i".toByteArray()
                        val (pending, env) = p.client.sealRequest(ctx, body, p.nowMs)
                        sealed.add(Triple(pending, body, env))
                    }
                }
            }
            go.countDown()
            futures.forEach { it.get(60, TimeUnit.SECONDS) }
            assertEquals(threads * perThread, sealed.size)
            val seqs = sealed.map { it.first.seq }.toSet()
            assertEquals((1L..(threads * perThread).toLong()).toSet(), seqs)

            // Open all on the server, also from several threads, then answer them; the client
            // opens every answer.
            val chunks = sealed.shuffled().chunked(sealed.size / threads)
            val answered = chunks.map { chunk ->
                pool.submit<List<kotlin.Pair<PendingRequest, ByteArray>>> {
                    chunk.map { (pending, body, env) ->
                        val req = p.session.openRequest(ctx, env, p.nowMs)
                        assertEquals(pending.seq, req.seq)
                        assertArrayEquals(body, req.body)
                        kotlin.Pair(pending, p.session.sealResponse(req, ctx, body.reversedArray()))
                    }
                }
            }.flatMap { it.get(60, TimeUnit.SECONDS) }
            val byPending = sealed.associate { it.first to it.second }
            for ((pending, resp) in answered) {
                assertArrayEquals(byPending.getValue(pending).reversedArray(), p.client.openResponse(pending, ctx, resp))
            }
            pool.shutdown()
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS))
        }
    }

    @Test
    fun closeWaitsForCallsInFlight() {
        val p = Pair2.open()
        val pool = Executors.newFixedThreadPool(4)
        val body = ByteArray(64 * 1024)
        val jobs = (0 until 4).map {
            pool.submit<Int> {
                var ok = 0
                try {
                    while (true) {
                        p.client.sealRequest(ctx, body, p.nowMs).let { (pending, env) ->
                            val r = p.session.openRequest(ctx, env, p.nowMs)
                            p.client.openResponse(pending, ctx, p.session.sealResponse(r, ctx, EMPTY))
                        }
                        ok++
                    }
                } catch (e: IllegalStateException) {
                    // closed under us: the expected way out
                } catch (e: Scv2Exception) {
                    // the server session was closed between the client's calls
                    assertTrue(e.status == Status.INVALID_STATE, e.toString())
                }
                ok
            }
        }
        Thread.sleep(200)
        p.close()
        jobs.forEach { it.get(30, TimeUnit.SECONDS) }
        pool.shutdown()
    }
}
