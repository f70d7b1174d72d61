//! Azure Blob Storage, with the `object_store` crate.
//!
//! `object_store` is async; this module keeps one tokio current-thread runtime beside the
//! client and blocks on each call, so the rest of the program stays synchronous and no
//! runtime is ever nested. Uploads stream from the staged file as Put Block / Put Block List
//! with one block of `block_size` in flight (memory is about one block), and are aborted on
//! failure. Afterwards the blob's size must match the staged file, or it is deleted.
//!
//! Cleanup removes only what this upload wrote: a blob appears only when Put Blob or Put
//! Block List succeeds, so the blob is deleted only after one of those succeeded and the
//! check then failed. A failure before that leaves an older blob of the same name alone;
//! blocks that were sent but never committed are discarded by Azure after a week and are
//! never visible as a blob.
//!
//! Credentials: `account_key`, else `sas_token`, else workload identity or a service principal
//! from the `AZURE_*` environment, else managed identity ([`Identity`]); the token endpoints
//! are reached through the same client, trusting what the OS trusts (`SSL_CERT_FILE`,
//! `SSL_CERT_DIR`), like every other HTTPS client here.
//!
//! Errors are flattened to text by [`AzureStorage::failed`]: with a SAS token, the token is
//! removed from it, because `object_store`'s errors can carry the request URL, and a SAS
//! token is that URL's query string; and the service's answer, which `object_store` quotes
//! whole once per level of its chain, is cut to its code and message (see [`shorten`]).

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow, ensure};
use object_store::azure::{AzureConfigKey, MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::path::Path as BlobPath;
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};

use super::keys::ObjectKeys;
use super::{Storage, clean_up_on_failure};
use crate::config::AzureConfig;
use crate::progress::{Progress, Reading, Show, Writing};
use crate::secret::{Secret, SecretRef};
use crate::shutdown::StopFlag;
use crate::snapshot_name::{SnapshotEntry, SnapshotName};

/// Block size: 8 MiB, with one block in flight.
pub const DEFAULT_BLOCK_SIZE: usize = 8 << 20;
const READ_SIZE: usize = 1 << 20;

/// Snapshots under a prefix in one container.
pub struct AzureStorage {
    config: AzureConfig,
    /// The SAS token as read when the client was built, to scrub it from errors.
    sas: Option<Secret>,
    keys: ObjectKeys,
    runtime: tokio::runtime::Runtime,
    store: MicrosoftAzure,
    block_size: usize,
    page_size: Option<usize>,
}

impl AzureStorage {
    /// A storage for `config`. Nothing is sent until the first call.
    ///
    /// # Errors
    /// When the client cannot be configured (e.g. an invalid endpoint).
    pub fn new(config: AzureConfig) -> Result<Self> {
        Self::with_idle_timeout(config, crate::config::DEFAULT_IDLE_TIMEOUT)
    }

