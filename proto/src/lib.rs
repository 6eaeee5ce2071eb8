//! Sans-I/O wire formats for Tollgate.
//!
//! Everything here takes bytes and returns results: parsers report "complete, consumed N"
//! or "need more", encoders append to a caller-owned buffer. Nothing in this crate
//! touches a socket, a runtime, a clock or a random number generator, so every part is
//! unit-tested, fuzzed and benchmarked in isolation.
//!
//! - [`h1`]: HTTP/1.1 request and response heads (zero copy: spans into the original
//!   bytes), the RFC 9112 §6 framing rules, the chunked-body scanner and the head
//!   serialiser that applies filter edits.
//! - [`h2`]: HTTP/2 glue: the connection preface and a frame-header scanner that
//!   counts a client's control frames against flood budgets (the h2 crate does the rest).
//! - [`sse`]: the `text/event-stream` scanner (WHATWG rules, event by event, zero copy
//!   for events inside one read) and writer.
//! - [`llm`]: OpenAI and Anthropic API schemas, translation between them (requests,
//!   responses, streams, errors), simd-json body parsing, and raw-byte routing helpers.
//! - [`tokens`]: a fast token-count estimate (no allocation) with its measured error
//!   against the `cl100k_base` and `o200k_base` tokenizers.
//! - [`resp`]: RESP2 (Redis) commands and a bounded, incremental reply decoder, for the
//!   cluster-mode rate limits.

pub mod h1;
pub mod h2;
pub mod llm;
pub mod resp;
pub mod sse;
pub mod tokens;
