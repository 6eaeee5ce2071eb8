//! The LLM gateway: a route with `llm = {...}` answers the OpenAI API
//! (`/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/models`) and
//! Anthropic's (`/v1/messages`) from the deployments of `[[llm.models]]`.
//!
//! A request's way:
//! 1. the body is read whole (bounded by `llm.max_body_bytes`) and scanned for `model`
//!    and `stream` without building the typed request;
//! 2. the model name (or alias, or a canary split) picks a model; the router's plan
//!    lists the deployments to try, best first, then the fallback models';
//! 3. each attempt sends the body in the provider's format ([`request`]) over a pooled
//!    connection of the provider's cluster ([`upstream`]), or to the built-in [`mock`];
//! 4. a connect error, time-out, reset, 429 or 5xx moves on to the next deployment
//!    (cooling the failed one down on every core; a 401/403 takes the API key out), as
//!    long as nothing reached the client, attempts remain and the deadline allows;
//! 5. the answer goes back in the client's format: whole, or as a stream relayed event
//!    by event ([`stream`], [`convert`]);
//! 6. the usage (exact from the provider, else estimated and marked so), cost, time to
//!    first token and fallbacks go to the request context for the access log, and to
//!    the metrics.

mod account;
pub mod api;
mod convert;
mod mock;
mod request;
mod stream;
mod upstream;

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tollgate_filters::llm::{cooldown_from_headers, LlmRouter, ProviderKind, RouteLlmConfig};
use tollgate_filters::{Flow, LlmRequest, LocalResponse};
use tollgate_proto::h1::Method;

use self::account::Outcome;
use self::api::{error_response, json_type, translate_error_body, Api, Dialect};
use self::convert::Converter;
use self::request::{BodyError, ClientRequest, PrepareError};
use self::stream::{Commit, RelayEnd, Source, Timing};
use self::upstream::{BodyReader, UpFail};
use crate::runtime::{CoreConfig, Worker};
use crate::server::conn::ClientConn;
use crate::server::local::write_local;
use crate::server::Next;

/// The largest provider answer read whole (a non-streamed completion, an error body).
const MAX_RESPONSE_BYTES: usize = 32 << 20;
/// The largest error body kept from a failed attempt.
const MAX_ERROR_BYTES: usize = 64 << 10;

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
}

