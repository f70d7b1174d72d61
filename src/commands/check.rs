//! `check`: try a config before trusting it.
//!
//! Without `--connect` it only validates the config (exit 2 with the usual message when it is
//! bad) and prints the resolved settings, every secret-valued key masked (`<redacted>`) or
//! shown as the reference it is (`file:///run/secrets/...`, `env://NAME`). With `--connect` it
//! also asks Vault who leads and whether it is sealed, logs in, asks whether the token may read
//! snapshots, and lists every storage (proving read access), without taking a snapshot: one
//! line per step, and exit 1 naming the first step that failed.

use std::io::Write;

use anyhow::{Result, bail};

use crate::config::{AuthMethod, CaSource, Config, GoogleCredentials, StorageConfig, StorageKind};
use crate::cycle::{Agent, ConfiguredStorage};
use crate::duration;
use crate::exit::Exit;
use crate::secret::{Secret, SecretRef};
use crate::session::{Needs, Session};
use crate::snapshot_name::{Standing, newest};
use crate::text::escape;
use crate::vault::client::VaultClient;
use crate::vault::leader::{self, Role};
use crate::vault::snapshot::SNAPSHOT_PATH;
use crate::vault::{sys, token};

/// Runs `check`; `out` receives the settings and the step lines.
///
/// # Errors
/// When the output cannot be written, or a storage client cannot be set up.
pub fn check(config: Config, connect: bool, out: &mut impl Write) -> Result<Exit> {
    writeln!(out, "config {}: valid", config.source.display())?;
    for (key, value) in settings(&config) {
        writeln!(out, "  {key:<17} {value}")?;
    }
    let credentials: Vec<String> = config.storages.iter().map(credentials_line).collect();
    // Everything a cycle uses is probed, as `once` would; nothing is locked or staged.
    let needs = Needs {
        lock: false,
        signals: false,
        ..Needs::CYCLE
    };
    let mut agent = Session::open(config, &needs)?.agent()?;
    for (s, credentials) in agent.storages().iter().zip(credentials) {
        writeln!(
            out,
            "  {:<17} {} {}; {}; {credentials}",
            format!("storage {}", s.name),
            s.storage.kind(),
            s.storage.location(),
            s.policy
        )?;
    }
    if !connect {
        return Ok(Exit::Ok);
    }
    writeln!(out, "connecting:")?;
    let mut steps = Steps { out, failed: None };
    steps.run("vault sys/leader", || leader_step(&agent))?;
    steps.run("vault sys/seal-status", || seal_step(agent.client()))?;
    let token = steps.run("vault login", || login_step(&mut agent))?;
    if let Some(token) = token {
        steps.run("vault policy", || policy_step(agent.client(), &token))?;
    }
    for s in agent.storages() {
        steps.run(&format!("storage {}", s.name), || list_step(s))?;
    }
    match steps.failed {
        None => Ok(Exit::Ok),
        Some(step) => {
            log::error!("check --connect failed; the first step that failed: {step}");
            Ok(Exit::Failed)
        }
    }
}

/// Prints one line per step and remembers the first that failed. What a step says comes
/// from Vault or a storage (a leader address, a version, an error body): it is printed
/// escaped, so an answer cannot forge or hide a line.
struct Steps<'a, W: Write> {
    out: &'a mut W,
    failed: Option<String>,
}

impl<W: Write> Steps<'_, W> {
    fn run<T>(
        &mut self,
        name: &str,
        step: impl FnOnce() -> Result<(T, String)>,
    ) -> Result<Option<T>> {
        match step() {
            Ok((value, said)) => {
                writeln!(self.out, "  ok    {name}: {}", escape(&said))?;
                Ok(Some(value))
            }
            Err(e) => {
                writeln!(self.out, "  FAIL  {name}: {}", escape(&format!("{e:#}")))?;
                self.failed.get_or_insert_with(|| name.to_string());
                Ok(None)
            }
        }
    }
}

