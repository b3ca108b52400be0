import CScv2
import Foundation

/// The client's configuration: the pinned server keys (key id -> suite and public key) and the
/// padding block of everything sessions started from it send.
///
/// Thread safety: the C handle is internally locked; pinning while handshakes start elsewhere is
/// allowed (pin before sharing it, for clarity).
public final class ClientConfig: @unchecked Sendable {
    let handle: OpaquePointer
    /// The padding block (1...4096) of requests sealed by sessions started from this configuration.
    public let paddingBlock: Int

    /// An empty configuration (no pinned key) with the given padding block (default 64).
    public init(paddingBlock: Int = 64) throws {
        var h: OpaquePointer?
        try check(scv2_client_config_new(&h))
        guard let h else { throw Scv2Error.internal }
        handle = h
        self.paddingBlock = paddingBlock
        // On failure deinit frees the handle.
        try withExtendedLifetime(self) { try check(scv2_client_config_set_padding_block(handle, paddingBlock)) }
    }

    /// A configuration pinning `pinnedKeys` (key id -> raw 32-byte X25519 public key).
    public convenience init(pinnedKeys: [String: Data], paddingBlock: Int = 64) throws {
        try self.init(paddingBlock: paddingBlock)
        for (keyId, publicKey) in pinnedKeys { try pin(keyId: keyId, publicKey: publicKey) }
    }

    deinit { scv2_client_config_free(handle) }

    /// Pins a server key of the X25519 suite: its key id (1...255 printable ASCII bytes) and raw
    /// 32-byte X25519 public key (`pin(keyId:suite:publicKey:)` pins a key of any suite). Pinning
    /// a key id again replaces the earlier pin.
    public func pin(keyId: String, publicKey: some ContiguousBytes) throws {
        try withExtendedLifetime(self) {
            try withUTF8Bytes(keyId) { kid, kidLen in
                try withBytes(publicKey) { pk, pkLen in
                    try check(scv2_client_config_pin(handle, kid, kidLen, pk, pkLen))
                }
            }
        }
    }

    /// Pins a server key given as the public-key document's `publicKey` field (standard base64 of
    /// the X25519 SubjectPublicKeyInfo).
    public func pin(keyId: String, spkiBase64: String) throws {
        try withExtendedLifetime(self) {
            try withUTF8Bytes(keyId) { kid, kidLen in
                try withUTF8Bytes(spkiBase64) { spki, spkiLen in
                    try check(scv2_client_config_pin_spki_base64(handle, kid, kidLen, spki, spkiLen))
                }
            }
        }
    }
}

extension ClientConfig {
    /// Pins a server key of `suite`: its key id and raw public key (`suite.publicKeyLength` bytes:
    /// the 32 bytes `S`, or for `.x25519MLKEM768` the 1216 bytes `ek_s || S`). The handshake with
    /// `keyId` then runs in `suite`. Throws `.invalidPublicKey` for a key that is not of the suite
    /// (wrong length, an `ek_s` failing FIPS 203's encapsulation-key check).
    public func pin(keyId: String, suite: Suite, publicKey: some ContiguousBytes) throws {
        try withExtendedLifetime(self) {
            try withUTF8Bytes(keyId) { kid, kidLen in
                try withBytes(publicKey) { pk, pkLen in
                    try check(scv2_client_config_pin_suite(handle, suite.id, kid, kidLen, pk, pkLen))
                }
            }
        }
    }

    /// Pins a server key of `suite` given as the public-key document's `publicKey` field (base64
    /// of the SPKI for `.x25519`, standard base64 of the 1216 bytes for `.x25519MLKEM768`).
    public func pin(keyId: String, suite: Suite, publicKeyBase64: String) throws {
        try withExtendedLifetime(self) {
            try withUTF8Bytes(keyId) { kid, kidLen in
                try withUTF8Bytes(publicKeyBase64) { b64, b64Len in
                    try check(scv2_client_config_pin_public_key_base64(handle, suite.id, kid, kidLen, b64, b64Len))
                }
            }
        }
    }

    /// Pins a key in its document form, as an app ships it: `keyId`, `algorithm` (the suite's
    /// name, for example "X25519MLKEM768-HKDF-SHA256-AES-256-GCM") and `publicKeyBase64`. An
    /// `algorithm` that names no suite throws `.invalidArgument`. These three values are the pin,
    /// fixed in the app: never take them from a document fetched at run time.
    public func pin(keyId: String, algorithm: String, publicKeyBase64: String) throws {
        guard let suite = Suite(algorithm: algorithm) else { throw Scv2Error.invalidArgument }
        try pin(keyId: keyId, suite: suite, publicKeyBase64: publicKeyBase64)
    }
}

