package io.scv2

/**
 * The suites of SCv2 (SPEC.md), with their C ABI numbers (`SCV2_SUITE_*`) and their
 * public-key-document `algorithm` names. A pin carries its suite: the handshake with a key id runs
 * in the suite it was pinned with, never in one a document names.
 *
 * The size helpers ask the library (which asks the core): nothing here is computed in Kotlin.
 */
enum class Suite(
    /** The C ABI number (`SCV2_SUITE_X25519` = 1, `SCV2_SUITE_X25519MLKEM768` = 2). */
    val id: Int,
    /** The public-key document's `algorithm` for keys of this suite. */
    val algorithm: String
) {
    /** X25519-HKDF-SHA256-AES-256-GCM: public and private keys of 32 bytes. */
    X25519(1, "X25519-HKDF-SHA256-AES-256-GCM"),

    /**
     * X25519MLKEM768-HKDF-SHA256-AES-256-GCM (SPEC.md section 15), the post-quantum hybrid: the
     * session keys stay secret as long as X25519 or ML-KEM-768 holds. Public key 1216 bytes
     * (`ek_s || S`), private key 96 bytes (`s || d || z`).
     */
    X25519MLKEM768(2, "X25519MLKEM768-HKDF-SHA256-AES-256-GCM");

    /** Bytes of a raw public key of this suite (`scv2_suite_public_key_len`). */
    val publicKeyLen: Int get() = Native.suitePublicKeyLen(id)

    /** Bytes of a private key of this suite (`scv2_suite_private_key_len`). */
    val privateKeyLen: Int get() = Native.suitePrivateKeyLen(id)

    /**
     * Bytes of the type-1 envelope of this suite for a key id of [keyIdLen] bytes, a payload of
     * [payloadLen] bytes and padding block [paddingBlock] (`scv2_suite_type1_len`); 0 when the
     * arguments are out of range.
     */
    fun type1Len(keyIdLen: Int, payloadLen: Int, paddingBlock: Int = 64): Int =
        Native.suiteType1Len(id, keyIdLen, payloadLen, paddingBlock)

    /**
     * Bytes of the type-130 envelope of this suite for a session id of [sessionIdLen] bytes and an
     * application payload of [appPayloadLen] bytes (`scv2_suite_type130_len`); 0 when the
     * arguments are out of range.
     */
    fun type130Len(sessionIdLen: Int, appPayloadLen: Int, paddingBlock: Int = 64): Int =
        Native.suiteType130Len(id, sessionIdLen, appPayloadLen, paddingBlock)

    companion object {
        /** The suite of a C ABI number, or null. */
        @JvmStatic
        fun fromId(id: Int): Suite? = values().firstOrNull { it.id == id }

        /** The suite a document's `algorithm` names (exact match), or null for any other text. */
        @JvmStatic
        fun fromAlgorithm(algorithm: String): Suite? = values().firstOrNull { it.algorithm == algorithm }
    }
}
