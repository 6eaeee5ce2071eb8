//! Running the Python scripts in `tests/py/` (the official openai and anthropic SDKs)
//! with the virtualenv that `scripts/install-test-deps.sh` makes at
//! `${CARGO_TARGET_DIR:-target}/pyenv`.
//!
//! The interpreter is `$TOLLGATE_PYTHON` when set, else `pyenv/bin/python` in the target
//! directory this test executable was built into. A missing venv fails the test with a
//! message saying how to make it: these tests never skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The venv's interpreter. Panics, naming the fix, when there is none.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TOLLGATE_PYTHON") {
        let p = PathBuf::from(p);
        assert!(p.exists(), "TOLLGATE_PYTHON={} does not exist", p.display());
        return p;
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>: the venv is target/pyenv (or, with --target,
    // target/<triple>/<profile>/deps/...: a level further up).
    let found = exe
        .ancestors()
        .skip(1)
        .take(4)
        .map(|d| d.join("pyenv/bin/python"))
        .find(|p| p.exists());
    found.unwrap_or_else(|| {
        panic!(
            "no Python virtualenv for the SDK tests next to {}: run scripts/install-test-deps.sh \
             (it makes ${{CARGO_TARGET_DIR:-target}}/pyenv with the pinned openai and anthropic \
             SDKs), or point TOLLGATE_PYTHON at a python that has them",
            exe.display()
        )
    })
}

/// The path of `tests/py/<name>`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("py").join(name)
}

/// Runs `tests/py/<name> ARGS` with the venv's python, at most `timeout`; panics with
/// the script's whole output (and the command line to rerun it) unless it exits 0.
/// Returns the output.
pub fn run_script(name: &str, args: &[String], timeout: Duration) -> String {
    let py = python();
    let path = script(name);
    let out_path = std::env::temp_dir().join(format!(
        "tollgate-py-{}-{}.log",
        std::process::id(),
        crate::free_port()
    ));
    let out = std::fs::File::create(&out_path).expect("script output file");
    let err = out.try_clone().expect("dup output file");
    let mut child = Command::new(&py)
        .arg(&path)
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", py.display()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for the script") {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let command = format!(
        "{} {} {}",
        py.display(),
        path.display(),
        args.iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    match status {
        Some(st) if st.success() => output,
        Some(st) => panic!("{name} failed ({st}):\n{output}\n(command: {command})"),
        None => panic!(
            "{name} did not finish within {timeout:?}; its output so far:\n{output}\n(command: {command})"
        ),
    }
}
