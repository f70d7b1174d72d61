//! The agent's Vault token: where it comes from, and keeping it valid.
//!
//! - `token_path`: the file is read again at every use, so a Vault Agent sink's rotations are
//!   picked up; nothing is renewed (the token's owner does that).
//! - `VAULT_TOKEN`: used as is.
//! - AppRole and Kubernetes: log in, cache the token, renew it with
//!   `auth/token/renew-self` once two thirds of its lease have passed (as Vault's
//!   `LifetimeWatcher` does), and log in again when it is not renewable, renewal fails, or the
//!   max TTL caps the renewed lease below a fifth of the original.
//!
//! [`Authenticator::invalidate`] revokes and drops the cached token after a 403, so the caller can log in
//! again once and retry.
//!
//! A token the agent obtained by logging in is its own to end: [`Authenticator::revoke`]
//! (called when a command ends, also after a failure or a signal) and a new login revoke it
//! with `auth/token/revoke-self`, so runs leave no live tokens behind (an hourly timer would
//! otherwise keep hundreds until their TTL). A token it was given (`VAULT_TOKEN`,
//! `token_path`) belongs to someone else and is never revoked. A failed revocation is a
//! warning: the token still expires at its TTL.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use log::{debug, info, warn};
use serde_json::json;

use super::client::VaultClient;
use super::token;
use crate::config::{AuthMethod, read_token_file};
use crate::secret::Secret;

/// Hands out a valid token for each request.
pub struct Authenticator {
    method: AuthMethod,
    cached: Option<CachedToken>,
}

struct CachedToken {
    token: Secret,
    obtained: Instant,
    lease: Duration,
    login_lease: Duration,
    renewable: bool,
}

impl Authenticator {
    /// An authenticator for `method`; nothing is sent until [`Authenticator::token`].
    #[must_use]
    pub fn new(method: AuthMethod) -> Self {
        Self {
            method,
            cached: None,
        }
    }

    /// Forgets the cached token (after Vault refused it), so the next call logs in again. A
    /// token obtained by logging in is revoked first: a 403 may mean a missing policy, not a
    /// dead token, and it would stay live until its TTL. That revocation failing is expected
    /// (the token may be dead indeed) and only logged at debug level.
    pub fn invalidate(&mut self, client: &VaultClient) {
        if let Some(cached) = self.cached.take() {
            if let Err(e) = token::revoke_self(&client.for_cleanup(), &cached.token) {
                debug!("the refused token could not be revoked: {e:#}");
            }
        }
    }

    /// Revokes the token this authenticator obtained by logging in, if it holds one; a token
    /// it was given is left alone. Sent even after a shutdown signal (see
    /// [`VaultClient::for_cleanup`]). A failure is logged as a warning.
    pub fn revoke(&mut self, client: &VaultClient) {
        let Some(cached) = self.cached.take() else {
            return;
        };
        revoke_obtained(&client.for_cleanup(), &cached.token);
    }

    /// A token that is valid now, logging in or renewing as needed.
    ///
    /// # Errors
    /// When the token file cannot be read, or login fails.
    pub fn token(&mut self, client: &VaultClient) -> Result<Secret> {
        match &self.method {
            AuthMethod::TokenFile(path) => {
                return read_token_file(path).map_err(|e| anyhow!(e));
            }
            AuthMethod::StaticToken(token) => return Ok(token.clone()),
            AuthMethod::AppRole { .. } | AuthMethod::Kubernetes { .. } | AuthMethod::Aws { .. } => {
            }
        }
        if let Some(cached) = &self.cached {
            let age = cached.obtained.elapsed();
            if cached.lease.is_zero() || age < cached.lease * 2 / 3 {
                return Ok(cached.token.clone());
            }
            if cached.renewable && age < cached.lease {
                match self.renew(client) {
                    Ok(token) => return Ok(token),
                    Err(e) => warn!("token renewal failed, logging in again: {e:#}"),
                }
            } else {
                debug!("token lease is over or not renewable, logging in again");
            }
        }
        self.login(client)
    }

