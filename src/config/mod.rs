//! The configuration file: the original Go agent's JSON keys, unchanged, plus a few new
//! optional ones, validated in full before anything else runs.
//!
//! [`RawConfig`] mirrors the file (unknown keys are an error, so a typo like `frequncy` is
//! caught); [`Config::load`] turns it into a [`Config`] in which every value is typed and
//! checked: durations parsed, paths present and writable, token files readable, TLS files
//! parsed. Every failure is a [`ConfigError`] naming the file and the key (or the environment
//! variable), which `main` maps to exit code 2.
//!
//! As in the Go agent, an empty string means "not set", and a storage section whose main key
//! is empty (`"local_storage": {"path": ""}`) is disabled, so existing files keep working.
//! Vault's standard environment variables fill in what the file leaves unset, as the Vault
//! CLI applies them; a key in the file wins over the variable.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::duration;
use crate::secret::Secret;

mod storage;

pub use storage::{AzureConfig, GcsConfig, S3Config, StorageConfig, StorageKind};

/// Where the config file is read from when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/vault.d/snapshot.json";
/// `addr` when neither the file nor `VAULT_ADDR` sets it.
pub const DEFAULT_ADDR: &str = "https://127.0.0.1:8200";
/// The Kubernetes service account token, when `k8s_token_path` is not set.
pub const DEFAULT_K8S_TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
const DEFAULT_FREQUENCY: Duration = Duration::from_secs(3600);

/// A configuration problem: the message names the file and the key. Exit code 2.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The file as written. Field names are the JSON keys.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    addr: Option<String>,
    retain: Option<i64>,
    frequency: Option<String>,
    role_id: Option<String>,
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
    /// Keep the newest `retain` snapshots in each storage; 0 keeps all.
    pub retain: u64,
    /// How often `run` takes a snapshot.
    pub frequency: Duration,
    /// Where the download is staged; `None` is the system temp dir.
    pub temp_dir: Option<PathBuf>,
    /// Every storage that receives snapshots.
    pub storages: Vec<StorageConfig>,
    /// Where to write the Prometheus metrics after each cycle, if anywhere.
    pub metrics_file: Option<PathBuf>,
}

/// How to reach Vault.
#[derive(Debug, Clone)]
pub struct VaultSettings {
    /// Base URL, without a trailing slash, e.g. `https://127.0.0.1:8200`.
    pub addr: String,
    /// `X-Vault-Namespace`, if any.
    pub namespace: Option<String>,
    /// Limit on the whole snapshot download; `None` waits as long as it takes.
    pub snapshot_timeout: Option<Duration>,
    /// TLS settings for ureq.
    pub tls: ureq::tls::TlsConfig,
    /// True when certificate verification is off (logged loudly).
    pub tls_skip_verify: bool,
}

/// How the agent gets its Vault token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// Read the token from a file (e.g. a Vault Agent sink) at every cycle.
    TokenFile(PathBuf),
    /// A fixed token from `VAULT_TOKEN`.
    StaticToken(Secret),
    /// AppRole login at `auth/<mount>/login`.
    AppRole {
        /// The auth mount, `approle` by default.
        mount: String,
        /// The role's role_id.
        role_id: String,
        /// The secret_id.
        secret_id: Secret,
    },
    /// Kubernetes login at `auth/<mount>/login` with the service account JWT.
    Kubernetes {
        /// The auth mount, `kubernetes` by default.
        mount: String,
        /// The Vault role.
        role: String,
        /// The file holding the service account JWT (re-read at every login).
        jwt_path: PathBuf,
    },
}

impl Config {
    /// Reads and validates the file at `path`; `env` looks up environment variables.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file and the key, for any problem.
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read(path)
            .map_err(|e| ConfigError(format!("cannot read config file {file}: {e}")))?;
        let raw: RawConfig =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(&text))
                .map_err(|e| {
                    let key = e.path().to_string();
                    let inner = e.into_inner();
                    if key == "." {
                        ConfigError(format!("{file}: {inner}"))
                    } else {
                        ConfigError(format!("{file}: key \"{key}\": {inner}"))
                    }
                })?;
        Validator { file, env }.validate(raw, path)
    }
}

struct Validator<'a> {
    file: String,
    env: &'a dyn Fn(&str) -> Option<String>,
}

/// A value and where it came from, for messages.
struct Sourced {
    value: String,
    from: String,
}

