//! Google's credentials JSON files (`credentials_file`, `GOOGLE_APPLICATION_CREDENTIALS`):
//! read and checked here, by the configuration at start (so a bad file is a config error,
//! exit 2) and by the GCS storage at every token exchange (so a rotated file is picked up).
//! A leaf: it knows nothing of the configuration or the storages that use it.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use serde::Deserialize;

use crate::secret::Secret;

const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

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
                "{} is not a service_account or authorized_user credentials file (line {}, column {})",
                path.display(),
                e.line(),
                e.column()
            )
        })?;
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
}
