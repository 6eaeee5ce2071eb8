#!/usr/bin/env bash
# Side-by-side macro benchmark: Tollgate, nginx and HAProxy in front of tollgate-mock,
# loaded in turn by tollgate-load, in alternating rounds, on one machine, in one run.
#
#   bench/compare.sh                       # all proxy scenarios, 5 rounds x 5 s
#   bench/compare.sh --scenario get --rounds 3 --duration 3s
#   bench/compare.sh --scenario runtimes   # bare proxy loop on monoio (io_uring plain and
#                                          # tuned ring, epoll) and glommio; Tollgate on each driver
#
# Each proxy gets ONE worker pinned to --proxy-cpu (default 0); the mock upstream and
# the load generator (one thread) share --load-cpu (default 1). Every proxy process's
# CPU time (utime+stime from /proc/PID/stat, children included) is sampled before and
# after each load run. Results: bench/out/<date>/ (runs.tsv, every tollgate-load JSON,
# logs, configs, summary.md, summary.json); the Markdown tables are printed at the end.
#
# Bounded: every load run is `-d` plus a drain, under `timeout`; every process this
# script starts is killed on exit (trap). Loopback only. See bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
ORIG_ARGS="$*"
SCENARIOS=all
ROUNDS=5
DURATION=5
CONNECTIONS=64
SSE_STREAMS=1000
SSE_TPS=20
SSE_TOKENS=60
SSE_DURATION=10
PROXY_CPU=0
LOAD_CPU=1
OUT_BASE="$ROOT/bench/out"
QUIET_WAIT=0
BUILD=1
INSTALL=1
PEERS="tollgate,nginx,haproxy"

usage() {
    cat <<EOF
usage: bench/compare.sh [options]
  --scenario LIST    comma-separated: get, post, close, sse, runtimes, or all
                     (all = get,post,close,sse; default: all)
  --rounds N         alternating rounds per scenario (default $ROUNDS)
  --duration SECS    seconds per load run (default $DURATION)
  --connections N    client connections for get/post/close/runtimes (default $CONNECTIONS)
  --sse-streams N    concurrent SSE streams (default $SSE_STREAMS)
  --sse-tps N        mock tokens per second per stream (default $SSE_TPS)
  --sse-tokens N     mean tokens per stream (default $SSE_TOKENS; lengths vary 0.5x to 1.5x)
  --sse-duration S   seconds per SSE load run (default $SSE_DURATION)
  --peers LIST       proxies to compare (default $PEERS; a direct-to-mock row is always added)
  --proxy-cpu N      CPU for the proxy's one worker (default $PROXY_CPU)
  --load-cpu N       CPU for tollgate-load and tollgate-mock (default $LOAD_CPU)
  --out DIR          results under DIR/<date> (default bench/out)
  --quiet-wait SECS  before each round, wait up to SECS for both CPUs to be idle
                     (<15% busy over 1 s) when other work shares the machine (default 0: off)
  --no-build         use the binaries already in target/release
  --no-install       do not apt-get install nginx/haproxy when missing
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --scenario) SCENARIOS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=${2%s}; shift 2 ;;
        --connections) CONNECTIONS=$2; shift 2 ;;
        --sse-streams) SSE_STREAMS=$2; shift 2 ;;
        --sse-tps) SSE_TPS=$2; shift 2 ;;
        --sse-tokens) SSE_TOKENS=$2; shift 2 ;;
        --sse-duration) SSE_DURATION=${2%s}; shift 2 ;;
        --peers) PEERS=$2; shift 2 ;;
        --proxy-cpu) PROXY_CPU=$2; shift 2 ;;
        --load-cpu) LOAD_CPU=$2; shift 2 ;;
        --out) OUT_BASE=$2; shift 2 ;;
        --quiet-wait) QUIET_WAIT=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --no-install) INSTALL=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "compare.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
for n in "$QUIET_WAIT" "$ROUNDS" "$DURATION" "$CONNECTIONS" "$SSE_STREAMS" "$SSE_TPS" "$SSE_TOKENS" "$SSE_DURATION" \
    "$PROXY_CPU" "$LOAD_CPU"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "compare.sh: not a whole number: $n" >&2; exit 2; }
