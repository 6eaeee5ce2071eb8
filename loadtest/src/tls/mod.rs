//! TLS for both tools: rustls with the ring provider, driven by tokio-rustls over monoio's
//! poll-io socket (the adapter h2 runs on), so HTTP/1.1 and h2, client and server, share
//! one TLS stack.
//!
//! - [`client`]: `tollgate-load`'s client configuration (trust: `--cacert` or
//!   `--insecure`; ALPN; TLS versions; a session cache per worker thread) and the timed
//!   handshake.
//! - [`server`]: `tollgate-mock`'s server configuration (PEM files or a self-signed
//!   certificate made at start with rcgen; ALPN `h2`, `http/1.1`; stateless session
//!   tickets shared by all workers, so a client resumes on whichever worker it lands).
//! - [`stream`]: the plain-or-TLS byte stream the HTTP/1.1 code reads and writes.

pub mod client;
pub mod server;
pub mod stream;

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// ALPN id of HTTP/2.
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN id of HTTP/1.1.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The crypto provider both tools use (ring: builds without cmake).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS version to pin with `--tls-version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// TLS 1.2 only.
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl Version {
    /// Parses `1.2` or `1.3`.
    pub fn parse(s: &str) -> Result<Version, String> {
        match s.trim() {
            "1.2" | "tls1.2" | "TLSv1.2" => Ok(Version::Tls12),
            "1.3" | "tls1.3" | "TLSv1.3" => Ok(Version::Tls13),
            _ => Err(format!("bad TLS version `{s}`: use 1.2 or 1.3")),
        }
    }
}

static ONLY_TLS12: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
static ONLY_TLS13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];

/// The versions to enable: one pinned, or both (1.3 preferred).
pub fn versions(v: Option<Version>) -> &'static [&'static rustls::SupportedProtocolVersion] {
    match v {
        Some(Version::Tls12) => &ONLY_TLS12,
        Some(Version::Tls13) => &ONLY_TLS13,
        None => rustls::DEFAULT_VERSIONS,
    }
}

/// A report name for a negotiated version.
pub fn version_name(v: Option<rustls::ProtocolVersion>) -> String {
    match v {
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".into(),
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".into(),
        Some(other) => format!("{other:?}"),
        None => "none".into(),
    }
}

/// Every certificate in a PEM file (at least one).
pub fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read certificates from `{path}`: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM in `{path}`: {e}"))?;
    if certs.is_empty() {
        return Err(format!("`{path}` holds no CERTIFICATE block"));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn read_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("no private key in `{path}`: {e}"))
}
