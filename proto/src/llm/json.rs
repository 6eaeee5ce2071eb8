//! Parsing LLM API bodies with simd-json, and writing them back with serde_json.
//!
//! simd-json parses in place: it unescapes strings inside the buffer it is given, so after
//! [`parse`] the body bytes are garbage and must not be forwarded. A request that will be
//! forwarded unchanged is therefore never parsed here; [`crate::llm::raw`] reads the few
//! fields routing needs from `&[u8]` instead.
//!
//! Invariants: never panics on input; every malformed body is a [`ParseError`] whose
//! message is fit for a 400 `invalid_request_error`.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Scratch buffers simd-json reuses between parses; keep one per core.
pub use simd_json::Buffers;

/// A body that is not valid JSON, or does not have the shape of the expected type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong, as simd-json or serde reported it.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON body: {}", self.message)
    }
}

impl std::error::Error for ParseError {}

impl From<simd_json::Error> for ParseError {
    fn from(e: simd_json::Error) -> Self {
        Self {
            message: e.to_string(),
        }
    }
}

/// Parses `body` (clobbering it, see the module doc) into `T`.
pub fn parse<T: DeserializeOwned>(body: &mut [u8]) -> Result<T, ParseError> {
    Ok(simd_json::serde::from_slice(body)?)
}

/// Like [`parse`], reusing the caller's scratch `buffers` instead of allocating new ones.
pub fn parse_with_buffers<T: DeserializeOwned>(
    body: &mut [u8],
    buffers: &mut Buffers,
) -> Result<T, ParseError> {
    Ok(simd_json::serde::from_slice_with_buffers(body, buffers)?)
}

/// Appends the JSON encoding of `value` to `out` (caller-owned, reusable).
pub fn write<T: Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), ParseError> {
    serde_json::to_writer(out, value).map_err(|e| ParseError {
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::openai::ChatRequest;

    #[test]
    fn parses_a_chat_request_and_rejects_garbage() {
        let mut body =
            br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#.to_vec();
        let req: ChatRequest = parse(&mut body).expect("valid body");
        assert_eq!(req.model, "gpt-4o");

        let mut buffers = Buffers::default();
        for bad in [
            &b"{"[..],
            b"",
            b"[]",
            b"{\"model\":1}",
            b"{\"messages\":[]}",
        ] {
            let mut body = bad.to_vec();
            assert!(parse_with_buffers::<ChatRequest>(&mut body, &mut buffers).is_err());
        }
    }

    #[test]
    fn write_appends() {
        let mut out = b"x".to_vec();
        write(&serde_json::json!({"a": 1}), &mut out).expect("serialisable");
        assert_eq!(out, b"x{\"a\":1}");
    }
}
