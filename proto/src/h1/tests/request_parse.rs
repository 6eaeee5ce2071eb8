//! Request parsing beyond the rule table: spans, connection semantics, reads split at
//! every byte, pipelining, limits and the reuse of a head across requests.

use bytes::BytesMut;

use super::super::{BodyFraming, H1Error, HeadLimits, Method, RequestHead, Status, Version};
use super::{parse_request, parse_request_with};

const SAMPLE: &[u8] = b"POST /v1/chat?stream=1 HTTP/1.1\r\nHost: api.example.com\r\n\
User-Agent: curl/8.0\r\nAccept: */*\r\nConnection: keep-alive, X-Secret\r\n\
X-Secret: 1\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n";

#[test]
fn spans_point_at_the_original_bytes() {
    let (head, rest) = parse_request(SAMPLE).unwrap().unwrap();
    assert!(rest.is_empty());
    assert_eq!(&head.buf[..], SAMPLE);
    assert_eq!(head.method, Method::Post);
    assert_eq!(head.method_bytes(), b"POST");
    assert_eq!(head.target_bytes(), b"/v1/chat?stream=1");
    assert_eq!(head.path(), b"/v1/chat");
    assert_eq!(head.version, Version::Http11);
    assert_eq!(
        head.request_line.of(&head.buf),
        b"POST /v1/chat?stream=1 HTTP/1.1\r\n"
    );
    assert_eq!(head.host_bytes(), Some(&b"api.example.com"[..]));
    assert_eq!(head.header("user-agent"), Some(&b"curl/8.0"[..]));
    assert_eq!(head.headers.len(), 7);
    assert_eq!(
        head.headers[1].line.of(&head.buf),
        b"User-Agent: curl/8.0\r\n"
    );
    // Lines tile the field section with no gap.
    for pair in head.headers.windows(2) {
        assert_eq!(pair[0].line.end, pair[1].line.start);
    }
    assert_eq!(head.headers[6].line.end as usize, SAMPLE.len() - 2);
    assert_eq!(head.framing, BodyFraming::Length(4));
    assert!(head.conn.keep_alive && head.conn.expect_continue && head.conn.has_hop_by_hop);
    assert!(!head.conn.upgrade);
}

#[test]
fn values_are_trimmed_and_may_be_empty() {
    let (head, _) =
        parse_request(b"GET / HTTP/1.1\r\nHost:  a \t\r\nX-Empty:\r\nX-Blank:   \r\n\r\n")
            .unwrap()
            .unwrap();
    assert_eq!(head.host_bytes(), Some(&b"a"[..]));
    assert_eq!(head.header("x-empty"), Some(&b""[..]));
    assert_eq!(head.header("x-blank"), Some(&b""[..]));
    assert_eq!(head.headers[1].line.of(&head.buf), b"X-Empty:\r\n");
}

