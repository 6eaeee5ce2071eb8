//! The mock's counters: one cache-line-padded slot per worker thread, written only by its
//! owner (plain load/store, no read-modify-write across cores), summed when
//! `GET /__mock/stats` is served.
//!
//! Definitions (the gateway's end-to-end tests rely on them):
//! - `connections`: accepted connections, except those whose first request was a control
//!   request (`/__mock/stats` or `/__mock/requests`), so polling does not disturb the count.
//! - `requests`: requests whose head was parsed, except control requests.
//! - `active_connections`: connections open now (stats connections included).
//! - `tls_handshakes`, `tls_resumed`: completed TLS handshakes, and those of them that
//!   resumed a session (stats connections included).
//! - `streams_client_gone`: LLM streams that the client left before their end (a write
//!   failed, or the mock saw the connection closed while pacing; see
//!   [`crate::mock::llm::stream`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

#[derive(Default)]
#[repr(align(128))]
struct Slot {
    connections: AtomicU64,
    requests: AtomicU64,
    opened: AtomicU64,
    closed: AtomicU64,
    tls_handshakes: AtomicU64,
    tls_resumed: AtomicU64,
    streams_client_gone: AtomicU64,
}

/// All threads' slots.
pub struct Stats {
    slots: Vec<Slot>,
}

/// A snapshot of the totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    /// See the module doc.
    pub connections: u64,
    /// See the module doc.
    pub requests: u64,
    /// See the module doc.
    pub active_connections: u64,
}

impl Stats {
    /// Slots for `threads` workers.
    pub fn new(threads: usize) -> Arc<Self> {
        Arc::new(Self {
            slots: (0..threads.max(1)).map(|_| Slot::default()).collect(),
        })
    }

    fn bump(c: &AtomicU64, by: i64) {
        // Only the owning thread writes its slot, so load+store cannot lose an update.
        c.store(c.load(Relaxed).wrapping_add_signed(by), Relaxed);
    }

    /// A connection was accepted on worker `t`.
    pub fn connection_opened(&self, t: usize) {
        let s = &self.slots[t];
        Self::bump(&s.connections, 1);
        Self::bump(&s.opened, 1);
    }

    /// A connection on worker `t` closed.
    pub fn connection_closed(&self, t: usize) {
        Self::bump(&self.slots[t].closed, 1);
    }

    /// The connection's first request was a stats request: do not count the connection.
    pub fn uncount_connection(&self, t: usize) {
        Self::bump(&self.slots[t].connections, -1);
    }

    /// A TLS handshake completed on worker `t`.
    pub fn tls_handshake(&self, t: usize, resumed: bool) {
        let s = &self.slots[t];
        Self::bump(&s.tls_handshakes, 1);
        if resumed {
            Self::bump(&s.tls_resumed, 1);
        }
    }

    /// An LLM stream on worker `t` lost its client before the end.
    pub fn stream_client_gone(&self, t: usize) {
        Self::bump(&self.slots[t].streams_client_gone, 1);
    }

    /// A (non-stats) request head was parsed on worker `t`.
    pub fn request(&self, t: usize) {
        Self::bump(&self.slots[t].requests, 1);
    }

    /// Per-thread and total figures.
    pub fn snapshot(&self) -> (Totals, Vec<Totals>) {
        let per: Vec<Totals> = self
            .slots
            .iter()
            .map(|s| Totals {
                connections: s.connections.load(Relaxed),
                requests: s.requests.load(Relaxed),
                active_connections: s
                    .opened
                    .load(Relaxed)
                    .saturating_sub(s.closed.load(Relaxed)),
            })
            .collect();
        let total = per.iter().fold(Totals::default(), |a, p| Totals {
            connections: a.connections + p.connections,
            requests: a.requests + p.requests,
            active_connections: a.active_connections + p.active_connections,
        });
        (total, per)
    }

    /// The JSON body of `GET /__mock/stats`.
    pub fn to_json(&self, driver: &str) -> Vec<u8> {
        let (total, per) = self.snapshot();
        let sum = |f: fn(&Slot) -> &AtomicU64| -> u64 {
            self.slots.iter().map(|s| f(s).load(Relaxed)).sum()
        };
        let v = serde_json::json!({
            "connections": total.connections,
            "requests": total.requests,
            "active_connections": total.active_connections,
            "tls_handshakes": sum(|s| &s.tls_handshakes),
            "tls_resumed": sum(|s| &s.tls_resumed),
            "streams_client_gone": sum(|s| &s.streams_client_gone),
            "threads": per.len(),
            "driver": driver,
            "per_thread": per,
        });
        v.to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up() {
        let s = Stats::new(2);
        s.connection_opened(0);
        s.connection_opened(1);
        s.uncount_connection(1);
        s.request(0);
        s.request(0);
        s.tls_handshake(1, true);
        s.connection_closed(0);
        s.stream_client_gone(1);
        let (t, per) = s.snapshot();
        assert_eq!(
            t,
            Totals {
                connections: 1,
                requests: 2,
                active_connections: 1
            }
        );
        assert_eq!(per.len(), 2);
        let v: serde_json::Value = serde_json::from_slice(&s.to_json("epoll")).unwrap();
        assert_eq!(v["requests"], 2);
        assert_eq!(
            (v["tls_handshakes"].as_u64(), v["tls_resumed"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(v["streams_client_gone"], 1);
    }
}
