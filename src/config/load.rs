//! Loading the file: reading it (capped in size), parsing it as JSON without duplicate keys,
//! and checking the top-level keys; each section's keys are checked in its own file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::unique_keys::UniqueKeys;
use super::validator::{Sourced, Validator, non_empty};
use super::{
    Config, ConfigError, DEFAULT_FREQUENCY, DEFAULT_IDLE_TIMEOUT, LeaderCheck, MAX_CONFIG_BYTES,
    auth, retention, storage, vault,
};
use crate::duration;
use crate::logging::LogFormat;
use crate::secret::Secret;

/// The file as written. Field names are the JSON keys.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    addr: Option<String>,
    frequency: Option<String>,
    role_id: Option<Secret>,
    secret_id: Option<Secret>,
    approle: Option<String>,
    token_path: Option<String>,
    vault_auth_method: Option<String>,
    k8s_auth_role: Option<String>,
    k8s_auth_path: Option<String>,
    k8s_token_path: Option<String>,
    local_storage: Option<serde_json::Value>,
    aws_storage: Option<serde_json::Value>,
    google_storage: Option<serde_json::Value>,
    azure_storage: Option<serde_json::Value>,
    timeout: Option<String>,
    temp_dir: Option<String>,
    namespace: Option<String>,
    ca_cert: Option<String>,
    ca_path: Option<String>,
    client_cert: Option<String>,
    client_key: Option<String>,
    tls_server_name: Option<String>,
    tls_skip_verify: Option<bool>,
    metrics_file: Option<String>,
    leader_check: Option<String>,
    metrics_push_url: Option<String>,
    log_format: Option<String>,
    idle_timeout: Option<String>,
}

/// The shortest `frequency`: anything shorter would snapshot Vault continuously.
const MIN_FREQUENCY: Duration = Duration::from_secs(1);

/// The warning for a config file that others may read while it holds secrets (`keys`).
fn readable_by_all(path: &Path, keys: &[String]) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    if keys.is_empty() || mode & 0o004 == 0 {
        return None;
    }
    let file = path.display();
    Some(format!(
        "{file} is readable by all users and holds secrets ({}): chmod 600 {file} \
         (or give them as file:// or env:// references)",
        keys.join(", ")
    ))
}

impl Config {
    /// Reads the file at `path` and validates it, touching nothing else on disk: no directory,
    /// token, credential or `file://` secret is probed here (see [`Config::probe`]). The one
    /// exception: the file's own permissions, for the warning that others may read its
    /// secrets. `env` looks up environment variables.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file and the key, for any problem.
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let text = read_capped(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        let (mut config, written_secrets) = validate_text(&text, path, env)?;
        config
            .warnings
            .extend(readable_by_all(path, &written_secrets));
        Ok(config)
    }

    /// Validates `text`, the contents of the config file at `source` (named in messages and
    /// kept as [`Config::source`], never opened): what [`Config::load`] does once the file is
    /// read, without the warning about the file's permissions.
    ///
    /// # Errors
    /// A [`ConfigError`] naming `source` and the key, for any problem.
    pub fn from_text(
        text: &[u8],
        source: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        validate_text(text, source, env).map(|(config, _)| config)
    }
}

/// The configuration `text` describes, and the secret-valued keys whose value is written in
/// it (not a reference).
fn validate_text(
    text: &[u8],
    source: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Config, Vec<String>), ConfigError> {
    let validator = Validator {
        file: source.display().to_string(),
        env,
        warnings: std::cell::RefCell::default(),
        written_secrets: std::cell::RefCell::default(),
    };
    // One pass over the file: a JSON value, refusing a key written twice at any depth (a
    // mistake JSON parsers forgive silently: the last one wins).
    let mut json = serde_json::Deserializer::from_slice(text);
    let UniqueKeys(value) = serde_path_to_error::deserialize(&mut json)
        .map_err(|e| validator.at("", &e.path().to_string(), e.into_inner()))?;
    json.end().map_err(|e| validator.at("", ".", e))?;
    let (raw, retention) = validator.object("", value)?;
    let config = validator.validate(raw, retention, source)?;
    Ok((config, validator.written_secrets.take()))
}

/// The file's bytes, refusing one larger than [`MAX_CONFIG_BYTES`].
fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!(
            "it is larger than {} KiB; is it the right file?",
            MAX_CONFIG_BYTES / 1024
        ));
    }
    Ok(text)
}

/// The system's temporary directory when neither `temp_dir` nor `TMPDIR` names one.
const DEFAULT_TEMP_DIR: &str = "/tmp";

