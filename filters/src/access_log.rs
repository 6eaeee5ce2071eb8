//! Access log lines as JSON, one per request. Formatting only; the core owns the sink.
//!
//! A line is written by hand into the caller's buffer (no serde, no intermediate
//! `String`), in this field order:
//!
//! ```text
//! {"time":"2025-01-02T03:04:05.678Z","client":"10.0.0.1:5123","protocol":"HTTP/1.1",
//!  "method":"GET","path":"/v1/models?x=1","status":200,"bytes_in":120,"bytes_out":512,"route":"api",
//!  "consumer":"team-a","upstream":"10.0.0.9:8000","duration_ms":1.234,
//!  "upstream_connect_ms":0.051,"upstream_first_byte_ms":1.002,"attempts":1,"error":null}
//! ```
//!
//! `time` is when the request started, in UTC with milliseconds. Durations are in
//! milliseconds, rounded to the microsecond; an unknown one is `null`. Strings are
//! escaped per RFC 8259; a byte that is not part of valid UTF-8 (targets may carry
//! obs-text) is written as `\u00XX`, its Latin-1 reading, so the line is always valid
//! JSON and the byte's value is kept. `consumer` is who the auth filter identified, or
//! `null`; a credential the auth filter took out of the query is not in `path`.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tollgate_proto::h1::RequestHead;

use crate::RequestCtx;

/// Appends one JSON line (with trailing `\n`) describing the request to `out`: time
/// (RFC 3339, UTC), client, protocol (`HTTP/1.0`, `HTTP/1.1` or `HTTP/2`), method, path, status, bytes in and out, route, consumer,
/// upstream, durations in milliseconds (total, upstream connect, upstream first byte),
/// error.
pub fn write_line(ctx: &RequestCtx, head: &RequestHead, route: Option<&str>, out: &mut Vec<u8>) {
    let now = Instant::now();
    let started = SystemTime::now()
        .checked_sub(now.saturating_duration_since(ctx.started))
        .unwrap_or(UNIX_EPOCH);
    write_line_at(ctx, head, route, started, now, out);
}

