//! `tollgate-load`'s TLS client: the configuration made from the command line and the
//! timed handshake.
//!
//! - Trust: the CA certificates of `--cacert FILE` (a self-signed server certificate works
//!   as its own CA), or none at all with `--insecure` (the server's signature over the
//!   handshake is still checked, the certificate chain and name are not).
//! - SNI: the URL host (rustls sends none for an IP address, as RFC 6066 says; the
//!   certificate must then carry the IP in its subjectAltName).
//! - ALPN: the protocol the run speaks (`h2` with `--h2`, else `http/1.1`), or the list of
//!   `--alpn` (when it offers `h2` without `--h2`, a probe handshake before the run lets
//!   the server choose, see [`crate::load::tls::plan`]); a server that picks a protocol
//!   other than the one the run speaks fails the handshake (`tls` error), and `--h2` needs
//!   `h2` to be negotiated unless `--alpn none` (h2 over TLS with prior knowledge).
//! - Resumption: each [`Connector`] has its own in-memory session cache (no lock shared
//!   between threads); the load generator gives every HTTP/1.1 connection its own, so with
//!   `--close` every handshake after a connection's first resumes; `--no-resume`
//!   disables it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, HandshakeKind, RootCertStore, SignatureScheme};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::stream::PollIo;
use super::{provider, read_certs, versions, Version, ALPN_H2, ALPN_HTTP11};

/// TLS settings from the command line.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Skip certificate verification.
    pub insecure: bool,
    /// PEM file of CA certificates to trust.
    pub cacert: Option<String>,
    /// ALPN ids to offer, in order (`None`: the protocol the run speaks; empty: none).
    pub alpn: Option<Vec<String>>,
    /// The run speaks HTTP/2.
    pub h2: bool,
    /// Keep a session cache (resumption).
    pub resume: bool,
    /// Pin one TLS version.
    pub version: Option<Version>,
}

/// What every worker's [`Connector`] is made from.
#[derive(Debug, Clone)]
pub struct TlsPlan {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    resume: bool,
    h2: bool,
    alpn_offered: bool,
    verified: bool,
}

impl TlsPlan {
    /// Builds the client configuration; `host` is the URL host (SNI and the name to verify).
    pub fn new(opts: &ClientOptions, host: &str) -> Result<TlsPlan, String> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let server_name = ServerName::try_from(host.to_string())
            .map_err(|e| format!("`{host}` is not a valid TLS server name: {e}"))?;
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions(opts.version))
            .map_err(|e| format!("TLS versions: {e}"))?;
        let mut config = if opts.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
                .with_no_client_auth()
        } else {
            let Some(path) = &opts.cacert else {
                return Err(
                    "an https:// target needs --cacert FILE (the CA to trust, e.g. \
                            /etc/ssl/certs/ca-certificates.crt) or --insecure"
                        .into(),
                );
            };
            let mut roots = RootCertStore::empty();
            for cert in read_certs(path)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("`{path}`: not a usable CA certificate: {e}"))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        let spoken: &[u8] = if opts.h2 { ALPN_H2 } else { ALPN_HTTP11 };
        config.alpn_protocols = match &opts.alpn {
            None => vec![spoken.to_vec()],
            Some(list) => {
                if !list.is_empty() && !list.iter().any(|p| p.as_bytes() == spoken) {
                    return Err(format!(
                        "--alpn {} does not offer `{}`, the protocol this run speaks{}",
                        list.join(","),
                        String::from_utf8_lossy(spoken),
                        if opts.h2 { "" } else { " (add --h2 for h2)" }
                    ));
                }
                list.iter().map(|p| p.as_bytes().to_vec()).collect()
            }
        };
        Ok(TlsPlan {
            alpn_offered: !config.alpn_protocols.is_empty(),
            config: Arc::new(config),
            server_name,
            resume: opts.resume,
            h2: opts.h2,
            verified: !opts.insecure,
        })
    }

    /// The ALPN ids offered, for the report.
    pub fn alpn_offer(&self) -> Vec<String> {
        let list = &self.config.alpn_protocols;
        list.iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    }

    /// Whether `id` is in the ALPN offer.
    pub fn offers(&self, id: &[u8]) -> bool {
        self.config.alpn_protocols.iter().any(|p| p == id)
    }

    /// One blocking handshake with the server at `addr` (5 s limit), before the run:
    /// returns the ALPN id the server picks.
    pub fn probe(&self, addr: SocketAddr) -> Result<Option<Vec<u8>>, String> {
        let fail = |e: &dyn fmt::Display| {
            format!(
                "TLS probe of {addr} (to choose h2 or http/1.1 from the ALPN answer) failed: {e}"
            )
        };
        let limit = Duration::from_secs(5);
        let mut sock = std::net::TcpStream::connect_timeout(&addr, limit).map_err(|e| fail(&e))?;
        sock.set_read_timeout(Some(limit)).map_err(|e| fail(&e))?;
        sock.set_write_timeout(Some(limit)).map_err(|e| fail(&e))?;
        let mut conn = rustls::ClientConnection::new(self.config.clone(), self.server_name.clone())
            .map_err(|e| fail(&e))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).map_err(|e| fail(&e))?;
        }
        let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
        conn.send_close_notify();
        let _ = conn.complete_io(&mut sock);
        Ok(alpn)
    }

    /// Whether sessions are resumed.
    pub fn resumes(&self) -> bool {
        self.resume
    }

    /// Whether certificates are verified (not `--insecure`).
    pub fn verifies(&self) -> bool {
        self.verified
    }
}

