//! The figures of a run, as one serialisable [`Report`] built from the merged recorder,
//! and its renderings: text ([`text`]), JSON (serde), HTML with inline SVG ([`html`]).
//!
//! All times are microseconds. `sent == ok + errors_total` is checked when building.

pub mod html;
pub mod text;
pub mod tls;

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::load::recorder::{ErrorKind, Recorder};

/// How the run was set up.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// Target URL.
    pub url: String,
    /// Method.
    pub method: String,
    /// Connections (open loop: the most).
    pub connections: usize,
    /// Worker threads.
    pub threads: usize,
    /// `http/1.1`, `h2c` (cleartext HTTP/2) or `h2` (HTTP/2 over TLS).
    pub protocol: String,
    /// TLS set-up, for `https://` targets.
    pub tls: Option<tls::TlsMeta>,
    /// HTTP/2 streams per connection (1 for HTTP/1.1).
    pub streams: usize,
    /// I/O driver.
    pub driver: String,
    /// Open-loop rate, requests/s.
    pub rate: Option<f64>,
    /// `-d`, seconds.
    pub duration_limit_s: Option<f64>,
    /// `-n`.
    pub request_limit: Option<u64>,
    /// Wall time of the run, seconds.
    pub elapsed_s: f64,
}

/// Summary of a histogram.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Summary {
    /// Values recorded.
    pub count: u64,
    /// Smallest.
    pub min: u64,
    /// Mean.
    pub mean: f64,
    /// 50th percentile.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

