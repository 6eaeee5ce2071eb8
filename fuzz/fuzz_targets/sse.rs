//! Fuzzes `SseScanner` with the stream arriving in reads of varying sizes, against the
//! same stream scanned in one read: the items, the stream offsets where they end, the
//! error (if any) and the pending bytes must agree, whatever the split. Spans must point
//! at the bytes they claim. Every dispatched event is then written back with
//! `write_event` and must read back as the same event.
//!
//! The first input byte is the seed: bits 0-5 pick the read sizes, bit 6 small limits
//! (to reach the limit errors often), bit 7 nothing yet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_proto::sse::{
    write_event, EventOut, LineEnd, SseError, SseItem, SseLimits, SseScanner, SseStep, Text,
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Event {
        dispatched: bool,
        kind: Vec<u8>,
        data: Vec<u8>,
        id: Vec<u8>,
        retry: Option<u64>,
        end: usize,
    },
    Comment {
        text: Vec<u8>,
        end: usize,
    },
}

#[derive(Debug, PartialEq, Eq)]
struct Run {
    items: Vec<Got>,
    error: Option<SseError>,
    pending: usize,
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let limits = if seed & 0x40 != 0 {
        SseLimits {
            max_line: 48,
            max_event: 160,
        }
    } else {
        SseLimits::default()
    };
    let whole = run(limits, stream, &mut |_| stream.len());
    // Read sizes 1..=64 that change from read to read, driven by the seed.
    let mut state = u32::from(seed & 0x3f) + 1;
    let split = run(limits, stream, &mut |_| {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (state >> 16) as usize % 64 + 1
    });
    assert_eq!(split.items, whole.items);
    assert_eq!(split.error.is_some(), whole.error.is_some());
    if whole.error.is_none() {
        assert_eq!(split.pending, whole.pending);
        round_trip(&whole.items);
    }
});

/// Scans `stream` in reads whose sizes `next_read` gives.
fn run(limits: SseLimits, stream: &[u8], next_read: &mut dyn FnMut(usize) -> usize) -> Run {
    let mut scanner = SseScanner::new(limits);
    let mut out = Run {
        items: Vec::new(),
        error: None,
        pending: 0,
    };
    let mut offset = 0;
    while offset < stream.len() {
        let size = next_read(offset).clamp(1, stream.len() - offset);
        let read = &stream[offset..offset + size];
        let mut at = 0;
        while at < read.len() {
            match scanner.scan(&read[at..]) {
                Ok(step) => {
                    assert!(step.consumed > 0 && at + step.consumed <= read.len());
                    record(&mut out.items, &read[at..], offset + at, &step);
                    at += step.consumed;
                }
                Err(error) => {
                    assert_eq!(scanner.scan(b"\n").err(), Some(error));
                    out.error = Some(error);
                    return out;
                }
            }
        }
        offset += size;
    }
    out.pending = scanner.pending_bytes();
    out
}

fn record(items: &mut Vec<Got>, input: &[u8], base: usize, step: &SseStep<'_>) {
    let end = base + step.consumed;
    let check = |text: &Text<'_>| {
        if let Some(span) = text.span {
            assert_eq!(span.of(input), text.bytes);
            assert!(span.end <= step.consumed);
        }
    };
    match step.item {
        None => {}
        Some(SseItem::Event(event)) => {
            check(&event.event);
            check(&event.data);
            assert!(
                event.dispatched || (event.event.bytes.is_empty() && event.data.bytes.is_empty())
            );
            items.push(Got::Event {
                dispatched: event.dispatched,
                kind: event.event.bytes.to_vec(),
                data: event.data.bytes.to_vec(),
                id: event.last_event_id.to_vec(),
                retry: event.retry,
                end,
            });
        }
        Some(SseItem::Comment(text)) => {
            check(&text);
            items.push(Got::Comment {
                text: text.bytes.to_vec(),
                end,
            });
        }
        Some(SseItem::CrLfTail) => {
            assert_eq!((input.first(), step.consumed), (Some(&b'\n'), 1));
            match items.last_mut() {
                Some(Got::Event { end, .. } | Got::Comment { end, .. }) => *end += 1,
                None => panic!("CrLfTail before any item"),
            }
        }
    }
}

/// Every dispatched event, written out, reads back the same. The scanner never yields a
/// type or id the writer must refuse (no line breaks; ids without NUL).
fn round_trip(items: &[Got]) {
    for item in items {
        let Got::Event {
            dispatched: true,
            kind,
            data,
            id,
            retry,
            ..
        } = item
        else {
            continue;
        };
        for end in [LineEnd::Lf, LineEnd::CrLf] {
            let mut out = Vec::new();
            let event = EventOut {
                event: Some(kind),
                id: Some(id),
                retry: *retry,
                data,
            };
            write_event(&mut out, &event, end).expect("scanner output is writable");
            let mut scanner = SseScanner::default();
            let step = scanner.scan(&out).expect("written event scans");
            assert_eq!(step.consumed, out.len());
            let Some(SseItem::Event(back)) = step.item else {
                panic!("written event did not come back");
            };
            assert!(back.dispatched);
            assert_eq!(back.event.bytes, &kind[..]);
            assert_eq!(back.data.bytes, &data[..]);
            assert_eq!(back.last_event_id, &id[..]);
            assert_eq!(back.retry, *retry);
        }
    }
}
