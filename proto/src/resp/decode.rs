//! The reply decoder: [`parse`] one RESP2 value from the front of a buffer.

use std::fmt;

/// One RESP2 reply. Strings borrow from the buffer that was parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// `+OK\r\n`: a status line (without the CRLF).
    Simple(&'a [u8]),
    /// `-ERR ...\r\n`: an error reply, as Redis wrote it (`NOSCRIPT ...`, `WRONGPASS ...`).
    Error(&'a [u8]),
    /// `:42\r\n`.
    Integer(i64),
    /// `$3\r\nfoo\r\n`.
    Bulk(&'a [u8]),
    /// `$-1\r\n` or `*-1\r\n`: the null bulk string or null array.
    Nil,
    /// `*2\r\n...`.
    Array(Vec<Value<'a>>),
}

impl Value<'_> {
    /// The integer of an `Integer` reply, or of a bulk string that holds one (Lua numbers
    /// come back as integers; a script may also return them as strings).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            Value::Bulk(b) | Value::Simple(b) => parse_int(b),
            _ => None,
        }
    }

    /// Whether this is an error reply whose code (first word) is `code`.
    pub fn is_error_code(&self, code: &[u8]) -> bool {
        match self {
            Value::Error(e) => e.split(|&b| b == b' ').next() == Some(code),
            _ => false,
        }
    }

    /// Appends this value's RESP2 encoding to `out` (tests, fuzzing, in-memory peers).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Simple(s) => line(out, b'+', s),
            Value::Error(s) => line(out, b'-', s),
            Value::Integer(i) => {
                out.push(b':');
                super::encode::write_int(out, *i);
                out.extend_from_slice(b"\r\n");
            }
            Value::Bulk(b) => {
                out.push(b'$');
                super::encode::write_int(out, b.len() as i64);
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Value::Nil => out.extend_from_slice(b"$-1\r\n"),
            Value::Array(items) => {
                out.push(b'*');
                super::encode::write_int(out, items.len() as i64);
                out.extend_from_slice(b"\r\n");
                for v in items {
                    v.encode(out);
                }
            }
        }
    }
}

fn line(out: &mut Vec<u8>, tag: u8, s: &[u8]) {
    out.push(tag);
    out.extend_from_slice(s);
    out.extend_from_slice(b"\r\n");
}

/// Bounds on one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one reply, framing included.
    pub max_reply: usize,
    /// Arrays inside arrays: 1 allows an array of scalars.
    pub max_depth: usize,
    /// Array elements in the whole reply, at every depth.
    pub max_elements: usize,
}

impl Default for Limits {
    /// Far above what the gateway's commands return (an exchange answers two integers),
    /// far below what could hurt a worker.
    fn default() -> Limits {
        Limits {
            max_reply: 64 * 1024,
            max_depth: 4,
            max_elements: 1024,
        }
    }
}

/// The outcome of a [`parse`] that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    Complete(T),
    /// The bytes end inside the reply: read more and parse again from the same start.
    Partial,
}

/// A reply that cannot be read. The stream is out of step after it: close it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespError {
    /// A type byte that RESP2 does not have.
    UnknownType(u8),
    /// A length or integer that is not a decimal number, or a length below -1.
    BadNumber,
    /// A bulk string not followed by CRLF, or a line holding a bare CR or LF.
    BadFraming,
    /// Longer than [`Limits::max_reply`].
    TooLarge,
    /// Nested deeper than [`Limits::max_depth`].
    TooDeep,
    /// More than [`Limits::max_elements`] array elements.
    TooManyElements,
}

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RespError::UnknownType(b) => write!(f, "unknown RESP type byte 0x{b:02x}"),
            RespError::BadNumber => f.write_str("bad number in a RESP reply"),
            RespError::BadFraming => f.write_str("bad framing in a RESP reply"),
            RespError::TooLarge => f.write_str("RESP reply larger than the limit"),
            RespError::TooDeep => f.write_str("RESP reply nested deeper than the limit"),
            RespError::TooManyElements => f.write_str("RESP reply with too many elements"),
        }
    }
}

impl std::error::Error for RespError {}

