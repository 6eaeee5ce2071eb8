//! TLS to upstreams: what one generation loaded for a cluster ([`ClusterTls`]: trust,
//! verification, ALPN, SNI), the config each core builds from it ([`UpstreamTls`], with
//! its own session cache so that reconnecting to an endpoint resumes without a lock
//! shared between cores), and the client handshake ([`connect`]).
//!
//! The name sent as SNI and verified against the certificate is the cluster's `sni`, or
//! each endpoint's host. An IP address is verified against the certificate's IP entries
//! and not sent (RFC 6066 allows only DNS names in SNI).
//!
//! Pooled connections are per endpoint (see `upstream/pool.rs`), and the name and ALPN
//! are fixed per endpoint for a generation, so the pool's key is the TLS key too.

use std::path::Path;
use std::sync::Arc;

use monoio::net::TcpStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, Connection, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::conn::{HandshakeError, TlsConn};
use super::files;
use super::stream::Stream;

/// Sessions each core keeps per cluster for resumption (rustls keeps a few tickets per
/// server name in each).
const SESSIONS_PER_CORE: usize = 256;

/// One cluster's TLS as loaded for a generation.
#[derive(Debug)]
pub struct ClusterTls {
    /// Shared by the control thread's health checks.
    config: Arc<ClientConfig>,
    sni: Option<ServerName<'static>>,
}

impl ClusterTls {
    /// Builds the client config: the CA file or the Mozilla roots, verification (or
    /// not), ALPN. Errors name the config key.
    pub fn load(cfg: &crate::config::ClusterTls) -> Result<ClusterTls, String> {
        let provider = super::provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(super::versions(crate::config::TlsVersion::Tls12))
            .map_err(|e| format!("TLS versions: {e}"))?;
        let mut config = if cfg.verify {
            let roots = match &cfg.ca_file {
                Some(path) => {
                    files::read_roots(Path::new(path))
                        .map_err(|e| format!("ca_file: {e}"))?
                        .0
                }
                None => RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                },
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
                .with_no_client_auth()
        };
        config.alpn_protocols = cfg.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        let sni = match &cfg.sni {
            Some(name) => Some(server_name(name).map_err(|e| format!("sni: {e}"))?),
            None => None,
        };
        Ok(ClusterTls {
            config: Arc::new(config),
            sni,
        })
    }

    /// The name for the endpoint written as `spec` (`host:port`).
    pub fn name_for(&self, spec: &str) -> Result<ServerName<'static>, String> {
        match &self.sni {
            Some(n) => Ok(n.clone()),
            None => server_name(endpoint_host(spec)).map_err(|e| {
                format!("endpoint {spec:?}: {e}; set tls.sni to the name its certificate is for")
            }),
        }
    }

    /// One core's config for the cluster's endpoints (`specs`, in order).
    pub fn for_core<'a>(
        &self,
        specs: impl Iterator<Item = &'a str>,
    ) -> Result<UpstreamTls, String> {
        let mut config = (*self.config).clone();
        config.resumption = Resumption::in_memory_sessions(SESSIONS_PER_CORE);
        let names = specs
            .map(|s| self.name_for(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(UpstreamTls {
            config: Arc::new(config),
            names,
        })
    }

    /// A blocking client session to the endpoint `spec`, for the control thread's
    /// health checks.
    pub fn blocking_session(&self, spec: &str) -> Result<rustls::ClientConnection, String> {
        let name = self.name_for(spec)?;
        rustls::ClientConnection::new(self.config.clone(), name).map_err(|e| e.to_string())
    }
}

/// One core's TLS to one cluster.
#[derive(Debug)]
pub struct UpstreamTls {
    config: Arc<ClientConfig>,
    /// The server name of each endpoint.
    names: Vec<ServerName<'static>>,
}

/// The client handshake on a connected socket to endpoint `endpoint`; the caller bounds
/// it in time.
pub async fn connect(
    tls: &UpstreamTls,
    endpoint: usize,
    tcp: TcpStream,
) -> Result<Stream, HandshakeError> {
    let Some(name) = tls.names.get(endpoint) else {
        return Err(HandshakeError::Tls(rustls::Error::General(
            "no server name for this endpoint".into(),
        )));
    };
    let session = rustls::ClientConnection::new(tls.config.clone(), name.clone())
        .map_err(HandshakeError::Tls)?;
    let mut conn = TlsConn::new(tcp, Connection::Client(session));
    conn.handshake().await?;
    Ok(Stream::Tls(Box::new(conn)))
}

fn server_name(name: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(name.to_owned()).map_err(|_| {
        format!("{name:?} is not a valid TLS server name (a DNS name or an IP address)")
    })
}

/// The host of `host:port` (an IPv6 address without its brackets).
pub fn endpoint_host(spec: &str) -> &str {
    let host = spec.rsplit_once(':').map_or(spec, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// `verify = false` (with `insecure_skip_verify = true`): any certificate is accepted,
/// but the server must still prove it holds the certificate's key (the handshake
/// signature is checked), so the cost and the protocol stay those of a verified
/// connection.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_hosts() {
        assert_eq!(endpoint_host("api.example.com:443"), "api.example.com");
        assert_eq!(endpoint_host("10.0.0.1:8443"), "10.0.0.1");
        assert_eq!(endpoint_host("[::1]:8443"), "::1");
    }
}
