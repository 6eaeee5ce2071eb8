//! Request smuggling, end to end without sockets: a client byte stream goes through
//! the same steps the gateway takes (parse the head, frame the body, write the head
//! upstream, copy the body), and the bytes the upstream would receive are parsed
//! again. An attack passes only if the two sides count different requests; every case
//! here must either be refused or be seen identically on both sides.

use bytes::BytesMut;

use super::super::{
    write_request_head, BodyFraming, ChunkedScanner, H1Error, HeadEdits, HeadLimits,
    RequestForwarding, RequestHead, Status,
};

/// What the gateway sends upstream for `input`: one entry per forwarded request (head
/// and body as forwarded), and the error that stopped the stream, if any. A request
/// refused half-way through its body is not counted: the gateway closes instead.
fn proxy(input: &[u8]) -> (Vec<Vec<u8>>, Option<H1Error>) {
    let limits = HeadLimits::default();
    let mut buf = BytesMut::from(input);
    let mut head = RequestHead::default();
    let mut scanner = ChunkedScanner::new(4096, 4096);
    let mut sent = Vec::new();
    while !buf.is_empty() {
        match head.parse(&mut buf, &limits) {
            Ok(Status::Complete(())) => {}
            Ok(Status::Partial) => break,
            Err(e) => return (sent, Some(e)),
        }
        let mut msg = Vec::new();
        write_request_head(
            &head,
            &HeadEdits::default(),
            &RequestForwarding::default(),
            &mut msg,
        );
        match head.framing {
            BodyFraming::None => {}
            BodyFraming::Length(n) => {
                let n = usize::try_from(n).unwrap().min(buf.len());
                msg.extend_from_slice(&buf.split_to(n));
            }
            BodyFraming::Chunked => {
                scanner.reset();
                match scanner.scan(&buf) {
                    Ok(step) => msg.extend_from_slice(&buf.split_to(step.consumed)),
                    Err(e) => return (sent, Some(e)),
                }
            }
        }
        sent.push(msg);
    }
    (sent, None)
}

/// Asserts the upstream sees exactly the requests the gateway forwarded: the stream
/// re-parses into the same number of requests, and its heads use CRLF only.
fn assert_same_view(sent: &[Vec<u8>]) {
    let upstream: Vec<u8> = sent.concat();
    for msg in sent {
        let head_len = msg.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = &msg[..head_len];
        for (i, &b) in head.iter().enumerate() {
            assert!(
                b != b'\n' || head[i - 1] == b'\r',
                "bare LF written upstream"
            );
        }
    }
    let (again, err) = proxy(&upstream);
    assert_eq!(err, None);
    assert_eq!(
        again, sent,
        "the upstream would frame the stream differently"
    );
}

#[test]
fn attacks_are_refused_before_anything_is_forwarded() {
    let cases: &[(&str, &[u8], H1Error)] = &[
        ("CL.TE", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", H1Error::ContentLengthWithTransferEncoding),
        ("TE.CL", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", H1Error::ContentLengthWithTransferEncoding),
        ("TE.TE space before colon", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding : chunked\r\n\r\n5c\r\nGPOST", H1Error::InvalidHeaderName),
        ("TE.TE obs-fold", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", H1Error::ObsFold),
        ("TE.TE xchunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", H1Error::TransferEncodingNotChunked),
        ("TE.TE chunked, identity", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", H1Error::TransferEncodingNotChunked),
        ("TE.TE second field", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n", H1Error::TransferEncodingNotChunked),
        ("CL.CL", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n", H1Error::InvalidContentLength),
        ("bare CR hides TE", b"POST / HTTP/1.1\r\nHost: a\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", H1Error::BareCr),
        ("TE in HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", H1Error::TransferEncodingInHttp10),
    ];
    for (name, input, want) in cases {
        let (sent, err) = proxy(input);
        assert_eq!(err, Some(*want), "{name}");
        assert!(sent.is_empty(), "{name}: forwarded {sent:?}");
    }
}

#[test]
fn bad_chunked_bodies_stop_the_stream() {
    let head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let bodies: &[(&[u8], H1Error)] = &[
        (b"0x10\r\n", H1Error::InvalidChunkSize),
        (b"-1\r\n", H1Error::InvalidChunkSize),
        (b"1_0\r\n", H1Error::InvalidChunkSize),
        (b"10000000000000001\r\n", H1Error::InvalidChunkSize),
        (
            b"5\r\nhelloGET / HTTP/1.1\r\n",
            H1Error::InvalidChunkTerminator,
        ),
        (b"5\nhello\n0\n\n", H1Error::InvalidChunkSize),
        (b"5\r\nhello\n0\r\n\r\n", H1Error::InvalidChunkTerminator),
    ];
    for (body, want) in bodies {
        let input = [
            &head[..],
            body,
            b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
        ]
        .concat();
        let (sent, err) = proxy(&input);
        assert_eq!(err, Some(*want), "{}", String::from_utf8_lossy(body));
        assert!(sent.is_empty());
    }
}

#[test]
fn accepted_streams_frame_the_same_upstream() {
    let streams: &[(&str, &[u8], usize)] = &[
        (
            "pipelined mix",
            b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n\
POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=\"v\"\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n\
GET /4 HTTP/1.1\r\nHost: a\r\n\r\n",
            4,
        ),
        (
            // A client may not strip framing with a Connection option: the
            // Content-Length is forwarded, so the "inner request" stays body.
            "Connection: content-length",
            b"POST / HTTP/1.1\r\nHost: a\r\nConnection: content-length\r\nContent-Length: 32\r\n\r\n\
GET /admin HTTP/1.1\r\nHost: a\r\n\r\n",
            1,
        ),
        (
            // LF-only lines are accepted (RFC 9112 §2.2) and written upstream as CRLF,
            // so an upstream that does not accept bare LF still sees the same fields.
            "LF line ends",
            b"POST / HTTP/1.1\nHost: a\nX: a\nTransfer-Encoding: chunked\n\n3\r\nabc\r\n0\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
            2,
        ),
        (
            "empty lines between requests",
            b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
            2,
        ),
    ];
    for (name, input, count) in streams {
        let (sent, err) = proxy(input);
        assert_eq!(err, None, "{name}");
        assert_eq!(sent.len(), *count, "{name}");
        assert_same_view(&sent);
    }
}
