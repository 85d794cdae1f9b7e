//! Scalar field types shared by the three resources: durations and US-dollar amounts.
//!
//! Both are strings on the wire (what an admin writes in YAML) and carry their own CEL rule in
//! the schema, so the API server and the standalone loader reject the same bad values with the
//! same message.

use std::{borrow::Cow, fmt, str::FromStr};

use rust_decimal::Decimal;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// The shape of a Go-style duration (`500ms`, `30s`, `1h30m`), as a CEL string literal.
const DURATION_PATTERN: &str = "'^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$'";
const DURATION_MESSAGE: &str = "must be a positive duration such as 500ms, 30s, 5m or 1h30m";

/// CEL rule that accepts a non-negative decimal with at most 9 digits on each side of the point.
const USD_RULE: &str = "self.matches('^[0-9]{1,9}(\\\\.[0-9]{1,9})?$')";
const USD_MESSAGE: &str =
    "must be a decimal amount of US dollars such as 2.50 (no sign, no exponent)";

/// The longest duration accepted: Go's `time.Duration` holds at most about 2562047.79 hours.
const MAX_HOURS: u64 = 2_562_047;

/// CEL rule that accepts a positive Go-style duration (`500ms`, `30s`, `1h30m`).
///
/// The API server fails to convert a longer duration (and reports that next to the message);
/// kube-cel and `Duration::from_str` would take it, so the upper bound makes all three refuse.
fn duration_rule() -> String {
    format!(
        "self.matches({DURATION_PATTERN}) && duration(self) > duration('0s') \
         && duration(self) <= duration('{MAX_HOURS}h')"
    )
}

/// CEL rule for an object with two optional [`Duration`] fields: `shorter` must not exceed
/// `longer`.
///
/// A value that is not a duration at all lets this rule pass, so it is reported once, by its own
/// field's rule. Without that guard `duration()` fails on it, and both the API server and kube-cel
/// would report a second, unreadable evaluation error for the enclosing object.
pub(crate) fn durations_in_order(shorter: &str, longer: &str) -> String {
    format!(
        "!has(self.{shorter}) || !has(self.{longer}) \
         || !self.{shorter}.matches({DURATION_PATTERN}) || !self.{longer}.matches({DURATION_PATTERN}) \
         || duration(self.{shorter}) <= duration(self.{longer})"
    )
}

/// A positive duration written the Kubernetes way (`metav1.Duration`): `500ms`, `30s`, `1h30m`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Duration(std::time::Duration);

impl Duration {
    /// A duration of whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// A duration of whole milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Self(std::time::Duration::from_millis(millis))
    }

    /// The duration as a standard library value.
    pub const fn get(self) -> std::time::Duration {
        self.0
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&kube::core::Duration::from(self.0), f)
    }
}

/// Why a duration string was refused.
#[derive(Debug, thiserror::Error)]
pub enum DurationError {
    /// The text is not digits and a unit, repeated: it has a sign, a space or an unknown unit.
    #[error("{DURATION_MESSAGE}")]
    Shape,
    /// The text is not a Go-style duration.
    #[error("{DURATION_MESSAGE}")]
    Syntax(#[source] kube::core::duration::ParseError),
    /// The duration is zero or negative.
    #[error("{DURATION_MESSAGE}")]
    NotPositive,
    /// The duration is longer than Go's `time.Duration` (and so the API server) can hold.
    #[error("{DURATION_MESSAGE}")]
    TooLong,
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if !has_duration_shape(text) {
            return Err(DurationError::Shape);
        }
        let parsed: kube::core::Duration = text.parse().map_err(DurationError::Syntax)?;
        if parsed.is_negative() || std::time::Duration::from(parsed).is_zero() {
            return Err(DurationError::NotPositive);
        }
        let parsed = std::time::Duration::from(parsed);
        if parsed > std::time::Duration::from_secs(MAX_HOURS * 3600) {
            return Err(DurationError::TooLong);
        }
        Ok(Self(parsed))
    }
}

/// Whether `text` is digits, an optional fraction and a unit, one or more times: exactly what
/// the CEL rule's pattern accepts. Go and kube also take a leading sign and `µs`; the API server
/// refuses those, so the standalone loader does too.
fn has_duration_shape(text: &str) -> bool {
    const UNITS: [&str; 6] = ["ns", "us", "ms", "s", "m", "h"];
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let mut rest = text;
    while !rest.is_empty() {
        let whole = digits(rest);
        if whole == 0 {
            return false;
        }
        rest = &rest[whole..];
        if let Some(tail) = rest.strip_prefix('.') {
            let fraction = digits(tail);
            if fraction == 0 {
                return false;
            }
            rest = &tail[fraction..];
        }
        let Some(unit) = UNITS.iter().find(|unit| rest.starts_with(**unit)) else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    !text.is_empty()
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "maxLength": 32,
            "x-kubernetes-validations": [{ "rule": duration_rule(), "message": DURATION_MESSAGE }],
        })
    }
}

/// An amount of US dollars, written as a decimal string (`"2.50"`) so no precision is lost.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Usd(Decimal);

impl Usd {
    /// The amount as a decimal.
    pub const fn get(self) -> Decimal {
        self.0
    }
}

impl fmt::Debug for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.0)
    }
}

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why a US-dollar amount was refused.
#[derive(Debug, thiserror::Error)]
#[error("{USD_MESSAGE}")]
pub struct UsdError;

impl FromStr for Usd {
    type Err = UsdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
        let digits =
            |part: &str| (1..=9).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !digits(fraction) {
            return Err(UsdError);
        }
        Decimal::from_str_exact(text)
            .map(Self)
            .map_err(|_| UsdError)
    }
}

impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Usd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

impl JsonSchema for Usd {
    fn schema_name() -> Cow<'static, str> {
        "Usd".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "maxLength": 19,
            "x-kubernetes-validations": [{ "rule": USD_RULE, "message": USD_MESSAGE }],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_the_kubernetes_way_and_print_back() {
        let d: Duration = "1h30m".parse().unwrap();
        assert_eq!(d.get(), std::time::Duration::from_secs(5400));
        assert_eq!("500ms".parse::<Duration>().unwrap().get().as_millis(), 500);
        assert_eq!(
            serde_json::to_string(&Duration::from_secs(30)).unwrap(),
            "\"30s\""
        );
    }

    #[test]
    fn zero_negative_and_unitless_durations_are_refused() {
        for bad in [
            "0s", "-5s", "+5s", "5µs", "30", "", "5 s", "soon", "2562048h",
        ] {
            assert!(bad.parse::<Duration>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn usd_amounts_keep_every_digit() {
        let price: Usd = "0.000000015".parse().unwrap();
        assert_eq!(price.to_string(), "0.000000015");
        assert_eq!(serde_json::to_string(&price).unwrap(), "\"0.000000015\"");
    }

    #[test]
    fn signed_exponent_and_empty_usd_amounts_are_refused() {
        for bad in ["-1", "+1", "1e3", "", ".5", "5.", "1,5", "1234567890"] {
            assert!(bad.parse::<Usd>().is_err(), "{bad:?} was accepted");
        }
    }
}
