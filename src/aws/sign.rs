//! SigV4 signing with `aws-sigv4` (its `sign` is plain synchronous code), and the signed
//! `sts:GetCallerIdentity` request Vault's `aws` auth method (IAM) logs in with.

use std::time::SystemTime;

use anyhow::{Result, anyhow};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::Credentials;
use crate::secret::Secret;

/// A request to sign.
pub struct Request<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The full URL, already encoded.
    pub url: &'a str,
    /// The headers signed besides `host` (taken from `url`).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
}

/// The headers SigV4 adds to `request` for `service` in `region` (`x-amz-date`,
/// `authorization`, and `x-amz-security-token` with temporary credentials).
///
/// # Errors
/// When the URL cannot be parsed or signing fails (the error names neither key).
pub fn sign_headers(
    request: &Request<'_>,
    service: &str,
    region: &str,
    credentials: &Credentials,
    time: SystemTime,
) -> Result<Vec<(String, Secret)>> {
    let body = SignableBody::Bytes(request.body);
    signed(
        request,
        body,
        SigningSettings::default(),
        service,
        region,
        credentials,
        time,
    )
}

/// How an S3 request's payload is signed.
#[derive(Debug, Clone, Copy)]
pub enum S3Payload<'a> {
    /// Its SHA-256 is signed (plain HTTP).
    Signed(&'a [u8]),
    /// `UNSIGNED-PAYLOAD` (over TLS, which protects the bytes; `Content-MD5` checks them).
    Unsigned,
}

/// The headers SigV4 adds to an S3 request: S3's rules (the path encoded once and not
/// normalised) and the payload's hash, or `UNSIGNED-PAYLOAD`, in `x-amz-content-sha256`.
/// `request.body` is not used: `payload` says what is signed.
///
/// # Errors
/// When the URL cannot be parsed or signing fails (the error names neither key).
pub fn sign_s3(
    request: &Request<'_>,
    payload: S3Payload<'_>,
    region: &str,
    credentials: &Credentials,
    time: SystemTime,
) -> Result<Vec<(String, Secret)>> {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let body = match payload {
        S3Payload::Signed(bytes) => SignableBody::Bytes(bytes),
        S3Payload::Unsigned => SignableBody::UnsignedPayload,
    };
    signed(request, body, settings, "s3", region, credentials, time)
}

fn signed(
    request: &Request<'_>,
    body: SignableBody<'_>,
    settings: SigningSettings,
    service: &str,
    region: &str,
    credentials: &Credentials,
    time: SystemTime,
) -> Result<Vec<(String, Secret)>> {
    let Request {
        method,
        url,
        headers,
        ..
    } = *request;
    let identity = aws_credential_types::Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.expose(),
        credentials
            .session_token
            .as_ref()
            .map(|t| t.expose().to_string()),
        credentials.expires,
        "vault-raft-snapshot",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| anyhow!("cannot sign the {service} request: {e}"))?
        .into();
    let request = SignableRequest::new(method, url, headers.iter().copied(), body)
        .map_err(|e| anyhow!("cannot sign the {service} request to {url}: {e}"))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| anyhow!("cannot sign the {service} request to {url}: {e}"))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_string(), Secret::new(value)))
        .collect())
}

/// The body of an `sts:GetCallerIdentity` request.
pub const CALLER_IDENTITY_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// The STS URL the login request is signed for: `AWS_ENDPOINT_URL_STS` (else
/// `AWS_ENDPOINT_URL`), else `https://sts.amazonaws.com/` in `us-east-1` (Vault's default
/// `sts_endpoint`), else the region's own endpoint.
///
/// # Errors
/// When an override is not a URL or the region not a region's name.
pub fn login_sts_url(region: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let overridden = ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|name| env(name).is_some_and(|v| !v.trim().is_empty()));
    let base = if overridden {
        super::sts_endpoint(env)?
    } else if region == "us-east-1" {
        "https://sts.amazonaws.com".to_string()
    } else {
        super::providers::regional_sts(region)?
    };
    Ok(format!("{}/", base.trim_end_matches('/')))
}

/// The login fields of Vault's `aws` auth method (IAM type) for `role`: a signed
/// `GetCallerIdentity` POST to `url`, with `X-Vault-AWS-IAM-Server-ID: server_id` signed in
/// when given. The map is a secret: the headers carry a signature and maybe a session token.
///
/// # Errors
/// When signing fails.
pub fn vault_login_data(
    role: &str,
    url: &str,
    region: &str,
    server_id: Option<&str>,
    credentials: &Credentials,
    time: SystemTime,
) -> Result<serde_json::Value> {
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let mut headers: Vec<(&str, &str)> = vec![("Content-Type", content_type)];
    if let Some(id) = server_id {
        headers.push(("X-Vault-AWS-IAM-Server-ID", id));
    }
    let signed = sign_headers(
        &Request {
            method: "POST",
            url,
            headers: &headers,
            body: CALLER_IDENTITY_BODY.as_bytes(),
        },
        "sts",
        region,
        credentials,
        time,
    )?;
    let mut map = serde_json::Map::new();
    for (name, value) in &headers {
        map.insert((*name).to_string(), serde_json::json!([value]));
    }
    for (name, value) in &signed {
        map.insert(name.clone(), serde_json::json!([value.expose()]));
    }
    let headers = serde_json::to_vec(&map)?;
    Ok(serde_json::json!({
        "role": role,
        "iam_http_request_method": "POST",
        "iam_request_url": STANDARD.encode(url),
        "iam_request_body": STANDARD.encode(CALLER_IDENTITY_BODY),
        "iam_request_headers": STANDARD.encode(headers),
    }))
}
