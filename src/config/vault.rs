//! How to reach Vault: `addr`, `namespace`, `timeout` and the TLS keys, each with the Vault
//! CLI's environment variable as a fallback. The TLS keys are resolved to files here (which
//! key or variable named each, for messages); reading them into a TLS client configuration
//! is `crate::vault::tls`'s job.

use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, DEFAULT_ADDR, Sourced, Validator, non_empty, parse_go_bool};

/// How to reach Vault.
#[derive(Debug, Clone)]
pub struct VaultSettings {
    /// Base URL, without a trailing slash, e.g. `https://127.0.0.1:8200`.
    pub addr: String,
    /// `X-Vault-Namespace`, if any.
    pub namespace: Option<String>,
    /// Limit on the whole snapshot download; `None` waits as long as it takes.
    pub snapshot_timeout: Option<Duration>,
    /// The longest wait for the next byte from Vault (or for Vault to take the next one).
    pub idle_timeout: Duration,
    /// Which certificates to trust and present.
    pub tls: TlsSettings,
}

/// The TLS keys, resolved to files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// The CAs to trust instead of the system's.
    pub ca: Option<CaSource>,
    /// The client certificate for mutual TLS.
    pub client: Option<ClientIdentity>,
    /// True when certificate verification is off (logged loudly).
    pub skip_verify: bool,
}

/// A file or directory and the key or variable that named it, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPath {
    /// The path.
    pub path: PathBuf,
    /// Where it was set: `<file>: key "ca_cert"` or `environment variable VAULT_CACERT`.
    pub from: String,
}

/// Where the trusted CAs come from (a file wins over a directory, as in Vault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    /// One PEM file (`ca_cert`).
    File(NamedPath),
    /// A directory of PEM files (`ca_path`).
    Dir(NamedPath),
}

/// A client certificate chain and its key, both PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// `client_cert`.
    pub cert: NamedPath,
    /// `client_key`.
    pub key: NamedPath,
}

/// The Vault keys as written in the file.
#[derive(Default)]
pub(super) struct RawVault {
    pub addr: Option<String>,
    pub namespace: Option<String>,
    pub snapshot_timeout: Option<Duration>,
    pub idle_timeout: Duration,
    pub ca_cert: Option<String>,
    pub ca_path: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub tls_server_name: Option<String>,
    pub tls_skip_verify: Option<bool>,
}

impl From<Sourced> for NamedPath {
    fn from(sourced: Sourced) -> Self {
        Self {
            path: PathBuf::from(sourced.value),
            from: sourced.from,
        }
    }
}

impl Validator<'_> {
    pub(super) fn vault(&self, raw: RawVault) -> Result<VaultSettings, ConfigError> {
        if let Some(Sourced { from, .. }) = self.key_or_env(
            "tls_server_name",
            raw.tls_server_name,
            "VAULT_TLS_SERVER_NAME",
        ) {
            return Err(ConfigError(format!(
                "{from}: setting a TLS server name apart from the address is not supported yet; \
                 use that name as the host in addr (e.g. with an /etc/hosts entry)"
            )));
        }
        let ca = match self.key_or_env("ca_cert", raw.ca_cert, "VAULT_CACERT") {
            Some(file) => Some(CaSource::File(file.into())),
            None => self
                .key_or_env("ca_path", raw.ca_path, "VAULT_CAPATH")
                .map(|dir| CaSource::Dir(dir.into())),
        };
        let cert = self.key_or_env("client_cert", raw.client_cert, "VAULT_CLIENT_CERT");
        let key = self.key_or_env("client_key", raw.client_key, "VAULT_CLIENT_KEY");
        let client = match (cert, key) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(ClientIdentity {
                cert: cert.into(),
                key: key.into(),
            }),
            (Some(one), None) | (None, Some(one)) => {
                return Err(ConfigError(format!(
                    "{}: both client_cert and client_key must be provided",
                    one.from
                )));
            }
        };
        let namespace = self.key_or_env("namespace", raw.namespace, "VAULT_NAMESPACE");
        if let Some(Sourced { value, from }) = &namespace {
            if value.chars().any(char::is_control) {
                return Err(ConfigError(format!(
                    "{from}: the namespace contains a newline or another control character, \
                     which cannot be sent in the X-Vault-Namespace header"
                )));
            }
        }
        Ok(VaultSettings {
            addr: self.addr(raw.addr)?,
            namespace: namespace.map(|s| s.value),
            snapshot_timeout: raw.snapshot_timeout,
            idle_timeout: raw.idle_timeout,
            tls: TlsSettings {
                ca,
                client,
                skip_verify: self.skip_verify(raw.tls_skip_verify)?,
            },
        })
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
}
