//! What a client is told about its limits: the refusal (429, or 503 when the shared
//! budget cannot answer and the limit fails closed) and the headers of an admitted
//! response.
//!
//! Every refusal carries `Retry-After` (whole seconds, rounded up, at least 1) and the
//! IETF draft fields `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
//! (seconds until the window ends; for a concurrency limit, which has no window, the
//! retry delay) and `RateLimit-Policy` (`L;w=W`). On an LLM route the body is in the
//! client API's error format (OpenAI's with code `rate_limit_exceeded`, or
//! Anthropic's `rate_limit_error`) and the OpenAI-style fields are added too:
//! `x-ratelimit-{limit,remaining,reset}-requests` for a requests or concurrency limit,
//! `-tokens` for a token limit (a spend limit has no OpenAI field). Elsewhere the body
//! is the gateway's own JSON error.

use bytes::Bytes;

use super::spec::{Denial, DenyReason, Kind, Quota};
use crate::llm::errors::json_type;
use crate::llm::{error_response, Dialect};
use crate::LocalResponse;

/// The refused limit, as the answer names it.
pub(crate) struct RefusedLimit<'a> {
    pub name: &'a str,
    pub kind: Kind,
    pub window_ms: u64,
    /// What the request asked for, in the limit's units.
    pub cost: i64,
}

fn unit(kind: Kind) -> &'static str {
    match kind {
        Kind::Requests => "requests",
        Kind::Concurrent => "requests in flight",
        Kind::InputTokens => "input tokens",
        Kind::OutputTokens => "output tokens",
        Kind::TotalTokens => "tokens",
        Kind::Spend => "micro-dollars of spend",
    }
}

