//! AWS credentials without an SDK: a synchronous credential chain on ureq, and SigV4 signing.
//!
//! The chain ([`CredentialChain`]) looks at its sources in the order the AWS SDKs do and uses
//! the first one that is configured; it does not fall through to the next when the one that
//! is configured fails (a broken IRSA setup must not quietly become the node's instance role):
//!
//! 1. static keys from the config (`access_key_id` + `secret_access_key`),
//! 2. the environment (`AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`),
//! 3. a profile of the shared credentials file (`AWS_PROFILE`, else `default`, in
//!    `AWS_SHARED_CREDENTIALS_FILE`, else `$HOME/.aws/credentials`),
//! 4. web identity (IRSA: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`) exchanged at STS
//!    `AssumeRoleWithWebIdentity`, at `AWS_ENDPOINT_URL_STS` (else `AWS_ENDPOINT_URL`) or the
//!    regional STS endpoint of `AWS_REGION` (the global one only without a region, or with
//!    `AWS_STS_REGIONAL_ENDPOINTS=legacy` in a region that had it),
//! 5. container credentials (EKS Pod Identity, ECS: `AWS_CONTAINER_CREDENTIALS_FULL_URI` with
//!    `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` or `_TOKEN`, or `_RELATIVE_URI`),
//! 6. the instance metadata service, IMDSv2 only (a PUT for a session token first), at
//!    `AWS_EC2_METADATA_SERVICE_ENDPOINT` or 169.254.169.254, unless
//!    `AWS_EC2_METADATA_DISABLED=true`.
//!
//! Temporary credentials are cached and fetched again five minutes before they expire (or
//! when a refresh fails, kept while they are still valid). [`Source`] names the source for
//! `check` and for errors; no error or log line carries a key, a session token or a web
//! identity token.

mod providers;
#[cfg(any(feature = "s3", feature = "azure"))]
pub(crate) use providers::error_summary;
pub mod sign;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::{Result, anyhow};

use crate::secret::{Secret, SecretRef};

pub use providers::sts_endpoint;

/// Reads an environment variable (the process's, or a test's table).
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment.
#[must_use]
pub fn process_env() -> Env {
    Arc::new(|name| std::env::var(name).ok())
}

/// How long before their expiry temporary credentials are fetched again.
pub const REFRESH_BEFORE: Duration = Duration::from_secs(300);

/// An access key, its secret and, for temporary credentials, the session token and expiry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AKIA...` / `ASIA...`: not a secret, but kept out of logs anyway.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token of temporary credentials.
    pub session_token: Option<Secret>,
    /// When temporary credentials expire.
    pub expires: Option<SystemTime>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_access_key", &self.secret_access_key)
            .field("session_token", &self.session_token)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// True when these should be fetched again at `now`.
    #[must_use]
    pub fn needs_refresh(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|e| now + REFRESH_BEFORE >= e)
    }

    /// True while they may still be used at `now`.
    #[must_use]
    pub fn valid_at(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|e| now < e)
    }
}

/// Where credentials come from; its display names the source and where it is reached,
/// never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `access_key_id` and `secret_access_key` in the config.
    Config,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    Environment,
    /// A profile of the shared credentials file.
    Profile {
        /// The file.
        file: PathBuf,
        /// The profile's name.
        profile: String,
    },
    /// IRSA: a web identity token exchanged at STS.
    WebIdentity {
        /// `AWS_ROLE_ARN`.
        role_arn: String,
        /// `AWS_WEB_IDENTITY_TOKEN_FILE`.
        token_file: PathBuf,
        /// The STS endpoint.
        sts: String,
    },
    /// EKS Pod Identity or ECS: the container credentials endpoint.
    Container {
        /// The URL asked.
        url: String,
    },
    /// The EC2 instance metadata service (IMDSv2).
    InstanceMetadata {
        /// Its address.
        endpoint: String,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Config => f.write_str("static keys from the config"),
            Source::Environment => {
                f.write_str("static keys from the environment (AWS_ACCESS_KEY_ID)")
            }
            Source::Profile { file, profile } => {
                write!(f, "profile [{profile}] of {}", file.display())
            }
            Source::WebIdentity {
                role_arn,
                token_file,
                sts,
            } => write!(
                f,
                "web identity (IRSA): role {role_arn}, token file {}, STS {sts}",
                token_file.display()
            ),
            Source::Container { url } => {
                write!(
                    f,
                    "container credentials (EKS Pod Identity or ECS) at {url}"
                )
            }
            Source::InstanceMetadata { endpoint } => {
                write!(f, "instance metadata (IMDSv2) at {endpoint}")
            }
        }
    }
}

