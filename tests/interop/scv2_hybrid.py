"""Independent SCv2 implementation of the hybrid suite X25519MLKEM768-HKDF-SHA256-AES-256-GCM
(SPEC.md section 15): the handshake, a checker for its vector file, self-tests and a generator
of a vector file of its own.

Written from SPEC.md only (no look at the Rust sources), as an extension of `scv2_ref.py`
(the X25519 suite, sections 2-14), whose framing, sessions (types 2 and 129), padding, nonces,
replay window, errors and checker this module reuses unchanged, as section 15 says they are.
Each function cites the section it implements.  ML-KEM-768 (FIPS 203) comes from the PyPI
package `kyber-py` (1.2.0: `key_derive(d || z)` is KeyGen_internal, `_encaps_internal(ek, m)`
is Encaps_internal, `decaps(dk, c)` is Decaps); the encapsulation-key check of section 15.1
is written here from the spec's byte formula and compared with kyber-py's in the self-test.
X25519, AES-256-GCM: `cryptography`; SHA-256, HKDF: `scv2_ref`.

Used through `scv2_ref.py` (which dispatches on a vector file's `suite`):

    python3 tests/interop/scv2_ref.py tests/vectors/scv2-x25519mlkem768.json [--self-test] [-v]
    python3 tests/interop/scv2_ref.py --write-hybrid-vectors OUT.json

Places where section 15 left a choice to the reader are marked `SPEC-NOTE §15.x` in the code
(`grep -n SPEC-NOTE tests/interop/scv2_hybrid.py`).  Every one of them has since been folded into
SPEC.md as a precise rule (sections 14, 15.2, 15.3, 15.5, 15.6 and 15.9), each as this module
reads it; the notes stay as the record of where the earlier text was open.
"""
from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import scv2_ref as x
from scv2_ref import (AEAD_MIN, DEFAULT_LIMITS, INFO_KX, IV_LEN, MAGIC, T_KX, T_KXR, T_REQ,
                      TAG_LEN, VERSION, Limits, Report, ScError, attempt, check_bytes, expect_error,
                      expect_ok, sha256, u8, u16be, u64be)
from kyber_py.ml_kem import ML_KEM_768

# ---------------------------------------------------------------------------
# Section 15.1 -- notation and primitives
# ---------------------------------------------------------------------------

SUITE_PQ = "X25519MLKEM768-HKDF-SHA256-AES-256-GCM"
LABEL_PQ = b"SCv2 " + SUITE_PQ.encode("ascii")
assert len(SUITE_PQ) == 38 and len(LABEL_PQ) == 43

EK_LEN = 384 * 3 + 32          # 1184: encapsulation key
CT_LEN = 32 * (10 * 3 + 4)     # 1088: ciphertext
SS_LEN = 32                    # shared secret
SEED_LEN = 64                  # d || z
M_LEN = 32                     # encapsulation randomness
REQ_KEY_LEN = CT_LEN + 32      # 1120: reqKey = ct1 || E (section 15.2)
RESP_KEY_LEN = EK_LEN          # 1184: respKey = ek_e
PUBLIC_LEN = EK_LEN + 32       # 1216: ek_s || S (section 15.3)
PRIVATE_LEN = 32 + SEED_LEN    # 96: s || d_s || z_s
KEY_SIZE_BITS = 8 * PUBLIC_LEN # 9728, the document's keySize
HEADER2_LEN = 4 + CT_LEN + 32  # 1124: "SC" 02 82 || ct2 || F
TYPE130_MIN = HEADER2_LEN + AEAD_MIN   # 1153 (section 15.2)
assert (EK_LEN, CT_LEN, REQ_KEY_LEN, PUBLIC_LEN, HEADER2_LEN, TYPE130_MIN) == (1184, 1088, 1120, 1216, 1124, 1153)


def type1_header_len(key_id_len: int) -> int:
    """Section 15.2: prefix, u8 keyIdLen, keyId, u16be 1120, ct1, E, u16be 1184, ek_e."""
    return 4 + 1 + key_id_len + 2 + REQ_KEY_LEN + 2 + RESP_KEY_LEN


def type1_min_len(key_id_len: int) -> int:
    """Section 15.2: `2341 + len(keyId) + 1` (the header and 29 bytes of AEAD).

    SPEC-NOTE §15.2 (editorial): the expression is right (2342 + len(keyId), 2343 for a
    one-byte keyId) but reads like the 15.7 formula with inner = 1; section 15.6 step 5
    states the same minimum as 'at least 29 bytes after respKey'."""
    return type1_header_len(key_id_len) + AEAD_MIN


assert type1_min_len(1) == 2343 and type1_min_len(9) == 2341 + 9 + 1


def ek_passes_check(ek: bytes) -> bool:
    """Section 15.1: the encapsulation-key check of FIPS 203 section 7.2 on a 1184-byte ek.
    Type check: the length.  Modulus check: reading ek[0..1152] as 384 groups b0 b1 b2,
    both b0 + 256*(b1 mod 16) and floor(b1/16) + 16*b2 are below q = 3329.  rho
    (ek[1152..1184]) is not checked."""
    if len(ek) != EK_LEN:
        return False
    for i in range(0, 1152, 3):
        b0, b1, b2 = ek[i], ek[i + 1], ek[i + 2]
        if b0 + 256 * (b1 & 0x0F) >= 3329 or (b1 >> 4) + 16 * b2 >= 3329:
            return False
    return True


def require_ek(ek: bytes, what: str) -> None:
    """Section 15.1: a key failing the check is refused with invalid_public_key."""
    if not ek_passes_check(ek):
        raise ScError("invalid_public_key", f"{what} fails the ML-KEM-768 encapsulation-key check")


# The three ML-KEM functions are deterministic; they are memoised because kyber-py is pure
# Python and the checker runs the same decapsulation for many negative entries.
@functools.lru_cache(maxsize=1024)
def mlkem_keygen(seed: bytes) -> tuple[bytes, bytes]:
    """Section 15.1: (ek, dk) = ML-KEM.KeyGen_internal(d, z), seed = d || z (64 bytes)."""
    if len(seed) != SEED_LEN:
        raise ScError("invalid_argument", "ML-KEM seed must be 64 bytes")
    ek, dk = ML_KEM_768.key_derive(seed)
    assert len(ek) == EK_LEN and len(dk) == 2400
    return ek, dk


@functools.lru_cache(maxsize=1024)
def mlkem_encaps(ek: bytes, m: bytes) -> tuple[bytes, bytes]:
    """Section 15.1: (ss, ct) = ML-KEM.Encaps_internal(ek, m); the key is checked first
    (this module's check; kyber-py checks again and would also refuse)."""
    if len(m) != M_LEN:
        raise ScError("invalid_argument", "encapsulation randomness must be 32 bytes")
    require_ek(ek, "ek")
    try:
        ss, ct = ML_KEM_768._encaps_internal(ek, m)
    except ValueError:
        raise ScError("invalid_public_key", "kyber-py refused the encapsulation key") from None
    assert len(ss) == SS_LEN and len(ct) == CT_LEN
    return ss, ct


@functools.lru_cache(maxsize=1024)
def mlkem_decaps(dk: bytes, ct: bytes) -> bytes:
    """Section 15.1: ss = ML-KEM.Decaps_internal(dk, ct).  Never fails for a 1088-byte ct
    and a dk derived from a seed (implicit rejection: J(z || ct) for a foreign ct)."""
    try:
        return ML_KEM_768.decaps(dk, ct)
    except ValueError as ex:   # cannot happen: lengths fixed by the layout, dk from a seed
        raise ScError("internal", f"decapsulation input check: {ex}") from None


# ---------------------------------------------------------------------------
# Section 15.3 -- server keys, the public-key document, pins
# ---------------------------------------------------------------------------

@dataclass
class PqServerKey:
    """Section 15.3: keyId, static X25519 pair (s, S), static ML-KEM-768 pair from the seed
    d_s || z_s, optional expiry (milliseconds, compared with now_ms as in section 4)."""
    key_id: bytes
    s: bytes
    seed: bytes
    expires_at_ms: int | None = None
    S: bytes = field(init=False)
    ek_s: bytes = field(init=False)
    dk_s: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.s) != 32 or len(self.seed) != SEED_LEN:
            raise ScError("invalid_argument", "server key: s is 32 bytes, the ML-KEM seed 64")
        self.S = x.x25519_public(self.s)
        self.ek_s, self.dk_s = mlkem_keygen(self.seed)

    @classmethod
    def from_private(cls, key_id: bytes, private: bytes, expires_at_ms: int | None = None) -> "PqServerKey":
        """Section 15.3: the 96-byte private key s || d_s || z_s; every 96-byte string is valid."""
        if len(private) != PRIVATE_LEN:
            raise ScError("invalid_argument", "hybrid private key must be 96 bytes")
        return cls(key_id, private[:32], private[32:], expires_at_ms)

    @property
    def private(self) -> bytes:
        return self.s + self.seed

    @property
    def public(self) -> bytes:
        """Section 15.3: the 1216-byte public key ek_s || S."""
        return self.ek_s + self.S

    def document(self, created_at_ms: int) -> dict:
        """Section 15.3: the public-key document (not authenticated; section 4)."""
        return {"keyId": self.key_id.decode("ascii"), "publicKey": public_key_encode(self.public),
                "algorithm": SUITE_PQ, "keySize": KEY_SIZE_BITS, "createdAt": created_at_ms,
                "expiresAt": self.expires_at_ms}


def public_key_encode(public: bytes) -> str:
    """Section 15.3: standard base64 with padding of ek_s || S (1624 characters, no SPKI)."""
    assert len(public) == PUBLIC_LEN
    return base64.b64encode(public).decode("ascii")


@dataclass(frozen=True)
class PqPin:
    """Section 15.3: a pin (keyId, suite, public key) of this suite, ek_s already checked."""
    key_id: bytes
    ek_s: bytes
    S: bytes

    @classmethod
    def from_public(cls, key_id: bytes, public: bytes) -> "PqPin":
        """Section 15.3: exactly 1216 bytes whose first 1184 pass the key check (15.1),
        else invalid_public_key.

        SPEC-NOTE §15.3/§15.4: the X25519 part S is not checked when pinning (the X25519
        suite does not check a pinned S either); a low-order S is refused when the client
        starts a handshake (es all-zero, invalid_public_key, section 15.4)."""
        if not (1 <= len(key_id) <= 255 and x.is_printable(key_id)):
            raise ScError("invalid_argument", "keyId")
        if len(public) != PUBLIC_LEN:
            raise ScError("invalid_public_key", f"hybrid public key of {len(public)} bytes, not 1216")
        require_ek(public[:EK_LEN], "ek_s")
        return cls(key_id, public[:EK_LEN], public[EK_LEN:])

    @classmethod
    def from_document(cls, key_id: bytes, public_key_b64: str) -> "PqPin":
        """Section 15.3: loading from the document form requires canonical base64.

        SPEC-NOTE §15.3/§9: 'canonical base64' is not defined; read as: the standard
        alphabet, padding present, no whitespace, and zero unused bits (so that
        re-encoding the bytes gives the same text)."""
        try:
            raw = base64.b64decode(public_key_b64, validate=True)
        except (ValueError, TypeError):
            raise ScError("invalid_public_key", "bad base64") from None
        if base64.b64encode(raw).decode("ascii") != public_key_b64:
            raise ScError("invalid_public_key", "non-canonical base64")
        return cls.from_public(key_id, raw)

    @property
    def public(self) -> bytes:
        return self.ek_s + self.S