/// The resolved settings, as `key value` pairs; no secret value appears.
fn settings(config: &Config) -> Vec<(&'static str, String)> {
    let v = &config.vault;
    let or_none = |s: Option<String>| s.unwrap_or_else(|| "(none)".into());
    let mut tls = Vec::new();
    match &v.tls.ca {
        Some(CaSource::File(p)) => tls.push(format!("ca_cert {}", p.path.display())),
        Some(CaSource::Dir(p)) => tls.push(format!("ca_path {}", p.path.display())),
        None => tls.push("the system's CAs".into()),
    }
    if let Some(client) = &v.tls.client {
        tls.push(format!(
            "client_cert {}, client_key {}",
            client.cert.path.display(),
            client.key.path.display()
        ));
    }
    if v.tls.skip_verify {
        tls.push("VERIFICATION OFF (tls_skip_verify)".into());
    }
    vec![
        (
            "addr",
            if v.nodes.is_empty() {
                v.addr.clone()
            } else {
                format!("{} (the active node of these)", v.nodes.join(", "))
            },
        ),
        ("namespace", or_none(v.namespace.clone())),
        ("leader_check", config.leader_check.describe().to_string()),
        ("tls", tls.join(", ")),
        ("auth", auth_line(&config.auth)),
        ("frequency", duration::format(config.frequency)),
        (
            "timeout",
            v.snapshot_timeout
                .map_or_else(|| "none".into(), duration::format),
        ),
        ("temp_dir", config.temp_dir.display().to_string()),
        (
            "metrics_file",
            or_none(
                config
                    .metrics_file
                    .as_ref()
                    .map(|p| p.display().to_string()),
            ),
        ),
        (
            "metrics_push_url",
            or_none(
                config
                    .metrics_push_url
                    .as_deref()
                    .map(crate::metrics::loggable_url),
            ),
        ),
        ("log_format", config.log_format.as_str().to_string()),
        ("retention", config.retention.to_string()),
    ]
}

fn auth_line(auth: &AuthMethod) -> String {
    match auth {
        AuthMethod::TokenFile(path) => format!("token file {}", path.display()),
        AuthMethod::StaticToken(token) => format!("VAULT_TOKEN {token}"),
        AuthMethod::AppRole {
            mount,
            role_id,
            secret_id,
        } => format!("AppRole at auth/{mount}, role_id {role_id}, secret_id {secret_id}"),
        AuthMethod::Kubernetes {
            mount,
            role,
            jwt_path,
        } => format!(
            "Kubernetes at auth/{mount}, role {role}, JWT file {}",
            jwt_path.display()
        ),
        AuthMethod::Gcp {
            mount,
            role,
            service_account,
            metadata_host,
        } => format!(
            "GCP (gce) at auth/{mount}, role {role}, identity token of service account {service_account} from http://{metadata_host}"
        ),
        AuthMethod::Azure {
            mount,
            role,
            resource,
            imds,
        } => format!(
            "Azure at auth/{mount}, role {role}, managed-identity token for {resource} from {imds}"
        ),
        AuthMethod::Userpass {
            mount,
            username,
            password,
        } => format!("userpass at auth/{mount}, user {username}, password {password}"),
        AuthMethod::Ldap {
            mount,
            username,
            password,
        } => format!("LDAP at auth/{mount}, user {username}, password {password}"),
        AuthMethod::Jwt {
            mount,
            role,
            jwt_path,
        } => format!(
            "JWT at auth/{mount}, role {role}, JWT file {}",
            jwt_path.display()
        ),
        AuthMethod::Cert { mount, role } => format!(
            "TLS certificate at auth/{mount}, role {}",
            role.as_deref().unwrap_or("(any matching)")
        ),
        AuthMethod::Aws {
            mount,
            role,
            header_value,
            region,
        } => format!(
            "AWS at auth/{mount}, role {role}, region {}, server ID header {}; credentials: {}",
            region
                .as_deref()
                .unwrap_or("from AWS_REGION (default us-east-1)"),
            header_value.as_deref().unwrap_or("(none)"),
            crate::aws::detect_source(false, &|name| std::env::var(name).ok())
                .map_or_else(|e| format!("{e:#}"), |s| s.to_string())
        ),
    }
}

