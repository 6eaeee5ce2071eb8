//! TLS to upstreams: what one generation loaded for a cluster ([`ClusterTls`]: trust,
//! verification, ALPN, SNI), the config each core builds from it ([`UpstreamTls`], with
//! its own session cache so that reconnecting to an endpoint resumes without a lock
//! shared between cores), and the client handshake ([`connect`]).
//!
//! The name sent as SNI and verified against the certificate is the cluster's `sni`, or
//! each endpoint's host. An IP address is verified against the certificate's IP entries
//! and not sent (RFC 6066 allows only DNS names in SNI).
//!
//! Pooled connections are per endpoint (see `upstream/pool.rs`, `upstream/h2pool.rs`),
//! and the name and ALPN are fixed per endpoint for a generation, so the pool's key is
//! the TLS key too.
//!
//! ALPN follows the cluster's `protocol` (`["http/1.1"]`, `["h2"]`, or both for `auto`);
//! what the endpoint picked is read back with [`negotiated_h2`]. The control thread's
//! health checks speak HTTP/1.1, so their sessions offer `http/1.1` only.

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
use crate::config::Roots;

/// Sessions each core keeps per cluster for resumption (rustls keeps a few tickets per
/// server name in each).
const SESSIONS_PER_CORE: usize = 256;

/// One cluster's TLS as loaded for a generation.
#[derive(Debug)]
pub struct ClusterTls {
    config: Arc<ClientConfig>,
    /// The same with ALPN `http/1.1` only, for the control thread's health checks.
    health_config: Arc<ClientConfig>,
    sni: Option<ServerName<'static>>,
}

impl ClusterTls {
    /// Builds the client config: the CA file, the Mozilla roots or the host's store,
    /// verification (or not), ALPN for `protocol`. Errors name the config key.
    pub fn load(
        cfg: &crate::config::ClusterTls,
        protocol: crate::config::Protocol,
    ) -> Result<ClusterTls, String> {
        let provider = super::provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(super::versions(crate::config::TlsVersion::Tls12))
            .map_err(|e| format!("TLS versions: {e}"))?;
        let mut config = if cfg.verify {
            let roots = match (&cfg.ca_file, cfg.roots) {
                (Some(path), _) => {
                    files::read_roots(Path::new(path))
                        .map_err(|e| format!("ca_file: {e}"))?
                        .0
                }
                (None, Roots::Webpki) => RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                },
                (None, Roots::Native) => native_roots().map_err(|e| format!("roots: {e}"))?,
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
                .with_no_client_auth()
        };
        let mut health = config.clone();
        health.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.alpn_protocols = cfg
            .alpn_for(protocol)
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect();
        let sni = match &cfg.sni {
            Some(name) => Some(server_name(name).map_err(|e| format!("sni: {e}"))?),
            None => None,
        };
        Ok(ClusterTls {
            config: Arc::new(config),
            health_config: Arc::new(health),
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
        rustls::ClientConnection::new(self.health_config.clone(), name).map_err(|e| e.to_string())
    }
}

/// The host's trust store (`roots = "native"`): rustls-native-certs reads
/// `SSL_CERT_FILE` / `SSL_CERT_DIR` when set, else the distribution's bundle. An error
/// when no usable certificate is found; certificates rustls cannot parse are skipped
/// (a system bundle may hold a few), as are unreadable files when others were read.
pub fn native_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = match found.errors.first() {
            Some(e) => format!(": {e}"),
            None => String::new(),
        };
        return Err(format!(
            "no trusted certificates found in the system store (SSL_CERT_FILE, SSL_CERT_DIR or \
             the distribution's CA bundle, e.g. /etc/ssl/certs/ca-certificates.crt){why}"
        ));
    }
    Ok(roots)
}

/// Whether the endpoint chose HTTP/2 by ALPN on this connection.
pub fn negotiated_h2(stream: &Stream) -> bool {
    stream
        .tls()
        .is_some_and(|t| t.session().alpn_protocol() == Some(b"h2"))
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
