package io.scv2

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.util.Base64

class ExchangeTest {
    private val ctx = "POST /web/v1/system/auth/password/init"

    @Test
    fun fullExchangeBothRoles() {
        val now = 1_764_400_000_000L
        Server(64, 1024).use { server ->
            server.generateKey("k-2026-11", now)
            val pub = server.publicKey("k-2026-11")
            assertEquals(32, pub.size)
            // Pin through the public-key document's SPKI form.
            val spki = Base64.getEncoder().encodeToString(hex("302a300506032b656e032100") + pub)
            ClientConfig().pinSpkiBase64("k-2026-11", spki).use { config ->
                val hs = ClientHandshake.start(config, "k-2026-11", "{\"device\":\"x\"}".toByteArray())
                val type1 = hs.envelope
                val accepted = server.accept(type1, now)
                assertEquals("k-2026-11", accepted.keyId)
                assertArrayEquals("{\"device\":\"x\"}".toByteArray(), accepted.payload)
                val (session, type130) = accepted.respond(now + 600_000, "{\"ok\":1}".toByteArray(), "sid-1")
                accepted.close()
                val client = hs.finish(type130, now)
                hs.close()
                client.use {
                    session.use {
                        assertEquals("sid-1", client.sessionId)
                        assertEquals("sid-1", session.sessionId)
                        assertEquals(now + 600_000, client.expiresAtMs)
                        assertEquals(now + 600_000, session.expiresAtMs)
                        assertArrayEquals("{\"ok\":1}".toByteArray(), client.appPayload)
                        for (i in 1..5) {
                            val body = ("{\"password\":\"P@ss" + i + "\"}").toByteArray()
                            val (pending, envelope) = client.sealRequest(ctx, body, now)
                            assertEquals(i.toLong(), pending.seq)
                            assertEquals(client.sealedLen(body.size), envelope.size)
                            val req = session.openRequest(ctx, envelope, now)
                            assertEquals(pending.seq, req.seq)
                            assertArrayEquals(body, req.body)
                            val answer = ByteArray(i * 100) { (it * 7).toByte() }
                            val response = session.sealResponse(req, ctx, answer)
                            assertEquals(session.sealedLen(answer.size), response.size)
                            assertArrayEquals(answer, client.openResponse(pending, ctx, response))
                        }
                    }
                }
            }
        }
    }

    @Test
    fun generatedSessionIdAndIntoVariants() {
        Pair2.open(padding = 16).use { p ->
            assertEquals(22, p.client.sessionId.length)
            assertEquals(p.client.sessionId, p.session.sessionId)
            val body = ByteArray(1000) { it.toByte() }
            val buf = ByteArray(p.client.sealedLen(body.size) + 10)
            val pending = p.client.sealRequestInto(ctx.toByteArray(), body, buf, p.nowMs)
            val envelope = buf.copyOf(p.client.sealedLen(body.size))
            val plain = ByteArray(maxOpenLen(envelope.size))
            val req = p.session.openRequestInto(ctx.toByteArray(), envelope, plain, p.nowMs)
            assertTrue(req.body === plain)
            assertArrayEquals(body, plain.copyOf(req.length))
            val out = ByteArray(p.session.sealedLen(5))
            val m = p.session.sealResponseInto(req, ctx.toByteArray(), "hello".toByteArray(), out)
            assertEquals(out.size, m)
            val answer = ByteArray(maxOpenLen(m))
            val n = p.client.openResponseInto(pending, ctx.toByteArray(), out, answer)
            assertEquals("hello", String(answer, 0, n))
        }
    }

    @Test
    fun emptyBodiesAndCtx() {
        Pair2.open().use { p ->
            val (pending, envelope) = p.client.sealRequest(ByteArray(0), ByteArray(0), p.nowMs)
            val req = p.session.openRequest(ByteArray(0), envelope, p.nowMs)
            assertEquals(0, req.body.size)
            val resp = p.session.sealResponse(req, ByteArray(0), ByteArray(0))
            assertEquals(0, p.client.openResponse(pending, ByteArray(0), resp).size)
        }
    }

    @Test
    fun keyRotation() {
        val now = 1_764_400_000_000L
        Server().use { server ->
            server.addKey("k-old", ByteArray(32) { 7 }, now - 1000, now + 1000)
            server.generateKey("k-new", now)
            assertNotEquals(toHex(server.publicKey("k-old")), toHex(server.publicKey("k-new")))
            ClientConfig().pin("k-old", server.publicKey("k-old")).use { config ->
                ClientHandshake.start(config, "k-old").use { hs ->
                    server.accept(hs.envelope, now).close()
                    server.removeKey("k-old")
                    expectStatus(Status.UNKNOWN_KEY_ID) { server.accept(hs.envelope, now) }
                }
            }
        }
    }

    @Test
    fun readmeExampleRuns() {
        // The ```kotlin block of README.md, compiled by scripts/test-kotlin.sh into ReadmeExampleKt;
        // it pins a hybrid-suite key "k-2026-pq".
        val cls = Class.forName("ReadmeExampleKt")
        val now = System.currentTimeMillis()
        Server().use { server ->
            server.generateKey("k-2026-pq", Suite.X25519MLKEM768, now)
            val sessions = ArrayList<ServerSession>()
            val send = { ctx: String, body: ByteArray ->
                if (ctx == "POST /web/v1/secure-channel/session") {
                    server.accept(body).use { hs ->
                        val (session, type130) = hs.respond(now + 600_000)
                        sessions.add(session)
                        type130
                    }
                } else {
                    val s = sessions.single()
                    val req = s.openRequest(ctx, body)
                    assertEquals("{\"user\":\"ann\"}", String(req.body))
                    s.sealResponse(req, ctx, "{\"success\":true}".toByteArray())
                }
            }
            val m = cls.getMethod("login", ByteArray::class.java, Function2::class.java)
            assertEquals("{\"success\":true}", m.invoke(null, server.publicKey("k-2026-pq"), send))
            sessions.forEach { it.close() }
        }
    }
}
