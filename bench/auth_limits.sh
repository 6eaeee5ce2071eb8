#!/usr/bin/env bash
# What authentication and two rate limits cost (issue #6): one gateway, two LLM routes on
# the built-in mock provider, the same except that `guarded` has `auth` (an API key sent
# as `Authorization: Bearer`) and two limits keyed per consumer (a `requests` limit and a
# `total_tokens` limit with its default reservation), set far above what a run can spend.
#
#   plain    match { host = "plain.test",   path_prefix = "/v1/" }, llm = {}
#   guarded  match { host = "guarded.test", path_prefix = "/v1/" }, llm = {}, auth = {}
#            + [[rate_limits.limits]] requests and total_tokens, per = ["consumer"],
#              routes = ["guarded"]
#
# The gateway has ONE worker pinned to --proxy-cpu (0); tollgate-load (1 thread, closed
# loop, --connections keep-alive connections) runs on --load-cpu (1). There is no
# upstream: the built-in mock provider answers (ttft 0 ms, tokens_per_second 0, 16 output
# tokens), so the gateway's own work is all that is measured. The two routes are loaded
# in turn, the order alternating every round (--rounds, default 5; --duration s each,
# default 15), after a warm-up of each. Before every run it waits (at most --quiet-wait s)
# for a 1-minute load average below --quiet-load and both CPUs under 15 % busy. Per run:
# requests/s (ok answers), p50/p99, the gateway's CPU time per request (utime+stime from
# /proc/PID/stat before and after ÷ ok answers), how busy both CPUs were. Summary: the
# median of each, and the guarded ÷ plain ratio of requests/s per round and its median.
# Any answer that is not a 200 (a 429 would make the guarded route faster) fails the run.
#
# Usage: bench/auth_limits.sh [--no-build] [--rounds N] [--duration S] [--connections N]
#                             [--proxy-cpu N] [--load-cpu N] [--quiet-load X]
#                             [--quiet-wait S] [--warmup S] [--out DIR]
#                             [--provider builtin|upstream]
# --provider upstream: the model is served by a `kind = "openai"` provider whose cluster
# is tollgate-mock (1 thread, on --load-cpu with the load generator) instead of the
# built-in mock. The built-in mock's answer waits on a `sleep(ttft)` even when ttft is 0,
# which on monoio's 1 ms timer wheel holds every request for up to a tick: the gateway's
# CPU is then not the bottleneck and a closed loop's requests/s is set by the tick, not
# by the work (see RESULTS.md). With the upstream the gateway's CPU is the limit.
# Binaries: ${CARGO_TARGET_DIR:-target}/release. Results: bench/out/auth-limits-<date>/
# (runs.tsv, every tollgate-load JSON, the config, logs, /metrics after, summary.md).
# Bounded: every load run is under `timeout`, every wait has a deadline; every process it
# starts is killed on exit. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ORIG_ARGS="$*"

BUILD=1
ROUNDS=5
DURATION=15
CONNECTIONS=64
PROXY_CPU=0
LOAD_CPU=1
QUIET_LOAD=1.0
QUIET_WAIT=180
WARMUP=3
PROVIDER=builtin
OUT_BASE="$ROOT/bench/out"
while (($#)); do
    case "$1" in
        --no-build) BUILD=0; shift ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=${2%s}; shift 2 ;;
        --connections) CONNECTIONS=$2; shift 2 ;;
        --proxy-cpu) PROXY_CPU=$2; shift 2 ;;
        --load-cpu) LOAD_CPU=$2; shift 2 ;;
        --quiet-load) QUIET_LOAD=$2; shift 2 ;;
        --quiet-wait) QUIET_WAIT=$2; shift 2 ;;
        --warmup) WARMUP=${2%s}; shift 2 ;;
        --provider) PROVIDER=$2; shift 2 ;;
        --out) OUT_BASE=$2; shift 2 ;;
        -h | --help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "auth_limits.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
