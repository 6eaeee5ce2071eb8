//! Fuzzes `RequestHead::parse` with the input arriving in reads, then the chunked body
//! scanner when the head says chunked, then the serialiser: a head we accept and write
//! back out must parse again with the same framing (otherwise the gateway and the
//! upstream could frame it differently).
#![no_main]

mod common;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tollgate_proto::h1::{
    write_request_head, BodyFraming, HeadEdits, HeadLimits, RequestForwarding, RequestHead, Status,
    Version,
};

fuzz_target!(|data: &[u8]| {
    let Some((&seed, data)) = data.split_first() else {
        return;
    };
    let mut reads = common::Reads::new(seed, data);
    let limits = HeadLimits {
        max_request_line: 512,
        max_head_bytes: 4096,
        max_headers: 64,
    };
    let mut head = RequestHead::default();
    let mut buf = BytesMut::new();
    loop {
        if !reads.read_into(&mut buf) {
            return;
        }
        match head.parse(&mut buf, &limits) {
            Ok(Status::Complete(())) => break,
            Ok(Status::Partial) => assert!(buf.len() <= limits.max_head_bytes),
            Err(_) => return,
        }
    }
    common::check_spans(&head.buf, head.request_line, &head.headers);

    let mut out = Vec::new();
    let fwd = RequestForwarding {
        client_ip: Some("2001:db8::1"),
        x_forwarded_for: seed & 1 != 0,
        x_forwarded_proto: Some("https"),
        forwarded: seed & 2 != 0,
        via: Some("1.1 tollgate"),
        upgrade: head.conn.upgrade,
    };
    write_request_head(&head, &HeadEdits::default(), &fwd, &mut out);
    // An HTTP/1.0 request may lack Host; written as HTTP/1.1 it needs one.
    if head.version == Version::Http11 {
        let mut again = RequestHead::default();
        let big = HeadLimits {
            max_request_line: 1 << 16,
            max_head_bytes: 1 << 20,
            max_headers: 256,
        };
        let mut out = BytesMut::from(&out[..]);
        assert_eq!(again.parse(&mut out, &big), Ok(Status::Complete(())));
        assert_eq!(again.framing, head.framing);
        assert_eq!(again.target_bytes(), head.target_bytes());
    }

    if head.framing == BodyFraming::Chunked {
        common::check_chunked(buf, &mut reads);
    }
});
