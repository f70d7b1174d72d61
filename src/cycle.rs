//! One snapshot cycle, as `once` runs it and `run` repeats it:
//! leader check → token → verified download to a temporary file → store in every storage →
//! prune each storage that stored this snapshot → remove the temporary file.
//!
//! Nothing is stored unless the whole snapshot verified, and nothing is pruned in a storage
//! unless this cycle's snapshot landed there, so a bad snapshot can never push a good one out.

use std::fs::File;
use std::time::{Duration, Instant, SystemTime};

use std::path::Path;

use anyhow::{Context, Result};
use log::{debug, error, info};
use tempfile::NamedTempFile;

use crate::archive::verify::SnapshotSummary;
use crate::config::{Config, StorageConfig};
use crate::retention::RetentionPolicy;
use crate::shutdown::{INTERRUPTED, StopFlag};
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
    /// The storages that failed, as `kind location` (their errors were logged already).
    #[must_use]
    pub fn failed_storages(&self) -> Vec<String> {
        self.storages
            .iter()
            .filter(|s| s.error.is_some())
            .map(|s| format!("{} {}", s.kind, s.location))
            .collect()
    }

    /// One line for the end of a cycle in which a storage failed, or `None` when none did.
    /// It names the storages, not their errors, which were each logged once as they happened.
    #[must_use]
    pub fn failure_summary(&self) -> Option<String> {
        let failed = self.failed_storages();
        (!failed.is_empty()).then(|| {
            format!(
                "snapshot {} was not stored or pruned in {} of {} storage(s): {}",
                self.name,
                failed.len(),
                self.storages.len(),
                failed.join(", ")
            )
        })
    }
}

/// What happened in one storage.
#[derive(Debug)]
pub struct StorageResult {
    /// The storage's name, as `list` shows it ([`ConfiguredStorage::name`]).
    pub name: String,
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
    /// How long it took here: the storage's rebuild, the upload with its check, and the
    /// pruning (as far as it got).
    pub duration: Duration,
}

/// A storage with the retention that applies to it.
pub struct ConfiguredStorage {
    /// Its name (`name`, else kind and position: `local-0`).
    pub name: String,
    /// The storage.
    pub storage: Box<dyn Storage>,
    /// Its `retain`, or the top-level one.
    pub policy: RetentionPolicy,
    /// Its config, when its credentials are `file://` or `env://` references: the storage is
    /// built again from it at every cycle, so a rotated Kubernetes Secret is picked up.
    pub rebuild_from: Option<StorageConfig>,
    /// `idle_timeout`, for a rebuild.
    pub idle_timeout: std::time::Duration,
}

impl ConfiguredStorage {
    /// Builds the storage again when its credentials are read at every use.
    ///
    /// # Errors
    /// When a credential cannot be read now (the message names the key and the reference).
    pub fn refresh(&mut self) -> Result<()> {
        if let Some(config) = &self.rebuild_from {
            self.storage = storage::build(config, self.idle_timeout)?;
        }
        Ok(())
    }
}

/// Everything a cycle needs, built once from the config.
pub struct Agent {
    config: Config,
    client: VaultClient,
    auth: Authenticator,
    storages: Vec<ConfiguredStorage>,
    /// Whether the last cycle found this agent the one to act, once it knew.
    observed_leader: Option<bool>,
}

