//! Google credentials, found as Google's client libraries find them:
//! 1. the configured `credentials_file`, else `GOOGLE_APPLICATION_CREDENTIALS`: a service
//!    account (an RS256 JWT signed with its key, exchanged at its `token_uri`) or an
//!    authorized user (its refresh token exchanged at `token_uri`);
//! 2. else the GCE/GKE metadata server (`GCE_METADATA_HOST` overrides its address).
//!
//! Access tokens are cached until a minute before they expire. Keys, refresh tokens, client
//! secrets and access tokens are [`Secret`]s: never logged, never in an error.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use crate::secret::Secret;

/// The OAuth scope for reading and writing objects.
pub const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_write";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const METADATA_HOST: &str = "metadata.google.internal";
const EARLY_REFRESH: Duration = Duration::from_secs(60);

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

/// Where tokens come from.
pub enum TokenSource {
    /// No credentials (an emulator).
    None,
    /// A credentials file.
    File(PathBuf),
    /// The metadata server at this host.
    Metadata(String),
}

/// Hands out a cached access token.
pub struct Authenticator {
    source: TokenSource,
    cached: Option<(Secret, Instant)>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Secret,
    #[serde(default)]
    expires_in: u64,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl Authenticator {
    /// An authenticator for `source`.
    #[must_use]
    pub fn new(source: TokenSource) -> Self {
        Self {
            source,
            cached: None,
        }
    }

    /// The source Google's libraries would use: `credentials_file`, else
    /// `GOOGLE_APPLICATION_CREDENTIALS`, else the metadata server.
    #[must_use]
    pub fn discover(credentials_file: Option<&Path>) -> TokenSource {
        if let Some(file) = credentials_file {
            return TokenSource::File(file.to_path_buf());
        }
        if let Some(file) =
            std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS").filter(|v| !v.is_empty())
        {
            return TokenSource::File(PathBuf::from(file));
        }
        let host = std::env::var("GCE_METADATA_HOST").unwrap_or_else(|_| METADATA_HOST.into());
        TokenSource::Metadata(host)
    }

    /// A valid access token, or `None` for an emulator.
    ///
    /// # Errors
    /// When the token exchange fails.
    pub fn token(&mut self, agent: &ureq::Agent) -> Result<Option<Secret>> {
        if matches!(self.source, TokenSource::None) {
            return Ok(None);
        }
        if let Some((token, valid_until)) = &self.cached {
            if Instant::now() < *valid_until {
                return Ok(Some(token.clone()));
            }
        }
        let response = match &self.source {
            TokenSource::None => return Ok(None),
            TokenSource::File(path) => match CredentialsFile::read(path)? {
                CredentialsFile::ServiceAccount {
                    client_email,
                    private_key,
                    token_uri,
                } => {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    let claims = Claims {
                        iss: &client_email,
                        scope: SCOPE,
                        aud: &token_uri,
                        iat: now,
                        exp: now + 3600,
                    };
                    let key =
                        jsonwebtoken::EncodingKey::from_rsa_pem(private_key.expose().as_bytes())
                            .map_err(|_| {
                                anyhow!("{}: private_key is not an RSA private key", path.display())
                            })?;
                    let jwt = jsonwebtoken::encode(
                        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
                        &claims,
                        &key,
                    )
                    .map_err(|e| anyhow!("signing the token request failed: {e}"))?;
                    exchange(
                        agent,
                        &token_uri,
                        &[
                            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                            ("assertion", &jwt),
                        ],
                    )?
                }
                CredentialsFile::AuthorizedUser {
                    client_id,
                    client_secret,
                    refresh_token,
                    token_uri,
                } => exchange(
                    agent,
                    &token_uri,
                    &[
                        ("grant_type", "refresh_token"),
                        ("client_id", &client_id),
                        ("client_secret", client_secret.expose()),
                        ("refresh_token", refresh_token.expose()),
                    ],
                )?,
            },
            TokenSource::Metadata(host) => {
                let url = format!(
                    "http://{host}/computeMetadata/v1/instance/service-accounts/default/token"
                );
                let mut response = agent
                    .get(&url)
                    .header("Metadata-Flavor", "Google")
                    .call()
                    .with_context(|| format!("no Google credentials: set credentials_file or GOOGLE_APPLICATION_CREDENTIALS, or run on GCE/GKE (the metadata server {url} did not answer)"))?;
                let status = response.status().as_u16();
                if status != 200 {
                    bail!("the metadata server {url} answered {status}");
                }
                response
                    .body_mut()
                    .read_json()
                    .with_context(|| format!("the metadata server {url} sent no token"))?
            }
        };
        let lifetime = Duration::from_secs(response.expires_in).saturating_sub(EARLY_REFRESH);
        self.cached = Some((response.access_token.clone(), Instant::now() + lifetime));
        Ok(Some(response.access_token))
    }
}

fn exchange(agent: &ureq::Agent, token_uri: &str, form: &[(&str, &str)]) -> Result<TokenResponse> {
    let mut response = agent
        .post(token_uri)
        .send_form(form.iter().copied())
        .with_context(|| format!("cannot reach the Google token endpoint {token_uri}"))?;
    let status = response.status().as_u16();
    if status != 200 {
        // The body names the OAuth error (invalid_grant, ...), never our secrets.
        let body = response.body_mut().read_to_string().unwrap_or_default();
        let error = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").map(ToString::to_string))
            .unwrap_or_default();
        bail!("the Google token endpoint {token_uri} answered {status} {error}");
    }
    response
        .body_mut()
        .read_json()
        .with_context(|| format!("the Google token endpoint {token_uri} sent no access token"))
}
