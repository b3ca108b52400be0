package io.scv2

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/**
 * tests/vectors/scv2-x25519.json reproduced byte for byte through the binding (with the
 * test-vectors entry points for the fixed ephemerals), every exchange, every negative case.
 */
class VectorsTest {
    private fun cases(): List<Map<String, Any?>> {
        val doc = Json(repoFile("scv2.vectors", "../../tests/vectors/scv2-x25519.json").readText()).parse().obj()
        assertEquals("X25519-HKDF-SHA256-AES-256-GCM", doc.str("suite"))
        return doc["cases"].list().map { it.obj() }
    }

    @Test
    fun allCasesByteForByte() {
        val cases = cases()
        assertEquals(8, cases.size)
        var exchanges = 0
        var negatives = 0
        for (c in cases) {
            val r = runCase(c)
            exchanges += r.first
            negatives += r.second
        }
        println("vectors: ${cases.size} cases, $exchanges exchanges, $negatives negative cases")
        assertEquals(cases.sumBy { it["exchanges"].list().size }, exchanges)
        assertEquals(cases.sumBy { it["negative"].list().size }, negatives)
        assertTrue(negatives >= 180)
    }

    private fun runCase(c: Map<String, Any?>): kotlin.Pair<Int, Int> {
        val name = c.str("name")
        val keyId = c.str("key_id").toByteArray()
        val keyIdStr = c.str("key_id")
        val block = c.long("padding_block").toInt()
        val now = c.long("now_ms")
        val exp = c.long("expires_at_ms")
        val kxPayload = c.bytes("kx_payload")
        val exchanges = c["exchanges"].list().map { it.obj() }
        val negatives = c["negative"].list().map { it.obj() }
        var nx = 0
        var nn = 0
        Server(block, 0).use { server ->
            server.addKey(keyIdStr, c.bytes("server_static_private"))
            assertArrayEquals(c.bytes("server_static_public"), server.publicKey(keyIdStr), name)
            ClientConfig().paddingBlock(block).pin(keyIdStr, c.bytes("server_static_public")).use { config ->
                fun start() = TestVectorsNative.start(
                    config, keyId, kxPayload, c.bytes("client_ephemeral_private"), c.bytes("iv1")
                )
                val hs = start()
                assertEquals(c.str("kx_envelope"), toHex(hs.envelope), "$name kx")
                val accepted = server.accept(hs.envelope, now)
                assertArrayEquals(kxPayload, accepted.payload)
                val (session, kxr) = TestVectorsNative.respond(
                    accepted, c.str("session_id").toByteArray(), exp, c.bytes("kxr_payload"),
                    c.bytes("server_ephemeral_private")
                )
                accepted.close()
                assertEquals(c.str("kxr_envelope"), toHex(kxr), "$name kxr")
                val client = hs.finish(kxr, now)
                hs.close()
                assertArrayEquals(c.bytes("kxr_payload"), client.appPayload)
                assertEquals(c.str("session_id"), client.sessionId)

                // The client seals in increasing seq order (a filler request for unlisted seqs).
                val maxSeq = exchanges.map { it.long("seq") }.max() ?: 0L
                val pendings = HashMap<Long, PendingRequest>()
                for (s in 1..maxSeq) {
                    val x = exchanges.firstOrNull { it.long("seq") == s }
                    if (x != null) {
                        val (pending, env) = client.sealRequest(x.bytes("ctx"), x.bytes("request"), now)
                        assertEquals(x.str("request_envelope"), toHex(env), "$name request $s")
                        pendings[s] = pending
                    } else {
                        client.sealRequest(ByteArray(0), ByteArray(0), now)
                    }
                }
                // The server opens and answers in the listed order; the client opens the answers.
                for (x in exchanges) {
                    val req = session.openRequest(x.bytes("ctx"), x.bytes("request_envelope"), now)
                    assertEquals(x.long("seq"), req.seq)
                    assertArrayEquals(x.bytes("request"), req.body)
                    val resp = session.sealResponse(req, x.bytes("ctx"), x.bytes("response"))
                    assertEquals(x.str("response_envelope"), toHex(resp), "$name response ${x.long("seq")}")
                    val body = client.openResponse(pendings.getValue(x.long("seq")), x.bytes("ctx"), x.bytes("response_envelope"))
                    assertArrayEquals(x.bytes("response"), body)
                    nx++
                }

                // A second client session with requests 1..max outstanding, for response negatives.
                val maxNeg = negatives.filter { it.str("stage") == "response" }.map { it.long("seq") }.max() ?: 0L
                val client2 = start().use { it.finish(c.bytes("kxr_envelope"), now) }
                for (s in 1..maxNeg) client2.sealRequest(ByteArray(0), ByteArray(0), now)

                for (g in negatives) {
                    val expected = Status.values().first { it.wireName == g.str("error") }
                    val what = name + "/" + g.str("stage") + "/" + g.str("kind")
                    val e = try {
                        when (g.str("stage")) {
                            "kx" -> server.accept(g.bytes("envelope"), now).close()
                            "kxr" -> start().use { h -> h.finish(g.bytes("envelope"), now).close() }
                            "request" -> session.openRequest(g.bytes("ctx"), g.bytes("envelope"), now)
                            "response" -> client2.openResponse(PendingRequest(g.long("seq")), g.bytes("ctx"), g.bytes("envelope"))
                            else -> throw AssertionError("unknown stage $what")
                        }
                        null
                    } catch (x: Scv2Exception) {
                        x
                    }
                    assertEquals(expected, e?.status, what)
                    nn++
                }
                client2.close()
                client.close()
                session.close()
            }
        }
        return kotlin.Pair(nx, nn)
    }
}
