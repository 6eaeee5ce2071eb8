//! A scriptable HTTP/2 client for the end-to-end tests: one connection made by
//! `tests/py/h2_client.py` (the `h2` package, from the venv of
//! `scripts/install-test-deps.sh`), driven by JSON commands, for what curl and h2load do
//! not show: streams opened and reset at chosen moments, bodies with or without a
//! length and in pieces, the DATA frames' times, RST_STREAM codes, GOAWAY and the close.
//! The commands and the answers' keys are described in the script's docstring.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use serde_json::{json, Value};

use crate::python::{python, script};
use crate::Gateway;

/// The bytes `i % 251` for i in 0..n: what `h2_client.py` sends for `body_size` and
/// checks with `body_is_pattern`.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// One HTTP/2 connection made by `tests/py/h2_client.py`, driven command by command.
pub struct H2Client {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl H2Client {
    /// h2c with prior knowledge to `gw`.
    pub fn h2c(gw: &Gateway) -> H2Client {
        H2Client::spawn(&["127.0.0.1".into(), gw.port.to_string()])
    }

    /// TLS with ALPN h2 to `gw`, sending `sni`, trusting `ca`, presenting `identity`.
    pub fn tls(
        gw: &Gateway,
        sni: &str,
        ca: &Path,
        identity: Option<&(PathBuf, PathBuf)>,
    ) -> H2Client {
        let mut args = vec![
            "127.0.0.1".into(),
            gw.port.to_string(),
            "--tls".into(),
            "--sni".into(),
            sni.into(),
            "--ca".into(),
            ca.display().to_string(),
        ];
        if let Some((cert, key)) = identity {
            args.extend([
                "--cert".into(),
                cert.display().to_string(),
                "--key".into(),
                key.display().to_string(),
            ]);
        }
        H2Client::spawn(&args)
    }

    fn spawn(args: &[String]) -> H2Client {
        let mut child = Command::new(python())
            .arg(script("h2_client.py"))
            .args(args)
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run tests/py/h2_client.py");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        H2Client {
            child,
            stdin,
            lines,
        }
    }

    /// Sends one command; its answer. Panics on the script's error (with its traceback)
    /// or when no answer comes within the command's time-out and 10 s more.
    pub fn call(&mut self, cmd: Value) -> Value {
        let limit = Duration::from_secs_f64(cmd["timeout"].as_f64().unwrap_or(10.0) + 10.0);
        writeln!(self.stdin, "{cmd}").expect("write to h2_client.py");
        self.stdin.flush().unwrap();
        let line = self
            .lines
            .recv_timeout(limit)
            .unwrap_or_else(|_| panic!("h2_client.py did not answer {cmd} within {limit:?}"));
        let v: Value = serde_json::from_str(&line).expect("JSON from h2_client.py");
        if let Some(e) = v.get("error") {
            panic!(
                "h2_client.py failed on {cmd}:\n{}",
                e.as_str().unwrap_or("")
            );
        }
        v
    }

    /// `info`: ALPN and the server's certificate (hex DER).
    pub fn info(&mut self) -> Value {
        self.call(json!({"op": "info"}))
    }

    /// One request to its end (see `send` in h2_client.py for the keys).
    pub fn request(&mut self, mut cmd: Value) -> Value {
        cmd["op"] = "request".into();
        self.call(cmd)
    }

    pub fn get(&mut self, path: &str) -> Value {
        self.request(json!({"path": path}))
    }

    /// Opens a stream; its id.
    pub fn send(&mut self, mut cmd: Value) -> u64 {
        cmd["op"] = "send".into();
        self.call(cmd)["stream"].as_u64().unwrap()
    }

    pub fn wait(&mut self, stream: u64, timeout_s: f64) -> Value {
        self.call(json!({"op": "wait", "stream": stream, "timeout": timeout_s}))
    }

    pub fn reset(&mut self, stream: u64) {
        self.call(json!({"op": "reset", "stream": stream, "code": 8}));
    }

    /// Reads until a GOAWAY (and, with `until_closed`, the end of the connection).
    pub fn goaway(&mut self, timeout_s: f64, until_closed: bool) -> Value {
        self.call(json!({"op": "wait_goaway", "timeout": timeout_s, "until_closed": until_closed}))
    }
}

impl Drop for H2Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A header of a stream's answer (`[[name, value], ...]`), by name.
pub fn header<'a>(r: &'a Value, name: &str) -> Option<&'a str> {
    r["headers"]
        .as_array()?
        .iter()
        .find(|h| h[0].as_str() == Some(name))
        .and_then(|h| h[1].as_str())
}
