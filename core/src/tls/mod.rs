//! TLS, both ways, with rustls (ring provider).
//!
//! - [`conn`]: our driver of a rustls session over a monoio TCP socket (handshake,
//!   owned-buffer reads and writes, close_notify, halves for tunnels);
//! - [`stream`]: [`Stream`], a plain or TLS connection behind monoio's I/O traits, which
//!   client connections and pooled upstream connections hold;
//! - [`server`]: termination on listeners (certificates chosen by SNI, mTLS, ALPN,
//!   resumption, the handshake in the accept path with its time-out and metrics);
//! - [`client`]: origination to clusters (trust, verification, SNI, ALPN);
//! - [`files`], [`x509`]: certificate and key files, the names in a certificate;
//! - [`sni`]: the name-to-certificate table (exact, wildcard, default);
//! - [`resume`]: ticket keys and session caches that outlive a generation;
//! - [`buf`]: the crate's one `unsafe` module (byte views of owned I/O buffers).
//!
//! A config generation loads its TLS once ([`TlsSet::load`]: files read, keys checked),
//! shared read-only by the cores; each core then builds its own rustls configs from it
//! when it builds its `CoreConfig`, so the `Arc`s a handshake touches are core-local.
//! A reload reads every file again: new connections get the new certificates, open
//! ones keep the session they have.

pub(crate) mod buf;
pub mod client;
pub mod conn;
pub mod files;
pub mod poll;
pub mod resume;
pub mod server;
pub mod sni;
pub mod stream;
#[cfg(test)]
mod tests;
pub mod x509;

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;
use rustls::SupportedProtocolVersion;

pub use client::{ClusterTls, UpstreamTls};
pub use conn::{HandshakeError, TlsConn};
pub use resume::ResumptionStore;
pub use server::{ListenerTls, ServerTls};
pub use stream::Stream;

use crate::config::{Config, TlsVersion};

/// The crypto provider: ring, with rustls's default cipher suites and key exchanges.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The versions from `min` up, newest first.
pub fn versions(min: TlsVersion) -> &'static [&'static SupportedProtocolVersion] {
    static BOTH: [&SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    static TLS13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    match min {
        TlsVersion::Tls12 => &BOTH,
        TlsVersion::Tls13 => &TLS13,
    }
}

/// The TLS of one config generation: per listener and per cluster (same order as the
/// config), `None` where it is plain.
#[derive(Debug, Default)]
pub struct TlsSet {
    pub listeners: Vec<Option<Arc<ListenerTls>>>,
    pub clusters: Vec<Option<Arc<ClusterTls>>>,
}

impl TlsSet {
    /// Reads every certificate, key and CA file `cfg` names. Errors name the key
    /// (`listeners[0].tls.certificates[1].key: cannot read ...`).
    pub fn load(cfg: &Config, resumption: &ResumptionStore) -> Result<TlsSet, String> {
        let mut set = TlsSet::default();
        for (i, l) in cfg.listeners.iter().enumerate() {
            let tls = match &l.tls {
                Some(t) => Some(Arc::new(
                    ListenerTls::load(&l.name, &l.listen, t, resumption)
                        .map_err(|e| format!("listeners[{i}].tls.{e}"))?,
                )),
                None => None,
            };
            set.listeners.push(tls);
        }
        for (i, c) in cfg.clusters.iter().enumerate() {
            let tls = match &c.tls {
                Some(t) => {
                    let tls = ClusterTls::load(t, c.protocol)
                        .map_err(|e| format!("clusters[{i}].tls.{e}"))?;
                    for ep in &c.endpoints {
                        tls.name_for(ep.address())
                            .map_err(|e| format!("clusters[{i}].tls: {e}"))?;
                    }
                    Some(Arc::new(tls))
                }
                None => None,
            };
            set.clusters.push(tls);
        }
        Ok(set)
    }
}
