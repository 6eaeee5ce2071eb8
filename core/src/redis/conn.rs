//! One connection to Redis: connect, the handshake (`AUTH`, `SCRIPT LOAD`), and
//! pipelined round trips of commands whose replies are read back in order.
//!
//! Every wait is bounded: the handshake by `connect_timeout` as a whole, each round trip
//! (write all, read every reply) by `call_timeout`. After any error or time-out the
//! connection is out of step (a reply may still be on its way) and is dropped; the
//! caller opens a new one. Memory: the read buffer holds at most one reply past the
//! ones already read (`resp::Limits::max_reply`, 64 KiB) plus one read.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use tollgate_filters::ratelimit::redis::EXCHANGE_SCRIPT;
use tollgate_proto::resp::{self, Command, Value};

/// Free space kept in the read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;

/// Why a connection or a round trip failed. `kind` names it in metrics and logs.
#[derive(Debug)]
pub enum RedisError {
    /// TCP connect failed or was refused.
    Connect(io::Error),
    /// No (complete) answer within the time-out.
    Timeout,
    /// A read or write failed, or Redis closed the connection.
    Io(io::Error),
    /// Bytes that are not RESP2, or a reply of the wrong shape.
    Protocol(String),
    /// `AUTH` was refused.
    Auth(String),
    /// `SCRIPT LOAD` was refused (or answered something other than a SHA-1).
    Script(String),
}

impl RedisError {
    /// The `kind` label of `tollgate_ratelimit_redis_errors_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            RedisError::Connect(_) => "connect",
            RedisError::Timeout => "timeout",
            RedisError::Io(_) => "io",
            RedisError::Protocol(_) => "protocol",
            RedisError::Auth(_) => "auth",
            RedisError::Script(_) => "script",
        }
    }
}

impl std::fmt::Display for RedisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RedisError::Connect(e) => write!(f, "connect: {e}"),
            RedisError::Timeout => f.write_str("timed out"),
            RedisError::Io(e) => write!(f, "i/o: {e}"),
            RedisError::Protocol(m) => write!(f, "protocol: {m}"),
            RedisError::Auth(m) => write!(f, "AUTH refused: {m}"),
            RedisError::Script(m) => write!(f, "SCRIPT LOAD refused: {m}"),
        }
    }
}

/// What a connection needs to open.
#[derive(Debug, Clone)]
pub struct ConnectTo {
    pub addr: SocketAddr,
    pub connect_timeout: Duration,
    /// `(username, password)` for `AUTH`, resolved (no `env:` left).
    pub auth: Option<(Option<String>, String)>,
}

/// An open, authenticated connection with the exchange script loaded.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    rbuf: Vec<u8>,
    /// Commands of the next round trip; the caller encodes into it ([`Conn::out`]).
    wbuf: Vec<u8>,
    /// The SHA-1 `SCRIPT LOAD` answered: the name `EVALSHA` calls the script by.
    pub sha: String,
    limits: resp::Limits,
}

impl Conn {
    /// Connects and runs the handshake within `to.connect_timeout`.
    pub async fn open(to: &ConnectTo) -> Result<Conn, RedisError> {
        match monoio::time::timeout(to.connect_timeout, Conn::open_inner(to)).await {
            Ok(r) => r,
            Err(_) => Err(RedisError::Timeout),
        }
    }

