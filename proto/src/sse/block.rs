//! The fields of the event block being read: the spec's event type buffer, data buffer,
//! last event id buffer, and the `retry` value seen in the block.
//!
//! A value that arrived whole inside the current input is kept as a [`Span`] into it
//! ([`InInput`], which lives only as long as one `scan` call) and copied into the owned
//! buffers only when the call returns before the event ends, or when a second `data`
//! line has to be joined to it. So the common event (one `data` line, in one read) is
//! never copied.
//!
//! Invariants: `InInput::data` is `Some` only while exactly one data line was seen and
//! `Block::data` is empty; the owned buffers never grow past the bytes the scanner
//! consumed for this block, which `SseLimits::max_event` bounds.

use super::{Span, Text};

/// Capacity kept by an owned buffer across events; a buffer that grew past
/// [`KEEP_CAPACITY`] for one large event is shrunk back to it, so that thousands of idle
/// streams do not each hold their largest event's worth of memory.
const KEEP_CAPACITY: usize = 16 * 1024;
const SHRINK_ABOVE: usize = 64 * 1024;

/// The values of the block that still lie in the current call's input.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct InInput {
    pub event: Option<Span>,
    pub data: Option<Span>,
}

#[derive(Debug, Default, Clone)]
pub(super) struct Block {
    /// The event type buffer, when not in the input.
    event: Vec<u8>,
    /// The data buffer without its final LF, when not in the input.
    data: Vec<u8>,
    /// Data lines seen in this block; the spec's "data buffer is not empty" is `> 0`.
    data_lines: usize,
    /// The last event id buffer: not reset between events.
    last_id: Vec<u8>,
    retry: Option<u64>,
}

impl Block {
    /// Processes one field. `value_span` is where `value` lies in `input`, when it does.
    pub fn apply(
        &mut self,
        local: &mut InInput,
        input: &[u8],
        name: &[u8],
        value: &[u8],
        value_span: Option<Span>,
    ) {
        match name {
            b"event" => match value_span {
                Some(span) => local.event = Some(span),
                None => {
                    local.event = None;
                    self.event.clear();
                    self.event.extend_from_slice(value);
                }
            },
            b"data" => {
                if self.data_lines == 0 {
                    debug_assert!(self.data.is_empty() && local.data.is_none());
                    match value_span {
                        Some(span) => local.data = Some(span),
                        None => self.data.extend_from_slice(value),
                    }
                } else {
                    if let Some(span) = local.data.take() {
                        self.data.extend_from_slice(span.of(input));
                    }
                    self.data.push(b'\n');
                    self.data.extend_from_slice(value);
                }
                self.data_lines = self.data_lines.saturating_add(1);
            }
            b"id" if !value.contains(&0) => {
                self.last_id.clear();
                self.last_id.extend_from_slice(value);
            }
            b"retry" => {
                if let Some(ms) = parse_retry(value) {
                    self.retry = Some(ms);
                }
            }
            _ => {}
        }
        debug_assert!(local.data.is_none() || (self.data_lines == 1 && self.data.is_empty()));
    }

    /// Copies the values still in `input` into the owned buffers: the call is about to
    /// return and `input` will be gone.
    pub fn spill(&mut self, local: &mut InInput, input: &[u8]) {
        if let Some(span) = local.event.take() {
            self.event.clear();
            self.event.extend_from_slice(span.of(input));
        }
        if let Some(span) = local.data.take() {
            debug_assert!(self.data.is_empty());
            self.data.extend_from_slice(span.of(input));
        }
    }

    pub fn has_data(&self) -> bool {
        self.data_lines > 0
    }

    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    pub fn last_id(&self) -> &[u8] {
        &self.last_id
    }

    pub fn event_text<'a>(&'a self, local: &InInput, input: &'a [u8]) -> Text<'a> {
        text(&self.event, local.event, input)
    }

    pub fn data_text<'a>(&'a self, local: &InInput, input: &'a [u8]) -> Text<'a> {
        text(&self.data, local.data, input)
    }

    /// Forgets the event just ended; the last event id stays.
    pub fn end_event(&mut self) {
        for buf in [&mut self.event, &mut self.data] {
            buf.clear();
            if buf.capacity() > SHRINK_ABOVE {
                buf.shrink_to(KEEP_CAPACITY);
            }
        }
        self.data_lines = 0;
        self.retry = None;
    }

    /// Forgets everything, the last event id included: a new stream.
    pub fn reset(&mut self) {
        self.end_event();
        self.last_id.clear();
    }
}

fn text<'a>(owned: &'a [u8], in_input: Option<Span>, input: &'a [u8]) -> Text<'a> {
    match in_input {
        Some(span) => Text {
            bytes: span.of(input),
            span: Some(span),
        },
        None => Text {
            bytes: owned,
            span: None,
        },
    }
}

/// The spec's `retry` rule: only ASCII digits, read in base ten. An empty value and one
/// too large for a `u64` are ignored too.
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}
