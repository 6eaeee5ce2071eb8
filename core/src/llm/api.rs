//! Which API a client called, and errors in that API's own format.
//!
//! A client that calls `/v1/messages` gets Anthropic's `{"type":"error","error":{...}}`;
//! every other endpoint is OpenAI's and gets `{"error":{...}}`. That holds for errors the
//! gateway makes itself (no such model, body too large, all deployments failed) as well
//! as for a provider's error translated from the other format, so an SDK raises its own
//! typed exception either way.

use tollgate_proto::llm::{anthropic, openai, translate};
use tollgate_proto::sse::{write_event, EventOut, LineEnd};

/// The endpoint a client called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI `POST /v1/chat/completions`.
    Chat,
    /// OpenAI `POST /v1/completions` (legacy text completions).
    Completions,
    /// OpenAI `POST /v1/embeddings`.
    Embeddings,
    /// OpenAI `GET /v1/models`.
    Models,
    /// Anthropic `POST /v1/messages`.
    Messages,
}

pub use tollgate_filters::llm::{error_body, error_response, Dialect};

impl Api {
    /// The endpoint for a request path (query already removed). Both `/v1/x` and `/x`
    /// are accepted, since clients differ on whether their base URL ends in `/v1`.
    pub fn from_path(path: &[u8]) -> Option<Api> {
        let p = path.strip_prefix(b"/v1").unwrap_or(path);
        let p = p.strip_suffix(b"/").unwrap_or(p);
        Some(match p {
            b"/chat/completions" => Api::Chat,
            b"/completions" => Api::Completions,
            b"/embeddings" => Api::Embeddings,
            b"/models" => Api::Models,
            b"/messages" => Api::Messages,
            _ => return None,
        })
    }

    pub fn dialect(self) -> Dialect {
        match self {
            Api::Messages => Dialect::Anthropic,
            _ => Dialect::OpenAi,
        }
    }

    /// The path below a provider's base path (`/v1`) for a request in `dialect`.
    pub fn provider_path(self, dialect: Dialect) -> &'static str {
        match (self, dialect) {
            (Api::Chat | Api::Messages, Dialect::OpenAi) => "/chat/completions",
            (Api::Chat | Api::Messages, Dialect::Anthropic) => "/messages",
            (Api::Completions, _) => "/completions",
            (Api::Embeddings, _) => "/embeddings",
            (Api::Models, _) => "/models",
        }
    }

    /// The `gen_ai.operation.name` of the OpenTelemetry GenAI conventions.
    pub fn operation(self) -> &'static str {
        match self {
            Api::Chat | Api::Messages => "chat",
            Api::Completions => "text_completion",
            Api::Embeddings => "embeddings",
            Api::Models => "models",
        }
    }

    /// Whether a provider speaking `dialect` serves this endpoint. Anthropic has no
    /// legacy completions and no embeddings.
    pub fn served_by(self, dialect: Dialect) -> bool {
        !matches!(
            (self, dialect),
            (Api::Completions | Api::Embeddings, Dialect::Anthropic)
        )
    }
}

pub use tollgate_filters::llm::errors::json_type;

/// A provider's error body, re-expressed for a client speaking `client`. The body is
/// passed through untouched when the formats agree; a body that does not parse as the
/// provider's error format becomes a generic error with the same status.
pub fn translate_error_body(
    client: Dialect,
    provider: Dialect,
    status: u16,
    body: &[u8],
) -> Vec<u8> {
    if client == provider {
        return body.to_vec();
    }
    let translated = match provider {
        Dialect::OpenAi => serde_json::from_slice::<openai::ErrorResponse>(body)
            .ok()
            .map(|e| serde_json::to_vec(&translate::error_to_anthropic(status, e))),
        Dialect::Anthropic => serde_json::from_slice::<anthropic::ErrorResponse>(body)
            .ok()
            .map(|e| serde_json::to_vec(&translate::error_to_openai(status, e))),
    };
    match translated {
        Some(Ok(b)) => b,
        _ => error_body(
            client,
            status,
            &format!("the provider answered {status}"),
            None,
        ),
    }
}

/// Appends the event that ends a stream with an error, in `dialect`'s stream format:
/// `data: {"error":{...}}` for OpenAI (the SDK raises on it), an `error` event for
/// Anthropic.
pub fn write_stream_error(dialect: Dialect, status: u16, message: &str, out: &mut Vec<u8>) {
    let (event, data) = match dialect {
        Dialect::OpenAi => (None, error_body(dialect, status, message, None)),
        Dialect::Anthropic => (
            Some(&b"error"[..]),
            error_body(dialect, status, message, None),
        ),
    };
    let ev = EventOut {
        event,
        data: &data,
        ..EventOut::default()
    };
    // Cannot fail: the event type is a constant without line breaks and there is no id.
    let _ = write_event(out, &ev, LineEnd::Lf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_endpoints() {
        assert_eq!(Api::from_path(b"/v1/chat/completions"), Some(Api::Chat));
        assert_eq!(Api::from_path(b"/chat/completions"), Some(Api::Chat));
        assert_eq!(Api::from_path(b"/v1/messages"), Some(Api::Messages));
        assert_eq!(Api::from_path(b"/v1/models/"), Some(Api::Models));
        assert_eq!(Api::from_path(b"/v1/embeddings"), Some(Api::Embeddings));
        assert_eq!(Api::from_path(b"/v1/completions"), Some(Api::Completions));
        assert_eq!(Api::from_path(b"/v1/chat"), None);
        assert_eq!(Api::from_path(b"/v2/messages"), None);
    }

    #[test]
    fn errors_take_the_clients_format() {
        let o: serde_json::Value = serde_json::from_slice(&error_body(
            Dialect::OpenAi,
            404,
            "no model",
            Some("model_not_found"),
        ))
        .unwrap();
        assert_eq!(o["error"]["code"], "model_not_found");
        assert_eq!(o["error"]["type"], "invalid_request_error");
        let a: serde_json::Value =
            serde_json::from_slice(&error_body(Dialect::Anthropic, 429, "slow down", None))
                .unwrap();
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "rate_limit_error");
    }

    #[test]
    fn provider_errors_are_translated() {
        let anth = br#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#;
        let o: serde_json::Value = serde_json::from_slice(&translate_error_body(
            Dialect::OpenAi,
            Dialect::Anthropic,
            529,
            anth,
        ))
        .unwrap();
        assert_eq!(o["error"]["message"], "busy");
        let garbage = translate_error_body(Dialect::Anthropic, Dialect::OpenAi, 500, b"<html>");
        let a: serde_json::Value = serde_json::from_slice(&garbage).unwrap();
        assert_eq!(a["error"]["type"], "api_error");
        assert_eq!(
            translate_error_body(Dialect::OpenAi, Dialect::OpenAi, 400, b"as is"),
            b"as is"
        );
    }

    #[test]
    fn stream_errors_are_events() {
        let mut out = Vec::new();
        write_stream_error(Dialect::Anthropic, 502, "upstream broke", &mut out);
        let s = String::from_utf8(out).unwrap();
        assert!(
            s.starts_with("event: error\ndata: {\"type\":\"error\""),
            "{s}"
        );
        assert!(s.ends_with("\n\n"));
        let mut out = Vec::new();
        write_stream_error(Dialect::OpenAi, 502, "upstream broke", &mut out);
        assert!(out.starts_with(b"data: {\"error\":"));
    }
}
