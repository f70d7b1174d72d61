//! Loading the file: reading it (capped in size), parsing it as JSON without duplicate keys,
//! and checking the top-level keys; each section's keys are checked in its own file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::unique_keys::UniqueKeys;
use super::validator::{Sourced, Validator, non_empty};
use super::{
    Config, ConfigError, DEFAULT_ABORT_INCOMPLETE_UPLOADS_AFTER, DEFAULT_FREQUENCY,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_RETRY_INTERVAL, LeaderCheck, MAX_CONFIG_BYTES, auth, retention,
    storage, vault,
};
use crate::duration;
use crate::logging::LogFormat;
use crate::secret::Secret;

/// The file as written. Field names are the JSON keys.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    addr: Option<serde_json::Value>,
    frequency: Option<String>,
    retry_interval: Option<String>,
    abort_incomplete_uploads_after: Option<String>,
    role_id: Option<Secret>,
    secret_id: Option<Secret>,
    approle: Option<String>,
    token_path: Option<String>,
    vault_auth_method: Option<String>,
    k8s_auth_role: Option<String>,
    k8s_auth_path: Option<String>,
    k8s_token_path: Option<String>,
    gcp_auth_role: Option<String>,
    gcp_auth_path: Option<String>,
    gcp_auth_service_account: Option<String>,
    azure_auth_role: Option<String>,
    azure_auth_path: Option<String>,
    azure_auth_resource: Option<String>,
    userpass_username: Option<String>,
    userpass_password: Option<Secret>,
    userpass_auth_path: Option<String>,
    ldap_username: Option<String>,
    ldap_password: Option<Secret>,
    ldap_auth_path: Option<String>,
    jwt_auth_role: Option<String>,
    jwt_token_path: Option<String>,
    jwt_auth_path: Option<String>,
    cert_auth_role: Option<String>,
    cert_auth_path: Option<String>,
    aws_auth_role: Option<String>,
    aws_auth_path: Option<String>,
    aws_auth_header_value: Option<String>,
    aws_auth_region: Option<String>,
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
    metrics_listen: Option<String>,
    log_format: Option<String>,
    idle_timeout: Option<String>,
    other_snapshot_names: Option<serde_json::Value>,
    metrics_vrsa_names: Option<bool>,
    drill: Option<serde_json::Value>,
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
    /// token, credential or `file://` secret is probed here (see [`super::probe`]). The one
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

    /// The settings of Vault's own environment variables alone, for a command that needs
    /// only Vault on a machine without a config file (`restore FILE`): what a file with no
    /// keys would give (`VAULT_ADDR`, `VAULT_CACERT`, `VAULT_NAMESPACE`, ... as the Vault CLI
    /// applies them; `VAULT_TOKEN` as the token), and no storage.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the environment variable that is wrong, or saying that no
    /// token is set.
    pub fn from_environment(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let source = Path::new(NO_CONFIG_FILE);
        let validator = Validator {
            file: NO_CONFIG_FILE.to_string(),
            env,
            warnings: std::cell::RefCell::default(),
            written_secrets: std::cell::RefCell::default(),
        };
        if non_empty(env("VAULT_TOKEN")).is_none() {
            return Err(ConfigError(format!(
                "{NO_CONFIG_FILE}: without one, set VAULT_TOKEN (and VAULT_ADDR, or --addr)"
            )));
        }
        validator.validate(
            RawConfig::default(),
            retention::RawRetention::default(),
            source,
            false,
        )
    }
}

