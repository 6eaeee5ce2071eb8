//! Error bodies from one API's format to the other's, so a client always gets errors in
//! the format of the API it called.
//!
//! With an HTTP status, the target type comes from the status (the tables in
//! `openai/error.rs` and `anthropic/error.rs`). Inside a stream there is no status, so
//! the type itself is mapped:
//!
//! | Anthropic `error.type`                        | OpenAI `type`            |
//! |-----------------------------------------------|--------------------------|
//! | `invalid_request_error`, `not_found_error`, `request_too_large` | `invalid_request_error` |
//! | `authentication_error`                        | `invalid_request_error`  |
//! | `permission_error`                            | `permission_error`       |
//! | `rate_limit_error`                            | `rate_limit_error`       |
//! | `billing_error`                               | `insufficient_quota`     |
//! | `api_error`, `overloaded_error`, `timeout_error`, other | `server_error` |
//!
//! and back: `invalid_request_error` → `invalid_request_error`; `rate_limit_error`,
//! `requests`, `tokens` → `rate_limit_error`; `insufficient_quota` → `billing_error`;
//! `permission_error` → `permission_error`; `authentication_error` →
//! `authentication_error`; anything else → `api_error`. The message is kept verbatim.

use crate::llm::{anthropic, openai};

/// An OpenAI-format provider error with HTTP `status`, in Anthropic's format.
pub fn error_to_anthropic(status: u16, err: openai::ErrorResponse) -> anthropic::ErrorResponse {
    anthropic::ErrorResponse::for_status(status, err.error.message)
}

/// An Anthropic-format provider error with HTTP `status`, in OpenAI's format.
pub fn error_to_openai(status: u16, err: anthropic::ErrorResponse) -> openai::ErrorResponse {
    openai::ErrorResponse::for_status(status, err.error.message)
}

/// A stream's error object (no status), OpenAI → Anthropic.
pub fn stream_error_to_anthropic(err: openai::ErrorBody) -> anthropic::ErrorBody {
    let kind = match err.kind.as_str() {
        "invalid_request_error" => "invalid_request_error",
        "rate_limit_error" | "requests" | "tokens" => "rate_limit_error",
        "insufficient_quota" => "billing_error",
        "permission_error" => "permission_error",
        "authentication_error" => "authentication_error",
        _ => "api_error",
    };
    anthropic::ErrorBody {
        kind: kind.to_owned(),
        message: err.message,
    }
}

/// A stream's error object (no status), Anthropic → OpenAI.
pub fn stream_error_to_openai(err: anthropic::ErrorBody) -> openai::ErrorResponse {
    let kind = match err.kind.as_str() {
        "invalid_request_error"
        | "not_found_error"
        | "request_too_large"
        | "authentication_error" => "invalid_request_error",
        "permission_error" => "permission_error",
        "rate_limit_error" => "rate_limit_error",
        "billing_error" => "insufficient_quota",
        _ => "server_error",
    };
    openai::ErrorResponse {
        error: openai::ErrorBody {
            message: err.message,
            kind: kind.to_owned(),
            param: None,
            code: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_status_keeps_the_message() {
        let oa = openai::ErrorResponse::for_status(429, "slow down");
        let an = error_to_anthropic(429, oa);
        assert_eq!(
            (an.error.kind.as_str(), an.error.message.as_str()),
            ("rate_limit_error", "slow down")
        );
        let back = error_to_openai(529, anthropic::ErrorResponse::for_status(529, "Overloaded"));
        assert_eq!(back.error.kind, "server_error");
        assert_eq!(back.error.message, "Overloaded");
    }

    #[test]
    fn stream_types() {
        let cases = [
            ("overloaded_error", "server_error"),
            ("rate_limit_error", "rate_limit_error"),
            ("invalid_request_error", "invalid_request_error"),
            ("billing_error", "insufficient_quota"),
        ];
        for (anthropic_kind, openai_kind) in cases {
            let body = anthropic::ErrorBody {
                kind: anthropic_kind.into(),
                message: "m".into(),
            };
            let oa = stream_error_to_openai(body);
            assert_eq!(oa.error.kind, openai_kind);
            let back = stream_error_to_anthropic(oa.error);
            let expected = if anthropic_kind == "overloaded_error" {
                "api_error"
            } else {
                anthropic_kind
            };
            assert_eq!(back.kind, expected);
        }
    }
}
