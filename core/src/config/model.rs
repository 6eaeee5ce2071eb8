//! The config file's shape: typed structs that serde fills from TOML. Every limit has a
//! default here (the `default_*` functions) and a key in the file. Semantic checks (names
//! that must exist, values that must agree) are in `validate.rs`, not here.

use serde::{Deserialize, Serialize};

use tollgate_filters::RouteConfig;

use super::duration::Dur;

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub runtime: Runtime,
    #[serde(default)]
    pub admin: Admin,
    #[serde(default)]
    pub listeners: Vec<Listener>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub http2: Http2,
    #[serde(default)]
    pub forwarding: Forwarding,
    #[serde(default)]
    pub access_log: AccessLog,
    #[serde(default)]
    pub clusters: Vec<Cluster>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    #[serde(default)]
    pub llm: tollgate_filters::llm::LlmConfig,
    /// Who may call the gateway (`[[consumers]]`), with their API-key digests.
    #[serde(default)]
    pub consumers: Vec<tollgate_filters::auth::ConsumerConfig>,
    /// JWT issuers (`[[auth.jwt]]`).
    #[serde(default)]
    pub auth: tollgate_filters::auth::AuthConfig,
    /// Request, concurrency, token and spend limits (`[rate_limits]`).
    #[serde(default)]
    pub rate_limits: tollgate_filters::ratelimit::RateLimitConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DriverChoice {
    /// io_uring where it can be set up, else epoll.
    #[default]
    Auto,
    IoUring,
    Epoll,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Runtime {
    /// Worker threads; 0 means one per CPU in `cpus` (or per online CPU).
    pub workers: usize,
    /// CPUs to pin workers to, in order; empty means all online CPUs.
    pub cpus: Vec<usize>,
    /// Pin each worker to its CPU.
    pub pin: bool,
    pub driver: DriverChoice,
    /// io_uring submission queue entries per worker.
    pub io_uring_entries: u32,
    /// Set up rings with COOP_TASKRUN, SINGLE_ISSUER and DEFER_TASKRUN (kernel 6.1+;
    /// older kernels fall back to a plain ring): about 15% less CPU per proxied request
    /// on loopback (bench/RESULTS.md).
    pub io_uring_defer_taskrun: bool,
    /// How long SIGTERM waits for in-flight requests before exiting.
    pub drain_timeout: Dur,
    /// Per-core housekeeping tick: config generation, health gossip, log flush.
    pub tick: Dur,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime {
            workers: 0,
            cpus: Vec::new(),
            pin: true,
            driver: DriverChoice::Auto,
            io_uring_entries: 1024,
            io_uring_defer_taskrun: true,
            drain_timeout: Dur::secs(30),
            tick: Dur::millis(50),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// Address of the admin listener; loopback by default. Empty turns it off.
    pub listen: String,
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            listen: "127.0.0.1:9901".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    #[serde(default)]
    pub name: String,
    /// `host:port`; every worker binds it with SO_REUSEPORT.
    pub listen: String,
    #[serde(default = "default_backlog")]
    pub backlog: u32,
    /// Connections one worker serves at once; beyond it new ones wait in the backlog.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// TLS termination; without it the listener speaks plain HTTP.
    #[serde(default)]
    pub tls: Option<ListenerTls>,
    /// Cleartext HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3) on a plain listener:
    /// a connection that opens with the HTTP/2 preface speaks HTTP/2, any other
    /// HTTP/1.1. Over TLS, HTTP/2 is chosen by ALPN instead (`tls.alpn`).
    #[serde(default)]
    pub h2c: bool,
}

/// TLS on a listener. Certificate, key and CA files are PEM, read when the config is
/// loaded (and again on every reload); a relative path counts from the config file's
/// directory.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerTls {
    /// Certificate chains and their keys. A client gets the one whose subjectAltName DNS
    /// names hold the name it asked for (SNI: exact, then `*.wildcard`), else the first.
    pub certificates: Vec<CertificateFiles>,
    /// Client certificates are asked for and verified against these CAs (mTLS).
    #[serde(default)]
    pub client_ca: Option<String>,
    /// With `client_ca`: whether a client without a certificate is refused.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// ALPN protocols offered, in preference order; `[]` offers none. `h2` serves
    /// HTTP/2, anything else HTTP/1.1. Default `["h2", "http/1.1"]`.
    #[serde(default = "default_listener_alpn")]
    pub alpn: Vec<String>,
    /// Time from accept to the end of the handshake; a client that takes longer (or
    /// says nothing) is closed.
    #[serde(default = "default_handshake_timeout")]
    pub handshake_timeout: Dur,
    /// Stateless session tickets (TLS 1.2 and 1.3), with a ticket key shared by every
    /// core, so that a client resumes on whichever core it lands.
    #[serde(default = "default_true")]
    pub session_tickets: bool,
    /// Sessions kept for resumption by session id (TLS 1.2, and TLS 1.3 without
    /// tickets), shared by every core; 0 turns the cache off.
    #[serde(default = "default_session_cache")]
    pub session_cache: usize,
    /// The oldest TLS version accepted.
    #[serde(default)]
    pub min_version: TlsVersion,
}

/// One certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateFiles {
    pub cert: String,
    pub key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// A client without a valid certificate is refused during the handshake.
    #[default]
    Required,
    /// A client may send no certificate; one it sends must be valid.
    Optional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
pub enum TlsVersion {
    #[default]
    #[serde(rename = "1.2")]
    Tls12,
    #[serde(rename = "1.3")]
    Tls13,
}

fn default_listener_alpn() -> Vec<String> {
    vec!["h2".into(), "http/1.1".into()]
}
fn default_handshake_timeout() -> Dur {
    Dur::secs(10)
}
fn default_true() -> bool {
    true
}
fn default_session_cache() -> usize {
    10_000
}

fn default_backlog() -> u32 {
    1024
}
fn default_max_connections() -> usize {
    10_000
}

/// HTTP/2 (RFC 9113) on client connections: protocol limits and flood guards. Every
/// client connection speaking HTTP/2 gets these; the defaults follow what nginx,
/// Envoy and the h2 crate ship, tightened where they are loose.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http2 {
    /// Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
    pub max_concurrent_streams: u32,
    /// Largest decoded header list (SETTINGS_MAX_HEADER_LIST_SIZE), in bytes; over it
    /// the stream is refused (431), and a header block far over it closes the connection.
    pub max_header_list_size: u32,
    /// Largest frame payload we accept (SETTINGS_MAX_FRAME_SIZE), 16384..16777215.
    pub max_frame_size: u32,
    /// Receive window of each stream (SETTINGS_INITIAL_WINDOW_SIZE): request body bytes
    /// a client may send ahead of the gateway reading them.
    pub stream_window: u32,
    /// Receive window of the whole connection: bounds the request body bytes buffered
    /// for all its streams together.
    pub connection_window: u32,
    /// Response bytes buffered per stream ahead of the client's flow-control window.
    pub max_send_buffer: usize,
    /// Streams a client may reset before the gateway accepted them; more at once is
    /// a Rapid Reset attack (CVE-2023-44487): GOAWAY ENHANCE_YOUR_CALM.
    pub max_pending_accept_resets: usize,
    /// Streams the gateway may reset for the client's protocol errors on one
    /// connection; more is MadeYouReset (CVE-2025-8671): GOAWAY ENHANCE_YOUR_CALM.
    pub max_local_error_resets: usize,
    /// Longest wait for the client's flow-control window to open while a response is
    /// sent; over it the stream is reset (a zero-window stall holds nothing longer).
    pub send_timeout: Dur,
    /// Time from accept (or the TLS handshake) to the client's connection preface.
    pub preface_timeout: Dur,
    /// A connection with no open stream for this long is closed with GOAWAY.
    pub idle_timeout: Dur,
    /// How h2 (a poll-based library) gets its bytes: `readiness` (monoio's poll-io:
    /// non-blocking syscalls when the socket is ready; over TLS, rustls on that socket)
    /// or `completion` (io_uring reads and writes through monoio-compat's buffers, over
    /// our TLS driver for TLS). See bench/RESULTS.md, "HTTP/2". HTTP/2
    /// connections to upstreams follow the same choice.
    pub io: Http2Io,
    /// Per-connection rate limits on frames that cost the gateway work but carry no
    /// request: over any, GOAWAY ENHANCE_YOUR_CALM and close.
    pub flood: Http2Flood,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Http2Io {
    Readiness,
    Completion,
}

impl Default for Http2 {
    fn default() -> Self {
        Http2 {
            max_concurrent_streams: 128,
            max_header_list_size: 32 * 1024,
            max_frame_size: 16 * 1024,
            stream_window: 256 * 1024,
            connection_window: 1024 * 1024,
            max_send_buffer: 256 * 1024,
            max_pending_accept_resets: 20,
            max_local_error_resets: 200,
            send_timeout: Dur::secs(30),
            preface_timeout: Dur::secs(10),
            idle_timeout: Dur::secs(60),
            io: Http2Io::Readiness,
            flood: Http2Flood::default(),
        }
    }
}

/// Frames a client may send per second on one connection (counted over 1-second
/// windows), and CONTINUATION frames per header block. Legitimate clients stay far
/// under these; the attacks named (CVE-2019-9511..9518, CVE-2023-44487, CVE-2024-27316)
/// go far over.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http2Flood {
    /// SETTINGS frames (settings flood, CVE-2019-9515).
    pub settings: u32,
    /// PING frames (ping flood, CVE-2019-9512).
    pub ping: u32,
    /// PRIORITY frames (priority churn, CVE-2019-9513).
    pub priority: u32,
    /// WINDOW_UPDATE frames (CVE-2019-9511 and window-update floods).
    pub window_update: u32,
    /// DATA frames with no payload and no END_STREAM (CVE-2019-9518), and HEADERS or
    /// CONTINUATION frames with an empty block that do not end it.
    pub empty_frames: u32,
    /// RST_STREAM frames (reset flood CVE-2019-9514, Rapid Reset CVE-2023-44487).
    pub rst_stream: u32,
    /// New streams (HEADERS that open one). Default 0, no limit: a fast client opens
    /// tens of thousands a second legitimately (bench/RESULTS.md), and streams that
    /// are reset at once are bounded by `rst_stream` and `max_pending_accept_resets`.
    pub new_streams: u32,
    /// CONTINUATION frames in one header block (CONTINUATION flood, CVE-2024-27316).
    pub continuation_per_block: u32,
}

