//! Table-driven tests: one config snippet per check, with the message it must give and
//! the line it must point at; then whole configs that must pass.

use super::locate::{line_col, path_at, span_of, At, KeyPath};
use super::syntax::{check_origin, check_replacement, parse_host_port};
use super::{parse_and_validate, parse_and_validate_all, validate};
use crate::config::{Config, ConfigError, EMBEDDED_DEFAULT};

/// Appended to snippets that define no listener, so each case shows one error only.
const LISTENER: &str = "\n[[listeners]]\nlisten = \"127.0.0.1:18080\"\n";

fn errors_of(snippet: &str) -> Vec<ConfigError> {
    let text = if snippet.contains("listeners") {
        snippet.to_owned()
    } else {
        format!("{snippet}{LISTENER}")
    };
    match parse_and_validate_all(&text, "test.toml") {
        Ok(_) => Vec::new(),
        Err(errors) => errors,
    }
}

/// Each row: a snippet, a piece of the one error it must give, and that error's line.
fn run_cases(cases: &[(&str, &str, Option<usize>)]) {
    let mut failures = Vec::new();
    for (snippet, needle, line) in cases {
        let errors = errors_of(snippet);
        let ok = errors.len() == 1
            && errors[0].message.contains(needle)
            && errors[0].line == *line
            && errors[0].column.is_some() == line.is_some();
        if !ok {
            let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
            failures.push(format!(
                "snippet:\n{snippet}\nwanted one error containing {needle:?} at line {line:?}; got {got:#?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn syntax_and_type_errors_point_at_the_key() {
    run_cases(&[
        ("[runtime]\nworkers = 2\nbogus = 1\n", "runtime.bogus: unknown field `bogus`", Some(3)),
        (
            "[[routes]]\nname = \"a\"\nrespond = {}\nmatch = { path = \"/\", hots = \"x\" }\n",
            "routes[0].match.hots: unknown field `hots`",
            Some(4),
        ),
        (
            "[[routes]]\nrespond = {}\n\n[routes.match]\npath = \"/\"\nmethod = [\"GET\"]\n",
            "unknown field `method`, expected one of",
            Some(6),
        ),
        ("[limits]\nmax_headers = \"lots\"\n", "limits.max_headers: invalid type: string \"lots\", expected a whole number", Some(2)),
        ("[limits]\nmax_headers = -1\n", "expected a whole number", Some(2)),
        ("[runtime]\ntick = \"5x\"\n", "runtime.tick: invalid duration \"5x\"", Some(2)),
        ("[runtime]\ndriver = \"uring\"\n", "unknown variant `uring`, expected one of `auto`", Some(2)),
        ("[admin]\nlisten = = 1\n", "", Some(2)),
        ("[admin]\nlisten = \"unterminated\n", "", Some(2)),
        (
            "[[clusters]]\nname = \"a\"\nendpoints = [\"x:1\", { address = \"y:2\", wieght = 3 }]\n",
            "clusters[0].endpoints: an endpoint is \"host:port\" or { address",
            Some(3),
        ),
        ("[[listeners]]\nname = \"x\"\n", "listeners[0]: missing field `listen`", Some(1)),
        ("[[routes]]\nrespond = { status = \"200\" }\n", "expected a whole number from 0 to 65535", Some(2)),
        ("[[clusters]]\nname = \"a\"\nendpoints = [\"x:1\"]\nretry = { budget_ratio = \"lots\" }\n", "expected a number", Some(4)),
    ]);
}

#[test]
fn server_sections() {
    run_cases(&[
        ("listeners = []\n", "no listeners", None),
        ("[[listeners]]\nlisten = \"127.0.0.1\"\n", "listeners[0].listen: listener 1: \"127.0.0.1\" has no port", Some(2)),
        ("[[listeners]]\nlisten = \"example.com:80\"\n", "needs an IP address or \"localhost\"", Some(2)),
        ("[[listeners]]\nlisten = \"127.0.0.1:0\"\n", "port \"0\" is not a number from 1 to 65535", Some(2)),
        ("[[listeners]]\nlisten = \"127.0.0.1:http\"\n", "port \"http\" is not a number", Some(2)),
        ("[[listeners]]\nlisten = \"::1:8080\"\n", "put an IPv6 address in brackets", Some(2)),
        ("[[listeners]]\nlisten = \"[::1:8080\"\n", "missing ']'", Some(2)),
        ("[[listeners]]\nlisten = \"http://127.0.0.1:80\"\n", "has a scheme (http://)", Some(2)),
        ("[[listeners]]\nlisten = \"300.1.1.1:80\"\n", "is not a valid IPv4 address", Some(2)),
        (
            "[[listeners]]\nlisten = \"0.0.0.0:8080\"\n[[listeners]]\nlisten = \"127.0.0.1:8080\"\n",
            "listener 2: \"127.0.0.1:8080\" overlaps listener 1 (\"0.0.0.0:8080\")",
            Some(4),
        ),
        (
            "[[listeners]]\nlisten = \"localhost:8080\"\n[[listeners]]\nlisten = \"[::1]:8080\"\n",
            "overlaps listener 1",
            Some(4),
        ),
        (
            "[[listeners]]\nlisten = \"[::]:8080\"\n[[listeners]]\nlisten = \"10.0.0.1:8080\"\n",
            "overlaps listener 1",
            Some(4),
        ),
        (
            "[[listeners]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[listeners]]\nname = \"a\"\nlisten = \"127.0.0.1:2\"\n",
            "listener 2 (\"a\"): the name is already used by listener 1",
            Some(5),
        ),
        (
            "[[listeners]]\nname = \"listener-2\"\nlisten = \"127.0.0.1:1\"\n[[listeners]]\nlisten = \"127.0.0.1:2\"\n",
            "its default name \"listener-2\" is taken by listener 1",
            Some(4),
        ),
        ("[[listeners]]\nlisten = \"127.0.0.1:1\"\nbacklog = 0\n", "listeners[0].backlog: listener 1: must be greater than 0", Some(3)),
        ("[[listeners]]\nlisten = \"127.0.0.1:1\"\nmax_connections = 0\n", "must be greater than 0", Some(3)),
        ("[admin]\nlisten = \"localhost\"\n", "admin.listen: \"localhost\" has no port", Some(2)),
        ("[admin]\nlisten = \"127.0.0.1:18080\"\n", "overlaps listener 1 (\"127.0.0.1:18080\")", Some(2)),
        ("[runtime]\nworkers = 4\ncpus = [0, 1]\n", "workers = 4 but cpus lists 2 CPU(s)", Some(2)),
        ("[runtime]\ncpus = [0, 1, 0]\n", "runtime.cpus[2]: CPU 0 is listed twice", Some(2)),
        ("[runtime]\nworkers = 5000\n", "more than the 1024 allowed", Some(2)),
        ("[runtime]\ntick = \"0ms\"\n", "runtime.tick: must be longer than 0", Some(2)),
        ("[runtime]\nio_uring_entries = 0\n", "must be from 1 to 32768", Some(2)),
        ("[limits]\nmax_headers = 300\n", "limits.max_headers: must be at most 256", Some(2)),
        ("[limits]\nmax_headers = 0\n", "must be greater than 0", Some(2)),
        (
            "[limits]\nmax_head_bytes = 4096\nmax_request_line = 8192\n",
            "limits.max_request_line: 8192 is more than max_head_bytes (4096)",
            Some(3),
        ),
        ("[limits]\nmax_head_bytes = 2000000\n", "must be at most 1048576", Some(2)),
        ("[limits]\nbuffer_size = 512\n", "limits.buffer_size: must be from 1024", Some(2)),
        ("[limits]\nmax_body_bytes = 0\n", "limits.max_body_bytes: must be greater than 0", Some(2)),
        ("[limits]\nmax_chunk_line = 0\n", "must be greater than 0", Some(2)),
        ("[limits]\nbuffer_pool = 0\n", "must be greater than 0", Some(2)),
        ("[limits]\nkeepalive_timeout = 0\n", "limits.keepalive_timeout: must be longer than 0", Some(2)),
        ("[limits]\nheader_read_timeout = \"0s\"\n", "must be longer than 0", Some(2)),
        ("[limits]\nbody_read_timeout = 0\n", "must be longer than 0", Some(2)),
        ("[access_log]\npath = \"/var/log/\"\n", "access_log.path: \"/var/log/\" names a directory", Some(2)),
    ]);
}

#[test]
fn http2_section() {
    run_cases(&[
        // RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE is 2^14..=2^24-1.
        (
            "[http2]\nmax_frame_size = 16383\n",
            "http2.max_frame_size: 16383 is outside 16384..=16777215 (RFC 9113 §6.5.2)",
            Some(2),
        ),
        (
            "[http2]\nmax_frame_size = 16777216\n",
            "http2.max_frame_size: 16777216 is outside 16384..=16777215",
            Some(2),
        ),
        (
            "[http2]\nmax_frame_size = 0\n",
            "is outside 16384..=16777215",
            Some(2),
        ),
        (
            "[http2]\nmax_frame_size = -1\n",
            "expected a whole number",
            Some(2),
        ),
        (
            "[http2]\nmax_concurrent_streams = 0\n",
            "http2.max_concurrent_streams: must be greater than 0",
            Some(2),
        ),
        (
            "[http2]\nmax_header_list_size = 100\n",
            "http2.max_header_list_size: 100 is outside 1024..=",
            Some(2),
        ),
        (
            "[http2]\nstream_window = 0\n",
            "http2.stream_window: 0 is outside 1..=2147483647 (RFC 9113 §6.9.1)",
            Some(2),
        ),
        (
            "[http2]\nstream_window = 2147483648\n",
            "http2.stream_window: 2147483648 is outside 1..=2147483647",
            Some(2),
        ),
        (
            "[http2]\nconnection_window = 1000\n",
            "http2.connection_window: 1000 is outside 65535..=2147483647",
            Some(2),
        ),
        (
            "[http2]\nmax_send_buffer = 10\n",
            "http2.max_send_buffer: 10 is under 1024 bytes",
            Some(2),
        ),
        (
            "[http2]\nidle_timeout = \"0s\"\n",
            "http2.idle_timeout: must be longer than 0",
            Some(2),
        ),
        (
            "[http2]\nsend_timeout = 0\n",
            "http2.send_timeout: must be longer than 0",
            Some(2),
        ),
        (
            "[http2]\npreface_timeout = \"0ms\"\n",
            "http2.preface_timeout: must be longer than 0",
            Some(2),
        ),
        (
            "[http2]\nio = \"uring\"\n",
            "unknown variant `uring`, expected `readiness` or `completion`",
            Some(2),
        ),
        (
            "[http2]\nmax_streams = 10\n",
            "http2.max_streams: unknown field `max_streams`",
            Some(2),
        ),
        (
            "[http2.flood]\npings = 10\n",
            "http2.flood.pings: unknown field `pings`",
            Some(2),
        ),
    ]);
    // The edges are accepted, and h2c on a plain listener.
    for ok in [
        "[http2]\nmax_frame_size = 16384\n",
        "[http2]\nmax_frame_size = 16777215\n",
        "[http2]\nstream_window = 2147483647\nconnection_window = 65535\n",
        "[[listeners]]\nlisten = \"127.0.0.1:18080\"\nh2c = true\n",
    ] {
        assert!(errors_of(ok).is_empty(), "{ok}: {:?}", errors_of(ok));
    }
}

/// A valid cluster head; each case adds one line (line 4 of the snippet).
const CLUSTER: &str = "[[clusters]]\nname = \"a\"\nendpoints = [\"a.internal:8000\"]\n";

#[test]
fn clusters() {
    let with = |line: &str| format!("{CLUSTER}{line}\n");
    let cases: Vec<(String, &str, Option<usize>)> = vec![
        ("[[clusters]]\nname = \"a\"\nendpoints = []\n".into(), "cluster \"a\": needs at least one endpoint", Some(3)),
        ("[[clusters]]\nname = \"a\"\nendpoints = [\"a:99999\"]\n".into(), "clusters[0].endpoints[0]: cluster \"a\": endpoint \"a:99999\": port \"99999\"", Some(3)),
        ("[[clusters]]\nname = \"a\"\nendpoints = [\"http://a:80\"]\n".into(), "has a scheme", Some(3)),
        ("[[clusters]]\nname = \"a\"\nendpoints = [\"a_b..c:80\"]\n".into(), "empty label", Some(3)),
        ("[[clusters]]\nname = \"a\"\nendpoints = [\"a\"]\n".into(), "endpoint \"a\" has no port", Some(3)),
        ("[[clusters]]\nname = \"a\"\nendpoints = [{ address = \"a:1\", weight = 0 }]\n".into(), "weight must be from 1 to 1000", Some(3)),
        ("[[clusters]]\nname = \"a\"\nendpoints = [\"b:1\", { address = \"a:1\", weight = 5000 }]\n".into(), "clusters[0].endpoints[1]: cluster \"a\": endpoint \"a:1\": weight must be from 1 to 1000 (weights are relative); got 5000", Some(3)),
        ("[[clusters]]\nname = \"a\"\nendpoints = [\"a:1\", \"b:1\", \"a:1\"]\n".into(), "clusters[0].endpoints[2]: cluster \"a\": endpoint \"a:1\" is listed twice", Some(3)),
        (format!("{CLUSTER}[[clusters]]\nname = \"a\"\nendpoints = [\"b:1\"]\n"), "clusters[1].name: cluster \"a\": the name is already used by cluster 1", Some(5)),
        ("[[clusters]]\nname = \"\"\nendpoints = [\"b:1\"]\n".into(), "cluster 1: the name is empty", Some(2)),
        (with("lb = \"consistent_hash\""), "needs hash_on", Some(4)),
        (with("lb = \"consistent_hash\"\nhash_on = \"ip\""), "clusters[0].hash_on: cluster \"a\": hash_on: \"ip\" is not one of", Some(5)),
        (with("lb = \"consistent_hash\"\nhash_on = \"header:x y\""), "header name \"x y\" contains a space", Some(5)),
        (with("lb = \"consistent_hash\"\nhash_on = \"cookie:\""), "cookie name is empty", Some(5)),
        (with("hash_on = \"client_ip\""), "hash_on is only used with lb = \"consistent_hash\"", Some(4)),
        (with("connect_timeout = 0"), "clusters[0].connect_timeout: cluster \"a\": must be longer than 0", Some(4)),
        (with("first_byte_timeout = \"0s\""), "must be longer than 0", Some(4)),
        (with("idle_timeout = 0"), "must be longer than 0", Some(4)),
        (with("dns_refresh = 0"), "must be longer than 0", Some(4)),
        (with("pool = { max_idle = 10, max_per_endpoint = 5 }"), "pool.max_idle (10) is more than pool.max_per_endpoint (5)", Some(4)),
        (with("pool = { max_per_endpoint = 0, max_idle = 0 }"), "clusters[0].pool.max_per_endpoint", Some(4)),
        (with("pool = { idle_expiry = 0 }"), "must be longer than 0", Some(4)),
        (with("passive_health = { base_ejection = \"10s\", max_ejection = \"5s\" }"), "max_ejection must not be shorter than base_ejection", Some(4)),
        (with("passive_health = { base_ejection = 0 }"), "must be longer than 0", Some(4)),
        (with("health_check = { path = \"healthz\" }"), "health_check.path \"healthz\" must start with '/'", Some(4)),
        (with("[clusters.health_check]\npath = \"/h\"\nhealthy_threshold = 0"), "clusters[0].health_check.healthy_threshold", Some(6)),
        (with("[clusters.health_check]\npath = \"/h\"\nunhealthy_threshold = 0"), "must be greater than 0", Some(6)),
        (with("health_check = { path = \"/h\", expected_status = [400, 200] }"), "expected_status [400, 200] must be [low, high]", Some(4)),
        (with("health_check = { path = \"/h\", expected_status = [99, 200] }"), "expected_status [99, 200]", Some(4)),
        (with("health_check = { path = \"/h\", interval = \"1s\", timeout = \"2s\" }"), "timeout must not be longer than its interval", Some(4)),
        (with("health_check = { path = \"/h\", interval = 0 }"), "clusters[0].health_check.interval", Some(4)),
        (with("health_check = { path = \"/h\", timeout = 0 }"), "clusters[0].health_check.timeout", Some(4)),
        (with("health_check = { path = \"/h\", host = \"a\\r\\nb\" }"), "carriage return", Some(4)),
        (with("[clusters.retry]\nbudget_ratio = 1.5"), "clusters[0].retry.budget_ratio: cluster \"a\": retry.budget_ratio must be from 0.0 to 1.0", Some(5)),
        (with("[clusters.retry]\nbudget_ratio = nan"), "budget_ratio must be from 0.0 to 1.0", Some(5)),
        (with("retry = { on_status = [503, 404] }"), "clusters[0].retry.on_status[1]: cluster \"a\": retry.on_status 404 is not retryable", Some(4)),
        (with("retry = { attempts = 50 }"), "retry.attempts must be at most 10", Some(4)),
        (with("retry = { budget_window = 0 }"), "must be longer than 0", Some(4)),
    ];
    let cases: Vec<(&str, &str, Option<usize>)> =
        cases.iter().map(|(s, n, l)| (s.as_str(), *n, *l)).collect();
    run_cases(&cases);
}

/// A route that is valid on its own; each case adds lines after it (line 3 onwards).
const ROUTE: &str = "[[routes]]\nname = \"r\"\n";
/// Answer directly, so a case about match or headers needs nothing else.
const RESPOND: &str = "respond = { status = 200 }\n";

#[test]
fn routes() {
    let with = |lines: &str| format!("{ROUTE}{RESPOND}{lines}\n");
    let clusters = "[[clusters]]\nname = \"a\"\nendpoints = [\"a:1\"]\n[[clusters]]\nname = \"b\"\nendpoints = [\"b:1\"]\n";
    let cases: Vec<(String, &str, Option<usize>)> = vec![
        (ROUTE.into(), "routes[0]: route 1 (\"r\"): has neither upstream nor respond", Some(1)),
        (format!("{clusters}{ROUTE}upstream = \"a\"\n{RESPOND}"), "routes[0].respond: route 1 (\"r\"): has both upstream and respond", Some(10)),
        (
            format!("{clusters}[[routes]]\nrespond = {{}}\n[[routes]]\nrespond = {{}}\n[[routes]]\nname = \"chat\"\nupstream = \"chat\"\n"),
            "routes[2].upstream: route 3 (\"chat\"): upstream \"chat\" is not defined; defined clusters: a, b",
            Some(13),
        ),
        (format!("{ROUTE}upstream = \"a\"\n"), "upstream \"a\" is not defined; defined clusters: none", Some(3)),
        (format!("{}{}", with(""), with("")), "routes[1].name: route 2 (\"r\"): the name is already used by route 1", Some(6)),
        (
            format!("[[routes]]\n{RESPOND}[[routes]]\nname = \"route-1\"\n{RESPOND}"),
            "route 2 (\"route-1\"): the name is already used by route 1 (its default name)",
            Some(4),
        ),
        (
            format!("[[routes]]\nname = \"route-2\"\n{RESPOND}[[routes]]\n{RESPOND}"),
            "route 2: its default name \"route-2\" is taken by route 1",
            Some(4),
        ),
        (format!("[[routes]]\nname = \"a\\tb\"\n{RESPOND}"), "contains a control character", Some(2)),
        (with("match = { path = \"/a\", path_prefix = \"/b\" }"), "routes[0].match: route 1 (\"r\"): match sets more than one of path, path_prefix and path_regex", Some(4)),
        (with("match = { path = \"a\" }"), "routes[0].match.path: route 1 (\"r\"): match.path \"a\" must start with '/'", Some(4)),
        (with("match = { path_prefix = \"/a?b=1\" }"), "without the query string", Some(4)),
        (with("match = { path_prefix = \"/a b\" }"), "contains a space; percent-encode it", Some(4)),
        (with("match = { path_regex = \"(foo\" }"), "match.path_regex does not compile: unclosed group", Some(4)),
        (with("[routes.match]\nhost = \"foo.*.com\""), "'*' may only stand for whole leading labels", Some(5)),
        (with("match = { host = \"example.com:8080\" }"), "a host pattern has no port", Some(4)),
        (with("match = { host = \"exa mple.com\" }"), "contains ' '", Some(4)),
        (with("match.methods = [\"GET\", \"BAD METHOD\"]"), "routes[0].match.methods[1]: route 1 (\"r\"): match.methods: method \"BAD METHOD\" contains a space", Some(4)),
        (with("match.headers = { \"x y\" = \"1\" }"), "match.headers: header name \"x y\" contains a space", Some(4)),
        (with("match.headers = { \"x-a\" = \"1\", \"X-A\" = \"2\" }"), "are the same header", Some(4)),
        (with("match = { path = \"/a\" }\nrewrite = { prefix = \"/v2\" }"), "routes[0].rewrite.prefix: route 1 (\"r\"): rewrite.prefix replaces the matched match.path_prefix, but the route has no match.path_prefix", Some(5)),
        (with("match = { path_prefix = \"/api/\" }\nrewrite = { prefix = \"/v2 x\" }"), "routes[0].rewrite.prefix: route 1 (\"r\"): rewrite.prefix \"/v2 x\" contains a space", Some(5)),
        (with("rewrite = { regex = \"^/a$\", replacement = \"/b?x=1\" }"), "rewrite.replacement \"/b?x=1\" contains '?' or '#'", Some(4)),
        (with("rewrite = { regex = \"^/a/(.*)$\" }"), "routes[0].rewrite: route 1 (\"r\"): rewrite.regex needs a replacement", Some(4)),
        (with("rewrite = { regex = \"(\", replacement = \"/\" }"), "rewrite.regex does not compile", Some(4)),
        (with("rewrite = { regex = \"^/a/(.*)$\", replacement = \"/$2\" }"), "refers to group \"2\", which the regex does not have (it has 1 numbered group(s))", Some(4)),
        (with("rewrite = { regex = \"^/a/(.*)$\", replacement = \"/$1abc\" }"), "\"$1abc\" reads as one group name: write \"${1}abc\"", Some(4)),
        (with("rewrite = {}"), "rewrite sets nothing", Some(4)),
        (with("match = { path_prefix = \"/a\" }\nrewrite = { prefix = \"/b\", regex = \"x\", replacement = \"y\" }"), "rewrite sets both prefix and regex", Some(5)),
        (with("match = { path_prefix = \"/a\" }\nrewrite = { prefix = \"/b\", replacement = \"y\" }"), "rewrite.replacement goes with rewrite.regex", Some(5)),
        (with("request_headers = { set = { \"x-a\" = \"a\\r\\nb\" } }"), "routes[0].request_headers.set.x-a: route 1 (\"r\"): request_headers: set: header value \"a\\r\\nb\" contains a carriage return (CR)", Some(4)),
        (with("[routes.request_headers]\nadd = { \"x-a\" = \"a\\u0000\" }"), "contains a NUL byte", Some(5)),
        (with("response_headers = { add = { \"bad name\" = \"x\" } }"), "response_headers: add: header name \"bad name\" contains a space", Some(4)),
        (with("request_headers = { set = { \"Content-Length\" = \"5\" } }"), "Content-Length is managed by the proxy", Some(4)),
        (with("response_headers = { remove = [\"x-ok\", \"transfer-encoding\"] }"), "routes[0].response_headers.remove[1]", Some(4)),
        (with("request_headers = { remove = [\"\"] }"), "header name is empty", Some(4)),
        (format!("{ROUTE}respond = {{ status = 99 }}\n"), "routes[0].respond.status: route 1 (\"r\"): respond.status 99 must be from 200 to 599", Some(3)),
        (format!("{ROUTE}respond = {{ status = 700 }}\n"), "must be from 200 to 599", Some(3)),
        (format!("{ROUTE}respond = {{ status = 204, body = \"x\" }}\n"), "a 204 response has no body", Some(3)),
        (format!("{ROUTE}[routes.respond]\nheaders = {{ \"transfer-encoding\" = \"chunked\" }}\n"), "respond.headers: transfer-encoding is managed by the proxy", Some(4)),
        (with("cors = { allow_origins = [] }"), "routes[0].cors.allow_origins: route 1 (\"r\"): cors.allow_origins is empty", Some(4)),
        (with("cors = { allow_origins = [\"*\"], allow_credentials = true }"), "cors.allow_credentials = true cannot go with allow_origins = [\"*\"]", Some(4)),
        (with("cors = { allow_origins = [\"*\", \"https://a.com\"] }"), "list it alone", Some(4)),
        (with("cors = { allow_origins = [\"https://a.com/x\"] }"), "an origin has no path; browsers send \"https://a.com\"", Some(4)),
        (with("cors = { allow_origins = [\"a.com\"] }"), "an origin is \"*\" or scheme://host[:port]", Some(4)),
        (with("cors = { allow_origins = [\"https://a.com:0\"] }"), "port \"0\"", Some(4)),
        (with("cors = { allow_origins = [\"https://a.com\"], allow_credentials = true, allow_headers = [\"*\"] }"), "cors.allow_headers: with allow_credentials, browsers read \"*\" as a literal name", Some(4)),
        (with("cors = { allow_origins = [\"https://a.com\"], allow_methods = [\"GET\", \"GE T\"] }"), "routes[0].cors.allow_methods[1]", Some(4)),
        (with("cors = { allow_origins = [\"https://a.com\"], allow_methods = [] }"), "cors.allow_methods is empty", Some(4)),
    ];
    let cases: Vec<(&str, &str, Option<usize>)> =
        cases.iter().map(|(s, n, l)| (s.as_str(), *n, *l)).collect();
    run_cases(&cases);
}

#[test]
fn every_problem_is_reported_in_file_order() {
    let text = "\
[limits]
max_headers = 1000

[[routes]]
upstream = \"nope\"

[[listeners]]
listen = \"127.0.0.1:80\"
[[listeners]]
listen = \"127.0.0.1:80\"
";
    let errors = parse_and_validate_all(text, "gw.toml").unwrap_err();
    let lines: Vec<Option<usize>> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [Some(2), Some(5), Some(10)], "{errors:#?}");
    let first = parse_and_validate(text, "gw.toml").unwrap_err();
    assert_eq!(first, errors[0]);
    assert_eq!(
        first.to_string(),
        "gw.toml:2:15: limits.max_headers: must be at most 256 (the parser's header table); got 1000"
    );
    assert_eq!(
        errors[1].to_string(),
        "gw.toml:5:12: routes[0].upstream: route 1: upstream \"nope\" is not defined; defined clusters: none"
    );
}

#[test]
fn problems_without_a_place_come_first() {
    let errors = parse_and_validate_all("[runtime]\ntick = 0\n", "x.toml").unwrap_err();
    assert_eq!(errors.len(), 2);
    assert_eq!(
        errors[0].to_string(),
        "x.toml: no listeners: add a [[listeners]] table with listen = \"127.0.0.1:8080\""
    );
    assert_eq!(errors[1].line, Some(2));
}

#[test]
fn a_config_built_in_code_gets_key_paths_without_lines() {
    let mut config: Config = toml::from_str("[[listeners]]\nlisten = \"127.0.0.1:1\"").unwrap();
    config.limits.buffer_size = 10;
    let errors = validate(config, "<code>").unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].line, errors[0].column), (None, None));
    assert!(
        errors[0]
            .to_string()
            .starts_with("<code>: limits.buffer_size: "),
        "{}",
        errors[0]
    );
}

