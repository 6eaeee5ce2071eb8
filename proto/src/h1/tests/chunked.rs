//! The chunked scanner: one row per rule of RFC 9112 §7.1, each run whole, split at
//! every point and fed byte by byte, through both `scan` and `decode`.

use super::super::{ChunkedScanner, H1Error};

use H1Error::*;

const MAX_LINE: usize = 64;
const MAX_TRAILER: usize = 64;

/// `(rule, body, Ok(decoded data) or the error)`. Valid rows are followed by "NEXT",
/// the start of the next message, which the scanner must leave alone.
#[allow(clippy::type_complexity)]
const RULES: &[(&str, &[u8], Result<&[u8], H1Error>)] = &[
    ("one chunk", b"5\r\nhello\r\n0\r\n\r\n", Ok(b"hello")),
    (
        "two chunks",
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        Ok(b"hello world"),
    ),
    ("empty body", b"0\r\n\r\n", Ok(b"")),
    (
        "upper- and lower-case hex",
        b"a\r\n0123456789\r\nB\r\n0123456789a\r\n0\r\n\r\n",
        Ok(b"01234567890123456789a"),
    ),
    (
        "leading zeros",
        b"0005\r\nhello\r\n000\r\n\r\n",
        Ok(b"hello"),
    ),
    (
        "zeros beyond 16 digits",
        b"000000000000000000001\r\nx\r\n0\r\n\r\n",
        Ok(b"x"),
    ),
    ("extension name", b"5;a\r\nhello\r\n0\r\n\r\n", Ok(b"hello")),
    (
        "extension token value",
        b"5;a=b;c=d\r\nhello\r\n0;last\r\n\r\n",
        Ok(b"hello"),
    ),
    (
        "extension with BWS",
        b"5 ;\ta = b ; c\r\nhello\r\n0\r\n\r\n",
        Ok(b"hello"),
    ),
    (
        "extension quoted value",
        b"5;a=\"x; \\\"y\\\"\"\r\nhello\r\n0\r\n\r\n",
        Ok(b"hello"),
    ),
    (
        "trailer fields",
        b"5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-Empty:\r\n\r\n",
        Ok(b"hello"),
    ),
    (
        "data holding CRLF",
        b"4\r\n\r\n\r\n\r\n0\r\n\r\n",
        Ok(b"\r\n\r\n"),
    ),
    ("0x prefix", b"0x10\r\n", Err(InvalidChunkSize)),
    ("minus sign", b"-1\r\n", Err(InvalidChunkSize)),
    ("plus sign", b"+1\r\n", Err(InvalidChunkSize)),
    ("underscore", b"1_0\r\n", Err(InvalidChunkSize)),
    ("leading space", b" 1\r\n", Err(InvalidChunkSize)),
    ("empty size", b"\r\n", Err(InvalidChunkSize)),
    ("non-hex letter", b"g\r\n", Err(InvalidChunkSize)),
    (
        "17 significant hex digits",
        b"10000000000000000\r\n",
        Err(InvalidChunkSize),
    ),
    (
        "LF-only size line",
        b"5\nhello\r\n0\r\n\r\n",
        Err(InvalidChunkSize),
    ),
    (
        "CR then junk in size line",
        b"5\rxhello\r\n",
        Err(InvalidChunkSize),
    ),
    (
        "trailing space without extension",
        b"5 \r\nhello\r\n0\r\n\r\n",
        Err(InvalidChunkExtension),
    ),
    (
        "empty extension",
        b"5;\r\nhello\r\n",
        Err(InvalidChunkExtension),
    ),
    (
        "extension without name",
        b"5;=b\r\nhello\r\n",
        Err(InvalidChunkExtension),
    ),
    (
        "extension without value",
        b"5;a=\r\nhello\r\n",
        Err(InvalidChunkExtension),
    ),
    (
        "extension value with space",
        b"5;a=b c\r\nhello\r\n",
        Err(InvalidChunkExtension),
    ),
    (
        "extension with control",
        b"5;a=\x01\r\nhello\r\n",
        Err(InvalidChunkExtension),
    ),
    (
        "unterminated quoted value",
        b"5;a=\"x\r\nhello\r\n",
        Err(InvalidChunkExtension),
    ),
    (
        "junk after quoted value",
        b"5;a=\"x\"y\r\nhello\r\n",
        Err(InvalidChunkExtension),
    ),
    (
        "data longer than its size",
        b"5\r\nhelloX\r\n0\r\n\r\n",
        Err(InvalidChunkTerminator),
    ),
    (
        "data shorter than its size",
        b"5\r\nhell\r\n0\r\n\r\n",
        Err(InvalidChunkTerminator),
    ),
    (
        "LF-only after data",
        b"5\r\nhello\n0\r\n\r\n",
        Err(InvalidChunkTerminator),
    ),
    (
        "CR without LF after data",
        b"5\r\nhello\rx",
        Err(InvalidChunkTerminator),
    ),
    (
        "size line over the limit",
        b"00000000000000000000000000000000000000000000000000000000000000001\r\n",
        Err(ChunkLineTooLong),
    ),
    (
        "extension over the limit",
        b"1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        Err(ChunkLineTooLong),
    ),
    (
        "trailers over the limit",
        b"0\r\nX-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
        Err(ChunkLineTooLong),
    ),
    (
        "trailer obs-fold",
        b"0\r\nX: a\r\n b\r\n\r\n",
        Err(InvalidTrailer),
    ),
    (
        "trailer space before colon",
        b"0\r\nX : a\r\n\r\n",
        Err(InvalidTrailer),
    ),
    (
        "trailer without colon",
        b"0\r\nX\r\n\r\n",
        Err(InvalidTrailer),
    ),
    ("trailer NUL", b"0\r\nX: \0\r\n\r\n", Err(InvalidTrailer)),
    ("trailer LF-only", b"0\r\nX: a\n\r\n", Err(InvalidTrailer)),
    ("final LF-only", b"0\r\n\n", Err(InvalidTrailer)),
];

