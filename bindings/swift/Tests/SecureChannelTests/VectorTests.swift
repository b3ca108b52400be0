// The checked-in test vectors (tests/vectors/scv2-x25519.json of the repository) rebuilt byte for
// byte through the Swift API and the test-vector entry points, and every negative case checked for
// its expected error (the same procedure as tests/c/vectors.c).
import CScv2
import Foundation
@testable import SecureChannel
import XCTest

struct VectorCase {
    struct Exchange {
        let seq: UInt64
        let ctx, request, requestEnvelope, response, responseEnvelope: Data
    }

    struct Negative {
        let kind, stage, error: String
        let seq: UInt64
        let ctx, envelope: Data
    }

    let name, keyId, sessionId: String
    let serverStaticPrivate, serverStaticPublic, clientEphemeralPrivate, serverEphemeralPrivate, iv1: Data
    let kxPayload, kxEnvelope, kxrPayload, kxrEnvelope: Data
    let paddingBlock: Int
    let expiresAtMs, nowMs: UInt64
    let exchanges: [Exchange]
    let negatives: [Negative]
}

enum VectorFile {
    struct Malformed: Error, CustomStringConvertible { let description: String }

    /// SCV2_VECTORS_JSON, or tests/vectors/scv2-x25519.json of the repository this file is in.
    static var url: URL {
        if let path = ProcessInfo.processInfo.environment["SCV2_VECTORS_JSON"] { return URL(fileURLWithPath: path) }
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<5 { root.deleteLastPathComponent() } // SecureChannelTests, Tests, swift, bindings
        return root.appendingPathComponent("tests/vectors/scv2-x25519.json")
    }

    static func load() throws -> [VectorCase] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        guard let doc = json as? [String: Any], let cases = doc["cases"] as? [[String: Any]] else {
            throw Malformed(description: "no cases in \(url.path)")
        }
        guard doc["suite"] as? String == "X25519-HKDF-SHA256-AES-256-GCM" else {
            throw Malformed(description: "unexpected suite \(doc["suite"] ?? "nil")")
        }
        return try cases.map(parse)
    }

    private static func str(_ d: [String: Any], _ k: String) throws -> String {
        guard let v = d[k] as? String else { throw Malformed(description: "field \(k) missing or not a string") }
        return v
    }

    private static func hex(_ d: [String: Any], _ k: String) throws -> Data {
        guard let v = Data(hex: try str(d, k)) else { throw Malformed(description: "field \(k) is not hex") }
        return v
    }

    private static func int(_ d: [String: Any], _ k: String) throws -> UInt64 {
        guard let n = d[k] as? NSNumber else { throw Malformed(description: "field \(k) missing or not a number") }
        return n.uint64Value
    }

    private static func parse(_ c: [String: Any]) throws -> VectorCase {
        guard let xs = c["exchanges"] as? [[String: Any]], let ns = c["negative"] as? [[String: Any]] else {
            throw Malformed(description: "exchanges/negative missing")
        }
        return VectorCase(
            name: try str(c, "name"), keyId: try str(c, "key_id"), sessionId: try str(c, "session_id"),
            serverStaticPrivate: try hex(c, "server_static_private"), serverStaticPublic: try hex(c, "server_static_public"),
            clientEphemeralPrivate: try hex(c, "client_ephemeral_private"),
            serverEphemeralPrivate: try hex(c, "server_ephemeral_private"), iv1: try hex(c, "iv1"),
            kxPayload: try hex(c, "kx_payload"), kxEnvelope: try hex(c, "kx_envelope"),
            kxrPayload: try hex(c, "kxr_payload"), kxrEnvelope: try hex(c, "kxr_envelope"),
            paddingBlock: Int(try int(c, "padding_block")), expiresAtMs: try int(c, "expires_at_ms"),
            nowMs: try int(c, "now_ms"),
            exchanges: try xs.map {
                VectorCase.Exchange(seq: try int($0, "seq"), ctx: try hex($0, "ctx"), request: try hex($0, "request"),
                                    requestEnvelope: try hex($0, "request_envelope"), response: try hex($0, "response"),
                                    responseEnvelope: try hex($0, "response_envelope"))
            },
            negatives: try ns.map {
                VectorCase.Negative(kind: try str($0, "kind"), stage: try str($0, "stage"), error: try str($0, "error"),
                                    seq: try int($0, "seq"), ctx: try hex($0, "ctx"), envelope: try hex($0, "envelope"))
            })
    }
}

final class VectorTests: XCTestCase {
    func testAllVectorsByteForByte() throws {
        let cases = try VectorFile.load()
        XCTAssertEqual(cases.count, 8, "the checked-in file has 8 cases")
        var exchanges = 0, negatives = 0
        for c in cases {
            // One case failing (mismatch or unexpected throw) does not hide the others.
            do { try run(c) } catch { XCTFail("\(c.name): unexpected error \(error)") }
            exchanges += c.exchanges.count
            negatives += c.negatives.count
        }
        XCTAssertGreaterThan(exchanges, 0)
        XCTAssertGreaterThan(negatives, 0)
        print("vectors: \(cases.count) cases, \(exchanges) exchanges, \(negatives) negative cases")
    }

