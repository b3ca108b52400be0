import Foundation
import SecureChannel
import XCTest

/// Requests that never get a type-129 answer release their token (scv2_client_forget_request).
final class ForgetTests: XCTestCase {
    let plaintext429 = Data(#"{"success":false,"code":"SYSTEM.TOO_MANY_REQUESTS"}"#.utf8)

    func testThreeThousandPlaintextAnswersThenANormalExchange() throws {
        let p = try makePair()
        for i in 1...3000 {
            let (request, _) = try p.client.sealRequest(ctx: CTX, body: Data("{}".utf8), nowMs: NOW)
            XCTAssertEqual(request.sequence, UInt64(i))
            // The gateway answered in plaintext: the error is thrown and the request forgotten.
            assertThrows(.malformedEnvelope, try p.client.openResponse(request, ctx: CTX, body: plaintext429))
            XCTAssertFalse(p.client.forget(request), "already forgotten")
        }
        let (request, envelope) = try p.client.sealRequest(ctx: CTX, body: Data("ping".utf8), nowMs: NOW)
        XCTAssertEqual(request.sequence, 3001)
        let (received, _) = try p.session.openRequest(ctx: CTX, body: envelope, nowMs: NOW)
        let response = try p.session.sealResponse(received, ctx: CTX, body: Data("pong".utf8))
        XCTAssertEqual(try p.client.openResponse(request, ctx: CTX, body: response), Data("pong".utf8))
    }

    func testExchangeForgetsFailedCalls() throws {
        let p = try makePair()
        struct Lost: Error {}
        for _ in 0..<1100 {
            XCTAssertThrowsError(try p.client.exchange(ctx: CTX, body: Data("{}".utf8), nowMs: NOW) { _ in throw Lost() })
        }
        let answer = try p.client.exchange(ctx: CTX, body: Data("q".utf8), nowMs: NOW) { envelope in
            let (received, _) = try p.session.openRequest(ctx: CTX, body: envelope, nowMs: NOW)
            return try p.session.sealResponse(received, ctx: CTX, body: Data("a".utf8))
        }
        XCTAssertEqual(answer, Data("a".utf8))
    }

    func testAsyncExchangeForgetsCancelledCalls() async throws {
        let p = try makePair()
        for _ in 0..<1100 {
            do {
                _ = try await p.client.exchange(ctx: CTX, body: Data("{}".utf8), nowMs: NOW) { _ async throws -> Data in
                    throw CancellationError()
                }
                XCTFail("no error")
            } catch is CancellationError {}
        }
        let (request, _) = try p.client.sealRequest(ctx: CTX, body: Data(), nowMs: NOW)
        XCTAssertEqual(request.sequence, 1101)
    }

    func testServerForgetsRequestsItAnsweredInPlaintext() throws {
        let p = try makePair()
        for _ in 0..<1100 {
            let (request, envelope) = try p.client.sealRequest(ctx: CTX, body: Data("{}".utf8), nowMs: NOW)
            let (received, _) = try p.session.openRequest(ctx: CTX, body: envelope, nowMs: NOW)
            XCTAssertTrue(p.session.forget(received))
            XCTAssertFalse(p.session.forget(received))
            assertThrows(.invalidState, try p.session.sealResponse(received, ctx: CTX, body: Data("late".utf8)))
            // The client got the plaintext answer: it forgets its side too.
            XCTAssertTrue(p.client.forget(request))
        }
    }
}