/// A client handshake in progress: `start` it, send `body` (the type-1 envelope) as the body of
/// `POST /web/v1/secure-channel/session`, and `finish` it with the response body (type 130).
/// A handshake finishes at most once; afterwards `finish` throws `.invalidState`.
public final class ClientHandshake: @unchecked Sendable {
    let handle: OpaquePointer

    init(handle: OpaquePointer) { self.handle = handle }

    deinit { scv2_client_handshake_free(handle) }

    /// Starts a handshake with the server key `keyId` pinned in `config`. `payload` travels under
    /// the server's static key only (not forward-secret, replayable): no credentials in it.
    public static func start(config: ClientConfig, keyId: String, payload: some ContiguousBytes) throws
        -> (handshake: ClientHandshake, body: Data)
    {
        try withExtendedLifetime(config) {
            try withUTF8Bytes(keyId) { kid, kidLen in
                try withBytes(payload) { pl, plLen in
                    var h: OpaquePointer?
                    // The length depends on the pin's suite: the C call reports it (size query).
                    let body = try produceQueried { out, cap, outLen in
                        scv2_client_handshake_start(config.handle, kid, kidLen, pl, plLen, out, cap, outLen, &h)
                    }
                    guard let h else { throw Scv2Error.internal }
                    return (ClientHandshake(handle: h), body)
                }
            }
        }
    }

    /// Starts a handshake with an empty payload.
    public static func start(config: ClientConfig, keyId: String) throws -> (handshake: ClientHandshake, body: Data) {
        try start(config: config, keyId: keyId, payload: Data())
    }

    /// Finishes the handshake with the server's response body (type-130 envelope) at `nowMs`.
    /// The handshake's secrets are consumed whatever the outcome (except argument errors).
    public func finish(_ body: some ContiguousBytes, nowMs: UInt64 = Scv2.nowMs()) throws -> ClientSession {
        try withExtendedLifetime(self) {
            try withBytes(body) { env, envLen in
                var s: OpaquePointer?
                try check(scv2_client_handshake_finish(handle, env, envLen, nowMs, &s))
                guard let s else { throw Scv2Error.internal }
                return try ClientSession(adopting: s)
            }
        }
    }
}

/// A request sealed by a `ClientSession` and not yet answered: keep it to open the response.
public struct PendingRequest: Hashable, Sendable {
    /// The request's sequence number (1, 2, ...).
    public let sequence: UInt64

    public init(sequence: UInt64) { self.sequence = sequence }
}

/// An established client session. Send `id` as `X-SC-Session-Id` with every request.
///
/// Thread safety: seal and open from any number of threads or tasks at once (the C session
/// allocates sequence numbers atomically and locks its table of outstanding requests).
public final class ClientSession: @unchecked Sendable {
    let handle: OpaquePointer
    /// The session id (1...64 printable ASCII characters).
    public let id: String
    /// The server application's payload from the handshake response.
    public let appPayload: Data
    /// The session's expiry, milliseconds since the Unix epoch.
    public let expiresAtMs: UInt64

    /// Takes ownership of `handle` (freed here if reading its properties fails).
    init(adopting handle: OpaquePointer) throws {
        do {
            id = string(try produceQueried { scv2_client_session_id(handle, $0, $1, $2) })
            appPayload = try produceQueried { scv2_client_session_app_payload(handle, $0, $1, $2) }
            var exp: UInt64 = 0
            try check(scv2_client_session_expires_at_ms(handle, &exp))
            expiresAtMs = exp
        } catch {
            scv2_client_session_free(handle)
            throw error
        }
        self.handle = handle
    }

    deinit { scv2_client_session_free(handle) }

    /// Bytes of the request envelope this session seals for a body of `bodyCount` bytes.
    public func sealedLength(bodyCount: Int) -> Int {
        withExtendedLifetime(self) { scv2_client_session_sealed_len(handle, bodyCount) }
    }

