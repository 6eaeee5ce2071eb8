//! End-to-end: the official, unmodified `openai` and `anthropic` Python SDKs (pinned in
//! tests/py/requirements.txt, installed by scripts/install-test-deps.sh) against
//! `tollgate-mock` and through the gateway. Each test starts the servers it needs and
//! runs one script from tests/py/, which prints a line per case; a failing script fails
//! the test with its whole output.

use std::time::Duration;

use tollgate_tests::python::run_script;
use tollgate_tests::{Gateway, Mock};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

fn mock_arg(name: &str, m: &Mock) -> [String; 2] {
    ["--mock".to_string(), format!("{name}={}", m.url())]
}

/// Step one of trusting the SDK tests: every shape the mock produces is one the SDKs
/// accept, and its faults surface as the SDKs' typed errors.
#[test]
fn sdks_accept_the_mock() {
    let plain = Mock::start(&["--record", "1000"]);
    let paced = Mock::start(&["--record", "100", "--tps", "100", "--tokens", "400"]);
    let f429 = Mock::start(&["--record", "100", "--fault", "429"]);
    let mut args = Vec::new();
    args.extend(mock_arg("plain", &plain));
    args.extend(mock_arg("paced", &paced));
    args.extend(mock_arg("f429", &f429));
    let out = run_script("mock_sdk.py", &args, SCRIPT_TIMEOUT);
    print!("{out}");
}

/// The servers a gateway script declares (`--topology`): mocks (name → extra
/// `tollgate-mock` flags) and models (name → provider names, or `{"deployments": [...],
/// "fallbacks": [models]}`; a provider is `<mock>-oai` or `<mock>-ant`: the mock as an
/// OpenAI- or Anthropic-format provider).
struct Topology {
    mocks: Vec<(String, Vec<String>)>,
    models: Vec<Model>,
}

struct Model {
    name: String,
    deployments: Vec<String>,
    fallbacks: Vec<String>,
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().expect("a string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn topology(script: &str) -> Topology {
    let out = run_script(script, &["--topology".to_string()], SCRIPT_TIMEOUT);
    let v: serde_json::Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("{script} --topology printed no JSON ({e}): {out}"));
    let object = |key: &str| {
        v[key]
            .as_object()
            .unwrap_or_else(|| panic!("{script} --topology has no {key}: {out}"))
            .clone()
    };
    Topology {
        mocks: object("mocks")
            .iter()
            .map(|(k, flags)| (k.clone(), strings(flags)))
            .collect(),
        models: object("models")
            .iter()
            .map(|(k, m)| Model {
                name: k.clone(),
                deployments: if m.is_array() {
                    strings(m)
                } else {
                    strings(&m["deployments"])
                },
                fallbacks: strings(&m["fallbacks"]),
            })
            .collect(),
    }
}

/// The gateway config for `mocks` and `models`: a cluster per mock, each as an OpenAI
/// provider (`<mock>-oai`, key `sk-upstream`) and an Anthropic one (`<mock>-ant`, key
/// `ak-upstream`), the models with their deployments and fallbacks, one LLM route for
/// `/v1/`, and a JSON access log at `{dir}/access.log`.
fn gateway_config(mocks: &[(String, Mock)], models: &[Model]) -> String {
    let mut c = String::from(
        r#"
[admin]
listen = "127.0.0.1:{admin}"
[[listeners]]
listen = "127.0.0.1:{port}"
[access_log]
path = "{dir}/access.log"
"#,
    );
    for (name, m) in mocks {
        c.push_str(&format!(
            "[[clusters]]\nname = \"{name}\"\nendpoints = [\"{}\"]\n",
            m.addr
        ));
    }
    for (name, _) in mocks {
        c.push_str(&format!(
            "[[llm.providers]]\nname = \"{name}-oai\"\nkind = \"openai\"\nupstream = \"{name}\"\napi_keys = [\"sk-upstream\"]\n\
             [[llm.providers]]\nname = \"{name}-ant\"\nkind = \"anthropic\"\nupstream = \"{name}\"\napi_keys = [\"ak-upstream\"]\n"
        ));
    }
    for m in models {
        c.push_str(&format!(
            "[[llm.models]]\nname = \"{}\"\nfallbacks = {:?}\n",
            m.name, m.fallbacks
        ));
        for p in &m.deployments {
            c.push_str(&format!("[[llm.models.deployments]]\nprovider = \"{p}\"\n"));
        }
    }
    c.push_str(
        r#"[[routes]]
name = "llm"
match = { path_prefix = "/v1/" }
llm = {}
"#,
    );
    c
}

/// Starts the mocks and the gateway `script` declares, then runs it against them.
fn run_gateway_script(script: &str) {
    let topo = topology(script);
    let mocks: Vec<(String, Mock)> = topo
        .mocks
        .iter()
        .map(|(name, flags)| {
            let mut args = vec!["--record", "1000"];
            args.extend(flags.iter().map(String::as_str));
            (name.clone(), Mock::start(&args))
        })
        .collect();
    let gw = Gateway::start(&gateway_config(&mocks, &topo.models));
    let mut args = vec![
        "--gateway".to_string(),
        gw.url(""),
        "--admin".to_string(),
        gw.admin_url(""),
        "--access-log".to_string(),
        gw.dir().join("access.log").display().to_string(),
    ];
    for (name, m) in &mocks {
        args.extend(mock_arg(name, m));
    }
    let out = run_script(script, &args, SCRIPT_TIMEOUT);
    print!("{out}");
}

/// The openai SDK through the gateway, to OpenAI- and Anthropic-format upstreams.
#[test]
fn openai_sdk_through_the_gateway() {
    run_gateway_script("gateway_openai.py");
}

/// The anthropic SDK through the gateway, to Anthropic- and OpenAI-format upstreams.
#[test]
fn anthropic_sdk_through_the_gateway() {
    run_gateway_script("gateway_anthropic.py");
}

/// Fallback before the commit point succeeds; a failure after it is a well-formed error
/// in the client's format; a lone failing deployment's error reaches the client typed.
#[test]
fn fallback_and_upstream_errors_through_the_gateway() {
    run_gateway_script("gateway_fallback.py");
}

/// A client leaving a stream cancels the upstream within 100 ms, and its tokens are
/// accounted in the access log and the metrics.
#[test]
fn client_leaving_a_stream_cancels_the_upstream() {
    run_gateway_script("gateway_disconnect.py");
}
