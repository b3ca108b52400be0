package io.scv2

import java.io.File
import java.util.Base64
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assertions.fail
import org.junit.jupiter.api.Test

/**
 * The hybrid suite X25519MLKEM768-HKDF-SHA256-AES-256-GCM (SPEC.md section 15) through the
 * Kotlin API: the suite numbers against the header, the size helpers, one live exchange with a
 * hybrid key next to an X25519 one, the document form of a pin, the wrong-suite refusals, and the
 * client side of tests/vectors/scv2-x25519mlkem768.json byte for byte.
 */
class HybridTest {
    private val now = 1_764_400_000_000L
    private val exp = now + 600_000L
    private val ctx = "POST /web/v1/system/auth/password/init"
    private val pq = "k-2026-pq"
    private val x = "k-2026-x"

    @Test
    fun suiteNumbersAndNamesAreTheLibrarys() {
        val header = repoFile("scv2.header", "../../include/scv2.h").readText()
        val defines = Regex("#define SCV2_SUITE_([A-Z0-9_]+) (\\d+)").findAll(header)
            .map { it.groupValues[1] to it.groupValues[2].toInt() }.toMap()
        assertEquals(mapOf("X25519" to 1, "X25519MLKEM768" to 2), defines)
        for (s in Suite.values()) {
            assertEquals(defines[s.name], s.id)
            assertEquals(s, Suite.fromId(s.id))
            assertEquals(s, Suite.fromAlgorithm(s.algorithm))
        }
        assertNull(Suite.fromId(0))
        assertNull(Suite.fromId(3))
        assertNull(Suite.fromAlgorithm("x25519mlkem768-hkdf-sha256-aes-256-gcm"))
        // The hybrid vector file names the suite by the same algorithm string.
        assertEquals(Suite.X25519MLKEM768.algorithm, hybridVectors().str("suite"))
    }

    @Test
    fun sizeHelpers() {
        assertEquals(32, Suite.X25519.publicKeyLen)
        assertEquals(32, Suite.X25519.privateKeyLen)
        assertEquals(1216, Suite.X25519MLKEM768.publicKeyLen)
        assertEquals(96, Suite.X25519MLKEM768.privateKeyLen)
        // SPEC 15.7: 2414 bytes for a 9-byte keyId and "{}" with block 64; 1216 for a 22-byte sid.
        assertEquals(2414, Suite.X25519MLKEM768.type1Len(9, 2, 64))
        assertEquals(1216, Suite.X25519MLKEM768.type130Len(22, 0, 64))
        assertTrue(Suite.X25519.type1Len(9, 2, 64) in 1..2413)
        assertEquals(0, Suite.X25519MLKEM768.type1Len(0, 2, 64))
        assertEquals(0, Suite.X25519MLKEM768.type1Len(9, -1, 64))
        assertEquals(0, Suite.X25519MLKEM768.type1Len(9, 2, 0))
        assertEquals(0, Suite.X25519MLKEM768.type130Len(-1, 0, 64))
    }

    @Test
    fun hybridExchange() {
        Server(64).use { server ->
            server.generateKey(pq, Suite.X25519MLKEM768, now)
            server.generateKey(x, Suite.X25519, now)
            assertEquals(Suite.X25519MLKEM768, server.keySuite(pq))
            assertEquals(Suite.X25519, server.keySuite(x))
            expectStatus(Status.UNKNOWN_KEY_ID) { server.keySuite("nope") }
            val pub = server.publicKey(pq)
            assertEquals(1216, pub.size)
            assertEquals(32, server.publicKey(x).size)
            ClientConfig().pin(pq, Suite.X25519MLKEM768, pub).pin(x, Suite.X25519, server.publicKey(x)).use { config ->
                val payload = "{\"platform\":\"kotlin\"}".toByteArray()
                exchange(server, config, pq, payload)
                exchange(server, config, x, payload)
            }
        }
    }

