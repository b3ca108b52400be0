#!/usr/bin/env bash
# The gateway's figures in BENCHMARKS.md: requests/s, p50/p99 latency, gateway CPU and database
# work per request, for one SQLite gateway, one PostgreSQL gateway and three PostgreSQL gateways
# with the load spread over them (request by request, no session affinity).
#
#   bash scripts/with-postgres.sh bash gateway/bench.sh [REPEATS=3] [SECONDS=10] [CONCURRENCY=16]
#
# Release build; `scv2 bench` (the load generator, loopback only) with CONCURRENCY workers for
# SECONDS per run, each mode (init: password init 201 with Argon2 m=1 MiB t=1 on a session opened
# once; close: session close; session: session open) REPEATS times per set-up. Prints every run as
# a JSON line (also in target/bench-gateway.jsonl) and the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
secs=${2:-10}
conc=${3:-16}
[ -n "${SCV2_TEST_PG_URL:-}" ] || { echo "run under scripts/with-postgres.sh" >&2; exit 2; }

cargo build --release -q -p scv2-gateway
bin=target/release/scv2
out=target/bench-gateway.jsonl
: >"$out"
work=$(mktemp -d /tmp/scv2-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export SCV2_STORAGE_KEY
SCV2_STORAGE_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
umask 077

many=1000000000
serve_args=(--test-env --argon2-m-kib 1024 --argon2-t 1 --log-level error
    --init-rate-per-client $many --init-rate-per-ip $many --init-rate-per-session $many
    --session-rate-per-min $many --token-failures-per-hour $many)

# start DB NAME: a gateway on DB; sets URLS, METRICS, PIDS (appends).
start() {
    local db=$1 name=$2 log="$work/$2.log"
    "$bin" serve --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --db "$db" "${serve_args[@]}" \
        2>"$log" &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 1 300); do
        grep -q "scv2 gateway on" "$log" && break
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.1
    done
    URLS+=(--url "$(sed -n 's/.*scv2 gateway on \([^ ]*\).*/\1/p' "$log" | head -1)")
    METRICS+=(--metrics "$(sed -n 's|.*scv2 metrics on \(http://[^ ]*\)/metrics.*|\1|p' "$log" | head -1)")
    PIDS+=(--pid "$pid")
}

stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
}

pg_db() { # pg_db NAME: a fresh database; prints its URL
    "$SCV2_TEST_PG_BIN/createdb" --maintenance-db="$SCV2_TEST_PG_URL" "$1"
    echo "${SCV2_TEST_PG_URL%/*}/$1"
}

for setup in sqlite pg1 pg3; do
    URLS=() METRICS=() PIDS=()
    case $setup in
        sqlite) db="$work/bench.sqlite"; start "$db" a ;;
        pg1) db=$(pg_db bench_pg1); start "$db" a ;;
        pg3) db=$(pg_db bench_pg3); start "$db" a; start "$db" b; start "$db" c ;;
    esac
    for mode in init close session; do
        for r in $(seq 1 "$repeats"); do
            extra=()
            if [ "$setup" != sqlite ] && [ "$r" = 1 ]; then extra=(--pg-stats "$db"); fi
            "$bin" bench "${URLS[@]}" "${METRICS[@]}" "${PIDS[@]}" --db "$db" --mode "$mode" \
                --concurrency "$conc" --duration-secs "$secs" --registrations $((secs * 3000)) \
                --label "$setup" "${extra[@]}" | tee -a "$out"
        done
    done
    stop_all
done

python3 - "$out" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keys = ["rps", "p50_ms", "p99_ms", "gateway_cpu_ms_per_request", "db_round_trips_per_request",
        "db_transactions_per_request", "session_reloads_per_request", "pg_xact_commit_per_request",
        "errors"]
print("\nmedians (set-up, mode, runs):")
for setup in ["sqlite", "pg1", "pg3"]:
    for mode in ["init", "close", "session"]:
        rs = [r for r in runs if r["label"] == setup and r["mode"] == mode]
        if not rs:
            continue
        med = {}
        for k in keys:
            vals = [r[k] for r in rs if r.get(k) is not None]
            med[k] = round(statistics.median(vals), 3) if vals else None
        print(f"{setup:6} {mode:7} n={len(rs)} " + " ".join(f"{k}={v}" for k, v in med.items()))
PY
