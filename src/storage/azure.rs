//! Azure Blob Storage, with the `object_store` crate.
//!
//! `object_store` is async; this module keeps one tokio current-thread runtime beside the
//! client and blocks on each call, so the rest of the program stays synchronous and no
//! runtime is ever nested. Uploads stream from the staged file as Put Block / Put Block List
//! with one block of `block_size` in flight (memory is about one block), and are aborted on
//! failure. Afterwards the blob's size must match the staged file, or it is deleted.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow, ensure};
use object_store::azure::{AzureConfigKey, MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::path::Path as BlobPath;
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};

use super::Storage;
use crate::config::AzureConfig;
use crate::retention::SnapshotEntry;
use crate::snapshot_name::SnapshotName;

/// Block size: 8 MiB, with one block in flight.
pub const DEFAULT_BLOCK_SIZE: usize = 8 << 20;
const READ_SIZE: usize = 1 << 20;

/// Snapshots under a prefix in one container.
pub struct AzureStorage {
    config: AzureConfig,
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
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the Azure client's runtime")?;
        let mut builder = MicrosoftAzureBuilder::new()
            .with_account(&config.account_name)
            .with_container_name(&config.container_name);
        if let Some(key) = &config.account_key {
            builder = builder.with_access_key(key.expose());
        }
        if let Some(sas) = &config.sas_token {
            builder = builder.with_config(AzureConfigKey::SasKey, sas.expose());
        }
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint.clone())
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder
            .build()
            .map_err(|e| anyhow!("{e}"))
            .with_context(|| format!("cannot set up Azure container {}", config.container_name))?;
        Ok(Self {
            config,
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

    fn prefix(&self) -> String {
        if self.config.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.config.prefix)
        }
    }

    fn blob(&self, name: &SnapshotName) -> BlobPath {
        BlobPath::from(format!("{}{name}", self.prefix()))
    }

    fn url(&self, blob: &BlobPath) -> String {
        format!(
            "azure://{}/{}/{blob}",
            self.config.account_name, self.config.container_name
        )
    }

    fn put(&self, from: &Path, blob: &BlobPath) -> Result<()> {
        let mut file = File::open(from)
            .with_context(|| format!("cannot open the staged snapshot {}", from.display()))?;
        let size = file.metadata()?.len();
        if size <= self.block_size as u64 {
            let mut body = Vec::new();
            file.read_to_end(&mut body)?;
            self.runtime
                .block_on(self.store.put(blob, PutPayload::from(body)))
                .map_err(|e| anyhow!("Put Blob failed: {e}"))?;
        } else {
            let upload = self
                .runtime
                .block_on(self.store.put_multipart(blob))
                .map_err(|e| anyhow!("starting the block upload failed: {e}"))?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, self.block_size);
            let mut buffer = vec![0u8; READ_SIZE];
            let sent = (|| -> Result<()> {
                loop {
                    ensure!(
                        !crate::shutdown::requested(),
                        "interrupted by a shutdown signal"
                    );
                    let n = file.read(&mut buffer)?;
                    if n == 0 {
                        return Ok(());
                    }
                    // At most one block in flight: memory stays at about two blocks.
                    self.runtime
                        .block_on(writer.wait_for_capacity(1))
                        .map_err(|e| anyhow!("Put Block failed: {e}"))?;
                    // write() spawns the block's upload: it needs the runtime's context,
                    // and runs when the next block_on drives the runtime.
                    let _context = self.runtime.enter();
                    writer.write(&buffer[..n]);
                }
            })();
            match sent {
                Ok(()) => {
                    self.runtime
                        .block_on(writer.finish())
                        .map_err(|e| anyhow!("Put Block List failed: {e}"))?;
                }
                Err(e) => {
                    let _ = self.runtime.block_on(writer.abort());
                    return Err(e);
                }
            }
        }
        let meta = self
            .runtime
            .block_on(self.store.head(blob))
            .map_err(|e| anyhow!("Get Blob Properties after the upload failed: {e}"))?;
        ensure!(
            meta.size == size,
            "the blob landed with size {}, expected {size}",
            meta.size
        );
        Ok(())
    }
}

impl Storage for AzureStorage {
    fn kind(&self) -> &'static str {
        "azure"
    }

    fn location(&self) -> String {
        format!(
            "azure://{}/{}/{}",
            self.config.account_name,
            self.config.container_name,
            self.prefix()
        )
    }

    fn upload(&self, from: &Path, name: &SnapshotName) -> Result<String> {
        let blob = self.blob(name);
        if let Err(e) = self.put(from, &blob) {
            let _ = self.delete(name);
            return Err(e).with_context(|| format!("uploading {}", self.url(&blob)));
        }
        Ok(self.url(&blob))
    }

    fn list(&self) -> Result<Vec<SnapshotEntry>> {
        let prefix = self.prefix();
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
                .map_err(|e| anyhow!("List Blobs failed: {e}"))
                .with_context(|| format!("listing {}", self.location()))?;
            for meta in page.result.objects {
                let name = meta
                    .location
                    .as_ref()
                    .strip_prefix(&prefix)
                    .and_then(SnapshotName::parse);
                if let Some(name) = name {
                    entries.push(SnapshotEntry {
                        name,
                        size: meta.size,
                    });
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
            .map_err(|e| anyhow!("{e}"))
            .with_context(context)?
            .size;
        let mut file = File::create(to)?;
        let mut start = 0;
        while start < size {
            let end = (start + self.block_size as u64).min(size);
            let bytes = self
                .runtime
                .block_on(self.store.get_range(&blob, start..end))
                .map_err(|e| anyhow!("{e}"))
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
            Err(e) => Err(anyhow!("{e}")).with_context(|| format!("deleting {}", self.url(&blob))),
        }
    }
}