/// A fresh id suffix, unique within this process: the worker's thread id, a counter and
/// the start time keep ids from different workers and restarts apart.
fn new_id(worker: usize) -> String {
    let n = NEXT_ID.with(|c| {
        let n = c.get().wrapping_add(1);
        c.set(n);
        n
    });
    format!("tg{worker:x}{:x}{n:x}", unix_ms() & 0xffff_ffff)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Why the last attempt failed, kept to answer with when no attempt succeeds.
struct Failure {
    status: u16,
    reason: &'static str,
    message: String,
    /// The provider's own answer (its dialect, status, headers worth keeping, body).
    provider: Option<(Dialect, Vec<u8>)>,
    retry_after: Option<Duration>,
}

pub async fn handle(c: &mut ClientConn, w: &Worker, cc: &CoreConfig, keep: bool) -> Next {
    let route = c.ctx.route.and_then(|r| cc.chain.route(r).llm.as_ref());
    let Some(route) = route else {
        return answer(
            c,
            cc,
            Dialect::OpenAi,
            500,
            "route has no llm config",
            None,
            keep,
        )
        .await;
    };
    let Some(api) = Api::from_path(c.head.path()) else {
        return answer(
            c,
            cc,
            Dialect::OpenAi,
            404,
            "no such LLM endpoint",
            Some("unknown_url"),
            keep,
        )
        .await;
    };
    let dialect = api.dialect();
    c.ctx.llm.active = true;
    c.ctx.llm.operation = api.operation();
    let cfg = &cc.config.llm;
    let router = &cc.llm;

    if api == Api::Models {
        if c.head.method != Method::Get {
            return answer(c, cc, dialect, 405, "use GET for /v1/models", None, keep).await;
        }
        return models(c, cc, router, route, keep).await;
    }
    if c.head.method != Method::Post {
        return answer(
            c,
            cc,
            dialect,
            405,
            "use POST for this endpoint",
            None,
            keep,
        )
        .await;
    }

    let limits = &cc.config.limits;
    let body = match request::read_body(
        c,
        w.buffer_size(),
        limits.body_read_timeout.get(),
        cfg.max_body_bytes,
        (limits.max_chunk_line, limits.max_head_bytes),
    )
    .await
    {
        Ok(b) => b,
        Err(e) => {
            let (status, msg) = match e {
                BodyError::TooLarge => (413, "request body larger than llm.max_body_bytes"),
                BodyError::Timeout => (408, "request body not received in time"),
                BodyError::Framing(_) => (400, "invalid chunked request body"),
                BodyError::Closed => {
                    c.ctx.status = 499;
                    c.ctx.error = Some("client closed");
                    return Next::Close;
                }
            };
            return answer(c, cc, dialect, status, msg, None, false).await;
        }
    };
    c.ctx.bytes_received += body.len() as u64;
    let mut body = body;
    if let Flow::Respond(resp) = cc.chain.on_llm_body(&mut c.ctx, dialect, &mut body) {
        return local(c, cc, &resp, keep).await;
    }
    let mut req = match ClientRequest::new(api, body) {
        Ok(r) => r,
        Err(m) => return answer(c, cc, dialect, 400, &m, None, keep).await,
    };
    c.ctx.llm.model.push_str(&req.model);
    c.ctx.llm.stream = req.stream;
    if !route.models.is_empty() && !route.models.contains(&req.model) {
        let msg = format!("model `{}` is not allowed on this route", req.model);
        return answer(c, cc, dialect, 403, &msg, Some("model_not_allowed"), keep).await;
    }
    let Some(model) = router.resolve(req.model.as_bytes(), &c.head) else {
        let msg = format!("the model `{}` does not exist", req.model);
        return answer(c, cc, dialect, 404, &msg, Some("model_not_found"), keep).await;
    };

    let info = LlmRequest {
        dialect,
        model: &req.model,
        model_id: model,
        stream: req.stream,
        body: &req.body,
    };
    let mut flow = cc.chain.on_llm_request(&mut c.ctx, &c.head, &info);
    if c.ctx.limits.await_exchange {
        let again = |ctx: &mut _| cc.chain.recheck_llm_limits(ctx, &c.head, &info);
        flow = crate::redis::recheck_after_exchange(cc.redis.as_deref(), &mut c.ctx, flow, again)
            .await;
    }
    if let Flow::Respond(resp) = flow {
        return local(c, cc, &resp, keep).await;
    }
    let started = c.ctx.started;
    let deadline = started + cfg.deadline;
    let plan = router.plan(model, Instant::now());
    if plan.candidates.is_empty() {
        let wait = plan.cooling_left.unwrap_or(cfg.cooldown);
        let msg = "every deployment of this model is cooling down after failures";
        let mut resp = error_response(dialect, 503, msg, None);
        resp.headers.push(retry_after(wait));
        c.ctx.error = Some("no deployment available");
        return local(c, cc, &resp, keep).await;
    }
    let id = new_id(w.id);
    let created = unix_ms() / 1000;
    let mut up_body = Vec::new();
    let mut last: Option<Failure> = None;
    let mut tries = 0u32;

    let mut next_cand = 0;
    while next_cand < plan.candidates.len() {
        let cand = &plan.candidates[next_cand];
        next_cand += 1;
        if Instant::now() >= deadline || tries >= cfg.max_attempts.max(1) {
            break;
        }
        let dep = router.deployment(cand.deployment);
        let prov = router.provider(dep.provider);
        let pd = match prov.kind {
            ProviderKind::Anthropic => Dialect::Anthropic,
            ProviderKind::OpenAi | ProviderKind::Mock => Dialect::OpenAi,
        };
        if !api.served_by(pd) {
            last = Some(Failure {
                status: 400,
                reason: "unsupported",
                message: format!("{} cannot serve this endpoint", dep.label),
                provider: None,
                retry_after: None,
            });
            continue;
        }
        let prep = match req.prepare(pd, &dep.upstream_model, &mut up_body) {
            Ok(p) => p,
            Err(e) => {
                let status = 400;
                last = Some(Failure {
                    status,
                    reason: match e {
                        PrepareError::Parse(_) => "bad_request",
                        PrepareError::Translate(_) => "untranslatable",
                    },
                    message: e.message(),
                    provider: None,
                    retry_after: None,
                });
                // A body the client's own format cannot parse will not parse for the
                // next deployment either.
                if matches!(e, PrepareError::Parse(_)) {
                    break;
                }
                continue;
            }
        };
        let key = match router.take_key(dep.provider, Instant::now()) {
            Ok(k) => k,
            Err(_) => {
                last = Some(Failure {
                    status: 503,
                    reason: "keys_disabled",
                    message: format!("every API key of provider {} was refused", prov.name),
                    provider: None,
                    retry_after: None,
                });
                continue;
            }
        };
        tries += 1;
        c.ctx.attempts = tries;
        if tries > 1 {
            c.ctx.llm.fallbacks += 1;
            if let Some(f) = &last {
                account::fallback(cc, f.reason);
                c.ctx.llm.fallback_reason = Some(f.reason);
            }
        }
        c.ctx.llm.provider.clear();
        c.ctx.llm.provider.push_str(&prov.name);
        c.ctx.llm.deployment.clear();
        c.ctx.llm.deployment.push_str(&dep.label);
        c.ctx.llm.deployment_id = Some(cand.deployment);
        c.ctx.llm.model_id = Some(cand.model);

        let attempt_timeout = cfg
            .attempt_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let t_send = Instant::now();
        router.begin(cand.deployment);
        let res = if prov.kind == ProviderKind::Mock {
            let mock_id = match api {
                Api::Completions => format!("cmpl-{id}"),
                _ => format!("chatcmpl-{id}"),
            };
            let a = mock::answer(&prov.mock, api, &up_body, &mock_id, created);
            Attempt::Mock(a)
        } else {
            let Some(ci) = prov.cluster else {
                router.end(cand.deployment);
                continue;
            };
            let cluster = &cc.clusters[ci];
            upstream::write_head(
                &mut c.up_out,
                prov,
                cluster,
                api,
                pd,
                key.as_ref().map(|(_, k)| k),
                req.stream,
                up_body.len(),
            );
            c.up_out.extend_from_slice(&up_body);
            match upstream::send(
                cluster,
                &c.head,
                c.peer.ip(),
                &mut c.up_out,
                &mut c.resp,
                &cc.head_limits,
                w.buffer_size(),
                attempt_timeout,
            )
            .await
            {
                Ok(up) => {
                    c.ctx.upstream_addr = Some(up.addr);
                    c.ctx.upstream_first_byte = Some(t_send.elapsed());
                    Attempt::Upstream(up, ci)
                }
                Err((f, _)) => Attempt::Failed(f),
            }
        };

        let mut outcome = Outcome::new(t_send);
        // Connecting, sending and waiting for the provider's head is provider time too.
        if let Attempt::Upstream(..) = res {
            outcome.timing.upstream_wait += t_send.elapsed();
        }
        let conv = || {
            new_converter(
                &req,
                dialect,
                pd,
                prep.strip_usage,
                &dep.upstream_model,
                &id,
                created,
            )
        };
        let next = match res {
            Attempt::Failed(f) => {
                router.end(cand.deployment);
                // A full pool is our own limit, not the provider's failure: cooling the
                // deployment down for it would refuse every client for the cool-down.
                if f != UpFail::PoolFull {
                    router.failed(cand.deployment, Instant::now(), None);
                }
                tracing::debug!(deployment = %dep.label, reason = f.reason(), "llm attempt failed");
                last = Some(Failure {
                    status: f.status(),
                    reason: f.reason(),
                    message: format!("provider {} failed: {}", prov.name, f.reason()),
                    provider: None,
                    retry_after: None,
                });
                continue;
            }
            Attempt::Mock(a) => {
                let r = if a.stream {
                    let mut src = Source::Mock(mock::MockStream::new(a));
                    relay(
                        c,
                        w,
                        cc,
                        &mut src,
                        conv(),
                        dialect,
                        route,
                        keep,
                        &mut outcome,
                    )
                    .await
                } else {
                    let wait = a.first;
                    let t = Instant::now();
                    // A zero wait must not sleep: monoio's timer would round it up to
                    // its next 1 ms tick.
                    if !wait.is_zero() {
                        monoio::time::sleep(wait).await;
                    }
                    outcome.timing.upstream_wait += t.elapsed();
                    whole(
                        c,
                        cc,
                        &req,
                        dialect,
                        pd,
                        200,
                        a.body,
                        &id,
                        created,
                        keep,
                        &mut outcome,
                    )
                    .await
                };
                router.end(cand.deployment);
                r
            }
            Attempt::Upstream(mut up, ci) => {
                let status = c.resp.status;
                let cluster = &cc.clusters[ci];
                let grow = w.buffer_size();
                let idle = cluster.cfg.idle_timeout.get();
                let limits = &cc.config.limits;
                let mut reader =
                    BodyReader::new(c.resp.framing, limits.max_chunk_line, limits.max_head_bytes);
                if !(200..300).contains(&status) {
                    let retry = status == 429 || status >= 500 || status == 401 || status == 403;
                    let cooldown = cooldown_from_headers(&c.resp, unix_ms());
                    let body = reader.read_all(&mut up, grow, idle, MAX_ERROR_BYTES).await;
                    if reader.reusable() {
                        cluster.pool.checkin(up, Instant::now());
                    }
                    router.end(cand.deployment);
                    let body = body.unwrap_or_default();
                    if retry {
                        if status == 401 || status == 403 {
                            if let Some((k, _)) = &key {
                                router.key_failed(dep.provider, *k, Instant::now());
                                account::key_disabled(cc);
                            }
                            // The same deployment again with the provider's next key,
                            // when it has one left.
                            if prov.keys() > 1 {
                                next_cand -= 1;
                            }
                        } else {
                            router.failed(cand.deployment, Instant::now(), cooldown);
                        }
                        last = Some(Failure {
                            status,
                            reason: match status {
                                429 => "rate_limited",
                                401 | 403 => "auth",
                                _ => "server_error",
                            },
                            message: format!("provider {} answered {status}", prov.name),
                            provider: Some((pd, body)),
                            retry_after: cooldown,
                        });
                        continue;
                    }
                    // The client's own mistake (400, 404, 422...): no other deployment
                    // would answer differently.
                    let body = translate_error_body(dialect, pd, status, &body);
                    let resp = LocalResponse {
                        status,
                        headers: vec![json_type()],
                        body: Bytes::from(body),
                    };
                    RelayResult::Next(local(c, cc, &resp, keep).await)
                } else {
                    let is_sse = c
                        .resp
                        .header("content-type")
                        .is_some_and(|v| v.starts_with(b"text/event-stream"));
                    let r = if req.stream && is_sse {
                        up.shrink_buffer(stream::STREAM_READ);
                        let mut src = Source::Upstream {
                            up: &mut up,
                            reader,
                            grow: stream::STREAM_READ,
                            idle,
                        };
                        let r = relay(
                            c,
                            w,
                            cc,
                            &mut src,
                            conv(),
                            dialect,
                            route,
                            keep,
                            &mut outcome,
                        )
                        .await;
                        if src.reusable() && matches!(r, RelayResult::Next(_)) {
                            cluster.pool.checkin(up, Instant::now());
                        }
                        r
                    } else {
                        let t = Instant::now();
                        match reader
                            .read_all(&mut up, grow, idle, MAX_RESPONSE_BYTES)
                            .await
                        {
                            Ok(body) => {
                                outcome.timing.upstream_wait += t.elapsed();
                                if reader.reusable() {
                                    cluster.pool.checkin(up, Instant::now());
                                }
                                whole(
                                    c,
                                    cc,
                                    &req,
                                    dialect,
                                    pd,
                                    status,
                                    body,
                                    &id,
                                    created,
                                    keep,
                                    &mut outcome,
                                )
                                .await
                            }
                            Err(e) => RelayResult::Retry(Failure {
                                status: 502,
                                reason: e.reason(),
                                message: format!("provider {} failed: {}", prov.name, e.reason()),
                                provider: None,
                                retry_after: None,
                            }),
                        }
                    };
                    router.end(cand.deployment);
                    r
                }
            }
        };
        let next = match next {
            RelayResult::Next(n) => n,
            RelayResult::Retry(f) => {
                router.failed(cand.deployment, Instant::now(), None);
                last = Some(f);
                continue;
            }
        };
        if let Some(t) = outcome.ttft() {
            router.record_ttft(cand.deployment, t);
        }
        account::finish(c, cc, router, &req, cand.model, cand.deployment, &outcome);
        return next;
    }

    // Every attempt failed (or none could be made).
    let f = last.unwrap_or(Failure {
        status: 503,
        reason: "no_deployment",
        message: "no deployment could take this request".into(),
        provider: None,
        retry_after: None,
    });
    c.ctx.error = Some("every llm attempt failed");
    let mut resp = match f.provider {
        Some((pd, body)) => LocalResponse {
            status: f.status,
            headers: vec![json_type()],
            body: Bytes::from(translate_error_body(dialect, pd, f.status, &body)),
        },
        None => error_response(dialect, f.status, &f.message, None),
    };
    if let Some(wait) = f.retry_after {
        resp.headers.push(retry_after(wait));
    }
    let _ = f.reason;
    local(c, cc, &resp, keep).await
}

enum Attempt {
    Failed(UpFail),
    Mock(mock::MockAnswer),
    Upstream(crate::upstream::UpConn, usize),
}

enum RelayResult {
    Next(Next),
    Retry(Failure),
}

fn new_converter(
    req: &ClientRequest,
    client: Dialect,
    provider: Dialect,
    strip_usage: bool,
    model: &str,
    id: &str,
    created: u64,
) -> Converter {
    let id = match client {
        Dialect::OpenAi => format!("chatcmpl-{id}"),
        Dialect::Anthropic => format!("msg_{id}"),
    };
    Converter::new(
        client,
        provider,
        strip_usage,
        req.include_usage == Some(true),
        model,
        id,
        created,
    )
}

#[allow(clippy::too_many_arguments)]
async fn relay(
    c: &mut ClientConn,
    w: &Worker,
    cc: &CoreConfig,
    src: &mut Source<'_>,
    mut conv: Converter,
    client: Dialect,
    route: &RouteLlmConfig,
    keep: bool,
    outcome: &mut Outcome,
) -> RelayResult {
    let commit = Commit {
        events: route.commit_events,
        bytes: route.commit_bytes,
        first_deadline: outcome.t_send + cc.config.llm.attempt_timeout,
        deadline: c.ctx.started + cc.config.llm.deadline,
    };
    let mut timing = Timing::default();
    let end = stream::relay(
        c,
        w,
        cc,
        src,
        &mut conv,
        client,
        &commit,
        !keep,
        &mut timing,
    )
    .await;
    outcome.absorb(&conv);
    outcome.timing.upstream_wait += timing.upstream_wait;
    outcome.timing.first_token = timing.first_token;
    outcome.timing.last_token = timing.last_token;
    match end {
        RelayEnd::Done => RelayResult::Next(if keep { Next::KeepAlive } else { Next::Close }),
        RelayEnd::ClientGone => {
            outcome.client_gone = true;
            // Logged and counted as 499 (client closed) even when the stream's 200
            // head had gone out: the answer did not reach its end.
            c.ctx.status = 499;
            c.ctx.error = Some("client closed during stream");
            RelayResult::Next(Next::Close)
        }
        RelayEnd::FailedAfterCommit { reason } => {
            outcome.failed_after_commit = Some(reason);
            RelayResult::Next(if keep { Next::KeepAlive } else { Next::Close })
        }
        RelayEnd::FailedBeforeCommit { reason, message } => RelayResult::Retry(Failure {
            status: 502,
            reason,
            message,
            provider: None,
            retry_after: None,
        }),
    }
}

/// A whole (non-streamed) answer: usage read, translated when the formats differ,
/// written with a length.
#[allow(clippy::too_many_arguments)]
async fn whole(
    c: &mut ClientConn,
    cc: &CoreConfig,
    req: &ClientRequest,
    client: Dialect,
    provider: Dialect,
    status: u16,
    body: Vec<u8>,
    id: &str,
    created: u64,
    keep: bool,
    outcome: &mut Outcome,
) -> RelayResult {
    let body = match account::whole_response(req.api, client, provider, body, id, created) {
        Ok((mut body, usage)) => {
            outcome.usage = usage;
            // The guard's placeholders back to the originals, when it asked for that.
            tollgate_filters::guard::restore_in_place(&c.ctx.llm.redactions, &mut body);
            body
        }
        Err(message) => {
            return RelayResult::Retry(Failure {
                status: 502,
                reason: "bad_response",
                message,
                provider: None,
                retry_after: None,
            })
        }
    };
    let resp = LocalResponse {
        status,
        headers: vec![json_type()],
        body: Bytes::from(body),
    };
    RelayResult::Next(local(c, cc, &resp, keep).await)
}

async fn models(
    c: &mut ClientConn,
    cc: &CoreConfig,
    router: &LlmRouter,
    route: &RouteLlmConfig,
    keep: bool,
) -> Next {
    let names: Vec<&str> = router
        .listed_models()
        .filter(|m| route.models.is_empty() || route.models.iter().any(|r| r == m))
        .filter(|m| c.ctx.consumer_allows_model(m))
        .collect();
    let body = if c.head.header("anthropic-version").is_some() {
        let data: Vec<serde_json::Value> = names
            .iter()
            .map(|m| serde_json::json!({"type": "model", "id": m, "display_name": m, "created_at": "1970-01-01T00:00:00Z"}))
            .collect();
        serde_json::json!({
            "data": data,
            "has_more": false,
            "first_id": names.first(),
            "last_id": names.last(),
        })
    } else {
        let data: Vec<serde_json::Value> = names
            .iter()
            .map(|m| serde_json::json!({"id": m, "object": "model", "created": 0, "owned_by": "tollgate"}))
            .collect();
        serde_json::json!({"object": "list", "data": data})
    };
    let resp = LocalResponse {
        status: 200,
        headers: vec![json_type()],
        body: Bytes::from(body.to_string()),
    };
    local(c, cc, &resp, keep).await
}

fn retry_after(wait: Duration) -> (Bytes, Bytes) {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    (
        Bytes::from_static(b"retry-after"),
        Bytes::from(secs.max(1).to_string()),
    )
}

/// Answers with a gateway error in the client's format.
#[allow(clippy::too_many_arguments)]
async fn answer(
    c: &mut ClientConn,
    cc: &CoreConfig,
    dialect: Dialect,
    status: u16,
    message: &str,
    code: Option<&str>,
    keep: bool,
) -> Next {
    if c.ctx.error.is_none() {
        c.ctx.error = Some("llm request refused");
    }
    tracing::debug!(status, message, "llm request refused");
    let resp = error_response(dialect, status, message, code);
    // A body not read yet must be skipped to keep the connection in step.
    let keep = keep && body_consumed(c);
    local(c, cc, &resp, keep).await
}

/// True when the request has no body left unread in the socket: it was read here, or it
/// is all buffered and skipped as for any local answer.
fn body_consumed(c: &mut ClientConn) -> bool {
    c.ctx.bytes_received > c.head.buf.len() as u64 || crate::server::h1::discard_buffered_body(c)
}

async fn local(c: &mut ClientConn, cc: &CoreConfig, resp: &LocalResponse, keep: bool) -> Next {
    if write_local(c, cc, resp, !keep).await && keep {
        Next::KeepAlive
    } else {
        Next::Close
    }
}