    /// A storage for `config` that gives up on a server silent for `idle` (`idle_timeout`):
    /// each read waits that long at most, each request (one block) takes that long at most.
    ///
    /// object_store retries each request (one block, never the whole upload) itself, on a
    /// 5xx, 429 or a connection error; it is given the bounds of [`crate::retry::POLICY`]:
    /// at most 4 retries, waits from 0.5 s doubling up to 8 s (object_store draws each wait at
    /// random up to that), and none once the policy's budget (or `idle`, if shorter) has
    /// passed.
    ///
    /// # Errors
    /// As [`AzureStorage::new`].
    pub fn with_idle_timeout(config: AzureConfig, idle: std::time::Duration) -> Result<Self> {
        crate::install_crypto_provider();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the Azure client's runtime")?;
        let options = object_store::ClientOptions::new()
            .with_timeout(idle)
            .with_config(
                object_store::ClientConfigKey::ReadTimeout,
                format!("{}ms", idle.as_millis()),
            );
        let policy = crate::retry::POLICY;
        let retry = object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: policy.first_delay,
                max_backoff: policy.max_delay,
                base: 2.0,
            },
            max_retries: usize::try_from(policy.attempts - 1).unwrap_or(0),
            retry_timeout: idle.min(policy.budget),
        };
        let mut builder = MicrosoftAzureBuilder::new()
            .with_account(&config.account_name)
            .with_container_name(&config.container_name)
            .with_client_options(options)
            .with_retry(retry);
        // Read now: a storage whose keys are file:// or env:// references is built again at
        // every cycle (`cycle::ConfiguredStorage`), so a rotated key is picked up.
        let mut sas = None;
        match Identity::resolve(&config, &|name| std::env::var(name).ok()) {
            Identity::AccountKey => {
                if let Some(key) = &config.account_key {
                    builder = builder
                        .with_access_key(key.read()?.expose())
                        .with_credential_type("access_key");
                }
            }
            Identity::SasToken => {
                sas = config.sas_token.as_ref().map(SecretRef::read).transpose()?;
                if let Some(sas) = &sas {
                    builder = builder
                        .with_config(AzureConfigKey::SasKey, sas.expose())
                        .with_credential_type("sas_token");
                }
            }
            Identity::Workload {
                client_id,
                tenant_id,
                token_file,
                authority_host,
            } => {
                builder = builder
                    .with_client_id(client_id)
                    .with_tenant_id(tenant_id)
                    .with_federated_token_file(token_file)
                    .with_credential_type("workload_identity");
                if let Some(host) = authority_host {
                    builder = builder.with_authority_host(host);
                }
            }
            Identity::ServicePrincipal {
                client_id,
                tenant_id,
                authority_host,
            } => {
                let secret = std::env::var("AZURE_CLIENT_SECRET").unwrap_or_default();
                builder = builder
                    .with_client_id(client_id)
                    .with_tenant_id(tenant_id)
                    .with_client_secret(secret)
                    .with_credential_type("client_secret");
                if let Some(host) = authority_host {
                    builder = builder.with_authority_host(host);
                }
            }
            Identity::ManagedIdentity { client_id } => {
                if let Some(id) = client_id {
                    builder = builder.with_client_id(id);
                }
                builder = builder.with_credential_type("managed_identity");
            }
        }
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint.clone())
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder
            .build()
            .map_err(|e| scrub_sas(e.into(), sas.as_ref()))
            .with_context(|| format!("cannot set up Azure container {}", config.container_name))?;
        Ok(Self {
            keys: ObjectKeys::new(&config.prefix),
            config,
            sas,
            runtime,
            store,
            block_size: DEFAULT_BLOCK_SIZE,
            page_size: None,
        })
    }

    /// Uses blocks of `bytes` (tests use small ones).
    #[must_use]
    pub fn with_block_size(mut self, bytes: usize) -> Self {
        self.block_size = bytes.max(READ_SIZE);
        self
    }

    /// Lists `n` blobs per page.
    #[must_use]
    pub fn with_page_size(mut self, n: usize) -> Self {
        self.page_size = Some(n);
        self
    }

    fn blob(&self, name: &SnapshotName) -> BlobPath {
        BlobPath::from(self.keys.snapshot(name))
    }

    /// `error` from a call that was `doing` something, as one text: its chain, with the SAS
    /// token removed where one is configured (see the module's header), shortened by
    /// [`shorten`] (object_store quotes the service's whole error answer, once per level of
    /// its chain: a hostile endpoint could fill a log with it).
    fn failed(&self, doing: &str, error: object_store::Error) -> anyhow::Error {
        let text = format!(
            "{:#}",
            scrub_sas(anyhow::Error::new(error), self.sas.as_ref())
        );
        anyhow!(shorten(&text)).context(doing.to_string())
    }

    fn url(&self, blob: &BlobPath) -> String {
        format!(
            "azure://{}/{}/{blob}",
            self.config.account_name, self.config.container_name
        )
    }

    /// Uploads `from` as `blob` and checks what landed; on failure, removes what this upload
    /// wrote and nothing else.
    fn put(&self, from: &Path, blob: &BlobPath, stop: &StopFlag) -> Result<()> {
        let mut file = File::open(from)
            .with_context(|| format!("cannot open the staged snapshot {}", from.display()))?;
        let size = file.metadata()?.len();
        if size <= self.block_size as u64 {
            let mut body = Vec::new();
            file.read_to_end(&mut body)?;
            stop.check()?;
            self.runtime
                .block_on(self.store.put(blob, PutPayload::from(body)))
                .map_err(|e| self.failed("Put Blob failed", e))?;
        } else {
            let shown = Progress::start(
                format!("{} to {}", from.display(), self.url(blob)),
                Some(size),
                Show::Log,
            );
            self.put_blocks(&mut Reading::new(file, shown), blob, stop)?;
        }
        let checked = self
            .runtime
            .block_on(self.store.head(blob))
            .map_err(|e| self.failed("Get Blob Properties after the upload failed", e))
            .and_then(|meta| {
                ensure!(
                    meta.size == size,
                    "the blob landed with size {}, expected {size}",
                    meta.size
                );
                Ok(())
            });
        clean_up_on_failure(checked, self.url(blob), || {
            self.runtime
                .block_on(self.store.delete(blob))
                .map_err(|e| self.failed("Delete Blob failed", e))
        })
    }

    /// Put Block for each block, then Put Block List, which makes the blob appear.
    fn put_blocks(&self, file: &mut impl Read, blob: &BlobPath, stop: &StopFlag) -> Result<()> {
        let upload = self
            .runtime
            .block_on(self.store.put_multipart(blob))
            .map_err(|e| self.failed("starting the block upload failed", e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.block_size);
        let mut buffer = vec![0u8; READ_SIZE];
        let sent = (|| -> Result<()> {
            loop {
                stop.check()?;
                let n = file.read(&mut buffer)?;
                if n == 0 {
                    return Ok(());
                }
                // At most one block in flight: memory stays at about two blocks.
                self.runtime
                    .block_on(writer.wait_for_capacity(1))
                    .map_err(|e| self.failed("Put Block failed", e))?;
                // write() spawns the block's upload: it needs the runtime's context,
                // and runs when the next block_on drives the runtime.
                let _context = self.runtime.enter();
                writer.write(&buffer[..n]);
            }
        })();
        if let Err(e) = sent {
            // Nothing was committed yet: cleaning up is aborting the uncommitted blocks.
            let blocks = format!("the uncommitted blocks of {}", self.url(blob));
            return clean_up_on_failure(Err(e), blocks, || {
                self.runtime
                    .block_on(writer.abort())
                    .map_err(|e| self.failed("aborting the block upload failed", e))
            });
        }
        self.runtime
            .block_on(writer.finish())
            .map_err(|e| self.failed("Put Block List failed", e))?;
        Ok(())
    }
}

