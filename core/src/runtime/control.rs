//! The control plane: the one place where cores meet.
//!
//! It holds the current config generation (config plus the cross-core cluster tables:
//! resolved addresses and endpoint health, plus the TLS material the config's files
//! hold), the process phase (running, draining), the TLS resumption state that outlives
//! generations, and the registry of per-worker metrics. Workers read it on their housekeeping tick
//! (`runtime.tick`, default 50 ms), never per request: a reload or a health change
//! reaches every core within one tick.
#![allow(clippy::disallowed_types)] // control plane: locks are taken on ticks and reloads only

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tollgate_filters::ratelimit::RateLimitShared;

use crate::config::Config;
use crate::metrics::WorkerMetrics;
use crate::tls::{ResumptionStore, TlsSet};
use crate::upstream::ClusterShared;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Running,
    /// SIGTERM: stop accepting, finish in-flight requests, close idle connections.
    Draining,
}

/// Everything a worker needs to build its per-core state for one config generation.
#[derive(Debug)]
pub struct Generation {
    pub id: u64,
    pub config: Arc<Config>,
    /// One per config cluster, same order: shared resolved addresses and health.
    pub clusters: Vec<Arc<ClusterShared>>,
    /// Cross-core LLM state: deployment cool-downs and refused API keys.
    pub llm: Arc<tollgate_filters::llm::LlmShared>,
    /// Certificates, keys and trust read from the config's TLS files (read only).
    pub tls: TlsSet,
    /// The budgets of the rate limits (one in-process cell per limit), carried over to
    /// the next generation for every limit that did not change.
    pub rate_limits: Arc<RateLimitShared>,
}

#[derive(Debug)]
pub struct Control {
    current: Mutex<Arc<Generation>>,
    generation: AtomicU64,
    phase: AtomicU8,
    workers: Mutex<Vec<Arc<WorkerMetrics>>>,
    /// The file the config came from; `None` for the embedded default.
    pub config_path: Option<PathBuf>,
    pub started: Instant,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    /// TLS ticket keys and session caches, per listener, across generations.
    resumption: ResumptionStore,
}

impl Control {
    /// The control plane for `config`; fails when its TLS files cannot be used.
    pub fn new(config: Config, config_path: Option<PathBuf>) -> Result<Arc<Control>, String> {
        let resumption = ResumptionStore::default();
        let tls = TlsSet::load(&config, &resumption)?;
        let clusters = ClusterShared::build_all(&config);
        let cores = u32::try_from(super::worker_cpus(&config).len()).unwrap_or(u32::MAX);
        let gen = Generation {
            id: 1,
            rate_limits: Arc::new(RateLimitShared::new(&config.rate_limits, cores)),
            llm: Arc::new(tollgate_filters::llm::LlmShared::new(&config.llm)),
            config: Arc::new(config),
            clusters,
            tls,
        };
        Ok(Arc::new(Control {
            current: Mutex::new(Arc::new(gen)),
            generation: AtomicU64::new(1),
            phase: AtomicU8::new(0),
            workers: Mutex::new(Vec::new()),
            config_path,
            started: Instant::now(),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            resumption,
        }))
    }

    /// The current generation's number; workers compare it with theirs on each tick.
    pub fn generation_id(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn generation(&self) -> Arc<Generation> {
        lock(&self.current).clone()
    }

    pub fn config(&self) -> Arc<Config> {
        self.generation().config.clone()
    }

    /// Installs a new, already validated config, reading its TLS files again (a renewed
    /// certificate is picked up here). Cluster tables whose endpoints did not change are
    /// carried over so health state survives a reload, and so are the budgets of rate
    /// limits that did not change. Nothing changes on an error.
    pub fn install(&self, config: Config) -> Result<(), String> {
        let tls = TlsSet::load(&config, &self.resumption)?;
        let mut cur = lock(&self.current);
        let clusters = ClusterShared::rebuild_all(&config, &cur.clusters);
        let id = cur.id + 1;
        *cur = Arc::new(Generation {
            id,
            rate_limits: Arc::new(RateLimitShared::rebuild(
                &config.rate_limits,
                &cur.rate_limits,
            )),
            llm: Arc::new(tollgate_filters::llm::LlmShared::new(&config.llm)),
            config: Arc::new(config),
            clusters,
            tls,
        });
        self.generation.store(id, Ordering::Release);
        self.reloads_ok.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    pub fn note_failed_reload(&self) {
        self.reloads_failed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reload_counts(&self) -> (u64, u64) {
        (
            self.reloads_ok.load(Ordering::Relaxed),
            self.reloads_failed.load(Ordering::Relaxed),
        )
    }

    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Running,
            _ => Phase::Draining,
        }
    }

    pub fn begin_drain(&self) {
        self.phase.store(1, Ordering::Release);
    }

    pub fn register_worker(&self, m: Arc<WorkerMetrics>) {
        lock(&self.workers).push(m);
    }

    pub fn worker_metrics(&self) -> Vec<Arc<WorkerMetrics>> {
        lock(&self.workers).clone()
    }
}

/// Locks a control-plane mutex. A poisoned lock means a control thread panicked, which
/// with `panic = "abort"` cannot happen in release builds; in tests we take the data.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
