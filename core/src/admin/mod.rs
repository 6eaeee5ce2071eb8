//! The admin listener: a small blocking HTTP/1.1 server on its own thread, off the
//! workers, loopback by default.
//!
//! - `GET /healthz`: 200 while the process runs;
//! - `GET /readyz`: 200 while serving, 503 once draining;
//! - `GET /metrics`: Prometheus text, all workers merged;
//! - `GET /config`: the config in force, as TOML;
//! - `POST /reload`: reload the config file (as SIGHUP does);
//! - `GET /`: a plain status page.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::runtime::{Control, Phase};

pub fn spawn(control: Arc<Control>, addr: &str) -> anyhow::Result<std::net::SocketAddr> {
    let listener =
        TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("admin listener {addr}: {e}"))?;
    let local = listener.local_addr()?;
    std::thread::Builder::new()
        .name("tollgate-admin".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let control = control.clone();
                // One short-lived thread per admin request: scrapes must not queue behind
                // a slow client.
                let _ = std::thread::Builder::new()
                    .name("tollgate-admin-conn".into())
                    .spawn(move || handle(stream, &control));
            }
        })?;
    Ok(local)
}

fn handle(mut s: TcpStream, control: &Control) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 4096];
    let mut n = 0;
    loop {
        match s.read(&mut buf[n..]) {
            Ok(0) | Err(_) => return,
            Ok(k) => n += k,
        }
        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") || n == buf.len() {
            break;
        }
    }
    let line = buf[..n].split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, ctype, body) = route(control, method, path);
    let reason = tollgate_proto::h1::reason_phrase(status);
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    if method != "HEAD" {
        let _ = s.write_all(body.as_bytes());
    }
}

fn route(control: &Control, method: &str, path: &str) -> (u16, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    match (method, path) {
        ("GET" | "HEAD", "/healthz") => (200, TEXT, "ok\n".into()),
        ("GET" | "HEAD", "/readyz") => match control.phase() {
            Phase::Running => (200, TEXT, "ready\n".into()),
            Phase::Draining => (503, TEXT, "draining\n".into()),
        },
        ("GET" | "HEAD", "/metrics") => (
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            crate::metrics::render(
                &control.worker_metrics(),
                control.reload_counts(),
                control.started.elapsed(),
            ),
        ),
        ("GET" | "HEAD", "/config") => match toml::to_string(&*control.config()) {
            Ok(t) => (200, "application/toml", t),
            Err(e) => (500, TEXT, format!("cannot render config: {e}\n")),
        },
        ("POST", "/reload") => match crate::runtime::reload(control) {
            Ok(gen) => (200, TEXT, format!("reloaded: generation {gen}\n")),
            Err(e) => (400, TEXT, format!("reload refused, old config kept: {e}\n")),
        },
        ("GET" | "HEAD", "/") => (200, "text/html; charset=utf-8", status_page(control)),
        (_, "/healthz" | "/readyz" | "/metrics" | "/config" | "/reload" | "/") => {
            (405, TEXT, "method not allowed\n".into())
        }
        _ => (
            404,
            TEXT,
            "not found; try /healthz /readyz /metrics /config /reload\n".into(),
        ),
    }
}

fn status_page(control: &Control) -> String {
    let mut rows = String::new();
    for m in control.worker_metrics() {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            m.worker,
            m.cpu,
            m.driver(),
            m.connections_active.get(),
            m.connections_accepted.get()
        ));
    }
    let gen = control.generation();
    format!(
        "<!doctype html><html><head><title>Tollgate</title><meta http-equiv=refresh content=2></head>\
         <body><h1>Tollgate</h1><p>Uptime {:.0}s · config generation {} · phase {:?} · {} routes · {} clusters</p>\
         <table border=1 cellpadding=4><tr><th>worker</th><th>cpu</th><th>driver</th><th>active conns</th><th>accepted</th></tr>{rows}</table>\
         <p><a href=/metrics>/metrics</a> · <a href=/config>/config</a></p></body></html>",
        control.started.elapsed().as_secs_f64(),
        gen.id,
        control.phase(),
        gen.config.routes.len(),
        gen.config.clusters.len(),
    )
}
