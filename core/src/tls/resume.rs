//! Session resumption state that outlives a config generation: per listener address, the
//! ticket key (rustls's ticketer, which makes a new key every 6 hours and accepts the
//! previous one) and the session-id cache.
//!
//! One per listener for the whole process, not one per core: a returning client's next
//! connection lands on any core (SO_REUSEPORT), so a ticket made on one core must open on
//! every other. The price is the ticketer's read lock and the cache's mutex, taken once
//! per handshake, beside the ~0.1 ms of public-key work of a full handshake.
//!
//! Kept across reloads (a renewed certificate does not turn every returning client's
//! handshake into a full one), and replaced when the listener's client authentication
//! changes: a resumed session skips the client-certificate check, so sessions made
//! under other rules must not resume.
#![allow(clippy::disallowed_types)] // control plane: taken when a generation is built

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::server::{
    NoServerSessionStorage, ProducesTickets, ServerSessionMemoryCache, StoresServerSessions,
};

/// What resumption on one listener is made of.
#[derive(Debug, Clone)]
pub struct Resumption {
    /// `None`: no tickets.
    pub ticketer: Option<Arc<dyn ProducesTickets>>,
    pub cache: Arc<dyn StoresServerSessions>,
}

/// The settings a listener's resumption state is valid for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumptionKey {
    /// The client CA certificates (DER), if clients are verified.
    pub client_ca: Option<Vec<Vec<u8>>>,
    pub client_auth_required: bool,
    pub tickets: bool,
    pub cache_size: usize,
}

#[derive(Debug, Default)]
pub struct ResumptionStore(Mutex<HashMap<String, (ResumptionKey, Resumption)>>);

impl ResumptionStore {
    /// The resumption state of the listener at `listen`: the one it had when `key` is
    /// unchanged, else a new one.
    pub fn get(&self, listen: &str, key: ResumptionKey) -> Result<Resumption, String> {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, r)) = all.get(listen) {
            if *k == key {
                return Ok(r.clone());
            }
        }
        let ticketer = if key.tickets {
            Some(
                rustls::crypto::ring::Ticketer::new()
                    .map_err(|e| format!("session_tickets: cannot make a ticket key: {e}"))?,
            )
        } else {
            None
        };
        let cache: Arc<dyn StoresServerSessions> = if key.cache_size == 0 {
            Arc::new(NoServerSessionStorage {})
        } else {
            ServerSessionMemoryCache::new(key.cache_size)
        };
        let r = Resumption { ticketer, cache };
        all.insert(listen.to_owned(), (key, r.clone()));
        Ok(r)
    }
}