/// The chain: which source is configured, and credentials from it, cached until shortly
/// before they expire.
pub struct CredentialChain {
    statics: Option<(SecretRef, SecretRef)>,
    env: Env,
    cached: Mutex<Option<Credentials>>,
}

impl CredentialChain {
    /// A chain with the config's static keys (if any) first, over `env`.
    #[must_use]
    pub fn new(statics: Option<(SecretRef, SecretRef)>, env: Env) -> Self {
        Self {
            statics,
            env,
            cached: Mutex::new(None),
        }
    }

    /// The source these credentials come from, decided from the config and the environment
    /// alone (nothing is sent).
    ///
    /// # Errors
    /// When no source is configured, or one is configured by halves.
    pub fn source(&self) -> Result<Source> {
        providers::detect(self.statics.is_some(), &*self.env)
    }

    /// Credentials valid for at least a few more minutes, fetched when needed.
    ///
    /// # Errors
    /// Naming the source and the URL asked, never a secret.
    pub fn credentials(&self) -> Result<Credentials> {
        let mut cached = self
            .cached
            .lock()
            .map_err(|_| anyhow!("the AWS credential cache is poisoned"))?;
        let now = SystemTime::now();
        if let Some(c) = cached.as_ref().filter(|c| !c.needs_refresh(now)) {
            return Ok(c.clone());
        }
        let fetched = self.source().and_then(|source| {
            log::debug!("fetching AWS credentials from {source}");
            providers::fetch(&source, self.statics.as_ref(), &*self.env)
        });
        match fetched {
            Ok(fresh) => {
                // Static keys are read again at every use: rotated file:// keys are picked up.
                if fresh.expires.is_some() {
                    *cached = Some(fresh.clone());
                }
                Ok(fresh)
            }
            Err(e) => match cached.as_ref().filter(|c| c.valid_at(now)) {
                Some(c) => {
                    log::warn!(
                        "refreshing AWS credentials failed; the current ones stay in use until \
                         they expire: {e:#}"
                    );
                    Ok(c.clone())
                }
                None => Err(e),
            },
        }
    }
}

/// The source a chain without static keys (or with them, `has_statics`) would use, from
/// `env` alone.
///
/// # Errors
/// When a source is configured by halves, or none is and instance metadata is off.
pub fn detect_source(has_statics: bool, env: &dyn Fn(&str) -> Option<String>) -> Result<Source> {
    providers::detect(has_statics, env)
}

/// A UTC time as AWS writes it: `2024-05-01T12:34:56Z`, with an optional fraction, or
/// `+00:00`.
#[must_use]
pub fn parse_utc(text: &str) -> Option<SystemTime> {
    let (date, time) = text.trim().split_once('T')?;
    let time = time
        .strip_suffix('Z')
        .or_else(|| time.strip_suffix("+00:00"))?;
    let number = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let mut ymd = date.splitn(3, '-');
    let (year, month, day) = (
        number(ymd.next()?)?,
        number(ymd.next()?)?,
        number(ymd.next()?)?,
    );
    let (time, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut hms = time.splitn(3, ':');
    let (hour, minute, second) = (
        number(hms.next()?)?,
        number(hms.next()?)?,
        number(hms.next()?)?,
    );
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second < 61
        && (fraction.is_empty() || number(fraction).is_some());
    if !valid {
        return None;
    }
    let days = crate::calendar::days_from_civil(i64::from(year), month, day);
    let seconds =
        days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).ok()?))
}

#[cfg(test)]
mod tests;