#[test]
fn the_embedded_default_validates() {
    let config =
        parse_and_validate(EMBEDDED_DEFAULT, "<embedded>").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.listeners[0].listen, "127.0.0.1:8080");
    assert_eq!(config.admin.listen, "127.0.0.1:9901");
    // The catch-all answer comes last, after any more specific route (the built-in LLM).
    let last = config.routes.last().expect("the default has routes");
    assert_eq!(last.name, "welcome");
    assert!(last.respond.is_some());
}

const EXAMPLE_TEXT: &str = include_str!("../example.toml");

/// The example config, with its TLS files (`/etc/tollgate/...`) made for the test in a
/// scratch directory: validation reads them.
fn example() -> String {
    static DIR: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tollgate-example-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, names) in [
            ("example.com", vec!["example.com".to_string()]),
            ("wildcard.example.com", vec!["*.example.com".to_string()]),
            ("clients-ca", vec![]),
        ] {
            let c = rcgen::generate_simple_self_signed(names).unwrap();
            let cert = if name == "clients-ca" {
                dir.join("clients-ca.pem")
            } else {
                dir.join(format!("{name}.crt"))
            };
            std::fs::write(cert, c.cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}.key")), c.key_pair.serialize_pem()).unwrap();
        }
        format!("{}/", dir.display())
    });
    EXAMPLE_TEXT.replace("/etc/tollgate/", dir)
}

