//! The sources of the chain: which one is configured ([`detect`]) and fetching from it
//! ([`fetch`]). Every error starts with the source and names the URL asked; bodies are
//! quoted only as the server's error code and message, escaped and cut short.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use super::{Credentials, Source, parse_utc};
use crate::config::read_token_file;
use crate::secret::{Secret, SecretRef};

type EnvFn<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The container credentials host of ECS (for `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`).
const ECS_HOST: &str = "http://169.254.170.2";
/// The instance metadata service.
const IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// The regions where `AWS_STS_REGIONAL_ENDPOINTS=legacy` means the global endpoint.
const LEGACY_GLOBAL_REGIONS: &[&str] = &[
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "aws-global",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

fn var(env: EnvFn<'_>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.trim().is_empty())
}

/// The first configured source, from the config and the environment alone.
pub(super) fn detect(has_statics: bool, env: EnvFn<'_>) -> Result<Source> {
    if has_statics {
        return Ok(Source::Config);
    }
    match (
        var(env, "AWS_ACCESS_KEY_ID"),
        var(env, "AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(_), Some(_)) => return Ok(Source::Environment),
        (Some(_), None) => {
            bail!("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        }
        (None, Some(_)) => {
            bail!("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
        }
        (None, None) => {}
    }
    if let Some(source) = detect_profile(env)? {
        return Ok(source);
    }
    match (
        var(env, "AWS_WEB_IDENTITY_TOKEN_FILE"),
        var(env, "AWS_ROLE_ARN"),
    ) {
        (Some(file), Some(role_arn)) => {
            return Ok(Source::WebIdentity {
                role_arn,
                token_file: PathBuf::from(file),
                sts: sts_endpoint(env)?,
            });
        }
        (Some(_), None) => {
            bail!("web identity (IRSA): AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not")
        }
        (None, Some(_)) => {
            bail!("web identity (IRSA): AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not")
        }
        (None, None) => {}
    }
    if let Some(url) = container_url(env)? {
        return Ok(Source::Container { url });
    }
    if var(env, "AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        bail!(
            "no AWS credentials: set access_key_id and secret_access_key, AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY, a profile, web identity (AWS_WEB_IDENTITY_TOKEN_FILE and \
             AWS_ROLE_ARN) or container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI); the \
             instance metadata service is off (AWS_EC2_METADATA_DISABLED)"
        );
    }
    let endpoint = var(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT").map_or_else(
        || IMDS_ENDPOINT.to_string(),
        |e| e.trim_end_matches('/').into(),
    );
    check_http_url("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint)?;
    Ok(Source::InstanceMetadata { endpoint })
}

/// Credentials from `source`.
pub(super) fn fetch(
    source: &Source,
    statics: Option<&(SecretRef, SecretRef)>,
    env: EnvFn<'_>,
) -> Result<Credentials> {
    match source {
        Source::Config => {
            let (id, secret) = statics.ok_or_else(|| anyhow!("no static keys in the config"))?;
            Ok(Credentials {
                access_key_id: id.read()?.expose().to_string(),
                secret_access_key: secret.read()?,
                session_token: None,
                expires: None,
            })
        }
        Source::Environment => Ok(Credentials {
            access_key_id: var(env, "AWS_ACCESS_KEY_ID").unwrap_or_default(),
            secret_access_key: Secret::new(var(env, "AWS_SECRET_ACCESS_KEY").unwrap_or_default()),
            session_token: var(env, "AWS_SESSION_TOKEN")
                .or_else(|| var(env, "AWS_SECURITY_TOKEN"))
                .map(Secret::new),
            expires: None,
        }),
        Source::Profile { file, profile } => read_profile(file, profile)?
            .ok_or_else(|| anyhow!("profile [{profile}] of {}: not found", file.display())),
        Source::WebIdentity {
            role_arn,
            token_file,
            sts,
        } => web_identity(role_arn, token_file, sts, env),
        Source::Container { url } => container(url, env),
        Source::InstanceMetadata { endpoint } => instance_metadata(endpoint),
    }
}

/// The STS endpoint: `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else the regional
/// endpoint of `AWS_REGION` (or `AWS_DEFAULT_REGION`); the global one without a region, or
/// with `AWS_STS_REGIONAL_ENDPOINTS=legacy` in a region that had the global one.
///
/// # Errors
/// When the override is not an http(s) URL or the region is not a region's name.
pub fn sts_endpoint(env: EnvFn<'_>) -> Result<String> {
    for name in ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"] {
        if let Some(url) = var(env, name) {
            let url = url.trim().trim_end_matches('/').to_string();
            check_http_url(name, &url)?;
            return Ok(url);
        }
    }
    let region = var(env, "AWS_REGION").or_else(|| var(env, "AWS_DEFAULT_REGION"));
    let legacy = var(env, "AWS_STS_REGIONAL_ENDPOINTS")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("legacy"));
    match region.as_deref().map(str::trim) {
        None | Some("aws-global") => Ok("https://sts.amazonaws.com".into()),
        Some(r) if legacy && LEGACY_GLOBAL_REGIONS.contains(&r) => {
            Ok("https://sts.amazonaws.com".into())
        }
        Some(r) => regional_sts(r),
    }
}

/// `https://sts.<region>.amazonaws.com` (`.com.cn` in China).
pub(crate) fn regional_sts(region: &str) -> Result<String> {
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        bail!(
            "AWS region {:?} is not a region's name",
            crate::text::escape(region)
        );
    }
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Ok(format!("https://sts.{region}.{suffix}"))
}

fn check_http_url(name: &str, url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| anyhow!("{name} {url:?} is not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.chars().any(|c| c.is_control() || c.is_whitespace()) {
        bail!("{name} {:?} is not a URL", crate::text::escape(url));
    }
    Ok(())
}

/// The container credentials URL, if configured. A plain-http `FULL_URI` must point at this
/// host or at the ECS / EKS Pod Identity agent (as the SDKs require): the authorization token
/// is not sent in clear anywhere else.
fn container_url(env: EnvFn<'_>) -> Result<Option<String>> {
    if let Some(full) = var(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        let full = full.trim().to_string();
        check_http_url("AWS_CONTAINER_CREDENTIALS_FULL_URI", &full)?;
        if let Some(rest) = full.strip_prefix("http://") {
            let authority = rest.split(['/', '?']).next().unwrap_or_default();
            let host = if let Some(v6) = authority.strip_prefix('[') {
                v6.split(']').next().unwrap_or_default()
            } else {
                authority.split(':').next().unwrap_or_default()
            };
            let allowed = host == "localhost"
                || host == "169.254.170.2"
                || host == "169.254.170.23"
                || host.eq_ignore_ascii_case("fd00:ec2::23")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !allowed {
                bail!(
                    "container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI {full} is plain \
                     http to {host}: only this host, 169.254.170.2 (ECS) or 169.254.170.23 (EKS \
                     Pod Identity) may be reached without TLS"
                );
            }
        }
        return Ok(Some(full));
    }
    if let Some(relative) = var(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        let relative = relative.trim();
        if !relative.starts_with('/') || relative.chars().any(char::is_control) {
            bail!(
                "container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI {:?} is not a path",
                crate::text::escape(relative)
            );
        }
        return Ok(Some(format!("{ECS_HOST}{relative}")));
    }
    Ok(None)
}

fn profile_location(env: EnvFn<'_>) -> (Option<PathBuf>, String, bool) {
    let file = var(env, "AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| var(env, "HOME").map(|h| Path::new(&h).join(".aws").join("credentials")));
    let explicit = var(env, "AWS_PROFILE");
    let named = explicit.is_some();
    (file, explicit.unwrap_or_else(|| "default".into()), named)
}

fn detect_profile(env: EnvFn<'_>) -> Result<Option<Source>> {
    let (file, profile, named) = profile_location(env);
    let Some(file) = file else {
        return Ok(None);
    };
    match read_profile(&file, &profile)? {
        Some(_) => Ok(Some(Source::Profile { file, profile })),
        None if named => bail!(
            "AWS_PROFILE names the profile [{profile}], which {} does not hold with \
             aws_access_key_id and aws_secret_access_key",
            file.display()
        ),
        None => Ok(None),
    }
}

/// The keys of `[profile]` in a shared credentials file; `None` when the file or the profile
/// (with both keys) is missing.
fn read_profile(file: &Path, profile: &str) -> Result<Option<Credentials>> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow!("cannot read {}: {e}", file.display())),
    };
    Ok(parse_profile(&text, profile))
}

