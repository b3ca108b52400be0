// Shared fixtures of the tests: a connected client/server pair, error assertions, hex, the
// test-vector entry points (SCV2_TEST_VECTORS) and the harness that runs README's example.
import CScv2
import Foundation
@testable import SecureChannel
import XCTest

let NOW: UInt64 = 1_764_400_000_000
let EXPIRES: UInt64 = NOW + 600_000
let KEY_ID = "k-2026-11"
let CTX = "POST /web/v1/system/auth/password/init"

/// A connected client/server pair built through the Swift API only.
struct Pair {
    let server: Server
    let config: ClientConfig
    let client: ClientSession
    let session: ServerSession
}

func makePair(paddingBlock: Int = 64, expiresAtMs: UInt64 = EXPIRES, sessionId: String? = nil) throws -> Pair {
    let server = try Server(paddingBlock: paddingBlock)
    try server.generateKey(id: KEY_ID, createdAtMs: NOW)
    let config = try ClientConfig(pinnedKeys: [KEY_ID: try server.publicKey(id: KEY_ID)], paddingBlock: paddingBlock)
    let (handshake, type1) = try ClientHandshake.start(config: config, keyId: KEY_ID, payload: Data("{}".utf8))
    let (session, type130) = try server.accept(type1, nowMs: NOW)
        .respond(sessionId: sessionId, expiresAtMs: expiresAtMs, appPayload: Data("app".utf8))
    let client = try handshake.finish(type130, nowMs: NOW)
    return Pair(server: server, config: config, client: client, session: session)
}

/// Asserts that `expression` throws exactly `expected`.
func assertThrows<T>(_ expected: Scv2Error, _ expression: @autoclosure () throws -> T,
                     file: StaticString = #filePath, line: UInt = #line)
{
    do {
        _ = try expression()
        XCTFail("expected \(expected), but the call succeeded", file: file, line: line)
    } catch let error as Scv2Error {
        XCTAssertEqual(error, expected, file: file, line: line)
    } catch {
        XCTFail("expected \(expected), got a non-scv2 error \(error)", file: file, line: line)
    }
}

extension Data {
    /// Lowercase or uppercase hex; nil if malformed.
    init?(hex: String) {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(chars.count / 2)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
            i += 2
        }
        self.init(bytes)
    }

    var hex: String { map { String(format: "%02x", $0) }.joined() }
}

// MARK: - Test-vector entry points (declared in scv2.h under #ifdef SCV2_TEST_VECTORS)

extension ClientHandshake {
    /// `start` with a fixed ephemeral private key and iv1 (scv2_client_handshake_start_for_test_vectors).
    static func startForTestVectors(config: ClientConfig, keyId: String, payload: Data, ephemeralPrivate: Data,
                                    iv1: Data) throws -> (handshake: ClientHandshake, body: Data)
    {
        try withExtendedLifetime(config) {
            try withUTF8Bytes(keyId) { kid, kidLen in
                try withBytes(payload) { pl, plLen in
                    try withBytes(ephemeralPrivate) { ek, ekLen in
                        try withBytes(iv1) { iv, ivLen in
                            var h: OpaquePointer?
                            let body = try produce(capacity: scv2_type1_len(kidLen, plLen, config.paddingBlock)) {
                                scv2_client_handshake_start_for_test_vectors(config.handle, kid, kidLen, pl, plLen, ek, ekLen,
                                                                             iv, ivLen, $0, $1, $2, &h)
                            }
                            guard let h else { throw Scv2Error.internal }
                            return (ClientHandshake(handle: h), body)
                        }
                    }
                }
            }
        }
    }
}

