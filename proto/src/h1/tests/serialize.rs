//! The serialisers: hop-by-hop removal (fixed names and names listed in Connection),
//! forwarding fields, edits, and the gateway's own responses.

use bytes::Bytes;

use super::super::{
    write_local_response_head, write_request_head, write_response_head, HeadEdits, Method,
    RequestForwarding, ResponseForwarding,
};
use super::{parse_request, parse_response};

fn request(input: &[u8], edits: &HeadEdits, fwd: &RequestForwarding<'_>) -> String {
    let (head, _) = parse_request(input).unwrap().unwrap();
    let mut out = Vec::new();
    write_request_head(&head, edits, fwd, &mut out);
    // What we write must parse again, with the same framing.
    let (again, rest) = parse_request(&out).unwrap().unwrap();
    assert!(rest.is_empty());
    assert_eq!(again.framing, head.framing);
    String::from_utf8(out).unwrap()
}

fn response(input: &[u8], edits: &HeadEdits, fwd: &ResponseForwarding<'_>) -> String {
    let (head, _) = parse_response(input, Method::Get).unwrap().unwrap();
    let mut out = Vec::new();
    write_response_head(&head, edits, fwd, &mut out);
    assert!(parse_response(&out, Method::Get).unwrap().is_some());
    String::from_utf8(out).unwrap()
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn plain_request_is_copied_verbatim() {
    let input = b"GET /a?b HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
    let out = request(input, &HeadEdits::default(), &RequestForwarding::default());
    assert_eq!(out.as_bytes(), input);
}

#[test]
fn hop_by_hop_fields_are_removed() {
    let input = b"POST / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive, X-Private, Content-Length, host\r\n\
Keep-Alive: 5\r\nProxy-Connection: x\r\nTE: trailers\r\nTrailer: X\r\nUpgrade: h2c\r\n\
Proxy-Authorization: secret\r\nProxy-Authenticate: y\r\nX-Private: 1\r\nContent-Length: 2\r\nAccept: */*\r\n\r\n";
    let out = request(input, &HeadEdits::default(), &RequestForwarding::default());
    // Connection cannot remove Content-Length or Host: that would reframe the body.
    assert_eq!(
        out,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nAccept: */*\r\n\r\n"
    );
}

#[test]
fn upgrade_is_kept_for_a_tunnel() {
    let input = b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n";
    let fwd = RequestForwarding {
        upgrade: true,
        ..RequestForwarding::default()
    };
    let out = request(input, &HeadEdits::default(), &fwd);
    assert_eq!(
        out,
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nConnection: upgrade\r\n\r\n"
    );
}

#[test]
fn forwarding_fields_are_combined_and_added() {
    let input = b"GET / HTTP/1.1\r\nHost: api.example:8080\r\nX-Forwarded-For: 1.1.1.1\r\nVia: 1.0 edge\r\n\
X-Forwarded-Proto: ftp\r\nX-Forwarded-For: 2.2.2.2\r\nAccept: */*\r\n\r\n";
    let fwd = RequestForwarding {
        client_ip: Some("::1"),
        x_forwarded_for: true,
        x_forwarded_proto: Some("https"),
        forwarded: true,
        via: Some("1.1 tollgate"),
        upgrade: false,
    };
    let out = request(input, &HeadEdits::default(), &fwd);
    assert_eq!(
        out,
        "GET / HTTP/1.1\r\nHost: api.example:8080\r\nAccept: */*\r\n\
X-Forwarded-For: 1.1.1.1, 2.2.2.2, ::1\r\nX-Forwarded-Proto: https\r\n\
Forwarded: for=\"[::1]\";proto=https;host=\"api.example:8080\"\r\nVia: 1.0 edge, 1.1 tollgate\r\n\r\n"
    );

    let fwd = RequestForwarding {
        client_ip: Some("10.0.0.1"),
        x_forwarded_for: true,
        forwarded: true,
        ..fwd
    };
    let out = request(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        &HeadEdits::default(),
        &fwd,
    );
    assert!(out.contains("X-Forwarded-For: 10.0.0.1\r\n"), "{out}");
    assert!(
        out.contains("Forwarded: for=10.0.0.1;proto=https;host=a\r\n"),
        "{out}"
    );
}

#[test]
fn edits_remove_set_append_and_target() {
    let input = b"GET /old HTTP/1.1\r\nHost: x\r\nX-Remove: 1\r\nX-Set: old\r\nX-Keep: 1\r\nx-set: old2\r\n\r\n";
    let edits = HeadEdits {
        remove: vec![b("x-remove")],
        set: vec![(b("X-Set"), b("new"))],
        append: vec![(b("X-Keep"), b("2")), (b("X-Bad"), b("a\r\nInjected: 1"))],
        target: Some(b("/new?q=1")),
    };
    let out = request(input, &edits, &RequestForwarding::default());
    assert_eq!(
        out,
        "GET /new?q=1 HTTP/1.1\r\nHost: x\r\nX-Keep: 1\r\nX-Set: new\r\nX-Keep: 2\r\n\r\n"
    );

    // An invalid target is ignored rather than written.
    let edits = HeadEdits {
        target: Some(b("/a b")),
        ..HeadEdits::default()
    };
    let out = request(input, &edits, &RequestForwarding::default());
    assert!(out.starts_with("GET /old HTTP/1.1\r\n"));
}

#[test]
fn chunked_framing_and_lf_lines_survive() {
    let input = b"POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\nAccept: */*\n\n";
    let out = request(input, &HeadEdits::default(), &RequestForwarding::default());
    assert_eq!(
        out,
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nAccept: */*\r\n\r\n"
    );
}

#[test]
fn response_head_rules() {
    let input = b"HTTP/1.1 200 Fine\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\n\
Content-Length: 5\r\nVia: 1.1 origin\r\nServer: s\r\n\r\n";
    let fwd = ResponseForwarding {
        via: Some("1.1 tollgate"),
        ..ResponseForwarding::default()
    };
    let out = response(input, &HeadEdits::default(), &fwd);
    assert_eq!(out, "HTTP/1.1 200 Fine\r\nContent-Length: 5\r\nServer: s\r\nVia: 1.1 origin, 1.1 tollgate\r\n\r\n");

    let fwd = ResponseForwarding {
        close: true,
        strip_framing: true,
        ..ResponseForwarding::default()
    };
    let edits = HeadEdits {
        set: vec![(b("Server"), b("tollgate"))],
        ..HeadEdits::default()
    };
    let out = response(input, &edits, &fwd);
    assert_eq!(
        out,
        "HTTP/1.1 200 Fine\r\nVia: 1.1 origin\r\nServer: tollgate\r\nConnection: close\r\n\r\n"
    );

    let input =
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
    let fwd = ResponseForwarding {
        upgrade: true,
        ..ResponseForwarding::default()
    };
    let out = response(input, &HeadEdits::default(), &fwd);
    assert_eq!(
        out,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
    );

    // HTTP/1.0 upstream, reason kept as sent (even empty).
    let out = response(
        b"HTTP/1.0 404\r\nContent-Length: 0\r\n\r\n",
        &HeadEdits::default(),
        &ResponseForwarding::default(),
    );
    assert_eq!(out, "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n");
}

#[test]
fn local_response_head() {
    let mut out = Vec::new();
    let headers = [
        (b("Content-Type"), b("text/plain")),
        (b("Content-Length"), b("99")),
        (b("X-Drop"), b("1")),
        (b("Bad Name"), b("1")),
    ];
    let edits = HeadEdits {
        remove: vec![b("x-drop")],
        append: vec![(b("X-Id"), b("7"))],
        ..HeadEdits::default()
    };
    write_local_response_head(502, &headers, &edits, Some(11), true, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nX-Id: 7\r\nContent-Length: 11\r\nConnection: close\r\n\r\n"
    );
    let mut out = Vec::new();
    write_local_response_head(799, &[], &HeadEdits::default(), None, false, &mut out);
    assert_eq!(out, b"HTTP/1.1 799 \r\n\r\n");
    assert_eq!(
        super::super::reason_phrase(431),
        "Request Header Fields Too Large"
    );
}
