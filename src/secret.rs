//! A string that must never be printed: Vault tokens, AppRole `secret_id`s, JWTs, keys.
//!
//! `Debug` and `Display` both render `<redacted>`, so a secret that reaches a log line or an
//! error message by accident shows nothing. The only way to the value is [`Secret::expose`],
//! which is called where the value goes on the wire.

use std::fmt;

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
    use super::Secret;

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
