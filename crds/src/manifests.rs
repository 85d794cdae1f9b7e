//! Standalone mode: a file or folder of the same YAML manifests an admin would `kubectl apply`,
//! read into compiler [`Inputs`] with the API server's admission checks, so a folder and a
//! cluster mean exactly the same thing.
//!
//! A document that does not parse, has an unknown kind, or breaks the schema or a CEL rule is
//! reported with its file and position and left out, as the API server would refuse it; the
//! other documents still load.
//!
//! For local use, a Secret's `stringData` value may be `${env:NAME}`, replaced by the
//! environment variable `NAME` (an unset variable is an error for that document).

mod schema;

use std::{
    collections::HashSet,
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
};

use k8s_openapi::api::core::v1::Secret;
use serde::Deserialize;
use serde_json::Value;

use crate::{
    AIPolicy,
    compile::{Inputs, SecretData},
};

/// The namespace of a document that names none, as with `kubectl apply`.
pub const DEFAULT_NAMESPACE: &str = "default";

/// What a load produced: the inputs that were valid, and what was wrong with the rest.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every valid object.
    pub inputs: Inputs,
    /// Every refused document.
    pub errors: Vec<DocumentError>,
}

/// A document that was refused, and where it is.
#[derive(Debug, thiserror::Error)]
#[error("{}: document {document}{}: {error}", file.display(), object.as_ref().map(|o| format!(" ({o})")).unwrap_or_default())]
pub struct DocumentError {
    /// The file.
    pub file: PathBuf,
    /// 1-based position of the document in the file.
    pub document: usize,
    /// `Kind namespace/name`, when the document got that far.
    pub object: Option<String>,
    /// What is wrong.
    #[source]
    pub error: DocumentErrorKind,
}

/// What can be wrong with one document.
#[derive(Debug, thiserror::Error)]
pub enum DocumentErrorKind {
    /// The YAML does not parse (the rest of the file cannot be read either).
    #[error("YAML does not parse: {0}")]
    Yaml(#[source] serde_norway::Error),
    /// A required field is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// Not a Switchyard resource or a v1 Secret.
    #[error(
        "unsupported kind {kind:?} in {api_version:?}; expected switchyard.dev/v1alpha1 AIModel, AIRoute or AIPolicy, or a v1 Secret"
    )]
    UnknownKind {
        /// `apiVersion` as written.
        api_version: String,
        /// `kind` as written.
        kind: String,
    },
    /// The object breaks the CRD schema or a CEL rule; one line per violation.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// The object does not have the expected shape.
    #[error("{0}")]
    Shape(#[source] serde_path_to_error::Error<serde_json::Error>),
    /// An `${env:NAME}` reference names an unset variable.
    #[error("stringData.{key} refers to environment variable {var}, which is not set")]
    EnvNotSet {
        /// The Secret key.
        key: String,
        /// The variable.
        var: String,
    },
    /// The same object appears twice.
    #[error("defined again; the first definition is kept")]
    Duplicate,
}

/// Why nothing could be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or folder could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Loads a manifest file, or every `*.yaml`/`*.yml` file under a folder (recursively, in path
/// order), resolving `${env:NAME}` from the process environment.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    load_with_env(path, &|var| std::env::var(var).ok())
}

/// [`load`] with an explicit environment lookup.
pub fn load_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, LoadError> {
    let mut files = Vec::new();
    collect_files(path, &mut files)?;
    files.sort();
    let mut loader = Loader::new(env);
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| LoadError::Io {
            path: file.clone(),
            source,
        })?;
        loader.add_text(&text, &file);
    }
    Ok(loader.finish())
}

/// Loads manifests from text; `file` only labels errors.
pub fn load_str(text: &str, file: &Path, env: &dyn Fn(&str) -> Option<String>) -> Loaded {
    let mut loader = Loader::new(env);
    loader.add_text(text, file);
    loader.finish()
}

/// The files a load reads: `path` itself, or every YAML file below it.
pub fn manifest_files(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    collect_files(path, &mut files)?;
    files.sort();
    Ok(files)
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    if !std::fs::metadata(path).map_err(io)?.is_dir() {
        out.push(path.to_owned());
        return Ok(());
    }
    for entry in std::fs::read_dir(path).map_err(io)? {
        let child = entry.map_err(io)?.path();
        let yaml = child.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if child.is_dir() {
            collect_files(&child, out)?;
        } else if yaml {
            out.push(child);
        }
    }
    Ok(())
}

/// Accumulates documents from several files into one set of inputs.
struct Loader<'e> {
    env: &'e dyn Fn(&str) -> Option<String>,
    schemas: schema::Schemas,
    seen: HashSet<(String, String, String)>,
    loaded: Loaded,
}

