//! Fuzzes `resp::parse` as the Redis client drives it: a stream of pipelined replies
//! arriving in reads of 1–64 bytes (size from the first input byte; bit 6 picks small
//! limits, to reach the limit errors). Every reply parsed from the growing buffer must be
//! the one parsed from the whole stream at the same offset, a partial buffer never
//! exceeds `max_reply`, and each reply written back with `Value::encode` reads back
//! the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_proto::resp::{parse, Limits, Status, Value};

fuzz_target!(|data: &[u8]| {
    let Some((&seed, data)) = data.split_first() else {
        return;
    };
    let piece = usize::from(seed % 64) + 1;
    let limits = if seed & 0x40 != 0 {
        Limits {
            max_reply: 48,
            max_depth: 2,
            max_elements: 8,
        }
    } else {
        Limits::default()
    };
    // The replies of the whole stream, read at once.
    let mut whole = Vec::new();
    let mut at = 0;
    let whole_end = loop {
        match parse(&data[at..], &limits) {
            Ok(Status::Complete((v, n))) => {
                assert!(n > 0 && n <= limits.max_reply);
                whole.push((v, at + n));
                at += n;
            }
            other => break other.map(|_| ()),
        }
    };
    // The same stream in reads, consuming replies as they complete.
    let mut buf: Vec<u8> = Vec::new();
    let mut start = 0; // stream offset of buf[0]
    let mut fed = 0;
    let mut i = 0;
    let split_end = 'outer: loop {
        loop {
            match parse(&buf, &limits) {
                Ok(Status::Complete((v, n))) => {
                    let (want, end) = &whole[i];
                    assert_eq!(&v, want);
                    assert_eq!(start + n, *end);
                    i += 1;
                    buf.drain(..n);
                    start += n;
                }
                Ok(Status::Partial) => {
                    assert!(buf.len() <= limits.max_reply);
                    break;
                }
                Err(e) => break 'outer Err(e),
            }
        }
        if fed == data.len() {
            break Ok(());
        }
        let n = piece.min(data.len() - fed);
        buf.extend_from_slice(&data[fed..fed + n]);
        fed += n;
    };
    assert_eq!(i, whole.len());
    assert_eq!(split_end, whole_end);
    for (v, _) in &whole {
        let mut out = Vec::new();
        v.encode(&mut out);
        // `*-1` is written as `$-1`: both are Nil.
        if let Ok(Status::Complete((again, n))) = parse(&out, &Limits::default()) {
            assert_eq!(n, out.len());
            assert_eq!(&again, v);
        } else if !matches!(v, Value::Nil) {
            panic!("an encoded reply does not read back");
        }
    }
});