impl Default for Http2Flood {
    fn default() -> Self {
        Http2Flood {
            settings: 100,
            ping: 100,
            priority: 1_000,
            window_update: 10_000,
            empty_frames: 100,
            rst_stream: 500,
            new_streams: 0,
            continuation_per_block: 32,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Longest request line; over it: 414.
    pub max_request_line: usize,
    /// Largest request head; over it: 431.
    pub max_head_bytes: usize,
    /// Most header fields in a request; over it: 431.
    pub max_headers: usize,
    /// Largest request body; over it: 413. Also the longest chunk line is bounded by
    /// `max_chunk_line` and trailers by `max_head_bytes`.
    pub max_body_bytes: u64,
    pub max_chunk_line: usize,
    /// Time to receive a whole request head once its first byte arrived; over it: 408.
    pub header_read_timeout: Dur,
    /// Time an idle keep-alive connection is kept open waiting for the next request.
    pub keepalive_timeout: Dur,
    /// Time an idle keep-alive connection (plain TCP) keeps its `buffer_size` read
    /// buffer; after it the buffer goes back to the pool and the wait goes on in a
    /// 2 KiB one. 0 = keep it for the whole wait.
    pub idle_buffer_hold: Dur,
    /// Longest pause between two reads of a request body; over it: 408.
    pub body_read_timeout: Dur,
    /// Requests served on one client connection before it is closed; 0 = no limit.
    pub max_requests_per_connection: u64,
    /// Size of each pooled I/O buffer.
    pub buffer_size: usize,
    /// Pooled buffers kept per worker.
    pub buffer_pool: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_line: 8 * 1024,
            max_head_bytes: 32 * 1024,
            max_headers: 100,
            max_body_bytes: 10 * 1024 * 1024,
            max_chunk_line: 4096,
            header_read_timeout: Dur::secs(10),
            keepalive_timeout: Dur::secs(60),
            idle_buffer_hold: Dur::secs(1),
            body_read_timeout: Dur::secs(30),
            max_requests_per_connection: 0,
            buffer_size: 16 * 1024,
            buffer_pool: 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Forwarding {
    pub x_forwarded_for: bool,
    pub x_forwarded_proto: bool,
    /// RFC 7239 `Forwarded`.
    pub forwarded: bool,
    /// Add `Via: 1.1 tollgate` to requests and responses.
    pub via: bool,
}

impl Default for Forwarding {
    fn default() -> Self {
        Forwarding {
            x_forwarded_for: true,
            x_forwarded_proto: true,
            forwarded: false,
            via: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AccessLog {
    /// `"stdout"`, a file path, or empty for no access log.
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LbPolicy {
    #[default]
    RoundRobin,
    /// Smooth weighted round robin over `weight`.
    Weighted,
    /// Power of two random choices by in-flight requests.
    LeastInFlight,
    /// Consistent hash (ring) on `hash_on`.
    ConsistentHash,
}

/// `deny_unknown_fields` makes a misspelt key in the table form (`wieght = 3`) an error
/// instead of a silently ignored one.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum EndpointSpec {
    Address(String),
    Detailed {
        address: String,
        #[serde(default = "default_weight")]
        weight: u32,
    },
}

fn default_weight() -> u32 {
    1
}

impl EndpointSpec {
    pub fn address(&self) -> &str {
        match self {
            EndpointSpec::Address(a) => a,
            EndpointSpec::Detailed { address, .. } => address,
        }
    }
    pub fn weight(&self) -> u32 {
        match self {
            EndpointSpec::Address(_) => 1,
            EndpointSpec::Detailed { weight, .. } => *weight,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub name: String,
    pub endpoints: Vec<EndpointSpec>,
    #[serde(default)]
    pub lb: LbPolicy,
    /// For `consistent_hash`: `"client_ip"`, `"header:NAME"` or `"cookie:NAME"`.
    #[serde(default)]
    pub hash_on: Option<String>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Dur,
    /// Time from the request being sent to the response head arriving; over it: 504.
    #[serde(default = "default_first_byte_timeout")]
    pub first_byte_timeout: Dur,
    /// Longest pause between two reads of a response body.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: Dur,
    /// How often DNS names among the endpoints are resolved again.
    #[serde(default = "default_dns_refresh")]
    pub dns_refresh: Dur,
    #[serde(default)]
    pub pool: Pool,
    #[serde(default)]
    pub passive_health: PassiveHealth,
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    #[serde(default)]
    pub retry: Retry,
    /// TLS to the endpoints; without it the cluster speaks plain HTTP.
    #[serde(default)]
    pub tls: Option<ClusterTls>,
    /// The HTTP version spoken to the endpoints (see [`Protocol`]). Default `"http1"`.
    #[serde(default)]
    pub protocol: Protocol,
    /// HTTP/2 client settings for `protocol = "h2"`, `"h2c"` and `"auto"`.
    #[serde(default)]
    pub http2: ClusterHttp2,
}

/// How a cluster talks to its endpoints.
///
/// Requests arrive as HTTP/1.1 (an HTTP/2 client's streams too, see `h2/bridge.rs`);
/// with an HTTP/2 protocol each goes upstream as one stream of a pooled, multiplexed
/// connection per endpoint and core, its head mapped to pseudo-headers and its
/// connection-specific fields dropped (RFC 9113 §8.2.2, §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// HTTP/1.1, over TLS when the cluster has `[clusters.tls]` (ALPN `http/1.1`).
    #[default]
    Http1,
    /// HTTP/2 over TLS (needs `[clusters.tls]`; ALPN offers `h2` only).
    H2,
    /// Cleartext HTTP/2 with prior knowledge (RFC 9113 §3.3; no `[clusters.tls]`).
    H2c,
    /// TLS offering ALPN `["h2", "http/1.1"]`: each connection speaks what the endpoint
    /// picks (HTTP/1.1 when it picks nothing). Needs `[clusters.tls]`.
    Auto,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http1 => "http1",
            Protocol::H2 => "h2",
            Protocol::H2c => "h2c",
            Protocol::Auto => "auto",
        }
    }

    /// The ALPN offer that goes with the protocol over TLS.
    pub fn alpn(self) -> &'static [&'static str] {
        match self {
            Protocol::Http1 | Protocol::H2c => &["http/1.1"],
            Protocol::H2 => &["h2"],
            Protocol::Auto => &["h2", "http/1.1"],
        }
    }
}

/// HTTP/2 to a cluster's endpoints: the client side's settings and limits. Every
/// connection of the cluster gets these.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterHttp2 {
    /// Streams the gateway opens at once on one connection (the endpoint's own
    /// SETTINGS_MAX_CONCURRENT_STREAMS bounds it further); more requests open another
    /// connection, up to `pool.max_per_endpoint`, and past that wait for a stream.
    pub max_concurrent_streams: u32,
    /// Largest decoded response header list accepted (SETTINGS_MAX_HEADER_LIST_SIZE),
    /// in bytes; a response over it fails the stream (502).
    pub max_header_list_size: u32,
    /// Largest frame payload accepted from the endpoint, 16384..16777215.
    pub max_frame_size: u32,
    /// Receive window of each stream: response body bytes the endpoint may send ahead
    /// of the client reading them.
    pub stream_window: u32,
    /// Receive window of the whole connection (all its streams together).
    pub connection_window: u32,
    /// Request body bytes buffered per stream ahead of the endpoint's window.
    pub max_send_buffer: usize,
}

impl Default for ClusterHttp2 {
    fn default() -> Self {
        ClusterHttp2 {
            max_concurrent_streams: 100,
            max_header_list_size: 64 * 1024,
            max_frame_size: 16 * 1024,
            stream_window: 256 * 1024,
            connection_window: 4 * 1024 * 1024,
            max_send_buffer: 256 * 1024,
        }
    }
}

/// TLS to a cluster's endpoints. Connections are pooled per endpoint, and the name and
/// protocols below are the same for every connection to an endpoint within a config
/// generation, so the endpoint is the pool's whole key (SNI and ALPN included).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterTls {
    /// The name sent as SNI and verified against the certificate. Default: each
    /// endpoint's host (an IP address is verified but not sent, as RFC 6066 says).
    #[serde(default)]
    pub sni: Option<String>,
    /// CA certificates (PEM) trusted instead of `roots`.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// The trust anchors without `ca_file`: `"webpki"` (Mozilla's roots, built in) or
    /// `"native"` (the operating system's store, read at load and on every reload).
    #[serde(default)]
    pub roots: Roots,
    /// Verify the endpoint's certificate; `false` needs `insecure_skip_verify = true`.
    #[serde(default = "default_true")]
    pub verify: bool,
    /// The explicit consent that `verify = false` needs.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// ALPN protocols offered; `[]` offers none. Default: what `protocol` needs
    /// (`["http/1.1"]`, `["h2"]`, or `["h2", "http/1.1"]` for `auto`); only
    /// `protocol = "http1"` may set it.
    #[serde(default)]
    pub alpn: Option<Vec<String>>,
}

impl ClusterTls {
    /// The ALPN protocols offered to endpoints of a cluster speaking `protocol`.
    pub fn alpn_for(&self, protocol: Protocol) -> Vec<String> {
        match &self.alpn {
            Some(list) => list.clone(),
            None => protocol.alpn().iter().map(|p| (*p).to_owned()).collect(),
        }
    }
}

/// Where a cluster's trusted root certificates come from when it has no `ca_file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Roots {
    /// Mozilla's root program (webpki-roots, compiled in): the same on every host.
    #[default]
    Webpki,
    /// The host's trust store (rustls-native-certs: `SSL_CERT_FILE`/`SSL_CERT_DIR`, else
    /// the distribution's bundle such as /etc/ssl/certs/ca-certificates.crt), for
    /// private CAs an operator installs system-wide.
    Native,
}

fn default_connect_timeout() -> Dur {
    Dur::secs(3)
}
fn default_first_byte_timeout() -> Dur {
    Dur::secs(60)
}
fn default_idle_timeout() -> Dur {
    Dur::secs(60)
}
fn default_dns_refresh() -> Dur {
    Dur::secs(30)
}

/// Per-core upstream connection pool of a cluster.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pool {
    /// Idle connections kept per endpoint per core.
    pub max_idle: usize,
    /// Connections (idle and busy) per endpoint per core; a request over it gets 503.
    pub max_per_endpoint: usize,
    /// An idle connection older than this is closed.
    pub idle_expiry: Dur,
}

