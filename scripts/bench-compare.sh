#!/usr/bin/env bash
# Before/after on one machine, in one run: the criterion benchmarks of two builds (BASE: bench
# executables built from another commit, e.g. with `cargo bench --no-run` there, copied as
# BASE/scv2 and BASE/ffi; NEW: this tree), run alternately ROUNDS times so that load drifts hit
# both alike, with the medians of every round and their median printed as a Markdown table.
#
#   scripts/bench-compare.sh BASE_DIR [ROUNDS] [aws-lc]
# The C-ABI benchmark of BASE is `ffi` (the old layout) or `c_abi`; NEW's is ffi/benches/c_abi.rs.
# Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
base=$1
rounds=${2:-3}
features=()
[ "${3:-}" = aws-lc ] && features=(--features aws-lc)
backend=rustcrypto
[ "${3:-}" = aws-lc ] && backend=aws-lc
exe() { # exe <package> <bench>: the executable cargo would run
    cargo bench --quiet --no-run -p "$1" --bench "$2" "${features[@]}" --message-format=json 2>/dev/null \
        | python3 -c '
import json, sys
want = sys.argv[1]
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == want and m.get("executable"):
        print(m["executable"])' "$2"
}
new_scv2=$(exe scv2 scv2)
new_ffi=$(exe scv2-ffi c_abi)
base_ffi="$base/ffi"; [ -x "$base_ffi" ] || base_ffi="$base/c_abi"
filter="$backend/(envelope/(64B|16KiB)/(raw_aead_seal|raw_aead_open|scv2_seal_request_in_place|scv2_open_request_in_place|scv2_open_request|scv2_seal_request)|handshake/|transport/)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(--bench --warm-up-time 1 --measurement-time 3)
for r in $(seq 1 "$rounds"); do
    for side in base new; do
        if [ "$side" = base ]; then s=$base/scv2; f=$base_ffi; else s=$new_scv2; f=$new_ffi; fi
        CRITERION_HOME="$work/$side-$r" "$s" "${args[@]}" "$filter" >/dev/null 2>&1
        CRITERION_HOME="$work/$side-$r" "$f" "${args[@]}" >/dev/null 2>&1
    done
done
python3 - "$work" "$rounds" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, os, statistics, sys
work, rounds, load = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def load_dir(d):
    out = {}
    for root, _, files in os.walk(d):
        if os.path.basename(root) == "new" and "estimates.json" in files:
            b = json.load(open(os.path.join(root, "benchmark.json")))
            e = json.load(open(os.path.join(root, "estimates.json")))
            out[b["full_id"]] = e["median"]["point_estimate"]
    return out
runs = {s: [load_dir(os.path.join(work, f"{s}-{r}")) for r in range(1, rounds + 1)] for s in ("base", "new")}
keys = sorted(set().union(*[set(d) for d in runs["base"] + runs["new"]]))
print(f"{rounds} alternating rounds; load average at the end {load}; criterion medians, ns")
print()
print("| benchmark | before (median of rounds) | after | after / before | rounds before / after |")
print("|---|---:|---:|---:|---|")
for k in keys:
    b = [d[k] for d in runs["base"] if k in d]
    n = [d[k] for d in runs["new"] if k in d]
    if not b or not n:
        continue
    mb, mn = statistics.median(b), statistics.median(n)
    each = " ".join(f"{x:.0f}" for x in b) + " / " + " ".join(f"{x:.0f}" for x in n)
    print(f"| {k} | {mb:.0f} | {mn:.0f} | {mn / mb:.3f} | {each} |")
PY
