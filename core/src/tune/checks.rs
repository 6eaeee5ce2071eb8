//! The judgement: one [`Check`] per knob from a [`Plan`] and [`Facts`]. Pure (no reads,
//! no clock), so every threshold is tested with hand-made facts in `tests.rs`. The
//! reasoning behind each threshold, with measurements, is in `tuning/README.md`.

use super::parse;
use super::{cpus_online, Check, Facts, Plan, Status};
use crate::config::DriverChoice;

fn unknown() -> String {
    "unknown".to_string()
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(unknown, |v| v.to_string())
}

/// One check per knob, in a fixed order. Pure: everything comes from `plan` and `facts`.
pub fn evaluate(plan: &Plan, facts: &Facts) -> Vec<Check> {
    vec![
        check_io_uring(plan, facts),
        check_memlock(plan, facts),
        check_nofile(plan, facts),
        check_somaxconn(plan, facts),
        check_syn_backlog(plan, facts),
        check_port_range(facts),
        check_tw_reuse(facts),
        check_file_max(plan, facts),
        check_nr_open(plan, facts),
        check_cpu_plan(plan, facts),
        check_governor(facts),
        check_thp(facts),
        check_virtualization(facts),
        check_isolation(plan, facts),
    ]
}

fn check_io_uring(plan: &Plan, f: &Facts) -> Check {
    let switch = match f.io_uring_disabled {
        None => "io_uring_disabled absent".to_string(),
        Some(v) => format!("io_uring_disabled={v}"),
    };
    let ring = match &f.ring_error {
        None => format!("{}-entry ring ok", plan.io_uring_entries),
        Some(e) => format!("ring setup failed: {e}"),
    };
    let ops = if f.uring_ops { "" } else { ", ops missing" };
    let current = format!("{switch}, {ring}{ops}, kernel {}", opt(&f.kernel));
    let usable = f.ring_error.is_none() && f.uring_ops;
    let (status, why) = match (plan.driver, usable) {
        (DriverChoice::Epoll, _) => (
            Status::Ok,
            "runtime.driver = epoll: io_uring is not used".to_string(),
        ),
        (_, true) => (
            Status::Ok,
            "workers run on io_uring: batched submissions, no readiness syscalls per op"
                .to_string(),
        ),
        (DriverChoice::IoUring, false) => (
            Status::Warn,
            "runtime.driver = io_uring but no ring can be set up: `tollgate run` will refuse to \
             start"
                .to_string(),
        ),
        (DriverChoice::Auto, false) => (
            Status::Warn,
            "workers fall back to epoll (a syscall per readiness event); check \
             kernel.io_uring_disabled, seccomp, RLIMIT_MEMLOCK"
                .to_string(),
        ),
    };
    Check {
        name: "io_uring",
        current,
        recommended: "io_uring_disabled=0, ring setup ok".to_string(),
        status,
        why,
    }
}

fn check_memlock(plan: &Plan, f: &Facts) -> Check {
    let needed = plan.memlock_needed();
    let old_kernel = f
        .kernel
        .as_deref()
        .and_then(parse::kernel_version)
        .is_none_or(|v| v < (5, 12));
    let soft_ok = f.memlock.is_some_and(|l| l.soft.at_least(needed));
    let (status, why) = if !old_kernel {
        (
            Status::Ok,
            "Linux >= 5.12 charges io_uring rings to the memory cgroup, not RLIMIT_MEMLOCK; \
             unlimited keeps registered buffers possible"
                .to_string(),
        )
    } else if soft_ok {
        (
            Status::Ok,
            format!(
                "before Linux 5.12 the rings of {} workers lock ~{} KiB",
                plan.worker_cpus.len(),
                needed / 1024
            ),
        )
    } else {
        (
            Status::Warn,
            format!(
                "before Linux 5.12 (or kernel unknown) the rings of {} workers lock ~{} KiB; \
                 below that io_uring setup fails with ENOMEM",
                plan.worker_cpus.len(),
                needed / 1024
            ),
        )
    };
    Check {
        name: "memlock",
        current: f.memlock.map_or_else(unknown, |l| l.to_string()),
        recommended: format!("unlimited (>= {} KiB)", needed / 1024),
        status,
        why,
    }
}

