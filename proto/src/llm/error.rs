//! The translation error: which field could not be carried over, and why.
//!
//! One type for both directions and for requests and responses alike; the caller knows
//! which it was translating and so who is at fault (a client request: 400; a provider
//! response or stream: 502). The field is a JSON path in the input document, such as
//! `messages[2].content[0].type`, so the 400 body can name it in `param`.

use std::fmt;

/// A field that cannot be translated without changing what the request or response means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateError {
    /// JSON path of the offending field in the input, e.g. `messages[1].tool_calls[0]`.
    pub field: String,
    /// Why it cannot be translated, in words fit for an API error message.
    pub reason: String,
}

impl TranslateError {
    /// A translation error for `field`, with a human-readable `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for TranslateError {}