/// Parses one reply from the front of `buf`. `Complete((value, consumed))`: the reply
/// is `buf[..consumed]`; the bytes after it are the next replies.
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Status<(Value<'a>, usize)>, RespError> {
    let mut p = Parser {
        buf,
        // Bytes past `max_reply` can never be part of this reply.
        end: buf.len().min(limits.max_reply),
        limits,
        elements: 0,
    };
    match p.value(0, 0) {
        Ok(Some((v, n))) => Ok(Status::Complete((v, n))),
        // Incomplete within the bytes the limit lets us look at: if there were more
        // bytes than that, the reply is longer than the limit.
        Ok(None) if buf.len() > limits.max_reply => Err(RespError::TooLarge),
        Ok(None) => Ok(Status::Partial),
        Err(e) => Err(e),
    }
}

struct Parser<'a, 'l> {
    buf: &'a [u8],
    /// `min(buf.len(), max_reply)`: the parser never looks past it.
    end: usize,
    limits: &'l Limits,
    elements: usize,
}

/// `Ok(None)`: incomplete.
type Step<'a> = Result<Option<(Value<'a>, usize)>, RespError>;

impl<'a> Parser<'a, '_> {
    /// The value starting at `at`; returns it and the offset just past it.
    fn value(&mut self, at: usize, depth: usize) -> Step<'a> {
        let Some(&tag) = self.buf[..self.end].get(at) else {
            return Ok(None);
        };
        let Some((body, next)) = self.line(at + 1)? else {
            return Ok(None);
        };
        match tag {
            b'+' => Ok(Some((Value::Simple(body), next))),
            b'-' => Ok(Some((Value::Error(body), next))),
            b':' => {
                let i = parse_int(body).ok_or(RespError::BadNumber)?;
                Ok(Some((Value::Integer(i), next)))
            }
            b'$' => self.bulk(body, next),
            b'*' => self.array(body, next, depth),
            other => Err(RespError::UnknownType(other)),
        }
    }

    /// The line starting at `at` (without its CRLF) and the offset after the CRLF.
    fn line(&self, at: usize) -> Result<Option<(&'a [u8], usize)>, RespError> {
        let window = &self.buf[at.min(self.end)..self.end];
        let Some(lf) = memchr::memchr2(b'\r', b'\n', window) else {
            return Ok(None);
        };
        if window[lf] == b'\n' {
            return Err(RespError::BadFraming);
        }
        match window.get(lf + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some((&window[..lf], at + lf + 2))),
            Some(_) => Err(RespError::BadFraming),
        }
    }

    fn bulk(&self, len: &[u8], at: usize) -> Step<'a> {
        let len = parse_int(len).ok_or(RespError::BadNumber)?;
        if len == -1 {
            return Ok(Some((Value::Nil, at)));
        }
        let len = usize::try_from(len).map_err(|_| RespError::BadNumber)?;
        // `at + len + 2` overflows nothing: `len` is checked against the limit first.
        if len > self.limits.max_reply || at + len + 2 > self.limits.max_reply {
            return Err(RespError::TooLarge);
        }
        let end = at + len;
        if end + 2 > self.end {
            return Ok(None);
        }
        if &self.buf[end..end + 2] != b"\r\n" {
            return Err(RespError::BadFraming);
        }
        Ok(Some((Value::Bulk(&self.buf[at..end]), end + 2)))
    }

    fn array(&mut self, count: &[u8], mut at: usize, depth: usize) -> Step<'a> {
        let n = parse_int(count).ok_or(RespError::BadNumber)?;
        if n == -1 {
            return Ok(Some((Value::Nil, at)));
        }
        let n = usize::try_from(n).map_err(|_| RespError::BadNumber)?;
        if n > 0 && depth >= self.limits.max_depth {
            return Err(RespError::TooDeep);
        }
        if n > self.limits.max_elements.saturating_sub(self.elements) {
            return Err(RespError::TooManyElements);
        }
        self.elements += n;
        // Every element takes at least 3 bytes (`+\r\n`): never reserve for elements
        // whose bytes are not there.
        let room = (self.end - at.min(self.end)) / 3;
        let mut items = Vec::with_capacity(n.min(room));
        for _ in 0..n {
            match self.value(at, depth + 1)? {
                Some((v, next)) => {
                    items.push(v);
                    at = next;
                }
                None => return Ok(None),
            }
        }
        Ok(Some((Value::Array(items), at)))
    }
}

/// A RESP integer: an optional `-` and 1 to 19 decimal digits, within `i64`.
fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(d)?
        } else {
            v.checked_add(d)?
        };
    }
    Some(v)
}
