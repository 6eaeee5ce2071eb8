//! The control thread's upstream duties: re-resolving DNS names and active health
//! checks (over TLS for a cluster with TLS, verified as requests are). Both run off the
//! workers (blocking calls are fine here) and publish into the shared cluster tables,
//! which workers read on their tick.
#![allow(clippy::disallowed_types)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::HealthCheck;
use crate::runtime::Control;
use crate::tls::ClusterTls;

#[derive(Default)]
struct CheckState {
    next: Option<Instant>,
    successes: u32,
    failures: u32,
}

/// Runs until the process exits: every 100 ms, resolve the names that are due and run
/// the health checks that are due.
pub fn spawn_control_loop(control: Arc<Control>) -> std::io::Result<()> {
    std::thread::Builder::new().name("tollgate-control".into()).spawn(move || {
        let mut checks: HashMap<(String, String), CheckState> = HashMap::new();
        let mut next_dns: HashMap<String, Instant> = HashMap::new();
        loop {
            let gen = control.generation();
            let now = Instant::now();
            for (i, (cfg, shared)) in gen.config.clusters.iter().zip(gen.clusters.iter()).enumerate() {
                let tls = gen.tls.clusters.get(i).and_then(Option::as_ref);
                let due = next_dns.entry(cfg.name.clone()).or_insert(now + cfg.dns_refresh.get());
                if now >= *due {
                    *due = now + cfg.dns_refresh.get();
                    for ep in &shared.endpoints {
                        if !ep.is_literal() {
                            ep.resolve();
                        }
                    }
                }
                let Some(hc) = &cfg.health_check else { continue };
                for ep in &shared.endpoints {
                    let st = checks.entry((cfg.name.clone(), ep.spec.clone())).or_default();
                    if st.next.is_some_and(|t| now < t) {
                        continue;
                    }
                    st.next = Some(now + hc.interval.get());
                    let addrs = ep.addrs();
                    let ok = addrs.first().is_some_and(|a| check_once(*a, &ep.spec, hc, tls.map(|t| &**t)));
                    if ok {
                        st.successes += 1;
                        st.failures = 0;
                        if st.successes >= hc.healthy_threshold && ep.active_down.swap(false, Ordering::Relaxed) {
                            tracing::info!(cluster = %cfg.name, endpoint = %ep.spec, "health check: endpoint up");
                        }
                    } else {
                        st.failures += 1;
                        st.successes = 0;
                        if st.failures >= hc.unhealthy_threshold && !ep.active_down.swap(true, Ordering::Relaxed) {
                            tracing::warn!(cluster = %cfg.name, endpoint = %ep.spec, "health check: endpoint down");
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })?;
    Ok(())
}

/// One blocking `GET path` with the check's time-out; healthy when the status is in the
/// expected range.
fn check_once(
    addr: std::net::SocketAddr,
    spec: &str,
    hc: &HealthCheck,
    tls: Option<&ClusterTls>,
) -> bool {
    let t = hc.timeout.get();
    let Ok(s) = TcpStream::connect_timeout(&addr, t) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(t));
    let _ = s.set_write_timeout(Some(t));
    let host = hc.host.as_deref().unwrap_or(spec);
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tollgate-health\r\nConnection: close\r\n\r\n",
        hc.path
    );
    match tls {
        None => exchange(s, &req, hc),
        // The handshake runs within the socket's time-outs, on the first write.
        Some(tls) => match tls.blocking_session(spec) {
            Ok(session) => exchange(rustls::StreamOwned::new(session, s), &req, hc),
            Err(_) => false,
        },
    }
}

/// Sends the check request and reads the status line.
fn exchange<S: Read + Write>(mut s: S, req: &str, hc: &HealthCheck) -> bool {
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match s.read(&mut buf[n..]) {
            Ok(0) | Err(_) => return false,
            Ok(k) => n += k,
        }
    }
    // "HTTP/1.1 200"
    let status = std::str::from_utf8(&buf[9..12])
        .ok()
        .and_then(|s| s.parse::<u16>().ok());
    status.is_some_and(|s| s >= hc.expected_status[0] && s <= hc.expected_status[1])
}
