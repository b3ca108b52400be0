import CScv2
import Foundation
import SecureChannel
import XCTest

final class ExchangeTests: XCTestCase {
    func testVersionAndBackend() {
        XCTAssertEqual(Scv2.version, SCV2_VERSION_STRING)
        XCTAssertEqual(Scv2.abiVersion, 1)
        XCTAssertEqual(Scv2.maxOutstanding, 1024)
        XCTAssertTrue(["rustcrypto", "aws-lc"].contains(Scv2.backend), Scv2.backend)
        XCTAssertEqual(Scv2.statusName(0), "ok")
    }

    /// Handshake step by step, then many requests and responses of varied sizes.
    func testFullExchange() throws {
        for padding in [1, 64, 256] {
            let server = try Server(paddingBlock: padding, replayWindow: 1024)
            try server.generateKey(id: KEY_ID, createdAtMs: NOW)
            let publicKey = try server.publicKey(id: KEY_ID)
            XCTAssertEqual(publicKey.count, 32)
            let config = try ClientConfig(paddingBlock: padding)
            try config.pin(keyId: KEY_ID, publicKey: publicKey)

            let payload = Data(#"{"device":"ios"}"#.utf8)
            let (handshake, type1) = try ClientHandshake.start(config: config, keyId: KEY_ID, payload: payload)
            XCTAssertEqual(type1.count, scv2_type1_len(KEY_ID.utf8.count, payload.count, padding))
            let accepted = try server.accept(type1, nowMs: NOW)
            XCTAssertEqual(try accepted.payload, payload)
            XCTAssertEqual(try accepted.keyId, KEY_ID)
            let (session, type130) = try accepted.respond(sessionId: "session-1", expiresAtMs: EXPIRES,
                                                          appPayload: Data("app".utf8))
            XCTAssertEqual(type130.count, scv2_type130_len(9, 3, padding))
            let client = try handshake.finish(type130, nowMs: NOW)

            XCTAssertEqual(client.id, "session-1")
            XCTAssertEqual(session.id, "session-1")
            XCTAssertEqual(client.appPayload, Data("app".utf8))
            XCTAssertEqual(client.expiresAtMs, EXPIRES)
            XCTAssertEqual(session.expiresAtMs, EXPIRES)

            for i in 0..<120 {
                let body = Data((0..<(i * 7 % 300)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) })
                let answer = Array("{\"success\":true,\"n\":\(i)}".utf8) // [UInt8] in
                let (request, envelope) = try client.sealRequest(ctx: CTX, body: body, nowMs: NOW)
                XCTAssertEqual(request.sequence, UInt64(i + 1))
                XCTAssertEqual(envelope.count, client.sealedLength(bodyCount: body.count))
                XCTAssertEqual(envelope.count, Scv2.sealedLength(bodyCount: body.count, paddingBlock: padding))
                let (received, plain) = try session.openRequest(ctx: CTX, body: envelope, nowMs: NOW)
                XCTAssertEqual(received.sequence, request.sequence)
                XCTAssertEqual(plain, body)
                let response = try session.sealResponse(received, ctx: CTX, body: answer)
                XCTAssertEqual(response.count, session.sealedLength(bodyCount: answer.count))
                XCTAssertEqual(try client.openResponse(request, ctx: CTX, body: response), Data(answer))
            }
        }
    }

    /// Empty ctx and body, [UInt8] envelopes, a library-generated session id.
    func testEmptyBodiesAndGeneratedSessionId() throws {
        let p = try makePair()
        XCTAssertEqual(p.client.id.utf8.count, 22)
        XCTAssertEqual(p.client.id, p.session.id)
        let (request, envelope) = try p.client.sealRequest(ctx: "", body: [UInt8](), nowMs: NOW)
        let (received, plain) = try p.session.openRequest(ctx: "", body: [UInt8](envelope), nowMs: NOW)
        XCTAssertTrue(plain.isEmpty)
        let response = try p.session.sealResponse(received, ctx: [UInt8](), body: Data())
        XCTAssertEqual(try p.client.openResponse(request, ctx: "", body: [UInt8](response)), Data())
    }

    /// Pinning from the key document's base64 SPKI gives a working session.
    func testPinSpkiBase64() throws {
        let server = try Server()
        try server.generateKey(id: KEY_ID)
        // X25519 SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { OID 1.3.101.110 } BIT STRING key }.
        let spki = Data([0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x6E, 0x03, 0x21, 0x00]) + (try server.publicKey(id: KEY_ID))
        let config = try ClientConfig()
        try config.pin(keyId: KEY_ID, spkiBase64: spki.base64EncodedString())
        let (handshake, type1) = try ClientHandshake.start(config: config, keyId: KEY_ID)
        let (session, type130) = try server.accept(type1).respond(expiresAtMs: Scv2.nowMs() + 60_000)
        let client = try handshake.finish(type130)
        let (request, envelope) = try client.sealRequest(ctx: CTX, body: Data("hi".utf8))
        let (received, plain) = try session.openRequest(ctx: CTX, body: envelope)
        XCTAssertEqual(plain, Data("hi".utf8))
        XCTAssertEqual(try client.openResponse(request, ctx: CTX, body: try session.sealResponse(received, ctx: CTX, body: plain)), plain)
    }

    /// Server key rotation: a fixed private key gives the same public key; removed keys are unknown.
    func testServerKeys() throws {
        let server = try Server()
        let sk = Data((1...32).map { UInt8($0) })
        try server.addKey(id: "fixed", privateKey: sk, createdAtMs: NOW)
        let pk1 = try server.publicKey(id: "fixed")
        let other = try Server()
        try other.addKey(id: "again", privateKey: [UInt8](sk))
        XCTAssertEqual(try other.publicKey(id: "again"), pk1)
        try server.removeKey(id: "fixed")
        assertThrows(.unknownKeyId, try server.publicKey(id: "fixed"))
    }
}
