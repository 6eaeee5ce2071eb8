//! End-to-end: the known HTTP/2 attacks against the real binary, with
//! `tests/py/h2_attacks.py` (the `h2`/`hyperframe` packages and hand-made frames, from
//! the venv that `scripts/install-test-deps.sh` makes) as the attacker.
//!
//! Each test starts a gateway (one worker, an h2c listener, or TLS with ALPN h2) in
//! front of a `tollgate-mock`, and runs some attacks, each on three connections in turn,
//! while a well-behaved client makes requests on a connection of its own. The script
//! asserts what the attacker gets (GOAWAY ENHANCE_YOUR_CALM and the close, the resets,
//! the stall's end), that the well-behaved client got only 200s throughout, that the
//! gateway's peak memory stayed flat, and that reset streams left no upstream work
//! behind. This file asserts what the gateway counted (the flood or protocol-error
//! metric of each attack, exactly one per attacking connection) and that it still
//! serves afterwards.
//!
//! Rapid Reset runs with the default `[http2]` settings (and so do most others); the
//! CONTINUATION budget and the stall's time-outs are lowered where that makes the test
//! show our own limit or finish sooner.

use std::path::PathBuf;
use std::time::Duration;

use tollgate_tests::client::get;
use tollgate_tests::llm::{metric, metrics};
use tollgate_tests::python::run_script;
use tollgate_tests::tls::Ca;
use tollgate_tests::{catch_all_config, Gateway, Mock, Scratch};

/// Attacking connections per attack (`--rounds`): each must be counted once.
const ROUNDS: f64 = 3.0;
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// A gateway in front of a mock, and how to reach it.
struct Target {
    mock: Mock,
    gw: Gateway,
    /// TLS: the CA file that signs the gateway's certificate (for "localhost").
    ca: Option<PathBuf>,
    _scratch: Option<Scratch>,
}

/// One worker; an h2c listener (or TLS with the certificate in `tls`) in front of a
/// mock; `http2`: lines for the `[http2]` table (its `[http2.flood]` after them).
fn start(http2: &str, tls: Option<(Scratch, PathBuf, String)>) -> Target {
    let mock = Mock::start(&[]);
    let (listener, ca, scratch) = match tls {
        None => ("h2c = true".to_string(), None, None),
        Some((s, ca, certs)) => (format!("[listeners.tls]\n{certs}"), Some(ca), Some(s)),
    };
    let gw = Gateway::start(&catch_all_config(
        &format!("[http2]\n{http2}"),
        &listener,
        mock.addr,
    ));
    Target {
        mock,
        gw,
        ca,
        _scratch: scratch,
    }
}

/// A TLS listener's certificate for "localhost", made in the test.
fn tls(test: &str) -> (Scratch, PathBuf, String) {
    let s = Scratch::new(test);
    let ca = Ca::new("test CA");
    let ca_file = ca.write(&s.0, "ca.pem");
    let (cert, key) = ca.server("gateway", &["localhost"], 1).write(&s.0, "leaf");
    let certs = format!(
        "certificates = [{{ cert = \"{}\", key = \"{}\" }}]",
        cert.display(),
        key.display()
    );
    (s, ca_file, certs)
}

