// Every status code of the C ABI maps to its Scv2Error case, and every error path reachable through
// the Swift API throws the right case. Not reachable through this API: SCV2_SESSION_EXHAUSTED
// (2^32 requests on one session), SCV2_INTERNAL (RNG failure, panic) and SCV2_BUFFER_TOO_SMALL
// (the API sizes every buffer exactly; it is produced here through the internal buffer helper).
import CScv2
import Foundation
@testable import SecureChannel
import XCTest

final class ErrorTests: XCTestCase {
    func testEveryStatusCodeMaps() {
        let expected: [(UInt32, Scv2Error, String)] = [
            (1, .malformedEnvelope, "malformed_envelope"), (2, .unsupportedVersion, "unsupported_version"),
            (3, .unknownType, "unknown_type"), (4, .unknownKeyId, "unknown_key_id"),
            (5, .untrustedServerKey, "untrusted_server_key"), (6, .invalidPublicKey, "invalid_public_key"),
            (7, .decryptionFailed, "decryption_failed"), (8, .replayed, "replayed"),
            (9, .sessionExpired, "session_expired"), (10, .sessionExhausted, "session_exhausted"),
            (11, .responseMismatch, "response_mismatch"), (12, .bufferTooSmall, "buffer_too_small"),
            (13, .payloadTooLarge, "payload_too_large"), (14, .invalidArgument, "invalid_argument"),
            (15, .invalidState, "invalid_state"), (255, .internal, "internal"),
        ]
        XCTAssertEqual(expected.map(\.1), Scv2Error.allKnown)
        for (code, error, name) in expected {
            XCTAssertEqual(Scv2Error(code: code), error)
            XCTAssertEqual(error.code, code)
            XCTAssertEqual(error.name, name)
            XCTAssertEqual(Scv2.statusName(code), name, "scv2_status_str(\(code))")
        }
        for code: UInt32 in [16, 17, 100, 254, 256, 1000, UInt32.max] {
            XCTAssertEqual(Scv2Error(code: code), .unknown(code))
            XCTAssertEqual(Scv2Error.unknown(code).code, code)
            XCTAssertEqual(Scv2Error(code: code).name, "unknown")
        }
        // Every code the C library names is a known case.
        for code: UInt32 in 1...300 where Scv2.statusName(code) != "unknown" {
            XCTAssertNotEqual(Scv2Error(code: code), .unknown(code), "code \(code) (\(Scv2.statusName(code))) unmapped")
        }
        XCTAssertEqual(Scv2Error.decryptionFailed.description, "scv2 error 7 (decryption_failed)")
    }

    func testMalformedEnvelope() throws {
        let p = try makePair()
        let (request, envelope) = try p.client.sealRequest(ctx: CTX, body: Data("x".utf8), nowMs: NOW)
        assertThrows(.malformedEnvelope, try p.session.openRequest(ctx: CTX, body: envelope.prefix(20), nowMs: NOW))
        assertThrows(.malformedEnvelope, try p.session.openRequest(ctx: CTX, body: Data(), nowMs: NOW))
        assertThrows(.malformedEnvelope, try p.server.accept(Data([0x53, 0x43, 0x02]), nowMs: NOW))
        // A request at the response entry point.
        assertThrows(.malformedEnvelope, try p.client.openResponse(request, ctx: CTX, body: envelope))
    }

    func testUnsupportedVersionAndUnknownType() throws {
        let p = try makePair()
        let (_, type1) = try ClientHandshake.start(config: p.config, keyId: KEY_ID)
        var bad = type1
        bad[bad.startIndex + 2] = 0x03
        assertThrows(.unsupportedVersion, try p.server.accept(bad, nowMs: NOW))
        bad = type1
        bad[bad.startIndex + 3] = 0x7F
        assertThrows(.unknownType, try p.server.accept(bad, nowMs: NOW))

        let (_, envelope) = try p.client.sealRequest(ctx: CTX, body: Data("x".utf8), nowMs: NOW)
        bad = envelope
        bad[bad.startIndex + 2] = 0x01
        assertThrows(.unsupportedVersion, try p.session.openRequest(ctx: CTX, body: bad, nowMs: NOW))
        bad = envelope
        bad[bad.startIndex + 3] = 0x7F
        assertThrows(.unknownType, try p.session.openRequest(ctx: CTX, body: bad, nowMs: NOW))
    }

