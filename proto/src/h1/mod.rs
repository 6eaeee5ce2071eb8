//! HTTP/1.1, sans-I/O.
//!
//! A head is parsed once, with httparse, into a struct that keeps the original bytes
//! (`Bytes`) and indexes into them with [`Span`]s: nothing is copied out. The framing
//! rules of RFC 9112 §6 are applied at parse time, so a head that this module returns as
//! complete has exactly one meaning for its body length ([`BodyFraming`]); anything
//! ambiguous is an [`H1Error`] that the caller maps to 400 (requests) or 502 (responses).
//!
//! Invariants:
//! - every [`Span`] of a head lies inside that head's `buf`;
//! - a complete head's `buf` ends with the blank line that closes it;
//! - no function here panics on any input (fuzzed: `fuzz/fuzz_targets/h1_request.rs`
//!   and `h1_response.rs`).
//!
//! Where things are:
//! - `request`, `response`: [`RequestHead::parse`], [`ResponseHead::parse`];
//! - `locate`: the cheap checks before httparse runs (end of head, limits) and spans;
//! - `fields`: one pass over the fields for framing and `Connection` semantics;
//! - `classify`: names the rule a refused head broke (error path only);
//! - `chunked`: [`ChunkedScanner`], the streaming chunked-body scanner;
//! - `serialize`, `local`, `write`: heads to forward ([`write_request_head`],
//!   [`write_response_head`]) and heads the gateway makes ([`write_local_response_head`]);
//! - [`syntax`]: byte classes and list parsing of RFC 9110 §5.6, public for config checks.

mod chunked;
mod classify;
mod error;
mod fields;
mod head;
mod local;
mod locate;
mod request;
mod response;
mod serialize;
pub mod syntax;
#[cfg(test)]
mod tests;
mod write;

pub use chunked::{ChunkedScanner, ChunkedStep};
pub use error::H1Error;
pub use head::{BodyFraming, ConnectionInfo, HeadLimits, HeaderSpan, Span, Version};
pub use local::{reason_phrase, write_local_response_head};
pub use request::{Method, RequestHead};
pub use response::{ResponseFraming, ResponseHead};
pub use serialize::{
    write_request_head, write_response_head, HeadEdits, RequestForwarding, ResponseForwarding,
};

/// The result of feeding bytes to a parser: either it needs more, or it consumed a
/// complete unit of the given length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    Complete(T),
    Partial,
}
