//! End-to-end: RFC 9113 conformance of the gateway's HTTP/2 listener, checked by
//! `tests/py/h2_conformance.py` (our own checks of the RFC's MUSTs with the `h2` and
//! `hyperframe` packages and hand-made frames, from the venv that
//! `scripts/install-test-deps.sh` makes), on h2c and over TLS (ALPN h2).
//!
//! The script prints a line per check (PASS, FAIL, or XFAIL for a known deviation that
//! still fails exactly the known way) and exits 1 on any FAIL or on a known deviation
//! that started to pass (XPASS), which fails the test with the whole output.
//!
//! The external suite h2spec is not packaged for Debian and cannot be fetched here;
//! `h2spec_if_installed` runs it when it is on PATH (ignored by default: run it with
//! `cargo test -p tollgate-tests --test h2_conformance -- --ignored`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tollgate_tests::python::run_script;
use tollgate_tests::tls::Ca;
use tollgate_tests::{catch_all_config, Gateway, Mock};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// One worker in front of a mock; 8 concurrent streams (the refusal check opens one
/// more); a 1 s wait for the whole preface (`http2.preface_timeout` over TLS,
/// `limits.header_read_timeout` for the h2c sniff); `listener`: the listener's keys.
fn gateway(mock: &Mock, listener: &str) -> Gateway {
    let top = "[http2]\nmax_concurrent_streams = 8\npreface_timeout = \"1s\"\n\
               [limits]\nheader_read_timeout = \"1s\"";
    Gateway::start(&catch_all_config(top, listener, mock.addr))
}

fn run(gw: &Gateway, extra: &[String]) -> String {
    let mut args = vec![
        "--gateway".to_string(),
        gw.addr(),
        "--preface-timeout".to_string(),
        "1".to_string(),
    ];
    args.extend_from_slice(extra);
    let out = run_script("h2_conformance.py", &args, SCRIPT_TIMEOUT);
    print!("{out}");
    let summary = out.lines().last().unwrap_or_default();
    assert!(
        summary.contains(" passed, 0 failed,") && summary.contains("0 unexpectedly passed"),
        "{out}"
    );
    out
}

#[test]
fn rfc9113_checks_on_h2c() {
    let mock = Mock::start(&[]);
    let gw = gateway(&mock, "h2c = true");
    run(&gw, &[]);
    assert!(gw.log().contains("tollgate ready"));
}

#[test]
fn rfc9113_checks_over_tls() {
    let dir = std::env::temp_dir().join(format!("tollgate-h2-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = Ca::new("test CA");
    let ca_file = ca.write(&dir, "ca.pem");
    let (cert, key) = ca.server("gateway", &["localhost"], 1).write(&dir, "leaf");
    let mock = Mock::start(&[]);
    let gw = gateway(
        &mock,
        &format!(
            "[listeners.tls]\ncertificates = [{{ cert = \"{}\", key = \"{}\" }}]",
            cert.display(),
            key.display()
        ),
    );
    run(&gw, &["--ca".to_string(), ca_file.display().to_string()]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// h2spec (https://github.com/summerwind/h2spec) against an h2c listener, when it is
/// installed. It is not in Debian and cannot be downloaded here, so this test is
/// ignored by default; run by hand it fails without h2spec rather than pass unseen.
/// h2spec reports the h2 crate's known deviations (tests/py/README.md) as failures.
#[test]
#[ignore = "needs h2spec on PATH (not packaged in Debian); run with --ignored"]
fn h2spec_if_installed() {
    let h2spec: PathBuf = std::env::var_os("H2SPEC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("h2spec"));
    let mock = Mock::start(&[]);
    let gw = gateway(&mock, "h2c = true");
    let out = Command::new(&h2spec)
        .args(["-h", "127.0.0.1", "-p", &gw.port.to_string(), "-o", "5"])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): install h2spec (a release binary from GitHub) or set H2SPEC",
                h2spec.display()
            )
        });
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "h2spec reported failures (above)");
}
