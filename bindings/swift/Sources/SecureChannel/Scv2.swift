// SecureChannel: Swift API of scv2 (Secure Channel v2, X25519-HKDF-SHA256-AES-256-GCM) over the
// C ABI in include/scv2.h.
//
// Conventions (the C ABI's contract, include/scv2.h):
// - Every handle is owned by exactly one Swift object whose `deinit` frees it (the C side zeroizes
//   the secrets it holds). Each C call runs inside `withExtendedLifetime(self)`, so the owner cannot
//   be released while the call uses its handle.
// - Every failing call throws `Scv2Error`, one case per C status code.
// - Bytes in: anything `ContiguousBytes` (`Data`, `[UInt8]`, ...); bytes out: `Data`. Output
//   buffers are sized exactly with the C size helpers (or the SCV2_BUFFER_TOO_SMALL size query), so
//   `.bufferTooSmall` is never thrown by this API.
// - Times are milliseconds since the Unix epoch; `nowMs` parameters default to the current time.
import CScv2
import Foundation

/// Library information and small helpers.
public enum Scv2 {
    /// The library version (the crate version, for example "0.1.0").
    public static var version: String { String(cString: scv2_version()) }

    /// The crypto backend linked into the library: "rustcrypto" or "aws-lc".
    public static var backend: String { String(cString: scv2_backend()) }

    /// The version of the C ABI this package was compiled against (`SCV2_ABI_VERSION`).
    public static let abiVersion = Int(SCV2_ABI_VERSION)

    /// The most unanswered requests one session tracks (`SCV2_MAX_OUTSTANDING`).
    public static let maxOutstanding = Int(SCV2_MAX_OUTSTANDING)

    /// The C library's name for a status code ("ok", "decryption_failed", ..., "unknown").
    public static func statusName(_ code: UInt32) -> String { String(cString: scv2_status_str(code)) }

    /// Bytes of a request or response envelope carrying `bodyCount` bytes with padding block
    /// `paddingBlock` (1...4096); nil when the arguments are out of range.
    public static func sealedLength(bodyCount: Int, paddingBlock: Int) -> Int? {
        guard bodyCount >= 0, paddingBlock > 0 else { return nil }
        let n = scv2_sealed_len(bodyCount, paddingBlock)
        return n == 0 ? nil : n
    }

    /// The current time in milliseconds since the Unix epoch (the default of `nowMs` parameters).
    public static func nowMs() -> UInt64 {
        UInt64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}

/// A failure reported by the library: one case per status code of the C ABI (`SCV2_*`), plus
/// `unknown` for a code this binding does not know (codes are never reused; treat it as a failure).
public enum Scv2Error: Error, Hashable, Sendable, CustomStringConvertible, LocalizedError {
    /// 1: the bytes are not a well-formed envelope of the expected type.
    case malformedEnvelope
    /// 2: the envelope's version byte is not 0x02.
    case unsupportedVersion
    /// 3: the envelope's type byte is not one SCv2 defines.
    case unknownType
    /// 4: the server does not hold the key id (or holds it only as expired).
    case unknownKeyId
    /// 5: the server key is not pinned by the client configuration.
    case untrustedServerKey
    /// 6: a public key is not usable.
    case invalidPublicKey
    /// 7: authentication failed (bad tag, bad padding, wrong ctx, nonce out of range).
    case decryptionFailed
    /// 8: the request's sequence number was already accepted or is older than the replay window.
    case replayed
    /// 9: the session's expiry has passed.
    case sessionExpired
    /// 10: the session has used all its sequence numbers; open a new one.
    case sessionExhausted
    /// 11: a response carries the sequence number of another request.
    case responseMismatch
    /// 12: an output buffer was too small (never thrown by this API, which sizes buffers exactly).
    case bufferTooSmall
    /// 13: an input is longer than the configured maximum.
    case payloadTooLarge
    /// 14: an argument is out of its documented range.
    case invalidArgument
    /// 15: the handle cannot do this now (finished handshake, unknown or answered sequence number,
    /// full table of outstanding requests).
    case invalidState
    /// 255: a failure that should not happen (RNG failure, caught panic).
    case `internal`
    /// A status code this binding does not know.
    case unknown(UInt32)

    /// Every known case, in code order.
    public static let allKnown: [Scv2Error] = [
        .malformedEnvelope, .unsupportedVersion, .unknownType, .unknownKeyId, .untrustedServerKey,
        .invalidPublicKey, .decryptionFailed, .replayed, .sessionExpired, .sessionExhausted,
        .responseMismatch, .bufferTooSmall, .payloadTooLarge, .invalidArgument, .invalidState, .internal,
    ]