    func testUnknownKeyId() throws {
        let p = try makePair()
        assertThrows(.unknownKeyId, try p.server.removeKey(id: "nope"))
        assertThrows(.unknownKeyId, try p.server.publicKey(id: "nope"))
        let (_, type1) = try ClientHandshake.start(config: p.config, keyId: KEY_ID)
        try p.server.removeKey(id: KEY_ID)
        assertThrows(.unknownKeyId, try p.server.accept(type1, nowMs: NOW))
        // A key that expired.
        let server = try Server()
        try server.generateKey(id: "short", createdAtMs: NOW, expiresAtMs: NOW + 10)
        let config = try ClientConfig(pinnedKeys: ["short": try server.publicKey(id: "short")])
        let (_, hello) = try ClientHandshake.start(config: config, keyId: "short")
        XCTAssertNoThrow(try server.accept(hello, nowMs: NOW))
        assertThrows(.unknownKeyId, try server.accept(hello, nowMs: NOW + 10))
    }

    func testUntrustedServerKey() throws {
        let p = try makePair()
        assertThrows(.untrustedServerKey, try ClientHandshake.start(config: p.config, keyId: "not-pinned"))
        assertThrows(.untrustedServerKey, try ClientHandshake.start(config: try ClientConfig(), keyId: KEY_ID))
    }

    func testInvalidPublicKey() throws {
        let config = try ClientConfig()
        assertThrows(.invalidPublicKey, try config.pin(keyId: "k", spkiBase64: "AAAA"))
        // A type 1 whose ephemeral public key is all zeros (X25519 gives the all-zero secret).
        let p = try makePair()
        let (_, type1) = try ClientHandshake.start(config: p.config, keyId: KEY_ID)
        var bad = type1
        let offset = 4 + 1 + KEY_ID.utf8.count + 2 // header, key id length and bytes, key length
        XCTAssertEqual(bad[offset - 2], 0x00)
        XCTAssertEqual(bad[offset - 1], 0x20)
        bad.replaceSubrange(offset..<offset + 32, with: Data(count: 32))
        assertThrows(.invalidPublicKey, try p.server.accept(bad, nowMs: NOW))
    }

    func testDecryptionFailed() throws {
        let p = try makePair()
        let (request, envelope) = try p.client.sealRequest(ctx: CTX, body: Data("secret".utf8), nowMs: NOW)
        var flipped = envelope
        flipped[flipped.count - 3] ^= 0x01
        assertThrows(.decryptionFailed, try p.session.openRequest(ctx: CTX, body: flipped, nowMs: NOW))
        assertThrows(.decryptionFailed, try p.session.openRequest(ctx: "POST /other", body: envelope, nowMs: NOW))
        assertThrows(.decryptionFailed, try p.session.openRequest(ctx: CTX, body: envelope.dropLast(), nowMs: NOW))
        let (received, _) = try p.session.openRequest(ctx: CTX, body: envelope, nowMs: NOW)
        let response = try p.session.sealResponse(received, ctx: CTX, body: Data("{}".utf8))
        flipped = response
        flipped[flipped.count - 1] ^= 0x01
        assertThrows(.decryptionFailed, try p.client.openResponse(request, ctx: CTX, body: flipped))
        assertThrows(.decryptionFailed, try p.client.openResponse(request, ctx: "GET /x", body: response))
        // The failures left the request pending: the right envelope still opens.
        XCTAssertEqual(try p.client.openResponse(request, ctx: CTX, body: response), Data("{}".utf8))

        // A bit-flipped type 130 at finish.
        let (handshake, type1) = try ClientHandshake.start(config: p.config, keyId: KEY_ID)
        var type130 = try p.server.accept(type1, nowMs: NOW).respond(expiresAtMs: EXPIRES).body
        type130[type130.count / 2] ^= 0x40
        assertThrows(.decryptionFailed, try handshake.finish(type130, nowMs: NOW))
    }

