//! Responses the gateway makes itself: direct responses, CORS preflights, errors.

use bytes::Bytes;
use tollgate_filters::LocalResponse;
use tollgate_proto::h1::{write_local_response_head, Method};

use super::conn::ClientConn;
use super::error::ProxyError;
use super::io::write_vec;
use crate::runtime::CoreConfig;

/// Writes `resp` to the client, after the route's response-phase filters. `close` adds
/// `Connection: close`. Returns false if the client is gone.
pub async fn write_local(
    c: &mut ClientConn,
    cc: &CoreConfig,
    resp: &LocalResponse,
    close: bool,
) -> bool {
    cc.chain.on_response_head(&mut c.ctx, resp.status);
    c.out.clear();
    write_local_response_head(
        resp.status,
        &resp.headers,
        &c.ctx.response_edits,
        Some(resp.body.len() as u64),
        close,
        &mut c.out,
    );
    if c.head.method != Method::Head {
        c.out.extend_from_slice(&resp.body);
    }
    c.ctx.status = resp.status;
    c.ctx.bytes_sent += c.out.len() as u64;
    write_vec(&mut c.stream, &mut c.out).await.is_ok()
}

/// The JSON body of an error the gateway answers itself.
pub fn error_response(e: ProxyError) -> LocalResponse {
    let status = e.status();
    let kind = match e.source() {
        super::ErrorSource::Client => "invalid_request_error",
        super::ErrorSource::Upstream => "upstream_error",
        super::ErrorSource::Gateway => "gateway_error",
    };
    let body = format!(
        "{{\"error\":{{\"message\":\"{}\",\"type\":\"{kind}\",\"code\":{status}}}}}\n",
        e.reason()
    );
    LocalResponse {
        status,
        headers: vec![(
            Bytes::from_static(b"content-type"),
            Bytes::from_static(b"application/json"),
        )],
        body: Bytes::from(body),
    }
}

/// Answers an error. Errors caused by the client close the connection.
pub async fn write_error(c: &mut ClientConn, cc: &CoreConfig, e: ProxyError, close: bool) -> bool {
    c.ctx.error = Some(e.reason());
    let resp = error_response(e);
    write_local(c, cc, &resp, close || e.must_close()).await
}
