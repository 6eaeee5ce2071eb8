//! Shared helpers for the end-to-end tests: start the real `tollgate-mock` on a free
//! loopback port, run the real `tollgate-load` against it, speak raw HTTP/1.1.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running mock, killed on drop.
pub struct Mock {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Mock {
    /// Starts `tollgate-mock --listen 127.0.0.1:0 ARGS`.
    pub fn start(args: &[&str]) -> Mock {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate-mock"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start tollgate-mock");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let port = line
            .split_whitespace()
            .nth(2)
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {line}"));
        Mock { child, port }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `GET /__mock/stats` as JSON.
    pub fn stats(&self) -> serde_json::Value {
        let resp = raw(
            self.port,
            b"GET /__mock/stats HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n",
        );
        serde_json::from_str(body_of(&resp)).expect("stats JSON")
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `tollgate-load ARGS --json F -q` and returns (exit success, stderr, report JSON).
pub fn load(args: &[&str]) -> (bool, String, serde_json::Value) {
    let dir = std::env::temp_dir();
    let file = dir.join(format!(
        "tollgate-load-{}-{}.json",
        std::process::id(),
        unique()
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate-load"))
        .args(args)
        .args(["-q", "--json"])
        .arg(&file)
        .output()
        .expect("run tollgate-load");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = std::fs::read_to_string(&file)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(serde_json::Value::Null);
    let _ = std::fs::remove_file(&file);
    (out.status.success(), stderr, json)
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Checks the report's bookkeeping and returns it.
pub fn check_counts(r: &serde_json::Value) {
    let sent = r["sent"].as_u64().expect("sent");
    let ok = r["ok"].as_u64().expect("ok");
    let errors = r["errors_total"].as_u64().expect("errors_total");
    let by_kind: u64 = r["errors"]
        .as_object()
        .expect("errors")
        .values()
        .filter_map(|v| v.as_u64())
        .sum();
    assert_eq!(sent, ok + errors, "sent == ok + errors: {r}");
    assert_eq!(errors, by_kind);
}

/// Writes `req` on a new connection and reads until the peer closes (5 s limit).
pub fn raw(port: u16, req: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(req).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The body after the first blank line.
pub fn body_of(resp: &str) -> &str {
    resp.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// A JSON POST with `Connection: close`; returns the whole response.
pub fn post_json(port: u16, path: &str, extra: &str, body: &str) -> String {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: m\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw(port, req.as_bytes())
}
