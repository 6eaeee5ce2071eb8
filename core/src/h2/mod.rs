//! HTTP/2 (RFC 9113) with the h2 crate, on the worker's own core: to clients, and to
//! upstreams that speak it.
//!
//! - [`io`]: the poll-based byte stream h2 needs, over monoio (readiness-based `poll-io`
//!   or completion-based monoio-compat), with the frame guard in its read path;
//! - [`server`]: the connection task (settings and limits from `[http2]`, GOAWAY on
//!   drain, idle and floods) and a task per request stream;
//! - [`bridge`]: a request stream as HTTP/1.1 bytes, so that it takes the same request
//!   path as HTTP/1.1 (chain, proxy, LLM routes, limits, logs);
//! - [`client`]: a connection to an upstream (handshake, its task); the pool of them is
//!   `upstream/h2pool.rs`;
//! - [`convert`]: an HTTP/1.1 request head as an HTTP/2 request, an HTTP/2 response
//!   head and trailers as HTTP/1.1 (the proxy's side of `server/proxy_h2.rs`).
//!
//! A client connection gets here from `server/h1.rs`: over TLS when ALPN chose `h2`, on
//! a plain listener with `h2c = true` when its first bytes are the HTTP/2 preface.

pub mod bridge;
pub mod client;
pub mod convert;
pub mod io;
pub mod server;

pub use bridge::H2Stream;
pub use server::serve;