done
((ROUNDS >= 1 && DURATION >= 1 && SSE_DURATION >= 1 && SSE_TPS >= 1 && SSE_TOKENS >= 2)) || { echo "compare.sh: rounds, duration and sse-tps must be >= 1" >&2; exit 2; }
[[ "$SCENARIOS" == all ]] && SCENARIOS=get,post,close,sse
IFS=, read -r -a SCENARIO_LIST <<<"$SCENARIOS"
IFS=, read -r -a PEER_LIST <<<"$PEERS"
for s in "${SCENARIO_LIST[@]}"; do
    case "$s" in get | post | close | sse | runtimes) ;; *) echo "compare.sh: unknown scenario $s" >&2; exit 2 ;; esac
done
NCPU=$(nproc)
if ((PROXY_CPU >= NCPU || LOAD_CPU >= NCPU)); then
    echo "compare.sh: this machine has $NCPU CPUs; pick --proxy-cpu/--load-cpu below $NCPU" >&2
    exit 2
fi
((PROXY_CPU != LOAD_CPU)) || echo "compare.sh: warning: proxy and load generator share CPU $PROXY_CPU" >&2

RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$OUT_BASE/$RUN_ID"
mkdir -p "$OUT/logs" "$OUT/conf"
TSV="$OUT/runs.tsv"
echo "# scenario	target	round	json	proxy_ticks	mock_ticks	clk_tck	proxy_cpu_busy	load_cpu_busy" >"$TSV"
REL="$ROOT/target/release"
CLK_TCK=$(getconf CLK_TCK)
log() { printf '[compare %s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$OUT/compare.log" >&2; }

# --- processes and cleanup -------------------------------------------------------------
declare -a STARTED=()
declare -A PID_OF=() PORT_OF=()
NOT_STARTED=""

cleanup() {
    local rc=$? p all=()
    trap - EXIT INT TERM
    for p in "${STARTED[@]}"; do
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
        wait 2>/dev/null || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

USED_PORTS=" "
# free_port: sets FREE_PORT to a port nobody listens on, below the ephemeral range, not
# handed out before (no subshell, so that USED_PORTS keeps count).
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 10000))
        [[ "$USED_PORTS" == *" $p "* ]] && continue
        port_open "$p" && continue
        USED_PORTS+="$p "
        FREE_PORT=$p
        return 0
    done
    return 1
}

# wait_ready NAME PORT: up to 10 s for NAME's port to accept; 1 if its process died.
wait_ready() {
    local name=$1 port=$2
    for _ in $(seq 1 100); do
        kill -0 "${PID_OF[$name]}" 2>/dev/null || return 1
        port_open "$port" && return 0
        sleep 0.1
    done
    return 1
}

# CPU ticks (utime + stime) of a process and its descendants.
proc_ticks() {
    local total=0 p line f
    for p in "$1" $(descendants "$1"); do
        line=$(cat /proc/"$p"/stat 2>/dev/null) || continue
        read -r -a f <<<"${line##*) }"
        total=$((total + f[11] + f[12])) # fields 14 and 15 of stat
    done
    echo "$total"
}

# wait_quiet: up to QUIET_WAIT s until neither CPU is busy with other work (our own
# processes are idle between runs, so what shows is someone else's).
wait_quiet() {
    ((QUIET_WAIT > 0)) || return 0
    local start=$SECONDS p0 l0 pb lb
    while :; do
        p0=$(cpu_jiffies "$PROXY_CPU")
        l0=$(cpu_jiffies "$LOAD_CPU")
        sleep 1
        pb=$(busy_pct "$p0" "$(cpu_jiffies "$PROXY_CPU")")
        lb=$(busy_pct "$l0" "$(cpu_jiffies "$LOAD_CPU")")
        if awk -v a="$pb" -v b="$lb" 'BEGIN { exit !(a < 15 && b < 15) }'; then
            ((SECONDS - start <= 1)) || log "machine quiet after $((SECONDS - start)) s"
            return 0
        fi
        if ((SECONDS - start >= QUIET_WAIT)); then
            log "machine still busy (CPU $PROXY_CPU ${pb}%, CPU $LOAD_CPU ${lb}%) after ${QUIET_WAIT} s: going on"
            return 0
        fi
    done
}

