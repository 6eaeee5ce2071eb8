//! PII detectors: where in a text an e-mail address, phone number, payment card number,
//! IBAN, IP address or a custom pattern sits.
//!
//! Each built-in detector is a regular expression that finds candidates, then a check
//! that a candidate is what it looks like, so that ordinary numbers stay as they are:
//! - card: 13 to 19 digits (single spaces or dashes between them, the same separator
//!   throughout, a first group of 4), a first digit from 2 to 6 (Visa, Mastercard,
//!   Amex, Discover, JCB, UnionPay...) and the Luhn checksum;
//! - IBAN: two capital letters, two check digits, then the country's length (a table of
//!   the registry's lengths; any length from 15 to 34 for a country not in it), spaces
//!   allowed between characters, and the ISO 7064 mod-97 check;
//! - IPv4: four dotted decimal parts of 0..=255 without leading zeros, not part of a
//!   longer dotted run (`1.2.3.4.5` is a version, not an address); IPv6: what
//!   `std::net::Ipv6Addr` parses, with a digit and two groups at least, not glued to a
//!   word (`std::vec` and `a::b` are not addresses);
//! - phone: `+` and 8 to 15 digits with separators; a North American `(555) 123-4567`
//!   or `555-123-4567` (separators required); a national number with a trunk `0`
//!   (`020 7946 0958`, `01 23 45 67 89`), 9 to 12 digits with at least one separator.
//!   A bare run of digits is not a phone number: too many order numbers look like one.
//! - e-mail: `local@domain.tld` with ASCII letters, digits and `._%+-`.
//!
//! A number that runs on into more digits (a digit or word character next to it, or a
//! separator and then a digit) is not taken: it is part of something longer. Matches
//! never overlap; where two detectors claim the same text, custom patterns win, then
//! e-mail, IBAN, card, IP and phone, in that order.
//!
//! Input is bounded by the request body limit; the regex crate runs in linear time.

use std::net::{Ipv4Addr, Ipv6Addr};

use regex::Regex;

use super::config::CustomPattern;

/// A match: byte offsets into the text, and the detector's index in `redact`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub detector: usize,
}

#[derive(Debug)]
enum Kind {
    Custom(Regex),
    Email(Regex),
    Iban(Regex),
    Card(Regex),
    Ip {
        v4: Regex,
        v6: Regex,
    },
    Phone {
        intl: Regex,
        nanp: Regex,
        national: Regex,
    },
}

impl Kind {
    /// Order of precedence when two detectors claim the same text.
    fn rank(&self) -> u8 {
        match self {
            Kind::Custom(_) => 0,
            Kind::Email(_) => 1,
            Kind::Iban(_) => 2,
            Kind::Card(_) => 3,
            Kind::Ip { .. } => 4,
            Kind::Phone { .. } => 5,
        }
    }

    fn each(&self, text: &str, f: &mut dyn FnMut(usize, usize)) {
        let t = text.as_bytes();
        match self {
            Kind::Custom(re) => {
                for m in re.find_iter(text).filter(|m| !m.is_empty()) {
                    f(m.start(), m.end());
                }
            }
            Kind::Email(re) => {
                for m in re.find_iter(text) {
                    let start = m.start() + m.as_str().bytes().take_while(|b| *b == b'.').count();
                    let glued = t.get(m.end()).is_some_and(|b| is_word(*b) || *b == b'-');
                    if !glued && t.get(start) != Some(&b'@') {
                        f(start, m.end());
                    }
                }
            }
            Kind::Iban(re) => {
                for m in re.find_iter(text) {
                    if let Some(end) = iban_end(t, m.start(), m.end()) {
                        f(m.start(), end);
                    }
                }
            }
            Kind::Card(re) => {
                for m in re.find_iter(text) {
                    if is_card(m.as_str()) && !runs_on(t, m.start(), m.end()) {
                        f(m.start(), m.end());
                    }
                }
            }
            Kind::Ip { v4, v6 } => {
                // IPv6 first: `::ffff:192.0.2.1` is one address, not an IPv4 one.
                for m in v6.find_iter(text) {
                    if let Some(end) = ipv6_end(t, m.start(), m.end()) {
                        f(m.start(), end);
                    }
                }
                for m in v4.find_iter(text) {
                    if is_ipv4(t, m.start(), m.end()) {
                        f(m.start(), m.end());
                    }
                }
            }
            Kind::Phone {
                intl,
                nanp,
                national,
            } => {
                for (re, digits) in [(intl, 8..=15), (nanp, 10..=11), (national, 9..=12)] {
                    for m in re.find_iter(text) {
                        // The regex is greedy over separators and digits (`+1 555 123
                        // 4567 - 2024`): the longest prefix that ends a digit group
                        // and checks out is the number.
                        let ends = (m.start() + 1..=m.end()).rev().filter(|&e| {
                            t[e - 1].is_ascii_digit()
                                && t.get(e).is_none_or(|b| !b.is_ascii_digit())
                        });
                        let phone = ends.map(|e| (m.start(), e)).find(|&(s, e)| {
                            let n = t[s..e].iter().filter(|b| b.is_ascii_digit()).count();
                            digits.contains(&n) && separators_ok(&text[s..e]) && !runs_on(t, s, e)
                        });
                        if let Some((s, e)) = phone {
                            f(s, e);
                        }
                    }
                }
            }
        }
    }
}

