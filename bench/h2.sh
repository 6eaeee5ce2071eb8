#!/usr/bin/env bash
# HTTP/2 side by side (issue #4): h2load through Tollgate and through nginx (`http2`),
# ONE worker each pinned to the same CPU, in alternating rounds, on one machine, in one
# run. Both proxy to the same tollgate-mock over HTTP/1.1 keep-alive, and both also
# answer locally (Tollgate `respond`, nginx `return 200`), so that what the proxy hop
# costs and what HTTP/2 itself costs can be told apart.
#
#   bench/h2.sh                               # h2c, tls, local-h2c, local-tls; 3 rounds x 10 s
#   bench/h2.sh --scenario h2c,local-h2c --rounds 5 --no-build
#   bench/h2.sh --help
#
# Targets: `tollgate` (http2.io = readiness, the default), `tollgate-completion`
# (http2.io = completion) and `nginx`. Figures per scenario and target, the median of
# the rounds: requests/s (h2load's main-duration rate), latency p50/p99 (from h2load's
# per-request log), the server's CPU µs per request (utime+stime from /proc/PID/stat,
# children included, over the measured window), and the ratios tollgate / nginx. After
# the rounds, a fixed-count run per target and scenario under `perf stat` counts
# syscalls and io_uring operations per request (what makes readiness and completion
# differ). Before each run it waits (at most --quiet-wait s) for a quiet machine; a run
# during which other work took more than --noisy-pct % of a CPU is run again once, and
# marked noisy if it stays so.
#
# Bounded: every h2load run is under `timeout`; every process this script starts is
# killed on exit (trap). Loopback only. Needs h2load (nghttp2-client), nginx with
# http_v2 (Debian `nginx`), openssl, python3, taskset; perf for the syscall counts.
# See bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
ORIG_ARGS="$*"
SCENARIOS=h2c,tls,local-h2c,local-tls
ROUNDS=3
DURATION=10
WARMUP=2
CLIENTS=16
STREAMS=100
H2LOAD_THREADS=1
PROXY_CPU=0
LOAD_CPU=1
OUT_BASE="$ROOT/bench/out"
QUIET_LOAD=1.2
QUIET_WAIT=600
NOISY_PCT=5
RETRIES=1
SYSCALLS=1
SYSCALL_REQUESTS=300000
PROFILE=0
IO_COMPARE=1
BUILD=1

