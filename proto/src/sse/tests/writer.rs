//! The writer: exact bytes for the common shapes, and every event read back through the
//! scanner as the same event.

use super::run_all_ways;
use crate::sse::{
    write_comment, write_event, EventOut, LineEnd, SseItem, SseLimits, SseScanner, SseWriteError,
};

fn written(event: &EventOut<'_>, end: LineEnd) -> Vec<u8> {
    let mut out = Vec::new();
    write_event(&mut out, event, end).unwrap();
    out
}

#[test]
fn exact_bytes() {
    let data = |data| EventOut {
        data,
        ..Default::default()
    };
    assert_eq!(written(&data(b"[DONE]"), LineEnd::Lf), b"data: [DONE]\n\n");
    assert_eq!(written(&data(b""), LineEnd::Lf), b"data:\n\n");
    assert_eq!(
        written(&data(b"a\nb"), LineEnd::CrLf),
        b"data: a\r\ndata: b\r\n\r\n"
    );
    assert_eq!(
        written(&data(b"a\r\nb\rc\n"), LineEnd::Lf),
        b"data: a\ndata: b\ndata: c\ndata:\n\n"
    );
    let full = EventOut {
        event: Some(b"message_delta"),
        id: Some(b"7"),
        retry: Some(1500),
        data: b"{}",
    };
    assert_eq!(
        written(&full, LineEnd::Lf),
        b"event: message_delta\nid: 7\nretry: 1500\ndata: {}\n\n"
    );
    let mut out = Vec::new();
    write_comment(&mut out, b" keep-alive", LineEnd::CrLf);
    write_comment(&mut out, b"", LineEnd::Lf);
    write_comment(&mut out, b"a\nb", LineEnd::Lf);
    assert_eq!(out, b": keep-alive\r\n:\n:a\n:b\n");
}

#[test]
fn refused_fields_write_nothing() {
    let cases: [(EventOut<'_>, SseWriteError); 4] = [
        (
            EventOut {
                event: Some(b"a\nb"),
                ..Default::default()
            },
            SseWriteError::LineBreakInEvent,
        ),
        (
            EventOut {
                id: Some(b"1\r"),
                ..Default::default()
            },
            SseWriteError::LineBreakInId,
        ),
        (
            EventOut {
                id: Some(b"1\x002"),
                ..Default::default()
            },
            SseWriteError::NulInId,
        ),
        (
            EventOut {
                event: Some(b"\r\n"),
                id: Some(b"\0"),
                ..Default::default()
            },
            SseWriteError::LineBreakInEvent,
        ),
    ];
    for (event, error) in cases {
        let mut out = b"kept".to_vec();
        assert_eq!(write_event(&mut out, &event, LineEnd::Lf), Err(error));
        assert_eq!(out, b"kept");
    }
}

/// What is written reads back as the same event (CR and CRLF in data become LF).
#[test]
fn round_trip() {
    let datas: &[&[u8]] = &[
        b"",
        b" leading space",
        b"  two",
        b"trailing ",
        b"a\nb",
        b"\n",
        b"\n\n",
        b"a\r\nb\rc",
        b"{\"json\": [1, 2]}",
        b":colon first",
        b"data: inside",
        "ünï ✓".as_bytes(),
        b"\0",
    ];
    for &data in datas {
        for (event, id, retry) in [
            (None, None, None),
            (Some(&b"delta"[..]), Some(&b" id 1"[..]), Some(0)),
            (Some(b""), Some(b""), Some(u64::MAX)),
        ] {
            for end in [LineEnd::Lf, LineEnd::CrLf] {
                let out = EventOut {
                    event,
                    id,
                    retry,
                    data,
                };
                let bytes = written(&out, end);
                let run = run_all_ways(SseLimits::default(), &bytes);
                assert_eq!(run.items.len(), 1, "{bytes:?}");
                let mut scanner = SseScanner::default();
                let step = scanner.scan(&bytes).unwrap();
                assert_eq!(step.consumed, bytes.len());
                let Some(SseItem::Event(got)) = step.item else {
                    panic!("no event from {bytes:?}");
                };
                let want_data: Vec<u8> = normalise(data);
                assert!(got.dispatched);
                assert_eq!(got.data.bytes, want_data, "{bytes:?}");
                assert_eq!(got.event.bytes, event.unwrap_or_default());
                assert_eq!(got.last_event_id, id.unwrap_or_default());
                assert_eq!(got.retry, retry);
            }
        }
    }
}

/// CR and CRLF as LF.
fn normalise(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' => {
                out.push(b'\n');
                if data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}
