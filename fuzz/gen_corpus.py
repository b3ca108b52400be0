#!/usr/bin/env python3
"""Write the seed corpora of the scv2 fuzz targets from the test vectors.

    python3 fuzz/gen_corpus.py          # rewrites fuzz/corpus/<target>/ (seeds only)

Standard library only. Deterministic: the same vector file gives the same files (named by the
SHA-1 of their content, as libFuzzer names its own). The framing of server_open, client_open and
ffi inputs is `flags | ctx selector | seq selector | capacity shortfall | envelope` (see
fuzz/src/lib.rs, `Frame`); the fixtures of those targets are the case PRIMARY below, so its
envelopes are authentic for them.
"""

import base64
import hashlib
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "tests", "vectors", "scv2-x25519.json")
HYBRID_VECTORS = os.path.join(HERE, "..", "tests", "vectors", "scv2-x25519mlkem768.json")
# The hybrid case of the fixtures (server_open flag bit 5, client_open flag bit 4, ffi).
HYBRID = "pq-password-init-block-64"
SERVER_HYBRID = 0x20
CLIENT_HYBRID = 0x10
CORPUS = os.path.join(HERE, "corpus")
PRIMARY = "many-exchanges-reordered-block-1"
# Seeds larger than this are skipped (libFuzzer's default -max_len is derived from the corpus).
MAX_SEED = 4096  # a hybrid type 1 is about 2.4 KB
# Flag bit of the ffi target: the input is for the client side.
FFI_CLIENT = 0x80


def frame(flags, ctx_sel, seq_sel, cap_short, envelope):
    return bytes([flags, ctx_sel, seq_sel, cap_short]) + envelope


def seq_sel(seq):
    if seq == 0xFFFFFFFF:
        return 0xFF
    if seq == 0xFFFFFFFE:
        return 0xFE
    # 0 selects 1 in the framing; any other out-of-range seq is clamped to a byte.
    return seq if 1 <= seq <= 0xFD else 0x01


