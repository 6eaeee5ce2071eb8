//! `--record N`: the last N requests each worker received (head and body, in the echo
//! format plus `t_us`, microseconds since the Unix epoch), served by
//! `GET /__mock/requests` (all workers, oldest first) and cleared by
//! `DELETE /__mock/requests`. End-to-end tests use it to see what a proxy forwarded on
//! routes whose answer is not an echo (the LLM APIs).
//!
//! The LLM routes add an `llm` object to their entry once they know it (see
//! [`crate::mock::llm`]): the usage the answer reports and, for streams, how and when the
//! stream ended (`stream_end`), so a test can tell when the mock saw the client leave.
//!
//! Control plane: one lock per worker slot, taken once per recorded request by its owner
//! and by the rare reader. Off (and free) unless `--record` is given.

// A lock is acceptable here: recording is a test aid, off on benchmark paths.
#![allow(clippy::disallowed_types)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Per-worker rings of recorded requests.
pub struct RequestLog {
    cap: usize,
    slots: Vec<Mutex<VecDeque<(u64, Value)>>>,
    /// Orders entries across workers: two requests in the same microsecond (or a clock
    /// step back) would otherwise sort by chance.
    seq: AtomicU64,
}

impl RequestLog {
    /// Rings of `cap` entries for `threads` workers (`cap == 0`: recording off).
    pub fn new(threads: usize, cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap,
            slots: (0..threads.max(1))
                .map(|_| Mutex::new(VecDeque::new()))
                .collect(),
            seq: AtomicU64::new(0),
        })
    }

    /// True when recording is on.
    pub fn enabled(&self) -> bool {
        self.cap > 0
    }

    /// Records one request on worker `t`; returns its sequence number, which
    /// [`RequestLog::annotate`] takes (`None` when recording is off).
    pub fn push(&self, t: usize, mut entry: Value) -> Option<u64> {
        if self.cap == 0 {
            return None;
        }
        entry["t_us"] = Value::from(now_us());
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut ring) = self.slots[t].lock() {
            if ring.len() == self.cap {
                ring.pop_front();
            }
            ring.push_back((seq, entry));
        }
        Some(seq)
    }

    /// Sets `key` to `value` in the entry `seq` that worker `t` recorded (nothing when it
    /// has left the ring already).
    pub fn annotate(&self, t: usize, seq: u64, key: &str, value: Value) {
        if let Ok(mut ring) = self.slots[t].lock() {
            if let Some((_, e)) = ring.iter_mut().rev().find(|(s, _)| *s == seq) {
                e[key] = value;
            }
        }
    }

    /// All recorded requests, oldest first.
    pub fn to_json(&self) -> Vec<u8> {
        let mut all: Vec<(u64, Value)> = self
            .slots
            .iter()
            .filter_map(|s| s.lock().ok().map(|r| r.iter().cloned().collect::<Vec<_>>()))
            .flatten()
            .collect();
        all.sort_by_key(|(seq, _)| *seq);
        Value::Array(all.into_iter().map(|(_, v)| v).collect())
            .to_string()
            .into_bytes()
    }

    /// Forgets everything recorded so far.
    pub fn clear(&self) {
        for s in &self.slots {
            if let Ok(mut r) = s.lock() {
                r.clear();
            }
        }
    }
}

/// Microseconds since the Unix epoch (0 if the clock is before it).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_are_bounded_and_ordered() {
        let log = RequestLog::new(2, 2);
        for i in 0..3 {
            log.push(i % 2, serde_json::json!({"i": i}));
        }
        let v: Value = serde_json::from_slice(&log.to_json()).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 3);
        log.push(0, serde_json::json!({"i": 3}));
        let v: Value = serde_json::from_slice(&log.to_json()).unwrap();
        let is: Vec<u64> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["i"].as_u64().unwrap())
            .collect();
        assert_eq!(is, vec![1, 2, 3]);
        let seq = log.push(1, serde_json::json!({"i": 4})).unwrap();
        log.annotate(1, seq, "llm", serde_json::json!({"x": 1}));
        let v: Value = serde_json::from_slice(&log.to_json()).unwrap();
        assert_eq!(v[3]["llm"]["x"], 1);
        log.clear();
        assert_eq!(log.to_json(), b"[]");
        assert!(!RequestLog::new(1, 0).enabled());
        assert_eq!(RequestLog::new(1, 0).push(0, Value::Null), None);
    }
}
