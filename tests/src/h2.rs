//! An HTTP/2 upstream for the end-to-end tests: `tests/py/h2_upstream.py` (the python
//! `h2` package, from the venv of [`crate::python`]) on a free loopback port, h2c or TLS,
//! and curl as an HTTP/2 client.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `h2_upstream.py`. Killed on drop.
pub struct H2Upstream {
    child: Child,
    pub port: u16,
    tls: bool,
    port_file: PathBuf,
}

impl H2Upstream {
    /// Cleartext HTTP/2 (prior knowledge); `max_streams` is its
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub fn h2c(max_streams: u32) -> H2Upstream {
        H2Upstream::start(&["--max-streams", &max_streams.to_string()], false)
    }

    /// HTTP/2 over TLS (ALPN `h2`) with this certificate and key.
    pub fn tls(cert: &std::path::Path, key: &std::path::Path) -> H2Upstream {
        H2Upstream::start(
            &["--tls", cert.to_str().unwrap(), key.to_str().unwrap()],
            true,
        )
    }

    fn start(args: &[&str], tls: bool) -> H2Upstream {
        let port_file = std::env::temp_dir().join(format!(
            "tollgate-h2-upstream-{}-{}.port",
            std::process::id(),
            crate::free_port()
        ));
        let _ = std::fs::remove_file(&port_file);
        let mut child = Command::new(crate::python::python())
            .arg(crate::python::script("h2_upstream.py"))
            .arg("--port-file")
            .arg(&port_file)
            .args(args)
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn h2_upstream.py");
        let deadline = Instant::now() + Duration::from_secs(10);
        let port = loop {
            if let Some(p) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                break p;
            }
            if let Ok(Some(st)) = child.try_wait() {
                panic!("h2_upstream.py exited early ({st})");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("h2_upstream.py did not start within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        H2Upstream {
            child,
            port,
            tls,
            port_file,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What it has seen: `{"connections": C, "requests": R, "keys": {K: attempts}}`,
    /// asked directly (curl over HTTP/2), not through the gateway.
    pub fn stats(&self) -> serde_json::Value {
        let url = if self.tls {
            format!("https://127.0.0.1:{}/_stats", self.port)
        } else {
            format!("http://127.0.0.1:{}/_stats", self.port)
        };
        let mut args = vec!["-k", "--http2"];
        if !self.tls {
            args = vec!["--http2-prior-knowledge"];
        }
        args.push(&url);
        let out = curl(&args);
        assert!(out.ok, "stats from h2_upstream.py: {}", out.stderr);
        serde_json::from_str(&out.body).expect("stats JSON")
    }

    /// Connections that carried a request (other than the stats' own).
    pub fn connections(&self) -> u64 {
        self.stats()["connections"].as_u64().unwrap()
    }
}

impl Drop for H2Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.port_file);
    }
}

/// What curl printed.
pub struct CurlOut {
    pub ok: bool,
    /// The head (and, after a blank line, any trailers) as `-D -` dumps them.
    pub head: String,
    pub body: String,
    pub stderr: String,
}

/// Runs `curl -sS --max-time 10 ARGS` with the head dumped apart from the body.
pub fn curl(args: &[&str]) -> CurlOut {
    let head_file = std::env::temp_dir().join(format!(
        "tollgate-curl-{}-{}.head",
        std::process::id(),
        crate::free_port()
    ));
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-D"])
        .arg(&head_file)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run curl ({e}); install it with scripts/install-test-deps.sh")
        });
    let head = std::fs::read_to_string(&head_file).unwrap_or_default();
    let _ = std::fs::remove_file(&head_file);
    CurlOut {
        ok: out.status.success(),
        head,
        body: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
