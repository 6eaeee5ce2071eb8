//! [`SseScanner`]: the event-stream interpretation rules as a streaming state machine.
//!
//! One call handles lines until an item ends (an event boundary, a comment) or the input
//! runs out. Lines are found with `memchr2` on CR/LF; a line that lies whole inside the
//! input is read in place, one that began in an earlier input is joined in `line` first.
//! The state kept between calls is small: the partial line, the block's owned buffers
//! (see `block`), whether the last byte was a CR, and how far into the BOM the stream is.
//!
//! Invariants (checked by `debug_assert!` and the split tests):
//! - `line` holds at most `max_line` bytes and is empty whenever the last call ended on
//!   a line end;
//! - `pending` counts the bytes consumed since the last event boundary and never exceeds
//!   `max_event`;
//! - after an error every call returns that error and consumes nothing.

use super::block::{Block, InInput};
use super::{Span, SseError, SseEvent, SseItem, SseLimits, SseStep, Text};

const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

/// Buffers above this capacity are shrunk after use (see `block`).
const SHRINK_ABOVE: usize = 64 * 1024;
const KEEP_CAPACITY: usize = 16 * 1024;

/// What the line whose CR was the last byte consumed turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CrEnded {
    /// A field line (or no CR at all): an LF next is skipped silently.
    Line,
    Event,
    Comment,
}

/// A streaming `text/event-stream` scanner. One per stream; [`SseScanner::reset`] reuses it.
#[derive(Debug, Clone)]
pub struct SseScanner {
    limits: SseLimits,
    block: Block,
    /// A line begun in an earlier input, without its line end.
    line: Vec<u8>,
    /// BOM bytes matched so far at the start of the stream; `None` once past the start.
    bom: Option<u8>,
    /// The last byte consumed was a CR ending a line: an LF next is part of that line end.
    after_cr: bool,
    /// What that CR ended: an item's LF is reported as [`SseItem::CrLfTail`].
    cr_ended: CrEnded,
    /// Bytes consumed since the last event boundary.
    pending: usize,
    /// The last item returned borrows `line` / the block: clear them at the next call.
    clear_line: bool,
    clear_block: bool,
    failed: Option<SseError>,
}

impl Default for SseScanner {
    fn default() -> Self {
        SseScanner::new(SseLimits::default())
    }
}

impl SseScanner {
    pub fn new(limits: SseLimits) -> SseScanner {
        SseScanner {
            limits,
            block: Block::default(),
            line: Vec::new(),
            bom: Some(0),
            after_cr: false,
            cr_ended: CrEnded::Line,
            pending: 0,
            clear_line: false,
            clear_block: false,
            failed: None,
        }
    }

    /// Forgets the stream, the last event id included, keeping the limits and buffers.
    pub fn reset(&mut self) {
        let limits = self.limits;
        let mut block = core::mem::take(&mut self.block);
        block.reset();
        let mut line = core::mem::take(&mut self.line);
        line.clear();
        *self = SseScanner {
            block,
            line,
            ..SseScanner::new(limits)
        };
    }

    pub fn limits(&self) -> SseLimits {
        self.limits
    }

    /// Bytes consumed since the last event boundary. Non-zero when the stream ends means
    /// it ended inside an event block, which the spec discards.
    pub fn pending_bytes(&self) -> usize {
        self.pending
    }

    /// The last event id buffer: set by `id` fields, kept across events.
    pub fn last_event_id(&self) -> &[u8] {
        self.block.last_id()
    }