/// Which credentials an Azure storage uses, in this order:
/// 1. `account_key` (Shared Key), when configured;
/// 2. else `sas_token`, when configured;
/// 3. else workload identity (AKS): `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and
///    `AZURE_FEDERATED_TOKEN_FILE` all set; the token in the file (re-read at each token
///    request) is exchanged at `AZURE_AUTHORITY_HOST` (default `https://login.microsoftonline.com/`)
///    as the client assertion for an Entra ID access token;
/// 4. else a service principal: `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and
///    `AZURE_CLIENT_SECRET` all set, exchanged at the same authority host;
/// 5. else the managed identity of the VM or node (IMDS); a user-assigned one when
///    `AZURE_CLIENT_ID` is set.
///
/// Keys written in the configuration win over the environment, so a config that names a key
/// keeps working when the pod also carries workload identity variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// `account_key`.
    AccountKey,
    /// `sas_token`.
    SasToken,
    /// Workload identity federation with a Kubernetes service account token.
    Workload {
        /// `AZURE_CLIENT_ID`.
        client_id: String,
        /// `AZURE_TENANT_ID`.
        tenant_id: String,
        /// `AZURE_FEDERATED_TOKEN_FILE`.
        token_file: String,
        /// `AZURE_AUTHORITY_HOST`, if set.
        authority_host: Option<String>,
    },
    /// A service principal with `AZURE_CLIENT_SECRET` (read when the client is built).
    ServicePrincipal {
        /// `AZURE_CLIENT_ID`.
        client_id: String,
        /// `AZURE_TENANT_ID`.
        tenant_id: String,
        /// `AZURE_AUTHORITY_HOST`, if set.
        authority_host: Option<String>,
    },
    /// The managed identity (`AZURE_CLIENT_ID` picks a user-assigned one).
    ManagedIdentity {
        /// `AZURE_CLIENT_ID`, if set.
        client_id: Option<String>,
    },
}

