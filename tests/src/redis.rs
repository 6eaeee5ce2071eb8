//! A real `redis-server` on a free loopback port, for the cluster-mode tests: no
//! persistence (`--save "" --appendonly no`), its files in a scratch directory, killed
//! on drop. A missing `redis-server` fails the test with a message saying how to get it
//! (`scripts/install-test-deps.sh`); it never skips.
//!
//! [`RedisServer::command`] is a minimal client over `std::net::TcpStream` (RESP2 via
//! `tollgate_proto::resp`), enough to read keys, flush the script cache and pause the
//! server from a test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tollgate_proto::resp::{self, Value};

use crate::free_port;

/// An owned reply (the parser's values borrow its buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisReply {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<RedisReply>),
}

impl RedisReply {
    fn from_value(v: &Value<'_>) -> RedisReply {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match v {
            Value::Simple(s) => RedisReply::Simple(text(s)),
            Value::Error(s) => RedisReply::Error(text(s)),
            Value::Integer(i) => RedisReply::Integer(*i),
            Value::Bulk(b) => RedisReply::Bulk(b.to_vec()),
            Value::Nil => RedisReply::Nil,
            Value::Array(items) => {
                RedisReply::Array(items.iter().map(RedisReply::from_value).collect())
            }
        }
    }

    /// The integer of an integer reply or of a bulk string holding one.
    pub fn int(&self) -> Option<i64> {
        match self {
            RedisReply::Integer(i) => Some(*i),
            RedisReply::Bulk(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    }

    pub fn text(&self) -> String {
        match self {
            RedisReply::Simple(s) | RedisReply::Error(s) => s.clone(),
            RedisReply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        }
    }
}

/// A running `redis-server`. Killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    extra: Vec<String>,
}

/// The `redis-server` binary: on `PATH`, or Debian's path.
fn redis_server_bin() -> PathBuf {
    let candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("redis-server"))
                .collect()
        })
        .unwrap_or_default();
    candidates
        .into_iter()
        .chain([PathBuf::from("/usr/bin/redis-server")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "redis-server is not installed; run scripts/install-test-deps.sh \
                 (Debian package redis-server)"
            )
        })
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers `PING`.
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// The same, with extra arguments (`["--requirepass", "s3cret"]`).
    pub fn start_with(extra: &[&str]) -> RedisServer {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("tollgate-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = RedisServer {
            child: None,
            port,
            dir,
            extra: extra.iter().map(|a| a.to_string()).collect(),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(redis_server_bin());
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--appendonly")
            .arg("no")
            .arg("--dir")
            .arg(&self.dir)
            .arg("--daemonize")
            .arg("no")
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("spawn redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("redis-server exited at start ({st}) on port {}", self.port);
            }
            let ping = self.try_command_auth(&["PING"]);
            if matches!(ping, Some(RedisReply::Simple(ref s)) if s == "PONG") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING on port {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn password(&self) -> Option<String> {
        let i = self.extra.iter().position(|a| a == "--requirepass")?;
        self.extra.get(i + 1).cloned()
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the server (as a crash would: no shutdown, state lost).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Runs one command on a new connection (authenticated when the server has a
    /// password); panics when the server does not answer within 5 s.
    pub fn command(&self, args: &[&str]) -> RedisReply {
        self.try_command_auth(args)
            .unwrap_or_else(|| panic!("redis-server on port {} did not answer {args:?}", self.port))
    }

    fn try_command_auth(&self, args: &[&str]) -> Option<RedisReply> {
        match self.password() {
            Some(p) => {
                let mut c = self.connect()?;
                send(&mut c, &["AUTH", &p])?;
                send(&mut c, args)
            }
            None => self.try_command(args),
        }
    }

    fn try_command(&self, args: &[&str]) -> Option<RedisReply> {
        let mut c = self.connect()?;
        send(&mut c, args)
    }

    fn connect(&self) -> Option<TcpStream> {
        let c = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        c.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
        Some(c)
    }

    /// The integer stored at `key` (0 when absent).
    pub fn get_int(&self, key: &str) -> i64 {
        match self.command(&["GET", key]) {
            RedisReply::Nil => 0,
            r => r.int().unwrap_or_else(|| panic!("GET {key}: {r:?}")),
        }
    }

    /// Keys matching `pattern` (`KEYS`; fine for a test server).
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        match self.command(&["KEYS", pattern]) {
            RedisReply::Array(items) => items.iter().map(RedisReply::text).collect(),
            r => panic!("KEYS {pattern}: {r:?}"),
        }
    }

    /// Calls of `cmd` (lowercase, e.g. `evalsha`) since start, from `INFO commandstats`.
    pub fn command_calls(&self, cmd: &str) -> u64 {
        let info = self.command(&["INFO", "commandstats"]).text();
        let prefix = format!("cmdstat_{cmd}:calls=");
        info.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

fn send(c: &mut TcpStream, args: &[&str]) -> Option<RedisReply> {
    let mut out = Vec::new();
    let mut cmd = resp::Command::new(&mut out, args.len());
    for a in args {
        cmd = cmd.arg(a.as_bytes());
    }
    cmd.finish();
    c.write_all(&out).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let limits = resp::Limits {
        max_reply: 1 << 20,
        max_depth: 4,
        max_elements: 1 << 16,
    };
    loop {
        match resp::parse(&buf, &limits) {
            Ok(resp::Status::Complete((v, _))) => return Some(RedisReply::from_value(&v)),
            Ok(resp::Status::Partial) => {}
            Err(e) => panic!("bad reply from redis-server: {e}"),
        }
        let n = c.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
