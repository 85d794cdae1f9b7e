//! A JSON object kept as raw top-level fields, so a passthrough edits only the fields it
//! changes (`model`, injected params) and copies every other value byte for byte.

use std::{fmt, sync::Arc};

use bytes::Bytes;
use serde::Serialize;
use serde::de::{Deserialize, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::RequestError;

/// The top-level fields of a JSON object in their original order; a repeated name keeps its
/// last value, as `serde_json` does. Names and values are shared, so each attempt's copy (one
/// per backend tried) costs reference counts, not a copy of the prompt.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fields(Vec<(Arc<str>, Arc<RawValue>)>);

impl Fields {
    /// Parses a JSON object.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, RequestError> {
        serde_json::from_slice(body).map_err(RequestError::InvalidJson)
    }

    /// The raw value of a field.
    pub(crate) fn get(&self, name: &str) -> Option<&RawValue> {
        self.0
            .iter()
            .find(|(key, _)| &**key == name)
            .map(|(_, value)| &**value)
    }

    /// Whether a field is present with a value other than `null`.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.get(name).is_some_and(|value| value.get() != "null")
    }

    /// Decodes a field; absent and `null` are `None`.
    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, RequestError> {
        match self.get(name) {
            None => Ok(None),
            Some(raw) if raw.get() == "null" => Ok(None),
            Some(raw) => serde_json::from_str(raw.get()).map(Some).map_err(|error| {
                RequestError::InvalidField {
                    field: name.to_owned(),
                    reason: error.to_string(),
                }
            }),
        }
    }

    /// Sets a field to a raw value, in place if present, else at the end.
    pub(crate) fn set_raw(&mut self, name: &str, value: Box<RawValue>) {
        let value = Arc::from(value);
        match self.0.iter_mut().find(|(key, _)| &**key == name) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((Arc::from(name), value)),
        }
    }

    /// Sets a field to a serialized value.
    pub(crate) fn set<T: Serialize + ?Sized>(
        &mut self,
        name: &str,
        value: &T,
    ) -> Result<(), RequestError> {
        let raw = serde_json::value::to_raw_value(value).map_err(RequestError::InvalidJson)?;
        self.set_raw(name, raw);
        Ok(())
    }

    /// Refuses the first field not in `known`: a translation must not silently drop what the
    /// caller sent.
    pub(crate) fn refuse_unknown(
        &self,
        known: &[&str],
        provider: switchyard_crds::Provider,
    ) -> Result<(), RequestError> {
        match self.names().find(|name| !known.contains(name)) {
            Some(name) => Err(crate::hub::unsupported(
                provider,
                format!("accept the `{name}` field"),
            )),
            None => Ok(()),
        }
    }

    /// The fields as name and raw value, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.0.iter().map(|(key, value)| (&**key, &**value))
    }

    /// The field names, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(key, _)| &**key)
    }

    /// The object's JSON bytes.
    pub(crate) fn to_bytes(&self) -> Bytes {
        let capacity = self
            .0
            .iter()
            .map(|(key, value)| key.len() + value.get().len() + 4)
            .sum::<usize>();
        let mut out = Vec::with_capacity(capacity + 2);
        out.push(b'{');
        for (index, (key, value)) in self.0.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            write_key(&mut out, key);
            out.push(b':');
            out.extend_from_slice(value.get().as_bytes());
        }
        out.push(b'}');
        Bytes::from(out)
    }
}

/// Writes a JSON string; a `String` always serializes, so the fallback is never taken.
fn write_key(out: &mut Vec<u8>, key: &str) {
    if serde_json::to_writer(&mut *out, key).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut fields = Fields(Vec::with_capacity(map.size_hint().unwrap_or(8)));
        while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
            fields.set_raw(&key, value);
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_fields_keep_their_bytes_and_order() {
        let body = br#"{"z": 1.50, "model":"a", "messages":[ {"role":"user"} ]}"#;
        let mut fields = Fields::parse(body).unwrap();
        fields.set("model", "b").unwrap();
        fields.set("extra", &true).unwrap();
        assert_eq!(
            fields.to_bytes(),
            &br#"{"z":1.50,"model":"b","messages":[ {"role":"user"} ],"extra":true}"#[..]
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_is_invalid_json() {
        assert!(Fields::parse(b"[1]").is_err());
        assert!(Fields::parse(b"{").is_err());
    }
}
