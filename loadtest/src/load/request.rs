//! Request bytes, formatted once before the run: request line, `Host`, the user's
//! headers, `Content-Length` when there is a body (or the method usually carries one).

use crate::target::Target;

/// Formats one full request.
pub fn format(method: &str, target: &Target, headers: &[String], body: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + body.map_or(0, <[u8]>::len));
    out.extend_from_slice(format!("{method} {} HTTP/1.1\r\n", target.path).as_bytes());
    let has = |name: &str| {
        headers.iter().any(|h| {
            h.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        })
    };
    if !has("host") {
        out.extend_from_slice(format!("Host: {}\r\n", target.authority()).as_bytes());
    }
    if !has("user-agent") {
        out.extend_from_slice(b"User-Agent: tollgate-load\r\n");
    }
    if body.is_some() && !has("content-type") && body.is_some_and(|b| b.first() == Some(&b'{')) {
        out.extend_from_slice(b"Content-Type: application/json\r\n");
    }
    for h in headers {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let carries_body = matches!(method, "POST" | "PUT" | "PATCH");
    if !has("content-length") && !has("transfer-encoding") && (body.is_some() || carries_body) {
        out.extend_from_slice(
            format!("Content-Length: {}\r\n", body.map_or(0, <[u8]>::len)).as_bytes(),
        );
    }
    out.extend_from_slice(b"\r\n");
    if let Some(b) = body {
        out.extend_from_slice(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::parse_target;

    #[test]
    fn formats_a_post() {
        let t = parse_target("http://127.0.0.1:8080/v1?a=b").unwrap();
        let r = format("POST", &t, &["X-K: v".into()], Some(b"{}"));
        let s = String::from_utf8(r).unwrap();
        assert!(s.starts_with("POST /v1?a=b HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        assert!(
            s.contains("Content-Type: application/json\r\nX-K: v\r\nContent-Length: 2\r\n\r\n{}")
        );
        let g = String::from_utf8(format("GET", &t, &["host: x".into()], None)).unwrap();
        assert!(!g.contains("Host: 127") && !g.contains("Content-Length"));
    }
}