impl Identity {
    /// The identity for `config`, with the environment read through `env`.
    #[must_use]
    pub fn resolve(config: &AzureConfig, env: &dyn Fn(&str) -> Option<String>) -> Self {
        if config.account_key.is_some() {
            return Self::AccountKey;
        }
        if config.sas_token.is_some() {
            return Self::SasToken;
        }
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let client_id = var("AZURE_CLIENT_ID");
        let tenant_id = var("AZURE_TENANT_ID");
        let authority_host = var("AZURE_AUTHORITY_HOST");
        match (client_id, tenant_id) {
            (Some(client_id), Some(tenant_id)) => {
                if let Some(token_file) = var("AZURE_FEDERATED_TOKEN_FILE") {
                    Self::Workload {
                        client_id,
                        tenant_id,
                        token_file,
                        authority_host,
                    }
                } else if var("AZURE_CLIENT_SECRET").is_some() {
                    Self::ServicePrincipal {
                        client_id,
                        tenant_id,
                        authority_host,
                    }
                } else {
                    Self::ManagedIdentity {
                        client_id: Some(client_id),
                    }
                }
            }
            (client_id, _) => Self::ManagedIdentity { client_id },
        }
    }

    /// What `check` prints: where the credentials come from, never a secret.
    #[must_use]
    pub fn describe(&self, config: &AzureConfig) -> String {
        let host = |h: &Option<String>| {
            h.as_deref()
                .unwrap_or("https://login.microsoftonline.com/ (default)")
                .to_string()
        };
        match self {
            Self::AccountKey => config.account_key.as_ref().map_or_else(
                || "account key".into(),
                |k| format!("account key (account_key {k})"),
            ),
            Self::SasToken => config.sas_token.as_ref().map_or_else(
                || "SAS token".into(),
                |t| format!("SAS token (sas_token {t})"),
            ),
            Self::Workload {
                client_id,
                tenant_id,
                token_file,
                authority_host,
            } => format!(
                "workload identity (federated token file {token_file}, client id {client_id}, tenant {tenant_id}, authority {})",
                host(authority_host)
            ),
            Self::ServicePrincipal {
                client_id,
                tenant_id,
                authority_host,
            } => format!(
                "service principal (client secret from AZURE_CLIENT_SECRET, client id {client_id}, tenant {tenant_id}, authority {})",
                host(authority_host)
            ),
            Self::ManagedIdentity { client_id: None } => {
                "managed identity (system-assigned, from the instance metadata service)".into()
            }
            Self::ManagedIdentity {
                client_id: Some(id),
            } => format!(
                "managed identity (user-assigned, client id {id}, from the instance metadata service)"
            ),
        }
    }
}

/// Where `config`'s credentials come from, as `check` prints it (the process environment).
#[must_use]
pub fn credential_source(config: &AzureConfig) -> String {
    Identity::resolve(config, &|name| std::env::var(name).ok()).describe(config)
}

/// object_store's text of an Azure error, shortened: what comes before the service's XML
/// answer (the request and its status; at most 400 characters, keeping its start and its
/// end, where the status is), then the answer's code and message (escaped, at most 300
/// characters, as for S3 and STS). A text without an XML answer keeps its start and its end,
/// 600 characters in all.
fn shorten(text: &str) -> String {
    match text.find("<?xml").or_else(|| text.find("<Error>")) {
        Some(at) => format!(
            "{}{}",
            crate::text::cut_middle(&text[..at], 400),
            crate::aws::error_summary(&text[at..])
        ),
        None => crate::text::cut_middle(text, 600).into_owned(),
    }
}

