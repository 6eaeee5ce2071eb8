//! Reading fixtures and comparing JSON.

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tollgate_proto::llm::json;

fn path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/llm")
        .join(rel)
}

/// True when the fixture exists.
pub fn exists(rel: &str) -> bool {
    path(rel).exists()
}

/// The fixture parsed with simd-json into `T`, as the gateway parses bodies.
pub fn typed<T: DeserializeOwned>(rel: &str) -> T {
    let mut bytes = std::fs::read(path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    json::parse(&mut bytes).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The fixture as a JSON value.
pub fn value(rel: &str) -> Value {
    let bytes = std::fs::read(path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `<case>.<side>_back.json` if it exists, else `<case>.<side>.json`.
pub fn back_or_same(dir: &str, case: &str, side: &str) -> String {
    let back = format!("{dir}/{case}.{side}_back.json");
    if exists(&back) {
        back
    } else {
        format!("{dir}/{case}.{side}.json")
    }
}

/// `t` serialised as the gateway would send it, read back as a JSON value.
pub fn to_value<T: Serialize>(t: &T) -> Value {
    let mut out = Vec::new();
    json::write(t, &mut out).expect("serialisable");
    serde_json::from_slice(&out).expect("valid JSON")
}

/// Drops object members whose value is null: both APIs read null as absent.
pub fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// Asserts equality with a readable diff of both documents.
#[track_caller]
pub fn assert_json_eq(got: &Value, expected: &Value, what: &str) {
    if got != expected {
        panic!(
            "{what}: translation differs from the fixture\n--- got\n{}\n--- expected\n{}",
            serde_json::to_string_pretty(got).unwrap_or_default(),
            serde_json::to_string_pretty(expected).unwrap_or_default()
        );
    }
}
