//! A storage in memory, for tests of what sits above the [`Storage`] trait (the cycle's
//! fan-out, pruning, the commands) without servers or files: rustic's `InMemoryBackend`.
//!
//! It keeps the contract every real storage keeps, and the storage conformance suite
//! (`tests/support/conformance.rs`) checks it like the others: objects are keys in a bucket
//! (`<prefix>/<snapshot name>`, [`ObjectKeys`]), so foreign objects can sit beside ours and are
//! never listed or deleted; a failed upload leaves nothing and removes nothing. It can be told
//! to fail: every upload, or the deletion of one name. Clones share the same objects, so a test
//! keeps one handle to look inside while the code under test owns another; [`MemoryStorage::under`]
//! is another storage on the same bucket.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, Result, bail};

use super::Storage;
use super::keys::ObjectKeys;
use crate::shutdown::StopFlag;
use crate::snapshot_name::{SnapshotEntry, SnapshotName};

/// Snapshots held in memory.
#[derive(Clone)]
pub struct MemoryStorage {
    label: String,
    keys: ObjectKeys,
    state: Arc<Mutex<State>>,
}

impl Default for MemoryStorage {
    fn default() -> Self {
        Self::new("")
    }
}

/// The bucket: every object by its full key, and the faults asked for.
#[derive(Default)]
struct State {
    objects: BTreeMap<String, Vec<u8>>,
    fail_uploads: bool,
    fail_deletes: BTreeSet<String>,
    deleted: Vec<String>,
}

impl MemoryStorage {
    /// An empty storage with no prefix; `label` is its location in messages.
    #[must_use]
    pub fn new(label: &str) -> Self {
        Self {
            label: label.to_string(),
            keys: ObjectKeys::new(""),
            state: Arc::default(),
        }
    }

    /// A storage on the same objects (and faults) whose snapshots are under `prefix`, as a
    /// second storage configured on the same bucket.
    #[must_use]
    pub fn under(&self, prefix: &str) -> Self {
        Self {
            label: self.label.clone(),
            keys: ObjectKeys::new(prefix),
            state: Arc::clone(&self.state),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed already; its data is fine.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Puts `bytes` under `name` directly, as if an earlier run had stored it.
    pub fn insert(&self, name: SnapshotName, bytes: &[u8]) {
        self.insert_raw(&self.keys.snapshot(&name), bytes);
    }

    /// Puts `bytes` at `key` (a full key, not under the prefix), as another program would.
    pub fn insert_raw(&self, key: &str, bytes: &[u8]) {
        self.state().objects.insert(key.to_string(), bytes.to_vec());
    }

    /// Whether an object is at `key` (a full key).
    #[must_use]
    pub fn contains_raw(&self, key: &str) -> bool {
        self.state().objects.contains_key(key)
    }

    /// The bytes stored under `name`.
    #[must_use]
    pub fn get(&self, name: &SnapshotName) -> Option<Vec<u8>> {
        self.state().objects.get(&self.keys.snapshot(name)).cloned()
    }

    /// The names held, oldest first.
    #[must_use]
    pub fn names(&self) -> Vec<SnapshotName> {
        let mut names: Vec<SnapshotName> = self
            .state()
            .objects
            .keys()
            .filter_map(|key| self.keys.parse(key))
            .collect();
        names.sort();
        names
    }

    /// The names deleted so far, in order.
    #[must_use]
    pub fn deleted(&self) -> Vec<SnapshotName> {
        self.state()
            .deleted
            .iter()
            .filter_map(|key| self.keys.parse(key))
            .collect()
    }

    /// From now on, every upload fails (as a storage that refuses writes), after the staged
    /// file was read: as a write that fails part of the way.
    pub fn fail_uploads(&self, fail: bool) {
        self.state().fail_uploads = fail;
    }

    /// From now on, deleting `name` fails.
    pub fn fail_delete_of(&self, name: SnapshotName) {
        let key = self.keys.snapshot(&name);
        self.state().fail_deletes.insert(key);
    }
}

impl Storage for MemoryStorage {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn location(&self) -> String {
        match self.keys.prefix() {
            "" => format!("memory://{}", self.label),
            prefix => format!("memory://{}/{prefix}", self.label),
        }
    }

    fn upload(&self, from: &Path, name: &SnapshotName, stop: &StopFlag) -> Result<String> {
        stop.check()?;
        let bytes = std::fs::read(from)
            .with_context(|| format!("cannot read the staged snapshot {}", from.display()))?;
        let mut state = self.state();
        if state.fail_uploads {
            bail!("{}: the storage refused the upload", self.location());
        }
        state.objects.insert(self.keys.snapshot(name), bytes);
        Ok(format!("{}/{name}", self.location()))
    }

    fn list(&self) -> Result<Vec<SnapshotEntry>> {
        Ok(self
            .state()
            .objects
            .iter()
            .filter_map(|(key, bytes)| {
                Some(SnapshotEntry::file(
                    self.keys.parse(key)?,
                    bytes.len() as u64,
                ))
            })
            .collect())
    }

    fn download(&self, name: &SnapshotName, to: &Path) -> Result<()> {
        let bytes = self
            .get(name)
            .with_context(|| format!("{} holds no {name}", self.location()))?;
        std::fs::write(to, bytes).with_context(|| format!("cannot write {}", to.display()))
    }

    fn delete(&self, name: &SnapshotName) -> Result<()> {
        let key = self.keys.snapshot(name);
        let mut state = self.state();
        if state.fail_deletes.contains(&key) {
            bail!("deleting {name} from {} failed", self.location());
        }
        if state.objects.remove(&key).is_some() {
            state.deleted.push(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: u128) -> SnapshotName {
        SnapshotName::parse(&format!("raft_snapshot-{n}.snap")).unwrap()
    }

    #[test]
    fn keeps_the_storage_contract() {
        let dir = tempfile::tempdir().unwrap();
        let staged = dir.path().join("staged");
        std::fs::write(&staged, b"abc").unwrap();
        let storage = MemoryStorage::new("t");
        let view = storage.clone();
        storage.insert(name(1), b"old");

        storage.fail_uploads(true);
        assert!(
            storage
                .upload(&staged, &name(1), &StopFlag::never())
                .is_err()
        );
        assert_eq!(
            view.get(&name(1)).unwrap(),
            b"old",
            "a failed upload removed nothing"
        );

        storage.fail_uploads(false);
        storage
            .upload(&staged, &name(2), &StopFlag::never())
            .unwrap();
        let stop = StopFlag::never();
        stop.raise();
        assert!(storage.upload(&staged, &name(3), &stop).is_err());
        assert_eq!(view.names(), [name(1), name(2)]);

        storage.delete(&name(1)).unwrap();
        storage.delete(&name(1)).unwrap();
        assert_eq!(view.deleted(), [name(1)]);
        let back = dir.path().join("back");
        storage.download(&name(2), &back).unwrap();
        assert_eq!(std::fs::read(back).unwrap(), b"abc");
    }
}