#[test]
fn the_example_validates() {
    let config = parse_and_validate(&example(), "example.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(config.clusters.len() >= 2 && config.routes.len() >= 3);
    assert_chain_builds(&config, "example.toml");
    let default = parse_and_validate(EMBEDDED_DEFAULT, "<embedded>").unwrap();
    assert_chain_builds(&default, "<embedded>");
}

/// The reference config must show every key the model has: every key of the resolved
/// config (defaults filled in) must be written in the example's text.
#[test]
fn the_example_sets_every_key() {
    fn keys(value: &toml::Value, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
        match value {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    out.insert(path.clone());
                    keys(v, &path, out);
                }
            }
            toml::Value::Array(a) => a.iter().for_each(|v| keys(v, prefix, out)),
            _ => {}
        }
    }
    let example = example();
    let config = parse_and_validate(&example, "example.toml").unwrap_or_else(|e| panic!("{e}"));
    let (mut resolved, mut written) = Default::default();
    keys(&toml::Value::try_from(&config).unwrap(), "", &mut resolved);
    keys(
        &toml::from_str::<toml::Value>(&example).unwrap(),
        "",
        &mut written,
    );
    let missing: Vec<&String> = resolved.difference(&written).collect();
    assert!(
        missing.is_empty(),
        "example.toml does not show these keys: {missing:?}"
    );
}