# ---------------------------------------------------------------------------
# Sections 15.2, 15.6 -- type-1 structure common to every suite (step 5)
# ---------------------------------------------------------------------------

@dataclass
class Type1Any:
    """A type 1 parsed with the structure common to every suite (section 15.6 step 5)."""
    header: bytes       # header1: everything before the IV
    key_id: bytes
    req_key_len: int
    req_key: bytes
    resp_key_len: int
    resp_key: bytes
    iv: bytes
    ct: bytes           # ciphertext || tag


def parse_type1_common(env: bytes) -> Type1Any:
    """Section 15.6 step 5: 1 <= keyIdLen, keyId printable, both length fields and the
    bytes they announce present, at least 29 bytes after respKey; else malformed_envelope.
    The lengths of the suite are checked after the keyId lookup (15.6 step 6a)."""
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
    if not x.is_printable(key_id):
        raise ScError("malformed_envelope", "keyId not printable")
    if len(env) < p + 2:
        raise ScError("malformed_envelope", "no reqKeyLen")
    rql = int.from_bytes(env[p:p + 2], "big")
    p += 2
    if len(env) < p + rql:
        raise ScError("malformed_envelope", "reqKey truncated")
    req_key = env[p:p + rql]
    p += rql
    if len(env) < p + 2:
        raise ScError("malformed_envelope", "no respKeyLen")
    rsl = int.from_bytes(env[p:p + 2], "big")
    p += 2
    if len(env) < p + rsl:
        raise ScError("malformed_envelope", "respKey truncated")
    resp_key = env[p:p + rsl]
    p += rsl
    if len(env) - p < AEAD_MIN:
        raise ScError("malformed_envelope", "AEAD part too short")
    return Type1Any(env[:p], key_id, rql, req_key, rsl, resp_key, env[p:p + IV_LEN], env[p + IV_LEN:])


# ---------------------------------------------------------------------------
# Section 15.4 -- type 1 (client -> server)
# ---------------------------------------------------------------------------

def header1_pq(key_id: bytes, ct1: bytes, E: bytes, ek_e: bytes,
               req_key_len: int = REQ_KEY_LEN, resp_key_len: int = RESP_KEY_LEN) -> bytes:
    """Section 15.4: header1 = "SC" 02 01 || u8(len keyId) || keyId || u16be(1120) || ct1
    || E || u16be(1184) || ek_e.  (The length arguments exist for the self-test only.)"""
    return (MAGIC + u8(VERSION) + u8(T_KX) + u8(len(key_id)) + key_id
            + u16be(req_key_len) + ct1 + E + u16be(resp_key_len) + ek_e)


def kx_keys_pq(ek_s: bytes, S: bytes, header1: bytes, ss1: bytes, es: bytes) -> tuple[bytes, bytes, bytes]:
    """Section 15.4: h1 = SHA-256(LABEL_PQ || ek_s || S || header1);
    prk1 = HKDF-Extract(salt = h1, ikm = ss1 || es) (64 bytes, ss1 first);
    k1 = HKDF-Expand(prk1, "scv2 kx key", 32).  Returns (h1, prk1, k1)."""
    assert len(ss1) == SS_LEN and len(es) == 32
    h1 = sha256(LABEL_PQ, ek_s, S, header1)
    prk1 = x.hkdf_extract(h1, ss1 + es)
    return h1, prk1, x.hkdf_expand(prk1, INFO_KX, 32)


@dataclass
class PqClientHandshake:
    """Client state between sending type 1 and receiving type 130 (sections 15.4, 15.5)."""
    e: bytes
    E: bytes
    dk_e: bytes = field(repr=False)
    ek_e: bytes
    h1: bytes
    prk1: bytes
    envelope1: bytes
    block: int


def client_seal_kx(pin: PqPin, e: bytes, seed_e: bytes, m1: bytes, iv1: bytes, payload: bytes,
                   block: int = 64) -> tuple[bytes, PqClientHandshake]:
    """Section 15.4 (client): from the pin (keyId, ek_s || S), the X25519 ephemeral e, the
    ML-KEM ephemeral seed d_e || z_e, m1 and iv1 (random in production; explicit for the
    vectors), build envelope1.  Section 15.6 'Client, starting': an unchecked ek_s is
    invalid_public_key before a type 1 is produced (PqPin checked it already; checked again
    here for pins built by hand); an all-zero es is invalid_public_key."""
    if not (1 <= len(pin.key_id) <= 255 and x.is_printable(pin.key_id)):
        raise ScError("invalid_argument", "keyId")
    require_ek(pin.ek_s, "ek_s")
    E = x.x25519_public(e)
    ek_e, dk_e = mlkem_keygen(seed_e)
    ss1, ct1 = mlkem_encaps(pin.ek_s, m1)
    header1 = header1_pq(pin.key_id, ct1, E, ek_e)
    es = x.x25519(e, pin.S)
    h1, prk1, k1 = kx_keys_pq(pin.ek_s, pin.S, header1, ss1, es)
    envelope1 = header1 + iv1 + x.aes_gcm_seal(k1, iv1, x.pad(payload, block), header1)
    return envelope1, PqClientHandshake(e, E, dk_e, ek_e, h1, prk1, envelope1, block)


@dataclass
class PqServerHandshake:
    """Server state after opening a hybrid type 1, input of section 15.5."""
    key: PqServerKey
    E: bytes
    ek_e: bytes
    h1: bytes
    prk1: bytes
    envelope1: bytes
    payload: bytes


def server_open_kx(env: bytes, keys: dict, now_ms: int,
                   limits: Limits = DEFAULT_LIMITS) -> "PqServerHandshake | x.ServerHandshake":
    """Sections 10 and 15.6 (server, type 1) for a key store holding keys of either suite
    (`x.ServerKey` for the X25519 suite, `PqServerKey` for this one).

    Steps 1-4; then, if every key held is of the X25519 suite, section 10 applies as it is
    (that suite's lengths in step 5: `x.server_open_kx`).  Otherwise step 5 is the common
    structure, step 6 the keyId (unknown_key_id, also expired), and the lengths of the suite
    of the key found are checked after it (section 10, last paragraphs; 15.6 step 6a).

    SPEC-NOTE §10/§15.6: implemented as stated, but note the consequence: the error for one
    envelope depends on the suites the server holds.  A hybrid type 1 naming a key the server
    does not hold is malformed_envelope at a server holding only X25519-suite keys (step 5),
    and unknown_key_id at a server that holds a hybrid key (lengths after step 6).  A server
    holding no key at all is not covered; it is treated as an X25519-only server here."""
    x.check_prefix(env, T_KX, limits)                             # steps 1-4
    if all(isinstance(k, x.ServerKey) for k in keys.values()):
        return x.server_open_kx(env, keys, now_ms, limits)
    t1 = parse_type1_common(env)                                  # step 5
    key = x.find_server_key(keys, t1.key_id, now_ms)              # step 6
    if isinstance(key, PqServerKey):
        return _open_kx_pq(t1, key, env)
    # an X25519-suite key at a server that also holds hybrid keys: its rules after step 6
    if t1.req_key_len != 32 or t1.resp_key_len != 0:
        raise ScError("malformed_envelope", f"X25519-suite key: reqKeyLen {t1.req_key_len}, respKeyLen {t1.resp_key_len}")
    es = x.x25519(key.s, t1.req_key)
    h1, prk1, k1 = x.kx_keys(key.S, t1.header, es)
    payload = x.unpad(x.aes_gcm_open(k1, t1.iv, t1.ct, t1.header))    # step 10
    return x.ServerHandshake(key, t1.req_key, h1, prk1, env, payload)


def _open_kx_pq(t1: Type1Any, key: PqServerKey, env: bytes) -> PqServerHandshake:
    """Section 15.6 steps 6a-6d and 10 for a key of this suite."""
    if t1.req_key_len != REQ_KEY_LEN or t1.resp_key_len != RESP_KEY_LEN:      # 6a
        raise ScError("malformed_envelope", f"hybrid key: reqKeyLen {t1.req_key_len}, respKeyLen {t1.resp_key_len}")
    ct1, E, ek_e = t1.req_key[:CT_LEN], t1.req_key[CT_LEN:], t1.resp_key
    require_ek(ek_e, "ek_e")                                                  # 6b
    es = x.x25519(key.s, E)                                                   # 6c
    ss1 = mlkem_decaps(key.dk_s, ct1)                                         # 6d
    h1, prk1, k1 = kx_keys_pq(key.ek_s, key.S, t1.header, ss1, es)
    payload = x.unpad(x.aes_gcm_open(k1, t1.iv, t1.ct, t1.header))            # step 10
    return PqServerHandshake(key, E, ek_e, h1, prk1, env, payload)


# ---------------------------------------------------------------------------
# Section 15.5 -- type 130 (server -> client)
# ---------------------------------------------------------------------------

def session_keys_pq(h1: bytes, envelope1: bytes, header2: bytes, prk1: bytes,
                    ss2: bytes, ee: bytes) -> tuple[bytes, x.SessionKeys]:
    """Section 15.5: h2 = SHA-256(h1 || envelope1 || header2); prk2 = HKDF-Extract(salt =
    prk1, ikm = ss2 || ee) (64 bytes, ss2 first); okm = HKDF-Expand(prk2, "scv2 session
    keys" || h2, 88) split as in section 5.2 (x.session_keys with ikm ss2 || ee)."""
    assert len(ss2) == SS_LEN and len(ee) == 32
    return x.session_keys(h1, envelope1, header2, prk1, ss2 + ee)


def _seal_type130(hs: PqServerHandshake, header2: bytes, keys: x.SessionKeys, h2: bytes,
                  plaintext: bytes, block: int) -> bytes:
    iv = x.nonce(keys.iv_s2c, 0)
    return header2 + iv + x.aes_gcm_seal(keys.k_s2c, iv, x.pad(plaintext, block), h2)


