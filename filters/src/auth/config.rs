//! The config of consumers and authentication (serde): `[[consumers]]`, `[[auth.jwt]]`
//! and a route's `auth` key. Only the shape and the defaults live here; names that must
//! exist and keys that must load are checked by the core's config validation
//! (`core/src/config/validate/auth.rs`) and again when the chain is built
//! ([`super::Identities::build`]).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One `[[consumers]]` entry: who may call the gateway, and what they may use.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    /// Unique. A JWT identifies its consumer by this name (see `consumer_claim`).
    pub name: String,
    /// Team or tier, for limits per group; empty: none.
    #[serde(default)]
    pub group: String,
    /// Free-form labels for other filters and operators; never sent anywhere.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Model names or aliases this consumer may ask for; empty: all. A listed model
    /// allows its aliases too.
    #[serde(default)]
    pub models: Vec<String>,
    /// Route names this consumer may call; empty: all.
    #[serde(default)]
    pub routes: Vec<String>,
    /// API keys as `"sha256:<64 hex digits>"` (`tollgate hash-key` prints one); the file
    /// never holds a key itself.
    #[serde(default)]
    pub api_keys: Vec<String>,
}

/// The `[auth]` table.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// JWT issuers routes may accept tokens from, by name.
    #[serde(default)]
    pub jwt: Vec<JwtIssuerConfig>,
}

/// The signature algorithms a JWT issuer may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256: a shared secret.
    HS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256: an RSA public key.
    RS256,
    /// ECDSA on P-256 with SHA-256: an EC public key.
    ES256,
}

impl JwtAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::HS256 => "HS256",
            JwtAlgorithm::RS256 => "RS256",
            JwtAlgorithm::ES256 => "ES256",
        }
    }
}

/// One `[[auth.jwt]]` entry: an issuer whose tokens routes may accept.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtIssuerConfig {
    /// Unique; routes name it in `auth.jwt`.
    pub name: String,
    /// Algorithms accepted; a token with any other `alg` is refused. Each needs a key of
    /// its kind: HS256 a `secret`, RS256 an RSA key, ES256 a P-256 key.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<JwtAlgorithm>,
    /// The HS256 shared secret, or `"env:NAME"` to read it from the environment when the
    /// config is loaded. Empty: none.
    #[serde(default)]
    pub secret: String,
    /// An RSA or EC public key, PEM, inline. Empty: none.
    #[serde(default)]
    pub public_key: String,
    /// A file holding an RSA or EC public key, PEM. Empty: none.
    #[serde(default)]
    pub public_key_file: String,
    /// A JWKS file (`{"keys": [...]}`); a token's `kid` picks the key. Empty: none.
    #[serde(default)]
    pub jwks_file: String,
    /// The `iss` a token must carry; empty: not checked.
    #[serde(default)]
    pub issuer: String,
    /// The token's `aud` must name one of these; empty: not checked (and a token that
    /// names an audience is refused, RFC 7519 §4.1.3).
    #[serde(default)]
    pub audience: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    #[serde(default = "default_leeway", with = "crate::llm::config::duration")]
    pub leeway: Duration,
    /// The claim whose value names the consumer.
    #[serde(default = "default_consumer_claim")]
    pub consumer_claim: String,
    /// A token whose consumer is not in `[[consumers]]` is refused (403) unless this is
    /// set: then it is admitted as a consumer of that name in this group, with every
    /// model and route open to it.
    #[serde(default)]
    pub default_group: Option<String>,
}

fn default_algorithms() -> Vec<JwtAlgorithm> {
    vec![JwtAlgorithm::RS256]
}
fn default_leeway() -> Duration {
    Duration::from_secs(30)
}
fn default_consumer_claim() -> String {
    "sub".into()
}

impl Default for JwtIssuerConfig {
    fn default() -> Self {
        JwtIssuerConfig {
            name: String::new(),
            algorithms: default_algorithms(),
            secret: String::new(),
            public_key: String::new(),
            public_key_file: String::new(),
            jwks_file: String::new(),
            issuer: String::new(),
            audience: Vec::new(),
            leeway: default_leeway(),
            consumer_claim: default_consumer_claim(),
            default_group: None,
        }
    }
}

/// A route's `auth` key: which credentials it takes and where it looks for them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteAuthConfig {
    /// Accept the consumers' API keys.
    #[serde(default = "default_true")]
    pub api_key: bool,
    /// Accept JWTs from these `[[auth.jwt]]` issuers.
    #[serde(default)]
    pub jwt: Vec<String>,
    /// A header that carries the credential as it is (besides `Authorization: Bearer`);
    /// empty: none.
    #[serde(default = "default_header")]
    pub header: String,
    /// A query parameter that carries the credential; empty (default): none. Taken out
    /// of the target sent upstream and of the access log.
    #[serde(default)]
    pub query: String,
    /// Let requests without any credential through as the anonymous consumer (limits
    /// keyed by client IP). A wrong credential is still refused.
    #[serde(default)]
    pub anonymous: bool,
}

fn default_true() -> bool {
    true
}
fn default_header() -> String {
    "x-api-key".into()
}

impl Default for RouteAuthConfig {
    fn default() -> Self {
        RouteAuthConfig {
            api_key: true,
            jwt: Vec::new(),
            header: default_header(),
            query: String::new(),
            anonymous: false,
        }
    }
}
