//! `tollgate-mock`'s TLS server: the configuration (a certificate chain and key from PEM
//! files, or a self-signed certificate made at start) and the accept step.
//!
//! With TLS on, a listener still answers cleartext too: the first byte of a TLS connection
//! is 0x16 (a handshake record), which no HTTP/1.1 request line or HTTP/2 preface starts
//! with, so [`accept`] peeks at it and either runs the TLS handshake or hands the socket
//! back as is. The protocol inside TLS is chosen the way it is on cleartext (the HTTP/2
//! preface or not); ALPN offers `h2` and `http/1.1` so that clients pick one.
//!
//! Resumption: one stateless ticketer (ring, rotating keys) is shared by all workers, so a
//! ticket issued on one worker is accepted on another; TLS 1.2 session ids use rustls'
//! default in-memory cache.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::AsyncReadRent;
use monoio::net::TcpStream;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{HandshakeKind, ServerConfig};
use tokio_rustls::TlsAcceptor;

use super::stream::{Prefixed, Stream};
use super::{provider, read_certs, read_key, ALPN_H2, ALPN_HTTP11};

/// Names a self-signed certificate is valid for.
pub const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Longest a client may take to finish its handshake.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// Where the server certificate comes from.
#[derive(Debug, Clone)]
pub enum CertSource {
    /// PEM files: the chain (leaf first) and the private key.
    Files {
        /// Certificate chain.
        cert: String,
        /// Private key.
        key: String,
    },
    /// A fresh self-signed certificate for [`SELF_SIGNED_NAMES`].
    SelfSigned,
}

/// A ready server configuration.
pub struct ServerTls {
    /// Shared by all workers.
    pub config: Arc<ServerConfig>,
    /// The self-signed certificate as PEM (to write out for clients to trust).
    pub self_signed_pem: Option<String>,
}

/// Builds the server configuration.
pub fn config(source: &CertSource) -> Result<ServerTls, String> {
    let (chain, key, pem) = match source {
        CertSource::Files { cert, key } => (read_certs(cert)?, read_key(key)?, None),
        CertSource::SelfSigned => {
            let (pem, cert, key) = self_signed()?;
            (vec![cert], key, Some(pem))
        }
    };
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("certificate and key do not make a TLS identity: {e}"))?;
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
    config.ticketer = rustls::crypto::ring::Ticketer::new()
        .map_err(|e| format!("cannot make a session ticketer: {e}"))?;
    Ok(ServerTls {
        config: Arc::new(config),
        self_signed_pem: pem,
    })
}

/// A self-signed ECDSA P-256 certificate for [`SELF_SIGNED_NAMES`]: (PEM, DER, key).
pub fn self_signed() -> Result<(String, CertificateDer<'static>, PrivateKeyDer<'static>), String> {
    let fail = |e: rcgen::Error| format!("cannot make a self-signed certificate: {e}");
    let names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|s| s.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names).map_err(fail)?;
    // A name of its own, so that a client trusting another mock's certificate reports an
    // unknown issuer rather than a bad signature.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let cn = format!("tollgate-mock {} {nanos}", std::process::id());
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let key_pair = rcgen::KeyPair::generate().map_err(fail)?;
    let cert = params.self_signed(&key_pair).map_err(fail)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
    Ok((cert.pem(), cert.der().clone(), key))
}

/// A connection after [`accept`].
pub struct Accepted {
    /// The stream to serve HTTP on.
    pub stream: Stream,
    /// TLS: whether the handshake was resumed (`None`: cleartext).
    pub resumed: Option<bool>,
}

/// Reads the first bytes of `tcp` into `inb`; on a TLS handshake record runs the server
/// handshake (bounded in time) and returns the TLS stream with `inb` emptied, else returns
/// the socket as is with what was read left in `inb`.
pub async fn accept(
    acceptor: &TlsAcceptor,
    mut tcp: TcpStream,
    inb: &mut Vec<u8>,
) -> io::Result<Accepted> {
    if inb.capacity() - inb.len() < 4096 {
        inb.reserve(16 * 1024);
    }
    let owned = std::mem::take(inb);
    let (len, cap) = (owned.len(), owned.capacity());
    let (res, slice) = tcp.read(owned.slice_mut(len..cap)).await;
    *inb = slice.into_inner();
    res?;
    if inb.first() != Some(&TLS_HANDSHAKE) {
        return Ok(Accepted {
            stream: Stream::Plain(tcp),
            resumed: None,
        });
    }
    let pre = inb.clone();
    inb.clear();
    let poll = tcp.try_into_poll_io().map_err(|(e, _)| e)?;
    let handshake = acceptor.accept(Prefixed::new(pre, poll));
    let tls = match monoio::time::timeout(HANDSHAKE_LIMIT, handshake).await {
        Ok(r) => r?,
        Err(_) => return Err(io::ErrorKind::TimedOut.into()),
    };
    let resumed = tls.get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed);
    Ok(Accepted {
        stream: Stream::tls(Box::new(tls)),
        resumed: Some(resumed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_makes_a_config() {
        let tls = config(&CertSource::SelfSigned).unwrap();
        let pem = tls.self_signed_pem.unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(tls.config.alpn_protocols[0], b"h2");
        assert!(config(&CertSource::Files {
            cert: "/nonexistent.pem".into(),
            key: "/nonexistent.key".into()
        })
        .is_err());
    }
}
