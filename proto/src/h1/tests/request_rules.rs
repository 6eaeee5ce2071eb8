//! One row per rule of RFC 9112 (and RFC 9110 where it frames a request): the bytes,
//! what the parser must say, and the status the gateway answers with.

use super::super::{BodyFraming, H1Error};
use super::parse_request;

use BodyFraming::{Chunked, Length, None as NoBody};
use H1Error::*;

enum Want {
    Ok(BodyFraming),
    Err(H1Error, u16),
}
use Want::{Err as Fail, Ok as Pass};

/// `(rule, request head, expectation)`.
const RULES: &[(&str, &[u8], Want)] = &[
    // Framing, RFC 9112 §6.
    ("no body fields: no body", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", Pass(NoBody)),
    ("content-length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", Pass(Length(5))),
    ("content-length leading zeros", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n", Pass(Length(7))),
    ("content-length u64::MAX", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n", Pass(Length(u64::MAX))),
    ("chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", Pass(Chunked)),
    ("chunked, any case", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n", Pass(Chunked)),
    ("CL then TE", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", Fail(ContentLengthWithTransferEncoding, 400)),
    ("TE then CL", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", Fail(ContentLengthWithTransferEncoding, 400)),
    ("two CL, same value", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", Fail(InvalidContentLength, 400)),
    ("two CL, different values", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", Fail(InvalidContentLength, 400)),
    ("CL list", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", Fail(InvalidContentLength, 400)),
    ("CL non-digit", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5a\r\n\r\n", Fail(InvalidContentLength, 400)),
    ("CL hex", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", Fail(InvalidContentLength, 400)),
    ("CL plus sign", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", Fail(InvalidContentLength, 400)),
    ("CL minus sign", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", Fail(InvalidContentLength, 400)),
    ("CL empty", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", Fail(InvalidContentLength, 400)),
    ("CL whitespace inside", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", Fail(InvalidContentLength, 400)),
    ("CL overflow", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", Fail(InvalidContentLength, 400)),
    ("TE final coding not chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", Fail(TransferEncodingNotChunked, 400)),
    ("TE chunked, identity", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", Fail(TransferEncodingNotChunked, 400)),
    ("TE empty", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", Fail(TransferEncodingNotChunked, 400)),
    ("TE chunked with a parameter", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", Fail(TransferEncodingNotChunked, 400)),
    ("TE xchunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", Fail(TransferEncodingNotChunked, 400)),
    ("TE gzip, chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", Fail(UnsupportedTransferCoding, 501)),
    ("TE chunked twice", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", Fail(UnsupportedTransferCoding, 501)),
    ("two TE fields form one list", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", Fail(UnsupportedTransferCoding, 501)),
    ("two TE fields, chunked first", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", Fail(TransferEncodingNotChunked, 400)),
    ("TE list with empty elements", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked,\r\n\r\n", Pass(Chunked)),
    ("TE in HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Fail(TransferEncodingInHttp10, 400)),
    // Syntax, RFC 9112 §2-§5.
    ("bare CR in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", Fail(BareCr, 400)),
    ("bare CR ending a line", b"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", Fail(BareCr, 400)),
    ("bare CR in the request line", b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", Fail(BareCr, 400)),
    ("bare CR before the request", b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", Fail(BareCr, 400)),
    ("bare CR in the body is not the head's", b"GET / HTTP/1.1\r\nHost: a\r\nX y: 1\r\n\r\n\r\rbody", Fail(InvalidHeaderName, 400)),
    ("space before the colon", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", Fail(InvalidHeaderName, 400)),
    ("tab before the colon", b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", Fail(InvalidHeaderName, 400)),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", Fail(ObsFold, 400)),
    ("obs-fold hides chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", Fail(ObsFold, 400)),
    ("space before the first field", b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", Fail(ObsFold, 400)),
    ("name with a non-tchar", b"GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n", Fail(InvalidHeaderName, 400)),
    ("name with obs-text", b"GET / HTTP/1.1\r\nHost: a\r\nX\xe9: b\r\n\r\n", Fail(InvalidHeaderName, 400)),
    ("empty name", b"GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", Fail(InvalidHeaderName, 400)),
    ("line without colon", b"GET / HTTP/1.1\r\nHost: a\r\nXb\r\n\r\n", Fail(InvalidHeaderName, 400)),
    ("NUL in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", Fail(InvalidHeaderValue, 400)),
    ("control in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", Fail(InvalidHeaderValue, 400)),
    ("DEL in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", Fail(InvalidHeaderValue, 400)),
    ("HTAB and obs-text in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\xe9\r\n\r\n", Pass(NoBody)),
    ("control in the target", b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", Fail(InvalidTarget, 400)),
    ("DEL in the target", b"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", Fail(InvalidTarget, 400)),
    ("non-ASCII target", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", Fail(InvalidTarget, 400)),
    ("two spaces before the target", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", Fail(InvalidTarget, 400)),
    ("no version (HTTP/0.9 style)", b"GET /\r\nHost: a\r\n\r\n", Fail(Malformed, 400)),
    ("invalid method", b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", Fail(InvalidMethod, 400)),
    ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", Fail(UnsupportedVersion, 505)),
    ("HTTP/1.2", b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", Fail(UnsupportedVersion, 505)),
    ("not a version", b"GET / FOO\r\nHost: a\r\n\r\n", Fail(Malformed, 400)),
    ("lower-case version", b"GET / http/1.1\r\nHost: a\r\n\r\n", Fail(Malformed, 400)),
    ("HTTP/1.0 without Host", b"GET / HTTP/1.0\r\n\r\n", Pass(NoBody)),
    ("HTTP/1.1 without Host", b"GET / HTTP/1.1\r\n\r\n", Fail(MissingOrDuplicateHost, 400)),
    ("two Host fields", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", Fail(MissingOrDuplicateHost, 400)),
    ("two Host fields in HTTP/1.0", b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", Fail(MissingOrDuplicateHost, 400)),
    // Line ends, RFC 9112 §2.2.
    ("empty lines before the request", b"\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", Pass(NoBody)),
    ("LF-only line ends", b"GET / HTTP/1.1\nHost: a\nContent-Length: 3\n\n", Pass(Length(3))),
    ("mixed line ends", b"GET / HTTP/1.1\nHost: a\r\n\n", Pass(NoBody)),
];

#[test]
fn each_request_rule() {
    for (rule, input, want) in RULES {
        let got = parse_request(input);
        match (want, got) {
            (Pass(framing), Ok(Some((head, rest)))) => {
                assert_eq!(head.framing, *framing, "{rule}");
                assert!(rest.is_empty(), "{rule}: left {rest:?}");
            }
            (Fail(err, status), Err(e)) => {
                assert_eq!(e, *err, "{rule}");
                assert_eq!(e.request_status(), *status, "{rule}");
            }
            (_, got) => panic!("{rule}: got {:?}", got.map(|o| o.map(|(h, _)| h.framing))),
        }
    }
}

/// Every rule must also hold when the head arrives in two reads.
#[test]
fn each_request_rule_split_in_two() {
    for (rule, input, want) in RULES {
        for cut in 1..input.len() {
            let mut buf = bytes::BytesMut::from(&input[..cut]);
            let mut head = super::RequestHead::default();
            let limits = super::HeadLimits::default();
            let first = head.parse(&mut buf, &limits);
            let got = match first {
                Ok(super::Status::Partial) => {
                    buf.extend_from_slice(&input[cut..]);
                    head.parse(&mut buf, &limits).map(|s| (s, head.framing))
                }
                Ok(super::Status::Complete(())) => Ok((super::Status::Complete(()), head.framing)),
                Err(e) => Err(e),
            };
            match (want, got) {
                (Pass(framing), Ok((super::Status::Complete(()), f))) => {
                    assert_eq!(f, *framing, "{rule} @{cut}")
                }
                (Fail(err, _), Err(e)) => assert_eq!(e, *err, "{rule} @{cut}"),
                (_, got) => panic!("{rule} @{cut}: got {got:?}"),
            }
        }
    }
}
