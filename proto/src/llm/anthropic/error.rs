//! Anthropic's error body, `{"type":"error","error":{"type","message"}}`, for gateway
//! errors and for relaying a provider's; the same `error` object is the payload of a
//! stream's `error` event.
//!
//! Types by HTTP status, as Anthropic documents them:
//!
//! | status | `error.type`            |
//! |--------|-------------------------|
//! | 400    | `invalid_request_error` |
//! | 401    | `authentication_error`  |
//! | 402    | `billing_error`         |
//! | 403    | `permission_error`      |
//! | 404    | `not_found_error`       |
//! | 413    | `request_too_large`     |
//! | 429    | `rate_limit_error`      |
//! | 500    | `api_error`             |
//! | 503, 529 | `overloaded_error` (Anthropic sends 529; a gateway's 503 means the same) |
//! | 504    | `timeout_error`         |
//! | other 4xx | `invalid_request_error` |
//! | other  | `api_error`             |

use serde::{Deserialize, Serialize};

use crate::llm::json::ParseError;
use crate::llm::TranslateError;

/// `{"type":"error","error":{...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// Always `error`.
    #[serde(rename = "type", default = "error")]
    pub kind: String,
    /// The error.
    pub error: ErrorBody,
    /// Anthropic's request id, when relayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

fn error() -> String {
    "error".to_owned()
}

/// The inner error object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Error class, e.g. `overloaded_error`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Human-readable description.
    #[serde(default)]
    pub message: String,
}

/// `error.type` for an HTTP status, per the table in the module doc.
pub fn error_type_for_status(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

impl ErrorBody {
    /// The error object for HTTP `status`.
    pub fn for_status(status: u16, message: impl Into<String>) -> Self {
        Self {
            kind: error_type_for_status(status).to_owned(),
            message: message.into(),
        }
    }
}

impl ErrorResponse {
    /// The error body for a response with HTTP `status`.
    pub fn for_status(status: u16, message: impl Into<String>) -> Self {
        Self {
            kind: error(),
            error: ErrorBody::for_status(status, message),
            request_id: None,
        }
    }

    /// The 400 for a request the gateway cannot translate, naming the field.
    pub fn from_translate(err: &TranslateError) -> Self {
        Self::for_status(400, err.to_string())
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
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (409, "invalid_request_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "overloaded_error"),
            (504, "timeout_error"),
            (529, "overloaded_error"),
        ];
        for (status, kind) in cases {
            assert_eq!(error_type_for_status(status), kind, "status {status}");
        }
    }

    #[test]
    fn serialises_like_anthropic() {
        let body = serde_json::to_value(ErrorResponse::for_status(529, "Overloaded")).expect("ok");
        assert_eq!(
            body,
            json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})
        );
    }
}