    func testReplayed() throws {
        let p = try makePair()
        let (_, envelope) = try p.client.sealRequest(ctx: CTX, body: Data("once".utf8), nowMs: NOW)
        XCTAssertNoThrow(try p.session.openRequest(ctx: CTX, body: envelope, nowMs: NOW))
        assertThrows(.replayed, try p.session.openRequest(ctx: CTX, body: envelope, nowMs: NOW))
    }

    func testSessionExpired() throws {
        let p = try makePair(expiresAtMs: NOW + 10)
        assertThrows(.sessionExpired, try p.client.sealRequest(ctx: CTX, body: Data("x".utf8), nowMs: NOW + 10))
        let (request, envelope) = try p.client.sealRequest(ctx: CTX, body: Data("x".utf8), nowMs: NOW + 9)
        assertThrows(.sessionExpired, try p.session.openRequest(ctx: CTX, body: envelope, nowMs: NOW + 10))
        let (received, _) = try p.session.openRequest(ctx: CTX, body: envelope, nowMs: NOW + 9)
        // Expiry is not checked for responses: an accepted request always gets its answer.
        let response = try p.session.sealResponse(received, ctx: CTX, body: Data("late".utf8))
        XCTAssertEqual(try p.client.openResponse(request, ctx: CTX, body: response), Data("late".utf8))
        // A type 130 finished at or after the session's expiry.
        let (handshake, type1) = try ClientHandshake.start(config: p.config, keyId: KEY_ID)
        let type130 = try p.server.accept(type1, nowMs: NOW).respond(expiresAtMs: NOW + 10).body
        assertThrows(.sessionExpired, try handshake.finish(type130, nowMs: NOW + 10))
    }

    func testResponseMismatch() throws {
        let p = try makePair()
        let (r2, e2) = try p.client.sealRequest(ctx: CTX, body: Data("a".utf8), nowMs: NOW)
        let (r3, e3) = try p.client.sealRequest(ctx: CTX, body: Data("b".utf8), nowMs: NOW)
        _ = try p.session.openRequest(ctx: CTX, body: e2, nowMs: NOW)
        let (t3, _) = try p.session.openRequest(ctx: CTX, body: e3, nowMs: NOW)
        let answer3 = try p.session.sealResponse(t3, ctx: CTX, body: Data("r3".utf8))
        assertThrows(.responseMismatch, try p.client.openResponse(r2, ctx: CTX, body: answer3))
        XCTAssertEqual(try p.client.openResponse(r3, ctx: CTX, body: answer3), Data("r3".utf8))
    }

    func testBufferTooSmallThroughTheBufferHelper() throws {
        let p = try makePair()
        // The API never under-sizes; the internal helper does report the C status when asked to.
        assertThrows(.bufferTooSmall, try withUTF8Bytes(KEY_ID) { kid, kidLen in
            try produce(capacity: 31) { scv2_server_public_key(p.server.handle, kid, kidLen, $0, $1, $2) }
        })
        XCTAssertEqual(try produceQueried { out, cap, len in
            withUTF8Bytes(KEY_ID) { scv2_server_public_key(p.server.handle, $0, $1, out, cap, len) }
        }, try p.server.publicKey(id: KEY_ID))
    }

    func testPayloadTooLarge() throws {
        let p = try makePair()
        let hugeCtx = String(repeating: "a", count: 70_000)
        assertThrows(.payloadTooLarge, try p.client.sealRequest(ctx: hugeCtx, body: Data("x".utf8), nowMs: NOW))
        let (_, envelope) = try p.client.sealRequest(ctx: CTX, body: Data("x".utf8), nowMs: NOW)
        assertThrows(.payloadTooLarge, try p.session.openRequest(ctx: hugeCtx, body: envelope, nowMs: NOW))
        assertThrows(.payloadTooLarge, try p.config.pin(keyId: "k", spkiBase64: String(repeating: "A", count: 1028)))
        assertThrows(.payloadTooLarge, try p.session.openRequest(ctx: CTX, body: Data(count: 2 << 20), nowMs: NOW))
    }