/// Removes the SAS token from the text of `error`'s whole chain, when there is one.
///
/// The result is flat text, without a source chain, because `object_store` can quote the
/// request URL, and a SAS token is that URL's query string (its `sig=` value is the
/// credential). Without a SAS token the error is unchanged.
fn scrub_sas(error: anyhow::Error, sas: Option<&Secret>) -> anyhow::Error {
    let Some(sas) = sas.filter(|s| !s.is_empty()) else {
        return error;
    };
    let mut text = format!("{error:#}");
    let token = sas.expose().trim_start_matches('?');
    let mut secrets = vec![token.to_string()];
    secrets.extend(
        token
            .split('&')
            .filter_map(|pair| pair.strip_prefix("sig="))
            .filter(|sig| !sig.is_empty())
            .map(str::to_string),
    );
    for secret in secrets {
        text = text.replace(&secret, "<redacted>");
    }
    anyhow!(text)
}

impl Storage for AzureStorage {
    fn kind(&self) -> &'static str {
        "azure"
    }

    /// Nothing to abort: an upload cut off leaves uncommitted blocks, which no listing shows
    /// as a blob and which Azure garbage-collects 7 days after the last block was staged.
    fn abort_stale_uploads(
        &self,
        _older_than: std::time::Duration,
        _stop: &StopFlag,
    ) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn location(&self) -> String {
        format!(
            "azure://{}/{}/{}",
            self.config.account_name,
            self.config.container_name,
            self.keys.list_prefix()
        )
    }

    fn upload(&self, from: &Path, name: &SnapshotName, stop: &StopFlag) -> Result<String> {
        let blob = self.blob(name);
        self.put(from, &blob, stop)
            .with_context(|| format!("uploading {}", self.url(&blob)))?;
        Ok(self.url(&blob))
    }

    fn list(&self) -> Result<Vec<SnapshotEntry>> {
        let prefix = self.keys.list_prefix();
        let mut entries = Vec::new();
        let mut page_token = None;
        loop {
            let options = PaginatedListOptions {
                max_keys: self.page_size,
                page_token: page_token.take(),
                ..PaginatedListOptions::default()
            };
            let page = self
                .runtime
                .block_on(self.store.list_paginated(Some(&prefix), options))
                .map_err(|e| self.failed("List Blobs failed", e))
                .with_context(|| format!("listing {}", self.location()))?;
            for meta in page.result.objects {
                if let Some(name) = self.keys.parse(meta.location.as_ref()) {
                    entries.push(SnapshotEntry::file(name, meta.size));
                }
            }
            match page.page_token {
                Some(token) if !token.is_empty() => page_token = Some(token),
                _ => return Ok(entries),
            }
        }
    }

    fn download(&self, name: &SnapshotName, to: &Path) -> Result<()> {
        let blob = self.blob(name);
        let context = || format!("downloading {}", self.url(&blob));
        let size = self
            .runtime
            .block_on(self.store.head(&blob))
            .map_err(|e| self.failed("Get Blob Properties failed", e))
            .with_context(context)?
            .size;
        let shown = Progress::start(
            format!("{} to {}", self.url(&blob), to.display()),
            Some(size),
            Show::BarOnTerminal,
        );
        let mut file = Writing::new(File::create(to)?, shown);
        let mut start = 0;
        while start < size {
            let end = (start + self.block_size as u64).min(size);
            let bytes = self
                .runtime
                .block_on(self.store.get_range(&blob, start..end))
                .map_err(|e| self.failed("Get Blob failed", e))
                .with_context(context)?;
            file.write_all(&bytes)?;
            start = end;
        }
        Ok(())
    }

    fn delete(&self, name: &SnapshotName) -> Result<()> {
        let blob = self.blob(name);
        match self.runtime.block_on(self.store.delete(&blob)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.failed("Delete Blob failed", e))
                .with_context(|| format!("deleting {}", self.url(&blob))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Identity, scrub_sas, shorten};
    use crate::config::AzureConfig;
    use crate::secret::{Secret, SecretRef};

    #[test]
    fn an_error_keeps_its_request_its_status_and_the_answers_code_and_message() {
        let answer = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code>\
             <Message>Server failed to authenticate\n{}</Message></Error>",
            "x".repeat(5000)
        );
        let text = format!(
            "Generic MicrosoftAzure error: Error performing list request: Error performing GET \
             https://acct.blob.core.windows.net/c?restype=container&comp=list&prefix={} in 3ms - \
             Server returned non-2xx status code: 403 Forbidden: {answer}: {answer}",
            "p".repeat(300)
        );
        let short = shorten(&text);
        assert!(
            short.starts_with("Generic MicrosoftAzure error: "),
            "{short}"
        );
        assert!(
            short.contains("403 Forbidden: AuthenticationFailed: Server failed to authenticate\\n"),
            "{short}"
        );
        assert!(short.chars().count() <= 400 + 300 + 20, "{}", short.len());
        let plain = format!("connection refused {}", "z".repeat(5000));
        assert_eq!(shorten(&plain).chars().count(), 600);
        assert_eq!(shorten("short"), "short");
    }

    fn config(key: bool, sas: bool) -> AzureConfig {
        AzureConfig {
            account_name: "a".into(),
            account_key: key.then(|| SecretRef::value("account_key", Secret::new("k"))),
            container_name: "c".into(),
            prefix: String::new(),
            endpoint: None,
            sas_token: sas.then(|| SecretRef::value("sas_token", Secret::new("sv=1&sig=s"))),
        }
    }

    #[test]
    fn the_config_wins_then_workload_identity_then_a_service_principal_then_managed_identity() {
        let all = |name: &str| match name {
            "AZURE_CLIENT_ID" => Some("id".to_string()),
            "AZURE_TENANT_ID" => Some("t".to_string()),
            "AZURE_FEDERATED_TOKEN_FILE" => Some("/f".to_string()),
            "AZURE_CLIENT_SECRET" => Some("s".to_string()),
            _ => None,
        };
        assert_eq!(
            Identity::resolve(&config(true, true), &all),
            Identity::AccountKey
        );
        assert_eq!(
            Identity::resolve(&config(false, true), &all),
            Identity::SasToken
        );
        assert!(matches!(
            Identity::resolve(&config(false, false), &all),
            Identity::Workload { ref token_file, authority_host: None, .. } if token_file == "/f"
        ));
        let no_file = |name: &str| all(name).filter(|_| name != "AZURE_FEDERATED_TOKEN_FILE");
        let principal = Identity::resolve(&config(false, false), &no_file);
        assert!(matches!(principal, Identity::ServicePrincipal { .. }));
        let described = principal.describe(&config(false, false));
        assert!(described.contains("AZURE_CLIENT_SECRET") && !described.contains(" s,"));
        let id_only = |name: &str| (name == "AZURE_CLIENT_ID").then(|| "id".to_string());
        assert_eq!(
            Identity::resolve(&config(false, false), &id_only),
            Identity::ManagedIdentity {
                client_id: Some("id".into())
            }
        );
        assert_eq!(
            Identity::resolve(&config(false, false), &|_| None),
            Identity::ManagedIdentity { client_id: None }
        );
    }

    #[test]
    fn a_sas_token_and_its_signature_are_scrubbed_from_the_whole_chain() {
        let sas = Secret::new("?sv=2024-01-01&sp=rwdl&sig=c2lnbmF0dXJl%3D");
        let inner = anyhow::anyhow!("GET https://a.blob/c?comp=list&sig=c2lnbmF0dXJl%3D failed");
        let error = inner.context("List Blobs failed");
        let text = format!("{:#}", scrub_sas(error, Some(&sas)));
        assert!(!text.contains("c2lnbmF0dXJl"), "{text}");
        assert!(
            text.contains("List Blobs failed: GET https://a.blob/c"),
            "{text}"
        );

        let plain = anyhow::anyhow!("no SAS here").context("outer");
        let kept = scrub_sas(plain, None);
        assert_eq!(
            kept.chain().count(),
            2,
            "without a SAS token the chain is kept"
        );
    }
}
