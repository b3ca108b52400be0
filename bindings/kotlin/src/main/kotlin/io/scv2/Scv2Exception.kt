package io.scv2

/**
 * A failure reported by the library: [code] is the C ABI status code (1..15 or 255, see
 * [Status]); [status] is null only for a code this version does not know.
 *
 * Thrown by every operation of this package except `close()`. Using an object after `close()`
 * throws [IllegalStateException] instead (a programming error, not a protocol outcome).
 */
class Scv2Exception(val code: Int) :
    Exception("scv2 error " + code + " (" + (Status.fromCode(code)?.wireName ?: "unknown") + ")") {

    /** The status, or null for an unknown code. */
    val status: Status? get() = Status.fromCode(code)

    companion object {
        private const val serialVersionUID = 1L
    }
}

/**
 * Whether opening an answer failed because it is not a type-129 envelope at all (a plaintext error
 * body): its request will never be answered.
 */
internal fun Scv2Exception.meansNotAResponse(): Boolean = when (status) {
    Status.MALFORMED_ENVELOPE, Status.UNSUPPORTED_VERSION, Status.UNKNOWN_TYPE, Status.PAYLOAD_TOO_LARGE -> true
    else -> false
}
