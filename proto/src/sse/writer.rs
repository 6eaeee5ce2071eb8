//! Writing events: what the gateway sends when it makes or rewrites an event (a
//! translated stream, an error event after the commit point, a keep-alive).
//!
//! Everything appends to a caller-owned `Vec<u8>`. What is written reads back through
//! [`SseScanner`](super::SseScanner) as the same event, with one loss the format itself
//! imposes: a CR or CRLF inside `data` comes back as LF (all three end a line).
//!
//! Invariants: a field that could not be written without changing the stream's framing
//! (a line break in `event` or `id`, NUL in `id`) is refused with nothing written, never
//! escaped or dropped silently; every line written ends in the chosen [`LineEnd`].

/// The line end to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineEnd {
    #[default]
    Lf,
    CrLf,
}

impl LineEnd {
    fn bytes(self) -> &'static [u8] {
        match self {
            LineEnd::Lf => b"\n",
            LineEnd::CrLf => b"\r\n",
        }
    }
}

/// An event to write. `None` fields are left out; `data` is always written, so the event
/// is always dispatched (empty `data` is one empty data line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventOut<'a> {
    /// The `event` field. `Some(b"")` writes an empty one (type `message`).
    pub event: Option<&'a [u8]>,
    /// The `id` field. `Some(b"")` resets the client's last event id.
    pub id: Option<&'a [u8]>,
    /// The `retry` field, in milliseconds.
    pub retry: Option<u64>,
    /// The data; each line (split at CR, LF or CRLF) becomes one `data` line.
    pub data: &'a [u8],
}

/// Why an event could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseWriteError {
    /// The `event` value holds CR or LF, which would end the field early.
    LineBreakInEvent,
    /// The `id` value holds CR or LF.
    LineBreakInId,
    /// The `id` value holds NUL, which makes a client ignore the field.
    NulInId,
}

impl core::fmt::Display for SseWriteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SseWriteError::LineBreakInEvent => "event type holds a line break",
            SseWriteError::LineBreakInId => "event id holds a line break",
            SseWriteError::NulInId => "event id holds NUL",
        })
    }
}

impl std::error::Error for SseWriteError {}

/// Appends `event` and the empty line that dispatches it.
pub fn write_event(
    out: &mut Vec<u8>,
    event: &EventOut<'_>,
    end: LineEnd,
) -> Result<(), SseWriteError> {
    if event.event.is_some_and(has_line_break) {
        return Err(SseWriteError::LineBreakInEvent);
    }
    if let Some(id) = event.id {
        if has_line_break(id) {
            return Err(SseWriteError::LineBreakInId);
        }
        if id.contains(&0) {
            return Err(SseWriteError::NulInId);
        }
    }
    if let Some(kind) = event.event {
        field(out, b"event", kind, end);
    }
    if let Some(id) = event.id {
        field(out, b"id", id, end);
    }
    if let Some(ms) = event.retry {
        let mut digits = [0u8; 20];
        field(out, b"retry", decimal(ms, &mut digits), end);
    }
    for line in lines(event.data) {
        field(out, b"data", line, end);
    }
    out.extend_from_slice(end.bytes());
    Ok(())
}

/// Appends `text` as comment lines (`:` then the text as given; a line break in `text`
/// starts a new comment line). Clients ignore comments; the gateway uses them as
/// keep-alives. Does not end the event block: follow it with an event or an empty line.
pub fn write_comment(out: &mut Vec<u8>, text: &[u8], end: LineEnd) {
    for line in lines(text) {
        out.push(b':');
        out.extend_from_slice(line);
        out.extend_from_slice(end.bytes());
    }
}

/// `name: value` and a line end; `name:` alone for an empty value.
fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8], end: LineEnd) {
    out.extend_from_slice(name);
    out.push(b':');
    if !value.is_empty() {
        // The reader drops one space after the colon, so a value that starts with a
        // space keeps it.
        out.push(b' ');
        out.extend_from_slice(value);
    }
    out.extend_from_slice(end.bytes());
}

/// `n` in base ten, written into the end of `buf` (20 digits hold any `u64`).
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

fn has_line_break(value: &[u8]) -> bool {
    memchr::memchr2(b'\r', b'\n', value).is_some()
}

/// The lines of `text` split at CR, LF and CRLF, as the reader splits them; always at
/// least one (possibly empty) line.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(text);
    core::iter::from_fn(move || {
        let current = rest?;
        match memchr::memchr2(b'\r', b'\n', current) {
            None => {
                rest = None;
                Some(current)
            }
            Some(i) => {
                let next = if current[i] == b'\r' && current.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                };
                rest = Some(&current[next..]);
                Some(&current[..i])
            }
        }
    })
}