impl Agent {
    /// The agent, from what the session opened. Sends nothing to Vault or to any storage.
    #[must_use]
    pub fn from_parts(
        config: Config,
        client: VaultClient,
        auth: Authenticator,
        storages: Vec<ConfiguredStorage>,
    ) -> Self {
        Self {
            config,
            client,
            auth,
            storages,
            observed_leader: None,
        }
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
    pub fn cycle(&mut self, stop: &StopFlag) -> Result<CycleOutcome> {
        self.observed_leader = None;
        let status = if self.client.nodes().is_empty() {
            leader::fetch(&self.client)?
        } else {
            // Asked at every cycle: after a leader change the next cycle follows the new one.
            let (node, status) = leader::find_active(&self.client)?;
            if node != self.client.addr() {
                info!("Talking to {node}, the active node of those addr lists");
                self.client.use_node(&node);
            }
            status
        };
        let role = self.role(&status)?;
        self.observed_leader = Some(matches!(role, Role::Act(_)));
        let Role::Act(reason) = role else {
            info!("{NOT_LEADER_MESSAGE}");
            return Ok(CycleOutcome::NotLeader);
        };
        debug!("taking a snapshot: {reason}");
        stop.check()?;

        let name = SnapshotName::at(SystemTime::now());
        // `_held` keeps the staged file locked until it is removed, after the uploads.
        let (mut staged, _held) = self.stage_file()?;
        let staged_path = staged.path().to_path_buf();
        // The error leads with its cause (a refused login, a missing secret file, Vault's
        // 500); the staging file is named only when writing it failed (a full disk).
        let summary = self
            .download(
                &status.leader_address,
                staged.as_file_mut(),
                &staged_path,
                stop,
            )
            .map_err(|e| name_the_staging_file(e, &staged_path))?;
        // From here the staged snapshot is read-only: its only write handle is closed (the
        // path is still removed on drop), so a storage may link it instead of copying it.
        let staged = staged.into_temp_path();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o400))
                .with_context(|| format!("cannot make {} read-only", staged.display()))?;
        }
        info!(
            snapshot:% = name;
            "Verified snapshot {name}: Raft index {}, term {}, {} bytes ({} bytes of state)",
            summary.index, summary.term, summary.archive_size, summary.state_size
        );
        let storages =
            store_everywhere(&mut self.storages, &staged, &name, SystemTime::now(), stop);
        // `staged` is removed here, and on every early return above.
        Ok(CycleOutcome::Taken(CycleReport {
            name,
            summary,
            storages,
        }))
    }

    /// Whether the last cycle found this agent the one to act (the leader), or `None` when
    /// it failed before it could tell (Vault unreachable or sealed).
    #[must_use]
    pub fn observed_leader(&self) -> Option<bool> {
        self.observed_leader
    }

    /// The Vault client.
    #[must_use]
    pub fn client(&self) -> &VaultClient {
        &self.client
    }

    /// A valid token, logging in or renewing as needed.
    ///
    /// # Errors
    /// When the token cannot be read or the login fails.
    pub fn token(&mut self) -> Result<crate::secret::Secret> {
        self.auth.token(&self.client)
    }

    /// Whether this agent acts, given Vault's leader status and the `leader_check`.
    ///
    /// # Errors
    /// When the check needs a known leader and there is none.
    pub fn role(&self, status: &leader::LeaderStatus) -> Result<Role> {
        // With a list of nodes, `auto` trusts `is_self` of the node found active.
        let check = match self.config.leader_check {
            crate::config::LeaderCheck::Auto if !self.client.nodes().is_empty() => {
                crate::config::LeaderCheck::IsSelf
            }
            check => check,
        };
        leader::decide(status, check, || {
            let own_ips = leader::own_addresses();
            let addr_host = leader::url_host(self.client.addr()).unwrap_or_default();
            let addr_is_local = leader::is_local_host(&addr_host, &own_ips);
            let leader_ips = if addr_is_local {
                Vec::new()
            } else {
                leader::url_host(&status.leader_address)
                    .map(|host| leader::resolve(&host))
                    .unwrap_or_default()
            };
            leader::Whereabouts {
                addr_is_local,
                leader_ips,
                own_ips,
            }
        })
    }

    /// The staging file, and a handle that holds its lock for as long as it is kept (the
    /// file's own write handle is closed before the uploads): a file of ours whose lock is
    /// free is a killed agent's, whatever PID its name carries (see [`crate::leftovers`]).
    fn stage_file(&self) -> Result<(NamedTempFile, crate::leftovers::Held)> {
        // Named with our PID, so the next agent can tell a leftover of a killed one.
        let prefix = crate::leftovers::staging_prefix();
        let dir = &self.config.temp_dir;
        let file = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        let held = crate::leftovers::hold(file.path())?;
        Ok((file, held))
    }

    /// Downloads with the current token; on a 403, logs in again once and retries.
    fn download(
        &mut self,
        leader_address: &str,
        file: &mut File,
        staged: &Path,
        stop: &StopFlag,
    ) -> Result<SnapshotSummary> {
        let token = self.auth.token(&self.client)?;
        let first = snapshot::download(
            &self.client,
            &token,
            leader_address,
            (&mut *file, staged),
            stop,
        );
        let forbidden = first
            .as_ref()
            .err()
            .and_then(|e| e.downcast_ref::<VaultError>())
            .is_some_and(|e| e.status == 403);
        if !forbidden {
            return first;
        }
        info!("Vault refused the token (403); authenticating again and retrying once");
        self.auth.invalidate(&self.client);
        let token = self.auth.token(&self.client)?;
        file.set_len(0)?;
        std::io::Seek::rewind(file)?;
        snapshot::download(&self.client, &token, leader_address, (file, staged), stop)
    }
}

