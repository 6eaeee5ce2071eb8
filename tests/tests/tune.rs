//! End-to-end: `tollgate tune` inspects the host and names every check, and `tollgate
//! run` refuses a `runtime.cpus` that names a CPU the host does not have.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tollgate_tests::{bin, free_port};

const CHECKS: [&str; 14] = [
    "io_uring",
    "memlock",
    "nofile",
    "somaxconn",
    "tcp_max_syn_backlog",
    "ip_local_port_range",
    "tcp_tw_reuse",
    "file-max",
    "nr_open",
    "cpus",
    "cpufreq_governor",
    "transparent_hugepage",
    "virtualization",
    "cpu_isolation",
];

/// Runs `tollgate` with `args` and returns its output; fails the test past `limit`.
fn tollgate(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(bin("tollgate"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tollgate");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "tollgate {args:?} still running after {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn scratch_config(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tollgate-tune-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tollgate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The line of the report for `check`, split into its first columns.
fn row<'a>(stdout: &'a str, check: &str) -> Vec<&'a str> {
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(check))
        .unwrap_or_else(|| panic!("no line for {check} in:\n{stdout}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

#[test]
fn tune_names_every_check_with_a_status() {
    let out = tollgate(&["tune"], Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("nothing was changed"), "{stdout}");
    assert!(stdout.contains("embedded default"), "{stdout}");
    for check in CHECKS {
        let cols = row(&stdout, check);
        assert!(
            matches!(cols.get(1), Some(&"ok") | Some(&"warn")),
            "{check}: {cols:?}"
        );
        assert!(cols.len() >= 5, "{check} lacks a column: {cols:?}");
    }
    let warns = stdout
        .lines()
        .filter(|l| row_status(l) == Some("warn"))
        .count();
    assert!(
        stdout.contains(&format!("{} ok, {warns} warn", CHECKS.len() - warns)),
        "{stdout}"
    );
}

fn row_status(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    let name = words.next()?;
    CHECKS.contains(&name).then(|| words.next()).flatten()
}

#[test]
fn tune_fits_the_given_config_and_strict_fails_on_a_warning() {
    let path = scratch_config(
        "cfg",
        &format!(
            "[runtime]\ncpus = [0, 4095]\n[admin]\nlisten = \"\"\n[[listeners]]\nlisten = \
             \"127.0.0.1:{}\"\nbacklog = 54321\n[[routes]]\nrespond = {{ status = 200 }}\n",
            free_port()
        ),
    );
    let p = path.to_str().unwrap();
    let out = tollgate(&["tune", "-c", p], Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("the given config"), "{stdout}");
    // The recommendations follow the config's backlog, whatever the host has.
    assert!(
        row(&stdout, "somaxconn")[3].contains(">= 54321"),
        "{stdout}"
    );
    assert!(
        row(&stdout, "tcp_max_syn_backlog")[3].contains(">= 54321"),
        "{stdout}"
    );
    // CPU 4095 exists on no test machine.
    let cpus = row(&stdout, "cpus");
    assert_eq!(cpus[1], "warn", "{stdout}");
    assert!(cpus[4].contains("runtime.cpus[1] = 4095"), "{stdout}");

    let strict = tollgate(&["tune", "--strict", "-c", p], Duration::from_secs(30));
    assert_eq!(strict.status.code(), Some(1));
    assert_eq!(strict.stdout, out.stdout, "--strict prints the same report");
}

#[test]
fn tune_reports_a_bad_config_like_check_does() {
    let path = scratch_config("bad", "[runtime]\nworkerz = 2\n");
    let out = tollgate(
        &["tune", "-c", path.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("workerz"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn run_refuses_a_cpu_the_host_does_not_have() {
    let path = scratch_config(
        "run",
        &format!(
            "[runtime]\ncpus = [4095]\n[admin]\nlisten = \"\"\n[[listeners]]\nlisten = \
             \"127.0.0.1:{}\"\n[[routes]]\nrespond = {{ status = 200 }}\n",
            free_port()
        ),
    );
    let out = tollgate(
        &["run", "-c", path.to_str().unwrap()],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("runtime.cpus[0] = 4095: no such CPU online"),
        "{stderr}"
    );
}