/// [`write_line`] with the clocks given: `started` is the wall-clock time the request
/// started, `now` ends the duration of a request that has no `finished` time.
pub fn write_line_at(
    ctx: &RequestCtx,
    head: &RequestHead,
    route: Option<&str>,
    started: SystemTime,
    now: Instant,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"{\"time\":\"");
    write_rfc3339(started, out);
    out.extend_from_slice(b"\",\"client\":");
    write_addr(Some(ctx.client), out);
    out.extend_from_slice(match (ctx.h2, head.version) {
        (true, _) => b",\"protocol\":\"HTTP/2\"",
        (false, tollgate_proto::h1::Version::Http10) => b",\"protocol\":\"HTTP/1.0\"",
        (false, tollgate_proto::h1::Version::Http11) => b",\"protocol\":\"HTTP/1.1\"",
    });
    out.extend_from_slice(b",\"method\":");
    write_str(head.method_bytes(), out);
    out.extend_from_slice(b",\"path\":");
    // A credential taken out of the query by the auth filter stays out of the log.
    write_str(
        ctx.log_target.as_deref().unwrap_or(head.target_bytes()),
        out,
    );
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        ",\"status\":{},\"bytes_in\":{},\"bytes_out\":{},\"route\":",
        ctx.status, ctx.bytes_received, ctx.bytes_sent
    );
    match route {
        Some(r) => write_str(r.as_bytes(), out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"consumer\":");
    match ctx.consumer_name() {
        Some(c) => write_str(c.as_bytes(), out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"upstream\":");
    write_addr(ctx.upstream_addr, out);
    out.extend_from_slice(b",\"duration_ms\":");
    let end = ctx.finished.unwrap_or(now);
    write_ms(Some(end.saturating_duration_since(ctx.started)), out);
    out.extend_from_slice(b",\"upstream_connect_ms\":");
    write_ms(ctx.upstream_connect, out);
    out.extend_from_slice(b",\"upstream_first_byte_ms\":");
    write_ms(ctx.upstream_first_byte, out);
    let _ = write!(out, ",\"attempts\":{},\"error\":", ctx.attempts);
    match ctx.error {
        Some(e) => write_str(e.as_bytes(), out),
        None => out.extend_from_slice(b"null"),
    }
    if ctx.llm.active {
        write_llm(&ctx.llm, out);
    }
    out.extend_from_slice(b"}\n");
}

/// The LLM fields, on LLM routes only: `"llm":{"model":..,"provider":..,
/// "deployment":..,"stream":..,"input_tokens":..,"output_tokens":..,"cached_tokens":..,
/// "reasoning_tokens":..,"estimated":..,"cost_usd":..,"ttft_ms":..,"fallbacks":..}`.
fn write_llm(llm: &crate::LlmCtx, out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"llm\":{\"operation\":");
    write_str(llm.operation.as_bytes(), out);
    out.extend_from_slice(b",\"model\":");
    write_str(llm.model.as_bytes(), out);
    out.extend_from_slice(b",\"provider\":");
    write_str(llm.provider.as_bytes(), out);
    out.extend_from_slice(b",\"deployment\":");
    write_str(llm.deployment.as_bytes(), out);
    let _ = write!(out, ",\"stream\":{}", llm.stream);
    match &llm.usage {
        Some(u) => {
            let _ = write!(
                out,
                ",\"input_tokens\":{},\"output_tokens\":{},\"cached_tokens\":{},\"reasoning_tokens\":{},\"estimated\":{}",
                u.input, u.output, u.cache_read, u.reasoning, u.estimated
            );
        }
        None => out.extend_from_slice(
            b",\"input_tokens\":null,\"output_tokens\":null,\"cached_tokens\":null,\"reasoning_tokens\":null,\"estimated\":null",
        ),
    }
    match llm.cost {
        Some(c) => {
            let _ = write!(out, ",\"cost_usd\":{c:.9}");
        }
        None => out.extend_from_slice(b",\"cost_usd\":null"),
    }
    out.extend_from_slice(b",\"ttft_ms\":");
    write_ms(llm.ttft, out);
    let _ = write!(out, ",\"fallbacks\":{},\"fallback_reason\":", llm.fallbacks);
    match llm.fallback_reason {
        Some(r) => write_str(r.as_bytes(), out),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

fn write_addr(addr: Option<SocketAddr>, out: &mut Vec<u8>) {
    match addr {
        // A socket address has no character that JSON needs escaped.
        Some(a) => {
            let _ = write!(out, "\"{a}\"");
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// Milliseconds with three decimals (microsecond resolution, rounded), or `null`.
fn write_ms(d: Option<Duration>, out: &mut Vec<u8>) {
    match d {
        Some(d) => {
            let micros = (d.as_nanos() + 500) / 1000;
            let _ = write!(out, "{}.{:03}", micros / 1000, micros % 1000);
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// A JSON string: quotes, backslash and controls escaped; valid UTF-8 kept as is; any
/// other byte as `\u00XX`.
fn write_str(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for chunk in bytes.utf8_chunks() {
        for &b in chunk.valid().as_bytes() {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0..=0x1f | 0x7f => write_u00(b, out),
                _ => out.push(b),
            }
        }
        for &b in chunk.invalid() {
            write_u00(b, out);
        }
    }
    out.push(b'"');
}

fn write_u00(b: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u00");
    out.push(HEX[usize::from(b >> 4)]);
    out.push(HEX[usize::from(b & 0xf)]);
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`; times before 1970 are written as the epoch.
fn write_rfc3339(t: SystemTime, out: &mut Vec<u8>) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    );
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`, <https://howardhinnant.github.io/date_algorithms.html>).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests;
