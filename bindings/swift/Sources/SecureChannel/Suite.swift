// The suites of SCv2 (SPEC.md) as the Swift API sees them: the C ABI numbers (`SCV2_SUITE_*`), the
// public-key document's `algorithm` names, and the size helpers of include/scv2.h.
import CScv2
import Foundation

/// A suite of SCv2. A pin carries its suite: the handshake with a key id runs in the suite it was
/// pinned with, never in one a document names.
public enum Suite: UInt32, CaseIterable, Sendable {
    /// X25519-HKDF-SHA256-AES-256-GCM: public and private keys of 32 bytes.
    case x25519 = 1
    /// X25519MLKEM768-HKDF-SHA256-AES-256-GCM (SPEC.md section 15), the post-quantum hybrid: the
    /// session keys stay secret as long as X25519 or ML-KEM-768 holds. Public key 1216 bytes
    /// (`ek_s || S`), private key 96 bytes (`s || d || z`).
    case x25519MLKEM768 = 2

    /// The suite of a C ABI number (`SCV2_SUITE_*`), or nil.
    public init?(id: UInt32) { self.init(rawValue: id) }

    /// The suite a document's `algorithm` names (exact match), or nil for any other text.
    public init?(algorithm: String) {
        guard let suite = Suite.allCases.first(where: { $0.algorithm == algorithm }) else { return nil }
        self = suite
    }

    /// The C ABI number (`SCV2_SUITE_X25519`, `SCV2_SUITE_X25519MLKEM768`).
    public var id: UInt32 {
        switch self {
        case .x25519: return UInt32(SCV2_SUITE_X25519)
        case .x25519MLKEM768: return UInt32(SCV2_SUITE_X25519MLKEM768)
        }
    }

    /// The public-key document's `algorithm` for keys of this suite.
    public var algorithm: String {
        switch self {
        case .x25519: return "X25519-HKDF-SHA256-AES-256-GCM"
        case .x25519MLKEM768: return "X25519MLKEM768-HKDF-SHA256-AES-256-GCM"
        }
    }

    /// Bytes of a raw public key of this suite (`scv2_suite_public_key_len`).
    public var publicKeyLength: Int { scv2_suite_public_key_len(id) }

    /// Bytes of a private key of this suite (`scv2_suite_private_key_len`).
    public var privateKeyLength: Int { scv2_suite_private_key_len(id) }

    /// Bytes of the type-1 envelope of this suite for a key id of `keyIdCount` bytes and a payload
    /// of `payloadCount` bytes (`scv2_suite_type1_len`); nil when the arguments are out of range.
    public func type1Length(keyIdCount: Int, payloadCount: Int, paddingBlock: Int = 64) -> Int? {
        guard keyIdCount >= 0, payloadCount >= 0, paddingBlock > 0 else { return nil }
        let n = scv2_suite_type1_len(id, keyIdCount, payloadCount, paddingBlock)
        return n == 0 ? nil : n
    }

    /// Bytes of the type-130 envelope of this suite for a session id of `sessionIdCount` bytes and
    /// an application payload of `appPayloadCount` bytes (`scv2_suite_type130_len`); nil when the
    /// arguments are out of range.
    public func type130Length(sessionIdCount: Int, appPayloadCount: Int, paddingBlock: Int = 64) -> Int? {
        guard sessionIdCount >= 0, appPayloadCount >= 0, paddingBlock > 0 else { return nil }
        let n = scv2_suite_type130_len(id, sessionIdCount, appPayloadCount, paddingBlock)
        return n == 0 ? nil : n
    }
}
