//! LLM provider streams as they come on the wire (OpenAI chat completions, Anthropic
//! messages), the zero-copy promise for them, and forwarding by units: what a gateway
//! that keeps or drops whole events would send.

use super::{check_table, msg, run_all_ways, run_reads, typed, Got, X};
use crate::sse::{SseItem, SseLimits, SseScanner};

const OPENAI: &[u8] = b"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,\"total_tokens\":10}}\n\n\
data: [DONE]\n\n";

const ANTHROPIC: &[u8] = b"event: message_start\r\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\r\n\r\n\
event: content_block_start\r\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\r\n\r\n\
event: ping\r\n\
data: {\"type\": \"ping\"}\r\n\r\n\
event: content_block_delta\r\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\r\n\r\n\
event: content_block_stop\r\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\r\n\r\n\
event: message_delta\r\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":15}}\r\n\r\n\
event: message_stop\r\n\
data: {\"type\":\"message_stop\"}\r\n\r\n";

#[test]
fn openai_stream() {
    let run = run_all_ways(SseLimits::default(), OPENAI);
    let datas: Vec<&[u8]> = run
        .items
        .iter()
        .map(|item| match item {
            Got::Event {
                dispatched: true,
                kind,
                data,
                ..
            } if kind.is_empty() => data.as_slice(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(datas.len(), 5);
    assert!(datas[1].ends_with(b"\"content\":\"Hello\"},\"finish_reason\":null}]}"));
    assert!(datas[3].starts_with(b"{\"id\":\"chatcmpl-1\""));
    assert_eq!(datas[4], b"[DONE]");
    // Read whole, every event's data is a slice of the read.
    assert_eq!(run.in_place, 5);
}

#[test]
fn anthropic_stream() {
    let run = run_all_ways(SseLimits::default(), ANTHROPIC);
    let kinds: Vec<&[u8]> = run
        .items
        .iter()
        .map(|item| match item {
            Got::Event {
                dispatched: true,
                kind,
                data,
                ..
            } => {
                assert!(data.starts_with(b"{\"type\":"));
                kind.as_slice()
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            &b"message_start"[..],
            b"content_block_start",
            b"ping",
            b"content_block_delta",
            b"content_block_stop",
            b"message_delta",
            b"message_stop",
        ]
    );
    // Type and data, for each of the 7 events.
    assert_eq!(run.in_place, 14);
}

#[test]
fn keep_alives_and_errors() {
    check_table(&[
        (
            "OpenAI-compatible servers' keep-alive comments",
            b": OPENROUTER PROCESSING\n\ndata: {\"a\":1}\n\n",
            &[X::Comment(b" OPENROUTER PROCESSING"), X::Skip(b"", None), msg(b"{\"a\":1}").x()],
        ),
        (
            "an Anthropic error event",
            b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
            &[typed(b"error", b"{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}").x()],
        ),
    ]);
}

/// An event split over two reads comes back from the scanner's buffer, whole.
#[test]
fn event_across_reads_is_owned() {
    let mut scanner = SseScanner::default();
    let step = scanner.scan(b"event: a\ndata: {\"x\"").unwrap();
    assert_eq!((step.consumed, step.item), (19, None));
    let step = scanner.scan(b":1}\n\nrest").unwrap();
    assert_eq!(step.consumed, 5);
    let Some(SseItem::Event(event)) = step.item else {
        panic!("no event");
    };
    assert_eq!((event.event.bytes, event.event.span), (&b"a"[..], None));
    assert_eq!(event.data.bytes, b"{\"x\":1}");
    assert_eq!(event.data.span, None);
}

/// A forwarder that keeps every unit reproduces the stream; one that drops the usage
/// chunk (as the gateway does when it added `include_usage` itself) leaves a stream
/// that reads as the original without that event, whatever the reads were.
#[test]
fn forwarding_by_units() {
    let mut stream = OPENAI.to_vec();
    // CRLF and CR line ends too, so that CRLF tails come up at some splits.
    stream.extend_from_slice(b": tail\r\ndata: x\r\n\r\ndata: y\r\r");
    let is_usage = |data: &[u8]| data.windows(8).any(|w| w == b"\"usage\":");
    let whole = run_reads(SseLimits::default(), [&stream[..]]);
    for cut in 0..=stream.len() {
        let (kept, dropped) = forward(&stream, cut, &is_usage);
        let reread = run_reads(SseLimits::default(), [&kept[..]]);
        let want: Vec<_> = whole
            .items
            .iter()
            .filter(|item| !matches!(item, Got::Event { data, .. } if is_usage(data)))
            .map(strip_end)
            .collect();
        let got: Vec<_> = reread.items.iter().map(strip_end).collect();
        assert_eq!(got, want, "cut at {cut}");
        assert_eq!(dropped, 1, "cut at {cut}");
        assert_eq!(kept_all(&stream, cut), stream, "cut at {cut}");
    }
}

/// Forwards `stream` read in two pieces at `cut`, holding each event's bytes until its
/// boundary and dropping events `drop` says so of; returns the bytes sent and the number
/// of events dropped.
fn forward(stream: &[u8], cut: usize, drop: &dyn Fn(&[u8]) -> bool) -> (Vec<u8>, usize) {
    /// Where the bytes of the last item went, so that its CRLF tail follows them.
    #[derive(Clone, Copy)]
    enum Went {
        Out,
        Dropped,
        Held,
    }
    let mut scanner = SseScanner::default();
    let (mut out, mut held, mut dropped) = (Vec::new(), Vec::new(), 0);
    let mut last = Went::Held;
    for read in [&stream[..cut], &stream[cut..]] {
        let mut at = 0;
        while at < read.len() {
            let step = scanner.scan(&read[at..]).unwrap();
            let bytes = &read[at..at + step.consumed];
            match step.item {
                Some(SseItem::Event(event)) => {
                    held.extend_from_slice(bytes);
                    if event.dispatched && drop(event.data.bytes) {
                        dropped += 1;
                        last = Went::Dropped;
                    } else {
                        out.extend_from_slice(&held);
                        last = Went::Out;
                    }
                    held.clear();
                }
                Some(SseItem::CrLfTail) => match last {
                    Went::Out => out.extend_from_slice(bytes),
                    Went::Dropped => {}
                    Went::Held => held.extend_from_slice(bytes),
                },
                Some(SseItem::Comment(_)) => {
                    held.extend_from_slice(bytes);
                    last = Went::Held;
                }
                None => held.extend_from_slice(bytes),
            }
            at += step.consumed;
        }
    }
    (out, dropped)
}

fn kept_all(stream: &[u8], cut: usize) -> Vec<u8> {
    forward(stream, cut, &|_| false).0
}

/// The item without its stream offset (offsets move when an event is dropped).
fn strip_end(item: &Got) -> Got {
    let mut item = item.clone();
    let (Got::Event { end, .. } | Got::Comment { end, .. }) = &mut item;
    *end = 0;
    item
}
