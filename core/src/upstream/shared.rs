//! The cross-core half of a cluster: resolved addresses and health, read by workers on
//! their tick.
#![allow(clippy::disallowed_types)] // control plane: written by the DNS/health thread

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::{Cluster as ClusterConfig, Config};

#[derive(Debug)]
pub struct EndpointShared {
    /// The endpoint as written in the config (`host:port`).
    pub spec: String,
    pub weight: u32,
    addrs: Mutex<Arc<Vec<SocketAddr>>>,
    addrs_gen: AtomicU64,
    /// Passive health: ejected until this `mono_ms` (0 = not ejected). Any core may set
    /// it; every core reads it on its tick.
    pub ejected_until: AtomicU64,
    /// Active health: the last checks say the endpoint is down.
    pub active_down: AtomicBool,
}

impl EndpointShared {
    fn new(spec: &str, weight: u32) -> EndpointShared {
        let ep = EndpointShared {
            spec: spec.to_string(),
            weight,
            addrs: Mutex::new(Arc::new(Vec::new())),
            addrs_gen: AtomicU64::new(0),
            ejected_until: AtomicU64::new(0),
            active_down: AtomicBool::new(false),
        };
        ep.resolve();
        ep
    }

    /// Resolves the endpoint's name (blocking: only the control thread calls this) and
    /// publishes the addresses if they changed. Returns false when resolution failed; the
    /// previous addresses are kept.
    pub fn resolve(&self) -> bool {
        match self.spec.to_socket_addrs() {
            Ok(it) => {
                let mut addrs: Vec<SocketAddr> = it.collect();
                addrs.sort();
                addrs.dedup();
                let mut cur = self.addrs.lock().unwrap_or_else(|p| p.into_inner());
                if **cur != addrs {
                    *cur = Arc::new(addrs);
                    self.addrs_gen.fetch_add(1, Ordering::Release);
                }
                true
            }
            Err(e) => {
                tracing::warn!(endpoint = %self.spec, error = %e, "cannot resolve upstream endpoint");
                false
            }
        }
    }

    pub fn addrs_gen(&self) -> u64 {
        self.addrs_gen.load(Ordering::Acquire)
    }

    pub fn addrs(&self) -> Arc<Vec<SocketAddr>> {
        self.addrs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// True when the spec is an IP literal and never needs resolving again.
    pub fn is_literal(&self) -> bool {
        self.spec.parse::<SocketAddr>().is_ok()
    }
}

#[derive(Debug)]
pub struct ClusterShared {
    pub name: String,
    pub endpoints: Vec<EndpointShared>,
    /// Identity of the endpoint list and health config; a reload keeps this table (and
    /// its health state) when the key is unchanged.
    key: String,
}

impl ClusterShared {
    fn new(c: &ClusterConfig) -> ClusterShared {
        ClusterShared {
            name: c.name.clone(),
            endpoints: c
                .endpoints
                .iter()
                .map(|e| EndpointShared::new(e.address(), e.weight()))
                .collect(),
            key: Self::key_of(c),
        }
    }

    fn key_of(c: &ClusterConfig) -> String {
        let eps: Vec<String> = c
            .endpoints
            .iter()
            .map(|e| format!("{}*{}", e.address(), e.weight()))
            .collect();
        format!("{}|{}", c.name, eps.join(","))
    }

    pub fn build_all(cfg: &Config) -> Vec<Arc<ClusterShared>> {
        cfg.clusters
            .iter()
            .map(|c| Arc::new(ClusterShared::new(c)))
            .collect()
    }

    /// Like `build_all`, but reuses the tables of clusters whose endpoints did not change.
    pub fn rebuild_all(cfg: &Config, old: &[Arc<ClusterShared>]) -> Vec<Arc<ClusterShared>> {
        cfg.clusters
            .iter()
            .map(|c| {
                let key = Self::key_of(c);
                match old.iter().find(|o| o.key == key) {
                    Some(o) => o.clone(),
                    None => Arc::new(ClusterShared::new(c)),
                }
            })
            .collect()
    }
}
