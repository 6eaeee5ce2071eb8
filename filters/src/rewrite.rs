//! Path rewrite: replace the matched prefix, or a regex substitution on the path.

use serde::{Deserialize, Serialize};
use tollgate_proto::h1::RequestHead;

use crate::{Flow, RequestCtx};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RewriteConfig {
    /// Replace the route's `path_prefix` with this.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Rewrite the path by regex substitution (`$1`, `${name}`).
    #[serde(default)]
    pub regex: Option<String>,
    #[serde(default)]
    pub replacement: Option<String>,
}

#[derive(Debug)]
pub struct Rewrite {}

impl Rewrite {
    pub fn on_request_head(&self, ctx: &mut RequestCtx, head: &RequestHead) -> Flow {
        let _ = (ctx, head);
        todo!()
    }
}
