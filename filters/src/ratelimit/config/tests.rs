use super::*;

fn parse(json: &str) -> Result<RateLimitConfig, serde_json::Error> {
    serde_json::from_str(json)
}

fn limit(json: &str) -> LimitConfig {
    serde_json::from_str(json).unwrap()
}

#[test]
fn parses_limits_with_defaults() {
    let c = parse(
        r#"{"sync": {"interval": "2ms", "share_divisor": 8},
            "limits": [
              {"kind": "total_tokens", "per": ["consumer", "model"], "limit": 100000},
              {"name": "rpm-ip", "kind": "requests", "per": ["client_ip"], "limit": 60,
               "window": "1m", "on_unavailable": "open"},
              {"kind": "spend", "per": ["group"], "limit": 5000000, "window": "1d"},
              {"kind": "concurrent", "per": ["header"], "header": "X-User", "limit": 4}
            ]}"#,
    )
    .unwrap();
    assert_eq!(c.sync.interval, Span(2));
    assert_eq!(c.sync.idle_ttl, Span(10_000));
    let specs: Vec<LimitSpec> = c
        .limits
        .iter()
        .map(|l| l.compile(&c.sync, 4).unwrap())
        .collect();
    assert_eq!(specs[0].kind, Kind::TotalTokens);
    assert_eq!((specs[0].window_ms, specs[0].sync_interval_ms), (60_000, 2));
    // a_max = 100000 / (4 cores x 8)
    assert_eq!(specs[0].max_allowance, 3_125);
    assert_eq!(specs[0].instance_bound(), 12_500);
    assert!(c.limits[0].reserve);
    assert_eq!(specs[1].fail, FailMode::Open);
    assert_eq!(specs[1].max_allowance, 1);
    assert_eq!(specs[2].window_ms, 86_400_000);
    assert_eq!(specs[3].window_ms, 3_600_000);
    assert_eq!(c.limits[1].display_name(), "rpm-ip");
    assert_eq!(c.limits[0].display_name(), "total_tokens");
}

#[test]
fn rejects_unknown_fields_and_kinds() {
    assert!(parse(r#"{"limits": [{"kind": "requests", "limit": 1, "burst": 2}]}"#).is_err());
    assert!(parse(r#"{"limits": [{"kind": "bananas", "limit": 1}]}"#).is_err());
    assert!(parse(r#"{"limits": [{"kind": "requests", "limit": 1, "per": ["ip"]}]}"#).is_err());
    assert!(parse(r#"{"sync": {"interval": "5 ms"}}"#).is_err());
    assert!(parse(r#"{"sync": {"jitter": "5ms"}}"#).is_err());
}

#[test]
fn compile_names_the_field_at_fault() {
    let sync = SyncConfig::default();
    let cases = [
        (r#"{"kind": "requests", "limit": 0}"#, "limit"),
        (
            r#"{"kind": "requests", "limit": 1, "window": "500ms"}"#,
            "window",
        ),
        (
            r#"{"kind": "requests", "limit": 1, "window": "400d"}"#,
            "window",
        ),
        (
            r#"{"kind": "concurrent", "limit": 1, "window": "10s"}"#,
            "window",
        ),
        (
            r#"{"kind": "requests", "limit": 1, "per": ["header"]}"#,
            "header",
        ),
        (
            r#"{"kind": "requests", "limit": 1, "header": "x-a"}"#,
            "header",
        ),
        (
            r#"{"kind": "requests", "limit": 1, "per": ["header"], "header": "a b"}"#,
            "header",
        ),
        (
            r#"{"kind": "requests", "limit": 1, "per": ["model", "model"]}"#,
            "per",
        ),
    ];
    for (json, field) in cases {
        let err = limit(json).compile(&sync, 2).unwrap_err();
        assert_eq!(err.field, field, "{json}: {err}");
    }
    let bad_sync = SyncConfig {
        interval: Span(0),
        ..SyncConfig::default()
    };
    let err = limit(r#"{"kind": "requests", "limit": 1}"#)
        .compile(&bad_sync, 2)
        .unwrap_err();
    assert_eq!(err.field, "sync.interval");
    assert_eq!(
        err.to_string(),
        "rate limit `requests`: `sync.interval`: must be 1ms to 1s"
    );
}

#[test]
fn spans_parse_like_the_gateways_durations() {
    assert_eq!(Span::parse("250ms"), Ok(Span(250)));
    assert_eq!(Span::parse("7d"), Ok(Span(604_800_000)));
    assert_eq!(serde_json::from_str::<Span>("1500").unwrap(), Span(1_500));
    assert!(Span::parse("1w").is_err());
    assert!(Span::parse("ms").is_err());
    assert!(serde_json::from_str::<Span>("-1").is_err());
    assert_eq!(serde_json::to_string(&Span(5)).unwrap(), "\"5ms\"");
}