usage() {
    cat <<EOF
usage: bench/h2.sh [options]
  --scenario LIST      comma-separated: h2c, tls, local-h2c, local-tls (default: all four)
                       h2c/tls: proxied to tollgate-mock; local-*: answered by the server
  --rounds N           alternating rounds (default $ROUNDS)
  --duration SECS      h2load -D, the measured seconds per run (default $DURATION)
  --warm-up SECS       h2load --warm-up-time before each measured run (default $WARMUP)
  --clients N          h2load -c, connections (default $CLIENTS)
  --streams N          h2load -m, concurrent streams per connection (default $STREAMS)
  --h2load-threads N   h2load -t (default $H2LOAD_THREADS)
  --no-io-compare      leave out tollgate-completion (http2.io = "completion")
  --proxy-cpu N        CPU of the servers' one worker (default $PROXY_CPU)
  --load-cpu N         CPU of h2load and tollgate-mock (default $LOAD_CPU)
  --quiet-load X       before each run wait for a 1-minute load average below X (default $QUIET_LOAD)
  --quiet-wait SECS    ... and both CPUs under 15 % busy, at most SECS; 0 = off (default $QUIET_WAIT)
  --noisy-pct P        other work above P % of the server's CPU during a run: noisy (default $NOISY_PCT)
  --retries N          runs again a noisy run up to N times (default $RETRIES)
  --no-syscalls        skip the perf stat syscall / io_uring count runs
  --syscall-requests N requests per syscall count run (h2load -n; default $SYSCALL_REQUESTS)
  --profile            also a perf profile of each server on h2c and local-h2c (perf/*.txt)
  --out DIR            results under DIR/h2-<date> (default bench/out)
  --no-build           use the binaries already in target/release
  --report DIR         only print the tables of an earlier run (DIR = bench/out/h2-<date>)
EOF
}

report() { # DIR: the tables of a run, printed and written to DIR/summary.md
    python3 - "$1" <<'PY' | tee "$1/summary.md"
import csv, os, statistics, sys

out = sys.argv[1]
rows = []
with open(os.path.join(out, "runs.tsv")) as f:
    for r in csv.reader(f, delimiter="\t"):
        if r and not r[0].startswith("#"):
            rows.append(r)
cols = ("scenario target round attempt req_s done failed errored p50 p99 mean server_ticks mock_ticks "
        "h2load_ticks wall clk proxy_busy load_busy loadavg others kthreads noisy proxy_irq load_irq protocol").split()
runs = [dict(zip(cols, r)) for r in rows]
# Of the attempts of a (scenario, target, round), the quietest counts.
def noise(r):
    return (int(r["noisy"]), float(r["others"]))

best = {}
for r in runs:
    k = (r["scenario"], r["target"], r["round"])
    if k not in best or noise(r) < noise(best[k]):
        best[k] = r
runs = list(best.values())

def num(x):
    try:
        return float(x)
    except ValueError:
        return None

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def cpu_us(r, core=False):
    """The server's CPU time per request; with core, its CPU's busy time per request
    (the process, plus interrupt work that landed while the CPU was otherwise idle:
    all the server's when nothing else ran there)."""
    rps, wall = num(r["req_s"]), num(r["wall"])
    if not rps or not wall:
        return None
    if core:
        s = (num(r["proxy_busy"]) or 0) / 100 * wall
    else:
        s = int(r["server_ticks"]) / int(r["clk"])
    return s * 1e6 / (rps * wall)

def fmt(x, d=0):
    return "-" if x is None else f"{x:,.{d}f}".replace(",", " ") if d == 0 else f"{x:.{d}f}"

titles = {
    "h2c": "h2c (prior knowledge), proxied to tollgate-mock over HTTP/1.1 keep-alive",
    "tls": "h2 over TLS (ALPN), proxied to tollgate-mock over HTTP/1.1 keep-alive",
    "local-h2c": "h2c, answered by the server itself (Tollgate `respond`, nginx `return 200`)",
    "local-tls": "h2 over TLS, answered by the server itself",
}
order = ["tollgate", "tollgate-completion", "nginx"]
for sc in ["h2c", "tls", "local-h2c", "local-tls"]:
    rs = [r for r in runs if r["scenario"] == sc]
    if not rs:
        continue
    print(f"#### `{sc}`: {titles[sc]}\n")
    print("| target | req/s (median) | req/s min–max | p50 ms | p99 ms | CPU µs/req | core µs/req | req/s ÷ nginx | "
          "core µs/req ÷ nginx | failed | server CPU busy % (irq) | load CPU busy % | other processes % (max) | "
          "noisy rounds | protocol |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    agg = {}
    for t in order:
        tr = [r for r in rs if r["target"] == t]
        if not tr:
            continue
        agg[t] = {
            "rps": med([num(r["req_s"]) for r in tr]),
            "min": min(num(r["req_s"]) for r in tr),
            "max": max(num(r["req_s"]) for r in tr),
            "p50": med([num(r["p50"]) for r in tr]),
            "p99": med([num(r["p99"]) for r in tr]),
            "cpu": med([cpu_us(r) for r in tr]),
            "cpui": med([cpu_us(r, True) for r in tr]),
            "pi": med([num(r["proxy_irq"]) for r in tr]),
            "failed": sum(int(r["failed"]) + int(r["errored"]) for r in tr),
            "pb": med([num(r["proxy_busy"]) for r in tr]),
            "lb": med([num(r["load_busy"]) for r in tr]),
            "po": max(num(r["others"]) or 0 for r in tr),
            "noisy": sum(int(r["noisy"]) for r in tr),
            "n": len(tr),
            "proto": tr[0]["protocol"],
            "by_round": {r["round"]: r for r in tr},
        }
    ng = agg.get("nginx")
    for t, a in agg.items():
        rr = f"{a['rps'] / ng['rps']:.2f}" if ng and ng["rps"] else "-"
        cr = f"{a['cpui'] / ng['cpui']:.2f}" if ng and ng["cpui"] and a["cpui"] else "-"
        print(f"| {t} | {fmt(a['rps'])} | {fmt(a['min'])}–{fmt(a['max'])} | {fmt(a['p50'] / 1000 if a['p50'] else None, 2)} | "
              f"{fmt(a['p99'] / 1000 if a['p99'] else None, 2)} | {fmt(a['cpu'], 1)} | {fmt(a['cpui'], 1)} | {rr} | {cr} | "
              f"{a['failed']} | {fmt(a['pb'])} ({fmt(a['pi'])}) | {fmt(a['lb'])} | {a['po']:.1f} | "
              f"{a['noisy']}/{a['n']} | {a['proto']} |")
    # Per-round ratios: each round's pair ran back to back.
    notes = []
    for t in ("tollgate", "tollgate-completion"):
        if t in agg and ng:
            rat = [num(agg[t]["by_round"][k]["req_s"]) / num(ng["by_round"][k]["req_s"])
                   for k in agg[t]["by_round"] if k in ng["by_round"] and num(ng["by_round"][k]["req_s"])]
            if rat:
                notes.append(f"{t} ÷ nginx req/s per round: " + ", ".join(f"{x:.2f}" for x in rat))
    if "tollgate" in agg and "tollgate-completion" in agg:
        a, b = agg["tollgate"], agg["tollgate-completion"]
        rat = [num(b["by_round"][k]["req_s"]) / num(a["by_round"][k]["req_s"])
               for k in a["by_round"] if k in b["by_round"] and num(a["by_round"][k]["req_s"])]
        notes.append("completion ÷ readiness: req/s " + (f"{b['rps'] / a['rps']:.2f}" if a["rps"] else "-")
                     + (f", core µs/req {b['cpui'] / a['cpui']:.2f}" if a["cpui"] and b["cpui"] else "")
                     + " (per round: " + ", ".join(f"{x:.2f}" for x in rat) + ")")
    if notes:
        print()
        for n in notes:
            print(f"- {n}")
    print()

sysdir = os.path.join(out, "syscalls")
if os.path.isdir(sysdir):
    print("#### Syscalls and io_uring operations per request (perf stat)\n")
    names = None
    table = []
    for fn in sorted(os.listdir(sysdir)):
        if not fn.endswith(".csv"):
            continue
        key = fn[:-4]
        done = None
        with open(os.path.join(sysdir, key + ".h2load.txt")) as f:
            for line in f:
                if line.startswith("requests:"):
                    done = int(line.split()[7])
        counts = {}
        with open(os.path.join(sysdir, fn)) as f:
            for line in f:
                p = line.strip().split(",")
                if len(p) > 2 and not line.startswith("#"):
                    ev = p[2].replace("syscalls:sys_enter_", "").replace("raw_syscalls:sys_enter", "all syscalls").replace("io_uring:io_uring_", "uring ")
                    try:
                        counts[ev] = float(p[0])
                    except ValueError:
                        counts[ev] = None
        if names is None:
            names = [k for k in counts]
        table.append((key, done, counts))
    if names:
        shown = [n for n in names if any((c.get(n) or 0) > 0 for _, _, c in table)]
        print("| scenario-target | requests | " + " | ".join(shown) + " |")
        print("| --- | ---: | " + " | ".join("---:" for _ in shown) + " |")
        for key, done, c in table:
            cells = [("-" if not done or c.get(n) is None else f"{c[n] / done:.3f}") for n in shown]
            print(f"| {key} | {done} | " + " | ".join(cells) + " |")
        print()
PY
}

REPORT=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --scenario) SCENARIOS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=${2%s}; shift 2 ;;
        --warm-up) WARMUP=${2%s}; shift 2 ;;
        --clients) CLIENTS=$2; shift 2 ;;
        --streams) STREAMS=$2; shift 2 ;;
        --h2load-threads) H2LOAD_THREADS=$2; shift 2 ;;
        --no-io-compare) IO_COMPARE=0; shift ;;
        --proxy-cpu) PROXY_CPU=$2; shift 2 ;;
        --load-cpu) LOAD_CPU=$2; shift 2 ;;
        --quiet-load) QUIET_LOAD=$2; shift 2 ;;
        --quiet-wait) QUIET_WAIT=${2%s}; shift 2 ;;
        --noisy-pct) NOISY_PCT=$2; shift 2 ;;
        --retries) RETRIES=$2; shift 2 ;;
        --no-syscalls) SYSCALLS=0; shift ;;
        --syscall-requests) SYSCALL_REQUESTS=$2; shift 2 ;;
        --profile) PROFILE=1; shift ;;
        --out) OUT_BASE=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --report) REPORT=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "h2.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [[ -n "$REPORT" ]]; then
    report "$REPORT"
    exit 0
fi
for n in "$ROUNDS" "$DURATION" "$WARMUP" "$CLIENTS" "$STREAMS" "$H2LOAD_THREADS" "$PROXY_CPU" "$LOAD_CPU" \
    "$QUIET_WAIT" "$NOISY_PCT" "$RETRIES" "$SYSCALL_REQUESTS"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "h2.sh: not a whole number: $n" >&2; exit 2; }
done
[[ "$QUIET_LOAD" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "h2.sh: --quiet-load: not a number: $QUIET_LOAD" >&2; exit 2; }
((ROUNDS >= 1 && DURATION >= 1 && CLIENTS >= 1 && STREAMS >= 1 && H2LOAD_THREADS >= 1)) ||
    { echo "h2.sh: rounds, duration, clients, streams and threads must be >= 1" >&2; exit 2; }
IFS=, read -r -a SCENARIO_LIST <<<"$SCENARIOS"
for s in "${SCENARIO_LIST[@]}"; do
    case "$s" in h2c | tls | local-h2c | local-tls) ;; *) echo "h2.sh: unknown scenario $s" >&2; exit 2 ;; esac
done
NCPU=$(nproc)
if ((PROXY_CPU >= NCPU || LOAD_CPU >= NCPU)); then
    echo "h2.sh: this machine has $NCPU CPUs; pick --proxy-cpu/--load-cpu below $NCPU" >&2
    exit 2
fi

RUN_ID=h2-$(date -u +%Y%m%dT%H%M%SZ)
OUT="$OUT_BASE/$RUN_ID"
mkdir -p "$OUT/logs" "$OUT/conf" "$OUT/h2load" "$OUT/tls"
TSV="$OUT/runs.tsv"
printf '# scenario\ttarget\tround\tattempt\treq_s\tdone\tfailed\terrored\tp50_us\tp99_us\tmean_us\tserver_ticks\tmock_ticks\th2load_ticks\twall_s\tclk_tck\tproxy_busy\tload_busy\tloadavg1\tothers_pct\tkthreads_pct\tnoisy\tproxy_irq\tload_irq\tprotocol\n' >"$TSV"
REL="${CARGO_TARGET_DIR:-$ROOT/target}/release"
CLK_TCK=$(getconf CLK_TCK)
log() { printf '[h2 %s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$OUT/h2.log" >&2; }
note() { log "$*"; echo "$*" >>"$OUT/notes.txt"; }

# --- processes and cleanup -------------------------------------------------------------
declare -a STARTED=()
declare -A PID_OF=() PORT_OF=() FLOODS_SEEN=()

pid_list() { # pid -> "pid,child,..." (for perf -p)
    local all
    mapfile -t all < <(echo "$1"; descendants "$1")
    local IFS=,
    echo "${all[*]}"
}

cleanup() {
    local rc=$? p all=()
    trap - EXIT INT TERM
    for p in "${STARTED[@]}"; do
        # shellcheck disable=SC2207 # pids: one word each
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
free_port() { # sets FREE_PORT (no subshell, so that USED_PORTS keeps count)
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

wait_port() { # PID PORT: up to 10 s for PORT to accept; 1 if PID died
    for _ in $(seq 1 100); do
        kill -0 "$1" 2>/dev/null || return 1
        port_open "$2" && return 0
        sleep 0.1
    done
    return 1
}

proc_ticks() { # utime + stime of a process and its descendants
    local total=0 p line f
    for p in "$1" $(descendants "$1"); do
        line=$(cat /proc/"$p"/stat 2>/dev/null) || continue
        read -r -a f <<<"${line##*) }"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

children_ticks() { # cutime + cstime of this shell: its waited-for children (h2load)
    local line f
    line=$(cat /proc/$$/stat)
    read -r -a f <<<"${line##*) }"
    echo $((f[13] + f[14]))
}

irq_pct() { # "busy0 total0 irq0" "busy1 total1 irq1" -> interrupt percent
    local t0 i0 t1 i1 _
    read -r _ t0 i0 <<<"$1"
    read -r _ t1 i1 <<<"$2"
    if ((t1 > t0)); then awk -v i=$((i1 - i0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", 100 * i / t }'; else echo "0"; fi
}

loadavg1() { cut -d' ' -f1 /proc/loadavg; }

# "others kthreads": CPU ticks (utime + stime + cutime + cstime) of every process that
# is neither this script nor one of its descendants (someone else's work: a build's
# compilers show in cargo's cutime once they exit), and of kernel threads (ksoftirqd,
# kworkers: work for anyone's traffic, ours included). The difference of two samples is
# the work in between, whichever CPU it ran on.
foreign_ticks() {
    local ours
    ours=" $$ $(descendants $$ | tr '\n' ' ')"
    # cat, not awk over the files: a process may be gone by the time its file is opened
    # (mawk stops at a file it cannot open; cat goes on). One line per file.
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v ours="$ours" '
        index(ours, " " $1 " ") { next }
        {
            line = $0; sub(/^.*\) /, "", line); split(line, f, " ")
            t = f[12] + f[13] + f[14] + f[15]
            if (f[2] == 2 || $1 == 2) k += t; else o += t
        }
        END { print o + 0, k + 0 }'
}

# wait_quiet: up to QUIET_WAIT s until the 1-minute load average is below QUIET_LOAD
# and both CPUs are under 15 % busy (our servers are idle between runs, so what shows
# is someone else's work).
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
            ((SECONDS - start <= 1)) || log "quiet after $((SECONDS - start)) s (load average $la, CPU $PROXY_CPU ${pb}%, CPU $LOAD_CPU ${lb}%)"
            return 0
        fi
        if ((SECONDS - start >= QUIET_WAIT)); then
            note "not quiet after ${QUIET_WAIT} s (load average $la, CPU $PROXY_CPU ${pb}%, CPU $LOAD_CPU ${lb}%): went on"
            return 0
        fi
    done
}

# --- tools and build -------------------------------------------------------------------
find_bin() { command -v "$1" 2>/dev/null || { [[ -x "/usr/sbin/$1" ]] && echo "/usr/sbin/$1"; } || true; }

for t in h2load openssl python3 taskset; do
    command -v "$t" >/dev/null || { log "missing $t (h2load: Debian nghttp2-client; taskset: util-linux)"; exit 1; }
done
NGINX=$(find_bin nginx)
NGINX_VERSION=""
if [[ -z "$NGINX" ]]; then
    note "nginx not installed (Debian: apt-get install nginx): Tollgate only, no ratios"
elif ! "$NGINX" -V 2>&1 | grep -q -- --with-http_v2_module; then
    note "$NGINX has no http_v2 module: Tollgate only, no ratios"
    NGINX=""
else
    NGINX_VERSION=$("$NGINX" -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')
fi
if ((SYSCALLS || PROFILE)) && ! command -v perf >/dev/null; then
    note "perf not installed: no syscall counts or profiles"
    SYSCALLS=0 PROFILE=0
fi

if ((BUILD)); then
    log "building: cargo build --release --bins"
    (cd "$ROOT" && cargo build --release --bins) 2>&1 | tail -3 >&2
fi
for b in tollgate tollgate-mock; do
    [[ -x "$REL/$b" ]] || { log "missing $REL/$b (run without --no-build)"; exit 1; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# Every stream in flight holds one upstream connection (HTTP/1.1), in each server.
NEED_FDS=$((CLIENTS * STREAMS + CLIENTS + 200))
(($(ulimit -n) >= NEED_FDS)) || note "ulimit -n $(ulimit -n) is below the $NEED_FDS descriptors $CLIENTS x $STREAMS streams need"

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "command: bench/h2.sh $ORIG_ARGS"
    echo "scenarios: $SCENARIOS; rounds: $ROUNDS; h2load -c $CLIENTS -m $STREAMS -t $H2LOAD_THREADS --warm-up-time ${WARMUP}s -D ${DURATION}s"
    echo "cpus: servers $PROXY_CPU, h2load+mock $LOAD_CPU; online: $NCPU"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "kernel: $(uname -r)"
    echo "virtualised: $(systemd-detect-virt 2>/dev/null || (grep -q hypervisor /proc/cpuinfo && echo yes) || echo no)"
    echo "git: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        "(uncommitted: $(cd "$ROOT" && git status --porcelain 2>/dev/null | awk '{print $2}' | tr '\n' ' '))"
    echo "h2load: $(h2load --version 2>&1 | head -1)"
    echo "nginx: ${NGINX:-none} ${NGINX_VERSION}"
    echo "openssl: $(openssl version)"
    echo "ulimit -n: $(ulimit -n)"
    echo "quiet: load average < $QUIET_LOAD and both CPUs < 15 % before each run (wait <= ${QUIET_WAIT}s); noisy: other work > ${NOISY_PCT} % of a CPU during a run (retried $RETRIES x)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.txt"

# --- certificates and configs ----------------------------------------------------------
openssl req -x509 -nodes -days 7 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$OUT/tls/key.pem" -out "$OUT/tls/cert.pem" 2>"$OUT/logs/openssl.log"

MOCK_PORT=""
start mock "$LOAD_CPU" "$OUT/logs/mock.log" "$REL/tollgate-mock" --listen 127.0.0.1:0 --threads 1
for _ in $(seq 1 100); do
    MOCK_PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$OUT/logs/mock.log" | head -1)
    [[ -n "$MOCK_PORT" ]] && break
    sleep 0.1
done
[[ -n "$MOCK_PORT" ]] || { log "tollgate-mock did not start: $(cat "$OUT/logs/mock.log")"; exit 1; }
log "mock: pid ${PID_OF[mock]} on 127.0.0.1:$MOCK_PORT (CPU $LOAD_CPU)"

for name in tollgate-h2c tollgate-tls tollgate-completion-h2c tollgate-completion-tls nginx-h2c nginx-tls; do
    free_port || { log "no free port"; exit 1; }
    PORT_OF[$name]=$FREE_PORT
done

# The local answer is the mock's: 200, text/plain, 13 bytes.
tollgate_config() { # IO LISTENERS...
    local io=$1
    shift
    cat <<EOF
# One worker on CPU $PROXY_CPU; upstream keep-alive with room for every stream in flight
# (HTTP/1.1 upstream: one connection per stream); no access log, no admin listener.
[runtime]
workers = 1
cpus = [$PROXY_CPU]

[admin]
listen = ""

[http2]
io = "$io"
# The default cap of 10,000 new streams per connection per second sends h2load's
# connections GOAWAY ENHANCE_YOUR_CALM when answers are local (more than 10,000 requests
# per second on each of its connections); nginx has no such cap. 0 = no limit.
[http2.flood]
new_streams = 0
EOF
    for l in "$@"; do echo "$l"; done
    cat <<EOF

[[clusters]]
name = "mock"
endpoints = ["127.0.0.1:$MOCK_PORT"]
[clusters.pool]
max_idle = 4096
max_per_endpoint = 100000

[[routes]]
name = "local"
match = { path = "/local" }
respond = { status = 200, headers = { "content-type" = "text/plain" }, body = "tollgate-mock" }

[[routes]]
name = "proxy"
upstream = "mock"
EOF
}
tollgate_listeners() { # NAME: an h2c listener and a TLS one (ALPN h2, http/1.1)
    cat <<EOF

[[listeners]]
listen = "127.0.0.1:${PORT_OF[$1-h2c]}"
h2c = true
backlog = 4096

[[listeners]]
listen = "127.0.0.1:${PORT_OF[$1-tls]}"
backlog = 4096
[listeners.tls]
certificates = [{ cert = "$OUT/tls/cert.pem", key = "$OUT/tls/key.pem" }]
EOF
}
tollgate_config readiness "$(tollgate_listeners tollgate)" >"$OUT/conf/tollgate.toml"
tollgate_config completion "$(tollgate_listeners tollgate-completion)" >"$OUT/conf/tollgate-completion.toml"

# nginx 1.25.1 replaced `listen ... http2` with the `http2 on` directive.
version_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" == "$2" ]]; }
if [[ -n "$NGINX_VERSION" ]] && version_ge "$NGINX_VERSION" 1.25.1; then
    NGX_H2_LISTEN="" NGX_H2_ON="http2 on;"
else
    NGX_H2_LISTEN=" http2" NGX_H2_ON=""
fi
mkdir -p "$OUT/nginx/logs" "$OUT/nginx/tmp"
ngx_server() { # PORT SSL
    cat <<EOF
    server {
        listen 127.0.0.1:$1$2$NGX_H2_LISTEN backlog=4096;
        $NGX_H2_ON
        location = /local {
            default_type text/plain;
            return 200 "tollgate-mock";
        }
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
        }
    }
EOF
}
cat >"$OUT/conf/nginx.conf" <<EOF
# One worker on CPU $PROXY_CPU, upstream keep-alive, no access log. keepalive_requests
# also bounds the requests of an HTTP/2 connection (1.19.7+; default 1000).
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
    keepalive_requests 100000000;
    ssl_certificate $OUT/tls/cert.pem;
    ssl_certificate_key $OUT/tls/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    upstream mock {
        server 127.0.0.1:$MOCK_PORT;
        keepalive 4096;
        keepalive_requests 100000000;
    }
$(ngx_server "${PORT_OF[nginx-h2c]}" "")
$(ngx_server "${PORT_OF[nginx-tls]}" " ssl")
}
EOF

# --- servers ---------------------------------------------------------------------------
NOT_STARTED=""
start_server() { # NAME PORT CMD...
    local name=$1 port=$2
    shift 2
    start "$name" "$PROXY_CPU" "$OUT/logs/$name.log" "$@"
    if ! wait_port "${PID_OF[$name]}" "$port"; then
        NOT_STARTED+="$name: did not start ($(tail -3 "$OUT/logs/$name.log" | tr '\n' ' ')); "
        log "$name did not start; last lines of logs/$name.log:"
        tail -5 "$OUT/logs/$name.log" >&2 || true
        kill "${PID_OF[$name]}" 2>/dev/null || true
        unset 'PID_OF[$name]'
        return 1
    fi
    log "$name: pid ${PID_OF[$name]} (CPU $PROXY_CPU)"
}
start_server tollgate "${PORT_OF[tollgate-h2c]}" env TOLLGATE_LOG=warn "$REL/tollgate" run -c "$OUT/conf/tollgate.toml" || exit 1
if ((IO_COMPARE)); then
    start_server tollgate-completion "${PORT_OF[tollgate-completion-h2c]}" \
        env TOLLGATE_LOG=warn "$REL/tollgate" run -c "$OUT/conf/tollgate-completion.toml" || true
fi
if [[ -n "$NGINX" ]]; then
    if "$NGINX" -t -p "$OUT/nginx" -c "$OUT/conf/nginx.conf" >"$OUT/logs/nginx-t.log" 2>&1; then
        start_server nginx "${PORT_OF[nginx-h2c]}" "$NGINX" -p "$OUT/nginx" -c "$OUT/conf/nginx.conf" || true
    else
        NOT_STARTED+="nginx: config test failed (logs/nginx-t.log); "
        log "nginx: config test failed: $(tail -2 "$OUT/logs/nginx-t.log" | tr '\n' ' ')"
    fi
fi

# url TARGET SCENARIO -> the URL h2load loads
url() {
    local scheme=http listen=h2c path=/
    [[ "$2" == *tls ]] && scheme=https listen=tls
    [[ "$2" == local-* ]] && path=/local
    echo "$scheme://127.0.0.1:${PORT_OF[$1-$listen]}$path"
}

targets_of() { # SCENARIO -> the running targets
    local t
    for t in tollgate tollgate-completion nginx; do
        [[ -n "${PID_OF[$t]:-}" ]] && echo "$t"
    done
    return 0
}

# Checks every target answers each scenario's URL over HTTP/2 before measuring.
for s in "${SCENARIO_LIST[@]}"; do
    for t in $(targets_of "$s"); do
        if ! out=$(timeout 20 h2load -n 10 -c 1 -m 1 "$(url "$t" "$s")" 2>&1) ||
            ! grep -q '10 succeeded' <<<"$out" || ! grep -q 'protocol: h2' <<<"$out"; then
            log "$t does not answer $s over HTTP/2: $(grep -E 'succeeded|protocol|error' <<<"$out" | tr '\n' ' ')"
            exit 1
        fi
    done
done

# --- load runs -------------------------------------------------------------------------
# parse_h2load LOG -> "req_s done failed errored mean_us protocol"
parse_h2load() {
    awk '
        /^finished in/ { for (i = 1; i <= NF; i++) if ($(i) ~ /^req\/s/) { r = $(i - 1); sub(",", "", r) } }
        /^requests:/ { d = $8; f = $10; e = $12 }
        /^time for request:/ { m = $6 }
        /^Application protocol:/ { p = $3 }
        /^Cipher:/ { c = $2 }
        /^TLS Protocol:/ { v = $3 }
        END {
            if (m ~ /ms$/) { sub("ms", "", m); m *= 1000 } else if (m ~ /us$/) { sub("us", "", m) } else if (m ~ /s$/) { sub("s", "", m); m *= 1e6 }
            printf "%s %s %s %s %.0f %s%s\n", r + 0, d + 0, f + 0, e + 0, m, (p == "" ? "h2c" : p), (c == "" ? "" : "/" v "/" c)
        }' "$1"
}

# percentiles LOGFILE -> "p50 p99" in µs from h2load's --log-file (column 3)
percentiles() {
    if [[ ! -s "$1" ]]; then
        echo "- -"
        return
    fi
    cut -f3 "$1" | sort -n -S 64M | awk '{ v[NR] = $1 } END {
        i50 = int(NR * 0.50); if (i50 < 1) i50 = 1; i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
        print v[i50], v[i99] }'
}

# one_run SCENARIO TARGET ROUND ATTEMPT -> sets RUN_NOISY
one_run() {
    local scenario=$1 target=$2 round=$3 attempt=$4 pid tag h2pid rc=0
    local t0 t1 m0 m1 c0 c1 p0 p1 l0 l1 s0 s1 la f0 f1
    pid=${PID_OF[$target]}
    tag="$scenario-$target-$round.$attempt"
    la=$(loadavg1)
    c0=$(children_ticks)
    taskset -c "$LOAD_CPU" timeout $((WARMUP + DURATION + 30)) h2load -c "$CLIENTS" -m "$STREAMS" \
        -t "$H2LOAD_THREADS" --warm-up-time "${WARMUP}s" -D "${DURATION}s" \
        --log-file "$OUT/h2load/$tag.reqlog" "$(url "$target" "$scenario")" >"$OUT/h2load/$tag.txt" 2>&1 &
    h2pid=$!
    # The measured window starts after h2load's warm-up.
    sleep "$WARMUP"
    t0=$(proc_ticks "$pid")
    m0=$(proc_ticks "${PID_OF[mock]}")
    p0=$(cpu_jiffies "$PROXY_CPU")
    l0=$(cpu_jiffies "$LOAD_CPU")
    f0=$(foreign_ticks)
    s0=$EPOCHREALTIME
    wait "$h2pid" || rc=$?
    s1=$EPOCHREALTIME
    t1=$(proc_ticks "$pid")
    m1=$(proc_ticks "${PID_OF[mock]}")
    p1=$(cpu_jiffies "$PROXY_CPU")
    l1=$(cpu_jiffies "$LOAD_CPU")
    f1=$(foreign_ticks)
    c1=$(children_ticks)
    local req_s ndone failed errored mean proto p50 p99 wall pb lb pi li po lo noisy
    read -r req_s ndone failed errored mean proto <<<"$(parse_h2load "$OUT/h2load/$tag.txt")"
    read -r p50 p99 <<<"$(percentiles "$OUT/h2load/$tag.reqlog")"
    rm -f "$OUT/h2load/$tag.reqlog"
    wall=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.3f", b - a }')
    pb=$(busy_pct "$p0" "$p1")
    lb=$(busy_pct "$l0" "$l1")
    pi=$(irq_pct "$p0" "$p1")
    li=$(irq_pct "$l0" "$l1")
    # Other work: someone else's processes, in % of one CPU over the window.
    read -r po lo noisy <<<"$(awk -v f0="$f0" -v f1="$f1" -v hz="$CLK_TCK" -v w="$wall" -v lim="$NOISY_PCT" 'BEGIN {
            split(f0, a, " "); split(f1, b, " ")
            o = 100 * (b[1] - a[1]) / hz / w; k = 100 * (b[2] - a[2]) / hz / w
            printf "%.1f %.1f %d\n", o, k, (o > lim) }')"
    ((rc == 0)) || { note "$tag: h2load exit $rc (see h2load/$tag.txt)"; noisy=1; }
    if ((ndone == 0 || failed + errored > 0)); then
        note "$tag: $ndone requests succeeded, $failed failed, $errored errored (see h2load/$tag.txt)"
        noisy=1
    fi
    local floods
    floods=$(grep -c 'HTTP/2 flood' "$OUT/logs/$target.log" || true)
    if ((floods > ${FLOODS_SEEN[$target]:-0})); then
        note "$tag: $((floods - ${FLOODS_SEEN[$target]:-0})) flood GOAWAYs in logs/$target.log"
        FLOODS_SEEN[$target]=$floods
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$scenario" "$target" "$round" "$attempt" "$req_s" "$ndone" "$failed" "$errored" "$p50" "$p99" "$mean" \
        $((t1 - t0)) $((m1 - m0)) $((c1 - c0)) "$wall" "$CLK_TCK" "$pb" "$lb" "$la" "$po" "$lo" "$noisy" "$pi" "$li" "$proto" >>"$TSV"
    log "$scenario round $round $target: ${req_s} req/s, p50 ${p50} us, p99 ${p99} us, failed $failed," \
        "server CPU $((t1 - t0)) ticks, CPU$PROXY_CPU busy ${pb}% (irq ${pi}%), CPU$LOAD_CPU busy ${lb}% (irq ${li}%)," \
        "other processes ${po}%, kernel threads ${lo}%$( ((noisy)) && echo ', NOISY')"
    if ! kill -0 "$pid" 2>/dev/null; then
        note "$target died during $scenario round $round; see logs/$target.log"
        unset 'PID_OF[$target]'
    fi
    RUN_NOISY=$noisy
}

for scenario in "${SCENARIO_LIST[@]}"; do
    mapfile -t targets < <(targets_of "$scenario")
    n=${#targets[@]}
    log "scenario $scenario: ${targets[*]}; $ROUNDS rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    for round in $(seq 1 "$ROUNDS"); do
        # Rotate the order every round so that no target always runs first or last.
        for i in $(seq 0 $((n - 1))); do
            target=${targets[$(((i + round - 1) % n))]}
            [[ -n "${PID_OF[$target]:-}" ]] || continue
            for attempt in $(seq 0 "$RETRIES"); do
                wait_quiet
                one_run "$scenario" "$target" "$round" "$attempt"
                ((RUN_NOISY)) || break
                if ((attempt < RETRIES)); then log "noisy: running $scenario round $round $target again"; fi
            done
        done
    done
done

# --- syscall and io_uring counts -------------------------------------------------------
# A fixed number of requests per target and scenario under `perf stat -p`:
# syscalls and io_uring operations per request. Not timed: perf's tracepoints slow the
# server a little, so these runs are not in the tables above.
SYSCALL_EVENTS=raw_syscalls:sys_enter,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_readv,syscalls:sys_enter_writev,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_recvmsg,syscalls:sys_enter_sendmsg,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_io_uring_enter,io_uring:io_uring_submit_req,io_uring:io_uring_complete,io_uring:io_uring_poll_arm,io_uring:io_uring_task_add,context-switches
if ((SYSCALLS)); then
    mkdir -p "$OUT/syscalls"
    for scenario in h2c local-h2c tls local-tls; do
        for target in $(targets_of "$scenario"); do
            pids=$(pid_list "${PID_OF[$target]}")
            wait_quiet
            perf stat -x, -o "$OUT/syscalls/$scenario-$target.csv" -e "$SYSCALL_EVENTS" -p "$pids" \
                >/dev/null 2>"$OUT/logs/perf-stat-$scenario-$target.log" &
            perf_pid=$!
            STARTED+=("$perf_pid")
            sleep 1
            taskset -c "$LOAD_CPU" timeout 120 h2load -c "$CLIENTS" -m "$STREAMS" -t "$H2LOAD_THREADS" \
                -n "$SYSCALL_REQUESTS" "$(url "$target" "$scenario")" >"$OUT/syscalls/$scenario-$target.h2load.txt" 2>&1 || true
            kill -INT "$perf_pid" 2>/dev/null || true
            wait "$perf_pid" 2>/dev/null || true
            log "syscalls: $scenario $target counted"
        done
    done
fi

if ((PROFILE)); then
    mkdir -p "$OUT/perf"
    for scenario in h2c local-h2c; do
        for target in $(targets_of "$scenario"); do
            wait_quiet
            taskset -c "$LOAD_CPU" timeout 60 h2load -c "$CLIENTS" -m "$STREAMS" -t "$H2LOAD_THREADS" \
                -D "$((DURATION + 2))s" "$(url "$target" "$scenario")" >/dev/null 2>&1 &
            h2pid=$!
            sleep 1
            # DWARF call graphs: release builds keep no frame pointers. 3 s at 499 Hz is
            # ~50 MB of samples.
            timeout 60 perf record -q --call-graph dwarf,32768 -F 499 -o "$OUT/perf/$scenario-$target.data" \
                -p "$(pid_list "${PID_OF[$target]}")" -- sleep 3 >/dev/null 2>&1 || true
            wait "$h2pid" || true
            {
                echo "# self time by symbol"
                perf report -i "$OUT/perf/$scenario-$target.data" --no-children --stdio -g none \
                    --percent-limit 0.3 2>/dev/null | grep -v '^$'
                echo "# inclusive time (children), inlined frames included"
                perf report -i "$OUT/perf/$scenario-$target.data" --children --stdio -g none \
                    --percent-limit 1 2>/dev/null | grep -v '^$'
            } >"$OUT/perf/$scenario-$target.txt" || true
            rm -f "$OUT/perf/$scenario-$target.data"
            log "profile: perf/$scenario-$target.txt"
        done
    done
fi

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"
[[ -n "$NOT_STARTED" ]] && echo "not started or failed: $NOT_STARTED" >>"$OUT/meta.txt"

# --- report ----------------------------------------------------------------------------
report "$OUT"
echo
cat "$OUT/meta.txt"
[[ -f "$OUT/notes.txt" ]] && { echo "notes:"; cat "$OUT/notes.txt"; }
echo "results: $OUT (runs.tsv, h2load/, syscalls/, logs/, conf/, summary.md)"
[[ -z "$NOT_STARTED" ]] || echo "NOT STARTED / FAILED: $NOT_STARTED"
