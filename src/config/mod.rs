//! The configuration file: the original Go agent's JSON keys, unchanged, plus a few new
//! optional ones, validated in full before anything else runs.
//!
//! Two steps. [`Config::load`] reads the file and turns it into a [`Config`] in which every
//! value is typed and checked (unknown keys, a key written twice, durations, URLs, values of
//! a fixed set, keys that need or exclude each other) without touching anything else on
//! disk. [`probe`] then checks that the paths and credentials it names are usable here:
//! directories writable, token files and `file://` secrets readable, one function per thing
//! probed; the session (`crate::session`) calls those a command uses. Every failure is a
//! [`ConfigError`] naming the file and the key (or the environment variable), which `main`
//! maps to exit code 2. TLS files are read when the Vault client is built
//! (`crate::vault::tls`), not here.
//!
//! As in the Go agent, an empty string means "not set", and a storage section whose main key
//! is empty (`"local_storage": {"path": ""}`) is disabled, so existing files keep working.
//! Vault's standard environment variables fill in what the file leaves unset, as the Vault
//! CLI applies them; a key in the file wins over the variable. Every environment variable
//! the agent's settings depend on is read through the `env` function [`Config::load`] is
//! given, so tests inject an environment and a bad value is a config error at start.
//!
//! One concern per file: this one declares the types; [`load`] reads the file and checks the
//! top-level keys; [`vault`] the connection to Vault, [`auth`] how to log in, [`storage`]
//! the storages, [`retention`] the `retain` keys; [`unique_keys`] refuses a key written
//! twice; [`validator`] is the toolkit they share; [`probe`] looks at the disk; [`keys`]
//! documents every key.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::logging::LogFormat;
use crate::retention::RetentionPolicy;

mod auth;
mod drill;
mod keys;
mod load;
mod other_names;
pub mod probe;
mod retention;
mod storage;
#[cfg(test)]
mod testing;
mod unique_keys;
mod validator;
mod vault;

pub use auth::{AuthMethod, read_token_file};
pub use drill::{DEFAULT_DRILL_TIMEOUT, DrillConfig, DrillUnseal};
pub use keys::{KEYS, KeyDoc, Section};
pub use storage::{
    AzureConfig, GcsConfig, GoogleCredentials, S3_DEFAULT_PART_SIZE, S3_DEFAULT_UPLOAD_CONCURRENCY,
    S3_MAX_UPLOAD_CONCURRENCY, S3_PART_SIZE_RANGE, S3Config, StorageConfig, StorageKind,
    select_storage,
};
pub use vault::{CaSource, ClientIdentity, NamedPath, TlsSettings, VaultSettings};

/// The process's environment, as the config and the probes read it (tests pass their own).
#[must_use]
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A Vault address given on the command line (`flag` names the option in messages), checked
/// as `addr` is.
///
/// # Errors
/// A [`ConfigError`] naming the option.
pub fn cli_addr(flag: &str, value: &str) -> Result<String, ConfigError> {
    vault::vault_addr(value, flag)
}

/// Where the config file is read from when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/vault.d/snapshot.json";
/// `addr` when neither the file nor `VAULT_ADDR` sets it.
pub const DEFAULT_ADDR: &str = "https://127.0.0.1:8200";
/// The Kubernetes service account token, when `k8s_token_path` is not set.
pub const DEFAULT_K8S_TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
const DEFAULT_FREQUENCY: Duration = Duration::from_secs(3600);
/// `retry_interval` when the file does not set it: the first retry of a failed cycle in
/// `run`; each further failure doubles it, up to `frequency`.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(30);
/// `abort_incomplete_uploads_after` when the file does not set it: a day. No snapshot upload
/// runs that long, so an upload this old is a killed agent's, never one in progress (of this
/// agent or of another node's agent writing under the same prefix).
pub const DEFAULT_ABORT_INCOMPLETE_UPLOADS_AFTER: Duration = Duration::from_secs(24 * 3600);
/// `idle_timeout` when the file does not set it.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// A configuration problem: the message names the file and the key. Exit code 2.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// How the agent decides that it is the one to take the snapshot (`leader_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LeaderCheck {
    /// `is_self` when `addr` is this host, else `leader_address` must resolve to this host.
    #[default]
    Auto,
    /// Trust `is_self` of the node at `addr` (one agent pointed at a `-active` Service).
    IsSelf,
    /// No check: snapshot whichever node answers (exactly one agent per cluster).
    None,
}

impl LeaderCheck {
    /// The key's value as written.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LeaderCheck::Auto => "auto",
            LeaderCheck::IsSelf => "is_self",
            LeaderCheck::None => "none",
        }
    }

    /// What the check does, for the line logged at start.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            LeaderCheck::Auto => {
                "auto: is_self when addr is this host, else leader_address must resolve to this host"
            }
            LeaderCheck::IsSelf => "is_self: act when the node at addr reports is_self",
            LeaderCheck::None => "none: no check, snapshot whichever node answers at addr",
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from, for messages.
    pub source: PathBuf,
    /// How to reach Vault.
    pub vault: VaultSettings,
    /// How to authenticate.
    pub auth: AuthMethod,
    /// The top-level retention policy, for storages without their own.
    pub retention: RetentionPolicy,
    /// How often `run` takes a snapshot.
    pub frequency: Duration,
    /// How soon `run` tries again after a failed cycle (doubling with each failure in a row,
    /// never beyond `frequency`).
    pub retry_interval: Duration,
    /// After their first cycle, `once` and `run` abort the incomplete S3 multipart uploads of
    /// the storages' own snapshot names that are older than this (a killed agent's).
    pub abort_incomplete_uploads_after: Duration,
    /// Where the download is staged: `temp_dir`, else `TMPDIR`, else `/tmp`.
    pub temp_dir: PathBuf,
    /// What set `temp_dir`: `<file>: key "temp_dir"` or `environment variable TMPDIR`, for
    /// [`probe::staging`]'s messages; `None` for the default, `/tmp`, which is not probed.
    pub temp_dir_from: Option<String>,
    /// Every storage that receives snapshots.
    pub storages: Vec<StorageConfig>,
    /// Where to write the Prometheus metrics after each cycle, if anywhere.
    pub metrics_file: Option<PathBuf>,
    /// How leadership is decided.
    pub leader_check: LeaderCheck,
    /// A Prometheus Pushgateway to push the metrics to after every cycle.
    pub metrics_push_url: Option<String>,
    /// Where `run` serves `/metrics`, `/healthz`, `/readyz` and `/status` (`host:port`).
    pub metrics_listen: Option<String>,
    /// Text or JSON log lines.
    pub log_format: LogFormat,
    /// The restore drill (`drill`), if configured.
    pub drill: Option<DrillConfig>,
    /// What is legal but probably a mistake; logged as warnings at start.
    pub warnings: Vec<String>,
    /// Other agents' snapshot names to recognise (`other_snapshot_names`).
    pub other_snapshot_names: Vec<crate::other_names::OtherNames>,
    /// Serve Argelbargel's agent's `vrsa_*` metric names too (`metrics_vrsa_names`).
    pub metrics_vrsa_names: bool,
}

/// The largest config file read: a config is a few KiB; this keeps `-c /dev/zero` or a wrong
/// file from filling memory.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
