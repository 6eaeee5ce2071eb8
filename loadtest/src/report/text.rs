//! The report as text for a terminal.

use std::fmt::Write;

use super::{Report, Summary};

/// Formats microseconds with a unit that keeps three figures readable.
pub fn fmt_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.2}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

fn line(out: &mut String, name: &str, s: &Summary) {
    let _ = writeln!(
        out,
        "  {name:<18} p50 {:>9}  p90 {:>9}  p99 {:>9}  p99.9 {:>9}  max {:>9}  (n={})",
        fmt_us(s.p50),
        fmt_us(s.p90),
        fmt_us(s.p99),
        fmt_us(s.p999),
        fmt_us(s.max),
        s.count
    );
}

impl Report {
    /// The report for a terminal.
    pub fn to_text(&self) -> String {
        let m = &self.meta;
        let mut o = String::new();
        let mode = match m.rate {
            Some(r) => format!("open loop at {r} req/s"),
            None => "closed loop".to_string(),
        };
        let proto = match (m.protocol.starts_with("h2"), m.tls.is_some()) {
            (true, _) => format!("{} x{} streams, ", m.protocol, m.streams),
            (false, true) => format!("{} over tls, ", m.protocol),
            (false, false) => String::new(),
        };
        let _ = writeln!(
            o,
            "{} {}  ({mode}, {proto}{} connections, {} threads, {})",
            m.method, m.url, m.connections, m.threads, m.driver
        );
        let _ = writeln!(
            o,
            "  elapsed {:.2}s, {} connections opened",
            m.elapsed_s, self.connections_opened
        );
        let _ = writeln!(
            o,
            "  sent {}  ok {}  errors {}",
            self.sent, self.ok, self.errors_total
        );
        let _ = writeln!(
            o,
            "  throughput {:.1} responses/s ({:.1} ok/s), {:.2} MiB body",
            self.responses_per_s,
            self.ok_per_s,
            self.body_bytes as f64 / 1048576.0
        );
        let latency_name = if m.rate.is_some() {
            "latency (intended)"
        } else {
            "latency"
        };
        line(&mut o, latency_name, &self.latency_us);
        line(&mut o, "ttfb", &self.ttfb_us);
        if let (Some(t), Some(tm)) = (&self.tls, &m.tls) {
            t.to_text(tm, &mut o);
        }
        if let Some(ol) = &self.open_loop {
            line(&mut o, "service (actual)", &ol.service_us);
            let _ = writeln!(o, "  open loop: target {:.1} req/s, sent {:.1} req/s, {} late sends (>1ms), max lag {}", ol.target_rate, ol.sent_rate, ol.late_sends, fmt_us(ol.max_lag_us));
            if !ol.kept_up {
                let _ = writeln!(o, "  WARNING: could not keep up with the rate; raise -c or --threads, or lower --rate");
            }
        }
        if let Some(s) = &self.sse {
            let _ = writeln!(
                o,
                "  streams {} ({} finished), {} token events",
                s.streams, s.finished, s.token_events
            );
            line(&mut o, "stream ttfb", &s.ttfb_us);
            line(&mut o, "ttft", &s.ttft_us);
            line(&mut o, "inter-token", &s.inter_token_us);
            let _ = writeln!(
                o,
                "  events/stream p50 {} max {}, bytes/stream p50 {} max {}",
                s.events_per_stream.p50,
                s.events_per_stream.max,
                s.bytes_per_stream.p50,
                s.bytes_per_stream.max
            );
            let _ = writeln!(
                o,
                "  usage reported by {} streams: {} input tokens, {} output tokens",
                s.streams_with_usage, s.input_tokens, s.output_tokens
            );
        }
        let status: Vec<String> = self
            .status
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            o,
            "  status: {}",
            if status.is_empty() {
                "-".into()
            } else {
                status.join(" ")
            }
        );
        let errs: Vec<String> = self
            .errors
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            o,
            "  errors: {}",
            if errs.is_empty() {
                "none".into()
            } else {
                errs.join(" ")
            }
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(fmt_us(999), "999µs");
        assert_eq!(fmt_us(1500), "1.50ms");
        assert_eq!(fmt_us(2_500_000), "2.50s");
    }
}
