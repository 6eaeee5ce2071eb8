//! Direct response: the route answers with a fixed status, headers and body.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Flow, RequestCtx};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RespondConfig {
    #[serde(default = "default_status")]
    pub status: u16,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

fn default_status() -> u16 {
    200
}

#[derive(Debug)]
pub struct Respond {}

impl Respond {
    pub fn on_request_head(&self, ctx: &mut RequestCtx) -> Flow {
        let _ = ctx;
        todo!()
    }
}
