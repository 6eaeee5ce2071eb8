//! Per-request behaviour chosen by `x-mock-*` request headers (they override the CLI
//! defaults for that one request), plus the few standard headers the mock acts on.
//!
//! | header | effect |
//! | --- | --- |
//! | `x-mock-status: N` | respond with status N |
//! | `x-mock-delay-ms: N` or `MIN-MAX` | wait before the head |
//! | `x-mock-body-size: N` | plain body of N bytes |
//! | `x-mock-chunked: 1\|0` | chunked or Content-Length response |
//! | `x-mock-close: 1` | `Connection: close` and close after the response |
//! | `x-mock-fault: KIND` | see [`Fault`] |
//! | `x-mock-fault-after: K` | events (stream) before `reset-mid-stream` / `error-event` |
//! | `x-mock-drip-ms: N` | gap between bytes for `slow-drip` |
//! | `x-mock-ttft-ms: N` | LLM: time to first token |
//! | `x-mock-tps: N` | LLM: tokens per second (0 = no pacing) |
//! | `x-mock-tokens: N` | LLM: output tokens (still capped by `max_tokens`) |
//!
//! Unparseable values are ignored (the default applies), never a panic. Times are capped at
//! [`MAX_MS`] and tokens at [`MAX_TOKENS`], so a header cannot overflow a clock or make the
//! mock build an answer of unbounded size.

use crate::h1::parse_u64;

/// The longest delay, TTFT or drip gap a header or flag may ask for (one hour).
pub const MAX_MS: u64 = 3_600_000;

/// The most output tokens a header or flag may ask for.
pub const MAX_TOKENS: u32 = 100_000;

/// An injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After` and `x-ratelimit-*` headers.
    RateLimited,
    /// 500 with an API-shaped error body.
    Internal,
    /// 503 with an API-shaped error body.
    Unavailable,
    /// Never send a head; hold the connection until the client leaves.
    Hang,
    /// Send the head and part of the body (K events of a stream), then RST (SO_LINGER 0).
    ResetMidStream,
    /// Streams: an SSE error event after K events, then the stream ends. Non-streams: 500.
    ErrorEvent,
    /// Send the whole response one byte at a time with a gap between bytes.
    SlowDrip,
}

impl Fault {
    /// Parses a fault name as used in `x-mock-fault` and `--fault`.
    pub fn parse(v: &[u8]) -> Option<Fault> {
        Some(match v.trim_ascii() {
            b"429" => Fault::RateLimited,
            b"500" => Fault::Internal,
            b"503" => Fault::Unavailable,
            b"hang" => Fault::Hang,
            b"reset-mid-stream" | b"reset" => Fault::ResetMidStream,
            b"error-event" => Fault::ErrorEvent,
            b"slow-drip" => Fault::SlowDrip,
            _ => return None,
        })
    }
}

impl Fault {
    /// The name `--fault` and `x-mock-fault` take (and the request log shows).
    pub fn name(self) -> &'static str {
        match self {
            Fault::RateLimited => "429",
            Fault::Internal => "500",
            Fault::Unavailable => "503",
            Fault::Hang => "hang",
            Fault::ResetMidStream => "reset-mid-stream",
            Fault::ErrorEvent => "error-event",
            Fault::SlowDrip => "slow-drip",
        }
    }
}

/// A delay: fixed or uniformly random within a range (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DelaySpec {
    /// Lower bound.
    pub min_ms: u64,
    /// Upper bound (== min for a fixed delay).
    pub max_ms: u64,
}

impl DelaySpec {
    /// Parses `N` or `MIN-MAX`.
    pub fn parse(v: &[u8]) -> Option<DelaySpec> {
        let v = v.trim_ascii();
        match v.iter().position(|&b| b == b'-') {
            Some(i) => {
                let (a, b) = (parse_u64(&v[..i])?, parse_u64(&v[i + 1..])?);
                (a <= b && b <= MAX_MS).then_some(DelaySpec {
                    min_ms: a,
                    max_ms: b,
                })
            }
            None => parse_u64(v).filter(|n| *n <= MAX_MS).map(|n| DelaySpec {
                min_ms: n,
                max_ms: n,
            }),
        }
    }

    /// True when no delay applies.
    pub fn is_zero(&self) -> bool {
        self.max_ms == 0
    }
}

/// The per-request overrides and the standard headers the mock reads.
#[derive(Debug, Clone, Default)]
pub struct Control {
    /// `x-mock-status`.
    pub status: Option<u16>,
    /// `x-mock-delay-ms`.
    pub delay: Option<DelaySpec>,
    /// `x-mock-body-size`.
    pub body_size: Option<usize>,
    /// `x-mock-chunked`.
    pub chunked: Option<bool>,
    /// `x-mock-close`.
    pub close: bool,
    /// `x-mock-fault`.
    pub fault: Option<Fault>,
    /// `x-mock-fault-after`.
    pub fault_after: Option<u32>,
    /// `x-mock-drip-ms`.
    pub drip_ms: Option<u64>,
    /// `x-mock-ttft-ms`.
    pub ttft_ms: Option<u64>,
    /// `x-mock-tps`.
    pub tps: Option<u64>,
    /// `x-mock-tokens`.
    pub tokens: Option<u32>,
    /// `Connection: close` was sent.
    pub conn_close: bool,
    /// `Connection: keep-alive` was sent (matters for HTTP/1.0).
    pub conn_keep_alive: bool,
    /// `Upgrade: websocket` was sent.
    pub upgrade_websocket: bool,
    /// `Expect: 100-continue` was sent.
    pub expect_continue: bool,
}

