//! Parsers for the text the kernel exposes in `/proc` and `/sys`. Pure: they take the
//! file's text and return `None` for anything they do not recognise, never panic.

use std::fmt;

/// One side of a resource limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Unlimited,
    Value(u64),
}

impl Limit {
    pub fn at_least(self, n: u64) -> bool {
        match self {
            Limit::Unlimited => true,
            Limit::Value(v) => v >= n,
        }
    }

    fn parse(s: &str) -> Option<Limit> {
        if s == "unlimited" {
            Some(Limit::Unlimited)
        } else {
            s.parse().ok().map(Limit::Value)
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Unlimited => f.write_str("unlimited"),
            Limit::Value(v) => write!(f, "{v}"),
        }
    }
}

/// A soft and a hard limit, as `/proc/PID/limits` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub soft: Limit,
    pub hard: Limit,
}

impl fmt::Display for Rlimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} (soft/hard)", self.soft, self.hard)
    }
}

/// The limit called `name` ("Max open files") in the text of `/proc/PID/limits`:
/// a name of several words, then the soft and hard values, then (maybe) the units.
pub fn rlimit(text: &str, name: &str) -> Option<Rlimit> {
    let rest = text
        .lines()
        .find_map(|l| l.strip_prefix(name).filter(|r| r.starts_with(' ')))?;
    let mut fields = rest.split_whitespace();
    let soft = Limit::parse(fields.next()?)?;
    let hard = Limit::parse(fields.next()?)?;
    Some(Rlimit { soft, hard })
}

/// `net.ipv4.ip_local_port_range`: two numbers separated by white space.
pub fn port_range(text: &str) -> Option<(u32, u32)> {
    let mut it = text.split_whitespace();
    let lo = it.next()?.parse().ok()?;
    let hi = it.next()?.parse().ok()?;
    (it.next().is_none() && lo <= hi).then_some((lo, hi))
}

/// Largest CPU index a list may name; the kernel's NR_CPUS tops out at 8192.
const MAX_CPU: usize = 8191;

/// A kernel CPU list such as `0-3,8,10-11` (`/sys/devices/system/cpu/online`).
/// The `a-b:stride/group` form is accepted for the plain `a-b` part only.
pub fn cpu_list(text: &str) -> Option<Vec<usize>> {
    let text = text.trim();
    if text.is_empty() {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?),
            None => {
                let n = part.parse::<usize>().ok()?;
                (n, n)
            }
        };
        if lo > hi || hi > MAX_CPU {
            return None;
        }
        out.extend(lo..=hi);
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// The compact form of a CPU list: `0-3,8`.
pub fn fmt_cpu_list(cpus: &[usize]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(",")
    }
}

/// `Cpus_allowed_list` from `/proc/PID/status`.
pub fn allowed_cpus(status: &str) -> Option<Vec<usize>> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .and_then(cpu_list)
}

/// The selected mode of a sysfs choice file: `always [madvise] never` -> `madvise`.
pub fn selected_mode(text: &str) -> Option<String> {
    let start = text.find('[')?;
    let end = start + text[start..].find(']')?;
    Some(text[start + 1..end].to_string())
}

/// Major and minor of a kernel release string: `6.8.0-45-generic` -> (6, 8).
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// The value of `name=value` on a kernel command line. Only the kernel's own part counts:
/// everything after a lone `--` goes to init.
pub fn cmdline_param<'a>(cmdline: &'a str, name: &str) -> Option<&'a str> {
    cmdline
        .split_whitespace()
        .take_while(|w| *w != "--")
        .filter_map(|w| w.split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .last()
}

/// The CPUs of an `isolcpus=` value, which may start with flags:
/// `isolcpus=nohz,domain,managed_irq,2-7` -> 2..=7.
pub fn isolcpus_list(value: &str) -> Option<Vec<usize>> {
    let cpus: Vec<&str> = value
        .split(',')
        .filter(|p| p.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    cpu_list(&cpus.join(","))
}

/// Whether any `flags` line of `/proc/cpuinfo` carries `flag`.
pub fn has_cpu_flag(cpuinfo: &str, flag: &str) -> bool {
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .filter_map(|l| l.split_once(':'))
        .any(|(_, v)| v.split_whitespace().any(|f| f == flag))
}

/// DMI product names that virtual machines report.
pub fn dmi_is_virtual(product: &str) -> bool {
    const MARKERS: [&str; 12] = [
        "kvm",
        "qemu",
        "standard pc",
        "vmware",
        "virtualbox",
        "virtual machine",
        "hvm domu",
        "bochs",
        "google compute engine",
        "openstack",
        "cloud hypervisor",
        "firecracker",
    ];
    let p = product.to_ascii_lowercase();
    MARKERS.iter().any(|m| p.contains(m))
}