def main():
    with open(VECTORS) as f:
        vectors = json.load(f)
    cases = vectors["cases"]
    primary = next(c for c in cases if c["name"] == PRIMARY)
    ctx_sel = {bytes.fromhex(x["ctx"]): x["seq"] for x in primary["exchanges"]}
    ctx3 = next(bytes.fromhex(x["ctx"]) for x in primary["exchanges"] if x["seq"] == 3)
    ctx_sel[ctx3 + b"/"] = 7
    ctx_sel[b""] = 0

    def sel(ctx_hex):
        return ctx_sel.get(bytes.fromhex(ctx_hex), 0)

    seeds = {t: set() for t in ("envelope_parse", "server_open", "client_open", "ffi", "roundtrip")}

    # envelope_parse: every envelope of every case (small enough), its web form, and the
    # shortest prefixes that stop at each check.
    for c in cases:
        envs = [c["kx_envelope"], c["kxr_envelope"]]
        for x in c["exchanges"]:
            envs += [x["request_envelope"], x["response_envelope"]]
        envs += [n["envelope"] for n in c["negative"]]
        for e in envs:
            b = bytes.fromhex(e)
            if len(b) <= MAX_SEED:
                seeds["envelope_parse"].add(b)
            if len(b) <= 256:
                form = b'{"v":2,"p":"' + base64.b64encode(b) + b'"}'
                seeds["envelope_parse"].add(form)
    # The hybrid file's envelopes too (the common type-1 parser and the hybrid parsers).
    with open(HYBRID_VECTORS) as f:
        for c in json.load(f)["cases"]:
            for e in [c["kx_envelope"], c["kxr_envelope"]] + [n["envelope"] for n in c["negative"]
                                                               if n["stage"] in ("kx", "kxr")]:
                b = bytes.fromhex(e)
                if len(b) <= MAX_SEED:
                    seeds["envelope_parse"].add(b)
    for b in [b"", b"S", b"SC", b"SC\x02", b"SC\x01\x02", b"SC\x02\x03", b"SC\x02\x02",
              b"SC\x02\x81", b"SC\x02\x82", b"SC\x02\x01", b'{"p":"U0MCAg==","v":2}',
              b'{ "v" : 3 , "p" : "" }']:
        seeds["envelope_parse"].add(b)

    # server_open: the primary case's type 1 at accept; its requests at each open mode, fresh
    # and after the case's exchanges were opened; the negatives at their stage.
    server = set()
    server.add(frame(0, 0, 0, 0, bytes.fromhex(primary["kx_envelope"])))
    for x in primary["exchanges"]:
        env = bytes.fromhex(x["request_envelope"])
        for flags in (1, 2, 3, 1 | 16, 3 | 16, 1 | 4, 1 | 8):
            server.add(frame(flags, x["seq"], 0, 0, env))
        server.add(frame(1, x["seq"], 0, 1, env))  # one byte short of output
        server.add(frame(1, 0, 0, 0, env))  # wrong (empty) ctx
    for n in primary["negative"]:
        env = bytes.fromhex(n["envelope"])
        if n["stage"] == "kx":
            server.add(frame(0, 0, 0, 0, env))
        elif n["stage"] == "request":
            server.add(frame(1 | 16, sel(n["ctx"]), 0, 0, env))
            server.add(frame(3, sel(n["ctx"]), 0, 0, env))
    # The hybrid suite: its type 1 and kx negatives at the two-suite server, the X25519 type 1
    # there too; its type 130 and kxr negatives at a hybrid handshake.
    with open(HYBRID_VECTORS) as f:
        hybrid = next(c for c in json.load(f)["cases"] if c["name"] == HYBRID)
    server.add(frame(SERVER_HYBRID, 0, 0, 0, bytes.fromhex(hybrid["kx_envelope"])))
    server.add(frame(SERVER_HYBRID, 0, 0, 0, bytes.fromhex(primary["kx_envelope"])))
    hybrid_client = {frame(CLIENT_HYBRID, 0, 0, 0, bytes.fromhex(hybrid["kxr_envelope"])),
                     frame(CLIENT_HYBRID | 4, 0, 0, 0, bytes.fromhex(hybrid["kxr_envelope"]))}
    for n in hybrid["negative"]:
        env = bytes.fromhex(n["envelope"])
        if n["stage"] == "kx":
            server.add(frame(SERVER_HYBRID, 0, 0, 0, env))
        elif n["stage"] == "kxr":
            hybrid_client.add(frame(CLIENT_HYBRID, 0, 0, 0, env))
    seeds["server_open"] = server

    # client_open: the primary case's type 130 (in time and at expiry); its responses as the
    # answer to their own request and to another; the negatives at their stage.
    client = set()
    kxr = bytes.fromhex(primary["kxr_envelope"])
    client.add(frame(0, 0, 0, 0, kxr))
    client.add(frame(4, 0, 0, 0, kxr))
    for x in primary["exchanges"]:
        env = bytes.fromhex(x["response_envelope"])
        for flags in (1, 2, 3, 1 | 8):
            client.add(frame(flags, x["seq"], seq_sel(x["seq"]), 0, env))
        client.add(frame(1, x["seq"], seq_sel(x["seq"] % 6 + 1), 0, env))  # mismatch
        client.add(frame(1, x["seq"], seq_sel(x["seq"]), 1, env))  # one byte short
    for n in primary["negative"]:
        env = bytes.fromhex(n["envelope"])
        if n["stage"] == "kxr":
            client.add(frame(0, 0, 0, 0, env))
        elif n["stage"] == "response":
            client.add(frame(1, sel(n["ctx"]), seq_sel(n["seq"]), 0, env))
    client |= hybrid_client
    seeds["client_open"] = client

    # ffi: the same inputs; bit 7 of the flags selects the client side. The hybrid bit is 0x10
    # on both sides there (0x20 is the NULL-pointer bit of the ffi target).
    def ffi_flags(b, client_side):
        f = b[0]
        if not client_side and f & SERVER_HYBRID:
            f = (f & ~SERVER_HYBRID) | CLIENT_HYBRID
        return bytes([f | (FFI_CLIENT if client_side else 0)]) + b[1:]
    seeds["ffi"] = {ffi_flags(b, False) for b in server} | {ffi_flags(b, True) for b in client}

    # roundtrip: structured input (arbitrary); a few deterministic byte strings to start from.
    for i, n in enumerate((64, 200, 600, 1500)):
        out = b""
        counter = 0
        while len(out) < n:
            out += hashlib.sha256(b"scv2 roundtrip seed %d %d" % (i, counter)).digest()
            counter += 1
        seeds["roundtrip"].add(out[:n])

    total = 0
    for target, items in seeds.items():
        d = os.path.join(CORPUS, target)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        for b in sorted(items):
            name = hashlib.sha1(b).hexdigest()
            with open(os.path.join(d, name), "wb") as f:
                f.write(b)
            total += len(b)
        print(f"{target}: {len(items)} seeds", file=sys.stderr)
    print(f"total {total} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