/// The detectors a guard redacts with, compiled once per config generation and core.
#[derive(Debug, Default)]
pub struct Detectors {
    /// (index in `redact`, detector), in order of precedence.
    list: Vec<(usize, Kind)>,
}

impl Detectors {
    /// Compiles the detectors `redact` names (built-in names, or `custom` names).
    pub fn compile(redact: &[String], custom: &[CustomPattern]) -> Result<Detectors, String> {
        let re = |p: &str| Regex::new(p).map_err(|e| e.to_string());
        let mut list = Vec::with_capacity(redact.len());
        for (i, name) in redact.iter().enumerate() {
            let kind = match name.as_str() {
                "email" => Kind::Email(re(EMAIL)?),
                "iban" => Kind::Iban(re(IBAN)?),
                "card" => Kind::Card(re(CARD)?),
                "ip" => Kind::Ip {
                    v4: re(IPV4)?,
                    v6: re(IPV6)?,
                },
                "phone" => Kind::Phone {
                    intl: re(PHONE_INTL)?,
                    nanp: re(PHONE_NANP)?,
                    national: re(PHONE_NATIONAL)?,
                },
                other => match custom.iter().find(|c| c.name == other) {
                    Some(c) => Kind::Custom(
                        Regex::new(&c.pattern)
                            .map_err(|e| format!("custom pattern {other:?}: {e}"))?,
                    ),
                    None => return Err(format!("redact names {other:?}, which is neither a built-in detector nor a custom pattern")),
                },
            };
            list.push((i, kind));
        }
        list.sort_by_key(|(i, k)| (k.rank(), *i));
        Ok(Detectors { list })
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every match in `text`, sorted by start, none overlapping, into `out` (cleared).
    pub fn find(&self, text: &str, out: &mut Vec<Found>) {
        out.clear();
        for (detector, kind) in &self.list {
            kind.each(text, &mut |start, end| {
                // `out` is kept sorted; a match overlapping one already taken loses.
                let at = out.partition_point(|f| f.start < start);
                let clear_before = at == 0 || out[at - 1].end <= start;
                let clear_after = out.get(at).is_none_or(|f| f.start >= end);
                if clear_before && clear_after {
                    out.insert(
                        at,
                        Found {
                            start,
                            end,
                            detector: *detector,
                        },
                    );
                }
            });
        }
    }
}

const EMAIL: &str = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}";
const IBAN: &str = r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}";
const CARD: &str = r"[0-9](?:[ \-]?[0-9]){12,18}";
const IPV4: &str = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}";
const IPV6: &str = r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}";
const PHONE_INTL: &str = r"\+[0-9][0-9 ().\-]{5,22}[0-9]";
const PHONE_NANP: &str =
    r"(?:1[ .\-]?)?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ .\-])[0-9]{3}[ .\-][0-9]{4}";
