//! Echo: the request as the mock received it, returned as JSON so that tests can check
//! what a proxy forwarded.
//!
//! Body of the answer:
//! `{"method","path","version","headers":[[name,value],...],"raw_head","body","body_len"}`
//! where `headers` keeps order and duplicates, `raw_head` is the head exactly as received
//! (lossy UTF-8), and `body` is the de-chunked body (lossy UTF-8).

/// The owned parts of a request head.
#[derive(Debug, Clone)]
pub struct EchoHead {
    method: String,
    path: String,
    version: String,
    headers: Vec<(String, String)>,
    raw_head: String,
}

impl EchoHead {
    /// Copies what echo needs out of a parsed head.
    pub fn new(req: &httparse::Request<'_, '_>, raw: &[u8]) -> Self {
        Self {
            method: req.method.unwrap_or("").to_string(),
            path: req.path.unwrap_or("").to_string(),
            version: format!("HTTP/1.{}", req.version.unwrap_or(1)),
            headers: req
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect(),
            raw_head: String::from_utf8_lossy(raw).into_owned(),
        }
    }

    /// The JSON answer for this head and `body`.
    pub fn to_json(&self, body: &[u8]) -> Vec<u8> {
        self.to_value(body).to_string().into_bytes()
    }

    /// The same, as a JSON value.
    pub fn to_value(&self, body: &[u8]) -> serde_json::Value {
        serde_json::json!({
            "method": self.method,
            "path": self.path,
            "version": self.version,
            "headers": self.headers,
            "raw_head": self.raw_head,
            "body": String::from_utf8_lossy(body),
            "body_len": body.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_head_and_body() {
        let raw = b"POST /echo?x=1 HTTP/1.1\r\nHost: a\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\n";
        let mut hs = [httparse::EMPTY_HEADER; 8];
        let mut req = httparse::Request::new(&mut hs);
        req.parse(raw).unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&EchoHead::new(&req, raw).to_json(b"hi")).unwrap();
        assert_eq!(v["method"], "POST");
        assert_eq!(v["path"], "/echo?x=1");
        assert_eq!(v["headers"][2], serde_json::json!(["X-Dup", "2"]));
        assert_eq!(v["body"], "hi");
        assert_eq!(v["body_len"], 2);
    }
}
