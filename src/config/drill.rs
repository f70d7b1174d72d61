//! The `drill` object: how a restore drill starts its scratch server, unseals it, logs in and
//! what it reads (see `crate::drill`).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use super::validator::{Validator, non_empty};
use crate::duration;
use crate::secret::{Secret, SecretRef};

/// `drill.timeout` when the file does not set it.
pub const DEFAULT_DRILL_TIMEOUT: Duration = Duration::from_secs(600);

/// The `drill` object as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDrill {
    server: Option<String>,
    unseal_keys: Option<Vec<Secret>>,
    seal: Option<String>,
    token: Option<Secret>,
    expect: Option<Vec<String>>,
    timeout: Option<String>,
    frequency: Option<String>,
}

/// How the scratch server is unsealed after the restore.
#[derive(Debug, Clone)]
pub enum DrillUnseal {
    /// With the source cluster's Shamir unseal keys (`drill.unseal_keys`).
    Keys(Vec<SecretRef>),
    /// By the seal stanza written into the scratch server's config (`drill.seal`).
    Seal(String),
}

/// The validated `drill` object.
#[derive(Debug, Clone)]
pub struct DrillConfig {
    /// The `vault` or `bao` binary that runs the scratch server.
    pub server: PathBuf,
    /// How the scratch server is unsealed.
    pub unseal: DrillUnseal,
    /// The token to read the expected paths with; `None`: log in as the agent does.
    pub token: Option<SecretRef>,
    /// API paths (without `/v1/`) that must answer 200 in the restored server.
    pub expect: Vec<String>,
    /// Limit on the whole drill.
    pub timeout: Duration,
    /// How often `run` drills (after a successful cycle); `None`: never.
    pub frequency: Option<Duration>,
}

impl Validator<'_> {
    pub(super) fn drill(
        &self,
        value: Option<serde_json::Value>,
    ) -> Result<Option<DrillConfig>, ConfigError> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let raw: RawDrill = serde_path_to_error::deserialize(value)
            .map_err(|e| self.at("drill", &e.path().to_string(), e.into_inner()))?;
        let server = non_empty(raw.server).ok_or_else(|| {
            self.err(
                "drill.server",
                "missing: the path of the vault or bao binary that runs the scratch server",
            )
        })?;
        let server = PathBuf::from(server);
        if !server.is_absolute() {
            return Err(self.err(
                "drill.server",
                format!("{} is not an absolute path", server.display()),
            ));
        }
        let mut keys = Vec::new();
        for (i, key) in raw.unseal_keys.unwrap_or_default().into_iter().enumerate() {
            let name = format!("drill.unseal_keys[{i}]");
            match self.secret(&name, Some(key))? {
                Some(key) => keys.push(key),
                None => return Err(self.err(&name, "empty")),
            }
        }
        let seal = non_empty(raw.seal);
        let unseal = match (keys.is_empty(), seal) {
            (false, None) => DrillUnseal::Keys(keys),
            (true, Some(seal)) => {
                if !seal.trim_start().starts_with("seal") {
                    return Err(self.err(
                        "drill.seal",
                        "not a seal stanza (expected e.g. seal \"awskms\" { ... })",
                    ));
                }
                DrillUnseal::Seal(seal)
            }
            (true, None) => {
                return Err(self.err(
                    "drill",
                    "set unseal_keys (the source cluster's Shamir keys) or seal (its auto-unseal stanza)",
                ));
            }
            (false, Some(_)) => {
                return Err(self.err(
                    "drill",
                    "unseal_keys and seal exclude each other: the source cluster is unsealed one way",
                ));
            }
        };
        let token = self.secret("drill.token", raw.token)?;
        let mut expect = Vec::new();
        for (i, path) in raw.expect.unwrap_or_default().into_iter().enumerate() {
            let path = path.trim_start_matches('/').to_string();
            let path = path
                .strip_prefix("v1/")
                .map_or(path.clone(), str::to_string);
            let bad = path.is_empty()
                || path.split('/').any(|s| s == ".." || s == ".")
                || path
                    .chars()
                    .any(|c| c.is_control() || c.is_whitespace() || c == '?' || c == '#');
            if bad {
                return Err(self.err(
                    &format!("drill.expect[{i}]"),
                    format!("{path:?} is not an API path (e.g. secret/data/canary)"),
                ));
            }
            expect.push(path);
        }
        let duration_key = |key: &str, text: String| {
            duration::parse(&text)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    self.err(
                        key,
                        format!("invalid duration {text:?} (examples: 10m, 24h)"),
                    )
                })
        };
        let timeout = match non_empty(raw.timeout) {
            None => DEFAULT_DRILL_TIMEOUT,
            Some(text) => duration_key("drill.timeout", text)?,
        };
        let frequency = match non_empty(raw.frequency).as_deref() {
            None | Some("off") => None,
            Some(text) => Some(duration_key("drill.frequency", text.to_string())?),
        };
        Ok(Some(DrillConfig {
            server,
            unseal,
            token,
            expect,
            timeout,
            frequency,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{accepted, refused};
    use super::DrillUnseal;

    #[test]
    fn a_drill_object_is_read_as_written_with_its_defaults() {
        let config = accepted(
            r#""drill": {"server": "/usr/bin/bao", "unseal_keys": ["env://K"],
                "expect": ["/v1/secret/data/canary", "secret/x"]}"#,
            &[],
        );
        let drill = config.drill.unwrap();
        assert_eq!(drill.expect, ["secret/data/canary", "secret/x"]);
        assert_eq!(drill.timeout, super::DEFAULT_DRILL_TIMEOUT);
        assert!(drill.frequency.is_none());
        assert!(matches!(drill.unseal, DrillUnseal::Keys(k) if k.len() == 1));
        assert!(accepted(r#""retain": 1"#, &[]).drill.is_none());
    }

    #[test]
    fn a_bad_drill_object_names_its_key() {
        for (drill, key) in [
            (r#"{"unseal_keys": ["k"]}"#, "\"drill.server\""),
            (
                r#"{"server": "bao", "unseal_keys": ["k"]}"#,
                "\"drill.server\"",
            ),
            (r#"{"server": "/b"}"#, "\"drill\""),
            (
                r#"{"server": "/b", "unseal_keys": ["k"], "seal": "seal \"x\" {}"}"#,
                "\"drill\"",
            ),
            (
                r#"{"server": "/b", "seal": "storage {}"}"#,
                "\"drill.seal\"",
            ),
            (
                r#"{"server": "/b", "unseal_keys": ["k"], "timeout": "soon"}"#,
                "\"drill.timeout\"",
            ),
            (
                r#"{"server": "/b", "unseal_keys": ["k"], "frequency": "0s"}"#,
                "\"drill.frequency\"",
            ),
            (
                r#"{"server": "/b", "unseal_keys": ["k"], "expect": ["a/../b"]}"#,
                "\"drill.expect[0]\"",
            ),
            (
                r#"{"server": "/b", "unseal_keys": ["k"], "nope": 1}"#,
                "drill.nope",
            ),
        ] {
            let error = refused(&format!(r#""drill": {drill}"#), &[]);
            assert!(error.contains(key), "{drill}: {error}");
        }
    }
}