impl Validator<'_> {
    fn err(&self, key: &str, problem: impl fmt::Display) -> ConfigError {
        ConfigError(format!("{}: key \"{key}\": {problem}", self.file))
    }

    fn env_err(name: &str, problem: impl fmt::Display) -> ConfigError {
        ConfigError(format!("environment variable {name}: {problem}"))
    }

    /// The key's value if set and non-empty, else the environment variable's.
    fn key_or_env(&self, key: &str, value: Option<String>, var: &str) -> Option<Sourced> {
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

    fn validate(&self, raw: RawConfig, source: &Path) -> Result<Config, ConfigError> {
        let retain = match raw.retain {
            None => 0,
            Some(n) => u64::try_from(n)
                .map_err(|_| self.err("retain", format!("must be 0 or more, not {n}")))?,
        };
        let frequency = match non_empty(raw.frequency) {
            None => DEFAULT_FREQUENCY,
            Some(text) => self.positive_duration("frequency", &text)?,
        };
        let snapshot_timeout = non_empty(raw.timeout)
            .map(|text| self.positive_duration("timeout", &text))
            .transpose()?;
        let temp_dir = non_empty(raw.temp_dir)
            .map(|dir| self.writable_dir("temp_dir", &dir))
            .transpose()?;
        let storages = self.storages(storage::RawStorages {
            local: raw.local_storage,
            aws: raw.aws_storage,
            google: raw.google_storage,
            azure: raw.azure_storage,
        })?;
        let metrics_file = non_empty(raw.metrics_file)
            .map(|file| self.metrics_file(&file))
            .transpose()?;
        let vault = VaultSettings {
            addr: self.addr(raw.addr)?,
            namespace: self
                .key_or_env("namespace", raw.namespace, "VAULT_NAMESPACE")
                .map(|s| s.value),
            snapshot_timeout,
            tls_skip_verify: self.skip_verify(raw.tls_skip_verify)?,
            tls: ureq::tls::TlsConfig::default(),
        };
        let vault = self.tls(
            vault,
            raw.ca_cert,
            raw.ca_path,
            raw.client_cert,
            raw.client_key,
            raw.tls_server_name,
        )?;
        let auth = self.auth(
            raw.token_path,
            raw.vault_auth_method,
            raw.role_id,
            raw.secret_id,
            raw.approle,
            raw.k8s_auth_role,
            raw.k8s_auth_path,
            raw.k8s_token_path,
        )?;
        Ok(Config {
            source: source.to_path_buf(),
            vault,
            auth,
            retain,
            frequency,
            temp_dir,
            storages,
            metrics_file,
        })
    }

    fn metrics_file(&self, file: &str) -> Result<PathBuf, ConfigError> {
        let path = PathBuf::from(file);
        if path.is_dir() {
            return Err(self.err(
                "metrics_file",
                format!(
                    "{file} is a directory; name a file such as {file}/vault_raft_snapshot.prom"
                ),
            ));
        }
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        self.writable_dir("metrics_file", &dir.display().to_string())?;
        Ok(path)
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
        Ok(parsed)
    }

    fn writable_dir(&self, key: &str, dir: &str) -> Result<PathBuf, ConfigError> {
        let path = PathBuf::from(dir);
        let meta = std::fs::metadata(&path)
            .map_err(|e| self.err(key, format!("directory {dir} is not usable: {e}")))?;
        if !meta.is_dir() {
            return Err(self.err(key, format!("{dir} is not a directory")));
        }
        tempfile::Builder::new()
            .prefix(".vault-raft-snapshot-probe-")
            .tempfile_in(&path)
            .map_err(|e| self.err(key, format!("directory {dir} is not writable: {e}")))?;
        Ok(path)
    }

    fn addr(&self, addr: Option<String>) -> Result<String, ConfigError> {
        let Some(Sourced { value, from }) = self.key_or_env("addr", addr, "VAULT_ADDR") else {
            return Ok(DEFAULT_ADDR.to_string());
        };
        let trimmed = value.trim_end_matches('/');
        let uri: ureq::http::Uri = trimmed
            .parse()
            .map_err(|e| ConfigError(format!("{from}: invalid URL {value:?}: {e}")))?;
        let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
        if !scheme_ok || uri.host().is_none() {
            return Err(ConfigError(format!(
                "{from}: invalid URL {value:?}: expected http://host:port or https://host:port"
            )));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(ConfigError(format!(
                "{from}: invalid URL {value:?}: give only scheme, host and port, without a path"
            )));
        }
        Ok(trimmed.to_string())
    }

    fn skip_verify(&self, key: Option<bool>) -> Result<bool, ConfigError> {
        if let Some(skip) = key {
            return Ok(skip);
        }
        match non_empty((self.env)("VAULT_SKIP_VERIFY")) {
            None => Ok(false),
            Some(text) => parse_go_bool(&text).ok_or_else(|| {
                Self::env_err("VAULT_SKIP_VERIFY", format!("not a boolean: {text:?}"))
            }),
        }
    }

    fn tls(
        &self,
        mut vault: VaultSettings,
        ca_cert: Option<String>,
        ca_path: Option<String>,
        client_cert: Option<String>,
        client_key: Option<String>,
        server_name: Option<String>,
    ) -> Result<VaultSettings, ConfigError> {
        use ureq::tls::{Certificate, ClientCert, PemItem, RootCerts, TlsConfig};

        if let Some(Sourced { from, .. }) =
            self.key_or_env("tls_server_name", server_name, "VAULT_TLS_SERVER_NAME")
        {
            return Err(ConfigError(format!(
                "{from}: setting a TLS server name apart from the address is not supported yet; \
                 use that name as the host in addr (e.g. with an /etc/hosts entry)"
            )));
        }
        let read_pem = |sourced: &Sourced| -> Result<Vec<PemItem<'static>>, ConfigError> {
            let bytes = std::fs::read(&sourced.value).map_err(|e| {
                ConfigError(format!(
                    "{}: cannot read {}: {e}",
                    sourced.from, sourced.value
                ))
            })?;
            ureq::tls::parse_pem(&bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    ConfigError(format!(
                        "{}: {} is not valid PEM: {e}",
                        sourced.from, sourced.value
                    ))
                })
        };
        let certificates = |sourced: &Sourced, items: Vec<PemItem<'static>>| {
            let certs: Vec<Certificate<'static>> = items
                .into_iter()
                .filter_map(|item| match item {
                    PemItem::Certificate(c) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                Err(ConfigError(format!(
                    "{}: {} holds no PEM certificate",
                    sourced.from, sourced.value
                )))
            } else {
                Ok(certs)
            }
        };

        // Without ca_cert/ca_path, trust what the OS trusts (its store, SSL_CERT_FILE), where an
        // internal CA for Vault usually lives, rather than only the public web roots.
        let mut builder = TlsConfig::builder()
            .root_certs(RootCerts::PlatformVerifier)
            .disable_verification(vault.tls_skip_verify);
        // Vault's precedence: a CA file wins over a CA directory.
        if let Some(ca) = self.key_or_env("ca_cert", ca_cert, "VAULT_CACERT") {
            let certs = certificates(&ca, read_pem(&ca)?)?;
            builder = builder.root_certs(RootCerts::Specific(Arc::new(certs)));
        } else if let Some(dir) = self.key_or_env("ca_path", ca_path, "VAULT_CAPATH") {
            let entries = std::fs::read_dir(&dir.value).map_err(|e| {
                ConfigError(format!(
                    "{}: cannot read directory {}: {e}",
                    dir.from, dir.value
                ))
            })?;
            let mut certs = Vec::new();
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_file() {
                    let file = Sourced {
                        value: path.display().to_string(),
                        from: dir.from.clone(),
                    };
                    certs.extend(certificates(&file, read_pem(&file)?)?);
                }
            }
            if certs.is_empty() {
                return Err(ConfigError(format!(
                    "{}: directory {} holds no PEM certificates",
                    dir.from, dir.value
                )));
            }
            builder = builder.root_certs(RootCerts::Specific(Arc::new(certs)));
        }
        let cert = self.key_or_env("client_cert", client_cert, "VAULT_CLIENT_CERT");
        let key = self.key_or_env("client_key", client_key, "VAULT_CLIENT_KEY");
        match (cert, key) {
            (None, None) => {}
            (Some(cert), Some(key)) => {
                let chain = certificates(&cert, read_pem(&cert)?)?;
                let private_key = read_pem(&key)?
                    .into_iter()
                    .find_map(|item| match item {
                        PemItem::PrivateKey(k) => Some(k),
                        _ => None,
                    })
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "{}: {} holds no PEM private key",
                            key.from, key.value
                        ))
                    })?;
                builder =
                    builder.client_cert(Some(ClientCert::new_with_certs(&chain, private_key)));
            }
            (Some(one), None) | (None, Some(one)) => {
                return Err(ConfigError(format!(
                    "{}: both client_cert and client_key must be provided",
                    one.from
                )));
            }
        }
        vault.tls = builder.build();
        Ok(vault)
    }

    #[allow(clippy::too_many_arguments)]
    fn auth(
        &self,
        token_path: Option<String>,
        method: Option<String>,
        role_id: Option<String>,
        secret_id: Option<Secret>,
        approle: Option<String>,
        k8s_role: Option<String>,
        k8s_mount: Option<String>,
        k8s_token_path: Option<String>,
    ) -> Result<AuthMethod, ConfigError> {
        if let Some(path) = non_empty(token_path) {
            read_token_file(Path::new(&path)).map_err(|e| self.err("token_path", e))?;
            return Ok(AuthMethod::TokenFile(PathBuf::from(path)));
        }
        let explicit = non_empty(method);
        let env_token = non_empty((self.env)("VAULT_TOKEN")).map(Secret::new);
        match explicit.as_deref().unwrap_or("approle") {
            "token" => env_token.map(AuthMethod::StaticToken).ok_or_else(|| {
                self.err(
                    "vault_auth_method",
                    "\"token\" needs token_path in the file or the VAULT_TOKEN environment variable",
                )
            }),
            "approle" => {
                let role_id = non_empty(role_id);
                let secret_id = secret_id.filter(|s| !s.is_empty());
                match (role_id, secret_id, env_token) {
                    (Some(role_id), Some(secret_id), _) => Ok(AuthMethod::AppRole {
                        mount: non_empty(approle).unwrap_or_else(|| "approle".into()),
                        role_id,
                        secret_id,
                    }),
                    // Like the Vault CLI: with nothing else configured, VAULT_TOKEN is used.
                    (None, None, Some(token)) if explicit.is_none() => {
                        Ok(AuthMethod::StaticToken(token))
                    }
                    (None, _, _) => Err(self.err(
                        "role_id",
                        "AppRole authentication needs role_id and secret_id (or set token_path)",
                    )),
                    (Some(_), None, _) => Err(self.err(
                        "secret_id",
                        "AppRole authentication needs role_id and secret_id (or set token_path)",
                    )),
                }
            }
            "k8s" | "kubernetes" => {
                let role = non_empty(k8s_role).ok_or_else(|| {
                    self.err("k8s_auth_role", "Kubernetes authentication needs k8s_auth_role")
                })?;
                let (jwt_path, key) = match non_empty(k8s_token_path) {
                    Some(path) => (PathBuf::from(path), "k8s_token_path"),
                    None => (PathBuf::from(DEFAULT_K8S_TOKEN_PATH), "k8s_token_path (default)"),
                };
                read_token_file(&jwt_path).map_err(|e| self.err(key, e))?;
                Ok(AuthMethod::Kubernetes {
                    mount: non_empty(k8s_mount).unwrap_or_else(|| "kubernetes".into()),
                    role,
                    jwt_path,
                })
            }
            other => Err(self.err(
                "vault_auth_method",
                format!("unknown method {other:?}: use \"approle\", \"k8s\" or \"token\""),
            )),
        }
    }
}

