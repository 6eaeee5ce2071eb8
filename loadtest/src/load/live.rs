//! Live counters for the progress line: one cache-line-padded slot per worker, written
//! only by its owner (load + store, no contended read-modify-write), read once a second by
//! the main thread.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// One worker's counters.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct LiveSlot {
    sent: AtomicU64,
    ok: AtomicU64,
    errors: AtomicU64,
}

fn bump(c: &AtomicU64) {
    // Single writer: load + store cannot lose an update.
    c.store(c.load(Relaxed) + 1, Relaxed);
}

impl LiveSlot {
    /// A request started.
    pub fn sent(&self) {
        bump(&self.sent);
    }

    /// A request succeeded.
    pub fn ok(&self) {
        bump(&self.ok);
    }

    /// A request failed.
    pub fn error(&self) {
        bump(&self.errors);
    }
}

/// Sums of all slots: (sent, ok, errors).
pub fn totals(slots: &[LiveSlot]) -> (u64, u64, u64) {
    slots.iter().fold((0, 0, 0), |(s, o, e), x| {
        (
            s + x.sent.load(Relaxed),
            o + x.ok.load(Relaxed),
            e + x.errors.load(Relaxed),
        )
    })
}
