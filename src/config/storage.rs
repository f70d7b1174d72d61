//! The storage sections: `local_storage`, `aws_storage`, `google_storage`, `azure_storage`.
//!
//! Each may be one object (the original agent's form) or a list of them, and each object may
//! carry its own `retain`. As in the Go agent, a section whose main key is empty (`path`,
//! `s3_bucket`, `bucket`, `container_name`) is disabled. Errors name the exact key, e.g.
//! `aws_storage[1].s3_region`. Nothing here looks at the disk: whether a directory exists or
//! a credential can be read is probed apart, one storage at a time (`super::probe::storage`).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ConfigError;
use super::retention::RawRetention;
use super::validator::{Sourced, Validator, non_empty};
use crate::retention::RetentionPolicy;
use crate::secret::{Secret, SecretRef};

/// One place snapshots are stored, with its retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    /// What every command calls it: the object's `name`, else its kind and its position in
    /// the section (`local-0`, `aws-1`; see [`StorageConfig::matches`]).
    pub name: String,
    /// Where its object is in the file, e.g. `aws_storage[1]`, for messages.
    pub key: String,
    /// This storage's own retention policy, replacing the top-level one when set.
    pub retention: Option<RetentionPolicy>,
    /// What kind of storage, and where.
    pub kind: StorageKind,
    /// For a [`GoogleCredentials::File`]: the key or environment variable that named it
    /// (`<file>: key "google_storage.credentials_file"` or `environment variable
    /// GOOGLE_APPLICATION_CREDENTIALS`), for messages.
    pub credentials_from: Option<String>,
}

/// The storage a `--storage` argument names: by its name, else by its kind alone (`aws`)
/// when that kind has exactly one storage. Returns its position in `all`.
///
/// # Errors
/// A [`ConfigError`] (a usage error) listing the names there are.
pub fn select_storage(all: &[StorageConfig], wanted: &str) -> Result<usize, ConfigError> {
    let by_kind: Vec<usize> = (0..all.len())
        .filter(|&i| all[i].kind.label() == wanted)
        .collect();
    all.iter()
        .position(|s| s.name == wanted)
        .or(match by_kind[..] {
            [only] => Some(only),
            _ => None,
        })
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
            let why = if by_kind.len() > 1 {
                format!(
                    "{} storages are of kind {wanted:?}; name one",
                    by_kind.len()
                )
            } else {
                "no storage has that name".to_string()
            };
            ConfigError(format!(
                "--storage {wanted:?}: {why} (storages: {})",
                names.join(", ")
            ))
        })
}

/// The kinds of storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageKind {
    /// A local directory.
    Local {
        /// The directory.
        path: PathBuf,
    },
    /// S3 or an S3-compatible service.
    S3(S3Config),
    /// Google Cloud Storage.
    Gcs(GcsConfig),
    /// Azure Blob Storage.
    Azure(AzureConfig),
}

impl StorageConfig {
    /// True when a credential is a `file://` or `env://` reference, read at every use.
    #[must_use]
    pub fn reads_secrets_at_use(&self) -> bool {
        let secrets: Vec<&SecretRef> = match &self.kind {
            StorageKind::Local { .. } | StorageKind::Gcs(_) => Vec::new(),
            StorageKind::S3(s3) => [&s3.access_key_id, &s3.secret_access_key]
                .into_iter()
                .flatten()
                .collect(),
            StorageKind::Azure(azure) => [&azure.account_key, &azure.sas_token]
                .into_iter()
                .flatten()
                .collect(),
        };
        secrets.iter().any(|s| s.is_reference())
    }
}

impl StorageKind {
    /// The kind as logs and storage names show it: `local`, `aws`, `gcp`, `azure`.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            StorageKind::Local { .. } => "local",
            StorageKind::S3(_) => "aws",
            StorageKind::Gcs(_) => "gcp",
            StorageKind::Azure(_) => "azure",
        }
    }
}

/// `aws_storage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// Static credentials; `None` uses the standard AWS chain.
    pub access_key_id: Option<SecretRef>,
    /// Static secret key.
    pub secret_access_key: Option<SecretRef>,
    /// An S3-compatible endpoint such as `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`).
    pub force_path_style: bool,
    /// The region.
    pub region: String,
    /// The bucket.
    pub bucket: String,
    /// Key prefix (`raft_snapshots` by default); slashes at its ends do not count.
    pub key_prefix: String,
    /// `x-amz-server-side-encryption: AES256`.
    pub server_side_encryption: bool,
    /// SSE-KMS with this key (implies server-side encryption).
    pub kms_key_id: Option<String>,
    /// One fixed object name, overwritten every time; no retention then.
    pub static_snapshot_name: Option<String>,
    /// `x-amz-storage-class`.
    pub storage_class: Option<String>,
    /// `s3_part_size`: bytes per part of a multipart upload (5 MiB to 5 GiB).
    pub part_size: u64,
    /// `s3_upload_concurrency`: parts sent at the same time (1 to 64).
    pub upload_concurrency: usize,
    /// `s3_sign_payload`: sign each part's SHA-256 over https too, for a store that refuses
    /// `UNSIGNED-PAYLOAD` (over plain http it is always signed).
    pub sign_payload: bool,
}

