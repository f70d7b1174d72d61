//! How the agent logs in to Vault: `token_path`, `vault_auth_method` and each method's keys
//! (AppRole, Kubernetes, userpass, LDAP, JWT, TLS certificate), checked together because they
//! decide one thing. Whether the token file, the JWT file or the secret references can be
//! read is probed apart (`super::probe::vault_credentials`).

use std::path::{Path, PathBuf};

use super::validator::{Validator, non_empty};
use super::{ConfigError, DEFAULT_K8S_TOKEN_PATH};
use crate::secret::{Secret, SecretRef};

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
        role_id: SecretRef,
        /// The secret_id.
        secret_id: SecretRef,
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
    /// Google Cloud login (a `gce` role) at `auth/<mount>/login` with the instance identity
    /// token the metadata server signs for the audience `http://vault/<role>`.
    Gcp {
        /// The auth mount, `gcp` by default.
        mount: String,
        /// The Vault role.
        role: String,
        /// The instance's service account whose identity token is asked for (`default`).
        service_account: String,
        /// The metadata server, `host[:port]` (`GCE_METADATA_HOST`, else
        /// `metadata.google.internal`).
        metadata_host: String,
    },
    /// Azure login at `auth/<mount>/login` with a managed-identity token from the instance
    /// metadata service (IMDS) and the VM's subscription, resource group and name.
    Azure {
        /// The auth mount, `azure` by default.
        mount: String,
        /// The Vault role.
        role: String,
        /// The resource the token is asked for (its `aud`), as the mount's `resource`.
        resource: String,
        /// IMDS's base URL, `http://169.254.169.254` unless
        /// `AZURE_POD_IDENTITY_AUTHORITY_HOST` names another.
        imds: String,
    },
    /// Userpass login at `auth/<mount>/login/<username>`.
    Userpass {
        /// The auth mount, `userpass` by default.
        mount: String,
        /// The user name (not a secret; shown in messages).
        username: String,
        /// The password (`userpass_password`).
        password: SecretRef,
    },
    /// LDAP login at `auth/<mount>/login/<username>`.
    Ldap {
        /// The auth mount, `ldap` by default.
        mount: String,
        /// The user name (not a secret; shown in messages).
        username: String,
        /// The password (`ldap_password`).
        password: SecretRef,
    },
    /// JWT/OIDC login at `auth/<mount>/login` with a role and a JWT from a file (a projected
    /// service account token, a CI job's OIDC token), re-read at every login.
    Jwt {
        /// The auth mount, `jwt` by default.
        mount: String,
        /// The Vault role.
        role: String,
        /// The file holding the JWT.
        jwt_path: PathBuf,
    },
    /// TLS certificate login at `auth/<mount>/login`: the client certificate
    /// (`client_cert`/`client_key`) presented in the TLS handshake is the credential.
    Cert {
        /// The auth mount, `cert` by default.
        mount: String,
        /// The certificate role to log in against; without it Vault tries every one.
        role: Option<String>,
    },
    /// AWS IAM login at `auth/<mount>/login`: a signed `sts:GetCallerIdentity` request,
    /// with credentials from the AWS chain (`crate::aws`).
    Aws {
        /// The auth mount, `aws` by default.
        mount: String,
        /// The Vault role.
        role: String,
        /// `X-Vault-AWS-IAM-Server-ID`, signed into the request when set.
        header_value: Option<String>,
        /// The STS region; `None`: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`.
        region: Option<String>,
    },
}

impl AuthMethod {
    /// What the method is called in messages (`AppRole`, `userpass`, `token file`, ...).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            AuthMethod::TokenFile(_) => "token file",
            AuthMethod::StaticToken(_) => "VAULT_TOKEN",
            AuthMethod::AppRole { .. } => "AppRole",
            AuthMethod::Kubernetes { .. } => "Kubernetes",
            AuthMethod::Gcp { .. } => "GCP",
            AuthMethod::Azure { .. } => "Azure",
            AuthMethod::Userpass { .. } => "userpass",
            AuthMethod::Ldap { .. } => "LDAP",
            AuthMethod::Jwt { .. } => "JWT",
            AuthMethod::Cert { .. } => "TLS certificate",
            AuthMethod::Aws { .. } => "AWS",
        }
    }

    /// The auth mount a login goes to; `None` for a token given as it is.
    #[must_use]
    pub fn mount(&self) -> Option<&str> {
        match self {
            AuthMethod::TokenFile(_) | AuthMethod::StaticToken(_) => None,
            AuthMethod::AppRole { mount, .. }
            | AuthMethod::Kubernetes { mount, .. }
            | AuthMethod::Gcp { mount, .. }
            | AuthMethod::Azure { mount, .. }
            | AuthMethod::Userpass { mount, .. }
            | AuthMethod::Ldap { mount, .. }
            | AuthMethod::Jwt { mount, .. }
            | AuthMethod::Cert { mount, .. }
            | AuthMethod::Aws { mount, .. } => Some(mount),
        }
    }
}