/// Where a storage's credentials come from; keys show as `<redacted>` or as the reference.
/// One function per kind, so each storage's line can say more without touching the others.
fn credentials_line(config: &StorageConfig) -> String {
    match &config.kind {
        StorageKind::Local { .. } => "no credentials".into(),
        StorageKind::S3(c) => s3_credentials(c),
        StorageKind::Gcs(c) => gcs_credentials(&c.credentials),
        StorageKind::Azure(c) => azure_credentials(c),
    }
}

/// The keys among `pairs` that are set, as `key <redacted>` (or their reference).
fn configured_keys(pairs: &[(&str, &Option<SecretRef>)]) -> Option<String> {
    let set: Vec<String> = pairs
        .iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key} {v}")))
        .collect();
    (!set.is_empty()).then(|| set.join("; "))
}

fn s3_credentials(c: &crate::config::S3Config) -> String {
    configured_keys(&[
        ("access_key_id", &c.access_key_id),
        ("secret_access_key", &c.secret_access_key),
    ])
    .unwrap_or_else(|| {
        // Which source of the chain is configured (nothing is fetched here).
        match crate::aws::detect_source(false, &|name| std::env::var(name).ok()) {
            Ok(source) => escape(&format!("AWS credentials: {source}")).into_owned(),
            Err(e) => escape(&format!("AWS credentials: none usable ({e:#})")).into_owned(),
        }
    })
}

/// The kind of Google credentials and where their tokens come from (the file is read for its
/// type and URLs only).
fn gcs_credentials(credentials: &GoogleCredentials) -> String {
    match credentials {
        GoogleCredentials::None => "no credentials (emulator)".into(),
        #[cfg(feature = "gcs")]
        GoogleCredentials::File(path) => {
            match crate::google_credentials::CredentialsFile::read(path) {
                Ok(file) => format!("{} from {}", file.describe(), path.display()),
                Err(_) => format!("credentials file {} (unreadable)", path.display()),
            }
        }
        #[cfg(not(feature = "gcs"))]
        GoogleCredentials::File(path) => format!("credentials file {}", path.display()),
        GoogleCredentials::Metadata(host) => format!("metadata server at {host}"),
    }
}

#[cfg(feature = "azure")]
fn azure_credentials(c: &crate::config::AzureConfig) -> String {
    crate::storage::azure::credential_source(c)
}

#[cfg(not(feature = "azure"))]
fn azure_credentials(c: &crate::config::AzureConfig) -> String {
    configured_keys(&[("account_key", &c.account_key), ("sas_token", &c.sas_token)])
        .unwrap_or_else(|| "managed identity".into())
}

fn leader_step(agent: &Agent) -> Result<((), String)> {
    let status = leader::fetch(agent.client())?;
    let check = agent.config().leader_check;
    let role = agent.role(&status)?;
    let node = match (status.ha_enabled, status.is_self) {
        (false, _) => "HA not enabled (single node)".to_string(),
        (true, true) => format!(
            "the node at addr is the active node ({})",
            status.leader_address
        ),
        (true, false) if status.leader_address.is_empty() => "no active node known".into(),
        (true, false) => format!(
            "the node at addr is a standby; active node {}",
            status.leader_address
        ),
    };
    let verdict = match role {
        Role::Act(_) => "this agent would take the snapshot",
        Role::Skip => "this agent would skip (not the leader)",
    };
    Ok((
        (),
        format!("{node}; leader_check {}: {verdict}", check.as_str()),
    ))
}

