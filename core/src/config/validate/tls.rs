//! Checks for `listeners[].tls` and `clusters[].tls`: the keys' values, and the files
//! they name.
//!
//! Like `env:` API keys (see `llm.rs`), this looks beyond the text: every certificate,
//! key and CA file is read and checked here (PEM, a key rustls can sign with that
//! matches its certificate, names that can be read), so that `tollgate check` and a
//! reload report a bad or missing file at the line that names it, and a reload with one
//! is refused with the old config kept. Relative paths count from the config file's
//! directory; they are made absolute in the config returned, so the generation reads
//! the very files checked here.

use std::path::{Path, PathBuf};

use super::locate::KeyPath;
use super::syntax::parse_host_port;
use super::Issues;
use crate::config::{Cluster, ClusterTls, Config, ListenerTls, Protocol, Roots};
use crate::tls::files::{self, Part};

/// Most session ids a listener's cache keeps.
const MAX_SESSION_CACHE: usize = 1_000_000;
/// The ALPN ids Tollgate speaks.
const ALPN_HTTP11: &str = "http/1.1";
const ALPN_H2: &str = "h2";

pub(super) fn check(issues: &mut Issues, config: &mut Config, base: &Path) {
    for (i, l) in config.listeners.iter_mut().enumerate() {
        if let Some(tls) = &mut l.tls {
            let path = KeyPath::root().key("listeners").index(i).key("tls");
            let label = format!("listener {:?}: ", l.name);
            check_listener(issues, tls, &path, &label, base);
        }
    }
    for (i, c) in config.clusters.iter_mut().enumerate() {
        let path = KeyPath::root().key("clusters").index(i);
        let label = format!("cluster {:?}: ", c.name);
        check_cluster(issues, c, &path, &label, base);
    }
}

fn check_listener(
    issues: &mut Issues,
    tls: &mut ListenerTls,
    path: &KeyPath,
    label: &str,
    base: &Path,
) {
    if tls.certificates.is_empty() {
        issues.at(
            &path.key("certificates"),
            format!(
                "{label}tls needs at least one certificate: certificates = [{{ cert = \"cert.pem\", \
                 key = \"key.pem\" }}]"
            ),
        );
    }
    for (j, c) in tls.certificates.iter_mut().enumerate() {
        let at = path.key("certificates").index(j);
        let (Some(cert), Some(key)) = (
            resolve(issues, &mut c.cert, &at.key("cert"), label, base),
            resolve(issues, &mut c.key, &at.key("key"), label, base),
        ) else {
            continue;
        };
        match files::read_certificate(&cert, &key) {
            Ok(loaded) if j > 0 && loaded.names.is_empty() => issues.at(
                &at.key("cert"),
                format!(
                    "{label}{} has no DNS names in its subjectAltName, so no client can select it \
                     by SNI; only the first certificate (the default) may lack them",
                    cert.display()
                ),
            ),
            Ok(_) => {}
            Err((part, e)) => {
                let key = if part == Part::Cert { "cert" } else { "key" };
                issues.at(&at.key(key), format!("{label}{e}"));
            }
        }
    }
    if let Some(ca) = &mut tls.client_ca {
        let at = path.key("client_ca");
        if let Some(p) = resolve(issues, ca, &at, label, base) {
            if let Err(e) = files::read_roots(&p) {
                issues.at(&at, format!("{label}{e}"));
            }
        }
    }
    check_alpn(issues, &tls.alpn, &path.key("alpn"), label);
    issues.positive_duration(&path.key("handshake_timeout"), tls.handshake_timeout, label);
    if tls.session_cache > MAX_SESSION_CACHE {
        issues.at(
            &path.key("session_cache"),
            format!(
                "{label}session_cache must be at most {MAX_SESSION_CACHE}; got {}",
                tls.session_cache
            ),
        );
    }
}