    fn renew(&mut self, client: &VaultClient) -> Result<Secret> {
        let Some(cached) = &self.cached else {
            return Err(anyhow!("no token to renew"));
        };
        let info = token::renew_self(client, &cached.token, cached.login_lease)
            .context("renewing the token failed")?;
        let lease = Duration::from_secs(info.lease_duration);
        if lease < cached.login_lease / 5 {
            return Err(anyhow!(
                "the renewed lease is only {}s: the token's max TTL is near",
                lease.as_secs()
            ));
        }
        debug!("renewed the Vault token for {}s", lease.as_secs());
        let token = info.client_token;
        self.cached = Some(CachedToken {
            token: token.clone(),
            obtained: Instant::now(),
            lease,
            login_lease: cached.login_lease,
            renewable: info.renewable,
        });
        Ok(token)
    }

    fn login(&mut self, client: &VaultClient) -> Result<Secret> {
        // The token logged in before is replaced: end it rather than leave it live until its
        // TTL. (One Vault refused was already handled by `invalidate`.)
        if let Some(old) = self.cached.take() {
            revoke_obtained(client, &old.token);
        }
        let (what, mount, body) = match &self.method {
            AuthMethod::AppRole {
                mount,
                role_id,
                secret_id,
            } => {
                // Read at every login: a file:// or env:// reference picks up a rotation.
                let (role_id, secret_id) = (role_id.read()?, secret_id.read()?);
                (
                    "AppRole",
                    mount,
                    json!({ "role_id": role_id.expose(), "secret_id": secret_id.expose() }),
                )
            }
            AuthMethod::Kubernetes {
                mount,
                role,
                jwt_path,
            } => {
                let jwt = read_jwt(jwt_path)?;
                (
                    "Kubernetes",
                    mount,
                    json!({ "role": role, "jwt": jwt.expose() }),
                )
            }
            AuthMethod::Aws {
                mount,
                role,
                header_value,
                region,
            } => (
                "AWS",
                mount,
                aws_login_body(role, header_value.as_deref(), region.as_deref())?,
            ),
            AuthMethod::TokenFile(_) | AuthMethod::StaticToken(_) => {
                return Err(anyhow!("this authentication method has no login"));
            }
        };
        let info = token::login(client, mount, &body).with_context(|| {
            format!(
                "{what} login at {} failed",
                client.url(&token::login_path(mount))
            )
        })?;
        info!(
            "Logged in to Vault with {what} (token lease {}s)",
            info.lease_duration
        );
        let lease = Duration::from_secs(info.lease_duration);
        let token = info.client_token;
        self.cached = Some(CachedToken {
            token: token.clone(),
            obtained: Instant::now(),
            lease,
            login_lease: lease,
            renewable: info.renewable,
        });
        Ok(token)
    }
}

/// `revoke-self` for a token the agent logged in for; a failure is only a warning.
fn revoke_obtained(client: &VaultClient, token: &Secret) {
    match token::revoke_self(client, token) {
        Ok(()) => debug!("revoked the Vault token this run logged in for"),
        Err(e) => warn!("could not revoke the Vault token this run logged in for: {e:#}"),
    }
}

/// The body of an AWS IAM login: a `GetCallerIdentity` request signed with credentials from
/// the AWS chain, fetched afresh at every login (so a rotated IRSA token or instance role is
/// used). Errors name the credential source and URL, never a key.
fn aws_login_body(
    role: &str,
    header_value: Option<&str>,
    region: Option<&str>,
) -> Result<serde_json::Value> {
    let env = crate::aws::process_env();
    let region = region
        .map(String::from)
        .or_else(|| env("AWS_REGION").filter(|r| !r.trim().is_empty()))
        .or_else(|| env("AWS_DEFAULT_REGION").filter(|r| !r.trim().is_empty()))
        .unwrap_or_else(|| "us-east-1".into());
    let chain = crate::aws::CredentialChain::new(None, env.clone());
    let source = chain.source()?;
    let credentials = chain
        .credentials()
        .with_context(|| format!("AWS credentials for the login from {source}"))?;
    let url = crate::aws::sign::login_sts_url(region.trim(), &*env)?;
    debug!("signing the AWS login with credentials from {source}, for {url} in {region}");
    crate::aws::sign::vault_login_data(
        role,
        &url,
        region.trim(),
        header_value,
        &credentials,
        std::time::SystemTime::now(),
    )
}

fn read_jwt(path: &Path) -> Result<Secret> {
    read_token_file(path).map_err(|e| anyhow!(e))
}
