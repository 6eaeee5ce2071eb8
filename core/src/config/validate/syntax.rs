//! The small grammars config values must follow: `host:port`, DNS names, HTTP tokens and
//! field values (RFC 9110 §5), host patterns, paths, CORS origins (Fetch), regex
//! replacement references. Pure functions; each returns a message that completes the
//! sentence "`value` ..." or names what is wrong, ready to be prefixed with where.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A parsed `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort<'a> {
    pub host: &'a str,
    pub port: u16,
    /// Set when the host is an IP literal.
    pub ip: Option<IpAddr>,
}

/// Parses `host:port`, `1.2.3.4:port` or `[v6]:port`; the host may be a DNS name.
pub fn parse_host_port(s: &str) -> Result<HostPort<'_>, String> {
    const EXAMPLE: &str = "expected host:port, e.g. \"127.0.0.1:8080\"";
    if s.is_empty() {
        return Err(format!("is empty; {EXAMPLE}"));
    }
    if let Some(i) = s.find("://") {
        return Err(format!(
            "{s:?} has a scheme ({}://); write only host:port",
            &s[..i]
        ));
    }
    if s.contains('/') {
        return Err(format!("{s:?} has a path; write only host:port"));
    }
    let (host, port, ip) = if let Some(rest) = s.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(format!("{s:?}: missing ']' after the IPv6 address"));
        };
        let Some(port) = after.strip_prefix(':') else {
            return Err(format!("{s:?} has no port; {EXAMPLE}"));
        };
        let ip: Ipv6Addr = host
            .parse()
            .map_err(|_| format!("{s:?}: {host:?} is not an IPv6 address"))?;
        (host, port, Some(IpAddr::V6(ip)))
    } else {
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(format!("{s:?} has no port; {EXAMPLE}"));
        };
        if host.contains(':') {
            return Err(format!(
                "{s:?}: put an IPv6 address in brackets, e.g. \"[::1]:8080\""
            ));
        }
        if host.is_empty() {
            return Err(format!(
                "{s:?} has no host; {EXAMPLE} (\"0.0.0.0:PORT\" for every address)"
            ));
        }
        let ip = match host.parse::<Ipv4Addr>() {
            Ok(ip) => Some(IpAddr::V4(ip)),
            Err(_) => {
                check_dns_name(host).map_err(|e| format!("{s:?}: {e}"))?;
                None
            }
        };
        (host, port, ip)
    };
    let port = parse_port(port).map_err(|e| format!("{s:?}: {e}"))?;
    Ok(HostPort { host, port, ip })
}

fn parse_port(port: &str) -> Result<u16, String> {
    let valid = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    match port.parse::<u32>() {
        Ok(n @ 1..=65535) if valid => Ok(n as u16),
        _ => Err(format!("port {port:?} is not a number from 1 to 65535")),
    }
}

/// A DNS host name (RFC 1123 labels; `_` tolerated, as container names use it).
pub fn check_dns_name(host: &str) -> Result<(), String> {
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() {
        return Err("the host name is empty".into());
    }
    if name.len() > 253 {
        return Err(format!("host name {host:?} is longer than 253 characters"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!("host name {host:?} has an empty label (\"..\")"));
        }
        if label.len() > 63 {
            return Err(format!(
                "host name {host:?} has a label longer than 63 characters"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(format!(
                "host name {host:?} contains {c:?}; use letters, digits, '-' and '.'"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "host name {host:?} has a label that starts or ends with '-'"
            ));
        }
    }
    // "300.1.1.1" or "1.2.3" are typos of addresses, not names: the last label of a DNS
    // name is never all digits.
    if name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("{host:?} is not a valid IPv4 address"));
    }
    Ok(())
}

/// A `tchar` of RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Checks an RFC 9110 token (a method, a header field name); `what` names it in the error.
pub fn check_token(s: &str, what: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("{what} is empty"));
    }
    match s.bytes().find(|&b| !is_tchar(b)) {
        None => Ok(()),
        Some(b) => Err(format!(
            "{what} {s:?} contains {}; only letters, digits and !#$%&'*+-.^_`|~ are allowed",
            describe_byte(b)
        )),
    }
}

