//! Status conditions in the Gateway API style: `Accepted`, `ResolvedRefs`, `Programmed`.
//!
//! Types and reasons are enums so the compiler, the operator and tests agree on spelling; the
//! status itself stores them as strings, as `metav1.Condition` does.

use std::fmt;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The status every Switchyard resource reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStatus {
    /// Current conditions: `Accepted` (the spec is valid), `ResolvedRefs` (every reference and
    /// Secret exists) and `Programmed` (every connected proxy serves a snapshot that contains
    /// this generation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// How many connected proxies serve this generation, and how many are connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxies: Option<ProxyCounts>,
}

/// Fleet counts for one object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProxyCounts {
    /// Connected proxies serving a snapshot that contains this generation.
    pub synced: u32,
    /// Connected proxies.
    pub total: u32,
}

/// One observation about the object, shaped like `metav1.Condition`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type of the condition: `Accepted`, `ResolvedRefs` or `Programmed`.
    #[schemars(length(min = 1, max = 316))]
    pub r#type: String,
    /// `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// The `.metadata.generation` this condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the status last changed (RFC 3339).
    #[schemars(length(max = 64))]
    pub last_transition_time: String,
    /// Machine-readable reason in CamelCase.
    #[schemars(length(min = 1, max = 1024))]
    pub reason: String,
    /// Human-readable explanation.
    #[serde(default)]
    #[schemars(length(max = 32768))]
    pub message: String,
}

/// The status of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not known yet.
    Unknown,
}

/// The condition types Switchyard sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConditionType {
    /// The spec is valid and was taken into the snapshot.
    Accepted,
    /// Every object and Secret the spec names exists and has what it needs.
    ResolvedRefs,
    /// Every connected proxy serves a snapshot that contains this generation.
    Programmed,
}

impl ConditionType {
    /// The name written into `status.conditions[].type`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "Accepted",
            Self::ResolvedRefs => "ResolvedRefs",
            Self::Programmed => "Programmed",
        }
    }
}

impl fmt::Display for ConditionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
