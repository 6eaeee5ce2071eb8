//! JWT issuers: keys loaded once per config generation, tokens verified per request.
//!
//! Verification is done by the `jsonwebtoken` crate (signatures by `ring`); this file
//! decides which key a token may be checked with, which is where JWT libraries are
//! usually misused:
//! - The token's `alg` must be one of the issuer's `algorithms`, and picks the key
//!   *family*: HS256 only ever uses a shared secret, RS256 an RSA key, ES256 a P-256
//!   key. An RSA public key is never used as an HMAC secret (the "algorithm confusion"
//!   attack), and `none` is never accepted.
//! - Key choice: a `kid` that names one of the issuer's keys of that family picks it.
//!   Otherwise the family's inline key (`secret`, `public_key`, `public_key_file`) is
//!   used; without one, the family's only JWKS key, when the token names no `kid` or
//!   that key has none. Anything else is refused, never tried on several keys.
//! - `exp` is required; `exp` and `nbf` are checked with `leeway`; `iss` and `aud`,
//!   when configured, are required and checked. A token that names an audience where
//!   none is configured is refused (RFC 7519 §4.1.3).
//!
//! Nothing here logs a token or a claim value.

use std::collections::HashMap;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, Validation};

use super::config::{JwtAlgorithm, JwtIssuerConfig};

/// Which kind of key an algorithm verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Hmac,
    Rsa,
    Ec,
}

impl JwtAlgorithm {
    fn family(self) -> Family {
        match self {
            JwtAlgorithm::HS256 => Family::Hmac,
            JwtAlgorithm::RS256 => Family::Rsa,
            JwtAlgorithm::ES256 => Family::Ec,
        }
    }

    fn of(alg: Algorithm) -> Option<JwtAlgorithm> {
        match alg {
            Algorithm::HS256 => Some(JwtAlgorithm::HS256),
            Algorithm::RS256 => Some(JwtAlgorithm::RS256),
            Algorithm::ES256 => Some(JwtAlgorithm::ES256),
            _ => None,
        }
    }

    fn algorithm(self) -> Algorithm {
        match self {
            JwtAlgorithm::HS256 => Algorithm::HS256,
            JwtAlgorithm::RS256 => Algorithm::RS256,
            JwtAlgorithm::ES256 => Algorithm::ES256,
        }
    }
}

impl Family {
    fn what(self) -> &'static str {
        match self {
            Family::Hmac => "an HS256 `secret`",
            Family::Rsa => "an RSA public key",
            Family::Ec => "a P-256 (EC) public key",
        }
    }
}

struct Key {
    /// `None` for an inline key or a JWKS key without one.
    kid: Option<String>,
    from_jwks: bool,
    family: Family,
    key: DecodingKey,
}

impl std::fmt::Debug for Key {
    // The key material stays out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("from_jwks", &self.from_jwks)
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

/// An issuer compiled from its config: keys loaded, one [`Validation`] per algorithm.
#[derive(Debug)]
pub struct Issuer {
    pub name: String,
    /// The `iss` tokens must carry, if configured.
    pub issuer: Option<String>,
    /// See [`JwtIssuerConfig::default_group`].
    pub default_group: Option<String>,
    consumer_claim: String,
    keys: Vec<Key>,
    /// Indexed like [`JwtAlgorithm`]: `None` for an algorithm the issuer does not take.
    validations: [Option<Validation>; 3],
}

/// Why a token was refused. The message goes to the client; it names no claim value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    Malformed,
    Algorithm,
    NoKey,
    Signature,
    Expired,
    NotYetValid,
    Issuer,
    Audience,
    MissingClaim,
    NoConsumer,
}

impl JwtError {
    /// For metrics (`tollgate_auth_failures_total{reason}`).
    pub fn reason(self) -> &'static str {
        match self {
            JwtError::Expired => "token_expired",
            JwtError::NotYetValid => "token_not_yet_valid",
            JwtError::Issuer | JwtError::Audience => "token_wrong_issuer_or_audience",
            JwtError::Signature | JwtError::NoKey | JwtError::Algorithm => "token_bad_signature",
            JwtError::Malformed | JwtError::MissingClaim | JwtError::NoConsumer => {
                "token_malformed"
            }
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            JwtError::Malformed => "the token is not a well-formed JWT",
            JwtError::Algorithm => "the token's signature algorithm is not accepted",
            JwtError::NoKey => "no key of this issuer verifies the token (unknown kid)",
            JwtError::Signature => "the token's signature is invalid",
            JwtError::Expired => "the token has expired",
            JwtError::NotYetValid => "the token is not valid yet",
            JwtError::Issuer => "the token's issuer is not accepted",
            JwtError::Audience => "the token's audience is not accepted",
            JwtError::MissingClaim => "the token lacks a required claim (exp, iss or aud)",
            JwtError::NoConsumer => "the token does not name a consumer",
        }
    }
}

