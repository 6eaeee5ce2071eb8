use super::*;

fn limits() -> Limits {
    Limits::default()
}

fn complete(bytes: &[u8]) -> (Value<'_>, usize) {
    match parse(bytes, &limits()) {
        Ok(Status::Complete(r)) => r,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
    }
}

/// Every proper prefix of a complete reply is `Partial`, and the whole is the same value
/// whatever bytes follow it.
fn check_splits(bytes: &[u8], lim: &Limits) {
    let Ok(Status::Complete((whole, n))) = parse(bytes, lim) else {
        panic!("{:?} is not complete", String::from_utf8_lossy(bytes));
    };
    assert_eq!(n, bytes.len());
    for cut in 0..bytes.len() {
        assert_eq!(
            parse(&bytes[..cut], lim),
            Ok(Status::Partial),
            "prefix of {cut} bytes of {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    let mut more = bytes.to_vec();
    more.extend_from_slice(b":7\r\n+junk");
    assert_eq!(parse(&more, lim), Ok(Status::Complete((whole, n))));
}

#[test]
fn reads_every_type() {
    let table: &[(&[u8], Value)] = &[
        (b"+OK\r\n", Value::Simple(b"OK")),
        (b"+\r\n", Value::Simple(b"")),
        (
            b"-NOSCRIPT No matching script.\r\n",
            Value::Error(b"NOSCRIPT No matching script."),
        ),
        (b":0\r\n", Value::Integer(0)),
        (b":-17\r\n", Value::Integer(-17)),
        (b":9223372036854775807\r\n", Value::Integer(i64::MAX)),
        (b":-9223372036854775808\r\n", Value::Integer(i64::MIN)),
        (b"$3\r\nfoo\r\n", Value::Bulk(b"foo")),
        (b"$0\r\n\r\n", Value::Bulk(b"")),
        // Binary-safe: CR and LF inside a bulk string are data.
        (b"$4\r\n\r\n\r\n\r\n", Value::Bulk(b"\r\n\r\n")),
        (b"$-1\r\n", Value::Nil),
        (b"*-1\r\n", Value::Nil),
        (b"*0\r\n", Value::Array(vec![])),
        (
            b"*2\r\n:10\r\n:55\r\n",
            Value::Array(vec![Value::Integer(10), Value::Integer(55)]),
        ),
        (
            b"*3\r\n$1\r\na\r\n*1\r\n-E x\r\n$-1\r\n",
            Value::Array(vec![
                Value::Bulk(b"a"),
                Value::Array(vec![Value::Error(b"E x")]),
                Value::Nil,
            ]),
        ),
    ];
    for (bytes, want) in table {
        let (v, n) = complete(bytes);
        assert_eq!((&v, n), (want, bytes.len()), "{bytes:?}");
        check_splits(bytes, &limits());
        let mut again = Vec::new();
        v.encode(&mut again);
        if *bytes != b"*-1\r\n" {
            assert_eq!(&again[..], *bytes);
        }
    }
}

#[test]
fn refuses_what_is_not_resp2() {
    let table: &[(&[u8], RespError)] = &[
        (b"%1\r\n", RespError::UnknownType(b'%')),
        (b"GET k\r\n", RespError::UnknownType(b'G')),
        (b":12a\r\n", RespError::BadNumber),
        (b":\r\n", RespError::BadNumber),
        (b":-\r\n", RespError::BadNumber),
        (b":9223372036854775808\r\n", RespError::BadNumber),
        (b":+1\r\n", RespError::BadNumber),
        (b"$-2\r\n", RespError::BadNumber),
        (b"*-5\r\n", RespError::BadNumber),
        (b"$3\r\nfooXY", RespError::BadFraming),
        (b"+OK\n", RespError::BadFraming),
        (b"+O\rK\r\n", RespError::BadFraming),
    ];
    for (bytes, want) in table {
        assert_eq!(parse(bytes, &limits()), Err(*want), "{bytes:?}");
    }
}

#[test]
fn a_reply_over_the_limits_is_an_error_not_a_buffer() {
    let small = Limits {
        max_reply: 32,
        max_depth: 2,
        max_elements: 4,
    };
    // A declared length past the limit fails before its bytes arrive.
    assert_eq!(parse(b"$100\r\n", &small), Err(RespError::TooLarge));
    assert_eq!(
        parse(b"$99999999999999999\r\n", &small),
        Err(RespError::TooLarge)
    );
    // Exactly at the limit is fine; one byte over is not.
    let at: Vec<u8> = [&b"$25\r\n"[..], &[b'x'; 25], b"\r\n"].concat();
    assert_eq!(at.len(), 32);
    check_splits(&at, &small);
    let over: Vec<u8> = [&b"$26\r\n"[..], &[b'x'; 26], b"\r\n"].concat();
    assert_eq!(parse(&over, &small), Err(RespError::TooLarge));
    // A line that never ends: partial until the bytes read pass the limit.
    let long = [&b"+"[..], &[b'a'; 40]].concat();
    assert_eq!(parse(&long[..32], &small), Ok(Status::Partial));
    assert_eq!(parse(&long, &small), Err(RespError::TooLarge));
    // Elements counted across nesting; depth counted from the top.
    assert_eq!(parse(b"*5\r\n", &small), Err(RespError::TooManyElements));
    assert_eq!(
        parse(b"*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n", &small),
        Err(RespError::TooManyElements)
    );
    assert_eq!(
        parse(b"*1\r\n*1\r\n*1\r\n:1\r\n", &small),
        Err(RespError::TooDeep)
    );
    check_splits(b"*1\r\n*1\r\n:1\r\n", &small);
    check_splits(b"*1\r\n*1\r\n*0\r\n", &small);
    // A huge count allocates nothing up front.
    let big = Limits {
        max_elements: usize::MAX,
        ..small
    };
    assert_eq!(parse(b"*4000000000\r\n:1\r\n", &big), Ok(Status::Partial));
}

#[test]
fn pipelined_replies_parse_one_after_the_other() {
    let stream = b"+OK\r\n*2\r\n:3\r\n:40\r\n-NOSCRIPT x\r\n$2\r\nab\r\n";
    let mut at = 0;
    let mut got = Vec::new();
    while at < stream.len() {
        let (v, n) = complete(&stream[at..]);
        got.push(v);
        at += n;
    }
    assert_eq!(got.len(), 4);
    assert!(got[2].is_error_code(b"NOSCRIPT"));
    assert!(!got[2].is_error_code(b"NOSCRIPTX"));
    assert_eq!(
        got[1],
        Value::Array(vec![Value::Integer(3), Value::Integer(40)])
    );
    assert_eq!(got[3].as_int(), None);
    assert_eq!(Value::Bulk(b"-12").as_int(), Some(-12));
}

#[test]
fn commands_are_arrays_of_bulk_strings() {
    let mut out = Vec::new();
    Command::new(&mut out, 4)
        .arg(b"EVALSHA")
        .arg(b"abc")
        .int(0)
        .int(i64::MIN)
        .finish();
    assert_eq!(
        out,
        b"*4\r\n$7\r\nEVALSHA\r\n$3\r\nabc\r\n$1\r\n0\r\n$20\r\n-9223372036854775808\r\n"
    );
    // What we write, a server's parser reads back as the same strings.
    let (v, n) = complete(&out);
    assert_eq!(n, out.len());
    assert_eq!(
        v,
        Value::Array(vec![
            Value::Bulk(b"EVALSHA"),
            Value::Bulk(b"abc"),
            Value::Bulk(b"0"),
            Value::Bulk(b"-9223372036854775808"),
        ])
    );
}

/// A small deterministic generator (xorshift64*), so the round trip below covers many
/// shapes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_value<'a>(rng: &mut Rng, pool: &'a [u8], depth: usize) -> Value<'a> {
    let text = |rng: &mut Rng| {
        let start = rng.below(pool.len() as u64) as usize;
        let len = rng.below((pool.len() - start) as u64 + 1) as usize;
        &pool[start..start + len]
    };
    match rng.below(if depth < 3 { 6 } else { 5 }) {
        0 => Value::Simple(b"OK"),
        1 => Value::Error(b"ERR wrong"),
        2 => Value::Integer(rng.next() as i64 >> rng.below(64)),
        3 => Value::Bulk(text(rng)),
        4 => Value::Nil,
        _ => {
            let n = rng.below(5);
            Value::Array((0..n).map(|_| random_value(rng, pool, depth + 1)).collect())
        }
    }
}

#[test]
fn encoded_values_read_back_whatever_the_split() {
    let pool: Vec<u8> = (0..=255u8).cycle().take(600).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let v = random_value(&mut rng, &pool, 0);
        let mut bytes = Vec::new();
        v.encode(&mut bytes);
        let (back, n) = complete(&bytes);
        assert_eq!((back, n), (v, bytes.len()));
        check_splits(&bytes, &limits());
    }
}
