#!/usr/bin/env bash
# Reproduces the measurements quoted in tuning/README.md.
#
#   tuning/measure.sh burst  [CONNS]      somaxconn / listener backlog under a connect burst
#   tuning/measure.sh churn  [SECONDS]    tcp_tw_reuse and ip_local_port_range under
#                                         upstream connection churn (a new upstream
#                                         connection per request)
#   tuning/measure.sh nofile [CONNS]      RLIMIT_NOFILE below the connection count
#   tuning/measure.sh driver [CONNS]      io_uring vs epoll (what io_uring_disabled=2 costs)
#
# Needs root, iproute2 (ip, ss, nstat), util-linux (prlimit) and release binaries:
#   cargo build --release -p tollgate -p tollgate-load
# (BIN=dir overrides target/release.)
#
# Everything runs in two network namespaces created here (tgtune-a: gateway and load
# generator; tgtune-b: the mock upstream, reached over a veth pair so that its traffic is
# not loopback) and removed on exit. The sysctls changed (somaxconn, tcp_tw_reuse,
# ip_local_port_range) are per network namespace: the host's own values are never
# touched. Nothing here changes a global knob.
set -euo pipefail

BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release}
WORK=$(mktemp -d /tmp/tollgate-measure.XXXXXX)
NS_A=tgtune-a
NS_B=tgtune-b
PIDS=()

for b in tollgate tollgate-load tollgate-mock; do
    [ -x "$BIN/$b" ] || { echo "missing $BIN/$b: cargo build --release -p tollgate -p tollgate-load" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

a() { ip netns exec "$NS_A" "$@"; }

setup_netns() {
    ip netns add "$NS_A"
    ip netns add "$NS_B"
    ip link add tgv-a netns "$NS_A" type veth peer name tgv-b netns "$NS_B"
    ip -n "$NS_A" addr add 10.77.0.1/24 dev tgv-a
    ip -n "$NS_B" addr add 10.77.0.2/24 dev tgv-b
    for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
    ip -n "$NS_A" link set tgv-a up
    ip -n "$NS_B" link set tgv-b up
}

# gateway CONFIG [prlimit args...]: starts tollgate in NS_A, waits until it answers.
gateway() {
    local cfg=$1; shift
    # Not through a shell function: $! must be the gateway's own pid (ip netns exec and
    # prlimit exec it in place), or kill would miss it.
    if [ $# -gt 0 ]; then
        ip netns exec "$NS_A" prlimit "$@" "$BIN/tollgate" run -c "$cfg" 2>"$WORK/gw.log" &
    else
        ip netns exec "$NS_A" "$BIN/tollgate" run -c "$cfg" 2>"$WORK/gw.log" &
    fi
    GW=$!
    PIDS+=("$GW")
    for _ in $(seq 100); do
        a bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080' 2>/dev/null && return 0
        sleep 0.05
    done
    echo "gateway did not start:" >&2; cat "$WORK/gw.log" >&2; exit 1
}

stop_gateway() { kill "$GW"; wait "$GW" 2>/dev/null || true; }

load() { a "$BIN/tollgate-load" --url http://127.0.0.1:8080/ -q "$@"; }

summary() { grep -E "sent|throughput|latency |errors:" | tr -s ' '; }

respond_config() { # BACKLOG [DRIVER]
    cat >"$WORK/respond.toml" <<EOF
[runtime]
workers = 2
driver = "${2:-auto}"
[admin]
listen = "127.0.0.1:9901"
[[listeners]]
listen = "127.0.0.1:8080"
backlog = $1
[[routes]]
name = "hello"
match = { path_prefix = "/" }
respond = { status = 200, body = "hello" }
EOF
    echo "$WORK/respond.toml"
}

burst() {
    local conns=${1:-1000}
    for pair in "128 1024" "4096 1024" "8192 8192"; do
        set -- $pair
        for rep in 1 2 3; do
            a sysctl -qw net.core.somaxconn="$1" net.ipv4.tcp_max_syn_backlog="$2"
            gateway "$(respond_config "$2")"
            a nstat -n
            echo "== somaxconn=$1 backlog=$2: $conns connections at once (run $rep)"
            load -c "$conns" -n "$conns" --timeout 10s | grep -E "latency |errors:" | tr -s ' '
            a nstat | awk '/ListenOverflows|SyncookiesSent/ {printf "  %s %s\n", $1, $2}'
            stop_gateway
        done
    done
}

churn() {
    local secs=${1:-20}
    cat >"$WORK/churn.toml" <<EOF
[runtime]
workers = 2
[admin]
listen = "127.0.0.1:9901"
[[listeners]]
listen = "127.0.0.1:8080"
[[clusters]]
name = "up"
endpoints = ["10.77.0.2:8081"]
[clusters.pool]
max_idle = 0
[clusters.passive_health]
consecutive_failures = 0
[clusters.retry]
attempts = 0
[[routes]]
name = "all"
match = { path_prefix = "/" }
upstream = "up"
EOF
    ip netns exec "$NS_B" "$BIN/tollgate-mock" --listen 10.77.0.2:8081 --threads 1 >/dev/null &
    PIDS+=("$!")
    for setting in "2|32768 60999" "2|10000 65535" "1|32768 60999"; do
        local tw=${setting%%|*} range=${setting#*|}
        a sysctl -qw net.ipv4.tcp_tw_reuse="$tw" net.ipv4.ip_local_port_range="$range"
        # Start with no TIME_WAIT left from the previous run (they last 60 s).
        while [ "$(a ss -Htan state time-wait | wc -l)" -gt 0 ]; do sleep 2; done
        gateway "$WORK/churn.toml"
        a nstat -n
        echo "== tcp_tw_reuse=$tw ip_local_port_range=\"$range\": ${secs}s, new upstream connection per request"
        load -c 16 -d "${secs}s" --json "$WORK/churn.json" | summary
        python3 -c 'import json,sys; print("  ok per second:", [p["ok"] for p in json.load(open(sys.argv[1]))["per_second"]])' "$WORK/churn.json"
        echo "  TIME_WAIT sockets at the end: $(a ss -Htan state time-wait | wc -l)"
        a nstat | awk '/TWRecycled/ {printf "  %s %s\n", $1, $2}'
        stop_gateway
    done
}

nofile() {
    local conns=${1:-1500}
    a sysctl -qw net.core.somaxconn=16384
    for n in 1024 20000; do
        for rep in 1 2; do
            gateway "$(respond_config 16384)" --nofile="$n:$n"
            echo "== RLIMIT_NOFILE=$n: $conns keep-alive connections for 5 s (run $rep)"
            load -c "$conns" -d 5s --timeout 5s | summary
            echo "  gateway log lines with EMFILE: $(grep -ci 'too many open files\|os error 24' "$WORK/gw.log" || true)"
            stop_gateway
        done
    done
}

driver() {
    local conns=${1:-64}
    for rep in 1 2 3; do
        for d in io_uring epoll; do
            gateway "$(respond_config 1024 "$d")"
            echo "== driver=$d: $conns keep-alive connections for 8 s (run $rep)"
            load -c "$conns" -d 8s | grep -E "throughput|latency " | tr -s ' '
            stop_gateway
        done
    done
}

cmd=${1:-}
shift || true
case "$cmd" in
    burst | churn | nofile | driver)
        setup_netns
        "$cmd" "$@"
        ;;
    *)
        sed -n '2,12p' "$0"
        exit 2
        ;;
esac
