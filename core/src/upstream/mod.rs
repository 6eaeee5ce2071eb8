//! Upstream clusters.
//!
//! Two halves per cluster:
//! - [`ClusterShared`] (one per process, `Arc`): the resolved addresses of each endpoint
//!   and its health as the whole process sees it. Written by the control thread (DNS,
//!   active checks) and by a worker that ejects an endpoint; read by workers on their
//!   tick only.
//! - [`Cluster`] (one per core, `Rc`): that core's view (copied from the shared half on
//!   each tick), load-balancer state, connection pool, passive-health counters, retry
//!   budget. The hot path touches only this half. Its connections are pooled per
//!   endpoint: HTTP/1.1 in [`Pool`] (one request per connection at a time), HTTP/2 in
//!   [`h2pool`] (many streams per connection).

mod balance;
mod cluster;
pub mod connect;
pub mod h2pool;
pub mod health;
mod pool;
mod shared;

pub use balance::HashKey;
pub use cluster::{Cluster, Pick};
pub use connect::ConnectError;
pub use h2pool::{AcquireError, Acquired, H2Lease};
pub use pool::{Pool, UpConn};
pub use shared::{ClusterShared, EndpointShared};

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds since the process's monotonic epoch; used to share deadlines across
/// cores in an `AtomicU64`. 0 means "never".
pub fn mono_ms(t: Instant) -> u64 {
    t.saturating_duration_since(epoch()).as_millis() as u64 + 1
}
