//! `[[consumers]]`, `[[auth.jwt]]` and route `auth` rows: one snippet per check, the
//! message it must give and the line it must point at; then configs that must pass and
//! build the chain.

use crate::config::validate::{parse_and_validate, parse_and_validate_all};

/// Lines 1-12: a listener, a route `r`, a consumer `a` with the key "k", an HS256 issuer
/// `i`.
const BASE: &str = "[[listeners]]\nlisten = \"127.0.0.1:18080\"\n\
[[routes]]\nname = \"r\"\nrespond = {}\n\
[[consumers]]\nname = \"a\"\n\
api_keys = [\"sha256:8254c329a92850f6d539dd376f4816ee2764517da5e0235514af433164480d7a\"]\n\
[[auth.jwt]]\nname = \"i\"\nalgorithms = [\"HS256\"]\nsecret = \"s\"\n";

/// A route `s` on lines 13-15 with `auth` on line 16.
fn route(auth: &str) -> String {
    format!("[[routes]]\nname = \"s\"\nrespond = {{}}\nauth = {auth}\n")
}

fn data(file: &str) -> String {
    format!(
        "{}/../filters/tests/data/{file}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn each_problem_is_reported_at_its_line() {
    let same_key = "sha256:8254C329A92850F6D539DD376F4816EE2764517DA5E0235514AF433164480D7A";
    let cases: Vec<(String, &str, usize)> = vec![
        (
            "[[consumers]]\nname = \"a\"\n".into(),
            "consumers[1].name: consumer \"a\": the name is already used by consumers[0]",
            14,
        ),
        (
            "[[consumers]]\nname = \"\"\n".into(),
            "consumers[1].name: consumer 2: the name is empty",
            14,
        ),
        (
            "[[consumers]]\nname = \"b\"\napi_keys = [\"my-secret-key\"]\n".into(),
            "consumers[1].api_keys[0]: consumer \"b\": an API key is stored as \"sha256:<64 hex digits>\"",
            15,
        ),
        (
            "[[consumers]]\nname = \"b\"\napi_keys = [\"sha256:abc\"]\n".into(),
            "\"sha256:\" takes 64 hex digits, got 3",
            15,
        ),
        (
            format!("[[consumers]]\nname = \"b\"\napi_keys = [\"{same_key}\"]\n"),
            "consumers[1].api_keys[0]: consumer \"b\": this key is also consumer \"a\"'s",
            15,
        ),
        (
            "[[consumers]]\nname = \"b\"\nroutes = [\"r\", \"nope\"]\n".into(),
            "consumers[1].routes[1]: consumer \"b\": routes: \"nope\" is not a route; defined routes: r",
            15,
        ),
        (
            "[[consumers]]\nname = \"b\"\nmodels = [\"gpt\"]\n".into(),
            "consumers[1].models[0]: consumer \"b\": models: \"gpt\" is not a model; defined models: none",
            15,
        ),
        (
            route("{ jwt = [\"i\", \"x\"] }"),
            "routes[1].auth.jwt[1]: route 2 (\"s\"): auth.jwt: issuer \"x\" is not defined; defined issuers: i",
            16,
        ),
        (
            route("{ api_key = false }"),
            "routes[1].auth: route 2 (\"s\"): auth accepts no credential and no anonymous request",
            16,
        ),
        (
            route("{ header = \"Authorization\" }"),
            "routes[1].auth.header: route 2 (\"s\"): auth.header: Authorization (Bearer) is always read",
            16,
        ),
        (
            route("{ header = \"x key\" }"),
            "auth.header: header name \"x key\" contains a space",
            16,
        ),
        (
            route("{ query = \"k&ey\" }"),
            "routes[1].auth.query: route 2 (\"s\"): auth.query \"k&ey\" is not a plain query parameter name",
            16,
        ),
        (
            route("{ anonymus = true }"),
            "unknown field `anonymus`",
            16,
        ),
        (
            "[[auth.jwt]]\nname = \"i\"\nalgorithms = [\"HS256\"]\nsecret = \"t\"\n".into(),
            "auth.jwt[1].name: issuer \"i\": the name is already used by auth.jwt[0]",
            14,
        ),
        (
            "[[auth.jwt]]\nname = \"j\"\nalgorithms = [\"RS256\"]\nsecret = \"t\"\n".into(),
            "auth.jwt[1].algorithms: issuer \"j\": RS256 needs an RSA public key, and the issuer has none",
            15,
        ),
        (
            format!(
                "[[auth.jwt]]\nname = \"j\"\nalgorithms = [\"HS256\"]\nsecret = \"t\"\npublic_key_file = \"{}\"\n",
                data("rsa1_public.pem")
            ),
            "auth.jwt[1].public_key_file: issuer \"j\": this is an RSA public key, but algorithms (HS256) has no algorithm that uses it",
            17,
        ),
        (
            "[[auth.jwt]]\nname = \"j\"\npublic_key_file = \"/nonexistent/sso.pem\"\n".into(),
            "auth.jwt[1].public_key_file: issuer \"j\": cannot read \"/nonexistent/sso.pem\"",
            15,
        ),
        (
            format!(
                "[[auth.jwt]]\nname = \"j\"\njwks_file = \"{}\"\n",
                data("rsa1_public.pem")
            ),
            "auth.jwt[1].jwks_file: issuer \"j\": ",
            15,
        ),
        (
            "[[auth.jwt]]\nname = \"j\"\npublic_key = \"-----BEGIN PUBLIC KEY-----\"\n".into(),
            "auth.jwt[1].public_key: issuer \"j\": not an RSA or EC public key in PEM",
            15,
        ),
        (
            "[[auth.jwt]]\nname = \"j\"\nalgorithms = [\"HS256\"]\nsecret = \"env:TOLLGATE_VALIDATE_TEST_UNSET\"\n".into(),
            "auth.jwt[1].secret: issuer \"j\": environment variable TOLLGATE_VALIDATE_TEST_UNSET is not set",
            16,
        ),
        (
            "[[auth.jwt]]\nname = \"j\"\nalgorithms = [\"HS512\"]\n".into(),
            "unknown variant `HS512`, expected one of `HS256`, `RS256`, `ES256`",
            15,
        ),
        (
            "[[auth.jwt]]\nname = \"j\"\nalgorithms = [\"HS256\"]\nsecret = \"t\"\ndefault_group = \"\"\n".into(),
            "auth.jwt[1].default_group: issuer \"j\": default_group is empty",
            17,
        ),
        (
            "[[auth.jwt]]\nname = \"j\"\nalgorithms = [\"HS256\"]\nsecret = \"t\"\naudience = [\"\"]\n".into(),
            "auth.jwt[1].audience: issuer \"j\": an audience is empty",
            17,
        ),
    ];
    let mut failures = Vec::new();
    for (tail, needle, line) in &cases {
        let text = format!("{BASE}{tail}");
        let errors = parse_and_validate_all(&text, "t.toml")
            .err()
            .unwrap_or_default();
        let ok = errors.len() == 1
            && errors[0].message.contains(needle)
            && errors[0].line == Some(*line);
        if !ok {
            let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
            failures.push(format!(
                "{tail}\nwanted one error containing {needle:?} at line {line}; got {got:#?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn valid_auth_configs_pass_and_build_the_chain() {
    let llm = "[[llm.providers]]\nname = \"p\"\nkind = \"mock\"\n\
               [[llm.models]]\nname = \"m\"\naliases = [\"m2\"]\ndeployments = [{ provider = \"p\" }]\n\
               [[routes]]\nname = \"ai\"\nllm = {}\nauth = { jwt = [\"rs\", \"i\"], anonymous = true, query = \"key\" }\n";
    let issuers = format!(
        "[[auth.jwt]]\nname = \"rs\"\nalgorithms = [\"RS256\", \"ES256\"]\njwks_file = \"{}\"\n\
         public_key_file = \"{}\"\nissuer = \"https://idp\"\naudience = [\"gw\"]\n\
         default_group = \"guests\"\n",
        data("jwks.json"),
        data("ec1_public.pem"),
    );
    let consumers =
        "[[consumers]]\nname = \"b\"\ngroup = \"g\"\nmodels = [\"m2\"]\nroutes = [\"ai\", \"r\"]\n\
                     metadata = { tier = \"gold\" }\n";
    let text = format!("{BASE}{llm}{issuers}{consumers}");
    let config = parse_and_validate(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.consumers.len(), 2);
    assert_eq!(config.auth.jwt.len(), 2);
    let names: Vec<&str> = config.clusters.iter().map(|c| c.name.as_str()).collect();
    if let Err(e) = tollgate_filters::Chain::build_with_auth(
        &config.routes,
        &config.auth_inputs(),
        true,
        &|n| names.iter().position(|c| *c == n),
    ) {
        panic!("validation passed but the chain does not build: {e}");
    }
}
