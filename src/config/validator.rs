//! The toolkit every section's validation uses: [`Validator`], which names the file and the
//! key in every error, reads objects with their retention keys apart, and collects warnings;
//! [`Sourced`] for a value set by a key or an environment variable; and small helpers.

use std::fmt;

use super::ConfigError;
use super::retention;
use crate::secret::{Secret, SecretRef};

/// Checks the values read from one file and builds the typed configuration from them; its
/// methods are spread over the files of this module, one per concern.
pub(super) struct Validator<'a> {
    /// The file, as messages name it.
    pub file: String,
    /// Looks up environment variables.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// What is legal but probably a mistake, for the log.
    pub warnings: std::cell::RefCell<Vec<String>>,
    /// The secret-valued keys whose value is written in the file (not a reference).
    pub written_secrets: std::cell::RefCell<Vec<String>>,
}

/// A value and where it came from, for messages.
pub(super) struct Sourced {
    pub value: String,
    pub from: String,
}

impl Validator<'_> {
    pub(super) fn err(&self, key: &str, problem: impl fmt::Display) -> ConfigError {
        ConfigError(format!("{}: key \"{key}\": {problem}", self.file))
    }

    /// An error at the key `inner` (serde's path, `.` for the object itself) of the object at
    /// `path` (`""` for the top level).
    pub(super) fn at(&self, path: &str, inner: &str, problem: impl fmt::Display) -> ConfigError {
        let key = match (path.is_empty(), inner == ".") {
            (true, true) => return ConfigError(format!("{}: {problem}", self.file)),
            (true, false) => inner.to_string(),
            (false, true) => path.to_string(),
            (false, false) => format!("{path}.{inner}"),
        };
        self.err(&key, problem)
    }

    pub(super) fn env_err(name: &str, problem: impl fmt::Display) -> ConfigError {
        ConfigError(format!("environment variable {name}: {problem}"))
    }

    /// The key's value if set and non-empty, else the environment variable's.
    pub(super) fn key_or_env(
        &self,
        key: &str,
        value: Option<String>,
        var: &str,
    ) -> Option<Sourced> {
        if let Some(value) = non_empty(value) {
            return Some(Sourced {
                value,
                from: format!("{}: key \"{key}\"", self.file),
            });
        }
        non_empty((self.env)(var)).map(|value| Sourced {
            value,
            from: format!("environment variable {var}"),
        })
    }

    /// Reads one object (`path` is `""` for the top level): its retention keys, then the rest
    /// as `T`. Errors name the key by its full path.
    pub(super) fn object<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        value: serde_json::Value,
    ) -> Result<(T, retention::RawRetention), ConfigError> {
        let serde_json::Value::Object(mut object) = value else {
            return Err(if path.is_empty() {
                ConfigError(format!("{}: expected a JSON object", self.file))
            } else {
                self.err(path, "must be an object")
            });
        };
        let retention_keys = retention::take_retention_keys(&mut object);
        let retention = serde_path_to_error::deserialize(serde_json::Value::Object(retention_keys))
            .map_err(|e| self.at(path, &e.path().to_string(), e.into_inner()))?;
        let parsed = serde_path_to_error::deserialize(serde_json::Value::Object(object))
            .map_err(|e| self.at(path, &e.path().to_string(), e.into_inner()))?;
        Ok((parsed, retention))
    }

    pub(super) fn warn(&self, warning: String) {
        self.warnings.borrow_mut().push(warning);
    }

    /// A secret-valued key: `None` when unset or empty; else the value or the `file://` or
    /// `env://` reference (parsed only: whether it can be read is [`super::probe`]'s to say).
    /// A value written in the file is remembered for the warning about the file's permissions.
    pub(super) fn secret(
        &self,
        key: &str,
        value: Option<Secret>,
    ) -> Result<Option<SecretRef>, ConfigError> {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let secret = SecretRef::parse(key, value).map_err(|e| self.err(key, e))?;
        if !secret.is_reference() {
            self.written_secrets.borrow_mut().push(key.to_string());
        }
        Ok(Some(secret))
    }
}

pub(super) fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// Go's `strconv.ParseBool`.
pub(super) fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}
