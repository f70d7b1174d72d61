//! The configuration file: the original Go agent's JSON keys, unchanged, plus a few new
//! optional ones, validated in full before anything else runs.
//!
//! Two steps. [`Config::load`] reads the file and turns it into a [`Config`] in which every
//! value is typed and checked (unknown keys, a key written twice, durations, URLs, values of
//! a fixed set, keys that need or exclude each other) without touching anything else on
//! disk. [`Config::probe`] then checks, for what a command uses ([`Uses`]), that the paths
//! and credentials it names are usable here: directories writable, token files and
//! `file://` secrets readable; [`probe`] has one function per thing probed.
//! [`Config::load_for`] is both. Every failure is a [`ConfigError`] naming the file and the
//! key (or the environment variable), which `main` maps to exit code 2. TLS files are read
//! when the Vault client is built (`crate::vault::tls`), not here.
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
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::logging::LogFormat;
use crate::retention::RetentionPolicy;
use validator::{Sourced, Validator, non_empty, parse_go_bool};

mod auth;
mod keys;
mod load;
pub mod probe;
mod retention;
mod storage;
mod unique_keys;
mod validator;
mod vault;

pub use auth::{AuthMethod, read_token_file};
pub use keys::{KEYS, KeyDoc, Section};
pub use storage::{
    AzureConfig, GcsConfig, GoogleCredentials, S3Config, StorageConfig, StorageKind, select_storage,
};
pub use vault::{CaSource, ClientIdentity, NamedPath, TlsSettings, VaultSettings};

/// Where the config file is read from when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/vault.d/snapshot.json";
/// `addr` when neither the file nor `VAULT_ADDR` sets it.
pub const DEFAULT_ADDR: &str = "https://127.0.0.1:8200";
/// The Kubernetes service account token, when `k8s_token_path` is not set.
pub const DEFAULT_K8S_TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
const DEFAULT_FREQUENCY: Duration = Duration::from_secs(3600);
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
    /// Text or JSON log lines.
    pub log_format: LogFormat,
    /// What is legal but probably a mistake; logged as warnings at start.
    pub warnings: Vec<String>,
}

/// What a command uses of the config, for [`Config::probe`]. Every key is always parsed and
/// type-checked; the files and directories a command does not use are not probed, so `status` run by a read-only
/// monitoring user, or `prune` while a Vault Agent token sink is absent, still work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uses {
    /// Vault's credentials: token files and AppRole secrets must be readable.
    pub vault: bool,
    /// The storages: their directories must exist and their credentials be readable.
    pub storages: bool,
    /// ... and the local directories must be writable (storing, pruning).
    pub storages_writable: bool,
    /// `temp_dir` must be writable.
    pub staging: bool,
    /// `metrics_file`'s directory must be writable.
    pub metrics_written: bool,
}

impl Uses {
    /// `once`, `run`, `check`: everything.
    pub const ALL: Uses = Uses {
        vault: true,
        storages: true,
        storages_writable: true,
        staging: true,
        metrics_written: true,
    };
    /// `status`: only the metrics file's path, to read it.
    pub const NOTHING: Uses = Uses {
        vault: false,
        storages: false,
        storages_writable: false,
        staging: false,
        metrics_written: false,
    };
    /// `prune`: the storages, to list and delete.
    pub const PRUNE: Uses = Uses {
        storages: true,
        storages_writable: true,
        ..Uses::NOTHING
    };
    /// `list`, `fetch`: the storages, to read.
    pub const READ_STORAGES: Uses = Uses {
        storages: true,
        ..Uses::NOTHING
    };
    /// `restore`: the storages to read, staging, and Vault.
    pub const RESTORE: Uses = Uses {
        vault: true,
        storages: true,
        staging: true,
        ..Uses::NOTHING
    };
}

/// The largest config file read: a config is a few KiB; this keeps `-c /dev/zero` or a wrong
/// file from filling memory.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

