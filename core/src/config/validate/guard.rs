//! Checks for routes' `guard` key: only on LLM routes; prompt rules and custom patterns
//! that compile; `redact` naming known detectors once each; every custom pattern used;
//! caps above zero; `caps` entries naming one consumer or one group.
//!
//! A `caps` entry's consumer is not looked up in `[[consumers]]`: a JWT may name a
//! consumer the file does not list.

use std::collections::HashSet;

use tollgate_filters::guard::{GuardConfig, RuleConfig, BUILTIN};
use tollgate_filters::RouteConfig;

use super::locate::KeyPath;
use super::syntax::{check_name, regex_error};
use super::Issues;

pub(super) fn check(issues: &mut Issues, routes: &[RouteConfig]) {
    for (i, route) in routes.iter().enumerate() {
        let Some(guard) = &route.guard else {
            continue;
        };
        let path = KeyPath::root().key("routes").index(i).key("guard");
        let label = format!("route {} ({:?}): guard: ", i + 1, route.name);
        if route.llm.is_none() {
            issues.at(
                &path,
                format!("{label}works on LLM routes only; add llm = {{}} or remove guard"),
            );
            continue;
        }
        check_rules(issues, &guard.deny, &path.key("deny"), &label, "deny");
        check_rules(issues, &guard.allow, &path.key("allow"), &label, "allow");
        check_redaction(issues, guard, &path, &label);
        check_caps(issues, guard, &path, &label);
    }
}

fn check_rules(issues: &mut Issues, rules: &[RuleConfig], at: &KeyPath, label: &str, key: &str) {
    let mut names = HashSet::new();
    for (j, rule) in rules.iter().enumerate() {
        let (pattern_at, name_at) = match rule {
            RuleConfig::Pattern(_) => (at.index(j), None),
            RuleConfig::Named(_) => (at.index(j).key("pattern"), Some(at.index(j).key("name"))),
        };
        if let Err(e) = regex::Regex::new(rule.pattern()) {
            issues.at(
                &pattern_at,
                format!("{label}{key}[{j}] does not compile: {}", regex_error(&e)),
            );
        }
        if let (Some(name), Some(name_at)) = (rule.name(), name_at) {
            if name.is_empty() {
                issues.at(&name_at, format!("{label}{key}[{j}]: the name is empty"));
            } else if let Err(e) = check_name(name) {
                issues.at(&name_at, format!("{label}{key}[{j}]: {e}"));
            } else if !names.insert(name) {
                issues.at(
                    &name_at,
                    format!("{label}{key}[{j}]: the name {name:?} is already used"),
                );
            }
        }
    }
}

fn check_redaction(issues: &mut Issues, guard: &GuardConfig, path: &KeyPath, label: &str) {
    let mut custom_names = HashSet::new();
    for (j, c) in guard.custom.iter().enumerate() {
        let at = path.key("custom").index(j);
        if c.name.is_empty() {
            issues.at(
                &at.key("name"),
                format!("{label}custom[{j}]: the name is empty"),
            );
        } else if BUILTIN.contains(&c.name.as_str()) {
            issues.at(
                &at.key("name"),
                format!(
                    "{label}custom[{j}]: {:?} is a built-in detector's name",
                    c.name
                ),
            );
        } else if let Err(e) = check_name(&c.name) {
            issues.at(&at.key("name"), format!("{label}custom[{j}]: {e}"));
        } else if !custom_names.insert(c.name.as_str()) {
            issues.at(
                &at.key("name"),
                format!("{label}custom[{j}]: the name {:?} is already used", c.name),
            );
        }
        match regex::Regex::new(&c.pattern) {
            Err(e) => issues.at(
                &at.key("pattern"),
                format!("{label}custom[{j}] does not compile: {}", regex_error(&e)),
            ),
            Ok(re) if re.is_match("") => issues.at(
                &at.key("pattern"),
                format!("{label}custom[{j}] matches the empty string; it must match something"),
            ),
            Ok(_) => {}
        }
        if !c.name.is_empty() && !guard.redact.contains(&c.name) {
            issues.at(
                &at.key("name"),
                format!(
                    "{label}custom pattern {:?} is not listed in redact; add it there or remove it",
                    c.name
                ),
            );
        }
    }
    let mut listed = HashSet::new();
    for (j, name) in guard.redact.iter().enumerate() {
        let at = path.key("redact").index(j);
        if !BUILTIN.contains(&name.as_str()) && !custom_names.contains(name.as_str()) {
            let known: Vec<&str> = BUILTIN
                .iter()
                .copied()
                .chain(guard.custom.iter().map(|c| c.name.as_str()))
                .collect();
            issues.at(
                &at,
                format!(
                    "{label}redact: {name:?} is not a detector; known: {}",
                    known.join(", ")
                ),
            );
        } else if !listed.insert(name.as_str()) {
            issues.at(&at, format!("{label}redact: {name:?} is listed twice"));
        }
    }
    if guard.restore && guard.redact.is_empty() {
        issues.at(
            &path.key("restore"),
            format!("{label}restore = true needs redact; nothing is replaced to restore"),
        );
    }
}

