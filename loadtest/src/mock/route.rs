//! What a request asks for: the route (plain, stats, echo, upgrade, LLM endpoint), the
//! control headers, the body framing; and the answer, as bytes appended to the output or a
//! [`Plan`] for the connection to carry out.
//!
//! Routes: `/__mock/stats` → counters; `/echo` and `/echo/...` (or every path with
//! `--echo`) → the request as JSON; `Upgrade: websocket` → 101 and a byte echo tunnel;
//! `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/models`,
//! `/v1/messages` → the LLM mock; anything else → the plain response.

use std::time::Duration;

use super::control::{Control, Fault};
use super::echo::EchoHead;
use super::llm::{self, Endpoint};
use super::plain::{self, Shape};
use super::send::Plan;
use super::{faults, Worker};
use crate::h1::{request_framing, Framing};

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The configured plain response.
    Plain,
    /// `/__mock/stats`.
    Stats,
    /// `/__mock/requests` (`--record`).
    Requests,
    /// The request echoed as JSON.
    Echo,
    /// `Upgrade: websocket`.
    Upgrade,
    /// An LLM API endpoint.
    Llm(Endpoint),
}

/// The parts of a request head the mock keeps after the parse buffer moves on.
#[derive(Debug)]
pub struct Head {
    /// Bytes of the head.
    pub len: usize,
    /// Where it goes.
    pub route: Route,
    /// HEAD request: no body in the answer.
    pub head_only: bool,
    /// The request method was POST.
    pub is_post: bool,
    /// Close after answering.
    pub close: bool,
    /// Overrides and standard headers.
    pub ctl: Control,
    /// Body framing; `None` when the framing headers were invalid.
    pub framing: Option<Framing>,
    /// The head as JSON-ready owned parts (echo route, or every request with `--record`).
    pub echo: Option<EchoHead>,
    /// Record this request (`--record`).
    pub record: bool,
    /// Its entry in the request log, once recorded.
    pub log_seq: Option<u64>,
    /// The method was DELETE.
    pub is_delete: bool,
}

impl Head {
    /// True for the mock's own `/__mock/*` routes (not counted, not recorded).
    pub fn is_control(&self) -> bool {
        matches!(self.route, Route::Stats | Route::Requests)
    }

    /// Whether the body must be kept (not just skipped).
    pub fn wants_body(&self) -> bool {
        matches!(self.route, Route::Echo | Route::Llm(_)) || (self.record && !self.is_control())
    }
}

/// Reads what the mock needs out of a parsed head.
pub fn read_head(w: &Worker, req: &httparse::Request<'_, '_>, raw: &[u8]) -> Head {
    let path = req.path.unwrap_or("/");
    let method = req.method.unwrap_or("GET");
    let ctl = Control::from_headers(req.headers);
    let http10 = req.version == Some(0);
    let path_only = path.split('?').next().unwrap_or(path);
    let route = if ctl.upgrade_websocket {
        Route::Upgrade
    } else if path_only == "/__mock/stats" {
        Route::Stats
    } else if path_only == "/__mock/requests" {
        Route::Requests
    } else if let Some(ep) = Endpoint::from_path(path_only) {
        Route::Llm(ep)
    } else if w.cfg.echo_all || path_only == "/echo" || path_only.starts_with("/echo/") {
        Route::Echo
    } else {
        Route::Plain
    };
    let close = ctl.close || ctl.conn_close || (http10 && !ctl.conn_keep_alive);
    let record = w.log.enabled() && !matches!(route, Route::Stats | Route::Requests);
    let echo = (route == Route::Echo || record).then(|| EchoHead::new(req, raw));
    Head {
        len: raw.len(),
        route,
        head_only: method == "HEAD",
        is_post: method == "POST",
        close,
        framing: request_framing(req.headers).ok(),
        ctl,
        echo,
        record,
        log_seq: None,
        is_delete: method == "DELETE",
    }
}

/// Answers `head`: appends the response to `out` and returns [`Plan::Sent`], or returns
/// the plan for a delayed, streamed or faulty answer.
pub fn respond(w: &Worker, head: &Head, body: &[u8], out: &mut Vec<u8>) -> Plan {
    let fault = head.ctl.fault.or(w.cfg.fault);
    let delay = w.pick_delay(head.ctl.delay.unwrap_or(w.cfg.delay));
    match head.route {
        Route::Stats => {
            let json = w.stats.to_json(w.driver.name());
            let shape = json_shape(200, head.close);
            plain::write_response(out, &shape, &json);
            return Plan::Sent { close: head.close };
        }
        Route::Requests => {
            let json = if head.is_delete {
                w.log.clear();
                b"[]".to_vec()
            } else {
                w.log.to_json()
            };
            plain::write_response(out, &json_shape(200, head.close), &json);
            return Plan::Sent { close: head.close };
        }
        Route::Upgrade => {
            let mut bytes = Vec::new();
            bytes.extend_from_slice(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            );
            return Plan::Tunnel { bytes };
        }
        Route::Llm(ep) => return llm::respond(w, ep, head, body, fault, delay),
        Route::Plain | Route::Echo => {}
    }
    if let Some(f) = fault {
        if let Some(plan) = faults::plain_fault(w, head, f, delay) {
            return plan;
        }
    }
    let status = head.ctl.status.unwrap_or(w.cfg.status);
    let chunked = head.ctl.chunked.unwrap_or(w.cfg.chunked);
    let mut bytes;
    let target: &mut Vec<u8> = if delay.is_zero() && fault.is_none() {
        out
    } else {
        bytes = Vec::new();
        &mut bytes
    };
    if head.route == Route::Echo {
        let json = head
            .echo
            .as_ref()
            .map(|e| e.to_json(body))
            .unwrap_or_default();
        let mut shape = json_shape(status, head.close);
        shape.chunked = chunked;
        shape.head_only = head.head_only;
        plain::write_response(target, &shape, &json);
    } else if head.ctl.status.is_none()
        && head.ctl.body_size.is_none()
        && head.ctl.chunked.is_none()
    {
        // The fast path: one copy of the preformatted default response.
        target.extend_from_slice(w.preformatted.bytes(head.close, head.head_only));
    } else {
        let size = head
            .ctl
            .body_size
            .unwrap_or(w.cfg.body_size)
            .min(w.cfg.max_body);
        let shape = Shape {
            status,
            headers: &w.cfg.headers,
            content_type: Some("text/plain"),
            chunked,
            close: head.close,
            head_only: head.head_only,
        };
        plain::write_response(target, &shape, &plain::body_bytes(size));
    }
    if delay.is_zero() && fault.is_none() {
        return Plan::Sent { close: head.close };
    }
    let bytes = std::mem::take(target);
    match fault {
        Some(Fault::SlowDrip) => Plan::Drip {
            delay,
            bytes,
            gap: Duration::from_millis(head.ctl.drip_ms.unwrap_or(w.cfg.drip_ms)),
            close: head.close,
        },
        _ => Plan::Delayed {
            delay,
            bytes,
            close: head.close,
        },
    }
}

/// A JSON response shape.
pub fn json_shape(status: u16, close: bool) -> Shape<'static> {
    Shape {
        status,
        headers: &[],
        content_type: Some("application/json"),
        chunked: false,
        close,
        head_only: false,
    }
}
