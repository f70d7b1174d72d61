//! Typed token endpoints: logins (`auth/<mount>/login`), `auth/token/renew-self`,
//! `auth/token/lookup-self` and `auth/token/revoke-self`. Their answers carry the token, so a body that does not decode
//! is reported without serde's quoted values.

use std::time::Duration;

use anyhow::Result;

use super::api::Endpoint;
use super::client::VaultClient;
use crate::secret::Secret;

const AUTH_ANSWER: &str = "an auth response";
const RENEW_SELF: Endpoint<'static> =
    Endpoint::put("auth/token/renew-self", AUTH_ANSWER).secret_answer();
const LOOKUP_SELF: Endpoint<'static> =
    Endpoint::get("auth/token/lookup-self", "a token lookup").secret_answer();
const REVOKE_SELF: Endpoint<'static> = Endpoint::put("auth/token/revoke-self", "no content");

/// The `auth` object of a login or renewal answer, as far as the agent uses it.
#[derive(Debug, serde::Deserialize)]
pub struct TokenAuth {
    /// The token (never shown).
    pub client_token: Secret,
    /// Seconds the token is valid; 0 for no expiry.
    #[serde(default)]
    pub lease_duration: u64,
    /// Whether `renew-self` may extend it.
    #[serde(default)]
    pub renewable: bool,
}

#[derive(serde::Deserialize)]
struct AuthEnvelope {
    auth: Option<TokenAuth>,
}

/// `auth/token/lookup-self`'s `data`, as far as the agent uses it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct TokenLookup {
    /// Seconds left; 0 for no expiry.
    #[serde(default)]
    pub ttl: u64,
    /// The token's policies.
    #[serde(default)]
    pub policies: Vec<String>,
}

#[derive(serde::Deserialize)]
struct DataEnvelope<T> {
    data: T,
}

/// The login path of an auth method mounted at `mount`.
#[must_use]
pub fn login_path(mount: &str) -> String {
    format!("auth/{mount}/login")
}

/// `PUT auth/<mount>/login` with the method's `credentials` (e.g. `role_id` and `secret_id`).
///
/// # Errors
/// When Vault cannot be reached, refuses the credentials, or the answer holds no token.
pub fn login(
    client: &VaultClient,
    mount: &str,
    credentials: &serde_json::Value,
) -> Result<TokenAuth> {
    login_at(client, &login_path(mount), credentials)
}

/// `PUT <path>` with `credentials`, for a login endpoint that is not `auth/<mount>/login`
/// (userpass and LDAP put the user name after it).
///
/// # Errors
/// As [`login`].
pub fn login_at(
    client: &VaultClient,
    path: &str,
    credentials: &serde_json::Value,
) -> Result<TokenAuth> {
    let endpoint = Endpoint::put(path, AUTH_ANSWER).secret_answer();
    auth_of(
        client,
        &endpoint,
        endpoint.call(client, None, Some(credentials))?,
    )
}

/// `PUT auth/token/renew-self`, asking for `increment` more.
///
/// # Errors
/// When Vault cannot be reached, refuses the token, or the answer holds no token.
pub fn renew_self(client: &VaultClient, token: &Secret, increment: Duration) -> Result<TokenAuth> {
    let body = serde_json::json!({ "increment": increment.as_secs() });
    auth_of(
        client,
        &RENEW_SELF,
        RENEW_SELF.call(client, Some(token), Some(&body))?,
    )
}

/// `GET auth/token/lookup-self`: what Vault knows of `token`.
///
/// # Errors
/// When Vault cannot be reached, refuses the token, or the answer is not a token lookup.
pub fn lookup_self(client: &VaultClient, token: &Secret) -> Result<TokenLookup> {
    let envelope: DataEnvelope<TokenLookup> = LOOKUP_SELF.call(client, Some(token), None)?;
    Ok(envelope.data)
}

/// `PUT auth/token/revoke-self`: `token` (and its children) stop being valid.
///
/// # Errors
/// When Vault cannot be reached or refuses (an already expired token is refused with 403).
pub fn revoke_self(client: &VaultClient, token: &Secret) -> Result<()> {
    REVOKE_SELF.call_without_answer(client, Some(token), None)
}

/// The `auth` section of a login or renewal answer, which must hold a token.
fn auth_of(
    client: &VaultClient,
    endpoint: &Endpoint<'_>,
    answer: AuthEnvelope,
) -> Result<TokenAuth> {
    match answer.auth {
        None => Err(endpoint.unexpected(client, "it has no auth section")),
        Some(auth) if auth.client_token.is_empty() => {
            Err(endpoint.unexpected(client, "its client_token is empty"))
        }
        Some(auth) => Ok(auth),
    }
}
