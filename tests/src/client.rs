//! A raw HTTP/1.1 client for tests: send exact bytes, read exact responses.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The trailer fields of a chunked body.
    pub trailers: Vec<(String, String)>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client connection with its own read buffer (so pipelined responses can be read one
/// by one).
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn open(addr: &str) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect to gateway");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = stream.set_nodelay(true);
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to gateway");
    }

    /// Reads one response to a request with `method`. `None` if the connection closed
    /// before a complete response.
    pub fn read_response(&mut self, method: &str) -> Option<Response> {
        loop {
            if let Some((resp, used)) = parse_response(&self.buf, method) {
                self.buf.drain(..used);
                return Some(resp);
            }
            let mut tmp = [0u8; 16 * 1024];
            match self.stream.read(&mut tmp) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
            }
        }
    }

    /// True if the peer closed the connection within `timeout` (reads nothing more).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        self.stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut tmp = [0u8; 1024];
        while Instant::now() < deadline {
            match self.stream.read(&mut tmp) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return true,
            }
        }
        false
    }

    /// Bytes read but not yet consumed by `read_response`.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }
}

/// Sends one request on a new connection and reads the response.
pub fn exchange(addr: &str, request: &[u8]) -> Option<Response> {
    let method = std::str::from_utf8(request)
        .ok()?
        .split(' ')
        .next()?
        .to_string();
    let mut c = Conn::open(addr);
    c.send(request);
    c.read_response(&method)
}

/// `GET path` with Host and optional extra header lines.
pub fn get(addr: &str, path: &str) -> Response {
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    exchange(addr, req.as_bytes()).expect("a response")
}

/// Parses one complete response to a request with `method` at the start of `buf`: the
/// response and the bytes it took, or `None` while it is incomplete.
pub fn parse_response(buf: &[u8], method: &str) -> Option<(Response, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut r = httparse::Response::new(&mut headers);
    let head_len = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return None,
    };
    let status = r.code?;
    let headers: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    if (100..200).contains(&status) || status == 204 || status == 304 || method == "HEAD" {
        return Some((
            Response {
                status,
                headers,
                body: Vec::new(),
                trailers: Vec::new(),
            },
            head_len,
        ));
    }
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut i = head_len;
        let mut body = Vec::new();
        loop {
            let eol = buf[i..].windows(2).position(|w| w == b"\r\n")?;
            let size = usize::from_str_radix(
                std::str::from_utf8(&buf[i..i + eol])
                    .ok()?
                    .split(';')
                    .next()?,
                16,
            )
            .ok()?;
            i += eol + 2;
            if size == 0 {
                let mut trailers = Vec::new();
                loop {
                    let eol = buf[i..].windows(2).position(|w| w == b"\r\n")?;
                    let line = String::from_utf8_lossy(&buf[i..i + eol]).into_owned();
                    i += eol + 2;
                    if eol == 0 {
                        return Some((
                            Response {
                                status,
                                headers,
                                body,
                                trailers,
                            },
                            i,
                        ));
                    }
                    if let Some((n, v)) = line.split_once(':') {
                        trailers.push((n.trim().to_owned(), v.trim().to_owned()));
                    }
                }
            }
            if buf.len() < i + size + 2 {
                return None;
            }
            body.extend_from_slice(&buf[i..i + size]);
            i += size + 2;
        }
    }
    match get("content-length") {
        Some(v) => {
            let n: usize = v.trim().parse().ok()?;
            if buf.len() < head_len + n {
                return None;
            }
            Some((
                Response {
                    status,
                    headers,
                    body: buf[head_len..head_len + n].to_vec(),
                    trailers: Vec::new(),
                },
                head_len + n,
            ))
        }
        // Close-delimited: complete only when the caller saw EOF; tests avoid these.
        None => None,
    }
}