impl Control {
    /// Reads the headers once.
    pub fn from_headers(headers: &[httparse::Header<'_>]) -> Control {
        let mut c = Control::default();
        for h in headers {
            let name = h.name.as_bytes();
            if name.len() > 7 && name[..7].eq_ignore_ascii_case(b"x-mock-") {
                c.apply_mock_header(&name[7..], h.value);
            } else if h.name.eq_ignore_ascii_case("connection") {
                for t in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    c.conn_close |= t.eq_ignore_ascii_case(b"close");
                    c.conn_keep_alive |= t.eq_ignore_ascii_case(b"keep-alive");
                }
            } else if h.name.eq_ignore_ascii_case("upgrade") {
                c.upgrade_websocket |= h.value.trim_ascii().eq_ignore_ascii_case(b"websocket");
            } else if h.name.eq_ignore_ascii_case("expect") {
                c.expect_continue |= h.value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
            }
        }
        c
    }

    fn apply_mock_header(&mut self, suffix: &[u8], v: &[u8]) {
        let lower = suffix.to_ascii_lowercase();
        let num = || parse_u64(v);
        let ms = || parse_u64(v).map(|n| n.min(MAX_MS));
        match lower.as_slice() {
            b"status" => {
                self.status = num()
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|s| (100..1000).contains(s))
            }
            b"delay-ms" => self.delay = DelaySpec::parse(v),
            b"body-size" => self.body_size = num().and_then(|n| usize::try_from(n).ok()),
            b"chunked" => {
                self.chunked =
                    Some(v.trim_ascii() == b"1" || v.trim_ascii().eq_ignore_ascii_case(b"true"))
            }
            b"close" => {
                self.close = v.trim_ascii() == b"1" || v.trim_ascii().eq_ignore_ascii_case(b"true")
            }
            b"fault" => self.fault = Fault::parse(v),
            b"fault-after" => self.fault_after = num().and_then(|n| u32::try_from(n).ok()),
            b"drip-ms" => self.drip_ms = ms(),
            b"ttft-ms" => self.ttft_ms = ms(),
            b"tps" => self.tps = num(),
            b"tokens" => self.tokens = num().map(|n| n.min(u64::from(MAX_TOKENS)) as u32),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h<'a>(name: &'a str, value: &'a str) -> httparse::Header<'a> {
        httparse::Header {
            name,
            value: value.as_bytes(),
        }
    }

    #[test]
    fn reads_control_headers() {
        let c = Control::from_headers(&[
            h("X-Mock-Status", "503"),
            h("x-mock-delay-ms", "5-10"),
            h("x-mock-fault", "reset-mid-stream"),
            h("x-mock-tokens", "nope"),
            h("Connection", "keep-alive, close"),
            h("Upgrade", "WebSocket"),
        ]);
        assert_eq!(c.status, Some(503));
        assert_eq!(
            c.delay,
            Some(DelaySpec {
                min_ms: 5,
                max_ms: 10
            })
        );
        assert_eq!(c.fault, Some(Fault::ResetMidStream));
        assert_eq!(c.tokens, None);
        assert!(c.conn_close && c.conn_keep_alive && c.upgrade_websocket);
    }

    #[test]
    fn huge_values_are_capped() {
        let c = Control::from_headers(&[
            h("x-mock-ttft-ms", "9999999999999999999"),
            h("x-mock-tokens", "99999999999"),
            h("x-mock-delay-ms", "0-18446744073709551615"),
        ]);
        assert_eq!(c.ttft_ms, Some(MAX_MS));
        assert_eq!(c.tokens, Some(MAX_TOKENS));
        assert_eq!(c.delay, None);
    }

    #[test]
    fn bad_values_are_ignored() {
        let c = Control::from_headers(&[h("x-mock-status", "99999"), h("x-mock-delay-ms", "9-1")]);
        assert_eq!((c.status, c.delay), (None, None));
        assert_eq!(Fault::parse(b"bogus"), None);
    }

    #[test]
    fn fault_names_parse_back() {
        for f in [
            Fault::RateLimited,
            Fault::Internal,
            Fault::Unavailable,
            Fault::Hang,
            Fault::ResetMidStream,
            Fault::ErrorEvent,
            Fault::SlowDrip,
        ] {
            assert_eq!(Fault::parse(f.name().as_bytes()), Some(f));
        }
    }
}
