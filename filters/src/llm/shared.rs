//! [`LlmShared`]: the cross-core state of one config generation — when each deployment's
//! cool-down ends and when each API key may be used again.
//!
//! Every deadline is an `AtomicU64` of microseconds since the generation's epoch (0: none),
//! and only ever grows (`fetch_max`), so a core that missed several writes still ends on
//! the latest deadline. A write bumps `version` (release); a core's tick reads `version`
//! (acquire) and copies the deadlines only when it changed, so an idle sync costs one
//! load. Writes are rare (a failure), reads are once per tick: no atomic is touched per
//! request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::config::LlmConfig;

/// Cross-core cool-downs and disabled keys; `Send + Sync`, built once per config
/// generation and shared by `Arc` between the cores' [`super::LlmRouter`]s.
#[derive(Debug)]
pub struct LlmShared {
    epoch: Instant,
    version: AtomicU64,
    /// Per deployment, in config order (models, then their deployments).
    deployments: Vec<AtomicU64>,
    /// Per provider, per key.
    keys: Vec<Vec<AtomicU64>>,
}

impl LlmShared {
    pub fn new(cfg: &LlmConfig) -> LlmShared {
        let deployments = cfg.models.iter().map(|m| m.deployments.len()).sum();
        LlmShared {
            epoch: Instant::now(),
            version: AtomicU64::new(0),
            deployments: (0..deployments).map(|_| AtomicU64::new(0)).collect(),
            keys: cfg
                .providers
                .iter()
                .map(|p| p.api_keys.iter().map(|_| AtomicU64::new(0)).collect())
                .collect(),
        }
    }

    pub(super) fn deployment_slots(&self) -> usize {
        self.deployments.len()
    }

    pub(super) fn key_slots(&self, provider: usize) -> usize {
        self.keys.get(provider).map_or(0, Vec::len)
    }

    /// The changes seen so far; a sync that finds the same number has nothing to copy.
    pub(super) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    pub(super) fn cool_deployment(&self, d: usize, until: Instant) {
        if let Some(slot) = self.deployments.get(d) {
            slot.fetch_max(self.encode(until), Ordering::Relaxed);
            self.version.fetch_add(1, Ordering::Release);
        }
    }

    pub(super) fn disable_key(&self, provider: usize, key: usize, until: Instant) {
        if let Some(slot) = self.keys.get(provider).and_then(|k| k.get(key)) {
            slot.fetch_max(self.encode(until), Ordering::Relaxed);
            self.version.fetch_add(1, Ordering::Release);
        }
    }

    pub(super) fn deployment_until(&self, d: usize) -> Option<Instant> {
        self.decode(self.deployments.get(d)?.load(Ordering::Relaxed))
    }

    pub(super) fn key_until(&self, provider: usize, key: usize) -> Option<Instant> {
        self.decode(self.keys.get(provider)?.get(key)?.load(Ordering::Relaxed))
    }

    /// Microseconds since the epoch, at least 1 (0 means "none"), rounded up.
    fn encode(&self, t: Instant) -> u64 {
        let d = t.saturating_duration_since(self.epoch);
        let us = d
            .as_micros()
            .saturating_add(u128::from(!d.subsec_nanos().is_multiple_of(1000)));
        u64::try_from(us).unwrap_or(u64::MAX).max(1)
    }

    fn decode(&self, us: u64) -> Option<Instant> {
        if us == 0 {
            return None;
        }
        self.epoch.checked_add(Duration::from_micros(us))
    }
}