fn check_cluster(issues: &mut Issues, c: &mut Cluster, path: &KeyPath, label: &str, base: &Path) {
    let endpoints: Vec<String> = c.endpoints.iter().map(|e| e.address().to_owned()).collect();
    let protocol = c.protocol;
    let Some(tls) = &mut c.tls else { return };
    let at = path.key("tls");
    check_verify(issues, tls, &at, label);
    if let Some(ca) = tls.ca_file.as_mut().filter(|_| tls.verify) {
        let ca_at = at.key("ca_file");
        if let Some(p) = resolve(issues, ca, &ca_at, label, base) {
            if let Err(e) = files::read_roots(&p) {
                issues.at(&ca_at, format!("{label}{e}"));
            }
        }
    }
    match (tls.roots, tls.ca_file.is_some(), tls.verify) {
        (Roots::Native, true, _) => issues.at(
            &at.key("roots"),
            format!("{label}roots = \"native\" and ca_file both name the trust anchors; keep one"),
        ),
        (Roots::Native, false, false) => issues.at(
            &at.key("roots"),
            format!("{label}roots is unused with verify = false"),
        ),
        (Roots::Native, false, true) => {
            if let Err(e) = crate::tls::client::native_roots() {
                issues.at(&at.key("roots"), format!("{label}roots = \"native\": {e}"));
            }
        }
        (Roots::Webpki, ..) => {}
    }
    match &tls.sni {
        Some(name) => {
            if rustls::pki_types::ServerName::try_from(name.as_str()).is_err() {
                issues.at(
                    &at.key("sni"),
                    format!("{label}tls.sni {name:?} is not a DNS name or an IP address"),
                );
            }
        }
        None => {
            for (j, ep) in endpoints.iter().enumerate() {
                // A malformed endpoint is reported by the endpoint checks.
                let Ok(hp) = parse_host_port(ep) else {
                    continue;
                };
                if rustls::pki_types::ServerName::try_from(hp.host).is_err() {
                    issues.at(
                        &path.key("endpoints").index(j),
                        format!(
                            "{label}endpoint {ep:?}: its host is not a name TLS can verify; set \
                             tls.sni to the name its certificate is for"
                        ),
                    );
                }
            }
        }
    }
    if let Some(alpn) = &tls.alpn {
        let alpn_at = at.key("alpn");
        if protocol != Protocol::Http1 {
            issues.at(
                &alpn_at,
                format!(
                    "{label}alpn follows protocol = \"{}\" (it offers {:?}); remove alpn",
                    protocol.as_str(),
                    protocol.alpn()
                ),
            );
        } else if let Some(k) = alpn.iter().position(|id| id == ALPN_H2) {
            issues.at(
                &alpn_at.index(k),
                format!(
                    "{label}alpn \"h2\" with protocol = \"http1\": the endpoint could choose \
                     HTTP/2 and get HTTP/1.1; set protocol = \"auto\" (or \"h2\") instead of alpn"
                ),
            );
        } else {
            check_alpn(issues, alpn, &alpn_at, label);
        }
    }
}

/// Verification is on unless both `verify = false` and `insecure_skip_verify = true`
/// say otherwise.
fn check_verify(issues: &mut Issues, tls: &ClusterTls, at: &KeyPath, label: &str) {
    match (tls.verify, tls.insecure_skip_verify) {
        (false, false) => issues.at(
            &at.key("verify"),
            format!(
                "{label}verify = false needs insecure_skip_verify = true as well: the endpoints' \
                 certificates would not be checked, so anyone on the path could answer for them"
            ),
        ),
        (true, true) => issues.at(
            &at.key("insecure_skip_verify"),
            format!(
                "{label}insecure_skip_verify = true only goes with verify = false; set both to \
                 turn verification off, or remove it"
            ),
        ),
        (false, true) if tls.ca_file.is_some() => issues.at(
            &at.key("ca_file"),
            format!("{label}ca_file is unused with verify = false"),
        ),
        _ => {}
    }
}

fn check_alpn(issues: &mut Issues, alpn: &[String], at: &KeyPath, label: &str) {
    for (k, id) in alpn.iter().enumerate() {
        let here = at.index(k);
        if id != ALPN_HTTP11 && id != ALPN_H2 {
            issues.at(
                &here,
                format!(
                    "{label}alpn {id:?} is not a protocol Tollgate speaks; use \"h2\" or \
                     \"http/1.1\""
                ),
            );
        } else if alpn[..k].contains(id) {
            issues.at(&here, format!("{label}alpn {id:?} is listed twice"));
        }
    }
}

/// Checks a file path and makes it absolute (relative to `base`, the config file's
/// directory). `None` when it is unusable (reported).
fn resolve(
    issues: &mut Issues,
    path: &mut String,
    at: &KeyPath,
    label: &str,
    base: &Path,
) -> Option<PathBuf> {
    if path.is_empty() {
        issues.at(at, format!("{label}the file name is empty"));
        return None;
    }
    if path.chars().any(char::is_control) {
        issues.at(
            at,
            format!("{label}the file name holds a control character"),
        );
        return None;
    }
    let full = base.join(&*path);
    if let Some(s) = full.to_str() {
        *path = s.to_owned();
    }
    Some(full)
}
