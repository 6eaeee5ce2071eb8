//! CORS: preflights allowed and denied, credentials, simple requests, Vary.

use super::*;
use crate::testing::{ctx, req};

fn cors(json: &str) -> Cors {
    Cors::compile(&serde_json::from_str(json).unwrap()).unwrap()
}

/// The fields as `name: value` strings, in order.
fn fields(list: &[(Bytes, Bytes)]) -> Vec<String> {
    list.iter()
        .map(|(n, v)| {
            format!(
                "{}: {}",
                String::from_utf8_lossy(n),
                String::from_utf8_lossy(v)
            )
        })
        .collect()
}

fn preflight(c: &Cors, fields_in: &[&str]) -> LocalResponse {
    let mut all = vec!["Host: api"];
    all.extend_from_slice(fields_in);
    match c.on_request_head(&mut ctx(), &req("OPTIONS /x", &all)) {
        Flow::Respond(r) => r,
        Flow::Continue => panic!("preflight passed through"),
    }
}

/// Runs a non-preflight request and returns (set, append) of the response edits.
fn simple(c: &Cors, line: &str, fields_in: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut cx = ctx();
    let mut all = vec!["Host: api"];
    all.extend_from_slice(fields_in);
    assert!(matches!(
        c.on_request_head(&mut cx, &req(line, &all)),
        Flow::Continue
    ));
    assert!(cx.request_edits.is_empty());
    (
        fields(&cx.response_edits.set),
        fields(&cx.response_edits.append),
    )
}

const LISTED: &str = r#"{"allow_origins": ["https://app.example", "HTTPS://Other.example/"],
    "allow_methods": ["GET", "PUT", "patch"], "allow_headers": ["content-type", "x-key"],
    "expose_headers": ["x-request-id"], "max_age": 300}"#;

