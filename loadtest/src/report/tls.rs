//! The TLS part of the report: handshakes (full and resumed), handshakes per second, and
//! handshake time, so that "TLS handshakes per second per core" can be read off a run with
//! `--close` (a handshake per request) and `--threads`.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::text::fmt_us;
use super::Summary;
use crate::load::tls::TlsRecord;

/// How TLS was set up (part of [`super::Meta`]).
#[derive(Debug, Clone, Serialize)]
pub struct TlsMeta {
    /// ALPN ids offered, in order (empty: no ALPN extension).
    pub alpn_offered: Vec<String>,
    /// Session resumption on (`--no-resume` turns it off).
    pub resumption: bool,
    /// Certificates verified (false with `--insecure`).
    pub verified: bool,
}

/// TLS figures of a run.
#[derive(Debug, Clone, Serialize)]
pub struct TlsReport {
    /// Completed handshakes.
    pub handshakes: u64,
    /// Full handshakes.
    pub full: u64,
    /// Resumed (abbreviated) handshakes.
    pub resumed: u64,
    /// Failed handshakes (each also counts as a `tls` error).
    pub failed: u64,
    /// Completed handshakes per second of the run.
    pub handshakes_per_s: f64,
    /// Handshake time, all handshakes, µs (ClientHello sent to handshake done).
    pub handshake_us: Summary,
    /// Full handshakes' time, µs.
    pub full_handshake_us: Summary,
    /// Resumed handshakes' time, µs.
    pub resumed_handshake_us: Summary,
    /// Handshakes by negotiated version.
    pub versions: BTreeMap<String, u64>,
    /// Handshakes by negotiated ALPN id.
    pub alpn: BTreeMap<String, u64>,
    /// The first failure's message.
    pub first_error: Option<String>,
}

impl TlsReport {
    /// Summarises `r` over `secs` seconds.
    pub fn build(r: &TlsRecord, secs: f64) -> TlsReport {
        TlsReport {
            handshakes: r.handshakes,
            full: r.handshakes - r.resumed,
            resumed: r.resumed,
            failed: r.failed,
            handshakes_per_s: r.handshakes as f64 / secs.max(1e-9),
            handshake_us: Summary::of(&r.time),
            full_handshake_us: Summary::of(&r.full_time),
            resumed_handshake_us: Summary::of(&r.resumed_time),
            versions: r.versions.clone(),
            alpn: r.alpn.clone(),
            first_error: r.first_error.clone(),
        }
    }

    /// The report's TLS lines.
    pub fn to_text(&self, meta: &TlsMeta, out: &mut String) {
        let join = |m: &BTreeMap<String, u64>| {
            let v: Vec<String> = m.iter().map(|(k, n)| format!("{k}={n}")).collect();
            if v.is_empty() {
                "-".into()
            } else {
                v.join(" ")
            }
        };
        let _ = writeln!(
            out,
            "  tls handshakes {} ({} full, {} resumed, {} failed), {:.1} handshakes/s; \
             resumption {}, alpn offered {}",
            self.handshakes,
            self.full,
            self.resumed,
            self.failed,
            self.handshakes_per_s,
            if meta.resumption { "on" } else { "off" },
            if meta.alpn_offered.is_empty() {
                "none".into()
            } else {
                meta.alpn_offered.join(",")
            }
        );
        let _ = writeln!(
            out,
            "  tls versions {}, alpn {}{}",
            join(&self.versions),
            join(&self.alpn),
            if meta.verified {
                ""
            } else {
                " (certificates NOT verified: --insecure)"
            }
        );
        for (name, s) in [
            ("handshake", &self.handshake_us),
            ("  full", &self.full_handshake_us),
            ("  resumed", &self.resumed_handshake_us),
        ] {
            if s.count > 0 {
                let _ = writeln!(
                    out,
                    "  {name:<18} p50 {:>9}  p90 {:>9}  p99 {:>9}  max {:>9}  (n={})",
                    fmt_us(s.p50),
                    fmt_us(s.p90),
                    fmt_us(s.p99),
                    fmt_us(s.max),
                    s.count
                );
            }
        }
        if let Some(e) = &self.first_error {
            let _ = writeln!(out, "  first tls failure: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::client::Handshake;
    use std::time::Duration;

    #[test]
    fn counts_and_rates() {
        let mut r = TlsRecord::default();
        for (resumed, ms) in [(false, 4), (true, 1), (true, 1)] {
            r.done(&Handshake {
                resumed,
                time: Duration::from_millis(ms),
                version: Some(rustls::ProtocolVersion::TLSv1_3),
                alpn: Some(b"h2".to_vec()),
            });
        }
        r.failed("untrusted");
        r.failed("second");
        let rep = TlsReport::build(&r, 2.0);
        assert_eq!(
            (rep.handshakes, rep.full, rep.resumed, rep.failed),
            (3, 1, 2, 2)
        );
        assert_eq!(rep.handshakes_per_s, 1.5);
        assert_eq!(rep.versions["TLSv1.3"], 3);
        assert_eq!(rep.alpn["h2"], 3);
        assert_eq!(rep.first_error.as_deref(), Some("untrusted"));
        assert!(rep.full_handshake_us.p50.abs_diff(4000) < 10);
        let meta = TlsMeta {
            alpn_offered: vec!["h2".into()],
            resumption: true,
            verified: true,
        };
        let mut text = String::new();
        rep.to_text(&meta, &mut text);
        assert!(text.contains("1.5 handshakes/s") && text.contains("2 resumed"));
    }
}