impl Target {
    /// Runs the attacks named `checks` (exact names, see the script's table), with
    /// `extra` arguments; panics with the script's output unless all pass.
    fn attack(&self, checks: &[&str], extra: &[&str]) -> String {
        let mut args: Vec<String> = vec![
            "--gateway".into(),
            self.gw.addr(),
            "--pid".into(),
            self.gw.child.id().to_string(),
            "--mock".into(),
            self.mock.url(),
            "--upstream-port".into(),
            self.mock.addr.port().to_string(),
            "--rounds".into(),
            (ROUNDS as u32).to_string(),
        ];
        if let Some(ca) = &self.ca {
            args.extend(["--ca".into(), ca.display().to_string()]);
        }
        for c in checks {
            args.extend(["-k".into(), (*c).to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = run_script("h2_attacks.py", &args, SCRIPT_TIMEOUT);
        print!("{out}");
        for c in checks {
            assert!(
                out.lines().any(|l| l.starts_with(&format!("PASS  {c} "))),
                "{c} did not run:\n{out}"
            );
        }
        out
    }

    /// The value of a metric series (0 when absent).
    fn metric(&self, series: &str) -> f64 {
        metric(&metrics(&self.gw), series).unwrap_or(0.0)
    }

    fn floods(&self, frame: &str) -> f64 {
        self.metric(&format!("tollgate_http2_floods_total{{frame=\"{frame}\"}}"))
    }

    fn errors(&self, reason: &str) -> f64 {
        self.metric(&format!(
            "tollgate_http2_connection_errors_total{{reason=\"{reason}\"}}"
        ))
    }

    /// The process is alive and answers a request (HTTP/1.1 on the same listener for
    /// h2c; the admin's /metrics for TLS).
    fn assert_serving(&mut self) {
        assert!(
            self.gw.child.try_wait().unwrap().is_none(),
            "the gateway exited:\n{}",
            self.gw.log()
        );
        if self.ca.is_none() {
            let r = get(&self.gw.addr(), "/after-the-attack");
            assert_eq!(r.status, 200, "{}", r.text());
        } else {
            metrics(&self.gw);
        }
    }
}

/// Flood counters other than `except` stay at zero (an attack is stopped by its own
/// budget, not by a neighbour's).
fn assert_no_other_floods(t: &Target, except: &[&str]) {
    for frame in [
        "settings",
        "ping",
        "priority",
        "window_update",
        "empty_frames",
        "rst_stream",
        "new_streams",
        "continuation_per_block",
    ] {
        if !except.contains(&frame) {
            assert_eq!(t.floods(frame), 0.0, "floods{{frame={frame}}}");
        }
    }
}

/// Rapid Reset with the default limits: in bursts, h2's pending-accept reset limit
/// (`http2.max_pending_accept_resets`, 20) ends each connection at once
/// ("too_many_resets", a protocol error); paced one pair a write, the frame scanner's
/// `http2.flood.rst_stream` (500 a second) does. No reset stream leaves upstream work.
#[test]
fn rapid_reset_with_the_default_limits() {
    let mut t = start("", None);
    t.attack(&["rapid-reset-burst"], &[]);
    assert_eq!(t.errors("limits"), ROUNDS, "h2's too_many_resets");
    assert_eq!(t.floods("rst_stream"), 0.0);
    t.attack(&["rapid-reset-paced"], &[]);
    // Each paced connection is stopped once: by the scanner's rst_stream budget, or,
    // when the gateway fell behind and read many pairs at once (a busy CI machine), by
    // h2's pending-accept limit again.
    let paced_by_h2 = t.errors("limits") - ROUNDS;
    assert_eq!(
        t.floods("rst_stream") + paced_by_h2,
        ROUNDS,
        "rst_stream floods {}, pending-accept limit {paced_by_h2}",
        t.floods("rst_stream")
    );
    assert_no_other_floods(&t, &["rst_stream"]);
    // Streams the client reset before their response began are counted as such.
    assert!(t.metric("tollgate_http2_client_resets_total") >= 500.0);
    t.assert_serving();
}

/// MadeYouReset: streams the server itself must reset (a WINDOW_UPDATE that overflows
/// the stream window, a self-dependent PRIORITY, DATA past content-length) each get
/// their RST_STREAM and their upstream request cancelled; h2's local reset limit
/// (`http2.max_local_error_resets`, 200) ends the connection with ENHANCE_YOUR_CALM.
#[test]
fn made_you_reset_with_the_default_limits() {
    let mut t = start("", None);
    t.attack(&["made-you-reset"], &[]);
    assert_eq!(t.errors("limits"), ROUNDS, "h2's too_many_internal_resets");
    assert_no_other_floods(&t, &[]);
    // The request path saw the resets that came before the response (the WINDOW_UPDATE
    // and PRIORITY ones, 2 in 3; a body past its content-length fails the body read
    // instead) and dropped their upstream work (the script counted the upstream
    // connections left open).
    let resets = t.metric("tollgate_http2_client_resets_total");
    assert!(resets >= 3.0 * 133.0, "client resets {resets}");
    t.assert_serving();
}

/// CONTINUATION floods with the defaults: h2's own limit on CONTINUATION frames per
/// block (from the header list and frame sizes: 5 here) usually comes first; the frame
/// scanner's (32) when the gateway reads 33 of them at once.
#[test]
fn continuation_floods_with_the_default_limits() {
    let mut t = start("", None);
    t.attack(&["continuation-flood", "continuation-flood-big"], &[]);
    let (h2, scanner) = (t.errors("limits"), t.floods("continuation_per_block"));
    assert_eq!(h2 + scanner, 2.0 * ROUNDS, "h2 {h2}, scanner {scanner}");
    assert_no_other_floods(&t, &["continuation_per_block"]);
    t.assert_serving();
}

/// With `http2.flood.continuation_per_block` under h2's limit, the frame scanner stops
/// the flood (before h2 has buffered the block).
#[test]
fn continuation_flood_stopped_by_the_frame_scanner() {
    let mut t = start("[http2.flood]\ncontinuation_per_block = 3", None);
    t.attack(&["continuation-flood", "continuation-flood-big"], &[]);
    assert_eq!(t.floods("continuation_per_block"), 2.0 * ROUNDS);
    assert_eq!(t.errors("limits") + t.errors("protocol"), 0.0);
    t.assert_serving();
}

/// An HPACK bomb (64 MB of header list from one 16 KB frame) is refused while it is
/// decoded: h2 stops at 4 x `http2.max_header_list_size` with ENHANCE_YOUR_CALM; the
/// gateway's memory does not move.
#[test]
fn hpack_bomb_with_the_default_limits() {
    let mut t = start("", None);
    t.attack(&["hpack-bomb"], &["--max-rss-mib", "16"]);
    assert_eq!(t.errors("limits"), ROUNDS, "h2's header_list_way_too_large");
    assert_no_other_floods(&t, &[]);
    t.assert_serving();
}

/// The 2019 control-frame floods with the default budgets: each stopped by its own
/// counter in the frame scanner.
#[test]
fn control_frame_floods_with_the_default_budgets() {
    let mut t = start("", None);
    t.attack(
        &[
            "settings-flood",
            "ping-flood",
            "priority-flood",
            "window-update-flood",
            "empty-data-flood",
        ],
        &[],
    );
    for frame in [
        "settings",
        "ping",
        "priority",
        "window_update",
        "empty_frames",
    ] {
        assert_eq!(t.floods(frame), ROUNDS, "floods{{frame={frame}}}");
    }
    assert_no_other_floods(
        &t,
        &[
            "settings",
            "ping",
            "priority",
            "window_update",
            "empty_frames",
        ],
    );
    assert_eq!(t.errors("limits") + t.errors("protocol"), 0.0);
    t.assert_serving();
}

/// A client that opens a zero window and never reads: the heads go out, no DATA, each
/// stream reset at `http2.send_timeout`, GOAWAY at `http2.idle_timeout`, the
/// connection closed; memory bounded by `http2.max_send_buffer`.
#[test]
fn zero_window_stall_is_bounded_by_the_send_and_idle_timeouts() {
    let mut t = start("send_timeout = \"1s\"\nidle_timeout = \"1s\"", None);
    t.attack(
        &["zero-window-stall"],
        &[
            "--send-timeout",
            "1",
            "--idle-timeout",
            "1",
            "--rounds",
            "1",
        ],
    );
    assert!(t.metric("tollgate_http2_streams_total") >= 20.0);
    assert_no_other_floods(&t, &[]);
    assert_eq!(t.errors("limits") + t.errors("protocol"), 0.0);
    t.assert_serving();
}

/// Over TLS (ALPN h2, a certificate made here): a PING flood and Rapid Reset meet the
/// same limits as on h2c.
#[test]
fn attacks_over_tls_meet_the_same_limits() {
    let mut t = start("", Some(tls("tls")));
    t.attack(&["ping-flood", "rapid-reset-burst"], &[]);
    assert_eq!(t.floods("ping"), ROUNDS);
    assert_eq!(t.errors("limits"), ROUNDS, "h2's too_many_resets");
    assert_no_other_floods(&t, &["ping"]);
    assert!(t.metric("tollgate_http2_connections_total") >= 2.0 * ROUNDS);
    t.assert_serving();
}

/// The control: a client that sends PING, SETTINGS, PRIORITY, WINDOW_UPDATE and a
/// reset request every 20 ms for 2.5 s (in all more PINGs and SETTINGS than one
/// second's budget, about half of it in any second) is served, never cut off.
#[test]
fn a_busy_client_within_the_budgets_is_not_cut_off() {
    let mut t = start("", None);
    t.attack(&["within-budgets"], &[]);
    assert_no_other_floods(&t, &[]);
    assert_eq!(t.errors("limits") + t.errors("protocol"), 0.0);
    t.assert_serving();
}