extension ClientHandshake {
    /// `start` for a hybrid pin with every input fixed: `e`, the 64-byte ML-KEM seed, `m1` and
    /// iv1 (scv2_client_handshake_start_hybrid_for_test_vectors).
    static func startHybridForTestVectors(config: ClientConfig, keyId: String, payload: Data, ephemeralPrivate: Data,
                                          mlkemSeed: Data, encapsRandomness: Data, iv1: Data) throws
        -> (handshake: ClientHandshake, body: Data)
    {
        try withExtendedLifetime(config) {
            try withUTF8Bytes(keyId) { kid, kidLen in
                try withBytes(payload) { pl, plLen in
                    try withBytes(ephemeralPrivate) { ek, ekLen in
                        try withBytes(mlkemSeed) { sd, sdLen in
                            try withBytes(encapsRandomness) { m1, m1Len in
                                try withBytes(iv1) { iv, ivLen in
                                    var h: OpaquePointer?
                                    let size = Suite.x25519MLKEM768.type1Length(keyIdCount: kidLen, payloadCount: plLen,
                                                                                 paddingBlock: config.paddingBlock) ?? 0
                                    let body = try produce(capacity: size) {
                                        scv2_client_handshake_start_hybrid_for_test_vectors(
                                            config.handle, kid, kidLen, pl, plLen, ek, ekLen, sd, sdLen, m1, m1Len, iv, ivLen,
                                            $0, $1, $2, &h)
                                    }
                                    guard let h else { throw Scv2Error.internal }
                                    return (ClientHandshake(handle: h), body)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension ServerHandshake {
    /// `respond` with a fixed ephemeral private key (scv2_server_handshake_respond_for_test_vectors).
    func respondForTestVectors(sessionId: String, expiresAtMs: UInt64, appPayload: Data, ephemeralPrivate: Data) throws
        -> (session: ServerSession, body: Data)
    {
        try withExtendedLifetime(self) {
            try withUTF8Bytes(sessionId) { sid, sidLen in
                try withBytes(appPayload) { app, appLen in
                    try withBytes(ephemeralPrivate) { ek, ekLen in
                        var s: OpaquePointer?
                        let body = try produceQueried {
                            scv2_server_handshake_respond_for_test_vectors(handle, sid, sidLen, expiresAtMs, app, appLen, ek,
                                                                           ekLen, $0, $1, $2, &s)
                        }
                        guard let s else { throw Scv2Error.internal }
                        return (try ServerSession(adopting: s), body)
                    }
                }
            }
        }
    }
}

// MARK: - README example harness

/// Runs README's "Use from Swift" example (scripts/test-swift.sh compiles it into
/// ReadmeExample.generated.swift as `readmeExample(serverPublicKey:send:)`) against an in-process
/// server holding the hybrid-suite key "k-2026-pq" (its 1216-byte public key is `serverPublicKey`):
/// `send(route, body)` plays the HTTP transport.
enum ReadmeExampleHarness {
    static let keyId = "k-2026-pq"
    static let handshakeRoute = "POST /web/v1/secure-channel/session"

    static func run(_ example: (Data, (String, Data) throws -> Data) throws -> Void,
                    file: StaticString = #filePath, line: UInt = #line) throws
    {
        let server = try Server()
        try server.generateKey(id: keyId, suite: .x25519MLKEM768)
        var session: ServerSession?
        var routes: [String] = []
        var bodies: [Data] = []
        try example(try server.publicKey(id: keyId)) { route, body in
            routes.append(route)
            if route == handshakeRoute {
                let (s, reply) = try server.accept(body).respond(expiresAtMs: Scv2.nowMs() + 600_000)
                session = s
                return reply
            }
            guard let session else { throw Scv2Error.invalidState }
            let (request, plain) = try session.openRequest(ctx: route, body: body)
            bodies.append(plain)
            return try session.sealResponse(request, ctx: route, body: Data(#"{"success":true}"#.utf8))
        }
        XCTAssertEqual(routes.first, handshakeRoute, "the example starts with the handshake", file: file, line: line)
        XCTAssertGreaterThanOrEqual(routes.count, 2, "the example sends at least one sealed request", file: file, line: line)
        XCTAssertEqual(bodies.count, routes.count - 1, file: file, line: line)
    }
}
