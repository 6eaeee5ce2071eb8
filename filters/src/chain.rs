//! The compiled chain: routes in config order, each with its filters in a fixed order.

use tollgate_proto::h1::RequestHead;

use crate::route::{Matcher, RouteConfig, Router};
use crate::{access_log, cors, headers, respond, rewrite, Flow, RequestCtx};

/// One concrete filter. Request-phase filters run in the order of the route's list; the
/// list is built in a fixed order by [`Chain::build`]: CORS, request headers, rewrite,
/// direct response, then response headers.
#[derive(Debug)]
pub enum Filter {
    Cors(cors::Cors),
    RequestHeaders(headers::HeaderFilter),
    Rewrite(rewrite::Rewrite),
    Respond(respond::Respond),
    ResponseHeaders(headers::HeaderFilter),
}

impl Filter {
    #[inline]
    pub fn on_request_head(&self, ctx: &mut RequestCtx, head: &RequestHead) -> Flow {
        match self {
            Filter::Cors(f) => f.on_request_head(ctx, head),
            Filter::RequestHeaders(f) => f.on_request_head(ctx),
            Filter::Rewrite(f) => f.on_request_head(ctx, head),
            Filter::Respond(f) => f.on_request_head(ctx),
            Filter::ResponseHeaders(_) => Flow::Continue,
        }
    }

    /// Runs once the response status is known (from the upstream or a local response),
    /// before the head is written. Filters add to `ctx.response_edits`.
    #[inline]
    pub fn on_response_head(&self, ctx: &mut RequestCtx, status: u16) {
        match self {
            Filter::ResponseHeaders(f) => f.on_response_head(ctx, status),
            Filter::Cors(_) | Filter::RequestHeaders(_) | Filter::Rewrite(_) | Filter::Respond(_) => {}
        }
    }
}

/// Where a route sends a request once its filters let it through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAction {
    /// Proxy to the cluster with this index in the core's cluster table.
    Proxy { cluster: usize },
    /// The route ends in a direct response filter; nothing goes upstream.
    Local,
}

#[derive(Debug)]
pub struct Route {
    pub name: String,
    pub matcher: Matcher,
    pub filters: Vec<Filter>,
    pub action: RouteAction,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `route` is the index of the route in the config, `field` the key at fault.
    #[error("route {route} ({name}): {message}")]
    Route { route: usize, name: String, field: &'static str, message: String },
}

#[derive(Debug)]
pub struct Chain {
    pub router: Router,
    pub access_log: bool,
}

impl Chain {
    /// Compiles routes. `cluster_index` maps an upstream name to the core's cluster index.
    pub fn build(
        routes: &[RouteConfig],
        access_log: bool,
        cluster_index: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<Chain, BuildError> {
        let _ = (routes, access_log, cluster_index);
        todo!("Chain::build")
    }

    pub fn route(&self, idx: usize) -> &Route {
        &self.router.routes[idx]
    }

    /// Matches the route (404 local response if none) and runs its request-phase filters.
    /// Sets `ctx.route`.
    pub fn on_request_head(&self, ctx: &mut RequestCtx, head: &RequestHead) -> Flow {
        let _ = (ctx, head);
        todo!("Chain::on_request_head")
    }

    pub fn on_response_head(&self, ctx: &mut RequestCtx, status: u16) {
        if let Some(r) = ctx.route {
            for f in &self.router.routes[r].filters {
                f.on_response_head(ctx, status);
            }
        }
    }

    /// Appends the access log line for this request to `out` if the access log is on.
    pub fn on_log(&self, ctx: &RequestCtx, head: &RequestHead, out: &mut Vec<u8>) {
        if self.access_log {
            let route = ctx.route.map(|r| self.router.routes[r].name.as_str());
            access_log::write_line(ctx, head, route, out);
        }
    }
}
