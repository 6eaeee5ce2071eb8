#!/usr/bin/env bash
# Redis calls per hot key in cluster mode, whatever the request rate.
#
# Starts a redis-server (free loopback port, no persistence) and one gateway with
# --workers workers, one request limit on one key (`per = []`: every request is the same
# hot key) far above what any run can spend, kept in that Redis, sync interval
# --interval. For each request rate (open loop, `tollgate-load --rate`; `max` = closed
# loop, as fast as it goes) it counts the exchanges Redis ran (`INFO commandstats`,
# `cmdstat_evalsha`) before and after the run and prints calls per second next to the
# bound `workers x 1000 / interval_ms` (docs: README, "Cluster mode").
#
# Usage: bench/cluster_calls.sh [--no-build] [--workers N] [--interval MS]
#                               [--duration 10s] [--rates "500 2000 8000 max"]
# Bounded: every load run is under `timeout`, every wait has a deadline. Prints how busy
# the machine was (1-minute load average, and the CPUs' busy share during each run).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=1
WORKERS=2
INTERVAL_MS=5
DURATION=10s
RATES="500 2000 8000 max"
while (($#)); do
    case "$1" in
        --no-build) BUILD=0; shift ;;
        --workers) WORKERS=$2; shift 2 ;;
        --interval) INTERVAL_MS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --rates) RATES=$2; shift 2 ;;
        *) echo "cluster_calls.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

target="${CARGO_TARGET_DIR:-target}"
if ((BUILD)); then
    cargo build --release -p tollgate --bin tollgate -p tollgate-load --bin tollgate-load
fi
TOLLGATE="$target/release/tollgate"
LOAD="$target/release/tollgate-load"
for b in "$TOLLGATE" "$LOAD" "$(command -v redis-server)" "$(command -v redis-cli)"; do
    [[ -x "$b" ]] || { echo "cluster_calls.sh: missing $b (build, or scripts/install-test-deps.sh)" >&2; exit 1; }
done

out="bench/out/cluster-calls-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
RPORT=$(free_port)
GPORT=$(free_port)
APORT=$(free_port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$out" \
    >"$out/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    [[ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" == PONG ]] && break
    sleep 0.1
done
[[ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" == PONG ]] || { echo "redis-server did not start" >&2; exit 1; }

cat >"$out/tollgate.toml" <<EOF
[runtime]
workers = $WORKERS
[admin]
listen = "127.0.0.1:$APORT"
[[listeners]]
listen = "127.0.0.1:$GPORT"
[[routes]]
name = "api"
respond = { body = "ok" }
[rate_limits.sync]
interval = "${INTERVAL_MS}ms"
[[rate_limits.limits]]
name = "hot"
kind = "requests"
limit = 1000000000000
window = "1h"
[rate_limits.redis]
address = "127.0.0.1:$RPORT"
key_secret = "00112233445566778899aabbccddeeff"
EOF
"$TOLLGATE" run -c "$out/tollgate.toml" >"$out/tollgate.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$GPORT") 2>/dev/null && break
    sleep 0.1
done

calls() {
    redis-cli -p "$RPORT" INFO commandstats | tr -d '\r' |
        awk -F'[=,:]' '/^cmdstat_evalsha:/ { print $3; found = 1 } END { if (!found) print 0 }'
}
busy_total() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
secs=${DURATION%s}
bound=$((WORKERS * 1000 / INTERVAL_MS))

echo "workers=$WORKERS interval=${INTERVAL_MS}ms duration=$DURATION bound=$bound calls/s per hot key; raw data in $out"
printf '%-8s %12s %10s %12s %10s %14s\n' rate "ok/s" "429s" "calls/s" bound "load1 / CPU%"
for rate in $RATES; do
    # Let the key go cold between runs (idle keys give back and cost nothing).
    sleep 1
    la=$(cut -d' ' -f1 /proc/loadavg)
    read -r b0 t0 < <(busy_total)
    c0=$(calls)
    args=(--url "http://127.0.0.1:$GPORT/x" -c 32 -d "$DURATION" -q --json "$out/load-$rate.json")
    [[ "$rate" == max ]] || args+=(--rate "$rate")
    timeout $((secs + 30)) "$LOAD" "${args[@]}" >"$out/load-$rate.txt" 2>&1
    c1=$(calls)
    read -r b1 t1 < <(busy_total)
    python3 - "$out/load-$rate.json" "$rate" "$c0" "$c1" "$secs" "$bound" "$la" "$b0" "$t0" "$b1" "$t1" <<'PY'
import json, sys
f, rate, c0, c1, secs, bound, la, b0, t0, b1, t1 = sys.argv[1:]
r = json.load(open(f))
calls = (int(c1) - int(c0)) / float(secs)
refused = r["status"].get("429", 0)
busy = 100.0 * (int(b1) - int(b0)) / max(1, int(t1) - int(t0))
print(f"{rate:<8} {r['ok_per_s']:12.0f} {refused:10d} {calls:12.1f} {bound:>10} {la:>6} / {busy:4.0f}%")
PY
done
grep -c "rate-limit Redis is down" "$out/tollgate.log" >/dev/null && echo "note: Redis went down during the runs (see $out/tollgate.log)" || true
