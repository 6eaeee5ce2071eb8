//! `[rate_limits.redis]`: cluster mode. With it, every limit's global budget lives in
//! Redis instead of in the process, so every instance that points at the same Redis (and
//! shares `prefix` and `key_secret`) enforces one limit. The connection itself is the
//! core's (`core/src/redis/`); this is the config and its checks, sans I/O.
//!
//! ```toml
//! [rate_limits.redis]
//! address = "10.0.0.5:6379"        # IP:port, or localhost:port
//! prefix = "tollgate"              # key names: {prefix}:{<limit>:<key>}:<window>
//! connect_timeout = "250ms"        # connect + AUTH + SCRIPT LOAD
//! call_timeout = "100ms"           # one pipelined round trip of exchanges
//! password = "env:REDIS_PASSWORD"  # optional; AUTH on connect
//! username = "tollgate"            # optional ACL user (needs password)
//! key_secret = "env:TOLLGATE_KEY_SECRET"  # 32 hex digits, [k0, k1], or env:NAME
//! ```

use serde::{Deserialize, Serialize};

use super::Span;
use crate::ratelimit::KeyHasher;

/// The `[rate_limits.redis]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `IP:port` or `localhost:port`. No host names: a worker resolves nothing (a DNS
    /// lookup would block it), so the address is known at load.
    pub address: String,
    /// The first part of every key name; instances that share a limit share it.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Connecting, `AUTH` and `SCRIPT LOAD` together, `1ms` to `60s`.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Span,
    /// One pipelined round trip of exchanges, `1ms` to `60s`. The longest a request of a
    /// fail-closed limit whose core holds nothing waits for Redis.
    #[serde(default = "default_call_timeout")]
    pub call_timeout: Span,
    /// `AUTH` on connect; `"env:NAME"` reads the variable when the config is loaded.
    #[serde(default)]
    pub password: Option<String>,
    /// The ACL user of `AUTH username password` (Redis 6+); needs `password`.
    #[serde(default)]
    pub username: Option<String>,
    /// The key of the hash that names a client's budget. Every instance must use the
    /// same, or they name the same client differently (and do not share its budget).
    pub key_secret: KeySecret,
}

/// `key_secret`: 128 bits as 32 hex digits, as two integers, or `"env:NAME"` holding the
/// hex form.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum KeySecret {
    Text(String),
    Pair([u64; 2]),
}

impl KeySecret {
    /// The hasher every instance must share. Reads `env:NAME` now.
    pub fn hasher(&self) -> Result<KeyHasher, String> {
        let (k0, k1) = match self {
            KeySecret::Pair([k0, k1]) => (*k0, *k1),
            KeySecret::Text(t) => match t.strip_prefix("env:") {
                Some(var) => parse_hex(&read_env(var)?)
                    .map_err(|e| format!("environment variable {var}: {e}"))?,
                None => parse_hex(t)?,
            },
        };
        if (k0, k1) == (0, 0) {
            return Err("must not be zero".into());
        }
        Ok(KeyHasher::with_keys(k0, k1))
    }
}

/// `value`, or the variable it names when it is `env:NAME`.
pub fn resolve_secret(value: &str) -> Result<String, String> {
    match value.strip_prefix("env:") {
        Some(var) => read_env(var),
        None => Ok(value.to_owned()),
    }
}

fn read_env(var: &str) -> Result<String, String> {
    std::env::var(var).map_err(|e| match e {
        std::env::VarError::NotPresent => format!("environment variable {var} is not set"),
        std::env::VarError::NotUnicode(_) => {
            format!("environment variable {var} is not valid UTF-8")
        }
    })
}

fn parse_hex(s: &str) -> Result<(u64, u64), String> {
    let s = s.trim();
    let bad = || "must be 32 hex digits (128 bits), e.g. from `openssl rand -hex 16`".to_string();
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let k0 = u64::from_str_radix(&s[..16], 16).map_err(|_| bad())?;
    let k1 = u64::from_str_radix(&s[16..], 16).map_err(|_| bad())?;
    Ok((k0, k1))
}

fn default_prefix() -> String {
    "tollgate".into()
}
fn default_connect_timeout() -> Span {
    Span(250)
}
fn default_call_timeout() -> Span {
    Span(100)
}

impl RedisConfig {
    /// The checks that need no host: every problem as `(field, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Err(e) = parse_address(&self.address) {
            out.push(("address", e));
        }
        if self.prefix.is_empty() || self.prefix.len() > 64 {
            out.push(("prefix", "must be 1 to 64 characters".into()));
        } else if !self.prefix.bytes().all(key_char) {
            out.push((
                "prefix",
                "may hold printable ASCII except spaces and braces (braces are Redis Cluster hash tags)"
                    .into(),
            ));
        }
        for (field, span) in [
            ("connect_timeout", self.connect_timeout),
            ("call_timeout", self.call_timeout),
        ] {
            if !(1..=60_000).contains(&span.0) {
                out.push((field, "must be 1ms to 60s".into()));
            }
        }
        match &self.password {
            Some(p) if p.is_empty() => out.push((
                "password",
                "is empty; leave the key out to connect without AUTH".into(),
            )),
            Some(p) => {
                if let Err(e) = resolve_secret(p) {
                    out.push(("password", e));
                }
            }
            None if self.username.is_some() => out.push((
                "username",
                "needs `password` (AUTH username password)".into(),
            )),
            None => {}
        }
        if let Some(u) = &self.username {
            if u.is_empty()
                || u.bytes()
                    .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
            {
                out.push(("username", "must be a non-empty name without spaces".into()));
            }
        }
        if let Err(e) = self.key_secret.hasher() {
            out.push(("key_secret", e));
        }
        out
    }
}

