package io.scv2

// Generated from the core's error table (scv2::ALL_ERRORS) by ffi/tests/generated.rs
// (scripts/gen-header.sh); do not edit.

/**
 * Every status code of the C ABI (`include/scv2.h`), with its stable snake_case name.
 *
 * The numbers are the Rust core's `scv2::Error::code()`; they are never renumbered. Codes 16..254
 * are reserved: [fromCode] returns null for them (treat any unknown code as a failure).
 */
enum class Status(val code: Int, val wireName: String) {
    /**
     * The bytes are not a well-formed envelope of the expected type (bad magic, wrong lengths,
     * trailing bytes, a known type at the wrong entry point, a bad key id encoding, ...).
     */
    MALFORMED_ENVELOPE(1, "malformed_envelope"),
    /** The envelope's version byte is not `0x02`. */
    UNSUPPORTED_VERSION(2, "unsupported_version"),
    /** The envelope's type byte is not one SCv2 defines. */
    UNKNOWN_TYPE(3, "unknown_type"),
    /** A type-1 envelope names a key id the server does not hold, or holds only as expired. */
    UNKNOWN_KEY_ID(4, "unknown_key_id"),
    /** The server's public key is not pinned by the client (and trust on first use is off). */
    UNTRUSTED_SERVER_KEY(5, "untrusted_server_key"),
    /** A public key is not usable: wrong encoding, or an X25519 result that is all zeros. */
    INVALID_PUBLIC_KEY(6, "invalid_public_key"),
    /** Authentication failed: bad tag, bad padding, wrong `ctx`, or a nonce out of range. */
    DECRYPTION_FAILED(7, "decryption_failed"),
    /** The request's sequence number was already accepted, or is older than the replay window. */
    REPLAYED(8, "replayed"),
    /** The session's `expiresAtMs` has passed. */
    SESSION_EXPIRED(9, "session_expired"),
    /** The session has used all its sequence numbers (2^32 − 1 requests); open a new one. */
    SESSION_EXHAUSTED(10, "session_exhausted"),
    /** A response carries a sequence number other than the one of the request it answers. */
    RESPONSE_MISMATCH(11, "response_mismatch"),
    /** The output buffer is too small. Decided before any cryptography; no state changed. */
    BUFFER_TOO_SMALL(12, "buffer_too_small"),
    /** An input is longer than the configured maximum. */
    PAYLOAD_TOO_LARGE(13, "payload_too_large"),
    /** An argument is out of its documented range. */
    INVALID_ARGUMENT(14, "invalid_argument"),
    /** The object cannot do this now (closed session, finished handshake, wrong token). */
    INVALID_STATE(15, "invalid_state"),
    /** A failure that should not happen (RNG failure, internal invariant). Report it. */
    INTERNAL(255, "internal");

    companion object {
        /** The status with this code, or null for a code this version does not know. */
        @JvmStatic
        fun fromCode(code: Int): Status? = values().firstOrNull { it.code == code }
    }
}