/// Milliseconds as whole seconds, rounded up.
fn secs_up(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

fn num(n: u64) -> Bytes {
    Bytes::from(n.to_string())
}

/// A window as a person writes it: in the largest unit it is a whole number of
/// (`1h`, `90s`, `1d`).
fn window(ms: u64) -> String {
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// A duration the way OpenAI writes its reset fields (Go's `time.Duration` format):
/// `250ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`.
fn go_duration(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m) = (ms / 3_600_000, ms / 60_000 % 60);
    let (s, frac) = (ms / 1000 % 60, ms % 1000);
    let secs = if frac == 0 {
        format!("{s}s")
    } else {
        let f = format!("{frac:03}");
        format!("{s}.{}s", f.trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

/// The answer to a request that `limit` refused. `llm`: the client API's format on an
/// LLM route.
pub(crate) fn refusal(limit: &RefusedLimit<'_>, d: &Denial, llm: Option<Dialect>) -> LocalResponse {
    let q = &d.quota;
    let retry_s = secs_up(d.retry_after_ms).max(1);
    let what = unit(limit.kind);
    let name = limit.name;
    let (status, message) = match d.reason {
        DenyReason::Exhausted => (
            429,
            format!(
                "rate limit `{name}` reached: {} {what} per {}; retry in {retry_s} s",
                q.limit,
                window(limit.window_ms)
            ),
        ),
        DenyReason::Negative => (
            429,
            format!(
                "rate limit `{name}` is spent: usage counted after earlier requests took it \
                 below zero; retry in {retry_s} s"
            ),
        ),
        DenyReason::TooLarge => (
            429,
            format!(
                "request too large for rate limit `{name}`: it reserves {} {what}, more than \
                 the {} the limit allows; lower max_tokens or the prompt",
                limit.cost, q.limit
            ),
        ),
        DenyReason::Unavailable => (
            503,
            format!("rate limit `{name}` cannot be checked now; retry in {retry_s} s"),
        ),
    };
    let mut resp = match llm {
        Some(dialect) => error_response(dialect, status, &message, Some("rate_limit_exceeded")),
        None => LocalResponse {
            status,
            headers: vec![json_type()],
            body: Bytes::from(gateway_error(status, &message)),
        },
    };
    let reset_ms = if limit.kind.is_windowed() {
        q.reset_after_ms
    } else {
        d.retry_after_ms
    };
    let h = &mut resp.headers;
    h.push((Bytes::from_static(b"retry-after"), num(retry_s)));
    push_quota(h, q.limit, q.remaining, secs_up(reset_ms));
    h.push((
        Bytes::from_static(b"ratelimit-policy"),
        Bytes::from(format!("{};w={}", q.limit, secs_up(limit.window_ms))),
    ));
    if llm.is_some() {
        let suffix = match limit.kind {
            Kind::Requests | Kind::Concurrent => Some("requests"),
            Kind::InputTokens | Kind::OutputTokens | Kind::TotalTokens => Some("tokens"),
            Kind::Spend => None,
        };
        if let Some(sfx) = suffix {
            let reset = go_duration(reset_ms.max(d.retry_after_ms));
            for (field, value) in [
                ("limit", q.limit.to_string()),
                ("remaining", q.remaining.to_string()),
                ("reset", reset),
            ] {
                h.push((
                    Bytes::from(format!("x-ratelimit-{field}-{sfx}")),
                    Bytes::from(value),
                ));
            }
        }
    }
    resp
}

fn push_quota(h: &mut Vec<(Bytes, Bytes)>, limit: u64, remaining: u64, reset_s: u64) {
    h.push((Bytes::from_static(b"ratelimit-limit"), num(limit)));
    h.push((Bytes::from_static(b"ratelimit-remaining"), num(remaining)));
    h.push((Bytes::from_static(b"ratelimit-reset"), num(reset_s)));
}

/// The gateway's JSON error body (the shape `core/src/server/local.rs` writes).
fn gateway_error(status: u16, message: &str) -> String {
    let message = serde_json::to_string(message).unwrap_or_default();
    format!(
        "{{\"error\":{{\"message\":{message},\"type\":\"rate_limit_error\",\"code\":{status}}}}}\n"
    )
}

/// Removes the fields [`set_quota_fields`] set.
pub(crate) fn clear_quota_fields(set: &mut Vec<(Bytes, Bytes)>) {
    set.retain(|(n, _)| !n.starts_with(b"ratelimit-"));
}

/// Sets the `RateLimit-*` fields of an admitted response to `q` (replacing those an
/// earlier phase of the same request set).
pub(crate) fn set_quota_fields(set: &mut Vec<(Bytes, Bytes)>, q: &Quota) {
    let fields: [(&'static [u8], u64); 3] = [
        (b"ratelimit-limit", q.limit),
        (b"ratelimit-remaining", q.remaining),
        (b"ratelimit-reset", secs_up(q.reset_after_ms)),
    ];
    for (name, value) in fields {
        match set.iter_mut().find(|(n, _)| n.as_ref() == name) {
            Some(entry) => entry.1 = num(value),
            None => set.push((Bytes::from_static(name), num(value))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_openai_format() {
        for (ms, want) in [
            (250, "250ms"),
            (1000, "1s"),
            (1500, "1.5s"),
            (60_000, "1m0s"),
            (360_000, "6m0s"),
            (3_723_000, "1h2m3s"),
        ] {
            assert_eq!(go_duration(ms), want);
        }
        for (ms, want) in [
            (60_000, "1m"),
            (90_000, "90s"),
            (86_400_000, "1d"),
            (1500, "1500ms"),
        ] {
            assert_eq!(window(ms), want);
        }
    }

    fn header<'a>(r: &'a LocalResponse, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(n, _)| n.as_ref() == name.as_bytes())
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    #[test]
    fn refusals_carry_the_fields_and_the_format() {
        let d = Denial {
            reason: DenyReason::Exhausted,
            quota: Quota {
                limit: 100,
                remaining: 0,
                reset_after_ms: 12_300,
            },
            retry_after_ms: 12_300,
        };
        let l = RefusedLimit {
            name: "tpm",
            kind: Kind::TotalTokens,
            window_ms: 60_000,
            cost: 5,
        };
        let r = refusal(&l, &d, Some(Dialect::OpenAi));
        assert_eq!(r.status, 429);
        assert_eq!(header(&r, "retry-after"), Some("13"));
        assert_eq!(header(&r, "ratelimit-limit"), Some("100"));
        assert_eq!(header(&r, "ratelimit-remaining"), Some("0"));
        assert_eq!(header(&r, "ratelimit-reset"), Some("13"));
        assert_eq!(header(&r, "ratelimit-policy"), Some("100;w=60"));
        assert_eq!(header(&r, "x-ratelimit-limit-tokens"), Some("100"));
        assert_eq!(header(&r, "x-ratelimit-reset-tokens"), Some("12.3s"));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}");

        let r = refusal(&l, &d, Some(Dialect::Anthropic));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");

        let r = refusal(&l, &d, None);
        assert!(header(&r, "x-ratelimit-limit-tokens").is_none());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
        assert_eq!(v["error"]["code"], 429, "{v}");

        let down = Denial {
            reason: DenyReason::Unavailable,
            ..d
        };
        assert_eq!(refusal(&l, &down, None).status, 503);
    }

    #[test]
    fn quota_fields_are_replaced_not_repeated() {
        let mut set = Vec::new();
        let q = |remaining| Quota {
            limit: 10,
            remaining,
            reset_after_ms: 999,
        };
        set_quota_fields(&mut set, &q(7));
        set_quota_fields(&mut set, &q(3));
        assert_eq!(set.len(), 3);
        assert_eq!(set[1].1.as_ref(), b"3");
        assert_eq!(set[2].1.as_ref(), b"1");
    }
}
