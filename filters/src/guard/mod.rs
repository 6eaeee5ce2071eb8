//! Guardrails on LLM routes (`guard = { ... }` on a route with `llm`): caps on the
//! request's size and `max_tokens`, a prompt guard (deny and allow lists of regular
//! expressions), and PII redaction of the prompt before it leaves for the provider,
//! with the originals optionally put back into the answer.
//!
//! It runs in [`Guard::on_llm_body`], on the body the LLM layer has read whole (bounded
//! by `llm.max_body_bytes`) and before it is scanned for the model, in this order:
//! 1. `max_request_bytes`: a longer body is refused, 413;
//! 2. the body is scanned for its text fields ([`body`]); a body that cannot be read
//!    is refused, 400 (the guard fails closed: what it cannot read, it cannot check);
//! 3. `max_tokens`: a request asking for more is refused, 400 (not clamped: the client
//!    learns its limit instead of getting a shorter answer it did not expect); one that
//!    asks for no limit gets `"max_tokens": <cap>` added, so the cap holds;
//! 4. `deny`/`allow` on the prompt text of the [`Scope`], before any redaction;
//!    refusals are 400 with code `prompt_rejected` and a message that names the rule
//!    (`deny[2]` or its configured name) and never repeats the prompt;
//! 5. redaction ([`pii`]): each text string is decoded, its matches replaced by
//!    placeholders, and re-encoded in place; every other byte of the body is kept, and
//!    a body where nothing matched is not touched at all.
//!
//! Errors are in the client API's format ([`crate::llm::error_response`]). The
//! placeholders of a request live on `ctx.llm.redactions`; the LLM layer calls
//! [`restore_in_place`] on a whole answer and on each stream write.
//!
//! Regexes are compiled once per config generation on each core ([`Guard::compile`]);
//! a request allocates only when the guard has text to check or change.

mod body;
pub mod config;
pub mod metrics;
mod pii;
mod redactions;

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use regex::Regex;

use self::body::{BodyText, Origin};
use self::metrics::{Counter, Metric};
use self::pii::Detectors;
use crate::chain::Invalid;
use crate::llm::{error_response, Dialect};
use crate::{Flow, RequestCtx};

pub use config::{CapConfig, CustomPattern, GuardConfig, NamedRule, RuleConfig, Scope, BUILTIN};
pub use metrics::render as render_metrics;
pub use redactions::{restore, restore_in_place, Redactions};