/// A verified token: who it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The value of the issuer's `consumer_claim`.
    pub consumer: String,
}

/// The first problem with an issuer's config: the key at fault and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerError {
    pub field: &'static str,
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> IssuerError {
    IssuerError {
        field,
        message: message.into(),
    }
}

impl Issuer {
    /// Loads the issuer's keys (reads `env:` secrets and key files) and checks that its
    /// algorithms and keys agree.
    pub fn load(cfg: &JwtIssuerConfig) -> Result<Issuer, IssuerError> {
        if cfg.algorithms.is_empty() {
            return Err(err(
                "algorithms",
                "list at least one of \"HS256\", \"RS256\", \"ES256\"",
            ));
        }
        if cfg.consumer_claim.is_empty() {
            return Err(err("consumer_claim", "name the claim (e.g. \"sub\")"));
        }
        let mut keys = Vec::new();
        if !cfg.secret.is_empty() {
            let secret = resolve_secret(&cfg.secret)?;
            keys.push(Key {
                kid: None,
                from_jwks: false,
                family: Family::Hmac,
                key: DecodingKey::from_secret(secret.as_bytes()),
            });
        }
        if !cfg.public_key.is_empty() {
            keys.push(pem_key("public_key", cfg.public_key.as_bytes())?);
        }
        if !cfg.public_key_file.is_empty() {
            let pem = std::fs::read(&cfg.public_key_file).map_err(|e| {
                err(
                    "public_key_file",
                    format!("cannot read {:?}: {e}", cfg.public_key_file),
                )
            })?;
            keys.push(pem_key("public_key_file", &pem)?);
        }
        if !cfg.jwks_file.is_empty() {
            jwks_keys(&cfg.jwks_file, &mut keys)?;
        }
        for alg in &cfg.algorithms {
            if !keys.iter().any(|k| k.family == alg.family()) {
                return Err(err(
                    "algorithms",
                    format!(
                        "{} needs {}, and the issuer has none",
                        alg.as_str(),
                        alg.family().what()
                    ),
                ));
            }
        }
        // An inline key no algorithm uses is a mistake (a public key meant for RS256
        // with only HS256 listed, say); JWKS files may hold other keys.
        for (field, family) in inline_fields(cfg, &keys) {
            if !cfg.algorithms.iter().any(|a| a.family() == family) {
                return Err(err(
                    field,
                    format!(
                        "this is {}, but algorithms ({}) has no algorithm that uses it",
                        family.what(),
                        list_algorithms(&cfg.algorithms)
                    ),
                ));
            }
        }
        let mut validations: [Option<Validation>; 3] = [None, None, None];
        for alg in &cfg.algorithms {
            validations[*alg as usize] = Some(validation(cfg, *alg));
        }
        Ok(Issuer {
            name: cfg.name.clone(),
            issuer: (!cfg.issuer.is_empty()).then(|| cfg.issuer.clone()),
            default_group: cfg.default_group.clone(),
            consumer_claim: cfg.consumer_claim.clone(),
            keys,
            validations,
        })
    }

    /// Verifies `token` and returns the consumer it names.
    pub fn verify(&self, token: &str) -> Result<Verified, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
        let alg = JwtAlgorithm::of(header.alg).ok_or(JwtError::Algorithm)?;
        let validation = self.validations[alg as usize]
            .as_ref()
            .ok_or(JwtError::Algorithm)?;
        let key = self
            .pick_key(alg.family(), header.kid.as_deref())
            .ok_or(JwtError::NoKey)?;
        let data =
            jsonwebtoken::decode::<HashMap<String, serde_json::Value>>(token, &key.key, validation)
                .map_err(|e| match e.kind() {
                    ErrorKind::InvalidSignature
                    | ErrorKind::InvalidEcdsaKey
                    | ErrorKind::Crypto(_) => JwtError::Signature,
                    ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
                        JwtError::Algorithm
                    }
                    ErrorKind::ExpiredSignature => JwtError::Expired,
                    ErrorKind::ImmatureSignature => JwtError::NotYetValid,
                    ErrorKind::InvalidIssuer => JwtError::Issuer,
                    ErrorKind::InvalidAudience => JwtError::Audience,
                    ErrorKind::MissingRequiredClaim(_) => JwtError::MissingClaim,
                    _ => JwtError::Malformed,
                })?;
        match data.claims.get(&self.consumer_claim) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(Verified {
                consumer: s.clone(),
            }),
            _ => Err(JwtError::NoConsumer),
        }
    }

    /// The key a token of `family` with `kid` is checked with (see the module doc).
    fn pick_key(&self, family: Family, kid: Option<&str>) -> Option<&Key> {
        let of_family = || self.keys.iter().filter(move |k| k.family == family);
        if let Some(kid) = kid {
            if let Some(k) = of_family().find(|k| k.kid.as_deref() == Some(kid)) {
                return Some(k);
            }
        }
        if let Some(k) = of_family().find(|k| !k.from_jwks) {
            return Some(k);
        }
        let mut jwks = of_family().filter(|k| k.from_jwks);
        match (kid, jwks.next(), jwks.next()) {
            // A kid that names no key is refused rather than tried on another key.
            (Some(_), Some(k), None) if k.kid.is_some() => None,
            (_, Some(k), None) => Some(k),
            _ => None,
        }
    }
}