#[test]
fn names_and_methods_are_normalised() {
    let text = "\
[[listeners]]
listen = \"127.0.0.1:1\"
[[listeners]]
name = \"b\"
listen = \"127.0.0.1:2\"
[[routes]]
respond = {}
match.methods = [\"get\", \"Post\"]
[[routes]]
name = \"named\"
respond = {}
[[routes]]
respond = {}
";
    let config = parse_and_validate(text, "t").unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = config.routes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["route-1", "named", "route-3"]);
    assert_eq!(config.routes[0].matcher.methods, ["GET", "POST"]);
    let listeners: Vec<&str> = config.listeners.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(listeners, ["listener-1", "b"]);
}

/// What validation accepts, the filter chain must compile: a config that `tollgate check`
/// passes must never fail later at start-up or reload.
fn assert_chain_builds(config: &Config, what: &str) {
    let names: Vec<&str> = config.clusters.iter().map(|c| c.name.as_str()).collect();
    let built = tollgate_filters::Chain::build_with_auth(
        &config.routes,
        &config.auth_inputs(),
        true,
        &|n| names.iter().position(|c| *c == n),
    );
    if let Err(e) = built {
        panic!("{what}: validation passed but the chain does not build: {e}");
    }
}

#[test]
fn accepted_edge_values() {
    for ok in [
        "[admin]\nlisten = \"\"\n",
        "[admin]\nlisten = \"[::1]:9901\"\n",
        "[runtime]\nworkers = 2\ncpus = [3, 5]\n",
        "[limits]\nmax_headers = 256\nmax_requests_per_connection = 0\n",
        "[[listeners]]\nlisten = \"127.0.0.1:80\"\n[[listeners]]\nlisten = \"127.0.0.2:80\"\n[[listeners]]\nlisten = \"[::1]:80\"\n",
        "[[clusters]]\nname = \"a\"\nendpoints = [\"[::1]:80\", \"10.0.0.1:80\", { address = \"svc_1.local.:80\", weight = 5 }]\nlb = \"weighted\"\n",
        "[[clusters]]\nname = \"a\"\nendpoints = [\"a:1\"]\nlb = \"consistent_hash\"\nhash_on = \"cookie:session\"\n",
        "[[clusters]]\nname = \"a\"\nendpoints = [\"a:1\"]\nretry = { on_status = [429, 503, 408], budget_ratio = 0.0 }\npassive_health = { consecutive_failures = 0, base_ejection = 0 }\n",
        "[[routes]]\nrespond = { status = 204 }\nmatch = { host = \"*.example.com\", path_regex = \"^/v[0-9]+/\" }\n",
        "[[routes]]\nrespond = {}\nmatch = { host = \"[::1]\", path_prefix = \"/api/\" }\nrewrite = { prefix = \"/\" }\n",
        "[[routes]]\nrespond = {}\nmatch = { host = \"*\", path_prefix = \"/api/\" }\nrewrite = { prefix = \"\" }\n",
        "[[routes]]\nrespond = {}\nmatch = { path = \"*\", methods = [\"OPTIONS\"] }\n",
        "[[routes]]\nrespond = {}\nrewrite = { regex = \"^/(?P<rest>.*)$\", replacement = \"/v2/${rest}$$\" }\n",
        "[[routes]]\nrespond = {}\nrequest_headers = { set = { host = \"backend\" }, remove = [\"cookie\"] }\n",
        "[[routes]]\nrespond = {}\ncors = { allow_origins = [\"https://a.example\", \"http://localhost:3000\", \"http://[::1]:8080\"], allow_credentials = true, allow_headers = [\"authorization\"] }\n",
        "[[routes]]\nrespond = {}\ncors = { allow_origins = [\"*\"], allow_methods = [\"*\"], allow_headers = [\"*\"] }\n",
    ] {
        let errors = errors_of(ok);
        if errors.is_empty() {
            assert_chain_builds(&parse_and_validate(&format!("{ok}{LISTENER}"), "t").unwrap(), ok);
        }
        assert!(errors.is_empty(), "{ok}\n=> {:#?}", errors.iter().map(ToString::to_string).collect::<Vec<_>>());
    }
}

