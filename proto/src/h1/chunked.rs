//! The chunked transfer coding (RFC 9112 §7.1), as a streaming scanner.
//!
//! The gateway forwards chunked bodies in their original framing, so the common use is
//! pass-through: [`ChunkedScanner::scan`] says how many of the bytes it was given belong
//! to the body, validating every size line, extension, CRLF and trailer on the way, with
//! state kept across calls (a size line may be split between two reads).
//! [`ChunkedScanner::decode`] yields the data bytes for the rare case that the body must
//! be de-chunked (an HTTP/1.0 client, a filter that reads the body).
//!
//! Strictness, on purpose (a lenient chunk parser is how request smuggling works):
//! - chunk-size is `1*HEXDIG` and nothing else: no `0x`, sign, `_`, leading whitespace,
//!   and at most 16 significant digits (it must fit in 64 bits);
//! - every line ends in CRLF; a bare LF is refused (RFC 9112 §7.1 has no tolerance for
//!   it, unlike §2.2 for the head);
//! - chunk extensions follow `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`
//!   and are otherwise ignored; whitespace after the size not followed by `;` is refused;
//! - trailer fields are checked like header fields (`token ":" field-value CRLF`, no
//!   obs-fold, no whitespace before the colon) and forwarded untouched.
//!
//! Every byte outside chunk data goes through one small state machine; chunk data is
//! skipped in one step per run, whatever its length.

use super::syntax::{
    hex_value, is_field_value_byte, is_ows, is_qdtext, is_quoted_pair_byte, is_tchar,
};
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

/// Where the scanner is in the body. Chunk extension states follow the grammar in the
/// module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first hex digit of a chunk-size.
    SizeStart,
    /// Inside the chunk-size digits.
    Size,
    /// Whitespace after the size or an extension, before the next `;`.
    ExtBeforeSemi,
    /// After `;`, before an extension name.
    ExtBeforeName,
    ExtName,
    /// Whitespace after an extension name, before `=` or `;`.
    ExtAfterName,
    /// After `=`, before the value.
    ExtBeforeValue,
    ExtToken,
    ExtQuoted,
    /// After a backslash inside a quoted value.
    ExtEscape,
    ExtAfterQuoted,
    /// The CR that ends the size line was seen.
    SizeLf,
    /// Inside chunk data; `ChunkedScanner::remaining` bytes are left.
    Data,
    DataCr,
    DataLf,
    TrailerLineStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    /// The CR of the blank line that ends the trailer section was seen.
    FinalLf,
    Done,
    /// An error was returned; every later call returns it again.
    Failed(H1Error),
}

impl State {
    /// States that read the bytes of a chunk-size line, before its CR.
    fn in_size_line(self) -> bool {
        use State::*;
        matches!(
            self,
            SizeStart
                | Size
                | ExtBeforeSemi
                | ExtBeforeName
                | ExtName
                | ExtAfterName
                | ExtBeforeValue
                | ExtToken
                | ExtQuoted
                | ExtEscape
                | ExtAfterQuoted
        )
    }

    /// States that read trailer field lines (the final blank line is not counted).
    fn in_trailer_field(self) -> bool {
        use State::*;
        matches!(
            self,
            TrailerLineStart | TrailerName | TrailerValue | TrailerLf
        )
    }
}

/// Streaming validator of a chunked body. One per body; [`ChunkedScanner::reset`] reuses it.
#[derive(Debug, Clone)]
pub struct ChunkedScanner {
    max_line: usize,
    max_trailer_bytes: usize,
    state: State,
    /// The chunk-size being read, then the data bytes left in the current chunk.
    remaining: u64,
    /// Bytes of the current size line so far (without its CRLF).
    line_len: usize,
    /// Bytes of the trailer section so far.
    trailer_len: usize,
}

impl ChunkedScanner {
    /// `max_line`: the longest chunk-size line (size plus extensions) accepted.
    /// `max_trailer_bytes`: the largest trailer section accepted, in bytes of field lines
    /// (the blank line that ends the body is not counted, so 0 allows no trailers).
    pub fn new(max_line: usize, max_trailer_bytes: usize) -> ChunkedScanner {
        ChunkedScanner {
            max_line,
            max_trailer_bytes,
            state: State::SizeStart,
            remaining: 0,
            line_len: 0,
            trailer_len: 0,
        }
    }

    /// Forgets the body scanned so far, keeping the limits: ready for the next body.
    pub fn reset(&mut self) {
        self.state = State::SizeStart;
        self.remaining = 0;
        self.line_len = 0;
        self.trailer_len = 0;
    }

    /// Consumes as much of `input` as belongs to the body (all of it unless the body ends
    /// inside it) and validates it.
    pub fn scan(&mut self, input: &[u8]) -> Result<ChunkedStep, H1Error> {
        self.run(input, false)
    }

    /// Like `scan`, but stops after the first run of chunk data and reports it.
    pub fn decode(&mut self, input: &[u8]) -> Result<ChunkedStep, H1Error> {
        self.run(input, true)
    }