fn validation(cfg: &JwtIssuerConfig, alg: JwtAlgorithm) -> Validation {
    let mut v = Validation::new(alg.algorithm());
    v.leeway = cfg.leeway.as_secs() + u64::from(cfg.leeway.subsec_nanos() > 0);
    v.validate_exp = true;
    v.validate_nbf = true;
    let mut required = vec!["exp"];
    if !cfg.issuer.is_empty() {
        v.set_issuer(&[&cfg.issuer]);
        required.push("iss");
    }
    if !cfg.audience.is_empty() {
        v.set_audience(&cfg.audience);
        required.push("aud");
    }
    v.set_required_spec_claims(&required);
    v
}

/// `"env:NAME"` read from the environment, or the secret as written.
fn resolve_secret(secret: &str) -> Result<String, IssuerError> {
    match secret.strip_prefix("env:") {
        None => Ok(secret.to_owned()),
        Some("") => Err(err(
            "secret",
            "\"env:\" needs a variable name (\"env:NAME\")",
        )),
        Some(var) => match std::env::var(var) {
            Ok(v) if v.is_empty() => Err(err(
                "secret",
                format!("environment variable {var} is empty"),
            )),
            Ok(v) => Ok(v),
            Err(_) => Err(err(
                "secret",
                format!("environment variable {var} is not set (or not UTF-8)"),
            )),
        },
    }
}

fn pem_key(field: &'static str, pem: &[u8]) -> Result<Key, IssuerError> {
    let (family, key) = if let Ok(k) = DecodingKey::from_rsa_pem(pem) {
        (Family::Rsa, k)
    } else if let Ok(k) = DecodingKey::from_ec_pem(pem) {
        (Family::Ec, k)
    } else {
        return Err(err(
            field,
            "not an RSA or EC public key in PEM (\"-----BEGIN PUBLIC KEY-----\")",
        ));
    };
    Ok(Key {
        kid: None,
        from_jwks: false,
        family,
        key,
    })
}

/// The keys of a JWKS file usable for signatures: RSA, P-256 and `oct` keys whose `use`
/// (if any) is `sig` and whose `alg` (if any) is one we verify.
fn jwks_keys(path: &str, keys: &mut Vec<Key>) -> Result<(), IssuerError> {
    let field = "jwks_file";
    let text = std::fs::read(path).map_err(|e| err(field, format!("cannot read {path:?}: {e}")))?;
    let set: JwkSet = serde_json::from_slice(&text).map_err(|e| {
        err(
            field,
            format!("{path:?} is not a JWKS ({{\"keys\": [...]}}): {e}"),
        )
    })?;
    let before = keys.len();
    for (i, jwk) in set.keys.iter().enumerate() {
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            continue;
        }
        let family = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Family::Rsa,
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Family::Ec,
            AlgorithmParameters::OctetKey(_) => Family::Hmac,
            _ => continue,
        };
        let alg_ok = match jwk.common.key_algorithm {
            None => true,
            Some(KeyAlgorithm::RS256) => family == Family::Rsa,
            Some(KeyAlgorithm::ES256) => family == Family::Ec,
            Some(KeyAlgorithm::HS256) => family == Family::Hmac,
            Some(_) => false,
        };
        if !alg_ok {
            continue;
        }
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|e| err(field, format!("{path:?}: key {}: {e}", i + 1)))?;
        keys.push(Key {
            kid: jwk.common.key_id.clone(),
            from_jwks: true,
            family,
            key,
        });
    }
    if keys.len() == before {
        return Err(err(
            field,
            format!("{path:?} holds no RS256, ES256 or HS256 signing key"),
        ));
    }
    Ok(())
}

/// The inline keys with the config key that gave each (in load order).
fn inline_fields(cfg: &JwtIssuerConfig, keys: &[Key]) -> Vec<(&'static str, Family)> {
    let fields = [
        ("secret", !cfg.secret.is_empty()),
        ("public_key", !cfg.public_key.is_empty()),
        ("public_key_file", !cfg.public_key_file.is_empty()),
    ];
    fields
        .iter()
        .filter(|(_, set)| *set)
        .zip(keys.iter().filter(|k| !k.from_jwks))
        .map(|((field, _), k)| (*field, k.family))
        .collect()
}

fn list_algorithms(algs: &[JwtAlgorithm]) -> String {
    algs.iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
