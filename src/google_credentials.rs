//! Google's credentials JSON files (`credentials_file`, `GOOGLE_APPLICATION_CREDENTIALS`):
//! read and checked here, by the configuration at start (so a bad file is a config error,
//! exit 2) and by the GCS storage at every token exchange (so a rotated file is picked up).
//! A leaf: it knows nothing of the configuration or the storages that use it.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use crate::secret::Secret;

const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const DEFAULT_STS_URL: &str = "https://sts.googleapis.com/v1/token";

/// A credentials JSON file.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CredentialsFile {
    /// A service account key.
    ServiceAccount {
        /// The account's email, the JWT issuer.
        client_email: String,
        /// PEM private key.
        private_key: Secret,
        /// Where to exchange the JWT.
        #[serde(default = "default_token_uri")]
        token_uri: String,
    },
    /// A user's refresh token (from `gcloud auth application-default login`).
    AuthorizedUser {
        /// OAuth client id.
        client_id: String,
        /// OAuth client secret.
        client_secret: Secret,
        /// The refresh token.
        refresh_token: Secret,
        /// Where to exchange it.
        #[serde(default = "default_token_uri")]
        token_uri: String,
    },
    /// Workload identity federation from outside Google Cloud: a token from another identity
    /// provider (a Kubernetes service account token, an OIDC token) exchanged at Google's STS
    /// (`token_url`) for a federated access token, optionally then exchanged for a service
    /// account's token (`service_account_impersonation_url`).
    ExternalAccount {
        /// The workload identity pool provider, sent as the STS `audience`.
        audience: String,
        /// The subject token's type (`urn:ietf:params:oauth:token-type:jwt`, ...).
        subject_token_type: String,
        /// Google's STS endpoint.
        #[serde(default = "default_sts_url")]
        token_url: String,
        /// Where the subject token comes from.
        credential_source: CredentialSource,
        /// `generateAccessToken` of the service account to impersonate, if any.
        #[serde(default)]
        service_account_impersonation_url: Option<String>,
    },
}

/// Where an `external_account` file's subject token is read: a file (`file`) or an HTTP GET
/// (`url`, with `headers`), as text or as a field of a JSON object (`format`).
#[derive(Deserialize)]
pub struct CredentialSource {
    /// A file holding the token, read at every exchange (Kubernetes rotates it).
    #[serde(default)]
    pub file: Option<String>,
    /// A URL that answers the token.
    #[serde(default)]
    pub url: Option<String>,
    /// Headers for `url`.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// `{"type": "text"}` (default) or `{"type": "json", "subject_token_field_name": ...}`.
    #[serde(default)]
    pub format: Option<SourceFormat>,
    /// An executable source: not supported (refused when the file is read).
    #[serde(default)]
    pub executable: Option<serde_json::Value>,
    /// An AWS source (`environment_id`): not supported.
    #[serde(default)]
    pub environment_id: Option<String>,
}

/// How the subject token is found in what the source gives.
#[derive(Deserialize)]
pub struct SourceFormat {
    /// `text` or `json`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For `json`: the field that holds the token.
    #[serde(default)]
    pub subject_token_field_name: Option<String>,
}

impl CredentialSource {
    /// Where the token comes from, for `check` and errors.
    #[must_use]
    pub fn describe(&self) -> String {
        match (&self.file, &self.url) {
            (Some(file), _) => format!("subject token file {file}"),
            (None, Some(url)) => format!("subject token URL {url}"),
            (None, None) => "no subject token source".into(),
        }
    }

    /// Picks the token out of `text` as `format` says.
    ///
    /// # Errors
    /// When the JSON is not an object with the named string field, or the token is empty.
    pub fn token_from(&self, text: &str) -> Result<Secret> {
        let token = match &self.format {
            Some(SourceFormat {
                kind,
                subject_token_field_name,
            }) if kind == "json" => {
                let field = subject_token_field_name.as_deref().unwrap_or_default();
                serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .and_then(|v| v.get(field)?.as_str().map(str::to_string))
                    .ok_or_else(|| {
                        anyhow!(
                            "the {} is not JSON with a string field {field:?}",
                            self.describe()
                        )
                    })?
            }
            _ => text.trim().to_string(),
        };
        if token.is_empty() {
            return Err(anyhow!("the {} gave an empty token", self.describe()));
        }
        Ok(Secret::new(token))
    }
}