    /// The last chunk and the trailer section have been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn run(&mut self, input: &[u8], stop_after_data: bool) -> Result<ChunkedStep, H1Error> {
        if let State::Failed(e) = self.state {
            return Err(e);
        }
        // Spans are u32; a caller never hands over 4 GiB at once, but stay in range if so.
        let input = &input[..input.len().min(u32::MAX as usize)];
        let mut pos = 0;
        while pos < input.len() {
            match self.state {
                State::Done => break,
                State::Data => {
                    let start = pos;
                    let run = self.remaining.min((input.len() - pos) as u64);
                    // `run` is at most `input.len() - pos`, which is a usize.
                    pos += run as usize;
                    self.remaining -= run;
                    if self.remaining == 0 {
                        self.state = State::DataCr;
                    }
                    debug_assert!(pos <= input.len());
                    if stop_after_data && run > 0 {
                        let data = Some(Span::new(start, pos));
                        return Ok(ChunkedStep {
                            consumed: pos,
                            data,
                            done: false,
                        });
                    }
                }
                _ => {
                    if let Err(e) = self.step(input[pos]) {
                        self.state = State::Failed(e);
                        return Err(e);
                    }
                    pos += 1;
                }
            }
        }
        Ok(ChunkedStep {
            consumed: pos,
            data: None,
            done: self.is_done(),
        })
    }

    /// Advances the state machine by one byte outside chunk data.
    fn step(&mut self, b: u8) -> Result<(), H1Error> {
        use H1Error::{InvalidChunkExtension as BadExt, InvalidChunkSize as BadSize};
        use State::*;
        if self.state.in_size_line() {
            // Counts the line's CR too, hence the `+ 1`.
            self.line_len += 1;
            if self.line_len > self.max_line.saturating_add(1) {
                return Err(H1Error::ChunkLineTooLong);
            }
        } else if self.state.in_trailer_field() && !(self.state == TrailerLineStart && b == b'\r') {
            self.trailer_len += 1;
            if self.trailer_len > self.max_trailer_bytes {
                return Err(H1Error::ChunkLineTooLong);
            }
        }
        let ext_end = |b: u8, after: State| match b {
            b';' => Ok(ExtBeforeName),
            b'\r' => Ok(SizeLf),
            _ if is_ows(b) => Ok(after),
            _ => Err(BadExt),
        };
        self.state = match self.state {
            SizeStart => {
                self.remaining = u64::from(hex_value(b).ok_or(BadSize)?);
                Size
            }
            Size => match hex_value(b) {
                Some(d) => {
                    // A 17th significant digit would shift out of 64 bits.
                    if self.remaining >> 60 != 0 {
                        return Err(BadSize);
                    }
                    self.remaining = self.remaining << 4 | u64::from(d);
                    Size
                }
                None if b == b';' || b == b'\r' || is_ows(b) => ext_end(b, ExtBeforeSemi)?,
                None => return Err(BadSize),
            },
            ExtBeforeSemi => match b {
                b';' => ExtBeforeName,
                _ if is_ows(b) => ExtBeforeSemi,
                _ => return Err(BadExt),
            },
            ExtBeforeName => match b {
                _ if is_ows(b) => ExtBeforeName,
                _ if is_tchar(b) => ExtName,
                _ => return Err(BadExt),
            },
            ExtName => match b {
                b'=' => ExtBeforeValue,
                _ if is_tchar(b) => ExtName,
                _ => ext_end(b, ExtAfterName)?,
            },
            ExtAfterName => match b {
                b'=' => ExtBeforeValue,
                b';' => ExtBeforeName,
                _ if is_ows(b) => ExtAfterName,
                _ => return Err(BadExt),
            },
            ExtBeforeValue => match b {
                b'"' => ExtQuoted,
                _ if is_ows(b) => ExtBeforeValue,
                _ if is_tchar(b) => ExtToken,
                _ => return Err(BadExt),
            },
            ExtToken if is_tchar(b) => ExtToken,
            ExtToken | ExtAfterQuoted => ext_end(b, ExtBeforeSemi)?,
            ExtQuoted => match b {
                b'"' => ExtAfterQuoted,
                b'\\' => ExtEscape,
                _ if is_qdtext(b) => ExtQuoted,
                _ => return Err(BadExt),
            },
            ExtEscape if is_quoted_pair_byte(b) => ExtQuoted,
            ExtEscape => return Err(BadExt),
            SizeLf if b == b'\n' => {
                self.line_len = 0;
                if self.remaining == 0 {
                    TrailerLineStart
                } else {
                    Data
                }
            }
            SizeLf => return Err(BadSize),
            DataCr if b == b'\r' => DataLf,
            DataLf if b == b'\n' => SizeStart,
            DataCr | DataLf => return Err(H1Error::InvalidChunkTerminator),
            TrailerLineStart => match b {
                b'\r' => FinalLf,
                _ if is_tchar(b) => TrailerName,
                // Includes obs-fold (a line starting with whitespace) and bare LF.
                _ => return Err(H1Error::InvalidTrailer),
            },
            TrailerName => match b {
                b':' => TrailerValue,
                _ if is_tchar(b) => TrailerName,
                _ => return Err(H1Error::InvalidTrailer),
            },
            TrailerValue => match b {
                b'\r' => TrailerLf,
                _ if is_field_value_byte(b) => TrailerValue,
                _ => return Err(H1Error::InvalidTrailer),
            },
            TrailerLf if b == b'\n' => TrailerLineStart,
            FinalLf if b == b'\n' => Done,
            TrailerLf | FinalLf => return Err(H1Error::InvalidTrailer),
            // `run` handles these without calling `step`.
            Data | Done | Failed(_) => self.state,
        };
        debug_assert!(self.line_len <= self.max_line.saturating_add(1));
        debug_assert!(self.trailer_len <= self.max_trailer_bytes);
        Ok(())
    }
}
