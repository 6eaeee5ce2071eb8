//! Tests of the HTTP/1.1 module: one table row per RFC 9112 rule for requests and
//! responses, split-read and pipelining properties, the chunked scanner at every split
//! point, and the serialisers.

mod chunked;
mod request_parse;
mod request_rules;
mod response_rules;
mod serialize;
mod smuggling;

use bytes::BytesMut;

use super::{H1Error, HeadLimits, Method, RequestHead, ResponseHead, Status};

/// Parses one request head from `input`; `Ok(None)` when more bytes are needed.
fn parse_request(input: &[u8]) -> Result<Option<(RequestHead, BytesMut)>, H1Error> {
    parse_request_with(input, &HeadLimits::default())
}

fn parse_request_with(
    input: &[u8],
    limits: &HeadLimits,
) -> Result<Option<(RequestHead, BytesMut)>, H1Error> {
    let mut buf = BytesMut::from(input);
    let mut head = RequestHead::default();
    match head.parse(&mut buf, limits)? {
        Status::Complete(()) => Ok(Some((head, buf))),
        Status::Partial => Ok(None),
    }
}

/// Parses one response head from `input`, as the answer to `method`.
fn parse_response(
    input: &[u8],
    method: Method,
) -> Result<Option<(ResponseHead, BytesMut)>, H1Error> {
    let mut buf = BytesMut::from(input);
    let mut head = ResponseHead::default();
    match head.parse(&mut buf, &HeadLimits::default(), method)? {
        Status::Complete(()) => Ok(Some((head, buf))),
        Status::Partial => Ok(None),
    }
}
