//! Checks for the process-wide sections: `[runtime]`, `[admin]`, `[[listeners]]`,
//! `[limits]`, `[access_log]`. Fills in default listener names.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tollgate_proto::h1::HeadLimits;

use super::locate::KeyPath;
use super::syntax::{check_name, parse_host_port};
use super::Issues;
use crate::config::{Config, Http2, Limits, Runtime};

/// Most worker threads; more is a typo, not a machine.
const MAX_WORKERS: usize = 1024;
/// io_uring's own cap on submission queue entries (`IORING_MAX_ENTRIES`).
const MAX_IO_URING_ENTRIES: u32 = 32_768;
/// Largest request head we agree to buffer per connection.
const MAX_HEAD_BYTES: usize = 1024 * 1024;
/// Smallest and largest pooled I/O buffer.
const MIN_BUFFER: usize = 1024;
const MAX_BUFFER: usize = 16 * 1024 * 1024;

pub(super) fn check(issues: &mut Issues, config: &mut Config) {
    let root = KeyPath::root();
    check_runtime(issues, &config.runtime, &root.key("runtime"));
    check_limits(issues, &config.limits, &root.key("limits"));
    check_http2(issues, &config.http2, &root.key("http2"));
    let listeners = check_listeners(issues, config);
    check_admin(issues, &config.admin.listen, &listeners);
    let log = &config.access_log.path;
    if log.chars().any(char::is_control) {
        issues.at(
            &root.key("access_log").key("path"),
            "the path contains a control character",
        );
    } else if log.ends_with('/') {
        issues.at(
            &root.key("access_log").key("path"),
            format!("{log:?} names a directory; give a file name, \"stdout\", or \"\" for none"),
        );
    }
}

fn check_runtime(issues: &mut Issues, rt: &Runtime, path: &KeyPath) {
    if rt.workers > MAX_WORKERS {
        issues.at(
            &path.key("workers"),
            format!(
                "{} workers is more than the {MAX_WORKERS} allowed; 0 means one per CPU",
                rt.workers
            ),
        );
    }
    if !rt.cpus.is_empty() && rt.workers != 0 && rt.workers != rt.cpus.len() {
        issues.at(
            &path.key("workers"),
            format!(
                "workers = {} but cpus lists {} CPU(s); list one CPU per worker, or set workers = 0 \
                 to run one worker per listed CPU",
                rt.workers,
                rt.cpus.len()
            ),
        );
    }
    let mut seen = HashMap::new();
    for (i, cpu) in rt.cpus.iter().enumerate() {
        if let Some(first) = seen.insert(*cpu, i) {
            issues.at(
                &path.key("cpus").index(i),
                format!("CPU {cpu} is listed twice (also at cpus[{first}]); one worker per CPU"),
            );
        }
    }
    if rt.io_uring_entries == 0 || rt.io_uring_entries > MAX_IO_URING_ENTRIES {
        issues.at(
            &path.key("io_uring_entries"),
            format!(
                "must be from 1 to {MAX_IO_URING_ENTRIES} (the kernel's cap); got {}",
                rt.io_uring_entries
            ),
        );
    }
    issues.positive_duration(&path.key("tick"), rt.tick, "");
}

/// RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE is 2^14..=2^24-1; windows are at most
/// 2^31-1 (§6.9.1).
const MIN_FRAME: u32 = 1 << 14;
const MAX_FRAME: u32 = (1 << 24) - 1;
const MAX_WINDOW: u32 = (1 << 31) - 1;

