//! Server-sent events (`text/event-stream`), sans-I/O: a scanner that follows the WHATWG
//! HTML "event stream interpretation" rules (§9.2.6) and a writer.
//!
//! The gateway forwards an upstream's stream event by event, so the scanner is built for
//! pass-through: [`SseScanner::scan`] is handed the bytes of a read, consumes them up to
//! the end of the next *unit* (an event boundary, a comment line) and says how many bytes
//! that was, with the unit's parsed fields. The caller keeps or forwards the raw bytes
//! itself; the scanner never copies them out for it. Field values are [`Text`]: a slice
//! of the caller's input with its [`Span`] when the event lay inside that input and had
//! one `data` line (the common case for OpenAI and Anthropic streams: zero copy), or a
//! slice of the scanner's own buffers when it spanned reads or joined several lines.
//!
//! The rules, as the spec words them (each has a row in `tests/vectors.rs`):
//! - a line ends in CR, LF or CRLF; a CRLF split between two reads is one line end;
//! - one leading U+FEFF (bytes `EF BB BF`) is skipped at the start of the stream, once;
//! - a line starting with `:` is a comment (reported as [`SseItem::Comment`]);
//! - `name:value` (one space after the colon dropped); a line without a colon is a field
//!   with an empty value; `event` sets the type, `data` appends a line (joined with LF),
//!   `id` sets the last event id unless the value holds NUL, `retry` is taken only when it
//!   is all ASCII digits; other names are ignored;
//! - an empty line ends the event: it is dispatched when its data buffer is not empty
//!   ([`SseEvent::dispatched`]); the boundary is reported either way;
//! - bytes after the last empty line, when the stream ends, are an unfinished event that
//!   is never dispatched ([`SseScanner::pending_bytes`] is then not zero).
//!
//! Where this differs from a browser, on purpose: bytes are not UTF-8 decoded, so invalid
//! sequences pass through instead of becoming U+FFFD (the line structure is the same:
//! CR, LF and `:` never occur inside a UTF-8 sequence); an empty `retry` value and one
//! that does not fit in a `u64` are ignored.
//!
//! Invariants:
//! - every unit's bytes are exactly the bytes consumed since the previous unit, so the
//!   units of a stream tile it; forwarding them in order reproduces the stream exactly;
//! - the items, and the stream offsets where they end, do not depend on how the stream
//!   was split into reads (a CRLF split after its CR is the one exception, and it is
//!   reported: [`SseItem::CrLfTail`]);
//! - memory is bounded by [`SseLimits`]: a line or an event past its limit is an
//!   [`SseError`], never a larger buffer;
//! - nothing here panics on any input (fuzzed: `fuzz/fuzz_targets/sse.rs`).
//!
//! Where things are: `scanner` ([`SseScanner`]), `block` (the fields of the event being
//! read), `writer` ([`write_event`], [`write_comment`]).

mod block;
mod scanner;
#[cfg(test)]
mod tests;
mod writer;

pub use scanner::SseScanner;
pub use writer::{write_comment, write_event, EventOut, LineEnd, SseWriteError};

/// A byte range in the input given to one [`SseScanner::scan`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        debug_assert!(start <= end);
        Span { start, end }
    }

    /// The bytes this span covers in `input`, or nothing if it is out of range.
    pub fn of<'a>(&self, input: &'a [u8]) -> &'a [u8] {
        input.get(self.start..self.end).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A field value or comment text. `span` is `Some` when `bytes` is `input[span]` of the
/// input given to the call that returned it (a caller holding that input as `Bytes` can
/// `slice` it instead of copying); `None` when the bytes live in the scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Text<'a> {
    pub bytes: &'a [u8],
    pub span: Option<Span>,
}

/// An event boundary: the empty line that ends an event block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The spec dispatches this event (its data buffer was not empty). When false, the
    /// block had no `data` line (a keep-alive, or only `id`/`retry`): `event` and `data`
    /// are empty and only the boundary and `last_event_id`/`retry` mean anything.
    pub dispatched: bool,
    /// The `event` field; empty means the default type, `message`.
    pub event: Text<'a>,
    /// The `data` lines joined with LF, without a final LF.
    pub data: Text<'a>,
    /// The last event id as of this event (ids persist across events until changed).
    pub last_event_id: &'a [u8],
    /// The last valid `retry` value in this block, in milliseconds.
    pub retry: Option<u64>,
}

/// What a [`SseScanner::scan`] call found at the end of the bytes it consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseItem<'a> {
    /// An event block ended: the consumed bytes, with those consumed since the previous
    /// `Event`, are its raw bytes.
    Event(SseEvent<'a>),
    /// A comment line: the text after the `:`, as sent (a leading space is kept). It
    /// belongs to the event block in progress.
    Comment(Text<'a>),
    /// One LF that completes a CRLF whose CR ended the previous item in an earlier read.
    /// It belongs to that item: forward it if that one was forwarded, drop it otherwise.
    CrLfTail,
}

/// The outcome of one [`SseScanner::scan`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseStep<'a> {
    /// Bytes of the input consumed. Call again with the rest of the input.
    pub consumed: usize,
    /// What ends at `consumed`; `None` when the input ran out inside an event (all of it
    /// was consumed and belongs to the event in progress).
    pub item: Option<SseItem<'a>>,
}

/// Bounds on what the scanner holds. A peer that exceeds one gets an [`SseError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseLimits {
    /// The longest line, without its line end.
    pub max_line: usize,
    /// The largest event block in raw bytes, from the end of the previous event to the end
    /// of its empty line (comments in it included). Bounds the data buffer too, and what a
    /// caller holds back to forward or drop an event whole.
    pub max_event: usize,
}

impl Default for SseLimits {
    fn default() -> Self {
        SseLimits {
            max_line: 1 << 20,
            max_event: 1 << 20,
        }
    }
}

/// Why a stream was refused. Caused by the peer that sent the stream; not retryable on
/// the same stream (every later `scan` returns the same error). From an upstream, the
/// gateway ends the client's stream with an error event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseError {
    /// A line is longer than [`SseLimits::max_line`].
    LineTooLong,
    /// An event block is larger than [`SseLimits::max_event`].
    EventTooLarge,
}

impl core::fmt::Display for SseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SseError::LineTooLong => "event-stream line longer than the limit",
            SseError::EventTooLarge => "event-stream event larger than the limit",
        })
    }
}

impl std::error::Error for SseError {}
