//! One snapshot cycle, as `once` runs it and `run` repeats it:
//! leader check → token → verified download to a temporary file → store in every storage →
//! prune each storage that stored this snapshot → remove the temporary file.
//!
//! Nothing is stored unless the whole snapshot verified, and nothing is pruned in a storage
//! unless this cycle's snapshot landed there, so a bad snapshot can never push a good one out.

use std::fs::File;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use log::{debug, error, info};
use tempfile::NamedTempFile;

use crate::archive::verify::SnapshotSummary;
use crate::config::Config;
use crate::retention::RetentionPolicy;
use crate::shutdown::Shutdown;
use crate::snapshot_name::SnapshotName;
use crate::storage::{self, Storage};
use crate::vault::auth::Authenticator;
use crate::vault::client::{VaultClient, VaultError};
use crate::vault::leader::{self, Role};
use crate::vault::snapshot;

/// The exact line logged when another node is the leader (the original agent's wording).
pub const NOT_LEADER_MESSAGE: &str = "Not running on leader node, skipping.";

/// How a cycle ended, when it got as far as taking a snapshot.
#[derive(Debug)]
pub enum CycleOutcome {
    /// Another node is the leader; nothing was done.
    NotLeader,
    /// A verified snapshot was taken and offered to every storage.
    Taken(CycleReport),
}

/// What happened to one verified snapshot.
#[derive(Debug)]
pub struct CycleReport {
    /// Its name.
    pub name: SnapshotName,
    /// What it holds.
    pub summary: SnapshotSummary,
    /// One result per storage, in config order.
    pub storages: Vec<StorageResult>,
}

impl CycleReport {
    /// The failures, one line per storage that failed.
    #[must_use]
    pub fn failures(&self) -> Vec<String> {
        self.storages
            .iter()
            .filter_map(|s| s.error.clone())
            .collect()
    }
}

/// What happened in one storage.
#[derive(Debug)]
pub struct StorageResult {
    /// The storage's kind (`local`, ...).
    pub kind: &'static str,
    /// Its credential-free location.
    pub location: String,
    /// Whether the snapshot was stored and checked there.
    pub stored: bool,
    /// Snapshots it holds after pruning, when pruning ran.
    pub held: Option<u64>,
    /// Why storing or pruning failed.
    pub error: Option<String>,
}

/// A storage with the retention that applies to it.
pub struct ConfiguredStorage {
    /// The storage.
    pub storage: Box<dyn Storage>,
    /// Its `retain`, or the top-level one.
    pub policy: RetentionPolicy,
}

/// Everything a cycle needs, built once from the config.
pub struct Agent {
    config: Config,
    client: VaultClient,
    auth: Authenticator,
    storages: Vec<ConfiguredStorage>,
}

impl Agent {
    /// Builds the agent. Sends nothing to Vault or to any storage.
    ///
    /// # Errors
    /// When a storage's client cannot be set up.
    pub fn new(config: Config) -> Result<Self> {
        let client = VaultClient::new(&config.vault);
        let auth = Authenticator::new(config.auth.clone());
        let storages = config
            .storages
            .iter()
            .map(|s| {
                Ok(ConfiguredStorage {
                    storage: storage::build(s)?,
                    policy: RetentionPolicy {
                        retain: s.retain.unwrap_or(config.retain),
                    },
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            config,
            client,
            auth,
            storages,
        })
    }

    /// The validated configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The storages, in config order.
    #[must_use]
    pub fn storages(&self) -> &[ConfiguredStorage] {
        &self.storages
    }

    /// Runs one cycle.
    ///
    /// # Errors
    /// When no verified snapshot could be taken (Vault, auth, verification, signal); then no
    /// storage was touched.
    pub fn cycle(&mut self, shutdown: &Shutdown) -> Result<CycleOutcome> {
        let status = leader::fetch(&self.client)?;
        let role = self.role(&status)?;
        let Role::Act(reason) = role else {
            info!("{NOT_LEADER_MESSAGE}");
            return Ok(CycleOutcome::NotLeader);
        };
        debug!("taking a snapshot: {reason}");
        if shutdown.requested() {
            bail!("interrupted by a shutdown signal");
        }

        let name = SnapshotName::at(SystemTime::now());
        let mut staged = self.stage_file()?;
        let summary = self.download(&status.leader_address, staged.as_file_mut(), shutdown)?;
        // From here the staged snapshot is read-only: its only write handle is closed (the
        // path is still removed on drop), so a storage may link it instead of copying it.
        let staged = staged.into_temp_path();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o400))
                .with_context(|| format!("cannot make {} read-only", staged.display()))?;
        }
        info!(
            "Verified snapshot {name}: Raft index {}, term {}, {} bytes ({} bytes of state)",
            summary.index, summary.term, summary.archive_size, summary.state_size
        );

