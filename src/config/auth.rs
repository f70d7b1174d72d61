//! How the agent logs in to Vault: `token_path`, `vault_auth_method` and the AppRole and
//! Kubernetes keys, checked together because they decide one thing. Whether the token file,
//! the JWT file or the AppRole references can be read is probed apart
//! (`super::probe::vault_credentials`).

use std::path::{Path, PathBuf};

use super::{ConfigError, DEFAULT_K8S_TOKEN_PATH, Validator, non_empty};
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
            other => Err(self.err(
                "vault_auth_method",
                format!("unknown method {other:?}: use \"approle\", \"k8s\" or \"token\""),
            )),
        }
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
