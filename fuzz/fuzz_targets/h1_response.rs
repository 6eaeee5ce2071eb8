//! Fuzzes `ResponseHead::parse` like `h1_request`: reads of any size, the chunked body
//! when the head says chunked, and a written head that must parse again the same way.
#![no_main]

mod common;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tollgate_proto::h1::{
    write_response_head, HeadEdits, HeadLimits, Method, ResponseForwarding, ResponseFraming,
    ResponseHead, Status,
};

fuzz_target!(|data: &[u8]| {
    let Some((&seed, data)) = data.split_first() else {
        return;
    };
    let method = match seed >> 6 {
        0 => Method::Get,
        1 => Method::Head,
        2 => Method::Connect,
        _ => Method::Post,
    };
    let mut reads = common::Reads::new(seed, data);
    let limits = HeadLimits {
        max_request_line: 512,
        max_head_bytes: 4096,
        max_headers: 64,
    };
    let mut head = ResponseHead::default();
    let mut buf = BytesMut::new();
    loop {
        if !reads.read_into(&mut buf) {
            return;
        }
        match head.parse(&mut buf, &limits, method) {
            Ok(Status::Complete(())) => break,
            Ok(Status::Partial) => assert!(buf.len() <= limits.max_head_bytes),
            Err(_) => return,
        }
    }
    common::check_spans(&head.buf, head.status_line, &head.headers);

    let mut out = Vec::new();
    let fwd = ResponseForwarding {
        via: Some("1.1 tollgate"),
        upgrade: head.conn.upgrade,
        ..Default::default()
    };
    write_response_head(&head, &HeadEdits::default(), &fwd, &mut out);
    let mut again = ResponseHead::default();
    let big = HeadLimits {
        max_request_line: 1 << 16,
        max_head_bytes: 1 << 20,
        max_headers: 256,
    };
    let mut out = BytesMut::from(&out[..]);
    assert_eq!(
        again.parse(&mut out, &big, method),
        Ok(Status::Complete(()))
    );
    // Written as HTTP/1.1, an until-close HTTP/1.0 body stays until-close.
    assert_eq!(again.framing, head.framing);
    assert_eq!(again.status, head.status);

    if head.framing == ResponseFraming::Chunked {
        common::check_chunked(buf, &mut reads);
    }
});
