//! The DNS names a certificate is for (its subjectAltName `dNSName` entries), read from
//! its DER with a minimal reader: just enough of X.509 (RFC 5280 §4.1, §4.2.1.6) to walk
//! to the extensions. Certificates come from the operator's files, not from peers, but
//! the reader still never panics and never trusts a length.

/// `id-ce-subjectAltName`, 2.5.29.17, as DER content.
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
/// `[3] EXPLICIT` in a TBSCertificate: the extensions.
const EXTENSIONS: u8 = 0xa3;
/// `[2] IMPLICIT IA5String` in GeneralName: a dNSName.
const DNS_NAME: u8 = 0x82;

/// The subjectAltName DNS names of a DER certificate; `None` when it cannot be parsed.
/// A certificate without the extension has none.
pub fn dns_names(der: &[u8]) -> Option<Vec<String>> {
    let (tag, cert, _) = tlv(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, mut tbs, _) = tlv(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut names = Vec::new();
    while !tbs.is_empty() {
        let (tag, value, rest) = tlv(tbs)?;
        tbs = rest;
        if tag != EXTENSIONS {
            continue;
        }
        let (tag, mut exts, _) = tlv(value)?;
        if tag != SEQUENCE {
            return None;
        }
        while !exts.is_empty() {
            let (tag, ext, rest) = tlv(exts)?;
            exts = rest;
            if tag != SEQUENCE {
                return None;
            }
            let (tag, oid, mut ext) = tlv(ext)?;
            if tag != OID || oid != SAN_OID {
                continue;
            }
            let (mut tag, mut value, rest) = tlv(ext)?;
            if tag == BOOLEAN {
                ext = rest;
                (tag, value, _) = tlv(ext)?;
            }
            if tag != OCTET_STRING {
                return None;
            }
            let (tag, mut general, _) = tlv(value)?;
            if tag != SEQUENCE {
                return None;
            }
            while !general.is_empty() {
                let (tag, name, rest) = tlv(general)?;
                general = rest;
                if tag == DNS_NAME {
                    names.push(std::str::from_utf8(name).ok()?.to_owned());
                }
            }
        }
    }
    Some(names)
}

/// One DER tag-length-value: the tag, the value and what follows it. Single-byte tags
/// only (all X.509 needs up to the extensions); definite lengths up to 4 bytes.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    Some((tag, value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(names: &[&str]) -> Vec<u8> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        rcgen::generate_simple_self_signed(names)
            .unwrap()
            .cert
            .der()
            .to_vec()
    }

    #[test]
    fn reads_the_dns_names_and_skips_ip_addresses() {
        let der = cert(&["a.example.com", "*.b.example.com", "127.0.0.1"]);
        assert_eq!(
            dns_names(&der).unwrap(),
            vec!["a.example.com".to_string(), "*.b.example.com".to_string()]
        );
    }

    #[test]
    fn a_certificate_without_the_extension_has_no_names() {
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "no-san.test");
        let key = rcgen::KeyPair::generate().unwrap();
        let der = p.self_signed(&key).unwrap().der().to_vec();
        assert_eq!(dns_names(&der).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn garbage_and_truncation_are_none_not_a_panic() {
        let der = cert(&["a.example.com"]);
        for cut in [0, 1, 2, 10, der.len() / 2, der.len() - 1] {
            assert_eq!(dns_names(&der[..cut]), None, "cut at {cut}");
        }
        assert_eq!(dns_names(b"-----BEGIN CERTIFICATE-----"), None);
        assert_eq!(dns_names(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }
}