fn check_nofile(plan: &Plan, f: &Facts) -> Check {
    let needed = plan.nofile_needed();
    let ok = f.nofile.is_some_and(|l| l.soft.at_least(needed));
    let raise = match f.nofile {
        Some(l) if !ok && l.hard.at_least(needed) => "; the hard limit allows it: raise the soft",
        _ => "",
    };
    Check {
        name: "nofile",
        current: f.nofile.map_or_else(unknown, |l| l.to_string()),
        recommended: format!(">= {needed} (LimitNOFILE=1048576)"),
        status: if ok { Status::Ok } else { Status::Warn },
        why: format!(
            "{} workers x {} connections x 2 (client + upstream socket) + 1024 spare; past it \
             accept() fails with EMFILE{raise}",
            plan.worker_cpus.len(),
            plan.connections_per_worker
        ),
    }
}

fn check_somaxconn(plan: &Plan, f: &Facts) -> Check {
    let ok = f.somaxconn.is_some_and(|v| v >= u64::from(plan.backlog));
    Check {
        name: "somaxconn",
        current: opt(&f.somaxconn),
        recommended: format!(">= {} (listener backlog)", plan.backlog),
        status: if ok { Status::Ok } else { Status::Warn },
        why: "listen() silently clamps the backlog to it; each worker's SO_REUSEPORT socket \
              queues up to min(backlog, somaxconn) and a burst past it drops SYNs (1 s retry)"
            .to_string(),
    }
}

fn check_syn_backlog(plan: &Plan, f: &Facts) -> Check {
    let ok = f.syn_backlog.is_some_and(|v| v >= u64::from(plan.backlog));
    Check {
        name: "tcp_max_syn_backlog",
        current: opt(&f.syn_backlog),
        recommended: format!(">= {} (listener backlog)", plan.backlog),
        status: if ok { Status::Ok } else { Status::Warn },
        why: "the half-open (SYN_RECV) queue; when it is shorter than the accept queue a SYN \
              burst falls to syncookies or is dropped first"
            .to_string(),
    }
}

/// Ephemeral ports below which the range counts as narrow. The kernel default gives
/// 28232: the most connections open at once to one upstream address, and without
/// `tcp_tw_reuse = 1` about 470 new ones a second to it over the 60 s of TIME_WAIT
/// (measured in tuning/README.md: past half the range, connect() slows to a crawl).
const MIN_PORT_RANGE: u32 = 32768;

fn check_port_range(f: &Facts) -> Check {
    let width = f.port_range.map(|(lo, hi)| hi.saturating_sub(lo) + 1);
    let ok = width.is_some_and(|w| w >= MIN_PORT_RANGE);
    Check {
        name: "ip_local_port_range",
        current: f.port_range.map_or_else(unknown, |(lo, hi)| {
            format!("{lo}-{hi} ({} ports)", hi.saturating_sub(lo) + 1)
        }),
        recommended: format!(">= {MIN_PORT_RANGE} ports, e.g. 10000 65535"),
        status: if ok { Status::Ok } else { Status::Warn },
        why: "source ports: the most connections open at once to one upstream address; \
              churn parks each closed one in TIME_WAIT for 60 s (see tcp_tw_reuse)"
            .to_string(),
    }
}

fn check_tw_reuse(f: &Facts) -> Check {
    let current = match f.tw_reuse {
        None => unknown(),
        Some(0) => "0 (off)".to_string(),
        Some(1) => "1 (on)".to_string(),
        Some(2) => "2 (loopback only)".to_string(),
        Some(v) => v.to_string(),
    };
    Check {
        name: "tcp_tw_reuse",
        current,
        recommended: "1".to_string(),
        status: if f.tw_reuse == Some(1) {
            Status::Ok
        } else {
            Status::Warn
        },
        why: "lets upstream connects reuse a TIME_WAIT source port when TCP timestamps make it \
              safe; without it connection churn to one upstream runs out of ports"
            .to_string(),
    }
}

