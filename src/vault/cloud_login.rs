//! What the `gcp` and `azure` logins send Vault, fetched from the cloud's metadata service
//! at every login (the tokens are short-lived and bound to this instance):
//!
//! - GCP (`gce` roles): `GET http://<GCE_METADATA_HOST>/computeMetadata/v1/instance/
//!   service-accounts/<account>/identity?audience=http://vault/<role>&format=full` with
//!   `Metadata-Flavor: Google` gives a JWT that Google signed; Vault's gcp method checks its
//!   audience (`vault/<role>`) and the instance it names. The login is `{role, jwt}`.
//! - Azure: `GET <imds>/metadata/identity/oauth2/token?api-version=2018-02-01&resource=<r>`
//!   with `Metadata: true` gives a managed-identity access token, and
//!   `GET <imds>/metadata/instance?api-version=2021-02-01` the VM's subscription, resource
//!   group and name (or scale set's name). The login is `{role, jwt, subscription_id,
//!   resource_group_name, vm_name | vmss_name}`.
//!
//! The metadata services are link-local: no proxy, no redirect, short timeouts. A token they
//! answer with is kept as a [`Secret`]; an error names the URL and the status, and quotes at
//! most the start of a failed answer, escaped (a 200's body is never quoted).

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use crate::secret::Secret;

/// Limit on each call to a metadata service (they answer in milliseconds).
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
const METADATA_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest answer read from a metadata service.
const MAX_ANSWER: u64 = 1024 * 1024;
/// How much of a failed answer an error quotes.
const QUOTED: usize = 200;

/// The API version of the managed-identity token endpoint.
const AZURE_TOKEN_API: &str = "2018-02-01";
/// The API version of the instance metadata endpoint (has `vmScaleSetName`).
const AZURE_INSTANCE_API: &str = "2021-02-01";

/// The login body of Vault's gcp method for `role`: the instance identity token of
/// `service_account` from the metadata server at `metadata_host`.
///
/// # Errors
/// When the metadata server cannot be reached or does not answer with a token.
pub fn gcp_login_body(metadata_host: &str, service_account: &str, role: &str) -> Result<Value> {
    let audience = format!("http://vault/{role}");
    let url = format!(
        "http://{metadata_host}/computeMetadata/v1/instance/service-accounts/{service_account}/identity?audience={}&format=full",
        encode(&audience)
    );
    let text = get(
        &url,
        ("Metadata-Flavor", "Google"),
        "the GCE metadata server",
    )?;
    let jwt = text.trim();
    if jwt.is_empty() || jwt.chars().any(|c| c.is_control() || c.is_whitespace()) {
        bail!("the GCE metadata server's answer to GET {url} is not an identity token");
    }
    let jwt = Secret::new(jwt);
    Ok(json!({ "role": role, "jwt": jwt.expose() }))
}

#[derive(serde::Deserialize)]
struct AzureToken {
    access_token: Secret,
}

#[derive(serde::Deserialize)]
struct AzureInstance {
    compute: AzureCompute,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AzureCompute {
    subscription_id: String,
    resource_group_name: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    vm_scale_set_name: String,
}

/// The login body of Vault's azure method for `role`: a managed-identity token for
/// `resource` and the VM's metadata, both from IMDS at `imds`.
///
/// # Errors
/// When IMDS cannot be reached or does not answer with a token and the VM's metadata.
pub fn azure_login_body(imds: &str, resource: &str, role: &str) -> Result<Value> {
    let what = "Azure's instance metadata service";
    let header = ("Metadata", "true");
    let token_url = format!(
        "{imds}/metadata/identity/oauth2/token?api-version={AZURE_TOKEN_API}&resource={}",
        encode(resource)
    );
    let text = get(&token_url, header, what)?;
    // serde's messages may quote the value: only the shape is reported.
    let token: AzureToken = serde_json::from_str(&text).map_err(|_| {
        anyhow!("{what}'s answer to GET {token_url} is not a token (no access_token)")
    })?;
    if token.access_token.is_empty() {
        bail!("{what}'s answer to GET {token_url} has an empty access_token");
    }
    let instance_url = format!("{imds}/metadata/instance?api-version={AZURE_INSTANCE_API}");
    let text = get(&instance_url, header, what)?;
    let instance: AzureInstance = serde_json::from_str(&text).map_err(|e| {
        anyhow!("{what}'s answer to GET {instance_url} is not the instance's metadata: {e}")
    })?;
    let compute = instance.compute;
    let mut body = json!({
        "role": role,
        "jwt": token.access_token.expose(),
        "subscription_id": compute.subscription_id,
        "resource_group_name": compute.resource_group_name,
    });
    if compute.vm_scale_set_name.is_empty() {
        body["vm_name"] = Value::String(compute.name);
    } else {
        body["vmss_name"] = Value::String(compute.vm_scale_set_name);
    }
    Ok(body)
}

/// `GET url` with the metadata service's `header`; the body of a 200.
fn get(url: &str, header: (&str, &str), what: &str) -> Result<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_connect(Some(METADATA_CONNECT_TIMEOUT))
        .timeout_global(Some(METADATA_TIMEOUT))
        .user_agent(concat!("vault-raft-snapshot/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut response = agent
        .get(url)
        .header(header.0, header.1)
        .call()
        .with_context(|| format!("cannot reach {what} at GET {url}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_string()
        .with_context(|| format!("failed to read the answer of {what} to GET {url}"))?;
    if status != 200 {
        let start: String = text.trim().chars().take(QUOTED).collect();
        bail!(
            "{what} answered {status} to GET {url}: {}",
            crate::text::escape(&start)
        );
    }
    Ok(text)
}

/// `text` percent-encoded for a query value or a path segment: every byte but the
/// unreserved ones (RFC 3986).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("http://vault/snap"), "http%3A%2F%2Fvault%2Fsnap");
        assert_eq!(
            encode("https://management.azure.com/"),
            "https%3A%2F%2Fmanagement.azure.com%2F"
        );
        assert_eq!(encode("a b&c"), "a%20b%26c");
    }
}