# --- tools -----------------------------------------------------------------------------
find_bin() { # name -> path, or nothing
    command -v "$1" 2>/dev/null || { [[ -x "/usr/sbin/$1" ]] && echo "/usr/sbin/$1"; } || true
}

ensure_peer_binaries() {
    local missing=()
    [[ ",$PEERS," == *,nginx,* && -z "$(find_bin nginx)" ]] && missing+=(nginx)
    [[ ",$PEERS," == *,haproxy,* && -z "$(find_bin haproxy)" ]] && missing+=(haproxy)
    command -v taskset >/dev/null || missing+=(util-linux)
    ((${#missing[@]})) || return 0
    if ((INSTALL)) && command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
        log "installing from Debian: ${missing[*]}"
        timeout 600 apt-get update -qq >>"$OUT/logs/apt.log" 2>&1 || log "apt-get update failed (see logs/apt.log)"
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >>"$OUT/logs/apt.log" 2>&1 || log "apt-get install ${missing[*]} failed (see logs/apt.log)"
    else
        log "missing ${missing[*]} and not installing (--no-install, no apt-get, or not root)"
    fi
    command -v taskset >/dev/null || { log "taskset is required (util-linux)"; exit 1; }
}

build() {
    ((BUILD)) || return 0
    # tollgate-bench: runtime-cmp and bench-report.
    local pkgs=(-p tollgate -p tollgate-load -p tollgate-bench)
    log "building: cargo build --release ${pkgs[*]}"
    (cd "$ROOT" && cargo build --release "${pkgs[@]}") 2>&1 | tail -3 >&2
}

# --- configs ---------------------------------------------------------------------------

write_configs() {
    local mock=$1
    cat >"$OUT/conf/tollgate.toml" <<EOF
# One worker on CPU $PROXY_CPU, upstream keep-alive (the per-core pool), no access log.
[runtime]
workers = 1
cpus = [$PROXY_CPU]

[admin]
listen = ""

[[listeners]]
listen = "127.0.0.1:${PORT_OF[tollgate]}"

[[clusters]]
name = "mock"
endpoints = ["127.0.0.1:$mock"]
[clusters.pool]
max_idle = 1024
# Like nginx and HAProxy here: no cap that SSE's 1000+ open streams would hit (default 1024).
max_per_endpoint = 100000

[[routes]]
name = "all"
upstream = "mock"
EOF
    # The same gateway forced onto monoio's epoll driver, for the runtimes scenario.
    sed -e 's/^cpus = \(.*\)$/cpus = \1\ndriver = "epoll"/' \
        -e "s/127.0.0.1:${PORT_OF[tollgate]}/127.0.0.1:${PORT_OF[tollgate-epoll]}/" \
        "$OUT/conf/tollgate.toml" >"$OUT/conf/tollgate-epoll.toml"
    mkdir -p "$OUT/nginx/logs" "$OUT/nginx/tmp"
    cat >"$OUT/conf/nginx.conf" <<EOF
# One worker on CPU $PROXY_CPU, upstream keep-alive, no access log. proxy_buffering is
# off for /v1/ so that SSE events are forwarded as they come (what an operator does).
worker_processes 1;
worker_cpu_affinity $(cpu_mask "$PROXY_CPU");
worker_rlimit_nofile 65536;
daemon off;
pid $OUT/nginx/nginx.pid;
error_log $OUT/logs/nginx-error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
$(nginx_temp_paths "$OUT")
    # 16 KiB bodies stay in memory (the default buffer would spill them to a file).
    client_body_buffer_size 64k;
    keepalive_requests 1000000;
    upstream mock {
        server 127.0.0.1:$mock;
        keepalive 1024;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:${PORT_OF[nginx]} backlog=4096;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
        }
        location /v1/ {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_buffering off;
        }
    }
}
EOF
    cat >"$OUT/conf/haproxy.cfg" <<EOF
# One thread on CPU $PROXY_CPU, upstream connections reused by any client, no logging.
# /v1/ (SSE) goes to a backend with http-no-delay, as nginx has proxy_buffering off there.
global
    nbthread 1
    cpu-map 1/1 $PROXY_CPU
    maxconn $HAPROXY_MAXCONN
defaults
    mode http
    option http-keep-alive
    option forwardfor
    http-reuse always
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
frontend fe
    bind 127.0.0.1:${PORT_OF[haproxy]}
    http-request set-header X-Forwarded-Proto http
    use_backend mock_stream if { path_beg /v1/ }
    default_backend mock
backend mock
    server mock 127.0.0.1:$mock maxconn 10000
# SSE: without http-no-delay HAProxy sends with MSG_MORE and small events wait for the
# next ones (bursts and ~200 ms gaps); an operator streaming events turns it on.
backend mock_stream
    option http-no-delay
    server mock 127.0.0.1:$mock maxconn 10000
EOF
}

# start_peer NAME: starts a proxy (or a runtime-cmp loop) on PROXY_CPU; returns 1 and
# says why when it cannot.
start_peer() {
    local name=$1 port bin logf="$OUT/logs/$1.log"
    port=${PORT_OF[$name]}
    case "$name" in
        tollgate | tollgate-epoll)
            start "$name" "$PROXY_CPU" "$logf" "$REL/tollgate" run -c "$OUT/conf/$name.toml"
            ;;
        nginx)
            bin=$(find_bin nginx)
            [[ -n "$bin" ]] || { NOT_STARTED+="nginx: not installed; "; log "nginx: not installed, skipped"; return 1; }
            "$bin" -v >>"$OUT/versions.txt" 2>&1 || true
            if ! "$bin" -t -p "$OUT/nginx" -c "$OUT/conf/nginx.conf" >"$OUT/logs/nginx-t.log" 2>&1; then
                NOT_STARTED+="nginx: config test failed (logs/nginx-t.log); "
                log "nginx: config test failed: $(tail -2 "$OUT/logs/nginx-t.log" | tr '\n' ' ')"
                return 1
            fi
            start "$name" "$PROXY_CPU" "$logf" "$bin" -p "$OUT/nginx" -c "$OUT/conf/nginx.conf"
            ;;
        haproxy)
            bin=$(find_bin haproxy)
            [[ -n "$bin" ]] || { NOT_STARTED+="haproxy: not installed; "; log "haproxy: not installed, skipped"; return 1; }
            "$bin" -v 2>&1 | head -1 >>"$OUT/versions.txt" || true
            if ! "$bin" -c -f "$OUT/conf/haproxy.cfg" >"$OUT/logs/haproxy-c.log" 2>&1; then
                NOT_STARTED+="haproxy: config check failed (logs/haproxy-c.log); "
                log "haproxy: config check failed: $(tail -2 "$OUT/logs/haproxy-c.log" | tr '\n' ' ')"
                return 1
            fi
            start "$name" "$PROXY_CPU" "$logf" "$bin" -db -f "$OUT/conf/haproxy.cfg"
            ;;
        monoio-uring | monoio-uring-tuned | monoio-epoll | glommio)
            start "$name" "$PROXY_CPU" "$logf" "$REL/runtime-cmp" --runtime "$name" \
                --listen "127.0.0.1:$port" --upstream "127.0.0.1:$MOCK_PORT"
            ;;
        *) log "unknown peer $name"; return 1 ;;
    esac
    if ! wait_ready "$name" "$port"; then
        NOT_STARTED+="$name: did not start ($(tail -3 "$logf" | tr '\n' ' ')); "
        log "$name: did not start; last lines of logs/$name.log:"
        tail -5 "$logf" >&2 || true
        kill "${PID_OF[$name]}" 2>/dev/null || true
        unset 'PID_OF[$name]'
        return 1
    fi
    log "$name: pid ${PID_OF[$name]} on 127.0.0.1:$port (CPU $PROXY_CPU)"
}

