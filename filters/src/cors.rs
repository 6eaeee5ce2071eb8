//! CORS (Fetch standard): preflight answered locally, allow headers added to responses
//! for allowed origins.

use serde::{Deserialize, Serialize};
use tollgate_proto::h1::RequestHead;

use crate::{Flow, RequestCtx};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed; `"*"` allows any.
    pub allow_origins: Vec<String>,
    #[serde(default = "default_methods")]
    pub allow_methods: Vec<String>,
    #[serde(default)]
    pub allow_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default)]
    pub allow_credentials: bool,
    /// Preflight cache lifetime in seconds.
    #[serde(default = "default_max_age")]
    pub max_age: u32,
}

fn default_methods() -> Vec<String> {
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].map(String::from).to_vec()
}
fn default_max_age() -> u32 {
    600
}

#[derive(Debug)]
pub struct Cors {}

impl Cors {
    pub fn on_request_head(&self, ctx: &mut RequestCtx, head: &RequestHead) -> Flow {
        let _ = (ctx, head);
        todo!()
    }
}