/// The authentication keys as written in the file.
#[derive(Default)]
pub(super) struct RawAuth {
    pub token_path: Option<String>,
    pub method: Option<String>,
    pub role_id: Option<Secret>,
    pub secret_id: Option<Secret>,
    pub approle_mount: Option<String>,
    pub k8s_role: Option<String>,
    pub k8s_mount: Option<String>,
    pub k8s_token_path: Option<String>,
    pub gcp_role: Option<String>,
    pub gcp_mount: Option<String>,
    pub gcp_service_account: Option<String>,
    pub azure_role: Option<String>,
    pub azure_mount: Option<String>,
    pub azure_resource: Option<String>,
    pub userpass_username: Option<String>,
    pub userpass_password: Option<Secret>,
    pub userpass_mount: Option<String>,
    pub ldap_username: Option<String>,
    pub ldap_password: Option<Secret>,
    pub ldap_mount: Option<String>,
    pub jwt_role: Option<String>,
    pub jwt_token_path: Option<String>,
    pub jwt_mount: Option<String>,
    pub cert_role: Option<String>,
    pub cert_mount: Option<String>,
    /// Whether `client_cert`/`client_key` (or their variables) are set, for `cert`.
    pub has_client_cert: bool,
    /// Whether `addr` is `https://`, for `cert`.
    pub https: bool,
    pub aws_role: Option<String>,
    pub aws_mount: Option<String>,
    pub aws_header_value: Option<String>,
    pub aws_region: Option<String>,
}

/// The GCE metadata server when `GCE_METADATA_HOST` does not name one.
const DEFAULT_GCE_METADATA_HOST: &str = "metadata.google.internal";
/// Azure's instance metadata service when `AZURE_POD_IDENTITY_AUTHORITY_HOST` does not name
/// another (the variable Azure's SDKs read for the same purpose).
pub const DEFAULT_AZURE_IMDS: &str = "http://169.254.169.254";
/// `azure_auth_resource` when not set.
pub const DEFAULT_AZURE_RESOURCE: &str = "https://management.azure.com/";

