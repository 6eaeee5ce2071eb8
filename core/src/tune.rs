//! `tollgate tune`: inspect the host and say what to change for this gateway.
//!
//! Read-only by construction: every fact comes from reading `/proc`, `/sys`, the process's
//! own limits, running `systemd-detect-virt`, and setting up (then dropping) one io_uring
//! instance the way a worker would. Nothing is written, no sysctl is set. Every read
//! tolerates a missing or unreadable file and reports the value as `unknown`.
//!
//! The work is in three steps, so the judgement can be tested without a host:
//! - [`Plan`]: what the config asks of the host (workers and their CPUs, the largest
//!   listener backlog, connections per worker, io_uring entries);
//! - [`Facts`]: what the host offers, gathered once ([`Facts::gather`]);
//! - [`evaluate`]: a pure function from both to one [`Check`] per knob, `ok` or `warn`,
//!   each with the current value, the recommended one, and one line saying why.
//!
//! [`check_cpus`] is the one check `tollgate run` also makes at start: `runtime.cpus`
//! indexes are not validated at config load (validation never looks at the host).
//!
//! Why each threshold is what it is: `tuning/README.md`.

use crate::config::{self, Config, DriverChoice};

mod checks;
mod parse;
#[cfg(test)]
mod tests;

pub use checks::evaluate;
pub use parse::{Limit, Rlimit};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub current: String,
    pub recommended: String,
    pub status: Status,
    pub why: String,
}

/// What the config asks of the host.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Which config the plan comes from, for the report's header.
    pub source: String,
    /// The CPU of each worker, in order (`runtime::worker_cpus`).
    pub worker_cpus: Vec<usize>,
    /// `runtime.cpus` as written (empty: every CPU this process may run on).
    pub configured_cpus: Vec<usize>,
    pub pin: bool,
    pub driver: DriverChoice,
    pub io_uring_entries: u32,
    /// The largest listener backlog.
    pub backlog: u32,
    /// Client connections one worker may hold, summed over listeners.
    pub connections_per_worker: u64,
}

impl Plan {
    /// The plan for `cfg`, or for the embedded default config that `tollgate run` serves
    /// when given none.
    pub fn from_config(cfg: Option<&Config>) -> Plan {
        let (cfg, source) = match cfg {
            Some(c) => (c.clone(), "the given config".to_string()),
            None => (
                // The embedded default is validated by the config tests; failing here
                // would be a build defect, and an empty config still yields a plan.
                config::load_str(config::EMBEDDED_DEFAULT, "<embedded>").unwrap_or_default(),
                "the embedded default config (no -c given)".to_string(),
            ),
        };
        Plan {
            source,
            worker_cpus: crate::runtime::worker_cpus(&cfg),
            configured_cpus: cfg.runtime.cpus.clone(),
            pin: cfg.runtime.pin,
            driver: cfg.runtime.driver,
            io_uring_entries: cfg.runtime.io_uring_entries,
            backlog: cfg
                .listeners
                .iter()
                .map(|l| l.backlog)
                .max()
                .unwrap_or(1024),
            connections_per_worker: cfg.listeners.iter().map(|l| l.max_connections as u64).sum(),
        }
    }

    /// Descriptors the gateway may need at its limits: per worker, every client
    /// connection plus one upstream connection each, and a fixed spare for listeners,
    /// logs, the admin server and health checks.
    pub fn nofile_needed(&self) -> u64 {
        self.worker_cpus.len() as u64 * self.connections_per_worker * 2 + 1024
    }

    /// Locked memory for every worker's io_uring rings where the kernel charges them to
    /// RLIMIT_MEMLOCK (before 5.12): 64-byte SQEs, 4-byte SQ index entries and twice as
    /// many 16-byte CQEs per entry, plus a page of ring headers, rounded to pages.
    pub fn memlock_needed(&self) -> u64 {
        let per_ring = u64::from(self.io_uring_entries) * (64 + 4 + 2 * 16) + 4096;
        let per_ring = per_ring.div_ceil(4096) * 4096;
        self.worker_cpus.len() as u64 * per_ring
    }
}

/// What the host offers. `None` everywhere a file was missing or unreadable.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: Option<String>,
    /// `/proc/sys/kernel/io_uring_disabled` (absent before Linux 6.6).
    pub io_uring_disabled: Option<u32>,
    /// `monoio::utils::detect_uring()`: a ring can be made and has every op monoio uses.
    pub uring_ops: bool,
    /// Why a ring with the configured entries could not be set up, as a worker would;
    /// `None` when it could.
    pub ring_error: Option<String>,
    pub memlock: Option<Rlimit>,
    pub nofile: Option<Rlimit>,
    pub somaxconn: Option<u64>,
    pub syn_backlog: Option<u64>,
    pub port_range: Option<(u32, u32)>,
    pub tw_reuse: Option<u32>,
    pub file_max: Option<u64>,
    pub nr_open: Option<u64>,
    /// `/sys/devices/system/cpu/online`.
    pub online_cpus: Option<Vec<usize>>,
    /// `Cpus_allowed_list` of this process.
    pub allowed_cpus: Option<Vec<usize>>,
    /// The scaling governor of each worker CPU (`None`: no cpufreq for it).
    pub governors: Vec<(usize, Option<String>)>,
    /// The selected transparent hugepage mode.
    pub thp: Option<String>,
    pub dmi_product: Option<String>,
    /// `systemd-detect-virt`'s answer ("none" on bare metal).
    pub detect_virt: Option<String>,
    /// The `hypervisor` CPU flag in `/proc/cpuinfo`.
    pub hypervisor_flag: Option<bool>,
    pub cmdline: Option<String>,
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn read_num<T: std::str::FromStr>(path: &str) -> Option<T> {
    read(path)?.parse().ok()
}