/// The keys of `[profile]` in the text of a shared credentials file.
pub(super) fn parse_profile(text: &str, profile: &str) -> Option<Credentials> {
    let mut inside = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = section.trim() == profile;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let value = value.trim().to_string();
            match key.trim().to_ascii_lowercase().as_str() {
                "aws_access_key_id" => id = Some(value),
                "aws_secret_access_key" => secret = Some(value),
                "aws_session_token" => token = Some(value),
                _ => {}
            }
        }
    }
    Some(Credentials {
        access_key_id: id.filter(|v| !v.is_empty())?,
        secret_access_key: Secret::new(secret.filter(|v| !v.is_empty())?),
        session_token: token.filter(|v| !v.is_empty()).map(Secret::new),
        expires: None,
    })
}

fn agent(timeout: Duration, proxy: bool) -> ureq::Agent {
    crate::install_crypto_provider();
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout));
    if !proxy {
        config = config.proxy(None);
    }
    config.build().into()
}

fn read_body(response: &mut ureq::http::Response<ureq::Body>) -> Result<String> {
    Ok(response
        .body_mut()
        .with_config()
        .limit(256 * 1024)
        .read_to_string()?)
}

/// Percent-encodes for a form body or a query (everything but the unreserved characters).
pub(crate) fn form_encode(pairs: &[(&str, &str)]) -> String {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The text of the first `<tag>` element, XML entities decoded.
pub(crate) fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// An AWS error body, shortened to its code and message (escaped, at most 300 characters).
pub(crate) fn error_summary(body: &str) -> String {
    let said = match (xml_text(body, "Code"), xml_text(body, "Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => match serde_json::from_str::<serde_json::Value>(body) {
            Ok(v) => ["message", "Message", "code", "Code"]
                .iter()
                .find_map(|k| v.get(k).and_then(|m| m.as_str()).map(String::from))
                .unwrap_or_default(),
            Err(_) => String::new(),
        },
    };
    let said: String = said.chars().take(300).collect();
    crate::text::escape(&said).into_owned()
}

/// AssumeRoleWithWebIdentity, the token read from its file at every exchange.
fn web_identity(
    role_arn: &str,
    token_file: &Path,
    sts: &str,
    env: EnvFn<'_>,
) -> Result<Credentials> {
    let url = format!("{sts}/");
    let what = format!("web identity (IRSA): AssumeRoleWithWebIdentity at {url}");
    let token = read_token_file(token_file).map_err(|e| anyhow!("{what}: {e}"))?;
    let session = var(env, "AWS_ROLE_SESSION_NAME").unwrap_or_else(|| {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        format!("vault-raft-snapshot-{secs}")
    });
    let body = form_encode(&[
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role_arn),
        ("RoleSessionName", session.trim()),
        ("WebIdentityToken", token.expose()),
    ]);
    let mut response = agent(Duration::from_secs(30), true)
        .post(&url)
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .send(body.as_bytes())
        .map_err(|e| anyhow!("{what} failed: {e}"))?;
    let status = response.status().as_u16();
    let text = read_body(&mut response).with_context(|| format!("{what}: reading the answer"))?;
    if !(200..300).contains(&status) {
        bail!("{what} answered {status}: {}", error_summary(&text));
    }
    let field =
        |tag: &str| xml_text(&text, tag).ok_or_else(|| anyhow!("{what}: the answer has no {tag}"));
    let expiration = field("Expiration")?;
    Ok(Credentials {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: Secret::new(field("SecretAccessKey")?),
        session_token: Some(Secret::new(field("SessionToken")?)),
        expires: Some(parse_utc(&expiration).ok_or_else(|| {
            anyhow!(
                "{what}: Expiration {:?} is not a UTC time",
                crate::text::escape(&expiration)
            )
        })?),
    })
}

