//! Bounded buffers: a line or an event past its limit is an error in every run (whole,
//! split, byte by byte), after the same items; the error sticks until `reset`.

use super::{msg, run_all_ways, X};
use crate::sse::{SseError, SseItem, SseLimits, SseScanner};

fn limits(max_line: usize, max_event: usize) -> SseLimits {
    SseLimits {
        max_line,
        max_event,
    }
}

/// Runs `stream` all ways; returns the error and checks the items before it.
fn error_after(limits: SseLimits, stream: &[u8], before: &[X]) -> Option<SseError> {
    let run = run_all_ways(limits, stream);
    assert_eq!(run.items.len(), before.len(), "{:?}", run.items);
    for (got, want) in run.items.iter().zip(before) {
        assert!(super::matches(got, want), "{got:?} vs {want:?}");
    }
    run.error
}

#[test]
fn line_limit() {
    let at_limit = b"data: 12345\n\n"; // an 11-byte line
    assert_eq!(
        error_after(limits(11, 100), at_limit, &[msg(b"12345").x()]),
        None
    );
    assert_eq!(
        error_after(limits(10, 100), at_limit, &[]),
        Some(SseError::LineTooLong)
    );
    assert_eq!(
        error_after(
            limits(10, 100),
            b"data: a\n\n:0123456789a\n",
            &[msg(b"a").x()]
        ),
        Some(SseError::LineTooLong),
        "a comment line counts"
    );
    assert_eq!(
        error_after(
            limits(10, 100),
            b"data: a\n\ndata: 0123456789",
            &[msg(b"a").x()]
        ),
        Some(SseError::LineTooLong),
        "a line without its end counts"
    );
    assert_eq!(
        error_after(limits(4, 100), b"\xEF\xBB\xBFdata\n\n", &[msg(b"").x()]),
        None,
        "the BOM is not part of the line"
    );
    assert_eq!(
        error_after(limits(4, 100), b"\xEF\xBBdata\n\n", &[]),
        Some(SseError::LineTooLong),
        "half a BOM is"
    );
}

#[test]
fn event_limit() {
    let event = b"data: a\n\n"; // 9 raw bytes
    assert_eq!(error_after(limits(100, 9), event, &[msg(b"a").x()]), None);
    assert_eq!(
        error_after(limits(100, 8), event, &[]),
        Some(SseError::EventTooLarge)
    );
    let mut many = Vec::new();
    for _ in 0..20 {
        many.extend_from_slice(b"data: 0123456789\n");
    }
    many.push(b'\n');
    assert_eq!(
        error_after(limits(100, 200), &many, &[]),
        Some(SseError::EventTooLarge),
        "data lines add up"
    );
    assert_eq!(
        error_after(
            limits(100, 20),
            b":ping\n:ping\n:ping\n:ping\n\n",
            &[
                X::Comment(b"ping"),
                X::Comment(b"ping"),
                X::Comment(b"ping")
            ]
        ),
        Some(SseError::EventTooLarge),
        "comments count towards their block"
    );
    assert_eq!(
        error_after(
            limits(100, 12),
            b"data: 1\n\ndata: 2\n\ndata: 3\n\n",
            &[msg(b"1").x(), msg(b"2").x(), msg(b"3").x()]
        ),
        None,
        "each event is counted on its own"
    );
}

#[test]
fn zero_limits_do_not_panic() {
    for stream in [
        &b""[..],
        b"\n",
        b"\r\n",
        b"data\n\n",
        b":\r",
        b"\xEF\xBB\xBF",
    ] {
        let _ = run_all_ways(limits(0, 0), stream);
    }
}

/// A peer that never ends its line is refused once the line passes the limit, with no
/// more than the limit held.
#[test]
fn endless_line_is_cut_off() {
    let mut scanner = SseScanner::new(limits(1 << 16, 1 << 20));
    let read = [b'x'; 4096];
    let mut fed = 0;
    let error = loop {
        match scanner.scan(&read) {
            Ok(step) => fed += step.consumed,
            Err(error) => break error,
        }
        assert!(fed <= 1 << 16);
    };
    assert_eq!(error, SseError::LineTooLong);
    assert_eq!(fed, 1 << 16);
}

#[test]
fn error_sticks_until_reset() {
    let mut scanner = SseScanner::new(limits(4, 100));
    assert_eq!(
        scanner.scan(b"data: long\n\n").err(),
        Some(SseError::LineTooLong)
    );
    assert_eq!(scanner.scan(b"\n").err(), Some(SseError::LineTooLong));
    scanner.reset();
    let step = scanner.scan(b"id:1\n\n").unwrap();
    assert!(matches!(step.item, Some(SseItem::Event(e)) if e.last_event_id == b"1"));
    scanner.reset();
    assert_eq!(scanner.last_event_id(), b"");
    // After a reset the stream starts again, so a BOM is skipped again.
    let step = scanner.scan(b"\xEF\xBB\xBFdata\n\n").unwrap();
    assert!(matches!(step.item, Some(SseItem::Event(e)) if e.dispatched));
}
