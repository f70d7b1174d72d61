//! Probing: whether what a validated [`Config`] names is there on this machine. Directories
//! exist and are writable, token and credential files and `file://`/`env://` secrets can be
//! read. [`Config::load`] checks none of it; a command probes what it is about to use, so
//! `status` run by a read-only user, or `prune` while a Vault Agent token sink is absent,
//! still work, and a storage that cannot be opened here can be skipped for the others.
//!
//! Every probe returns a [`ConfigError`] naming the config file and the key (or the
//! environment variable) and the path; never a secret's value.

use std::path::{Path, PathBuf};

use super::auth::read_token_file;
use super::storage::same_directory;
use super::{AuthMethod, Config, ConfigError, DEFAULT_K8S_TOKEN_PATH, StorageConfig, StorageKind};
use crate::secret::SecretRef;

/// Every probe, in the order a cycle needs them: staging, each storage (writable) and the
/// local storages' directories being distinct, the metrics file, Vault's credentials. What
/// `once` and `run` check before they start (through the session, which calls each of these
/// for what a command uses); the tests call it to check a config completely.
///
/// # Errors
/// The first probe's [`ConfigError`].
pub fn all(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    staging(config)?;
    for s in &config.storages {
        storage(config, s, env, true)?;
    }
    distinct_local_directories(config)?;
    metrics_file(config)?;
    vault_credentials(config, env)
}

/// `temp_dir` is a directory the agent can create files in. The default, `/tmp`, is not
/// probed; a `temp_dir` key or `TMPDIR` is, and the message names which.
///
/// # Errors
/// `<file>: key "temp_dir": directory /x is not usable: ...` (or `environment variable TMPDIR:
/// ...`).
pub fn staging(config: &Config) -> Result<(), ConfigError> {
    let Some(from) = &config.temp_dir_from else {
        return Ok(());
    };
    writable_dir(&config.temp_dir).map_err(|e| ConfigError(format!("{from}: {e}")))
}

