//! Reading YAML files by hand so that every error is reported at once, each with its
//! location (`backend.endpoint`, `users[2].access_keys[0].secret_file`).

use serde_yaml::{Mapping, Value};
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileIssue {
    pub file: PathBuf,
    /// Where in the file (a YAML or JSON path); empty for the whole file.
    pub location: String,
    pub message: String,
}

impl fmt::Display for FileIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}: {}: {}",
                self.file.display(),
                self.location,
                self.message
            )
        }
    }
}

/// Collects issues while reading one YAML document.
pub struct Reader<'f> {
    pub file: &'f Path,
    pub issues: Vec<FileIssue>,
}

pub fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Read a YAML file and build a value from it with `parse`; every issue found, or
/// the value when there is none. `what` names the file in a read error.
pub fn load_file<T>(
    file: &Path,
    what: &str,
    parse: impl FnOnce(&mut Reader<'_>, &Value) -> Option<T>,
) -> Result<T, Vec<FileIssue>> {
    let mut r = Reader::new(file);
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            r.error("", format!("cannot read {what}: {e}"));
            return Err(r.issues);
        }
    };
    let value = r.parse(&text).and_then(|v| parse(&mut r, &v));
    match value {
        Some(v) if r.issues.is_empty() => Ok(v),
        _ => Err(r.issues),
    }
}

impl<'f> Reader<'f> {
    pub fn new(file: &'f Path) -> Reader<'f> {
        Reader {
            file,
            issues: Vec::new(),
        }
    }

    /// Parse text as YAML; a syntax error is the only issue reported.
    pub fn parse(&mut self, text: &str) -> Option<Value> {
        match serde_yaml::from_str::<Value>(text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error("", format!("invalid YAML: {e}"));
                None
            }
        }
    }

    pub fn error(&mut self, location: &str, message: impl Into<String>) {
        self.issues.push(FileIssue {
            file: self.file.to_owned(),
            location: location.to_owned(),
            message: message.into(),
        });
    }

    /// A mapping whose keys must all be in `allowed`; unknown keys are errors.
    pub fn object<'v>(
        &mut self,
        path: &str,
        value: &'v Value,
        allowed: &[&str],
    ) -> Option<&'v Mapping> {
        let Value::Mapping(map) = value else {
            self.error(path, format!("expected a mapping, not {}", kind(value)));
            return None;
        };
        for k in map.keys() {
            match k.as_str() {
                Some(name) if allowed.contains(&name) => {}
                Some(name) => {
                    let hint = allowed.join(", ");
                    self.error(
                        &child(path, name),
                        format!("unknown key `{name}` (expected one of: {hint})"),
                    );
                }
                None => self.error(path, "keys must be strings"),
            }
        }
        Some(map)
    }

    pub fn string(&mut self, map: &Mapping, path: &str, key: &str) -> Option<String> {
        match map.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => {
                self.error(
                    &child(path, key),
                    format!("expected a string, not {}", kind(other)),
                );
                None
            }
        }
    }

    pub fn required_string(&mut self, map: &Mapping, path: &str, key: &str) -> Option<String> {
        if !map.contains_key(key) {
            self.error(path, format!("missing required key `{key}`"));
            return None;
        }
        let s = self.string(map, path, key)?;
        if s.is_empty() {
            self.error(&child(path, key), "must not be empty");
            return None;
        }
        Some(s)
    }

    pub fn bool(&mut self, map: &Mapping, path: &str, key: &str) -> Option<bool> {
        match map.get(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                self.error(
                    &child(path, key),
                    format!("expected true or false, not {}", kind(other)),
                );
                None
            }
        }
    }

    pub fn u64(&mut self, map: &Mapping, path: &str, key: &str) -> Option<u64> {
        match map.get(key)? {
            Value::Number(n) if n.as_u64().is_some() => n.as_u64(),
            other => {
                self.error(
                    &child(path, key),
                    format!("expected a non-negative integer, not {}", kind(other)),
                );
                None
            }
        }
    }

    /// A sequence of strings (absent means empty).
    pub fn strings(&mut self, map: &Mapping, path: &str, key: &str) -> Vec<String> {
        let p = child(path, key);
        match map.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Sequence(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| match v {
                    Value::String(s) => Some(s.clone()),
                    other => {
                        self.error(
                            &format!("{p}[{i}]"),
                            format!("expected a string, not {}", kind(other)),
                        );
                        None
                    }
                })
                .collect(),
            Some(other) => {
                self.error(
                    &p,
                    format!("expected a list of strings, not {}", kind(other)),
                );
                Vec::new()
            }
        }
    }

    /// A sequence of mappings or other values (absent means empty).
    pub fn sequence<'v>(&mut self, map: &'v Mapping, path: &str, key: &str) -> &'v [Value] {
        match map.get(key) {
            None | Some(Value::Null) => &[],
            Some(Value::Sequence(items)) => items,
            Some(other) => {
                self.error(
                    &child(path, key),
                    format!("expected a list, not {}", kind(other)),
                );
                &[]
            }
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}
