//! A string that must never be printed: Vault tokens, AppRole `secret_id`s, JWTs, keys.
//!
//! `Debug` and `Display` both render `<redacted>`, so a secret that reaches a log line or an
//! error message by accident shows nothing. The only way to the value is [`Secret::expose`],
//! which is called where the value goes on the wire.
//!
//! A secret-valued config key holds a [`SecretRef`]: the secret itself, or a reference to
//! where it is kept, `file:///path` (a mounted Kubernetes Secret) or `env://NAME`, read again
//! at every use so a rotated Secret is picked up without a restart.

use std::fmt;
use std::path::PathBuf;

/// A redacted string.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the request that needs it. Never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True if the secret is the empty string.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a secret-valued key's value comes from.
#[derive(Clone, PartialEq, Eq)]
enum Source {
    /// Written in the config file (or taken from a variable the agent reads itself).
    Value(Secret),
    /// `file:///path`: the file's contents, a trailing newline trimmed.
    File(PathBuf),
    /// `env://NAME`: the environment variable's value.
    Env(String),
}

/// A secret-valued config key: its name (for messages) and where its value comes from.
/// `Display` and `Debug` show a reference as written (`file:///run/secrets/key`,
/// `env://NAME`) and a value as `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretRef {
    key: String,
    source: Source,
}

/// The longest secret file read (a token, key or JWT is a few KiB at most).
const MAX_SECRET_FILE: u64 = 64 * 1024;

impl SecretRef {
    /// The value written for `key`: `file://PATH` and `env://NAME` are references, anything
    /// else is the secret itself.
    ///
    /// # Errors
    /// A reference with nothing after the scheme, a `file://` path that is not absolute
    /// (under systemd the working directory is `/`), and a value that starts like a URL with
    /// another scheme (`FILE://`, `vault://`): a mistyped reference, not a secret. No message
    /// shows the value.
    pub fn parse(key: impl Into<String>, value: Secret) -> Result<Self, String> {
        let text = value.expose();
        let source = if let Some(path) = text.strip_prefix("file://") {
            if path.is_empty() {
                return Err("\"file://\" names no file (write file:///path/to/file)".into());
            }
            if !path.starts_with('/') {
                return Err(format!(
                    "\"file://{path}\" is not an absolute path (write file:///path/to/file; \
                     a relative path would depend on the working directory, / under systemd)"
                ));
            }
            Source::File(PathBuf::from(path))
        } else if let Some(name) = text.strip_prefix("env://") {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(format!(
                    "\"env://{name}\" names no environment variable (write env://NAME)"
                ));
            }
            Source::Env(name.to_string())
        } else if let Some(scheme) = scheme_of(text) {
            let hint = if ["file", "env"]
                .iter()
                .any(|s| scheme.eq_ignore_ascii_case(s))
            {
                "write the scheme in lowercase: file:///path or env://NAME"
            } else {
                "the schemes understood are file:///path and env://NAME"
            };
            return Err(format!(
                "the value looks like a reference with an unknown scheme ({hint}); \
                 the value is not shown"
            ));
        } else {
            Source::Value(value)
        };
        Ok(Self {
            key: key.into(),
            source,
        })
    }

    /// A value the agent was given directly (`key` names where it came from).
    #[must_use]
    pub fn value(key: impl Into<String>, value: Secret) -> Self {
        Self {
            key: key.into(),
            source: Source::Value(value),
        }
    }

    /// The key it was written under, e.g. `aws_storage[0].secret_access_key`.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// True for `file://` and `env://`: read again at every use.
    #[must_use]
    pub fn is_reference(&self) -> bool {
        !matches!(self.source, Source::Value(_))
    }

    /// The secret, read now; `env` looks up environment variables.
    ///
    /// # Errors
    /// What went wrong, naming the reference, never a value: a file that cannot be read or is
    /// empty, a variable that is not set or is empty.
    pub fn read_with(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Secret, String> {
        let value = match &self.source {
            Source::Value(secret) => return Ok(secret.clone()),
            Source::File(path) => read_secret_file(path).map_err(|e| format!("{self}: {e}"))?,
            Source::Env(name) => env(name)
                .ok_or_else(|| format!("{self}: the environment variable {name} is not set"))?,
        };
        if value.is_empty() {
            return Err(format!("{self}: is empty"));
        }
        Ok(Secret(value))
    }

    /// The secret, read now from the file or this process's environment.
    ///
    /// # Errors
    /// As [`SecretRef::read_with`], with the key named: `key "role_id": file:///x: ...`.
    pub fn read(&self) -> anyhow::Result<Secret> {
        self.read_with(&|name| std::env::var(name).ok())
            .map_err(|e| anyhow::anyhow!("key \"{}\": {e}", self.key))
    }
}