for n in "$ROUNDS" "$DURATION" "$CONNECTIONS" "$PROXY_CPU" "$LOAD_CPU" "$QUIET_WAIT" "$WARMUP"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "auth_limits.sh: not a whole number: $n" >&2; exit 2; }
done
[[ "$PROVIDER" == builtin || "$PROVIDER" == upstream ]] || { echo "auth_limits.sh: --provider builtin or upstream" >&2; exit 2; }
((ROUNDS >= 1 && DURATION >= 1 && CONNECTIONS >= 1)) || { echo "auth_limits.sh: rounds, duration, connections must be >= 1" >&2; exit 2; }
NCPU=$(nproc)
((PROXY_CPU < NCPU && LOAD_CPU < NCPU)) || { echo "auth_limits.sh: $NCPU CPUs; pick CPUs below $NCPU" >&2; exit 2; }

REL="${CARGO_TARGET_DIR:-$ROOT/target}/release"
if ((BUILD)); then
    cargo build --release --bins 2>&1 | tail -3 >&2
fi
for b in tollgate tollgate-load tollgate-mock; do
    [[ -x "$REL/$b" ]] || { echo "auth_limits.sh: missing $REL/$b (build, or set CARGO_TARGET_DIR)" >&2; exit 1; }
done
command -v jq >/dev/null && command -v curl >/dev/null && command -v taskset >/dev/null ||
    { echo "auth_limits.sh: needs jq, curl and taskset" >&2; exit 1; }

OUT="$OUT_BASE/auth-limits-$PROVIDER-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT/logs" "$OUT/runs"
log() { printf '[auth-limits %s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$OUT/run.log" >&2; }
CLK_TCK=$(getconf CLK_TCK)

pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
GPORT=$(free_port)
APORT=$(free_port)

MOCK_PORT=""
if [[ "$PROVIDER" == upstream ]]; then
    taskset -c "$LOAD_CPU" "$REL/tollgate-mock" --listen 127.0.0.1:0 --threads 1 >"$OUT/logs/mock.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        MOCK_PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$OUT/logs/mock.log" | head -1)
        [[ -n "$MOCK_PORT" ]] && break
        sleep 0.1
    done
    [[ -n "$MOCK_PORT" ]] || { echo "auth_limits.sh: tollgate-mock did not start" >&2; exit 1; }
fi

# The consumer's key: random per run; the config holds only its digest.
KEY="tg-bench-$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
KEY_HASH=$(printf %s "$KEY" | "$REL/tollgate" hash-key | tr -d '[:space:]')
[[ "$KEY_HASH" == sha256:* ]] || { echo "auth_limits.sh: tollgate hash-key printed '$KEY_HASH'" >&2; exit 1; }

cat >"$OUT/tollgate.toml" <<EOF
# bench/auth_limits.sh: one worker on CPU $PROXY_CPU, no access log, two LLM routes on the
# built-in mock provider; "guarded" adds an API key and two limits per consumer.
[runtime]
workers = 1
cpus = [$PROXY_CPU]

[admin]
listen = "127.0.0.1:$APORT"

[[listeners]]
listen = "127.0.0.1:$GPORT"
backlog = 4096

[[routes]]
name = "plain"
match = { host = "plain.test", path_prefix = "/v1/" }
llm = {}

[[routes]]
name = "guarded"
match = { host = "guarded.test", path_prefix = "/v1/" }
llm = {}
auth = { api_key = true }

[[consumers]]
name = "bench-app"
group = "bench"
api_keys = ["$KEY_HASH"]

# Far above what a run can spend (at 100k req/s and ~50 tokens each, 15 s is 1.5 M
# requests and 75 M tokens): nothing may be refused. Defaults otherwise: sync every 5 ms,
# share_divisor 4, RateLimit-* fields on every admitted answer, and the token limit
# reserves the prompt estimate + max_tokens at admission and settles to the usage.
[[rate_limits.limits]]
name = "rpm-per-consumer"
kind = "requests"
limit = 1000000000
window = "1h"
per = ["consumer"]
routes = ["guarded"]

[[rate_limits.limits]]
name = "tpm-per-consumer"
kind = "total_tokens"
limit = 100000000000
window = "1h"
per = ["consumer"]
routes = ["guarded"]

EOF
if [[ "$PROVIDER" == builtin ]]; then
    cat >>"$OUT/tollgate.toml" <<EOF

[[llm.providers]]
name = "builtin"
kind = "mock"
[llm.providers.mock]
ttft = "0ms"
tokens_per_second = 0
output_tokens = 16

[[llm.models]]
name = "builtin"
price = { input = 0.15, output = 0.6 }
[[llm.models.deployments]]
provider = "builtin"
EOF
else
    cat >>"$OUT/tollgate.toml" <<EOF