def server_seal_kxr(hs: PqServerHandshake, f: bytes, m2: bytes, sid: bytes, expires_at_ms: int,
                    app_payload: bytes, block: int = 64,
                    window: int = 1024) -> tuple[bytes, x.ServerSession]:
    """Section 15.5 (server): (ss2, ct2) = Encaps_internal(ek_e, m2); header2 = "SC" 02 82 ||
    ct2 || F; ee = X25519(f, E); then exactly section 5.2 (plaintext, IV nonce(s2c, 0),
    AAD h2, the server's padding block)."""
    if not (1 <= len(sid) <= 64 and x.is_printable(sid)):
        raise ScError("invalid_argument", "session id")
    ss2, ct2 = mlkem_encaps(hs.ek_e, m2)
    F = x.x25519_public(f)
    header2 = MAGIC + u8(VERSION) + u8(T_KXR) + ct2 + F
    ee = x.x25519(f, hs.E)
    h2, keys = session_keys_pq(hs.h1, hs.envelope1, header2, hs.prk1, ss2, ee)
    plaintext = u8(len(sid)) + sid + u64be(expires_at_ms) + app_payload
    env = _seal_type130(hs, header2, keys, h2, plaintext, block)
    return env, x.ServerSession(keys, sid, expires_at_ms, x.ReplayWindow(window), block)


def parse_type130(env: bytes) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """Section 15.6 step 5 (client, type 130): at least 1153 bytes, else malformed_envelope
    (so an X25519-suite type 130 shorter than that is malformed_envelope).
    Returns (header2, ct2, F, iv, ciphertext || tag)."""
    if len(env) < TYPE130_MIN:
        raise ScError("malformed_envelope", f"hybrid type 130 of {len(env)} bytes, minimum 1153")
    return (env[:HEADER2_LEN], env[4:4 + CT_LEN], env[4 + CT_LEN:HEADER2_LEN],
            env[HEADER2_LEN:HEADER2_LEN + IV_LEN], env[HEADER2_LEN + IV_LEN:])


def client_open_kxr(hs: PqClientHandshake, env: bytes, now_ms: int,
                    limits: Limits = DEFAULT_LIMITS) -> tuple[x.ClientSession, bytes]:
    """Sections 15.5 and 15.6 (client, type 130): steps 1-4, step 5 (>= 1153 bytes), then
    ee = X25519(e, F) (all-zero: invalid_public_key) and ss2 = Decaps(dk_e, ct2), both
    before step 8 (IV = nonce(s2c, 0), else decryption_failed), step 10 (AEAD, padding) and
    step 12 (plaintext structure, then expiry) as in section 5.2."""
    # SPEC-NOTE §15.5/§15.6 (editorial): 15.5 names Decaps before X25519, 15.6 X25519
    # before Decaps; Decaps cannot fail, so the order is not observable.  15.6's is used.
    x.check_prefix(env, T_KXR, limits)                            # steps 1-4
    header2, ct2, F, iv, ct = parse_type130(env)                  # step 5
    ee = x.x25519(hs.e, F)
    ss2 = mlkem_decaps(hs.dk_e, ct2)
    h2, keys = session_keys_pq(hs.h1, hs.envelope1, header2, hs.prk1, ss2, ee)
    if iv != x.nonce(keys.iv_s2c, 0):                             # step 8
        raise ScError("decryption_failed", "type-130 IV is not nonce(s2c, 0)")
    pt = x.unpad(x.aes_gcm_open(keys.k_s2c, iv, ct, h2))          # step 10
    sid, expires_at_ms, app = x.parse_kxr_plaintext(pt, now_ms)   # step 12
    return x.ClientSession(keys, sid, expires_at_ms, hs.block), app


# ---------------------------------------------------------------------------
# Envelope layout (for diagnostics and for checking what a negative entry changed)
# ---------------------------------------------------------------------------

def layout(env: bytes) -> dict[str, tuple[int, int]]:
    """Byte ranges of the named parts of a hybrid type 1 or type 130 (sections 15.2, 3),
    read from the envelope's own keyIdLen; {} for other types."""
    if len(env) < 5 or env[:3] != MAGIC + u8(VERSION):
        return {}
    if env[3] == T_KX:
        kl = env[4]
        marks = [("keyIdLen", 1), ("keyId", kl), ("reqKeyLen", 2), ("ct1", CT_LEN), ("E", 32),
                 ("respKeyLen", 2), ("ek_e", EK_LEN), ("IV", IV_LEN)]
        start = 4
    elif env[3] == T_KXR:
        marks = [("ct2", CT_LEN), ("F", 32), ("IV", IV_LEN)]
        start = 4
    else:
        return {}
    out = {}
    for name, n in marks:
        out[name] = (start, start + n)
        start += n
    out["ciphertext"] = (start, len(env) - TAG_LEN)
    out["tag"] = (len(env) - TAG_LEN, len(env))
    return out


def envelope_region_pq(env: bytes, off: int) -> str:
    """Name the field of a hybrid envelope that contains byte offset `off`."""
    if off < 4 or env[3:4] not in (bytes([T_KX]), bytes([T_KXR])):
        return x.envelope_region(env, off)
    for name, (a, b) in layout(env).items():
        if a <= off < b:
            return name
    return "beyond the end"


# ---------------------------------------------------------------------------
# Section 15.9 -- input derivation
# ---------------------------------------------------------------------------

# SPEC-NOTE §15.9/§14: section 15.9 says the inputs are 'derived as in section 14', but section
# 14 gives no formula (only 'all inputs derive from SHA-256 of the case name and field name'),
# does not list which fields are derived, nor their lengths, nor how the case and field names
# are encoded.  Read here: exactly the key and randomness fields below are derived, with c and
# f the UTF-8 bytes of the case name and of the JSON field name; key_id, session_id, payloads,
# bodies, ctx, padding_block, now_ms and expires_at_ms are chosen per case.  (This reading
# reproduces the four derived fields of tests/vectors/scv2-x25519.json; the self-test checks it.)
DERIVED_FIELDS = {
    "server_static_private": 32, "server_mlkem_seed": 64, "client_ephemeral_private": 32,
    "client_mlkem_seed": 64, "encaps_randomness_1": 32, "encaps_randomness_2": 32,
    "server_ephemeral_private": 32, "iv1": 12,
}


def derive(case: str, name: str, n: int) -> bytes:
    """Section 15.9: SHA-256("scv2 test vector/" || c || "/" || f || u32be(j)), j = 0, 1, ...
    concatenated and truncated to n bytes."""
    out, j = b"", 0
    while len(out) < n:
        out += sha256(b"scv2 test vector/", case.encode("utf-8"), b"/", name.encode("utf-8"), j.to_bytes(4, "big"))
        j += 1
    return out[:n]


# ---------------------------------------------------------------------------
# Section 15.9 -- vector checker
# ---------------------------------------------------------------------------

# Section 15.9's table: kind -> (stage, error)
PQ_KINDS = {
    "tampered_ct1": ("kx", "decryption_failed"),
    "tampered_ephemeral_key": ("kx", "decryption_failed"),
    "tampered_ek_e": ("kx", "decryption_failed"),
    "ek_e_fails_key_check": ("kx", "invalid_public_key"),
    "low_order_client_ephemeral": ("kx", "invalid_public_key"),
    "request_key_length_1119": ("kx", "malformed_envelope"),
    "x25519_suite_type1": ("kx", "malformed_envelope"),
    "tampered_ct2": ("kxr", "decryption_failed"),
    "tampered_server_ephemeral_key": ("kxr", "decryption_failed"),
    "low_order_server_ephemeral": ("kxr", "invalid_public_key"),
}


@dataclass
class CaseInputs:
    """The inputs of one hybrid case (section 15.9)."""
    name: str
    key_id: bytes
    s: bytes
    server_seed: bytes
    public: bytes
    e: bytes
    client_seed: bytes
    m1: bytes
    m2: bytes
    f: bytes
    iv1: bytes
    block: int
    now: int
    kx_payload: bytes
    sid: bytes
    exp: int
    kxr_payload: bytes


def read_inputs(r: Report, c: dict) -> CaseInputs | None:
    """Section 15.9: read and length-check every input field of a case.

    SPEC-NOTE §14/§15.9 (editorial): section 14's schema says `server_static_public`
    (raw 32 bytes) and gives no other lengths; 15.9 makes it 1216 bytes.  The lengths
    checked here are 15.9's and section 2's (32-byte X25519 keys, 12-byte iv1)."""
    h = bytes.fromhex
    lengths = dict(DERIVED_FIELDS, server_static_public=PUBLIC_LEN)
    ok = True
    for name, n in lengths.items():
        try:
            got = len(h(c[name]))
        except (KeyError, ValueError, TypeError) as ex:
            r.check(f"input {name}", False, f"missing or not hex: {type(ex).__name__}")
            ok = False
            continue
        ok &= r.check(f"input {name} is {n} bytes", got == n, f"{got} bytes")
    if not ok:
        return None
    return CaseInputs(
        c["name"], c["key_id"].encode("ascii"), h(c["server_static_private"]), h(c["server_mlkem_seed"]),
        h(c["server_static_public"]), h(c["client_ephemeral_private"]), h(c["client_mlkem_seed"]),
        h(c["encaps_randomness_1"]), h(c["encaps_randomness_2"]), h(c["server_ephemeral_private"]),
        h(c["iv1"]), c["padding_block"], c["now_ms"], h(c["kx_payload"]), c["session_id"].encode("ascii"),
        c["expires_at_ms"], h(c["kxr_payload"]))