/// The scheme of a value that starts like a URL (`letters://`), if it does.
fn scheme_of(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let starts = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    (starts && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .then_some(scheme)
}

/// The file's contents without the trailing newline (`\n` or `\r\n`) that `echo` and
/// editors add.
fn read_secret_file(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut text = String::new();
    file.take(MAX_SECRET_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read: {e}"))?;
    if text.len() as u64 > MAX_SECRET_FILE {
        return Err(format!("is larger than {MAX_SECRET_FILE} bytes"));
    }
    let trimmed = text.strip_suffix('\n').unwrap_or(&text);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    Ok(trimmed.to_string())
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Value(_) => f.write_str("<redacted>"),
            Source::File(path) => write!(f, "file://{}", path.display()),
            Source::Env(name) => write!(f, "env://{name}"),
        }
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretVisitor)
    }
}

/// Reads a string. For anything else it says what kind of value it got but never the value:
/// serde's own message quotes it (``invalid type: integer `12345` ``), and a mistyped secret
/// is still a secret.
struct SecretVisitor;

impl SecretVisitor {
    fn refuse<E: serde::de::Error>(kind: &str) -> Result<Secret, E> {
        Err(E::custom(format!(
            "expected a string, not {kind} (the value is not shown)"
        )))
    }
}