[[clusters]]
name = "mock"
endpoints = ["127.0.0.1:$MOCK_PORT"]
[clusters.pool]
max_idle = 1024

[[llm.providers]]
name = "up"
kind = "openai"
upstream = "mock"

[[llm.models]]
name = "builtin"
price = { input = 0.15, output = 0.6 }
[[llm.models.deployments]]
provider = "up"
model = "mock-gpt"
EOF
fi
printf '{"model":"builtin","stream":false,"max_tokens":16,"messages":[{"role":"system","content":"You are a terse assistant."},{"role":"user","content":"Say hello to the benchmark in a few words."}]}\n' \
    >"$OUT/body.json"

"$REL/tollgate" check -c "$OUT/tollgate.toml" >"$OUT/logs/check.log" 2>&1 ||
    { echo "auth_limits.sh: config refused:" >&2; cat "$OUT/logs/check.log" >&2; exit 1; }

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
taskset -c "$PROXY_CPU" "$REL/tollgate" run -c "$OUT/tollgate.toml" >"$OUT/logs/tollgate.log" 2>&1 &
GW=$!
pids+=("$GW")
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$APORT/metrics" && break
    kill -0 "$GW" 2>/dev/null || { echo "auth_limits.sh: gateway died:" >&2; tail -5 "$OUT/logs/tollgate.log" >&2; exit 1; }
    sleep 0.1
done

# --- what each route does, checked before measuring -----------------------------------
URL="http://127.0.0.1:$GPORT/v1/chat/completions"
probe() { # name curl-args... -> "status ratelimit-headers"
    curl -s -D "$OUT/logs/probe-$1.head" -o "$OUT/logs/probe-$1.body" -w '%{http_code}' \
        -X POST -H 'Content-Type: application/json' --data-binary @"$OUT/body.json" "${@:2}" "$URL"
}
s_plain=$(probe plain -H 'Host: plain.test')
s_guard=$(probe guarded -H 'Host: guarded.test' -H "Authorization: Bearer $KEY")
s_nokey=$(probe guarded-nokey -H 'Host: guarded.test')
s_badkey=$(probe guarded-badkey -H 'Host: guarded.test' -H 'Authorization: Bearer nope')
rl_plain=$(grep -ci '^ratelimit-' "$OUT/logs/probe-plain.head" || true)
rl_guard=$(grep -ci '^ratelimit-' "$OUT/logs/probe-guarded.head" || true)
log "probe: plain $s_plain (RateLimit-* fields: $rl_plain), guarded with key $s_guard ($rl_guard), no key $s_nokey, wrong key $s_badkey"
if [[ "$s_plain" != 200 || "$s_guard" != 200 || "$s_nokey" != 401 || "$s_badkey" != 401 || "$rl_plain" != 0 || "$rl_guard" == 0 ]]; then
    log "the routes do not behave as configured (see logs/probe-*); stopping"
    exit 1
fi
grep -i '^ratelimit' "$OUT/logs/probe-guarded.head" | tr -d '\r' >"$OUT/logs/probe-guarded.ratelimit" || true

# --- measuring -------------------------------------------------------------------------
proc_ticks() { # utime + stime of the gateway (all its threads)
    local line f
    line=$(cat /proc/"$1"/stat)
    read -r -a f <<<"${line##*) }"
    echo $((f[11] + f[12]))
}
cpu_jiffies() { # "busy total" of one CPU
    local name user nice system idle iowait irq softirq steal rest
    while read -r name user nice system idle iowait irq softirq steal rest; do
        if [[ "$name" == "cpu$1" ]]; then
            echo "$((user + nice + system + irq + softirq + steal)) $((user + nice + system + idle + iowait + irq + softirq + steal))"
            return
        fi
    done </proc/stat
}
busy_pct() {
    local b0 t0 b1 t1
    read -r b0 t0 <<<"$1"
    read -r b1 t1 <<<"$2"
    awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", (t > 0 ? 100 * b / t : 0) }'
}
loadavg1() { cut -d' ' -f1 /proc/loadavg; }

