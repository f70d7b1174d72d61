//! Google access tokens, from the source the configuration chose as Google's client
//! libraries choose it ([`crate::config::GoogleCredentials`]):
//! 1. a credentials file ([`CredentialsFile`]): a service account (an RS256 JWT signed with
//!    its key, exchanged at its `token_uri`) or an authorized user (its refresh token
//!    exchanged at `token_uri`);
//!    or an `external_account` (workload identity federation: a subject token read from a file
//!    or URL, exchanged at Google's STS `token_url` for a federated token, which is used as it
//!    is or exchanged again at `service_account_impersonation_url` for a service account's);
//! 2. else the GCE/GKE metadata server.
//!
//! Access tokens are cached until a minute before they expire. Keys, refresh tokens, client
//! secrets and access tokens are [`Secret`]s: never logged, never in an error.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use crate::config::GoogleCredentials;
pub use crate::google_credentials::CredentialsFile;
use crate::secret::Secret;

/// The OAuth scope for reading and writing objects.
pub const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_write";
const EARLY_REFRESH: Duration = Duration::from_secs(60);
/// The scope of a federated token that only impersonates a service account.
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
/// What an impersonated token is asked to live (Google's default and maximum).
const IMPERSONATED_LIFETIME: u64 = 3600;

/// Hands out a cached access token.
pub struct Authenticator {
    source: GoogleCredentials,
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
    pub fn new(source: GoogleCredentials) -> Self {
        Self {
            source,
            cached: None,
        }
    }

    /// A valid access token, or `None` for an emulator.
    ///
    /// # Errors
    /// When the token exchange fails.
    pub fn token(&mut self, agent: &ureq::Agent) -> Result<Option<Secret>> {
        if matches!(self.source, GoogleCredentials::None) {
            return Ok(None);
        }
        if let Some((token, valid_until)) = &self.cached {
            if Instant::now() < *valid_until {
                return Ok(Some(token.clone()));
            }
        }
        let response = match &self.source {
            GoogleCredentials::None => return Ok(None),
            GoogleCredentials::File(path) => match CredentialsFile::read(path)? {
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
                    .context("signing the token request failed")?;
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
                CredentialsFile::ExternalAccount {
                    audience,
                    subject_token_type,
                    token_url,
                    credential_source,
                    service_account_impersonation_url,
                } => {
                    let subject = subject_token(agent, &credential_source)?;
                    // With impersonation the federated token only has to call IAM Credentials;
                    // without, it is the token the storage calls are made with.
                    let scope = if service_account_impersonation_url.is_some() {
                        CLOUD_PLATFORM
                    } else {
                        SCOPE
                    };
                    let federated = exchange(
                        agent,
                        &token_url,
                        &[
                            (
                                "grant_type",
                                "urn:ietf:params:oauth:grant-type:token-exchange",
                            ),
                            ("audience", &audience),
                            ("scope", scope),
                            (
                                "requested_token_type",
                                "urn:ietf:params:oauth:token-type:access_token",
                            ),
                            ("subject_token_type", &subject_token_type),
                            ("subject_token", subject.expose()),
                        ],
                    )?;
                    match service_account_impersonation_url {
                        None => federated,
                        Some(url) => impersonate(agent, &url, &federated.access_token)?,
                    }
                }
            },
            GoogleCredentials::Metadata(host) => {
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

/// The subject token of an `external_account`, read afresh at every exchange (a Kubernetes
/// projected token is rotated in place).
fn subject_token(
    agent: &ureq::Agent,
    source: &crate::google_credentials::CredentialSource,
) -> Result<Secret> {
    let text = if let Some(file) = &source.file {
        std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the subject token file {file}"))?
    } else if let Some(url) = &source.url {
        let mut request = agent.get(url);
        for (name, value) in &source.headers {
            request = request.header(name, value);
        }
        let mut response = request
            .call()
            .with_context(|| format!("cannot reach the subject token URL {url}"))?;
        let status = response.status().as_u16();
        if status != 200 {
            bail!("the subject token URL {url} answered {status}");
        }
        response
            .body_mut()
            .read_to_string()
            .with_context(|| format!("the subject token URL {url} sent no token"))?
    } else {
        bail!("external_account's credential_source names neither a file nor a url");
    };
    source.token_from(&text)
}

#[derive(Deserialize)]
struct ImpersonatedToken {
    #[serde(rename = "accessToken")]
    access_token: Secret,
}

/// Exchanges a federated token for the service account's at IAM Credentials'
/// `generateAccessToken` (`url`).
fn impersonate(agent: &ureq::Agent, url: &str, federated: &Secret) -> Result<TokenResponse> {
    let body = serde_json::json!({
        "scope": [SCOPE],
        "lifetime": format!("{IMPERSONATED_LIFETIME}s"),
    });
    let mut response = agent
        .post(url)
        .header("Authorization", &format!("Bearer {}", federated.expose()))
        .send_json(&body)
        .with_context(|| format!("cannot reach the service account impersonation URL {url}"))?;
    let status = response.status().as_u16();
    if status != 200 {
        let body = response.body_mut().read_to_string().unwrap_or_default();
        let error = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.pointer("/error/status").map(ToString::to_string))
            .unwrap_or_default();
        bail!("the service account impersonation URL {url} answered {status} {error}");
    }
    let token: ImpersonatedToken = response.body_mut().read_json().with_context(|| {
        format!("the service account impersonation URL {url} sent no accessToken")
    })?;
    Ok(TokenResponse {
        access_token: token.access_token,
        expires_in: IMPERSONATED_LIFETIME,
    })
}