def check_case(r: Report, c: dict) -> None:
    """Section 15.9 (with section 14): one hybrid case in both directions, then its
    negative entries (and, for the kinds whose change is defined exactly, that the entry's
    envelope is that change)."""
    h = bytes.fromhex
    inp = read_inputs(r, c)
    if inp is None:
        return
    key = PqServerKey(inp.key_id, inp.s, inp.server_seed)
    server_keys = {inp.key_id: key}
    exchanges = c["exchanges"]
    by_seq = {xx["seq"]: xx for xx in exchanges}

    # inputs consistent with themselves and with the derivation rule of section 15.9
    check_bytes(r, "server_static_public = ek_s || S from the seed and s", key.public, inp.public,
                envelope=False)
    for name, n in DERIVED_FIELDS.items():
        r.check(f"§15.9 {name} derived from the case name", h(c[name]) == derive(inp.name, name, n),
                "differs from SHA-256(\"scv2 test vector/\" || name || \"/\" || field || u32be(j))")
    r.check("exchange seqs are exactly 1..=k", sorted(by_seq) == list(range(1, len(exchanges) + 1))
            and len(by_seq) == len(exchanges), f"seqs {[xx['seq'] for xx in exchanges]}")

    # (1) client: pin the file's public key, regenerate kx_envelope
    client_hs = None
    ok, pin = attempt(r, "pin server_static_public (section 15.3)", lambda: PqPin.from_public(inp.key_id, inp.public))
    if ok:
        ok, res = attempt(r, "kx_envelope: client seal", lambda: client_seal_kx(
            pin, inp.e, inp.client_seed, inp.m1, inp.iv1, inp.kx_payload, inp.block))
        if ok:
            env1, client_hs = res
            check_bytes(r, "kx_envelope: regenerated vs file", env1, h(c["kx_envelope"]), region=envelope_region_pq)

    # (2) server: open the file's kx_envelope, regenerate kxr_envelope
    server = None
    ok, shs = attempt(r, "kx_envelope: server open", lambda: server_open_kx(h(c["kx_envelope"]), server_keys, inp.now))
    if ok:
        check_bytes(r, "kx_payload: server opened vs file", shs.payload, inp.kx_payload, envelope=False)
        ok, res = attempt(r, "kxr_envelope: server seal", lambda: server_seal_kxr(
            shs, inp.f, inp.m2, inp.sid, inp.exp, inp.kxr_payload, inp.block))
        if ok:
            envk, server = res
            check_bytes(r, "kxr_envelope: regenerated vs file", envk, h(c["kxr_envelope"]), region=envelope_region_pq)

    # (3) client: finish with the file's kxr_envelope
    client = None
    if client_hs is not None:
        ok, res = attempt(r, "kxr_envelope: client open",
                          lambda: client_open_kxr(copy.deepcopy(client_hs), h(c["kxr_envelope"]), inp.now))
        if ok:
            client, app = res
            check_bytes(r, "kxr: session_id", client.sid, inp.sid, envelope=False)
            r.check("kxr: expires_at_ms", client.expires_at_ms == inp.exp, f"ours {client.expires_at_ms}, file {inp.exp}")
            check_bytes(r, "kxr: kxr_payload", app, inp.kxr_payload, envelope=False)

    # (4), (5): sessions and negatives, shared with the X25519 suite (types 2 and 129 unchanged)
    open_kx = lambda env: server_open_kx(env, server_keys, inp.now)  # noqa: E731
    open_kxr = None if client_hs is None else (lambda env: client_open_kxr(copy.deepcopy(client_hs), env, inp.now))
    kinds = KindChecker(inp, h(c["kx_envelope"]), h(c["kxr_envelope"]), client)
    x.check_sessions(r, c, client, server, open_kx, open_kxr, region=envelope_region_pq, check_kind=kinds.check)


class KindChecker:
    """Checks that a negative entry's envelope is the change its `kind` names (sections 14
    and 15.9), for the kx/kxr kinds whose change is defined on the case's valid envelope.

    SPEC-NOTE §15.9/§14: the tables say what is changed, not that nothing else is; read
    strictly: the envelope equals the case's kx_envelope (kxr_envelope) except for the named
    change, the AEAD part is not re-sealed.  'One bit flipped' is the least significant bit
    of one byte (section 15.9); which byte of the named part is not fixed (any one is
    accepted), except for tampered_ek_e (the last byte of ek_e).
    SPEC-NOTE §14/§15.9: in the hybrid suite `tampered_ciphertext` could mean the KEM
    ciphertext ct1; read as the AEAD ciphertext, as in section 14 (ct1 has its own kind,
    tampered_ct1).  `tampered_header` (type 130, section 14) is read as one bit of header2
    after the 4-byte prefix (ct2 or F).
    Other kinds (the request/response kinds of section 14, unchanged) are only run."""

    def __init__(self, inp: CaseInputs, kx: bytes, kxr: bytes, client: x.ClientSession | None):
        self.inp, self.kx, self.kxr, self.client = inp, kx, kxr, client

    def check(self, r: Report, label: str, neg: dict) -> None:
        kind, stage = neg["kind"], neg["stage"]
        fn = getattr(self, "_" + kind, None)
        if kind in PQ_KINDS:
            want_stage, want_err = PQ_KINDS[kind]
            r.check(f"{label}: stage and error of section 15.9", (stage, neg["error"]) == (want_stage, want_err),
                    f"file has {stage}/{neg['error']}, section 15.9 says {want_stage}/{want_err}")
        if fn is None or stage not in ("kx", "kxr"):
            return
        base = self.kx if stage == "kx" else self.kxr
        env = bytes.fromhex(neg["envelope"])
        why = fn(base, env)
        r.check(f"{label}: envelope is the change its kind names", why is None, why or "")

    # helpers: each returns None if `env` is the change, else why not
    @staticmethod
    def _one_lsb_in(base: bytes, env: bytes, part: str, exact: int | None = None) -> str | None:
        if len(env) != len(base):
            return f"length {len(env)}, valid envelope {len(base)}"
        diff = [i for i in range(len(base)) if base[i] != env[i]]
        if len(diff) != 1:
            return f"{len(diff)} bytes differ from the valid envelope, not 1"
        i = diff[0]
        a, b = layout(base)[part]
        if not a <= i < b or (exact is not None and i != exact):
            return f"changed byte at offset {i} ({envelope_region_pq(base, i)}), not in {part}"
        if base[i] ^ env[i] != 1:
            return f"byte {i} changed by XOR 0x{base[i] ^ env[i]:02x}, not its least significant bit"
        return None

    @staticmethod
    def _only(base: bytes, env: bytes, a: int, b: int, want: bytes) -> str | None:
        if len(env) != len(base):
            return f"length {len(env)}, valid envelope {len(base)}"
        expect = base[:a] + want + base[b:]
        if env == expect:
            return None
        i = next(i for i in range(len(env)) if env[i] != expect[i])
        return f"first unexpected byte at offset {i} ({envelope_region_pq(base, i)})"

    def _tampered_ct1(self, base, env):
        return self._one_lsb_in(base, env, "ct1")

    def _tampered_ephemeral_key(self, base, env):
        return self._one_lsb_in(base, env, "E")

    def _tampered_ek_e(self, base, env):
        return self._one_lsb_in(base, env, "ek_e", exact=layout(base)["ek_e"][1] - 1)

    def _tampered_ciphertext(self, base, env):
        return self._one_lsb_in(base, env, "ciphertext")

    def _tampered_tag(self, base, env):
        return self._one_lsb_in(base, env, "tag")

    def _tampered_ct2(self, base, env):
        return self._one_lsb_in(base, env, "ct2")

    def _tampered_server_ephemeral_key(self, base, env):
        return self._one_lsb_in(base, env, "F")

    def _tampered_header(self, base, env):
        if self._one_lsb_in(base, env, "ct2") is None or self._one_lsb_in(base, env, "F") is None:
            return None
        return "not one bit of header2 after the prefix (ct2 or F)"

    def _ek_e_fails_key_check(self, base, env):
        a, _ = layout(base)["ek_e"]
        return self._only(base, env, a, a + 2, b"\xff" + bytes([(base[a + 1] & 0xF0) | 0x0F]))

    def _low_order_client_ephemeral(self, base, env):
        a, b = layout(base)["E"]
        return self._only(base, env, a, b, bytes(32))

    def _low_order_server_ephemeral(self, base, env):
        a, b = layout(base)["F"]
        return self._only(base, env, a, b, bytes(32))

    def _request_key_length_1119(self, base, env):
        a, b = layout(base)["reqKeyLen"]
        return self._only(base, env, a, b, u16be(1119))

    def _unsupported_version(self, base, env):
        return self._only(base, env, 2, 3, b"\x03")

    def _unknown_type(self, base, env):
        return self._only(base, env, 3, 4, b"\x05")

    def _wrong_key_id(self, base, env):
        a, b = layout(base)["keyId"]
        if len(env) != len(base):
            return f"length {len(env)}, valid envelope {len(base)}"
        diff = [i for i in range(len(base)) if base[i] != env[i]]
        if len(diff) != 1 or not a <= diff[0] < b:
            return f"bytes {diff[:4]} differ, not one byte of keyId"
        return None

    def _iv_not_sequence_zero(self, base, env):
        if self.client is None:
            return "no client session to compute nonce(s2c, 1) (see earlier failure)"
        a, b = layout(base)["IV"]
        return self._only(base, env, a, b, x.nonce(self.client.keys.iv_s2c, 1))

    def _x25519_suite_type1(self, base, env):
        """Section 15.9: the type 1 an X25519-suite client would send for this keyId and S
        (section 5.1) with the case's e, iv1 and payload.

        SPEC-NOTE §15.9: the padding block of that envelope is not stated (the case's
        padding_block is the natural reading, and what the generator uses); checked here
        without it: the envelope opens at an X25519-suite server holding (keyId, s, S) to
        kx_payload, and carries E = X25519(e, 9) and iv1."""
        inp = self.inp
        try:
            t1 = x.parse_type1(env)
            hs = x.server_open_kx(env, {inp.key_id: x.ServerKey(inp.key_id, inp.s, x.x25519_public(inp.s))}, inp.now)
        except ScError as ex:
            return f"not an X25519-suite type 1 for this key: {ex}"
        if t1.E != x.x25519_public(inp.e) or t1.iv != inp.iv1 or hs.payload != inp.kx_payload:
            return "not made with the case's e, iv1 and kx_payload"
        return None


def check_file(r: Report, data: dict) -> list[str]:
    """Section 15.9: check every case of a hybrid vector file.  Returns output lines.

    SPEC-NOTE §15.9: 'the file uses these kinds' does not say whether every case carries
    every kind or the file as a whole; checked for the file as a whole (the generator puts
    every kind in every case)."""
    out = []
    r.check("file suite", data.get("suite") == SUITE_PQ, f"suite {data.get('suite')!r}")
    kinds_seen = {n.get("kind") for c in data.get("cases", []) for n in c.get("negative", [])}
    missing = sorted(set(PQ_KINDS) - kinds_seen)
    r.check("file uses every kind of section 15.9's table", not missing, f"missing {missing}")
    out += r.take()
    for c in data.get("cases", []):
        try:
            check_case(r, c)
        except Exception as ex:  # noqa: BLE001 -- malformed case: report and go on
            r.check("case", False, f"checker crashed: {type(ex).__name__}: {ex}")
        lines = r.take()
        out.append(("FAIL " if any(" FAIL " in ln for ln in lines) else "ok ") + str(c.get("name", "?")))
        out += lines
    return out


# ---------------------------------------------------------------------------
# Generator: a vector file of this implementation, from inputs derived as in 15.9
# ---------------------------------------------------------------------------

NOW = 1780000000000              # 2026-05-28T20:26:40Z
EXP = NOW + 30 * 60 * 1000
PW_CTX = b"POST /web/v1/system/auth/password/init"
PW_REQ = b'{"sessionId":"init-session-pq01","password":"Quantum-Res1stant!"}'
PW_RESP = (b'{"version":"2.0.0","timestamp":1780000000000,"success":true,"code":"2000",'
           b'"message":"SUCCESS","data":{"bizId":"ACC_USR_00000042","status":10010202}}')
PRINTABLE = bytes(range(0x21, 0x7F))   # 94 bytes

