#!/usr/bin/env bash
# Places a NIC's queue interrupts relative to Tollgate's worker CPUs.
#
#   tuning/irq-affinity.sh [--apply] [--mode away|match] [--workers LIST] IFACE...
#
#   --mode away   (default) every queue IRQ goes to the CPUs that run no worker, round
#                 robin; the workers' cores then spend no time in hard IRQ and NAPI
#                 softirq. Needs at least one CPU outside --workers.
#   --mode match  queue i's IRQ goes to the i-th worker CPU (round robin): the RSS queues
#                 spread packet processing over the worker cores evenly. For hosts where
#                 every CPU runs a worker.
#   --workers     the worker CPUs: runtime.cpus from the config (e.g. 2-7 or 2,3,4,5).
#                 Default: every online CPU (what Tollgate does with runtime.cpus empty).
#   --apply       write /proc/irq/N/smp_affinity_list. Without it (the default) the
#                 script only prints what it would write: a dry run changes nothing.
#
# Stop irqbalance first (or ban the worker CPUs from it with IRQBALANCE_BANNED_CPULIST),
# or it moves the IRQs back within seconds. Writes do not survive a reboot or a driver
# reload: run this from a unit ordered after the NIC comes up. Some drivers use
# kernel-managed IRQs whose affinity cannot be changed; those writes fail and are reported.
set -euo pipefail

apply=0
mode=away
workers=""
ifaces=()

usage() { sed -n '2,22p' "$0"; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --apply) apply=1 ;;
        --dry-run) apply=0 ;;
        --mode) mode=${2:?}; shift ;;
        --workers) workers=${2:?}; shift ;;
        -h | --help) usage ;;
        -*) echo "unknown option $1" >&2; usage ;;
        *) ifaces+=("$1") ;;
    esac
    shift
done
[ ${#ifaces[@]} -gt 0 ] || usage
case "$mode" in away | match) ;; *) echo "--mode is away or match" >&2; exit 2 ;; esac

# Expands a kernel CPU list ("0-3,8") to one number per line.
expand_cpus() {
    local part lo hi
    IFS=, read -ra parts <<<"$1"
    for part in "${parts[@]}"; do
        [ -n "$part" ] || continue
        if [[ $part == *-* ]]; then
            lo=${part%-*} hi=${part#*-}
        else
            lo=$part hi=$part
        fi
        [[ $lo =~ ^[0-9]+$ && $hi =~ ^[0-9]+$ && $lo -le $hi ]] || { echo "bad CPU list: $1" >&2; exit 2; }
        seq "$lo" "$hi"
    done
}

online=$(cat /sys/devices/system/cpu/online)
mapfile -t online_cpus < <(expand_cpus "$online")
mapfile -t worker_cpus < <(expand_cpus "${workers:-$online}")
for c in "${worker_cpus[@]}"; do
    [[ " ${online_cpus[*]} " == *" $c "* ]] || { echo "worker CPU $c is not online ($online)" >&2; exit 1; }
done
spare_cpus=()
for c in "${online_cpus[@]}"; do
    [[ " ${worker_cpus[*]} " == *" $c "* ]] || spare_cpus+=("$c")
done

if [ "$mode" = away ]; then
    if [ ${#spare_cpus[@]} -eq 0 ]; then
        echo "every online CPU ($online) runs a worker: nothing to move the IRQs to." >&2
        echo "Leave CPUs out of runtime.cpus (and pass them with --workers), or use --mode match." >&2
        exit 1
    fi
    targets=("${spare_cpus[@]}")
else
    targets=("${worker_cpus[@]}")
fi

if pgrep -x irqbalance >/dev/null 2>&1; then
    echo "warning: irqbalance is running and will move these IRQs again; stop it or set" >&2
    echo "         IRQBALANCE_BANNED_CPULIST to the worker CPUs." >&2
fi

# The IRQs of an interface: the MSI/MSI-X vectors of its PCI device. A virtio NIC's
# device directory is the virtio device; its vectors belong to the PCI parent.
iface_irqs() {
    local dev
    dev=$(readlink -f "/sys/class/net/$1/device" 2>/dev/null) || return 0
    for d in "$dev" "$dev/.."; do
        if [ -d "$d/msi_irqs" ]; then
            ls "$d/msi_irqs" | sort -n
            return 0
        fi
    done
    [ -r "$dev/irq" ] && cat "$dev/irq"
    return 0
}

irq_name() { awk -v irq="$1:" '$1 == irq {print $NF}' /proc/interrupts; }

# Queue IRQs carry the queue in their name (eth0-TxRx-3, mlx5_comp3, virtio2-input.0);
# the device's config/async/link vectors are left alone.
is_queue_irq() { [[ $1 =~ (rx|tx|TxRx|input|output|comp|queue|fp-|-[0-9]+$) ]]; }

verb=$([ $apply = 1 ] && echo "setting" || echo "would set")
echo "mode $mode; worker CPUs: $(IFS=,; echo "${worker_cpus[*]}"); IRQ targets: $(IFS=,; echo "${targets[*]}")"
[ $apply = 1 ] || echo "dry run: nothing is written (pass --apply to write)"

failed=0
for iface in "${ifaces[@]}"; do
    if [ ! -e "/sys/class/net/$iface" ]; then
        echo "$iface: no such interface" >&2
        failed=1
        continue
    fi
    mapfile -t irqs < <(iface_irqs "$iface")
    if [ ${#irqs[@]} -eq 0 ]; then
        echo "$iface: no IRQs found (a virtual interface, or a NIC without MSI)"
        continue
    fi
    i=0
    for irq in "${irqs[@]}"; do
        name=$(irq_name "$irq")
        current=$(cat "/proc/irq/$irq/smp_affinity_list" 2>/dev/null || echo "?")
        if ! is_queue_irq "$name"; then
            echo "$iface: IRQ $irq ($name) is not a queue: left on CPUs $current"
            continue
        fi
        # The queue number in the name keeps a queue's RX and TX vectors together
        # (virtio's input.N and output.N); otherwise count the queue IRQs in order.
        q=$(sed -nE 's/.*(input|output|rx|tx|TxRx|comp|queue)[^0-9]*([0-9]+).*/\2/p' <<<"$name")
        [ -n "$q" ] || q=$i
        cpu=${targets[$((q % ${#targets[@]}))]}
        i=$((i + 1))
        echo "$iface: IRQ $irq ($name): CPUs $current -> $verb $cpu"
        if [ $apply = 1 ]; then
            if ! echo "$cpu" >"/proc/irq/$irq/smp_affinity_list" 2>/dev/null; then
                echo "$iface: IRQ $irq: write refused (a kernel-managed IRQ?)" >&2
                failed=1
            fi
        fi
    done
    if [ -d "/sys/class/net/$iface/queues" ]; then
        rx=$(ls -d "/sys/class/net/$iface"/queues/rx-* 2>/dev/null | wc -l)
        echo "$iface: $rx RX queue(s), ${#worker_cpus[@]} worker(s)$([ "$rx" -lt "${#worker_cpus[@]}" ] && echo "; fewer queues than workers: consider ethtool -L $iface combined ${#worker_cpus[@]}" || true)"
    fi
done
exit $failed
