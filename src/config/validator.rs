//! The toolkit every section's validation uses: [`Validator`], which names the file and the
//! key in every error and collects warnings (reading an object with its retention keys apart
//! is `retention.rs`'s part of it);
//! [`Sourced`] for a value set by a key or an environment variable; and small helpers.

use std::fmt;

use super::ConfigError;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_validator<R>(env: &[(&str, &str)], test: impl FnOnce(&Validator<'_>) -> R) -> R {
        let lookup = |name: &str| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_string())
        };
        test(&Validator {
            file: "/etc/snapshot.json".into(),
            env: &lookup,
            warnings: std::cell::RefCell::default(),
            written_secrets: std::cell::RefCell::default(),
        })
    }

    #[test]
    fn booleans_parse_as_go_parses_them() {
        for (text, expected) in [
            ("1", Some(true)),
            ("t", Some(true)),
            ("T", Some(true)),
            ("TRUE", Some(true)),
            ("true", Some(true)),
            ("True", Some(true)),
            ("0", Some(false)),
            ("f", Some(false)),
            ("F", Some(false)),
            ("FALSE", Some(false)),
            ("false", Some(false)),
            ("False", Some(false)),
            ("yes", None),
            ("tRUE", None),
            (" true", None),
            ("", None),
        ] {
            assert_eq!(parse_go_bool(text), expected, "row {text:?}");
        }
    }

    #[test]
    fn errors_name_the_file_and_the_full_key() {
        with_validator(&[], |v| {
            for (path, inner, expected) in [
                ("", ".", "/etc/snapshot.json: oops"),
                (
                    "",
                    "frequency",
                    "/etc/snapshot.json: key \"frequency\": oops",
                ),
                (
                    "aws_storage[1]",
                    ".",
                    "/etc/snapshot.json: key \"aws_storage[1]\": oops",
                ),
                (
                    "aws_storage[1]",
                    "s3_region",
                    "/etc/snapshot.json: key \"aws_storage[1].s3_region\": oops",
                ),
            ] {
                assert_eq!(
                    v.at(path, inner, "oops").to_string(),
                    expected,
                    "row {path:?} {inner:?}"
                );
            }
            assert_eq!(
                Validator::env_err("TMPDIR", "oops").to_string(),
                "environment variable TMPDIR: oops"
            );
        });
    }

    #[test]
    fn a_key_wins_over_its_variable_and_empty_is_unset() {
        for (value, env, expected) in [
            (
                Some("k"),
                &[("VAR", "e")][..],
                Some(("k", "/etc/snapshot.json: key \"key\"")),
            ),
            (
                Some(""),
                &[("VAR", "e")],
                Some(("e", "environment variable VAR")),
            ),
            (
                None,
                &[("VAR", "e")],
                Some(("e", "environment variable VAR")),
            ),
            (None, &[("VAR", "")], None),
            (None, &[], None),
        ] {
            with_validator(env, |v| {
                let got = v.key_or_env("key", value.map(str::to_string), "VAR");
                let got = got.as_ref().map(|s| (s.value.as_str(), s.from.as_str()));
                assert_eq!(got, expected, "row {value:?} {env:?}");
            });
        }
    }

    #[test]
    fn a_secret_is_parsed_and_a_written_one_remembered_but_none_is_read() {
        for (value, expected, written) in [
            (None, Ok(None), false),
            (Some(""), Ok(None), false),
            (Some("s3cr3t"), Ok(Some(false)), true),
            (Some("file:///nonexistent/secret"), Ok(Some(true)), false),
            (Some("env://UNSET_VARIABLE"), Ok(Some(true)), false),
            (
                Some("file://"),
                Err("key \"secret_id\": \"file://\" names no file"),
                false,
            ),
            (
                Some("env://"),
                Err("key \"secret_id\": \"env://\" names no"),
                false,
            ),
        ] {
            with_validator(&[], |v| {
                let got = v
                    .secret("secret_id", value.map(Secret::new))
                    .map(|s| s.map(|s| s.is_reference()))
                    .map_err(|e| e.to_string());
                match (&got, expected) {
                    (Err(error), Err(text)) => {
                        assert!(error.contains(text), "row {value:?}: {error}")
                    }
                    _ => assert_eq!(got, expected.map_err(str::to_string), "row {value:?}"),
                }
                let remembered = v.written_secrets.take();
                assert_eq!(
                    !remembered.is_empty(),
                    written,
                    "row {value:?}: {remembered:?}"
                );
            });
        }
    }
}
