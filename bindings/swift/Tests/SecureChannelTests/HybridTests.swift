// The hybrid suite X25519MLKEM768-HKDF-SHA256-AES-256-GCM (SPEC.md section 15) through the Swift
// API: the suite numbers and names, the size helpers, one live exchange with a hybrid key next to
// an X25519 one, the document form of a pin, the wrong-suite refusals, and the client side of
// tests/vectors/scv2-x25519mlkem768.json byte for byte.
import CScv2
import Foundation
@testable import SecureChannel
import XCTest

final class HybridTests: XCTestCase {
    let pq = "k-2026-pq"
    let x = "k-2026-x"

    func testSuiteNumbersAndNames() throws {
        XCTAssertEqual(Suite.allCases, [.x25519, .x25519MLKEM768])
        XCTAssertEqual(Suite.x25519.id, UInt32(SCV2_SUITE_X25519))
        XCTAssertEqual(Suite.x25519MLKEM768.id, UInt32(SCV2_SUITE_X25519MLKEM768))
        for s in Suite.allCases {
            XCTAssertEqual(s.rawValue, s.id)
            XCTAssertEqual(Suite(id: s.id), s)
            XCTAssertEqual(Suite(algorithm: s.algorithm), s)
        }
        XCTAssertNil(Suite(id: 0))
        XCTAssertNil(Suite(id: 3))
        XCTAssertNil(Suite(algorithm: "x25519mlkem768-hkdf-sha256-aes-256-gcm"))
        XCTAssertEqual(try HybridVectors.load().suite, Suite.x25519MLKEM768.algorithm)
    }

    func testSizeHelpers() {
        XCTAssertEqual(Suite.x25519.publicKeyLength, 32)
        XCTAssertEqual(Suite.x25519.privateKeyLength, 32)
        XCTAssertEqual(Suite.x25519MLKEM768.publicKeyLength, 1216)
        XCTAssertEqual(Suite.x25519MLKEM768.privateKeyLength, 96)
        // SPEC 15.7: 2414 bytes for a 9-byte keyId and "{}" with block 64; 1216 for a 22-byte sid.
        XCTAssertEqual(Suite.x25519MLKEM768.type1Length(keyIdCount: 9, payloadCount: 2, paddingBlock: 64), 2414)
        XCTAssertEqual(Suite.x25519MLKEM768.type130Length(sessionIdCount: 22, appPayloadCount: 0, paddingBlock: 64), 1216)
        XCTAssertEqual(Suite.x25519.type1Length(keyIdCount: 9, payloadCount: 2, paddingBlock: 64), scv2_type1_len(9, 2, 64))
        XCTAssertNil(Suite.x25519MLKEM768.type1Length(keyIdCount: 0, payloadCount: 2))
        XCTAssertNil(Suite.x25519MLKEM768.type1Length(keyIdCount: 9, payloadCount: -1))
        XCTAssertNil(Suite.x25519MLKEM768.type1Length(keyIdCount: 9, payloadCount: 2, paddingBlock: 0))
        XCTAssertNil(Suite.x25519MLKEM768.type130Length(sessionIdCount: 65, appPayloadCount: 0))
    }

