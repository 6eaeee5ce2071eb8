#!/usr/bin/env bash
# TLS handshakes per second per core: Tollgate with ONE worker pinned to --proxy-cpu
# terminating TLS (a `respond` route, no upstream, so the handshake is the work), and
# tollgate-load (one thread, --load-cpu) opening a new connection per request (--close).
#
#   bench/tls_handshakes.sh                      # 3 rounds x 5 s per case
#   bench/tls_handshakes.sh --rounds 5 --duration 10s --no-build
#
# Cases: certificate (ECDSA P-256, RSA 2048) x version (1.3, 1.2) x handshake (full:
# --no-resume; resumed: each connection keeps a session cache). The client does not
# verify the certificate (--insecure; the server's work is the same either way).
# Figures per case, median of the rounds: handshakes/s as the client saw them, the
# gateway's CPU time per handshake (utime+stime from /proc/PID/stat), and what one core
# would do at 100% busy (1 s / CPU time per handshake). The client's half of a handshake
# costs about as much as the server's, so with one client thread the gateway is rarely
# saturated: the per-core figure is the one to compare. Bounded: every load run is under
# `timeout`; the gateway is killed on exit. Needs openssl (certificates) and python3.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=3
DURATION=5s
CONNECTIONS=32
PROXY_CPU=0
LOAD_CPU=1
BUILD=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --connections) CONNECTIONS=$2; shift 2 ;;
        --proxy-cpu) PROXY_CPU=$2; shift 2 ;;
        --load-cpu) LOAD_CPU=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        *) echo "usage: bench/tls_handshakes.sh [--rounds N] [--duration 5s] [--connections N] [--proxy-cpu N] [--load-cpu N] [--no-build]" >&2; exit 2 ;;
    esac
done

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $BUILD == 1 ]] && (cd "$ROOT" && cargo build --release -p tollgate -p tollgate-load --bins)
OUT=$(mktemp -d /tmp/tollgate-tls-bench.XXXXXX)
GW_PID=
cleanup() { [[ -n $GW_PID ]] && kill "$GW_PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

san="subjectAltName=DNS:localhost,IP:127.0.0.1"
openssl req -x509 -nodes -days 7 -subj /CN=localhost -addext "$san" \
    -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout "$OUT/ecdsa.key" -out "$OUT/ecdsa.crt" 2>/dev/null
openssl req -x509 -nodes -days 7 -subj /CN=localhost -addext "$san" \
    -newkey rsa:2048 -keyout "$OUT/rsa.key" -out "$OUT/rsa.crt" 2>/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

# start_gateway CERT: a gateway serving CERT on a free port; sets GW_PID and PORT.
start_gateway() {
    PORT=$(free_port)
    cat >"$OUT/gw.toml" <<EOF
[runtime]
workers = 1
cpus = [$PROXY_CPU]
[admin]
listen = ""
[[listeners]]
listen = "127.0.0.1:$PORT"
max_connections = 100000
[listeners.tls]
certificates = [{ cert = "$OUT/$1.crt", key = "$OUT/$1.key" }]
[[routes]]
name = "ok"
respond = { body = "ok" }
EOF
    TOLLGATE_LOG=warn "$TARGET/release/tollgate" run -c "$OUT/gw.toml" 2>"$OUT/gw.log" &
    GW_PID=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "the gateway did not start:" >&2; cat "$OUT/gw.log" >&2; exit 1
}

printf '| certificate | version | handshake | handshakes/s (client) | gateway CPU µs/handshake | per core at 100%% (handshakes/s) | gateway CPU busy %% |\n'
printf '| --- | --- | --- | ---: | ---: | ---: | ---: |\n'
for cert in ecdsa rsa; do
    start_gateway "$cert"
    for version in 1.3 1.2; do
        for kind in full resumed; do
            resume=(); [[ $kind == full ]] && resume=(--no-resume)
            rows=()
            for r in $(seq "$ROUNDS"); do
                t0=$(ticks "$GW_PID"); s0=$(date +%s.%N)
                timeout 120 "$TARGET/release/tollgate-load" -q --url "https://127.0.0.1:$PORT/" \
                    --insecure --close --tls-version "$version" "${resume[@]}" \
                    --threads 1 --cpus "$LOAD_CPU" -c "$CONNECTIONS" -d "$DURATION" \
                    --json "$OUT/$cert-$version-$kind-$r.json" >/dev/null
                t1=$(ticks "$GW_PID"); s1=$(date +%s.%N)
                rows+=("$(python3 - "$OUT/$cert-$version-$kind-$r.json" "$((t1 - t0))" "$HZ" "$s0" "$s1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
t = j["tls"]
ticks, hz, wall = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[5]) - float(sys.argv[4])
cpu_us = ticks / hz * 1e6 / max(t["handshakes"], 1)
print(f'{t["handshakes_per_s"]:.0f} {cpu_us:.0f} {1e6 / max(cpu_us, 1e-9):.0f} {100 * ticks / hz / wall:.0f} {t["full"]} {t["resumed"]} {t["failed"]}')
PY
)")
            done
            # Median by handshakes/s.
            med=$(printf '%s\n' "${rows[@]}" | sort -n -k1 | sed -n "$(( (ROUNDS + 1) / 2 ))p")
            read -r hs cpu core busy full resumed failed <<<"$med"
            printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$cert" "$version" "$kind" "$hs" "$cpu" "$core" "$busy"
            if [[ $kind == resumed && $resumed -eq 0 ]] || [[ $failed -gt 0 ]]; then
                echo "  (warning: $full full, $resumed resumed, $failed failed handshakes)" >&2
            fi
        done
    done
    kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true; GW_PID=
done
echo "raw: $OUT" >&2
