//! `/v1/models` and `/v1/embeddings`.
//!
//! Embeddings are deterministic: component `j` of the vector for input `s` is derived from
//! FNV-1a(s) and `j`, in [-1, 1); the vector is not normalised. `dimensions` in the request
//! sets the size (capped at 4096), else `--embedding-dims`. Prompt tokens are the words of
//! all inputs. With `"encoding_format": "base64"` (which the official OpenAI SDKs send by
//! default) each vector is the base64 of its components as little-endian f32, as the API
//! answers; otherwise a JSON array of numbers.

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
    let base64 = req.get("encoding_format").and_then(Value::as_str) == Some("base64");
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
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect();
                Value::String(base64_encode(&bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens: u64 = inputs.iter().map(|s| text::count_words(s)).sum();
    json!({
        "object": "list", "data": data,
        "model": req.get("model").and_then(Value::as_str).unwrap_or("mock-embedding"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for k in 0..4 {
            if k <= group.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * k) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
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

    #[test]
    fn base64_embeddings_are_the_f32_vector() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        let req = json!({"model": "e", "input": "a b", "dimensions": 2});
        let floats = embeddings(&req, 8);
        let mut req64 = req.clone();
        req64["encoding_format"] = json!("base64");
        let b64 = embeddings(&req64, 8);
        let bytes: Vec<u8> = floats["data"][0]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|x| (x.as_f64().unwrap() as f32).to_le_bytes())
            .collect();
        assert_eq!(b64["data"][0]["embedding"], base64_encode(&bytes));
    }
}
