#!/usr/bin/env python3
"""Independent SCv2 reference implementation and vector checker: the suite
X25519-HKDF-SHA256-AES-256-GCM (sections 2-14) here, the hybrid suite
X25519MLKEM768-HKDF-SHA256-AES-256-GCM (section 15) in `scv2_hybrid.py`.

Written from SPEC.md only (no look at the Rust sources).  Every function cites the
SPEC.md section it implements.  Dependencies: Python >= 3.11, `cryptography`
(X25519, AES-GCM); SHA-256/HMAC from the stdlib; HKDF written here from RFC 5869;
for the hybrid suite also `kyber-py` 1.2.0 (ML-KEM-768), imported only when needed.

Usage:
    python3 tests/interop/scv2_ref.py [FILE ...] [-v] [--self-test] [--write-hybrid-vectors OUT]

    FILE         a vector file (default tests/vectors/scv2-x25519.json); its "suite"
                 field chooses the checker (section 14, or section 15.9)
    -v           print every individual check, not only failures
    --self-test  also run, for each suite of the files given, checks of behaviour the
                 vector file does not exercise (check order, replay-window edges, nonce
                 range, all-zero X25519, type-130 plaintext errors, expiry/exhaustion,
                 web form; for the hybrid suite also the key check, implicit rejection,
                 sizes, pins, suites side by side, the generator); these test this
                 implementation's *reading* of the spec, not the vectors.
    --write-hybrid-vectors OUT
                 write this implementation's hybrid vector file (inputs derived as
                 section 15.9 says) for the Rust checker to read

Output: `ok <case>` or `FAIL <case>` + one line per failed check (field, first
differing byte offset and the envelope region it falls in), then `N passed, M failed`.
Exit status 1 if any check failed.

Places where SPEC.md left a choice to the reader are marked `SPEC-NOTE §x:` in the
code (`grep -n SPEC-NOTE tests/interop/*.py`).  Section 12 (sessions at rest)
is not implemented: it is specific to "this implementation" and its bitmap layout is
not specified (SPEC-NOTE §12 below).

SPEC-NOTE §12: the state blob does not say how the (W/64 + 1) bitmap words map to
sequence numbers (word order, bit order, relation to `top`), nor that W must be a
multiple of 64, nor whether pending response slots survive an export/import.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SUITE = "X25519-HKDF-SHA256-AES-256-GCM"

# ---------------------------------------------------------------------------
# Section 10 -- error names and numbers
# ---------------------------------------------------------------------------

ERROR_CODES = {
    "malformed_envelope": 1, "unsupported_version": 2, "unknown_type": 3,
    "unknown_key_id": 4, "untrusted_server_key": 5, "invalid_public_key": 6,
    "decryption_failed": 7, "replayed": 8, "session_expired": 9,
    "session_exhausted": 10, "response_mismatch": 11, "buffer_too_small": 12,
    "payload_too_large": 13, "invalid_argument": 14, "invalid_state": 15,
    "internal": 255,
}


class ScError(Exception):
    """An SCv2 error (section 10).  `name` is the stable error name."""

    def __init__(self, name: str, why: str = ""):
        assert name in ERROR_CODES, name
        super().__init__(f"{name}" + (f" ({why})" if why else ""))
        self.name = name
        self.code = ERROR_CODES[name]
        self.why = why


@dataclass
class Limits:
    """Section 10: 'Every input length has a configurable maximum (envelope, ctx,
    payload) checked before anything else.'

    SPEC-NOTE §10: when opening, the payload length is only known after decryption;
    whether the payload cap applies to the ciphertext length up front or to the
    plaintext afterwards is not said.  Here opening checks envelope and ctx caps,
    sealing checks ctx and payload caps.

    SPEC-NOTE §10: no default values are given.  The vector file needs envelopes of
    at least 70048 bytes (case large-payloads-70000), so defaults here are generous.
    SPEC-NOTE §8.1/§10: ctx is '0-65535 bytes' (u16 length) but the error for a
    longer ctx is not named; payload_too_large (a cap) is used here.
    """
    max_envelope: int = 16 * 1024 * 1024
    max_ctx: int = 65535
    max_payload: int = 16 * 1024 * 1024


DEFAULT_LIMITS = Limits()

# ---------------------------------------------------------------------------
# Section 2 -- notation and primitives
# ---------------------------------------------------------------------------

LABEL = b"SCv2 X25519-HKDF-SHA256-AES-256-GCM"
assert len(LABEL) == 35
INFO_KX = b"scv2 kx key"              # 11 bytes, section 5.1
INFO_SESSION = b"scv2 session keys"   # 17 bytes, section 5.2
assert len(INFO_KX) == 11 and len(INFO_SESSION) == 17


def u8(x: int) -> bytes:
    return x.to_bytes(1, "big")


def u16be(x: int) -> bytes:
    return x.to_bytes(2, "big")


def u64be(x: int) -> bytes:
    return x.to_bytes(8, "big")


def sha256(*parts: bytes) -> bytes:
    """Section 2: SHA-256 (FIPS 180-4) of the concatenation of `parts`."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """Section 2 / RFC 5869 section 2.2: PRK = HMAC-SHA256(salt, IKM)."""
    return hmac.new(salt if salt else bytes(32), ikm, hashlib.sha256).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """Section 2 / RFC 5869 section 2.3: T(i) = HMAC(PRK, T(i-1) | info | i)."""
    if length > 255 * 32:
        raise ValueError("HKDF-Expand: L too large")
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return okm[:length]


def x25519(k: bytes, u: bytes) -> bytes:
    """Section 2: X25519(k, u) per RFC 7748 section 5 (clamping and masking of the
    u-coordinate's top bit are done by the library).  An all-zero result is
    `invalid_public_key` (OpenSSL refuses it itself; checked here as well)."""
    try:
        out = X25519PrivateKey.from_private_bytes(k).exchange(X25519PublicKey.from_public_bytes(u))
    except ValueError:
        raise ScError("invalid_public_key", "all-zero X25519 result") from None
    if out == bytes(32):
        raise ScError("invalid_public_key", "all-zero X25519 result")
    return out


def x25519_public(k: bytes) -> bytes:
    """Section 2: the public key X25519(k, 9)."""
    return X25519PrivateKey.from_private_bytes(k).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def aes_gcm_seal(key: bytes, iv: bytes, p: bytes, aad: bytes) -> bytes:
    """Section 2: AES-256-GCM encryption, output ciphertext || 16-byte tag."""
    assert len(key) == 32 and len(iv) == 12
    return AESGCM(key).encrypt(iv, p, aad)


def aes_gcm_open(key: bytes, iv: bytes, c: bytes, aad: bytes) -> bytes:
    """Section 2: AES-256-GCM decryption; the tag is verified before any plaintext
    is released.  A bad tag is `decryption_failed` (section 10)."""
    try:
        return AESGCM(key).decrypt(iv, c, aad)
    except InvalidTag:
        raise ScError("decryption_failed", "bad tag") from None


def is_printable(b: bytes) -> bool:
    """Section 2: printable = every byte in 0x21..0x7E."""
    return all(0x21 <= c <= 0x7E for c in b)


# ---------------------------------------------------------------------------
# Section 3 -- envelope framing (and section 10 steps 1-5)
# ---------------------------------------------------------------------------

MAGIC = b"SC"
VERSION = 0x02
T_KX, T_REQ, T_RESP, T_KXR = 0x01, 0x02, 0x81, 0x82
KNOWN_TYPES = {T_KX, T_REQ, T_RESP, T_KXR}
IV_LEN, TAG_LEN = 12, 16
AEAD_MIN = IV_LEN + 1 + TAG_LEN   # 29: IV | ciphertext (>= 1 byte) | tag


def check_prefix(env: bytes, expected_type: int, limits: Limits, ctx: bytes | None = None) -> None:
    """Section 10 steps 1-4 on the 4-byte prefix "SC" || 0x02 || type (section 3).

    1. size caps (payload_too_large); 2. magic (malformed_envelope, also < 2 bytes);
    3. version (unsupported_version); 4. type (unknown_type; a known type at the
    wrong entry point is malformed_envelope).

    SPEC-NOTE §10: the error for 2 or 3 byte inputs that pass the checks possible on
    the bytes present ("SC", "SC\\x02") is not stated.  Here each check runs on the
    bytes present and a missing byte is malformed_envelope, i.e. "SC\\x03" is
    unsupported_version and "SC\\x02" is malformed_envelope.
    """
    if len(env) > limits.max_envelope:
        raise ScError("payload_too_large", "envelope above cap")
    if ctx is not None and len(ctx) > limits.max_ctx:
        raise ScError("payload_too_large", "ctx above cap")
    if len(env) < 2 or env[:2] != MAGIC:
        raise ScError("malformed_envelope", "bad magic")
    if len(env) < 3:
        raise ScError("malformed_envelope", "no version byte")
    if env[2] != VERSION:
        raise ScError("unsupported_version", f"version {env[2]}")
    if len(env) < 4:
        raise ScError("malformed_envelope", "no type byte")
    if env[3] not in KNOWN_TYPES:
        raise ScError("unknown_type", f"type {env[3]}")
    if env[3] != expected_type:
        raise ScError("malformed_envelope", f"type {env[3]} at the entry point for {expected_type}")


@dataclass
class Type1:
    """Parsed type-1 envelope (section 3)."""
    header: bytes   # header1 of section 5.1: everything before the IV
    key_id: bytes
    E: bytes
    iv: bytes
    ct: bytes       # ciphertext || tag


def parse_type1(env: bytes) -> Type1:
    """Section 3 / section 10 step 5 for type 1:
    `u8 keyIdLen | keyId | u16 reqKeyLen | reqKey | u16 respKeyLen | respKey | AEAD`
    with 1 <= keyIdLen, keyId printable, reqKeyLen = 32, respKeyLen = 0 and an AEAD
    part of at least 29 bytes.  Anything else is malformed_envelope.

    SPEC-NOTE §3: the table writes `u16` where section 5.1 writes u16be; big-endian
    is assumed (as everywhere else).
    SPEC-NOTE §3/§4/§10: 'the suite is a property of the keyId', yet the
    suite-specific structure rules (reqKeyLen = 32, respKeyLen = 0) are step 5,
    before the keyId lookup (step 6).  (Later SPEC text settles it: a server that
    holds keys of another suite applies them after step 6.)  This function is the
    single-suite server; scv2_hybrid.server_open_kx is the server holding both.
    """
    p = 4
    if len(env) < p + 1:
        raise ScError("malformed_envelope", "no keyIdLen")
    kl = env[p]
    p += 1
    if kl < 1:
        raise ScError("malformed_envelope", "keyIdLen 0")
    if len(env) < p + kl:
        raise ScError("malformed_envelope", "keyId truncated")
    key_id = env[p:p + kl]
    p += kl
    if not is_printable(key_id):
        raise ScError("malformed_envelope", "keyId not printable")
    if len(env) < p + 2:
        raise ScError("malformed_envelope", "no reqKeyLen")
    rql = int.from_bytes(env[p:p + 2], "big")
    p += 2
    if rql != 32:
        raise ScError("malformed_envelope", f"reqKeyLen {rql}")
    if len(env) < p + 32:
        raise ScError("malformed_envelope", "reqKey truncated")
    E = env[p:p + 32]
    p += 32
    if len(env) < p + 2:
        raise ScError("malformed_envelope", "no respKeyLen")
    rsl = int.from_bytes(env[p:p + 2], "big")
    p += 2
    if rsl != 0:
        raise ScError("malformed_envelope", f"respKeyLen {rsl}")
    if len(env) - p < AEAD_MIN:
        raise ScError("malformed_envelope", "AEAD part too short")
    return Type1(env[:p], key_id, E, env[p:p + IV_LEN], env[p + IV_LEN:])


def parse_type130(env: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """Section 3 / section 10 step 5 for type 130: `F (32) | AEAD`, minimum 65 bytes.
    Returns (header2, F, iv, ciphertext||tag)."""
    if len(env) < 4 + 32 + AEAD_MIN:
        raise ScError("malformed_envelope", "type 130 shorter than 65 bytes")
    return env[:36], env[4:36], env[36:48], env[48:]


def parse_data(env: bytes) -> tuple[bytes, bytes]:
    """Section 3 / section 10 step 5 for types 2 and 129: `AEAD`, minimum 33 bytes.
    Returns (iv, ciphertext||tag).

    SPEC-NOTE §3/§10: 'no trailing bytes (malformed_envelope)' cannot be checked for
    any envelope type: the AEAD part runs to the end, so appended bytes become part
    of the ciphertext and fail later as decryption_failed (the vectors' `truncated`
    kind likewise expects decryption_failed)."""
    if len(env) < 4 + AEAD_MIN:
        raise ScError("malformed_envelope", "data envelope shorter than 33 bytes")
    return env[4:16], env[16:]


# ---------------------------------------------------------------------------
# Section 4 -- server keys and the public-key document
# ---------------------------------------------------------------------------

SPKI_PREFIX = bytes.fromhex("302a300506032b656e032100")


@dataclass
class ServerKey:
    """Section 4: a keyId, a static pair (s, S) and an optional expiry.

    SPEC-NOTE §4: the unit of createdAt/expiresAt is not stated (the handshake uses
    milliseconds; milliseconds are assumed, compared against now_ms)."""
    key_id: bytes
    s: bytes
    S: bytes
    expires_at_ms: int | None = None


def spki_encode(S: bytes) -> str:
    """Section 4: publicKey = standard base64 (padded) of the 44-byte SPKI DER."""
    return base64.b64encode(SPKI_PREFIX + S).decode("ascii")


def spki_decode(text: str) -> bytes:
    """Section 4: inverse of spki_encode; anything else is invalid_public_key."""
    try:
        der = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise ScError("invalid_public_key", "bad base64") from None
    if len(der) != 44 or der[:12] != SPKI_PREFIX:
        raise ScError("invalid_public_key", "bad SPKI")
    return der[12:]


def find_server_key(keys: dict[bytes, ServerKey], key_id: bytes, now_ms: int) -> ServerKey:
    """Section 4 / section 10 step 6: a keyId not held, or held but expired
    (now >= expiresAt), is unknown_key_id."""
    k = keys.get(key_id)
    if k is None:
        raise ScError("unknown_key_id", "key not held")
    if k.expires_at_ms is not None and now_ms >= k.expires_at_ms:
        raise ScError("unknown_key_id", "key expired")
    return k


# ---------------------------------------------------------------------------
# Section 6 -- padding
# ---------------------------------------------------------------------------

def pad(p: bytes, block: int) -> bytes:
    """Section 6: inner(p) = p || 0x80 || 0x00*k, k smallest making the length a
    multiple of the sender's block B, 1 <= B <= 4096."""
    if not 1 <= block <= 4096:
        raise ScError("invalid_argument", f"padding block {block}")
    k = (-(len(p) + 1)) % block
    return p + b"\x80" + bytes(k)


def unpad(x: bytes) -> bytes:
    """Section 6: strip trailing 0x00, require 0x80 next; else decryption_failed."""
    body = x.rstrip(b"\x00")
    if not body or body[-1] != 0x80:
        raise ScError("decryption_failed", "bad padding")
    return body[:-1]


# ---------------------------------------------------------------------------
# Section 7 -- nonces and sequence numbers
# ---------------------------------------------------------------------------

MAX_SEQ = 2**32 - 1


def nonce(iv_dir: bytes, n: int) -> bytes:
    """Section 7: nonce(dir, n) = iv_dir XOR (0x00000000 || u64be(n))."""
    return bytes(a ^ b for a, b in zip(iv_dir, bytes(4) + u64be(n)))


def recover_seq(iv_dir: bytes, iv: bytes) -> int:
    """Section 7 / section 10 step 8 (types 2 and 129): n = IV XOR iv_dir; top 4
    bytes not zero, n = 0 or n > 2^32-1 is decryption_failed (before any AEAD work)."""
    x = bytes(a ^ b for a, b in zip(iv, iv_dir))
    if x[:4] != bytes(4):
        raise ScError("decryption_failed", "nonce top bytes not zero")
    n = int.from_bytes(x[4:], "big")
    if n == 0 or n > MAX_SEQ:
        raise ScError("decryption_failed", f"sequence number {n} out of range")
    return n


# ---------------------------------------------------------------------------
# Section 5.1 -- type 1 (client -> server)
# ---------------------------------------------------------------------------

@dataclass
class ClientHandshake:
    """Client state between sending type 1 and receiving type 130 (section 5)."""
    e: bytes
    E: bytes
    S: bytes
    h1: bytes
    prk1: bytes
    envelope1: bytes
    block: int


def kx_keys(S: bytes, header1: bytes, es: bytes) -> tuple[bytes, bytes, bytes]:
    """Section 5.1: h1 = SHA-256(LABEL || S || header1); prk1 = HKDF-Extract(h1, es);
    k1 = HKDF-Expand(prk1, "scv2 kx key", 32).  Returns (h1, prk1, k1)."""
    h1 = sha256(LABEL, S, header1)
    prk1 = hkdf_extract(h1, es)
    return h1, prk1, hkdf_expand(prk1, INFO_KX, 32)


def client_seal_kx(key_id: bytes, S: bytes, e: bytes, iv1: bytes, payload: bytes,
                   block: int = 64) -> tuple[bytes, ClientHandshake]:
    """Section 5.1: build envelope1 from the pinned (keyId, S), an explicit ephemeral
    private key e and iv1 (random in production; explicit for the vectors)."""
    if not (1 <= len(key_id) <= 255 and is_printable(key_id)):
        raise ScError("invalid_argument", "keyId")
    E = x25519_public(e)
    header1 = MAGIC + u8(VERSION) + u8(T_KX) + u8(len(key_id)) + key_id + u16be(32) + E + u16be(0)
    es = x25519(e, S)
    h1, prk1, k1 = kx_keys(S, header1, es)
    envelope1 = header1 + iv1 + aes_gcm_seal(k1, iv1, pad(payload, block), header1)
    return envelope1, ClientHandshake(e, E, S, h1, prk1, envelope1, block)


@dataclass
class ServerHandshake:
    """Server state after opening a type 1 (section 5.1), input of section 5.2."""
    key: ServerKey
    E: bytes
    h1: bytes
    prk1: bytes
    envelope1: bytes
    payload: bytes


def server_open_kx(env: bytes, keys: dict[bytes, ServerKey], now_ms: int,
                   limits: Limits = DEFAULT_LIMITS) -> ServerHandshake:
    """Section 5.1 (server side) in the order of section 10: caps, magic, version,
    type, structure, keyId (unknown_key_id), X25519 all-zero (invalid_public_key,
    'in type 1 after step 6'), AEAD and padding (decryption_failed)."""
    check_prefix(env, T_KX, limits)                       # steps 1-4
    t1 = parse_type1(env)                                 # step 5
    key = find_server_key(keys, t1.key_id, now_ms)        # step 6
    es = x25519(key.s, t1.E)                              # after step 6
    h1, prk1, k1 = kx_keys(key.S, t1.header, es)
    payload = unpad(aes_gcm_open(k1, t1.iv, t1.ct, t1.header))   # step 10
    return ServerHandshake(key, t1.E, h1, prk1, env, payload)


# ---------------------------------------------------------------------------
# Section 5.2 -- type 130 (server -> client)
# ---------------------------------------------------------------------------

@dataclass
class SessionKeys:
    """Section 5.2: okm split into k_c2s, k_s2c, iv_c2s, iv_s2c."""
    k_c2s: bytes
    k_s2c: bytes
    iv_c2s: bytes
    iv_s2c: bytes


def session_keys(h1: bytes, envelope1: bytes, header2: bytes, prk1: bytes, ee: bytes) -> tuple[bytes, SessionKeys]:
    """Section 5.2: h2 = SHA-256(h1 || envelope1 || header2);
    prk2 = HKDF-Extract(prk1, ee); okm = HKDF-Expand(prk2, "scv2 session keys" || h2, 88)."""
    h2 = sha256(h1, envelope1, header2)
    prk2 = hkdf_extract(prk1, ee)
    okm = hkdf_expand(prk2, INFO_SESSION + h2, 88)
    return h2, SessionKeys(okm[0:32], okm[32:64], okm[64:76], okm[76:88])


def server_seal_kxr(hs: ServerHandshake, f: bytes, sid: bytes, expires_at_ms: int,
                    app_payload: bytes, block: int = 64,
                    window: int = 1024) -> tuple[bytes, "ServerSession"]:
    """Section 5.2 (server side): envelope130 = header2 || nonce(s2c,0) ||
    AES-256-GCM(k_s2c, nonce(s2c,0), inner(u8(len sid)||sid||u64be(exp)||app), aad=h2)."""
    if not (1 <= len(sid) <= 64 and is_printable(sid)):
        raise ScError("invalid_argument", "session id")
    F = x25519_public(f)
    header2 = MAGIC + u8(VERSION) + u8(T_KXR) + F
    ee = x25519(f, hs.E)
    h2, keys = session_keys(hs.h1, hs.envelope1, header2, hs.prk1, ee)
    plaintext = u8(len(sid)) + sid + u64be(expires_at_ms) + app_payload
    iv = nonce(keys.iv_s2c, 0)
    env = header2 + iv + aes_gcm_seal(keys.k_s2c, iv, pad(plaintext, block), h2)
    return env, ServerSession(keys, sid, expires_at_ms, ReplayWindow(window), block)


def client_open_kxr(hs: ClientHandshake, env: bytes, now_ms: int,
                    limits: Limits = DEFAULT_LIMITS) -> tuple["ClientSession", bytes]:
    """Section 5.2 (client side) in the order of section 10: caps, magic, version,
    type, structure (>= 65 bytes); X25519 all-zero ('in type 130 after step 5');
    nonce: IV must equal nonce(s2c, 0) (decryption_failed); AEAD and padding
    (decryption_failed); plaintext structure (malformed_envelope); expiry
    (session_expired).

    SPEC-NOTE §10: the numbered list of section 10 does not contain the last two
    checks of type 130 (plaintext structure, then now_ms >= expiresAtMs); their
    place is taken from section 5.2 ('Only then does the client have a session').
    """
    check_prefix(env, T_KXR, limits)                      # steps 1-4
    header2, F, iv, ct = parse_type130(env)               # step 5
    ee = x25519(hs.e, F)                                  # after step 5
    h2, keys = session_keys(hs.h1, hs.envelope1, header2, hs.prk1, ee)
    if iv != nonce(keys.iv_s2c, 0):                       # step 8
        raise ScError("decryption_failed", "type-130 IV is not nonce(s2c, 0)")
    pt = unpad(aes_gcm_open(keys.k_s2c, iv, ct, h2))      # step 10
    sid, expires_at_ms, app = parse_kxr_plaintext(pt, now_ms)   # step 12
    return ClientSession(keys, sid, expires_at_ms, hs.block), app


def parse_kxr_plaintext(pt: bytes, now_ms: int) -> tuple[bytes, int, bytes]:
    """Section 5.2 / section 10 step 12: `u8(len sid) || sid || u64be(expiresAtMs) ||
    appPayload` with len sid in 1..=64, sid printable, 8 bytes of expiry present
    (else malformed_envelope); then now_ms >= expiresAtMs is session_expired.
    Returns (sid, expiresAtMs, appPayload).  Shared by both suites (section 15.5)."""
    if len(pt) < 1:
        raise ScError("malformed_envelope", "empty type-130 plaintext")
    sl = pt[0]
    if not 1 <= sl <= 64:
        raise ScError("malformed_envelope", f"sid length {sl}")
    if len(pt) < 1 + sl + 8:
        raise ScError("malformed_envelope", "type-130 plaintext truncated")
    sid = pt[1:1 + sl]
    if not is_printable(sid):
        raise ScError("malformed_envelope", "sid not printable")
    expires_at_ms = int.from_bytes(pt[1 + sl:1 + sl + 8], "big")
    app = pt[1 + sl + 8:]
    check_expiry(now_ms, expires_at_ms)                   # section 11
    return sid, expires_at_ms, app


# ---------------------------------------------------------------------------
# Section 11 -- expiry
# ---------------------------------------------------------------------------

def check_expiry(now_ms: int, expires_at_ms: int) -> None:
    """Section 11: valid iff now_ms < expiresAtMs, else session_expired."""
    if now_ms >= expires_at_ms:
        raise ScError("session_expired", f"now {now_ms} >= expiresAt {expires_at_ms}")


# ---------------------------------------------------------------------------
# Section 8.1 -- associated data
# ---------------------------------------------------------------------------

def aad(t: int, sid: bytes, ctx: bytes) -> bytes:
    """Section 8.1: aad(t) = "SC" || 0x02 || u8(t) || u8(len sid) || sid || u16be(len ctx) || ctx."""
    if len(ctx) > 65535:
        raise ScError("payload_too_large", "ctx longer than 65535 bytes")
    return MAGIC + u8(VERSION) + u8(t) + u8(len(sid)) + sid + u16be(len(ctx)) + ctx


# ---------------------------------------------------------------------------
# Section 8.2 -- server: replay window, one response per request
# ---------------------------------------------------------------------------

class ReplayWindow:
    """Section 8.2: `top` (highest accepted n, 0 initially) and a window of W numbers.
    n is new if n > top; replayed if top - n >= W or n was already accepted;
    otherwise (top - W < n <= top, not yet accepted) it is accepted out of order.

    SPEC-NOTE §8.2: the third case is only implied by the text.  A set of accepted
    numbers inside the window stands in for the W + 64 bit bitmap.
    """

    def __init__(self, w: int = 1024):
        if w < 1:
            raise ScError("invalid_argument", "window")
        self.w = w
        self.top = 0
        self.accepted: set[int] = set()

    def is_replayed(self, n: int) -> bool:
        if n > self.top:
            return False
        return self.top - n >= self.w or n in self.accepted

    def mark(self, n: int) -> None:
        """Atomic check-and-mark (section 10 step 11)."""
        if self.is_replayed(n):
            raise ScError("replayed", f"sequence number {n} (top {self.top})")
        self.accepted.add(n)
        if n > self.top:
            self.top = n
            self.accepted = {m for m in self.accepted if self.top - m < self.w}


@dataclass(frozen=True)
class ResponseSlot:
    """Section 8.2: the single-use right to answer accepted request `seq`."""
    seq: int


@dataclass
class ServerSession:
    """Server side of an established session (sections 8.1, 8.2, 11)."""
    keys: SessionKeys
    sid: bytes
    expires_at_ms: int
    window: ReplayWindow
    block: int = 64
    open_slots: set[int] = field(default_factory=set)

    def open_request(self, env: bytes, ctx: bytes, now_ms: int,
                     limits: Limits = DEFAULT_LIMITS) -> tuple[bytes, ResponseSlot]:
        """Sections 7, 8.1, 8.2, 11 in the order of section 10:
        1-4 prefix, 5 structure, 7 expiry, 8 nonce range, 9 replay pre-check,
        10 AEAD + padding, 11 atomic mark."""
        check_prefix(env, T_REQ, limits, ctx)                         # 1-4
        iv, ct = parse_data(env)                                      # 5
        check_expiry(now_ms, self.expires_at_ms)                      # 7
        n = recover_seq(self.keys.iv_c2s, iv)                         # 8
        if self.window.is_replayed(n):                                # 9
            raise ScError("replayed", f"sequence number {n} (top {self.window.top})")
        body = unpad(aes_gcm_open(self.keys.k_c2s, iv, ct, aad(T_REQ, self.sid, ctx)))  # 10
        self.window.mark(n)                                           # 11
        self.open_slots.add(n)
        return body, ResponseSlot(n)

    def seal_response(self, slot: ResponseSlot, ctx: bytes, body: bytes) -> bytes:
        """Section 8.1: response = "SC" 02 81 || nonce(s2c, n) || AES-256-GCM(k_s2c,
        nonce(s2c, n), inner(body), aad(129)).  Single use per slot (section 8.2);
        never refused for expiry (section 11).

        SPEC-NOTE §8.1: ctx is 'supplied by both sides'; the spec does not say
        whether the server re-supplies it for the response or it is carried by the
        ResponseSlot.  It is passed explicitly here (the request's ctx)."""
        if slot.seq not in self.open_slots:
            raise ScError("invalid_state", "response slot already used or foreign")
        self.open_slots.discard(slot.seq)
        iv = nonce(self.keys.iv_s2c, slot.seq)
        return MAGIC + u8(VERSION) + u8(T_RESP) + iv + aes_gcm_seal(
            self.keys.k_s2c, iv, pad(body, self.block), aad(T_RESP, self.sid, ctx))


# ---------------------------------------------------------------------------
# Section 8.3 -- client: one pending request per sequence number
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PendingRequest:
    """Section 8.3: returned by sealing a request, consumed by opening its response."""
    seq: int


@dataclass
class ClientSession:
    """Client side of an established session (sections 7, 8.1, 8.3, 11)."""
    keys: SessionKeys
    sid: bytes
    expires_at_ms: int
    block: int = 64
    next_seq: int = 1
    pending: set[int] = field(default_factory=set)

    def seal_request(self, ctx: bytes, body: bytes, now_ms: int,
                     limits: Limits = DEFAULT_LIMITS) -> tuple[bytes, PendingRequest]:
        """Section 8.1: request = "SC" 02 02 || nonce(c2s, n) || AES-256-GCM(k_c2s,
        nonce(c2s, n), inner(body), aad(2)); n = 1, 2, ... up to 2^32-1 (section 7).

        SPEC-NOTE §7/§11: the order between session_expired and session_exhausted
        when both apply is not given; caps, then expiry, then exhaustion here."""
        if len(ctx) > limits.max_ctx or len(body) > limits.max_payload:
            raise ScError("payload_too_large")
        check_expiry(now_ms, self.expires_at_ms)
        if self.next_seq > MAX_SEQ:
            raise ScError("session_exhausted")
        n = self.next_seq
        self.next_seq += 1
        iv = nonce(self.keys.iv_c2s, n)
        env = MAGIC + u8(VERSION) + u8(T_REQ) + iv + aes_gcm_seal(
            self.keys.k_c2s, iv, pad(body, self.block), aad(T_REQ, self.sid, ctx))
        self.pending.add(n)
        return env, PendingRequest(n)

    def open_response(self, pending: PendingRequest, env: bytes, ctx: bytes,
                      limits: Limits = DEFAULT_LIMITS) -> bytes:
        """Sections 7, 8.1, 8.3 in the order of section 10: 1-4 prefix,
        5 structure, 8 nonce range (decryption_failed) then n == pending.seq
        (response_mismatch), 10 AEAD + padding.  No expiry check (section 11).

        SPEC-NOTE §8.3: whether a failed open consumes the PendingRequest is not
        stated; here it is consumed only on success (so a tampered response does not
        prevent reading the genuine one)."""
        if pending.seq not in self.pending:
            raise ScError("invalid_state", "pending request already consumed or foreign")
        check_prefix(env, T_RESP, limits, ctx)                        # 1-4
        iv, ct = parse_data(env)                                      # 5
        n = recover_seq(self.keys.iv_s2c, iv)                         # 8
        if n != pending.seq:
            raise ScError("response_mismatch", f"response carries n={n}, expected {pending.seq}")
        body = unpad(aes_gcm_open(self.keys.k_s2c, iv, ct, aad(T_RESP, self.sid, ctx)))  # 10
        self.pending.discard(pending.seq)
        return body


# ---------------------------------------------------------------------------
# Section 9 -- HTTP binding (ctx and the web form)
# ---------------------------------------------------------------------------

def http_ctx(method: str, target: str) -> bytes:
    """Section 9: ctx = uppercase method || SP || path as sent, without the query
    string, no percent-decoding, no normalisation.

    SPEC-NOTE §9: 'the uppercase method' -- whether a sender upper-cases a
    lower-case method or must refuse it is unclear (HTTP methods are
    case-sensitive); upper-casing here.  Absolute-form targets are not covered."""
    return method.upper().encode("ascii") + b" " + target.split("?", 1)[0].encode("ascii")


def webform_encode(env: bytes) -> str:
    """Section 9: {"v":2,"p":"<standard base64 with padding>"}."""
    return '{"v":2,"p":"' + base64.b64encode(env).decode("ascii") + '"}'


_WS = r"[ \t\n\r]*"
_MEMBER = r'"(v|p)"' + _WS + ":" + _WS + r'(-?(?:0|[1-9][0-9]*)|"[^"\\]*")'
_WEBFORM = re.compile(_WS + r"\{" + _WS + _MEMBER + _WS + "," + _WS + _MEMBER + _WS + r"\}" + _WS)


def webform_decode(text: str) -> bytes:
    """Section 9: accept JSON whitespace, both members in either order, nothing else
    (no other member, no duplicate, no escapes); v other than 2 is
    unsupported_version.

    SPEC-NOTE §9: not stated: the error for a bad web form (malformed_envelope
    assumed); whether whitespace before '{'/after '}' is allowed (allowed here);
    whether v is checked before p (here: structure, then v, then base64).
    Later SPEC text: v is exactly the integer grammar -?(0|[1-9][0-9]*) other than -0
    (2.0, 2e0, 02, -0 and "2" are malformed_envelope)."""
    m = _WEBFORM.fullmatch(text)
    if not m or m.group(1) == m.group(3):
        raise ScError("malformed_envelope", "not a web form")
    members = {m.group(1): m.group(2), m.group(3): m.group(4)}
    v, p = members["v"], members["p"]
    if v.startswith('"') or not p.startswith('"'):
        raise ScError("malformed_envelope", "member of the wrong JSON type")
    if v == "-0":
        raise ScError("malformed_envelope", "negative zero is not an integer")
    if int(v) != 2:
        raise ScError("unsupported_version", f"web form v={v}")
    try:
        raw = base64.b64decode(p[1:-1], validate=True)
    except ValueError:
        raise ScError("malformed_envelope", "bad base64") from None
    if base64.b64encode(raw).decode("ascii") != p[1:-1]:
        raise ScError("malformed_envelope", "non-canonical base64")
    return raw


# ---------------------------------------------------------------------------
# Section 14 -- vector checker
# ---------------------------------------------------------------------------

class Report:
    """Counts individual checks and collects per-case failure lines."""

    def __init__(self, verbose: bool = False):
        self.passed = 0
        self.failed = 0
        self.lines: list[str] = []
        self.verbose = verbose

    def check(self, label: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            if self.verbose:
                self.lines.append(f"    pass {label}")
        else:
            self.failed += 1
            self.lines.append(f"    FAIL {label}: {detail}")
        return ok

    def take(self) -> list[str]:
        out, self.lines = self.lines, []
        return out


def envelope_region(env: bytes, off: int) -> str:
    """Name the section-3 field of `env` that contains byte offset `off`."""
    if off < 2:
        return "magic"
    if off == 2:
        return "version"
    if off == 3:
        return "type"
    t = env[3] if len(env) > 3 else None
    tag_start = len(env) - TAG_LEN
    if off >= tag_start:
        return "tag"
    if t == T_KX and len(env) > 4:
        kl = env[4]
        marks = [(5, "keyIdLen"), (5 + kl, "keyId"), (7 + kl, "reqKeyLen"), (39 + kl, "E"),
                 (41 + kl, "respKeyLen"), (53 + kl, "IV")]
        for end, name in marks:
            if off < end:
                return name
        return "ciphertext"
    if t == T_KXR:
        return "F" if off < 36 else "IV" if off < 48 else "ciphertext"
    return "IV" if off < 16 else "ciphertext"


def bytes_diff(got: bytes, want: bytes, envelope: bool = True, region=None) -> str:
    """Describe the first difference between two byte strings.  `region(env, off)`
    names the envelope field at `off` (default: this suite's envelope_region)."""
    region = region or envelope_region
    n = min(len(got), len(want))
    off = next((i for i in range(n) if got[i] != want[i]), n)
    where = f" ({region(want, off)})" if envelope and off < len(want) else ""
    g = f"0x{got[off]:02x}" if off < len(got) else "end"
    w = f"0x{want[off]:02x}" if off < len(want) else "end"
    return f"first differing byte at offset {off}{where}: ours {g}, file {w}; lengths ours {len(got)}, file {len(want)}"


def check_bytes(r: Report, label: str, got: bytes, want: bytes, envelope: bool = True,
                region=None) -> bool:
    return r.check(label, got == want, "" if got == want else bytes_diff(got, want, envelope, region))


def attempt(r: Report, label: str, fn):
    """Run fn(); an unexpected ScError/exception is one failed check."""
    try:
        return True, fn()
    except ScError as ex:
        r.check(label, False, f"unexpected error {ex}")
    except Exception as ex:  # noqa: BLE001 -- report, do not crash the checker
        r.check(label, False, f"exception {type(ex).__name__}: {ex}")
    return False, None


def expect_ok(r: Report, label: str, fn) -> None:
    """One check: fn() must succeed."""
    ok, _ = attempt(r, label, fn)
    if ok:
        r.check(label, True)


def expect_error(r: Report, label: str, want: str, fn) -> None:
    try:
        fn()
    except ScError as ex:
        r.check(label, ex.name == want, f"got {ex.name} ({ex.why}), file says {want}")
        return
    except Exception as ex:  # noqa: BLE001
        r.check(label, False, f"exception {type(ex).__name__}: {ex}, file says {want}")
        return
    r.check(label, False, f"succeeded, file says {want}")


def check_case(r: Report, c: dict) -> None:
    """Section 14: run one case in both directions plus its negative entries.

    SPEC-NOTE §14: not stated, chosen here: every negative entry starts from a fresh
    copy of the state it names (all are failures, so this does not change results);
    the server key of a case has no expiry; the replay window is the default
    W = 1024; for `response` entries the bodies/ctx of the requests sealed
    1..=seq are those of the exchanges (they do not influence the result); `seq` of
    kx/kxr/request entries is informational.  The `kind` values were not defined in
    the spec when this was written (each was checked by hand to be the mutation its
    name says); section 14 now lists them.  The hybrid checker (scv2_hybrid.KindChecker)
    also checks the kx/kxr ones mechanically."""
    h = bytes.fromhex
    key_id = c["key_id"].encode("ascii")
    s, S = h(c["server_static_private"]), h(c["server_static_public"])
    e, f, iv1 = h(c["client_ephemeral_private"]), h(c["server_ephemeral_private"]), h(c["iv1"])
    block, now = c["padding_block"], c["now_ms"]
    sid, exp = c["session_id"].encode("ascii"), c["expires_at_ms"]
    exchanges = c["exchanges"]
    by_seq = {x["seq"]: x for x in exchanges}
    server_keys = {key_id: ServerKey(key_id, s, S)}

    # inputs consistent with themselves
    r.check("server_static_public = X25519(server_static_private, 9)", x25519_public(s) == S,
            bytes_diff(x25519_public(s), S, envelope=False))
    r.check("exchange seqs are exactly 1..=k", sorted(by_seq) == list(range(1, len(exchanges) + 1))
            and len(by_seq) == len(exchanges), f"seqs {[x['seq'] for x in exchanges]}")

    # (1) client regenerates kx_envelope
    ok, res = attempt(r, "kx_envelope: client seal", lambda: client_seal_kx(key_id, S, e, iv1, h(c["kx_payload"]), block))
    client_hs = None
    if ok:
        env1, client_hs = res
        check_bytes(r, "kx_envelope: regenerated vs file", env1, h(c["kx_envelope"]))

    # (2) server opens the file's kx_envelope and regenerates kxr_envelope
    server = None
    ok, shs = attempt(r, "kx_envelope: server open", lambda: server_open_kx(h(c["kx_envelope"]), server_keys, now))
    if ok:
        check_bytes(r, "kx_payload: server opened vs file", shs.payload, h(c["kx_payload"]), envelope=False)
        ok, res = attempt(r, "kxr_envelope: server seal",
                          lambda: server_seal_kxr(shs, f, sid, exp, h(c["kxr_payload"]), block))
        if ok:
            envk, server = res
            check_bytes(r, "kxr_envelope: regenerated vs file", envk, h(c["kxr_envelope"]))

    # (3) client opens the file's kxr_envelope
    client = None
    if client_hs is not None:
        ok, res = attempt(r, "kxr_envelope: client open", lambda: client_open_kxr(client_hs, h(c["kxr_envelope"]), now))
        if ok:
            client, app = res
            check_bytes(r, "kxr: session_id", client.sid, sid, envelope=False)
            r.check("kxr: expires_at_ms", client.expires_at_ms == exp, f"ours {client.expires_at_ms}, file {exp}")
            check_bytes(r, "kxr: kxr_payload", app, h(c["kxr_payload"]), envelope=False)

    open_kx = lambda env: server_open_kx(env, server_keys, now)  # noqa: E731
    open_kxr = None if client_hs is None else (lambda env: client_open_kxr(copy.deepcopy(client_hs), env, now))
    check_sessions(r, c, client, server, open_kx, open_kxr)


def check_sessions(r: Report, c: dict, client: "ClientSession | None", server: "ServerSession | None",
                   open_kx, open_kxr, region=None, check_kind=None) -> None:
    """Section 14, the part after the handshake (same for every suite, section 15):
    requests sealed by the client and compared, opened by the server, responses
    regenerated and opened; then every negative entry.  `open_kx(env)` opens a
    type 1 at a server holding only the case's key, `open_kxr(env)` finishes a fresh
    copy of the case's client handshake (None if it could not be started).
    `check_kind(r, label, neg)`, if given, checks that an entry's envelope is the
    change its `kind` names."""
    h = bytes.fromhex
    now = c["now_ms"]
    exchanges = c["exchanges"]
    by_seq = {x["seq"]: x for x in exchanges}
    client_fresh = copy.deepcopy(client)

    # (4a) client seals requests 1..=k in increasing seq order
    pendings: dict[int, PendingRequest] = {}
    if client is not None:
        for n in sorted(by_seq):
            x = by_seq[n]
            ok, res = attempt(r, f"request seq {n}: client seal", lambda: client.seal_request(h(x["ctx"]), h(x["request"]), now))
            if ok:
                env, pend = res
                r.check(f"request seq {n}: client assigned seq", pend.seq == n, f"ours {pend.seq}")
                pendings[n] = pend
                check_bytes(r, f"request seq {n}: regenerated vs file", env, h(x["request_envelope"]), region=region)

    # (4b) server opens the file's requests in listed order, regenerates responses
    if server is not None:
        for x in exchanges:
            n = x["seq"]
            ok, res = attempt(r, f"request seq {n}: server open", lambda: server.open_request(h(x["request_envelope"]), h(x["ctx"]), now))
            if not ok:
                continue
            body, slot = res
            r.check(f"request seq {n}: recovered seq", slot.seq == n, f"ours {slot.seq}")
            check_bytes(r, f"request seq {n}: body", body, h(x["request"]), envelope=False)
            ok, env = attempt(r, f"response seq {n}: server seal", lambda: server.seal_response(slot, h(x["ctx"]), h(x["response"])))
            if ok:
                check_bytes(r, f"response seq {n}: regenerated vs file", env, h(x["response_envelope"]), region=region)
    server_after = copy.deepcopy(server)

    # (4c) client opens the file's responses
    if client is not None:
        for x in exchanges:
            n = x["seq"]
            if n not in pendings:
                continue
            ok, body = attempt(r, f"response seq {n}: client open",
                               lambda: client.open_response(pendings[n], h(x["response_envelope"]), h(x["ctx"])))
            if ok:
                check_bytes(r, f"response seq {n}: body", body, h(x["response"]), envelope=False)

    # (5) negative entries, each from a fresh copy of the state section 14 describes
    for i, neg in enumerate(c["negative"]):
        label = f"negative[{i}] {neg['stage']}/{neg['kind']} (seq {neg['seq']})"
        env, ctx, want, stage = h(neg["envelope"]), h(neg["ctx"]), neg["error"], neg["stage"]
        if want not in ERROR_CODES:
            r.check(label, False, f"error name {want!r} is not in section 10")
            continue
        if check_kind is not None:
            check_kind(r, label, neg)
        if stage == "kx":
            expect_error(r, label, want, lambda: open_kx(env))
        elif stage == "kxr":
            if open_kxr is None:
                r.check(label, False, "no client handshake (see earlier failure)")
                continue
            expect_error(r, label, want, lambda: open_kxr(env))
        elif stage == "request":
            if server_after is None:
                r.check(label, False, "no server session (see earlier failure)")
                continue
            srv = copy.deepcopy(server_after)
            expect_error(r, label, want, lambda: srv.open_request(env, ctx, now))
        elif stage == "response":
            if client_fresh is None:
                r.check(label, False, "no client session (see earlier failure)")
                continue
            cl = copy.deepcopy(client_fresh)
            pend = None
            for n in range(1, neg["seq"] + 1):
                x = by_seq.get(n, {"ctx": "", "request": ""})
                _, pend = cl.seal_request(h(x["ctx"]), h(x["request"]), now)
            if pend is None:
                r.check(label, False, "seq 0: no request to answer")
                continue
            expect_error(r, label, want, lambda: cl.open_response(pend, env, ctx))
        else:
            r.check(label, False, f"unknown stage {stage!r}")


# ---------------------------------------------------------------------------
# Optional self-tests: behaviour the vector file does not exercise
# ---------------------------------------------------------------------------

def self_test(r: Report) -> None:
    """Checks of this implementation's reading of sections 3, 5, 7, 8, 9, 10, 11
    on inputs the vector file does not contain."""
    now, exp = 1_000_000, 2_000_000
    s, e, f = sha256(b"s"), sha256(b"e"), sha256(b"f")
    S = x25519_public(s)
    keys = {b"k1": ServerKey(b"k1", s, S)}
    env1, chs = client_seal_kx(b"k1", S, e, bytes(12), b"{}", 16)
    shs = server_open_kx(env1, keys, now)
    env130, srv = server_seal_kxr(shs, f, b"sid-1", exp, b"app", 16, window=1024)
    cli, _ = client_open_kxr(copy.deepcopy(chs), env130, now)
    ctx = http_ctx("post", "/a/b?x=1")
    r.check("§9 http_ctx", ctx == b"POST /a/b", repr(ctx))

    def err(label, want, fn):
        expect_error(r, "self-test " + label, want, fn)

    # section 10 steps 1-5 on short and odd inputs
    for raw, want in [(b"", "malformed_envelope"), (b"S", "malformed_envelope"), (b"SX\x02\x01", "malformed_envelope"),
                      (b"SC", "malformed_envelope"), (b"SC\x03", "unsupported_version"), (b"SC\x02", "malformed_envelope"),
                      (b"SC\x02\x05", "unknown_type"), (b"SC\x02\x02", "malformed_envelope"),
                      (b"SC\x02\x01", "malformed_envelope"), (b"SC\x02\x01\x00", "malformed_envelope")]:
        err(f"kx entry {raw!r}", want, lambda raw=raw: server_open_kx(raw, keys, now))
    bad = bytearray(env1); bad[4 + 1 + 2 + 1] = 31                    # reqKeyLen 31
    err("kx reqKeyLen 31", "malformed_envelope", lambda: server_open_kx(bytes(bad), keys, now))
    bad = bytearray(env1); bad[4 + 1 + 2 + 2 + 32 + 1] = 1            # respKeyLen 1
    err("kx respKeyLen 1", "malformed_envelope", lambda: server_open_kx(bytes(bad), keys, now))
    bad = bytearray(env1); bad[5] = 0x20                             # keyId with a space
    err("kx keyId not printable", "malformed_envelope", lambda: server_open_kx(bytes(bad), keys, now))
    err("kx AEAD 28 bytes", "malformed_envelope", lambda: server_open_kx(env1[:4 + 1 + 2 + 2 + 32 + 2 + 28], keys, now))
    # all-zero X25519: after keyId (type 1), after structure (type 130)
    zero_e = env1[:9] + bytes(32) + env1[41:]
    err("kx E = 0", "invalid_public_key", lambda: server_open_kx(zero_e, keys, now))
    err("kx E = 0 and unknown keyId", "unknown_key_id", lambda: server_open_kx(zero_e, {}, now))
    err("kx key expired", "unknown_key_id",
        lambda: server_open_kx(env1, {b"k1": ServerKey(b"k1", s, S, expires_at_ms=now)}, now))
    err("kxr F = 0", "invalid_public_key", lambda: client_open_kxr(copy.deepcopy(chs), env130[:4] + bytes(32) + env130[36:], now))
    err("kxr 64 bytes", "malformed_envelope", lambda: client_open_kxr(copy.deepcopy(chs), env130[:64], now))
    err("kxr at request entry", "malformed_envelope", lambda: copy.deepcopy(srv).open_request(env130, ctx, now))
    err("kxr expired", "session_expired", lambda: client_open_kxr(copy.deepcopy(chs), env130, exp))

    def kxr_with_plaintext(pt: bytes) -> bytes:
        F = x25519_public(f)
        header2 = b"SC\x02\x82" + F
        h2, k = session_keys(shs.h1, env1, header2, shs.prk1, x25519(f, shs.E))
        iv = nonce(k.iv_s2c, 0)
        return header2 + iv + aes_gcm_seal(k.k_s2c, iv, pad(pt, 1), h2)
    for pt, lbl in [(b"", "empty"), (b"\x00" + u64be(exp), "sid length 0"), (b"\x41" + b"a" * 65 + u64be(exp), "sid length 65"),
                    (b"\x03abc" + b"\x00" * 7, "expiry truncated"), (b"\x03a b" + u64be(exp), "sid with space")]:
        err(f"kxr plaintext {lbl}", "malformed_envelope", lambda pt=pt: client_open_kxr(copy.deepcopy(chs), kxr_with_plaintext(pt), now))
    # bad IV in type 130
    bad = bytearray(env130); bad[47] ^= 1
    err("kxr IV not nonce(s2c,0)", "decryption_failed", lambda: client_open_kxr(copy.deepcopy(chs), bytes(bad), now))

    # section 7: nonce range, section 10 order (expiry before nonce, nonce before replay)
    def req_with_n(n: int, top: bytes = bytes(4)) -> bytes:
        iv = bytes(a ^ b for a, b in zip(cli.keys.iv_c2s, top + u64be(n)))
        return b"SC\x02\x02" + iv + aes_gcm_seal(cli.keys.k_c2s, iv, pad(b"x", 1), aad(T_REQ, cli.sid, ctx))
    err("request n = 0", "decryption_failed", lambda: copy.deepcopy(srv).open_request(req_with_n(0), ctx, now))
    err("request n = 2^32", "decryption_failed", lambda: copy.deepcopy(srv).open_request(req_with_n(2**32), ctx, now))
    err("request top bytes", "decryption_failed", lambda: copy.deepcopy(srv).open_request(req_with_n(1, b"\x00\x00\x00\x01"), ctx, now))
    expect_ok(r, "self-test request n = 2^32-1 accepted", lambda: copy.deepcopy(srv).open_request(req_with_n(MAX_SEQ), ctx, now))
    err("request expired + bad nonce", "session_expired", lambda: copy.deepcopy(srv).open_request(req_with_n(0), ctx, exp))
    err("request 32 bytes", "malformed_envelope", lambda: copy.deepcopy(srv).open_request(req_with_n(1)[:32], ctx, now))
    err("request ctx cap", "payload_too_large",
        lambda: copy.deepcopy(srv).open_request(req_with_n(1), ctx, now, Limits(max_ctx=3)))
    err("request envelope cap", "payload_too_large",
        lambda: copy.deepcopy(srv).open_request(b"garbage", ctx, now, Limits(max_envelope=3)))

    # section 8.2: window edges with W = 1024
    sv = copy.deepcopy(srv)
    sv.open_request(req_with_n(2000), ctx, now)
    err("window top-n = W", "replayed", lambda: copy.deepcopy(sv).open_request(req_with_n(976), ctx, now))
    expect_ok(r, "self-test window top-n = W-1 accepted", lambda: sv.open_request(req_with_n(977), ctx, now))
    err("window duplicate in window", "replayed", lambda: sv.open_request(req_with_n(977), ctx, now))
    err("window duplicate top", "replayed", lambda: sv.open_request(req_with_n(2000), ctx, now))
    tampered = bytearray(req_with_n(2000)); tampered[-1] ^= 1
    err("window replay pre-check before AEAD", "replayed", lambda: sv.open_request(bytes(tampered), ctx, now))
    tampered = bytearray(req_with_n(1999)); tampered[-1] ^= 1
    err("failed open does not mark", "decryption_failed", lambda: sv.open_request(bytes(tampered), ctx, now))
    expect_ok(r, "self-test after failed open, genuine accepted", lambda: sv.open_request(req_with_n(1999), ctx, now))

    # section 8.2: one response per request; section 8.3 / 11 client rules
    sv = copy.deepcopy(srv); cl = copy.deepcopy(cli)
    env, pend = cl.seal_request(ctx, b"hello", now)
    body, slot = sv.open_request(env, ctx, now)
    resp = sv.seal_response(slot, ctx, b"world")
    err("second response for one slot", "invalid_state", lambda: sv.seal_response(slot, ctx, b"again"))
    r.check("self-test response opens once", cl.open_response(pend, resp, ctx) == b"world")
    err("pending consumed", "invalid_state", lambda: cl.open_response(pend, resp, ctx))
    err("seal after expiry", "session_expired", lambda: copy.deepcopy(cli).seal_request(ctx, b"", exp))
    cl = copy.deepcopy(cli); cl.next_seq = MAX_SEQ
    expect_ok(r, "self-test seal seq 2^32-1", lambda: cl.seal_request(ctx, b"", now))
    err("seal after 2^32-1", "session_exhausted", lambda: cl.seal_request(ctx, b"", now))
    err("response n = 0 is not a mismatch", "decryption_failed",
        lambda: _open_resp_n0(cli, ctx))

    # section 2: HKDF against RFC 5869 test case 1
    prk = hkdf_extract(bytes.fromhex("000102030405060708090a0b0c"), bytes([0x0b]) * 22)
    r.check("self-test RFC 5869 A.1 PRK", prk.hex() == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
    okm = hkdf_expand(prk, bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"), 42)
    r.check("self-test RFC 5869 A.1 OKM", okm.hex() == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")

    # section 6
    r.check("self-test pad B=1", pad(b"ab", 1) == b"ab\x80")
    r.check("self-test pad fills block", len(pad(b"a" * 63, 64)) == 64 and len(pad(b"a" * 64, 64)) == 128)
    err("unpad all zeros", "decryption_failed", lambda: unpad(bytes(5)))
    err("unpad wrong marker", "decryption_failed", lambda: unpad(b"ab\x81\x00"))

    # section 9 web form
    r.check("self-test web form round trip", webform_decode(webform_encode(env1)) == env1)
    b64 = base64.b64encode(env1).decode()
    r.check("self-test web form reordered + whitespace",
            webform_decode(' { "p" : "' + b64 + '" ,\n"v":2 } ') == env1)
    err("web form v=3", "unsupported_version", lambda: webform_decode('{"v":3,"p":"' + b64 + '"}'))
    for v in ("-0", "02", "2.0", "2e0", "+2"):
        err(f"web form v={v}", "malformed_envelope", lambda v=v: webform_decode('{"v":' + v + ',"p":"' + b64 + '"}'))
    err("web form extra member", "malformed_envelope", lambda: webform_decode('{"v":2,"p":"' + b64 + '","x":1}'))
    err("web form duplicate", "malformed_envelope", lambda: webform_decode('{"v":2,"v":2}'))
    err("web form escape", "malformed_envelope", lambda: webform_decode('{"v":2,"p":"\\/' + b64 + '"}'))


def _open_resp_n0(cli: ClientSession, ctx: bytes) -> bytes:
    """Self-test helper: a response whose IV decodes to n = 0 must be
    decryption_failed (section 7), not response_mismatch (section 8.3)."""
    cl = copy.deepcopy(cli)
    _, pend = cl.seal_request(ctx, b"", 0)
    iv = cl.keys.iv_s2c
    env = b"SC\x02\x81" + iv + aes_gcm_seal(cl.keys.k_s2c, iv, pad(b"", 1), aad(T_RESP, cl.sid, ctx))
    return cl.open_response(pend, env, ctx)


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

USAGE = """usage: scv2_ref.py [FILE ...] [-v] [--self-test] [--write-hybrid-vectors OUT.json]

  FILE                    a vector file; its "suite" chooses the checker (default:
                          tests/vectors/scv2-x25519.json when no FILE and no
                          --write-hybrid-vectors is given)
  -v                      print every check, not only failures
  --self-test             also run the self-test of each suite of the FILEs
  --write-hybrid-vectors  write this implementation's hybrid vector file to OUT.json
"""


def _hybrid():
    """The hybrid suite module (section 15); needs kyber-py."""
    try:
        import scv2_hybrid
    except ImportError as ex:
        raise SystemExit(f"the hybrid suite needs kyber-py: pip install kyber-py==1.2.0 ({ex})") from None
    return scv2_hybrid


def _print_block(r: Report, title: str) -> None:
    lines = r.take()
    print(("FAIL " if any(" FAIL " in ln for ln in lines) else "ok ") + title)
    for ln in lines:
        print(ln)


def check_x25519_file(r: Report, data: dict) -> None:
    """Sections 14: every case of an X25519-suite vector file."""
    r.check("file suite", data.get("suite") == SUITE, f"suite {data.get('suite')!r}")
    for line in r.take():
        print(line)
    for c in data["cases"]:
        try:
            check_case(r, c)
        except Exception as ex:  # noqa: BLE001 -- malformed case: report and go on
            r.check("case", False, f"checker crashed: {type(ex).__name__}: {ex}")
        _print_block(r, c.get("name", "?"))


def main(argv: list[str]) -> int:
    files: list[Path] = []
    verbose = self_tests = False
    write_to = None
    it = iter(argv)
    for a in it:
        if a == "-v":
            verbose = True
        elif a == "--self-test":
            self_tests = True
        elif a == "--write-hybrid-vectors":
            write_to = next(it, None)
            if write_to is None:
                print(USAGE, file=sys.stderr, end="")
                return 2
        elif a in ("-h", "--help"):
            print(USAGE, end="")
            return 0
        elif a.startswith("-"):
            print(f"unknown option {a}\n" + USAGE, file=sys.stderr, end="")
            return 2
        else:
            files.append(Path(a))
    root = Path(__file__).resolve().parents[2]
    if not files and write_to is None:
        files = [root / "tests" / "vectors" / "scv2-x25519.json"]

    r = Report(verbose)
    if write_to is not None:
        hy = _hybrid()
        doc = hy.generate()
        Path(write_to).write_text(hy.dumps(doc))
        n = sum(len(c["negative"]) for c in doc["cases"])
        print(f"wrote {write_to}: {len(doc['cases'])} hybrid cases, {n} negative entries")
    suites: list[str] = []
    for path in files:
        if len(files) > 1:
            print(f"== {path}")
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as ex:
            r.check(str(path), False, f"cannot read the vector file: {ex}")
            _print_block(r, str(path))
            continue
        suite = data.get("suite")
        if suite == SUITE:
            check_x25519_file(r, data)
        elif suite == "X25519MLKEM768-HKDF-SHA256-AES-256-GCM":
            for line in _hybrid().check_file(r, data):
                print(line)
        else:
            r.check("file suite", False, f"unknown suite {suite!r}")
            _print_block(r, str(path))
            continue
        if suite not in suites:
            suites.append(suite)
    if self_tests:
        for suite in suites:
            fn = self_test if suite == SUITE else _hybrid().self_test
            try:
                fn(r)
            except Exception as ex:  # noqa: BLE001
                r.check("self-test", False, f"crashed: {type(ex).__name__}: {ex}")
            _print_block(r, "self-test" if suite == SUITE else "self-test " + suite)
    if files or self_tests:
        print(f"{r.passed} passed, {r.failed} failed")
    return 1 if r.failed else 0


if __name__ == "__main__":
    # Run as the module `scv2_ref`, not as `__main__`, so that scv2_hybrid (which imports
    # scv2_ref) and this script share one copy of the classes (ScError, sessions).
    import scv2_ref
    sys.exit(scv2_ref.main(sys.argv[1:]))
