//! `[rate_limits]` rows: one snippet per check, the message it must give and the line it
//! must point at.

use crate::config::validate::parse_and_validate_all;

/// Lines 1-11: a listener, a proxy route `api`, an LLM route `llm` and a priced model.
const BASE: &str = "[[listeners]]\nlisten = \"127.0.0.1:18080\"\n\
[[routes]]\nname = \"api\"\nrespond = {}\n\
[[routes]]\nname = \"llm\"\nllm = {}\n\
[[llm.providers]]\nname = \"p\"\nkind = \"mock\"\n";
/// Lines 12-14.
const MODEL: &str = "[[llm.models]]\nname = \"m\"\ndeployments = [{ provider = \"p\" }]\n";

fn errors(tail: &str, priced: bool) -> Vec<(Option<usize>, String)> {
    let model = if priced {
        MODEL.replace(
            "deployments",
            "price = { input = 1, output = 2 }\ndeployments",
        )
    } else {
        MODEL.to_string()
    };
    let text = format!("{BASE}{model}{tail}");
    match parse_and_validate_all(&text, "t.toml") {
        Ok(_) => Vec::new(),
        Err(e) => e.into_iter().map(|e| (e.line, e.message)).collect(),
    }
}

#[test]
fn every_problem_has_its_row_and_line() {
    // (the table after the base, priced model?, a piece of the message, its line)
    let limit = "[[rate_limits.limits]]\n";
    let cases: Vec<(String, bool, &str, usize)> = vec![
        (
            "[rate_limits.sync]\ninterval = \"0ms\"\n".into(),
            false,
            "rate_limits.sync.interval: must be 1ms to 1s",
            16,
        ),
        (
            "[rate_limits.sync]\nidle_ttl = \"1ms\"\ninterval = \"5ms\"\n".into(),
            false,
            "rate_limits.sync.idle_ttl: must be at least sync.interval",
            16,
        ),
        (
            format!("{limit}kind = \"requests\"\nlimit = 0\n"),
            false,
            "rate_limits.limits[0].limit: limit \"requests\": must be 1 to",
            17,
        ),
        (
            format!("{limit}kind = \"requests\"\nlimit = 5\nwindow = \"10ms\"\n"),
            false,
            "rate_limits.limits[0].window: limit \"requests\": must be 1s to 366d",
            18,
        ),
        (
            format!("{limit}kind = \"concurrent\"\nlimit = 5\nwindow = \"10s\"\n"),
            false,
            "rate_limits.limits[0].window: limit \"concurrent\": must be at least 1m",
            18,
        ),
        (
            format!("{limit}kind = \"requests\"\nlimit = 5\nper = [\"route\", \"route\"]\n"),
            false,
            "rate_limits.limits[0].per: limit \"requests\": Route is listed twice",
            18,
        ),
        (
            format!("{limit}kind = \"requests\"\nlimit = 5\nper = [\"header\"]\n"),
            false,
            "rate_limits.limits[0].header: limit \"requests\": `per` has header: name it",
            15,
        ),
        (
            format!("{limit}kind = \"requests\"\nlimit = 5\nheader = \"x-a\"\n"),
            false,
            "rate_limits.limits[0].header: limit \"requests\": set, but `per` has no header",
            18,
        ),
        (
            format!("{limit}kind = \"requests\"\nlimit = 5\nper = [\"header\"]\nheader = \"a b\"\n"),
            false,
            "rate_limits.limits[0].header: limit \"requests\":",
            19,
        ),
        (
            format!("{limit}name = \"a\"\nkind = \"requests\"\nlimit = 5\n{limit}name = \"a\"\nkind = \"requests\"\nlimit = 5\n"),
            false,
            "rate_limits.limits[1].name: limit \"a\": the name is already used by rate_limits.limits[0]",
            20,
        ),
        (
            format!("{limit}kind = \"requests\"\nlimit = 5\n{limit}kind = \"requests\"\nlimit = 6\n"),
            false,
            "rate_limits.limits[1]: limit \"requests\": the name is already used",
            18,
        ),
        (
            format!("{limit}name = \" a\"\nkind = \"requests\"\nlimit = 5\n"),
            false,
            "rate_limits.limits[0].name: limit \" a\": name \" a\" starts or ends with whitespace",
            16,
        ),
        (
            format!("{limit}kind = \"requests\"\nlimit = 5\nroutes = [\"api\", \"nope\"]\n"),
            false,
            "rate_limits.limits[0].routes[1]: limit \"requests\": route \"nope\" is not defined; defined routes: api, llm",
            18,
        ),
        (
            format!("{limit}kind = \"total_tokens\"\nlimit = 5\nroutes = [\"api\"]\n"),
            false,
            "rate_limits.limits[0].routes[0]: limit \"total_tokens\": a total_tokens limit applies on LLM routes only",
            18,
        ),
        (
            format!("{limit}kind = \"requests\"\nlimit = 5\nper = [\"model\"]\nroutes = [\"api\"]\n"),
            false,
            "rate_limits.limits[0].routes[0]: limit \"requests\": a limit per model applies on LLM routes only",
            19,
        ),
        (
            format!("{limit}kind = \"spend\"\nlimit = 5\n"),
            false,
            "rate_limits.limits[0].kind: limit \"spend\": a spend limit counts the cost from model prices",
            16,
        ),
        (
            format!("{limit}kind = \"requests\"\nlimit = 5\nbogus = 1\n"),
            false,
            "rate_limits.limits[0].bogus: unknown field `bogus`",
            18,
        ),
        (
            format!("{limit}kind = \"tokens\"\nlimit = 5\n"),
            false,
            "unknown variant `tokens`, expected one of `requests`, `concurrent`",
            16,
        ),
    ];
    let mut failures = Vec::new();
    for (tail, priced, needle, line) in &cases {
        let got = errors(tail, *priced);
        let ok = got.len() == 1 && got[0].1.contains(needle) && got[0].0 == Some(*line);
        if !ok {
            failures.push(format!(
                "{tail}\nwanted one error containing {needle:?} at line {line}; got {got:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_limit_for_llm_routes_needs_one() {
    let text = "[[listeners]]\nlisten = \"127.0.0.1:18080\"\n\
[[routes]]\nname = \"api\"\nrespond = {}\n\
[[rate_limits.limits]]\nkind = \"input_tokens\"\nlimit = 5\n";
    let e = parse_and_validate_all(text, "t.toml").unwrap_err();
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].line, Some(6), "{e:?}");
    assert!(
        e[0].message
            .contains("a input_tokens limit applies on LLM routes only, and no route has `llm`"),
        "{e:?}"
    );
}

#[test]
fn good_limits_pass_with_their_defaults() {
    let tail = "[rate_limits]\nresponse_headers = false\n\
[[rate_limits.limits]]\nname = \"rpm\"\nkind = \"requests\"\nlimit = 100\nper = [\"consumer\", \"route\"]\n\
[[rate_limits.limits]]\nname = \"tpm\"\nkind = \"total_tokens\"\nlimit = 100000\nper = [\"group\", \"model\"]\nroutes = [\"llm\"]\nreserve = false\n\
[[rate_limits.limits]]\nname = \"spend\"\nkind = \"spend\"\nlimit = 5000000\nwindow = \"1d\"\non_unavailable = \"open\"\n\
[[rate_limits.limits]]\nname = \"in-flight\"\nkind = \"concurrent\"\nlimit = 10\nper = [\"header\"]\nheader = \"X-Api-Key\"\n";
    assert_eq!(errors(tail, true), Vec::new());
}
