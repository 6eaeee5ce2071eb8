//! The header fields this module gives meaning to, and one pass over a head's fields
//! that gathers what framing and connection handling need (RFC 9112 §6, RFC 9110 §7.6.1).
//!
//! The pass allocates nothing: repeated fields (Transfer-Encoding, Connection) are folded
//! into counters and flags as they are met.

use super::syntax::{list_elements, parse_decimal};
use super::{ConnectionInfo, H1Error, HeaderSpan, Span, Version};

/// A field name the gateway acts on, recognised ASCII case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldName {
    ContentLength,
    TransferEncoding,
    Host,
    Connection,
    KeepAlive,
    ProxyConnection,
    Te,
    Trailer,
    Upgrade,
    ProxyAuthenticate,
    ProxyAuthorization,
    Expect,
    XForwardedFor,
    XForwardedProto,
    Via,
    Other,
}

impl FieldName {
    /// Classifies `name`: lower-cased into a stack buffer, then one `match` that the
    /// compiler turns into a length switch and a compare. This runs for every field of
    /// every head, twice when the head is forwarded.
    pub(crate) fn classify(name: &[u8]) -> FieldName {
        use FieldName::*;
        const LONGEST: usize = b"proxy-authorization".len();
        // Most fields are none of these: reject them on length and first letter before
        // lower-casing anything. (`| 0x20` lower-cases a letter; for any other byte a
        // false match only costs the full compare below.)
        let first = name.first().map_or(0, |b| b | 0x20);
        let candidate = matches!(
            (name.len(), first),
            (2, b't')
                | (3, b'v')
                | (4, b'h')
                | (6, b'e')
                | (7, b'u' | b't')
                | (10, b'c' | b'k')
                | (14, b'c')
                | (15, b'x')
                | (16, b'p')
                | (17, b't' | b'x')
                | (18 | 19, b'p')
        );
        if !candidate {
            return Other;
        }
        let mut lower = [0u8; LONGEST];
        for (l, &b) in lower.iter_mut().zip(name) {
            *l = b.to_ascii_lowercase();
        }
        match &lower[..name.len()] {
            b"te" => Te,
            b"via" => Via,
            b"host" => Host,
            b"expect" => Expect,
            b"upgrade" => Upgrade,
            b"trailer" => Trailer,
            b"connection" => Connection,
            b"keep-alive" => KeepAlive,
            b"content-length" => ContentLength,
            b"x-forwarded-for" => XForwardedFor,
            b"proxy-connection" => ProxyConnection,
            b"transfer-encoding" => TransferEncoding,
            b"x-forwarded-proto" => XForwardedProto,
            b"proxy-authenticate" => ProxyAuthenticate,
            b"proxy-authorization" => ProxyAuthorization,
            _ => Other,
        }
    }

    /// Hop-by-hop by definition (RFC 9110 §7.6.1 and the legacy names every proxy drops),
    /// whatever `Connection` says.
    pub(crate) fn is_hop_by_hop(self) -> bool {
        use FieldName::*;
        matches!(
            self,
            Connection
                | KeepAlive
                | ProxyConnection
                | Te
                | Trailer
                | Upgrade
                | ProxyAuthenticate
                | ProxyAuthorization
        )
    }

    /// Fields that a `Connection` option must never remove: dropping the framing fields
    /// or Host on a peer's say-so would let it change how the next hop frames the
    /// message (`Connection: content-length` is a known smuggling trick).
    pub(crate) fn is_protected(self) -> bool {
        matches!(
            self,
            FieldName::ContentLength | FieldName::TransferEncoding | FieldName::Host
        )
    }
}

/// What one pass over a head's fields found.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FieldFacts {
    pub content_length: Option<u64>,
    /// At least one Transfer-Encoding field (its list is valid and ends in chunked).
    pub chunked: bool,
    pub host: Option<Span>,
    pub conn: ConnectionInfo,
}

/// Walks the fields once and applies the framing rules common to requests and responses.
/// Host rules are the caller's (they differ by message kind); the Host count is returned.
pub(crate) fn analyse(
    buf: &[u8],
    headers: &[HeaderSpan],
    version: Version,
) -> Result<(FieldFacts, usize), H1Error> {
    let mut facts = FieldFacts::default();
    let mut cl_count = 0usize;
    let mut cl_value: Option<u64> = None;
    let mut host_count = 0usize;
    // Transfer-Encoding fields are one list (RFC 9110 §5.3): count codings, and remember
    // whether the last one seen so far is chunked.
    let mut te_present = false;
    let mut te_codings = 0usize;
    let mut te_last_chunked = false;
    let (mut close, mut keep_alive_token, mut upgrade_token) = (false, false, false);
    let mut upgrade_field = false;

    for h in headers {
        let kind = FieldName::classify(h.name.of(buf));
        let value = h.value.of(buf);
        if kind.is_hop_by_hop() {
            facts.conn.has_hop_by_hop = true;
        }
        match kind {
            FieldName::ContentLength => {
                cl_count += 1;
                cl_value = parse_decimal(value);
            }
            FieldName::TransferEncoding => {
                te_present = true;
                for coding in list_elements(value) {
                    te_codings += 1;
                    te_last_chunked = coding.eq_ignore_ascii_case(b"chunked");
                }
            }
            FieldName::Host => {
                host_count += 1;
                facts.host = Some(h.value);
            }
            FieldName::Connection => {
                for option in list_elements(value) {
                    if option.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if option.eq_ignore_ascii_case(b"keep-alive") {
                        keep_alive_token = true;
                    } else if option.eq_ignore_ascii_case(b"upgrade") {
                        upgrade_token = true;
                    }
                }
            }
            FieldName::Upgrade => upgrade_field = true,
            FieldName::Expect => {
                facts.conn.expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
            }
            _ => {}
        }
    }

    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
    if te_present && version == Version::Http10 {
        return Err(H1Error::TransferEncodingInHttp10);
    }
    // RFC 9112 §6.3 rule 3: a message with both is a smuggling attempt until shown
    // otherwise; a proxy must not forward it.
    if te_present && cl_count > 0 {
        return Err(H1Error::ContentLengthWithTransferEncoding);
    }
    if cl_count > 0 {
        // Repeated fields are refused even when their values agree: two parsers may
        // disagree on which one counts.
        match cl_value {
            Some(n) if cl_count == 1 => facts.content_length = Some(n),
            _ => return Err(H1Error::InvalidContentLength),
        }
    }
    if te_present {
        if !te_last_chunked {
            return Err(H1Error::TransferEncodingNotChunked);
        }
        // Chunked is last; anything before it (another coding, or chunked twice) is a
        // coding the gateway does not implement.
        if te_codings != 1 {
            return Err(H1Error::UnsupportedTransferCoding);
        }
        facts.chunked = true;
    }

    facts.conn.keep_alive = !close && (version == Version::Http11 || keep_alive_token);
    facts.conn.upgrade = upgrade_token && upgrade_field;
    // RFC 9110 §10.1.1: a 100-continue expectation in HTTP/1.0 is ignored.
    facts.conn.expect_continue &= version == Version::Http11;
    Ok((facts, host_count))
}
