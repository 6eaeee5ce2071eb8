//! Criterion micro-benchmark of the SSE scanner (`tollgate_proto::sse`) on the stream
//! shape the gateway forwards most: an OpenAI chat-completions stream of 64 content
//! chunks, a usage chunk and `[DONE]`, scanned whole and in 512-byte reads (events then
//! straddle reads and take the scanner's owned path).
//!
//! Run: `cargo bench -p tollgate-bench --bench sse`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tollgate_proto::sse::SseScanner;

fn openai_stream() -> Vec<u8> {
    let mut s = Vec::new();
    for i in 0..64 {
        s.extend_from_slice(
            format!(
                "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}},\"finish_reason\":null}}]}}\n\n"
            )
            .as_bytes(),
        );
    }
    s.extend_from_slice(b"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":64,\"total_tokens\":76}}\n\ndata: [DONE]\n\n");
    s
}

/// Scans `input` in reads of `read` bytes; returns the events seen.
fn scan(input: &[u8], read: usize) -> usize {
    let mut sc = SseScanner::default();
    let mut events = 0;
    for chunk in input.chunks(read) {
        let mut rest = chunk;
        loop {
            let Ok(step) = sc.scan(rest) else {
                return events;
            };
            if step.item.is_some() {
                events += 1;
            }
            rest = &rest[step.consumed..];
            if rest.is_empty() {
                break;
            }
        }
    }
    events
}

fn bench(c: &mut Criterion) {
    let stream = openai_stream();
    let mut g = c.benchmark_group("sse_scan_openai_66_events");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("whole", |b| {
        b.iter(|| scan(black_box(&stream), stream.len()))
    });
    g.bench_function("reads_512B", |b| b.iter(|| scan(black_box(&stream), 512)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
