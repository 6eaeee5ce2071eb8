//! Test support for the end-to-end tests in `tests/tests/`.
//!
//! - [`bin`]: the path of a workspace binary (built by `cargo build --bins` before the
//!   tests; a missing binary fails the test with a message saying so, it never skips);
//! - [`Gateway`]: the real `tollgate` binary on loopback ports with a given config;
//! - [`Upstream`]: a recording HTTP/1.1 upstream on loopback that counts connections,
//!   keeps every request it parsed (head and decoded body) and answers by a script;
//! - [`h2`]: an HTTP/2 upstream (`tests/py/h2_upstream.py`, h2c or TLS) that counts its
//!   connections and misbehaves on request (REFUSED_STREAM, GOAWAY, resets), and curl as
//!   an HTTP/2 client;
//! - [`client`]: a raw HTTP/1.1 client over `std::net::TcpStream`, for byte-exact
//!   requests (smuggling attempts, pipelining) and response parsing;
//! - [`Mock`]: a `tollgate-mock` instance on a free port (LLM APIs, faults, recorded
//!   requests);
//! - [`llm`]: LLM API requests, SSE events, provider answers in OpenAI's and
//!   Anthropic's formats for an [`Upstream`] to play (paced with [`Reply::Paced`]), the
//!   access log and metrics;
//! - [`python`]: the Python scripts in `tests/py/` (the official LLM SDKs) run from the
//!   virtualenv that `scripts/install-test-deps.sh` makes;
//! - [`h2client`]: one HTTP/2 connection driven command by command (streams, resets,
//!   GOAWAY), through `tests/py/h2_client.py`;
//! - [`tls`]: certificates made in the test (a CA and the leaves it signs) and a blocking
//!   rustls client that shows the certificate it was served;
//! - [`RedisServer`]: a real `redis-server` on a free loopback port (cluster-mode rate
//!   limits), with a minimal client to read keys and pause or flush it.

pub mod client;
mod gateway;
pub mod h2;
pub mod h2client;
pub mod llm;
mod mock;
pub mod python;
mod redis;
mod scratch;
pub mod tls;
mod upstream;

pub use gateway::{bin, catch_all_config, free_port, Gateway};
pub use mock::Mock;
pub use redis::{RedisReply, RedisServer};
pub use scratch::Scratch;
pub use upstream::{Paced, Recorded, Reply, StreamEnd, StreamOutcome, Upstream};