const PHONE_NATIONAL: &str =
    r"(?:\(0[0-9]{1,4}\) ?|0[0-9]{1,4}[ /.\-])[0-9]{2,8}(?:[ .\-][0-9]{2,4}){0,3}";

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The number at `start..end` of `t` is part of something longer: a word character or
/// `+` right before it, a word character right after it, or a separator and then a
/// digit on either side (`:` after it too: a time).
fn runs_on(t: &[u8], start: usize, end: usize) -> bool {
    let digit_at = |i: Option<usize>| i.and_then(|i| t.get(i)).is_some_and(u8::is_ascii_digit);
    if let Some(&b) = start.checked_sub(1).and_then(|i| t.get(i)) {
        if is_word(b) || b == b'+' {
            return true;
        }
        if matches!(b, b' ' | b'.' | b'-' | b'/') && digit_at(start.checked_sub(2)) {
            return true;
        }
    }
    if let Some(&a) = t.get(end) {
        if is_word(a) {
            return true;
        }
        if matches!(a, b' ' | b'.' | b'-' | b'/' | b':') && digit_at(Some(end + 1)) {
            return true;
        }
    }
    false
}

/// Separators between a phone number's digits: single characters, or a parenthesis
/// next to a space or dash; parentheses paired, at most one pair.
fn separators_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let opens = b.iter().filter(|c| **c == b'(').count();
    let closes = b.iter().filter(|c| **c == b')').count();
    if opens != closes || opens > 1 {
        return false;
    }
    if let (Some(o), Some(c)) = (
        b.iter().position(|c| *c == b'('),
        b.iter().position(|c| *c == b')'),
    ) {
        if o > c {
            return false;
        }
    }
    b.split(|c| c.is_ascii_digit() || *c == b'+').all(|sep| {
        sep.len() <= 1 || (sep.len() == 2 && sep.iter().any(|c| matches!(c, b'(' | b')')))
    })
}

fn is_card(s: &str) -> bool {
    let digits: Vec<u8> = s
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|d| d - b'0')
        .collect();
    if !(13..=19).contains(&digits.len()) || !(2..=6).contains(&digits[0]) {
        return false;
    }
    let mut seps = s.bytes().filter(|b| !b.is_ascii_digit());
    if let Some(first) = seps.next() {
        if seps.any(|b| b != first) || s.bytes().position(|b| b == first) != Some(4) {
            return false;
        }
    }
    luhn(&digits)
}

/// The Luhn checksum of decimal digits (0..=9 each).
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// IBAN lengths by country (the SWIFT IBAN registry).
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"SA", 24),
    (b"SC", 31),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

/// Where the IBAN that a candidate at `start..end` begins with ends, if it is one.
fn iban_end(t: &[u8], start: usize, end: usize) -> Option<usize> {
    if start > 0 && is_word(t[start - 1]) {
        return None;
    }
    // The characters without spaces, each with the offset just past it.
    let mut chars: Vec<(u8, usize)> = Vec::with_capacity(34);
    for (i, &b) in t[start..end].iter().enumerate() {
        if b != b' ' {
            chars.push((b, start + i + 1));
        }
    }
    let fits = |len: usize| -> Option<usize> {
        let (_, stop) = *chars.get(len - 1)?;
        let glued = t.get(stop).is_some_and(|b| is_word(*b));
        let code: Vec<u8> = chars[..len].iter().map(|(c, _)| *c).collect();
        (!glued && mod97(&code)).then_some(stop)
    };
    match IBAN_LENGTHS
        .iter()
        .find(|(cc, _)| cc[..] == t[start..start + 2])
    {
        Some((_, len)) => fits(*len),
        None => (15..=chars.len().min(34)).rev().find_map(fits),
    }
}