/// A compiled `guard`.
#[derive(Debug)]
pub struct Guard {
    deny: Vec<Rule>,
    allow: Vec<Regex>,
    /// Counts requests that matched no allow rule.
    allow_missed: Option<Arc<Counter>>,
    scope: Scope,
    detectors: Detectors,
    /// Per `redact` entry: the placeholder label and the redaction counter.
    labels: Vec<(String, Arc<Counter>)>,
    restore: bool,
    /// The route's caps, and those of some consumers and groups.
    caps: Caps,
    caps_for: Vec<(Who, Caps)>,
    /// Counters of requests refused for each cap.
    too_large: Arc<Counter>,
    too_many_tokens: Arc<Counter>,
    /// Bodies the guard could not read.
    unreadable: Arc<Counter>,
    /// The guard has prompt rules or redacts.
    reads_text: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Caps {
    max_request_bytes: Option<u64>,
    max_tokens: Option<u64>,
}

#[derive(Debug)]
enum Who {
    Consumer(String),
    Group(String),
}

#[derive(Debug)]
struct Rule {
    re: Regex,
    /// `deny[2]` or the configured name.
    label: String,
    rejected: Arc<Counter>,
}

impl Guard {
    pub(crate) fn compile(cfg: &GuardConfig) -> Result<Guard, Invalid> {
        let regex = |field: &'static str, p: &str| {
            Regex::new(p).map_err(|e| Invalid::new(field, format!("{p:?} does not compile: {e}")))
        };
        let deny = cfg
            .deny
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let label = r
                    .name()
                    .map_or_else(|| format!("deny[{i}]"), ToOwned::to_owned);
                Ok(Rule {
                    re: regex("guard.deny", r.pattern())?,
                    rejected: metrics::counter(Metric::Rejections, &label),
                    label,
                })
            })
            .collect::<Result<Vec<_>, Invalid>>()?;
        let allow = cfg
            .allow
            .iter()
            .map(|r| regex("guard.allow", r.pattern()))
            .collect::<Result<Vec<_>, Invalid>>()?;
        let detectors = Detectors::compile(&cfg.redact, &cfg.custom)
            .map_err(|e| Invalid::new("guard.redact", e))?;
        let labels = cfg
            .redact
            .iter()
            .map(|name| {
                (
                    config::label_of(name),
                    metrics::counter(Metric::Redactions, name),
                )
            })
            .collect();
        let rejections = |rule: &str| metrics::counter(Metric::Rejections, rule);
        let caps = Caps {
            max_request_bytes: cfg.max_request_bytes,
            max_tokens: cfg.max_tokens,
        };
        let caps_for = cfg
            .caps
            .iter()
            .map(|c| {
                let who = match (&c.consumer, &c.group) {
                    (Some(name), None) => Who::Consumer(name.clone()),
                    (None, Some(group)) => Who::Group(group.clone()),
                    _ => {
                        return Err(Invalid::new(
                            "guard.caps",
                            "each entry names one consumer or one group",
                        ))
                    }
                };
                let own = Caps {
                    max_request_bytes: c.max_request_bytes.or(caps.max_request_bytes),
                    max_tokens: c.max_tokens.or(caps.max_tokens),
                };
                Ok((who, own))
            })
            .collect::<Result<_, Invalid>>()?;
        Ok(Guard {
            allow_missed: (!allow.is_empty()).then(|| rejections("allow")),
            reads_text: !deny.is_empty() || !allow.is_empty() || !detectors.is_empty(),
            deny,
            allow,
            scope: cfg.scope,
            detectors,
            labels,
            restore: cfg.restore,
            caps,
            caps_for,
            too_large: rejections("max_request_bytes"),
            too_many_tokens: rejections("max_tokens"),
            unreadable: rejections("unreadable_body"),
        })
    }

    /// The caps of the request's consumer: its own entry, else its group's, else the
    /// route's.
    fn caps(&self, ctx: &RequestCtx) -> Caps {
        if self.caps_for.is_empty() {
            return self.caps;
        }
        let consumer = ctx.consumer_name();
        let group = ctx.consumer_group();
        let mine = |w: &Who| matches!(w, Who::Consumer(n) if Some(n.as_str()) == consumer);
        let ours = |w: &Who| matches!(w, Who::Group(g) if Some(g.as_str()) == group);
        self.caps_for
            .iter()
            .find(|(w, _)| mine(w))
            .or_else(|| self.caps_for.iter().find(|(w, _)| ours(w)))
            .map_or(self.caps, |(_, c)| *c)
    }

    /// See the module doc for what happens in which order.
    pub fn on_llm_body(&self, ctx: &mut RequestCtx, dialect: Dialect, body: &mut Vec<u8>) -> Flow {
        ctx.llm.redactions.set_restore(self.restore);
        let caps = self.caps(ctx);
        if let Some(max) = caps.max_request_bytes {
            if body.len() as u64 > max {
                let msg = format!(
                    "the request body is {} bytes; this route accepts at most {max}",
                    body.len()
                );
                return refuse(
                    ctx,
                    &self.too_large,
                    dialect,
                    413,
                    &msg,
                    "request_too_large",
                );
            }
        }
        if !self.reads_text && caps.max_tokens.is_none() {
            return Flow::Continue;
        }
        let unreadable = &self.unreadable;
        let text = match body::scan(body) {
            Ok(t) => t,
            Err(e) => {
                let msg = format!("the guard could not read the request body: {e}");
                return refuse(ctx, unreadable, dialect, 400, &msg, "invalid_request_body");
            }
        };
        // A request that names no limit gets the cap: in place of a `null`, else as a
        // new first member.
        let mut add_max_tokens = None;
        let mut set_null = None;
        if let Some(cap) = caps.max_tokens {
            let refused = &self.too_many_tokens;
            let mut asked = false;
            for span in &text.max_tokens {
                match body::whole_number(body, span) {
                    Ok(None) => {
                        set_null.get_or_insert((span.clone(), cap.to_string().into_bytes()));
                    }
                    Ok(Some(n)) if n <= cap => asked = true,
                    Ok(Some(n)) => {
                        let msg = format!(
                            "max_tokens {n} is more than this route allows ({cap}); ask for {cap} or fewer"
                        );
                        return refuse(ctx, refused, dialect, 400, &msg, "max_tokens_exceeded");
                    }
                    Err(()) => {
                        let msg = "max_tokens must be a whole number";
                        return refuse(ctx, refused, dialect, 400, msg, "max_tokens_exceeded");
                    }
                }
            }
            if asked || !text.generates {
                set_null = None;
            } else if set_null.is_none() {
                add_max_tokens = Some(cap);
            }
        }
        let edits = {
            let mut decoded: Vec<Cow<'_, str>> = Vec::with_capacity(text.fields.len());
            for f in &text.fields {
                match body::decode(body, &f.span) {
                    Ok(t) => decoded.push(t),
                    Err(e) => {
                        let msg = format!("the guard could not read the request body: {e}");
                        return refuse(ctx, unreadable, dialect, 400, &msg, "invalid_request_body");
                    }
                }
            }
            if let Some(refusal) = self.check_prompt(ctx, dialect, &text, &decoded) {
                return refusal;
            }
            let mut edits = self.redact(ctx, &text, &decoded);
            edits.extend(set_null);
            edits
        };
        if !edits.is_empty() || add_max_tokens.is_some() {
            *body = splice(body, text.open, add_max_tokens, edits);
        }
        Flow::Continue
    }

    /// The deny and allow rules on the prompt text of the scope.
    fn check_prompt(
        &self,
        ctx: &mut RequestCtx,
        dialect: Dialect,
        text: &BodyText,
        decoded: &[Cow<'_, str>],
    ) -> Option<Flow> {
        if self.deny.is_empty() && self.allow.is_empty() {
            return None;
        }
        let prompt = prompt_text(self.scope, text, decoded);
        if let Some(rule) = self.deny.iter().find(|r| r.re.is_match(&prompt)) {
            let msg = format!("the prompt was refused by guard rule {}", rule.label);
            return Some(refuse(
                ctx,
                &rule.rejected,
                dialect,
                400,
                &msg,
                "prompt_rejected",
            ));
        }
        if let Some(missed) = &self.allow_missed {
            if !self.allow.iter().any(|re| re.is_match(&prompt)) {
                let msg = "the prompt was refused by the guard: it matches none of the allow rules";
                return Some(refuse(ctx, missed, dialect, 400, msg, "prompt_rejected"));
            }
        }
        None
    }

    /// The new string tokens of the text fields where a detector found something.
    fn redact(
        &self,
        ctx: &mut RequestCtx,
        text: &BodyText,
        decoded: &[Cow<'_, str>],
    ) -> Vec<(Range<usize>, Vec<u8>)> {
        let mut edits = Vec::new();
        if self.detectors.is_empty() {
            return edits;
        }
        let mut found = Vec::new();
        for (field, t) in text.fields.iter().zip(decoded) {
            self.detectors.find(t, &mut found);
            if found.is_empty() {
                continue;
            }
            let mut s = String::with_capacity(t.len());
            let mut from = 0;
            for m in &found {
                s.push_str(&t[from..m.start]);
                let (label, counter) = &self.labels[m.detector];
                counter.inc();
                s.push_str(ctx.llm.redactions.placeholder(label, &t[m.start..m.end]));
                from = m.end;
            }
            s.push_str(&t[from..]);
            // A `String` always serialises.
            let token = serde_json::to_vec(&s).unwrap_or_default();
            edits.push((field.span.clone(), token));
        }
        edits
    }
}

/// The text the prompt rules look at: the fields of the scope joined by newlines.
fn prompt_text<'a>(scope: Scope, text: &BodyText, decoded: &'a [Cow<'a, str>]) -> Cow<'a, str> {
    let in_scope = |origin: Origin| match scope {
        Scope::All => true,
        Scope::LastUser => match origin {
            Origin::Message { index, .. } => Some(index) == text.last_user,
            Origin::Prompt => text.last_user.is_none(),
            Origin::System => false,
        },
    };
    let parts: Vec<&str> = text
        .fields
        .iter()
        .zip(decoded)
        .filter(|(f, _)| in_scope(f.origin))
        .map(|(_, t)| t.as_ref())
        .collect();
    match parts.as_slice() {
        [one] => Cow::Borrowed(one),
        many => Cow::Owned(many.join("\n")),
    }
}

/// `body` with `"max_tokens": cap` added first in the object at `open` (when given) and
/// each span replaced by its new token.
fn splice(
    body: &[u8],
    open: usize,
    max_tokens: Option<u64>,
    mut edits: Vec<(Range<usize>, Vec<u8>)>,
) -> Vec<u8> {
    edits.sort_by_key(|(span, _)| span.start);
    let grow: usize = edits.iter().map(|(_, t)| t.len()).sum();
    let mut out = Vec::with_capacity(body.len() + grow + 32);
    let mut from = 0;
    if let Some(cap) = max_tokens {
        out.extend_from_slice(&body[..=open]);
        out.extend_from_slice(format!("\"max_tokens\":{cap},").as_bytes());
        from = open + 1;
    }
    for (span, token) in edits {
        out.extend_from_slice(&body[from..span.start]);
        out.extend_from_slice(&token);
        from = span.end;
    }
    out.extend_from_slice(&body[from..]);
    out
}

fn refuse(
    ctx: &mut RequestCtx,
    counter: &Counter,
    dialect: Dialect,
    status: u16,
    message: &str,
    code: &str,
) -> Flow {
    counter.inc();
    ctx.error = Some("refused by the guard");
    Flow::Respond(error_response(dialect, status, message, Some(code)))
}

#[cfg(test)]
mod tests;