#[test]
fn line_and_column_count_characters() {
    let text = "a = 1\nb = \"é\" # x\nc";
    assert_eq!(line_col(text, 0), (1, 1));
    assert_eq!(line_col(text, 6), (2, 1));
    let c = text.find('#').unwrap();
    assert_eq!(line_col(text, c), (2, 9));
    assert_eq!(line_col(text, text.len()), (3, 2));
    assert_eq!(line_col(text, text.find('é').unwrap() + 1), (2, 6)); // inside a char
}

#[test]
fn key_paths_resolve_to_spans_and_back() {
    let text = "[[routes]]\nname = \"a\"\nrequest_headers.set = { \"X A\" = \"v\" }\n";
    let doc = toml_edit::Document::parse(text).unwrap();
    let path = KeyPath::root()
        .key("routes")
        .index(0)
        .key("request_headers")
        .key("set")
        .key("X A");
    assert_eq!(path.to_string(), "routes[0].request_headers.set.\"X A\"");
    let key = span_of(&doc, &path, At::Key).unwrap();
    assert_eq!(&text[key], "\"X A\"");
    let value = span_of(&doc, &path, At::Value).unwrap();
    assert_eq!(&text[value], "\"v\"");
    // A key that is not written resolves to its nearest written ancestor.
    let table = span_of(
        &doc,
        &KeyPath::root().key("routes").index(0).key("respond"),
        At::Value,
    );
    assert_eq!(&text[table.unwrap()], "[[routes]]");
    assert_eq!(path_at(&doc, text.find("\"v\"").unwrap()), path);
    assert!(path_at(&doc, text.len()).is_root());
}

