//! End-to-end with a real client: curl (installed by `scripts/install-test-deps.sh`)
//! against the gateway. A GET, a chunked upload of a file, and two requests on one
//! kept-alive connection. A missing curl fails the tests; it never skips them.

use std::process::{Command, Output};

use tollgate_tests::{Gateway, Reply, Upstream};

fn config(up: &Upstream) -> String {
    format!(
        r#"
[runtime]
workers = 1
[admin]
listen = "127.0.0.1:{{admin}}"
[[listeners]]
listen = "127.0.0.1:{{port}}"
[[clusters]]
name = "up"
endpoints = ["{}"]
[[routes]]
name = "all"
upstream = "up"
"#,
        up.addr
    )
}

/// Runs curl with `args` (silent, errors shown, at most 5 s); panics with its stderr if
/// it fails.
fn curl(args: &[&str]) -> Output {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run curl ({e}); install it with scripts/install-test-deps.sh")
        });
    assert!(
        out.status.success(),
        "curl {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn curl_get_is_proxied() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up));
    let out = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &gw.url("/curl?x=1"),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    let seen = up.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].target, "/curl?x=1");
    assert!(seen[0].header("user-agent").unwrap().starts_with("curl/"));
}

#[test]
fn curl_chunked_upload_arrives_whole() {
    let up = Upstream::start(|r| {
        Reply::Full(
            200,
            vec![],
            format!("got {} bytes", r.body.len()).into_bytes(),
        )
    });
    let gw = Gateway::start(&config(&up));
    // 200 KiB, larger than one read buffer, with every byte value.
    let data: Vec<u8> = (0..200 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    let file = gw.dir().join("upload.bin");
    std::fs::write(&file, &data).unwrap();
    let at = format!("@{}", file.display());
    let out = curl(&[
        "--data-binary",
        &at,
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Content-Type: application/octet-stream",
        &gw.url("/upload"),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("got {} bytes", data.len())
    );
    let seen = up.requests();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].chunked, "forwarded in its chunked framing");
    assert_eq!(seen[0].method, "POST");
    assert!(seen[0].body == data, "the body arrived changed");
}

#[test]
fn curl_reuses_one_connection_for_two_requests() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up));
    let out = curl(&["-w", " %{num_connects}\n", &gw.url("/one"), &gw.url("/two")]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // The second transfer made no new connection: the gateway kept the first alive.
    assert_eq!(text, "ok /one 1\nok /two 0\n");
    assert_eq!(up.request_count(), 2);
}