/// `s3_part_size` by default: 8 MiB (contrib/bench-results.md, "S3 parallel parts").
pub const S3_DEFAULT_PART_SIZE: u64 = 8 << 20;
/// `s3_upload_concurrency` by default (contrib/bench-results.md, "S3 parallel parts").
pub const S3_DEFAULT_UPLOAD_CONCURRENCY: usize = 4;
/// S3's smallest part (all but the last) and largest part.
pub const S3_PART_SIZE_RANGE: std::ops::RangeInclusive<u64> = (5 << 20)..=(5 << 30);
/// The most parts in flight `s3_upload_concurrency` accepts.
pub const S3_MAX_UPLOAD_CONCURRENCY: usize = 64;

/// A size in bytes: a JSON number, or text with a unit (`16MiB`, `1GiB`, `8388608`).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawSize {
    Bytes(u64),
    Text(String),
}

/// Bytes in `text`: digits, optionally followed by `B`, `KiB`, `MiB` or `GiB` (spaces
/// allowed between); `None` when it is not that or overflows.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(scale)
}

/// `google_storage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcsConfig {
    /// The bucket.
    pub bucket: String,
    /// Object name prefix (none by default, as the original agent).
    pub prefix: String,
    /// API endpoint: `endpoint`, else `STORAGE_EMULATOR_HOST`, else Google's.
    pub endpoint: String,
    /// Where access tokens come from.
    pub credentials: GoogleCredentials,
}

/// Where Google access tokens come from, chosen as Google's client libraries choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoogleCredentials {
    /// None are sent: an emulator (`STORAGE_EMULATOR_HOST`).
    None,
    /// A service-account or authorized-user JSON file: `credentials_file`, else
    /// `GOOGLE_APPLICATION_CREDENTIALS`.
    File(PathBuf),
    /// The GCE/GKE metadata server at this host (`GCE_METADATA_HOST`, else
    /// `metadata.google.internal`).
    Metadata(String),
}

/// The metadata server when `GCE_METADATA_HOST` does not name one.
pub const DEFAULT_METADATA_HOST: &str = "metadata.google.internal";