fn default_sts_url() -> String {
    DEFAULT_STS_URL.into()
}

fn default_token_uri() -> String {
    DEFAULT_TOKEN_URI.into()
}

impl CredentialsFile {
    /// Reads and parses a credentials file (its content never appears in an error).
    ///
    /// # Errors
    /// When the file cannot be read or is not a service account or authorized user file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read Google credentials file {}", path.display()))?;
        let parsed: Self = serde_json::from_str(&text).map_err(|e| {
            // serde's message can quote a value; keep only its position.
            anyhow!(
                "{} is not a service_account, authorized_user or external_account credentials file (line {}, column {})",
                path.display(),
                e.line(),
                e.column()
            )
        })?;
        if let CredentialsFile::ExternalAccount {
            credential_source, ..
        } = &parsed
        {
            let source = credential_source;
            if source.executable.is_some() || source.environment_id.is_some() {
                bail!(
                    "{}: external_account with an executable or AWS credential_source is not supported; use a file or url source",
                    path.display()
                );
            }
            if source.file.is_none() && source.url.is_none() {
                bail!(
                    "{}: external_account's credential_source names neither a file nor a url",
                    path.display()
                );
            }
        }
        if let CredentialsFile::ServiceAccount { private_key, .. } = &parsed {
            jsonwebtoken::EncodingKey::from_rsa_pem(private_key.expose().as_bytes()).map_err(
                |_| {
                    anyhow!(
                        "{}: private_key is not an RSA private key in PEM form",
                        path.display()
                    )
                },
            )?;
        }
        Ok(parsed)
    }

    /// What kind of credentials this is and where its tokens come from, for `check`: never a
    /// key, secret or token.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::ServiceAccount {
                client_email,
                token_uri,
                ..
            } => format!("service account key file ({client_email}, token_uri {token_uri})"),
            Self::AuthorizedUser { token_uri, .. } => {
                format!("authorized user refresh token (token_uri {token_uri})")
            }
            Self::ExternalAccount {
                token_url,
                credential_source,
                service_account_impersonation_url,
                ..
            } => {
                let mut said = format!(
                    "external_account (token_url {token_url}, {}",
                    credential_source.describe()
                );
                if let Some(url) = service_account_impersonation_url {
                    said.push_str(&format!(", impersonating via {url}"));
                }
                said.push(')');
                said
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CredentialsFile;

    fn read(text: &str) -> anyhow::Result<CredentialsFile> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, text).unwrap();
        CredentialsFile::read(&path)
    }

    #[test]
    fn external_account_files_are_read_described_and_unsupported_sources_refused() {
        let file = read(
            r#"{"type": "external_account", "audience": "//iam/x", "subject_token_type": "jwt",
                "credential_source": {"file": "/var/run/t", "format": {"type": "json",
                "subject_token_field_name": "tok"}}}"#,
        )
        .unwrap();
        assert_eq!(
            file.describe(),
            "external_account (token_url https://sts.googleapis.com/v1/token, subject token file /var/run/t)"
        );
        let CredentialsFile::ExternalAccount {
            credential_source, ..
        } = file
        else {
            panic!("not external_account");
        };
        assert_eq!(
            credential_source
                .token_from(r#"{"tok": "abc"}"#)
                .unwrap()
                .expose(),
            "abc"
        );
        let e = credential_source.token_from(r#"{"other": 1}"#).unwrap_err();
        assert!(e.to_string().contains("\"tok\""), "{e}");

        let e = read(
            r#"{"type": "external_account", "audience": "a", "subject_token_type": "jwt",
                "credential_source": {"executable": {"command": "x"}}}"#,
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("not supported"), "{e}");
    }
}
