//! Per-thread figures: histograms (microseconds), counters, errors by kind, per-second
//! counts. Each worker owns one; they are merged once at the end.
//!
//! Invariant: every request counted in `sent` ends in exactly one of `ok` or an error kind,
//! so `sent == ok + errors` holds for every recorder and for their merge.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::tls::TlsRecord;
use crate::sse::StreamFigures;

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The connection could not be opened.
    Connect,
    /// The TLS handshake failed (untrusted certificate, no common version or ALPN
    /// protocol, the peer closed or reset during the handshake).
    Tls,
    /// No complete response within `--timeout`.
    Timeout,
    /// A 4xx response.
    Status4xx,
    /// A 5xx response.
    Status5xx,
    /// The peer reset the connection (ECONNRESET, EPIPE).
    Reset,
    /// The peer closed before the response was complete.
    Closed,
    /// The response was not valid HTTP/1.1.
    Parse,
    /// The event stream carried an error event.
    StreamError,
    /// Still in flight when the run ended (after `--drain`).
    Unfinished,
}

impl ErrorKind {
    /// All kinds, in report order.
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::Timeout,
        ErrorKind::Status4xx,
        ErrorKind::Status5xx,
        ErrorKind::Reset,
        ErrorKind::Closed,
        ErrorKind::Parse,
        ErrorKind::StreamError,
        ErrorKind::Unfinished,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Status4xx => "status_4xx",
            ErrorKind::Status5xx => "status_5xx",
            ErrorKind::Reset => "reset",
            ErrorKind::Closed => "closed",
            ErrorKind::Parse => "parse",
            ErrorKind::StreamError => "stream_error",
            ErrorKind::Unfinished => "unfinished",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A histogram of microseconds (or counts) with 3 significant figures.
pub fn histogram() -> Histogram<u64> {
    // 3 significant figures with auto-resize cannot fail.
    Histogram::new(3).unwrap_or_else(|_| unreachable!("sigfig 3 is valid"))
}

/// Records `d` in microseconds.
pub fn record_us(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
    record(h, us);
}

/// Records a value. `record` (not `saturating_record`, which clamps before it resizes)
/// grows an auto-resizing histogram; it can only fail beyond u64 range.
pub fn record(h: &mut Histogram<u64>, v: u64) {
    let _ = h.record(v);
}

/// SSE figures over all streams.
#[derive(Debug, Clone)]
pub struct SseRecord {
    /// Responses that were event streams.
    pub streams: u64,
    /// Time to the response head, µs.
    pub ttfb: Histogram<u64>,
    /// Time to the first token event, µs.
    pub ttft: Histogram<u64>,
    /// Gaps between token events, µs.
    pub itl: Histogram<u64>,
    /// Events per stream.
    pub events: Histogram<u64>,
    /// Body bytes per stream.
    pub bytes: Histogram<u64>,
    /// Token events over all streams.
    pub token_events: u64,
    /// Streams that reported usage.
    pub with_usage: u64,
    /// Sum of reported input tokens.
    pub input_tokens: u64,
    /// Sum of reported output tokens.
    pub output_tokens: u64,
    /// Streams that ended with their end marker.
    pub finished: u64,
}

impl Default for SseRecord {
    fn default() -> Self {
        Self {
            streams: 0,
            ttfb: histogram(),
            ttft: histogram(),
            itl: histogram(),
            events: histogram(),
            bytes: histogram(),
            token_events: 0,
            with_usage: 0,
            input_tokens: 0,
            output_tokens: 0,
            finished: 0,
        }
    }
}

/// One worker's figures.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Response latency, µs (open loop: from the intended send time).
    pub latency: Histogram<u64>,
    /// Open loop: from the actual send time, µs.
    pub service: Histogram<u64>,
    /// Time to the response head, µs.
    pub ttfb: Histogram<u64>,
    /// Requests started.
    pub sent: u64,
    /// Requests that got a 1xx/2xx/3xx response.
    pub ok: u64,
    /// Errors by [`ErrorKind`].
    pub errors: [u64; ErrorKind::ALL.len()],
    /// Responses by status.
    pub status: BTreeMap<u16, u64>,
    /// Body bytes received.
    pub body_bytes: u64,
    /// Connections opened.
    pub connections: u64,
    /// Completed requests per second of the run: (ok, errors).
    pub per_second: Vec<(u64, u64)>,
    /// Open loop: sends more than 1 ms after their intended time.
    pub late_sends: u64,
    /// Open loop: the largest send lag, µs.
    pub max_lag_us: u64,
    /// Event-stream figures.
    pub sse: SseRecord,
    /// TLS handshakes.
    pub tls: TlsRecord,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            latency: histogram(),
            service: histogram(),
            ttfb: histogram(),
            sent: 0,
            ok: 0,
            errors: [0; ErrorKind::ALL.len()],
            status: BTreeMap::new(),
            body_bytes: 0,
            connections: 0,
            per_second: Vec::new(),
            late_sends: 0,
            max_lag_us: 0,
            sse: SseRecord::default(),
            tls: TlsRecord::default(),
        }
    }
}

