//! Route matching, table-driven: one row per rule.

use super::*;
use crate::testing::req;

/// A [`MatchConfig`] from `key=value` pairs: host, path, prefix, regex, method (repeat for
/// several), header (`name: value`, repeat for several).
fn cfg(spec: &[&str]) -> MatchConfig {
    let mut c = MatchConfig::default();
    for kv in spec {
        let (k, v) = kv.split_once('=').expect("key=value");
        match k {
            "host" => c.host = Some(v.into()),
            "path" => c.path = Some(v.into()),
            "prefix" => c.path_prefix = Some(v.into()),
            "regex" => c.path_regex = Some(v.into()),
            "method" => c.methods.push(v.into()),
            "header" => {
                let (n, v) = v.split_once(": ").expect("name: value");
                c.headers.insert(n.into(), v.into());
            }
            _ => panic!("unknown key {k}"),
        }
    }
    c
}

#[test]
fn matching_table() {
    // (match config, request line, fields, matches?)
    #[rustfmt::skip]
    let rows: &[(&[&str], &str, &[&str], bool)] = &[
        // No conditions: anything.
        (&[], "GET /", &["Host: a"], true),
        (&[], "GET / HTTP/1.0", &[], true),
        // Host, exact: case-insensitive, port and trailing dot ignored.
        (&["host=api.example.com"], "GET /", &["Host: api.example.com"], true),
        (&["host=api.example.com"], "GET /", &["Host: API.Example.COM"], true),
        (&["host=API.example.com"], "GET /", &["Host: api.example.com"], true),
        (&["host=api.example.com"], "GET /", &["Host: api.example.com:8443"], true),
        (&["host=api.example.com"], "GET /", &["Host: api.example.com."], true),
        (&["host=api.example.com"], "GET /", &["Host: api.example.com.evil"], false),
        (&["host=api.example.com"], "GET /", &["Host: xapi.example.com"], false),
        (&["host=api.example.com"], "GET / HTTP/1.0", &[], false),
        (&["host=[::1]"], "GET /", &["Host: [::1]:8080"], true),
        (&["host=127.0.0.1"], "GET /", &["Host: 127.0.0.1:80"], true),
        // Host, wildcard: any depth of subdomain, never the bare domain.
        (&["host=*.example.com"], "GET /", &["Host: a.example.com"], true),
        (&["host=*.example.com"], "GET /", &["Host: a.b.example.com"], true),
        (&["host=*.example.com"], "GET /", &["Host: A.EXAMPLE.com:80"], true),
        (&["host=*.example.com"], "GET /", &["Host: example.com"], false),
        (&["host=*.example.com"], "GET /", &["Host: .example.com"], false),
        (&["host=*.example.com"], "GET /", &["Host: aexample.com"], false),
        (&["host=*.example.com"], "GET /", &["Host: a.example.com.evil.net"], false),
        (&["host=*"], "GET /", &["Host: anything"], true),
        // Absolute-form: the target's authority wins over Host (RFC 9112 §3.2.2).
        (&["host=a.com", "path=/x"], "GET http://a.com:8080/x", &["Host: b.com"], true),
        (&["host=b.com"], "GET http://a.com/x", &["Host: b.com"], false),
        (&["host=a.com", "path=/"], "GET http://user@A.com", &["Host: b.com"], true),
        (&["path=/"], "GET http://a.com?q=1", &["Host: a.com"], true),
        (&["prefix=/api/"], "GET https://a.com/api/v1?x", &["Host: a.com"], true),
        // Path, exact: the query is not part of the path.
        (&["path=/health"], "GET /health", &["Host: a"], true),
        (&["path=/health"], "GET /health?verbose=1", &["Host: a"], true),
        (&["path=/health"], "GET /health/", &["Host: a"], false),
        (&["path=/health"], "GET /Health", &["Host: a"], false),
        (&["path=*"], "OPTIONS *", &["Host: a"], true),
        // Path, prefix: a byte prefix, as nginx and Envoy.
        (&["prefix=/api"], "GET /api", &["Host: a"], true),
        (&["prefix=/api"], "GET /api/v1/chat", &["Host: a"], true),
        (&["prefix=/api"], "GET /apis", &["Host: a"], true),
        (&["prefix=/api/"], "GET /apis", &["Host: a"], false),
        (&["prefix=/api"], "GET /v1/api", &["Host: a"], false),
        (&["prefix=/api"], "GET /x?next=/api", &["Host: a"], false),
        // Path, regex: searched as written; anchors are the user's.
        (&["regex=^/users/[0-9]+$"], "GET /users/42", &["Host: a"], true),
        (&["regex=^/users/[0-9]+$"], "GET /users/42/posts", &["Host: a"], false),
        (&["regex=^/users/[0-9]+$"], "GET /users/42?x=y", &["Host: a"], true),
        (&["regex=/v[0-9]/"], "GET /api/v2/x", &["Host: a"], true),
        // Methods: any of; config case does not matter, the request's does.
        (&["method=GET", "method=POST"], "POST /", &["Host: a"], true),
        (&["method=GET", "method=POST"], "DELETE /", &["Host: a"], false),
        (&["method=get"], "GET /", &["Host: a"], true),
        (&["method=PURGE"], "PURGE /", &["Host: a"], true),
        // Headers: every entry, exact value, name case-insensitive, any of repeated fields.
        (&["header=x-tenant: blue"], "GET /", &["Host: a", "X-Tenant: blue"], true),
        (&["header=X-Tenant: blue"], "GET /", &["Host: a", "x-tenant: Blue"], false),
        (&["header=x-tenant: blue"], "GET /", &["Host: a"], false),
        (&["header=x-tenant: blue"], "GET /", &["Host: a", "x-tenant: r", "X-Tenant: blue"], true),
        (&["header=a: 1", "header=b: 2"], "GET /", &["Host: a", "A: 1", "B: 2"], true),
        (&["header=a: 1", "header=b: 2"], "GET /", &["Host: a", "A: 1", "B: 3"], false),
        // All conditions together.
        (ALL, "POST /v1/chat", &["Host: api.x.io:443", "X-K: 1"], true),
        (ALL, "GET /v1/chat", &["Host: api.x.io:443", "X-K: 1"], false),
        (ALL, "POST /v1/chat", &["Host: x.io", "X-K: 1"], false),
        (ALL, "POST /v2/chat", &["Host: api.x.io", "X-K: 1"], false),
        (ALL, "POST /v1/chat", &["Host: api.x.io", "X-K: 2"], false),
    ];
    const ALL: &[&str] = &["host=*.x.io", "prefix=/v1/", "method=POST", "header=x-k: 1"];
    for (spec, line, fields, want) in rows {
        let m = Matcher::compile(&cfg(spec)).unwrap_or_else(|e| panic!("{spec:?}: {e:?}"));
        let h = req(line, fields);
        assert_eq!(m.matches(&h), *want, "{spec:?} against {line} {fields:?}");
    }
}