/// Feeds `pieces` to a fresh scanner; `decode` collects the data. Returns the data, the
/// bytes consumed, and whether the body was done.
fn run(pieces: &[&[u8]], decode: bool) -> Result<(Vec<u8>, usize, bool), H1Error> {
    let mut scanner = ChunkedScanner::new(MAX_LINE, MAX_TRAILER);
    let (mut data, mut consumed) = (Vec::new(), 0);
    for piece in pieces {
        let mut rest = *piece;
        loop {
            let step = if decode {
                scanner.decode(rest)?
            } else {
                scanner.scan(rest)?
            };
            assert!(step.consumed <= rest.len());
            if let Some(span) = step.data {
                assert!(decode, "scan reports no data");
                data.extend_from_slice(span.of(rest));
            }
            consumed += step.consumed;
            rest = &rest[step.consumed..];
            assert_eq!(step.done, scanner.is_done());
            if step.done || rest.is_empty() {
                break;
            }
            // Only decode stops early, and only after a data run.
            assert!(
                decode && step.data.is_some(),
                "scan left input while not done"
            );
        }
        if scanner.is_done() {
            break;
        }
    }
    Ok((data, consumed, scanner.is_done()))
}

fn check(rule: &str, input: &[u8], want: &Result<&[u8], H1Error>, pieces: &[&[u8]]) {
    for decode in [false, true] {
        let got = run(pieces, decode);
        match (want, got) {
            (Ok(data), Ok((d, consumed, done))) => {
                assert!(done, "{rule}: not done");
                assert_eq!(consumed, input.len() - 4, "{rule}: consumed");
                if decode {
                    assert_eq!(&d[..], *data, "{rule}: data");
                }
            }
            (Err(e), Err(g)) => assert_eq!(g, *e, "{rule}"),
            (_, got) => panic!("{rule} (decode {decode}): got {got:?}"),
        }
    }
}

