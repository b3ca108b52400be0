#!/usr/bin/env python3
"""Convert tests/vectors/scv2-x25519.json into the flat text format vectors.c reads.

One record per line, space-separated tokens; byte strings are lowercase hex, an empty one is "-";
strings (names, key ids, session ids, error names) are hex-encoded too, so no token has a space.

    case <name>
    f <field> <hex|int>           (one per scalar field of the case)
    x <seq> <ctx> <request> <request_envelope> <response> <response_envelope>
    n <kind> <stage> <seq> <ctx> <envelope> <error>
    end
Standard library only.
"""
import json
import sys

HEX_FIELDS = ["server_static_private", "server_static_public", "client_ephemeral_private",
              "server_ephemeral_private", "iv1", "kx_payload", "kx_envelope", "kxr_payload",
              "kxr_envelope"]
STR_FIELDS = ["key_id", "session_id"]
INT_FIELDS = ["padding_block", "expires_at_ms", "now_ms"]


def h(s):
    s = s.lower()
    bytes.fromhex(s)  # validate
    return s if s else "-"


def t(s):
    return h(s.encode().hex())


def main(src, dst):
    with open(src, encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("suite") != "X25519-HKDF-SHA256-AES-256-GCM":
        sys.exit("unexpected suite %r" % doc.get("suite"))
    out = []
    for c in doc["cases"]:
        out.append("case %s" % t(c["name"]))
        for k in HEX_FIELDS:
            out.append("f %s %s" % (k, h(c[k])))
        for k in STR_FIELDS:
            out.append("f %s %s" % (k, t(c[k])))
        for k in INT_FIELDS:
            out.append("f %s %d" % (k, int(c[k])))
        for x in c["exchanges"]:
            out.append("x %d %s %s %s %s %s" % (int(x["seq"]), h(x["ctx"]), h(x["request"]),
                                                 h(x["request_envelope"]), h(x["response"]),
                                                 h(x["response_envelope"])))
        for n in c["negative"]:
            out.append("n %s %s %d %s %s %s" % (t(n["kind"]), t(n["stage"]), int(n["seq"]),
                                                 h(n["ctx"]), h(n["envelope"]), t(n["error"])))
        out.append("end")
    with open(dst, "w", encoding="ascii") as f:
        f.write("\n".join(out) + "\n")
    print("%d cases -> %s" % (len(doc["cases"]), dst))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: vectors_to_text.py <vectors.json> <out.txt>")
    main(sys.argv[1], sys.argv[2])
