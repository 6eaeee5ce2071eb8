//! One row per framing and syntax rule for responses from an upstream. Every refusal
//! becomes a 502 in the gateway, so the rows name only the error.

use super::super::{H1Error, Method, ResponseFraming};
use super::parse_response;

use H1Error::*;
use ResponseFraming::{Chunked, Length, None as NoBody, UntilClose};

/// `(rule, response head, the request's method, expectation)`.
#[allow(clippy::type_complexity)]
const RULES: &[(&str, &[u8], Method, Result<ResponseFraming, H1Error>)] = &[
    (
        "content-length",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        Method::Get,
        Ok(Length(5)),
    ),
    (
        "chunked",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        Method::Get,
        Ok(Chunked),
    ),
    (
        "neither: until close",
        b"HTTP/1.1 200 OK\r\n\r\n",
        Method::Get,
        Ok(UntilClose),
    ),
    (
        "HTTP/1.0 until close",
        b"HTTP/1.0 200 OK\r\n\r\n",
        Method::Get,
        Ok(UntilClose),
    ),
    (
        "1xx has no body",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        Method::Post,
        Ok(NoBody),
    ),
    (
        "101 has no body",
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        Method::Get,
        Ok(NoBody),
    ),
    (
        "204 has no body",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        Method::Get,
        Ok(NoBody),
    ),
    (
        "304 has no body",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
        Method::Get,
        Ok(NoBody),
    ),
    (
        "response to HEAD has no body",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
        Method::Head,
        Ok(NoBody),
    ),
    (
        "2xx to CONNECT has no body",
        b"HTTP/1.1 200 OK\r\n\r\n",
        Method::Connect,
        Ok(NoBody),
    ),
    (
        "4xx to CONNECT has one",
        b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\n",
        Method::Connect,
        Ok(Length(2)),
    ),
    (
        "no reason phrase",
        b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
        Method::Get,
        Ok(Length(0)),
    ),
    (
        "reason with obs-text",
        b"HTTP/1.1 200 \xc3\x9cberall\r\nContent-Length: 0\r\n\r\n",
        Method::Get,
        Ok(Length(0)),
    ),
    (
        "LF-only line ends",
        b"HTTP/1.1 200 OK\nContent-Length: 1\n\n",
        Method::Get,
        Ok(Length(1)),
    ),
    (
        "CL and TE",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        Method::Get,
        Err(ContentLengthWithTransferEncoding),
    ),
    (
        "CL and TE on a no-body status",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        Method::Get,
        Err(ContentLengthWithTransferEncoding),
    ),
    (
        "two CL",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
        Method::Get,
        Err(InvalidContentLength),
    ),
    (
        "CL list",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1,2\r\n\r\n",
        Method::Get,
        Err(InvalidContentLength),
    ),
    (
        "CL sign",
        b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
        Method::Get,
        Err(InvalidContentLength),
    ),
    (
        "TE not chunked",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        Method::Get,
        Err(TransferEncodingNotChunked),
    ),
    (
        "TE gzip, chunked",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        Method::Get,
        Err(UnsupportedTransferCoding),
    ),
    (
        "TE in HTTP/1.0",
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        Method::Get,
        Err(TransferEncodingInHttp10),
    ),
    (
        "obs-fold",
        b"HTTP/1.1 200 OK\r\nX: a\r\n\tb\r\n\r\n",
        Method::Get,
        Err(ObsFold),
    ),
    (
        "space before the colon",
        b"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",
        Method::Get,
        Err(InvalidHeaderName),
    ),
    (
        "bare CR",
        b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
        Method::Get,
        Err(BareCr),
    ),
    (
        "NUL in a value",
        b"HTTP/1.1 200 OK\r\nX: \0\r\n\r\n",
        Method::Get,
        Err(InvalidHeaderValue),
    ),
    (
        "two-digit status",
        b"HTTP/1.1 20 OK\r\n\r\n",
        Method::Get,
        Err(InvalidStatus),
    ),
    (
        "four-digit status",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        Method::Get,
        Err(InvalidStatus),
    ),
    (
        "status under 100",
        b"HTTP/1.1 099 OK\r\n\r\n",
        Method::Get,
        Err(InvalidStatus),
    ),
    (
        "letters in status",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        Method::Get,
        Err(InvalidStatus),
    ),
    (
        "HTTP/2.0",
        b"HTTP/2.0 200 OK\r\n\r\n",
        Method::Get,
        Err(UnsupportedVersion),
    ),
    (
        "not HTTP",
        b"ICY 200 OK\r\n\r\n",
        Method::Get,
        Err(Malformed),
    ),
    (
        "control in the reason",
        b"HTTP/1.1 200 O\x01K\r\n\r\n",
        Method::Get,
        Err(Malformed),
    ),
    (
        "empty line before the status line",
        b"\r\nHTTP/1.1 200 OK\r\n\r\n",
        Method::Get,
        Err(Malformed),
    ),
];

#[test]
fn each_response_rule() {
    for (rule, input, method, want) in RULES {
        let got = parse_response(input, *method).map(|o| o.map(|(h, _)| h.framing));
        match (want, got) {
            (Ok(framing), Ok(Some(f))) => assert_eq!(f, *framing, "{rule}"),
            (Err(err), Err(e)) => assert_eq!(e, *err, "{rule}"),
            (_, got) => panic!("{rule}: got {got:?}"),
        }
    }
}

#[test]
fn response_fields_and_connection() {
    let input = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nframes";
    let (head, rest) = parse_response(input, Method::Get).unwrap().unwrap();
    assert_eq!(head.status, 101);
    assert_eq!(head.reason.of(&head.buf), b"Switching Protocols");
    assert_eq!(
        head.status_line.of(&head.buf),
        b"HTTP/1.1 101 Switching Protocols\r\n"
    );
    assert!(head.conn.upgrade && head.conn.has_hop_by_hop);
    assert!(!head.is_interim());
    assert_eq!(&rest[..], b"frames");

    let (head, _) = parse_response(
        b"HTTP/1.1 200 \xc3\x9cber\r\nContent-Length: 0\r\n\r\n",
        Method::Get,
    )
    .unwrap()
    .unwrap();
    assert_eq!(head.reason.of(&head.buf), b"\xc3\x9cber");

    // Until-close bodies end the connection, whatever Connection says.
    let (head, _) = parse_response(b"HTTP/1.1 200 OK\r\n\r\n", Method::Get)
        .unwrap()
        .unwrap();
    assert!(!head.conn.keep_alive);
    let (head, _) = parse_response(
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
        Method::Get,
    )
    .unwrap()
    .unwrap();
    assert!(head.conn.keep_alive);
    let (head, _) = parse_response(b"HTTP/1.1 100 Continue\r\n\r\n", Method::Get)
        .unwrap()
        .unwrap();
    assert!(head.is_interim());
}

#[test]
fn response_partial_and_limits() {
    assert!(
        parse_response(b"HTTP/1.1 200 OK\r\nContent-Len", Method::Get)
            .unwrap()
            .is_none()
    );
    let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
    while big.len() < 40 * 1024 {
        big.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    assert_eq!(parse_response(&big, Method::Get).unwrap_err(), HeadTooLarge);
}