    /// One exchange with `keyId` pinned in `config`, its envelope sizes checked against the helpers.
    private func exchange(_ server: Server, _ config: ClientConfig, keyId: String) throws {
        let suite = try server.suite(ofKey: keyId)
        let payload = Data(#"{"platform":"swift"}"#.utf8)
        let (handshake, type1) = try ClientHandshake.start(config: config, keyId: keyId, payload: payload)
        XCTAssertEqual(type1.count, suite.type1Length(keyIdCount: keyId.utf8.count, payloadCount: payload.count))
        let accepted = try server.accept(type1, nowMs: NOW)
        XCTAssertEqual(try accepted.payload, payload)
        XCTAssertEqual(try accepted.keyId, keyId)
        let (session, type130) = try accepted.respond(sessionId: "sid-hybrid-1", expiresAtMs: EXPIRES,
                                                      appPayload: Data("app".utf8))
        XCTAssertEqual(type130.count, suite.type130Length(sessionIdCount: 12, appPayloadCount: 3))
        let client = try handshake.finish(type130, nowMs: NOW)
        XCTAssertEqual(client.id, "sid-hybrid-1")
        XCTAssertEqual(client.appPayload, Data("app".utf8))
        let body = Data(#"{"password":"Quantum-Res1stant!"}"#.utf8)
        let (request, envelope) = try client.sealRequest(ctx: CTX, body: body, nowMs: NOW)
        let (received, plain) = try session.openRequest(ctx: CTX, body: envelope, nowMs: NOW)
        XCTAssertEqual(plain, body)
        let answer = try session.sealResponse(received, ctx: CTX, body: Data(#"{"ok":true}"#.utf8))
        XCTAssertEqual(try client.openResponse(request, ctx: CTX, body: answer), Data(#"{"ok":true}"#.utf8))
    }

    func testHybridExchange() throws {
        let server = try Server(paddingBlock: 64)
        try server.generateKey(id: pq, suite: .x25519MLKEM768, createdAtMs: NOW)
        try server.generateKey(id: x, suite: .x25519, createdAtMs: NOW)
        XCTAssertEqual(try server.suite(ofKey: pq), .x25519MLKEM768)
        XCTAssertEqual(try server.suite(ofKey: x), .x25519)
        assertThrows(.unknownKeyId, try server.suite(ofKey: "nope"))
        let pub = try server.publicKey(id: pq)
        XCTAssertEqual(pub.count, 1216)
        XCTAssertEqual(try server.publicKey(id: x).count, 32)
        let config = try ClientConfig()
        try config.pin(keyId: pq, suite: .x25519MLKEM768, publicKey: pub)
        try config.pin(keyId: x, suite: .x25519, publicKey: try server.publicKey(id: x))
        try exchange(server, config, keyId: pq)
        try exchange(server, config, keyId: x)
    }

    func testDocumentFormPin() throws {
        let server = try Server(paddingBlock: 64)
        try server.generateKey(id: pq, suite: .x25519MLKEM768, createdAtMs: NOW)
        let b64 = try server.publicKey(id: pq).base64EncodedString()
        XCTAssertEqual(b64.count, 1624)
        let config = try ClientConfig()
        try config.pin(keyId: pq, algorithm: "X25519MLKEM768-HKDF-SHA256-AES-256-GCM", publicKeyBase64: b64)
        try exchange(server, config, keyId: pq)

        let other = try ClientConfig()
        assertThrows(.invalidArgument, try other.pin(keyId: pq, algorithm: "X25519MLKEM1024", publicKeyBase64: b64))
        assertThrows(.invalidPublicKey, try other.pin(keyId: pq, suite: .x25519, publicKeyBase64: b64))
        assertThrows(.invalidPublicKey, try other.pin(keyId: pq, suite: .x25519MLKEM768, publicKeyBase64: String(b64.prefix(1620))))
        assertThrows(.untrustedServerKey, try ClientHandshake.start(config: other, keyId: pq))
    }

    func testWrongSuiteIsRefused() throws {
        let server = try Server(paddingBlock: 64)
        try server.generateKey(id: pq, suite: .x25519MLKEM768, createdAtMs: NOW)
        try server.generateKey(id: x, suite: .x25519, createdAtMs: NOW)
        let pub = try server.publicKey(id: pq)
        let config = try ClientConfig()
        assertThrows(.invalidPublicKey, try config.pin(keyId: pq, suite: .x25519, publicKey: pub))
        assertThrows(.invalidPublicKey, try config.pin(keyId: pq, suite: .x25519MLKEM768, publicKey: try server.publicKey(id: x)))
        // ek_s failing FIPS 203's encapsulation-key check (first coefficient 4095).
        var bad = pub
        bad[0] = 0xff
        bad[1] |= 0x0f
        assertThrows(.invalidPublicKey, try config.pin(keyId: pq, suite: .x25519MLKEM768, publicKey: bad))
        // An X25519-suite type 1 sent to the hybrid key id: malformed for that key's suite.
        try config.pin(keyId: pq, suite: .x25519, publicKey: try server.publicKey(id: x))
        let (_, type1) = try ClientHandshake.start(config: config, keyId: pq, payload: Data("{}".utf8))
        assertThrows(.malformedEnvelope, try server.accept(type1, nowMs: NOW))
        // Private forms of the wrong length for the suite.
        assertThrows(.invalidArgument, try server.addKey(id: "k-short", suite: .x25519MLKEM768, privateKey: Data(count: 32)))
        assertThrows(.invalidArgument, try server.addKey(id: "k-long", suite: .x25519, privateKey: Data(count: 96)))
    }

    /// The client side of every hybrid vector case byte for byte (the type 1 from fixed `e`, ML-KEM
    /// seed, `m1` and `iv1`; the type 130 opened; the requests sealed; the responses opened), the
    /// server accepting the type 1 with the key loaded from its 96-byte private form, and the
    /// negative cases of the stages a client and `accept` see (kx, kxr, response). The request
    /// stage needs the vector's server session, which the C ABI cannot rebuild (no fixed `m2`).
    func testHybridVectorsClientSide() throws {
        let file = try HybridVectors.load()
        XCTAssertGreaterThanOrEqual(file.cases.count, 6)
        let byName = Dictionary(uniqueKeysWithValues: Scv2Error.allKnown.map { ($0.name, $0) })
        var negatives = 0
        for c in file.cases {
            let h = { (k: String) throws -> Data in
                guard let s = c[k] as? String, let d = Data(hex: s) else { throw VectorFile.Malformed(description: k) }
                return d
            }
            let n = { (k: String) -> UInt64 in (c[k] as? NSNumber)?.uint64Value ?? 0 }
            let name = c["name"] as? String ?? "?"
            let keyId = c["key_id"] as? String ?? ""
            let block = Int(n("padding_block"))
            let nowMs = n("now_ms")
            let server = try Server(paddingBlock: block)
            try server.addKey(id: keyId, suite: .x25519MLKEM768, privateKey: try h("server_static_private") + h("server_mlkem_seed"),
                              createdAtMs: 0)
            XCTAssertEqual(try server.publicKey(id: keyId), try h("server_static_public"), name)
            let config = try ClientConfig(paddingBlock: block)
            try config.pin(keyId: keyId, suite: .x25519MLKEM768, publicKey: try h("server_static_public"))
            func start() throws -> ClientHandshake {
                let (hs, type1) = try ClientHandshake.startHybridForTestVectors(
                    config: config, keyId: keyId, payload: try h("kx_payload"), ephemeralPrivate: try h("client_ephemeral_private"),
                    mlkemSeed: try h("client_mlkem_seed"), encapsRandomness: try h("encaps_randomness_1"), iv1: try h("iv1"))
                XCTAssertEqual(type1.hex, try h("kx_envelope").hex, "\(name): type 1")
                return hs
            }
            let accepted = try server.accept(try h("kx_envelope"), nowMs: nowMs)
            XCTAssertEqual(try accepted.payload, try h("kx_payload"), name)
            let client = try start().finish(try h("kxr_envelope"), nowMs: nowMs)
            XCTAssertEqual(client.id, c["session_id"] as? String, name)
            XCTAssertEqual(client.appPayload, try h("kxr_payload"), name)
            XCTAssertEqual(client.expiresAtMs, n("expires_at_ms"), name)
            let xs = c["exchanges"] as? [[String: Any]] ?? []
            XCTAssertFalse(xs.isEmpty, name)
            let seqOf = { (x: [String: Any]) -> UInt64 in (x["seq"] as? NSNumber)?.uint64Value ?? 0 }
            let hx = { (x: [String: Any], k: String) -> Data in Data(hex: x[k] as? String ?? "") ?? Data() }
            let maxSeq = xs.map(seqOf).max() ?? 0
            if maxSeq > 0 {
                for s in 1...maxSeq {
                    if let e = xs.first(where: { seqOf($0) == s }) {
                        let (request, envelope) = try client.sealRequest(ctx: hx(e, "ctx"), body: hx(e, "request"), nowMs: nowMs)
                        XCTAssertEqual(request.sequence, s, name)
                        XCTAssertEqual(envelope.hex, hx(e, "request_envelope").hex, "\(name): request \(s)")
                    } else {
                        XCTAssertEqual(try client.sealRequest(ctx: Data(), body: Data(), nowMs: nowMs).request.sequence, s)
                    }
                }
            }
            for e in xs {
                XCTAssertEqual(try client.openResponse(PendingRequest(sequence: seqOf(e)), ctx: hx(e, "ctx"),
                                                       body: hx(e, "response_envelope")), hx(e, "response"), name)
            }
            for g in c["negative"] as? [[String: Any]] ?? [] {
                guard let expected = byName[g["error"] as? String ?? ""] else {
                    XCTFail("\(name): unknown error name \(g["error"] ?? "nil")")
                    continue
                }
                let envelope = hx(g, "envelope")
                switch g["stage"] as? String {
                case "kx":
                    assertThrows(expected, try server.accept(envelope, nowMs: nowMs))
                case "kxr":
                    let hs = try start()
                    assertThrows(expected, try hs.finish(envelope, nowMs: nowMs))
                case "response":
                    let second = try start().finish(try h("kxr_envelope"), nowMs: nowMs)
                    for _ in 0..<seqOf(g) { _ = try second.sealRequest(ctx: Data(), body: Data(), nowMs: nowMs) }
                    assertThrows(expected, try second.openResponse(PendingRequest(sequence: seqOf(g)), ctx: hx(g, "ctx"), body: envelope))
                default:
                    continue
                }
                negatives += 1
            }
        }
        print("hybrid vectors: \(file.cases.count) cases, \(negatives) negative cases (client and accept stages)")
        XCTAssertGreaterThanOrEqual(negatives, 10)
    }
}

/// tests/vectors/scv2-x25519mlkem768.json of the repository (beside the X25519 file).
enum HybridVectors {
    static func load() throws -> (suite: String, cases: [[String: Any]]) {
        let url = VectorFile.url.deletingLastPathComponent().appendingPathComponent("scv2-x25519mlkem768.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        guard let doc = json as? [String: Any], let cases = doc["cases"] as? [[String: Any]],
              let suite = doc["suite"] as? String
        else { throw VectorFile.Malformed(description: "no cases in \(url.path)") }
        return (suite, cases)
    }
}
