//! HTTP/2 with prior knowledge (h2c) for the mock: a connection that opens with the HTTP/2
//! preface is handed to the h2 crate (on the worker's monoio runtime, through monoio's
//! poll-io adapter), over cleartext or TLS. Each stream gets the plain answer, shaped by the same control headers
//! as HTTP/1.1 (`x-mock-status`, `-body-size`, `-delay-ms`, and the faults `429`, `500`,
//! `503`, `hang`, `reset-mid-stream` which becomes RST_STREAM). `/__mock/stats` works;
//! echo, upgrade and the LLM routes are HTTP/1.1 only.

use std::io;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use super::control::{Control, Fault};
use super::plain::body_bytes;
use super::Worker;
use crate::tls::stream::PollIo;

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn to_io(e: h2::Error) -> io::Error {
    io::Error::other(e)
}

/// Serves an HTTP/2 connection on `io` (cleartext or TLS; the bytes read before the
/// switch are replayed first).
pub async fn serve<T: PollIo + 'static>(w: &Rc<Worker>, io: T) -> io::Result<()> {
    let mut conn = h2::server::Builder::new()
        .initial_window_size(1 << 20)
        .initial_connection_window_size(1 << 24)
        .max_concurrent_streams(4096)
        .handshake::<_, Bytes>(io)
        .await
        .map_err(to_io)?;
    while let Some(next) = conn.accept().await {
        let (req, respond) = next.map_err(to_io)?;
        let w = w.clone();
        monoio::spawn(async move {
            let _ = answer(&w, req, respond).await;
        });
    }
    Ok(())
}

async fn answer(
    w: &Worker,
    req: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
) -> Result<(), h2::Error> {
    let stats = req.uri().path() == "/__mock/stats";
    if !stats {
        w.stats.request(w.index);
    }
    let headers: Vec<httparse::Header<'_>> = req
        .headers()
        .iter()
        .map(|(k, v)| httparse::Header {
            name: k.as_str(),
            value: v.as_bytes(),
        })
        .collect();
    let ctl = Control::from_headers(&headers);
    drop(headers);
    let mut body = req.into_body();
    while let Some(d) = body.data().await {
        let d = d?;
        let _ = body.flow_control().release_capacity(d.len());
    }
    let fault = ctl.fault.or(w.cfg.fault);
    let delay = w.pick_delay(ctl.delay.unwrap_or(w.cfg.delay));
    if !delay.is_zero() {
        monoio::time::sleep(delay).await;
    }
    let (status, bytes, ctype) = if stats {
        (
            200,
            Bytes::from(w.stats.to_json(w.driver.name())),
            "application/json",
        )
    } else {
        let status = match fault {
            Some(Fault::RateLimited) => 429,
            Some(Fault::Internal | Fault::ErrorEvent) => 500,
            Some(Fault::Unavailable) => 503,
            Some(Fault::Hang) => {
                // Hold the stream open without answering; the client's timeout ends it.
                monoio::time::sleep(Duration::from_secs(3600)).await;
                return Ok(());
            }
            _ => ctl.status.unwrap_or(w.cfg.status),
        };
        let size = ctl.body_size.unwrap_or(w.cfg.body_size).min(w.cfg.max_body);
        (status, Bytes::from(body_bytes(size)), "text/plain")
    };
    let mut resp = http::Response::builder()
        .status(status)
        .header("content-type", ctype)
        .header("server", "tollgate-mock");
    if status == 429 {
        resp = resp
            .header("retry-after", "1")
            .header("x-ratelimit-remaining-requests", "0");
    }
    let resp = resp
        .body(())
        .map_err(|_| h2::Error::from(h2::Reason::INTERNAL_ERROR))?;
    let mut send = respond.send_response(resp, bytes.is_empty())?;
    if fault == Some(Fault::ResetMidStream) {
        send.send_reset(h2::Reason::INTERNAL_ERROR);
        return Ok(());
    }
    if !bytes.is_empty() {
        send.send_data(bytes, true)?;
    }
    Ok(())
}