fn seal_step(client: &VaultClient) -> Result<((), String)> {
    let seal = sys::seal_status(client)?;
    if seal.initialized == Some(false) {
        bail!("Vault is not initialized");
    }
    if seal.sealed {
        bail!("Vault is sealed");
    }
    if let Some(storage) = seal.storage_type.as_deref().filter(|s| *s != "raft") {
        bail!("Vault's storage is {storage:?}, not raft: it has no Raft snapshots");
    }
    let mut said = vec!["unsealed".to_string()];
    if let Some(version) = seal.version {
        said.push(format!("version {version}"));
    }
    if let Some(storage) = seal.storage_type {
        said.push(format!("storage {storage}"));
    }
    if let Some(name) = seal.cluster_name.filter(|n| !n.is_empty()) {
        said.push(format!("cluster {name}"));
    }
    Ok(((), said.join(", ")))
}

fn login_step(agent: &mut Agent) -> Result<(Secret, String)> {
    let token = agent.token()?;
    let lookup = token::lookup_self(agent.client(), &token)?;
    let ttl = if lookup.ttl == 0 {
        "no expiry".to_string()
    } else {
        format!(
            "expires in {}",
            duration::format(std::time::Duration::from_secs(lookup.ttl))
        )
    };
    let said = format!(
        "{}; token valid, {ttl}, policies [{}]",
        auth_line(&agent.config().auth),
        lookup.policies.join(", ")
    );
    Ok((token, said))
}

fn policy_step(client: &VaultClient, token: &Secret) -> Result<((), String)> {
    let capabilities = sys::capabilities_self(client, token, SNAPSHOT_PATH)?;
    let allowed = capabilities
        .iter()
        .any(|c| matches!(c.as_str(), "read" | "root"));
    if !allowed {
        bail!(
            "the token may not read {SNAPSHOT_PATH} (capabilities: [{}]); its policy needs \
             path \"{SNAPSHOT_PATH}\" {{ capabilities = [\"read\"] }}",
            capabilities.join(", ")
        );
    }
    Ok((
        (),
        format!(
            "the token may read {SNAPSHOT_PATH} ([{}])",
            capabilities.join(", ")
        ),
    ))
}

/// Lists one storage. "newest" is what `latest` means ([`newest`]); names dated in the future
/// and objects that cannot be snapshots are counted apart and named.
fn list_step(s: &ConfiguredStorage) -> Result<((), String)> {
    let entries = s.storage.list()?;
    let now = std::time::SystemTime::now();
    crate::prune::warn_not_snapshots(&s.name, s.storage.as_ref(), &entries);
    let mut future = Vec::new();
    let mut junk = Vec::new();
    for e in &entries {
        match e.standing(now) {
            Standing::Snapshot => {}
            Standing::DatedInFuture => future.push(format!(
                "{} ({})",
                e.name,
                crate::snapshot_name::utc_timestamp(e.name.time())
            )),
            Standing::NotASnapshot(why) => junk.push(format!("{} ({why})", e.name)),
        }
    }
    let good = entries.len() - future.len() - junk.len();
    let mut said = match newest(&entries, now) {
        None if entries.is_empty() => format!(
            "{} {}: listed, no snapshots yet",
            s.storage.kind(),
            s.storage.location()
        ),
        None => format!(
            "{} {}: listed, no snapshot that can be latest",
            s.storage.kind(),
            s.storage.location()
        ),
        Some(newest) => format!(
            "{} {}: listed, {good} snapshot(s), newest {}",
            s.storage.kind(),
            s.storage.location(),
            newest.name
        ),
    };
    if !future.is_empty() {
        said.push_str(&format!(
            "; {} dated in the future, never latest (check the clock): {}",
            future.len(),
            future.join(", ")
        ));
    }
    if !junk.is_empty() {
        said.push_str(&format!(
            "; {} not a snapshot, never counted or deleted: {}",
            junk.len(),
            junk.join(", ")
        ));
    }
    Ok(((), said))
}