impl Validator<'_> {
    fn validate(
        &self,
        raw: RawConfig,
        retention: retention::RawRetention,
        source: &Path,
    ) -> Result<Config, ConfigError> {
        let retention = self.retention("", retention)?.unwrap_or_default();
        let frequency = match non_empty(raw.frequency) {
            None => DEFAULT_FREQUENCY,
            Some(text) => self.positive_duration("frequency", &text)?,
        };
        let snapshot_timeout = non_empty(raw.timeout)
            .map(|text| self.positive_duration("timeout", &text))
            .transpose()?;
        let idle_timeout = match non_empty(raw.idle_timeout) {
            None => DEFAULT_IDLE_TIMEOUT,
            Some(text) => self.positive_duration("idle_timeout", &text)?,
        };
        let (temp_dir, temp_dir_from) = match self.key_or_env("temp_dir", raw.temp_dir, "TMPDIR") {
            Some(Sourced { value, from }) => (PathBuf::from(value), Some(from)),
            None => (PathBuf::from(DEFAULT_TEMP_DIR), None),
        };
        let storages = self.storages(storage::RawStorages {
            local: raw.local_storage,
            aws: raw.aws_storage,
            google: raw.google_storage,
            azure: raw.azure_storage,
        })?;
        let metrics_file = non_empty(raw.metrics_file).map(PathBuf::from);
        let vault = self.vault(vault::RawVault {
            addr: raw.addr,
            namespace: raw.namespace,
            snapshot_timeout,
            idle_timeout,
            ca_cert: raw.ca_cert,
            ca_path: raw.ca_path,
            client_cert: raw.client_cert,
            client_key: raw.client_key,
            tls_server_name: raw.tls_server_name,
            tls_skip_verify: raw.tls_skip_verify,
        })?;
        let auth = self.auth(auth::RawAuth {
            token_path: raw.token_path,
            method: raw.vault_auth_method,
            role_id: raw.role_id,
            secret_id: raw.secret_id,
            approle_mount: raw.approle,
            k8s_role: raw.k8s_auth_role,
            k8s_mount: raw.k8s_auth_path,
            k8s_token_path: raw.k8s_token_path,
        })?;
        let leader_check = self.leader_check(raw.leader_check)?;
        let metrics_push_url = non_empty(raw.metrics_push_url)
            .map(|url| self.push_url(&url))
            .transpose()?;
        let log_format = match non_empty(raw.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(self.err(
                    "log_format",
                    format!("unknown value {other:?}: use \"text\" or \"json\""),
                ));
            }
        };
        Ok(Config {
            source: source.to_path_buf(),
            vault,
            auth,
            retention,
            frequency,
            temp_dir,
            temp_dir_from,
            storages,
            metrics_file,
            leader_check,
            metrics_push_url,
            log_format,
            warnings: self.warnings.take(),
        })
    }

    fn push_url(&self, url: &str) -> Result<String, ConfigError> {
        let key = "metrics_push_url";
        let authority = url
            .split_once("://")
            .map_or("", |(_, rest)| rest.split('/').next().unwrap_or(""));
        if authority.contains('@') {
            // The URL is logged when a push fails; a password in it would be too.
            return Err(self.err(
                key,
                "credentials in the URL are not supported (they would appear in logs)",
            ));
        }
        self.url(key, url)
    }

    fn leader_check(&self, value: Option<String>) -> Result<LeaderCheck, ConfigError> {
        match non_empty(value).as_deref() {
            None | Some("auto") => Ok(LeaderCheck::Auto),
            Some("is_self") => Ok(LeaderCheck::IsSelf),
            Some("none") => Ok(LeaderCheck::None),
            Some(other) => Err(self.err(
                "leader_check",
                format!("unknown value {other:?}: use \"auto\", \"is_self\" or \"none\""),
            )),
        }
    }

    fn positive_duration(&self, key: &str, text: &str) -> Result<Duration, ConfigError> {
        let parsed = duration::parse(text).map_err(|e| {
            self.err(
                key,
                format!("invalid duration {text:?}: {e} (examples: 30s, 5m, 1h, 1h30m)"),
            )
        })?;
        if parsed.is_zero() {
            return Err(self.err(key, "must be longer than 0"));
        }
        if key == "frequency" && parsed < MIN_FREQUENCY {
            return Err(self.err(
                key,
                format!("{text:?} is under 1s: the agent would snapshot Vault without pause"),
            ));
        }
        Ok(parsed)
    }
}
