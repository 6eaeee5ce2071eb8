//! Fault answers for the plain and echo routes (the LLM routes shape their own, in the API's
//! error format). See [`Fault`] for what each one does.

use std::time::Duration;

use super::control::Fault;
use super::plain::{self, Shape};
use super::route::Head;
use super::send::Plan;
use super::Worker;

/// The rate-limit headers sent with a 429.
pub fn rate_limit_headers() -> Vec<String> {
    [
        "Retry-After: 1",
        "x-ratelimit-limit-requests: 60",
        "x-ratelimit-remaining-requests: 0",
        "x-ratelimit-reset-requests: 1s",
        "x-ratelimit-limit-tokens: 100000",
        "x-ratelimit-remaining-tokens: 0",
        "x-ratelimit-reset-tokens: 1s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The plan for `fault` on a plain request, or `None` when the normal answer should be
/// built first (slow drip, which drips the normal answer).
pub fn plain_fault(w: &Worker, head: &Head, fault: Fault, delay: Duration) -> Option<Plan> {
    let status = match fault {
        Fault::RateLimited => 429,
        Fault::Internal | Fault::ErrorEvent => 500,
        Fault::Unavailable => 503,
        Fault::Hang => return Some(Plan::Hang),
        Fault::SlowDrip => return None,
        Fault::ResetMidStream => {
            let size = head.ctl.body_size.unwrap_or(w.cfg.body_size).max(2);
            let mut bytes = Vec::new();
            let shape = Shape {
                status: 200,
                headers: &w.cfg.headers,
                content_type: Some("text/plain"),
                chunked: false,
                close: false,
                head_only: true,
            };
            plain::write_response(&mut bytes, &shape, &plain::body_bytes(size));
            bytes.extend_from_slice(&plain::body_bytes(size / 2));
            return Some(Plan::Reset { delay, bytes });
        }
    };
    let headers = if status == 429 {
        rate_limit_headers()
    } else {
        Vec::new()
    };
    let mut bytes = Vec::new();
    let shape = Shape {
        status,
        headers: &headers,
        content_type: Some("text/plain"),
        chunked: false,
        close: head.close,
        head_only: head.head_only,
    };
    let body = format!("tollgate-mock fault: {}\n", plain::reason(status));
    plain::write_response(&mut bytes, &shape, body.as_bytes());
    Some(Plan::Delayed {
        delay,
        bytes,
        close: head.close,
    })
}