# wait_quiet: at most QUIET_WAIT s for load average < QUIET_LOAD and both CPUs < 15 %.
wait_quiet() {
    local start=$SECONDS p0 l0 pb lb la
    while :; do
        p0=$(cpu_jiffies "$PROXY_CPU")
        l0=$(cpu_jiffies "$LOAD_CPU")
        sleep 1
        pb=$(busy_pct "$p0" "$(cpu_jiffies "$PROXY_CPU")")
        lb=$(busy_pct "$l0" "$(cpu_jiffies "$LOAD_CPU")")
        la=$(loadavg1)
        if awk -v a="$pb" -v b="$lb" -v l="$la" -v q="$QUIET_LOAD" 'BEGIN { exit !(a < 15 && b < 15 && l < q) }'; then
            QUIET_NOTE="quiet after $((SECONDS - start)) s (load $la)"
            return 0
        fi
        if ((SECONDS - start >= QUIET_WAIT)); then
            QUIET_NOTE="NOT QUIET after ${QUIET_WAIT} s (load $la, CPU $PROXY_CPU ${pb}%, CPU $LOAD_CPU ${lb}%)"
            return 0
        fi
    done
}

TSV="$OUT/runs.tsv"
printf '# round\troute\tok_per_s\tp50_us\tp99_us\tok\tnon200\tgw_ticks\tcpu_us_per_req\tproxy_cpu_busy\tload_cpu_busy\tloadavg_before\tquiet\n' >"$TSV"

# one_run ROUND ROUTE SECONDS: a closed-loop run against ROUTE; ROUND "warmup" is not kept.
one_run() {
    local round=$1 route=$2 secs=$3 json t0 t1 p0 p1 l0 l1 la rc=0
    local hdr=(-H "Host: $route.test")
    [[ "$route" == guarded ]] && hdr+=(-H "Authorization: Bearer $KEY")
    json="$OUT/runs/$route-$round.json"
    la=$(loadavg1)
    t0=$(proc_ticks "$GW")
    p0=$(cpu_jiffies "$PROXY_CPU")
    l0=$(cpu_jiffies "$LOAD_CPU")
    timeout $((secs + 30)) taskset -c "$LOAD_CPU" "$REL/tollgate-load" --url "$URL" \
        -c "$CONNECTIONS" -d "${secs}s" --threads 1 -q --timeout 10s -m POST \
        -H "Content-Type: application/json" "${hdr[@]}" --body-file "$OUT/body.json" \
        --json "$json" >"$OUT/logs/load-$route-$round.log" 2>&1 || rc=$?
    t1=$(proc_ticks "$GW")
    p1=$(cpu_jiffies "$PROXY_CPU")
    l1=$(cpu_jiffies "$LOAD_CPU")
    kill -0 "$GW" 2>/dev/null || { log "the gateway died during $route round $round"; exit 1; }
    [[ -s "$json" ]] || { log "$route round $round: no JSON (tollgate-load exit $rc)"; exit 1; }
    local ok rps p50 p99 non200 cpu
    ok=$(jq '.ok' "$json")
    rps=$(jq '.ok_per_s' "$json")
    p50=$(jq '.latency_us.p50' "$json")
    p99=$(jq '.latency_us.p99' "$json")
    non200=$(jq '.sent - (.status["200"] // 0)' "$json")
    cpu=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$ok" 'BEGIN { printf "%.2f", (n > 0 ? t * 1e6 / hz / n : 0) }')
    local pb lb
    pb=$(busy_pct "$p0" "$p1")
    lb=$(busy_pct "$l0" "$l1")
    log "$route round $round: $(printf '%.0f' "$rps") req/s, p50 ${p50} µs, p99 ${p99} µs, $cpu µs CPU/req, non-200 $non200 $(jq -c '.status' "$json"), CPU busy $pb/$lb %, load before $la; ${QUIET_NOTE:-}"
    if [[ "$non200" != 0 || "$rc" != 0 ]]; then
        log "$route round $round: $non200 answers were not 200 (tollgate-load exit $rc): the comparison is void"
        FAILED=1
    fi
    [[ "$round" == warmup ]] && return 0
    printf '%s\t%s\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$route" "$rps" "$p50" "$p99" "$ok" "$non200" \
        $((t1 - t0)) "$cpu" "$pb" "$lb" "$la" "${QUIET_NOTE:-}" >>"$TSV"
}

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "command: bench/auth_limits.sh $ORIG_ARGS"
    echo "binaries: $REL"
    echo "provider: $PROVIDER${MOCK_PORT:+ (tollgate-mock on 127.0.0.1:$MOCK_PORT, CPU $LOAD_CPU)}"
    echo "rounds: $ROUNDS x ${DURATION}s per route, closed loop, $CONNECTIONS connections, 1 load thread; warm-up ${WARMUP}s per route"
    echo "cpus: gateway $PROXY_CPU, load $LOAD_CPU; online: $NCPU"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "kernel: $(uname -r)"
    echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "quiet: load average < $QUIET_LOAD and both CPUs < 15 % busy, waited for at most ${QUIET_WAIT}s before each run"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.txt"