#[test]
fn connection_semantics() {
    let cases: &[(&[u8], bool, bool, bool, bool)] = &[
        // (head, keep_alive, upgrade, expect_continue, has_hop_by_hop)
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            true,
            false,
            false,
            false,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            false,
            false,
            false,
            true,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n",
            false,
            false,
            false,
            true,
        ),
        (b"GET / HTTP/1.0\r\n\r\n", false, false, false, false),
        (
            b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
            true,
            false,
            false,
            true,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            true,
            true,
            false,
            true,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n",
            true,
            false,
            false,
            true,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
            true,
            false,
            false,
            true,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
            true,
            false,
            true,
            false,
        ),
        (
            b"POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
            false,
            false,
            false,
            false,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n",
            true,
            false,
            false,
            true,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nProxy-Authorization: x\r\n\r\n",
            true,
            false,
            false,
            true,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nKeep-Alive: 5\r\n\r\n",
            true,
            false,
            false,
            true,
        ),
    ];
    for (input, keep_alive, upgrade, expect, hop) in cases {
        let (head, _) = parse_request(input).unwrap().unwrap();
        let c = head.conn;
        let got = (c.keep_alive, c.upgrade, c.expect_continue, c.has_hop_by_hop);
        assert_eq!(
            got,
            (*keep_alive, *upgrade, *expect, *hop),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

/// Every split point of a request gives the same head, and nothing before the last
/// byte completes it.
#[test]
fn every_split_point_gives_the_same_head() {
    let input = [SAMPLE, b"body"].concat();
    let (whole, _) = parse_request(&input).unwrap().unwrap();
    for cut in 0..=input.len() {
        let mut buf = BytesMut::from(&input[..cut]);
        let mut head = RequestHead::default();
        let limits = HeadLimits::default();
        let status = head.parse(&mut buf, &limits).unwrap();
        if cut < SAMPLE.len() {
            assert_eq!(status, Status::Partial, "cut {cut}");
            assert_eq!(buf.len(), cut, "partial parse must not consume");
            buf.extend_from_slice(&input[cut..]);
            assert_eq!(head.parse(&mut buf, &limits).unwrap(), Status::Complete(()));
        } else {
            assert_eq!(status, Status::Complete(()), "cut {cut}");
            buf.extend_from_slice(&input[cut..]);
        }
        assert_eq!(&buf[..], b"body");
        assert_eq!(head.buf, whole.buf);
        assert_eq!(head.headers, whole.headers);
        assert_eq!(
            (head.framing, head.conn, head.host),
            (whole.framing, whole.conn, whole.host)
        );
    }
}

#[test]
fn pipelined_requests_parse_one_after_another() {
    let mut buf = BytesMut::from(
        &b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi\
GET /3 HTTP/1.1\r\nHost: a\r\n\r\nGET /4 HT"[..],
    );
    let mut head = RequestHead::default();
    let limits = HeadLimits::default();
    assert_eq!(head.parse(&mut buf, &limits), Ok(Status::Complete(())));
    assert_eq!(head.target_bytes(), b"/1");
    assert_eq!(head.parse(&mut buf, &limits), Ok(Status::Complete(())));
    assert_eq!(head.target_bytes(), b"/2");
    assert_eq!(head.framing, BodyFraming::Length(2));
    assert_eq!(&buf.split_to(2)[..], b"hi");
    assert_eq!(head.parse(&mut buf, &limits), Ok(Status::Complete(())));
    assert_eq!(head.target_bytes(), b"/3");
    assert_eq!(head.parse(&mut buf, &limits), Ok(Status::Partial));
    assert_eq!(&buf[..], b"GET /4 HT");
}

#[test]
fn request_line_limit_is_414() {
    let limits = HeadLimits {
        max_request_line: 32,
        ..HeadLimits::default()
    };
    let line_of = |target_len: usize| {
        let mut v = b"GET /".to_vec();
        v.resize(5 + target_len - 1, b'a');
        v.extend_from_slice(b" HTTP/1.1");
        v
    };
    // Exactly at the limit: accepted.
    let at_limit = line_of(32 - 13);
    assert_eq!(at_limit.len(), 32);
    let full = [&at_limit[..], b"\r\nHost: a\r\n\r\n"].concat();
    assert!(parse_request_with(&full, &limits).unwrap().is_some());
    // One byte over, complete: refused.
    let over = [&line_of(32 - 12)[..], b"\r\nHost: a\r\n\r\n"].concat();
    assert_eq!(
        parse_request_with(&over, &limits).unwrap_err(),
        H1Error::RequestLineTooLong
    );
    // Over the limit and still no LF: refused without waiting for the rest.
    assert_eq!(
        parse_request_with(&over[..34], &limits).unwrap_err(),
        H1Error::RequestLineTooLong
    );
    // The limit plus a CR still waiting for its LF: not yet known.
    assert!(parse_request_with(&full[..33], &limits).unwrap().is_none());
    assert_eq!(H1Error::RequestLineTooLong.request_status(), 414);
}

#[test]
fn head_size_and_field_count_limits_are_431() {
    let limits = HeadLimits {
        max_head_bytes: 64,
        max_headers: 3,
        ..HeadLimits::default()
    };
    let ok = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    assert!(parse_request_with(ok, &limits).unwrap().is_some());
    let four = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_eq!(
        parse_request_with(four, &limits).unwrap_err(),
        H1Error::TooManyHeaders
    );
    let long = b"GET / HTTP/1.1\r\nHost: a\r\nA: 0123456789012345678901234567890123456789\r\n\r\n";
    assert_eq!(
        parse_request_with(long, &limits).unwrap_err(),
        H1Error::HeadTooLarge
    );
    assert_eq!(
        parse_request_with(&long[..65], &limits).unwrap_err(),
        H1Error::HeadTooLarge
    );
    assert!(parse_request_with(&long[..64], &limits).unwrap().is_none());
    // Endless empty lines before a request count against the head size too.
    assert_eq!(
        parse_request_with(&[b'\n'; 65], &limits).unwrap_err(),
        H1Error::HeadTooLarge
    );
    for e in [H1Error::HeadTooLarge, H1Error::TooManyHeaders] {
        assert_eq!(e.request_status(), 431);
    }
    // More fields than the parser's stack table can hold.
    let limits = HeadLimits {
        max_headers: 10_000,
        max_head_bytes: 1 << 20,
        ..HeadLimits::default()
    };
    let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for _ in 0..HeadLimits::MAX_HEADERS_CAP {
        many.extend_from_slice(b"A: 1\r\n");
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(
        parse_request_with(&many, &limits).unwrap_err(),
        H1Error::TooManyHeaders
    );
}

/// After the first request the header table is reused: no allocation for later ones.
#[test]
fn reused_head_keeps_its_table() {
    let mut head = RequestHead::default();
    let limits = HeadLimits::default();
    let mut buf = BytesMut::with_capacity(4096);
    for i in 0..50 {
        buf.extend_from_slice(SAMPLE);
        buf.extend_from_slice(b"body");
        assert_eq!(head.parse(&mut buf, &limits), Ok(Status::Complete(())));
        let _ = buf.split_to(4);
        let capacity = head.headers.capacity();
        if i > 0 {
            assert_eq!(capacity, 32, "header table reallocated");
        }
    }
}
