// Generated from the core's error table (scv2::ALL_ERRORS) by ffi/tests/generated.rs
// (scripts/gen-header.sh); do not edit.
import CScv2
import Foundation

/// A failure reported by the library: one case per status code of the C ABI (`SCV2_*`), plus
/// `unknown` for a code this binding does not know (codes are never reused; treat it as a failure).
public enum Scv2Error: Error, Hashable, Sendable, CustomStringConvertible, LocalizedError {
    /// 1: The bytes are not a well-formed envelope of the expected type (bad magic, wrong lengths,
    /// trailing bytes, a known type at the wrong entry point, a bad key id encoding, ...).
    case malformedEnvelope
    /// 2: The envelope's version byte is not `0x02`.
    case unsupportedVersion
    /// 3: The envelope's type byte is not one SCv2 defines.
    case unknownType
    /// 4: A type-1 envelope names a key id the server does not hold, or holds only as expired.
    case unknownKeyId
    /// 5: The server's public key is not pinned by the client (and trust on first use is off).
    case untrustedServerKey
    /// 6: A public key is not usable: wrong encoding, or an X25519 result that is all zeros.
    case invalidPublicKey
    /// 7: Authentication failed: bad tag, bad padding, wrong `ctx`, or a nonce out of range.
    case decryptionFailed
    /// 8: The request's sequence number was already accepted, or is older than the replay window.
    case replayed
    /// 9: The session's `expiresAtMs` has passed.
    case sessionExpired
    /// 10: The session has used all its sequence numbers (2^32 − 1 requests); open a new one.
    case sessionExhausted
    /// 11: A response carries a sequence number other than the one of the request it answers.
    case responseMismatch
    /// 12: The output buffer is too small. Decided before any cryptography; no state changed.
    case bufferTooSmall
    /// 13: An input is longer than the configured maximum.
    case payloadTooLarge
    /// 14: An argument is out of its documented range.
    case invalidArgument
    /// 15: The object cannot do this now (closed session, finished handshake, wrong token).
    case invalidState
    /// 255: A failure that should not happen (RNG failure, internal invariant). Report it.
    case `internal`
    /// A status code this binding does not know.
    case unknown(UInt32)

    /// Every known case, in code order.
    public static let allKnown: [Scv2Error] = [
        .malformedEnvelope,
        .unsupportedVersion,
        .unknownType,
        .unknownKeyId,
        .untrustedServerKey,
        .invalidPublicKey,
        .decryptionFailed,
        .replayed,
        .sessionExpired,
        .sessionExhausted,
        .responseMismatch,
        .bufferTooSmall,
        .payloadTooLarge,
        .invalidArgument,
        .invalidState,
        .internal,
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
