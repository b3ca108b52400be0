import CScv2
import Foundation

/// A server key set: static keys (of either `Suite`) by key id, and the settings of the sessions it opens.
/// Apps are clients; the server side is here for tests and tools (the gateway is the real server).
///
/// Thread safety: internally locked; `accept` may run on several threads at once, also while keys
/// are added or removed.
public final class Server: @unchecked Sendable {
    let handle: OpaquePointer

    /// A server with no keys. `paddingBlock`: 1...4096, or 0 for the default (64).
    /// `replayWindow`: a multiple of 64 in 64...65536, or 0 for the default (1024).
    public init(paddingBlock: Int = 0, replayWindow: UInt32 = 0) throws {
        var h: OpaquePointer?
        try check(scv2_server_new(paddingBlock, replayWindow, &h))
        guard let h else { throw Scv2Error.internal }
        handle = h
    }

    deinit { scv2_server_free(handle) }

    /// Adds a static key from its 32 private bytes (copied; wipe your copy). `expiresAtMs` 0: never.
    public func addKey(id keyId: String, privateKey: some ContiguousBytes, createdAtMs: UInt64 = Scv2.nowMs(),
                       expiresAtMs: UInt64 = 0) throws
    {
        try withExtendedLifetime(self) {
            try withUTF8Bytes(keyId) { kid, kidLen in
                try withBytes(privateKey) { sk, skLen in
                    try check(scv2_server_add_key(handle, kid, kidLen, sk, skLen, createdAtMs, expiresAtMs))
                }
            }
        }
    }

    /// Generates a new static key `keyId` with the OS RNG; read its public half with `publicKey(id:)`.
    public func generateKey(id keyId: String, createdAtMs: UInt64 = Scv2.nowMs(), expiresAtMs: UInt64 = 0) throws {
        try withExtendedLifetime(self) {
            try withUTF8Bytes(keyId) { kid, kidLen in
                try check(scv2_server_generate_key(handle, kid, kidLen, createdAtMs, expiresAtMs))
            }
        }
    }

    /// Adds a static key of `suite` from its private form (`suite.privateKeyLength` bytes: 32, or
    /// for `.x25519MLKEM768` the 96 bytes `s || d || z`; copied, wipe your copy). One server holds
    /// keys of both suites. `expiresAtMs` 0: never.
    public func addKey(id keyId: String, suite: Suite, privateKey: some ContiguousBytes,
                       createdAtMs: UInt64 = Scv2.nowMs(), expiresAtMs: UInt64 = 0) throws
    {
        try withExtendedLifetime(self) {
            try withUTF8Bytes(keyId) { kid, kidLen in
                try withBytes(privateKey) { sk, skLen in
                    try check(scv2_server_add_suite_key(handle, suite.id, kid, kidLen, sk, skLen, createdAtMs, expiresAtMs))
                }
            }
        }
    }

    /// Generates a new static key `keyId` of `suite` with the OS RNG.
    public func generateKey(id keyId: String, suite: Suite, createdAtMs: UInt64 = Scv2.nowMs(),
                            expiresAtMs: UInt64 = 0) throws
    {
        try withExtendedLifetime(self) {
            try withUTF8Bytes(keyId) { kid, kidLen in
                try check(scv2_server_generate_suite_key(handle, suite.id, kid, kidLen, createdAtMs, expiresAtMs))
            }
        }
    }

    /// The suite of the key `keyId` (`.unknownKeyId` if not held).
    public func suite(ofKey keyId: String) throws -> Suite {
        try withExtendedLifetime(self) {
            try withUTF8Bytes(keyId) { kid, kidLen in
                var id: UInt32 = 0
                try check(scv2_server_key_suite(handle, kid, kidLen, &id))
                guard let suite = Suite(id: id) else { throw Scv2Error.internal }
                return suite
            }
        }
    }

    /// Removes the key `keyId` (sessions already open are not affected).
    public func removeKey(id keyId: String) throws {
        try withExtendedLifetime(self) {
            try withUTF8Bytes(keyId) { kid, kidLen in try check(scv2_server_remove_key(handle, kid, kidLen)) }
        }
    }

    /// The raw public key of `keyId`: 32 bytes `S` for an X25519-suite key, 1216 bytes
    /// `ek_s || S` for a hybrid one (the document's `publicKey` is its base64).
    public func publicKey(id keyId: String) throws -> Data {
        try withExtendedLifetime(self) {
            try withUTF8Bytes(keyId) { kid, kidLen in
                try produceQueried { out, cap, outLen in
                    scv2_server_public_key(handle, kid, kidLen, out, cap, outLen)
                }
            }
        }
    }

    /// Accepts a type-1 envelope (the body of `POST /web/v1/secure-channel/session`) at `nowMs`.
    public func accept(_ body: some ContiguousBytes, nowMs: UInt64 = Scv2.nowMs()) throws -> ServerHandshake {
        try withExtendedLifetime(self) {
            try withBytes(body) { env, envLen in
                var h: OpaquePointer?
                try check(scv2_server_accept(handle, env, envLen, nowMs, &h))
                guard let h else { throw Scv2Error.internal }
                return ServerHandshake(handle: h)
            }
        }
    }
}

/// A type-1 envelope the server accepted, to be answered once with `respond`.
public final class ServerHandshake: @unchecked Sendable {
    let handle: OpaquePointer

    init(handle: OpaquePointer) { self.handle = handle }

    deinit { scv2_server_handshake_free(handle) }