# name, key_id, padding block, kx payload, session id, app payload, exchanges in the order
# the server opens them: (seq, ctx, request body, response body)
GEN_CASES = [
    # section 15.7's examples: 9-byte keyId, payload {}, block 64 -> type 1 of 2414 bytes;
    # 22-character sid, no app payload -> type 130 of 1216 bytes
    ("pyref-pq-password-init-block-64", b"k-2026-pq", 64, b"{}", b"cHlyZWYtcHEtc2Vzc2lvbg", b"",
     [(1, PW_CTX, PW_REQ, PW_RESP)]),
    # the smallest type 1 (section 15.2: 2343 bytes) and empty everything
    ("pyref-pq-empty-everything-block-1", b"a", 1, b"", b"s", b"",
     [(1, b"", b"", b""), (2, b"", b"x", b"")]),
    ("pyref-pq-block-256-out-of-order", b"prod/x25519mlkem768/3", 256, b'{"client":"ios","build":"7.1.0"}',
     b"sess-pq-0001", b'{"ttl":1800}',
     [(2, b"POST /web/v1/system/auth/login", b'{"user":"alice","password":"' + b"p" * 40 + b'"}', b'{"success":true}'),
      (1, PW_CTX, PW_REQ, PW_RESP),
      (3, b"POST /web/v1/system/auth/password/change", b'{"old":"a","new":"b"}' * 12, b"{}")]),
    ("pyref-pq-longest-key-id-and-session-id", (PRINTABLE * 3)[:255], 64, b"{}",
     bytes(reversed(PRINTABLE))[:64], bytes(range(100)),
     [(1, PW_CTX, PW_REQ, PW_RESP)]),
    ("pyref-pq-binary-payloads-block-4096", b"bin-pq", 4096, bytes(range(256)), b"bin-pq-0",
     bytes(range(255, -1, -1)),
     [(1, b"PUT /v1/blob", bytes(range(256)) * 3, bytes(1000))]),
    ("pyref-pq-many-exchanges-reordered-block-1", b"k7pq", 1, b"hello", b"MANY-PQ", b"welcome",
     [(n, b"POST /web/v1/op/%d" % n, b"q" * (17 * n), b"a" * (11 * n)) for n in (3, 1, 2, 6, 4, 5)]),
    ("pyref-pq-large-request-20000", b"k-large-pq", 64, bytes(1000), b"large-pq-session", b"",
     [(1, b"POST /web/v1/system/auth/register", bytes(i % 251 for i in range(20000)), b'{"success":true}'),
      (2, PW_CTX, PW_REQ, PW_RESP)]),
]


def _flip(env: bytes, i: int) -> bytes:
    """Section 15.9: 'one bit flipped' = the least significant bit of byte i."""
    return env[:i] + bytes([env[i] ^ 1]) + env[i + 1:]


def _put(env: bytes, a: int, new: bytes) -> bytes:
    return env[:a] + new + env[a + len(new):]


def _seal_request_with(cl: x.ClientSession, ctx: bytes, body: bytes, iv: bytes) -> bytes:
    """A type 2 sealed with a chosen IV (for the nonce-range negatives of section 14)."""
    return MAGIC + u8(VERSION) + u8(T_REQ) + iv + x.aes_gcm_seal(
        cl.keys.k_c2s, iv, x.pad(body, cl.block), x.aad(T_REQ, cl.sid, ctx))


def make_case(name: str, key_id: bytes, block: int, kx_payload: bytes, sid: bytes, app: bytes,
              exchanges: list[tuple[int, bytes, bytes, bytes]]) -> dict:
    """One case of section 15.9: inputs derived from the name, every envelope made by this
    implementation, negatives of every kind of section 15.9's table and of the kinds of
    section 14 that apply.

    SPEC-NOTE §15.9: 'the kinds of section 14 that apply' are not listed.  Written here:
    every kind of section 14 except request_key_length_31 (replaced by
    request_key_length_1119) and tampered_header (in the hybrid suite header2 is ct2 || F,
    covered by tampered_ct2 and tampered_server_ephemeral_key)."""
    d = {f: derive(name, f, n) for f, n in DERIVED_FIELDS.items()}
    key = PqServerKey(key_id, d["server_static_private"], d["server_mlkem_seed"])
    pin = PqPin.from_public(key_id, key.public)
    env1, chs = client_seal_kx(pin, d["client_ephemeral_private"], d["client_mlkem_seed"],
                               d["encaps_randomness_1"], d["iv1"], kx_payload, block)
    shs = server_open_kx(env1, {key_id: key}, NOW)
    env130, srv = server_seal_kxr(shs, d["server_ephemeral_private"], d["encaps_randomness_2"], sid, EXP, app, block)
    cli, got_app = client_open_kxr(copy.deepcopy(chs), env130, NOW)
    assert got_app == app and cli.sid == sid

    # exchanges: the client seals 1..=k in order, the server opens in the listed order
    by_seq = {n: (ctx, q, a) for n, ctx, q, a in exchanges}
    req_env = {n: cli.seal_request(by_seq[n][0], by_seq[n][1], NOW)[0] for n in sorted(by_seq)}
    out_ex = []
    for n, ctx, q, a in exchanges:
        body, slot = srv.open_request(req_env[n], ctx, NOW)
        assert body == q
        resp = srv.seal_response(slot, ctx, a)
        out_ex.append({"seq": n, "ctx": ctx.hex(), "request": q.hex(), "request_envelope": req_env[n].hex(),
                       "response": a.hex(), "response_envelope": resp.hex()})

    neg = []

    def add(kind: str, stage: str, env: bytes, error: str, seq: int = 0, ctx: bytes = b"") -> None:
        neg.append({"kind": kind, "stage": stage, "seq": seq, "ctx": ctx.hex(), "envelope": env.hex(), "error": error})

    L1, L2 = layout(env1), layout(env130)
    k0 = env1[L1["keyId"][0]]
    k0_new = k0 ^ 1 if 0x21 <= (k0 ^ 1) <= 0x7E else (k0 - 0x21 + 1) % 94 + 0x21
    add("wrong_key_id", "kx", _put(env1, L1["keyId"][0], bytes([k0_new])), "unknown_key_id")
    add("tampered_ciphertext", "kx", _flip(env1, L1["ciphertext"][1] - 1), "decryption_failed")
    add("tampered_ct1", "kx", _flip(env1, L1["ct1"][0]), "decryption_failed")
    add("tampered_ephemeral_key", "kx", _flip(env1, L1["E"][0]), "decryption_failed")
    add("tampered_ek_e", "kx", _flip(env1, L1["ek_e"][1] - 1), "decryption_failed")
    a = L1["ek_e"][0]
    add("ek_e_fails_key_check", "kx", _put(env1, a, b"\xff" + bytes([env1[a + 1] | 0x0F])), "invalid_public_key")
    add("low_order_client_ephemeral", "kx", _put(env1, L1["E"][0], bytes(32)), "invalid_public_key")
    add("request_key_length_1119", "kx", _put(env1, L1["reqKeyLen"][0], u16be(1119)), "malformed_envelope")
    x_env1, _ = x.client_seal_kx(key_id, key.S, d["client_ephemeral_private"], d["iv1"], kx_payload, block)
    add("x25519_suite_type1", "kx", x_env1, "malformed_envelope")
    add("unsupported_version", "kx", _put(env1, 2, b"\x03"), "unsupported_version")
    add("unknown_type", "kx", _put(env1, 3, b"\x05"), "unknown_type")

    add("tampered_tag", "kxr", _flip(env130, len(env130) - 1), "decryption_failed")
    add("tampered_ct2", "kxr", _flip(env130, L2["ct2"][0]), "decryption_failed")
    add("tampered_server_ephemeral_key", "kxr", _flip(env130, L2["F"][0]), "decryption_failed")
    add("low_order_server_ephemeral", "kxr", _put(env130, L2["F"][0], bytes(32)), "invalid_public_key")
    add("iv_not_sequence_zero", "kxr", _put(env130, L2["IV"][0], x.nonce(cli.keys.iv_s2c, 1)),
        "decryption_failed")

    # request stage (the server after all exchanges); a fresh request k+1 for the AEAD kinds
    n0, ctx0, _, _ = exchanges[0]
    k = len(exchanges)
    r0 = req_env[n0]
    fresh = copy.deepcopy(cli)
    q_new = b'{"probe":1}'   # short, and non-empty so that `truncated` is >= 33 bytes (section 3)
    new_req, _ = fresh.seal_request(ctx0, q_new, NOW)
    add("replay", "request", r0, "replayed", n0, ctx0)
    add("tampered_ciphertext", "request", _flip(new_req, 16), "decryption_failed", k + 1, ctx0)
    add("replayed_tampered", "request", _flip(r0, 16), "replayed", n0, ctx0)
    add("wrong_ctx", "request", new_req, "decryption_failed", k + 1, ctx0 + b"/")
    add("truncated", "request", new_req[:-1], "decryption_failed", k + 1, ctx0)
    add("response_at_request_entry", "request", bytes.fromhex(out_ex[0]["response_envelope"]),
        "malformed_envelope", n0, ctx0)
    add("sequence_zero", "request", _seal_request_with(cli, ctx0, q_new, x.nonce(cli.keys.iv_c2s, 0)),
        "decryption_failed", 0, ctx0)
    add("sequence_2_pow_32", "request", _seal_request_with(cli, ctx0, q_new, x.nonce(cli.keys.iv_c2s, 2**32)),
        "decryption_failed", 2**32, ctx0)
    top = _flip(x.nonce(cli.keys.iv_c2s, k + 1), 0)
    add("nonce_top_bytes_not_zero", "request", _seal_request_with(cli, ctx0, q_new, top), "decryption_failed", k + 1, ctx0)

    # response stage (a client session that sealed 1..=seq)
    resp0 = bytes.fromhex(out_ex[0]["response_envelope"])
    add("tampered_tag", "response", _flip(resp0, len(resp0) - 1), "decryption_failed", n0, ctx0)
    add("wrong_ctx", "response", resp0, "decryption_failed", n0, ctx0 + b"/")
    if k >= 2:
        add("response_for_other_request", "response", bytes.fromhex(out_ex[1]["response_envelope"]),
            "response_mismatch", n0, ctx0)

    case = {"name": name, "key_id": key_id.decode("ascii"), "server_static_public": key.public.hex(),
            "padding_block": block, "now_ms": NOW, "kx_payload": kx_payload.hex(), "kx_envelope": env1.hex(),
            "session_id": sid.decode("ascii"), "expires_at_ms": EXP, "kxr_payload": app.hex(),
            "kxr_envelope": env130.hex(), "exchanges": out_ex, "negative": neg}
    case.update({f: v.hex() for f, v in d.items()})
    return case


def generate() -> dict:
    """The whole vector file of this implementation (deterministic)."""
    return {"suite": SUITE_PQ,
            "description": ("SCv2 X25519MLKEM768-HKDF-SHA256-AES-256-GCM test vectors written by the independent "
                            "Python implementation (tests/interop/scv2_ref.py --write-hybrid-vectors); inputs "
                            "derived as SPEC.md section 15.9 says; see SPEC.md sections 14 and 15.9"),
            "cases": [make_case(*spec) for spec in GEN_CASES]}