/// `metrics_file`, if set, is not a directory, and its directory is writable.
///
/// # Errors
/// `<file>: key "metrics_file": ...`.
pub fn metrics_file(config: &Config) -> Result<(), ConfigError> {
    let Some(path) = &config.metrics_file else {
        return Ok(());
    };
    let err = |problem: String| key_err(config, "metrics_file", problem);
    if path.is_dir() {
        let file = path.display();
        return Err(err(format!(
            "{file} is a directory; name a file such as {file}/vault_raft_snapshot.prom"
        )));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    writable_dir(dir).map_err(err)
}

/// The configured auth method's credentials can be read now: the token file, the AppRole
/// `role_id` and `secret_id` references, the Kubernetes and JWT files, the userpass and LDAP
/// password references. `VAULT_TOKEN` and `cert` (whose client certificate is read with the
/// TLS settings) need nothing here.
///
/// # Errors
/// `<file>: key "token_path": cannot read token file /x: ...` and the like.
pub fn vault_credentials(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    match &config.auth {
        AuthMethod::TokenFile(path) => read_token_file(path)
            .map(drop)
            .map_err(|e| key_err(config, "token_path", e)),
        AuthMethod::StaticToken(_) => Ok(()),
        AuthMethod::AppRole {
            role_id, secret_id, ..
        } => {
            secret(config, role_id, env)?;
            secret(config, secret_id, env)
        }
        AuthMethod::Kubernetes { jwt_path, .. } => {
            let key = if jwt_path == Path::new(DEFAULT_K8S_TOKEN_PATH) {
                "k8s_token_path (default)"
            } else {
                "k8s_token_path"
            };
            read_token_file(jwt_path)
                .map(drop)
                .map_err(|e| key_err(config, key, e))
        }
        // The token comes from the metadata service at each login: nothing on disk.
        AuthMethod::Gcp { .. } | AuthMethod::Azure { .. } => Ok(()),
        AuthMethod::Userpass { password, .. } | AuthMethod::Ldap { password, .. } => {
            secret(config, password, env)
        }
        AuthMethod::Jwt { jwt_path, .. } => read_token_file(jwt_path)
            .map(drop)
            .map_err(|e| key_err(config, "jwt_token_path", e)),
        AuthMethod::Cert { .. } => Ok(()),
        // Which AWS credential source would sign the login (nothing is sent yet).
        AuthMethod::Aws { .. } => crate::aws::detect_source(false, env)
            .map(drop)
            .map_err(|e| key_err(config, "vault_auth_method", format!("{e:#}"))),
    }
}

/// One storage can be used from here: a local directory exists and can be listed (and
/// created in, when `writable`); credentials given as `file://` or `env://` references, and a
/// Google credentials file, can be read. `config` is the one `storage` belongs to (for the
/// file's name in messages).
///
/// # Errors
/// `<file>: key "local_storage[1].path": directory /x is not usable: ...` and the like.
pub fn storage(
    config: &Config,
    storage: &StorageConfig,
    env: &dyn Fn(&str) -> Option<String>,
    writable: bool,
) -> Result<(), ConfigError> {
    match &storage.kind {
        StorageKind::Local { path } => if writable {
            writable_dir(path)
        } else {
            readable_dir(path)
        }
        .map_err(|e| key_err(config, &format!("{}.path", storage.key), e)),
        StorageKind::S3(s3) => {
            for key in [&s3.secret_access_key, &s3.access_key_id]
                .into_iter()
                .flatten()
            {
                secret(config, key, env)?;
            }
            Ok(())
        }
        StorageKind::Gcs(gcs) => google_credentials(storage, &gcs.credentials),
        StorageKind::Azure(azure) => {
            for key in [&azure.account_key, &azure.sas_token].into_iter().flatten() {
                secret(config, key, env)?;
            }
            Ok(())
        }
    }
}

/// No two local storages are one directory once symlinks and `..` are resolved (validation
/// compares them as written). A directory that does not exist is compared as written.
///
/// # Errors
/// `<file>: key "local_storage[1].path": /x is the same directory as local_storage[0].path
/// (/y); ...`.
pub fn distinct_local_directories(config: &Config) -> Result<(), ConfigError> {
    let mut seen: Vec<(PathBuf, &str)> = Vec::new();
    for storage in &config.storages {
        let StorageKind::Local { path } = &storage.kind else {
            continue;
        };
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        if let Some((_, earlier)) = seen.iter().find(|(p, _)| *p == canonical) {
            return Err(key_err(
                config,
                &format!("{}.path", storage.key),
                same_directory(path, earlier, &canonical),
            ));
        }
        seen.push((canonical, &storage.key));
    }
    Ok(())
}

/// A Google credentials file that reads and parses; the key or variable that named it starts
/// the message.
#[cfg(feature = "gcs")]
fn google_credentials(
    storage: &StorageConfig,
    credentials: &super::GoogleCredentials,
) -> Result<(), ConfigError> {
    let super::GoogleCredentials::File(path) = credentials else {
        return Ok(());
    };
    let from = storage.credentials_from.as_deref().unwrap_or_default();
    crate::google_credentials::CredentialsFile::read(path)
        .map(drop)
        .map_err(|e| ConfigError(format!("{from}: {e:#}")))
}

/// Without the `gcs` feature no Google storage passes validation.
#[cfg(not(feature = "gcs"))]
fn google_credentials(
    _storage: &StorageConfig,
    _credentials: &super::GoogleCredentials,
) -> Result<(), ConfigError> {
    Ok(())
}

/// A secret-valued key's reference can be read (a value written in the file always can).
fn secret(
    config: &Config,
    secret: &SecretRef,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    secret
        .read_with(env)
        .map(drop)
        .map_err(|e| key_err(config, secret.key(), e))
}

fn key_err(config: &Config, key: &str, problem: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!(
        "{}: key \"{key}\": {problem}",
        config.source.display()
    ))
}

/// `dir` is a directory this process can read (it is not written to); else why not.
fn readable_dir(dir: &Path) -> Result<(), String> {
    std::fs::read_dir(dir)
        .map(drop)
        .map_err(|e| format!("directory {} is not usable: {e}", dir.display()))
}