fn check_file_max(plan: &Plan, f: &Facts) -> Check {
    let needed = plan.nofile_needed().max(1 << 20);
    Check {
        name: "file-max",
        current: opt(&f.file_max),
        recommended: format!(">= {needed}"),
        status: if f.file_max.is_some_and(|v| v >= needed) {
            Status::Ok
        } else {
            Status::Warn
        },
        why: "system-wide open files; every process's descriptors count against it".to_string(),
    }
}

fn check_nr_open(plan: &Plan, f: &Facts) -> Check {
    let needed = plan.nofile_needed().max(1 << 20);
    Check {
        name: "nr_open",
        current: opt(&f.nr_open),
        recommended: format!(">= {needed}"),
        status: if f.nr_open.is_some_and(|v| v >= needed) {
            Status::Ok
        } else {
            Status::Warn
        },
        why: "the ceiling for RLIMIT_NOFILE: LimitNOFILE above it makes the service fail to \
              start"
            .to_string(),
    }
}

fn check_cpu_plan(plan: &Plan, f: &Facts) -> Check {
    let online = f.online_cpus.clone().or_else(|| f.allowed_cpus.clone());
    let isolated = f
        .cmdline
        .as_deref()
        .and_then(|c| parse::cmdline_param(c, "isolcpus"))
        .and_then(parse::isolcpus_list)
        .unwrap_or_default();
    let mut problems = Vec::new();
    if let Some(online) = &online {
        if let Err(e) = cpus_online(&plan.configured_cpus, online) {
            problems.push(format!("{e}; `tollgate run` refuses to start"));
        }
        if plan.worker_cpus.len() > online.len() {
            problems.push(format!(
                "{} workers on {} CPUs: workers time-share cores",
                plan.worker_cpus.len(),
                online.len()
            ));
        }
    }
    if let Some(allowed) = &f.allowed_cpus {
        let outside: Vec<usize> = plan
            .configured_cpus
            .iter()
            .copied()
            .filter(|c| !allowed.contains(c) && !isolated.contains(c))
            .filter(|c| online.as_ref().is_none_or(|o| o.contains(c)))
            .collect();
        if plan.pin && !outside.is_empty() {
            problems.push(format!(
                "CPUs {} are outside this process's affinity: pinning may fail (cpuset, taskset)",
                parse::fmt_cpu_list(&outside)
            ));
        }
    }
    let current = format!(
        "online {}, allowed {}, {} workers on {}{}",
        online.as_deref().map_or_else(unknown, parse::fmt_cpu_list),
        f.allowed_cpus
            .as_deref()
            .map_or_else(unknown, parse::fmt_cpu_list),
        plan.worker_cpus.len(),
        parse::fmt_cpu_list(&plan.worker_cpus),
        if plan.pin { " (pinned)" } else { " (unpinned)" }
    );
    let (status, why) = if problems.is_empty() {
        (
            Status::Ok,
            "thread per core: one pinned worker per CPU, no two on one core".to_string(),
        )
    } else {
        (Status::Warn, problems.join("; "))
    };
    Check {
        name: "cpus",
        current,
        recommended: "1 worker per online CPU".to_string(),
        status,
        why,
    }
}

