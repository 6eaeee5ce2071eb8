use std::time::Duration;

use bytes::BytesMut;
use tollgate_proto::h1::{HeadLimits, Method, ResponseHead, Status};

use super::{cooldown_from_headers, go_duration, imf_fixdate_unix_ms, rfc3339_unix_ms};

/// 2024-05-01T12:00:00Z.
const NOW_MS: u64 = 1_714_564_800_000;

fn response(fields: &[&str]) -> ResponseHead {
    let mut raw = String::from("HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\n");
    for f in fields {
        raw.push_str(f);
        raw.push_str("\r\n");
    }
    raw.push_str("\r\n");
    let mut buf = BytesMut::from(raw.as_bytes());
    let mut head = ResponseHead::default();
    match head.parse(&mut buf, &HeadLimits::default(), Method::Post) {
        Ok(Status::Complete(())) => head,
        other => panic!("{other:?}"),
    }
}

fn cooldown(fields: &[&str]) -> Option<Duration> {
    cooldown_from_headers(&response(fields), NOW_MS)
}

const fn ms(n: u64) -> Option<Duration> {
    Some(Duration::from_millis(n))
}

#[test]
fn each_header_form() {
    let cases: &[(&[&str], Option<Duration>)] = &[
        (&["Retry-After: 7"], ms(7_000)),
        (&["retry-after: 0"], ms(0)),
        (&["Retry-After: Wed, 01 May 2024 12:00:30 GMT"], ms(30_000)),
        (&["Retry-After: Wed, 01 May 2024 11:00:00 GMT"], ms(0)),
        (&["retry-after-ms: 1500"], ms(1_500)),
        (
            &["retry-after-ms: 12.5"],
            Some(Duration::from_micros(12_500)),
        ),
        (&["x-ratelimit-reset-requests: 1s"], ms(1_000)),
        (&["x-ratelimit-reset-tokens: 6m0s"], ms(360_000)),
        (&["x-ratelimit-reset-tokens: 20ms"], ms(20)),
        (&["x-ratelimit-reset-requests: 1h2m3.5s"], ms(3_723_500)),
        (&["x-ratelimit-reset-requests: 0.5s"], ms(500)),
        (
            &["anthropic-ratelimit-requests-reset: 2024-05-01T12:00:05Z"],
            ms(5_000),
        ),
        (
            &["anthropic-ratelimit-tokens-reset: 2024-05-01T12:00:05.250Z"],
            ms(5_250),
        ),
        (
            &["anthropic-ratelimit-input-tokens-reset: 2024-05-01T14:01:00+02:00"],
            ms(60_000),
        ),
        (
            &["anthropic-ratelimit-output-tokens-reset: 2024-05-01T11:59:00-00:02"],
            ms(60_000),
        ),
        // The longest wins.
        (
            &[
                "retry-after: 2",
                "x-ratelimit-reset-requests: 3s",
                "x-ratelimit-reset-tokens: 1s",
                "anthropic-ratelimit-requests-reset: 2024-05-01T12:00:01Z",
            ],
            ms(3_000),
        ),
        (&[], None),
        (&["x-other: 5"], None),
    ];
    for (fields, want) in cases {
        assert_eq!(cooldown(fields), *want, "{fields:?}");
    }
}

#[test]
fn garbage_is_ignored_without_panicking() {
    let garbage = [
        "",
        "-1",
        "1.5",
        "abc",
        "1x",
        "s",
        ".",
        "..s",
        "1.2.3s",
        "99999999999999999999",
        "99999999999999999999h",
        "9999999999999999h",
        "Wed, 01 May 2024 12:00:30 UTC",
        "Wed, 32 May 2024 12:00:30 GMT",
        "Wed, 01 Foo 2024 12:00:30 GMT",
        "2024-13-01T00:00:00Z",
        "2024-05-01T12:00:00",
        "2024-05-01T12:00:00+2:00",
        "2024-05-01T12:00:00.Z",
        "ğğğ",
        "1969-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "1h-2m",
    ];
    for g in garbage {
        for name in [
            "retry-after",
            "retry-after-ms",
            "x-ratelimit-reset-requests",
            "anthropic-ratelimit-requests-reset",
        ] {
            let field = format!("{name}: {g}");
            let got = cooldown(&[&field]);
            // Some of these are valid in one form ("1.5" ms); none may panic, and the
            // clearly broken ones give nothing.
            if ["abc", "1x", "s", ".", "..s", "ğğğ", "-1", "1h-2m"].contains(&g) {
                assert_eq!(got, None, "{field}");
            }
        }
    }
    assert_eq!(go_duration(b"1.2.3s"), None);
    assert_eq!(go_duration(b"0"), Some(Duration::ZERO));
    assert_eq!(
        imf_fixdate_unix_ms(b"Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(784_111_777_000)
    );
    assert_eq!(rfc3339_unix_ms(b"1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(rfc3339_unix_ms(b"1969-12-31T23:59:59Z"), None);
}