#[test]
fn request_target_parts() {
    // (request line, fields, (host, path, query))
    type Parts = (Option<&'static str>, &'static str, &'static str);
    #[rustfmt::skip]
    let rows: &[(&str, &[&str], Parts)] = &[
        ("GET /a?b=c", &["Host: h:1"], (Some("h"), "/a", "?b=c")),
        ("GET /a HTTP/1.0", &[], (None, "/a", "")),
        ("GET http://u:p@h.io:81/p/q?x", &["Host: other"], (Some("h.io"), "/p/q", "?x")),
        ("GET http://h.io", &["Host: h.io"], (Some("h.io"), "/", "")),
        ("GET http://h.io?x", &["Host: h.io"], (Some("h.io"), "/", "?x")),
        ("OPTIONS *", &["Host: h"], (Some("h"), "*", "")),
        ("GET /a", &["Host: [2001:db8::1]:443"], (Some("[2001:db8::1]"), "/a", "")),
        ("GET /a", &["Host: :80"], (None, "/a", "")),
    ];
    for (line, fields, (host, path, query)) in rows {
        let h = req(line, fields);
        let t = RequestTarget::of(&h);
        assert_eq!(t.host, host.map(str::as_bytes), "{line} {fields:?}");
        assert_eq!(t.path, path.as_bytes(), "{line}");
        assert_eq!(t.query, query.as_bytes(), "{line}");
    }
}

#[test]
fn refuses_bad_match_config() {
    let rows: &[(&[&str], &str)] = &[
        (&["path=/a", "prefix=/a"], "match"),
        (&["prefix=/a", "regex=^/a"], "match"),
        (&["path=a"], "match.path"),
        (&["prefix=api"], "match.path_prefix"),
        (&["regex=("], "match.path_regex"),
        (&["host=a.*.com"], "match.host"),
        (&["host=example.com:8080"], "match.host"),
        (&["host=*."], "match.host"),
        (&["host=a b"], "match.host"),
        (&["method=GE T"], "match.methods"),
        (&["header=bad name: v"], "match.headers"),
    ];
    for (spec, field) in rows {
        let err = Matcher::compile(&cfg(spec)).unwrap_err();
        assert_eq!(err.field, *field, "{spec:?}: {}", err.message);
    }
}
