//! What both h1 fuzz targets share: splitting the input into reads, checking a parsed
//! head's invariants, and running a chunked body through `scan` and `decode` at once.

use bytes::BytesMut;
use tollgate_proto::h1::{ChunkedScanner, HeaderSpan, Span};

/// Hands out `data` in pieces of 1..=64 bytes, the size chosen by `seed`, as a socket would.
pub struct Reads<'a> {
    pub rest: &'a [u8],
    piece: usize,
}

impl<'a> Reads<'a> {
    pub fn new(seed: u8, data: &'a [u8]) -> Self {
        Reads {
            rest: data,
            piece: usize::from(seed % 64) + 1,
        }
    }

    /// Appends the next read to `buf`; false when the input is used up.
    pub fn read_into(&mut self, buf: &mut BytesMut) -> bool {
        if self.rest.is_empty() {
            return false;
        }
        let n = self.piece.min(self.rest.len());
        buf.extend_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        true
    }
}

/// The invariants of `proto::h1`: spans inside the head, lines tiling the field
/// section, the head ending with its blank line.
pub fn check_spans(buf: &[u8], start_line: Span, headers: &[HeaderSpan]) {
    assert!(
        buf.ends_with(b"\n\n") || buf.ends_with(b"\n\r\n"),
        "head without blank line"
    );
    assert_eq!(start_line.start, 0);
    let mut at = start_line.end;
    for h in headers {
        assert_eq!(h.line.start, at, "field lines must tile the head");
        assert!(h.name.start == h.line.start && h.name.end < h.value.start);
        assert!(h.value.end <= h.line.end && h.line.end as usize <= buf.len());
        at = h.line.end;
    }
}

/// Feeds a chunked body (what follows the head in `buf`, then the rest of the reads)
/// to two scanners, one scanning and one decoding; both must agree.
pub fn check_chunked(mut buf: BytesMut, reads: &mut Reads<'_>) {
    let mut scan = ChunkedScanner::new(64, 256);
    let mut decode = ChunkedScanner::new(64, 256);
    loop {
        let scanned = scan.scan(&buf);
        let mut decoded = 0;
        let mut decode_result = Ok(());
        while decoded < buf.len() {
            match decode.decode(&buf[decoded..]) {
                Ok(step) => {
                    if let Some(d) = step.data {
                        assert!(d.end as usize <= step.consumed);
                    }
                    decoded += step.consumed;
                    if step.done || step.consumed == 0 {
                        break;
                    }
                }
                Err(e) => {
                    decode_result = Err(e);
                    break;
                }
            }
        }
        match (scanned, decode_result) {
            (Ok(step), Ok(())) => {
                assert_eq!(step.consumed, decoded);
                assert_eq!(scan.is_done(), decode.is_done());
                if step.done {
                    return;
                }
                assert_eq!(step.consumed, buf.len(), "scan stopped early");
            }
            (Err(a), Err(b)) => {
                assert_eq!(a, b);
                return;
            }
            (a, b) => panic!("scan {a:?} and decode {b:?} disagree"),
        }
        buf.clear();
        if !reads.read_into(&mut buf) {
            return;
        }
    }
}