impl Validator<'_> {
    /// Chooses the method: `token_path` first, then `vault_auth_method` (AppRole by default,
    /// or `VAULT_TOKEN` when nothing else is configured, as the Vault CLI does).
    pub(super) fn auth(&self, raw: RawAuth) -> Result<AuthMethod, ConfigError> {
        if let Some(path) = non_empty(raw.token_path) {
            return Ok(AuthMethod::TokenFile(PathBuf::from(path)));
        }
        let explicit = non_empty(raw.method);
        let env_token = non_empty((self.env)("VAULT_TOKEN")).map(Secret::new);
        if env_token
            .as_ref()
            .is_some_and(|t| t.expose().trim().chars().any(char::is_control))
        {
            return Err(Self::env_err(
                "VAULT_TOKEN",
                "the token contains a newline or another control character (the value is not shown)",
            ));
        }
        match explicit.as_deref().unwrap_or("approle") {
            "token" => env_token.map(AuthMethod::StaticToken).ok_or_else(|| {
                self.err(
                    "vault_auth_method",
                    "\"token\" needs token_path in the file or the VAULT_TOKEN environment variable",
                )
            }),
            "approle" => {
                let role_id = self.secret("role_id", raw.role_id)?;
                let secret_id = self.secret("secret_id", raw.secret_id)?;
                match (role_id, secret_id, env_token) {
                    (Some(role_id), Some(secret_id), _) => Ok(AuthMethod::AppRole {
                        mount: non_empty(raw.approle_mount).unwrap_or_else(|| "approle".into()),
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
                let role = non_empty(raw.k8s_role).ok_or_else(|| {
                    self.err("k8s_auth_role", "Kubernetes authentication needs k8s_auth_role")
                })?;
                let jwt_path = PathBuf::from(
                    non_empty(raw.k8s_token_path).unwrap_or_else(|| DEFAULT_K8S_TOKEN_PATH.into()),
                );
                Ok(AuthMethod::Kubernetes {
                    mount: non_empty(raw.k8s_mount).unwrap_or_else(|| "kubernetes".into()),
                    role,
                    jwt_path,
                })
            }
            "gcp" => self.gcp_auth(raw.gcp_role, raw.gcp_mount, raw.gcp_service_account),
            "azure" => self.azure_auth(raw.azure_role, raw.azure_mount, raw.azure_resource),
            "userpass" => {
                let (username, password) = self.user_and_password(
                    "userpass",
                    ("userpass_username", raw.userpass_username),
                    ("userpass_password", raw.userpass_password),
                )?;
                Ok(AuthMethod::Userpass {
                    mount: non_empty(raw.userpass_mount).unwrap_or_else(|| "userpass".into()),
                    username,
                    password,
                })
            }
            "ldap" => {
                let (username, password) = self.user_and_password(
                    "LDAP",
                    ("ldap_username", raw.ldap_username),
                    ("ldap_password", raw.ldap_password),
                )?;
                Ok(AuthMethod::Ldap {
                    mount: non_empty(raw.ldap_mount).unwrap_or_else(|| "ldap".into()),
                    username,
                    password,
                })
            }
            "jwt" => {
                let role = non_empty(raw.jwt_role).ok_or_else(|| {
                    self.err("jwt_auth_role", "JWT authentication needs jwt_auth_role")
                })?;
                let jwt_path = non_empty(raw.jwt_token_path).ok_or_else(|| {
                    self.err(
                        "jwt_token_path",
                        "JWT authentication needs jwt_token_path, the file holding the JWT",
                    )
                })?;
                Ok(AuthMethod::Jwt {
                    mount: non_empty(raw.jwt_mount).unwrap_or_else(|| "jwt".into()),
                    role,
                    jwt_path: PathBuf::from(jwt_path),
                })
            }
            "cert" => {
                if !raw.has_client_cert {
                    return Err(self.err(
                        "vault_auth_method",
                        "\"cert\" needs a client certificate: set client_cert and client_key \
                         (or VAULT_CLIENT_CERT and VAULT_CLIENT_KEY)",
                    ));
                }
                if !raw.https {
                    return Err(self.err(
                        "vault_auth_method",
                        "\"cert\" needs an https:// addr: the client certificate is presented \
                         in the TLS handshake",
                    ));
                }
                Ok(AuthMethod::Cert {
                    mount: non_empty(raw.cert_mount).unwrap_or_else(|| "cert".into()),
                    role: non_empty(raw.cert_role),
                })
            }
            "aws" => self.aws_auth(raw.aws_role, raw.aws_mount, raw.aws_header_value, raw.aws_region),
            other => Err(self.err(
                "vault_auth_method",
                format!(
                    "unknown method {other:?}: use \"approle\", \"k8s\", \"token\", \
                     \"userpass\", \"ldap\", \"jwt\", \"cert\", \"aws\", \"gcp\" or \"azure\""
                ),
            )),
        }
    }

    /// The user name and password keys of userpass and LDAP (`method` names it in messages).
    /// The name goes into the login URL, so it may hold no control character.
    fn user_and_password(
        &self,
        method: &str,
        (user_key, username): (&str, Option<String>),
        (password_key, password): (&str, Option<Secret>),
    ) -> Result<(String, SecretRef), ConfigError> {
        let needs = format!("{method} authentication needs {user_key} and {password_key}");
        let username = non_empty(username).ok_or_else(|| self.err(user_key, needs.clone()))?;
        if username.chars().any(char::is_control) {
            return Err(self.err(
                user_key,
                "the user name contains a newline or another control character",
            ));
        }
        let password = self
            .secret(password_key, password)?
            .ok_or_else(|| self.err(password_key, needs))?;
        Ok((username, password))
    }
}

impl Validator<'_> {
    /// `vault_auth_method: "gcp"`: the role, the mount, the service account and the metadata
    /// server (`GCE_METADATA_HOST`, as Google's libraries read it).
    fn gcp_auth(
        &self,
        role: Option<String>,
        mount: Option<String>,
        service_account: Option<String>,
    ) -> Result<AuthMethod, ConfigError> {
        let role = self.cloud_role("gcp_auth_role", "GCP", role)?;
        let service_account = non_empty(service_account).unwrap_or_else(|| "default".into());
        if service_account
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '/' | '?' | '#' | '%'))
        {
            return Err(self.err(
                "gcp_auth_service_account",
                format!(
                    "{:?} is not a service account (an e-mail address, or \"default\")",
                    crate::text::escape(&service_account)
                ),
            ));
        }
        let metadata_host = match non_empty((self.env)("GCE_METADATA_HOST")) {
            None => DEFAULT_GCE_METADATA_HOST.to_string(),
            Some(host) => {
                let well_formed = !host.is_empty()
                    && !host.chars().any(|c| {
                        c.is_control() || c.is_whitespace() || matches!(c, '/' | '?' | '#' | '@')
                    });
                if !well_formed {
                    return Err(Self::env_err(
                        "GCE_METADATA_HOST",
                        format!(
                            "{:?} is not host[:port] (e.g. 169.254.169.254 or 127.0.0.1:8080)",
                            crate::text::escape(&host)
                        ),
                    ));
                }
                host
            }
        };
        Ok(AuthMethod::Gcp {
            mount: self.cloud_mount("gcp_auth_path", mount, "gcp")?,
            role,
            service_account,
            metadata_host,
        })
    }

    /// `vault_auth_method: "azure"`: the role, the mount, the token's resource and IMDS's
    /// address (`AZURE_POD_IDENTITY_AUTHORITY_HOST`, as Azure's SDKs read it).
    fn azure_auth(
        &self,
        role: Option<String>,
        mount: Option<String>,
        resource: Option<String>,
    ) -> Result<AuthMethod, ConfigError> {
        let role = self.cloud_role("azure_auth_role", "Azure", role)?;
        let resource = non_empty(resource).unwrap_or_else(|| DEFAULT_AZURE_RESOURCE.into());
        if resource.chars().any(char::is_control) {
            return Err(self.err(
                "azure_auth_resource",
                "the resource contains a newline or another control character",
            ));
        }
        let imds = match non_empty((self.env)("AZURE_POD_IDENTITY_AUTHORITY_HOST")) {
            None => DEFAULT_AZURE_IMDS.to_string(),
            Some(url) => super::vault::vault_addr(
                &url,
                "environment variable AZURE_POD_IDENTITY_AUTHORITY_HOST",
            )?,
        };
        Ok(AuthMethod::Azure {
            mount: self.cloud_mount("azure_auth_path", mount, "azure")?,
            role,
            resource,
            imds,
        })
    }

    /// A cloud login's required role (`key`), one line.
    fn cloud_role(
        &self,
        key: &str,
        what: &str,
        role: Option<String>,
    ) -> Result<String, ConfigError> {
        let role = non_empty(role)
            .ok_or_else(|| self.err(key, format!("{what} authentication needs {key}")))?;
        if role.chars().any(char::is_control) {
            return Err(self.err(
                key,
                "the role contains a newline or another control character",
            ));
        }
        Ok(role)
    }

    /// A cloud login's mount (`key`), `default` when not set, without slashes at its ends.
    fn cloud_mount(
        &self,
        key: &str,
        mount: Option<String>,
        default: &str,
    ) -> Result<String, ConfigError> {
        let mount = non_empty(mount).unwrap_or_else(|| default.into());
        let mount = mount.trim_matches('/').to_string();
        if mount.is_empty()
            || mount
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '?' | '#' | '%'))
            || mount
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(self.err(
                key,
                format!(
                    "{:?} is not an auth mount path (e.g. {default} or team/{default})",
                    crate::text::escape(&mount)
                ),
            ));
        }
        Ok(mount)
    }
}