    func testInvalidArgument() throws {
        assertThrows(.invalidArgument, try ClientConfig(paddingBlock: 0))
        assertThrows(.invalidArgument, try ClientConfig(paddingBlock: 4097))
        assertThrows(.invalidArgument, try Server(paddingBlock: 4097))
        assertThrows(.invalidArgument, try Server(replayWindow: 65))
        let config = try ClientConfig()
        assertThrows(.invalidArgument, try config.pin(keyId: "bad id", publicKey: Data(count: 32)))
        assertThrows(.invalidArgument, try config.pin(keyId: "", publicKey: Data(count: 32)))
        assertThrows(.invalidArgument, try config.pin(keyId: "k", publicKey: Data(count: 31)))
        assertThrows(.invalidArgument, try config.pin(keyId: String(repeating: "k", count: 256), publicKey: Data(count: 32)))
        let p = try makePair()
        assertThrows(.invalidArgument, try p.server.addKey(id: KEY_ID, privateKey: Data(count: 32))) // already present
        assertThrows(.invalidArgument, try p.server.addKey(id: "k2", privateKey: Data(count: 31)))
        assertThrows(.invalidArgument, try p.server.generateKey(id: "bad id"))
        assertThrows(.invalidArgument, try ClientHandshake.start(config: p.config, keyId: ""))
        let (_, type1) = try ClientHandshake.start(config: p.config, keyId: KEY_ID)
        let accepted = try p.server.accept(type1, nowMs: NOW)
        assertThrows(.invalidArgument, try accepted.respond(sessionId: String(repeating: "s", count: 65), expiresAtMs: EXPIRES))
        assertThrows(.invalidArgument, try accepted.respond(sessionId: "bad id", expiresAtMs: EXPIRES))
        assertThrows(.invalidArgument, try accepted.respond(sessionId: "", expiresAtMs: EXPIRES))
        // Argument errors did not consume the accepted handshake.
        XCTAssertNoThrow(try accepted.respond(sessionId: "ok-id", expiresAtMs: EXPIRES))
    }

    func testInvalidState() throws {
        let p = try makePair()
        // A client handshake finishes once.
        let (handshake, type1) = try ClientHandshake.start(config: p.config, keyId: KEY_ID)
        let accepted = try p.server.accept(type1, nowMs: NOW)
        let (_, type130) = try accepted.respond(expiresAtMs: EXPIRES)
        XCTAssertNoThrow(try handshake.finish(type130, nowMs: NOW))
        assertThrows(.invalidState, try handshake.finish(type130, nowMs: NOW))
        // An accepted handshake responds once; its payload and key id are gone afterwards.
        assertThrows(.invalidState, try accepted.respond(expiresAtMs: EXPIRES))
        assertThrows(.invalidState, try accepted.payload)
        assertThrows(.invalidState, try accepted.keyId)

        // Responses: never opened, answered twice; opened twice, never sealed.
        let (request, envelope) = try p.client.sealRequest(ctx: CTX, body: Data("q".utf8), nowMs: NOW)
        let (received, _) = try p.session.openRequest(ctx: CTX, body: envelope, nowMs: NOW)
        assertThrows(.invalidState, try p.session.sealResponse(ReceivedRequest(sequence: 99), ctx: CTX, body: Data()))
        let response = try p.session.sealResponse(received, ctx: CTX, body: Data("r".utf8))
        assertThrows(.invalidState, try p.session.sealResponse(received, ctx: CTX, body: Data("r".utf8)))
        assertThrows(.invalidState, try p.client.openResponse(PendingRequest(sequence: 99), ctx: CTX, body: response))
        XCTAssertEqual(try p.client.openResponse(request, ctx: CTX, body: response), Data("r".utf8))
        assertThrows(.invalidState, try p.client.openResponse(request, ctx: CTX, body: response))

        // The table of outstanding requests is bounded: the 1025th unanswered request is refused.
        let q = try makePair()
        for _ in 0..<Scv2.maxOutstanding {
            _ = try q.client.sealRequest(ctx: CTX, body: Data(), nowMs: NOW)
        }
        assertThrows(.invalidState, try q.client.sealRequest(ctx: CTX, body: Data(), nowMs: NOW))
    }
}