# --- load runs -------------------------------------------------------------------------
# load_args SCENARIO: tollgate-load arguments (beyond --url) for a scenario.
LOAD_ARGS=()
set_load_args() {
    LOAD_ARGS=(-d "${DURATION}s" --threads 1 -q --timeout 10s)
    case "$1" in
        get | runtimes) LOAD_ARGS+=(-c "$CONNECTIONS") ;;
        post) LOAD_ARGS+=(-c "$CONNECTIONS" -m POST --body-file "$OUT/body-16k.bin" -H "Content-Type: application/octet-stream") ;;
        close) LOAD_ARGS+=(-c "$CONNECTIONS" --close) ;;
        sse)
            local stream_s
            # Closed loop, SSE_STREAMS connections each running one stream after another.
            # Stream lengths vary (max_tokens from half to 1.5 x SSE_TOKENS, rotated) so
            # that the streams drift apart after the first wave instead of all starting
            # and ending together.
            stream_s=$(((SSE_TOKENS * 3 / 2 + SSE_TPS - 1) / SSE_TPS))
            LOAD_ARGS=(-d "${SSE_DURATION}s" --threads 1 -q --timeout "$((stream_s + 10))s"
                -c "$SSE_STREAMS" -m POST -H "Content-Type: application/json"
                -H "x-mock-tps: $SSE_TPS" -H "x-mock-tokens: $((SSE_TOKENS * 3 / 2))"
                --bodies-file "$OUT/sse-bodies.jsonl"
                --drain "$((stream_s + 3))s")
            ;;
    esac
}