/// ISO 7064 mod 97-10 over an IBAN (capital letters and digits): the first four
/// characters moved to the end, letters as 10..=35, the number mod 97 is 1.
pub(crate) fn mod97(iban: &[u8]) -> bool {
    if iban.len() < 5 {
        return false;
    }
    let mut r: u32 = 0;
    for &c in iban[4..].iter().chain(&iban[..4]) {
        r = match c {
            b'0'..=b'9' => (r * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (r * 100 + u32::from(c - b'A' + 10)) % 97,
            _ => return false,
        };
    }
    r == 1
}

fn is_ipv4(t: &[u8], start: usize, end: usize) -> bool {
    let dotted_before = start >= 2 && t[start - 1] == b'.' && t[start - 2].is_ascii_digit();
    let dotted_after = t.get(end) == Some(&b'.') && t.get(end + 1).is_some_and(u8::is_ascii_digit);
    let glued = (start > 0 && is_word(t[start - 1])) || t.get(end).is_some_and(|b| is_word(*b));
    !dotted_before
        && !dotted_after
        && !glued
        && std::str::from_utf8(&t[start..end]).is_ok_and(|s| s.parse::<Ipv4Addr>().is_ok())
}

/// Where the IPv6 address a candidate at `start..end` holds ends, if it is one.
fn ipv6_end(t: &[u8], start: usize, end: usize) -> Option<usize> {
    if start > 0 && (is_word(t[start - 1]) || matches!(t[start - 1], b':' | b'.')) {
        return None;
    }
    // A sentence may end right after an address with `:`; `::` is the address's own.
    let end = if t[..end].ends_with(b":") && !t[..end].ends_with(b"::") {
        end - 1
    } else {
        end
    };
    let s = std::str::from_utf8(&t[start..end]).ok()?;
    let glued = match t.get(end) {
        Some(b) if is_word(*b) => true,
        Some(b':') => t.get(end + 1).is_some_and(u8::is_ascii_hexdigit),
        Some(b'.') => t.get(end + 1).is_some_and(|b| is_word(*b)),
        _ => false,
    };
    let groups = s.split([':', '.']).filter(|g| !g.is_empty()).count();
    let has_digit = s.bytes().any(|b| b.is_ascii_digit());
    (!glued && groups >= 2 && has_digit && s.parse::<Ipv6Addr>().is_ok()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// The texts the detectors `list` find in `text`, with the detector's name.
    fn found(list: &[&str], custom: &[CustomPattern], text: &str) -> Vec<(String, String)> {
        let d = Detectors::compile(&names(list), custom).expect("compiles");
        let mut out = Vec::new();
        d.find(text, &mut out);
        out.iter()
            .map(|f| {
                (
                    list[f.detector].to_string(),
                    text[f.start..f.end].to_string(),
                )
            })
            .collect()
    }

    fn one(kind: &str, text: &str) -> Vec<String> {
        found(&[kind], &[], text)
            .into_iter()
            .map(|(_, s)| s)
            .collect()
    }

    #[test]
    fn emails() {
        for (text, want) in [
            (
                "mail jane.doe+x@example.co.uk now",
                vec!["jane.doe+x@example.co.uk"],
            ),
            (
                "<a@b.io>, c_d@sub.example.org.",
                vec!["a@b.io", "c_d@sub.example.org"],
            ),
            ("..x@y.com", vec!["x@y.com"]),
        ] {
            assert_eq!(one("email", text), want, "{text}");
        }
        for miss in [
            "user@localhost",
            "@handle",
            "a@b",
            "x@y.c",
            "name@host.com2x",
            "me@ example.com",
        ] {
            assert!(one("email", miss).is_empty(), "{miss}");
        }
    }

    #[test]
    fn cards_need_luhn_and_a_card_prefix() {
        for (text, want) in [
            ("card 4111 1111 1111 1111 ok", "4111 1111 1111 1111"),
            ("5555555555554444", "5555555555554444"),
            ("amex 3782-822463-10005.", "3782-822463-10005"),
            ("(4012888888881881)", "4012888888881881"),
        ] {
            assert_eq!(one("card", text), [want], "{text}");
        }
        for miss in [
            "4111 1111 1111 1112",          // fails Luhn
            "4111111111111112",             // fails Luhn, no separators
            "1234567812345670",             // passes Luhn, no card starts with 1
            "4111-1111 1111-1111",          // mixed separators
            "41111 111 1111 1111",          // first group not 4
            "order 4111111111111111000000", // part of a longer run (22 digits)
            "4111111111111111.5",           // runs on into a decimal
            "9999 9999 9999 9995",
        ] {
            assert!(one("card", miss).is_empty(), "{miss}");
        }
    }

    #[test]
    fn ibans_need_mod97() {
        for (text, want) in [
            (
                "IBAN: DE89 3704 0044 0532 0130 00, thanks",
                "DE89 3704 0044 0532 0130 00",
            ),
            ("GB82WEST12345698765432", "GB82WEST12345698765432"),
            (
                "to FR14 2004 1010 0505 0001 3M02 606 please",
                "FR14 2004 1010 0505 0001 3M02 606",
            ),
            ("NL91ABNA0417164300 THANKS", "NL91ABNA0417164300"),
        ] {
            assert_eq!(one("iban", text), [want], "{text}");
        }
        for miss in [
            "DE89 3704 0044 0532 0130 01", // fails mod-97
            "GB82WEST12345698765433",
            "XDE89370400440532013000", // glued to a word
            "DE89370400440532013000X",
            "de89370400440532013000", // lowercase
        ] {
            assert!(one("iban", miss).is_empty(), "{miss}");
        }
        assert!(mod97(b"DE89370400440532013000"));
        assert!(!mod97(b"DE88370400440532013000"));
    }

    #[test]
    fn ip_addresses_not_versions() {
        for (text, want) in [
            (
                "from 192.168.1.20 and 10.0.0.1.",
                vec!["192.168.1.20", "10.0.0.1"],
            ),
            (
                "host 2001:db8::8a2e:370:7334 up",
                vec!["2001:db8::8a2e:370:7334"],
            ),
            (
                "link fe80::1, mapped ::ffff:192.0.2.1",
                vec!["fe80::1", "::ffff:192.0.2.1"],
            ),
            (
                "at 2001:0db8:85a3:0000:0000:8a2e:0370:7334: done",
                vec!["2001:0db8:85a3:0000:0000:8a2e:0370:7334"],
            ),
        ] {
            assert_eq!(one("ip", text), want, "{text}");
        }
        for miss in [
            "version 1.2.3.4.5",
            "v10.0.0.1",
            "256.1.1.1",
            "01.02.03.04",
            "std::vec::Vec and a::b",
            "at 12:30:45 or 00:1a:2b:3c:4d:5e",
            "::",
            "3.14159",
        ] {
            assert!(one("ip", miss).is_empty(), "{miss}: {:?}", one("ip", miss));
        }
    }

    #[test]
    fn phone_numbers_not_any_digits() {
        for (text, want) in [
            ("call +1 (555) 123-4567 today", "+1 (555) 123-4567"),
            ("+44 20 7946 0958", "+44 20 7946 0958"),
            ("+4915112345678.", "+4915112345678"),
            ("office (555) 123-4567", "(555) 123-4567"),
            ("cell: 555.123.4567", "555.123.4567"),
            ("uk 020 7946 0958", "020 7946 0958"),
            ("fr 01 23 45 67 89", "01 23 45 67 89"),
            ("+1 555 123 4567 - 2024", "+1 555 123 4567"),
        ] {
            assert_eq!(one("phone", text), [want], "{text}");
        }
        for miss in [
            "on 2024-01-15 at 10:30",
            "scores 10 20 30 40 50",
            "id 1234567890",
            "pi 3.14159265",
            "05-10-2023 14:30",
            "1.2.3.4.5",
            "4111 1111 1111 1112",
            "555-123-4567-89",
            "tel+1 555 123 4567x",
        ] {
            assert!(
                one("phone", miss).is_empty(),
                "{miss}: {:?}",
                one("phone", miss)
            );
        }
    }

    #[test]
    fn custom_patterns_and_precedence() {
        let custom = [CustomPattern {
            name: "ticket".into(),
            pattern: "TCK-[0-9]{6}".into(),
        }];
        let all = ["email", "phone", "card", "iban", "ip", "ticket"];
        let got = found(
            &all,
            &custom,
            "TCK-123456 from a@b.io at 10.0.0.1, card 4111111111111111, +1 555 123 4567",
        );
        let kinds: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["ticket", "email", "ip", "card", "phone"], "{got:?}");
        // An IP inside an e-mail's domain goes with the e-mail.
        assert_eq!(found(&all, &custom, "x@10.0.0.1.example.com").len(), 1);
        // A pattern that matches the empty string finds nothing there.
        let empty = [CustomPattern {
            name: "e".into(),
            pattern: "x*".into(),
        }];
        assert!(found(&["e"], &empty, "abc").is_empty());
    }

    #[test]
    fn unknown_names_do_not_compile() {
        assert!(Detectors::compile(&names(&["ssn"]), &[]).is_err());
        let bad = [CustomPattern {
            name: "b".into(),
            pattern: "(".into(),
        }];
        assert!(Detectors::compile(&names(&["b"]), &bad).is_err());
    }

    #[test]
    fn luhn_checksums() {
        assert!(luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
        assert!(!luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]));
    }
}