/// What the container endpoint and IMDS answer.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JsonCredentials {
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    token: Option<String>,
    expiration: Option<String>,
    code: Option<String>,
}

impl JsonCredentials {
    fn parse(text: &str, what: &str) -> Result<Credentials> {
        let c: Self = serde_json::from_str(text)
            .map_err(|e| anyhow!("{what}: the answer is not credentials JSON ({e})"))?;
        if let Some(code) = c.code.as_deref().filter(|c| *c != "Success") {
            bail!("{what}: the answer says {:?}", crate::text::escape(code));
        }
        let expires = match c.expiration {
            Some(text) => Some(parse_utc(&text).ok_or_else(|| {
                anyhow!(
                    "{what}: Expiration {:?} is not a UTC time",
                    crate::text::escape(&text)
                )
            })?),
            None => None,
        };
        Ok(Credentials {
            access_key_id: c
                .access_key_id
                .filter(|v| !v.is_empty())
                .ok_or_else(|| anyhow!("{what}: the answer has no AccessKeyId"))?,
            secret_access_key: Secret::new(
                c.secret_access_key
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| anyhow!("{what}: the answer has no SecretAccessKey"))?,
            ),
            session_token: c.token.filter(|t| !t.is_empty()).map(Secret::new),
            expires,
        })
    }
}