/// A header field value: no control characters other than HTAB. CR and LF would let a
/// config value inject a header or a whole request; NUL is refused by every parser.
pub fn check_field_value(v: &str) -> Result<(), String> {
    match v.bytes().position(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        None => Ok(()),
        Some(i) => Err(format!(
            "header value {v:?} contains {} at byte {i}; header values cannot hold control characters",
            describe_byte(v.as_bytes()[i])
        )),
    }
}

fn describe_byte(b: u8) -> String {
    match b {
        b'\r' => "a carriage return (CR)".into(),
        b'\n' => "a line feed (LF)".into(),
        0 => "a NUL byte".into(),
        b' ' => "a space".into(),
        0x21..=0x7e => format!("{:?}", b as char),
        _ => format!("the byte 0x{b:02x}"),
    }
}

/// Headers the proxy manages itself: framing (`Content-Length`, `Transfer-Encoding`) and
/// hop-by-hop connection management (RFC 9110 §7.6.1). A config that sets or removes them
/// could make the gateway and the upstream frame a message differently (smuggling), so
/// header transforms and direct responses may not touch them.
pub fn is_managed_header(name: &str) -> bool {
    const MANAGED: [&str; 8] = [
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    ];
    MANAGED.iter().any(|m| m.eq_ignore_ascii_case(name))
}

/// A route's host pattern: an exact host, `*.suffix`, `*` (any host, as leaving it out),
/// or a bracketed IPv6 literal; no port.
pub fn check_host_pattern(pattern: &str) -> Result<(), String> {
    if pattern == "*" {
        return Ok(());
    }
    if let Some(v6) = pattern.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
        return v6
            .parse::<Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| format!("{pattern:?} is not a bracketed IPv6 address"));
    }
    let name = pattern.strip_prefix("*.").unwrap_or(pattern);
    if name.contains('*') {
        return Err(format!(
            "{pattern:?}: '*' may only stand for whole leading labels, as in \"*.example.com\""
        ));
    }
    if name.contains(':') {
        return Err(format!(
            "{pattern:?}: a host pattern has no port; hosts are matched without it"
        ));
    }
    if name.parse::<Ipv4Addr>().is_ok() {
        return Ok(());
    }
    check_dns_name(name)
}

/// A request path to match or rewrite to: starts with `/`, no whitespace, controls,
/// query or fragment (routes match the path without the query string).
pub fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("{path:?} must start with '/'"));
    }
    if let Some(b) = path.bytes().find(|&b| b <= b' ' || b == 0x7f) {
        return Err(format!(
            "{path:?} contains {}; percent-encode it",
            describe_byte(b)
        ));
    }
    if path.contains('?') || path.contains('#') {
        return Err(format!(
            "{path:?} contains '?' or '#'; routes match the path without the query string"
        ));
    }
    Ok(())
}

/// Text spliced into a request-target by a rewrite: no whitespace, controls, `?` or `#`
/// (the query string is kept as it came, and a fragment is never sent).
pub fn check_target_chars(text: &str) -> Result<(), String> {
    if let Some(b) = text.bytes().find(|&b| b <= b' ' || b == 0x7f) {
        return Err(format!(
            "{text:?} contains {}; percent-encode it",
            describe_byte(b)
        ));
    }
    if text.contains('?') || text.contains('#') {
        return Err(format!(
            "{text:?} contains '?' or '#'; a rewrite changes the path and keeps the query as it came"
        ));
    }
    Ok(())
}

