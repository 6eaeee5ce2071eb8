//! Checks for `[[clusters]]`: names, endpoints, load balancing, timeouts, the pool,
//! passive and active health, retries, the protocol and its HTTP/2 settings.

use std::collections::HashMap;

use super::locate::KeyPath;
use super::syntax::{check_field_value, check_name, check_path, check_token, parse_host_port};
use super::Issues;
use crate::config::{
    Cluster, ClusterHttp2, HealthCheck, LbPolicy, PassiveHealth, Pool, Protocol, Retry,
};

/// Most retries after the first attempt; beyond it a retry storm is a config bug.
const MAX_RETRY_ATTEMPTS: u32 = 10;
/// HTTP/2's bounds on a frame size (RFC 9113 §6.5.2) and on a window (§6.9.1).
const H2_MIN_FRAME: u32 = 16_384;
const H2_MAX_FRAME: u32 = 16_777_215;
const H2_MAX_WINDOW: u32 = (1 << 31) - 1;
/// Largest endpoint weight. Weights are relative, and the consistent-hash ring holds a
/// fixed number of points per unit of weight, so an unbounded weight is unbounded memory.
const MAX_WEIGHT: u32 = 1000;

pub(super) fn check(issues: &mut Issues, clusters: &[Cluster]) {
    let root = KeyPath::root().key("clusters");
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, cluster) in clusters.iter().enumerate() {
        let path = root.index(i);
        let label = if cluster.name.is_empty() {
            format!("cluster {}: ", i + 1)
        } else {
            format!("cluster {:?}: ", cluster.name)
        };
        if cluster.name.is_empty() {
            issues.at(
                &path.key("name"),
                format!("{label}the name is empty; routes refer to clusters by name"),
            );
        } else if let Err(e) = check_name(&cluster.name) {
            issues.at(&path.key("name"), format!("{label}{e}"));
        } else if let Some(first) = names.insert(&cluster.name, i) {
            issues.at(
                &path.key("name"),
                format!(
                    "{label}the name is already used by cluster {} (clusters[{first}])",
                    first + 1
                ),
            );
        }
        check_endpoints(issues, cluster, &path, &label);
        check_hash_on(issues, cluster, &path, &label);
        for (key, value) in [
            ("connect_timeout", cluster.connect_timeout),
            ("first_byte_timeout", cluster.first_byte_timeout),
            ("idle_timeout", cluster.idle_timeout),
            ("dns_refresh", cluster.dns_refresh),
        ] {
            issues.positive_duration(&path.key(key), value, &label);
        }
        check_pool(issues, &cluster.pool, &path.key("pool"), &label);
        check_passive_health(
            issues,
            &cluster.passive_health,
            &path.key("passive_health"),
            &label,
        );
        if let Some(hc) = &cluster.health_check {
            check_health_check(issues, hc, &path.key("health_check"), &label);
            // The control thread's checks are blocking HTTP/1.1 exchanges (health.rs).
            if matches!(cluster.protocol, Protocol::H2 | Protocol::H2c) {
                issues.at(
                    &path.key("health_check"),
                    format!(
                        "{label}active health checks speak HTTP/1.1, which a protocol = \"{}\" \
                         endpoint may not; remove health_check (passive health still ejects \
                         failing endpoints) or use protocol = \"auto\"",
                        cluster.protocol.as_str()
                    ),
                );
            }
        }
        check_retry(issues, &cluster.retry, &path.key("retry"), &label);
        check_protocol(issues, cluster, &path, &label);
    }
}