def dumps(doc: dict) -> str:
    """The file's text: sorted keys, two-space indent, final newline (as the X25519 file)."""
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


COMMITTED = Path(__file__).resolve().parent / "scv2-x25519mlkem768-pyref.json"


# ---------------------------------------------------------------------------
# Self-test: behaviour of section 15 that a vector file does not pin down
# ---------------------------------------------------------------------------

ORDER8 = bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
P25519 = bytes.fromhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")


def set_coefficient(ek: bytes, j: int, v: int) -> bytes:
    """Set coefficient j (0..767) of ek[0..1152] to the 12-bit value v (ByteEncode12:
    c[2g] = b0 + 256*(b1 mod 16), c[2g+1] = floor(b1/16) + 16*b2 for group g)."""
    g, hi = divmod(j, 2)
    b = bytearray(ek)
    i = 3 * g
    if hi:
        b[i + 1] = (b[i + 1] & 0x0F) | ((v & 0x0F) << 4)
        b[i + 2] = v >> 4
    else:
        b[i] = v & 0xFF
        b[i + 1] = (b[i + 1] & 0xF0) | (v >> 8)
    return bytes(b)


def kyber_accepts(ek: bytes) -> bool:
    try:
        ML_KEM_768._encaps_internal(ek, bytes(32))
    except ValueError:
        return False
    return True


