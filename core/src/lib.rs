//! Tollgate's binary crate: the runtime and everything that does I/O.
//!
//! - [`runtime`]: workers (one per CPU, pinned, each its own monoio runtime), the driver
//!   choice (io_uring, else epoll), the control plane that hands config generations,
//!   reload and shutdown to workers lazily.
//! - [`server`]: downstream connection drivers (HTTP/1.1), local responses, tunnels.
//! - [`upstream`]: clusters, per-core connection pools, load balancing, health.
//! - [`tls`]: TLS termination and origination (rustls), and the plain-or-TLS stream
//!   that connections hold.
//! - [`admin`]: the admin listener (`/metrics`, `/healthz`, `/readyz`, reload).
//! - [`metrics`]: per-worker counters, merged at scrape time.
//! - [`config`]: the TOML config, its validation and the embedded default.
//! - [`redis`]: cluster mode for rate limits: each core's Redis connection and the
//!   remote cell its limits exchange with.
//! - [`tune`]: `tollgate tune`, a read-only inspection of the host's kernel knobs.
//!
//! Invariant: nothing a worker touches per request is written by another core. The
//! cross-core pieces (control plane, metrics scrape, health gossip, DNS) are read or
//! written on a timer tick, never per request.

pub mod admin;
pub mod config;
pub mod h2;
pub mod llm;
pub mod metrics;
pub mod redis;
pub mod runtime;
pub mod server;
pub mod tls;
pub mod tune;
pub mod upstream;