fn check_http2(issues: &mut Issues, h2: &Http2, path: &KeyPath) {
    issues.positive(
        &path.key("max_concurrent_streams"),
        h2.max_concurrent_streams as u64,
        "",
    );
    if h2.max_header_list_size < 1024 || h2.max_header_list_size as usize > MAX_HEAD_BYTES {
        issues.at(
            &path.key("max_header_list_size"),
            format!(
                "{} is outside 1024..={MAX_HEAD_BYTES} bytes",
                h2.max_header_list_size
            ),
        );
    }
    if !(MIN_FRAME..=MAX_FRAME).contains(&h2.max_frame_size) {
        issues.at(
            &path.key("max_frame_size"),
            format!(
                "{} is outside {MIN_FRAME}..={MAX_FRAME} (RFC 9113 §6.5.2)",
                h2.max_frame_size
            ),
        );
    }
    for (key, value, min) in [
        ("stream_window", h2.stream_window, 1),
        // The connection window starts at 65,535 whatever the settings say.
        ("connection_window", h2.connection_window, 65_535),
    ] {
        if value < min || value > MAX_WINDOW {
            issues.at(
                &path.key(key),
                format!("{value} is outside {min}..={MAX_WINDOW} (RFC 9113 §6.9.1)"),
            );
        }
    }
    if h2.max_send_buffer < 1024 {
        issues.at(
            &path.key("max_send_buffer"),
            format!("{} is under 1024 bytes", h2.max_send_buffer),
        );
    }
    for (key, value) in [
        ("send_timeout", h2.send_timeout),
        ("preface_timeout", h2.preface_timeout),
        ("idle_timeout", h2.idle_timeout),
    ] {
        issues.positive_duration(&path.key(key), value, "");
    }
}

fn check_limits(issues: &mut Issues, limits: &Limits, path: &KeyPath) {
    let Limits {
        max_request_line,
        max_head_bytes,
        max_headers,
        max_body_bytes,
        max_chunk_line,
        header_read_timeout,
        keepalive_timeout,
        idle_buffer_hold: _, // 0 means the buffer is kept
        body_read_timeout,
        max_requests_per_connection: _, // 0 means no limit
        buffer_size,
        buffer_pool,
    } = *limits;
    for (key, value) in [
        ("max_request_line", max_request_line as u64),
        ("max_head_bytes", max_head_bytes as u64),
        ("max_headers", max_headers as u64),
        ("max_body_bytes", max_body_bytes),
        ("max_chunk_line", max_chunk_line as u64),
        ("buffer_pool", buffer_pool as u64),
    ] {
        issues.positive(&path.key(key), value, "");
    }
    for (key, value) in [
        ("header_read_timeout", header_read_timeout),
        ("keepalive_timeout", keepalive_timeout),
        ("body_read_timeout", body_read_timeout),
    ] {
        issues.positive_duration(&path.key(key), value, "");
    }
    if max_headers > HeadLimits::MAX_HEADERS_CAP {
        issues.at(
            &path.key("max_headers"),
            format!(
                "must be at most {} (the parser's header table); got {max_headers}",
                HeadLimits::MAX_HEADERS_CAP
            ),
        );
    }
    if max_head_bytes > MAX_HEAD_BYTES {
        issues.at(
            &path.key("max_head_bytes"),
            format!("must be at most {MAX_HEAD_BYTES} (1 MiB); got {max_head_bytes}"),
        );
    }
    if max_request_line > max_head_bytes {
        issues.at(
            &path.key("max_request_line"),
            format!(
                "{max_request_line} is more than max_head_bytes ({max_head_bytes}); the request line \
                 is part of the head"
            ),
        );
    }
    if !(MIN_BUFFER..=MAX_BUFFER).contains(&buffer_size) {
        issues.at(
            &path.key("buffer_size"),
            format!("must be from {MIN_BUFFER} to {MAX_BUFFER} bytes; got {buffer_size}"),
        );
    }
}

/// What one listener binds, for overlap checks: its IPs (two for `localhost`) and port.
#[derive(Debug, Clone)]
struct Bind {
    ips: Vec<IpAddr>,
    port: u16,
    index: usize,
    text: String,
}

impl Bind {
    fn overlaps(&self, other: &Bind) -> bool {
        self.port == other.port
            && self
                .ips
                .iter()
                .any(|a| other.ips.iter().any(|b| ips_overlap(*a, *b)))
    }
}

/// Two binds on the same port collide when the addresses are equal or one is a wildcard
/// that covers the other (`0.0.0.0` covers IPv4; `[::]` covers both families unless
/// IPV6_V6ONLY, which we do not assume).
fn ips_overlap(a: IpAddr, b: IpAddr) -> bool {
    let covers = |w: IpAddr, x: IpAddr| w.is_unspecified() && (w.is_ipv6() || x.is_ipv4());
    a == b || covers(a, b) || covers(b, a)
}