    private fun exchange(server: Server, config: ClientConfig, keyId: String, payload: ByteArray) {
        val suite = server.keySuite(keyId)
        ClientHandshake.start(config, keyId, payload).use { hs ->
            assertEquals(suite.type1Len(keyId.length, payload.size, 64), hs.envelope.size)
            val (session, type130) = server.accept(hs.envelope, now).use { accepted ->
                assertArrayEquals(payload, accepted.payload)
                accepted.respond(exp, "app".toByteArray(), "sid-hybrid-1")
            }
            assertEquals(suite.type130Len("sid-hybrid-1".length, 3, 64), type130.size)
            session.use {
                hs.finish(type130, now).use { client ->
                    assertEquals("sid-hybrid-1", client.sessionId)
                    assertArrayEquals("app".toByteArray(), client.appPayload)
                    val body = "{\"password\":\"Quantum-Res1stant!\"}".toByteArray()
                    val (pending, envelope) = client.sealRequest(ctx, body, now)
                    val opened = session.openRequest(ctx, envelope, now)
                    assertArrayEquals(body, opened.body.copyOf(opened.length))
                    val answer = session.sealResponse(opened, ctx, "{\"ok\":true}".toByteArray())
                    assertArrayEquals("{\"ok\":true}".toByteArray(), client.openResponse(pending, ctx, answer))
                }
            }
        }
    }

    @Test
    fun documentFormPin() {
        Server(64).use { server ->
            server.generateKey(pq, Suite.X25519MLKEM768, now)
            val b64 = Base64.getEncoder().encodeToString(server.publicKey(pq))
            assertEquals(1624, b64.length)
            ClientConfig().pinDocument(pq, "X25519MLKEM768-HKDF-SHA256-AES-256-GCM", b64).use { config ->
                exchange(server, config, pq, "{}".toByteArray())
            }
            ClientConfig().use { config ->
                expectStatus(Status.INVALID_ARGUMENT) { config.pinDocument(pq, "X25519MLKEM1024", b64) }
                // The hybrid key's base64 is not an X25519 SPKI.
                expectStatus(Status.INVALID_PUBLIC_KEY) { config.pinPublicKeyBase64(pq, Suite.X25519, b64) }
                expectStatus(Status.INVALID_PUBLIC_KEY) {
                    config.pinPublicKeyBase64(pq, Suite.X25519MLKEM768, b64.substring(0, 1620))
                }
                // Never pinned: the handshake is refused.
                expectStatus(Status.UNTRUSTED_SERVER_KEY) { ClientHandshake.start(config, pq) }
            }
        }
    }

    @Test
    fun wrongSuiteIsRefused() {
        Server(64).use { server ->
            server.generateKey(pq, Suite.X25519MLKEM768, now)
            server.generateKey(x, Suite.X25519, now)
            val pub = server.publicKey(pq)
            ClientConfig().use { config ->
                expectStatus(Status.INVALID_PUBLIC_KEY) { config.pin(pq, Suite.X25519, pub) }
                expectStatus(Status.INVALID_PUBLIC_KEY) { config.pin(pq, Suite.X25519MLKEM768, server.publicKey(x)) }
                // ek_s failing FIPS 203's encapsulation-key check (first coefficient 4095).
                val bad = pub.copyOf()
                bad[0] = 0xff.toByte()
                bad[1] = (bad[1].toInt() or 0x0f).toByte()
                expectStatus(Status.INVALID_PUBLIC_KEY) { config.pin(pq, Suite.X25519MLKEM768, bad) }
                // An X25519-suite type 1 sent to the hybrid key id: malformed for that key's suite.
                config.pin(pq, Suite.X25519, server.publicKey(x))
                ClientHandshake.start(config, pq, "{}".toByteArray()).use { hs ->
                    expectStatus(Status.MALFORMED_ENVELOPE) { server.accept(hs.envelope, now) }
                }
            }
            // Private forms of the wrong length for the suite.
            expectStatus(Status.INVALID_ARGUMENT) { server.addKey("k-short", Suite.X25519MLKEM768, ByteArray(32)) }
            expectStatus(Status.INVALID_ARGUMENT) { server.addKey("k-long", Suite.X25519, ByteArray(96)) }
        }
    }

    private fun hybridVectors(): Map<String, Any?> {
        val x25519 = repoFile("scv2.vectors", "../../tests/vectors/scv2-x25519.json")
        val f = File(x25519.absoluteFile.parentFile, "scv2-x25519mlkem768.json")
        return Json(f.readText()).parse().obj()
    }