/// The protocol must fit the transport: HTTP/2 over TLS (`h2`, `auto`) needs the tls
/// table, cleartext HTTP/2 (`h2c`) must not have it.
fn check_protocol(issues: &mut Issues, cluster: &Cluster, path: &KeyPath, label: &str) {
    let at = path.key("protocol");
    match (cluster.protocol, cluster.tls.is_some()) {
        (Protocol::H2 | Protocol::Auto, false) => issues.at(
            &at,
            format!(
                "{label}protocol = \"{}\" is HTTP/2 over TLS and needs a [clusters.tls] table; \
                 for cleartext HTTP/2 (prior knowledge) use protocol = \"h2c\"",
                cluster.protocol.as_str()
            ),
        ),
        (Protocol::H2c, true) => issues.at(
            &at,
            format!(
                "{label}protocol = \"h2c\" is cleartext HTTP/2, but the cluster has a \
                 [clusters.tls] table; over TLS use protocol = \"h2\" (or \"auto\")"
            ),
        ),
        _ => {}
    }
    check_http2(issues, &cluster.http2, &path.key("http2"), label);
}

fn check_http2(issues: &mut Issues, h2: &ClusterHttp2, path: &KeyPath, label: &str) {
    for (key, value) in [
        (
            "max_concurrent_streams",
            u64::from(h2.max_concurrent_streams),
        ),
        ("max_header_list_size", u64::from(h2.max_header_list_size)),
        ("max_send_buffer", h2.max_send_buffer as u64),
    ] {
        issues.positive(&path.key(key), value, label);
    }
    if !(H2_MIN_FRAME..=H2_MAX_FRAME).contains(&h2.max_frame_size) {
        issues.at(
            &path.key("max_frame_size"),
            format!(
                "{label}http2.max_frame_size must be from {H2_MIN_FRAME} to {H2_MAX_FRAME} \
                 (RFC 9113 §6.5.2); got {}",
                h2.max_frame_size
            ),
        );
    }
    for (key, value) in [
        ("stream_window", h2.stream_window),
        ("connection_window", h2.connection_window),
    ] {
        if value == 0 || value > H2_MAX_WINDOW {
            issues.at(
                &path.key(key),
                format!(
                    "{label}http2.{key} must be from 1 to {H2_MAX_WINDOW} (2^31-1, RFC 9113 \
                     §6.9.1); got {value}"
                ),
            );
        }
    }
}

