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
use super::{
    AuthMethod, Config, ConfigError, DEFAULT_K8S_TOKEN_PATH, StorageConfig, StorageKind, Uses,
};
use crate::secret::SecretRef;

impl Config {
    /// Runs the probes `uses` names, in this order: staging, each storage (writable when
    /// `uses.storages_writable`) and the local storages' directories being distinct, the
    /// metrics file, Vault's credentials.
    ///
    /// # Errors
    /// The first probe's [`ConfigError`].
    pub fn probe(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        uses: Uses,
    ) -> Result<(), ConfigError> {
        if uses.staging {
            staging(self)?;
        }
        if uses.storages {
            for storage in &self.storages {
                self::storage(self, storage, env, uses.storages_writable)?;
            }
            distinct_local_directories(self)?;
        }
        if uses.metrics_written {
            metrics_file(self)?;
        }
        if uses.vault {
            vault_credentials(self, env)?;
        }
        Ok(())
    }
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
/// `role_id` and `secret_id` references, the Kubernetes JWT file. `VAULT_TOKEN` needs nothing.
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