#[test]
fn preflight_from_listed_origin() {
    let r = preflight(
        &cors(LISTED),
        &[
            "Origin: https://app.example",
            "Access-Control-Request-Method: PUT",
            "Access-Control-Request-Headers: content-type",
        ],
    );
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(
        fields(&r.headers),
        [
            "access-control-allow-origin: https://app.example",
            "access-control-allow-methods: GET, PUT, patch",
            "access-control-allow-headers: content-type, x-key",
            "access-control-max-age: 300",
            "vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        ]
    );
}

#[test]
fn preflight_denials_carry_no_cors_headers() {
    let c = cors(LISTED);
    for fields_in in [
        // Origin not listed.
        &[
            "Origin: https://evil.example",
            "Access-Control-Request-Method: GET",
        ][..],
        // Listed origin, method not allowed (methods compare byte for byte).
        &[
            "Origin: https://app.example",
            "Access-Control-Request-Method: DELETE",
        ],
        &[
            "Origin: https://app.example",
            "Access-Control-Request-Method: PATCH",
        ],
        &[
            "Origin: https://app.example",
            "Access-Control-Request-Method: put",
        ],
    ] {
        let r = preflight(&c, fields_in);
        assert_eq!(r.status, 403, "{fields_in:?}");
        assert!(r.headers.is_empty(), "{fields_in:?}");
    }
}

#[test]
fn preflight_allows_safelisted_methods_and_config_spelling() {
    let c = cors(LISTED);
    for (origin, method) in [
        ("https://app.example", "POST"),
        ("https://app.example", "patch"),
        ("https://other.example", "GET"),
    ] {
        let r = preflight(
            &c,
            &[
                &format!("Origin: {origin}"),
                &format!("Access-Control-Request-Method: {method}"),
            ],
        );
        assert_eq!(r.status, 204, "{origin} {method}");
    }
}

#[test]
fn preflight_with_credentials_and_wildcards_echoes() {
    let c = cors(
        r#"{"allow_origins": ["*"], "allow_methods": ["*"], "allow_headers": ["*"],
            "allow_credentials": true}"#,
    );
    let r = preflight(
        &c,
        &[
            "Origin: https://any.example",
            "Access-Control-Request-Method: PURGE",
            "Access-Control-Request-Headers: authorization, x-custom",
        ],
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        fields(&r.headers),
        [
            "access-control-allow-origin: https://any.example",
            "access-control-allow-credentials: true",
            "access-control-allow-methods: PURGE",
            "access-control-allow-headers: authorization, x-custom",
            "access-control-max-age: 600",
            "vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        ]
    );
}

#[test]
fn preflight_with_any_origin_and_no_credentials_says_star() {
    let r = preflight(
        &cors(r#"{"allow_origins": ["*"]}"#),
        &[
            "Origin: https://x.example",
            "Access-Control-Request-Method: DELETE",
        ],
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        fields(&r.headers[..2]),
        [
            "access-control-allow-origin: *",
            "access-control-allow-methods: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
        ]
    );
}

#[test]
fn options_without_request_method_is_not_a_preflight() {
    let (set, _) = simple(
        &cors(LISTED),
        "OPTIONS /x",
        &["Origin: https://app.example"],
    );
    assert_eq!(set[0], "access-control-allow-origin: https://app.example");
}

#[test]
fn simple_requests() {
    let c = cors(LISTED);
    let (set, append) = simple(&c, "GET /x", &["Origin: https://app.example"]);
    assert_eq!(
        set,
        [
            "access-control-allow-origin: https://app.example",
            "access-control-expose-headers: x-request-id",
        ]
    );
    assert_eq!(append, ["vary: Origin"]);

    // Origins compare case-insensitively; the request's own spelling is echoed.
    let (set, _) = simple(&c, "POST /x", &["Origin: https://OTHER.example"]);
    assert_eq!(set[0], "access-control-allow-origin: https://OTHER.example");

    // Another origin, or none: no CORS headers, but still Vary for caches.
    assert_eq!(
        simple(&c, "GET /x", &["Origin: https://evil.example"]),
        (vec![], vec!["vary: Origin".into()])
    );
    assert_eq!(
        simple(&c, "GET /x", &[]),
        (vec![], vec!["vary: Origin".into()])
    );
}

#[test]
fn simple_requests_with_credentials() {
    let c = cors(r#"{"allow_origins": ["https://app.example"], "allow_credentials": true}"#);
    let (set, append) = simple(&c, "GET /x", &["Origin: https://app.example"]);
    assert_eq!(
        set,
        [
            "access-control-allow-origin: https://app.example",
            "access-control-allow-credentials: true",
        ]
    );
    assert_eq!(append, ["vary: Origin"]);
}

#[test]
fn any_origin_without_credentials_is_the_same_for_every_request() {
    let c = cors(r#"{"allow_origins": ["*"], "expose_headers": ["*"]}"#);
    let want = (
        vec![
            "access-control-allow-origin: *".to_string(),
            "access-control-expose-headers: *".into(),
        ],
        vec![],
    );
    assert_eq!(simple(&c, "GET /x", &["Origin: https://a.example"]), want);
    assert_eq!(simple(&c, "GET /x", &[]), want);
}

#[test]
fn echoed_values_share_the_head_buffer() {
    let c = cors(r#"{"allow_origins": ["*"], "allow_credentials": true}"#);
    let h = req("GET /", &["Host: a", "Origin: https://z.example"]);
    let mut cx = ctx();
    c.on_request_head(&mut cx, &h);
    let origin = h.header("origin").unwrap();
    assert_eq!(cx.response_edits.set[0].1.as_ptr(), origin.as_ptr());
}

#[test]
fn refuses_bad_config() {
    for (json, field) in [
        (r#"{"allow_origins": []}"#, "cors.allow_origins"),
        (
            r#"{"allow_origins": ["app.example"]}"#,
            "cors.allow_origins",
        ),
        (
            r#"{"allow_origins": ["https://a.example, https://b.example"]}"#,
            "cors.allow_origins",
        ),
        (
            r#"{"allow_origins": ["*"], "allow_methods": ["GE T"]}"#,
            "cors.allow_methods",
        ),
        (
            r#"{"allow_origins": ["*"], "allow_headers": ["a\nb"]}"#,
            "cors.allow_headers",
        ),
        (
            r#"{"allow_origins": ["*"], "expose_headers": ["x y"]}"#,
            "cors.expose_headers",
        ),
    ] {
        let cfg: CorsConfig = serde_json::from_str(json).unwrap();
        assert_eq!(Cors::compile(&cfg).unwrap_err().field, field, "{json}");
    }
}