/// `dir` is a directory this process can create files in; else why not.
fn writable_dir(dir: &Path) -> Result<(), String> {
    let shown = dir.display();
    let meta =
        std::fs::metadata(dir).map_err(|e| format!("directory {shown} is not usable: {e}"))?;
    if !meta.is_dir() {
        return Err(format!("{shown} is not a directory"));
    }
    tempfile::Builder::new()
        .prefix(".vault-raft-snapshot-probe-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| format!("directory {shown} is not writable: {e}"))
}

#[cfg(test)]
mod tests {
    use super::super::testing::FILE;
    use super::*;

    type Env<'a> = &'a dyn Fn(&str) -> Option<String>;
    /// A probe as the rows name it.
    type Probe = fn(&Config, Env<'_>) -> Result<(), ConfigError>;
    /// A row: a config, the environment, the probe, and `None` for success or the text its
    /// refusal contains.
    type Row<'a> = (&'a str, &'a [(&'a str, &'a str)], Probe, Option<&'a str>);

    /// The secrets in the fixture's files and variables: no message may show them.
    const SECRETS: [&str; 3] = ["hvs.one", "s3cr3t", "r0le"];

    /// A directory with what the rows probe: `snaps` and `snaps2` (directories), `file` (not
    /// one), `token` and `two-lines` (token files), `secret` (a secret), `empty`, and `link`
    /// (a symlink to `snaps`).
    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let at = |name: &str| dir.path().join(name);
            std::fs::create_dir(at("snaps")).unwrap();
            std::fs::create_dir(at("snaps2")).unwrap();
            std::fs::write(at("file"), "not a directory").unwrap();
            std::fs::write(at("token"), "hvs.one\n").unwrap();
            std::fs::write(at("two-lines"), "hvs.one\nhvs.two\n").unwrap();
            std::fs::write(at("secret"), "s3cr3t").unwrap();
            std::fs::write(at("empty"), "").unwrap();
            std::os::unix::fs::symlink(at("snaps"), at("link")).unwrap();
            Self { dir }
        }

        /// `%D%` in `text` replaced by the fixture's directory.
        fn expand(&self, text: &str) -> String {
            text.replace("%D%", &self.dir.path().display().to_string())
        }

        /// The config `json` describes (with `%D%` expanded), validated under [`FILE`].
        fn config(&self, json: &str, env: Env<'_>) -> Config {
            let json = self.expand(json);
            Config::from_text(json.as_bytes(), Path::new(FILE), env)
                .unwrap_or_else(|e| panic!("invalid {json}: {e}"))
        }

        /// Each row probes as expected, its message naming the file or a variable and no
        /// secret.
        fn check(&self, rows: &[Row<'_>]) {
            for (json, vars, probe, expected) in rows {
                let env = |name: &str| {
                    vars.iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, v)| self.expand(v))
                };
                let config = self.config(json, &env);
                let got = probe(&config, &env).map_err(|e| e.to_string());
                let row = format!("row {json} with {vars:?}");
                match (got, expected.map(|e| self.expand(e))) {
                    (Ok(()), None) => {}
                    (Err(error), Some(text)) => {
                        assert!(
                            error.contains(&text),
                            "{row}\n  expected {text:?}\n  in {error}"
                        );
                        assert!(
                            error.starts_with(FILE) || error.starts_with("environment variable"),
                            "{row}: names neither the file nor a variable: {error}"
                        );
                        for secret in SECRETS {
                            assert!(!error.contains(secret), "{row}: shows a secret: {error}");
                        }
                    }
                    (got, expected) => panic!("{row}: got {got:?}, expected {expected:?}"),
                }
            }
        }
    }

    /// A config with the AppRole keys and one local storage, plus `entries`.
    const BASE: &str =
        r#""role_id": "r", "secret_id": "s", "local_storage": {"path": "%D%/snaps"}"#;

    fn with_base(entries: &str) -> String {
        format!("{{{BASE}, {entries}}}")
    }

    fn all_storages(config: &Config, env: Env<'_>, writable: bool) -> Result<(), ConfigError> {
        config
            .storages
            .iter()
            .try_for_each(|s| storage(config, s, env, writable))
    }
    fn writable_storages(config: &Config, env: Env<'_>) -> Result<(), ConfigError> {
        all_storages(config, env, true)
    }
    fn readable_storages(config: &Config, env: Env<'_>) -> Result<(), ConfigError> {
        all_storages(config, env, false)
    }
    fn staging_only(config: &Config, _: Env<'_>) -> Result<(), ConfigError> {
        staging(config)
    }
    fn metrics_only(config: &Config, _: Env<'_>) -> Result<(), ConfigError> {
        metrics_file(config)
    }
    fn distinct_only(config: &Config, _: Env<'_>) -> Result<(), ConfigError> {
        distinct_local_directories(config)
    }

    #[test]
    fn staging_needs_a_writable_temp_dir_named_by_its_key_or_tmpdir() {
        let fixture = Fixture::new();
        let temp_dir = |dir: &str| with_base(&format!(r#""temp_dir": "{dir}""#));
        let minimal = format!("{{{BASE}}}");
        let p: Probe = staging_only;
        fixture.check(&[
            (
                &temp_dir("/nonexistent/tmp"),
                &[],
                p,
                Some("key \"temp_dir\": directory /nonexistent/tmp is not usable"),
            ),
            (
                &minimal,
                &[("TMPDIR", "/nonexistent/tmp")],
                p,
                Some("environment variable TMPDIR: directory /nonexistent/tmp is not usable"),
            ),
            (
                &temp_dir("%D%/file"),
                &[],
                p,
                Some("key \"temp_dir\": %D%/file is not a directory"),
            ),
            (
                &temp_dir("%D%/snaps"),
                &[("TMPDIR", "/nonexistent/tmp")],
                p,
                None,
            ),
            (&minimal, &[("TMPDIR", "%D%/snaps")], p, None),
        ]);
    }

    #[test]
    fn the_default_temp_dir_is_not_probed() {
        let fixture = Fixture::new();
        let mut config = fixture.config(&format!("{{{BASE}}}"), &|_| None);
        assert_eq!(config.temp_dir_from, None);
        config.temp_dir = PathBuf::from("/nonexistent/tmp");
        staging(&config).unwrap();
        config.temp_dir_from = Some("here".into());
        let error = staging(&config).unwrap_err().to_string();
        assert!(
            error.starts_with("here: directory /nonexistent/tmp"),
            "{error}"
        );
    }

    #[test]
    fn the_metrics_file_needs_a_writable_directory_and_is_not_one() {
        let fixture = Fixture::new();
        let metrics = |file: &str| with_base(&format!(r#""metrics_file": "{file}""#));
        let p: Probe = metrics_only;
        fixture.check(&[
            (
                &metrics("%D%/snaps"),
                &[],
                p,
                Some("key \"metrics_file\": %D%/snaps is a directory; name a file such as %D%/snaps/vault_raft_snapshot.prom"),
            ),
            (
                &metrics("/nonexistent/dir/vault.prom"),
                &[],
                p,
                Some("key \"metrics_file\": directory /nonexistent/dir is not usable"),
            ),
            (
                &metrics("%D%/file/vault.prom"),
                &[],
                p,
                Some("key \"metrics_file\": %D%/file is not a directory"),
            ),
            (&metrics("%D%/snaps/vault.prom"), &[], p, None),
            (&format!("{{{BASE}}}"), &[], p, None),
        ]);
    }

    #[test]
    fn vault_credentials_of_the_configured_method_must_be_readable() {
        let fixture = Fixture::new();
        let local = r#""local_storage": {"path": "%D%/snaps"}"#;
        let token = |path: &str| format!(r#"{{"token_path": "{path}", {local}}}"#);
        let approle = |role: &str, secret: &str| {
            format!(r#"{{"role_id": "{role}", "secret_id": "{secret}", {local}}}"#)
        };
        let k8s = |path: &str| {
            format!(
                r#"{{"vault_auth_method": "k8s", "k8s_auth_role": "snap", "k8s_token_path": "{path}", {local}}}"#
            )
        };
        let p: Probe = vault_credentials;
        fixture.check(&[
            (&token("%D%/token"), &[], p, None),
            (
                &token("/nonexistent/token"),
                &[],
                p,
                Some("key \"token_path\": cannot read token file /nonexistent/token"),
            ),
            (
                &token("%D%/two-lines"),
                &[],
                p,
                Some("key \"token_path\": token file %D%/two-lines holds more than one line"),
            ),
            (
                &token("%D%/empty"),
                &[],
                p,
                Some("key \"token_path\": token file %D%/empty is empty"),
            ),
            (
                &token("%D%/snaps"),
                &[],
                p,
                Some("key \"token_path\": cannot read token file %D%/snaps"),
            ),
            (&approle("r0le", "s3cr3t"), &[], p, None),
            (
                &approle("env://ROLE", "file://%D%/secret"),
                &[("ROLE", "r0le")],
                p,
                None,
            ),
            (
                &approle("env://ROLE", "file://%D%/secret"),
                &[],
                p,
                Some("key \"role_id\": env://ROLE: the environment variable ROLE is not set"),
            ),
            (
                &approle("env://ROLE", "file:///nonexistent/secret-id"),
                &[("ROLE", "r0le")],
                p,
                Some("key \"secret_id\": file:///nonexistent/secret-id"),
            ),
            (
                &approle("r0le", "file://%D%/empty"),
                &[],
                p,
                Some("key \"secret_id\": file://%D%/empty: is empty"),
            ),
            (&k8s("%D%/token"), &[], p, None),
            (
                &k8s("/nonexistent/jwt"),
                &[],
                p,
                Some("key \"k8s_token_path\": cannot read token file /nonexistent/jwt"),
            ),
            (
                &format!(r#"{{"vault_auth_method": "token", {local}}}"#),
                &[("VAULT_TOKEN", "hvs.one")],
                p,
                None,
            ),
        ]);
        if !Path::new(DEFAULT_K8S_TOKEN_PATH).exists() {
            fixture.check(&[(
                &k8s(""),
                &[],
                p,
                Some("key \"k8s_token_path (default)\": cannot read token file /var/run/secrets"),
            )]);
        }
    }

    #[test]
    fn userpass_ldap_and_jwt_credentials_must_be_readable() {
        let fixture = Fixture::new();
        let local = r#""local_storage": {"path": "%D%/snaps"}"#;
        let password = |method: &str, value: &str| {
            format!(
                r#"{{"vault_auth_method": "{method}", "{method}_username": "snap", "{method}_password": "{value}", {local}}}"#
            )
        };
        let jwt = |path: &str| {
            format!(
                r#"{{"vault_auth_method": "jwt", "jwt_auth_role": "ci", "jwt_token_path": "{path}", {local}}}"#
            )
        };
        let p: Probe = vault_credentials;
        fixture.check(&[
            (&password("userpass", "pw"), &[], p, None),
            (&password("userpass", "env://PW"), &[("PW", "pw")], p, None),
            (
                &password("userpass", "env://PW"),
                &[],
                p,
                Some("key \"userpass_password\": env://PW: the environment variable PW is not set"),
            ),
            (&password("ldap", "file://%D%/secret"), &[], p, None),
            (
                &password("ldap", "file:///nonexistent/pw"),
                &[],
                p,
                Some("key \"ldap_password\": file:///nonexistent/pw"),
            ),
            (&jwt("%D%/token"), &[], p, None),
            (
                &jwt("/nonexistent/jwt"),
                &[],
                p,
                Some("key \"jwt_token_path\": cannot read token file /nonexistent/jwt"),
            ),
            (
                &jwt("%D%/empty"),
                &[],
                p,
                Some("key \"jwt_token_path\": token file %D%/empty is empty"),
            ),
        ]);
    }

    #[test]
    fn a_local_storage_must_be_a_directory_readable_or_writable_as_asked() {
        let fixture = Fixture::new();
        let local = |paths: &str| {
            format!(r#"{{"role_id": "r", "secret_id": "s", "local_storage": {paths}}}"#)
        };
        let (w, r): (Probe, Probe) = (writable_storages, readable_storages);
        fixture.check(&[
            (&local(r#"{"path": "%D%/snaps"}"#), &[], w, None),
            (&local(r#"{"path": "%D%/snaps"}"#), &[], r, None),
            (
                &local(r#"{"path": "/nonexistent/snaps"}"#),
                &[],
                w,
                Some("key \"local_storage.path\": directory /nonexistent/snaps is not usable"),
            ),
            (
                &local(r#"{"path": "/nonexistent/snaps"}"#),
                &[],
                r,
                Some("key \"local_storage.path\": directory /nonexistent/snaps is not usable"),
            ),
            (
                &local(r#"[{"path": "%D%/snaps"}, {"path": "%D%/file"}]"#),
                &[],
                w,
                Some("key \"local_storage[1].path\": %D%/file is not a directory"),
            ),
            (
                &local(r#"[{"path": "%D%/snaps"}, {"path": "%D%/file"}]"#),
                &[],
                r,
                Some("key \"local_storage[1].path\": directory %D%/file is not usable"),
            ),
        ]);
    }

    #[test]
    fn two_local_storages_in_one_directory_are_refused_once_resolved() {
        let fixture = Fixture::new();
        let two = |second: &str| {
            format!(
                r#"{{"role_id": "r", "secret_id": "s", "local_storage": [{{"path": "%D%/snaps"}}, {{"path": "{second}"}}]}}"#
            )
        };
        let p: Probe = distinct_only;
        let same = "key \"local_storage[1].path\": %D%/link is the same directory as local_storage[0].path (";
        fixture.check(&[
            (&two("%D%/link"), &[], p, Some(same)),
            (
                &two("%D%/snaps2/../snaps"),
                &[],
                p,
                Some("key \"local_storage[1].path\": %D%/snaps2/../snaps is the same directory as local_storage[0].path"),
            ),
            (&two("%D%/snaps2"), &[], p, None),
            (&two("/nonexistent/snaps"), &[], p, None),
        ]);
    }

    #[cfg(feature = "s3")]
    #[test]
    fn s3_secret_references_must_be_readable() {
        let fixture = Fixture::new();
        let s3 = |key_id: &str, key: &str| {
            with_base(&format!(
                r#""aws_storage": {{"s3_bucket": "b", "access_key_id": "{key_id}", "secret_access_key": "{key}"}}"#
            ))
        };
        let (w, r): (Probe, Probe) = (writable_storages, readable_storages);
        fixture.check(&[
            (&s3("AKIA", "s3cr3t"), &[], w, None),
            (&s3("env://KEY_ID", "file://%D%/secret"), &[("KEY_ID", "AKIA")], w, None),
            (
                &s3("env://KEY_ID", "file:///nonexistent/aws"),
                &[("KEY_ID", "AKIA")],
                r,
                Some("key \"aws_storage.secret_access_key\": file:///nonexistent/aws"),
            ),
            (
                &s3("env://KEY_ID", "file://%D%/secret"),
                &[],
                r,
                Some("key \"aws_storage.access_key_id\": env://KEY_ID: the environment variable KEY_ID is not set"),
            ),
        ]);
    }

    #[cfg(feature = "azure")]
    #[test]
    fn azure_secret_references_must_be_readable() {
        let fixture = Fixture::new();
        let azure = |entries: &str| {
            with_base(&format!(
                r#""azure_storage": {{"account_name": "a", "container_name": "c", {entries}}}"#
            ))
        };
        let p: Probe = writable_storages;
        fixture.check(&[
            (&azure(r#""sas_token": "file://%D%/secret""#), &[], p, None),
            (&azure(r#""account_key": "s3cr3t""#), &[], p, None),
            (
                &azure(r#""prefix": "x""#),
                &[("AZURE_STORAGE_KEY", "s3cr3t")],
                p,
                None,
            ),
            (
                &azure(r#""sas_token": "file:///nonexistent/sas""#),
                &[],
                p,
                Some("key \"azure_storage.sas_token\": file:///nonexistent/sas"),
            ),
            (
                &azure(r#""account_key": "file://%D%/empty""#),
                &[],
                p,
                Some("key \"azure_storage.account_key\": file://%D%/empty: is empty"),
            ),
        ]);
    }

    #[cfg(feature = "gcs")]
    #[test]
    fn a_google_credentials_file_must_read_and_parse() {
        let fixture = Fixture::new();
        let gcs =
            |entries: &str| with_base(&format!(r#""google_storage": {{"bucket": "b"{entries}}}"#));
        let p: Probe = readable_storages;
        fixture.check(&[
            (&gcs(""), &[], p, None),
            (
                &gcs(r#", "credentials_file": "/nonexistent/sa.json""#),
                &[("STORAGE_EMULATOR_HOST", "localhost:4443")],
                p,
                None,
            ),
            (
                &gcs(r#", "credentials_file": "/nonexistent/sa.json""#),
                &[],
                p,
                Some("key \"google_storage.credentials_file\": cannot read"),
            ),
            (
                &gcs(""),
                &[("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/sa.json")],
                p,
                Some("environment variable GOOGLE_APPLICATION_CREDENTIALS: cannot read"),
            ),
            (
                &gcs(r#", "credentials_file": "%D%/secret""#),
                &[],
                p,
                Some("key \"google_storage.credentials_file\""),
            ),
        ]);
    }

    #[test]
    fn all_probes_in_a_cycles_order_and_each_probe_alone_checks_only_its_part() {
        let fixture = Fixture::new();
        let broken = r#"{"token_path": "/nonexistent/token", "temp_dir": "/nonexistent/tmp",
            "metrics_file": "/nonexistent/metrics/vault.prom",
            "local_storage": {"path": "%D%/file"}}"#;
        let config = fixture.config(broken, &|_| None);
        let env = |_: &str| None;
        let rows: [(&str, Result<(), ConfigError>, Option<&str>); 6] = [
            ("all", all(&config, &env), Some("key \"temp_dir\"")),
            ("staging", staging(&config), Some("key \"temp_dir\"")),
            (
                "storage, writable",
                storage(&config, &config.storages[0], &env, true),
                Some("key \"local_storage.path\": %D%/file is not a directory"),
            ),
            (
                "storage, read",
                storage(&config, &config.storages[0], &env, false),
                Some("key \"local_storage.path\": directory %D%/file is not usable"),
            ),
            (
                "metrics",
                metrics_file(&config),
                Some("key \"metrics_file\""),
            ),
            (
                "credentials",
                vault_credentials(&config, &env),
                Some("key \"token_path\""),
            ),
        ];
        for (row, got, expected) in rows {
            let got = got.map_err(|e| e.to_string());
            match (got, expected.map(|e| fixture.expand(e))) {
                (Ok(()), None) => {}
                (Err(error), Some(text)) => assert!(error.contains(&text), "row {row}: {error}"),
                (got, expected) => panic!("row {row}: got {got:?}, expected {expected:?}"),
            }
        }
        // Each storage is probed before their directories are compared.
        let linked = fixture.config(
            r#"{"role_id": "r", "secret_id": "s", "local_storage": [{"path": "%D%/snaps"}, {"path": "%D%/link"}, {"path": "/nonexistent/x"}]}"#,
            &|_| None,
        );
        let error = all(&linked, &env).unwrap_err().to_string();
        assert!(error.contains("key \"local_storage[2].path\""), "{error}");
    }

    #[test]
    fn load_reads_no_credential_and_all_does() {
        let fixture = Fixture::new();
        let path = fixture.dir.path().join("snapshot.json");
        std::fs::write(
            &path,
            fixture.expand(&with_base(r#""token_path": "/nonexistent/token""#)),
        )
        .unwrap();
        let env = |_: &str| None;
        let config = Config::load(&path, &env).unwrap();
        let error = all(&config, &env).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "{}: key \"token_path\": cannot read token file /nonexistent/token: No such file or directory (os error 2)",
                path.display()
            )
        );
    }
}
