#!/usr/bin/env bash
# The gateway's per-suite figures in BENCHMARKS.md: session opens (type 1 → type 130) and password
# inits per second through one SQLite gateway whose advertised key is X25519 or X25519MLKEM768,
# the two set-ups measured alternately in the same run (the X25519 one is the peer of the hybrid).
#
#   bash gateway/bench-suites.sh [REPEATS=3] [SECONDS=10] [CONCURRENCY=16]
#
# Release build; `scv2 bench` (loopback only) with CONCURRENCY workers for SECONDS per run, modes
# session and init (Argon2 m=1 MiB t=1), REPEATS runs each, alternating x25519 / x25519mlkem768.
# Prints every run as a JSON line (also in target/bench-gateway-suites.jsonl) and the medians
# with the hybrid / X25519 ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
secs=${2:-10}
conc=${3:-16}

cargo build --release -q -p scv2-gateway
bin=target/release/scv2
out=target/bench-gateway-suites.jsonl
: >"$out"
work=$(mktemp -d /tmp/scv2-bench-suites.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
umask 077

many=1000000000
serve_args=(--test-env --argon2-m-kib 1024 --argon2-t 1 --log-level error
    --init-rate-per-client $many --init-rate-per-ip $many --init-rate-per-session $many
    --session-rate-per-min $many --token-failures-per-hour $many)

declare -A URL PID
for suite in x25519 x25519mlkem768; do
    log="$work/$suite.log"
    "$bin" serve --listen 127.0.0.1:0 --db "$work/$suite.sqlite" --preferred-suite "$suite" \
        "${serve_args[@]}" 2>"$log" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1 300); do
        grep -q "scv2 gateway on" "$log" && break
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.1
    done
    URL[$suite]=$(sed -n 's/.*scv2 gateway on \([^ ]*\).*/\1/p' "$log" | head -1)
    PID[$suite]=$pid
done

for mode in session init; do
    for r in $(seq 1 "$repeats"); do
        for suite in x25519 x25519mlkem768; do
            "$bin" bench --url "${URL[$suite]}" --pid "${PID[$suite]}" \
                --db "$work/$suite.sqlite" --mode "$mode" --concurrency "$conc" \
                --duration-secs "$secs" --registrations $((secs * 3000)) --label "$suite" \
                | tee -a "$out"
        done
    done
done
echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keys = ["rps", "p50_ms", "p99_ms", "gateway_cpu_ms_per_request", "errors"]
print("\nmedians (suite, mode, runs):")
med = {}
for mode in ["session", "init"]:
    for suite in ["x25519", "x25519mlkem768"]:
        rs = [r for r in runs if r["label"] == suite and r["mode"] == mode]
        if not rs:
            continue
        m = {k: round(statistics.median([r[k] for r in rs if r.get(k) is not None]), 3) for k in keys}
        med[(suite, mode)] = m
        print(f"{suite:15} {mode:7} n={len(rs)} " + " ".join(f"{k}={v}" for k, v in m.items()))
    a, b = med.get(("x25519", mode)), med.get(("x25519mlkem768", mode))
    if a and b and a["rps"] and a["gateway_cpu_ms_per_request"]:
        print(f"{'ratio pq/x25519':15} {mode:7} rps={b['rps'] / a['rps']:.2f} "
              f"cpu_per_request={b['gateway_cpu_ms_per_request'] / a['gateway_cpu_ms_per_request']:.2f}")
PY
