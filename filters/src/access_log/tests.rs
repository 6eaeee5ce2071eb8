//! Access log lines: valid JSON with every field, escaping, time formatting.

use std::time::{Duration, Instant, UNIX_EPOCH};

use super::*;
use crate::testing::{ctx, req};

const FIELDS: [&str; 16] = [
    "time",
    "client",
    "protocol",
    "method",
    "path",
    "status",
    "bytes_in",
    "bytes_out",
    "route",
    "consumer",
    "upstream",
    "duration_ms",
    "upstream_connect_ms",
    "upstream_first_byte_ms",
    "attempts",
    "error",
];

fn parse(line: &[u8]) -> serde_json::Map<String, serde_json::Value> {
    assert_eq!(line.last(), Some(&b'\n'));
    assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1, "one line");
    match serde_json::from_slice(line) {
        Ok(serde_json::Value::Object(m)) => m,
        other => panic!("{other:?}: {}", String::from_utf8_lossy(line)),
    }
}

#[test]
fn a_proxied_request() {
    let h = req("POST /v1/chat?stream=1", &["Host: a"]);
    let mut cx = ctx();
    let t0 = Instant::now();
    cx.started = t0;
    cx.status = 200;
    cx.bytes_received = 321;
    cx.bytes_sent = 4096;
    cx.upstream_addr = Some("[2001:db8::9]:8000".parse().unwrap());
    cx.upstream_connect = Some(Duration::from_micros(51));
    cx.upstream_first_byte = Some(Duration::from_nanos(1_001_600));
    cx.finished = Some(t0 + Duration::from_micros(1_234_567));
    cx.attempts = 2;
    let wall = UNIX_EPOCH + Duration::from_millis(1_735_787_045_678);
    let mut out = b"previous line\n".to_vec();
    write_line_at(
        &cx,
        &h,
        Some("chat"),
        wall,
        t0 + Duration::from_secs(9),
        &mut out,
    );
    let m = parse(&out[14..]);
    let keys: Vec<&str> = m.keys().map(String::as_str).collect();
    let mut want = FIELDS.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want, "serde_json sorts keys");
    let expect = serde_json::json!({
        "time": "2025-01-02T03:04:05.678Z",
        "client": "192.0.2.7:40000",
        "protocol": "HTTP/1.1",
        "method": "POST",
        "path": "/v1/chat?stream=1",
        "status": 200,
        "bytes_in": 321,
        "bytes_out": 4096,
        "route": "chat",
        "consumer": null,
        "upstream": "[2001:db8::9]:8000",
        "duration_ms": 1234.567,
        "upstream_connect_ms": 0.051,
        "upstream_first_byte_ms": 1.002,
        "attempts": 2,
        "error": null,
    });
    assert_eq!(serde_json::Value::Object(m), expect);
    // Fields in the documented order, three decimals even when trailing zeros.
    let text = std::str::from_utf8(&out[14..]).unwrap();
    let pos: Vec<usize> = FIELDS
        .iter()
        .map(|f| text.find(&format!("\"{f}\":")).unwrap())
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(text.contains("\"upstream_connect_ms\":0.051,"), "{text}");
}

#[test]
fn an_unrouted_failed_request() {
    let h = req("GET /nowhere", &["Host: a"]);
    let mut cx = ctx();
    cx.status = 404;
    cx.error = Some("no \"route\"\\here");
    let t0 = cx.started;
    write_line_at(
        &cx,
        &h,
        None,
        UNIX_EPOCH,
        t0 + Duration::from_millis(2),
        &mut Vec::new(),
    );
    let mut out = Vec::new();
    write_line_at(
        &cx,
        &h,
        None,
        UNIX_EPOCH,
        t0 + Duration::from_millis(2),
        &mut out,
    );
    let m = parse(&out);
    assert_eq!(m["time"], "1970-01-01T00:00:00.000Z");
    assert_eq!(m["route"], serde_json::Value::Null);
    assert_eq!(m["upstream"], serde_json::Value::Null);
    assert_eq!(m["upstream_connect_ms"], serde_json::Value::Null);
    assert_eq!(m["upstream_first_byte_ms"], serde_json::Value::Null);
    assert_eq!(m["duration_ms"], 2.0);
    assert_eq!(m["error"], "no \"route\"\\here");
}

#[test]
fn write_line_uses_the_clock() {
    let h = req("GET /", &["Host: a"]);
    let mut out = Vec::new();
    write_line(&ctx(), &h, Some("r"), &mut out);
    let m = parse(&out);
    for f in FIELDS {
        assert!(m.contains_key(f), "{f}");
    }
    let time = m["time"].as_str().unwrap();
    assert_eq!(time.len(), "2025-01-02T03:04:05.678Z".len(), "{time}");
    assert!(time.starts_with("20") && time.ends_with('Z'), "{time}");
}

#[test]
fn strings_are_escaped_to_valid_json() {
    let cases: &[(&[u8], &str)] = &[
        (b"/plain", "/plain"),
        (b"/q\"uote\\back", "/q\"uote\\back"),
        (b"\n\r\t\x00\x1f\x7f", "\n\r\t\u{0}\u{1f}\u{7f}"),
        ("/caf\u{e9}/\u{1F980}".as_bytes(), "/caf\u{e9}/\u{1F980}"),
        // Not UTF-8: each stray byte is kept as its Latin-1 code point.
        (b"/\xff\xfe/\xc3", "/\u{ff}\u{fe}/\u{c3}"),
        (b"/\xe2\x82", "/\u{e2}\u{82}"),
    ];
    for (raw, want) in cases {
        let mut out = Vec::new();
        write_str(raw, &mut out);
        assert!(
            out.iter().all(|b| *b >= 0x20),
            "raw control byte in {out:?}"
        );
        let got: String = serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)));
        assert_eq!(got, *want);
    }
}

#[test]
fn milliseconds_round_to_the_microsecond() {
    for (d, want) in [
        (Duration::ZERO, "0.000"),
        (Duration::from_nanos(499), "0.000"),
        (Duration::from_nanos(500), "0.001"),
        (Duration::from_micros(999_999), "999.999"),
        (Duration::from_nanos(999_999_500), "1000.000"),
        (Duration::from_secs(90_000), "90000000.000"),
    ] {
        let mut out = Vec::new();
        write_ms(Some(d), &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), want, "{d:?}");
    }
}

#[test]
fn rfc3339_known_instants() {
    for (secs, millis, want) in [
        (0, 0, "1970-01-01T00:00:00.000Z"),
        (951_782_400, 1, "2000-02-29T00:00:00.001Z"),
        (1_709_251_199, 999, "2024-02-29T23:59:59.999Z"),
        (1_735_689_599, 500, "2024-12-31T23:59:59.500Z"),
        (4_102_444_800, 0, "2100-01-01T00:00:00.000Z"),
        (253_402_300_799, 0, "9999-12-31T23:59:59.000Z"),
    ] {
        let t = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis);
        let mut out = Vec::new();
        write_rfc3339(t, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }
}

#[test]
fn civil_from_days_walks_the_calendar() {
    // Step one day at a time from 1970-01-01 for about 550 years and compare.
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_len = |y: i64, m: u32| match m {
        2 if leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let (mut y, mut m, mut d) = (1970_i64, 1_u32, 1_u32);
    for days in 0..200_000 {
        assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
        d += 1;
        if d > month_len(y, m) {
            d = 1;
            m += 1;
            if m > 12 {
                m = 1;
                y += 1;
            }
        }
    }
}