    /// Seals a request body bound to `ctx` (over HTTP: "METHOD path", for example
    /// "POST /web/v1/auth/login"). Returns the pending request (to open its response) and the
    /// envelope to send as the HTTP body.
    public func sealRequest(ctx: some ContiguousBytes, body: some ContiguousBytes, nowMs: UInt64 = Scv2.nowMs()) throws
        -> (request: PendingRequest, envelope: Data)
    {
        try withExtendedLifetime(self) {
            try withBytes(ctx) { c, cLen in
                try withBytes(body) { b, bLen in
                    var seq: UInt64 = 0
                    let envelope = try produce(capacity: scv2_client_session_sealed_len(handle, bLen)) { out, cap, outLen in
                        scv2_client_seal_request(handle, c, cLen, b, bLen, nowMs, out, cap, outLen, &seq)
                    }
                    return (PendingRequest(sequence: seq), envelope)
                }
            }
        }
    }

    /// `sealRequest` with a string ctx ("METHOD path").
    public func sealRequest(ctx: String, body: some ContiguousBytes, nowMs: UInt64 = Scv2.nowMs()) throws
        -> (request: PendingRequest, envelope: Data)
    {
        try sealRequest(ctx: Array(ctx.utf8), body: body, nowMs: nowMs)
    }

    /// Opens the response `body` (type-129 envelope) to `request`; `ctx` must be the request's.
    /// On success the request is answered (opening it again throws `.invalidState`). When `body` is
    /// not a type-129 envelope at all (a plaintext error such as an HTTP 401 or 429 body:
    /// `.malformedEnvelope`, `.unsupportedVersion`, `.unknownType`, `.payloadTooLarge`), the request
    /// is forgotten (see `forget`) and the error thrown; after any other failure (a type 129 that
    /// does not open) it stays pending and can be retried.
    public func openResponse(_ request: PendingRequest, ctx: some ContiguousBytes, body: some ContiguousBytes) throws -> Data {
        do {
            return try withExtendedLifetime(self) {
                try withBytes(ctx) { c, cLen in
                    try withBytes(body) { env, envLen in
                        try produce(capacity: scv2_max_open_len(envLen)) { out, cap, outLen in
                            scv2_client_open_response(handle, request.sequence, c, cLen, env, envLen, out, cap, outLen)
                        }
                    }
                }
            }
        } catch let error as Scv2Error where error.meansNotAResponse {
            forget(request)
            throw error
        }
    }

    /// Forgets `request`: its answer will never be opened (it was a plaintext error, it was lost,
    /// the call was cancelled), and its place in the table of `Scv2.maxOutstanding` outstanding
    /// requests is free again. Sequence numbers are never reused, so this is always safe. Returns
    /// whether the request was still outstanding.
    @discardableResult
    public func forget(_ request: PendingRequest) -> Bool {
        withExtendedLifetime(self) { scv2_client_forget_request(handle, request.sequence) == UInt32(SCV2_OK) }
    }

    /// One whole request: seals `body` for `ctx` ("METHOD path"), hands the envelope to `send`
    /// (your HTTP call, returning the response body) and opens the answer. If `send` throws (an I/O
    /// error, a timeout, a cancelled task) or the answer is not a type-129 envelope, the request is
    /// forgotten, so that failed calls never fill the table of outstanding requests.
    public func exchange(ctx: String, body: some ContiguousBytes, nowMs: UInt64 = Scv2.nowMs(),
                         send: (Data) async throws -> Data) async throws -> Data
    {
        let (request, envelope) = try sealRequest(ctx: ctx, body: body, nowMs: nowMs)
        let answer: Data
        do {
            answer = try await send(envelope)
        } catch {
            forget(request)
            throw error
        }
        return try openResponse(request, ctx: ctx, body: answer)
    }

    /// `exchange` with a synchronous `send`.
    public func exchange(ctx: String, body: some ContiguousBytes, nowMs: UInt64 = Scv2.nowMs(),
                         send: (Data) throws -> Data) throws -> Data
    {
        let (request, envelope) = try sealRequest(ctx: ctx, body: body, nowMs: nowMs)
        let answer: Data
        do {
            answer = try send(envelope)
        } catch {
            forget(request)
            throw error
        }
        return try openResponse(request, ctx: ctx, body: answer)
    }

    /// `openResponse` with a string ctx ("METHOD path").
    public func openResponse(_ request: PendingRequest, ctx: String, body: some ContiguousBytes) throws -> Data {
        try openResponse(request, ctx: Array(ctx.utf8), body: body)
    }
}
