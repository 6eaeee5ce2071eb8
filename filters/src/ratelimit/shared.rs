//! What the limits of one process share across cores, and which cell a core's shards
//! exchange with.
//!
//! [`RateLimitShared`] is built by the control plane once per config generation and
//! handed to every core: the key hasher (one per process, so a key hashes the same on
//! every core and in every generation) and one [`InProcessCell`] per limit. A limit
//! whose identity did not change in a reload (name, kind, `per`, header, window and the
//! cell's size) keeps its cell, so its budget — the window's `taken`, the permits out —
//! carries over; a changed `limit` value applies at the next exchange (every exchange
//! carries `L`). A limit that is new or changed starts with an empty budget.
//!
//! [`LimitCell`] is the cell type every shard uses: the in-process cell, or a remote one
//! (Redis) that lives in the core crate, where the I/O is. The remote kind is reached
//! through a trait object: the core's type cannot be named here, and an exchange is off
//! the hot path (at most one per key and sync interval, plus when a balance runs dry),
//! so one indirect call per exchange costs nothing measurable.

use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use super::cell::{Exchange, Reply, SharedCell};
use super::config::{KeyPart, LimitConfig, RateLimitConfig, Span};
use super::in_process::InProcessCell;
use super::key::KeyHasher;
use super::limiter::LimitId;
use super::spec::Kind;

/// A cell that answers after a round trip (Redis): implemented by the core crate.
///
/// `exchange` queues the exchange and answers [`Reply::Pending`] (or
/// [`Reply::Unavailable`] when it cannot even queue it: the connection is down, the
/// queue is full). The answer goes back to the same core's
/// [`RateLimits::complete`](super::RateLimits::complete) of the generation that asked,
/// with `None` when the store did not answer in time.
pub trait RemoteExchange: fmt::Debug {
    fn exchange(&self, limit: LimitId, ex: &Exchange) -> Reply;
}

/// Which limits exchange with a remote cell: given a limit, its cell, or `None` for the
/// in-process one ([`RateLimits::build`](super::RateLimits::build)).
pub type RemoteFor = dyn Fn(LimitId, &LimitConfig) -> Option<Rc<dyn RemoteExchange>>;

/// The cell a shard exchanges with.
#[derive(Debug, Clone)]
pub enum LimitCell {
    /// This process's cell, shared by its cores ([`InProcessCell`]).
    InProcess(Arc<InProcessCell>),
    /// A store shared by instances; `limit` tells it which limit the exchange is for.
    Remote {
        limit: LimitId,
        cell: Rc<dyn RemoteExchange>,
    },
}

impl SharedCell for LimitCell {
    /// The type as a whole may answer later; [`LimitCell::is_immediate`] says per value.
    const IMMEDIATE: bool = false;

    #[inline]
    fn is_immediate(&self) -> bool {
        matches!(self, LimitCell::InProcess(_))
    }

    #[inline]
    fn exchange(&self, ex: &Exchange) -> Reply {
        match self {
            LimitCell::InProcess(c) => c.exchange(ex),
            LimitCell::Remote { limit, cell } => cell.exchange(*limit, ex),
        }
    }
}

/// In cluster mode the hash names the Redis key, so every instance must hash alike: the
/// hasher is keyed with `rate_limits.redis.key_secret` (validated at load; a secret
/// that no longer reads, such as an `env:` variable unset since, keeps the process's).
fn cluster_hasher(cfg: &RateLimitConfig) -> Option<KeyHasher> {
    cfg.redis.as_ref().and_then(|r| r.key_secret.hasher().ok())
}

/// What makes two configs of a limit the same budget.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    name: String,
    kind: Kind,
    per: Vec<KeyPart>,
    header: Option<String>,
    window: Option<Span>,
    max_keys: usize,
}