/// Reads a token or JWT file, trimmed. Used at validation and again at every use, so a
/// rotated token is picked up.
///
/// # Errors
/// A message naming the file when it cannot be read or is empty (never its content).
pub fn read_token_file(path: &Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read token file {}: {e}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("token file {} is empty", path.display()));
    }
    Ok(Secret::new(token))
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fixture {
        dir: tempfile::TempDir,
        env: HashMap<String, String>,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("snaps")).unwrap();
            Self {
                dir,
                env: HashMap::new(),
            }
        }

        fn snaps(&self) -> String {
            self.dir.path().join("snaps").display().to_string()
        }

        fn load(&self, json: &str) -> Result<Config, ConfigError> {
            let path = self.dir.path().join("snapshot.json");
            std::fs::write(&path, json.replace("SNAPS", &self.snaps())).unwrap();
            Config::load(&path, &|name| self.env.get(name).cloned())
        }

        fn error(&self, json: &str) -> String {
            match self.load(json) {
                Ok(_) => panic!("accepted {json}"),
                Err(e) => e.to_string(),
            }
        }
    }

    const MINIMAL: &str =
        r#"{"role_id": "r", "secret_id": "s", "local_storage": {"path": "SNAPS"}}"#;

    #[test]
    fn the_original_agents_file_loads_with_its_defaults() {
        let fixture = Fixture::new();
        let config = fixture.load(MINIMAL).unwrap();
        assert_eq!(config.vault.addr, DEFAULT_ADDR);
        assert_eq!(config.retain, 0);
        assert_eq!(config.frequency, Duration::from_secs(3600));
        assert!(!config.vault.tls_skip_verify);
        assert_eq!(
            config.auth,
            AuthMethod::AppRole {
                mount: "approle".into(),
                role_id: "r".into(),
                secret_id: Secret::new("s"),
            }
        );
        assert_eq!(
            config.storages,
            [StorageConfig {
                retain: None,
                kind: StorageKind::Local {
                    path: PathBuf::from(fixture.snaps())
                }
            }]
        );
    }

    #[test]
    fn every_original_key_is_accepted() {
        let fixture = Fixture::new();
        let config = fixture
            .load(
                r#"{"addr": "http://vault.internal:8200/", "retain": 72, "frequency": "1h30m",
                    "role_id": "r", "secret_id": "s", "approle": "snap-approle",
                    "vault_auth_method": "approle", "k8s_auth_role": "", "k8s_auth_path": "",
                    "local_storage": {"path": "SNAPS"},
                    "aws_storage": {"s3_bucket": "", "s3_region": ""},
                    "google_storage": {"bucket": ""},
                    "azure_storage": {"account_name": "", "container_name": ""}}"#,
            )
            .unwrap();
        assert_eq!(config.vault.addr, "http://vault.internal:8200");
        assert_eq!(config.retain, 72);
        assert_eq!(config.frequency, Duration::from_secs(5400));
        assert!(
            matches!(config.auth, AuthMethod::AppRole { ref mount, .. } if mount == "snap-approle")
        );
    }

    #[test]
    fn a_typo_names_the_key_and_the_file() {
        let fixture = Fixture::new();
        let error = fixture.error(
            r#"{"frequncy": "5m", "role_id": "r", "secret_id": "s", "local_storage": {"path": "SNAPS"}}"#,
        );
        assert!(error.contains("snapshot.json"), "{error}");
        assert!(error.contains("unknown field `frequncy`"), "{error}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let fixture = Fixture::new();
        let cases = [
            (
                r#""frequency": "5 minutes""#,
                "key \"frequency\": invalid duration",
            ),
            (
                r#""frequency": "0s""#,
                "key \"frequency\": must be longer than 0",
            ),
            (r#""timeout": "soon""#, "key \"timeout\": invalid duration"),
            (r#""retain": -1"#, "key \"retain\": must be 0 or more"),
            (r#""retain": "three""#, "key \"retain\": invalid type"),
            (r#""addr": "vault:8200""#, "key \"addr\": invalid URL"),
            (r#""addr": "https://vault:8200/ui""#, "without a path"),
            (
                r#""vault_auth_method": "ldap""#,
                "key \"vault_auth_method\": unknown method",
            ),
            (
                r#""temp_dir": "/nonexistent/tmp""#,
                "key \"temp_dir\": directory /nonexistent/tmp",
            ),
            (
                r#""ca_cert": "/nonexistent/ca.pem""#,
                "key \"ca_cert\": cannot read",
            ),
            (
                r#""client_cert": "/nonexistent/c.pem""#,
                "both client_cert and client_key",
            ),
            (
                r#""tls_server_name": "vault.internal""#,
                "key \"tls_server_name\"",
            ),
            (
                r#""aws_storage": {"s3_bucket": "b", "s3_endpoint": "minio:9000"}"#,
                "key \"aws_storage.s3_endpoint\": invalid URL",
            ),
            (
                r#""aws_storage": [{"s3_bucket": "a"}, {"s3_bucket": "b", "s3_regoin": "x"}]"#,
                "key \"aws_storage[1].s3_regoin\": unknown field `s3_regoin`",
            ),
            (
                r#""aws_storage": {"s3_bucket": "b", "access_key_id": "AKIA"}"#,
                "key \"aws_storage.access_key_id\": set both",
            ),
            (
                r#""google_storage": {"bucket": "b", "retain": -2}"#,
                "key \"google_storage.retain\": must be 0 or more",
            ),
            (
                r#""google_storage": {"bucket": "b", "credentials_file": "/nonexistent/sa.json"}"#,
                "key \"google_storage.credentials_file\": cannot read",
            ),
            (
                r#""azure_storage": {"container_name": "c"}"#,
                "key \"azure_storage.account_name\": is required",
            ),
            (
                r#""aws_storage": "s3://bucket""#,
                "key \"aws_storage\": must be an object or a list",
            ),
        ];
        for (entry, expected) in cases {
            let json = format!(
                r#"{{{entry}, "role_id": "r", "secret_id": "s", "local_storage": {{"path": "SNAPS"}}}}"#
            );
            let error = fixture.error(&json);
            assert!(error.contains(expected), "{entry}: {error}");
            assert!(error.contains("snapshot.json"), "{entry}: {error}");
        }
    }

    #[test]
    fn storage_problems_are_caught_before_anything_runs() {
        let fixture = Fixture::new();
        let none = fixture.error(r#"{"role_id": "r", "secret_id": "s"}"#);
        assert!(none.contains("no storage configured"), "{none}");
        let empty =
            fixture.error(r#"{"role_id": "r", "secret_id": "s", "local_storage": {"path": ""}}"#);
        assert!(empty.contains("no storage configured"), "{empty}");
        let missing = fixture.error(
            r#"{"role_id": "r", "secret_id": "s", "local_storage": {"path": "/nonexistent/snaps"}}"#,
        );
        assert!(missing.contains("key \"local_storage.path\""), "{missing}");
        let unknown = fixture.error(
            r#"{"role_id": "r", "secret_id": "s", "local_storage": {"path": "SNAPS", "pth": 1}}"#,
        );
        assert!(
            unknown.contains("local_storage") && unknown.contains("pth"),
            "{unknown}"
        );
    }

    #[test]
    fn auth_methods_are_chosen_as_documented() {
        let mut fixture = Fixture::new();
        let token_file = fixture.dir.path().join("token");
        std::fs::write(&token_file, "hvs.from-file\n").unwrap();
        let json = format!(
            r#"{{"token_path": "{}", "role_id": "r", "secret_id": "s", "local_storage": {{"path": "SNAPS"}}}}"#,
            token_file.display()
        );
        assert_eq!(
            fixture.load(&json).unwrap().auth,
            AuthMethod::TokenFile(token_file.clone())
        );

        let missing = fixture
            .error(r#"{"token_path": "/nonexistent/token", "local_storage": {"path": "SNAPS"}}"#);
        assert!(
            missing.contains("key \"token_path\": cannot read token file"),
            "{missing}"
        );

        let no_role = fixture.error(r#"{"local_storage": {"path": "SNAPS"}}"#);
        assert!(no_role.contains("key \"role_id\""), "{no_role}");
        let no_secret = fixture.error(r#"{"role_id": "r", "local_storage": {"path": "SNAPS"}}"#);
        assert!(no_secret.contains("key \"secret_id\""), "{no_secret}");

        fixture.env.insert("VAULT_TOKEN".into(), "hvs.env".into());
        let implicit = fixture
            .load(r#"{"local_storage": {"path": "SNAPS"}}"#)
            .unwrap();
        assert_eq!(
            implicit.auth,
            AuthMethod::StaticToken(Secret::new("hvs.env"))
        );
        let explicit = fixture
            .load(r#"{"vault_auth_method": "token", "local_storage": {"path": "SNAPS"}}"#)
            .unwrap();
        assert_eq!(
            explicit.auth,
            AuthMethod::StaticToken(Secret::new("hvs.env"))
        );

        let jwt = fixture.dir.path().join("jwt");
        std::fs::write(&jwt, "eyJ.jwt").unwrap();
        let k8s = fixture
            .load(&format!(
                r#"{{"vault_auth_method": "k8s", "k8s_auth_role": "snap", "k8s_token_path": "{}", "local_storage": {{"path": "SNAPS"}}}}"#,
                jwt.display()
            ))
            .unwrap();
        assert_eq!(
            k8s.auth,
            AuthMethod::Kubernetes {
                mount: "kubernetes".into(),
                role: "snap".into(),
                jwt_path: jwt
            }
        );
        let no_role =
            fixture.error(r#"{"vault_auth_method": "k8s", "local_storage": {"path": "SNAPS"}}"#);
        assert!(no_role.contains("key \"k8s_auth_role\""), "{no_role}");
    }

    #[test]
    fn vault_environment_variables_fill_in_and_the_file_wins() {
        let mut fixture = Fixture::new();
        fixture
            .env
            .insert("VAULT_ADDR".into(), "https://env-vault:8200".into());
        fixture
            .env
            .insert("VAULT_NAMESPACE".into(), "team-a".into());
        fixture
            .env
            .insert("VAULT_SKIP_VERIFY".into(), "true".into());
        let config = fixture.load(MINIMAL).unwrap();
        assert_eq!(config.vault.addr, "https://env-vault:8200");
        assert_eq!(config.vault.namespace.as_deref(), Some("team-a"));
        assert!(config.vault.tls_skip_verify);

        let file_wins = fixture
            .load(r#"{"addr": "http://file:8200", "tls_skip_verify": false, "role_id": "r", "secret_id": "s", "local_storage": {"path": "SNAPS"}}"#)
            .unwrap();
        assert_eq!(file_wins.vault.addr, "http://file:8200");
        assert!(!file_wins.vault.tls_skip_verify);

        fixture
            .env
            .insert("VAULT_SKIP_VERIFY".into(), "maybe".into());
        let error = fixture.error(MINIMAL);
        assert!(
            error.contains("environment variable VAULT_SKIP_VERIFY"),
            "{error}"
        );
        fixture.env.remove("VAULT_SKIP_VERIFY");
        fixture
            .env
            .insert("VAULT_CACERT".into(), "/nonexistent/ca.pem".into());
        let error = fixture.error(MINIMAL);
        assert!(
            error.contains("environment variable VAULT_CACERT"),
            "{error}"
        );
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let fixture = Fixture::new();
        let config = fixture
            .load(r#"{"role_id": "r", "secret_id": "s3cr3t-value", "local_storage": {"path": "SNAPS"}}"#)
            .unwrap();
        assert!(!format!("{config:?}").contains("s3cr3t-value"));
    }

    #[test]
    fn not_json_is_reported_with_the_file() {
        let fixture = Fixture::new();
        let error = fixture.error("{ not json");
        assert!(
            error.contains("snapshot.json") && error.contains("line 1"),
            "{error}"
        );
        let missing = Config::load(Path::new("/nonexistent/snapshot.json"), &|_| None).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("cannot read config file /nonexistent/snapshot.json")
        );
    }
}

/// One documented configuration key, for the man page. A test checks this list against the
/// keys the parser accepts, so it cannot drift.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    /// The JSON key (`section.key` inside a storage object).
    pub key: &'static str,
    /// The default, or `""` when there is none.
    pub default: &'static str,
    /// The environment variable that fills it in, or `""`.
    pub env: &'static str,
    /// What it does.
    pub doc: &'static str,
}

/// Every configuration key.
pub const KEYS: &[KeyDoc] = &[
    KeyDoc {
        key: "addr",
        default: DEFAULT_ADDR,
        env: "VAULT_ADDR",
        doc: "Vault's address: this node's, or a load balancer's.",
    },
    KeyDoc {
        key: "namespace",
        default: "",
        env: "VAULT_NAMESPACE",
        doc: "Vault namespace, sent as X-Vault-Namespace.",
    },
    KeyDoc {
        key: "timeout",
        default: "none",
        env: "",
        doc: "Limit on the whole snapshot download, as a Go duration (e.g. 30m).",
    },
    KeyDoc {
        key: "ca_cert",
        default: "the system's trusted CAs",
        env: "VAULT_CACERT",
        doc: "PEM file of the CA certificates that sign Vault's certificate.",
    },
    KeyDoc {
        key: "ca_path",
        default: "",
        env: "VAULT_CAPATH",
        doc: "Directory of PEM CA files; ca_cert wins when both are set.",
    },
    KeyDoc {
        key: "client_cert",
        default: "",
        env: "VAULT_CLIENT_CERT",
        doc: "PEM client certificate for mutual TLS (with client_key).",
    },
    KeyDoc {
        key: "client_key",
        default: "",
        env: "VAULT_CLIENT_KEY",
        doc: "PEM private key of client_cert.",
    },
    KeyDoc {
        key: "tls_skip_verify",
        default: "false",
        env: "VAULT_SKIP_VERIFY",
        doc: "Do not verify Vault's certificate (a warning is logged at every start).",
    },
    KeyDoc {
        key: "tls_server_name",
        default: "",
        env: "VAULT_TLS_SERVER_NAME",
        doc: "Not supported yet: refused with an error; use the certificate's name in addr.",
    },
    KeyDoc {
        key: "token_path",
        default: "",
        env: "",
        doc: "File holding a Vault token (e.g. a Vault Agent sink), read at every cycle; when set, the other methods are skipped.",
    },
    KeyDoc {
        key: "vault_auth_method",
        default: "approle",
        env: "",
        doc: "approle, k8s (or kubernetes), or token (VAULT_TOKEN).",
    },
    KeyDoc {
        key: "role_id",
        default: "",
        env: "",
        doc: "AppRole role_id.",
    },
    KeyDoc {
        key: "secret_id",
        default: "",
        env: "",
        doc: "AppRole secret_id.",
    },
    KeyDoc {
        key: "approle",
        default: "approle",
        env: "",
        doc: "AppRole auth mount.",
    },
    KeyDoc {
        key: "k8s_auth_role",
        default: "",
        env: "",
        doc: "Vault role for Kubernetes login.",
    },
    KeyDoc {
        key: "k8s_auth_path",
        default: "kubernetes",
        env: "",
        doc: "Kubernetes auth mount.",
    },
    KeyDoc {
        key: "k8s_token_path",
        default: DEFAULT_K8S_TOKEN_PATH,
        env: "",
        doc: "File holding the service account JWT.",
    },
    KeyDoc {
        key: "frequency",
        default: "1h",
        env: "",
        doc: "How often run takes a snapshot, as a Go duration: 30s, 5m, 1h, 1h30m.",
    },
    KeyDoc {
        key: "retain",
        default: "0",
        env: "",
        doc: "Keep the newest retain snapshots in each storage, by the time in their names; 0 keeps all.",
    },
    KeyDoc {
        key: "temp_dir",
        default: "the system temp dir",
        env: "TMPDIR",
        doc: "Where the download is staged. On the same filesystem as local_storage.path, the snapshot is linked instead of copied.",
    },
    KeyDoc {
        key: "metrics_file",
        default: "",
        env: "",
        doc: "Prometheus text file for node_exporter's textfile collector, written after every cycle; read by the status command.",
    },
    KeyDoc {
        key: "local_storage.path",
        default: "",
        env: "",
        doc: "Directory for raft_snapshot-<unix ns>.snap files; must exist and be writable.",
    },
    KeyDoc {
        key: "aws_storage.s3_bucket",
        default: "",
        env: "",
        doc: "S3 bucket (required to enable S3).",
    },
    KeyDoc {
        key: "aws_storage.s3_key_prefix",
        default: "raft_snapshots",
        env: "",
        doc: "Key prefix; snapshots are <prefix>/raft_snapshot-<unix ns>.snap.",
    },
    KeyDoc {
        key: "aws_storage.s3_region",
        default: "us-east-1",
        env: "AWS_REGION, AWS_DEFAULT_REGION",
        doc: "Region.",
    },
    KeyDoc {
        key: "aws_storage.s3_endpoint",
        default: "AWS",
        env: "",
        doc: "Endpoint of an S3-compatible service, e.g. http://127.0.0.1:9000.",
    },
    KeyDoc {
        key: "aws_storage.s3_force_path_style",
        default: "false",
        env: "",
        doc: "Path-style addressing (endpoint/bucket/key), for S3-compatible services.",
    },
    KeyDoc {
        key: "aws_storage.access_key_id",
        default: "the AWS credential chain",
        env: "AWS_ACCESS_KEY_ID",
        doc: "Static access key (with secret_access_key); otherwise environment, profile, web identity, container or instance credentials.",
    },
    KeyDoc {
        key: "aws_storage.secret_access_key",
        default: "",
        env: "AWS_SECRET_ACCESS_KEY",
        doc: "Static secret key.",
    },
    KeyDoc {
        key: "aws_storage.s3_server_side_encryption",
        default: "false",
        env: "",
        doc: "SSE-S3 (AES256) on every snapshot.",
    },
    KeyDoc {
        key: "aws_storage.s3_kms_key_id",
        default: "",
        env: "",
        doc: "SSE-KMS with this key id or ARN.",
    },
    KeyDoc {
        key: "aws_storage.s3_storage_class",
        default: "STANDARD",
        env: "",
        doc: "Storage class, e.g. STANDARD_IA.",
    },
    KeyDoc {
        key: "aws_storage.s3_static_snapshot_name",
        default: "",
        env: "",
        doc: "Write every snapshot to this one object name (overwritten each time); no retention then.",
    },
    KeyDoc {
        key: "google_storage.bucket",
        default: "",
        env: "",
        doc: "GCS bucket (required to enable GCS).",
    },
    KeyDoc {
        key: "google_storage.prefix",
        default: "none",
        env: "",
        doc: "Object name prefix.",
    },
    KeyDoc {
        key: "google_storage.endpoint",
        default: "https://storage.googleapis.com",
        env: "STORAGE_EMULATOR_HOST",
        doc: "JSON API endpoint; STORAGE_EMULATOR_HOST also turns credentials off, for an emulator.",
    },
    KeyDoc {
        key: "google_storage.credentials_file",
        default: "the Google credential chain",
        env: "GOOGLE_APPLICATION_CREDENTIALS",
        doc: "Service-account or authorized-user JSON; otherwise the GCE/GKE metadata server.",
    },
    KeyDoc {
        key: "azure_storage.account_name",
        default: "",
        env: "AZURE_STORAGE_ACCOUNT",
        doc: "Storage account.",
    },
    KeyDoc {
        key: "azure_storage.account_key",
        default: "",
        env: "AZURE_STORAGE_KEY",
        doc: "Shared key; without it, sas_token or managed identity is used.",
    },
    KeyDoc {
        key: "azure_storage.container_name",
        default: "",
        env: "",
        doc: "Blob container (required to enable Azure).",
    },
    KeyDoc {
        key: "azure_storage.prefix",
        default: "none",
        env: "",
        doc: "Blob name prefix.",
    },
    KeyDoc {
        key: "azure_storage.endpoint",
        default: "https://<account>.blob.core.windows.net",
        env: "",
        doc: "Blob endpoint, for Azurite or sovereign clouds.",
    },
    KeyDoc {
        key: "azure_storage.sas_token",
        default: "",
        env: "",
        doc: "A SAS token instead of the shared key.",
    },
    KeyDoc {
        key: "<storage>.retain",
        default: "the top-level retain",
        env: "",
        doc: "Any storage object may set its own retain.",
    },
];

#[cfg(test)]
mod key_doc_tests {
    use super::KEYS;

    /// The keys serde accepts at the top level, from its "expected one of" message.
    fn accepted_keys() -> Vec<String> {
        let error = serde_json::from_str::<super::RawConfig>(r#"{"__probe__": 1}"#)
            .err()
            .unwrap()
            .to_string();
        super::storage::expected_fields(&error)
    }

    #[test]
    fn every_storage_key_is_documented_and_every_documented_one_accepted() {
        for (section, fields) in super::storage::accepted_fields() {
            for field in &fields {
                let documented = KEYS.iter().any(|d| {
                    d.key == format!("{section}.{field}")
                        || (field == "retain" && d.key == "<storage>.retain")
                });
                assert!(documented, "{section}.{field} is not documented");
            }
            for doc in KEYS
                .iter()
                .filter(|d| d.key.starts_with(&format!("{section}.")))
            {
                let field = doc.key.split_once('.').unwrap().1;
                assert!(
                    fields.iter().any(|f| f == field),
                    "{} is documented but not accepted",
                    doc.key
                );
            }
        }
    }

    #[test]
    fn every_accepted_key_is_documented_and_every_documented_key_accepted() {
        let accepted = accepted_keys();
        assert!(accepted.len() > 20, "{accepted:?}");
        for key in &accepted {
            let documented = KEYS
                .iter()
                .any(|d| d.key == key || d.key.starts_with(&format!("{key}.")));
            assert!(documented, "{key} is not documented");
        }
        for doc in KEYS.iter().filter(|d| !d.key.starts_with('<')) {
            let top = doc.key.split('.').next().unwrap();
            assert!(
                accepted.iter().any(|k| k == top),
                "{} is documented but not accepted",
                doc.key
            );
        }
    }
}