fn check_caps(issues: &mut Issues, guard: &GuardConfig, path: &KeyPath, label: &str) {
    for (key, value) in [
        ("max_request_bytes", guard.max_request_bytes),
        ("max_tokens", guard.max_tokens),
    ] {
        if value == Some(0) {
            issues.at(
                &path.key(key),
                format!("{label}{key} must be greater than 0"),
            );
        }
    }
    for (j, cap) in guard.caps.iter().enumerate() {
        let at = path.key("caps").index(j);
        match (&cap.consumer, &cap.group) {
            (Some(_), Some(_)) | (None, None) => issues.at(
                &at,
                format!("{label}caps[{j}] names one consumer = \"NAME\" or one group = \"GROUP\""),
            ),
            (Some(n), None) | (None, Some(n)) if n.is_empty() => {
                issues.at(&at, format!("{label}caps[{j}]: the name is empty"))
            }
            _ => {}
        }
        if cap.max_request_bytes.is_none() && cap.max_tokens.is_none() {
            issues.at(
                &at,
                format!("{label}caps[{j}] sets neither max_request_bytes nor max_tokens"),
            );
        }
        for (key, value) in [
            ("max_request_bytes", cap.max_request_bytes),
            ("max_tokens", cap.max_tokens),
        ] {
            if value == Some(0) {
                issues.at(
                    &at.key(key),
                    format!("{label}caps[{j}].{key} must be greater than 0"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_and_validate_all;

    const HEAD: &str = r#"
[[listeners]]
listen = "127.0.0.1:18080"
[[llm.providers]]
name = "mock"
kind = "mock"
[[llm.models]]
name = "m"
[[llm.models.deployments]]
provider = "mock"
[[routes]]
name = "llm"
match = { path_prefix = "/v1/" }
llm = {}
"#;

    /// The errors of a config whose LLM route has `guard` (on line 15).
    fn errors(guard: &str) -> Vec<(Option<usize>, String)> {
        match parse_and_validate_all(&format!("{HEAD}{guard}\n"), "t.toml") {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| (e.line, e.message)).collect(),
        }
    }

    #[test]
    fn a_full_guard_passes() {
        let guard = r#"guard = { deny = ["(?i)secret", { name = "inj", pattern = "ignore previous" }], allow = ["."], scope = "last_user", redact = ["email", "phone", "card", "iban", "ip", "ticket"], custom = [{ name = "ticket", pattern = "TCK-[0-9]{6}" }], restore = true, max_request_bytes = 65536, max_tokens = 4096, caps = [{ consumer = "batch", max_tokens = 16000 }, { group = "free", max_request_bytes = 8192 }] }"#;
        assert_eq!(errors(guard), vec![]);
    }

    #[test]
    fn each_mistake_is_reported_at_its_line() {
        let cases: &[(&str, &str)] = &[
            ("guard = { deny = [\"(\"] }", "routes[0].guard.deny[0]: route 1 (\"llm\"): guard: deny[0] does not compile"),
            ("guard = { allow = [{ name = \"a\", pattern = \"[\" }] }", "guard.allow[0].pattern"),
            ("guard = { deny = [{ name = \"a\", pattern = \"x\" }, { name = \"a\", pattern = \"y\" }] }", "is already used"),
            ("guard = { redact = [\"ssn\"] }", "\"ssn\" is not a detector; known: email, phone, card, iban, ip"),
            ("guard = { redact = [\"ip\", \"ip\"] }", "listed twice"),
            ("guard = { redact = [\"x\"], custom = [{ name = \"x\", pattern = \"a*\" }] }", "matches the empty string"),
            ("guard = { redact = [\"x\"], custom = [{ name = \"x\", pattern = \"(\" }] }", "custom[0] does not compile"),
            ("guard = { custom = [{ name = \"t\", pattern = \"T\" }] }", "is not listed in redact"),
            ("guard = { redact = [\"email\"], custom = [{ name = \"email\", pattern = \"x\" }] }", "built-in detector's name"),
            ("guard = { restore = true }", "restore = true needs redact"),
            ("guard = { max_tokens = 0 }", "max_tokens must be greater than 0"),
            ("guard = { caps = [{ consumer = \"a\", group = \"b\", max_tokens = 1 }] }", "names one consumer"),
            ("guard = { caps = [{ group = \"b\" }] }", "sets neither"),
            ("guard = { scope = \"first\" }", "unknown variant `first`"),
            ("guard = { bogus = 1 }", "unknown field `bogus`"),
        ];
        for (guard, needle) in cases {
            let got = errors(guard);
            assert!(
                got.len() == 1 && got[0].1.contains(needle) && got[0].0 == Some(15),
                "{guard}\nwanted one error at line 15 containing {needle:?}, got {got:?}"
            );
        }
    }

    #[test]
    fn a_guard_needs_an_llm_route() {
        let text =
            "[[listeners]]\nlisten = \"127.0.0.1:18080\"\n[[routes]]\nrespond = {}\nguard = {}\n";
        let errors = parse_and_validate_all(text, "t.toml").expect_err("refused");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].message.contains("works on LLM routes only"),
            "{errors:?}"
        );
        assert_eq!(errors[0].line, Some(5));
    }
}
