//! Seeded mutation tests: every fixture, mangled thousands of ways, goes through the raw
//! scanner, the simd-json parser and every translator without a panic; and wherever
//! serde_json accepts the mangled body, the raw scanner agrees with it on `model` and
//! its edits keep the body valid JSON. (A cheap, deterministic stand-in for a fuzz
//! target, so it runs in CI.)

use serde_json::Value;
use tollgate_proto::llm::anthropic::{MessagesRequest, MessagesResponse, StreamEvent};
use tollgate_proto::llm::openai::{ChatChunk, ChatRequest, ChatResponse};
use tollgate_proto::llm::translate::{
    chat_response_to_messages, chat_to_messages, messages_response_to_chat, messages_to_chat,
    AnthropicToOpenAiStream, OpenAiToAnthropicStream, ToAnthropicOptions, ToOpenAiOptions,
};
use tollgate_proto::llm::{json, raw};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    const BYTES: &[u8] = b"{}[]\",:\\ 0-eatnul\x00\xff";
    let mut b = input.to_vec();
    for _ in 0..=rng.below(3) {
        let at = rng.below(b.len());
        match rng.below(4) {
            0 if !b.is_empty() => b[at] = BYTES[rng.below(BYTES.len())],
            1 if !b.is_empty() => {
                let end = (at + rng.below(16)).min(b.len());
                b.drain(at..end);
            }
            2 => {
                let end = (at + rng.below(32)).min(b.len());
                let piece = b[at..end].to_vec();
                b.splice(at..at, piece);
            }
            _ => b.insert(at.min(b.len()), BYTES[rng.below(BYTES.len())]),
        }
    }
    b
}

fn fixtures() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llm");
    let mut files = Vec::new();
    for sub in ["requests", "responses", "streams"] {
        let mut paths: Vec<_> = std::fs::read_dir(dir.join(sub))
            .expect("fixture dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        paths.sort();
        files.extend(paths.iter().map(|p| std::fs::read(p).expect("fixture")));
    }
    files
}

fn exercise_raw(body: &[u8]) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    if let Ok(fields) = raw::scan_routing(body) {
        if let Some(v) = &parsed {
            assert_eq!(
                v["model"].as_str(),
                Some(&*fields.model),
                "scanner and parser disagree"
            );
        }
        let mut copy = body.to_vec();
        raw::replace_model(&mut copy, fields.model_span, "renamed").expect("fresh span");
        if parsed.is_some() {
            let v: Value = serde_json::from_slice(&copy).expect("rename keeps JSON valid");
            assert_eq!(v["model"], "renamed");
        }
    }
    let mut copy = body.to_vec();
    if raw::request_usage(&mut copy).is_ok() && parsed.is_some() {
        let v: Value = serde_json::from_slice(&copy).expect("usage edit keeps JSON valid");
        assert_eq!(v["stream_options"]["include_usage"], true);
    }
}

fn exercise_typed(body: &[u8]) {
    let parse = |b: &[u8]| b.to_vec();
    if let Ok(req) = json::parse::<ChatRequest>(&mut parse(body)) {
        let _ = chat_to_messages(req, &ToAnthropicOptions::default());
    }
    if let Ok(req) = json::parse::<MessagesRequest>(&mut parse(body)) {
        let _ = messages_to_chat(req, &ToOpenAiOptions::default());
    }
    if let Ok(resp) = json::parse::<ChatResponse>(&mut parse(body)) {
        let _ = chat_response_to_messages(resp, "m".into());
    }
    if let Ok(resp) = json::parse::<MessagesResponse>(&mut parse(body)) {
        let _ = messages_response_to_chat(resp, "c".into(), 0);
    }
    if let Ok(chunks) = json::parse::<Vec<ChatChunk>>(&mut parse(body)) {
        let mut sm = OpenAiToAnthropicStream::new("m");
        let mut out = Vec::new();
        for c in chunks {
            if sm.push(c, &mut out).is_err() {
                break;
            }
        }
        let _ = sm.finish(&mut out);
    }
    if let Ok(events) = json::parse::<Vec<StreamEvent>>(&mut parse(body)) {
        let mut sm = AnthropicToOpenAiStream::new("c", 0, true);
        let mut out = Vec::new();
        for e in events {
            if sm.push(e, &mut out).is_err() {
                break;
            }
        }
    }
}

#[test]
fn mangled_fixtures_never_panic_and_raw_edits_agree_with_serde_json() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for fixture in fixtures() {
        exercise_raw(&fixture);
        exercise_typed(&fixture);
        for _ in 0..150 {
            let body = mutate(&mut rng, &fixture);
            exercise_raw(&body);
            exercise_typed(&body);
        }
    }
}