/// Identity of a document's object, for messages and duplicate detection.
struct Identity {
    kind: String,
    namespace: String,
    name: String,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

impl<'e> Loader<'e> {
    fn new(env: &'e dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            env,
            schemas: schema::Schemas::new(),
            seen: HashSet::new(),
            loaded: Loaded::default(),
        }
    }

    fn add_text(&mut self, text: &str, file: &Path) {
        for (i, document) in serde_norway::Deserializer::from_str(text).enumerate() {
            let position = i + 1;
            let fail = |object: Option<String>, error| DocumentError {
                file: file.to_owned(),
                document: position,
                object,
                error,
            };
            let value = match Value::deserialize(document) {
                Ok(Value::Null) => continue, // an empty document, such as a trailing `---`
                Ok(value) => value,
                Err(error) => {
                    self.loaded
                        .errors
                        .push(fail(None, DocumentErrorKind::Yaml(error)));
                    break; // the parser cannot recover past a syntax error
                }
            };
            if let Err((object, error)) = self.add_value(value) {
                self.loaded.errors.push(fail(object, error));
            }
        }
    }

    fn add_value(&mut self, mut value: Value) -> Result<(), (Option<String>, DocumentErrorKind)> {
        let id = identify(&mut value).map_err(|e| (None, e))?;
        let label = Some(id.to_string());
        let with_label = |error| (label.clone(), error);
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match (api_version.as_str(), id.kind.as_str()) {
            ("v1", "Secret") => {
                let secret = self.secret(value).map_err(with_label)?;
                self.claim(&id).map_err(with_label)?;
                self.loaded.inputs.secrets.push(secret);
            }
            (crate::GROUP_VERSION, "AIModel" | "AIRoute" | "AIPolicy") => {
                strip_nulls(&mut value);
                self.schemas
                    .check(&id.kind, &value)
                    .map_err(|e| with_label(DocumentErrorKind::Invalid(e)))?;
                self.claim(&id).map_err(with_label)?;
                let inputs = &mut self.loaded.inputs;
                match id.kind.as_str() {
                    "AIModel" => inputs
                        .models
                        .push(Arc::new(typed(value).map_err(with_label)?)),
                    "AIRoute" => inputs
                        .routes
                        .push(Arc::new(typed(value).map_err(with_label)?)),
                    _ => inputs
                        .policies
                        .push(Arc::new(typed::<AIPolicy>(value).map_err(with_label)?)),
                }
            }
            _ => {
                return Err(with_label(DocumentErrorKind::UnknownKind {
                    api_version,
                    kind: id.kind,
                }));
            }
        }
        Ok(())
    }

    /// Records an object's identity; a second definition is an error.
    fn claim(&mut self, id: &Identity) -> Result<(), DocumentErrorKind> {
        let key = (id.kind.clone(), id.namespace.clone(), id.name.clone());
        if self.seen.insert(key) {
            Ok(())
        } else {
            Err(DocumentErrorKind::Duplicate)
        }
    }

    fn secret(&self, value: Value) -> Result<SecretData, DocumentErrorKind> {
        let mut secret: Secret = typed(value)?;
        for (key, text) in secret.string_data.iter_mut().flatten() {
            if let Some(var) = text
                .strip_prefix("${env:")
                .and_then(|rest| rest.strip_suffix('}'))
            {
                *text = (self.env)(var).ok_or_else(|| DocumentErrorKind::EnvNotSet {
                    key: key.clone(),
                    var: var.to_owned(),
                })?;
            }
        }
        Ok(SecretData::from(&secret))
    }

    fn finish(self) -> Loaded {
        self.loaded
    }
}

/// Reads kind, namespace (defaulting it in the value) and name.
fn identify(value: &mut Value) -> Result<Identity, DocumentErrorKind> {
    let text = |v: &Value, field| v.get(field).and_then(Value::as_str).map(str::to_owned);
    let kind = text(value, "kind").ok_or(DocumentErrorKind::Missing("kind"))?;
    text(value, "apiVersion").ok_or(DocumentErrorKind::Missing("apiVersion"))?;
    let metadata = value
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .ok_or(DocumentErrorKind::Missing("metadata"))?;
    let name = metadata
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(DocumentErrorKind::Missing("metadata.name"))?;
    let namespace = match metadata.get("namespace").and_then(Value::as_str) {
        Some(ns) => ns.to_owned(),
        None => {
            metadata.insert("namespace".to_owned(), Value::from(DEFAULT_NAMESPACE));
            DEFAULT_NAMESPACE.to_owned()
        }
    };
    Ok(Identity {
        kind,
        namespace,
        name,
    })
}

/// Drops `null` fields, as the API server prunes them before validation.
fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, DocumentErrorKind> {
    serde_path_to_error::deserialize(value).map_err(DocumentErrorKind::Shape)
}
