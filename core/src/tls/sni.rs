//! Which certificate a TLS client gets, by the name it sent (SNI): an exact name first,
//! then a wildcard (`*.example.com` covers `a.example.com`, one label deep, not
//! `example.com` nor `b.a.example.com`, as RFC 6125 §6.4.3 has it), else the default
//! (the listener's first certificate), which also serves clients that send no name.
//!
//! The names come from the certificates' subjectAltName DNS entries; when two
//! certificates claim a name, the first in the config keeps it. Pure: no I/O.

use std::collections::HashMap;

/// Names to certificate indexes.
#[derive(Debug, Clone, Default)]
pub struct SniTable {
    exact: HashMap<String, usize>,
    /// Keyed by what follows `*.`.
    wildcard: HashMap<String, usize>,
}

impl SniTable {
    /// `certs[i]` are certificate `i`'s DNS names, as written in it.
    pub fn new<'a>(certs: impl IntoIterator<Item = &'a [String]>) -> SniTable {
        let mut t = SniTable::default();
        for (i, names) in certs.into_iter().enumerate() {
            for name in names {
                let name = normalise(name);
                match name.strip_prefix("*.") {
                    Some(parent) if !parent.is_empty() => {
                        t.wildcard.entry(parent.to_owned()).or_insert(i);
                    }
                    _ => {
                        t.exact.entry(name).or_insert(i);
                    }
                }
            }
        }
        t
    }

    /// The certificate for `sni` (`None`: the client sent no name): 0 when no name
    /// matches.
    pub fn lookup(&self, sni: Option<&str>) -> usize {
        let Some(sni) = sni else { return 0 };
        let name = normalise(sni);
        if let Some(&i) = self.exact.get(&name) {
            return i;
        }
        match name.split_once('.') {
            Some((label, parent)) if !label.is_empty() => {
                self.wildcard.get(parent).copied().unwrap_or(0)
            }
            _ => 0,
        }
    }
}

/// Lower case, without a trailing dot: how names compare (RFC 4343).
fn normalise(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> SniTable {
        let certs: Vec<Vec<String>> = vec![
            vec!["default.test".into()],
            vec!["api.example.com".into(), "API2.example.com".into()],
            vec!["*.example.com".into()],
            vec!["*.eu.example.com".into(), "api.example.com".into()],
        ];
        SniTable::new(certs.iter().map(Vec::as_slice))
    }

    #[test]
    fn exact_wildcard_and_default() {
        let t = table();
        for (sni, want) in [
            (Some("api.example.com"), 1),
            (Some("API.Example.COM."), 1),
            (Some("api2.example.com"), 1),
            (Some("www.example.com"), 2),
            (Some("x.eu.example.com"), 3),
            // One label deep only: *.example.com does not cover a.b.example.com...
            (Some("a.b.example.com"), 0),
            // ...nor example.com itself.
            (Some("example.com"), 0),
            (Some("default.test"), 0),
            (Some("unknown.test"), 0),
            (None, 0),
            (Some(""), 0),
            (Some(".example.com"), 0),
        ] {
            assert_eq!(t.lookup(sni), want, "{sni:?}");
        }
    }

    #[test]
    fn the_first_certificate_keeps_a_name_two_claim() {
        // api.example.com is in certificates 1 and 3: 1 wins.
        assert_eq!(table().lookup(Some("api.example.com")), 1);
    }
}