#[test]
fn host_port_grammar() {
    for (input, host, port) in [
        ("127.0.0.1:80", "127.0.0.1", 80),
        ("[::1]:443", "::1", 443),
        ("api.example.com:8080", "api.example.com", 8080),
        ("localhost:65535", "localhost", 65535),
    ] {
        let hp = parse_host_port(input).unwrap();
        assert_eq!((hp.host, hp.port), (host, port), "{input}");
    }
    for bad in [
        "", ":80", "a:", "a:+80", "a:080000", "[::1]", "[x]:1", "a/b:1", "-a:1", "a..b:1",
    ] {
        assert!(parse_host_port(bad).is_err(), "{bad:?} should be refused");
    }
}

#[test]
fn origin_grammar() {
    for ok in [
        "*",
        "null",
        "https://a.b",
        "https://A.b/",
        "http://localhost:3000",
        "http://10.0.0.1",
        "http://[::1]",
        "app+x://h",
    ] {
        assert!(check_origin(ok).is_ok(), "{ok}: {:?}", check_origin(ok));
    }
    for bad in [
        "nul",
        "https://",
        "https://a.b/x",
        "https://a.b//",
        "https://a.b:x",
        "1http://a",
        "http://[::1",
    ] {
        assert!(check_origin(bad).is_err(), "{bad} should be refused");
    }
}

#[test]
fn replacement_references() {
    let re = regex::Regex::new(r"^/(?P<ver>v\d)/(.*)$").unwrap();
    for ok in ["/$2", "/${ver}/$2", "$$", "${1}x", "$ver-$2", "no refs"] {
        assert!(
            check_replacement(&re, ok).is_ok(),
            "{ok}: {:?}",
            check_replacement(&re, ok)
        );
    }
    for bad in ["$3", "$1x", "${nope}", "${1", "$", "a$-"] {
        assert!(
            check_replacement(&re, bad).is_err(),
            "{bad} should be refused"
        );
    }
}

/// `tollgate check` prints the resolved config; that output must load to the same config.
#[test]
fn the_resolved_config_round_trips() {
    for (origin, text) in [
        ("example.toml", example()),
        ("<embedded>", EMBEDDED_DEFAULT.into()),
    ] {
        let config = parse_and_validate(&text, origin).unwrap_or_else(|e| panic!("{e}"));
        let printed = toml::to_string(&config).unwrap();
        let again =
            parse_and_validate(&printed, "printed").unwrap_or_else(|e| panic!("{e}\n{printed}"));
        assert_eq!(toml::to_string(&again).unwrap(), printed, "{origin}");
    }
}

/// A valid `[llm]` setup on lines 1-9; each case adds lines after it (line 10 onwards).
const LLM: &str = "[[clusters]]\nname = \"c\"\nendpoints = [\"c:1\"]\n[[llm.providers]]\nname = \"p\"\nkind = \"mock\"\n[[llm.models]]\nname = \"m\"\ndeployments = [{ provider = \"p\" }]\n";