scenario_path() { [[ "$1" == sse ]] && echo /v1/chat/completions || echo /; }

# one_run SCENARIO TARGET ROUND
one_run() {
    local scenario=$1 target=$2 round=$3 port pid="" json rel t0 t1 m0 m1 p0 p1 l0 l1 rc=0
    port=${PORT_OF[$target]}
    rel="$scenario/$target-$round.json"
    json="$OUT/$rel"
    [[ "$target" != direct ]] && pid=${PID_OF[$target]}
    set_load_args "$scenario"
    [[ -n "$pid" ]] && t0=$(proc_ticks "$pid")
    m0=$(proc_ticks "${PID_OF[mock]}")
    p0=$(cpu_jiffies "$PROXY_CPU")
    l0=$(cpu_jiffies "$LOAD_CPU")
    timeout $((DURATION + SSE_DURATION + 60)) taskset -c "$LOAD_CPU" "$REL/tollgate-load" \
        --url "http://127.0.0.1:$port$(scenario_path "$scenario")" "${LOAD_ARGS[@]}" --json "$json" \
        >"$OUT/logs/load-$scenario-$target-$round.log" 2>&1 || rc=$?
    p1=$(cpu_jiffies "$PROXY_CPU")
    l1=$(cpu_jiffies "$LOAD_CPU")
    m1=$(proc_ticks "${PID_OF[mock]}")
    local proxy_ticks=-
    [[ -n "$pid" ]] && { t1=$(proc_ticks "$pid"); proxy_ticks=$((t1 - t0)); }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$target" "$round" "$rel" \
        "$proxy_ticks" "$((m1 - m0))" "$CLK_TCK" "$(busy_pct "$p0" "$p1")" "$(busy_pct "$l0" "$l1")" >>"$TSV"
    local summary
    summary=$(grep -E '^ *(throughput|errors:)' "$OUT/logs/load-$scenario-$target-$round.log" | tr -s ' ' | tr '\n' ' ')
    ((rc == 0)) || summary="tollgate-load exit $rc; $summary"
    log "$scenario round $round $target: $summary cpu_ticks=$proxy_ticks"
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
        log "$target died during the run; see logs/$target.log"
        NOT_STARTED+="$target: died during $scenario round $round; "
        unset 'PID_OF[$target]'
    fi
}

