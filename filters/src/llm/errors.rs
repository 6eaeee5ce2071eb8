//! Errors in the format of the LLM API the client called: OpenAI's `{"error":{...}}` or
//! Anthropic's `{"type":"error","error":{...}}`. Every LLM-route answer the gateway makes
//! itself (no such model, refused credentials, a limit reached, a guardrail) goes through
//! here, so an SDK raises its own typed exception for it.

use bytes::Bytes;
use tollgate_proto::h1::RequestHead;
use tollgate_proto::llm::{anthropic, openai};

use crate::LocalResponse;

/// The client API's wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    OpenAi,
    Anthropic,
}

impl Dialect {
    /// The format a request to `path` expects its errors in: Anthropic's for
    /// `/v1/messages` (and `/messages`), OpenAI's for everything else.
    pub fn of_path(path: &[u8]) -> Dialect {
        let p = path.strip_prefix(b"/v1").unwrap_or(path);
        if p.starts_with(b"/messages") {
            Dialect::Anthropic
        } else {
            Dialect::OpenAi
        }
    }

    /// [`Dialect::of_path`] for a request head (query removed).
    pub fn of_head(head: &RequestHead) -> Dialect {
        Dialect::of_path(head.path())
    }
}

/// An error body in `dialect`'s format. `code` is OpenAI's machine-readable code
/// (`model_not_found`, `rate_limit_exceeded`...); Anthropic's format has none.
pub fn error_body(dialect: Dialect, status: u16, message: &str, code: Option<&str>) -> Vec<u8> {
    match dialect {
        Dialect::OpenAi => {
            let mut e = openai::ErrorResponse::for_status(status, message);
            if let Some(code) = code {
                e = e.with_code(code);
            }
            serde_json::to_vec(&e)
        }
        Dialect::Anthropic => {
            serde_json::to_vec(&anthropic::ErrorResponse::for_status(status, message))
        }
    }
    .unwrap_or_default()
}

/// A complete error response in `dialect`'s format, `content-type: application/json`.
pub fn error_response(
    dialect: Dialect,
    status: u16,
    message: &str,
    code: Option<&str>,
) -> LocalResponse {
    LocalResponse {
        status,
        headers: vec![json_type()],
        body: Bytes::from(error_body(dialect, status, message, code)),
    }
}

pub fn json_type() -> (Bytes, Bytes) {
    (
        Bytes::from_static(b"content-type"),
        Bytes::from_static(b"application/json"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_follows_the_path() {
        assert_eq!(Dialect::of_path(b"/v1/messages"), Dialect::Anthropic);
        assert_eq!(Dialect::of_path(b"/messages"), Dialect::Anthropic);
        assert_eq!(Dialect::of_path(b"/v1/chat/completions"), Dialect::OpenAi);
        assert_eq!(Dialect::of_path(b"/v1/models"), Dialect::OpenAi);
    }

    #[test]
    fn bodies_take_the_format() {
        let o: serde_json::Value = serde_json::from_slice(&error_body(
            Dialect::OpenAi,
            404,
            "no model",
            Some("model_not_found"),
        ))
        .unwrap();
        assert_eq!(o["error"]["code"], "model_not_found");
        let a: serde_json::Value =
            serde_json::from_slice(&error_body(Dialect::Anthropic, 429, "slow down", None))
                .unwrap();
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "rate_limit_error");
    }
}
