//! TLS termination on a listener: what one generation loaded ([`ListenerTls`], shared
//! read-only by the cores), the server config each core builds from it ([`ServerTls`]),
//! and the handshake in the accept path ([`accept`]): bounded by `handshake_timeout`,
//! counted by version and kind, failures logged at debug and counted by reason.
//!
//! Per core: the signing keys (each core parses its own copy, so the `Arc` a handshake
//! clones is never written by another core), the certificate resolver and the client
//! verifier. Shared: the ticket key and the session cache ([`super::resume`]).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use monoio::net::TcpStream;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{Connection, HandshakeKind, ProtocolVersion, RootCertStore, ServerConfig};

use super::conn::{HandshakeError, TlsConn};
use super::files::{self, LoadedCert, Part};
use super::resume::{Resumption, ResumptionKey, ResumptionStore};
use super::sni::SniTable;
use super::stream::Stream;
use crate::config::{ClientAuth, TlsVersion};
use crate::metrics::{TlsFailure, TlsMetrics};

/// One listener's TLS as loaded for a generation.
#[derive(Debug)]
pub struct ListenerTls {
    /// The listener's name, for logs.
    pub name: String,
    certs: Vec<LoadedCert>,
    sni: SniTable,
    client_roots: Option<Arc<RootCertStore>>,
    client_auth: ClientAuth,
    alpn: Vec<Vec<u8>>,
    min_version: TlsVersion,
    handshake_timeout: Duration,
    resumption: Resumption,
}

impl ListenerTls {
    /// Reads the listener's certificate files and takes its resumption state from
    /// `store`. Errors name the config key (`certificates[1].key: ...`).
    pub fn load(
        name: &str,
        listen: &str,
        cfg: &crate::config::ListenerTls,
        store: &ResumptionStore,
    ) -> Result<ListenerTls, String> {
        let mut certs = Vec::with_capacity(cfg.certificates.len());
        for (i, c) in cfg.certificates.iter().enumerate() {
            let cert = files::read_certificate(Path::new(&c.cert), Path::new(&c.key)).map_err(
                |(part, e)| {
                    let key = if part == Part::Cert { "cert" } else { "key" };
                    format!("certificates[{i}].{key}: {e}")
                },
            )?;
            certs.push(cert);
        }
        if certs.is_empty() {
            return Err("certificates: at least one is needed".into());
        }
        let (client_roots, client_ca) = match &cfg.client_ca {
            Some(path) => {
                let (roots, certs) =
                    files::read_roots(Path::new(path)).map_err(|e| format!("client_ca: {e}"))?;
                let der = certs.iter().map(|c| c.as_ref().to_vec()).collect();
                (Some(Arc::new(roots)), Some(der))
            }
            None => (None, None),
        };
        let resumption = store.get(
            listen,
            ResumptionKey {
                client_ca,
                client_auth_required: cfg.client_auth == ClientAuth::Required,
                tickets: cfg.session_tickets,
                cache_size: cfg.session_cache,
            },
        )?;
        let sni = SniTable::new(certs.iter().map(|c| c.names.as_slice()));
        Ok(ListenerTls {
            name: name.to_owned(),
            certs,
            sni,
            client_roots,
            client_auth: cfg.client_auth,
            alpn: cfg.alpn.iter().map(|p| p.as_bytes().to_vec()).collect(),
            min_version: cfg.min_version,
            handshake_timeout: cfg.handshake_timeout.get(),
            resumption,
        })
    }

    /// One core's server config.
    pub fn for_core(&self) -> Result<ServerTls, String> {
        let keys = self
            .certs
            .iter()
            .map(LoadedCert::certified_key)
            .collect::<Result<Vec<_>, _>>()?;
        let provider = super::provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(super::versions(self.min_version))
            .map_err(|e| format!("TLS versions: {e}"))?;
        let builder = match &self.client_roots {
            Some(roots) => {
                let mut v = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider);
                if self.client_auth == ClientAuth::Optional {
                    v = v.allow_unauthenticated();
                }
                let v = v
                    .build()
                    .map_err(|e| format!("client_ca: cannot verify clients with it: {e}"))?;
                builder.with_client_cert_verifier(v)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(Arc::new(SniResolver {
            table: self.sni.clone(),
            keys,
        }));
        config.alpn_protocols = self.alpn.clone();
        config.session_storage = self.resumption.cache.clone();
        if let Some(t) = &self.resumption.ticketer {
            config.ticketer = t.clone();
        }
        Ok(ServerTls {
            config: Arc::new(config),
            handshake_timeout: self.handshake_timeout,
            name: self.name.clone(),
        })
    }
}

/// One core's TLS for one listener.
#[derive(Debug)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
    name: String,
}

/// Picks the certificate by SNI (see [`SniTable`]).
#[derive(Debug)]
struct SniResolver {
    table: SniTable,
    keys: Vec<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.keys
            .get(self.table.lookup(hello.server_name()))
            .cloned()
    }
}

/// The handshake of an accepted connection, within the listener's `handshake_timeout`.
/// `None` when it failed (logged at debug, counted); the socket is closed then.
pub async fn accept(
    tls: &ServerTls,
    tcp: TcpStream,
    peer: SocketAddr,
    metrics: &TlsMetrics,
) -> Option<Stream> {
    let session = match rustls::ServerConnection::new(tls.config.clone()) {
        Ok(s) => s,
        Err(e) => {
            metrics.failed(TlsFailure::Other);
            tracing::debug!(%peer, listener = %tls.name, error = %e, "TLS session refused");
            return None;
        }
    };
    let mut conn = TlsConn::new(tcp, Connection::Server(session));
    let failure = match monoio::time::timeout(tls.handshake_timeout, conn.handshake()).await {
        Ok(Ok(())) => {
            let s = conn.session();
            metrics.handshake(
                s.protocol_version() == Some(ProtocolVersion::TLSv1_3),
                s.handshake_kind() == Some(HandshakeKind::Resumed),
            );
            return Some(Stream::Tls(Box::new(conn)));
        }
        Ok(Err(e)) => (failure_reason(&e), e.to_string()),
        Err(_) => (TlsFailure::Timeout, "handshake timed out".to_string()),
    };
    metrics.failed(failure.0);
    tracing::debug!(
        %peer,
        listener = %tls.name,
        reason = failure.0.as_str(),
        error = %failure.1,
        "TLS handshake failed"
    );
    None
}

/// The metric label of a failed handshake.
fn failure_reason(e: &HandshakeError) -> TlsFailure {
    use rustls::Error as E;
    match e {
        HandshakeError::Closed => TlsFailure::Closed,
        HandshakeError::NotTls => TlsFailure::NotTls,
        HandshakeError::Io(_) => TlsFailure::Io,
        HandshakeError::Tls(e) => match e {
            E::NoCertificatesPresented => TlsFailure::NoClientCertificate,
            E::InvalidCertificate(_) => TlsFailure::BadClientCertificate,
            E::AlertReceived(_) => TlsFailure::AlertReceived,
            E::PeerIncompatible(_) => TlsFailure::Incompatible,
            E::NoApplicationProtocol => TlsFailure::NoAlpn,
            E::InvalidMessage(_)
            | E::InappropriateMessage { .. }
            | E::InappropriateHandshakeMessage { .. }
            | E::PeerMisbehaved(_)
            | E::DecryptError => TlsFailure::Protocol,
            _ => TlsFailure::Other,
        },
    }
}