impl Default for Pool {
    fn default() -> Self {
        Pool {
            max_idle: 64,
            max_per_endpoint: 1024,
            idle_expiry: Dur::secs(30),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PassiveHealth {
    /// Consecutive failures (connect errors, time-outs, 5xx if `count_5xx`) that eject
    /// an endpoint; 0 turns passive health off.
    pub consecutive_failures: u32,
    pub count_5xx: bool,
    /// First ejection; each further one doubles, up to `max_ejection`.
    pub base_ejection: Dur,
    pub max_ejection: Dur,
}

impl Default for PassiveHealth {
    fn default() -> Self {
        PassiveHealth {
            consecutive_failures: 5,
            count_5xx: false,
            base_ejection: Dur::secs(10),
            max_ejection: Dur::secs(300),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    pub path: String,
    #[serde(default = "default_hc_interval")]
    pub interval: Dur,
    #[serde(default = "default_hc_timeout")]
    pub timeout: Dur,
    #[serde(default = "default_two")]
    pub healthy_threshold: u32,
    #[serde(default = "default_three")]
    pub unhealthy_threshold: u32,
    /// Statuses counted healthy, as `[low, high]` inclusive.
    #[serde(default = "default_hc_status")]
    pub expected_status: [u16; 2],
    /// Host header sent with the check; default: the endpoint's address.
    #[serde(default)]
    pub host: Option<String>,
}

fn default_hc_interval() -> Dur {
    Dur::secs(5)
}
fn default_hc_timeout() -> Dur {
    Dur::secs(1)
}
fn default_two() -> u32 {
    2
}
fn default_three() -> u32 {
    3
}
fn default_hc_status() -> [u16; 2] {
    [200, 399]
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retry {
    /// Attempts after the first; only for idempotent requests with nothing sent to the
    /// client and no body byte sent upstream.
    pub attempts: u32,
    /// Retries may be at most this fraction of requests (per core, over `budget_window`)...
    pub budget_ratio: f64,
    /// ...plus this many per window, so a quiet cluster can still retry.
    pub budget_min: u32,
    pub budget_window: Dur,
    /// Retry when the upstream answers one of these statuses (e.g. 502, 503).
    pub on_status: Vec<u16>,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 2,
            budget_ratio: 0.2,
            budget_min: 10,
            budget_window: Dur::secs(10),
            on_status: vec![502, 503],
        }
    }
}

impl Config {
    /// What the chain's auth filters are built from: consumers, issuers, and the LLM
    /// models (so a consumer allowed a model may use its aliases).
    pub fn auth_inputs(&self) -> tollgate_filters::auth::AuthInputs<'_> {
        tollgate_filters::auth::AuthInputs {
            consumers: &self.consumers,
            auth: &self.auth,
            models: &self.llm.models,
        }
    }
}