/// A completed handshake.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// An abbreviated (resumed) handshake.
    pub resumed: bool,
    /// From the first ClientHello byte to the end of the handshake.
    pub time: Duration,
    /// Negotiated version.
    pub version: Option<rustls::ProtocolVersion>,
    /// Negotiated ALPN id.
    pub alpn: Option<Vec<u8>>,
}

/// Why a handshake failed (the load generator counts it as a `tls` error).
#[derive(Debug, Clone)]
pub struct HandshakeError(pub String);

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A TLS client: its own configuration copy and session cache (rustls keeps up to 8
/// single-use TLS 1.3 tickets per server in it).
pub struct Connector {
    inner: TlsConnector,
    server_name: ServerName<'static>,
    h2: bool,
    alpn_offered: bool,
}

impl Connector {
    /// A connector with a session cache of its own (or none with `--no-resume`).
    pub fn new(plan: &TlsPlan) -> Connector {
        let mut config = (*plan.config).clone();
        config.resumption = if plan.resume {
            Resumption::in_memory_sessions(4)
        } else {
            Resumption::disabled()
        };
        Connector {
            inner: TlsConnector::from(Arc::new(config)),
            server_name: plan.server_name.clone(),
            h2: plan.h2,
            alpn_offered: plan.alpn_offered,
        }
    }

    /// Runs the client handshake on `io` and checks the negotiated protocol.
    pub async fn connect<IO: PollIo>(
        &self,
        io: IO,
    ) -> Result<(TlsStream<IO>, Handshake), HandshakeError> {
        let t0 = Instant::now();
        let tls = self
            .inner
            .connect(self.server_name.clone(), io)
            .await
            .map_err(|e| HandshakeError(e.to_string()))?;
        let time = t0.elapsed();
        let (_, conn) = tls.get_ref();
        let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
        let spoken: &[u8] = if self.h2 { ALPN_H2 } else { ALPN_HTTP11 };
        match alpn.as_deref() {
            Some(p) if p != spoken => {
                return Err(HandshakeError(format!(
                    "server chose ALPN `{}`, this run speaks `{}`",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(spoken)
                )))
            }
            None if self.h2 && self.alpn_offered => {
                return Err(HandshakeError(
                    "server negotiated no ALPN protocol; --h2 over TLS needs `h2`".into(),
                ))
            }
            _ => {}
        }
        let hs = Handshake {
            resumed: conn.handshake_kind() == Some(HandshakeKind::Resumed),
            time,
            version: conn.protocol_version(),
            alpn,
        };
        Ok((tls, hs))
    }
}

/// `--insecure`: accepts any certificate, but still checks the handshake signatures (so
/// the cost of a handshake stays what it is with verification, minus the chain check).
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

    fn opts() -> ClientOptions {
        ClientOptions {
            insecure: true,
            resume: true,
            ..ClientOptions::default()
        }
    }

    #[test]
    fn alpn_offer_follows_the_protocol() {
        let p = TlsPlan::new(&opts(), "127.0.0.1").unwrap();
        assert_eq!(p.alpn_offer(), vec!["http/1.1"]);
        let h2 = ClientOptions { h2: true, ..opts() };
        assert_eq!(
            TlsPlan::new(&h2, "localhost").unwrap().alpn_offer(),
            vec!["h2"]
        );
        let both = ClientOptions {
            alpn: Some(vec!["h2".into(), "http/1.1".into()]),
            ..h2.clone()
        };
        let p = TlsPlan::new(&both, "[::1]").unwrap();
        assert_eq!(p.alpn_offer(), vec!["h2", "http/1.1"]);
        let wrong = ClientOptions {
            alpn: Some(vec!["http/1.1".into()]),
            ..h2
        };
        assert!(TlsPlan::new(&wrong, "localhost")
            .unwrap_err()
            .contains("does not offer"));
    }

    #[test]
    fn trust_must_be_chosen() {
        let none = ClientOptions {
            insecure: false,
            ..opts()
        };
        assert!(TlsPlan::new(&none, "localhost")
            .unwrap_err()
            .contains("--cacert"));
    }
}
