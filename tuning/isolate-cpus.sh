#!/usr/bin/env bash
# Keeps other work off Tollgate's worker CPUs, at run time, without a reboot.
#
#   tuning/isolate-cpus.sh [--apply] [--state FILE] CPULIST
#   tuning/isolate-cpus.sh --restore --state FILE
#
#   CPULIST       the CPUs to clear: runtime.cpus from the config (e.g. 2-7 or 0,2).
#   --apply       move every movable thread now on CPULIST (user processes and unbound
#                 kernel threads) to the other online CPUs, and take CPULIST out of the
#                 unbound workqueue mask. Without it (the default) the script only
#                 counts what it would move: a dry run changes nothing.
#   --state FILE  where --apply writes each moved thread's old affinity and the old
#                 workqueue mask (default /run/tollgate-isolate.state), for --restore.
#   --restore     put back what --apply changed, from the state file.
#
# Threads that start later inherit their parent's affinity, so start the gateway with
# its own (`runtime.cpus` pins each worker; a process started under taskset keeps that
# mask). Per-CPU kernel threads (ksoftirqd/N, migration/N, kworker/N:*) cannot move and
# are left alone; interrupts are irq-affinity.sh's job. For a permanent setup use the
# kernel's `isolcpus=`/`nohz_full=` or systemd's `CPUAffinity=` for every other unit
# instead; this script is for hosts you cannot reboot and for benchmarks.
#
# Why it matters: a worker is pinned, so anything else the scheduler puts on its CPU
# delays every connection of that worker. On the 2-vCPU VM of bench/RESULTS.md another
# process's thread held CPU 0 for 10-30 ms about once a second; with CPU 0 cleared, the
# p99 of the inter-token gaps the gateway added at 9,950 streams went from +5.4..+9.8 ms
# to -0.3..+1.0 ms (bench/RESULTS.md, "where the added inter-token p99 comes from").
set -euo pipefail

apply=0
restore=0
state=/run/tollgate-isolate.state
cpus=""

usage() { sed -n '2,28p' "$0"; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --apply) apply=1 ;;
        --restore) restore=1 ;;
        --state) state=${2:?}; shift ;;
        -h | --help) usage ;;
        -*) echo "unknown option $1" >&2; usage ;;
        *) cpus=$1 ;;
    esac
    shift
done

# expand "0-2,5" into "0 1 2 5"
expand() {
    local part out=()
    IFS=, read -ra parts <<<"$1"
    for part in "${parts[@]}"; do
        if [[ $part == *-* ]]; then
            out+=($(seq "${part%-*}" "${part#*-}"))
        else
            out+=("$part")
        fi
    done
    echo "${out[@]}"
}

# a CPU list as a hex mask for /sys/devices/virtual/workqueue/cpumask
mask_of() {
    local c m=0
    for c in $1; do m=$((m | (1 << c))); done
    printf '%x\n' "$m"
}

wq=/sys/devices/virtual/workqueue/cpumask

if [ "$restore" = 1 ]; then
    [ -r "$state" ] || { echo "no state file $state" >&2; exit 1; }
    n=0
    while read -r kind a b; do
        case "$kind" in
            thread) taskset -c -p "$b" "$a" >/dev/null 2>&1 && n=$((n + 1)) || true ;;
            workqueue) [ -w "$wq" ] && echo "$a" >"$wq" 2>/dev/null || true ;;
        esac
    done <"$state"
    rm -f "$state"
    echo "restored the affinity of $n threads"
    exit 0
fi

[ -n "$cpus" ] || usage
online=$(expand "$(cat /sys/devices/system/cpu/online)")
clear=$(expand "$cpus")
keep=()
for c in $online; do
    [[ " $clear " == *" $c "* ]] || keep+=("$c")
done
[ ${#keep[@]} -gt 0 ] || { echo "no CPU would be left for other work" >&2; exit 1; }
keep_list=$(IFS=,; echo "${keep[*]}")

[ "$apply" = 1 ] && : >"$state"
moved=0
fixed=0
for task in /proc/[0-9]*/task/[0-9]*; do
    tid=${task##*/}
    pid=${task#/proc/}
    pid=${pid%%/*}
    # not this script nor whoever called it (a benchmark that starts its processes
    # with their own masks)
    [ "$pid" = $$ ] || [ "$pid" = "$PPID" ] && continue
    allowed=$(awk '/^Cpus_allowed_list/ {print $2}' "$task/status" 2>/dev/null) || continue
    [ -n "$allowed" ] || continue
    on_clear=0
    for c in $(expand "$allowed"); do
        [[ " $clear " == *" $c "* ]] && on_clear=1
    done
    [ "$on_clear" = 1 ] || continue
    # Threads allowed only on cleared CPUs are pinned on purpose (a worker, a per-CPU
    # kernel thread): leave them.
    only_clear=1
    for c in $(expand "$allowed"); do
        [[ " $clear " == *" $c "* ]] || only_clear=0
    done
    if [ "$only_clear" = 1 ]; then
        fixed=$((fixed + 1))
        continue
    fi
    if [ "$apply" = 1 ]; then
        if taskset -c -p "$keep_list" "$tid" >/dev/null 2>&1; then
            echo "thread $tid $allowed" >>"$state"
            moved=$((moved + 1))
        fi
    else
        moved=$((moved + 1))
    fi
done

if [ -w "$wq" ]; then
    if [ "$apply" = 1 ]; then
        echo "workqueue $(cat "$wq")" >>"$state"
        mask_of "${keep[*]}" >"$wq"
    fi
fi

if [ "$apply" = 1 ]; then
    echo "moved $moved threads to CPUs $keep_list; left $fixed pinned threads; state in $state"
else
    echo "would move $moved threads to CPUs $keep_list (left alone: $fixed pinned); add --apply"
fi
