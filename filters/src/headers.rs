//! Request and response header transforms: add, set, remove.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Flow, RequestCtx};

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HeaderOps {
    #[serde(default)]
    pub add: BTreeMap<String, String>,
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

#[derive(Debug)]
pub struct HeaderFilter {}

impl HeaderFilter {
    pub fn on_request_head(&self, ctx: &mut RequestCtx) -> Flow {
        let _ = ctx;
        todo!()
    }

    pub fn on_response_head(&self, ctx: &mut RequestCtx, status: u16) {
        let _ = (ctx, status);
        todo!()
    }
}