# --- main ------------------------------------------------------------------------------
ensure_peer_binaries
build
for b in tollgate tollgate-load tollgate-mock runtime-cmp bench-report; do
    [[ -x "$REL/$b" ]] || { log "missing $REL/$b (run without --no-build)"; exit 1; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# HAProxy refuses to start when maxconn needs more descriptors than it may open (two per
# proxied connection, plus a few).
HAPROXY_MAXCONN=$((($(ulimit -n) - 100) / 2))
((HAPROXY_MAXCONN <= 20000)) || HAPROXY_MAXCONN=20000

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "command: bench/compare.sh $ORIG_ARGS"
    echo "scenarios: $SCENARIOS; rounds: $ROUNDS; duration: ${DURATION}s; connections: $CONNECTIONS"
    echo "sse: $SSE_STREAMS streams (closed loop), $SSE_TPS tokens/s, $((SSE_TOKENS / 2))-$((SSE_TOKENS * 3 / 2)) tokens each, ${SSE_DURATION}s runs"
    echo "cpus: proxy $PROXY_CPU, load+mock $LOAD_CPU; online: $NCPU"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "kernel: $(uname -r)"
    echo "virtualised: $(systemd-detect-virt 2>/dev/null || (grep -q hypervisor /proc/cpuinfo && echo yes) || echo no)"
    echo "git: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        "(uncommitted changes in: $(cd "$ROOT" && git status --porcelain 2>/dev/null | awk '{print $2}' | cut -d/ -f1 | sort -u | tr '\n' ' '))"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.txt"
: >"$OUT/versions.txt"

MOCK_PORT=""
start mock "$LOAD_CPU" "$OUT/logs/mock.log" "$REL/tollgate-mock" --listen 127.0.0.1:0 --threads 1
for _ in $(seq 1 100); do
    MOCK_PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$OUT/logs/mock.log" | head -1)
    [[ -n "$MOCK_PORT" ]] && break
    sleep 0.1
done
[[ -n "$MOCK_PORT" ]] || { log "tollgate-mock did not start: $(cat "$OUT/logs/mock.log")"; exit 1; }
PORT_OF[direct]=$MOCK_PORT
log "mock: $(head -1 "$OUT/logs/mock.log") pid ${PID_OF[mock]} (CPU $LOAD_CPU)"
head -c 16384 /dev/urandom | base64 -w0 | head -c 16384 >"$OUT/body-16k.bin"
for i in $(seq 0 15); do
    printf '{"model":"mock-gpt","stream":true,"max_tokens":%d,"messages":[{"role":"user","content":"Tell me about thread-per-core proxies, part %d"}]}\n' \
        "$((SSE_TOKENS / 2 + SSE_TOKENS * i / 15))" "$i"
done >"$OUT/sse-bodies.jsonl"

for s in "${SCENARIO_LIST[@]}"; do
    if [[ "$s" == runtimes ]]; then NEED_RUNTIMES=1; else NEED_PROXIES=1; fi
done
TARGETS_PROXY=()
TARGETS_RUNTIME=()
if [[ -n "${NEED_PROXIES:-}${NEED_RUNTIMES:-}" ]]; then
    for name in tollgate tollgate-epoll nginx haproxy monoio-uring monoio-uring-tuned monoio-epoll glommio; do
        free_port || { log "no free port"; exit 1; }
        PORT_OF[$name]=$FREE_PORT
    done
    write_configs "$MOCK_PORT"
fi
if [[ -n "${NEED_PROXIES:-}" ]]; then
    for name in "${PEER_LIST[@]}"; do
        start_peer "$name" && TARGETS_PROXY+=("$name")
    done
fi
if [[ -n "${NEED_RUNTIMES:-}" ]]; then
    for name in monoio-uring monoio-uring-tuned monoio-epoll glommio tollgate tollgate-epoll; do
        if [[ -n "${PID_OF[$name]:-}" ]]; then TARGETS_RUNTIME+=("$name"); continue; fi
        start_peer "$name" && TARGETS_RUNTIME+=("$name")
    done
fi

for scenario in "${SCENARIO_LIST[@]}"; do
    mkdir -p "$OUT/$scenario"
    if [[ "$scenario" == runtimes ]]; then targets=("${TARGETS_RUNTIME[@]}" direct); else targets=("${TARGETS_PROXY[@]}" direct); fi
    n=${#targets[@]}
    log "scenario $scenario: ${targets[*]}; $ROUNDS rounds x ${DURATION}s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    for round in $(seq 1 "$ROUNDS"); do
        wait_quiet
        # Rotate the order every round so that no target always runs first or last.
        for i in $(seq 0 $((n - 1))); do
            target=${targets[$(((i + round - 1) % n))]}
            if [[ "$target" != direct && -z "${PID_OF[$target]:-}" ]]; then continue; fi
            one_run "$scenario" "$target" "$round"
            sleep 0.5
        done
    done
done

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"
[[ -n "$NOT_STARTED" ]] && echo "not started or failed: $NOT_STARTED" >>"$OUT/meta.txt"
echo
cat "$OUT/meta.txt"
echo "versions: $(tr '\n' ';' <"$OUT/versions.txt")"
echo
"$REL/bench-report" "$OUT"
echo
echo "results: $OUT (runs.tsv, per-run JSON, logs, summary.md, summary.json)"
[[ -z "$NOT_STARTED" ]] || echo "NOT STARTED / FAILED: $NOT_STARTED"