impl Config {
    /// [`Config::load`], then [`Config::probe`] of what `uses` names: what a command calls
    /// before it starts.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file and the key (or the environment variable), for any
    /// problem.
    pub fn load_for(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        uses: Uses,
    ) -> Result<Config, ConfigError> {
        let config = Self::load(path, env)?;
        config.probe(env, uses)?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::RetentionPolicy;
    use crate::secret::{Secret, SecretRef};
    use std::collections::HashMap;
    use std::path::Path;

    struct Fixture {
        dir: tempfile::TempDir,
        env: HashMap<String, String>,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("snaps")).unwrap();
            std::fs::create_dir(dir.path().join("snaps2")).unwrap();
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
            let snaps2 = self.dir.path().join("snaps2").display().to_string();
            let json = json
                .replace("SNAPS2", &snaps2)
                .replace("SNAPS", &self.snaps());
            std::fs::write(&path, json).unwrap();
            Config::load_for(&path, &|name| self.env.get(name).cloned(), Uses::ALL)
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
        assert_eq!(config.retention, RetentionPolicy::default());
        assert_eq!(config.frequency, Duration::from_secs(3600));
        assert!(!config.vault.tls.skip_verify);
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
                    path: PathBuf::from(fixture.snaps())
                },
                credentials_from: None,
            }]
        );
    }

    #[test]
    fn storages_are_named_by_kind_and_position_or_by_their_name_key() {
        let fixture = Fixture::new();
        let config = fixture
            .load(
                r#"{"role_id": "r", "secret_id": "s",
                    "local_storage": [{"path": ""}, {"path": "SNAPS"}, {"path": "SNAPS2", "name": "disk"}],
                    "aws_storage": {"s3_bucket": "b"}}"#,
            )
            .unwrap();
        let names: Vec<&str> = config.storages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["local-1", "disk", "aws-0"]);
        let select = |wanted| select_storage(&config.storages, wanted).map_err(|e| e.to_string());
        assert_eq!(select("disk"), Ok(1));
        assert_eq!(select("aws"), Ok(2));
        assert_eq!(select("aws-0"), Ok(2));
        let ambiguous = select("local").unwrap_err();
        assert!(
            ambiguous.contains("2 storages are of kind \"local\""),
            "{ambiguous}"
        );
        let unknown = select("nas").unwrap_err();
        assert!(unknown.contains("local-1, disk, aws-0"), "{unknown}");
    }

    #[test]
    fn storage_names_must_be_unique_and_plain() {
        let fixture = Fixture::new();
        let twice = fixture.error(
            r#"{"role_id": "r", "secret_id": "s",
                "local_storage": [{"path": "SNAPS", "name": "aws-0"}],
                "aws_storage": {"s3_bucket": "b"}}"#,
        );
        assert!(
            twice.contains("aws_storage.name")
                && twice.contains("\"aws-0\" is already used by local_storage[0]"),
            "{twice}"
        );
        for bad in ["\"\"", "\"a b\"", "7", "\"x/y\""] {
            let error = fixture.error(&format!(
                r#"{{"role_id": "r", "secret_id": "s", "local_storage": {{"path": "SNAPS", "name": {bad}}}}}"#
            ));
            assert!(error.contains("local_storage.name"), "{bad}: {error}");
        }
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
        assert_eq!(config.retention, RetentionPolicy::keep_last(72));
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
        assert!(config.vault.tls.skip_verify);

        let file_wins = fixture
            .load(r#"{"addr": "http://file:8200", "tls_skip_verify": false, "role_id": "r", "secret_id": "s", "local_storage": {"path": "SNAPS"}}"#)
            .unwrap();
        assert_eq!(file_wins.vault.addr, "http://file:8200");
        assert!(!file_wins.vault.tls.skip_verify);

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
            .insert("VAULT_CACERT".into(), "/etc/vault/ca.pem".into());
        fixture.env.insert("TMPDIR".into(), fixture.snaps());
        let config = fixture.load(MINIMAL).unwrap();
        assert_eq!(
            config.vault.tls.ca,
            Some(CaSource::File(NamedPath {
                path: PathBuf::from("/etc/vault/ca.pem"),
                from: "environment variable VAULT_CACERT".into()
            }))
        );
        assert_eq!(config.temp_dir, PathBuf::from(fixture.snaps()));
        fixture
            .env
            .insert("TMPDIR".into(), "/nonexistent/tmp".into());
        let error = fixture.error(MINIMAL);
        assert!(
            error.contains("environment variable TMPDIR: directory /nonexistent/tmp"),
            "{error}"
        );
    }

    #[cfg(feature = "gcs")]
    #[test]
    fn google_application_credentials_is_checked_at_start() {
        let mut fixture = Fixture::new();
        let gcs = r#"{"role_id": "r", "secret_id": "s", "google_storage": {"bucket": "b"}}"#;
        fixture.env.insert(
            "GOOGLE_APPLICATION_CREDENTIALS".into(),
            "/nonexistent/sa.json".into(),
        );
        let error = fixture.error(gcs);
        assert!(
            error.contains("environment variable GOOGLE_APPLICATION_CREDENTIALS")
                && error.contains("cannot read"),
            "{error}"
        );
        fixture.env.remove("GOOGLE_APPLICATION_CREDENTIALS");
        fixture
            .env
            .insert("GCE_METADATA_HOST".into(), "127.0.0.1:9".into());
        let config = fixture.load(gcs).unwrap();
        let StorageKind::Gcs(loaded) = &config.storages[0].kind else {
            panic!("{:?}", config.storages);
        };
        assert_eq!(
            loaded.credentials,
            GoogleCredentials::Metadata("127.0.0.1:9".into())
        );
    }

    #[test]
    fn retention_keys_at_the_top_and_per_storage_replace_rather_than_merge() {
        let fixture = Fixture::new();
        let config = fixture
            .load(
                r#"{"role_id": "r", "secret_id": "s", "retain": 3, "retain_daily": 7,
                    "retain_weekly": 4, "retain_monthly": 12, "retain_yearly": 2,
                    "retain_hourly": 24, "retain_within": "72h",
                    "local_storage": [{"path": "SNAPS"}, {"path": "SNAPS2", "retain_monthly": 6}]}"#,
            )
            .unwrap();
        assert_eq!(
            config.retention,
            RetentionPolicy {
                last: 3,
                hourly: 24,
                daily: 7,
                weekly: 4,
                monthly: 12,
                yearly: 2,
                within: Some(Duration::from_secs(72 * 3600)),
            }
        );
        assert_eq!(config.storages[0].retention, None, "uses the top level");
        assert_eq!(
            config.storages[1].retention,
            Some(RetentionPolicy {
                monthly: 6,
                ..RetentionPolicy::default()
            }),
            "its own keys only, not merged with the top level"
        );
        let off = fixture
            .load(r#"{"role_id": "r", "secret_id": "s", "retain_within": "0s", "local_storage": {"path": "SNAPS"}}"#)
            .unwrap();
        assert!(off.retention.keeps_all());

        for (entry, expected) in [
            (
                r#""retain_daily": -1"#,
                "key \"retain_daily\": must be 0 or more",
            ),
            (
                r#""retain_within": "3 days""#,
                "key \"retain_within\": invalid duration",
            ),
            (
                r#""retain_fortnightly": 2"#,
                "unknown field `retain_fortnightly`",
            ),
            (
                r#""local_storage": {"path": "SNAPS", "retain_weekly": -3}"#,
                "key \"local_storage.retain_weekly\": must be 0 or more",
            ),
            (
                r#""local_storage": {"path": "SNAPS", "retain_within": "soon"}"#,
                "key \"local_storage.retain_within\": invalid duration",
            ),
        ] {
            let json = format!(
                r#"{{"role_id": "r", "secret_id": "s", "local_storage": {{"path": "SNAPS"}}, {entry}}}"#
            );
            let json = json.replacen(
                r#""local_storage": {"path": "SNAPS"}, "local_storage""#,
                r#""local_storage""#,
                1,
            );
            let error = fixture.error(&json);
            assert!(error.contains(expected), "{entry}: {error}");
        }
    }

    #[test]
    fn frequency_under_a_second_is_refused() {
        let fixture = Fixture::new();
        let base = r#""role_id": "r", "secret_id": "s", "local_storage": {"path": "SNAPS"}"#;
        for short in ["1ns", "500ms", "999ms"] {
            let error = fixture.error(&format!(r#"{{{base}, "frequency": "{short}"}}"#));
            assert!(
                error.contains("key \"frequency\"") && error.contains("under 1s"),
                "{short}: {error}"
            );
        }
        let ok = fixture
            .load(&format!(r#"{{{base}, "frequency": "1s"}}"#))
            .unwrap();
        assert_eq!(ok.frequency, Duration::from_secs(1));
    }

    #[test]
    fn a_newline_in_the_namespace_or_the_token_is_a_config_error() {
        let mut fixture = Fixture::new();
        let base = r#""local_storage": {"path": "SNAPS"}"#;
        let error = fixture.error(&format!(
            r#"{{{base}, "role_id": "r", "secret_id": "s", "namespace": "team-a\nteam-b"}}"#
        ));
        assert!(
            error.contains("key \"namespace\"") && error.contains("newline"),
            "{error}"
        );

        let token_file = fixture.dir.path().join("sink");
        std::fs::write(&token_file, "hvs.one\nhvs.two\n").unwrap();
        let error = fixture.error(&format!(
            r#"{{{base}, "token_path": "{}"}}"#,
            token_file.display()
        ));
        assert!(
            error.contains("key \"token_path\"") && error.contains("more than one line"),
            "{error}"
        );
        assert!(!error.contains("hvs.one"), "{error}");

        fixture
            .env
            .insert("VAULT_TOKEN".into(), "hvs.secret\r\nX-Injected: 1".into());
        let error = fixture.error(&format!("{{{base}}}"));
        assert!(
            error.contains("environment variable VAULT_TOKEN") && error.contains("newline"),
            "{error}"
        );
        assert!(!error.contains("hvs.secret"), "{error}");
    }

    #[test]
    fn an_empty_s3_bucket_beside_other_s3_keys_is_a_warning() {
        let fixture = Fixture::new();
        let base = r#""role_id": "r", "secret_id": "s", "local_storage": {"path": "SNAPS"}"#;
        let warned = fixture
            .load(&format!(
                r#"{{{base}, "aws_storage": {{"s3_bucket": "", "s3_region": "eu-west-1"}}}}"#
            ))
            .unwrap();
        assert_eq!(warned.storages.len(), 1);
        let about_s3 = |config: &Config| {
            config
                .warnings
                .iter()
                .filter(|w| w.contains("key \"aws_storage.s3_bucket\" is empty"))
                .count()
        };
        assert_eq!(about_s3(&warned), 1, "{:?}", warned.warnings);
        // Wholly empty, as the original agent's example configs have it: disabled quietly.
        let quiet = fixture
            .load(&format!(
                r#"{{{base}, "aws_storage": {{"s3_bucket": ""}}}}"#
            ))
            .unwrap();
        assert_eq!(about_s3(&quiet), 0, "{:?}", quiet.warnings);
    }

    #[test]
    fn two_local_storages_in_one_directory_are_refused() {
        let fixture = Fixture::new();
        let link = fixture.dir.path().join("link");
        std::os::unix::fs::symlink(fixture.snaps(), &link).unwrap();
        for second in ["SNAPS/", "SNAPS/.", &link.display().to_string()] {
            let error = fixture.error(&format!(
                r#"{{"role_id": "r", "secret_id": "s", "local_storage": [{{"path": "SNAPS"}}, {{"path": "{second}"}}]}}"#
            ));
            assert!(
                error.contains("key \"local_storage[1].path\"")
                    && error.contains("the same directory as local_storage[0].path"),
                "{second}: {error}"
            );
        }
    }

    #[test]
    fn a_config_with_secrets_readable_by_all_is_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let fixture = Fixture::new();
        let path = fixture.dir.path().join("snapshot.json");
        let load = |json: &str, mode: u32| {
            std::fs::write(&path, json.replace("SNAPS", &fixture.snaps())).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            Config::load(&path, &|_| None).unwrap().warnings
        };
        let literal =
            r#"{"role_id": "r", "secret_id": "s3cr3t", "local_storage": {"path": "SNAPS"}}"#;
        let warnings = load(literal, 0o644);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains(&format!("{} is readable by all users", path.display()))
                && warnings[0].contains(&format!("chmod 600 {}", path.display()))
                && warnings[0].contains("role_id, secret_id")
                && !warnings[0].contains("s3cr3t"),
            "{warnings:?}"
        );
        assert!(load(literal, 0o600).is_empty());
        assert!(load(literal, 0o640).is_empty());
        // References hold no secret: nothing to warn about.
        let secret_file = fixture.dir.path().join("secret-id");
        std::fs::write(&secret_file, "s3cr3t").unwrap();
        let referenced = format!(
            r#"{{"role_id": "env://HOME", "secret_id": "file://{}", "local_storage": {{"path": "SNAPS"}}}}"#,
            secret_file.display()
        );
        let env = |name: &str| (name == "HOME").then(|| "/root".to_string());
        std::fs::write(&path, referenced.replace("SNAPS", &fixture.snaps())).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(Config::load(&path, &env).unwrap().warnings.is_empty());
    }

    #[test]
    fn a_config_file_larger_than_the_cap_is_refused_unread() {
        let fixture = Fixture::new();
        let big = format!(
            r#"{{"role_id": "r", "secret_id": "s", "local_storage": {{"path": "SNAPS"}}, "namespace": "{}"}}"#,
            "x".repeat(2 * 1024 * 1024)
        );
        let error = fixture.error(&big);
        assert!(
            error.contains("larger than 1024 KiB"),
            "{}",
            &error[..200.min(error.len())]
        );
        let zero = Config::load(Path::new("/dev/zero"), &|_| None).unwrap_err();
        assert!(
            zero.to_string()
                .contains("cannot read config file /dev/zero: it is larger than 1024 KiB"),
            "{zero}"
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
    fn text_after_the_object_is_an_error() {
        let fixture = Fixture::new();
        let error = fixture
            .error(r#"{"role_id": "r", "secret_id": "s", "local_storage": {"path": "SNAPS"}} {}"#);
        assert!(error.contains("trailing characters"), "{error}");
    }

    #[test]
    fn a_key_written_twice_is_an_error_at_any_depth() {
        let fixture = Fixture::new();
        let top = fixture.error(r#"{"retain": 1, "role_id": "r", "secret_id": "s", "retain": 2, "local_storage": {"path": "SNAPS"}}"#);
        assert!(
            top.contains("the key `retain` is written twice") && top.contains("line 1"),
            "{top}"
        );
        let nested = fixture.error(r#"{"role_id": "r", "secret_id": "s", "local_storage": [{"path": "SNAPS", "path": "/tmp"}]}"#);
        assert!(nested.contains("key \"local_storage[0]"), "{nested}");
        assert!(
            nested.contains("the key `path` is written twice"),
            "{nested}"
        );
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
