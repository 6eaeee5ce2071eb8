//! Direct response: the route answers with a fixed status, headers and body.
//!
//! Everything is compiled to `Bytes` at build time; a request clones them (refcount
//! bumps, plus the small header `Vec` of the [`LocalResponse`], empty when no header is
//! configured). The connection driver frames the body (Content-Length) and runs the
//! response-phase filters over the answer as it would over an upstream's.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::chain::Invalid;
use crate::headers::{field_name, field_value};
use crate::{Flow, LocalResponse, RequestCtx};

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
pub struct Respond {
    status: u16,
    /// Lowercase names.
    headers: Vec<(Bytes, Bytes)>,
    body: Bytes,
}

impl Respond {
    pub(crate) fn compile(cfg: &RespondConfig) -> Result<Respond, Invalid> {
        if !(200..=599).contains(&cfg.status) {
            return Err(Invalid::new(
                "respond.status",
                format!("status {} is not a final status (200-599)", cfg.status),
            ));
        }
        if matches!(cfg.status, 204 | 304) && !cfg.body.is_empty() {
            return Err(Invalid::new(
                "respond.body",
                format!("a {} response has no body", cfg.status),
            ));
        }
        let headers = cfg
            .headers
            .iter()
            .map(|(n, v)| {
                let name = field_name(n).map_err(|e| Invalid::new("respond.headers", e))?;
                if matches!(
                    &name[..],
                    b"content-length" | b"transfer-encoding" | b"connection"
                ) {
                    return Err(Invalid::new(
                        "respond.headers",
                        format!("`{n}` is set by the gateway"),
                    ));
                }
                Ok((
                    name,
                    field_value(v).map_err(|e| Invalid::new("respond.headers", e))?,
                ))
            })
            .collect::<Result<_, _>>()?;
        Ok(Respond {
            status: cfg.status,
            headers,
            body: Bytes::from(cfg.body.clone()),
        })
    }

    pub fn on_request_head(&self, _ctx: &mut RequestCtx) -> Flow {
        Flow::Respond(LocalResponse {
            status: self.status,
            headers: self.headers.clone(),
            body: self.body.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ctx;

    fn cfg(status: u16, body: &str, headers: &[(&str, &str)]) -> RespondConfig {
        RespondConfig {
            status,
            body: body.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn answers_with_the_configured_response() {
        let r = Respond::compile(&cfg(
            418,
            "short and stout",
            &[("Content-Type", "text/plain")],
        ))
        .unwrap();
        let Flow::Respond(resp) = r.on_request_head(&mut ctx()) else {
            panic!("expected Respond")
        };
        assert_eq!(resp.status, 418);
        assert_eq!(&resp.body[..], b"short and stout");
        assert_eq!(
            resp.headers,
            vec![(Bytes::from("content-type"), Bytes::from("text/plain"))]
        );
        // The body is shared with the compiled filter, not copied.
        assert_eq!(resp.body.as_ptr(), r.body.as_ptr());
    }

    #[test]
    fn default_status_is_200() {
        let c: RespondConfig = serde_json::from_str(r#"{"body":"hi"}"#).unwrap();
        assert_eq!(c.status, 200);
    }

    #[test]
    fn refuses_what_cannot_be_sent() {
        for (bad, field) in [
            (cfg(99, "", &[]), "respond.status"),
            (cfg(101, "", &[]), "respond.status"),
            (cfg(600, "", &[]), "respond.status"),
            (cfg(204, "body", &[]), "respond.body"),
            (cfg(200, "", &[("content-length", "3")]), "respond.headers"),
            (cfg(200, "", &[("x", "a\nb")]), "respond.headers"),
        ] {
            assert_eq!(Respond::compile(&bad).unwrap_err().field, field, "{bad:?}");
        }
    }
}