/// A CORS origin as browsers send it (Fetch §3.2.1 serialisation): `"*"`, `"null"`, or
/// `scheme://host[:port]` with no path. The CORS filter compares origins case-insensitively
/// and drops one trailing `/`, so those are accepted here too.
pub fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "*" || origin == "null" {
        return Ok(());
    }
    let shape = "an origin is \"*\" or scheme://host[:port], e.g. \"https://app.example.com\"";
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err(format!("{origin:?}: {shape}"));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return Err(format!(
            "{origin:?}: {scheme:?} is not a URL scheme; {shape}"
        ));
    }
    if rest.contains('/') {
        return Err(format!(
            "{origin:?}: an origin has no path; browsers send {:?}",
            format!("{scheme}://{}", rest.split('/').next().unwrap_or(""))
        ));
    }
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => {
            let Some((addr, after)) = v6.split_once(']') else {
                return Err(format!("{origin:?}: missing ']' after the IPv6 address"));
            };
            if addr.parse::<Ipv6Addr>().is_err() {
                return Err(format!("{origin:?}: {addr:?} is not an IPv6 address"));
            }
            match after {
                "" => return Ok(()),
                _ => ("", after.strip_prefix(':')),
            }
        }
        None => match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        },
    };
    if let Some(port) = port {
        parse_port(port).map_err(|e| format!("{origin:?}: {e}"))?;
    } else if host.is_empty() {
        return Err(format!(
            "{origin:?}: bad port after the IPv6 address; {shape}"
        ));
    }
    if host.is_empty() || host.parse::<Ipv4Addr>().is_ok() {
        return Ok(());
    }
    check_dns_name(host).map_err(|e| format!("{origin:?}: {e}"))
}

/// Checks that every `$ref` in a regex replacement names a group of the regex. The regex
/// crate reads `$1abc` as the group named `1abc` and silently substitutes nothing for a
/// group that does not exist; this catches both.
pub fn check_replacement(regex: &regex::Regex, replacement: &str) -> Result<(), String> {
    let bytes = replacement.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let rest = &replacement[i + 1..];
        let (name, used) = if rest.starts_with('$') {
            i += 2;
            continue;
        } else if let Some(braced) = rest.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => {
                    return Err(format!(
                        "replacement {replacement:?} has a '${{' without '}}'"
                    ))
                }
            }
        } else {
            let len = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            (&rest[..len], len)
        };
        if name.is_empty() {
            return Err(format!(
                "replacement {replacement:?} has a lone '$'; write \"$$\" for a literal dollar"
            ));
        }
        let exists = match name.parse::<usize>() {
            Ok(n) => n < regex.captures_len(),
            Err(_) => regex.capture_names().flatten().any(|g| g == name),
        };
        if !exists {
            let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
            let hint = if !digits.is_empty() && digits.len() < name.len() {
                let rest = &name[digits.len()..];
                format!("; \"${name}\" reads as one group name: write \"${{{digits}}}{rest}\" for group {digits} followed by {rest:?}")
            } else {
                String::new()
            };
            return Err(format!(
                "replacement {replacement:?} refers to group {name:?}, which the regex does not have (it has {} numbered group(s){}){hint}",
                regex.captures_len() - 1,
                named_groups(regex)
            ));
        }
        i += 1 + used;
    }
    Ok(())
}

fn named_groups(regex: &regex::Regex) -> String {
    let names: Vec<&str> = regex.capture_names().flatten().collect();
    if names.is_empty() {
        String::new()
    } else {
        format!(", named {}", names.join(", "))
    }
}

/// A regex compile error in one line: the regex crate's message is a multi-line snippet
/// with a caret; keep its last `error:` line.
pub fn regex_error(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => s
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or(s)
            .to_string(),
        regex::Error::CompiledTooBig(limit) => {
            format!("it compiles to more than {limit} bytes; simplify it")
        }
        other => other.to_string(),
    }
}

/// A name (route, cluster, listener) ends up in metrics labels and log lines: printable
/// text, no control characters.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.chars().any(char::is_control) {
        return Err(format!("name {name:?} contains a control character"));
    }
    if name.trim() != name {
        return Err(format!("name {name:?} starts or ends with whitespace"));
    }
    Ok(())
}

/// Human list of names for "defined ones are ..." hints.
pub fn list_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