    /// Consumes `input` up to the end of the next item, or all of it. Spans in the result
    /// are relative to `input`. Call again with the rest of the input until it is used up.
    pub fn scan<'a>(&'a mut self, input: &'a [u8]) -> Result<SseStep<'a>, SseError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        self.release_returned();
        if input.is_empty() {
            return Ok(SseStep {
                consumed: 0,
                item: None,
            });
        }
        let mut pos = 0;
        if let Some(matched) = self.bom {
            let mut matched = usize::from(matched);
            while matched < BOM.len() && input.get(pos) == Some(&BOM[matched]) {
                matched += 1;
                pos += 1;
            }
            if matched == BOM.len() {
                self.bom = None;
            } else if pos == input.len() {
                // Still a prefix of the BOM: decide with the next input.
                self.bom = Some(matched as u8);
                self.pending += pos;
                return Ok(SseStep {
                    consumed: pos,
                    item: None,
                });
            } else {
                // Not a BOM after all: the bytes matched so far start the first line.
                self.line.extend_from_slice(&BOM[..matched]);
                self.bom = None;
            }
        }
        if self.after_cr {
            self.after_cr = false;
            let ended = core::mem::replace(&mut self.cr_ended, CrEnded::Line);
            if input.get(pos) == Some(&b'\n') {
                pos += 1;
                if ended == CrEnded::Comment {
                    // A comment's bytes belong to the event block in progress.
                    self.pending += 1;
                }
                if ended != CrEnded::Line {
                    return Ok(SseStep {
                        consumed: pos,
                        item: Some(SseItem::CrLfTail),
                    });
                }
            }
        }
        self.scan_lines(input, pos)
    }

    /// Like [`SseScanner::scan`] over all of `input`: calls `on_item(end, item)` for each
    /// item, `end` being its end offset in `input` and its spans rebased onto `input`.
    pub fn scan_all(
        &mut self,
        input: &[u8],
        mut on_item: impl FnMut(usize, SseItem<'_>),
    ) -> Result<(), SseError> {
        let mut offset = 0;
        while offset < input.len() {
            let step = self.scan(&input[offset..])?;
            debug_assert!(step.consumed > 0, "a non-empty input always makes progress");
            let base = offset;
            offset += step.consumed.max(1);
            if let Some(item) = step.item {
                on_item(offset, rebase(item, base));
            }
        }
        Ok(())
    }

    /// The line loop of `scan`, from `pos` (past any BOM and CRLF tail).
    fn scan_lines<'a>(
        &'a mut self,
        input: &'a [u8],
        mut pos: usize,
    ) -> Result<SseStep<'a>, SseError> {
        let mut local = InInput::default();
        let (pos, comment) = loop {
            let rest = &input[pos..];
            let Some(i) = memchr::memchr2(b'\r', b'\n', rest) else {
                if self.line.len() + rest.len() > self.limits.max_line {
                    return self.fail(SseError::LineTooLong);
                }
                if self.pending + input.len() > self.limits.max_event {
                    return self.fail(SseError::EventTooLarge);
                }
                self.line.extend_from_slice(rest);
                self.block.spill(&mut local, input);
                self.pending += input.len();
                return Ok(SseStep {
                    consumed: input.len(),
                    item: None,
                });
            };
            let (start, line_end) = (pos, pos + i);
            pos = line_end + 1;
            if input[line_end] == b'\r' {
                match input.get(pos) {
                    Some(b'\n') => pos += 1,
                    Some(_) => {}
                    None => {
                        self.after_cr = true;
                        self.cr_ended = CrEnded::Line;
                    }
                }
            }
            if self.line.len() + i > self.limits.max_line {
                return self.fail(SseError::LineTooLong);
            }
            if self.pending + pos > self.limits.max_event {
                return self.fail(SseError::EventTooLarge);
            }

            // The line, in place when it lies in `input`, else joined in `self.line`.
            let in_input = self.line.is_empty();
            if !in_input {
                self.line.extend_from_slice(&input[start..line_end]);
            }
            let line: &[u8] = if in_input {
                &input[start..line_end]
            } else {
                &self.line
            };
            match line.first() {
                None => break (pos, None),
                Some(b':') => break (pos, Some((in_input, start, line_end))),
                Some(_) => {}
            }
            let at = |from: usize| in_input.then(|| Span::new(start + from, line_end));
            let (name, value, value_span) = match memchr::memchr(b':', line) {
                Some(colon) => {
                    let mut from = colon + 1;
                    if line.get(from) == Some(&b' ') {
                        from += 1;
                    }
                    (&line[..colon], &line[from..], at(from))
                }
                None => (line, &line[line.len()..], at(line.len())),
            };
            self.block.apply(&mut local, input, name, value, value_span);
            if !in_input {
                release(&mut self.line);
            }
            debug_assert!(self.line.is_empty());
        };

        // The loop stopped at an item line: an empty line, or a comment (where it lies).
        // Built here, out of the loop, so that the item may borrow `self`.
        let item = match comment {
            None => {
                self.cr_ended = CrEnded::Event;
                self.clear_block = true;
                self.pending = 0;
                let block = &self.block;
                let dispatched = block.has_data();
                SseItem::Event(SseEvent {
                    dispatched,
                    event: if dispatched {
                        block.event_text(&local, input)
                    } else {
                        Text::default()
                    },
                    data: if dispatched {
                        block.data_text(&local, input)
                    } else {
                        Text::default()
                    },
                    last_event_id: block.last_id(),
                    retry: block.retry(),
                })
            }
            Some((in_input, start, line_end)) => {
                self.cr_ended = CrEnded::Comment;
                self.clear_line = !in_input;
                self.block.spill(&mut local, input);
                self.pending += pos;
                SseItem::Comment(if in_input {
                    Text {
                        bytes: &input[start + 1..line_end],
                        span: Some(Span::new(start + 1, line_end)),
                    }
                } else {
                    Text {
                        bytes: self.line.get(1..).unwrap_or_default(),
                        span: None,
                    }
                })
            }
        };
        Ok(SseStep {
            consumed: pos,
            item: Some(item),
        })
    }

    /// Clears what the previous call's item borrowed.
    fn release_returned(&mut self) {
        if self.clear_line {
            release(&mut self.line);
            self.clear_line = false;
        }
        if self.clear_block {
            self.block.end_event();
            self.clear_block = false;
        }
    }

    fn fail<T>(&mut self, error: SseError) -> Result<T, SseError> {
        self.failed = Some(error);
        release(&mut self.line);
        self.block.reset();
        Err(error)
    }
}

fn release(buf: &mut Vec<u8>) {
    buf.clear();
    if buf.capacity() > SHRINK_ABOVE {
        buf.shrink_to(KEEP_CAPACITY);
    }
}

fn rebase(item: SseItem<'_>, base: usize) -> SseItem<'_> {
    fn shift(text: Text<'_>, base: usize) -> Text<'_> {
        Text {
            span: text.span.map(|s| Span::new(s.start + base, s.end + base)),
            ..text
        }
    }
    match item {
        SseItem::Event(event) => SseItem::Event(SseEvent {
            event: shift(event.event, base),
            data: shift(event.data, base),
            ..event
        }),
        SseItem::Comment(text) => SseItem::Comment(shift(text, base)),
        SseItem::CrLfTail => SseItem::CrLfTail,
    }
}
