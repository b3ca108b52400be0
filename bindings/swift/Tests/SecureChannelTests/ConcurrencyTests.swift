import Dispatch
import Foundation
import SecureChannel
import XCTest

final class ConcurrencyTests: XCTestCase {
    /// Several tasks seal on ONE client session at once; then the server opens all of them (also
    /// from several tasks), answers, and the client opens every answer.
    func testConcurrentSealingFromManyTasks() async throws {
        let p = try makePair()
        let client = p.client, session = p.session
        let tasks = 8, perTask = 64

        let sealed = try await withThrowingTaskGroup(of: [(UInt64, Data, Data)].self) { group in
            for t in 0..<tasks {
                group.addTask {
                    var out: [(UInt64, Data, Data)] = []
                    for i in 0..<perTask {
                        let body = Data("{\"task\":\(t),\"i\":\(i)}".utf8)
                        let (request, envelope) = try client.sealRequest(ctx: CTX, body: body, nowMs: NOW)
                        out.append((request.sequence, envelope, body))
                    }
                    return out
                }
            }
            var all: [(UInt64, Data, Data)] = []
            for try await part in group { all += part }
            return all
        }
        XCTAssertEqual(sealed.count, tasks * perTask)
        XCTAssertEqual(Set(sealed.map(\.0)), Set((1...UInt64(tasks * perTask)).map { $0 }), "sequence numbers unique, none lost")

        // The server opens them out of order from several tasks and answers each.
        let shuffled = sealed.shuffled()
        let chunks = stride(from: 0, to: shuffled.count, by: 100).map { Array(shuffled[$0..<min($0 + 100, shuffled.count)]) }
        let answered = try await withThrowingTaskGroup(of: [(UInt64, Data)].self) { group in
            for chunk in chunks {
                group.addTask {
                    try chunk.map { seq, envelope, body in
                        let (received, plain) = try session.openRequest(ctx: CTX, body: envelope, nowMs: NOW)
                        XCTAssertEqual(received.sequence, seq)
                        XCTAssertEqual(plain, body)
                        return (seq, try session.sealResponse(received, ctx: CTX, body: Data("ok \(seq)".utf8)))
                    }
                }
            }
            var all: [(UInt64, Data)] = []
            for try await part in group { all += part }
            return all
        }
        XCTAssertEqual(answered.count, sealed.count)

        // The client opens every answer, again from several tasks.
        let opened = try await withThrowingTaskGroup(of: Int.self) { group in
            for part in stride(from: 0, to: answered.count, by: 128).map({ Array(answered[$0..<min($0 + 128, answered.count)]) }) {
                group.addTask {
                    var n = 0
                    for (seq, response) in part {
                        let plain = try client.openResponse(PendingRequest(sequence: seq), ctx: CTX, body: response)
                        XCTAssertEqual(plain, Data("ok \(seq)".utf8))
                        n += 1
                    }
                    return n
                }
            }
            return try await group.reduce(0, +)
        }
        XCTAssertEqual(opened, sealed.count)
    }

    /// The same on OS threads (DispatchQueue.concurrentPerform), full round trips per thread.
    func testConcurrentRoundTripsOnThreads() throws {
        let p = try makePair()
        let threads = 8, perThread = 40
        let lock = NSLock()
        var failures: [String] = []
        var seqs: [UInt64] = []
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for i in 0..<perThread {
                do {
                    let body = Data("{\"t\":\(t),\"i\":\(i)}".utf8)
                    let (request, envelope) = try p.client.sealRequest(ctx: CTX, body: body, nowMs: NOW)
                    let (received, plain) = try p.session.openRequest(ctx: CTX, body: envelope, nowMs: NOW)
                    guard plain == body, received.sequence == request.sequence else { throw Scv2Error.unknown(0) }
                    let response = try p.session.sealResponse(received, ctx: CTX, body: plain)
                    guard try p.client.openResponse(request, ctx: CTX, body: response) == body else { throw Scv2Error.unknown(0) }
                    lock.lock(); seqs.append(request.sequence); lock.unlock()
                } catch {
                    lock.lock(); failures.append("thread \(t) #\(i): \(error)"); lock.unlock()
                }
            }
        }
        XCTAssertEqual(failures, [])
        XCTAssertEqual(Set(seqs).count, threads * perThread)
    }

    /// Two tasks race to open the same envelopes: each is accepted exactly once, the copy is a replay.
    func testReplayRaceAcceptsEachRequestOnce() async throws {
        let p = try makePair()
        let session = p.session
        let envelopes = try (0..<150).map { _ in try p.client.sealRequest(ctx: CTX, body: Data("r".utf8), nowMs: NOW).envelope }
        let counts = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for _ in 0..<2 {
                group.addTask {
                    var accepted = 0, replayed = 0
                    for envelope in envelopes {
                        do {
                            _ = try session.openRequest(ctx: CTX, body: envelope, nowMs: NOW)
                            accepted += 1
                        } catch Scv2Error.replayed {
                            replayed += 1
                        }
                    }
                    return (accepted, replayed)
                }
            }
            return try await group.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
        }
        XCTAssertEqual(counts.0, envelopes.count)
        XCTAssertEqual(counts.1, envelopes.count)
    }
}
