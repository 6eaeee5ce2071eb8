//! `[rate_limits.redis]` rows: one snippet per check, the message it must give and the
//! line it must point at.

use crate::config::validate::parse_and_validate_all;

/// Lines 1-5: a listener and a route with a request limit.
const BASE: &str = "[[listeners]]\nlisten = \"127.0.0.1:18080\"\n\
[[routes]]\nname = \"api\"\nrespond = {}\n\
[[rate_limits.limits]]\nkind = \"requests\"\nlimit = 10\n";

const SECRET: &str = "key_secret = \"000102030405060708090a0b0c0d0e0f\"\n";

fn errors(tail: &str) -> Vec<(Option<usize>, String)> {
    let text = format!("{BASE}[rate_limits.redis]\n{tail}");
    match parse_and_validate_all(&text, "t.toml") {
        Ok(_) => Vec::new(),
        Err(e) => e.into_iter().map(|e| (e.line, e.message)).collect(),
    }
}

#[test]
fn a_good_table_passes_with_every_form_of_secret() {
    let addr = "address = \"127.0.0.1:6379\"\n";
    assert_eq!(errors(&format!("{addr}{SECRET}")), vec![]);
    assert_eq!(errors(&format!("{addr}key_secret = [1, 2]\n")), vec![]);
    std::env::set_var(
        "TOLLGATE_TEST_REDIS_SECRET_OK",
        "ffeeddccbbaa99887766554433221100",
    );
    std::env::set_var("TOLLGATE_TEST_REDIS_PASSWORD_OK", "pw");
    let env = "key_secret = \"env:TOLLGATE_TEST_REDIS_SECRET_OK\"\n\
               password = \"env:TOLLGATE_TEST_REDIS_PASSWORD_OK\"\nusername = \"tg\"\n\
               prefix = \"tg:rl\"\nconnect_timeout = \"1s\"\ncall_timeout = \"20ms\"\n";
    assert_eq!(
        errors(&format!("address = \"localhost:6380\"\n{env}")),
        vec![]
    );
}

#[test]
fn every_problem_has_its_row_and_line() {
    // (the table's keys, a piece of the message, its line; the table starts at line 9)
    let cases: Vec<(String, &str, usize)> = vec![
        (
            format!("address = \"redis.internal:6379\"\n{SECRET}"),
            "rate_limits.redis.address: \"redis.internal:6379\": not an address; expected IP:port or localhost:port",
            10,
        ),
        (
            format!("{SECRET}address = \"127.0.0.1:0\"\n"),
            "rate_limits.redis.address: \"127.0.0.1:0\": port 0",
            11,
        ),
        (
            format!("address = \"127.0.0.1:6379\"\nprefix = \"a {{b}}\"\n{SECRET}"),
            "rate_limits.redis.prefix: may hold printable ASCII except spaces and braces",
            11,
        ),
        (
            format!("address = \"127.0.0.1:6379\"\n{SECRET}call_timeout = \"0ms\"\n"),
            "rate_limits.redis.call_timeout: must be 1ms to 60s",
            12,
        ),
        (
            format!("address = \"127.0.0.1:6379\"\n{SECRET}connect_timeout = \"2m\"\n"),
            "rate_limits.redis.connect_timeout: must be 1ms to 60s",
            12,
        ),
        (
            format!("address = \"127.0.0.1:6379\"\n{SECRET}password = \"\"\n"),
            "rate_limits.redis.password: is empty; leave the key out to connect without AUTH",
            12,
        ),
        (
            format!(
                "address = \"127.0.0.1:6379\"\n{SECRET}password = \"env:TOLLGATE_TEST_REDIS_UNSET\"\n"
            ),
            "rate_limits.redis.password: environment variable TOLLGATE_TEST_REDIS_UNSET is not set",
            12,
        ),
        (
            format!("address = \"127.0.0.1:6379\"\n{SECRET}username = \"tg\"\n"),
            "rate_limits.redis.username: needs `password`",
            12,
        ),
        (
            "address = \"127.0.0.1:6379\"\nkey_secret = \"00ff\"\n".into(),
            "rate_limits.redis.key_secret: must be 32 hex digits (128 bits)",
            11,
        ),
        (
            "address = \"127.0.0.1:6379\"\nkey_secret = [0, 0]\n".into(),
            "rate_limits.redis.key_secret: must not be zero",
            11,
        ),
        (
            "address = \"127.0.0.1:6379\"\n".into(),
            "rate_limits.redis: missing field `key_secret`",
            9,
        ),
        (
            format!("address = \"127.0.0.1:6379\"\n{SECRET}db = 2\n"),
            "unknown field `db`",
            12,
        ),
    ];
    for (tail, message, line) in cases {
        let errs = errors(&tail);
        assert!(
            errs.iter()
                .any(|(l, m)| m.contains(message) && *l == Some(line)),
            "{tail:?}: want line {line} {message:?}, got {errs:?}"
        );
    }
}
