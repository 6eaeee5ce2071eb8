//! Tests of the SSE scanner and writer.
//!
//! Every vector runs whole, split in two at every byte position, fed one byte at a time
//! and through `scan_all`; all runs must give the same items ending at the same stream
//! offsets, tile the input exactly, and return spans that point at the bytes they claim.
//!
//! - `vectors`: one row per WHATWG event-stream rule; `examples`: the spec's examples;
//! - `wpt`: the web-platform-tests `eventsource/format-*` cases, ported;
//! - `llm`: OpenAI and Anthropic stream samples, zero copy, forwarding by units;
//! - `limits`: bounded buffers and the failed state;
//! - `writer`: `write_event`/`write_comment`, read back through the scanner.

mod examples;
mod limits;
mod llm;
mod vectors;
mod wpt;
mod writer;

use super::{SseError, SseItem, SseLimits, SseScanner, SseStep, Text};

/// An item as the tests compare it: owned, with the stream offset where it ends.
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

/// An expected item (stream offsets are not written in the tables; they are compared
/// between runs instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum X {
    Event(Ex),
    /// An event boundary with nothing dispatched: last event id and retry.
    Skip(&'static [u8], Option<u64>),
    Comment(&'static [u8]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ex {
    kind: &'static [u8],
    data: &'static [u8],
    id: &'static [u8],
    retry: Option<u64>,
}

impl Ex {
    const fn id(self, id: &'static [u8]) -> Ex {
        Ex { id, ..self }
    }
    const fn retry(self, ms: u64) -> Ex {
        Ex {
            retry: Some(ms),
            ..self
        }
    }
    const fn x(self) -> X {
        X::Event(self)
    }
}

/// A `message` event with this data.
const fn msg(data: &'static [u8]) -> Ex {
    Ex {
        kind: b"",
        data,
        id: b"",
        retry: None,
    }
}

/// An event of type `kind`.
const fn typed(kind: &'static [u8], data: &'static [u8]) -> Ex {
    Ex {
        kind,
        data,
        id: b"",
        retry: None,
    }
}

/// A boundary with no data, no id, no retry.
const SKIP: X = X::Skip(b"", None);

fn matches(got: &Got, want: &X) -> bool {
    match (got, want) {
        (
            Got::Event {
                dispatched: true,
                kind,
                data,
                id,
                retry,
                ..
            },
            X::Event(ex),
        ) => kind == ex.kind && data == ex.data && id == ex.id && *retry == ex.retry,
        (
            Got::Event {
                dispatched: false,
                kind,
                data,
                id,
                retry,
                ..
            },
            X::Skip(want_id, want_retry),
        ) => kind.is_empty() && data.is_empty() && id == want_id && retry == want_retry,
        (Got::Comment { text, .. }, X::Comment(want)) => text == want,
        _ => false,
    }
}

/// The outcome of one run over a whole stream.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    items: Vec<Got>,
    error: Option<SseError>,
    /// `pending_bytes()` at the end (when no error).
    pending: usize,
    /// Items whose data or type came back as a span into the read (zero copy).
    in_place: usize,
}

/// Feeds `reads` (concatenated, they are the stream) through one scanner.
fn run_reads<'r>(limits: SseLimits, reads: impl IntoIterator<Item = &'r [u8]>) -> Run {
    let mut scanner = SseScanner::new(limits);
    let mut run = Run {
        items: Vec::new(),
        error: None,
        pending: 0,
        in_place: 0,
    };
    let mut offset = 0;
    for read in reads {
        let mut at = 0;
        while at < read.len() {
            match scanner.scan(&read[at..]) {
                Ok(step) => {
                    assert!(step.consumed > 0 && at + step.consumed <= read.len());
                    record(&mut run, &read[at..], offset + at, &step);
                    at += step.consumed;
                }
                Err(error) => {
                    // The failed state sticks.
                    assert_eq!(scanner.scan(b"data: x\n\n").err(), Some(error));
                    run.error = Some(error);
                    return run;
                }
            }
        }
        offset += read.len();
    }
    run.pending = scanner.pending_bytes();
    run
}

