//! `migrate`: another agent's configuration turned into ours, with a report of every key
//! mapped, every key that could not be, and every change of meaning.
//!
//! Two sources: Argelbargel's vault-raft-snapshot-agent (YAML, JSON or TOML, read as its viper
//! reads them: [`vrsa`]) and a Vault Enterprise automated-snapshot configuration (the JSON of
//! `vault read -format=json sys/storage/raft/snapshot-auto/config/NAME`: [`vault_enterprise`]).
//! [`recognise`] tells a file of either kind apart from ours, so that `-c their-file` says
//! what it is instead of a parse error. The report is [`report::Report`].

pub mod report;
pub mod source;
pub mod vault_enterprise;
pub mod vrsa;

use std::path::Path;

use serde_json::{Map, Value};

pub use report::Report;
pub use source::{Format, ReadError, read};

/// Which agent a file configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// Argelbargel's vault-raft-snapshot-agent (`vault`, `snapshots`, `metrics`).
    Vrsa,
    /// A Vault Enterprise automated-snapshot configuration (`storage_type`, ...).
    VaultEnterprise,
}

impl SourceKind {
    /// What the file is, for messages.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            SourceKind::Vrsa => "a configuration of Argelbargel's vault-raft-snapshot-agent",
            SourceKind::VaultEnterprise => {
                "a Vault Enterprise automated-snapshot configuration (sys/storage/raft/snapshot-auto)"
            }
        }
    }
}

/// The result of a migration: our config, and what the operator must know.
#[derive(Debug)]
pub struct Migration {
    /// Which agent the file configured.
    pub kind: SourceKind,
    /// Our JSON configuration.
    pub config: Map<String, Value>,
    /// Every key mapped, every gap, every change of meaning.
    pub report: Report,
}

/// The key written into our config when something could not be mapped: our loader refuses
/// it (an unknown key), so the gaps are read before the config is used.
pub const GAPS_KEY: &str = "migrate_gaps";

/// Which agent the parsed, key-lowercased `value` configures, if either.
#[must_use]
pub fn kind_of(value: &Value) -> Option<SourceKind> {
    let object = value.as_object()?;
    if object.contains_key("storage_type")
        || object
            .get("data")
            .and_then(Value::as_object)
            .is_some_and(|d| d.contains_key("storage_type"))
    {
        return Some(SourceKind::VaultEnterprise);
    }
    let vrsa = ["vault", "snapshots"]
        .iter()
        .any(|k| object.get(*k).is_some_and(Value::is_object));
    vrsa.then_some(SourceKind::Vrsa)
}

/// What `path` is when it is one of the other agents' configurations (for `-c`): `None` for
/// anything else, including a file that cannot be read.
#[must_use]
pub fn recognise(path: &Path) -> Option<SourceKind> {
    read(path).ok().and_then(|(value, _)| kind_of(&value))
}

/// Reads the file at `path` and converts it. `env` looks up environment variables (the
/// `VRSA_*` overrides and `env://` values).
///
/// # Errors
/// A [`ReadError`] when the file cannot be read or parsed, or is neither agent's config.
pub fn migrate(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Migration, ReadError> {
    let (value, _) = read(path)?;
    let kind = kind_of(&value).ok_or_else(|| ReadError {
        message: format!(
            "{}: neither a vault-raft-snapshot-agent configuration (no \"vault\" or \"snapshots\" \
             section) nor a Vault Enterprise automated-snapshot configuration (no \
             \"storage_type\")",
            path.display()
        ),
    })?;
    let base = path
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let (mut config, report) = match kind {
        SourceKind::Vrsa => vrsa::convert(value, &base, env),
        SourceKind::VaultEnterprise => vault_enterprise::convert(&value),
    };
    if !report.unmapped.is_empty() {
        config.insert(
            GAPS_KEY.to_string(),
            Value::Array(
                report
                    .unmapped
                    .iter()
                    .map(|(key, reason)| Value::String(format!("{key}: {reason}")))
                    .collect(),
            ),
        );
    }
    Ok(Migration {
        kind,
        config,
        report,
    })
}
