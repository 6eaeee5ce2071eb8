//! `/v1/models` and `/v1/embeddings`.
//!
//! Embeddings are deterministic: component `j` of the vector for input `s` is derived from
//! FNV-1a(s) and `j`, in [-1, 1); the vector is not normalised. `dimensions` in the request
//! sets the size (capped at 4096), else `--embedding-dims`. Prompt tokens are the words of
//! all inputs.

use serde_json::{json, Value};

use super::text;

/// The model list.
pub fn models(ids: &[String]) -> Value {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000u64, "owned_by": "tollgate-mock"}))
        .collect();
    json!({"object": "list", "data": data})
}

/// The embeddings answer.
pub fn embeddings(req: &Value, default_dims: usize) -> Value {
    let inputs = text::input_strings(req.get("input"));
    let dims = req
        .get("dimensions")
        .and_then(Value::as_u64)
        .map_or(default_dims, |d| d as usize)
        .clamp(1, 4096);
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let seed = text::fnv1a(s.as_bytes());
            let v: Vec<f64> = (0..dims as u64)
                .map(|j| {
                    let h =
                        text::fnv1a(&(seed ^ j.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes());
                    ((h >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
                })
                .collect();
            json!({"object": "embedding", "index": i, "embedding": v})
        })
        .collect();
    let tokens: u64 = inputs.iter().map(|s| text::count_words(s)).sum();
    json!({
        "object": "list", "data": data,
        "model": req.get("model").and_then(Value::as_str).unwrap_or("mock-embedding"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_deterministic() {
        let req = json!({"model": "e", "input": ["a b", "c"], "dimensions": 4});
        let a = embeddings(&req, 8);
        assert_eq!(a, embeddings(&req, 8));
        assert_eq!(a["data"][1]["embedding"].as_array().unwrap().len(), 4);
        assert_eq!(a["usage"]["prompt_tokens"], 3);
        assert_eq!(models(&["m".into()])["data"][0]["id"], "m");
    }
}
