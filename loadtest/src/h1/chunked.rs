//! Incremental decoder for `Transfer-Encoding: chunked` bodies (RFC 9112 §7.1).
//!
//! Feed it any split of the input; it reports how much it consumed and hands decoded data
//! to a callback, so callers can keep or discard the body without buffering it whole.
//! Strict about framing (CRLF line ends, hex sizes of at most 16 digits); extensions and
//! trailers are skipped. Memory use is constant.

/// Why a chunked body was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkedError {
    /// The size line is not hex digits (optionally followed by extensions).
    BadSize,
    /// A line did not end in CRLF where one was required.
    BadLineEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    TrailerLf,
    EndLf,
    Done,
}

/// The decoder's state between calls to [`ChunkedDecoder::feed`].
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    digits: u8,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        Self {
            state: State::Size,
            size: 0,
            digits: 0,
        }
    }

    /// True once the last chunk and the trailer section have been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes bytes from `input`, passing decoded body data to `on_data`. Returns how many
    /// bytes were consumed; it stops right after the body ends, so the rest of `input`
    /// belongs to the next message.
    pub fn feed(
        &mut self,
        input: &[u8],
        mut on_data: impl FnMut(&[u8]),
    ) -> Result<usize, ChunkedError> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            let b = input[i];
            match self.state {
                State::Data => {
                    let avail = (input.len() - i) as u64;
                    let take = avail.min(self.size) as usize;
                    on_data(&input[i..i + take]);
                    self.size -= take as u64;
                    i += take;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    continue;
                }
                State::Size => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if self.digits == 16 {
                            return Err(ChunkedError::BadSize);
                        }
                        // The digit check above makes to_digit infallible.
                        let d = (b as char).to_digit(16).unwrap_or(0);
                        self.size = (self.size << 4) | u64::from(d);
                        self.digits += 1;
                    }
                    b';' | b' ' | b'\t' if self.digits > 0 => self.state = State::Ext,
                    b'\r' if self.digits > 0 => self.state = State::SizeLf,
                    _ => return Err(ChunkedError::BadSize),
                },
                State::Ext => {
                    if b == b'\r' {
                        self.state = State::SizeLf;
                    } else if b == b'\n' {
                        return Err(ChunkedError::BadLineEnd);
                    }
                }
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(ChunkedError::BadLineEnd);
                    }
                    self.state = if self.size == 0 {
                        State::TrailerStart
                    } else {
                        State::Data
                    };
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(ChunkedError::BadLineEnd);
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(ChunkedError::BadLineEnd);
                    }
                    self.state = State::Size;
                    self.size = 0;
                    self.digits = 0;
                }
                State::TrailerStart => {
                    self.state = if b == b'\r' {
                        State::EndLf
                    } else {
                        State::TrailerLine
                    };
                }
                State::TrailerLine => {
                    if b == b'\r' {
                        self.state = State::TrailerLf;
                    } else if b == b'\n' {
                        return Err(ChunkedError::BadLineEnd);
                    }
                }
                State::TrailerLf | State::EndLf => {
                    if b != b'\n' {
                        return Err(ChunkedError::BadLineEnd);
                    }
                    self.state = if self.state == State::EndLf {
                        State::Done
                    } else {
                        State::TrailerStart
                    };
                }
                State::Done => break,
            }
            i += 1;
        }
        Ok(i)
    }
}

/// Appends `data` to `out` as one chunk (nothing for empty data: that would end the body).
pub fn encode_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The terminating chunk with an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_split(input: &[u8], step: usize) -> Result<(Vec<u8>, usize, bool), ChunkedError> {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < input.len() && !d.is_done() {
            let end = (pos + step).min(input.len());
            pos += d.feed(&input[pos..end], |b| out.extend_from_slice(b))?;
        }
        Ok((out, pos, d.is_done()))
    }

    #[test]
    fn decodes_at_every_split() {
        let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for step in 1..body.len() {
            let (out, used, done) = decode_split(body, step).unwrap();
            assert_eq!(out, b"hello world");
            assert!(done);
            assert_eq!(&body[used..], b"NEXT");
        }
    }

    #[test]
    fn rejects_bad_framing() {
        let cases: &[&[u8]] = &[
            b"\r\n",
            b"zz\r\n",
            b"5\nhello",
            b"5\r\nhelloXX",
            b"11111111111111111\r\n",
            b"0\r\nX\nY",
        ];
        for c in cases {
            assert!(
                decode_split(c, 3).is_err(),
                "{:?}",
                String::from_utf8_lossy(c)
            );
        }
    }

    #[test]
    fn encodes_round_trip() {
        let mut out = Vec::new();
        encode_chunk(&mut out, b"abc");
        encode_chunk(&mut out, b"");
        out.extend_from_slice(LAST_CHUNK);
        let (body, _, done) = decode_split(&out, 2).unwrap();
        assert_eq!(body, b"abc");
        assert!(done);
    }
}
