//! Where snapshots are kept. Every storage implements [`Storage`]; nothing outside this module
//! knows what kind of storage it talks to, and retention is decided once, in
//! [`crate::retention`], never by a storage.

pub mod azure;
pub mod gcs;
pub mod local;
pub mod s3;

use std::io::{self, Read};
use std::path::Path;

use anyhow::Result;

use crate::config::{StorageConfig, StorageKind};
use crate::retention::SnapshotEntry;
use crate::snapshot_name::SnapshotName;

/// A place snapshots are stored.
///
/// Implementations only ever list, fetch or delete names that [`SnapshotName`] produced;
/// any other object beside them is invisible to them.
pub trait Storage {
    /// The kind, as the log lines name it: `local`, `aws`, `gcp`, `azure`.
    fn kind(&self) -> &'static str;

    /// A credential-free description of the location, e.g. `/var/backups/vault`.
    fn location(&self) -> String;

    /// Stores the file at `from` under `name`, opening its own reader of it. Returns where
    /// it landed. After `Ok`, [`Storage::list`] shows `name` with the file's size; after an
    /// error, nothing that lists as a snapshot is left behind.
    ///
    /// `from` is a finished file that nobody writes again (the cycle closes its only write
    /// handle and makes it read-only before any upload), so a storage on the same filesystem
    /// may link it instead of copying it.
    ///
    /// # Errors
    /// When the file cannot be read or the storage refuses or loses the write.
    fn upload(&self, from: &Path, name: &SnapshotName) -> Result<String>;

    /// Every snapshot held, in no particular order. Other objects are skipped.
    ///
    /// # Errors
    /// When the location cannot be listed.
    fn list(&self) -> Result<Vec<SnapshotEntry>>;

    /// Copies the named snapshot into the file `to`.
    ///
    /// # Errors
    /// When the snapshot does not exist or cannot be read or written.
    fn download(&self, name: &SnapshotName, to: &Path) -> Result<()>;

    /// Deletes the named snapshot. A name that is already gone is not an error.
    ///
    /// # Errors
    /// When the storage refuses the deletion.
    fn delete(&self, name: &SnapshotName) -> Result<()>;
}

/// Builds the storage a config section describes. Nothing is sent until it is used.
///
/// # Errors
/// When a client cannot be set up (e.g. Azure's runtime).
pub fn build(config: &StorageConfig) -> Result<Box<dyn Storage>> {
    Ok(match &config.kind {
        StorageKind::Local { path } => Box::new(local::LocalStorage::new(path.clone())),
        StorageKind::S3(s3) => Box::new(s3::S3Storage::new(s3.clone())),
        StorageKind::Gcs(gcs) => Box::new(gcs::GcsStorage::new(gcs.clone())),
        StorageKind::Azure(azure) => Box::new(azure::AzureStorage::new(azure.clone())?),
    })
}

/// Reads until `buffer` is full or the reader ends; returns the bytes read. The cloud
/// storages send the staged file in parts of a fixed size with it.
///
/// # Errors
/// The reader's errors.
pub(crate) fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
