//! The agent's Vault token: where it comes from, and keeping it valid.
//!
//! - `token_path`: the file is read again at every use, so a Vault Agent sink's rotations are
//!   picked up; nothing is renewed (the token's owner does that).
//! - `VAULT_TOKEN`: used as is.
//! - AppRole, Kubernetes, userpass, LDAP, JWT, TLS certificate, GCP and Azure: log in (the
//!   secret, password or JWT file is read again at every login, so rotations are picked up;
//!   GCP's and Azure's tokens are fetched from the metadata service, [`super::cloud_login`]),
//!   cache the token, renew it with
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
use super::cloud_login;
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
            AuthMethod::Gcp { .. } | AuthMethod::Azure { .. } => {}
            AuthMethod::Userpass { .. }
            | AuthMethod::Ldap { .. }
            | AuthMethod::Jwt { .. }
            | AuthMethod::Cert { .. } => {}
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
        let (what, path, body) = match &self.method {
            AuthMethod::AppRole {
                mount,
                role_id,
                secret_id,
            } => {
                // Read at every login: a file:// or env:// reference picks up a rotation.
                let (role_id, secret_id) = (role_id.read()?, secret_id.read()?);
                (
                    "AppRole",
                    token::login_path(mount),
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
                    token::login_path(mount),
                    json!({ "role": role, "jwt": jwt.expose() }),
                )
            }
            AuthMethod::Gcp {
                mount,
                role,
                service_account,
                metadata_host,
            } => (
                "GCP",
                token::login_path(mount),
                cloud_login::gcp_login_body(metadata_host, service_account, role)
                    .context("GCP login: no identity token")?,
            ),
            AuthMethod::Azure {
                mount,
                role,
                resource,
                imds,
            } => (
                "Azure",
                token::login_path(mount),
                cloud_login::azure_login_body(imds, resource, role)
                    .context("Azure login: no managed-identity token")?,
            ),
            AuthMethod::Userpass {
                mount,
                username,
                password,
            } => (
                "userpass",
                user_login_path(mount, username),
                json!({ "password": password.read()?.expose() }),
            ),
            AuthMethod::Ldap {
                mount,
                username,
                password,
            } => (
                "LDAP",
                user_login_path(mount, username),
                json!({ "password": password.read()?.expose() }),
            ),
            AuthMethod::Jwt {
                mount,
                role,
                jwt_path,
            } => {
                // Read at every login: projected and CI OIDC tokens are short-lived.
                let jwt = read_jwt(jwt_path)?;
                (
                    "JWT",
                    token::login_path(mount),
                    json!({ "role": role, "jwt": jwt.expose() }),
                )
            }
            AuthMethod::Cert { mount, role } => {
                // The credential is the client certificate of the TLS handshake.
                let body = match role {
                    Some(name) => json!({ "name": name }),
                    None => json!({}),
                };
                ("TLS certificate", token::login_path(mount), body)
            }
            AuthMethod::Aws {
                mount,
                role,
                header_value,
                region,
            } => (
                "AWS",
                token::login_path(mount),
                aws_login_body(role, header_value.as_deref(), region.as_deref())?,
            ),
            AuthMethod::TokenFile(_) | AuthMethod::StaticToken(_) => {
                return Err(anyhow!("this authentication method has no login"));
            }
        };
        let info = token::login_at(client, &path, &body)
            .with_context(|| format!("{what} login at {} failed", client.url(&path)))?;
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

/// `auth/<mount>/login/<username>` (userpass, LDAP), the name percent-encoded as one path
/// segment: a `/`, `?`, `#` or space in it cannot change which endpoint is called.
fn user_login_path(mount: &str, username: &str) -> String {
    use std::fmt::Write;
    let mut path = format!("{}/", token::login_path(mount));
    for b in username.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            path.push(char::from(b));
        } else {
            let _ = write!(path, "%{b:02X}");
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::user_login_path;

    #[test]
    fn a_user_name_is_one_path_segment() {
        assert_eq!(
            user_login_path("userpass", "snap"),
            "auth/userpass/login/snap"
        );
        assert_eq!(
            user_login_path("corp/ldap", "j.doe@corp.example"),
            "auth/corp/ldap/login/j.doe@corp.example"
        );
        assert_eq!(
            user_login_path("ldap", "a b/../c?x#y%"),
            "auth/ldap/login/a%20b%2F..%2Fc%3Fx%23y%25"
        );
    }
}