/// A download error as it is reported: when the temporary file could not be written (the
/// staging directory full, read-only or gone), the file's path follows the cause.
fn name_the_staging_file(error: anyhow::Error, staged: &Path) -> anyhow::Error {
    let local = error
        .chain()
        .any(|e| e.to_string().contains("the temporary file failed"));
    if local {
        anyhow::anyhow!("{error:#} (the temporary file {})", staged.display())
    } else {
        error
    }
}

/// The token the agent logged in for ends with it: at the end of `once` (also after a failed
/// cycle or a signal) and when `run` exits. A token it was given is not touched.
impl Drop for Agent {
    fn drop(&mut self) {
        self.auth.revoke(&self.client);
    }
}

/// Offers the verified snapshot at `staged` to every storage, in order, and prunes each
/// storage that stored it (and only those: a storage that did not get this snapshot keeps
/// every snapshot it has). One storage failing does not stop the others. Each failure is
/// logged here, once, and recorded in its [`StorageResult`].
pub fn store_everywhere(
    storages: &mut [ConfiguredStorage],
    staged: &Path,
    name: &SnapshotName,
    now: SystemTime,
    stop: &StopFlag,
) -> Vec<StorageResult> {
    storages
        .iter_mut()
        .map(|configured| {
            let started = Instant::now();
            let mut result = store_refreshed(configured, staged, name, now, stop);
            result.duration = started.elapsed();
            result
        })
        .collect()
}

/// Builds the storage again if its credentials are read at every use, then
/// [`store_in`] it.
fn store_refreshed(
    configured: &mut ConfiguredStorage,
    staged: &Path,
    name: &SnapshotName,
    now: SystemTime,
    stop: &StopFlag,
) -> StorageResult {
    if let Err(e) = configured.refresh() {
        let (kind, location) = (configured.storage.kind(), configured.storage.location());
        let message = format!("storing the snapshot in {kind} {location} failed: {e:#}");
        error!(snapshot:% = name, storage = configured.name.as_str(); "{message}");
        return StorageResult {
            name: configured.name.clone(),
            kind,
            location,
            stored: false,
            held: None,
            error: Some(message),
            duration: Duration::ZERO,
        };
    }
    store_in(configured, staged, name, now, stop)
}

