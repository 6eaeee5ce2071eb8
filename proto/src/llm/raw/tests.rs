use super::*;

fn value(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("still valid JSON")
}

#[test]
fn reads_model_stream_and_include_usage() {
    let body = br#" {"messages":[{"role":"user","content":"{\"model\":\"x\"}"}],
        "model" : "gpt-4o", "stream": true, "stream_options": {"include_usage": false}} "#;
    let f = model_of(body).expect("valid");
    assert_eq!(f.model, "gpt-4o");
    assert!(matches!(f.model, Cow::Borrowed(_)));
    assert_eq!(&body[f.model_span.clone()], b"\"gpt-4o\"");
    assert!(f.stream);
    assert_eq!(f.include_usage, Some(false));

    let f = scan_routing(br#"{"model":"a\/b\u00e9","stream":null}"#).expect("valid");
    assert_eq!(f.model, "a/bé");
    assert!(!f.stream);
    assert_eq!(f.include_usage, None);
}

#[test]
fn refuses_what_could_be_routed_differently_than_parsed() {
    let cases: [(&[u8], RawError); 9] = [
        (
            br#"{"model":"a","model":"b"}"#,
            RawError::DuplicateKey("model"),
        ),
        (
            br#"{"model":"a","mod\u0065l":"b"}"#,
            RawError::DuplicateKey("model"),
        ),
        (
            br#"{"model":"a","stream":true,"stream":false}"#,
            RawError::DuplicateKey("stream"),
        ),
        (br#"{"model":1}"#, RawError::NoModel),
        (br#"{"messages":[]}"#, RawError::NoModel),
        (
            br#"{"model":"a","stream":"yes"}"#,
            RawError::WrongType("stream"),
        ),
        (br#"{"model":"a"} {"model":"b"}"#, RawError::Malformed(13)),
        (br#"["model","a"]"#, RawError::NotAnObject),
        (
            br#"{"model":"a","stream_options":{"include_usage":1}}"#,
            RawError::WrongType("stream_options.include_usage"),
        ),
    ];
    for (body, err) in cases {
        assert_eq!(
            scan_routing(body),
            Err(err),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn replaces_only_the_model_bytes() {
    let original = br#"{ "model" : "fast",  "messages": [ {"role":"user","content":"hi"} ] }"#;
    let mut body = original.to_vec();
    let span = scan_routing(&body).expect("valid").model_span;
    replace_model(&mut body, span.clone(), "claude-\"x\"\n").expect("span valid");
    assert_eq!(value(&body)["model"], "claude-\"x\"\n");
    assert_eq!(&body[..span.start], &original[..span.start]);
    let tail = br#",  "messages": [ {"role":"user","content":"hi"} ] }"#;
    assert!(body.ends_with(tail));

    let mut out = Vec::new();
    write_with_model(original, span.clone(), "m2", &mut out).expect("span valid");
    assert_eq!(value(&out)["model"], "m2");
    assert_eq!(
        replace_model(&mut body, 0..3, "m"),
        Err(RawError::StaleSpan)
    );
    assert_eq!(
        replace_model(&mut body, 0..999, "m"),
        Err(RawError::StaleSpan)
    );
}

#[test]
fn request_usage_edits_minimally() {
    let cases: [(&str, bool, &str); 7] = [
        (
            r#"{"model":"m","stream":true}"#,
            false,
            r#"{"stream_options":{"include_usage":true},"model":"m","stream":true}"#,
        ),
        (
            r#"{}"#,
            false,
            r#"{"stream_options":{"include_usage":true}}"#,
        ),
        (
            r#"{"model":"m","stream_options":null}"#,
            false,
            r#"{"model":"m","stream_options":{"include_usage":true}}"#,
        ),
        (
            r#"{"model":"m","stream_options":{}}"#,
            false,
            r#"{"model":"m","stream_options":{"include_usage":true}}"#,
        ),
        (
            r#"{"model":"m","stream_options":{"x":1}}"#,
            false,
            r#"{"model":"m","stream_options":{"include_usage":true,"x":1}}"#,
        ),
        (
            r#"{"model":"m","stream_options":{"include_usage":false}}"#,
            false,
            r#"{"model":"m","stream_options":{"include_usage":true}}"#,
        ),
        (
            r#"{"model":"m","stream_options":{"include_usage":true}}"#,
            true,
            r#"{"model":"m","stream_options":{"include_usage":true}}"#,
        ),
    ];
    for (input, asked, expected) in cases {
        let mut body = input.as_bytes().to_vec();
        assert_eq!(request_usage(&mut body), Ok(asked), "{input}");
        assert_eq!(String::from_utf8_lossy(&body), expected, "{input}");
        assert_eq!(
            value(&body)["stream_options"]["include_usage"],
            true,
            "{input}"
        );
    }
    let mut bad = br#"{"stream_options":3}"#.to_vec();
    assert_eq!(
        request_usage(&mut bad),
        Err(RawError::WrongType("stream_options"))
    );
}

#[test]
fn never_panics_on_truncations() {
    let body = br#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a\"b\\c"}]}"#;
    for end in 0..body.len() {
        let mut cut = body[..end].to_vec();
        assert!(
            scan_routing(&cut).is_err(),
            "prefix of {end} bytes accepted"
        );
        assert!(request_usage(&mut cut).is_err());
    }
    assert!(scan_routing(body).is_ok());
}
