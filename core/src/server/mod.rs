//! Downstream connection drivers.
//!
//! - [`h1`]: the HTTP/1.1 connection loop (keep-alive, pipelining, limits, drain);
//! - [`proxy`]: one request's way upstream: endpoint, pooled connection, retries,
//!   response back to the client;
//! - [`proxy_h2`]: the same exchange with an HTTP/2 upstream (one stream of a pooled
//!   connection), converting heads, bodies and trailers between HTTP/1.1 and HTTP/2;
//! - [`body`]: streaming body copies (length, chunked pass-through, de-chunking,
//!   until-close), reading into pooled buffers and writing the same bytes on;
//! - [`local`]: responses the gateway makes itself;
//! - [`error`]: the one place where a failure becomes a status code;
//! - [`tunnel`]: the byte tunnel after a `101 Switching Protocols`.

pub(crate) mod body;
pub(crate) mod conn;
mod error;
pub(crate) mod h1;
pub(crate) mod io;
pub(crate) mod local;
mod proxy;
mod proxy_h2;
mod tunnel;

pub(crate) use proxy::Next;

pub use error::{ErrorSource, ProxyError};
pub use h1::serve_connection;
