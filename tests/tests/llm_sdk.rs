//! End-to-end: the official, unmodified `openai` and `anthropic` Python SDKs (pinned in
//! tests/py/requirements.txt, installed by scripts/install-test-deps.sh) against
//! `tollgate-mock` and through the gateway. Each test starts the servers it needs and
//! runs one script from tests/py/, which prints a line per case; a failing script fails
//! the test with its whole output.

use std::time::Duration;

use tollgate_tests::python::run_script;
use tollgate_tests::Mock;

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
