//! Starting and stopping the real `tollgate` binary.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A config: one worker, an admin listener, `top` (top-level tables such as `[http2]`
/// or `[limits]`, with their keys), a listener with `listener` (its keys, then its
/// tables), and a catch-all route to the cluster `up` at `upstream`.
pub fn catch_all_config(top: &str, listener: &str, upstream: impl std::fmt::Display) -> String {
    format!(
        r#"
[runtime]
workers = 1
[admin]
listen = "127.0.0.1:{{admin}}"
{top}
[[listeners]]
listen = "127.0.0.1:{{port}}"
{listener}
[[clusters]]
name = "up"
endpoints = ["{upstream}"]
[[routes]]
name = "all"
upstream = "up"
"#
    )
}

/// The path of a binary built from this workspace (`tollgate`, `tollgate-mock`, ...),
/// next to the test executable's own target directory.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-<hash>  ->  target/<profile>/<name>
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace --bins` first (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A free loopback port (bound and released; the race with other tests is harmless in
/// practice because the kernel hands out ports in sequence).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running gateway. Killed on drop.
pub struct Gateway {
    pub child: Child,
    pub port: u16,
    pub admin_port: u16,
    pub config_path: PathBuf,
    pub log_path: PathBuf,
    dir: PathBuf,
}

impl Gateway {
    /// Starts `tollgate run` with `config`, in which `{port}` and `{admin}` are replaced
    /// by free ports and `{dir}` by a scratch directory. Waits until it serves.
    ///
    /// A port found free can be taken by another process before the gateway binds it
    /// (tests run in parallel, benchmarks open thousands of connections): a start that
    /// fails with "Address already in use" is tried again on fresh ports, twice.
    pub fn start(config: &str) -> Gateway {
        Gateway::start_with_env(config, &[])
    }

    /// [`Gateway::start`] with extra environment variables for the process.
    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> Gateway {
        for _ in 0..2 {
            let mut g = Gateway::spawn(config, env);
            match g.try_ready() {
                Ok(()) => return g,
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("{log}"),
            }
        }
        let mut g = Gateway::spawn(config, env);
        if let Err(log) = g.try_ready() {
            panic!("{log}");
        }
        g
    }

    fn spawn(config: &str, env: &[(&str, &str)]) -> Gateway {
        let dir = std::env::temp_dir().join(format!(
            "tollgate-e2e-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let admin_port = free_port();
        let text = config
            .replace("{port}", &port.to_string())
            .replace("{admin}", &admin_port.to_string())
            .replace("{dir}", dir.to_str().unwrap());
        let config_path = dir.join("tollgate.toml");
        std::fs::write(&config_path, text).unwrap();
        let log_path = dir.join("tollgate.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(bin("tollgate"))
            .arg("run")
            .arg("-c")
            .arg(&config_path)
            .env("TOLLGATE_LOG", "debug,h2=info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn tollgate");
        Gateway {
            child,
            port,
            admin_port,
            config_path,
            log_path,
            dir,
        }
    }

    /// Waits until the gateway serves; on failure, what went wrong with its log.
    fn try_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("tollgate exited early ({status}):\n{}", self.log()));
            }
            // Every worker has bound its listener once "tollgate ready" is logged; before
            // that, the first worker alone may take the test's first connections.
            if self.log().contains("tollgate ready")
                && TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "tollgate did not start listening within 10 s:\n{}",
            self.log()
        ))
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin_port)
    }

    /// The gateway's stderr so far.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log_path) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    pub fn signal(&self, sig: i32) {
        // The workspace forbids `unsafe`, so signals go through kill(1), not libc::kill.
        let name = match sig {
            libc::SIGHUP => "HUP",
            libc::SIGTERM => "TERM",
            libc::SIGINT => "INT",
            _ => panic!("unsupported signal {sig}"),
        };
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status();
        assert!(
            ok.map(|s| s.success()).unwrap_or(false),
            "kill -{name} failed"
        );
    }

    /// Waits for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Replaces the config file (same placeholders as `start`).
    pub fn write_config(&self, config: &str) {
        let text = config
            .replace("{port}", &self.port.to_string())
            .replace("{admin}", &self.admin_port.to_string())
            .replace("{dir}", self.dir.to_str().unwrap());
        std::fs::write(&self.config_path, text).unwrap();
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!(
                "--- tollgate log ({}):\n{}",
                self.log_path.display(),
                self.log()
            );
        }
    }
}