/// `azure_storage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureConfig {
    /// The storage account.
    pub account_name: String,
    /// Shared key; `None` uses `sas_token` or managed identity.
    pub account_key: Option<SecretRef>,
    /// The container.
    pub container_name: String,
    /// Blob name prefix.
    pub prefix: String,
    /// Blob endpoint (Azurite, sovereign clouds).
    pub endpoint: Option<String>,
    /// A SAS token.
    pub sas_token: Option<SecretRef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocal {
    path: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawS3 {
    access_key_id: Option<Secret>,
    secret_access_key: Option<Secret>,
    s3_endpoint: Option<String>,
    s3_force_path_style: Option<bool>,
    s3_region: Option<String>,
    s3_bucket: Option<String>,
    s3_key_prefix: Option<String>,
    s3_server_side_encryption: Option<bool>,
    s3_kms_key_id: Option<String>,
    s3_static_snapshot_name: Option<String>,
    s3_storage_class: Option<String>,
    s3_part_size: Option<RawSize>,
    s3_upload_concurrency: Option<u64>,
    s3_sign_payload: Option<bool>,
}

impl RawS3 {
    /// True if a key other than `s3_bucket` has a value.
    fn has_other_keys(&self) -> bool {
        let strings = [
            &self.s3_endpoint,
            &self.s3_region,
            &self.s3_key_prefix,
            &self.s3_kms_key_id,
            &self.s3_static_snapshot_name,
            &self.s3_storage_class,
        ];
        let secrets = [&self.access_key_id, &self.secret_access_key];
        strings
            .iter()
            .any(|v| v.as_ref().is_some_and(|v| !v.is_empty()))
            || secrets
                .iter()
                .any(|v| v.as_ref().is_some_and(|v| !v.is_empty()))
            || self.s3_force_path_style.is_some()
            || self.s3_server_side_encryption.is_some()
            || self.s3_part_size.is_some()
            || self.s3_upload_concurrency.is_some()
            || self.s3_sign_payload.is_some()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGcs {
    bucket: Option<String>,
    prefix: Option<String>,
    endpoint: Option<String>,
    credentials_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAzure {
    account_name: Option<String>,
    account_key: Option<Secret>,
    container_name: Option<String>,
    prefix: Option<String>,
    endpoint: Option<String>,
    sas_token: Option<Secret>,
}

/// One object of a storage section, as read.
struct Section<T> {
    /// Where it is in the file, e.g. `aws_storage[1]`.
    path: String,
    /// Its storage name.
    name: String,
    raw: T,
    retention: RawRetention,
}

fn valid_storage_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The four storage keys as read from the file.
pub(super) struct RawStorages {
    pub local: Option<Value>,
    pub aws: Option<Value>,
    pub google: Option<Value>,
    pub azure: Option<Value>,
}

impl Validator<'_> {
    /// The objects of one storage key, each with the path to name it by, its storage name
    /// (`name`, else `<label>-<position>`) and its retention keys.
    fn sections<T: DeserializeOwned>(
        &self,
        key: &str,
        label: &str,
        value: Option<Value>,
    ) -> Result<Vec<Section<T>>, ConfigError> {
        let items: Vec<(String, usize, Value)> = match value {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (format!("{key}[{i}]"), i, v))
                .collect(),
            Some(object @ Value::Object(_)) => vec![(key.to_string(), 0, object)],
            Some(_) => return Err(self.err(key, "must be an object or a list of objects")),
        };
        items
            .into_iter()
            .map(|(path, position, mut value)| {
                let name = match value.as_object_mut().and_then(|o| o.remove("name")) {
                    None | Some(Value::Null) => format!("{label}-{position}"),
                    Some(Value::String(name)) if valid_storage_name(&name) => name,
                    Some(_) => {
                        return Err(self.err(
                            &format!("{path}.name"),
                            "must be a non-empty string of letters, digits, '.', '_' and '-'",
                        ));
                    }
                };
                let (parsed, retention) = self.object(&path, value)?;
                Ok(Section {
                    path,
                    name,
                    raw: parsed,
                    retention,
                })
            })
            .collect()
    }

    /// Refuses a storage section this binary was built without (a Cargo feature).
    fn built_with(&self, path: &str, enabled: bool, feature: &str) -> Result<(), ConfigError> {
        if enabled {
            Ok(())
        } else {
            Err(self.err(
                path,
                format!(
                    "this vault-raft-snapshot was built without this storage (Cargo feature \"{feature}\"); \
                     rebuild with --features {feature}"
                ),
            ))
        }
    }

    pub(super) fn url(&self, key: &str, url: &str) -> Result<String, ConfigError> {
        let trimmed = url.trim_end_matches('/');
        let ok = trimmed.parse::<ureq::http::Uri>().ok().is_some_and(|u| {
            matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
        });
        if ok {
            Ok(trimmed.to_string())
        } else {
            Err(self.err(
                key,
                format!("invalid URL {url:?}: expected http(s)://host[:port]"),
            ))
        }
    }

    pub(super) fn storages(&self, raw: RawStorages) -> Result<Vec<StorageConfig>, ConfigError> {
        let mut storages = Vec::new();
        let mut paths = Vec::new();
        for section in self.sections::<RawLocal>("local_storage", "local", raw.local)? {
            let Some(dir) = non_empty(section.raw.path) else {
                continue;
            };
            storages.push(StorageConfig {
                name: section.name,
                key: section.path.clone(),
                retention: self.retention(&section.path, section.retention)?,
                kind: StorageKind::Local {
                    path: PathBuf::from(dir),
                },
                credentials_from: None,
            });
            paths.push(section.path);
        }
        for section in self.sections::<RawS3>("aws_storage", "aws", raw.aws)? {
            let Some(bucket) = non_empty(section.raw.s3_bucket.clone()) else {
                // Empty means disabled, as in the original agent; but with other keys set it
                // is more likely a mistake (an unset variable in a template) than a choice.
                if section.raw.has_other_keys() {
                    self.warn(format!(
                        "{}: key \"{}.s3_bucket\" is empty, so this S3 storage is disabled \
                         although other keys of it are set",
                        self.file, section.path
                    ));
                }
                continue;
            };
            self.built_with(&section.path, cfg!(feature = "s3"), "s3")?;
            storages.push(StorageConfig {
                name: section.name,
                key: section.path.clone(),
                retention: self.retention(&section.path, section.retention)?,
                kind: StorageKind::S3(self.s3(&section.path, bucket, section.raw)?),
                credentials_from: None,
            });
            paths.push(section.path);
        }
        for section in self.sections::<RawGcs>("google_storage", "gcp", raw.google)? {
            let Some(bucket) = non_empty(section.raw.bucket.clone()) else {
                continue;
            };
            self.built_with(&section.path, cfg!(feature = "gcs"), "gcs")?;
            let retention = self.retention(&section.path, section.retention)?;
            let (gcs, credentials_from) = self.gcs(&section.path, bucket, section.raw)?;
            storages.push(StorageConfig {
                name: section.name,
                key: section.path.clone(),
                retention,
                kind: StorageKind::Gcs(gcs),
                credentials_from,
            });
            paths.push(section.path);
        }
        for section in self.sections::<RawAzure>("azure_storage", "azure", raw.azure)? {
            let Some(container) = non_empty(section.raw.container_name.clone()) else {
                continue;
            };
            self.built_with(&section.path, cfg!(feature = "azure"), "azure")?;
            storages.push(StorageConfig {
                name: section.name,
                key: section.path.clone(),
                retention: self.retention(&section.path, section.retention)?,
                kind: StorageKind::Azure(self.azure(&section.path, container, section.raw)?),
                credentials_from: None,
            });
            paths.push(section.path);
        }
        if storages.is_empty() {
            return Err(ConfigError(format!(
                "{}: no storage configured: set \"local_storage\": {{\"path\": \"/var/backups/vault\"}} \
                 or one of aws_storage, google_storage, azure_storage",
                self.file
            )));
        }
        self.distinct_directories(&storages, &paths)?;
        for (i, storage) in storages.iter().enumerate() {
            if let Some(j) = storages[..i].iter().position(|s| s.name == storage.name) {
                return Err(self.err(
                    &format!("{}.name", paths[i]),
                    format!(
                        "storage name {:?} is already used by {}; every storage needs its own name",
                        storage.name, paths[j]
                    ),
                ));
            }
        }
        Ok(storages)
    }

    /// Two local storages in one directory would store each snapshot twice in the same place
    /// and race each other's temporary files: refused. Compared as written, less a trailing
    /// `/` and `.` components; a symlink or `..` needs the disk, so
    /// `super::probe::distinct_local_directories` compares the resolved paths.
    fn distinct_directories(
        &self,
        storages: &[StorageConfig],
        paths: &[String],
    ) -> Result<(), ConfigError> {
        let mut seen: Vec<(PathBuf, usize)> = Vec::new();
        for (i, storage) in storages.iter().enumerate() {
            let StorageKind::Local { path } = &storage.kind else {
                continue;
            };
            let normal: PathBuf = path.components().collect();
            if let Some((_, j)) = seen.iter().find(|(p, _)| *p == normal) {
                return Err(self.err(
                    &format!("{}.path", paths[i]),
                    same_directory(path, &paths[*j], &normal),
                ));
            }
            seen.push((normal, i));
        }
        Ok(())
    }
}

/// The problem of a local storage in the directory `earlier` (`local_storage[0]`) already
/// uses, `resolved` being what both paths come to.
pub(super) fn same_directory(path: &Path, earlier: &str, resolved: &Path) -> String {
    format!(
        "{} is the same directory as {earlier}.path ({}); give each local storage its own directory",
        path.display(),
        resolved.display()
    )
}

impl Validator<'_> {
    fn s3(&self, path: &str, bucket: String, raw: RawS3) -> Result<S3Config, ConfigError> {
        let endpoint = non_empty(raw.s3_endpoint)
            .map(|e| self.url(&format!("{path}.s3_endpoint"), &e))
            .transpose()?;
        let secret = self.secret(&format!("{path}.secret_access_key"), raw.secret_access_key)?;
        let access = self.secret(&format!("{path}.access_key_id"), raw.access_key_id)?;
        if access.is_some() != secret.is_some() {
            return Err(self.err(
                &format!("{path}.access_key_id"),
                "set both access_key_id and secret_access_key, or neither (to use the AWS credential chain)",
            ));
        }
        let static_name = non_empty(raw.s3_static_snapshot_name);
        if static_name
            .as_ref()
            .is_some_and(|n| n.contains('/') || n.starts_with('.'))
        {
            return Err(self.err(
                &format!("{path}.s3_static_snapshot_name"),
                "must be a plain object name (no '/', not starting with '.'); the prefix is s3_key_prefix",
            ));
        }
        let part_size = match raw.s3_part_size {
            None => S3_DEFAULT_PART_SIZE,
            Some(size) => {
                let bytes = match size {
                    RawSize::Bytes(n) => Some(n),
                    RawSize::Text(text) => parse_size(&text),
                };
                match bytes {
                    Some(n) if S3_PART_SIZE_RANGE.contains(&n) => n,
                    Some(n) => {
                        return Err(self.err(
                            &format!("{path}.s3_part_size"),
                            format!(
                                "{n} bytes is outside S3's part sizes, 5MiB to 5GiB (e.g. \"16MiB\")"
                            ),
                        ));
                    }
                    None => {
                        return Err(self.err(
                            &format!("{path}.s3_part_size"),
                            "must be a number of bytes or a size such as \"16MiB\" (units B, KiB, MiB, GiB)",
                        ));
                    }
                }
            }
        };
        let upload_concurrency = match raw.s3_upload_concurrency {
            None => S3_DEFAULT_UPLOAD_CONCURRENCY,
            Some(n @ 1..=64) => usize::try_from(n).unwrap_or(S3_MAX_UPLOAD_CONCURRENCY),
            Some(n) => {
                return Err(self.err(
                    &format!("{path}.s3_upload_concurrency"),
                    format!("{n} parts at a time: must be 1 to {S3_MAX_UPLOAD_CONCURRENCY}"),
                ));
            }
        };
        Ok(S3Config {
            part_size,
            upload_concurrency,
            sign_payload: raw.s3_sign_payload.unwrap_or(false),
            access_key_id: access,
            secret_access_key: secret,
            endpoint,
            force_path_style: raw.s3_force_path_style.unwrap_or(false),
            region: non_empty(raw.s3_region)
                .or_else(|| non_empty((self.env)("AWS_REGION")))
                .or_else(|| non_empty((self.env)("AWS_DEFAULT_REGION")))
                .unwrap_or_else(|| "us-east-1".into()),
            bucket,
            key_prefix: non_empty(raw.s3_key_prefix).unwrap_or_else(|| "raft_snapshots".into()),
            server_side_encryption: raw.s3_server_side_encryption.unwrap_or(false),
            kms_key_id: non_empty(raw.s3_kms_key_id),
            static_snapshot_name: static_name,
            storage_class: non_empty(raw.s3_storage_class),
        })
    }

    /// The section, and the key or variable that named its credentials file, if one did.
    fn gcs(
        &self,
        path: &str,
        bucket: String,
        raw: RawGcs,
    ) -> Result<(GcsConfig, Option<String>), ConfigError> {
        let emulator_host = non_empty((self.env)("STORAGE_EMULATOR_HOST"));
        let (endpoint, emulator) = match (non_empty(raw.endpoint), emulator_host) {
            (Some(e), _) => (self.url(&format!("{path}.endpoint"), &e)?, false),
            (None, Some(host)) => {
                let host = if host.contains("://") {
                    host
                } else {
                    format!("http://{host}")
                };
                let url = self.url(
                    &format!("{path}.endpoint (from STORAGE_EMULATOR_HOST)"),
                    &host,
                )?;
                (url, true)
            }
            (None, None) => ("https://storage.googleapis.com".to_string(), false),
        };
        let (credentials, from) = if emulator {
            (GoogleCredentials::None, None)
        } else if let Some(Sourced { value, from }) = self.key_or_env(
            &format!("{path}.credentials_file"),
            raw.credentials_file,
            "GOOGLE_APPLICATION_CREDENTIALS",
        ) {
            (GoogleCredentials::File(PathBuf::from(value)), Some(from))
        } else {
            let host = non_empty((self.env)("GCE_METADATA_HOST"))
                .unwrap_or_else(|| DEFAULT_METADATA_HOST.into());
            (GoogleCredentials::Metadata(host), None)
        };
        let gcs = GcsConfig {
            bucket,
            prefix: non_empty(raw.prefix).unwrap_or_default(),
            endpoint,
            credentials,
        };
        Ok((gcs, from))
    }

    fn azure(
        &self,
        path: &str,
        container: String,
        raw: RawAzure,
    ) -> Result<AzureConfig, ConfigError> {
        let account_name = non_empty(raw.account_name)
            .or_else(|| non_empty((self.env)("AZURE_STORAGE_ACCOUNT")))
            .ok_or_else(|| {
                self.err(
                    &format!("{path}.account_name"),
                    "is required (or set AZURE_STORAGE_ACCOUNT)",
                )
            })?;
        let account_key = match self.secret(&format!("{path}.account_key"), raw.account_key)? {
            Some(key) => Some(key),
            None => non_empty((self.env)("AZURE_STORAGE_KEY"))
                .map(|key| SecretRef::value("AZURE_STORAGE_KEY", Secret::new(key))),
        };
        let sas_token = self.secret(&format!("{path}.sas_token"), raw.sas_token)?;
        Ok(AzureConfig {
            account_name,
            account_key,
            container_name: container,
            prefix: non_empty(raw.prefix).unwrap_or_default(),
            endpoint: non_empty(raw.endpoint)
                .map(|e| self.url(&format!("{path}.endpoint"), &e))
                .transpose()?,
            sas_token,
        })
    }
}

/// The field names serde lists in an "unknown field ... expected one of ..." message.
#[cfg(test)]
pub(super) fn expected_fields(error: &str) -> Vec<String> {
    // "expected one of `a`, `b`, `c`" or, for two, "expected `a` or `b`".
    let list = error.split_once("expected").map_or("", |(_, rest)| rest);
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The fields `T` accepts, from serde's "unknown field" message.
#[cfg(test)]
pub(super) fn probe_one<T: DeserializeOwned>() -> Vec<String> {
    let error = serde_json::from_str::<T>(r#"{"__probe__": 1}"#)
        .err()
        .unwrap()
        .to_string();
    expected_fields(&error)
}

/// Each storage section's accepted fields, for the documentation test.
#[cfg(test)]
pub(super) fn accepted_fields() -> Vec<(&'static str, Vec<String>)> {
    // Every object also takes `name` and the retention keys, read apart from the rest.
    fn probe<T: DeserializeOwned>() -> Vec<String> {
        let mut fields = probe_one::<T>();
        fields.extend(probe_one::<RawRetention>());
        fields.push("name".into());
        fields
    }
    vec![
        ("local_storage", probe::<RawLocal>()),
        ("aws_storage", probe::<RawS3>()),
        ("google_storage", probe::<RawGcs>()),
        ("azure_storage", probe::<RawAzure>()),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::{FILE, accepted, assert_refused, refused};

    #[cfg(feature = "s3")]
    #[test]
    fn storages_are_named_by_kind_and_position_or_by_their_name_key() {
        use super::select_storage;
        let config = accepted(
            r#"{"role_id": "r", "secret_id": "s",
                "local_storage": [{"path": ""}, {"path": "/a"}, {"path": "/b", "name": "disk"}],
                "aws_storage": {"s3_bucket": "b"}}"#,
            &[],
        );
        let names: Vec<(&str, &str)> = config
            .storages
            .iter()
            .map(|s| (s.name.as_str(), s.key.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("local-1", "local_storage[1]"),
                ("disk", "local_storage[2]"),
                ("aws-0", "aws_storage")
            ]
        );
        for (wanted, expected) in [
            ("disk", Ok(1)),
            ("aws", Ok(2)),
            ("aws-0", Ok(2)),
            ("local-1", Ok(0)),
            ("local", Err("2 storages are of kind \"local\"; name one")),
            (
                "nas",
                Err("no storage has that name (storages: local-1, disk, aws-0)"),
            ),
        ] {
            match (select_storage(&config.storages, wanted), expected) {
                (Ok(got), Ok(index)) => assert_eq!(got, index, "row {wanted}"),
                (Err(error), Err(text)) => {
                    assert!(error.to_string().contains(text), "row {wanted}: {error}");
                }
                (got, expected) => panic!("row {wanted}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn storage_names_must_be_plain_and_unique() {
        for bad in [
            "\"\"",
            "\"a b\"",
            "7",
            "\"x/y\"",
            &format!("\"{}\"", "n".repeat(65)),
        ] {
            let error = refused(
                &format!(
                    r#"{{"role_id": "r", "secret_id": "s", "local_storage": {{"path": "/a", "name": {bad}}}}}"#
                ),
                &[],
            );
            assert!(
                error.contains("key \"local_storage.name\": must be a non-empty string"),
                "row {bad}: {error}"
            );
        }
        assert_refused(&[(
            r#"{"role_id": "r", "secret_id": "s",
                "local_storage": [{"path": "/a", "name": "disk"}, {"path": "/b", "name": "disk"}]}"#,
            "key \"local_storage[1].name\": storage name \"disk\" is already used by local_storage[0]",
        )]);
        #[cfg(feature = "s3")]
        assert_refused(&[(
            r#"{"role_id": "r", "secret_id": "s",
                "local_storage": [{"path": "/a", "name": "aws-0"}],
                "aws_storage": {"s3_bucket": "b"}}"#,
            "key \"aws_storage.name\": storage name \"aws-0\" is already used by local_storage[0]",
        )]);
    }

    #[test]
    fn a_config_without_a_usable_storage_section_is_refused() {
        let base = r#""role_id": "r", "secret_id": "s""#;
        assert_refused(&[
            (&format!("{{{base}}}"), "no storage configured"),
            (
                &format!(r#"{{{base}, "local_storage": {{"path": ""}}}}"#),
                "no storage configured",
            ),
            (
                &format!(r#"{{{base}, "local_storage": [], "aws_storage": {{"s3_bucket": ""}}}}"#),
                "no storage configured",
            ),
            (
                &format!(r#"{{{base}, "local_storage": {{"path": "/a", "pth": 1}}}}"#),
                "key \"local_storage.pth\": unknown field `pth`",
            ),
            (
                &format!(r#"{{{base}, "local_storage": "/a"}}"#),
                "key \"local_storage\": must be an object or a list",
            ),
            (
                &format!(r#"{{{base}, "local_storage": [{{"path": "/a"}}, 7]}}"#),
                "key \"local_storage[1]\": must be an object",
            ),
            (
                r#""aws_storage": "s3://bucket""#,
                "key \"aws_storage\": must be an object or a list",
            ),
        ]);
    }

    #[test]
    fn two_local_storages_in_one_directory_are_refused_as_written() {
        for second in ["/a/", "/a/.", "/a//", "/./a"] {
            let error = refused(
                &format!(
                    r#"{{"role_id": "r", "secret_id": "s", "local_storage": [{{"path": "/a"}}, {{"path": "{second}"}}]}}"#
                ),
                &[],
            );
            assert!(
                error.contains("key \"local_storage[1].path\"")
                    && error.contains("the same directory as local_storage[0].path (/a)"),
                "row {second}: {error}"
            );
        }
        // Symlinks and `..` need the disk: compared when probing.
        for other in ["/a/b", "/a/../a", "a"] {
            let json = format!(
                r#"{{"role_id": "r", "secret_id": "s", "local_storage": [{{"path": "/a"}}, {{"path": "{other}"}}]}}"#
            );
            assert_eq!(accepted(&json, &[]).storages.len(), 2, "row {other}");
        }
    }

    #[test]
    fn an_empty_s3_bucket_beside_other_s3_keys_is_a_warning() {
        for (section, warned) in [
            (r#"{"s3_bucket": "", "s3_region": "eu-west-1"}"#, true),
            (r#"{"s3_bucket": "", "s3_force_path_style": false}"#, true),
            (r#"{"s3_bucket": "", "access_key_id": "AKIA"}"#, true),
            // Wholly empty, as the original agent's example configs have it: disabled quietly.
            (r#"{"s3_bucket": ""}"#, false),
            (r#"{"s3_bucket": "", "s3_region": ""}"#, false),
        ] {
            let config = accepted(&format!(r#""aws_storage": {section}"#), &[]);
            assert_eq!(config.storages.len(), 1, "row {section}");
            let about_s3: Vec<&String> = config
                .warnings
                .iter()
                .filter(|w| {
                    w.starts_with(&format!("{FILE}: key \"aws_storage.s3_bucket\" is empty"))
                })
                .collect();
            assert_eq!(
                about_s3.len(),
                usize::from(warned),
                "row {section}: {:?}",
                config.warnings
            );
        }
    }

    #[cfg(feature = "s3")]
    #[test]
    fn s3_keys_are_read_with_their_defaults() {
        use super::StorageKind;
        let config = accepted(
            r#""aws_storage": {"s3_bucket": "b", "s3_endpoint": "http://minio:9000/",
                "access_key_id": "env://AWS_KEY", "secret_access_key": "file:///nonexistent/key"}"#,
            &[("AWS_REGION", "eu-central-1")],
        );
        let StorageKind::S3(s3) = &config.storages[1].kind else {
            panic!("{:?}", config.storages);
        };
        assert_eq!(s3.endpoint.as_deref(), Some("http://minio:9000"));
        assert_eq!(s3.region, "eu-central-1");
        assert_eq!(s3.key_prefix, "raft_snapshots");
        assert!(config.storages[1].reads_secrets_at_use());
        for (env, region) in [
            (&[][..], "us-east-1"),
            (&[("AWS_DEFAULT_REGION", "ap-south-1")], "ap-south-1"),
            (
                &[("AWS_DEFAULT_REGION", "x"), ("AWS_REGION", "eu-north-1")],
                "eu-north-1",
            ),
        ] {
            let config = accepted(r#""aws_storage": {"s3_bucket": "b"}"#, env);
            let StorageKind::S3(s3) = &config.storages[1].kind else {
                panic!("{:?}", config.storages);
            };
            assert_eq!(s3.region, region, "row {env:?}");
        }
    }

    #[cfg(feature = "s3")]
    #[test]
    fn bad_s3_keys_are_refused_by_their_full_key() {
        assert_refused(&[
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
                r#""aws_storage": {"s3_bucket": "b", "secret_access_key": "env://K"}"#,
                "key \"aws_storage.access_key_id\": set both",
            ),
            (
                r#""aws_storage": {"s3_bucket": "b", "s3_static_snapshot_name": "a/b.snap"}"#,
                "key \"aws_storage.s3_static_snapshot_name\": must be a plain object name",
            ),
            (
                r#""aws_storage": {"s3_bucket": "b", "secret_access_key": "env://", "access_key_id": "a"}"#,
                "key \"aws_storage.secret_access_key\": \"env://\" names no environment variable",
            ),
            (
                r#""aws_storage": {"s3_bucket": "b", "s3_part_size": "4MiB"}"#,
                "key \"aws_storage.s3_part_size\": 4194304 bytes is outside S3's part sizes, 5MiB to 5GiB",
            ),
            (
                r#""aws_storage": {"s3_bucket": "b", "s3_part_size": 6442450944}"#,
                "key \"aws_storage.s3_part_size\": 6442450944 bytes is outside",
            ),
            (
                r#""aws_storage": {"s3_bucket": "b", "s3_part_size": "16 MB"}"#,
                "key \"aws_storage.s3_part_size\": must be a number of bytes or a size such as",
            ),
            (
                r#""aws_storage": {"s3_bucket": "b", "s3_upload_concurrency": 0}"#,
                "key \"aws_storage.s3_upload_concurrency\": 0 parts at a time: must be 1 to 64",
            ),
            (
                r#""aws_storage": {"s3_bucket": "b", "s3_upload_concurrency": 65}"#,
                "key \"aws_storage.s3_upload_concurrency\": 65 parts at a time",
            ),
            (
                r#""aws_storage": {"s3_bucket": "b", "s3_upload_concurrency": "4"}"#,
                "key \"aws_storage.s3_upload_concurrency\": invalid type",
            ),
            (
                r#""aws_storage": {"s3_bucket": "b", "s3_sign_payload": "yes"}"#,
                "key \"aws_storage.s3_sign_payload\": invalid type",
            ),
        ]);
    }

    #[cfg(feature = "s3")]
    #[test]
    fn s3_part_size_and_concurrency_are_read_with_units() {
        use super::StorageKind;
        for (raw, part_size, concurrency) in [
            (r#"{"s3_bucket": "b"}"#, 8 << 20, 4),
            (
                r#"{"s3_bucket": "b", "s3_part_size": "16MiB", "s3_upload_concurrency": 8}"#,
                16 << 20,
                8,
            ),
            (
                r#"{"s3_bucket": "b", "s3_part_size": 5242880, "s3_upload_concurrency": 1}"#,
                5 << 20,
                1,
            ),
            (r#"{"s3_bucket": "b", "s3_part_size": "5 GiB"}"#, 5 << 30, 4),
            (
                r#"{"s3_bucket": "b", "s3_part_size": "6144 KiB"}"#,
                6 << 20,
                4,
            ),
        ] {
            let config = accepted(&format!(r#""aws_storage": {raw}"#), &[]);
            let Some(s3) = config.storages.iter().find_map(|s| match &s.kind {
                StorageKind::S3(s3) => Some(s3),
                _ => None,
            }) else {
                panic!("no S3 storage: {raw}");
            };
            assert_eq!(
                (s3.part_size, s3.upload_concurrency),
                (part_size, concurrency),
                "{raw}"
            );
            assert!(!s3.sign_payload, "{raw}: the payload is signed by default");
        }
        let config = accepted(
            r#""aws_storage": {"s3_bucket": "b", "s3_sign_payload": true}"#,
            &[],
        );
        assert!(
            config
                .storages
                .iter()
                .any(|s| matches!(&s.kind, StorageKind::S3(s3) if s3.sign_payload)),
            "s3_sign_payload: true was not read"
        );
    }

    #[cfg(feature = "gcs")]
    #[test]
    fn google_credentials_are_chosen_as_googles_libraries_choose() {
        use super::{DEFAULT_METADATA_HOST, GoogleCredentials, StorageKind};
        let gcs = r#""google_storage": {"bucket": "b"}"#;
        let with_file =
            r#""google_storage": {"bucket": "b", "credentials_file": "/nonexistent/sa.json"}"#;
        let key_from = format!("{FILE}: key \"google_storage.credentials_file\"");
        let var_from = "environment variable GOOGLE_APPLICATION_CREDENTIALS";
        for (row, env, credentials, from, endpoint) in [
            (
                gcs,
                &[][..],
                GoogleCredentials::Metadata(DEFAULT_METADATA_HOST.into()),
                None,
                "https://storage.googleapis.com",
            ),
            (
                gcs,
                &[("GCE_METADATA_HOST", "127.0.0.1:9")],
                GoogleCredentials::Metadata("127.0.0.1:9".into()),
                None,
                "https://storage.googleapis.com",
            ),
            (
                // Not read: whether it can be is for the probe.
                with_file,
                &[("GOOGLE_APPLICATION_CREDENTIALS", "/other/sa.json")],
                GoogleCredentials::File("/nonexistent/sa.json".into()),
                Some(key_from.as_str()),
                "https://storage.googleapis.com",
            ),
            (
                gcs,
                &[("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/sa.json")],
                GoogleCredentials::File("/nonexistent/sa.json".into()),
                Some(var_from),
                "https://storage.googleapis.com",
            ),
            (
                with_file,
                &[("STORAGE_EMULATOR_HOST", "localhost:4443")],
                GoogleCredentials::None,
                None,
                "http://localhost:4443",
            ),
        ] {
            let config = accepted(row, env);
            let storage = &config.storages[1];
            let StorageKind::Gcs(loaded) = &storage.kind else {
                panic!("{:?}", config.storages);
            };
            assert_eq!(
                (
                    &loaded.credentials,
                    storage.credentials_from.as_deref(),
                    loaded.endpoint.as_str()
                ),
                (&credentials, from, endpoint),
                "row {row} with {env:?}"
            );
        }
    }

    #[cfg(feature = "gcs")]
    #[test]
    fn bad_google_keys_are_refused_by_their_full_key() {
        use super::super::testing::assert_refused_with;
        assert_refused(&[
            (
                r#""google_storage": {"bucket": "b", "retain": -2}"#,
                "key \"google_storage.retain\": must be 0 or more",
            ),
            (
                r#""google_storage": {"bucket": "b", "endpoint": "gcs"}"#,
                "key \"google_storage.endpoint\": invalid URL",
            ),
        ]);
        assert_refused_with(
            &[("STORAGE_EMULATOR_HOST", "ftp://x")],
            &[(
                r#""google_storage": {"bucket": "b"}"#,
                "key \"google_storage.endpoint (from STORAGE_EMULATOR_HOST)\": invalid URL",
            )],
        );
    }

    #[cfg(feature = "azure")]
    #[test]
    fn azure_keys_and_variables_are_read() {
        use super::{Secret, SecretRef, StorageKind};
        assert_refused(&[(
            r#""azure_storage": {"container_name": "c"}"#,
            "key \"azure_storage.account_name\": is required",
        )]);
        let env = [
            ("AZURE_STORAGE_ACCOUNT", "acct"),
            ("AZURE_STORAGE_KEY", "a2V5"),
        ];
        let config = accepted(
            r#""azure_storage": {"container_name": "c", "sas_token": "file:///nonexistent/sas"}"#,
            &env,
        );
        let StorageKind::Azure(azure) = &config.storages[1].kind else {
            panic!("{:?}", config.storages);
        };
        assert_eq!(azure.account_name, "acct");
        assert_eq!(
            azure.account_key,
            Some(SecretRef::value("AZURE_STORAGE_KEY", Secret::new("a2V5")))
        );
        assert!(
            azure
                .sas_token
                .as_ref()
                .is_some_and(SecretRef::is_reference)
        );
    }
}
