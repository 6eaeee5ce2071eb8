//! RESP2, the Redis serialisation protocol, sans-I/O: a command encoder and a bounded,
//! incremental reply decoder.
//!
//! The gateway speaks to Redis only for cluster-mode rate limits (`SCRIPT LOAD`,
//! `EVALSHA`, `AUTH`, `PING`), so this is the part of RESP2 a client needs: commands go
//! out as arrays of bulk strings ([`Command`]); replies come back as any of the five
//! RESP2 types, parsed by [`parse`] from the bytes read so far.
//!
//! [`parse`] works like httparse: given the bytes read so far it answers
//! `Complete((reply, consumed))` or `Partial` ("read more and call again with all of
//! it"); a partial reply is a status, not an error. Replies of a pipeline are parsed one
//! after the other from the same buffer. Strings in a reply borrow from the buffer
//! (zero copy); only arrays allocate, for their element list.
//!
//! Invariants:
//! - memory is bounded by [`Limits`]: a reply longer than `max_reply` bytes (whether its
//!   declared lengths say so or the bytes already read do), nested deeper than
//!   `max_depth`, or with more than `max_elements` array elements in all is an
//!   [`RespError`], never a larger allocation. So a caller never buffers more than
//!   `max_reply` plus one read for one reply;
//! - the answer does not depend on how the bytes were split into reads: a prefix of a
//!   valid reply is `Partial` (or `TooLarge` once the prefix itself is over the limit),
//!   never an error of another kind;
//! - nothing here panics on any input (fuzzed: `fuzz/fuzz_targets/resp.rs`).
//!
//! Not here: RESP3 (the gateway never sends `HELLO 3`, so Redis answers in RESP2), inline
//! commands, and anything that touches a socket.

mod decode;
mod encode;
#[cfg(test)]
mod tests;

pub use decode::{parse, Limits, RespError, Status, Value};
pub use encode::Command;