impl Summary {
    /// Summarises `h` (all zero when empty).
    pub fn of(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            min: h.min(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// Event-stream figures.
#[derive(Debug, Clone, Serialize)]
pub struct SseReport {
    /// Streams seen.
    pub streams: u64,
    /// Streams that reached their end marker.
    pub finished: u64,
    /// Time to first byte (response head), µs.
    pub ttfb_us: Summary,
    /// Time to first token event, µs.
    pub ttft_us: Summary,
    /// Gap between token events (time per output token), µs.
    pub inter_token_us: Summary,
    /// Events per stream.
    pub events_per_stream: Summary,
    /// Body bytes per stream.
    pub bytes_per_stream: Summary,
    /// Token events over all streams.
    pub token_events: u64,
    /// Streams that reported usage.
    pub streams_with_usage: u64,
    /// Sum of reported input (prompt) tokens.
    pub input_tokens: u64,
    /// Sum of reported output (completion) tokens.
    pub output_tokens: u64,
}

/// Open-loop figures.
#[derive(Debug, Clone, Serialize)]
pub struct OpenLoop {
    /// Asked rate, requests/s.
    pub target_rate: f64,
    /// Achieved send rate, requests/s.
    pub sent_rate: f64,
    /// Sends more than 1 ms behind schedule.
    pub late_sends: u64,
    /// Largest send lag, µs.
    pub max_lag_us: u64,
    /// False when more than 1% of sends were late or the send rate fell 5% short.
    pub kept_up: bool,
    /// Time from the actual send, µs (the latency above counts from the intended time).
    pub service_us: Summary,
}

/// One second of the run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Second {
    /// Second index from the start.
    pub t: usize,
    /// Successes completed in it.
    pub ok: u64,
    /// Errors in it.
    pub errors: u64,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Set-up.
    pub meta: Meta,
    /// Requests started.
    pub sent: u64,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests (sum of `errors`).
    pub errors_total: u64,
    /// Failures by kind (every kind listed, zero included).
    pub errors: BTreeMap<String, u64>,
    /// Responses by status code.
    pub status: BTreeMap<String, u64>,
    /// Responses (any status) per second.
    pub responses_per_s: f64,
    /// Successes per second.
    pub ok_per_s: f64,
    /// Body bytes received.
    pub body_bytes: u64,
    /// Connections opened.
    pub connections_opened: u64,
    /// Latency of responses (open loop: from the intended send time), µs.
    pub latency_us: Summary,
    /// Time to the response head, µs.
    pub ttfb_us: Summary,
    /// Latency at percentiles 0..99.9999 (for plots): (percentile, µs).
    pub latency_percentiles: Vec<(f64, u64)>,
    /// Event-stream figures, when any response was a stream.
    pub sse: Option<SseReport>,
    /// Open-loop figures, when `--rate` was given.
    pub open_loop: Option<OpenLoop>,
    /// TLS handshake figures, for `https://` targets.
    pub tls: Option<tls::TlsReport>,
    /// Completions per second of the run.
    pub per_second: Vec<Second>,
}

impl Report {
    /// Builds the report from the merged recorder.
    pub fn build(meta: Meta, r: &Recorder) -> Report {
        let errors_total = r.error_total();
        debug_assert_eq!(r.sent, r.ok + errors_total, "sent == ok + errors");
        let secs = meta.elapsed_s.max(1e-9);
        let errors = ErrorKind::ALL
            .iter()
            .map(|k| (k.name().to_string(), r.errors[*k as usize]))
            .collect();
        let status = r.status.iter().map(|(s, n)| (s.to_string(), *n)).collect();
        let responses: u64 = r.status.values().sum();
        let sse = (r.sse.streams > 0).then(|| SseReport {
            streams: r.sse.streams,
            finished: r.sse.finished,
            ttfb_us: Summary::of(&r.sse.ttfb),
            ttft_us: Summary::of(&r.sse.ttft),
            inter_token_us: Summary::of(&r.sse.itl),
            events_per_stream: Summary::of(&r.sse.events),
            bytes_per_stream: Summary::of(&r.sse.bytes),
            token_events: r.sse.token_events,
            streams_with_usage: r.sse.with_usage,
            input_tokens: r.sse.input_tokens,
            output_tokens: r.sse.output_tokens,
        });
        let open_loop = meta.rate.map(|rate| {
            let sent_rate = r.sent as f64 / meta.duration_limit_s.unwrap_or(secs).max(1e-9);
            let late_share = r.late_sends as f64 / r.sent.max(1) as f64;
            let short = meta.duration_limit_s.is_some() && sent_rate < rate * 0.95;
            OpenLoop {
                target_rate: rate,
                sent_rate,
                late_sends: r.late_sends,
                max_lag_us: r.max_lag_us,
                kept_up: late_share <= 0.01 && !short,
                service_us: Summary::of(&r.service),
            }
        });
        let tls = meta
            .tls
            .as_ref()
            .map(|_| tls::TlsReport::build(&r.tls, secs));
        Report {
            tls,
            sent: r.sent,
            ok: r.ok,
            errors_total,
            errors,
            status,
            responses_per_s: responses as f64 / secs,
            ok_per_s: r.ok as f64 / secs,
            body_bytes: r.body_bytes,
            connections_opened: r.connections,
            latency_us: Summary::of(&r.latency),
            ttfb_us: Summary::of(&r.ttfb),
            latency_percentiles: percentile_curve(&r.latency),
            sse,
            open_loop,
            per_second: r
                .per_second
                .iter()
                .enumerate()
                .map(|(t, (ok, errors))| Second {
                    t,
                    ok: *ok,
                    errors: *errors,
                })
                .collect(),
            meta,
        }
    }
}

/// Points of the percentile curve: 0, 50, 75, 87.5, ... up to 99.9999 (log spacing in
/// 1 / (1 - p)), the way HdrHistogram plots are drawn.
pub fn percentile_curve(h: &Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut x = 1.0f64;
    while x <= 1_000_000.0 {
        let q = 1.0 - 1.0 / x;
        out.push((q * 100.0, h.value_at_quantile(q)));
        x *= 1.25;
    }
    out.push((100.0, h.max()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::recorder::record_us;
    use std::time::Duration;

    fn meta() -> Meta {
        Meta {
            url: "http://127.0.0.1:1/".into(),
            method: "GET".into(),
            connections: 1,
            threads: 1,
            protocol: "http/1.1".into(),
            tls: None,
            streams: 1,
            driver: "epoll".into(),
            rate: Some(100.0),
            duration_limit_s: Some(1.0),
            request_limit: None,
            elapsed_s: 2.0,
        }
    }

    #[test]
    fn report_maths() {
        let mut r = Recorder::default();
        for ms in 1..=100 {
            r.sent += 1;
            r.success(0);
            *r.status.entry(200).or_default() += 1;
            record_us(&mut r.latency, Duration::from_millis(ms));
        }
        r.sent += 1;
        r.error(ErrorKind::Reset, 1);
        let rep = Report::build(meta(), &r);
        assert_eq!(rep.sent, rep.ok + rep.errors_total);
        assert_eq!(rep.errors["reset"], 1);
        assert_eq!(rep.errors.len(), ErrorKind::ALL.len());
        assert_eq!(rep.responses_per_s, 50.0);
        assert!(rep.latency_us.p50.abs_diff(50_000) <= 50);
        assert!(rep.latency_us.p99.abs_diff(99_000) <= 100);
        assert_eq!(
            rep.latency_us.max,
            rep.latency_percentiles.last().unwrap().1
        );
        let ol = rep.open_loop.as_ref().unwrap();
        assert_eq!(ol.sent_rate, 101.0);
        assert!(ol.kept_up);
        assert_eq!(rep.per_second.len(), 2);
        let v: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&rep).unwrap()).unwrap();
        assert_eq!(v["latency_us"]["count"], 100);
    }

    #[test]
    fn curve_is_monotonic() {
        let mut h = crate::load::recorder::histogram();
        for v in [5u64, 10, 10, 20, 1000] {
            h.record(v).unwrap();
        }
        let c = percentile_curve(&h);
        assert!(c.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
    }
}
