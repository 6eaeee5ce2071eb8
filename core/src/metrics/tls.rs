//! TLS termination metrics, per worker (single writer, merged at scrape):
//! `tollgate_tls_handshakes_total{version,kind}` (`kind` is `full` or `resumed`) and
//! `tollgate_tls_handshake_failures_total{reason}`.

use std::fmt::Write;
use std::sync::Arc;

use super::{Counter, WorkerMetrics};

/// Why a client's handshake failed: the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFailure {
    /// No complete handshake within `handshake_timeout` (a client that says nothing).
    Timeout,
    /// The client closed the connection during the handshake.
    Closed,
    /// The first bytes were not a TLS handshake (plain HTTP to a TLS port).
    NotTls,
    /// A socket error.
    Io,
    /// mTLS: the client sent no certificate where one is required.
    NoClientCertificate,
    /// mTLS: the client's certificate did not verify.
    BadClientCertificate,
    /// The client sent an alert (it refused our certificate, say).
    AlertReceived,
    /// No version, cipher suite, key exchange or signature scheme in common.
    Incompatible,
    /// The client offered ALPN protocols and none is served here.
    NoAlpn,
    /// A malformed or unexpected message.
    Protocol,
    Other,
}

impl TlsFailure {
    const ALL: [TlsFailure; 11] = [
        TlsFailure::Timeout,
        TlsFailure::Closed,
        TlsFailure::NotTls,
        TlsFailure::Io,
        TlsFailure::NoClientCertificate,
        TlsFailure::BadClientCertificate,
        TlsFailure::AlertReceived,
        TlsFailure::Incompatible,
        TlsFailure::NoAlpn,
        TlsFailure::Protocol,
        TlsFailure::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TlsFailure::Timeout => "timeout",
            TlsFailure::Closed => "closed",
            TlsFailure::NotTls => "not_tls",
            TlsFailure::Io => "io",
            TlsFailure::NoClientCertificate => "no_client_certificate",
            TlsFailure::BadClientCertificate => "bad_client_certificate",
            TlsFailure::AlertReceived => "alert_received",
            TlsFailure::Incompatible => "incompatible",
            TlsFailure::NoAlpn => "no_alpn",
            TlsFailure::Protocol => "protocol_error",
            TlsFailure::Other => "other",
        }
    }
}

#[derive(Debug, Default)]
pub struct TlsMetrics {
    /// `[TLS 1.3?][resumed?]`.
    handshakes: [[Counter; 2]; 2],
    failures: [Counter; TlsFailure::ALL.len()],
}

impl TlsMetrics {
    pub fn handshake(&self, tls13: bool, resumed: bool) {
        self.handshakes[tls13 as usize][resumed as usize].inc();
    }

    pub fn failed(&self, reason: TlsFailure) {
        self.failures[reason as usize].inc();
    }

    /// Completed handshakes, every version and kind.
    pub fn handshakes(&self) -> u64 {
        self.handshakes.iter().flatten().map(Counter::get).sum()
    }

    pub fn failures(&self, reason: TlsFailure) -> u64 {
        self.failures[reason as usize].get()
    }
}

pub(super) fn render(workers: &[Arc<WorkerMetrics>], w: &mut String) {
    let _ = writeln!(
        w,
        "# HELP tollgate_tls_handshakes_total Completed client TLS handshakes by version and kind."
    );
    let _ = writeln!(w, "# TYPE tollgate_tls_handshakes_total counter");
    for (v, version) in ["1.2", "1.3"].iter().enumerate() {
        for (k, kind) in ["full", "resumed"].iter().enumerate() {
            let n: u64 = workers.iter().map(|m| m.tls.handshakes[v][k].get()).sum();
            let _ = writeln!(
                w,
                "tollgate_tls_handshakes_total{{version=\"{version}\",kind=\"{kind}\"}} {n}"
            );
        }
    }
    let _ = writeln!(
        w,
        "# HELP tollgate_tls_handshake_failures_total Client TLS handshakes that failed, by reason."
    );
    let _ = writeln!(w, "# TYPE tollgate_tls_handshake_failures_total counter");
    for reason in TlsFailure::ALL {
        let n: u64 = workers
            .iter()
            .map(|m| m.tls.failures[reason as usize].get())
            .sum();
        let _ = writeln!(
            w,
            "tollgate_tls_handshake_failures_total{{reason=\"{}\"}} {n}",
            reason.as_str()
        );
    }
}
