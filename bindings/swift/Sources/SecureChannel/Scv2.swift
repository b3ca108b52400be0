// SecureChannel: Swift API of scv2 (Secure Channel v2; the suites X25519-HKDF-SHA256-AES-256-GCM
// and X25519MLKEM768-HKDF-SHA256-AES-256-GCM, see Suite.swift) over the C ABI in include/scv2.h.
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

// `Scv2Error` (one case per status code) is in Scv2Error.swift, generated from the core's error table.

extension Scv2Error {
    /// Whether opening an answer failed because it is not a type-129 envelope at all (a plaintext
    /// error body): its request will never be answered.
    var meansNotAResponse: Bool {
        switch self {
        case .malformedEnvelope, .unsupportedVersion, .unknownType, .payloadTooLarge: return true
        default: return false
        }
    }
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