/// Stores the snapshot in one storage and, if it landed, prunes that storage.
fn store_in(
    ConfiguredStorage {
        storage,
        policy,
        name: storage_name,
        ..
    }: &ConfiguredStorage,
    staged: &Path,
    name: &SnapshotName,
    now: SystemTime,
    stop: &StopFlag,
) -> StorageResult {
    let mut result = StorageResult {
        name: storage_name.clone(),
        kind: storage.kind(),
        location: storage.location(),
        stored: false,
        held: None,
        error: None,
        duration: Duration::ZERO,
    };
    let storage_name = storage_name.as_str();
    // A stop is an operator's request, not a storage's failure: a warning, not an ERROR.
    let fail = |result: &mut StorageResult, message: String| {
        if stop.requested() && message.contains(INTERRUPTED) {
            log::warn!(snapshot:% = name, storage = storage_name; "{message}");
        } else {
            error!(snapshot:% = name, storage = storage_name; "{message}");
        }
        result.error = Some(message);
    };
    if stop.requested() {
        let message = format!(
            "{} {}: not stored, {INTERRUPTED}",
            result.kind, result.location
        );
        fail(&mut result, message);
        return result;
    }
    match storage.upload(staged, name, stop) {
        Ok(landed) => {
            info!(
                snapshot:% = name, storage = storage_name;
                "Successfully created {} snapshot to {landed}", result.kind
            );
            result.stored = true;
        }
        Err(e) => {
            let message = format!(
                "storing the snapshot in {} {} failed: {e:#}",
                result.kind, result.location
            );
            fail(&mut result, message);
            return result;
        }
    }
    match crate::prune::prune(storage_name, storage.as_ref(), *policy, now, false) {
        Ok(decisions) => {
            let held = decisions
                .iter()
                .filter(|d| d.keep && d.not_a_snapshot().is_none());
            result.held = Some(held.count() as u64);
        }
        Err(e) => fail(&mut result, format!("{e:#}")),
    }
    result
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::storage::memory::MemoryStorage;

    fn name(seconds: u64) -> SnapshotName {
        SnapshotName::at(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds))
    }

    fn configured(storage: &MemoryStorage, retain: u64) -> ConfiguredStorage {
        ConfiguredStorage {
            name: storage.location(),
            storage: Box::new(storage.clone()),
            policy: RetentionPolicy::keep_last(retain),
            rebuild_from: None,
            idle_timeout: std::time::Duration::from_secs(300),
        }
    }

    struct Staged {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
    }

    /// Bytes at least as long as the smallest snapshot, so retention counts them.
    const OLD: &[u8] = b"an old snapshot, long enough to count";
    const NEW: &[u8] = b"a new snapshot, long enough to count";

    fn staged(bytes: &[u8]) -> Staged {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staged");
        std::fs::write(&path, bytes).unwrap();
        Staged { _dir: dir, path }
    }

    #[test]
    fn every_storage_gets_the_snapshot_and_is_pruned_to_its_own_retain() {
        let (a, b) = (MemoryStorage::new("a"), MemoryStorage::new("b"));
        for n in 1..=3 {
            a.insert(name(n), OLD);
            b.insert(name(n), OLD);
        }
        let file = staged(NEW);
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let results = store_everywhere(
            &mut [configured(&a, 2), configured(&b, 0)],
            &file.path,
            &name(10),
            now,
            &StopFlag::never(),
        );
        assert!(results.iter().all(|r| r.stored && r.error.is_none()));
        assert_eq!(a.names(), [name(3), name(10)]);
        assert_eq!(a.get(&name(10)).unwrap(), NEW);
        assert_eq!(b.names().len(), 4, "retain 0 keeps all");
        assert_eq!((results[0].held, results[1].held), (Some(2), Some(4)));
    }

    #[test]
    fn a_storage_that_refused_the_snapshot_is_not_pruned_and_the_others_go_on() {
        let (refusing, fine) = (MemoryStorage::new("refusing"), MemoryStorage::new("fine"));
        refusing.insert(name(1), OLD);
        refusing.insert(name(2), OLD);
        refusing.fail_uploads(true);
        let file = staged(NEW);
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let results = store_everywhere(
            &mut [configured(&refusing, 1), configured(&fine, 1)],
            &file.path,
            &name(10),
            now,
            &StopFlag::never(),
        );
        assert!(!results[0].stored && results[0].error.is_some());
        assert!(
            refusing.deleted().is_empty(),
            "pruned after a failed upload"
        );
        assert_eq!(refusing.names(), [name(1), name(2)]);
        assert!(results[1].stored);
        assert_eq!(fine.names(), [name(10)]);

        let report = CycleReport {
            name: name(10),
            summary: crate::archive::verify::SnapshotSummary::default(),
            storages: results,
        };
        let summary = report.failure_summary().unwrap();
        assert!(
            summary.contains("1 of 2") && summary.contains("memory memory://refusing"),
            "{summary}"
        );
        assert!(
            !summary.contains("refused the upload"),
            "the error is not repeated: {summary}"
        );
    }

    #[test]
    fn a_failed_prune_is_reported_but_the_snapshot_counts_as_stored() {
        let storage = MemoryStorage::new("m");
        storage.insert(name(1), OLD);
        storage.fail_delete_of(name(1));
        let file = staged(NEW);
        let results = store_everywhere(
            &mut [configured(&storage, 1)],
            &file.path,
            &name(10),
            UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            &StopFlag::never(),
        );
        assert!(results[0].stored);
        assert!(
            results[0]
                .error
                .as_deref()
                .unwrap()
                .contains("could not be deleted")
        );
        assert_eq!(storage.names(), [name(1), name(10)]);
    }

    /// A memory storage whose upload and listing each take `delay`.
    struct Slow(MemoryStorage, Duration);

    impl Storage for Slow {
        fn kind(&self) -> &'static str {
            self.0.kind()
        }
        fn location(&self) -> String {
            self.0.location()
        }
        fn upload(&self, from: &Path, name: &SnapshotName, stop: &StopFlag) -> Result<String> {
            std::thread::sleep(self.1);
            self.0.upload(from, name, stop)
        }
        fn list(&self) -> Result<Vec<crate::snapshot_name::SnapshotEntry>> {
            std::thread::sleep(self.1);
            self.0.list()
        }
        fn download(&self, name: &SnapshotName, to: &Path) -> Result<()> {
            self.0.download(name, to)
        }
        fn delete(&self, name: &SnapshotName) -> Result<()> {
            self.0.delete(name)
        }
    }

    #[test]
    fn each_storage_is_timed_from_its_upload_to_the_end_of_its_pruning() {
        let (slow, fast) = (MemoryStorage::new("slow"), MemoryStorage::new("fast"));
        let delay = Duration::from_millis(150);
        let mut storages = [
            ConfiguredStorage {
                storage: Box::new(Slow(slow.clone(), delay)),
                ..configured(&slow, 1)
            },
            configured(&fast, 1),
        ];
        let file = staged(NEW);
        let results = store_everywhere(
            &mut storages,
            &file.path,
            &name(10),
            SystemTime::now(),
            &StopFlag::never(),
        );
        assert!(results.iter().all(|r| r.stored && r.error.is_none()));
        // Upload and listing for the pruning: both are in it.
        assert!(
            results[0].duration >= 2 * delay,
            "{:?}",
            results[0].duration
        );
        assert!(results[1].duration < delay, "{:?}", results[1].duration);
        assert!(results[1].duration > Duration::ZERO);
    }

    #[test]
    fn after_a_stop_request_no_storage_is_written() {
        let storage = MemoryStorage::new("m");
        let stop = StopFlag::never();
        stop.raise();
        let file = staged(NEW);
        let results = store_everywhere(
            &mut [configured(&storage, 0)],
            &file.path,
            &name(10),
            SystemTime::now(),
            &stop,
        );
        assert!(!results[0].stored);
        assert!(storage.names().is_empty());
    }
}