    /**
     * The client side of every hybrid vector case byte for byte (the type 1 from fixed `e`, ML-KEM
     * seed, `m1` and `iv1`; the type 130 opened; the requests sealed; the responses opened), the
     * server accepting the type 1 with the key loaded from its 96-byte private form, and the
     * negative cases of the stages a client and `accept` see (kx, kxr, response).
     */
    @Test
    fun hybridVectorsClientSide() {
        val cases = hybridVectors()["cases"].list().map { it.obj() }
        assertTrue(cases.size >= 6)
        var negatives = 0
        for (c in cases) {
            val name = c.str("name")
            val keyId = c.str("key_id")
            val block = c.long("padding_block").toInt()
            val nowMs = c.long("now_ms")
            Server(block).use { server ->
                server.addKey(keyId, Suite.X25519MLKEM768, c.bytes("server_static_private") + c.bytes("server_mlkem_seed"))
                assertArrayEquals(c.bytes("server_static_public"), server.publicKey(keyId), name)
                ClientConfig().pin(keyId, Suite.X25519MLKEM768, c.bytes("server_static_public")).paddingBlock(block).use { config ->
                    val start = {
                        TestVectorsNative.startHybrid(
                            config, keyId.toByteArray(), c.bytes("kx_payload"), c.bytes("client_ephemeral_private"),
                            c.bytes("client_mlkem_seed"), c.bytes("encaps_randomness_1"), c.bytes("iv1")
                        )
                    }
                    start().use { hs ->
                        assertEquals(c.str("kx_envelope"), toHex(hs.envelope), "$name: type 1")
                        server.accept(c.bytes("kx_envelope"), nowMs).use { a ->
                            assertArrayEquals(c.bytes("kx_payload"), a.payload, name)
                        }
                        hs.finish(c.bytes("kxr_envelope"), nowMs).use { client ->
                            assertEquals(c.str("session_id"), client.sessionId, name)
                            assertArrayEquals(c.bytes("kxr_payload"), client.appPayload, name)
                            assertEquals(c.long("expires_at_ms"), client.expiresAtMs, name)
                            val xs = c["exchanges"].list().map { it.obj() }
                            val maxSeq = xs.map { it.long("seq") }.max() ?: 0L
                            for (s in 1..maxSeq) {
                                val e = xs.firstOrNull { it.long("seq") == s }
                                if (e == null) {
                                    assertEquals(s, client.sealRequest(EMPTY, EMPTY, nowMs).pending.seq)
                                    continue
                                }
                                val (pending, env) = client.sealRequest(e.bytes("ctx"), e.bytes("request"), nowMs)
                                assertEquals(s, pending.seq)
                                assertEquals(e.str("request_envelope"), toHex(env), "$name: request $s")
                            }
                            for (e in xs) {
                                val pending = PendingRequest(e.long("seq"))
                                assertArrayEquals(
                                    e.bytes("response"), client.openResponse(pending, e.bytes("ctx"), e.bytes("response_envelope"))
                                )
                            }
                        }
                    }
                    for (g in c["negative"].list().map { it.obj() }) {
                        val expected = Status.values().first { it.wireName == g.str("error") }
                        val stage = g.str("stage")
                        // "request" needs the vector's server session (no entry point fixes m2).
                        if (stage == "request") continue
                        when (stage) {
                            "kx" -> { expectStatus(expected) { server.accept(g.bytes("envelope"), nowMs) } }
                            "kxr" -> start().use { h -> expectStatus(expected) { h.finish(g.bytes("envelope"), nowMs) } }
                            "response" -> start().use { h ->
                                h.finish(c.bytes("kxr_envelope"), nowMs).use { client ->
                                    for (s in 1..g.long("seq")) client.sealRequest(EMPTY, EMPTY, nowMs)
                                    expectStatus(expected) {
                                        client.openResponse(PendingRequest(g.long("seq")), g.bytes("ctx"), g.bytes("envelope"))
                                    }
                                }
                            }
                            else -> fail<Unit>("$name: unknown stage $stage")
                        }
                        negatives++
                    }
                }
            }
        }
        println("hybrid vectors: ${cases.size} cases, $negatives negative cases (client and accept stages)")
        assertTrue(negatives >= 10)
    }
}
