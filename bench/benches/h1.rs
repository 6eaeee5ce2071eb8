//! Criterion micro-benchmarks of the HTTP/1.1 hot paths in `tollgate_proto::h1`: request
//! head parse (small and browser-like), request head serialise (with X-Forwarded-For),
//! response head parse, and the chunked scanner over a 16 KiB body.
//!
//! Run: `cargo bench -p tollgate-bench --bench h1` (profile `bench`: fat LTO, one codegen
//! unit). Inputs are built once; each iteration parses into a head that is reused, as
//! the connection driver reuses its per-connection head.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tollgate_proto::h1::{
    write_request_head, ChunkedScanner, HeadEdits, HeadLimits, Method, RequestForwarding,
    RequestHead, ResponseHead, Status,
};

/// What wrk and most load generators send.
const SMALL_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

/// A browser-like head of about 600 bytes: user agent, accept lists, cookies, fetch
/// metadata.
const BROWSER_GET: &[u8] = b"GET /api/v1/products/12345?ref=home&utm_source=newsletter HTTP/1.1\r\n\
Host: shop.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\
Accept-Language: en-GB,en;q=0.9\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Referer: https://shop.example.com/\r\n\
Cookie: session=4f9a1c2e7b3d4a8f9e0b1c2d3e4f5a6b; theme=dark\r\n\
X-Forwarded-For: 198.51.100.23\r\n\
Connection: keep-alive\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-Site: same-origin\r\n\
\r\n";

/// A typical upstream response head.
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
Server: nginx/1.22.1\r\n\
Date: Fri, 21 Nov 2025 17:00:00 GMT\r\n\
Content-Type: application/json; charset=utf-8\r\n\
Content-Length: 1234\r\n\
Connection: keep-alive\r\n\
Cache-Control: no-cache, private\r\n\
X-Request-Id: 7f3e9a2c-1b4d-4e8f-9a0b-c1d2e3f4a5b6\r\n\
Vary: Accept-Encoding\r\n\
\r\n";

fn parsed(raw: &[u8]) -> RequestHead {
    let mut head = RequestHead::default();
    let mut buf = BytesMut::from(raw);
    match head.parse(&mut buf, &HeadLimits::default()) {
        Ok(Status::Complete(())) => head,
        other => panic!("bench input does not parse: {other:?}"),
    }
}

fn request_parse(c: &mut Criterion) {
    let limits = HeadLimits::default();
    let mut g = c.benchmark_group("h1_request_parse");
    for (name, raw) in [("small_get", SMALL_GET), ("browser_get", BROWSER_GET)] {
        parsed(raw);
        g.throughput(Throughput::Bytes(raw.len() as u64));
        let mut head = RequestHead::default();
        g.bench_function(format!("{name}_{}B", raw.len()), |b| {
            b.iter_batched_ref(
                || BytesMut::from(raw),
                |buf| black_box(head.parse(buf, &limits)),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn request_serialise(c: &mut Criterion) {
    let mut g = c.benchmark_group("h1_request_serialise");
    let edits = HeadEdits::default();
    let fwd = RequestForwarding {
        client_ip: Some("192.0.2.7"),
        x_forwarded_for: true,
        x_forwarded_proto: Some("http"),
        ..RequestForwarding::default()
    };
    for (name, raw) in [("small_get", SMALL_GET), ("browser_get", BROWSER_GET)] {
        let head = parsed(raw);
        let mut out = Vec::with_capacity(4096);
        g.throughput(Throughput::Bytes(raw.len() as u64));
        g.bench_function(format!("{name}_xff"), |b| {
            b.iter(|| {
                out.clear();
                write_request_head(black_box(&head), &edits, &fwd, &mut out);
                black_box(out.len())
            })
        });
    }
    g.finish();
}

fn response_parse(c: &mut Criterion) {
    let limits = HeadLimits::default();
    let mut g = c.benchmark_group("h1_response_parse");
    g.throughput(Throughput::Bytes(RESPONSE.len() as u64));
    let mut head = ResponseHead::default();
    g.bench_function(format!("typical_{}B", RESPONSE.len()), |b| {
        b.iter_batched_ref(
            || BytesMut::from(RESPONSE),
            |buf| black_box(head.parse(buf, &limits, Method::Get)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// 16 KiB of data in 1 KiB chunks, then the last chunk.
fn chunked_body() -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..16u8 {
        body.extend_from_slice(b"400\r\n");
        body.extend(std::iter::repeat_n(b'a' + i, 1024));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    body
}

fn chunked_scan(c: &mut Criterion) {
    let body = chunked_body();
    let mut g = c.benchmark_group("h1_chunked_16KiB_1KiB_chunks");
    g.throughput(Throughput::Bytes(body.len() as u64));
    let mut scanner = ChunkedScanner::new(4096, 32 * 1024);

    g.bench_function("scan_whole", |b| {
        b.iter(|| {
            scanner.reset();
            let step = scanner.scan(black_box(&body)).expect("valid body");
            assert!(step.done && step.consumed == body.len());
        })
    });
    // As the body arrives from the socket: 4 KiB reads that split size lines and data.
    g.bench_function("scan_4KiB_reads", |b| {
        b.iter(|| {
            scanner.reset();
            for read in black_box(&body).chunks(4096) {
                let step = scanner.scan(read).expect("valid body");
                debug_assert_eq!(step.consumed, read.len());
            }
            assert!(scanner.is_done());
        })
    });
    g.bench_function("decode_whole", |b| {
        b.iter(|| {
            scanner.reset();
            let mut rest = black_box(&body[..]);
            let mut data = 0;
            while !rest.is_empty() {
                let step = scanner.decode(rest).expect("valid body");
                data += step.data.map_or(0, |s| s.len());
                rest = &rest[step.consumed..];
            }
            assert_eq!(data, 16 * 1024);
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    request_parse,
    request_serialise,
    response_parse,
    chunked_scan
);
criterion_main!(benches);