def self_test(r: Report) -> None:
    """Checks of this implementation's reading of section 15 on inputs of its own:
    round trips, the order of checks of 15.6, every negative kind of 15.9, the sizes of
    15.7, the encapsulation-key check, implicit rejection, pins, and the generator."""
    now, exp = 1_000_000, 2_000_000
    s, e, f = sha256(b"pq s"), sha256(b"pq e"), sha256(b"pq f")
    seed_s, seed_e = sha256(b"pq d_s") + sha256(b"pq z_s"), sha256(b"pq d_e") + sha256(b"pq z_e")
    m1, m2, iv1 = sha256(b"pq m1"), sha256(b"pq m2"), sha256(b"pq iv1")[:12]
    kid = b"k-pq"
    key = PqServerKey(kid, s, seed_s)
    pin = PqPin.from_public(kid, key.public)
    keys = {kid: key}

    def err(label, want, fn):
        expect_error(r, "self-test pq " + label, want, fn)

    def ok(label, fn):
        expect_ok(r, "self-test pq " + label, fn)

    def chk(label, cond, detail=""):
        r.check("self-test pq " + label, bool(cond), detail)

    def open_kx(env, ks=None, t=now, limits=DEFAULT_LIMITS):
        return server_open_kx(env, keys if ks is None else ks, t, limits)

    # ---- round trip (15.4, 15.5, then the unchanged sessions of section 8)
    env1, chs = client_seal_kx(pin, e, seed_e, m1, iv1, b"{}", 16)
    shs = open_kx(env1)
    env130, srv = server_seal_kxr(shs, f, m2, b"sid-pq", exp, b"app", 16)
    cli, app = client_open_kxr(copy.deepcopy(chs), env130, now)
    chk("round trip: kx payload", shs.payload == b"{}")
    chk("round trip: sid, expiry, app payload", (cli.sid, cli.expires_at_ms, app) == (b"sid-pq", exp, b"app"))
    chk("round trip: both sides derive the same okm", cli.keys == srv.keys)
    chk("round trip: server saw E and ek_e of the client", (shs.E, shs.ek_e) == (chs.E, chs.ek_e))
    cl, sv = copy.deepcopy(cli), copy.deepcopy(srv)
    ctx = b"POST /web/v1/system/auth/password/init"
    sealed = [cl.seal_request(ctx, b"body %d" % n, now) for n in (1, 2, 3)]
    for i in (1, 0, 2):
        body, slot = sv.open_request(sealed[i][0], ctx, now)
        resp = sv.seal_response(slot, ctx, b"answer %d" % (i + 1))
        chk(f"session: request {i + 1} out of order", body == b"body %d" % (i + 1) and slot.seq == i + 1)
        chk(f"session: response {i + 1}", cl.open_response(sealed[i][1], resp, ctx) == b"answer %d" % (i + 1))
    err("session: replay after a hybrid handshake", "replayed", lambda: sv.open_request(sealed[0][0], ctx, now))
    chk("web form round trip of hybrid envelopes",
        x.webform_decode(x.webform_encode(env1)) == env1 and x.webform_decode(x.webform_encode(env130)) == env130)
    for block, payload in [(1, b""), (64, b"x" * 63), (64, b"x" * 64), (4096, bytes(range(256)) * 5)]:
        ok(f"round trip block {block}, payload {len(payload)} bytes", lambda block=block, payload=payload: client_open_kxr(
            client_seal_kx(pin, e, seed_e, m1, iv1, payload, block)[1],
            server_seal_kxr(open_kx(client_seal_kx(pin, e, seed_e, m1, iv1, payload, block)[0]),
                            f, m2, b"s", exp, payload, block)[0], now))
    chk("fresh m2 gives other session keys (ss2 enters prk2)",
        server_seal_kxr(shs, f, sha256(b"other m2"), b"sid-pq", exp, b"app", 16)[1].keys != srv.keys)
    chk("fresh f gives other session keys (ee enters prk2)",
        server_seal_kxr(shs, sha256(b"other f"), m2, b"sid-pq", exp, b"app", 16)[1].keys != srv.keys)

    # ---- 15.8: server authentication needs both s and dk_s; h1 binds ek_s
    wrong_dk = copy.copy(key)
    wrong_dk.dk_s = mlkem_keygen(sha256(b"other d") + sha256(b"other z"))[1]
    err("server with the right s and ek_s but another dk_s", "decryption_failed", lambda: open_kx(env1, {kid: wrong_dk}))
    err("server with the right ML-KEM key but another s", "decryption_failed",
        lambda: open_kx(env1, {kid: PqServerKey(kid, sha256(b"other s"), seed_s)}))
    wrong_ek = copy.copy(key)
    wrong_ek.ek_s = mlkem_keygen(sha256(b"other d") + sha256(b"other z"))[0]
    err("server whose ek_s differs from the client's pin (h1)", "decryption_failed", lambda: open_kx(env1, {kid: wrong_ek}))

    # ---- ingredients for hand-made type 1 envelopes
    ss1, ct1 = mlkem_encaps(key.ek_s, m1)
    E = x.x25519_public(e)
    ek_e, dk_e = mlkem_keygen(seed_e)
    es = x.x25519(e, key.S)
    bad_ek = set_coefficient(ek_e, 0, 4095)
    chk("bad ek: first coefficient 4095 is ek[0] = 0xff, low nibble of ek[1] = 0xf",
        bad_ek[0] == 0xFF and bad_ek[1] & 0x0F == 0x0F and bad_ek[1] >> 4 == ek_e[1] >> 4 and bad_ek[2:] == ek_e[2:])

    def mk1(header: bytes, payload: bytes = b"{}", tag_ok: bool = True) -> bytes:
        _, _, k1 = kx_keys_pq(key.ek_s, key.S, header, ss1, es)
        env = header + iv1 + x.aes_gcm_seal(k1, iv1, x.pad(payload, 16), header)
        return env if tag_ok else _flip(env, len(env) - 1)

    good = mk1(header1_pq(kid, ct1, E, ek_e))
    ok("hand-made type 1 opens", lambda: open_kx(good))
    L1 = layout(good)

    # ---- 15.6 server type 1, steps 1-5
    for raw, want in [(b"", "malformed_envelope"), (b"SC", "malformed_envelope"), (b"SC\x03", "unsupported_version"),
                      (b"SC\x02", "malformed_envelope"), (b"SC\x02\x05", "unknown_type"),
                      (b"SC\x02\x02", "malformed_envelope"), (b"SC\x02\x81", "malformed_envelope"),
                      (b"SC\x02\x82", "malformed_envelope"), (b"SC\x02\x01", "malformed_envelope")]:
        err(f"kx entry {raw!r}", want, lambda raw=raw: open_kx(raw))
    err("kx version 3 (full envelope)", "unsupported_version", lambda: open_kx(_put(good, 2, b"\x03")))
    err("kx type 5 (full envelope)", "unknown_type", lambda: open_kx(_put(good, 3, b"\x05")))
    err("kx type 130 at the type-1 entry", "malformed_envelope", lambda: open_kx(env130))
    err("kx envelope cap before everything", "payload_too_large",
        lambda: open_kx(_put(good, 2, b"\x03"), limits=Limits(max_envelope=2000)))
    err("kx keyIdLen 0", "malformed_envelope", lambda: open_kx(b"SC\x02\x01\x00" + good[5:]))
    err("kx keyId not printable (and unknown)", "malformed_envelope",
        lambda: open_kx(mk1(header1_pq(b"k pq", ct1, E, ek_e))))
    hdr = header1_pq(kid, ct1, E, ek_e)
    chk("§15.2 type-1 minimum size is 2343 for a one-byte keyId", type1_min_len(1) == 2343)
    min1 = header1_pq(b"a", ct1, E, ek_e) + bytes(29)
    chk("§15.2 minimum-size type 1 is 2343 bytes", len(min1) == 2343)
    err("kx minimum-size type 1, unknown keyId: passes step 5", "unknown_key_id", lambda: open_kx(min1))
    err("kx 2342 bytes (AEAD 28), unknown keyId: step 5 first", "malformed_envelope", lambda: open_kx(min1[:-1]))
    err("kx AEAD 28 bytes, known keyId", "malformed_envelope", lambda: open_kx(hdr + bytes(28)))
    err("kx AEAD 29 bytes, known keyId: AEAD fails", "decryption_failed", lambda: open_kx(hdr + bytes(29)))
    err("kx truncated inside ek_e", "malformed_envelope", lambda: open_kx(good[:L1["ek_e"][0] + 100]))
    err("kx truncated inside ct1", "malformed_envelope", lambda: open_kx(good[:L1["ct1"][0] + 100]))
    err("kx respKeyLen claims more than present", "malformed_envelope",
        lambda: open_kx(_put(good, L1["respKeyLen"][0], u16be(0xFFFF))))

    # ---- 15.6 step 6 (keyId) before 6a (lengths) before 6b (ek_e) before 6c (es) before 10
    h1119 = header1_pq(kid, ct1, E[:31], ek_e, req_key_len=1119)
    h1183 = header1_pq(kid, ct1, E, ek_e[:1183], resp_key_len=1183)
    err("kx reqKeyLen 1119 (consistent structure)", "malformed_envelope", lambda: open_kx(mk1(h1119)))
    err("kx respKeyLen 1183 (consistent structure)", "malformed_envelope", lambda: open_kx(mk1(h1183)))
    other_store = {b"k-other": key}
    err("kx reqKeyLen 1119, unknown keyId: keyId first", "unknown_key_id", lambda: open_kx(mk1(h1119), other_store))
    err("kx respKeyLen 1183, unknown keyId: keyId first", "unknown_key_id", lambda: open_kx(mk1(h1183), {b"other": key}))
    err("kx reqKeyLen 1119 with a bad ek_e: lengths before the key check", "malformed_envelope",
        lambda: open_kx(mk1(header1_pq(kid, ct1, E[:31], bad_ek, req_key_len=1119))))
    err("kx request_key_length_1119 (kind of 15.9: field changed only)", "malformed_envelope",
        lambda: open_kx(_put(good, L1["reqKeyLen"][0], u16be(1119))))
    err("kx key expired (now = expiresAt)", "unknown_key_id",
        lambda: open_kx(good, {kid: PqServerKey(kid, s, seed_s, expires_at_ms=now)}))
    ok("kx key expiring after now", lambda: open_kx(good, {kid: PqServerKey(kid, s, seed_s, expires_at_ms=now + 1)}))
    err("kx bad ek_e, valid tag", "invalid_public_key", lambda: open_kx(mk1(header1_pq(kid, ct1, E, bad_ek))))
    err("kx bad ek_e, bad tag: key check before AEAD", "invalid_public_key",
        lambda: open_kx(mk1(header1_pq(kid, ct1, E, bad_ek), tag_ok=False)))
    err("kx bad ek_e and E = 0", "invalid_public_key", lambda: open_kx(mk1(header1_pq(kid, ct1, bytes(32), bad_ek))))
    err("kx bad ek_e, unknown keyId", "unknown_key_id", lambda: open_kx(mk1(header1_pq(kid, ct1, E, bad_ek)), other_store))
    err("kx ek_e_fails_key_check (kind of 15.9)", "invalid_public_key",
        lambda: open_kx(_put(good, L1["ek_e"][0], b"\xff" + bytes([good[L1["ek_e"][0] + 1] | 0x0F]))))
    err("kx ek_e of 1184 bytes 0xff", "invalid_public_key", lambda: open_kx(mk1(header1_pq(kid, ct1, E, b"\xff" * 1184))))
    ok("kx ek_e with rho all 0xff (rho is not checked) opens", lambda: open_kx(mk1(header1_pq(kid, ct1, E, ek_e[:1152] + b"\xff" * 32))))
    for u, name in [(bytes(32), "0"), (b"\x01" + bytes(31), "1"), (P25519, "p"), (ORDER8, "order 8")]:
        err(f"kx low-order E = {name}", "invalid_public_key", lambda u=u: open_kx(mk1(header1_pq(kid, ct1, u, ek_e))))
    err("kx E = 0, bad tag: es before AEAD", "invalid_public_key",
        lambda: open_kx(mk1(header1_pq(kid, ct1, bytes(32), ek_e), tag_ok=False)))
    err("kx E = 0, unknown keyId", "unknown_key_id", lambda: open_kx(mk1(header1_pq(kid, ct1, bytes(32), ek_e)), other_store))

    # ---- step 10 and the kinds of 15.9 (each as the change its table names)
    err("kx tampered_ct1 (implicit rejection)", "decryption_failed", lambda: open_kx(_flip(good, L1["ct1"][0] + 500)))
    err("kx tampered_ephemeral_key", "decryption_failed", lambda: open_kx(_flip(good, L1["E"][0] + 5)))
    err("kx tampered_ek_e (last byte, rho)", "decryption_failed", lambda: open_kx(_flip(good, L1["ek_e"][1] - 1)))
    err("kx ek_e coefficient changed but valid", "decryption_failed",
        lambda: open_kx(_put(good, L1["ek_e"][0], set_coefficient(ek_e, 7, 3328)[:12])))
    err("kx low_order_client_ephemeral", "invalid_public_key", lambda: open_kx(_put(good, L1["E"][0], bytes(32))))
    err("kx tampered_ciphertext", "decryption_failed", lambda: open_kx(_flip(good, L1["ciphertext"][0])))
    err("kx tampered tag", "decryption_failed", lambda: open_kx(_flip(good, len(good) - 1)))
    err("kx tampered IV", "decryption_failed", lambda: open_kx(_flip(good, L1["IV"][0])))
    err("kx byte appended after the tag", "decryption_failed", lambda: open_kx(good + b"\x00"))
    err("kx last byte removed", "decryption_failed", lambda: open_kx(good[:-1]))
    err("kx wrong_key_id", "unknown_key_id", lambda: open_kx(_put(good, L1["keyId"][0], b"K")))
    _, _, k1 = kx_keys_pq(key.ek_s, key.S, hdr, ss1, es)
    err("kx plaintext without padding marker", "decryption_failed",
        lambda: open_kx(hdr + iv1 + x.aes_gcm_seal(k1, iv1, b"{}\x00\x00", hdr)))
    z_s = seed_s[32:]
    ct1_bad = _flip(ct1, 500)
    ss_rej = mlkem_decaps(key.dk_s, ct1_bad)
    chk("implicit rejection: Decaps of a changed ct1 is J(z || ct) = SHAKE256(z || ct, 32)",
        ss_rej == hashlib.shake_256(z_s + ct1_bad).digest(32) and ss_rej != ss1)
    chk("Decaps of the genuine ct1 is ss1", mlkem_decaps(key.dk_s, ct1) == ss1)

    # ---- suites side by side (section 10, last paragraphs; 15.6 step 6a)
    xkid, xs = b"k-x25519", sha256(b"x25519 s")
    xkey = x.ServerKey(xkid, xs, x.x25519_public(xs))
    mixed = {kid: key, xkid: xkey}
    xonly = {xkid: xkey}
    xenv, _ = x.client_seal_kx(xkid, xkey.S, e, iv1, b"{}", 16)
    xenv_pqkid, _ = x.client_seal_kx(kid, key.S, e, iv1, b"{}", 16)
    err("x25519_suite_type1 naming a hybrid key", "malformed_envelope", lambda: open_kx(xenv_pqkid))
    err("X25519-suite type 1, unknown keyId, at a hybrid-only server", "unknown_key_id", lambda: open_kx(xenv))
    ok("X25519-suite type 1 at a server holding both suites", lambda: open_kx(xenv, mixed))
    a, b = open_kx(xenv, mixed), x.server_open_kx(xenv, xonly, now)
    chk("mixed server and X25519-only server derive the same prk1", (a.h1, a.prk1, a.payload) == (b.h1, b.prk1, b.payload))
    pq_for_x = client_seal_kx(PqPin(xkid, key.ek_s, key.S), e, seed_e, m1, iv1, b"{}", 16)[0]
    err("hybrid type 1 naming an X25519-suite key at a mixed server", "malformed_envelope", lambda: open_kx(pq_for_x, mixed))
    err("hybrid type 1 naming an X25519-suite key at an X25519-only server", "malformed_envelope", lambda: open_kx(pq_for_x, xonly))
    err("hybrid type 1, unknown keyId, at an X25519-only server (step 5)", "malformed_envelope", lambda: open_kx(good, xonly))
    err("hybrid type 1, unknown keyId, at a mixed server (after step 6)", "unknown_key_id",
        lambda: open_kx(good, {xkid: xkey, b"k-other": key}))
    ok("hybrid type 1 at a mixed server", lambda: open_kx(good, mixed))
    x31 = bytearray(xenv); x31[4 + 1 + len(xkid) + 1] = 31
    err("X25519 reqKeyLen 31 at a mixed server", "malformed_envelope", lambda: open_kx(bytes(x31), mixed))
    err("X25519 reqKeyLen 31, unknown keyId, at an X25519-only server (step 5)", "malformed_envelope",
        lambda: open_kx(bytes(x31), {b"k-other": xkey}))
    err("X25519 E = 0 at a mixed server", "invalid_public_key", lambda: open_kx(xenv[:4 + 1 + len(xkid) + 2] + bytes(32)
                                                                          + xenv[4 + 1 + len(xkid) + 34:], mixed))

    # ---- 15.3 keys, document, pins
    doc = key.document(now)
    chk("§15.3 document: algorithm, keySize 9728, 1624 base64 characters",
        doc["algorithm"] == SUITE_PQ and doc["keySize"] == 9728 and len(doc["publicKey"]) == 1624)
    ok("pin from the document", lambda: PqPin.from_document(kid, doc["publicKey"]))
    chk("pin from the document is the key", PqPin.from_document(kid, doc["publicKey"]).public == key.public)
    chk("§15.3 private key is 96 bytes s || d_s || z_s",
        len(key.private) == 96 and PqServerKey.from_private(kid, key.private).public == key.public)
    ok("every 96-byte string is a private key", lambda: PqServerKey.from_private(kid, b"\xff" * 96))
    b64 = doc["publicKey"]
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(b64[-3])
    non_canonical = b64[:-3] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[last ^ 1] + "=="
    for text, lbl in [(non_canonical, "unused bits not zero"), (b64[:-2], "no padding"), (b64[:800] + "\n" + b64[800:], "newline"),
                      (base64.b64encode(key.public[:-1]).decode(), "1215 bytes"),
                      (base64.b64encode(key.public + b"\x00").decode(), "1217 bytes"),
                      (base64.b64encode(bad_ek + key.S).decode(), "ek_s first coefficient 4095"),
                      (base64.b64encode(set_coefficient(key.ek_s, 767, 3329) + key.S).decode(), "ek_s last coefficient 3329"),
                      (x.spki_encode(key.S), "an X25519 SPKI"), ("", "empty")]:
        err(f"pin from document: {lbl}", "invalid_public_key", lambda text=text: PqPin.from_document(kid, text))
    ok("pin with ek_s coefficients 3328", lambda: PqPin.from_public(kid, set_coefficient(set_coefficient(key.ek_s, 0, 3328), 767, 3328) + key.S))
    err("client start with an unchecked bad ek_s", "invalid_public_key",
        lambda: client_seal_kx(PqPin(kid, bad_ek, key.S), e, seed_e, m1, iv1, b"{}", 16))
    low_S = PqPin.from_public(kid, key.ek_s + bytes(32))
    err("client start with a low-order S (es = 0)", "invalid_public_key",
        lambda: client_seal_kx(low_S, e, seed_e, m1, iv1, b"{}", 16))

    # ---- 15.1 encapsulation-key check: this module's formula against kyber-py's
    agree, right = 0, 0
    trials = [(j, v) for j in (0, 1, 2, 3, 382, 383, 766, 767) for v in (0, 3328, 3329, 4095)]
    for j, v in trials:
        k2 = set_coefficient(ek_e, j, v)
        agree += ek_passes_check(k2) == kyber_accepts(k2)
        right += ek_passes_check(k2) == (v < 3329)
    chk(f"ek check agrees with kyber-py on {len(trials)} keys", agree == len(trials), f"{len(trials) - agree} disagree")
    chk(f"ek check refuses exactly coefficients >= 3329 on {len(trials)} keys", right == len(trials))
    chk("ek check: wrong lengths refused", not ek_passes_check(ek_e[:-1]) and not ek_passes_check(ek_e + b"\x00"))
    chk("ek check: generated keys pass", ek_passes_check(ek_e) and ek_passes_check(key.ek_s))

    # ---- 15.6 client type 130
    def open130(env, hs=None, t=now, limits=DEFAULT_LIMITS):
        return client_open_kxr(copy.deepcopy(chs if hs is None else hs), env, t, limits)

    L2 = layout(env130)
    err("kxr 1152 bytes", "malformed_envelope", lambda: open130(env130[:1152]))
    err("kxr 1153 bytes: passes step 5, AEAD fails", "decryption_failed", lambda: open130(env130[:1153]))
    xshs = x.server_open_kx(xenv, xonly, now)
    x130, _ = x.server_seal_kxr(xshs, f, b"sid-pq", exp, b"app", 16)
    err("X25519-suite type 130 to a hybrid handshake", "malformed_envelope", lambda: open130(x130))
    big_x130, _ = x.server_seal_kxr(xshs, f, b"sid-pq", exp, bytes(1200), 16)
    err("X25519-suite type 130 longer than 1153 bytes", "decryption_failed", lambda: open130(big_x130))
    for raw, want in [(b"SC\x02", "malformed_envelope"), (b"SC\x03\x82", "unsupported_version"),
                      (b"SC\x02\x06", "unknown_type"), (env1, "malformed_envelope")]:
        err(f"kxr entry {raw[:4]!r}", want, lambda raw=raw: open130(raw))
    err("kxr envelope cap", "payload_too_large", lambda: open130(env130, limits=Limits(max_envelope=1000)))
    err("kxr F = 0", "invalid_public_key", lambda: open130(_put(env130, L2["F"][0], bytes(32))))
    err("kxr F = order-8 point", "invalid_public_key", lambda: open130(_put(env130, L2["F"][0], ORDER8)))
    err("kxr F = 0 and a bad IV: ee before step 8", "invalid_public_key",
        lambda: open130(_flip(_put(env130, L2["F"][0], bytes(32)), L2["IV"][0])))
    err("kxr F = 0 and 1152 bytes: step 5 first", "malformed_envelope", lambda: open130(_put(env130, L2["F"][0], bytes(32))[:1152]))
    err("kxr IV = nonce(s2c, 1)", "decryption_failed", lambda: open130(_put(env130, L2["IV"][0], x.nonce(cli.keys.iv_s2c, 1))))
    err("kxr tampered_ct2", "decryption_failed", lambda: open130(_flip(env130, L2["ct2"][0] + 700)))
    err("kxr tampered_server_ephemeral_key", "decryption_failed", lambda: open130(_flip(env130, L2["F"][0] + 3)))
    err("kxr tampered tag", "decryption_failed", lambda: open130(_flip(env130, len(env130) - 1)))
    err("kxr tampered ciphertext", "decryption_failed", lambda: open130(_flip(env130, L2["ciphertext"][0])))
    err("kxr byte appended", "decryption_failed", lambda: open130(env130 + b"\x00"))
    err("kxr type 130 at the request entry", "malformed_envelope", lambda: copy.deepcopy(srv).open_request(env130, ctx, now))
    other_env1, other_chs = client_seal_kx(pin, sha256(b"e2"), sha256(b"seed2") * 2, m1, iv1, b"{}", 16)
    other130, _ = server_seal_kxr(open_kx(other_env1), f, m2, b"sid-pq", exp, b"app", 16)
    err("kxr answering another type 1", "decryption_failed", lambda: open130(other130))
    ok("kxr answering that other type 1 opens for its own client", lambda: open130(other130, other_chs))
    err("kxr expired (now = expiresAt)", "session_expired", lambda: open130(env130, t=exp))
    ss2, ct2 = mlkem_encaps(shs.ek_e, m2)
    F = x.x25519_public(f)
    header2 = MAGIC + u8(VERSION) + u8(T_KXR) + ct2 + F
    chk("§15.5 header2 is 1124 bytes", len(header2) == 1124 and env130.startswith(header2))
    h2, ks = session_keys_pq(shs.h1, shs.envelope1, header2, shs.prk1, ss2, x.x25519(f, shs.E))

    def kxr_pt(pt: bytes) -> bytes:
        return _seal_type130(shs, header2, ks, h2, pt, 1)

    ok("kxr hand-made plaintext opens", lambda: open130(kxr_pt(b"\x03abc" + u64be(exp) + b"xyz")))
    for pt, lbl in [(b"", "empty"), (b"\x00" + u64be(exp), "sid length 0"), (b"\x41" + b"a" * 65 + u64be(exp), "sid length 65"),
                    (b"\x03abc" + bytes(7), "expiry truncated"), (b"\x03a b" + u64be(exp), "sid with a space"),
                    (b"\x03a b" + u64be(now), "sid with a space and expired: structure first")]:
        err(f"kxr plaintext {lbl}", "malformed_envelope", lambda pt=pt: open130(kxr_pt(pt)))
    err("kxr plaintext expired", "session_expired", lambda: open130(kxr_pt(b"\x01a" + u64be(now))))
    err("kxr plaintext without padding marker", "decryption_failed",
        lambda: open130(header2 + x.nonce(ks.iv_s2c, 0) + x.aes_gcm_seal(ks.k_s2c, x.nonce(ks.iv_s2c, 0), b"\x01a" + u64be(exp) + b"\x01", h2)))

    # ---- 15.7 sizes
    chk("§15.7 public key 1216 bytes, private key 96", len(key.public) == 1216 and len(key.private) == 96)
    for key_id, payload, block in [(b"k-2026-pq", b"{}", 64), (b"a", b"", 1), (b"x" * 255, bytes(300), 256), (b"kk", b"z" * 64, 4096)]:
        p2 = PqPin.from_public(key_id, key.public)
        env, _ = client_seal_kx(p2, e, seed_e, m1, iv1, payload, block)
        xe, _ = x.client_seal_kx(key_id, key.S, e, iv1, payload, block)
        chk(f"§15.7 type 1 = 2341 + len(keyId) + len(inner) (keyId {len(key_id)}, block {block})",
            len(env) == 2341 + len(key_id) + len(x.pad(payload, block)), f"{len(env)} bytes")
        chk(f"§15.7 type 1 is 2272 bytes longer than the X25519 suite's (keyId {len(key_id)}, block {block})",
            len(env) - len(xe) == 2272)
    e2414, _ = client_seal_kx(PqPin.from_public(b"k-2026-pq", key.public), e, seed_e, m1, iv1, b"{}", 64)
    chk("§15.7 type 1 is 2414 bytes for a 9-byte keyId and {} with block 64", len(e2414) == 2414, f"{len(e2414)}")
    for sid, app_, block in [(b"A" * 22, b"", 64), (b"s", b"", 1), (b"S" * 64, bytes(100), 256)]:
        env, _ = server_seal_kxr(shs, f, m2, sid, exp, app_, block)
        xe, _ = x.server_seal_kxr(xshs, f, sid, exp, app_, block)
        plain = 9 + len(sid) + len(app_)
        chk(f"§15.7 type 130 = 1152 + len(inner(plaintext)) (sid {len(sid)}, block {block})",
            len(env) == 1152 + len(x.pad(bytes(plain), block)), f"{len(env)} bytes")
        chk(f"§15.7 type 130 is 1088 bytes longer than the X25519 suite's (sid {len(sid)}, block {block})",
            len(env) - len(xe) == 1088)
    e1216, _ = server_seal_kxr(shs, f, m2, b"A" * 22, exp, b"", 64)
    chk("§15.7 type 130 is 1216 bytes for a 22-character sid, no app payload, block 64", len(e1216) == 1216)
    smallest, _ = client_seal_kx(PqPin.from_public(b"a", key.public), e, seed_e, m1, iv1, b"", 1)
    chk("§15.2 smallest type 1 (one-byte keyId, empty payload, block 1) is 2343 bytes", len(smallest) == 2343)

    # ---- 15.9 derivation rule against the X25519 file's derived inputs
    xfile = Path(__file__).resolve().parents[2] / "tests" / "vectors" / "scv2-x25519.json"
    if xfile.is_file():
        n_ok = n_all = 0
        for c in json.loads(xfile.read_text())["cases"]:
            for fld, n in [("server_static_private", 32), ("client_ephemeral_private", 32),
                           ("server_ephemeral_private", 32), ("iv1", 12)]:
                n_all += 1
                n_ok += derive(c["name"], fld, n).hex() == c[fld]
        chk(f"§15.9 derivation reproduces the X25519 file's {n_all} derived inputs", n_ok == n_all, f"{n_all - n_ok} differ")

    # ---- the generator: its file passes this checker, and the committed copy is current
    doc = generate()
    sub = Report()
    lines = check_file(sub, doc)
    chk(f"generated vector file passes the checker ({sub.passed} checks)", sub.failed == 0,
        "; ".join(ln.strip() for ln in lines if "FAIL" in ln)[:2000])
    kinds = {n["kind"] for c in doc["cases"] for n in c["negative"]}
    chk("generated file has every kind of section 15.9's table", set(PQ_KINDS) <= kinds)
    chk("generated file: §15.7 example sizes (2414, 1216)",
        len(doc["cases"][0]["kx_envelope"]) // 2 == 2414 and len(doc["cases"][0]["kxr_envelope"]) // 2 == 1216)
    chk("generated file: smallest type 1 (2343)", len(doc["cases"][1]["kx_envelope"]) // 2 == 2343)
    chk(f"committed {COMMITTED.name} is what the generator writes",
        COMMITTED.is_file() and COMMITTED.read_text() == dumps(doc),
        "missing or stale: python3 tests/interop/scv2_ref.py --write-hybrid-vectors " + str(COMMITTED))

    # ---- the checker can fail: files made with a wrong key schedule are refused
    def mutant(label: str, **patch) -> None:
        saved = {k: globals()[k] for k in patch}
        globals().update(patch)
        try:
            case = make_case(*GEN_CASES[1])
        finally:
            globals().update(saved)
        sub = Report()
        check_file(sub, {"suite": SUITE_PQ, "cases": [case]})
        chk(f"checker refuses a file made with {label}", sub.failed > 0, "every check passed")

    saved_kx, saved_sk = kx_keys_pq, session_keys_pq
    mutant("ikm es || ss1", kx_keys_pq=lambda ek, S, hd, ss1, es: saved_kx(ek, S, hd, es, ss1))
    mutant("ikm ee || ss2", session_keys_pq=lambda h1, e1, hd, p1, ss2, ee: saved_sk(h1, e1, hd, p1, ee, ss2))
    mutant("LABEL of the X25519 suite", LABEL_PQ=x.LABEL)
    mutant("h1 without ek_s", kx_keys_pq=lambda ek, S, hd, ss1, es: saved_kx(b"", S, hd, ss1, es))