    private func run(_ c: VectorCase, file: StaticString = #filePath, line: UInt = #line) throws {
        let server = try Server(paddingBlock: c.paddingBlock)
        try server.addKey(id: c.keyId, privateKey: c.serverStaticPrivate, createdAtMs: 0, expiresAtMs: 0)
        XCTAssertEqual(try server.publicKey(id: c.keyId), c.serverStaticPublic, c.name)
        let config = try ClientConfig(paddingBlock: c.paddingBlock)
        try config.pin(keyId: c.keyId, publicKey: c.serverStaticPublic)

        // Handshake.
        func start() throws -> (handshake: ClientHandshake, body: Data) {
            try ClientHandshake.startForTestVectors(config: config, keyId: c.keyId, payload: c.kxPayload,
                                                    ephemeralPrivate: c.clientEphemeralPrivate, iv1: c.iv1)
        }
        let (handshake, type1) = try start()
        XCTAssertEqual(type1.hex, c.kxEnvelope.hex, "\(c.name): type 1")
        let accepted = try server.accept(c.kxEnvelope, nowMs: c.nowMs)
        XCTAssertEqual(try accepted.payload, c.kxPayload, c.name)
        XCTAssertEqual(try accepted.keyId, c.keyId, c.name)
        let (session, type130) = try accepted.respondForTestVectors(
            sessionId: c.sessionId, expiresAtMs: c.expiresAtMs, appPayload: c.kxrPayload, ephemeralPrivate: c.serverEphemeralPrivate)
        XCTAssertEqual(type130.hex, c.kxrEnvelope.hex, "\(c.name): type 130")
        let client = try handshake.finish(c.kxrEnvelope, nowMs: c.nowMs)
        XCTAssertEqual(client.appPayload, c.kxrPayload, c.name)
        XCTAssertEqual(client.id, c.sessionId, c.name)
        XCTAssertEqual(session.id, c.sessionId, c.name)
        XCTAssertEqual(client.expiresAtMs, c.expiresAtMs, c.name)

        // The client seals in increasing seq order (an empty filler for a seq not listed).
        let maxSeq = c.exchanges.map(\.seq).max() ?? 0
        if maxSeq > 0 {
            for s in 1...maxSeq {
                if let x = c.exchanges.first(where: { $0.seq == s }) {
                    let (request, envelope) = try client.sealRequest(ctx: x.ctx, body: x.request, nowMs: c.nowMs)
                    XCTAssertEqual(request.sequence, s, c.name)
                    XCTAssertEqual(envelope.hex, x.requestEnvelope.hex, "\(c.name): request \(s)")
                } else {
                    XCTAssertEqual(try client.sealRequest(ctx: Data(), body: Data(), nowMs: c.nowMs).request.sequence, s)
                }
            }
        }
        // The server opens and answers in the listed order; the client opens the answers.
        for x in c.exchanges {
            let (received, plain) = try session.openRequest(ctx: x.ctx, body: x.requestEnvelope, nowMs: c.nowMs)
            XCTAssertEqual(received.sequence, x.seq, c.name)
            XCTAssertEqual(plain, x.request, "\(c.name): request \(x.seq) body")
            let response = try session.sealResponse(received, ctx: x.ctx, body: x.response)
            XCTAssertEqual(response.hex, x.responseEnvelope.hex, "\(c.name): response \(x.seq)")
            XCTAssertEqual(try client.openResponse(PendingRequest(sequence: x.seq), ctx: x.ctx, body: x.responseEnvelope),
                           x.response, "\(c.name): response \(x.seq) body")
        }

        // A second client session (same handshake inputs) with requests 1...maxNeg outstanding, for
        // the response-stage negatives.
        let maxNeg = c.negatives.filter { $0.stage == "response" }.map(\.seq).max() ?? 0
        var client2: ClientSession?
        if maxNeg > 0 {
            let second = try start().handshake.finish(c.kxrEnvelope, nowMs: c.nowMs)
            for _ in 1...maxNeg { _ = try second.sealRequest(ctx: Data(), body: Data(), nowMs: c.nowMs) }
            client2 = second
        }

        let byName = Dictionary(uniqueKeysWithValues: Scv2Error.allKnown.map { ($0.name, $0) })
        XCTAssertFalse(c.negatives.isEmpty, c.name)
        for g in c.negatives {
            guard let expected = byName[g.error] else {
                XCTFail("\(c.name)/\(g.kind): unknown error name \(g.error)")
                continue
            }
            let label = "\(c.name)/\(g.stage)/\(g.kind)"
            switch g.stage {
            case "kx":
                assertThrows(expected, try server.accept(g.envelope, nowMs: c.nowMs), file: file, line: line)
            case "kxr":
                let h = try start().handshake
                assertThrows(expected, try h.finish(g.envelope, nowMs: c.nowMs), file: file, line: line)
            case "request":
                assertThrows(expected, try session.openRequest(ctx: g.ctx, body: g.envelope, nowMs: c.nowMs), file: file, line: line)
            case "response":
                guard let client2 else { XCTFail("\(label): no second session"); continue }
                assertThrows(expected, try client2.openResponse(PendingRequest(sequence: g.seq), ctx: g.ctx, body: g.envelope),
                             file: file, line: line)
            default:
                XCTFail("\(label): unknown stage")
            }
        }
    }
}