fn check_endpoints(issues: &mut Issues, cluster: &Cluster, path: &KeyPath, label: &str) {
    let endpoints_path = path.key("endpoints");
    if cluster.endpoints.is_empty() {
        issues.at(
            &endpoints_path,
            format!("{label}needs at least one endpoint (\"host:port\")"),
        );
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (j, endpoint) in cluster.endpoints.iter().enumerate() {
        let at = endpoints_path.index(j);
        let address = endpoint.address();
        if let Err(e) = parse_host_port(address) {
            issues.at(&at, format!("{label}endpoint {e}"));
        } else if let Some(first) = seen.insert(address, j) {
            issues.at(
                &at,
                format!(
                    "{label}endpoint {address:?} is listed twice (also endpoints[{first}]); give it \
                     a higher weight instead"
                ),
            );
        }
        if !(1..=MAX_WEIGHT).contains(&endpoint.weight()) {
            issues.at(
                &at,
                format!(
                    "{label}endpoint {address:?}: weight must be from 1 to {MAX_WEIGHT} (weights \
                     are relative); got {}",
                    endpoint.weight()
                ),
            );
        }
    }
}

fn check_hash_on(issues: &mut Issues, cluster: &Cluster, path: &KeyPath, label: &str) {
    let consistent = cluster.lb == LbPolicy::ConsistentHash;
    match (&cluster.hash_on, consistent) {
        (None, true) => issues.at(
            &path.key("lb"),
            format!(
                "{label}lb = \"consistent_hash\" needs hash_on: \"client_ip\", \"header:NAME\" or \
                 \"cookie:NAME\""
            ),
        ),
        (Some(_), false) => issues.at(
            &path.key("hash_on"),
            format!("{label}hash_on is only used with lb = \"consistent_hash\""),
        ),
        (Some(on), true) => {
            let result = match on.split_once(':') {
                None if on == "client_ip" => Ok(()),
                Some(("header", name)) => check_token(name, "header name"),
                Some(("cookie", name)) => check_token(name, "cookie name"),
                _ => Err(format!(
                    "{on:?} is not one of \"client_ip\", \"header:NAME\", \"cookie:NAME\""
                )),
            };
            if let Err(e) = result {
                issues.at(&path.key("hash_on"), format!("{label}hash_on: {e}"));
            }
        }
        (None, false) => {}
    }
}

fn check_pool(issues: &mut Issues, pool: &Pool, path: &KeyPath, label: &str) {
    issues.positive(
        &path.key("max_per_endpoint"),
        pool.max_per_endpoint as u64,
        label,
    );
    if pool.max_idle > pool.max_per_endpoint {
        issues.at(
            &path.key("max_idle"),
            format!(
                "{label}pool.max_idle ({}) is more than pool.max_per_endpoint ({})",
                pool.max_idle, pool.max_per_endpoint
            ),
        );
    }
    issues.positive_duration(&path.key("idle_expiry"), pool.idle_expiry, label);
}

fn check_passive_health(issues: &mut Issues, ph: &PassiveHealth, path: &KeyPath, label: &str) {
    if ph.consecutive_failures == 0 {
        return; // off: the ejection times are unused
    }
    issues.positive_duration(&path.key("base_ejection"), ph.base_ejection, label);
    if ph.max_ejection < ph.base_ejection {
        issues.at(
            &path.key("max_ejection"),
            format!("{label}max_ejection must not be shorter than base_ejection"),
        );
    }
}

fn check_health_check(issues: &mut Issues, hc: &HealthCheck, path: &KeyPath, label: &str) {
    if let Err(e) = check_path(&hc.path) {
        issues.at(&path.key("path"), format!("{label}health_check.path {e}"));
    }
    issues.positive_duration(&path.key("interval"), hc.interval, label);
    issues.positive_duration(&path.key("timeout"), hc.timeout, label);
    if !hc.interval.get().is_zero() && hc.timeout > hc.interval {
        issues.at(
            &path.key("timeout"),
            format!("{label}health_check.timeout must not be longer than its interval"),
        );
    }
    issues.positive(
        &path.key("healthy_threshold"),
        u64::from(hc.healthy_threshold),
        label,
    );
    issues.positive(
        &path.key("unhealthy_threshold"),
        u64::from(hc.unhealthy_threshold),
        label,
    );
    let [low, high] = hc.expected_status;
    if !(100..=599).contains(&low) || !(100..=599).contains(&high) || low > high {
        issues.at(
            &path.key("expected_status"),
            format!(
                "{label}expected_status [{low}, {high}] must be [low, high] with 100 <= low <= high \
                 <= 599"
            ),
        );
    }
    if let Some(host) = &hc.host {
        let result = if host.is_empty() {
            Err("is empty".to_owned())
        } else {
            check_field_value(host)
        };
        if let Err(e) = result {
            issues.at(&path.key("host"), format!("{label}health_check.host {e}"));
        }
    }
}

fn check_retry(issues: &mut Issues, retry: &Retry, path: &KeyPath, label: &str) {
    if retry.attempts > MAX_RETRY_ATTEMPTS {
        issues.at(
            &path.key("attempts"),
            format!(
                "{label}retry.attempts must be at most {MAX_RETRY_ATTEMPTS}; got {}",
                retry.attempts
            ),
        );
    }
    if !(0.0..=1.0).contains(&retry.budget_ratio) {
        issues.at(
            &path.key("budget_ratio"),
            format!(
                "{label}retry.budget_ratio must be from 0.0 to 1.0 (a fraction of requests); got {}",
                retry.budget_ratio
            ),
        );
    }
    issues.positive_duration(&path.key("budget_window"), retry.budget_window, label);
    for (k, status) in retry.on_status.iter().enumerate() {
        if !matches!(status, 408 | 425 | 429 | 500..=599) {
            issues.at(
                &path.key("on_status").index(k),
                format!(
                    "{label}retry.on_status {status} is not retryable; use 5xx, or 408, 425, 429 \
                     (other 4xx would fail again)"
                ),
            );
        }
    }
}