impl Identity {
    fn of(l: &LimitConfig, cfg: &RateLimitConfig) -> Identity {
        Identity {
            name: l.display_name(),
            kind: l.kind,
            per: l.per.clone(),
            header: l.header.as_ref().map(|h| h.to_ascii_lowercase()),
            window: l.window,
            max_keys: cfg.sync.max_keys,
        }
    }
}

/// The cross-core state of every limit of one config generation.
#[derive(Debug)]
pub struct RateLimitShared {
    hasher: KeyHasher,
    cores: u32,
    limits: Vec<(Identity, Arc<InProcessCell>)>,
}

impl RateLimitShared {
    /// The first generation: a fresh hasher key and empty budgets. `cores`: the workers
    /// of this process (fixed for its life).
    pub fn new(cfg: &RateLimitConfig, cores: u32) -> RateLimitShared {
        let hasher = cluster_hasher(cfg).unwrap_or_else(KeyHasher::random);
        RateLimitShared::with_hasher(cfg, cores, hasher, None)
    }

    /// The next generation: the same hasher and cores, and the cells of limits whose
    /// identity did not change.
    pub fn rebuild(cfg: &RateLimitConfig, prev: &RateLimitShared) -> RateLimitShared {
        let hasher = cluster_hasher(cfg).unwrap_or(prev.hasher);
        RateLimitShared::with_hasher(cfg, prev.cores, hasher, Some(prev))
    }

    /// A generation with a given hasher (instances sharing a remote cell must share its
    /// key).
    pub fn with_hasher(
        cfg: &RateLimitConfig,
        cores: u32,
        hasher: KeyHasher,
        prev: Option<&RateLimitShared>,
    ) -> RateLimitShared {
        let limits = cfg
            .limits
            .iter()
            .map(|l| {
                let id = Identity::of(l, cfg);
                let kept = prev
                    .and_then(|p| p.limits.iter().find(|(old, _)| *old == id))
                    .map(|(_, cell)| Arc::clone(cell));
                let cell = kept.unwrap_or_else(|| Arc::new(InProcessCell::new(cfg.sync.max_keys)));
                (id, cell)
            })
            .collect();
        RateLimitShared {
            hasher,
            cores: cores.max(1),
            limits,
        }
    }

    pub fn hasher(&self) -> &KeyHasher {
        &self.hasher
    }

    pub fn cores(&self) -> u32 {
        self.cores
    }

    /// The in-process cell of the limit at `index` in the config.
    pub fn cell(&self, index: usize) -> Option<&Arc<InProcessCell>> {
        self.limits.get(index).map(|(_, c)| c)
    }

    /// Keys with a budget in the current window, per limit (for metrics).
    pub fn live_keys(&self) -> impl Iterator<Item = (&str, usize)> {
        self.limits
            .iter()
            .map(|(id, c)| (id.name.as_str(), c.live_keys()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(toml_limits: &[(&str, &str, u64)]) -> RateLimitConfig {
        let mut c = RateLimitConfig::default();
        for (name, kind, limit) in toml_limits {
            let l: LimitConfig = serde_json::from_value(serde_json::json!({
                "name": name, "kind": kind, "limit": limit,
            }))
            .unwrap();
            c.limits.push(l);
        }
        c
    }

    #[test]
    fn a_reload_keeps_the_cells_of_unchanged_limits() {
        let a = RateLimitShared::new(&cfg(&[("a", "requests", 10), ("b", "requests", 5)]), 2);
        // `a` changes its limit only (same budget), `b` its kind (a new budget), `c` is new.
        let next = cfg(&[
            ("a", "requests", 20),
            ("b", "total_tokens", 5),
            ("c", "requests", 1),
        ]);
        let b = RateLimitShared::rebuild(&next, &a);
        assert!(Arc::ptr_eq(b.cell(0).unwrap(), a.cell(0).unwrap()));
        assert!(!Arc::ptr_eq(b.cell(1).unwrap(), a.cell(1).unwrap()));
        assert!(b.cell(2).is_some());
        assert_eq!(b.hasher(), a.hasher());
        assert_eq!(b.cores(), 2);
    }
}
