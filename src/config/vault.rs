//! How to reach Vault: `addr`, `namespace`, `timeout` and the TLS keys, each with the Vault
//! CLI's environment variable as a fallback. The TLS keys are resolved to files here (which
//! key or variable named each, for messages); reading them into a TLS client configuration
//! is `crate::vault::tls`'s job.

use std::path::PathBuf;
use std::time::Duration;

use super::validator::{Sourced, Validator, non_empty, parse_go_bool};
use super::{ConfigError, DEFAULT_ADDR};

/// How to reach Vault.
#[derive(Debug, Clone)]
pub struct VaultSettings {
    /// Base URL, without a trailing slash, e.g. `https://127.0.0.1:8200`; with a list of
    /// nodes, the first (the agent talks to the active one, see `crate::vault::leader`).
    pub addr: String,
    /// Every node when `addr` lists two or more, in the order written; empty otherwise.
    pub nodes: Vec<String>,
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
    pub addr: Option<serde_json::Value>,
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
        let mut nodes = self.addr(raw.addr)?;
        let addr = nodes[0].clone();
        if nodes.len() == 1 {
            nodes.clear();
        }
        Ok(VaultSettings {
            addr,
            nodes,
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

    /// `addr`: one URL, or a JSON list of the nodes' URLs (at least one, none twice); else
    /// `VAULT_ADDR` (one URL, as the Vault CLI reads it); else the default.
    fn addr(&self, addr: Option<serde_json::Value>) -> Result<Vec<String>, ConfigError> {
        use serde_json::Value;
        let one = match addr {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text),
            Some(Value::Array(items)) => return self.addr_list(items),
            Some(_) => {
                return Err(self.err(
                    "addr",
                    "expected a URL or a list of URLs (one per Vault node)",
                ));
            }
        };
        let Some(Sourced { value, from }) = self.key_or_env("addr", one, "VAULT_ADDR") else {
            return Ok(vec![DEFAULT_ADDR.to_string()]);
        };
        Ok(vec![vault_addr(&value, &from)?])
    }

    /// `addr` as a list of nodes.
    fn addr_list(&self, items: Vec<serde_json::Value>) -> Result<Vec<String>, ConfigError> {
        if items.is_empty() {
            return Err(self.err("addr", "the list of nodes is empty"));
        }
        let mut nodes: Vec<String> = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let key = format!("addr[{i}]");
            let serde_json::Value::String(text) = item else {
                return Err(self.err(&key, "expected a URL such as https://vault-0:8200"));
            };
            let node = vault_addr(&text, &format!("{}: key \"{key}\"", self.file))?;
            if nodes.contains(&node) {
                return Err(self.err(&key, format!("{node} is listed twice")));
            }
            nodes.push(node);
        }
        Ok(nodes)
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

/// A Vault address as `addr`, `VAULT_ADDR` or `--addr` (named by `from`) give it: scheme,
/// host and port, no path; a trailing slash is dropped.
///
/// # Errors
/// A [`ConfigError`] starting with `from`.
pub(super) fn vault_addr(value: &str, from: &str) -> Result<String, ConfigError> {
    if has_userinfo(value) {
        // Checked before anything that quotes the value: the password must not be printed.
        return Err(ConfigError(format!(
            "{from}: credentials in the URL are not supported (they would appear in logs); \
             give only scheme, host and port, and the credentials through the auth keys"
        )));
    }
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

/// True when `url` has a `user[:password]@` part before its host (with or without a scheme).
#[must_use]
pub(crate) fn has_userinfo(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .contains('@')
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::testing::{FILE, accepted, assert_refused, assert_refused_with};
    use super::*;

    /// A row that sets nothing of Vault's (an empty key is unset).
    const UNSET: &str = r#""addr": """#;

    #[test]
    fn vault_environment_variables_fill_in_and_the_file_wins() {
        let env = [
            ("VAULT_ADDR", "https://env-vault:8200"),
            ("VAULT_NAMESPACE", "team-a"),
            ("VAULT_SKIP_VERIFY", "true"),
        ];
        for (row, env, addr, namespace, skip_verify) in [
            (UNSET, &[][..], DEFAULT_ADDR, None, false),
            (UNSET, &env, "https://env-vault:8200", Some("team-a"), true),
            (
                r#""addr": "http://file:8200", "namespace": "ns", "tls_skip_verify": false"#,
                &env,
                "http://file:8200",
                Some("ns"),
                false,
            ),
            (
                r#""addr": "http://vault.internal:8200/", "namespace": """#,
                &[],
                "http://vault.internal:8200",
                None,
                false,
            ),
            (
                UNSET,
                &[("VAULT_SKIP_VERIFY", "0")],
                DEFAULT_ADDR,
                None,
                false,
            ),
            (
                UNSET,
                &[("VAULT_SKIP_VERIFY", "")],
                DEFAULT_ADDR,
                None,
                false,
            ),
        ] {
            let vault = accepted(row, env).vault;
            assert_eq!(
                (
                    vault.addr.as_str(),
                    vault.namespace.as_deref(),
                    vault.tls.skip_verify
                ),
                (addr, namespace, skip_verify),
                "row {row} with {env:?}"
            );
        }
    }

    #[test]
    fn tls_keys_and_variables_resolve_to_named_files_unread() {
        let named = |path: &str, from: &str| NamedPath {
            path: PathBuf::from(path),
            from: from.to_string(),
        };
        let key = |key: &str| format!("{FILE}: key \"{key}\"");
        for (row, env, expected) in [
            (
                r#""ca_cert": """#,
                &[("VAULT_CACERT", "/etc/vault/ca.pem")][..],
                TlsSettings {
                    ca: Some(CaSource::File(named(
                        "/etc/vault/ca.pem",
                        "environment variable VAULT_CACERT",
                    ))),
                    ..TlsSettings::default()
                },
            ),
            (
                r#""ca_path": "/nonexistent/cas""#,
                &[],
                TlsSettings {
                    ca: Some(CaSource::Dir(named("/nonexistent/cas", &key("ca_path")))),
                    ..TlsSettings::default()
                },
            ),
            (
                r#""ca_cert": "/nonexistent/ca.pem", "ca_path": "/nonexistent/cas""#,
                &[],
                TlsSettings {
                    ca: Some(CaSource::File(named(
                        "/nonexistent/ca.pem",
                        &key("ca_cert"),
                    ))),
                    ..TlsSettings::default()
                },
            ),
            (
                r#""client_cert": "/nonexistent/c.pem""#,
                &[("VAULT_CLIENT_KEY", "/nonexistent/k.pem")],
                TlsSettings {
                    client: Some(ClientIdentity {
                        cert: named("/nonexistent/c.pem", &key("client_cert")),
                        key: named(
                            "/nonexistent/k.pem",
                            "environment variable VAULT_CLIENT_KEY",
                        ),
                    }),
                    ..TlsSettings::default()
                },
            ),
        ] {
            assert_eq!(
                accepted(row, env).vault.tls,
                expected,
                "row {row} with {env:?}"
            );
        }
    }

    #[test]
    fn addr_may_list_the_nodes() {
        let vault = accepted(
            r#""addr": ["https://vault-0:8200/", "https://vault-1:8200", "http://10.0.0.3:8200"]"#,
            &[("VAULT_ADDR", "https://env:8200")],
        )
        .vault;
        assert_eq!(vault.addr, "https://vault-0:8200");
        assert_eq!(
            vault.nodes,
            [
                "https://vault-0:8200",
                "https://vault-1:8200",
                "http://10.0.0.3:8200"
            ]
        );
        // One node is one addr.
        let vault = accepted(r#""addr": ["https://vault-0:8200"]"#, &[]).vault;
        assert_eq!(
            (vault.addr.as_str(), vault.nodes.len()),
            ("https://vault-0:8200", 0)
        );
        assert!(
            accepted(r#""addr": "https://v:8200""#, &[])
                .vault
                .nodes
                .is_empty()
        );
        assert_refused(&[
            (r#""addr": []"#, "key \"addr\": the list of nodes is empty"),
            (
                r#""addr": 8200"#,
                "key \"addr\": expected a URL or a list of URLs",
            ),
            (
                r#""addr": ["https://a:8200", 1]"#,
                "key \"addr[1]\": expected a URL",
            ),
            (
                r#""addr": ["https://a:8200", "a:8200"]"#,
                "key \"addr[1]\": invalid URL",
            ),
            (
                r#""addr": ["https://a:8200", "https://u:pw@b:8200"]"#,
                "key \"addr[1]\": credentials in the URL are not supported",
            ),
            (
                r#""addr": ["https://a:8200", "https://a:8200/"]"#,
                "key \"addr[1]\": https://a:8200 is listed twice",
            ),
        ]);
    }

    #[test]
    fn bad_vault_keys_are_refused_naming_the_key() {
        assert_refused(&[
            (r#""addr": "vault:8200""#, "key \"addr\": invalid URL"),
            (r#""addr": "ftp://vault:8200""#, "key \"addr\": invalid URL"),
            (r#""addr": "https://vault:8200/ui""#, "without a path"),
            (r#""addr": "https://vault:8200?x=1""#, "without a path"),
            (
                r#""addr": "http://user:hunter2@vault:8200""#,
                "key \"addr\": credentials in the URL are not supported",
            ),
            (
                r#""addr": "user:hunter2@vault:8200""#,
                "key \"addr\": credentials in the URL are not supported",
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
                r#""tls_skip_verify": "yes""#,
                "key \"tls_skip_verify\": invalid type",
            ),
            (
                r#""namespace": "team-a\nteam-b""#,
                "key \"namespace\": the namespace contains a newline",
            ),
        ]);
    }

    #[test]
    fn bad_vault_variables_are_refused_naming_the_variable() {
        for (name, value, expected) in [
            (
                "VAULT_SKIP_VERIFY",
                "maybe",
                "environment variable VAULT_SKIP_VERIFY: not a boolean",
            ),
            (
                "VAULT_ADDR",
                "vault:8200",
                "environment variable VAULT_ADDR: invalid URL",
            ),
            (
                "VAULT_CLIENT_KEY",
                "/k.pem",
                "environment variable VAULT_CLIENT_KEY: both",
            ),
            (
                "VAULT_TLS_SERVER_NAME",
                "v",
                "environment variable VAULT_TLS_SERVER_NAME",
            ),
            (
                "VAULT_ADDR",
                "https://u:hunter2@vault:8200",
                "environment variable VAULT_ADDR: credentials in the URL",
            ),
            (
                "VAULT_NAMESPACE",
                "a\rb",
                "environment variable VAULT_NAMESPACE: the namespace",
            ),
        ] {
            assert_refused_with(&[(name, value)], &[(UNSET, expected)]);
        }
    }
}