/// Parses a listen address: an IP literal or `localhost`, with a port. DNS names are not
/// allowed here: a bind address must not depend on a resolver at start-up.
fn parse_bind(addr: &str) -> Result<Bind, String> {
    let hp = parse_host_port(addr)?;
    let ips = match hp.ip {
        Some(ip) => vec![ip],
        None if hp.host.eq_ignore_ascii_case("localhost") => {
            vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]
        }
        None => {
            return Err(format!(
                "{addr:?}: a listen address needs an IP address or \"localhost\", not a host name \
                 (use \"0.0.0.0:{}\" for every IPv4 address)",
                hp.port
            ))
        }
    };
    Ok(Bind {
        ips,
        port: hp.port,
        index: 0,
        text: addr.to_owned(),
    })
}

fn check_listeners(issues: &mut Issues, config: &mut Config) -> Vec<Bind> {
    let root = KeyPath::root().key("listeners");
    if config.listeners.is_empty() {
        issues.at(
            &KeyPath::root(),
            "no listeners: add a [[listeners]] table with listen = \"127.0.0.1:8080\"",
        );
    }
    let mut binds: Vec<Bind> = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    for (i, listener) in config.listeners.iter_mut().enumerate() {
        let path = root.index(i);
        let label = if listener.name.is_empty() {
            format!("listener {}", i + 1)
        } else {
            format!("listener {} ({:?})", i + 1, listener.name)
        };
        if let Err(e) = check_name(&listener.name) {
            issues.at(&path.key("name"), format!("{label}: {e}"));
        }
        if listener.h2c && listener.tls.is_some() {
            issues.at(
                &path.key("h2c"),
                format!(
                    "{label}: h2c is cleartext HTTP/2; over TLS, HTTP/2 is offered by ALPN \
                     (list \"h2\" in tls.alpn) instead"
                ),
            );
        }
        let defaulted = listener.name.is_empty();
        if defaulted {
            listener.name = format!("listener-{}", i + 1);
        }
        if let Some(first) = names.insert(listener.name.clone(), i) {
            let msg = if defaulted {
                format!(
                    "{label}: its default name {:?} is taken by listener {}; give it a name",
                    listener.name,
                    first + 1
                )
            } else {
                format!(
                    "{label}: the name is already used by listener {}",
                    first + 1
                )
            };
            issues.at(
                &if defaulted {
                    path.clone()
                } else {
                    path.key("name")
                },
                msg,
            );
        }
        match parse_bind(&listener.listen) {
            Ok(mut bind) => {
                bind.index = i;
                if let Some(other) = binds.iter().find(|b| b.overlaps(&bind)) {
                    issues.at(
                        &path.key("listen"),
                        format!(
                            "{label}: {:?} overlaps listener {} ({:?}); each address and port may \
                             be bound once",
                            listener.listen,
                            other.index + 1,
                            other.text
                        ),
                    );
                }
                binds.push(bind);
            }
            Err(e) => issues.at(&path.key("listen"), format!("{label}: {e}")),
        }
        issues.positive(
            &path.key("backlog"),
            u64::from(listener.backlog),
            &format!("{label}: "),
        );
        issues.positive(
            &path.key("max_connections"),
            listener.max_connections as u64,
            &format!("{label}: "),
        );
    }
    binds
}

fn check_admin(issues: &mut Issues, listen: &str, listeners: &[Bind]) {
    if listen.is_empty() {
        return; // the admin listener is off
    }
    let path = KeyPath::root().key("admin").key("listen");
    match parse_bind(listen) {
        Ok(bind) => {
            if let Some(other) = listeners.iter().find(|b| b.overlaps(&bind)) {
                issues.at(
                    &path,
                    format!(
                        "{listen:?} overlaps listener {} ({:?}); the admin listener needs its own \
                         address or port",
                        other.index + 1,
                        other.text
                    ),
                );
            }
        }
        Err(e) => issues.at(
            &path,
            format!("{e}; or \"\" to turn the admin listener off"),
        ),
    }
}