    /// The error of a non-zero status code (0, `SCV2_OK`, is not an error: it maps to `.unknown(0)`).
    public init(code: UInt32) {
        switch code {
        case UInt32(SCV2_MALFORMED_ENVELOPE): self = .malformedEnvelope
        case UInt32(SCV2_UNSUPPORTED_VERSION): self = .unsupportedVersion
        case UInt32(SCV2_UNKNOWN_TYPE): self = .unknownType
        case UInt32(SCV2_UNKNOWN_KEY_ID): self = .unknownKeyId
        case UInt32(SCV2_UNTRUSTED_SERVER_KEY): self = .untrustedServerKey
        case UInt32(SCV2_INVALID_PUBLIC_KEY): self = .invalidPublicKey
        case UInt32(SCV2_DECRYPTION_FAILED): self = .decryptionFailed
        case UInt32(SCV2_REPLAYED): self = .replayed
        case UInt32(SCV2_SESSION_EXPIRED): self = .sessionExpired
        case UInt32(SCV2_SESSION_EXHAUSTED): self = .sessionExhausted
        case UInt32(SCV2_RESPONSE_MISMATCH): self = .responseMismatch
        case UInt32(SCV2_BUFFER_TOO_SMALL): self = .bufferTooSmall
        case UInt32(SCV2_PAYLOAD_TOO_LARGE): self = .payloadTooLarge
        case UInt32(SCV2_INVALID_ARGUMENT): self = .invalidArgument
        case UInt32(SCV2_INVALID_STATE): self = .invalidState
        case UInt32(SCV2_INTERNAL): self = .internal
        default: self = .unknown(code)
        }
    }

    /// The C status code.
    public var code: UInt32 {
        switch self {
        case .malformedEnvelope: return UInt32(SCV2_MALFORMED_ENVELOPE)
        case .unsupportedVersion: return UInt32(SCV2_UNSUPPORTED_VERSION)
        case .unknownType: return UInt32(SCV2_UNKNOWN_TYPE)
        case .unknownKeyId: return UInt32(SCV2_UNKNOWN_KEY_ID)
        case .untrustedServerKey: return UInt32(SCV2_UNTRUSTED_SERVER_KEY)
        case .invalidPublicKey: return UInt32(SCV2_INVALID_PUBLIC_KEY)
        case .decryptionFailed: return UInt32(SCV2_DECRYPTION_FAILED)
        case .replayed: return UInt32(SCV2_REPLAYED)
        case .sessionExpired: return UInt32(SCV2_SESSION_EXPIRED)
        case .sessionExhausted: return UInt32(SCV2_SESSION_EXHAUSTED)
        case .responseMismatch: return UInt32(SCV2_RESPONSE_MISMATCH)
        case .bufferTooSmall: return UInt32(SCV2_BUFFER_TOO_SMALL)
        case .payloadTooLarge: return UInt32(SCV2_PAYLOAD_TOO_LARGE)
        case .invalidArgument: return UInt32(SCV2_INVALID_ARGUMENT)
        case .invalidState: return UInt32(SCV2_INVALID_STATE)
        case .internal: return UInt32(SCV2_INTERNAL)
        case .unknown(let code): return code
        }
    }

    /// The library's stable snake_case name of the code ("decryption_failed", ...; "unknown").
    public var name: String { Scv2.statusName(code) }

    public var description: String { "scv2 error \(code) (\(name))" }

    public var errorDescription: String? { description }
}

// MARK: - Internal helpers shared by the handle classes

/// Throws the error of a non-OK status.
@inline(__always)
func check(_ status: scv2_status) throws {
    if status != UInt32(SCV2_OK) { throw Scv2Error(code: status) }
}

/// Calls `body` with a pointer to the bytes and their count (a NULL pointer only when empty).
@inline(__always)
func withBytes<B: ContiguousBytes, R>(_ bytes: B, _ body: (UnsafePointer<UInt8>?, Int) throws -> R) rethrows -> R {
    try bytes.withUnsafeBytes { raw in
        try body(raw.count == 0 ? nil : raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count)
    }
}

/// `withBytes` over a string's UTF-8 bytes (key ids, session ids, ctx).
@inline(__always)
func withUTF8Bytes<R>(_ string: String, _ body: (UnsafePointer<UInt8>?, Int) throws -> R) rethrows -> R {
    try withBytes(Array(string.utf8), body)
}

/// Allocates exactly `capacity` bytes, lets the C call `fill(out, out_cap, &out_len)` write into
/// them, and returns the `out_len` bytes written.
func produce(capacity: Int, _ fill: (UnsafeMutablePointer<UInt8>?, Int, UnsafeMutablePointer<Int>) -> scv2_status) throws -> Data {
    var data = Data(count: capacity)
    var written = 0
    let status = data.withUnsafeMutableBytes { raw in
        fill(capacity == 0 ? nil : raw.baseAddress?.assumingMemoryBound(to: UInt8.self), capacity, &written)
    }
    try check(status)
    precondition(written <= capacity, "scv2 wrote past its buffer")
    data.count = written
    return data
}

/// Asks the C call for the size it needs (`out = NULL, out_cap = 0` answers SCV2_BUFFER_TOO_SMALL
/// with the size), then produces exactly that many bytes.
func produceQueried(_ fill: (UnsafeMutablePointer<UInt8>?, Int, UnsafeMutablePointer<Int>) -> scv2_status) throws -> Data {
    var needed = 0
    let status = fill(nil, 0, &needed)
    if status == UInt32(SCV2_OK) { return Data() }
    guard status == UInt32(SCV2_BUFFER_TOO_SMALL) else { throw Scv2Error(code: status) }
    return try produce(capacity: needed, fill)
}

/// Decodes an ASCII/UTF-8 identifier returned by the library.
func string(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }
