#!/usr/bin/env bash
# The LLM gateway benchmark (issue #5): what Tollgate's LLM path adds over calling the
# provider directly, and what it costs to hold many SSE streams open.
#
#   bench/llm.sh                              # overhead + streams, 3 alternating rounds
#   bench/llm.sh --scenario overhead --rounds 3 --duration 20 --rate 5000
#   bench/llm.sh --scenario streams --stream-points 10000x1x100
#
# Targets, loaded in turn in every round (the order rotates each round):
#   direct   tollgate-mock (OpenAI API) hit directly: the baseline;
#   gateway  Tollgate (ONE worker pinned to --proxy-cpu) with a route `llm = {}` and a
#            provider of kind "openai" whose upstream cluster is that same mock;
#   builtin  the same Tollgate, model served by its built-in `kind = "mock"` provider
#            (no upstream at all): the gateway alone.
#   nginx    a peer for scale, not in the default: nginx (Debian's; ONE worker on
#            --proxy-cpu) as a plain reverse proxy to the same mock, proxy_buffering
#            off, upstream keep-alive. It does none of the LLM work (no body parsing,
#            no accounting): what any proxy in the path costs on this machine.
#
# Scenarios:
#   overhead  open loop at --rate non-streaming POST /v1/chat/completions (16 output
#             tokens, unpaced), --duration s per run; p50/p99/p99.9, the difference to
#             direct per round, gateway CPU time per request (utime+stime of
#             /proc/PID/stat before and after, divided by the ok answers).
#   streams   for each --stream-points entry NxTPSxTOKENS: N connections, each running
#             ONE stream of TOKENS tokens paced at TPS tokens/s, all open together;
#             inter-token gaps (client side) against direct, the gateway's RSS
#             (VmRSS) idle and with the streams open, per open stream, CPU per token
#             event. --stream-loaders tollgate-load processes share the streams and start
#             one after another over --stream-ramp s (so that 10,000 clients do not
#             connect in the same instant); the mock starts each stream after a random
#             0..1/TPS s delay so that token events are spread over the gap instead of
#             arriving in bursts.
#
# The mock (--mocks processes, 1 thread each, SO_REUSEPORT on one address, 127.0.0.2 when
# it can bind there) and tollgate-load (1 thread) share --load-cpu. Each mock connection
# holds two descriptors in the mock, each proxied stream two in the gateway (client and
# upstream): a stream count that does not fit under `ulimit -n` is capped, and the log and
# meta.txt say so.
#
# Before each load run it waits (at most --quiet-wait s) until the 1-minute load average
# is below --quiet-load and both CPUs are idle. Bounded: every load run is under `timeout`;
# every process this script starts is killed on exit. Loopback only. See bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
ORIG_ARGS="$*"
SCENARIOS=overhead,streams
ROUNDS=3
DURATION=20
RATE=5000
OPEN_CONNECTIONS=512
STREAM_POINTS=1000x20x200,10000x1x100
MOCKS=2
STREAM_LOADERS=10
STREAM_RAMP=10
PROXY_CPU=0
LOAD_CPU=1
OUT_BASE="$ROOT/bench/out"
QUIET_LOAD=1.2
QUIET_WAIT=600
BUILD=1
ACCESS_LOG=0
ISOLATE=0
PROBE=0
ISOLATE_STATE=""
TARGETS=direct,gateway,builtin

usage() {
    cat <<EOF
usage: bench/llm.sh [options]
  --scenario LIST      overhead, streams, or both (default $SCENARIOS)
  --targets LIST       direct, gateway, builtin, nginx (default $TARGETS)
  --rounds N           alternating rounds (default $ROUNDS)
  --duration SECS      seconds per overhead run (default $DURATION)
  --rate R             overhead: open-loop requests/s (default $RATE)
  --connections N      overhead: most connections the open loop may open (default $OPEN_CONNECTIONS)
  --stream-points L    streams: comma-separated NxTPSxTOKENS (default $STREAM_POINTS)
  --mocks N            tollgate-mock processes sharing the port (default $MOCKS)
  --stream-loaders K   streams: tollgate-load processes sharing the streams (default $STREAM_LOADERS)
  --stream-ramp SECS   streams: start the loaders over this long, at most a fifth of a
                       stream's length (default $STREAM_RAMP)
  --proxy-cpu N        CPU of the gateway's one worker (default $PROXY_CPU)
  --load-cpu N         CPU of tollgate-load and the mocks (default $LOAD_CPU)
  --quiet-load X       wait for a 1-minute load average below X before each run (default $QUIET_LOAD)
  --quiet-wait SECS    wait at most this long for it; 0 = do not wait (default $QUIET_WAIT)
  --access-log         turn the gateway's access log on (a file under the run directory)
  --out DIR            results under DIR/llm-<date> (default bench/out)
  --no-build           use the binaries already in target/release
  --isolate            for the whole run, move every other movable thread off the
                       gateway's CPU (tuning/isolate-cpus.sh; restored at exit). Needs
                       root. Recorded in meta.txt as "isolated".
  --probe              streams: record every proxied run with the kernel's tcp_probe
                       tracepoint (perf, root) and split its inter-token gaps into what
                       the mock sent and what the proxy added, at the proxy's sockets
                       (bench/llm_forwarding.py; SCENARIO/TARGET-ROUND.forwarding.txt)
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --scenario) SCENARIOS=$2; shift 2 ;;
        --targets) TARGETS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=${2%s}; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --connections) OPEN_CONNECTIONS=$2; shift 2 ;;
        --stream-points) STREAM_POINTS=$2; shift 2 ;;
        --mocks) MOCKS=$2; shift 2 ;;
        --stream-loaders) STREAM_LOADERS=$2; shift 2 ;;
        --stream-ramp) STREAM_RAMP=$2; shift 2 ;;
        --proxy-cpu) PROXY_CPU=$2; shift 2 ;;
        --load-cpu) LOAD_CPU=$2; shift 2 ;;
        --quiet-load) QUIET_LOAD=$2; shift 2 ;;
        --quiet-wait) QUIET_WAIT=$2; shift 2 ;;
        --access-log) ACCESS_LOG=1; shift ;;
        --out) OUT_BASE=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --isolate) ISOLATE=1; shift ;;
        --probe) PROBE=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "llm.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
for n in "$ROUNDS" "$DURATION" "$RATE" "$OPEN_CONNECTIONS" "$MOCKS" "$STREAM_LOADERS" "$STREAM_RAMP" "$PROXY_CPU" "$LOAD_CPU" "$QUIET_WAIT"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "llm.sh: not a whole number: $n" >&2; exit 2; }
done
[[ "$QUIET_LOAD" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "llm.sh: --quiet-load: not a number: $QUIET_LOAD" >&2; exit 2; }
((ROUNDS >= 1 && DURATION >= 1 && RATE >= 1 && MOCKS >= 1 && STREAM_LOADERS >= 1)) || { echo "llm.sh: rounds, duration, rate and mocks must be >= 1" >&2; exit 2; }
IFS=, read -r -a SCENARIO_LIST <<<"$SCENARIOS"
IFS=, read -r -a TARGET_LIST <<<"$TARGETS"
IFS=, read -r -a POINT_LIST <<<"$STREAM_POINTS"
for s in "${SCENARIO_LIST[@]}"; do
    case "$s" in overhead | streams) ;; *) echo "llm.sh: unknown scenario $s" >&2; exit 2 ;; esac
done
for t in "${TARGET_LIST[@]}"; do
    case "$t" in direct | gateway | builtin | nginx) ;; *) echo "llm.sh: unknown target $t" >&2; exit 2 ;; esac
done
MAX_TOKENS=16
for p in "${POINT_LIST[@]}"; do
    [[ "$p" =~ ^([0-9]+)x([0-9]+)x([0-9]+)$ ]] || { echo "llm.sh: --stream-points: want NxTPSxTOKENS, got $p" >&2; exit 2; }
    ((BASH_REMATCH[1] >= 1 && BASH_REMATCH[2] >= 1 && BASH_REMATCH[3] >= 2)) || { echo "llm.sh: $p: N, TPS >= 1, TOKENS >= 2" >&2; exit 2; }
    ((BASH_REMATCH[3] > MAX_TOKENS)) && MAX_TOKENS=${BASH_REMATCH[3]}
done
NCPU=$(nproc)
if ((PROXY_CPU >= NCPU || LOAD_CPU >= NCPU)); then
    echo "llm.sh: this machine has $NCPU CPUs; pick --proxy-cpu/--load-cpu below $NCPU" >&2
    exit 2
fi

RUN_ID=llm-$(date -u +%Y%m%dT%H%M%SZ)
OUT="$OUT_BASE/$RUN_ID"
mkdir -p "$OUT/logs" "$OUT/conf" "$OUT/bodies"
TSV="$OUT/runs.tsv"
printf '#%s\n' "$(printf '%s\t' scenario target round streams json gw_ticks clk_tck \
    gw_cpu_busy load_cpu_busy loadavg rss_idle_kb rss_after_kb samples metrics_before metrics_after wall_s |
    sed 's/\t$//')" >"$TSV"
REL="$ROOT/target/release"
CLK_TCK=$(getconf CLK_TCK)
log() { printf '[llm %s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$OUT/llm.log" >&2; }
NOTES=""
note() { NOTES+="$*; "; log "$*"; }

# --- processes and cleanup -------------------------------------------------------------
declare -a STARTED=()
declare -A PID_OF=()
declare -a LOADER_PIDS=()
SAMPLER_PID=""
PROBE_PID=""

cleanup() {
    local rc=$? p all=()
    trap - EXIT INT TERM
    if [[ -n "$ISOLATE_STATE" && -e "$ISOLATE_STATE" ]]; then
        "$ROOT/tuning/isolate-cpus.sh" --restore --state "$ISOLATE_STATE" >&2 || true
    fi
    # Loaders run under `timeout`, the sampler in a subshell: take their children too.
    for p in $SAMPLER_PID $PROBE_PID "${LOADER_PIDS[@]}" "${STARTED[@]}"; do
        all+=("$p" $(descendants "$p"))
    done
    if ((${#all[@]})); then
        kill -TERM "${all[@]}" 2>/dev/null || true
        for _ in $(seq 1 30); do
            local alive=0
            for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
            ((alive)) || break
            sleep 0.1
        done
        kill -KILL "${all[@]}" 2>/dev/null || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# free_port: a port nobody listens on, below the ephemeral range.
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        port_open 127.0.0.1 "$p" && continue
        echo "$p"
        return 0
    done
    return 1
}

# utime + stime of one process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
proc_ticks() {
    local line f
    line=$(cat /proc/"$1"/stat 2>/dev/null) || { echo -; return; }
    read -r -a f <<<"${line##*) }"
    echo $((f[11] + f[12]))
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status 2>/dev/null || echo -; }

loadavg1() { cut -d' ' -f1 /proc/loadavg; }

# wait_quiet: up to QUIET_WAIT s until the 1-minute load average is below QUIET_LOAD and
# neither CPU is more than 15 % busy over a second (our own processes are idle between
# runs, so what shows is someone else's work).
wait_quiet() {
    ((QUIET_WAIT > 0)) || return 0
    local start=$SECONDS p0 l0 pb lb la
    while :; do
        p0=$(cpu_jiffies "$PROXY_CPU")
        l0=$(cpu_jiffies "$LOAD_CPU")
        sleep 1
        pb=$(busy_pct "$p0" "$(cpu_jiffies "$PROXY_CPU")")
        lb=$(busy_pct "$l0" "$(cpu_jiffies "$LOAD_CPU")")
        la=$(loadavg1)
        if awk -v a="$pb" -v b="$lb" -v l="$la" -v q="$QUIET_LOAD" 'BEGIN { exit !(a < 15 && b < 15 && l < q) }'; then
            log "quiet after $((SECONDS - start)) s (load average $la, CPU $PROXY_CPU ${pb}%, CPU $LOAD_CPU ${lb}%)"
            return 0
        fi
        if ((SECONDS - start >= QUIET_WAIT)); then
            note "not quiet after ${QUIET_WAIT} s (load average $la, CPU $PROXY_CPU ${pb}%, CPU $LOAD_CPU ${lb}%): went on"
            return 0
        fi
    done
}

# metrics FILE: the gateway's /metrics into FILE (empty when the admin listener is gone).
metrics() { curl -s --max-time 2 "http://127.0.0.1:$ADMIN_PORT/metrics" >"$1" 2>/dev/null || : >"$1"; }

# gauge NAME FILE: the sum of a metric's samples (all label sets).
gauge() { awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $NF } END { print s + 0 }' "$2"; }

# sampler PID FILE [PORT]: every 2 s, "t_s rss_kb fds client_connections
# upstream_in_flight" of the gateway, until killed. With PORT (a peer that has no
# /metrics), client connections are the established sockets on that port (`ss`) and
# in-flight is left at 0. It runs pinned to the load CPU (one_run starts it so): listing
# the gateway's ~20,000 descriptors takes `find` 20-60 ms, and on the gateway's CPU that
# stole time from the worker every 2 s and showed in its inter-token p99.
sampler() {
    local pid=$1 f=$2 port=${3:-} t0=$SECONDS m conns inflight
    m=$(mktemp)
    while kill -0 "$pid" 2>/dev/null; do
        if [[ -n "$port" ]]; then
            conns=$(ss -Htn state established "( sport = :$port )" 2>/dev/null | wc -l) inflight=0
        else
            metrics "$m"
            conns=$(gauge tollgate_connections_active "$m") inflight=$(gauge tollgate_upstream_in_flight "$m")
        fi
        printf '%s\t%s\t%s\t%s\t%s\n' "$((SECONDS - t0))" "$(rss_kb "$pid")" \
            "$(find /proc/"$pid"/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" "$conns" "$inflight" >>"$f"
        sleep 2
    done
    rm -f "$m"
}

# --- build, limits, meta ---------------------------------------------------------------
if ((BUILD)); then
    log "building: cargo build --release --bins"
    (cd "$ROOT" && cargo build --release --bins) 2>&1 | tail -3 >&2
fi
for b in tollgate tollgate-load tollgate-mock llm-report; do
    [[ -x "$REL/$b" ]] || { log "missing $REL/$b (run without --no-build)"; exit 1; }
done
if ((PROBE)); then
    command -v perf >/dev/null || { log "--probe needs perf (linux-perf)"; exit 1; }
    [[ $(id -u) == 0 ]] || { log "--probe needs root (a system-wide tracepoint)"; exit 1; }
fi
if ((ISOLATE)); then
    ISOLATE_STATE="$OUT/isolate.state"
    # On failure the exit trap still restores whatever the state file recorded.
    "$ROOT/tuning/isolate-cpus.sh" --apply --state "$ISOLATE_STATE" "$PROXY_CPU" >"$OUT/logs/isolate.log" 2>&1 || {
        log "--isolate failed: $(tail -1 "$OUT/logs/isolate.log")"
        exit 1
    }
    log "isolated CPU $PROXY_CPU: $(tail -1 "$OUT/logs/isolate.log")"
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
log "open files limit: $NOFILE (hard $(ulimit -Hn))"

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "command: bench/llm.sh $ORIG_ARGS"
    echo "isolated: $( ((ISOLATE)) && echo "CPU $PROXY_CPU (tuning/isolate-cpus.sh; see logs/isolate.log)" || echo no)"
    echo "tcp_probe recording: $( ((PROBE)) && echo "yes (costs the proxy a few %)" || echo no)"
    echo "scenarios: $SCENARIOS; targets: $TARGETS; rounds: $ROUNDS"
    echo "overhead: open loop $RATE req/s, ${DURATION}s per run, at most $OPEN_CONNECTIONS connections"
    echo "streams: $STREAM_POINTS (streams x tokens/s x tokens); $STREAM_LOADERS loaders started over up to ${STREAM_RAMP}s"
    echo "cpus: gateway $PROXY_CPU, load+mock $LOAD_CPU; online: $NCPU; mocks: $MOCKS"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "kernel: $(uname -r)"
    echo "virtualised: $(systemd-detect-virt 2>/dev/null || (grep -q hypervisor /proc/cpuinfo && echo yes) || echo no)"
    echo "rustc: $(rustc --version 2>/dev/null || echo unknown)"
    echo "git: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        "(uncommitted changes in: $(cd "$ROOT" && git status --porcelain 2>/dev/null | awk '{print $2}' | cut -d/ -f1 | sort -u | tr '\n' ' '))"
    echo "open files: soft $NOFILE, hard $(ulimit -Hn); ephemeral ports $(tr '\t' '-' </proc/sys/net/ipv4/ip_local_port_range);" \
        "somaxconn $(cat /proc/sys/net/core/somaxconn); tcp_max_syn_backlog $(cat /proc/sys/net/ipv4/tcp_max_syn_backlog)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.txt"

# --- the mocks -------------------------------------------------------------------------
MOCK_HOST=127.0.0.2
MOCK_FLAGS=(--threads 1 --tokens "$MAX_TOKENS")
start mock1 "$LOAD_CPU" "$OUT/logs/mock1.log" "$REL/tollgate-mock" --listen "$MOCK_HOST:0" "${MOCK_FLAGS[@]}"
MOCK_PORT=""
for _ in $(seq 1 100); do
    MOCK_PORT=$(sed -n 's/^listening on [0-9.]*:\([0-9]*\).*/\1/p' "$OUT/logs/mock1.log" | head -1)
    [[ -n "$MOCK_PORT" ]] && break
    kill -0 "${PID_OF[mock1]}" 2>/dev/null || break
    sleep 0.1
done
if [[ -z "$MOCK_PORT" ]]; then
    log "tollgate-mock cannot listen on $MOCK_HOST ($(tr '\n' ' ' <"$OUT/logs/mock1.log")); using 127.0.0.1"
    MOCK_HOST=127.0.0.1
    start mock1 "$LOAD_CPU" "$OUT/logs/mock1.log" "$REL/tollgate-mock" --listen "$MOCK_HOST:0" "${MOCK_FLAGS[@]}"
    for _ in $(seq 1 100); do
        MOCK_PORT=$(sed -n 's/^listening on [0-9.]*:\([0-9]*\).*/\1/p' "$OUT/logs/mock1.log" | head -1)
        [[ -n "$MOCK_PORT" ]] && break
        sleep 0.1
    done
    [[ -n "$MOCK_PORT" ]] || { log "tollgate-mock did not start: $(cat "$OUT/logs/mock1.log")"; exit 1; }
fi
for i in $(seq 2 "$MOCKS"); do
    start "mock$i" "$LOAD_CPU" "$OUT/logs/mock$i.log" "$REL/tollgate-mock" --listen "$MOCK_HOST:$MOCK_PORT" "${MOCK_FLAGS[@]}"
done
sleep 0.3
for i in $(seq 1 "$MOCKS"); do
    kill -0 "${PID_OF[mock$i]}" 2>/dev/null || { log "mock$i died: $(cat "$OUT/logs/mock$i.log")"; exit 1; }
done
log "mocks: $MOCKS x tollgate-mock on $MOCK_HOST:$MOCK_PORT (SO_REUSEPORT, CPU $LOAD_CPU)"

# --- stream points and what fits under the descriptor limit ----------------------------
# Descriptors: the gateway holds 2 per proxied stream (client, upstream) and 1 per
# built-in-mock stream; each mock 2 per connection (the kernel spreads connections over
# the mocks by hash, so allow 10 % imbalance); the load generator 1 per connection. The
# reserve covers listeners, rings, logs and the idle pool.
RESERVE=100
FIT_PROXIED=$(((NOFILE - RESERVE) / 2))
FIT_MOCKS=$(((NOFILE - RESERVE) / 2 * MOCKS * 10 / 11))
FIT_LOAD=$((NOFILE - RESERVE))
min() { local m=$1 x; for x in "$@"; do ((x < m)) && m=$x; done; echo "$m"; }
declare -a P_NAME=() P_N=() P_TPS=() P_TOKENS=() P_N_PROXIED=() P_N_BUILTIN=()
for i in "${!POINT_LIST[@]}"; do
    [[ "${POINT_LIST[$i]}" =~ ^([0-9]+)x([0-9]+)x([0-9]+)$ ]]
    n=${BASH_REMATCH[1]} tps=${BASH_REMATCH[2]} tokens=${BASH_REMATCH[3]}
    P_NAME+=("streams-${n}x${tps}x${tokens}")
    P_N+=("$n") P_TPS+=("$tps") P_TOKENS+=("$tokens")
    np=$(min "$n" "$FIT_PROXIED" "$FIT_MOCKS" "$FIT_LOAD")
    nb=$(min "$n" "$((NOFILE - RESERVE))" "$FIT_LOAD")
    P_N_PROXIED+=("$np") P_N_BUILTIN+=("$nb")
    [[ ",$SCENARIOS," == *,streams,* ]] || continue
    ((np == n)) || note "${P_NAME[$i]}: direct and gateway capped at $np streams: open files limit $NOFILE (gateway 2 per proxied stream: fits $FIT_PROXIED; $MOCKS mocks: fit $FIT_MOCKS; load generator: fits $FIT_LOAD)"
    ((nb == n)) || note "${P_NAME[$i]}: builtin capped at $nb streams: open files limit $NOFILE"
done

# --- the gateway -----------------------------------------------------------------------
GW_PORT=$(free_port) || { log "no free port"; exit 1; }
ADMIN_PORT=$(free_port) || { log "no free port"; exit 1; }
[[ "$ADMIN_PORT" != "$GW_PORT" ]] || ADMIN_PORT=$((GW_PORT + 1))
ACCESS_LOG_PATH=""
((ACCESS_LOG)) && ACCESS_LOG_PATH="$OUT/logs/access.log"
{
    cat <<EOF
# ONE worker on CPU $PROXY_CPU. The LLM chain: body buffered and scanned, model routed,
# request written for the provider, answer read (whole or relayed event by event), usage
# and cost accounted, GenAI metrics. Access log: ${ACCESS_LOG_PATH:-off}.
[runtime]
workers = 1
cpus = [$PROXY_CPU]

[admin]
listen = "127.0.0.1:$ADMIN_PORT"

[access_log]
path = "$ACCESS_LOG_PATH"

[[listeners]]
listen = "127.0.0.1:$GW_PORT"
backlog = 4096
# Above the largest stream count (the default, 10000, would hold the 10 001st client in
# the backlog).
max_connections = 30000

[[clusters]]
name = "mock"
endpoints = ["$MOCK_HOST:$MOCK_PORT"]
[clusters.pool]
max_idle = 1024
# The default (1024 per endpoint per core) would refuse the 1025th concurrent stream.
max_per_endpoint = 100000

[[routes]]
name = "llm"
match = { path_prefix = "/v1/" }
llm = {}

# Non-streaming: the mock answers at once (no pacing).
[[llm.providers]]
name = "mock-openai"
kind = "openai"
upstream = "mock"

[[llm.providers]]
name = "builtin"
kind = "mock"
[llm.providers.mock]
ttft = "0ms"
tokens_per_second = 0
output_tokens = 16

[[llm.models]]
name = "bench"
price = { input = 0.15, output = 0.6 }
[[llm.models.deployments]]
provider = "mock-openai"
model = "mock-gpt"

[[llm.models]]
name = "builtin"
price = { input = 0.15, output = 0.6 }
[[llm.models.deployments]]
provider = "builtin"
EOF
    for i in "${!P_NAME[@]}"; do
        gap_ms=$((1000 / P_TPS[i]))
        cat <<EOF

# ${P_NAME[$i]}: paced by the mock through the provider's extra headers; the random
# delay before each stream spreads the token events over the gap.
[[llm.providers]]
name = "mock-openai-s$i"
kind = "openai"
upstream = "mock"
headers = { "x-mock-tps" = "${P_TPS[$i]}", "x-mock-delay-ms" = "0-$gap_ms" }

[[llm.providers]]
name = "builtin-s$i"
kind = "mock"
[llm.providers.mock]
ttft = "0ms"
tokens_per_second = ${P_TPS[$i]}
output_tokens = ${P_TOKENS[$i]}

[[llm.models]]
name = "bench-s$i"
price = { input = 0.15, output = 0.6 }
[[llm.models.deployments]]
provider = "mock-openai-s$i"
model = "mock-gpt"

[[llm.models]]
name = "builtin-s$i"
price = { input = 0.15, output = 0.6 }
[[llm.models.deployments]]
provider = "builtin-s$i"
EOF
    done
} >"$OUT/conf/tollgate.toml"
"$REL/tollgate" check -c "$OUT/conf/tollgate.toml" >"$OUT/logs/tollgate-check.log" 2>&1 || {
    log "tollgate check failed: $(tail -3 "$OUT/logs/tollgate-check.log")"
    exit 1
}
start gateway "$PROXY_CPU" "$OUT/logs/tollgate.log" "$REL/tollgate" run -c "$OUT/conf/tollgate.toml"
for _ in $(seq 1 100); do
    port_open 127.0.0.1 "$GW_PORT" && break
    kill -0 "${PID_OF[gateway]}" 2>/dev/null || break
    sleep 0.1
done
port_open 127.0.0.1 "$GW_PORT" || { log "tollgate did not start: $(tail -5 "$OUT/logs/tollgate.log")"; exit 1; }
GW_PID=${PID_OF[gateway]}
log "gateway: pid $GW_PID on 127.0.0.1:$GW_PORT (CPU $PROXY_CPU), admin 127.0.0.1:$ADMIN_PORT; RSS $(rss_kb "$GW_PID") kB"
"$REL/tollgate" --version >>"$OUT/meta.txt" 2>&1 || true

# --- nginx (only when it is a target) ---------------------------------------------------
NGX_PORT="" NGX_PID=""
if [[ ",$TARGETS," == *,nginx,* ]]; then
    NGX_BIN=$(command -v nginx || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; }) ||
        { log "target nginx: nginx is not installed (scripts/install-test-deps.sh installs it)"; exit 1; }
    NGX_PORT=$(free_port) || { log "no free port"; exit 1; }
    mkdir -p "$OUT/nginx/logs" "$OUT/nginx/tmp"
    cat >"$OUT/conf/nginx.conf" <<EOF
# ONE worker on CPU $PROXY_CPU, a plain reverse proxy to the mock: upstream keep-alive,
# proxy_buffering off (SSE events forwarded as they come), no access log. Descriptors
# and connections sized like the gateway's (2 per stream).
worker_processes 1;
worker_cpu_affinity $(cpu_mask "$PROXY_CPU");
worker_rlimit_nofile $NOFILE;
daemon off;
pid $OUT/nginx/nginx.pid;
error_log $OUT/logs/nginx-error.log warn;
events { worker_connections $NOFILE; }
http {
    access_log off;
$(nginx_temp_paths "$OUT")
    keepalive_requests 1000000;
    upstream mock {
        server $MOCK_HOST:$MOCK_PORT;
        keepalive 1024;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGX_PORT backlog=4096;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 300s;
        }
    }
}
EOF
    "$NGX_BIN" -t -p "$OUT/nginx" -c "$OUT/conf/nginx.conf" >"$OUT/logs/nginx-t.log" 2>&1 ||
        { log "nginx: config test failed: $(tail -2 "$OUT/logs/nginx-t.log" | tr '\n' ' ')"; exit 1; }
    start nginx "$PROXY_CPU" "$OUT/logs/nginx.log" "$NGX_BIN" -p "$OUT/nginx" -c "$OUT/conf/nginx.conf"
    for _ in $(seq 1 100); do
        port_open 127.0.0.1 "$NGX_PORT" && break
        sleep 0.1
    done
    port_open 127.0.0.1 "$NGX_PORT" || { log "nginx did not start: $(tail -3 "$OUT/logs/nginx-error.log")"; exit 1; }
    # The worker does the work; the master only waits.
    NGX_PID=$(descendants "${PID_OF[nginx]}" | head -1)
    [[ -n "$NGX_PID" ]] || { log "nginx: no worker process"; exit 1; }
    "$NGX_BIN" -v >>"$OUT/meta.txt" 2>&1 || true
    log "nginx: worker pid $NGX_PID on 127.0.0.1:$NGX_PORT (CPU $PROXY_CPU)"
fi

# --- request bodies --------------------------------------------------------------------
body() { # model stream max_tokens
    printf '{"model":"%s","stream":%s,"max_tokens":%d,"messages":[{"role":"system","content":"You are a terse assistant."},{"role":"user","content":"Say hello to the benchmark in a few words."}]}\n' "$1" "$2" "$3"
}
body bench false 16 >"$OUT/bodies/overhead-gateway.json"
cp "$OUT/bodies/overhead-gateway.json" "$OUT/bodies/overhead-direct.json"
cp "$OUT/bodies/overhead-gateway.json" "$OUT/bodies/overhead-nginx.json"
body builtin false 16 >"$OUT/bodies/overhead-builtin.json"
for i in "${!P_NAME[@]}"; do
    body "bench-s$i" true "${P_TOKENS[$i]}" >"$OUT/bodies/${P_NAME[$i]}-gateway.json"
    cp "$OUT/bodies/${P_NAME[$i]}-gateway.json" "$OUT/bodies/${P_NAME[$i]}-direct.json"
    cp "$OUT/bodies/${P_NAME[$i]}-gateway.json" "$OUT/bodies/${P_NAME[$i]}-nginx.json"
    body "builtin-s$i" true "${P_TOKENS[$i]}" >"$OUT/bodies/${P_NAME[$i]}-builtin.json"
done

url_of() { # target
    case "$1" in
        direct) echo "http://$MOCK_HOST:$MOCK_PORT/v1/chat/completions" ;;
        nginx) echo "http://127.0.0.1:$NGX_PORT/v1/chat/completions" ;;
        *) echo "http://127.0.0.1:$GW_PORT/v1/chat/completions" ;;
    esac
}

# --- load runs -------------------------------------------------------------------------
GATEWAY_DEAD=0
# one_run SCENARIO TARGET ROUND STREAMS LOADERS RAMP_S LOAD_ARGS...: one load run, its CPU
# and memory samples. With STREAMS (a number), LOADERS tollgate-load processes share the
# streams (-c and -n each), started RAMP_S/LOADERS s apart; with "-", one process runs
# LOAD_ARGS as they are.
one_run() {
    local scenario=$1 target=$2 round=$3 streams=$4 loaders=$5 ramp=$6
    shift 6
    local rel="$scenario/$target-$round" t0 t1 p0 p1 l0 l1 la rss0 rss1 rc=0 samples=- i k nk step w0 w1
    local jsons=() count=() pid=$GW_PID port=""
    # CPU time and memory are the process under test's: nginx's worker for nginx.
    [[ "$target" == nginx ]] && pid=$NGX_PID port=$NGX_PORT
    mkdir -p "$OUT/$scenario"
    la=$(loadavg1)
    rss0=$(rss_kb "$pid")
    metrics "$OUT/$rel.metrics-before"
    if [[ "$streams" != - ]]; then
        samples="$rel.samples.tsv"
        : >"$OUT/$samples"
        (
            taskset -pc "$LOAD_CPU" "$BASHPID" >/dev/null
            sampler "$pid" "$OUT/$samples" "$port"
        ) &
        SAMPLER_PID=$!
    fi
    step=$(awk -v r="$ramp" -v k="$loaders" 'BEGIN { printf "%.3f", (k > 1 ? r / k : 0) }')
    if ((PROBE)) && [[ "$streams" != - && "$target" != direct && "$target" != builtin ]]; then
        # On the load CPU, like the sampler: not on the proxy's.
        taskset -c "$LOAD_CPU" perf record -q -a -e tcp:tcp_probe --filter 'data_len > 0' -o "$OUT/$rel.probe.data" \
            >"$OUT/logs/probe-$scenario-$target-$round.log" 2>&1 &
        PROBE_PID=$!
        sleep 1 # perf is recording before the first stream starts
    fi
    t0=$(proc_ticks "$pid")
    p0=$(cpu_jiffies "$PROXY_CPU")
    l0=$(cpu_jiffies "$LOAD_CPU")
    w0=$(date +%s.%N)
    LOADER_PIDS=()
    for ((k = 0; k < loaders; k++)); do
        count=()
        if [[ "$streams" != - ]]; then
            nk=$((streams / loaders + (k < streams % loaders ? 1 : 0)))
            count=(-c "$nk" -n "$nk")
        fi
        jsons+=("$rel.part$k.json")
        timeout "$RUN_LIMIT" taskset -c "$LOAD_CPU" "$REL/tollgate-load" --url "$(url_of "$target")" \
            --threads 1 -q -m POST -H "Content-Type: application/json" "$@" "${count[@]}" \
            --json "$OUT/$rel.part$k.json" >"$OUT/logs/load-$scenario-$target-$round.part$k.log" 2>&1 &
        LOADER_PIDS+=("$!")
        ((k + 1 < loaders)) && sleep "$step"
    done
    for k in "${LOADER_PIDS[@]}"; do wait "$k" || rc=$?; done
    LOADER_PIDS=()
    w1=$(date +%s.%N)
    p1=$(cpu_jiffies "$PROXY_CPU")
    l1=$(cpu_jiffies "$LOAD_CPU")
    t1=$(proc_ticks "$pid")
    if [[ -n "$SAMPLER_PID" ]]; then
        sleep 3 # the closed connections are gone, memory given back or not
        kill "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
        SAMPLER_PID=""
    fi
    rss1=$(rss_kb "$pid")
    metrics "$OUT/$rel.metrics-after"
    # The recording is split after the run's CPU and memory figures were taken: reading
    # it back takes a minute of CPU.
    if [[ -n "$PROBE_PID" ]]; then
        kill -INT "$PROBE_PID" 2>/dev/null || true
        wait "$PROBE_PID" 2>/dev/null || true
        PROBE_PID=""
        local port=$GW_PORT
        [[ "$target" == nginx ]] && port=$NGX_PORT
        taskset -c "$LOAD_CPU" perf script -i "$OUT/$rel.probe.data" 2>/dev/null |
            taskset -c "$LOAD_CPU" "$ROOT/bench/llm_forwarding.py" "$port" "$MOCK_PORT" >"$OUT/$rel.forwarding.txt" 2>&1 || true
        rm -f "$OUT/$rel.probe.data"
        log "$scenario round $round $target, at the sockets: $(grep -h 'gap p99 added\|forwarding delay' "$OUT/$rel.forwarding.txt" | tr '\n' ' ')"
    fi
    local ticks=-
    [[ "$target" != direct && "$t0" != - && "$t1" != - ]] && ticks=$((t1 - t0))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$target" "$round" \
        "$streams" "$(IFS=,; echo "${jsons[*]}")" "$ticks" "$CLK_TCK" "$(busy_pct "$p0" "$p1")" "$(busy_pct "$l0" "$l1")" \
        "$la" "$rss0" "$rss1" "$samples" "$rel.metrics-before" "$rel.metrics-after" \
        "$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.3f", b - a }')" >>"$TSV"
    local summary
    summary=$(grep -hE '^ *(throughput|latency|inter-token|errors:)' "$OUT/logs/load-$scenario-$target-$round.part0.log" | tr -s ' ' | tr '\n' ' ')
    ((rc == 0)) || summary="tollgate-load exit $rc; $summary"
    ((loaders == 1)) || summary="(loader 1 of $loaders) $summary"
    log "$scenario round $round $target: $summary gw_ticks=$ticks rss ${rss0}->${rss1} kB"
    if ! kill -0 "$GW_PID" 2>/dev/null; then
        note "the gateway died during $scenario round $round ($target); see logs/tollgate.log"
        GATEWAY_DEAD=1
    fi
    for i in $(seq 1 "$MOCKS"); do
        kill -0 "${PID_OF[mock$i]}" 2>/dev/null || { note "mock$i died during $scenario round $round"; exit 1; }
    done
}

rotated() { # round: the targets, rotated by round
    local n=${#TARGET_LIST[@]} i
    for i in $(seq 0 $((n - 1))); do echo "${TARGET_LIST[$(((i + $1 - 1) % n))]}"; done
}

for scenario in "${SCENARIO_LIST[@]}"; do
    if [[ "$scenario" == overhead ]]; then
        RUN_LIMIT=$((DURATION + 40))
        log "overhead: warm-up, 3 s per target"
        for target in "${TARGET_LIST[@]}"; do
            timeout 30 taskset -c "$LOAD_CPU" "$REL/tollgate-load" --url "$(url_of "$target")" --threads 1 -q \
                -m POST -H "Content-Type: application/json" --body-file "$OUT/bodies/overhead-$target.json" \
                --rate "$RATE" -c "$OPEN_CONNECTIONS" -d 3s >"$OUT/logs/warmup-$target.log" 2>&1 || true
        done
        for round in $(seq 1 "$ROUNDS"); do
            for target in $(rotated "$round"); do
                ((GATEWAY_DEAD)) && [[ "$target" != direct ]] && continue
                wait_quiet
                one_run overhead "$target" "$round" - 1 0 --body-file "$OUT/bodies/overhead-$target.json" \
                    --rate "$RATE" -c "$OPEN_CONNECTIONS" -d "${DURATION}s" --timeout 10s
                sleep 1
            done
        done
        continue
    fi
    for i in "${!P_NAME[@]}"; do
        name=${P_NAME[$i]}
        # One stream per connection (-c n -n n per loader); each lasts TOKENS/TPS s plus
        # the random delay of up to one gap. The loaders start over the ramp, at most a
        # fifth of a stream's length, so that all streams are open together for most of
        # the run and the clients do not all connect in the same instant.
        stream_s=$(((P_TOKENS[i] + P_TPS[i] - 1) / P_TPS[i] + 1))
        ramp=$(min "$STREAM_RAMP" "$((stream_s / 5))")
        loaders=$(min "$STREAM_LOADERS" "${P_N_PROXIED[$i]}")
        RUN_LIMIT=$((stream_s + ramp + 120))
        log "$name: ${P_N[$i]} streams x ${P_TPS[$i]} tokens/s x ${P_TOKENS[$i]} tokens (~${stream_s} s each);" \
            "direct/gateway ${P_N_PROXIED[$i]}, builtin ${P_N_BUILTIN[$i]}; $loaders loaders over ${ramp} s"
        for round in $(seq 1 "$ROUNDS"); do
            for target in $(rotated "$round"); do
                ((GATEWAY_DEAD)) && [[ "$target" != direct ]] && continue
                wait_quiet
                n=${P_N_PROXIED[$i]}
                extra=()
                case "$target" in
                    builtin) n=${P_N_BUILTIN[$i]} ;;
                    # nginx passes the pacing headers on to the mock as they are.
                    direct | nginx) extra=(-H "x-mock-tps: ${P_TPS[$i]}" -H "x-mock-delay-ms: 0-$((1000 / P_TPS[i]))") ;;
                esac
                one_run "$name" "$target" "$round" "$n" "$loaders" "$ramp" \
                    --body-file "$OUT/bodies/$name-$target.json" "${extra[@]}" --timeout "$((stream_s + ramp + 60))s"
                sleep 2
            done
        done
    done
done

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"
[[ -n "$NOTES" ]] && echo "notes: $NOTES" >>"$OUT/meta.txt"
grep -c ' WARN \| ERROR ' "$OUT/logs/tollgate.log" >"$OUT/logs/tollgate-warnings.count" || true
echo
cat "$OUT/meta.txt"
echo
"$REL/llm-report" "$OUT"
echo
echo "results: $OUT (runs.tsv, per-run JSON, samples, metrics, logs, summary.md, summary.json)"
