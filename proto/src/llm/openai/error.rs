//! OpenAI's error body, `{"error":{"message","type","param","code"}}`, for gateway errors
//! and for relaying a provider's.
//!
//! The official SDKs pick the exception class from the HTTP status alone
//! (`BadRequestError` for 400, `AuthenticationError` for 401, `RateLimitError` for 429,
//! `InternalServerError` for 5xx, ...); `type` and `code` are informative. They follow
//! what api.openai.com sends where that is known:
//!
//! | status                  | `type`                  | `code`                |
//! |-------------------------|-------------------------|-----------------------|
//! | 401                     | `invalid_request_error` | `invalid_api_key`     |
//! | 403                     | `permission_error`      | null                  |
//! | 429                     | `rate_limit_error`      | `rate_limit_exceeded` |
//! | other 4xx (400, 404...) | `invalid_request_error` | null                  |
//! | 5xx and anything else   | `server_error`          | null                  |

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::llm::json::ParseError;
use crate::llm::TranslateError;

/// `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorBody,
}

/// The inner error object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Human-readable description.
    #[serde(default)]
    pub message: String,
    /// Error class, e.g. `invalid_request_error`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The request field at fault, if any.
    #[serde(default)]
    pub param: Option<String>,
    /// A machine-readable code. A string at OpenAI; some compatible servers (vLLM) send
    /// the HTTP status as a number, so it is kept as any JSON value.
    #[serde(default)]
    pub code: Option<Value>,
}

/// `type` and `code` for an HTTP status, per the table in the module doc.
pub fn error_type_for_status(status: u16) -> (&'static str, Option<&'static str>) {
    match status {
        401 => ("invalid_request_error", Some("invalid_api_key")),
        403 => ("permission_error", None),
        429 => ("rate_limit_error", Some("rate_limit_exceeded")),
        400..=499 => ("invalid_request_error", None),
        _ => ("server_error", None),
    }
}

impl ErrorResponse {
    /// The error body for a response with HTTP `status`.
    pub fn for_status(status: u16, message: impl Into<String>) -> Self {
        let (kind, code) = error_type_for_status(status);
        Self {
            error: ErrorBody {
                message: message.into(),
                kind: kind.to_owned(),
                param: None,
                code: code.map(|c| Value::String(c.to_owned())),
            },
        }
    }

    /// Sets `param`, the request field at fault.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.error.param = Some(param.into());
        self
    }

    /// Sets `code`, e.g. `model_not_found`.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.error.code = Some(Value::String(code.into()));
        self
    }

    /// The 400 for a request the gateway cannot translate, naming the field.
    pub fn from_translate(err: &TranslateError) -> Self {
        Self::for_status(400, err.to_string()).with_param(err.field.clone())
    }

    /// The 400 for a body that is not valid JSON of the expected shape.
    pub fn from_parse(err: &ParseError) -> Self {
        Self::for_status(400, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_by_status() {
        let cases = [
            (400, "invalid_request_error", None),
            (401, "invalid_request_error", Some("invalid_api_key")),
            (403, "permission_error", None),
            (404, "invalid_request_error", None),
            (429, "rate_limit_error", Some("rate_limit_exceeded")),
            (500, "server_error", None),
            (503, "server_error", None),
        ];
        for (status, kind, code) in cases {
            assert_eq!(
                error_type_for_status(status),
                (kind, code),
                "status {status}"
            );
        }
    }

    #[test]
    fn serialises_with_null_param_and_code() {
        let body = serde_json::to_value(ErrorResponse::for_status(400, "bad")).expect("ok");
        assert_eq!(
            body,
            json!({"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}})
        );
        let err = TranslateError::new("n", "Anthropic has no `n`");
        let body = serde_json::to_value(ErrorResponse::from_translate(&err)).expect("ok");
        assert_eq!(body["error"]["param"], "n");
        assert_eq!(body["error"]["message"], "n: Anthropic has no `n`");
    }

    #[test]
    fn parses_vllm_numeric_code() {
        let mut raw =
            br#"{"error":{"message":"x","type":"BadRequestError","param":null,"code":400}}"#
                .to_vec();
        let parsed: ErrorResponse = crate::llm::json::parse(&mut raw).expect("parses");
        assert_eq!(parsed.error.code, Some(json!(400)));
    }
}