        let now = SystemTime::now();
        let mut results = Vec::new();
        for ConfiguredStorage { storage, policy } in &self.storages {
            let mut result = StorageResult {
                kind: storage.kind(),
                location: storage.location(),
                stored: false,
                held: None,
                error: None,
            };
            if shutdown.requested() {
                result.error = Some(format!(
                    "{} {}: not stored, interrupted by a shutdown signal",
                    result.kind, result.location
                ));
                results.push(result);
                continue;
            }
            match storage.upload(&staged, &name) {
                Ok(landed) => {
                    info!(
                        "Successfully created {} snapshot to {landed}",
                        storage.kind()
                    );
                    result.stored = true;
                }
                Err(e) => {
                    let message = format!(
                        "storing the snapshot in {} {} failed: {e:#}",
                        result.kind, result.location
                    );
                    error!("{message}");
                    result.error = Some(message);
                    results.push(result);
                    continue;
                }
            }
            match crate::prune::prune(storage.as_ref(), *policy, now, false) {
                Ok(decisions) => {
                    result.held = Some(decisions.iter().filter(|d| d.keep).count() as u64);
                }
                Err(e) => {
                    let message = format!("{e:#}");
                    error!("{message}");
                    result.error = Some(message);
                }
            }
            results.push(result);
        }
        // `staged` is removed here, and on every early return above.
        Ok(CycleOutcome::Taken(CycleReport {
            name,
            summary,
            storages: results,
        }))
    }

    fn role(&self, status: &leader::LeaderStatus) -> Result<Role> {
        if !status.ha_enabled {
            return leader::decide(status, true, &[], &[]);
        }
        let own = leader::own_addresses();
        let addr_host = leader::url_host(self.client.addr()).unwrap_or_default();
        let addr_is_local = leader::is_local_host(&addr_host, &own);
        let leader_ips = if addr_is_local {
            Vec::new()
        } else {
            leader::url_host(&status.leader_address)
                .map(|host| leader::resolve(&host))
                .unwrap_or_default()
        };
        leader::decide(status, addr_is_local, &leader_ips, &own)
    }

    fn stage_file(&self) -> Result<NamedTempFile> {
        let builder = {
            let mut b = tempfile::Builder::new();
            b.prefix(".vault-raft-snapshot-").suffix(".tmp");
            b
        };
        let dir = self
            .config
            .temp_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        builder
            .tempfile_in(&dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))
    }

    /// Downloads with the current token; on a 403, logs in again once and retries.
    fn download(
        &mut self,
        leader_address: &str,
        file: &mut File,
        shutdown: &Shutdown,
    ) -> Result<SnapshotSummary> {
        let token = self.auth.token(&self.client)?;
        let first = snapshot::download(&self.client, &token, leader_address, file, shutdown);
        let forbidden = first
            .as_ref()
            .err()
            .and_then(|e| e.downcast_ref::<VaultError>())
            .is_some_and(|e| e.status == 403);
        if !forbidden {
            return first;
        }
        info!("Vault refused the token (403); authenticating again and retrying once");
        self.auth.invalidate();
        let token = self.auth.token(&self.client)?;
        file.set_len(0)?;
        std::io::Seek::rewind(file)?;
        snapshot::download(&self.client, &token, leader_address, file, shutdown)
    }
}