fn check_governor(f: &Facts) -> Check {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for (_, g) in &f.governors {
        *counts.entry(g.as_deref().unwrap_or("none")).or_default() += 1;
    }
    let known = f.governors.iter().any(|(_, g)| g.is_some());
    let current = if known {
        counts
            .iter()
            .map(|(g, n)| format!("{g} x{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        "unknown (no cpufreq in sysfs)".to_string()
    };
    let slow = f
        .governors
        .iter()
        .any(|(_, g)| g.as_deref().is_some_and(|g| g != "performance"));
    let (status, why) = if !known {
        (
            Status::Ok,
            "no cpufreq driver: frequency is set by the firmware or hypervisor".to_string(),
        )
    } else if slow {
        (
            Status::Warn,
            "other governors ramp the clock up only after load arrives: slower first requests \
             after idle and noisy benchmarks"
                .to_string(),
        )
    } else {
        (
            Status::Ok,
            "worker CPUs run at full clock at once".to_string(),
        )
    };
    Check {
        name: "cpufreq_governor",
        current,
        recommended: "performance on worker CPUs".to_string(),
        status,
        why,
    }
}

fn check_thp(f: &Facts) -> Check {
    let always = f.thp.as_deref() == Some("always");
    Check {
        name: "transparent_hugepage",
        current: opt(&f.thp),
        recommended: "madvise or never".to_string(),
        status: if always { Status::Warn } else { Status::Ok },
        why: if always {
            "always: khugepaged compaction and collapse stall workers at random; mimalloc does \
             not need it"
                .to_string()
        } else {
            "huge pages only where asked for: no compaction stalls behind the workers".to_string()
        },
    }
}

fn check_virtualization(f: &Facts) -> Check {
    let mut seen = Vec::new();
    if let Some(v) = f.detect_virt.as_deref().filter(|v| *v != "none") {
        seen.push(format!("systemd-detect-virt: {v}"));
    }
    if f.hypervisor_flag == Some(true) {
        seen.push("hypervisor CPU flag".to_string());
    }
    let dmi_virtual = f.dmi_product.as_deref().is_some_and(parse::dmi_is_virtual);
    if dmi_virtual {
        seen.push(format!(
            "DMI: {}",
            f.dmi_product.as_deref().unwrap_or_default()
        ));
    }
    let nothing_known =
        f.detect_virt.is_none() && f.hypervisor_flag.is_none() && f.dmi_product.is_none();
    let current = if !seen.is_empty() {
        seen.join(", ")
    } else if nothing_known {
        unknown()
    } else {
        format!("bare metal (DMI: {})", opt(&f.dmi_product))
    };
    Check {
        name: "virtualization",
        current,
        recommended: "bare metal".to_string(),
        status: if seen.is_empty() {
            Status::Ok
        } else {
            Status::Warn
        },
        why: if seen.is_empty() {
            "pinning, IRQ affinity and the governor act on real cores and NIC queues".to_string()
        } else {
            "vCPUs share host cores and the NIC is emulated: numbers include the hypervisor; \
             IRQ and governor knobs belong to the host"
                .to_string()
        },
    }
}

fn check_isolation(plan: &Plan, f: &Facts) -> Check {
    let param = |name| {
        f.cmdline
            .as_deref()
            .and_then(|c| parse::cmdline_param(c, name))
    };
    let isol = param("isolcpus");
    let nohz = param("nohz_full");
    let current = match &f.cmdline {
        None => unknown(),
        Some(_) => format!(
            "isolcpus={} nohz_full={}",
            isol.unwrap_or("none"),
            nohz.unwrap_or("none")
        ),
    };
    let isolated = isol.and_then(parse::isolcpus_list).unwrap_or_default();
    let (status, why) = if isolated.is_empty() {
        (
            Status::Ok,
            "optional: on a dedicated host, isolate the worker CPUs (and keep IRQs off them) \
             for steadier tails"
                .to_string(),
        )
    } else if plan.configured_cpus.is_empty() {
        (
            Status::Warn,
            format!(
                "CPUs {} are isolated, so the default affinity leaves them out: list them in \
                 runtime.cpus or workers never use them",
                parse::fmt_cpu_list(&isolated)
            ),
        )
    } else if plan.configured_cpus.iter().all(|c| isolated.contains(c)) {
        (
            Status::Ok,
            "every worker CPU is isolated from the scheduler's general load".to_string(),
        )
    } else {
        (
            Status::Warn,
            format!(
                "runtime.cpus mixes isolated ({}) and shared CPUs: the shared ones see other \
                 load",
                parse::fmt_cpu_list(&isolated)
            ),
        )
    };
    Check {
        name: "cpu_isolation",
        current,
        recommended: "isolate runtime.cpus (dedicated)".to_string(),
        status,
        why,
    }
}
