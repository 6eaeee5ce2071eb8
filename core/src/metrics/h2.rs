//! HTTP/2 client-connection metrics, per worker (single writer, merged at scrape):
//! - `tollgate_http2_connections_total`, `tollgate_http2_streams_total`;
//! - `tollgate_http2_client_resets_total`: streams reset before their response began,
//!   by the client or by h2 for the client's protocol errors (their upstream work is
//!   cancelled);
//! - `tollgate_http2_floods_total{frame}`: connections closed with GOAWAY
//!   ENHANCE_YOUR_CALM because a frame budget (`http2.flood.<frame>`) was exceeded;
//! - `tollgate_http2_connection_errors_total{reason}`: connections that ended with an
//!   error: `preface_timeout`, `limits` (h2's own abuse limits: GOAWAY
//!   ENHANCE_YOUR_CALM for too many resets before accept or for the client's errors,
//!   CONTINUATION runs, header blocks far too large), `protocol` (any other protocol
//!   error), `io`.

use std::fmt::Write;
use std::sync::Arc;

use tollgate_proto::h2::FrameKind;

use super::{Counter, WorkerMetrics};

const FRAMES: [FrameKind; 8] = [
    FrameKind::Settings,
    FrameKind::Ping,
    FrameKind::Priority,
    FrameKind::WindowUpdate,
    FrameKind::EmptyFrame,
    FrameKind::RstStream,
    FrameKind::NewStream,
    FrameKind::Continuation,
];

/// Why an HTTP/2 connection ended in error: the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H2Error {
    PrefaceTimeout,
    Limits,
    Protocol,
    Io,
}

impl H2Error {
    const ALL: [H2Error; 4] = [
        H2Error::PrefaceTimeout,
        H2Error::Limits,
        H2Error::Protocol,
        H2Error::Io,
    ];

    fn as_str(self) -> &'static str {
        match self {
            H2Error::PrefaceTimeout => "preface_timeout",
            H2Error::Limits => "limits",
            H2Error::Protocol => "protocol",
            H2Error::Io => "io",
        }
    }
}

#[derive(Debug, Default)]
pub struct H2Metrics {
    pub connections: Counter,
    pub streams: Counter,
    pub client_resets: Counter,
    floods: [Counter; FRAMES.len()],
    errors: [Counter; H2Error::ALL.len()],
}

impl H2Metrics {
    pub fn flood(&self, kind: FrameKind) {
        self.floods[kind as usize].inc();
    }

    pub fn error(&self, reason: H2Error) {
        self.errors[reason as usize].inc();
    }

    pub fn floods(&self, kind: FrameKind) -> u64 {
        self.floods[kind as usize].get()
    }
}

pub(super) fn render(workers: &[Arc<WorkerMetrics>], w: &mut String) {
    let sum = |f: &dyn Fn(&H2Metrics) -> u64| -> u64 { workers.iter().map(|m| f(&m.h2)).sum() };
    for (name, help, n) in [
        (
            "tollgate_http2_connections_total",
            "Client connections that spoke HTTP/2.",
            sum(&|m| m.connections.get()),
        ),
        (
            "tollgate_http2_streams_total",
            "HTTP/2 request streams accepted.",
            sum(&|m| m.streams.get()),
        ),
        (
            "tollgate_http2_client_resets_total",
            "HTTP/2 streams reset (by the client, or for its protocol errors) before their response began.",
            sum(&|m| m.client_resets.get()),
        ),
    ] {
        let _ = writeln!(w, "# HELP {name} {help}");
        let _ = writeln!(w, "# TYPE {name} counter");
        let _ = writeln!(w, "{name} {n}");
    }
    let _ = writeln!(
        w,
        "# HELP tollgate_http2_floods_total HTTP/2 connections closed (GOAWAY ENHANCE_YOUR_CALM) for exceeding a frame budget."
    );
    let _ = writeln!(w, "# TYPE tollgate_http2_floods_total counter");
    for kind in FRAMES {
        let n = sum(&|m| m.floods[kind as usize].get());
        let _ = writeln!(
            w,
            "tollgate_http2_floods_total{{frame=\"{}\"}} {n}",
            kind.key()
        );
    }
    let _ = writeln!(
        w,
        "# HELP tollgate_http2_connection_errors_total HTTP/2 connections that ended in error, by reason."
    );
    let _ = writeln!(w, "# TYPE tollgate_http2_connection_errors_total counter");
    for reason in H2Error::ALL {
        let n = sum(&|m| m.errors[reason as usize].get());
        let _ = writeln!(
            w,
            "tollgate_http2_connection_errors_total{{reason=\"{}\"}} {n}",
            reason.as_str()
        );
    }
}
