//! Every CEL rule of the generated CRDs, where it sits and what it says, so a rule added to the
//! types without a test here fails the suite.

use serde_json::Value;

use super::harness::Kind;

/// One `x-kubernetes-validations` entry and the schema node it is attached to.
pub struct RuleSite {
    pub kind: Kind,
    /// Schema path, `[]` standing for any list item: `spec.rateLimits[].key`.
    pub path: String,
    pub rule: String,
    pub message: String,
    pub node: &'static Value,
    /// How many times the rule can run for one object: the product of the `maxItems` and
    /// `maxProperties` of the lists and maps around it, or the path of one that has no bound.
    pub runs: Result<u64, String>,
}

/// Every rule of the kind's CRD, in schema order.
pub fn rule_sites(kind: Kind) -> Vec<RuleSite> {
    let mut sites = Vec::new();
    walk(kind, kind.schema(), String::new(), Ok(1), &mut sites);
    sites
}

fn walk(
    kind: Kind,
    node: &'static Value,
    path: String,
    runs: Result<u64, String>,
    sites: &mut Vec<RuleSite>,
) {
    for rule in node["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        sites.push(RuleSite {
            kind,
            path: path.clone(),
            rule: rule["rule"].as_str().unwrap_or_default().to_owned(),
            message: rule["message"].as_str().unwrap_or_default().to_owned(),
            node,
            runs: runs.clone(),
        });
    }
    for (name, child) in node["properties"].as_object().into_iter().flatten() {
        let child_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        walk(kind, child, child_path, runs.clone(), sites);
    }
    let repeated = [
        ("items", "maxItems", "[]"),
        ("additionalProperties", "maxProperties", ".*"),
    ];
    for (key, bound, suffix) in repeated {
        if node[key].is_object() {
            let child_path = format!("{path}{suffix}");
            let child_runs = match node[bound].as_u64() {
                Some(max) => runs.clone().map(|runs| runs * max),
                None => Err(format!("{path} (no {bound})")),
            };
            walk(kind, &node[key], child_path, child_runs, sites);
        }
    }
}

/// The rules this suite tests, as `(kind, path, message)`; the `Duration` and `Usd` rules are
/// covered site by site in `fields`.
const TESTED: &[(&str, &str, &str)] = &[
    (
        "AIModel",
        "spec",
        "set at most one of endpoint and serviceRef",
    ),
    (
        "AIModel",
        "spec",
        "an openai-compatible model needs an endpoint or a serviceRef",
    ),
    (
        "AIModel",
        "spec",
        "an azure-openai model needs an endpoint such as https://RESOURCE.openai.azure.com",
    ),
    (
        "AIModel",
        "spec",
        "an azure-openai model needs azure.deployment and azure.apiVersion",
    ),
    (
        "AIModel",
        "spec",
        "azure settings apply only to provider azure-openai",
    ),
    ("AIModel", "spec", "a bedrock model needs bedrock.region"),
    (
        "AIModel",
        "spec",
        "bedrock settings apply only to provider bedrock",
    ),
    (
        "AIModel",
        "spec",
        "credentials are required for every provider except openai-compatible",
    ),
    (
        "AIModel",
        "spec",
        "bedrock models use credentials.aws; every other provider uses credentials.secretRef",
    ),
    (
        "AIModel",
        "spec.azure.apiVersion",
        "apiVersion must look like 2024-10-21 or 2025-01-01-preview",
    ),
    (
        "AIModel",
        "spec.bedrock.region",
        "region must be an AWS region such as us-east-1",
    ),
    (
        "AIModel",
        "spec.credentials",
        "set exactly one of credentials.secretRef and credentials.aws",
    ),
    (
        "AIModel",
        "spec.endpoint",
        "endpoint must be an http:// or https:// URL",
    ),
    (
        "AIModel",
        "spec.timeouts",
        "timeouts.firstToken must not exceed timeouts.total",
    ),
    (
        "AIRoute",
        "spec",
        "at least one backend needs a weight above 0",
    ),
    (
        "AIRoute",
        "spec",
        "each AIModel may appear only once in backends",
    ),
    (
        "AIRoute",
        "spec",
        "each model name may appear only once in models",
    ),
    (
        "AIRoute",
        "spec",
        "model names may contain letters, digits, . _ : / @ - and the glob characters * ? [ ]",
    ),
    (
        "AIRoute",
        "spec.matches[].name",
        "name must be a valid HTTP header name",
    ),
    (
        "AIRoute",
        "spec.retry.backoff",
        "retry.backoff.base must not exceed retry.backoff.max",
    ),
    ("AIPolicy", "spec", "rate limit names must be unique"),
    ("AIPolicy", "spec", "budget names must be unique"),
    (
        "AIPolicy",
        "spec.authentication.apiKeys",
        "apiKeys needs secretNames or a selector",
    ),
    (
        "AIPolicy",
        "spec.authentication.apiKeys.selector",
        "selector.matchLabels must not be empty",
    ),
    (
        "AIPolicy",
        "spec.authentication.jwt[].jwks",
        "set exactly one of jwks.inline, jwks.secretRef and jwks.url",
    ),
    (
        "AIPolicy",
        "spec.authentication.jwt[].jwks.url",
        "jwks.url must be an https:// URL",
    ),
    (
        "AIPolicy",
        "spec.budgets[].key",
        "key.header is required when key.type is header, and allowed only then",
    ),
    (
        "AIPolicy",
        "spec.rateLimits[]",
        "a rate limit needs requests, tokens or both",
    ),
    (
        "AIPolicy",
        "spec.rateLimits[].key",
        "key.header is required when key.type is header, and allowed only then",
    ),
    (
        "AIPolicy",
        "spec.targetRefs[]",
        "name is required for AIRoute and AIModel targets and not allowed for a Namespace target",
    ),
];

/// Messages of the field types' rules, tested in `fields` wherever the types are used.
const FIELD_TYPE_MESSAGES: &[&str] = &[
    "must be a positive duration such as 500ms, 30s, 5m or 1h30m",
    "must be a decimal amount of US dollars such as 2.50 (no sign, no exponent)",
];

#[test]
fn every_rule_of_the_crds_is_listed_as_tested() {
    let mut found: Vec<_> = Kind::ALL
        .into_iter()
        .flat_map(rule_sites)
        .filter(|site| !FIELD_TYPE_MESSAGES.contains(&site.message.as_str()))
        .map(|site| format!("{} {} {:?}", site.kind.name(), site.path, site.message))
        .collect();
    let mut tested: Vec<_> = TESTED
        .iter()
        .map(|(kind, path, message)| format!("{kind} {path} {message:?}"))
        .collect();
    found.sort();
    tested.sort();
    assert_eq!(
        found, tested,
        "the CRDs' rules changed: test each new rule in crds/tests/cel/<kind>.rs and list it in TESTED"
    );
}

#[test]
fn every_rule_tells_the_user_what_is_wrong_in_words() {
    for site in Kind::ALL.into_iter().flat_map(rule_sites) {
        let message = &site.message;
        assert!(
            !message.is_empty() && !message.contains("self") && message.len() <= 120,
            "{} {}: rule {:?} needs a short human message, not {message:?}",
            site.kind.name(),
            site.path,
            site.rule
        );
    }
}
