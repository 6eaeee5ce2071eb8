//! Target URLs and the loopback-only rule.
//!
//! `tollgate-load` may only send traffic to this machine: every address a target host
//! resolves to must be in 127.0.0.0/8 or be ::1 (an IPv4-mapped loopback counts). This is a
//! hard rule of the workplace, checked before any socket is opened.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// A parsed `http[s]://host[:port]/path?query` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host as written (used for the Host header).
    pub host: String,
    /// Port (80, or 443 for https, when absent).
    pub port: u16,
    /// `https://`: TLS.
    pub tls: bool,
    /// Path and query, at least `/`.
    pub path: String,
    /// The resolved loopback address to connect to.
    pub addr: SocketAddr,
}

impl Target {
    /// The scheme's default port.
    pub fn default_port(&self) -> u16 {
        if self.tls {
            443
        } else {
            80
        }
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// The Host header value.
    pub fn authority(&self) -> String {
        if self.port == self.default_port() {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z.
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Parses `url` and resolves its host, refusing anything that is not loopback.
pub fn parse_target(url: &str) -> Result<Target, String> {
    let (rest, tls) = if let Some(r) = url.strip_prefix("http://") {
        (r, false)
    } else if let Some(r) = url.strip_prefix("https://") {
        (r, true)
    } else {
        return Err(format!(
            "target `{url}` must start with http:// or https://"
        ));
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    if authority.contains('@') {
        return Err("user info in the target URL is not supported".into());
    }
    let (host, port) = split_host_port(authority, if tls { 443 } else { 80 })?;
    if host.is_empty() {
        return Err(format!("target `{url}` has no host"));
    }
    let lookup_host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = (lookup_host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("`{host}` resolved to no address"));
    }
    if let Some(bad) = addrs.iter().find(|a| !is_loopback(a.ip())) {
        return Err(format!(
            "refusing target `{host}`: it resolves to {}, which is not loopback; tollgate-load \
             only sends traffic to 127.0.0.0/8 or ::1",
            bad.ip()
        ));
    }
    Ok(Target {
        host: host.to_string(),
        port,
        tls,
        path,
        addr: addrs[0],
    })
}

fn split_host_port(authority: &str, default: u16) -> Result<(&str, u16), String> {
    let bad_port = |p: &str| format!("bad port `{p}`");
    if authority.starts_with('[') {
        let end = authority.find(']').ok_or("unclosed [ in host")?;
        let host = &authority[..=end];
        return match authority[end + 1..].strip_prefix(':') {
            Some(p) => Ok((host, p.parse().map_err(|_| bad_port(p))?)),
            None if end + 1 == authority.len() => Ok((host, default)),
            None => Err(format!("bad authority `{authority}`")),
        };
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Ok((h, p.parse().map_err(|_| bad_port(p))?)),
        None => Ok((authority, default)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback() {
        let t = parse_target("http://127.0.0.1:8080/a?b=1").unwrap();
        assert_eq!((t.port, t.path.as_str()), (8080, "/a?b=1"));
        assert_eq!(t.authority(), "127.0.0.1:8080");
        let t = parse_target("http://[::1]:9").unwrap();
        assert_eq!(t.path, "/");
        assert!(parse_target("http://localhost:1/").is_ok());
        assert_eq!(parse_target("http://127.0.0.2?x").unwrap().path, "/?x");
        let t = parse_target("https://localhost/v1").unwrap();
        assert!(t.tls);
        assert_eq!(
            (t.port, t.authority(), t.scheme()),
            (443, "localhost".into(), "https")
        );
        assert_eq!(
            parse_target("https://[::1]:80/").unwrap().authority(),
            "[::1]:80"
        );
    }

    #[test]
    fn refuses_others() {
        for url in [
            "http://10.0.0.1/",
            "http://8.8.8.8:80/",
            "http://[2001:db8::1]/",
            "ftp://x",
            "https://10.0.0.1/",
            "http://:80/",
            "http://127.0.0.1:x/",
        ] {
            assert!(parse_target(url).is_err(), "{url}");
        }
        assert!(parse_target("http://1.1.1.1/")
            .unwrap_err()
            .contains("not loopback"));
    }

    #[test]
    fn mapped_loopback() {
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback("::ffff:10.0.0.1".parse().unwrap()));
    }
}