    async fn open_inner(to: &ConnectTo) -> Result<Conn, RedisError> {
        let stream = TcpStream::connect_addr(to.addr)
            .await
            .map_err(RedisError::Connect)?;
        // Exchanges are small and latency-bound.
        let _ = stream.set_nodelay(true);
        let mut c = Conn {
            stream,
            rbuf: Vec::with_capacity(READ_CHUNK),
            wbuf: Vec::with_capacity(4096),
            sha: String::new(),
            limits: resp::Limits::default(),
        };
        let mut n = 1;
        if let Some((user, pass)) = &to.auth {
            match user {
                Some(u) => Command::new(&mut c.wbuf, 3)
                    .arg(b"AUTH")
                    .arg(u.as_bytes())
                    .arg(pass.as_bytes())
                    .finish(),
                None => Command::new(&mut c.wbuf, 2)
                    .arg(b"AUTH")
                    .arg(pass.as_bytes())
                    .finish(),
            }
            n = 2;
        }
        Command::new(&mut c.wbuf, 3)
            .arg(b"SCRIPT")
            .arg(b"LOAD")
            .arg(EXCHANGE_SCRIPT.as_bytes())
            .finish();
        let mut auth_err = None;
        let mut sha = Err(RedisError::Protocol("no reply to SCRIPT LOAD".into()));
        c.send_and_read(n, |i, v| {
            if i + 1 < n {
                if let Value::Error(e) = v {
                    auth_err = Some(String::from_utf8_lossy(e).into_owned());
                }
                return;
            }
            sha = match v {
                Value::Bulk(s) if s.len() == 40 && s.iter().all(u8::is_ascii_hexdigit) => {
                    Ok(String::from_utf8_lossy(s).into_owned())
                }
                Value::Error(e) => Err(RedisError::Script(String::from_utf8_lossy(e).into())),
                other => Err(RedisError::Protocol(format!(
                    "SCRIPT LOAD answered {other:?}"
                ))),
            };
        })
        .await?;
        // A refused AUTH also fails the SCRIPT LOAD after it (NOAUTH): report the cause.
        if let Some(e) = auth_err {
            return Err(RedisError::Auth(e));
        }
        c.sha = sha?;
        Ok(c)
    }

    /// `SCRIPT LOAD` again (Redis answered `NOSCRIPT`: its script cache was flushed).
    pub async fn reload_script(&mut self, timeout: Duration) -> Result<(), RedisError> {
        Command::new(&mut self.wbuf, 3)
            .arg(b"SCRIPT")
            .arg(b"LOAD")
            .arg(EXCHANGE_SCRIPT.as_bytes())
            .finish();
        let mut ok = false;
        self.round_trip(1, timeout, |_, v| {
            ok = matches!(v, Value::Bulk(s) if s.len() == 40);
        })
        .await?;
        if ok {
            Ok(())
        } else {
            Err(RedisError::Script("SCRIPT LOAD failed".into()))
        }
    }

    /// The buffer the next round trip's commands are encoded into.
    pub fn out(&mut self) -> &mut Vec<u8> {
        &mut self.wbuf
    }

    /// Sends the commands in [`Conn::out`] and reads `n` replies, handing each to
    /// `on_reply` in order, all within `timeout`.
    pub async fn round_trip(
        &mut self,
        n: usize,
        timeout: Duration,
        on_reply: impl FnMut(usize, &Value<'_>),
    ) -> Result<(), RedisError> {
        match monoio::time::timeout(timeout, self.send_and_read(n, on_reply)).await {
            Ok(r) => r,
            Err(_) => Err(RedisError::Timeout),
        }
    }

    async fn send_and_read(
        &mut self,
        n: usize,
        mut on_reply: impl FnMut(usize, &Value<'_>),
    ) -> Result<(), RedisError> {
        let out = std::mem::take(&mut self.wbuf);
        let (res, mut out) = self.stream.write_all(out).await;
        out.clear();
        self.wbuf = out;
        res.map_err(RedisError::Io)?;
        let mut done = 0;
        while done < n {
            // Parse what is buffered; read only when a reply is incomplete.
            let mut at = 0;
            loop {
                if done == n {
                    break;
                }
                match resp::parse(&self.rbuf[at..], &self.limits) {
                    Ok(resp::Status::Complete((v, used))) => {
                        on_reply(done, &v);
                        done += 1;
                        at += used;
                    }
                    Ok(resp::Status::Partial) => break,
                    Err(e) => return Err(RedisError::Protocol(e.to_string())),
                }
            }
            self.rbuf.drain(..at);
            if done == n {
                break;
            }
            self.read_more().await?;
        }
        // Replies we did not ask for: the stream is out of step.
        if !self.rbuf.is_empty() {
            return Err(RedisError::Protocol(
                "unexpected bytes after the replies".into(),
            ));
        }
        Ok(())
    }

    async fn read_more(&mut self) -> Result<(), RedisError> {
        let mut buf = std::mem::take(&mut self.rbuf);
        if buf.capacity() - buf.len() < READ_CHUNK {
            buf.reserve(READ_CHUNK);
        }
        let len = buf.len();
        // Read into the spare capacity, after the bytes already buffered.
        let (res, slice) = self.stream.read(buf.slice_mut(len..)).await;
        self.rbuf = slice.into_inner();
        match res {
            Ok(0) => Err(RedisError::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(_) => Ok(()),
            Err(e) => Err(RedisError::Io(e)),
        }
    }
}
