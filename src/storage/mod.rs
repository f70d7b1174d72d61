//! Where snapshots are kept. Every storage implements [`Storage`]; nothing outside this module
//! knows what kind of storage it talks to, and retention is decided once, in
//! [`crate::retention`], never by a storage.
//!
//! What every storage shares lives here once: object keys under a prefix ([`keys`]), reading
//! the staged file in parts ([`read_full`]), and undoing what a failed upload wrote
//! ([`clean_up_on_failure`]). `memory::MemoryStorage` (built for tests only, `test-support`) implements the trait in memory, for
//! fast tests of the cycle, fan-out and pruning without servers.

#[cfg(feature = "azure")]
pub mod azure;
#[cfg(feature = "gcs")]
pub mod gcs;
pub mod keys;
pub mod local;
#[cfg(any(test, feature = "test-support"))]
pub mod memory;
#[cfg(feature = "s3")]
pub mod s3;

use std::fmt::Display;
#[cfg(any(feature = "s3", feature = "gcs"))]
use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use log::error;

use crate::config::{StorageConfig, StorageKind};
use crate::shutdown::StopFlag;
use crate::snapshot_name::{SnapshotEntry, SnapshotName};

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
    /// it landed. After `Ok`, [`Storage::list`] shows `name` with the file's size, replacing
    /// any earlier object of that name. After an error, this upload left nothing behind (no
    /// object, no orphaned parts), and nothing it did not write was removed: an object that
    /// was there before stays as it was.
    ///
    /// `from` is a finished file that nobody writes again (the cycle closes its only write
    /// handle and makes it read-only before any upload), so a storage on the same filesystem
    /// may link it instead of copying it. `stop` is checked between parts: a raised flag
    /// ends the upload with an error, and cleans up like any other failure.
    ///
    /// # Errors
    /// When the file cannot be read, the storage refuses or loses the write, what landed
    /// does not match the file (size, and the checksum where the storage reports one), or
    /// `stop` was raised.
    fn upload(&self, from: &Path, name: &SnapshotName, stop: &StopFlag) -> Result<String>;

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

    /// Aborts what uploads of this storage's own snapshot names left unfinished more than
    /// `older_than` ago (an agent killed in the middle of one), and returns a line for each,
    /// saying what it aborted. `once` and `run` call it after their first cycle; its failure is
    /// a warning, never a failed cycle. Only S3 has anything to do (incomplete multipart
    /// uploads are billed forever); the default does nothing.
    ///
    /// # Errors
    /// When the unfinished uploads cannot be listed or aborted.
    fn abort_stale_uploads(&self, older_than: Duration, stop: &StopFlag) -> Result<Vec<String>> {
        let _ = (older_than, stop);
        Ok(Vec::new())
    }
}

/// Builds the storage a config section describes, giving up on a server silent for `idle`
/// (`idle_timeout`). Nothing is sent until it is used.
///
/// # Errors
/// When a client cannot be set up (e.g. Azure's runtime).
pub fn build(config: &StorageConfig, idle: std::time::Duration) -> Result<Box<dyn Storage>> {
    // Local storage has no peer to wait for.
    #[cfg(not(any(feature = "s3", feature = "gcs", feature = "azure")))]
    let _ = idle;
    Ok(match &config.kind {
        StorageKind::Local { path } => Box::new(local::LocalStorage::new(path.clone())),
        #[cfg(feature = "s3")]
        StorageKind::S3(s3) => Box::new(s3::S3Storage::new(s3.clone()).with_request_timeout(idle)),
        #[cfg(feature = "gcs")]
        StorageKind::Gcs(gcs) => Box::new(gcs::GcsStorage::with_idle_timeout(gcs.clone(), idle)),
        #[cfg(feature = "azure")]
        StorageKind::Azure(azure) => {
            Box::new(azure::AzureStorage::with_idle_timeout(azure.clone(), idle)?)
        }
        // The config refuses these sections in a build without them; this is the backstop.
        #[cfg(not(all(feature = "s3", feature = "gcs", feature = "azure")))]
        #[allow(unreachable_patterns)]
        _ => {
            anyhow::bail!("this vault-raft-snapshot was built without this storage's Cargo feature")
        }
    })
}

/// Undoes what a failed upload wrote: when `attempt` failed, runs `clean_up` (abort a
/// multipart upload, delete the object this upload created), then returns the original
/// error. A cleanup that fails too is logged with `what` it was meant to remove, never
/// dropped: it may have left an object or parts behind that an operator should know about.
///
/// Call it only around steps whose failure leaves something this upload wrote. A step that
/// failed before writing anything needs no cleanup, and must get none: deleting "the object
/// under this name" then could remove one that was there before.
///
/// # Errors
/// `attempt`'s error, unchanged.
pub(crate) fn clean_up_on_failure<T>(
    attempt: Result<T>,
    what: impl Display,
    clean_up: impl FnOnce() -> Result<()>,
) -> Result<T> {
    if attempt.is_err() {
        if let Err(e) = clean_up() {
            error!("could not remove {what} after a failed upload; remove it by hand: {e:#}");
        }
    }
    attempt
}

/// Reads until `buffer` is full or the reader ends; returns the bytes read. The cloud
/// storages send the staged file in parts of a fixed size with it.
///
/// # Errors
/// The reader's errors.
#[cfg(any(feature = "s3", feature = "gcs"))]
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
