//! Opening a connection to an endpoint: the TCP connect, then the TLS handshake when the
//! cluster has TLS, both within one time limit (the cluster's `connect_timeout`, or less
//! when the caller's deadline is nearer). Failures are counted, reported to passive
//! health and logged here, so that the proxy and the LLM path treat them alike.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;

use super::Cluster;
use crate::tls::{self, Stream};

/// Why no connection could be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// Refused, unreachable, reset.
    Failed,
    /// The TCP connect or the TLS handshake did not finish in time.
    Timeout,
    /// The TLS handshake failed (the certificate did not verify, ...).
    Tls,
}

/// Connects to endpoint `ep` of `cluster` at `addr` within `limit`.
pub async fn open(
    cluster: &Cluster,
    ep: usize,
    addr: SocketAddr,
    limit: Duration,
) -> Result<Stream, ConnectError> {
    let deadline = Instant::now() + limit;
    let tcp = match monoio::time::timeout(limit, TcpStream::connect_addr(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            cluster.metrics.connect_failures.inc();
            cluster.report_failure(ep, Instant::now());
            tracing::debug!(cluster = %cluster.name, %addr, error = %e, "upstream connect failed");
            return Err(ConnectError::Failed);
        }
        Err(_) => {
            cluster.metrics.connect_failures.inc();
            cluster.metrics.timeouts.inc();
            cluster.report_failure(ep, Instant::now());
            return Err(ConnectError::Timeout);
        }
    };
    let _ = tcp.set_nodelay(true);
    let Some(tls) = &cluster.tls else {
        return Ok(Stream::Plain(tcp));
    };
    let left = deadline.saturating_duration_since(Instant::now());
    let failed = match monoio::time::timeout(left, tls::client::connect(tls, ep, tcp)).await {
        Ok(Ok(s)) => return Ok(s),
        Ok(Err(e)) => {
            tracing::warn!(cluster = %cluster.name, %addr, error = %e, "upstream TLS handshake failed");
            ConnectError::Tls
        }
        Err(_) => {
            cluster.metrics.timeouts.inc();
            ConnectError::Timeout
        }
    };
    cluster.metrics.connect_failures.inc();
    cluster.metrics.tls_failures.inc();
    cluster.report_failure(ep, Instant::now());
    Err(failed)
}
