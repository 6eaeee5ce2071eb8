#!/usr/bin/env bash
# Keeps other work off Tollgate's worker CPUs, at run time, without a reboot.
#
#   tuning/isolate-cpus.sh [--apply] [--state FILE] CPULIST
#   tuning/isolate-cpus.sh --restore --state FILE
#
#   CPULIST       the CPUs to clear: runtime.cpus from the config (e.g. 2-7 or 0,2).
#   --apply       take CPULIST out of the affinity of every movable thread allowed on
#                 it (user processes and unbound kernel threads; each keeps the rest of
#                 its own CPUs) and out of the unbound workqueue mask. Needs root, and
#                 refuses while the state file of an earlier --apply exists. Without it
#                 (the default) the script only counts what it would move.
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

# without CPUS: "0 1 2 3" minus "1 3" -> "0 2"
without() {
    local c out=()
    for c in $1; do
        [[ " $2 " == *" $c "* ]] || out+=("$c")
    done
    echo "${out[@]}"
}

# MASK (hex, in comma-separated groups as the kernel writes cpumasks) with the bits of
# CPUS cleared, in the same form
clear_bits() {
    local hex=${1//,/} cpus=$2 out="" i d c n
    n=${#hex}
    for ((i = 0; i < n; i++)); do
        d=$((16#${hex:n-1-i:1}))
        for c in $cpus; do
            ((c / 4 == i)) && d=$((d & ~(1 << (c % 4))))
        done
        out=$(printf '%x' "$d")$out
    done
    local groups=""
    while ((${#out} > 8)); do
        groups=",${out: -8}$groups"
        out=${out:0:${#out}-8}
    done
    echo "$out$groups"
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
[[ "$cpus" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || {
    echo "not a CPU list (like 2-7 or 0,2): $cpus" >&2
    exit 2
}
online=$(expand "$(cat /sys/devices/system/cpu/online)")
clear=$(expand "$cpus")
keep=$(without "$online" "$clear")
[ -n "$keep" ] || { echo "no CPU would be left for other work" >&2; exit 1; }
keep_list=$(echo "$keep" | tr ' ' ,)

if [ "$apply" = 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "--apply needs root (other users' threads, the workqueue mask)" >&2; exit 1; }
    [ ! -e "$state" ] || {
        echo "$state exists: an earlier --apply was not restored (--restore --state $state)" >&2
        exit 1
    }
    : >"$state"
fi
moved=0
fixed=0
failed=0
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
        # its own CPUs less the cleared ones
        rest=$(without "$(expand "$allowed")" "$clear" | tr ' ' ,)
        if taskset -c -p "$rest" "$tid" >/dev/null 2>&1; then
            echo "thread $tid $allowed" >>"$state"
            moved=$((moved + 1))
        else
            # gone meanwhile, or a kernel thread that refuses (PF_NO_SETAFFINITY)
            failed=$((failed + 1))
        fi
    else
        moved=$((moved + 1))
    fi
done

wq_note="workqueue mask unchanged (no $wq)"
if [ -w "$wq" ]; then
    old_mask=$(cat "$wq")
    new_mask=$(clear_bits "$old_mask" "$clear")
    if [ "$apply" = 1 ]; then
        echo "workqueue $old_mask" >>"$state"
        if echo "$new_mask" >"$wq" 2>/dev/null; then
            wq_note="workqueue mask $old_mask -> $new_mask"
        else
            wq_note="workqueue mask: writing $new_mask was refused"
        fi
    else
        wq_note="workqueue mask would go $old_mask -> $new_mask"
    fi
fi

if [ "$apply" = 1 ]; then
    echo "moved $moved threads off CPUs $cpus ($failed could not be moved, $fixed pinned there left alone); $wq_note; state in $state"
else
    echo "would move $moved threads off CPUs $cpus, to CPUs among $keep_list ($fixed pinned there left alone); $wq_note; add --apply"
fi