/// A byte allowed in a key name part: printable ASCII except space and braces.
pub fn key_char(b: u8) -> bool {
    b.is_ascii_graphic() && b != b'{' && b != b'}'
}

/// `IP:port` or `localhost:port` (port 1 to 65535).
pub fn parse_address(s: &str) -> Result<std::net::SocketAddr, String> {
    let bad = |why: &str| format!("{s:?}: {why}; expected IP:port or localhost:port");
    if let Some(port) = s.strip_prefix("localhost:") {
        let port: u16 = port.parse().map_err(|_| bad("bad port"))?;
        if port == 0 {
            return Err(bad("port 0"));
        }
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    let addr: std::net::SocketAddr = s.parse().map_err(|_| bad("not an address"))?;
    if addr.port() == 0 {
        return Err(bad("port 0"));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(secret: KeySecret) -> RedisConfig {
        RedisConfig {
            address: "127.0.0.1:6379".into(),
            prefix: default_prefix(),
            connect_timeout: default_connect_timeout(),
            call_timeout: default_call_timeout(),
            password: None,
            username: None,
            key_secret: secret,
        }
    }

    #[test]
    fn defaults_and_a_good_config_pass() {
        let c: RedisConfig = serde_json::from_str(
            r#"{"address": "127.0.0.1:6379", "key_secret": "000102030405060708090a0b0c0d0e0f"}"#,
        )
        .unwrap();
        assert_eq!(
            c,
            config(KeySecret::Text("000102030405060708090a0b0c0d0e0f".into()))
        );
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        let h = c.key_secret.hasher().unwrap();
        assert_eq!(
            h,
            KeyHasher::with_keys(0x0001020304050607, 0x08090a0b0c0d0e0f)
        );
        let pair: RedisConfig =
            serde_json::from_str(r#"{"address": "localhost:7000", "key_secret": [1, 2]}"#).unwrap();
        assert_eq!(
            pair.key_secret.hasher().unwrap(),
            KeyHasher::with_keys(1, 2)
        );
        assert_eq!(parse_address("localhost:7000").unwrap().port(), 7000);
        assert!(parse_address("[::1]:6379").is_ok());
    }

    #[test]
    fn each_bad_value_names_its_field() {
        let good = config(KeySecret::Pair([1, 2]));
        let cases: Vec<(RedisConfig, &str)> = vec![
            (
                RedisConfig {
                    address: "redis:6379".into(),
                    ..good.clone()
                },
                "address",
            ),
            (
                RedisConfig {
                    address: "127.0.0.1:0".into(),
                    ..good.clone()
                },
                "address",
            ),
            (
                RedisConfig {
                    address: "127.0.0.1".into(),
                    ..good.clone()
                },
                "address",
            ),
            (
                RedisConfig {
                    prefix: "".into(),
                    ..good.clone()
                },
                "prefix",
            ),
            (
                RedisConfig {
                    prefix: "a{b}".into(),
                    ..good.clone()
                },
                "prefix",
            ),
            (
                RedisConfig {
                    prefix: "a b".into(),
                    ..good.clone()
                },
                "prefix",
            ),
            (
                RedisConfig {
                    connect_timeout: Span(0),
                    ..good.clone()
                },
                "connect_timeout",
            ),
            (
                RedisConfig {
                    call_timeout: Span(60_001),
                    ..good.clone()
                },
                "call_timeout",
            ),
            (
                RedisConfig {
                    password: Some("".into()),
                    ..good.clone()
                },
                "password",
            ),
            (
                RedisConfig {
                    password: Some("env:TOLLGATE_TEST_UNSET_REDIS_PASSWORD".into()),
                    ..good.clone()
                },
                "password",
            ),
            (
                RedisConfig {
                    username: Some("u".into()),
                    ..good.clone()
                },
                "username",
            ),
            (
                RedisConfig {
                    key_secret: KeySecret::Pair([0, 0]),
                    ..good.clone()
                },
                "key_secret",
            ),
            (
                RedisConfig {
                    key_secret: KeySecret::Text("abc".into()),
                    ..good.clone()
                },
                "key_secret",
            ),
            (
                RedisConfig {
                    key_secret: KeySecret::Text("env:TOLLGATE_TEST_UNSET_KEY_SECRET".into()),
                    ..good.clone()
                },
                "key_secret",
            ),
        ];
        for (c, field) in cases {
            let p = c.problems();
            assert_eq!(p.len(), 1, "{c:?}: {p:?}");
            assert_eq!(p[0].0, field, "{p:?}");
        }
        assert!(good.problems().is_empty());
    }
}