fn record(run: &mut Run, input: &[u8], base: usize, step: &SseStep<'_>) {
    let end = base + step.consumed;
    let mut check = |text: &Text<'_>| {
        if let Some(span) = text.span {
            assert_eq!(span.of(input), text.bytes, "span and bytes disagree");
            assert!(span.end <= step.consumed, "span past the item");
            run.in_place += 1;
        }
    };
    match step.item {
        None => {}
        Some(SseItem::Event(event)) => {
            check(&event.event);
            check(&event.data);
            run.items.push(Got::Event {
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
            run.items.push(Got::Comment {
                text: text.bytes.to_vec(),
                end,
            });
        }
        Some(SseItem::CrLfTail) => {
            assert_eq!(input.first(), Some(&b'\n'));
            assert_eq!(step.consumed, 1);
            // The LF belongs to the previous item: its end moves by one.
            match run.items.last_mut() {
                Some(Got::Event { end, .. } | Got::Comment { end, .. }) => *end += 1,
                None => panic!("CrLfTail with no item before it"),
            }
        }
    }
}

/// Runs `stream` whole, split at every position, byte by byte and through `scan_all`;
/// asserts all runs agree and returns the whole run.
fn run_all_ways(limits: SseLimits, stream: &[u8]) -> Run {
    let whole = run_reads(limits, [stream]);
    let compare = |how: &str, run: Run| {
        assert_eq!(run.items, whole.items, "{how}: items differ");
        assert_eq!(run.error.is_some(), whole.error.is_some(), "{how}: error");
        assert_eq!(run.pending, whole.pending, "{how}: pending bytes");
    };
    for cut in 1..stream.len() {
        compare(
            &format!("split at {cut}"),
            run_reads(limits, [&stream[..cut], &stream[cut..]]),
        );
    }
    compare("byte by byte", run_reads(limits, stream.chunks(1)));
    compare("scan_all", scan_all_run(limits, stream));
    if whole.error.is_none() {
        check_tiling(stream, &whole);
    }
    whole
}

/// The same through `scan_all`, whose spans are rebased onto the whole input.
fn scan_all_run(limits: SseLimits, stream: &[u8]) -> Run {
    let mut scanner = SseScanner::new(limits);
    let mut items = Vec::new();
    let result = scanner.scan_all(stream, |end, item| {
        let span_ok = |text: &Text<'_>| text.span.is_none_or(|s| s.of(stream) == text.bytes);
        match item {
            SseItem::Event(event) => {
                assert!(span_ok(&event.event) && span_ok(&event.data));
                items.push(Got::Event {
                    dispatched: event.dispatched,
                    kind: event.event.bytes.to_vec(),
                    data: event.data.bytes.to_vec(),
                    id: event.last_event_id.to_vec(),
                    retry: event.retry,
                    end,
                });
            }
            SseItem::Comment(text) => {
                assert!(span_ok(&text));
                items.push(Got::Comment {
                    text: text.bytes.to_vec(),
                    end,
                });
            }
            SseItem::CrLfTail => unreachable!("one input has no split CRLF"),
        }
    });
    Run {
        pending: if result.is_ok() {
            scanner.pending_bytes()
        } else {
            0
        },
        items,
        error: result.err(),
        in_place: 0,
    }
}

/// Item ends increase, and the bytes after the last event boundary are the pending ones.
fn check_tiling(stream: &[u8], run: &Run) {
    let mut last = 0;
    let mut last_event = 0;
    for item in &run.items {
        let (Got::Event { end, .. } | Got::Comment { end, .. }) = item;
        assert!(
            *end > last && *end <= stream.len(),
            "item ends out of order"
        );
        last = *end;
        if matches!(item, Got::Event { .. }) {
            last_event = *end;
        }
    }
    assert_eq!(run.pending, stream.len() - last_event, "pending bytes");
}

/// Runs a table of `(rule, stream, expected items)` all ways with default limits.
fn check_table(rows: &[(&str, &[u8], &[X])]) {
    for (rule, stream, want) in rows {
        let run = run_all_ways(SseLimits::default(), stream);
        assert_eq!(run.error, None, "{rule}");
        let ok = run.items.len() == want.len()
            && run
                .items
                .iter()
                .zip(want.iter())
                .all(|(g, w)| matches(g, w));
        assert!(ok, "{rule}:\n got  {:?}\n want {:?}", run.items, want);
    }
}