impl Recorder {
    /// Total errors.
    pub fn error_total(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Counts an error at `second` of the run.
    pub fn error(&mut self, kind: ErrorKind, second: usize) {
        self.errors[kind.index()] += 1;
        self.bucket(second).1 += 1;
    }

    /// Counts a success at `second` of the run.
    pub fn success(&mut self, second: usize) {
        self.ok += 1;
        self.bucket(second).0 += 1;
    }

    fn bucket(&mut self, second: usize) -> &mut (u64, u64) {
        if self.per_second.len() <= second {
            self.per_second.resize(second + 1, (0, 0));
        }
        &mut self.per_second[second]
    }

    /// Adds one finished event stream.
    pub fn stream(&mut self, f: &StreamFigures, ttfb: Duration, bytes: u64) {
        let s = &mut self.sse;
        s.streams += 1;
        record_us(&mut s.ttfb, ttfb);
        if let Some(t) = f.first_token {
            record_us(&mut s.ttft, t);
        }
        record(&mut s.events, f.events);
        record(&mut s.bytes, bytes);
        s.token_events += f.token_events;
        s.finished += u64::from(f.finished);
        if let Some(u) = f.usage {
            s.with_usage += 1;
            s.input_tokens += u.input.unwrap_or(0);
            s.output_tokens += u.output.unwrap_or(0);
        }
    }

    /// Folds `other` into `self`.
    pub fn merge(&mut self, other: &Recorder) {
        let add = |a: &mut Histogram<u64>, b: &Histogram<u64>| {
            // Auto-resizing histograms of the same precision always merge.
            let _ = a.add(b);
        };
        add(&mut self.latency, &other.latency);
        add(&mut self.service, &other.service);
        add(&mut self.ttfb, &other.ttfb);
        self.sent += other.sent;
        self.ok += other.ok;
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        for (s, n) in &other.status {
            *self.status.entry(*s).or_default() += n;
        }
        self.body_bytes += other.body_bytes;
        self.connections += other.connections;
        for (i, (ok, err)) in other.per_second.iter().enumerate() {
            let b = self.bucket(i);
            b.0 += ok;
            b.1 += err;
        }
        self.late_sends += other.late_sends;
        self.max_lag_us = self.max_lag_us.max(other.max_lag_us);
        let (s, o) = (&mut self.sse, &other.sse);
        s.streams += o.streams;
        add(&mut s.ttfb, &o.ttfb);
        add(&mut s.ttft, &o.ttft);
        add(&mut s.itl, &o.itl);
        add(&mut s.events, &o.events);
        add(&mut s.bytes, &o.bytes);
        s.token_events += o.token_events;
        s.with_usage += o.with_usage;
        s.input_tokens += o.input_tokens;
        s.output_tokens += o.output_tokens;
        s.finished += o.finished;
        self.tls.merge(&other.tls);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_the_invariant() {
        let mut a = Recorder {
            sent: 3,
            ..Recorder::default()
        };
        a.success(0);
        a.success(2);
        a.error(ErrorKind::Timeout, 1);
        record_us(&mut a.latency, Duration::from_millis(2));
        let mut b = Recorder {
            sent: 1,
            ..Recorder::default()
        };
        b.error(ErrorKind::Connect, 0);
        a.merge(&b);
        assert_eq!(a.sent, a.ok + a.error_total());
        assert_eq!(a.per_second, vec![(1, 1), (0, 1), (1, 0)]);
        assert_eq!(a.latency.len(), 1);
        assert!(a.latency.value_at_quantile(0.5).abs_diff(2000) <= 2);
    }
}