fn with_next(input: &[u8], want: &Result<&[u8], H1Error>) -> Vec<u8> {
    let mut v = input.to_vec();
    if want.is_ok() {
        v.extend_from_slice(b"NEXT");
    }
    v
}

#[test]
fn each_chunked_rule_whole() {
    for (rule, input, want) in RULES {
        let input = with_next(input, want);
        check(rule, &input, want, &[&input]);
    }
}

#[test]
fn each_chunked_rule_at_every_split_point() {
    for (rule, input, want) in RULES {
        let input = with_next(input, want);
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            check(&format!("{rule} @{cut}"), &input, want, &[a, b]);
        }
    }
}

#[test]
fn each_chunked_rule_byte_by_byte() {
    for (rule, input, want) in RULES {
        let input = with_next(input, want);
        let pieces: Vec<&[u8]> = input.chunks(1).collect();
        check(rule, &input, want, &pieces);
    }
}

#[test]
fn data_runs_are_skipped_whole() {
    let mut scanner = ChunkedScanner::new(MAX_LINE, MAX_TRAILER);
    assert_eq!(scanner.scan(b"FFFFFFFFFFFFFFFF\r\n").unwrap().consumed, 18);
    let big = vec![b'x'; 1 << 20];
    let step = scanner.scan(&big).unwrap();
    assert_eq!((step.consumed, step.done), (big.len(), false));
    let step = scanner.decode(&big).unwrap();
    assert_eq!(step.data.map(|s| s.len()), Some(big.len()));
}

#[test]
fn errors_are_sticky_and_reset_clears_them() {
    let mut scanner = ChunkedScanner::new(MAX_LINE, MAX_TRAILER);
    assert_eq!(scanner.scan(b"0x1\r\n"), Err(InvalidChunkSize));
    assert_eq!(scanner.scan(b"0\r\n\r\n"), Err(InvalidChunkSize));
    scanner.reset();
    let step = scanner.scan(b"0\r\n\r\n").unwrap();
    assert!(step.done && scanner.is_done());
    // A done scanner consumes nothing more.
    assert_eq!(scanner.scan(b"5\r\n").unwrap().consumed, 0);
    scanner.reset();
    assert!(!scanner.is_done());
}

#[test]
fn trailer_limit_counts_field_lines_only() {
    let mut scanner = ChunkedScanner::new(MAX_LINE, 0);
    assert!(scanner.scan(b"0\r\n\r\n").unwrap().done);
    scanner.reset();
    assert_eq!(scanner.scan(b"0\r\nX: y\r\n\r\n"), Err(ChunkLineTooLong));
    // "X: y\r\n" is 6 bytes.
    let mut scanner = ChunkedScanner::new(MAX_LINE, 6);
    assert!(scanner.scan(b"0\r\nX: y\r\n\r\n").unwrap().done);
    let mut scanner = ChunkedScanner::new(MAX_LINE, 5);
    assert_eq!(scanner.scan(b"0\r\nX: y\r\n\r\n"), Err(ChunkLineTooLong));
}

#[test]
fn decode_reports_one_run_per_call() {
    let input = b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    let mut scanner = ChunkedScanner::new(MAX_LINE, MAX_TRAILER);
    let step = scanner.decode(input).unwrap();
    assert_eq!(step.data.map(|s| s.of(input)), Some(&b"abc"[..]));
    assert_eq!(step.consumed, 6);
    let rest = &input[6..];
    let step = scanner.decode(rest).unwrap();
    assert_eq!(step.data.map(|s| s.of(rest)), Some(&b"de"[..]));
    let rest = &rest[step.consumed..];
    let step = scanner.decode(rest).unwrap();
    assert_eq!(
        (step.data, step.done, step.consumed),
        (None, true, rest.len())
    );
}
