//! The chunked transfer coding (RFC 9112 §7.1), as a streaming scanner.
//!
//! The gateway forwards chunked bodies in their original framing, so the common use is
//! pass-through: [`ChunkedScanner::scan`] says how many of the bytes it was given belong
//! to the body, validating every size line, extension, CRLF and trailer on the way, with
//! state kept across calls (a size line may be split between two reads).
//! [`ChunkedScanner::decode`] yields the data bytes for the rare case that the body must
//! be de-chunked (an HTTP/1.0 client, a filter that reads the body).

use super::{H1Error, Span};

/// The outcome of one call to [`ChunkedScanner::scan`] or [`ChunkedScanner::decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkedStep {
    /// Bytes of the input that were consumed (all belong to this body).
    pub consumed: usize,
    /// For `decode`: the chunk data within the consumed bytes, if any. At most one range
    /// per call; call again with the rest of the input. Always `None` from `scan`.
    pub data: Option<Span>,
    /// The last chunk and the trailer section have been consumed: the body is complete.
    /// Input after `consumed` belongs to the next message.
    pub done: bool,
}

/// Streaming validator of a chunked body. One per body; [`ChunkedScanner::reset`] reuses it.
#[derive(Debug, Clone)]
pub struct ChunkedScanner {
    max_line: usize,
    max_trailer_bytes: usize,
}

impl ChunkedScanner {
    /// `max_line`: the longest chunk-size line (size plus extensions) accepted.
    /// `max_trailer_bytes`: the largest trailer section accepted.
    pub fn new(max_line: usize, max_trailer_bytes: usize) -> ChunkedScanner {
        let _ = (max_line, max_trailer_bytes);
        todo!("chunked scanner")
    }

    pub fn reset(&mut self) {
        todo!("chunked reset")
    }

    /// Consumes as much of `input` as belongs to the body (all of it unless the body ends
    /// inside it) and validates it.
    pub fn scan(&mut self, input: &[u8]) -> Result<ChunkedStep, H1Error> {
        let _ = input;
        todo!("chunked scan")
    }

    /// Like `scan`, but stops after the first run of chunk data and reports it.
    pub fn decode(&mut self, input: &[u8]) -> Result<ChunkedStep, H1Error> {
        let _ = input;
        todo!("chunked decode")
    }

    pub fn is_done(&self) -> bool {
        todo!("chunked is_done")
    }
}
