//! Starting `tollgate-mock` (loadtest/README.md) on a free loopback port.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::bin;

/// A running `tollgate-mock`. Killed on drop.
pub struct Mock {
    child: Child,
    pub addr: SocketAddr,
}

impl Mock {
    /// Starts `tollgate-mock --listen 127.0.0.1:0 --threads 1 ARGS` and waits for its
    /// `listening on ADDR` line (which names the port it got).
    pub fn start(args: &[&str]) -> Mock {
        let mut child = Command::new(bin("tollgate-mock"))
            .args(["--listen", "127.0.0.1:0", "--threads", "1"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn tollgate-mock");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep reading so the mock never blocks on a full pipe.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let _ = tx.send(line);
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("tollgate-mock {args:?} printed no `listening on` line within 10 s");
            }
        };
        let addr = line
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from tollgate-mock: {line:?}"));
        Mock { child, addr }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `GET /__mock/requests` (start it with `--record N`).
    pub fn requests(&self) -> serde_json::Value {
        self.get_json("/__mock/requests")
    }

    /// `GET /__mock/stats`.
    pub fn stats(&self) -> serde_json::Value {
        self.get_json("/__mock/stats")
    }

    fn get_json(&self, path: &str) -> serde_json::Value {
        let r = crate::client::get(&self.addr.to_string(), path);
        assert_eq!(r.status, 200, "GET {path} on the mock: {}", r.text());
        serde_json::from_str(&r.text()).expect("JSON from the mock")
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