impl<'de> serde::de::Visitor<'de> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E>(self, v: &str) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }
    fn visit_string<E>(self, v: String) -> Result<Secret, E> {
        Ok(Secret(v))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Secret, E> {
        Self::refuse("a boolean")
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Secret, E> {
        Self::refuse("a number")
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Secret, E> {
        Self::refuse("a number")
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Secret, E> {
        Self::refuse("a number")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Secret, E> {
        Self::refuse("null")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
        Self::refuse("a list")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
        Self::refuse("an object")
    }
}

#[cfg(test)]
mod tests {
    use super::{Secret, SecretRef};

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_plain_value_is_the_secret_and_is_never_shown() {
        let value = SecretRef::parse("secret_id", Secret::new("s3cr3t")).unwrap();
        assert!(!value.is_reference());
        assert_eq!(value.read_with(&no_env).unwrap().expose(), "s3cr3t");
        assert_eq!(format!("{value} {value:?}"), "<redacted> <redacted>");
    }

    #[test]
    fn a_file_reference_is_read_at_every_use_without_its_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret_id");
        let reference = format!("file://{}", path.display());
        let secret = SecretRef::parse("secret_id", Secret::new(reference.clone())).unwrap();
        assert!(secret.is_reference());
        assert_eq!(secret.to_string(), reference);

        let missing = secret.read_with(&no_env).unwrap_err();
        assert!(
            missing.starts_with(&reference) && missing.contains("No such file"),
            "{missing}"
        );
        std::fs::write(&path, "first\n").unwrap();
        assert_eq!(secret.read_with(&no_env).unwrap().expose(), "first");
        // Rotated: the next use sees the new value. Only one trailing newline goes.
        std::fs::write(&path, "second\r\n").unwrap();
        assert_eq!(secret.read_with(&no_env).unwrap().expose(), "second");
        std::fs::write(&path, " spaced \n\n").unwrap();
        assert_eq!(secret.read_with(&no_env).unwrap().expose(), " spaced \n");
        std::fs::write(&path, "\n").unwrap();
        assert!(secret.read_with(&no_env).unwrap_err().contains("is empty"));
        std::fs::write(&path, vec![b'x'; 70_000]).unwrap();
        assert!(
            secret
                .read_with(&no_env)
                .unwrap_err()
                .contains("larger than")
        );

        let error = format!("{:#}", secret.read().unwrap_err());
        assert!(error.starts_with("key \"secret_id\": file://"), "{error}");
        assert!(!error.contains("xxxx"), "{error}");
    }

    #[test]
    fn an_env_reference_names_the_variable_not_its_value() {
        let secret = SecretRef::parse("account_key", Secret::new("env://AZ_KEY")).unwrap();
        assert_eq!(format!("{secret:?}"), "env://AZ_KEY");
        let env = |name: &str| (name == "AZ_KEY").then(|| "k3y".to_string());
        assert_eq!(secret.read_with(&env).unwrap().expose(), "k3y");
        let error = secret.read_with(&no_env).unwrap_err();
        assert_eq!(
            error,
            "env://AZ_KEY: the environment variable AZ_KEY is not set"
        );
        let empty = |_: &str| Some(String::new());
        assert!(secret.read_with(&empty).unwrap_err().contains("is empty"));
    }

    #[test]
    fn a_reference_to_nothing_is_refused() {
        for text in ["file://", "env://", "env://A=B"] {
            let error = SecretRef::parse("k", Secret::new(text)).unwrap_err();
            assert!(error.contains("names no"), "{text}: {error}");
        }
    }

    #[test]
    fn a_relative_file_or_an_unknown_scheme_is_refused_without_the_value() {
        for (text, expected) in [
            ("file://run/secrets/id", "not an absolute path"),
            ("file://./id", "not an absolute path"),
            ("FILE:///run/secrets/id", "write the scheme in lowercase"),
            ("File://x", "write the scheme in lowercase"),
            ("Env://NAME", "write the scheme in lowercase"),
            ("vault://secret/data/x", "unknown scheme"),
        ] {
            let error = SecretRef::parse("k", Secret::new(text)).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
        for text in ["vault://hunter2", "File://hunter2"] {
            let error = SecretRef::parse("k", Secret::new(text)).unwrap_err();
            assert!(!error.contains("hunter2"), "{error}");
        }
        // A secret with "://" later on, or not after a scheme, is a secret.
        for text in ["a b://c", "://x", "s3cr3t", "1abc://x"] {
            assert!(
                !SecretRef::parse("k", Secret::new(text))
                    .unwrap()
                    .is_reference()
            );
        }
    }

    #[test]
    fn never_prints_its_value() {
        let secret = Secret::new("hvs.very-secret");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(<redacted>)");
        assert_eq!(secret.expose(), "hvs.very-secret");
    }

    #[test]
    fn a_mistyped_secret_is_refused_without_its_value() {
        let parsed: Secret = serde_json::from_value(serde_json::json!("s3cr3t")).unwrap();
        assert_eq!(parsed.expose(), "s3cr3t");
        for value in [
            serde_json::json!(987_654_321),
            serde_json::json!(-987_654_321),
            serde_json::json!(9876.54321),
            serde_json::json!(["987654321"]),
            serde_json::json!({"k": "987654321"}),
        ] {
            let error = serde_json::from_value::<Secret>(value.clone())
                .err()
                .unwrap()
                .to_string();
            assert!(error.contains("expected a string"), "{error}");
            assert!(
                !error.contains("98765") && !error.contains("987654321"),
                "{error}"
            );
        }
    }
}