    /// The client's type-1 payload (authenticated by the server key only; replayable).
    /// Throws `.invalidState` after `respond`.
    public var payload: Data {
        get throws {
            try withExtendedLifetime(self) { try produceQueried { scv2_server_handshake_payload(handle, $0, $1, $2) } }
        }
    }

    /// The key id the client used. Throws `.invalidState` after `respond`.
    public var keyId: String {
        get throws {
            try withExtendedLifetime(self) { string(try produceQueried { scv2_server_handshake_key_id(handle, $0, $1, $2) }) }
        }
    }

    /// Completes the handshake: returns the new session and the response body (type-130 envelope).
    /// `sessionId`: 1...64 printable ASCII characters, or nil to let the library generate one.
    /// An accepted handshake responds at most once (then `.invalidState`).
    public func respond(sessionId: String? = nil, expiresAtMs: UInt64, appPayload: some ContiguousBytes) throws
        -> (session: ServerSession, body: Data)
    {
        // The C ABI reads an empty id as "generate one"; here only nil means that.
        if let sessionId, sessionId.isEmpty { throw Scv2Error.invalidArgument }
        return try withExtendedLifetime(self) {
            try withBytes(Array((sessionId ?? "").utf8)) { sid, sidLen in
                try withBytes(appPayload) { app, appLen in
                    var s: OpaquePointer?
                    let body = try produceQueried { out, cap, outLen in
                        scv2_server_handshake_respond(handle, sid, sidLen, expiresAtMs, app, appLen, out, cap, outLen, &s)
                    }
                    guard let s else { throw Scv2Error.internal }
                    return (try ServerSession(adopting: s), body)
                }
            }
        }
    }

    /// `respond` with an empty application payload.
    public func respond(sessionId: String? = nil, expiresAtMs: UInt64) throws -> (session: ServerSession, body: Data) {
        try respond(sessionId: sessionId, expiresAtMs: expiresAtMs, appPayload: Data())
    }
}

/// A request opened by a `ServerSession`, to be answered exactly once with `sealResponse`.
public struct ReceivedRequest: Hashable, Sendable {
    /// The request's sequence number.
    public let sequence: UInt64

    public init(sequence: UInt64) { self.sequence = sequence }
}

/// An established server session. Thread safety: open and seal from several threads at once.
public final class ServerSession: @unchecked Sendable {
    let handle: OpaquePointer
    /// The session id.
    public let id: String
    /// The session's expiry, milliseconds since the Unix epoch.
    public let expiresAtMs: UInt64

    /// Takes ownership of `handle` (freed here if reading its properties fails).
    init(adopting handle: OpaquePointer) throws {
        do {
            id = string(try produceQueried { scv2_server_session_id(handle, $0, $1, $2) })
            var exp: UInt64 = 0
            try check(scv2_server_session_expires_at_ms(handle, &exp))
            expiresAtMs = exp
        } catch {
            scv2_server_session_free(handle)
            throw error
        }
        self.handle = handle
    }

    deinit { scv2_server_session_free(handle) }

    /// Bytes of the response envelope this session seals for a body of `bodyCount` bytes.
    public func sealedLength(bodyCount: Int) -> Int {
        withExtendedLifetime(self) { scv2_server_session_sealed_len(handle, bodyCount) }
    }

    /// Opens a request envelope at `nowMs`; `ctx` must be the binding the client used. Answer
    /// every failure in plaintext, never with a sealed response.
    public func openRequest(ctx: some ContiguousBytes, body: some ContiguousBytes, nowMs: UInt64 = Scv2.nowMs()) throws
        -> (request: ReceivedRequest, body: Data)
    {
        try withExtendedLifetime(self) {
            try withBytes(ctx) { c, cLen in
                try withBytes(body) { env, envLen in
                    var seq: UInt64 = 0
                    let plain = try produce(capacity: scv2_max_open_len(envLen)) { out, cap, outLen in
                        scv2_server_open_request(handle, c, cLen, env, envLen, nowMs, out, cap, outLen, &seq)
                    }
                    return (ReceivedRequest(sequence: seq), plain)
                }
            }
        }
    }

    /// `openRequest` with a string ctx ("METHOD path").
    public func openRequest(ctx: String, body: some ContiguousBytes, nowMs: UInt64 = Scv2.nowMs()) throws
        -> (request: ReceivedRequest, body: Data)
    {
        try openRequest(ctx: Array(ctx.utf8), body: body, nowMs: nowMs)
    }

    /// Seals the response to `request` (exactly once; then `.invalidState`). Expiry is not checked.
    public func sealResponse(_ request: ReceivedRequest, ctx: some ContiguousBytes, body: some ContiguousBytes) throws -> Data {
        try withExtendedLifetime(self) {
            try withBytes(ctx) { c, cLen in
                try withBytes(body) { b, bLen in
                    try produce(capacity: scv2_server_session_sealed_len(handle, bLen)) { out, cap, outLen in
                        scv2_server_seal_response(handle, request.sequence, c, cLen, b, bLen, out, cap, outLen)
                    }
                }
            }
        }
    }

    /// `sealResponse` with a string ctx ("METHOD path").
    public func sealResponse(_ request: ReceivedRequest, ctx: String, body: some ContiguousBytes) throws -> Data {
        try sealResponse(request, ctx: Array(ctx.utf8), body: body)
    }

    /// Forgets `request` without answering it (for example after answering it in plaintext): it
    /// can never be answered, and its place in the table of requests awaiting a response is free
    /// again. Returns whether it was still awaiting a response.
    @discardableResult
    public func forget(_ request: ReceivedRequest) -> Bool {
        withExtendedLifetime(self) { scv2_server_forget_request(handle, request.sequence) == UInt32(SCV2_OK) }
    }
}