/// EKS Pod Identity / ECS: a GET with the authorization token, read from its file at every
/// fetch (the agent rotates it).
fn container(url: &str, env: EnvFn<'_>) -> Result<Credentials> {
    let what = format!("container credentials at {url}");
    let token = match var(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        Some(file) => Some(
            read_token_file(Path::new(file.trim()))
                .map_err(|e| anyhow!("{what}: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: {e}"))?,
        ),
        None => var(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN").map(|t| Secret::new(t.trim())),
    };
    let mut request = agent(Duration::from_secs(10), false).get(url);
    if let Some(token) = &token {
        if token.expose().chars().any(char::is_control) {
            bail!(
                "{what}: AWS_CONTAINER_AUTHORIZATION_TOKEN holds a control character (the value \
                 is not shown)"
            );
        }
        request = request.header("Authorization", token.expose());
    }
    let mut response = request.call().map_err(|e| anyhow!("{what} failed: {e}"))?;
    let status = response.status().as_u16();
    let text = read_body(&mut response).with_context(|| format!("{what}: reading the answer"))?;
    if status != 200 {
        bail!("{what} answered {status}: {}", error_summary(&text));
    }
    JsonCredentials::parse(&text, &what)
}

/// IMDSv2: a session token from a PUT, then the role's name and its credentials. IMDSv1 (a
/// GET without the token) is never tried.
fn instance_metadata(endpoint: &str) -> Result<Credentials> {
    let agent = agent(Duration::from_secs(5), false);
    let token_url = format!("{endpoint}/latest/api/token");
    let what = format!("instance metadata (IMDSv2) at {token_url}");
    let mut response = agent
        .put(&token_url)
        .header("X-aws-ec2-metadata-token-ttl-seconds", "21600")
        .send_empty()
        .map_err(|e| anyhow!("{what} failed: {e}"))?;
    let status = response.status().as_u16();
    let token = read_body(&mut response)?;
    let token = token.trim();
    if status != 200 || token.is_empty() || token.chars().any(char::is_control) {
        bail!("{what} answered {status} without a session token");
    }
    let get = |url: &str| -> Result<String> {
        let what = format!("instance metadata (IMDSv2) at {url}");
        let mut response = agent
            .get(url)
            .header("X-aws-ec2-metadata-token", token)
            .call()
            .map_err(|e| anyhow!("{what} failed: {e}"))?;
        let status = response.status().as_u16();
        let text = read_body(&mut response)?;
        if status != 200 {
            bail!("{what} answered {status}: {}", error_summary(&text));
        }
        Ok(text)
    };
    let roles_url = format!("{endpoint}/latest/meta-data/iam/security-credentials/");
    let roles = get(&roles_url)?;
    let role = roles
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .ok_or_else(|| {
            anyhow!("instance metadata (IMDSv2) at {roles_url}: no instance role is attached")
        })?;
    if !role
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
    {
        bail!(
            "instance metadata (IMDSv2) at {roles_url}: {:?} is not a role name",
            crate::text::escape(role)
        );
    }
    let url = format!("{roles_url}{role}");
    let text = get(&url)?;
    JsonCredentials::parse(&text, &format!("instance metadata (IMDSv2) at {url}"))
}