impl Facts {
    /// Reads everything the checks need from this host, changing nothing.
    pub fn gather(plan: &Plan) -> Facts {
        let limits = read("/proc/self/limits");
        let governors = plan
            .worker_cpus
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|cpu| {
                let path = format!("/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor");
                (cpu, read(&path))
            })
            .collect();
        Facts {
            kernel: read("/proc/sys/kernel/osrelease"),
            io_uring_disabled: read_num("/proc/sys/kernel/io_uring_disabled"),
            uring_ops: monoio::utils::detect_uring(),
            ring_error: probe_ring(plan.io_uring_entries).err(),
            memlock: limits
                .as_deref()
                .and_then(|t| parse::rlimit(t, "Max locked memory")),
            nofile: limits
                .as_deref()
                .and_then(|t| parse::rlimit(t, "Max open files")),
            somaxconn: read_num("/proc/sys/net/core/somaxconn"),
            syn_backlog: read_num("/proc/sys/net/ipv4/tcp_max_syn_backlog"),
            port_range: read("/proc/sys/net/ipv4/ip_local_port_range")
                .and_then(|s| parse::port_range(&s)),
            tw_reuse: read_num("/proc/sys/net/ipv4/tcp_tw_reuse"),
            file_max: read_num("/proc/sys/fs/file-max"),
            nr_open: read_num("/proc/sys/fs/nr_open"),
            online_cpus: read("/sys/devices/system/cpu/online").and_then(|s| parse::cpu_list(&s)),
            allowed_cpus: read("/proc/self/status").and_then(|s| parse::allowed_cpus(&s)),
            governors,
            thp: read("/sys/kernel/mm/transparent_hugepage/enabled")
                .and_then(|s| parse::selected_mode(&s)),
            dmi_product: read("/sys/class/dmi/id/product_name").filter(|s| !s.is_empty()),
            detect_virt: detect_virt(),
            hypervisor_flag: read("/proc/cpuinfo").map(|s| parse::has_cpu_flag(&s, "hypervisor")),
            cmdline: read("/proc/cmdline"),
        }
    }
}

/// Sets up one io_uring runtime with `entries` entries and drops it: the same call a
/// worker makes, so RLIMIT_MEMLOCK, seccomp and `io_uring_disabled` all get their say.
fn probe_ring(entries: u32) -> Result<(), String> {
    monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .with_entries(entries)
        .build()
        .map(drop)
        .map_err(|e| e.to_string())
}

fn detect_virt() -> Option<String> {
    let out = std::process::Command::new("systemd-detect-virt")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// The whole inspection: the plan, the facts, the checks.
#[derive(Debug, Clone)]
pub struct Report {
    pub source: String,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn warnings(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Warn)
            .count()
    }

    /// An aligned table, one check per line, then a one-line summary.
    pub fn render(&self) -> String {
        let header = ["CHECK", "STATUS", "CURRENT", "RECOMMENDED", "WHY"];
        let rows: Vec<[&str; 5]> = self
            .checks
            .iter()
            .map(|c| {
                [
                    c.name,
                    c.status.as_str(),
                    c.current.as_str(),
                    c.recommended.as_str(),
                    c.why.as_str(),
                ]
            })
            .collect();
        let mut width = [0usize; 4];
        for row in std::iter::once(&header).chain(rows.iter()) {
            for (w, cell) in width.iter_mut().zip(row.iter()) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = format!(
            "tollgate tune: read-only host inspection for {}; nothing was changed.\n\n",
            self.source
        );
        for row in std::iter::once(&header).chain(rows.iter()) {
            for (w, cell) in width.iter().zip(row.iter()) {
                out.push_str(&format!("{cell:<w$}  "));
            }
            out.push_str(row[4]);
            out.push('\n');
        }
        let warns = self.warnings();
        out.push_str(&format!(
            "\n{} ok, {warns} warn. Profiles for each knob: tuning/ (sysctl.conf, limits.conf, \
             tollgate.service).\n",
            self.checks.len() - warns
        ));
        out
    }
}

/// Inspects this host for `cfg` (or the embedded default config).
pub fn inspect(cfg: Option<&Config>) -> Report {
    let plan = Plan::from_config(cfg);
    let facts = Facts::gather(&plan);
    Report {
        source: plan.source.clone(),
        checks: evaluate(&plan, &facts),
    }
}

/// The rendered report for `cfg`: what `tollgate tune` prints.
pub fn report(cfg: Option<&Config>) -> String {
    inspect(cfg).render()
}

/// Refuses a `runtime.cpus` that names a CPU this host does not have online. Called by
/// `tollgate run` before any worker starts, and shown by `tollgate tune`.
pub fn check_cpus(cfg: &Config) -> Result<(), String> {
    if cfg.runtime.cpus.is_empty() {
        return Ok(());
    }
    let online = read("/sys/devices/system/cpu/online")
        .and_then(|s| parse::cpu_list(&s))
        .or_else(|| read("/proc/self/status").and_then(|s| parse::allowed_cpus(&s)))
        .unwrap_or_else(|| {
            (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
        });
    cpus_online(&cfg.runtime.cpus, &online)
}

pub(crate) fn cpus_online(cpus: &[usize], online: &[usize]) -> Result<(), String> {
    let missing: Vec<String> = cpus
        .iter()
        .enumerate()
        .filter(|(_, c)| !online.contains(c))
        .map(|(i, c)| format!("runtime.cpus[{i}] = {c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}: no such CPU online on this host (online: {})",
        missing.join(", "),
        parse::fmt_cpu_list(online)
    ))
}
