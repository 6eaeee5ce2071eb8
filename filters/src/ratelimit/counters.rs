//! Counters of one limit on one core, for the metrics page: decisions, exchanges with
//! the cell, keys held.
//!
//! The core's metrics registry owns them (one per limit name and worker, kept across
//! reloads) and renders them at scrape; the limits of a config generation write them.
//! Atomics only so that the scrape may read them from another thread: exactly one
//! thread (the worker) writes, so a write is a load and a store, never a locked
//! read-modify-write.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// One limit's counters on one worker.
#[derive(Debug, Default)]
pub struct LimitCounters {
    pub name: String,
    admitted: AtomicU64,
    refused: AtomicU64,
    exchanges: AtomicU64,
    unavailable: AtomicU64,
    keys: AtomicI64,
}

/// A snapshot, for rendering.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CounterValues {
    pub admitted: u64,
    pub refused: u64,
    /// Exchanges with the shared cell.
    pub exchanges: u64,
    /// Exchanges the cell could not answer.
    pub unavailable: u64,
    /// Keys this worker holds state for.
    pub keys: i64,
}

fn add(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

impl LimitCounters {
    pub fn new(name: &str) -> LimitCounters {
        LimitCounters {
            name: name.to_owned(),
            ..LimitCounters::default()
        }
    }

    pub(crate) fn admitted(&self) {
        add(&self.admitted, 1);
    }

    pub(crate) fn refused(&self) {
        add(&self.refused, 1);
    }

    pub(crate) fn add_exchanges(&self, n: u64, unavailable: u64) {
        add(&self.exchanges, n);
        add(&self.unavailable, unavailable);
    }

    pub(crate) fn add_keys(&self, delta: i64) {
        self.keys.store(self.keys.load(Relaxed) + delta, Relaxed);
    }

    pub fn values(&self) -> CounterValues {
        CounterValues {
            admitted: self.admitted.load(Relaxed),
            refused: self.refused.load(Relaxed),
            exchanges: self.exchanges.load(Relaxed),
            unavailable: self.unavailable.load(Relaxed),
            keys: self.keys.load(Relaxed),
        }
    }
}
