//! Tollgate's measuring tools: the load generator (`tollgate-load`) and the mock upstream
//! (`tollgate-mock`).
//!
//! Both are thread-per-core like the gateway: every worker thread runs its own monoio
//! runtime (io_uring, or epoll where io_uring is unavailable) and shares nothing on the hot
//! path. Cross-thread figures (progress counters, the mock's `/__mock/stats`) live in one
//! cache-line-padded slot per thread that only its owner writes.
//!
//! Layout:
//! - [`runtime`]: worker threads, driver choice, CPU pinning.
//! - [`h1`]: the small HTTP/1.1 pieces both tools share (chunked decoding, head helpers).
//! - [`sse`]: an incremental `text/event-stream` parser and the LLM stream tracker.
//! - [`target`]: URL parsing and the loopback-only rule.
//! - [`tls`]: rustls (ring) for both tools: client configuration and timed handshakes,
//!   the mock's server side, and the plain-or-TLS byte stream.
//! - [`mock`]: the upstream (plain HTTP/1.1 and h2c, echo, upgrade tunnel, LLM APIs, faults,
//!   stats).
//! - [`load`]: the load generator (closed and open loop, HTTP/1.1 and h2c).
//! - [`report`]: figures, text, JSON and HTML output.
//!
//! Never panics on bytes a peer sent: every parse failure is an error value.

pub mod h1;
pub mod load;
pub mod mock;
pub mod report;
pub mod runtime;
pub mod sse;
pub mod target;
pub mod tls;
