//! JWT issuers: tokens of each algorithm accepted, every kind of bad token refused with
//! its reason, key choice by `kid`, algorithm confusion, and config that must not load.
//! Keys are the test-only PEMs and JWKS in `filters/tests/data` (see its README).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;

const RSA1_PRIVATE: &[u8] = include_bytes!("../../../tests/data/rsa1_private.pem");
const RSA2_PRIVATE: &[u8] = include_bytes!("../../../tests/data/rsa2_private.pem");
const EC1_PRIVATE: &[u8] = include_bytes!("../../../tests/data/ec1_private.pem");
const RSA1_PUBLIC: &str = include_str!("../../../tests/data/rsa1_public.pem");
const EC1_PUBLIC: &str = include_str!("../../../tests/data/ec1_public.pem");

fn data(file: &str) -> String {
    format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims for consumer `alice` that expire in an hour, with `extra` merged in (a `null`
/// removes a claim).
fn claims(extra: Value) -> Value {
    let mut c = json!({"sub": "alice", "exp": now() + 3600});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut h = Header::new(alg);
    h.kid = kid.map(String::from);
    encode(&h, claims, key).unwrap()
}

fn hs(secret: &str, claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(secret.as_bytes()),
        claims,
    )
}

fn rs(private: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(private).unwrap();
    sign(Algorithm::RS256, kid, &key, claims)
}

fn es(kid: Option<&str>, claims: &Value) -> String {
    let key = EncodingKey::from_ec_pem(EC1_PRIVATE).unwrap();
    sign(Algorithm::ES256, kid, &key, claims)
}

fn issuer(f: impl FnOnce(&mut JwtIssuerConfig)) -> Issuer {
    let mut cfg = JwtIssuerConfig {
        name: "t".into(),
        ..JwtIssuerConfig::default()
    };
    f(&mut cfg);
    Issuer::load(&cfg).unwrap_or_else(|e| panic!("{e:?}"))
}

fn hs_issuer() -> Issuer {
    issuer(|c| {
        c.algorithms = vec![JwtAlgorithm::HS256];
        c.secret = "s3cret".into();
    })
}

fn rs_issuer() -> Issuer {
    issuer(|c| c.public_key_file = data("rsa1_public.pem"))
}

fn jwks_issuer() -> Issuer {
    issuer(|c| {
        c.algorithms = vec![JwtAlgorithm::RS256, JwtAlgorithm::ES256];
        c.jwks_file = data("jwks.json");
    })
}

fn alice() -> Result<Verified, JwtError> {
    Ok(Verified {
        consumer: "alice".into(),
    })
}

#[test]
fn each_algorithm_verifies_with_its_key() {
    let c = claims(json!({}));
    assert_eq!(hs_issuer().verify(&hs("s3cret", &c)), alice());
    assert_eq!(rs_issuer().verify(&rs(RSA1_PRIVATE, None, &c)), alice());
    let ec = issuer(|c| {
        c.algorithms = vec![JwtAlgorithm::ES256];
        c.public_key = EC1_PUBLIC.into();
    });
    assert_eq!(ec.verify(&es(None, &c)), alice());
}

#[test]
fn a_wrong_key_is_a_bad_signature() {
    let c = claims(json!({}));
    assert_eq!(
        hs_issuer().verify(&hs("other", &c)),
        Err(JwtError::Signature)
    );
    assert_eq!(
        rs_issuer().verify(&rs(RSA2_PRIVATE, None, &c)),
        Err(JwtError::Signature)
    );
    // A token whose payload was changed after signing.
    let t = hs("s3cret", &c);
    let parts: Vec<&str> = t.split('.').collect();
    let forged = {
        use base64::Engine as _;
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = b.encode(claims(json!({"sub": "mallory"})).to_string());
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    assert_eq!(hs_issuer().verify(&forged), Err(JwtError::Signature));
}

#[test]
fn expiry_and_not_before_are_checked_with_leeway() {
    let is = hs_issuer(); // leeway 30 s
    let t = |extra| hs("s3cret", &claims(extra));
    assert_eq!(is.verify(&t(json!({"exp": now() - 10}))), alice());
    assert_eq!(
        is.verify(&t(json!({"exp": now() - 100}))),
        Err(JwtError::Expired)
    );
    assert_eq!(is.verify(&t(json!({"nbf": now() + 10}))), alice());
    assert_eq!(
        is.verify(&t(json!({"nbf": now() + 100}))),
        Err(JwtError::NotYetValid)
    );
    assert_eq!(
        is.verify(&t(json!({"exp": null}))),
        Err(JwtError::MissingClaim)
    );
    let strict = issuer(|c| {
        c.algorithms = vec![JwtAlgorithm::HS256];
        c.secret = "s3cret".into();
        c.leeway = Duration::ZERO;
    });
    assert_eq!(
        strict.verify(&t(json!({"exp": now() - 10}))),
        Err(JwtError::Expired)
    );
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let is = issuer(|c| {
        c.algorithms = vec![JwtAlgorithm::HS256];
        c.secret = "s3cret".into();
        c.issuer = "https://idp.example".into();
        c.audience = vec!["tollgate".into(), "api".into()];
    });
    let t = |extra| hs("s3cret", &claims(extra));
    let good = json!({"iss": "https://idp.example", "aud": "api"});
    assert_eq!(is.verify(&t(good)), alice());
    assert_eq!(
        is.verify(&t(
            json!({"iss": "https://idp.example", "aud": ["x", "tollgate"]})
        )),
        alice()
    );
    assert_eq!(
        is.verify(&t(json!({"iss": "https://evil.example", "aud": "api"}))),
        Err(JwtError::Issuer)
    );
    assert_eq!(
        is.verify(&t(json!({"iss": "https://idp.example", "aud": "other"}))),
        Err(JwtError::Audience)
    );
    assert_eq!(
        is.verify(&t(json!({"aud": "api"}))),
        Err(JwtError::MissingClaim)
    );
    assert_eq!(
        is.verify(&t(json!({"iss": "https://idp.example"}))),
        Err(JwtError::MissingClaim)
    );
    // With no audience configured, a token meant for some audience is refused.
    assert_eq!(
        hs_issuer().verify(&t(json!({"aud": "someone-else"}))),
        Err(JwtError::Audience)
    );
}

#[test]
fn algorithm_confusion_is_refused() {
    let c = claims(json!({}));
    // The RSA public key used as an HMAC secret: HS256 is not this issuer's algorithm.
    let forged = hs(RSA1_PUBLIC, &c);
    assert_eq!(rs_issuer().verify(&forged), Err(JwtError::Algorithm));
    // Even where HS256 is allowed, only the secret verifies it, never the RSA key.
    let both = issuer(|cfg| {
        cfg.algorithms = vec![JwtAlgorithm::HS256, JwtAlgorithm::RS256];
        cfg.secret = "s3cret".into();
        cfg.public_key = RSA1_PUBLIC.into();
    });
    assert_eq!(both.verify(&forged), Err(JwtError::Signature));
    assert_eq!(both.verify(&rs(RSA1_PRIVATE, None, &c)), alice());
    assert_eq!(both.verify(&hs("s3cret", &c)), alice());
    // An ES256 token to an RS256-only issuer.
    assert_eq!(rs_issuer().verify(&es(None, &c)), Err(JwtError::Algorithm));
    // `alg: none`, unsigned.
    use base64::Engine as _;
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b.encode(c.to_string())
    );
    assert!(matches!(
        rs_issuer().verify(&none),
        Err(JwtError::Malformed | JwtError::Algorithm)
    ));
    // An RS384 token: not an algorithm Tollgate verifies.
    let key = EncodingKey::from_rsa_pem(RSA1_PRIVATE).unwrap();
    let rs384 = sign(Algorithm::RS384, None, &key, &c);
    assert_eq!(rs_issuer().verify(&rs384), Err(JwtError::Algorithm));
}

#[test]
fn jwks_keys_are_chosen_by_kid() {
    let is = jwks_issuer();
    let c = claims(json!({}));
    assert_eq!(is.verify(&rs(RSA1_PRIVATE, Some("rsa-1"), &c)), alice());
    assert_eq!(is.verify(&rs(RSA2_PRIVATE, Some("rsa-2"), &c)), alice());
    // The kid names a key the token was not signed with.
    assert_eq!(
        is.verify(&rs(RSA2_PRIVATE, Some("rsa-1"), &c)),
        Err(JwtError::Signature)
    );
    // An unknown kid, and no kid with two RSA keys to choose from.
    assert_eq!(
        is.verify(&rs(RSA1_PRIVATE, Some("rsa-9"), &c)),
        Err(JwtError::NoKey)
    );
    assert_eq!(is.verify(&rs(RSA1_PRIVATE, None, &c)), Err(JwtError::NoKey));
    // The kid of an EC key on an RS256 token picks no RSA key.
    assert_eq!(
        is.verify(&rs(RSA1_PRIVATE, Some("ec-1"), &c)),
        Err(JwtError::NoKey)
    );
    assert_eq!(is.verify(&es(Some("ec-1"), &c)), alice());
    // The only EC key serves a token without a kid.
    assert_eq!(is.verify(&es(None, &c)), alice());
}

#[test]
fn an_inline_key_serves_tokens_whatever_their_kid() {
    let is = issuer(|c| c.public_key = RSA1_PUBLIC.into());
    let c = claims(json!({}));
    assert_eq!(is.verify(&rs(RSA1_PRIVATE, Some("any"), &c)), alice());
}

#[test]
fn the_consumer_claim_is_configurable_and_must_be_a_string() {
    let is = issuer(|c| {
        c.algorithms = vec![JwtAlgorithm::HS256];
        c.secret = "s3cret".into();
        c.consumer_claim = "client_id".into();
    });
    let t = |extra| hs("s3cret", &claims(extra));
    assert_eq!(
        is.verify(&t(json!({"client_id": "svc-a"}))),
        Ok(Verified {
            consumer: "svc-a".into()
        })
    );
    assert_eq!(is.verify(&t(json!({}))), Err(JwtError::NoConsumer));
    assert_eq!(
        is.verify(&t(json!({"client_id": 7}))),
        Err(JwtError::NoConsumer)
    );
    assert_eq!(
        hs_issuer().verify(&t(json!({"sub": ""}))),
        Err(JwtError::NoConsumer)
    );
}

#[test]
fn garbage_is_malformed() {
    for t in ["", "abc", "a.b.c", "eyJ.eyJ.", "eyJhbGciOiJIUzI1NiJ9.e30"] {
        assert!(
            matches!(
                hs_issuer().verify(t),
                Err(JwtError::Malformed | JwtError::Signature)
            ),
            "{t}"
        );
    }
}

#[test]
fn configs_that_cannot_work_do_not_load() {
    let load = |f: &dyn Fn(&mut JwtIssuerConfig)| {
        let mut cfg = JwtIssuerConfig {
            name: "t".into(),
            ..JwtIssuerConfig::default()
        };
        f(&mut cfg);
        Issuer::load(&cfg).err().map(|e| e.field)
    };
    type Edit<'a> = &'a dyn Fn(&mut JwtIssuerConfig);
    let cases: [(Edit, &str); 11] = [
        // RS256 (the default) with only a secret.
        (&|c| c.secret = "s".into(), "algorithms"),
        (&|c| c.algorithms.clear(), "algorithms"),
        // A secret no algorithm uses.
        (
            &|c| {
                c.public_key = RSA1_PUBLIC.into();
                c.secret = "s".into();
            },
            "secret",
        ),
        // An EC key where only RS256 is listed.
        (&|c| c.public_key = EC1_PUBLIC.into(), "algorithms"),
        (&|c| c.public_key = "not a pem".into(), "public_key"),
        (
            &|c| c.public_key_file = data("no-such-file.pem"),
            "public_key_file",
        ),
        (&|c| c.jwks_file = data("missing.json"), "jwks_file"),
        (&|c| c.jwks_file = data("rsa1_public.pem"), "jwks_file"),
        (
            &|c| {
                c.algorithms = vec![JwtAlgorithm::HS256];
                c.secret = "env:TOLLGATE_TEST_UNSET_SECRET".into();
            },
            "secret",
        ),
        (
            &|c| {
                c.algorithms = vec![JwtAlgorithm::HS256];
                c.secret = "env:".into();
            },
            "secret",
        ),
        (
            &|c| {
                c.public_key = RSA1_PUBLIC.into();
                c.consumer_claim.clear();
            },
            "consumer_claim",
        ),
    ];
    for (i, (f, field)) in cases.iter().enumerate() {
        assert_eq!(load(*f), Some(*field), "case {i}");
    }
    assert_eq!(load(&|c| c.public_key = RSA1_PUBLIC.into()), None);
}

#[test]
fn an_env_secret_is_read_at_load() {
    // A variable no other test touches.
    std::env::set_var("TOLLGATE_TEST_JWT_SECRET", "from-env");
    let is = issuer(|c| {
        c.algorithms = vec![JwtAlgorithm::HS256];
        c.secret = "env:TOLLGATE_TEST_JWT_SECRET".into();
    });
    assert_eq!(is.verify(&hs("from-env", &claims(json!({})))), alice());
    assert_eq!(
        is.verify(&hs("env:TOLLGATE_TEST_JWT_SECRET", &claims(json!({})))),
        Err(JwtError::Signature)
    );
}