#[test]
fn llm_section() {
    let with = |lines: &str| format!("{LLM}{lines}");
    let model = |lines: &str| format!("{LLM}[[llm.models]]\nname = \"n\"\n{lines}");
    let dep = "deployments = [{ provider = \"p\" }]\n";
    let cases: Vec<(String, &str, Option<usize>)> = vec![
        (LLM.into(), "", None),
        (with("[llm]\nmax_attempts = 0\n"), "llm.max_attempts: must be greater than 0", Some(11)),
        (with("[llm]\ndeadline = \"0s\"\n"), "llm.deadline: must be longer than 0", Some(11)),
        (
            with("[[llm.providers]]\nname = \"o\"\nkind = \"openai\"\nupstream = \"nope\"\n"),
            "llm.providers[1].upstream: provider \"o\": upstream \"nope\" is not defined; defined clusters: c",
            Some(13),
        ),
        (
            with("[[llm.providers]]\nname = \"o\"\nkind = \"anthropic\"\n"),
            "llm.providers[1]: provider \"o\": a anthropic provider needs upstream = \"CLUSTER\"",
            Some(10),
        ),
        (
            with("[[llm.providers]]\nname = \"q\"\nkind = \"mock\"\nupstream = \"c\"\n"),
            "llm.providers[1].upstream: provider \"q\": a mock provider answers inside the gateway",
            Some(13),
        ),
        (
            with("[[llm.providers]]\nname = \"o\"\nkind = \"openai\"\nupstream = \"c\"\nmock = {}\n"),
            "llm.providers[1].mock: provider \"o\": mock settings go with kind = \"mock\" only",
            Some(14),
        ),
        (
            with("[[llm.providers]]\nname = \"p\"\nkind = \"mock\"\n"),
            "llm.providers[1].name: provider \"p\": the name is already used by llm.providers[0]",
            Some(11),
        ),
        (
            with("[[llm.providers]]\nname = \"o\"\nkind = \"openai\"\nupstream = \"c\"\napi_keys = [\"ok\", \"\"]\n"),
            "llm.providers[1].api_keys[1]: provider \"o\": an API key is empty",
            Some(14),
        ),
        (
            with("[[llm.providers]]\nname = \"o\"\nkind = \"openai\"\nupstream = \"c\"\napi_keys = [\"env:TOLLGATE_VALIDATE_TEST_UNSET\"]\n"),
            "llm.providers[1].api_keys[0]: provider \"o\": environment variable TOLLGATE_VALIDATE_TEST_UNSET is not set",
            Some(14),
        ),
        (
            with("[[llm.providers]]\nname = \"o\"\nkind = \"openai\"\nupstream = \"c\"\nheaders = { \"content-length\" = \"1\" }\n"),
            "content-length is managed by the proxy",
            Some(14),
        ),
        (
            model("deployments = [{ provider = \"x\" }]\n"),
            "llm.models[1].deployments[0].provider: model \"n\": provider \"x\" is not defined; defined providers: p",
            Some(12),
        ),
        (
            model("deployments = [{ provider = \"p\", weight = 0 }]\n"),
            "llm.models[1].deployments[0].weight: model \"n\": must be greater than 0",
            Some(12),
        ),
        (model(""), "llm.models[1]: model \"n\": has no deployments", Some(10)),
        (
            model(&format!("fallbacks = [\"z\"]\n{dep}")),
            "llm.models[1].fallbacks[0]: model \"n\": fallback \"z\" is not a model; defined models: m, n",
            Some(12),
        ),
        (
            model(&format!("fallbacks = [\"n\"]\n{dep}")),
            "llm.models[1].fallbacks[0]: model \"n\": a model cannot fall back to itself",
            Some(12),
        ),
        (
            model(&format!("fallbacks = [\"o\"]\n{dep}[[llm.models]]\nname = \"o\"\nfallbacks = [\"m\", \"n\"]\n{dep}")),
            "llm.models[2].fallbacks[1]: model \"o\": fallbacks form a cycle: n -> o -> n",
            Some(16),
        ),
        (
            model(&format!("aliases = [\"m\"]\n{dep}")),
            "llm.models[1].aliases[0]: model name \"m\" is already used by llm.models[0] (\"m\")",
            Some(12),
        ),
        (
            model(&format!("{dep}[[llm.models.split]]\nmodel = \"z\"\nweight = 10\n")),
            "llm.models[1].split[0].model: model \"n\": split model \"z\" is not a model",
            Some(14),
        ),
        (
            model(&format!("{dep}[[llm.models.split]]\nmodel = \"m\"\nweight = 60\n[[llm.models.split]]\nmodel = \"m\"\nweight = 50\n")),
            "llm.models[1].split: model \"n\": split weights add up to 110%, over 100",
            Some(13),
        ),
        (
            model(&format!("{dep}[[llm.models.split]]\nmodel = \"m\"\n")),
            "llm.models[1].split[0]: model \"n\": the split takes no requests",
            Some(13),
        ),
        (
            model(&format!("{dep}[[llm.models.split]]\nmodel = \"m\"\nheader = \"x-group beta\"\n")),
            "llm.models[1].split[0].header: model \"n\": split header \"x-group beta\" must be \"name: value\"",
            Some(15),
        ),
        (
            model(&format!("price = {{ input = -1.0, output = 1.0 }}\n{dep}")),
            "llm.models[1].price: model \"n\": prices are USD per million tokens, 0 or more",
            Some(12),
        ),
        (
            with("[[routes]]\nname = \"ai\"\nupstream = \"c\"\nllm = {}\n"),
            "routes[0].llm: route 1 (\"ai\"): has both llm and upstream",
            Some(13),
        ),
        (
            with("[[routes]]\nname = \"ai\"\nllm = { models = [\"m\", \"z\"] }\n"),
            "routes[0].llm.models[1]: route 1 (\"ai\"): llm.models: \"z\" is not a model; defined models: m",
            Some(12),
        ),
        (
            "[[routes]]\nname = \"ai\"\nllm = {}\n".into(),
            "routes[0].llm: route 1 (\"ai\"): serves LLM traffic but [llm] defines no models",
            Some(3),
        ),
    ];
    let mut failures = Vec::new();
    for (snippet, needle, _) in &cases {
        if needle.is_empty() {
            let errors = errors_of(snippet);
            if !errors.is_empty() {
                failures.push(format!("{snippet}\nshould pass; got {errors:#?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let cases: Vec<(&str, &str, Option<usize>)> = cases
        .iter()
        .filter(|(_, n, _)| !n.is_empty())
        .map(|(s, n, l)| (s.as_str(), *n, *l))
        .collect();
    run_cases(&cases);
}

/// What validation accepts, the LLM router must compile (the same promise as
/// `assert_chain_builds`).
#[test]
fn validated_llm_configs_build_the_router() {
    use std::sync::Arc;
    use tollgate_filters::llm::{LlmRouter, LlmShared};
    for (text, what) in [
        (EMBEDDED_DEFAULT.to_owned(), "<embedded>"),
        (example(), "example.toml"),
        (format!("{LLM}{LISTENER}"), "LLM"),
    ] {
        let config = parse_and_validate(&text, what).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = config.clusters.iter().map(|c| c.name.as_str()).collect();
        let shared = Arc::new(LlmShared::new(&config.llm));
        let cluster = |n: &str| names.iter().position(|c| *c == n);
        if let Err(e) = LlmRouter::build(&config.llm, shared, &cluster, 0) {
            panic!("{what}: validation passed but the LLM router does not build: {e}");
        }
    }
}

/// A certificate and key for `names` written to a scratch directory: their paths.
fn tls_files(tag: &str, names: &[&str]) -> (String, String) {
    let dir = std::env::temp_dir().join(format!("tollgate-validate-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c =
        rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    let (cert, key) = (
        dir.join(format!("{tag}.crt")),
        dir.join(format!("{tag}.key")),
    );
    std::fs::write(&cert, c.cert.pem()).unwrap();
    std::fs::write(&key, c.key_pair.serialize_pem()).unwrap();
    (cert.display().to_string(), key.display().to_string())
}

#[test]
fn tls_sections() {
    let (cert, key) = tls_files("a", &["a.test"]);
    let (_, other_key) = tls_files("b", &["b.test"]);
    let (no_san_cert, no_san_key) = tls_files("none", &[]);
    let listener =
        |tls: &str| format!("[[listeners]]\nlisten = \"127.0.0.1:8443\"\n[listeners.tls]\n{tls}\n");
    let pair = |c: &str, k: &str| format!("{{ cert = \"{c}\", key = \"{k}\" }}");
    let ok = listener(&format!("certificates = [{}]", pair(&cert, &key)));
    assert!(errors_of(&ok).is_empty(), "{:?}", errors_of(&ok));
    // HTTP/2 to clients is offered by default, and may be listed, alone or not at all.
    for alpn in ["[\"h2\", \"http/1.1\"]", "[\"h2\"]", "[\"http/1.1\"]", "[]"] {
        let text = listener(&format!(
            "certificates = [{}]\nalpn = {alpn}",
            pair(&cert, &key)
        ));
        assert!(
            errors_of(&text).is_empty(),
            "alpn = {alpn}: {:?}",
            errors_of(&text)
        );
    }
    let cluster = |tls: &str| {
        format!(
            "[[clusters]]\nname = \"a\"\nendpoints = [\"api.test:443\"]\n[clusters.tls]\n{tls}\n"
        )
    };
    assert!(errors_of(&cluster("")).is_empty());
    assert!(errors_of(&cluster("verify = false\ninsecure_skip_verify = true")).is_empty());
    let cases: Vec<(String, &str, Option<usize>)> = vec![
        (listener("certificates = []"), "tls needs at least one certificate", Some(4)),
        (
            listener(&format!("certificates = [{}]", pair(&cert, &other_key))),
            "the key cannot sign for this certificate",
            Some(4),
        ),
        (
            listener(&format!("certificates = [{}]", pair("/nonexistent/x.crt", &key))),
            "listeners[0].tls.certificates[0].cert: listener \"listener-1\": cannot read /nonexistent/x.crt",
            Some(4),
        ),
        (
            listener(&format!(
                "certificates = [{}, {}]",
                pair(&cert, &key),
                pair(&no_san_cert, &no_san_key)
            )),
            "has no DNS names in its subjectAltName",
            Some(4),
        ),
        (
            listener(&format!("certificates = [{}]\nalpn = [\"h2\", \"h2\"]", pair(&cert, &key))),
            "alpn \"h2\" is listed twice",
            Some(5),
        ),
        (
            // h2c is for plain listeners; over TLS, ALPN offers h2. Line 2: the listener
            // table's own key, before [listeners.tls].
            format!(
                "[[listeners]]\nh2c = true\nlisten = \"127.0.0.1:8443\"\n[listeners.tls]\ncertificates = [{}]\n",
                pair(&cert, &key)
            ),
            "listeners[0].h2c: listener 1: h2c is cleartext HTTP/2; over TLS, HTTP/2 is offered by ALPN (list \"h2\" in tls.alpn) instead",
            Some(2),
        ),
        (
            listener(&format!("certificates = [{}]\nalpn = [\"spdy/3\"]", pair(&cert, &key))),
            "is not a protocol Tollgate speaks",
            Some(5),
        ),
        (
            listener(&format!("certificates = [{}]\nclient_ca = \"/nonexistent/ca.pem\"", pair(&cert, &key))),
            "client_ca: listener \"listener-1\": cannot read",
            Some(5),
        ),
        (
            listener(&format!("certificates = [{}]\nhandshake_timeout = \"0s\"", pair(&cert, &key))),
            "must be longer than 0",
            Some(5),
        ),
        (
            listener(&format!("certificates = [{}]\nmin_version = \"1.1\"", pair(&cert, &key))),
            "unknown variant `1.1`",
            Some(5),
        ),
        (
            listener(&format!("certificates = [{}]\nclient_auth = \"sometimes\"", pair(&cert, &key))),
            "unknown variant `sometimes`",
            Some(5),
        ),
        (
            listener(&format!("certificates = [{}]\nsession_ticket = true", pair(&cert, &key))),
            "unknown field `session_ticket`",
            Some(5),
        ),
        (
            cluster("verify = false"),
            "verify = false needs insecure_skip_verify = true",
            Some(5),
        ),
        (
            cluster("insecure_skip_verify = true"),
            "insecure_skip_verify = true only goes with verify = false",
            Some(5),
        ),
        (
            cluster("verify = false\ninsecure_skip_verify = true\nca_file = \"ca.pem\""),
            "ca_file is unused with verify = false",
            Some(7),
        ),
        (cluster("ca_file = \"/nonexistent/ca.pem\""), "cannot read /nonexistent/ca.pem", Some(5)),
        (cluster("sni = \"not a name\""), "is not a DNS name or an IP address", Some(5)),
        (cluster("alpn = [\"h2\"]"), "set protocol = \"auto\" (or \"h2\") instead of alpn", Some(5)),
        (cluster("alpn = [\"h3\"]"), "is not a protocol Tollgate speaks", Some(5)),
        (
            cluster(&format!("roots = \"native\"\nca_file = \"{cert}\"")),
            "roots = \"native\" and ca_file both name the trust anchors",
            Some(5),
        ),
        (cluster("roots = \"system\""), "unknown variant `system`", Some(5)),
        (
            cluster("verify = false\ninsecure_skip_verify = true\nroots = \"native\""),
            "roots is unused with verify = false",
            Some(7),
        ),
    ];
    let cases: Vec<(&str, &str, Option<usize>)> =
        cases.iter().map(|(s, n, l)| (s.as_str(), *n, *l)).collect();
    run_cases(&cases);
}

#[test]
fn tls_paths_count_from_the_config_files_directory_and_come_back_absolute() {
    let (cert, key) = tls_files("rel", &["a.test"]);
    let dir = std::path::Path::new(&cert).parent().unwrap().to_path_buf();
    let name = |p: &str| {
        std::path::Path::new(p)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    let text = format!(
        "[[listeners]]\nlisten = \"127.0.0.1:8443\"\ntls = {{ certificates = [{{ cert = \"{}\", key = \"{}\" }}] }}\n",
        name(&cert),
        name(&key)
    );
    let cfg = super::parse_and_validate_in(&text, "t.toml", &dir).unwrap();
    let files = &cfg.listeners[0].tls.as_ref().unwrap().certificates[0];
    assert_eq!(files.cert, cert);
    assert_eq!(files.key, key);
    // From elsewhere, the same relative names are not found.
    let e = super::parse_and_validate_in(&text, "t.toml", std::path::Path::new("/nonexistent"))
        .unwrap_err();
    assert!(e.message.contains("cannot read /nonexistent/"), "{e}");
}

#[test]
fn cluster_protocols() {
    // `extra` goes under [[clusters]], `tls` (if any) in its [clusters.tls].
    let cluster = |extra: &str, tls: Option<&str>| {
        let mut t =
            format!("[[clusters]]\nname = \"a\"\nendpoints = [\"api.test:443\"]\n{extra}\n");
        if let Some(tls) = tls {
            t.push_str(&format!("[clusters.tls]\n{tls}\n"));
        }
        t
    };
    for ok in [
        cluster("protocol = \"h2\"", Some("")),
        cluster("protocol = \"auto\"", Some("sni = \"api.test\"")),
        cluster("protocol = \"h2c\"", None),
        cluster("protocol = \"http1\"", Some("alpn = [\"http/1.1\"]")),
        cluster("protocol = \"h2c\"\n[clusters.http2]\nmax_concurrent_streams = 10\nstream_window = 65535", None),
        cluster(
            "protocol = \"auto\"\n[clusters.health_check]\npath = \"/healthz\"",
            Some(""),
        ),
    ] {
        assert!(errors_of(&ok).is_empty(), "{ok}\n{:?}", errors_of(&ok));
    }
    let h2_only = cluster(
        "protocol = \"h2\"\n[clusters.health_check]\npath = \"/healthz\"",
        Some(""),
    );
    let llm = format!(
        "{}[[llm.providers]]\nname = \"p\"\nkind = \"openai\"\nupstream = \"a\"\n",
        cluster("protocol = \"h2c\"", None)
    );
    let cases: Vec<(String, &str, Option<usize>)> = vec![
        (
            cluster("protocol = \"h2\"", None),
            "needs a [clusters.tls] table",
            Some(4),
        ),
        (
            cluster("protocol = \"auto\"", None),
            "needs a [clusters.tls] table",
            Some(4),
        ),
        (
            cluster("protocol = \"h2c\"", Some("")),
            "protocol = \"h2c\" is cleartext HTTP/2",
            Some(4),
        ),
        (
            cluster("protocol = \"http3\"", None),
            "unknown variant `http3`",
            Some(4),
        ),
        (
            cluster("protocol = \"h2\"", Some("alpn = [\"h2\"]")),
            "alpn follows protocol = \"h2\"",
            Some(6),
        ),
        (h2_only, "active health checks speak HTTP/1.1", Some(5)),
        (
            cluster(
                "protocol = \"h2c\"\n[clusters.http2]\nmax_frame_size = 1024",
                None,
            ),
            "http2.max_frame_size must be from 16384 to 16777215",
            Some(6),
        ),
        (
            cluster(
                "protocol = \"h2c\"\n[clusters.http2]\nstream_window = 2147483648",
                None,
            ),
            "http2.stream_window must be from 1 to 2147483647",
            Some(6),
        ),
        (
            cluster(
                "protocol = \"h2c\"\n[clusters.http2]\nmax_concurrent_streams = 0",
                None,
            ),
            "must be greater than 0",
            Some(6),
        ),
        (
            cluster("[clusters.http2]\nmax_streams = 5", None),
            "unknown field `max_streams`",
            Some(5),
        ),
        (llm, "LLM providers are reached over HTTP/1.1 only", Some(8)),
    ];
    let cases: Vec<(&str, &str, Option<usize>)> =
        cases.iter().map(|(s, n, l)| (s.as_str(), *n, *l)).collect();
    run_cases(&cases);
}