/// How messages name the config of [`Config::from_environment`].
pub const NO_CONFIG_FILE: &str = "(no config file)";

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
    let config = validator.validate(raw, retention, source, true)?;
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
        storages_required: bool,
    ) -> Result<Config, ConfigError> {
        let retention = self.retention("", retention)?.unwrap_or_default();
        let frequency = match non_empty(raw.frequency) {
            None => DEFAULT_FREQUENCY,
            Some(text) => self.positive_duration("frequency", &text)?,
        };
        // Never longer than `frequency`: a retry is never later than the next cycle.
        let retry_interval = match non_empty(raw.retry_interval) {
            None => DEFAULT_RETRY_INTERVAL,
            Some(text) => self.positive_duration("retry_interval", &text)?,
        }
        .min(frequency);
        // 0 is allowed: every incomplete upload of ours is aborted at start (one agent only).
        let abort_incomplete_uploads_after = match non_empty(raw.abort_incomplete_uploads_after) {
            None => DEFAULT_ABORT_INCOMPLETE_UPLOADS_AFTER,
            Some(text) => duration::parse(&text).map_err(|e| {
                self.err(
                    "abort_incomplete_uploads_after",
                    format!("invalid duration {text:?}: {e} (examples: 0s, 12h, 48h)"),
                )
            })?,
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
        let storages = if storages_required {
            self.storages(storage::RawStorages {
                local: raw.local_storage,
                aws: raw.aws_storage,
                google: raw.google_storage,
                azure: raw.azure_storage,
            })?
        } else {
            Vec::new()
        };
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
            gcp_role: raw.gcp_auth_role,
            gcp_mount: raw.gcp_auth_path,
            gcp_service_account: raw.gcp_auth_service_account,
            azure_role: raw.azure_auth_role,
            azure_mount: raw.azure_auth_path,
            azure_resource: raw.azure_auth_resource,
            userpass_username: raw.userpass_username,
            userpass_password: raw.userpass_password,
            userpass_mount: raw.userpass_auth_path,
            ldap_username: raw.ldap_username,
            ldap_password: raw.ldap_password,
            ldap_mount: raw.ldap_auth_path,
            jwt_role: raw.jwt_auth_role,
            jwt_token_path: raw.jwt_token_path,
            jwt_mount: raw.jwt_auth_path,
            cert_role: raw.cert_auth_role,
            cert_mount: raw.cert_auth_path,
            has_client_cert: vault.tls.client.is_some(),
            https: std::iter::once(&vault.addr)
                .chain(&vault.nodes)
                .all(|a| a.to_ascii_lowercase().starts_with("https://")),
            aws_role: raw.aws_auth_role,
            aws_mount: raw.aws_auth_path,
            aws_header_value: raw.aws_auth_header_value,
            aws_region: raw.aws_auth_region,
        })?;
        let drill = self.drill(raw.drill)?;
        let leader_check = self.leader_check(raw.leader_check)?;
        let metrics_push_url = non_empty(raw.metrics_push_url)
            .map(|url| self.push_url(&url))
            .transpose()?;
        let metrics_listen = non_empty(raw.metrics_listen)
            .map(|listen| self.listen(&listen))
            .transpose()?;
        let other_snapshot_names = self.other_snapshot_names(raw.other_snapshot_names)?;
        let metrics_vrsa_names = raw.metrics_vrsa_names.unwrap_or(false);
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
            retry_interval,
            abort_incomplete_uploads_after,
            temp_dir,
            temp_dir_from,
            storages,
            metrics_file,
            leader_check,
            metrics_push_url,
            metrics_listen,
            log_format,
            other_snapshot_names,
            metrics_vrsa_names,
            drill,
            warnings: self.warnings.take(),
        })
    }

    fn push_url(&self, url: &str) -> Result<String, ConfigError> {
        let key = "metrics_push_url";
        if super::vault::has_userinfo(url) {
            // The URL is logged when a push fails; a password in it would be too.
            return Err(self.err(
                key,
                "credentials in the URL are not supported (they would appear in logs)",
            ));
        }
        self.url(key, url)
    }

    /// `metrics_listen`: `host:port` (`0.0.0.0:2112`, `127.0.0.1:2112`, `[::]:2112`). Only
    /// its form is checked here; `run` binds it.
    fn listen(&self, listen: &str) -> Result<String, ConfigError> {
        let key = "metrics_listen";
        let well_formed = listen.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty()
                && !host.contains(['/', ' '])
                && port.parse::<u16>().is_ok_and(|p| p != 0)
        });
        if !well_formed {
            return Err(self.err(
                key,
                format!("{listen:?} is not host:port (e.g. 0.0.0.0:2112 or 127.0.0.1:2112)"),
            ));
        }
        Ok(listen.to_string())
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
        if matches!(key, "frequency" | "retry_interval") && parsed < MIN_FREQUENCY {
            return Err(self.err(
                key,
                format!("{text:?} is under 1s: the agent would snapshot Vault without pause"),
            ));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use super::super::testing::{
        FILE, MINIMAL, SNAPS, accepted, assert_refused, assert_refused_with,
    };
    use super::super::{
        AuthMethod, Config, DEFAULT_ADDR, DEFAULT_IDLE_TIMEOUT, LeaderCheck, StorageConfig,
        StorageKind,
    };
    use crate::logging::LogFormat;
    use crate::retention::RetentionPolicy;
    use crate::secret::{Secret, SecretRef};

    #[test]
    fn the_original_agents_file_loads_with_its_defaults() {
        let config = accepted(MINIMAL, &[]);
        assert_eq!(config.source, PathBuf::from(FILE));
        assert_eq!(config.vault.addr, DEFAULT_ADDR);
        assert_eq!(config.vault.snapshot_timeout, None);
        assert_eq!(config.vault.idle_timeout, DEFAULT_IDLE_TIMEOUT);
        assert_eq!(config.retention, RetentionPolicy::default());
        assert_eq!(config.frequency, Duration::from_secs(3600));
        assert!(!config.vault.tls.skip_verify);
        assert_eq!(
            (config.temp_dir, config.temp_dir_from),
            (PathBuf::from("/tmp"), None)
        );
        assert_eq!(config.metrics_file, None);
        assert_eq!(config.metrics_push_url, None);
        assert_eq!(config.metrics_listen, None);
        assert_eq!(config.leader_check, LeaderCheck::Auto);
        assert!(matches!(config.log_format, LogFormat::Text));
        assert_eq!(
            config.auth,
            AuthMethod::AppRole {
                mount: "approle".into(),
                role_id: SecretRef::value("role_id", Secret::new("r")),
                secret_id: SecretRef::value("secret_id", Secret::new("s")),
            }
        );
        assert_eq!(
            config.storages,
            [StorageConfig {
                name: "local-0".into(),
                key: "local_storage".into(),
                retention: None,
                kind: StorageKind::Local {
                    path: PathBuf::from(SNAPS)
                },
                credentials_from: None,
            }]
        );
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    }

    #[test]
    fn every_original_key_is_accepted() {
        let config = accepted(
            r#"{"addr": "http://vault.internal:8200/", "retain": 72, "frequency": "1h30m",
                "role_id": "r", "secret_id": "s", "approle": "snap-approle",
                "vault_auth_method": "approle", "k8s_auth_role": "", "k8s_auth_path": "",
                "local_storage": {"path": "/var/backups/vault"},
                "aws_storage": {"s3_bucket": "", "s3_region": ""},
                "google_storage": {"bucket": ""},
                "azure_storage": {"account_name": "", "container_name": ""}}"#,
            &[],
        );
        assert_eq!(config.vault.addr, "http://vault.internal:8200");
        assert_eq!(config.retention, RetentionPolicy::keep_last(72));
        assert_eq!(config.frequency, Duration::from_secs(5400));
        assert!(
            matches!(config.auth, AuthMethod::AppRole { ref mount, .. } if mount == "snap-approle")
        );
        assert_eq!(config.storages.len(), 1);
    }

    #[test]
    fn top_level_values_are_read_as_written() {
        let secs = Duration::from_secs;
        for (row, frequency, timeout, idle) in [
            (r#""frequency": "1s""#, secs(1), None, DEFAULT_IDLE_TIMEOUT),
            (
                r#""frequency": "1h30m""#,
                secs(5400),
                None,
                DEFAULT_IDLE_TIMEOUT,
            ),
            (
                r#""frequency": "", "timeout": """#,
                secs(3600),
                None,
                DEFAULT_IDLE_TIMEOUT,
            ),
            (
                r#""timeout": "2m""#,
                secs(3600),
                Some(secs(120)),
                DEFAULT_IDLE_TIMEOUT,
            ),
            (r#""idle_timeout": "45s""#, secs(3600), None, secs(45)),
        ] {
            let config = accepted(row, &[]);
            assert_eq!(
                (
                    config.frequency,
                    config.vault.snapshot_timeout,
                    config.vault.idle_timeout
                ),
                (frequency, timeout, idle),
                "row {row}"
            );
        }
        for (row, leader_check) in [
            (r#""leader_check": """#, LeaderCheck::Auto),
            (r#""leader_check": "auto""#, LeaderCheck::Auto),
            (r#""leader_check": "is_self""#, LeaderCheck::IsSelf),
            (r#""leader_check": "none""#, LeaderCheck::None),
        ] {
            assert_eq!(accepted(row, &[]).leader_check, leader_check, "row {row}");
        }
        let config = accepted(
            r#""log_format": "json", "metrics_push_url": "http://push:9091/",
                "metrics_file": "/nonexistent/dir/vault.prom", "metrics_listen": "[::]:2112""#,
            &[],
        );
        assert_eq!(config.metrics_listen.as_deref(), Some("[::]:2112"));
        assert!(matches!(config.log_format, LogFormat::Json));
        assert_eq!(config.metrics_push_url.as_deref(), Some("http://push:9091"));
        assert_eq!(
            config.metrics_file,
            Some(PathBuf::from("/nonexistent/dir/vault.prom"))
        );
    }

    #[test]
    fn temp_dir_comes_from_the_key_then_tmpdir_then_tmp() {
        let key = format!("{FILE}: key \"temp_dir\"");
        for (row, env, dir, from) in [
            (r#""temp_dir": """#, &[][..], "/tmp", None),
            (
                r#""temp_dir": "/nonexistent/a""#,
                &[],
                "/nonexistent/a",
                Some(key.as_str()),
            ),
            (
                r#""temp_dir": "/nonexistent/a""#,
                &[("TMPDIR", "/nonexistent/b")],
                "/nonexistent/a",
                Some(key.as_str()),
            ),
            (
                r#""temp_dir": """#,
                &[("TMPDIR", "/nonexistent/b")],
                "/nonexistent/b",
                Some("environment variable TMPDIR"),
            ),
            (r#""temp_dir": """#, &[("TMPDIR", "")], "/tmp", None),
        ] {
            let config = accepted(row, env);
            assert_eq!(
                (config.temp_dir, config.temp_dir_from.as_deref()),
                (PathBuf::from(dir), from),
                "row {row} with {env:?}"
            );
        }
    }

    #[test]
    fn retry_interval_defaults_to_30s_and_never_exceeds_frequency() {
        let secs = Duration::from_secs;
        assert_eq!(accepted(MINIMAL, &[]).retry_interval, secs(30));
        for (row, expected) in [
            (r#""retry_interval": "5s""#, secs(5)),
            (r#""retry_interval": "2h""#, secs(3600)),
            (r#""frequency": "10s", "retry_interval": """#, secs(10)),
        ] {
            assert_eq!(accepted(row, &[]).retry_interval, expected, "{row}");
        }
    }

    #[test]
    fn incomplete_uploads_are_aborted_after_a_day_unless_told_otherwise() {
        let secs = Duration::from_secs;
        assert_eq!(
            accepted(MINIMAL, &[]).abort_incomplete_uploads_after,
            secs(86_400)
        );
        for (row, expected) in [
            (r#""abort_incomplete_uploads_after": "0s""#, secs(0)),
            (r#""abort_incomplete_uploads_after": "0""#, secs(0)),
            (r#""abort_incomplete_uploads_after": "48h""#, secs(172_800)),
            (r#""abort_incomplete_uploads_after": """#, secs(86_400)),
        ] {
            assert_eq!(
                accepted(row, &[]).abort_incomplete_uploads_after,
                expected,
                "{row}"
            );
        }
        assert_refused(&[(
            r#""abort_incomplete_uploads_after": "a day""#,
            "key \"abort_incomplete_uploads_after\": invalid duration \"a day\"",
        )]);
    }

    #[test]
    fn bad_top_level_values_name_their_key() {
        assert_refused(&[
            (r#""frequncy": "5m""#, "unknown field `frequncy`"),
            (
                r#""frequency": "5 minutes""#,
                "key \"frequency\": invalid duration",
            ),
            (
                r#""frequency": "0s""#,
                "key \"frequency\": must be longer than 0",
            ),
            (
                r#""frequency": "1ns""#,
                "key \"frequency\": \"1ns\" is under 1s",
            ),
            (
                r#""frequency": "500ms""#,
                "key \"frequency\": \"500ms\" is under 1s",
            ),
            (
                r#""frequency": "999ms""#,
                "key \"frequency\": \"999ms\" is under 1s",
            ),
            (r#""frequency": 60"#, "key \"frequency\": invalid type"),
            (
                r#""retry_interval": "500ms""#,
                "key \"retry_interval\": \"500ms\" is under 1s",
            ),
            (r#""timeout": "soon""#, "key \"timeout\": invalid duration"),
            (
                r#""idle_timeout": "0s""#,
                "key \"idle_timeout\": must be longer than 0",
            ),
            (
                r#""leader_check": "maybe""#,
                "key \"leader_check\": unknown value \"maybe\"",
            ),
            (
                r#""log_format": "xml""#,
                "key \"log_format\": unknown value \"xml\"",
            ),
            (
                r#""metrics_push_url": "http://user:pw@push:9091""#,
                "key \"metrics_push_url\": credentials in the URL are not supported",
            ),
            (
                r#""metrics_listen": "2112""#,
                "key \"metrics_listen\": \"2112\" is not host:port",
            ),
            (
                r#""metrics_listen": "0.0.0.0:http""#,
                "key \"metrics_listen\": \"0.0.0.0:http\" is not host:port",
            ),
            (
                r#""metrics_push_url": "push:9091""#,
                "key \"metrics_push_url\": invalid URL",
            ),
        ]);
    }

    #[test]
    fn a_file_that_is_not_one_json_object_is_refused_naming_the_file() {
        assert_refused(&[
            ("{ not json", "line 1"),
            ("[]", &format!("{FILE}: expected a JSON object")),
            (&format!("{MINIMAL} {{}}"), "trailing characters"),
            (
                r#"{"retain": 1, "role_id": "r", "secret_id": "s", "retain": 2, "local_storage": {"path": "/a"}}"#,
                "the key `retain` is written twice at line 1",
            ),
            (
                r#"{"role_id": "r", "secret_id": "s", "local_storage": [{"path": "/a", "path": "/tmp"}]}"#,
                "key \"local_storage[0]\": the key `path` is written twice",
            ),
        ]);
        assert_refused_with(&[("HOME", "/root")], &[("\u{feff}{}", "line 1")]);
    }

    /// Every path and reference the config names is absent: validation does not look.
    #[cfg(all(feature = "s3", feature = "gcs", feature = "azure"))]
    const NOTHING_THERE: &str = r#"{"token_path": "/nonexistent/token", "temp_dir": "/nonexistent/tmp",
        "metrics_file": "/nonexistent/metrics/vault.prom", "ca_cert": "/nonexistent/ca.pem",
        "local_storage": [{"path": "/nonexistent/a"}, {"path": "/nonexistent/b/"}],
        "aws_storage": {"s3_bucket": "b", "access_key_id": "env://UNSET_KEY_ID",
                        "secret_access_key": "file:///nonexistent/aws-secret"},
        "google_storage": {"bucket": "b", "credentials_file": "/nonexistent/sa.json"},
        "azure_storage": {"account_name": "a", "container_name": "c",
                          "sas_token": "file:///nonexistent/sas"}}"#;

    #[cfg(all(feature = "s3", feature = "gcs", feature = "azure"))]
    #[test]
    fn validation_looks_at_nothing_on_disk() {
        let config = accepted(NOTHING_THERE, &[]);
        assert_eq!(config.storages.len(), 5);
        let approle = r#"{"role_id": "file:///nonexistent/role", "secret_id": "env://UNSET_SECRET_ID",
            "local_storage": {"path": "/nonexistent/a"}}"#;
        assert!(matches!(
            accepted(approle, &[]).auth,
            AuthMethod::AppRole { .. }
        ));
        let k8s = r#""vault_auth_method": "k8s", "k8s_auth_role": "r""#;
        assert!(matches!(
            accepted(k8s, &[]).auth,
            AuthMethod::Kubernetes { .. }
        ));
    }

    #[cfg(all(feature = "s3", feature = "gcs", feature = "azure"))]
    #[test]
    fn load_reads_the_file_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.json");
        std::fs::write(&path, NOTHING_THERE).unwrap();
        let config = Config::load(&path, &|_| None).unwrap();
        assert_eq!(config.source, path);
        assert_eq!(config.storages.len(), 5);
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let mut rows = vec![
            r#"{"role_id": "r0le-value", "secret_id": "s3cr3t-value", "local_storage": {"path": "/a"}}"#,
        ];
        if cfg!(feature = "s3") {
            rows.push(
                r#"{"role_id": "r0le-value", "secret_id": "s3cr3t-value", "local_storage": {"path": "/a"},
                    "aws_storage": {"s3_bucket": "b", "access_key_id": "AKIA-value", "secret_access_key": "k3y-value"}}"#,
            );
        }
        let debug = format!(
            "{:?}",
            rows.iter()
                .map(|row| accepted(row, &[]))
                .collect::<Vec<_>>()
        );
        assert!(debug.contains("<redacted>"), "{debug}");
        for secret in ["r0le-value", "s3cr3t-value", "AKIA-value", "k3y-value"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn a_config_with_secrets_readable_by_all_is_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.json");
        let shown = path.display();
        let literal = r#"{"role_id": "r", "secret_id": "s3cr3t", "local_storage": {"path": "/a"}}"#;
        // References hold no secret: nothing to warn about (and they are not read).
        let referenced = r#"{"role_id": "env://HOME", "secret_id": "file:///nonexistent/secret-id", "local_storage": {"path": "/a"}}"#;
        let warning = format!(
            "{shown} is readable by all users and holds secrets (role_id, secret_id): chmod 600 {shown}"
        );
        for (json, mode, expected) in [
            (literal, 0o644, Some(warning.as_str())),
            (literal, 0o604, Some(warning.as_str())),
            (literal, 0o600, None),
            (literal, 0o640, None),
            (referenced, 0o644, None),
        ] {
            std::fs::write(&path, json).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let warnings = Config::load(&path, &|_| None).unwrap().warnings;
            match expected {
                Some(text) => assert!(
                    warnings.len() == 1
                        && warnings[0].contains(text)
                        && !warnings[0].contains("s3cr3t"),
                    "row {json} {mode:o}: {warnings:?}"
                ),
                None => assert!(warnings.is_empty(), "row {json} {mode:o}: {warnings:?}"),
            }
        }
        // The text alone names no file whose permissions could be looked at.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let text = Config::from_text(literal.as_bytes(), &path, &|_| None).unwrap();
        assert!(text.warnings.is_empty(), "{:?}", text.warnings);
    }

    #[test]
    fn a_config_file_that_cannot_be_read_or_is_too_large_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.json");
        let padding = "x".repeat(2 * 1024 * 1024);
        std::fs::write(&big, format!(r#"{{"namespace": "{padding}"}}"#)).unwrap();
        let big_message = format!(
            "cannot read config file {}: it is larger than 1024 KiB",
            big.display()
        );
        for (path, expected) in [
            (big.as_path(), big_message.as_str()),
            (
                Path::new("/dev/zero"),
                "cannot read config file /dev/zero: it is larger than 1024 KiB",
            ),
            (
                Path::new("/nonexistent/snapshot.json"),
                "cannot read config file /nonexistent/snapshot.json",
            ),
            (dir.path(), "cannot read config file"),
        ] {
            let error = Config::load(path, &|_| None).unwrap_err().to_string();
            assert!(
                error.contains(expected),
                "row {}: {}",
                path.display(),
                &error[..200.min(error.len())]
            );
        }
    }
}