FAILED=0
if ((WARMUP > 0)); then
    for route in plain guarded; do
        QUIET_NOTE=""
        one_run warmup "$route" "$WARMUP"
    done
fi
for round in $(seq 1 "$ROUNDS"); do
    if ((round % 2)); then order=(plain guarded); else order=(guarded plain); fi
    for route in "${order[@]}"; do
        wait_quiet
        one_run "$round" "$route" "$DURATION"
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"
curl -s "http://127.0.0.1:$APORT/metrics" >"$OUT/metrics-after.txt" || true

# --- summary ---------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v r="$1" -v c="$2" '!/^#/ && $2 == r { print $c }' "$TSV"; }
{
    echo "## auth + limits vs plain ($(basename "$OUT"))"
    echo
    cat "$OUT/meta.txt" | sed 's/^/    /'
    echo
    echo "| round | plain req/s | guarded req/s | guarded ÷ plain | plain CPU µs/req | guarded CPU µs/req | plain p50/p99 µs | guarded p50/p99 µs | CPU busy % (gw/load), plain · guarded | load avg before, plain · guarded |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for round in $(seq 1 "$ROUNDS"); do
        awk -F'\t' -v n="$round" '
            !/^#/ && $1 == n { r[$2] = $3; p50[$2] = $4; p99[$2] = $5; cpu[$2] = $9; pb[$2] = $10; lb[$2] = $11; la[$2] = $12 }
            END { printf "| %s | %.0f | %.0f | %.3f | %s | %s | %s / %s | %s / %s | %s/%s · %s/%s | %s · %s |\n",
                n, r["plain"], r["guarded"], r["guarded"] / r["plain"], cpu["plain"], cpu["guarded"],
                p50["plain"], p99["plain"], p50["guarded"], p99["guarded"],
                pb["plain"], lb["plain"], pb["guarded"], lb["guarded"], la["plain"], la["guarded"] }' "$TSV"
    done
    ratios=$(awk -F'\t' '!/^#/ { r[$1, $2] = $3; n[$1] = 1 } END { for (k in n) print r[k, "guarded"] / r[k, "plain"] }' "$TSV" | median)
    printf '| **median** | %.0f | %.0f | **%.3f** | %s | %s | %s / %s | %s / %s | | |\n' \
        "$(col plain 3 | median)" "$(col guarded 3 | median)" "$ratios" \
        "$(col plain 9 | median)" "$(col guarded 9 | median)" \
        "$(col plain 4 | median)" "$(col plain 5 | median)" "$(col guarded 4 | median)" "$(col guarded 5 | median)"
    echo
    echo "guarded ÷ plain req/s per round: $(awk -F'\t' -v R="$ROUNDS" '!/^#/ { r[$1, $2] = $3 } END { for (k = 1; k <= R; k++) printf "%.3f ", r[k, "guarded"] / r[k, "plain"] }' "$TSV")"
    echo "non-200 answers in measured runs: $(awk -F'\t' '!/^#/ { s += $7 } END { print s + 0 }' "$TSV")"
    echo "metrics after: $(grep -E '^tollgate_(ratelimit_decisions_total|auth_failures_total)' "$OUT/metrics-after.txt" | tr '\n' ' ')"
    echo "RateLimit fields on a guarded answer: $(tr '\n' ' ' <"$OUT/logs/probe-guarded.ratelimit")"
} >"$OUT/summary.md"
cat "$OUT/summary.md"
echo
echo "results: $OUT"
if ((FAILED)); then
    echo "FAILED: some answers were not 200 (see run.log)" >&2
    exit 1
fi