impl Validator<'_> {
    /// `vault_auth_method: "aws"`: the role is required; the header value and the region
    /// must fit in an HTTP header and a host name.
    fn aws_auth(
        &self,
        role: Option<String>,
        mount: Option<String>,
        header_value: Option<String>,
        region: Option<String>,
    ) -> Result<AuthMethod, ConfigError> {
        let role = non_empty(role)
            .ok_or_else(|| self.err("aws_auth_role", "AWS authentication needs aws_auth_role"))?;
        let header_value = non_empty(header_value);
        if header_value
            .as_deref()
            .is_some_and(|v| v.chars().any(char::is_control))
        {
            return Err(self.err(
                "aws_auth_header_value",
                "holds a newline or another control character",
            ));
        }
        let region = non_empty(region);
        if let Some(r) = &region {
            if !r
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(self.err(
                    "aws_auth_region",
                    format!("{r:?} is not an AWS region's name (e.g. eu-west-1)"),
                ));
            }
        }
        Ok(AuthMethod::Aws {
            mount: non_empty(mount).unwrap_or_else(|| "aws".into()),
            role,
            header_value,
            region,
        })
    }
}

/// Reads a token or JWT file, trimmed. Used when probing and again at every use, so a rotated
/// token is picked up.
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
    if token.chars().any(char::is_control) {
        return Err(format!(
            "token file {} holds more than one line (or a control character); a token is one line",
            path.display()
        ));
    }
    Ok(Secret::new(token))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{SNAPS, refused, validate};
    use super::*;

    /// A config of the auth keys `entries` and a local storage.
    fn auth(entries: &str) -> String {
        let comma = if entries.is_empty() { "" } else { ", " };
        format!(r#"{{{entries}{comma}"local_storage": {{"path": "{SNAPS}"}}}}"#)
    }

    #[test]
    fn auth_methods_are_chosen_as_documented() {
        let approle = |mount: &str| AuthMethod::AppRole {
            mount: mount.into(),
            role_id: SecretRef::value("role_id", Secret::new("r")),
            secret_id: SecretRef::value("secret_id", Secret::new("s")),
        };
        let kubernetes = |path: &str| AuthMethod::Kubernetes {
            mount: "kubernetes".into(),
            role: "snap".into(),
            jwt_path: PathBuf::from(path),
        };
        let token = [("VAULT_TOKEN", "hvs.env")];
        let env_token = AuthMethod::StaticToken(Secret::new("hvs.env"));
        for (entries, env, expected) in [
            (
                r#""role_id": "r", "secret_id": "s""#,
                &[][..],
                Ok(approle("approle")),
            ),
            (
                r#""role_id": "r", "secret_id": "s""#,
                &token,
                Ok(approle("approle")),
            ),
            (
                r#""role_id": "r", "secret_id": "s", "approle": "snap-approle", "vault_auth_method": "approle""#,
                &[],
                Ok(approle("snap-approle")),
            ),
            (
                // Not read: whether it can be is for the probe.
                r#""token_path": "/nonexistent/token", "role_id": "r", "secret_id": "s""#,
                &[],
                Ok(AuthMethod::TokenFile(PathBuf::from("/nonexistent/token"))),
            ),
            (
                r#""token_path": "/run/sink""#,
                &token,
                Ok(AuthMethod::TokenFile("/run/sink".into())),
            ),
            (
                "",
                &[],
                Err("key \"role_id\": AppRole authentication needs role_id and secret_id"),
            ),
            (
                r#""secret_id": "s""#,
                &[],
                Err("key \"role_id\": AppRole authentication needs"),
            ),
            (
                r#""role_id": "r""#,
                &[],
                Err("key \"secret_id\": AppRole authentication needs"),
            ),
            ("", &token, Ok(env_token.clone())),
            (
                r#""vault_auth_method": "token""#,
                &token,
                Ok(env_token.clone()),
            ),
            (
                r#""vault_auth_method": "token""#,
                &[],
                Err("key \"vault_auth_method\": \"token\" needs token_path"),
            ),
            (
                r#""vault_auth_method": "approle""#,
                &token,
                Err("key \"role_id\""),
            ),
            (
                r#""vault_auth_method": "k8s", "k8s_auth_role": "snap", "k8s_token_path": "/nonexistent/jwt""#,
                &[],
                Ok(kubernetes("/nonexistent/jwt")),
            ),
            (
                r#""vault_auth_method": "kubernetes", "k8s_auth_role": "snap", "k8s_token_path": """#,
                &[],
                Ok(kubernetes(DEFAULT_K8S_TOKEN_PATH)),
            ),
            (
                r#""vault_auth_method": "k8s", "k8s_auth_role": "snap", "k8s_auth_path": "gke""#,
                &[],
                Ok(AuthMethod::Kubernetes {
                    mount: "gke".into(),
                    role: "snap".into(),
                    jwt_path: PathBuf::from(DEFAULT_K8S_TOKEN_PATH),
                }),
            ),
            (
                r#""vault_auth_method": "k8s""#,
                &[],
                Err("key \"k8s_auth_role\": Kubernetes authentication needs"),
            ),
            (
                r#""vault_auth_method": "aws", "aws_auth_role": "snap""#,
                &[],
                Ok(AuthMethod::Aws {
                    mount: "aws".into(),
                    role: "snap".into(),
                    header_value: None,
                    region: None,
                }),
            ),
            (
                r#""vault_auth_method": "aws", "aws_auth_role": "snap", "aws_auth_path": "aws-eks", "aws_auth_header_value": "vault.example.com", "aws_auth_region": "eu-west-1""#,
                &[],
                Ok(AuthMethod::Aws {
                    mount: "aws-eks".into(),
                    role: "snap".into(),
                    header_value: Some("vault.example.com".into()),
                    region: Some("eu-west-1".into()),
                }),
            ),
            (
                r#""vault_auth_method": "aws""#,
                &[],
                Err("key \"aws_auth_role\": AWS authentication needs aws_auth_role"),
            ),
            (
                r#""vault_auth_method": "aws", "aws_auth_role": "r", "aws_auth_region": "eu/west""#,
                &[],
                Err("key \"aws_auth_region\": \"eu/west\" is not an AWS region"),
            ),
            (
                r#""vault_auth_method": "github""#,
                &[],
                Err("key \"vault_auth_method\": unknown method \"github\""),
            ),
            (
                r#""role_id": "file://", "secret_id": "s""#,
                &[],
                Err("key \"role_id\": \"file://\" names no file"),
            ),
        ] {
            let json = auth(entries);
            match (validate(&json, env), expected) {
                (Ok(config), Ok(method)) => {
                    assert_eq!(config.auth, method, "row {json} with {env:?}")
                }
                (Err(error), Err(text)) => {
                    assert!(
                        error.to_string().contains(text),
                        "row {json} with {env:?}: {error}"
                    );
                }
                (got, expected) => {
                    panic!("row {json} with {env:?}: got {got:?}, expected {expected:?}")
                }
            }
        }
    }

    #[test]
    fn gcp_and_azure_logins_take_their_defaults_and_the_sdks_variables() {
        let gcp = |mount: &str, account: &str, host: &str| AuthMethod::Gcp {
            mount: mount.into(),
            role: "snap".into(),
            service_account: account.into(),
            metadata_host: host.into(),
        };
        let azure = |mount: &str, resource: &str, imds: &str| AuthMethod::Azure {
            mount: mount.into(),
            role: "snap".into(),
            resource: resource.into(),
            imds: imds.into(),
        };
        for (entries, env, expected) in [
            (
                r#""vault_auth_method": "gcp", "gcp_auth_role": "snap""#,
                &[][..],
                gcp("gcp", "default", "metadata.google.internal"),
            ),
            (
                r#""vault_auth_method": "gcp", "gcp_auth_role": "snap", "gcp_auth_path": "/team/gcp/",
                   "gcp_auth_service_account": "sa@p.iam.gserviceaccount.com""#,
                &[("GCE_METADATA_HOST", "127.0.0.1:8080")],
                gcp("team/gcp", "sa@p.iam.gserviceaccount.com", "127.0.0.1:8080"),
            ),
            (
                r#""vault_auth_method": "azure", "azure_auth_role": "snap", "gcp_auth_role": "other""#,
                &[("GCE_METADATA_HOST", "127.0.0.1:8080")],
                azure("azure", DEFAULT_AZURE_RESOURCE, DEFAULT_AZURE_IMDS),
            ),
            (
                r#""vault_auth_method": "azure", "azure_auth_role": "snap", "azure_auth_path": "az",
                   "azure_auth_resource": "api://vault""#,
                &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9/")],
                azure("az", "api://vault", "http://127.0.0.1:9"),
            ),
        ] {
            let json = auth(entries);
            match validate(&json, env) {
                Ok(config) => assert_eq!(config.auth, expected, "row {json} with {env:?}"),
                Err(e) => panic!("row {json} with {env:?}: {e}"),
            }
        }
        for (entries, env, expected) in [
            (
                r#""vault_auth_method": "gcp""#,
                &[][..],
                "key \"gcp_auth_role\": GCP authentication needs gcp_auth_role",
            ),
            (
                r#""vault_auth_method": "gcp", "gcp_auth_role": "a\nb""#,
                &[],
                "key \"gcp_auth_role\": the role contains a newline",
            ),
            (
                r#""vault_auth_method": "gcp", "gcp_auth_role": "r", "gcp_auth_service_account": "x?y""#,
                &[],
                "key \"gcp_auth_service_account\": \"x?y\" is not a service account",
            ),
            (
                r#""vault_auth_method": "gcp", "gcp_auth_role": "r", "gcp_auth_path": "a//b""#,
                &[],
                "key \"gcp_auth_path\": \"a//b\" is not an auth mount path",
            ),
            (
                r#""vault_auth_method": "gcp", "gcp_auth_role": "r""#,
                &[("GCE_METADATA_HOST", "user@meta")],
                "environment variable GCE_METADATA_HOST: \"user@meta\" is not host[:port]",
            ),
            (
                r#""vault_auth_method": "azure""#,
                &[],
                "key \"azure_auth_role\": Azure authentication needs azure_auth_role",
            ),
            (
                r#""vault_auth_method": "azure", "azure_auth_role": "r", "azure_auth_resource": "a\rb""#,
                &[],
                "key \"azure_auth_resource\": the resource contains a newline",
            ),
            (
                r#""vault_auth_method": "azure", "azure_auth_role": "r""#,
                &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://imds/x")],
                "environment variable AZURE_POD_IDENTITY_AUTHORITY_HOST: invalid URL",
            ),
        ] {
            let error = refused(&auth(entries), env);
            assert!(
                error.contains(expected),
                "row {entries} with {env:?}: {error}"
            );
        }
    }

    #[test]
    fn userpass_ldap_jwt_and_cert_take_their_keys_and_default_mounts() {
        let https =
            r#""addr": "https://vault:8200", "client_cert": "/c.pem", "client_key": "/k.pem""#;
        let cert_row = format!(r#"{https}, "vault_auth_method": "cert""#);
        let cert_role_row = format!(
            r#"{https}, "vault_auth_method": "cert", "cert_auth_role": "snap", "cert_auth_path": "tls""#
        );
        let secret = |key: &str, value: &str| SecretRef::parse(key, Secret::new(value)).unwrap();
        for (entries, expected) in [
            (
                r#""vault_auth_method": "userpass", "userpass_username": "snap", "userpass_password": "pw""#,
                AuthMethod::Userpass {
                    mount: "userpass".into(),
                    username: "snap".into(),
                    password: secret("userpass_password", "pw"),
                },
            ),
            (
                r#""vault_auth_method": "userpass", "userpass_username": "a b/c", "userpass_password": "env://PW", "userpass_auth_path": "people""#,
                AuthMethod::Userpass {
                    mount: "people".into(),
                    username: "a b/c".into(),
                    password: secret("userpass_password", "env://PW"),
                },
            ),
            (
                r#""vault_auth_method": "ldap", "ldap_username": "snap", "ldap_password": "pw""#,
                AuthMethod::Ldap {
                    mount: "ldap".into(),
                    username: "snap".into(),
                    password: secret("ldap_password", "pw"),
                },
            ),
            (
                r#""vault_auth_method": "ldap", "ldap_username": "snap", "ldap_password": "file:///run/pw", "ldap_auth_path": "ad""#,
                AuthMethod::Ldap {
                    mount: "ad".into(),
                    username: "snap".into(),
                    password: secret("ldap_password", "file:///run/pw"),
                },
            ),
            (
                r#""vault_auth_method": "jwt", "jwt_auth_role": "ci", "jwt_token_path": "/nonexistent/jwt""#,
                AuthMethod::Jwt {
                    mount: "jwt".into(),
                    role: "ci".into(),
                    jwt_path: PathBuf::from("/nonexistent/jwt"),
                },
            ),
            (
                r#""vault_auth_method": "jwt", "jwt_auth_role": "ci", "jwt_token_path": "/j", "jwt_auth_path": "gitlab""#,
                AuthMethod::Jwt {
                    mount: "gitlab".into(),
                    role: "ci".into(),
                    jwt_path: PathBuf::from("/j"),
                },
            ),
            (
                &cert_row,
                AuthMethod::Cert {
                    mount: "cert".into(),
                    role: None,
                },
            ),
            (
                &cert_role_row,
                AuthMethod::Cert {
                    mount: "tls".into(),
                    role: Some("snap".into()),
                },
            ),
        ] {
            let json = auth(entries);
            match validate(&json, &[]) {
                Ok(config) => assert_eq!(config.auth, expected, "row {json}"),
                Err(e) => panic!("row {json}: {e}"),
            }
        }
        // The client certificate may come from the Vault CLI's variables.
        let env = [
            ("VAULT_CLIENT_CERT", "/c.pem"),
            ("VAULT_CLIENT_KEY", "/k.pem"),
        ];
        let config = validate(
            &auth(r#""addr": "https://vault:8200", "vault_auth_method": "cert""#),
            &env,
        )
        .unwrap();
        assert!(matches!(config.auth, AuthMethod::Cert { .. }));
    }

    #[test]
    fn userpass_ldap_jwt_and_cert_without_their_keys_are_refused_by_key() {
        for (entries, expected) in [
            (
                r#""vault_auth_method": "userpass", "userpass_password": "pw""#,
                "key \"userpass_username\": userpass authentication needs userpass_username and userpass_password",
            ),
            (
                r#""vault_auth_method": "userpass", "userpass_username": "snap""#,
                "key \"userpass_password\": userpass authentication needs",
            ),
            (
                r#""vault_auth_method": "userpass", "userpass_username": "snap\n", "userpass_password": "pw""#,
                "key \"userpass_username\": the user name contains a newline",
            ),
            (
                r#""vault_auth_method": "userpass", "userpass_username": "snap", "userpass_password": "file://""#,
                "key \"userpass_password\": \"file://\" names no file",
            ),
            (
                r#""vault_auth_method": "ldap", "ldap_password": "pw""#,
                "key \"ldap_username\": LDAP authentication needs ldap_username and ldap_password",
            ),
            (
                r#""vault_auth_method": "ldap", "ldap_username": "snap", "ldap_password": """#,
                "key \"ldap_password\": LDAP authentication needs",
            ),
            (
                r#""vault_auth_method": "jwt", "jwt_token_path": "/j""#,
                "key \"jwt_auth_role\": JWT authentication needs jwt_auth_role",
            ),
            (
                r#""vault_auth_method": "jwt", "jwt_auth_role": "ci""#,
                "key \"jwt_token_path\": JWT authentication needs jwt_token_path",
            ),
            (
                r#""addr": "https://vault:8200", "vault_auth_method": "cert""#,
                "key \"vault_auth_method\": \"cert\" needs a client certificate: set client_cert and client_key",
            ),
            (
                r#""addr": "http://vault:8200", "client_cert": "/c.pem", "client_key": "/k.pem", "vault_auth_method": "cert""#,
                "key \"vault_auth_method\": \"cert\" needs an https:// addr",
            ),
        ] {
            let error = refused(&auth(entries), &[]);
            assert!(error.contains(expected), "row {entries}: {error}");
            assert!(!error.contains("\"pw\""), "row {entries}: {error}");
        }
    }

    #[test]
    fn a_vault_token_with_a_newline_is_refused_without_showing_it() {
        for token in [
            "hvs.secret\r\nX-Injected: 1",
            "hvs.secret\nhvs.other",
            "hvs.secret\u{7}",
        ] {
            let error = refused(&auth(""), &[("VAULT_TOKEN", token)]);
            assert!(
                error.starts_with("environment variable VAULT_TOKEN") && error.contains("newline"),
                "row {token:?}: {error}"
            );
            assert!(!error.contains("hvs.secret"), "row {token:?}: {error}");
        }
    }
}
