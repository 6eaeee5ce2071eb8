# Helpers shared by the benchmark scripts (compare.sh, h2.sh, llm.sh): sourced, not run.
# Each script keeps what differs between them (its log, its cleanup, its idea of quiet).
#
# start pushes to the caller's STARTED array and PID_OF map; declare them before use.

descendants() { # pid -> its child pids, recursively
    local c kids=()
    read -r -a kids < <(cat /proc/"$1"/task/*/children 2>/dev/null) || true
    for c in "${kids[@]}"; do
        echo "$c"
        descendants "$c"
    done
}

# "busy total irq" jiffies of one CPU from /proc/stat; irq = the ticks that landed in
# hard or soft interrupt context (loopback TCP receive work runs in softirqs; a process
# interrupted is charged for them too, the idle task is not).
cpu_jiffies() {
    local name user nice system idle iowait irq softirq steal rest
    while read -r name user nice system idle iowait irq softirq steal rest; do
        if [[ "$name" == "cpu$1" ]]; then
            echo "$((user + nice + system + irq + softirq + steal)) $((user + nice + system + idle + iowait + irq + softirq + steal)) $((irq + softirq))"
            return
        fi
    done </proc/stat
}

busy_pct() { # "busy0 total0 irq0" "busy1 total1 irq1" -> busy percent
    local b0 t0 b1 t1 _
    read -r b0 t0 _ <<<"$1"
    read -r b1 t1 _ <<<"$2"
    if ((t1 > t0)); then awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", 100 * b / t }'; else echo "-"; fi
}

# start NAME CPU LOGFILE CMD... : runs CMD pinned to CPU in the background.
start() {
    local name=$1 cpu=$2 logf=$3
    shift 3
    taskset -c "$cpu" "$@" >"$logf" 2>&1 &
    local pid=$!
    STARTED+=("$pid")
    PID_OF[$name]=$pid
}

cpu_mask() { # cpu number -> nginx affinity bitmask ("1" then N zeros)
    local m=1
    for _ in $(seq 1 "$1"); do m="${m}0"; done
    echo "$m"
}

# nginx_temp_paths DIR: the http-block lines that keep nginx's temporary files under
# DIR/nginx/tmp (the default paths are under /var/lib/nginx, often not writable).
nginx_temp_paths() {
    local k
    for k in client_body proxy fastcgi uwsgi scgi; do
        printf '    %s_temp_path %s;\n' "$k" "$1/nginx/tmp/${k%_body}"
    done
}
