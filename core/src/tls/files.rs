//! Certificates, keys and CA bundles from PEM files, checked as far as can be before a
//! handshake: the file reads, holds what it should, the key is one rustls can sign with
//! and matches the certificate, the certificate's names can be read. Used by validation
//! (so `tollgate check` and a reload report a bad file at its config line) and when a
//! generation is built.
//!
//! Errors are sentences about the file; the caller says which config key named it.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;

use super::x509;

/// A certificate chain with its key, as read.
#[derive(Debug)]
pub struct LoadedCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The leaf's subjectAltName DNS names.
    pub names: Vec<String>,
}

impl LoadedCert {
    /// A signing-ready copy (each core makes its own, so that the `Arc` a handshake
    /// clones is core-local).
    pub fn certified_key(&self) -> Result<Arc<CertifiedKey>, String> {
        CertifiedKey::from_der(self.chain.clone(), self.key.clone_key(), &super::provider())
            .map(Arc::new)
            .map_err(|e| format!("the key cannot sign for this certificate: {e}"))
    }
}

/// Which of a certificate's two files a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Cert,
    Key,
}

/// Reads a certificate chain and its key and checks that they belong together.
pub fn read_certificate(cert: &Path, key: &Path) -> Result<LoadedCert, (Part, String)> {
    let chain = read_certs(cert).map_err(|e| (Part::Cert, e))?;
    let key_pem = read(key).map_err(|e| (Part::Key, e))?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        let what = match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                "holds no private key (PEM \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\")"
                    .to_string()
            }
            e => format!("is not a valid PEM private key: {e}"),
        };
        (Part::Key, format!("{}: {what}", key.display()))
    })?;
    let names = x509::dns_names(&chain[0]).ok_or_else(|| {
        (
            Part::Cert,
            format!("{}: the first certificate cannot be parsed", cert.display()),
        )
    })?;
    let loaded = LoadedCert {
        chain,
        key: key_der,
        names,
    };
    loaded.certified_key().map_err(|e| {
        (
            Part::Key,
            format!("{}: {e} (in {})", key.display(), cert.display()),
        )
    })?;
    Ok(loaded)
}

/// Reads the certificates of a PEM file (a chain, or a CA bundle); at least one.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: holds no certificate (PEM \"CERTIFICATE\")",
            path.display()
        ));
    }
    Ok(certs)
}

/// Reads CA certificates into a root store; also returns them as read.
pub fn read_roots(path: &Path) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), String> {
    let certs = read_certs(path)?;
    let mut roots = RootCertStore::empty();
    for cert in &certs {
        roots
            .add(cert.clone())
            .map_err(|e| format!("{}: not a usable CA certificate: {e}", path.display()))?;
    }
    Ok((roots, certs))
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tollgate-tls-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn reads_a_pair_and_refuses_a_mismatched_key_or_missing_file() {
        let a = rcgen::generate_simple_self_signed(vec!["a.test".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["b.test".into()]).unwrap();
        let (cert, key, other_key) = (scratch("a.pem"), scratch("a.key"), scratch("b.key"));
        std::fs::write(&cert, a.cert.pem()).unwrap();
        std::fs::write(&key, a.key_pair.serialize_pem()).unwrap();
        std::fs::write(&other_key, b.key_pair.serialize_pem()).unwrap();

        let ok = read_certificate(&cert, &key).unwrap();
        assert_eq!(ok.names, vec!["a.test".to_string()]);

        let (part, msg) = read_certificate(&cert, &other_key).unwrap_err();
        assert_eq!(part, Part::Key);
        assert!(msg.contains("cannot sign"), "{msg}");

        let (part, msg) = read_certificate(&scratch("missing.pem"), &key).unwrap_err();
        assert_eq!(part, Part::Cert);
        assert!(msg.contains("cannot read"), "{msg}");

        // A key file in the certificate's place holds no certificate.
        let (part, msg) = read_certificate(&key, &key).unwrap_err();
        assert_eq!(part, Part::Cert);
        assert!(msg.contains("holds no certificate"), "{msg}");

        let (part, msg) = read_certificate(&cert, &cert).unwrap_err();
        assert_eq!(part, Part::Key);
        assert!(msg.contains("holds no private key"), "{msg}");
    }
}
