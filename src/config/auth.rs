//! How the agent logs in to Vault: `token_path`, `vault_auth_method` and the AppRole and
//! Kubernetes keys, checked together because they decide one thing. Whether the token file,
//! the JWT file or the AppRole references can be read is probed apart
//! (`super::probe::vault_credentials`).

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
    pub aws_role: Option<String>,
    pub aws_mount: Option<String>,
    pub aws_header_value: Option<String>,
    pub aws_region: Option<String>,
}

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
            "aws" => self.aws_auth(raw.aws_role, raw.aws_mount, raw.aws_header_value, raw.aws_region),
            other => Err(self.err(
                "vault_auth_method",
                format!("unknown method {other:?}: use \"approle\", \"k8s\", \"aws\" or \"token\""),
            )),
        }
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
                r#""vault_auth_method": "ldap""#,
                &[],
                Err("key \"vault_auth_method\": unknown method \"ldap\""),
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
