//! Guardrails a policy puts on prompts before they leave the cluster: deny patterns refuse a
//! request (400 with the pattern's message), PII redaction replaces personal data with typed
//! placeholders. Both see every piece of text the caller wrote, in every role, system prompts
//! included (see `ClientRequest::edit_prompt`); the route's own injected system prompt is the
//! admin's and is not checked.
//!
//! Deny patterns run first, on the text as sent, so redaction cannot hide a denied phrase;
//! redaction then rewrites the request itself, so the provider, the cache key and everything
//! after this stage only ever see the placeholders.

pub mod input_tokens;
pub mod pii;

use std::sync::Arc;

use regex::{Regex, RegexSet, RegexSetBuilder};
use switchyard_crds::snapshot::{Policy, Route};
use switchyard_providers::ClientRequest;

use crate::{errors::GatewayError, metrics::Metrics, store::State};

use self::pii::Redactor;

/// Compiled size allowed for one policy's set of deny patterns (the regex default is 10 MiB;
/// 64 patterns of up to 1 KiB each can need more).
const DENY_SET_SIZE_LIMIT: usize = 64 << 20;

/// A policy's guardrails, compiled once per snapshot.
#[derive(Debug, Default)]
pub struct PolicyGuardrails {
    deny: Option<DenyPatterns>,
    /// The message of each deny pattern, indexed like the patterns.
    messages: Box<[Arc<str>]>,
    redactor: Redactor,
}

/// One policy's deny patterns: one automaton for all of them, or (if the set is too large to
/// compile) each on its own, each already checked by the compiler.
#[derive(Debug)]
enum DenyPatterns {
    Set(RegexSet),
    Each(Box<[Regex]>),
}

impl DenyPatterns {
    fn new(patterns: &[(String, String)]) -> Option<Self> {
        if patterns.is_empty() {
            return None;
        }
        let regexes = patterns.iter().map(|(regex, _)| regex);
        match RegexSetBuilder::new(regexes)
            .size_limit(DENY_SET_SIZE_LIMIT)
            .build()
        {
            Ok(set) => Some(Self::Set(set)),
            Err(error) => {
                tracing::warn!(%error, "deny patterns checked one by one");
                let each = patterns
                    .iter()
                    .filter_map(|(regex, _)| Regex::new(regex).ok())
                    .collect();
                Some(Self::Each(each))
            }
        }
    }

    /// The index of the first pattern `text` matches.
    fn first_match(&self, text: &str) -> Option<usize> {
        match self {
            Self::Set(set) => set.matches(text).iter().next(),
            Self::Each(each) => each.iter().position(|regex| regex.is_match(text)),
        }
    }
}

impl PolicyGuardrails {
    /// Compiles `policy`'s guardrails.
    pub fn new(policy: &Policy) -> Self {
        let guardrails = &policy.guardrails;
        Self {
            deny: DenyPatterns::new(&guardrails.deny_patterns),
            messages: guardrails
                .deny_patterns
                .iter()
                .map(|(_, message)| Arc::from(message.as_str()))
                .collect(),
            redactor: Redactor::new(&guardrails.pii_redaction),
        }
    }

    fn is_active(&self) -> bool {
        self.deny.is_some() || self.redactor.is_active()
    }

    /// The message of the first deny pattern `text` matches.
    fn denied(&self, text: &str) -> Option<&Arc<str>> {
        let index = self.deny.as_ref()?.first_match(text)?;
        self.messages.get(index)
    }
}

/// Applies the guardrails of every policy of `route` to `request`: refuses it if any deny
/// pattern matches any piece of prompt text, else redacts the personal data the policies
/// name, in place. A route without guardrails costs one scan of its policy list.
pub fn apply(
    state: &State,
    route: &Route,
    route_label: &str,
    request: &mut ClientRequest,
    metrics: &Metrics,
) -> Result<(), GatewayError> {
    let active = || {
        route
            .policies
            .iter()
            .filter_map(|idx| state.guardrails.get(*idx as usize))
            .filter(|policy| policy.is_active())
    };
    if active().next().is_none() {
        return Ok(());
    }
    request.edit_prompt(|text| {
        if let Some(message) = active().find_map(|policy| policy.denied(text)) {
            metrics.guardrails.denied(route_label);
            return Err(GatewayError::PromptDenied(Arc::clone(message)));
        }
        let mut redacted: Option<String> = None;
        for policy in active() {
            let current = redacted.as_deref().unwrap_or(text);
            let result = policy
                .redactor
                .redact_reporting(current, |kind| metrics.guardrails.redacted(kind));
            if let std::borrow::Cow::Owned(result) = result {
                redacted = Some(result);
            }
        }
        Ok(redacted)
    })?;
    Ok(())
}
