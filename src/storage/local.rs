//! A local directory. A snapshot is written to a hidden temporary name in the same
//! directory, synced, then renamed into place, and the directory is synced, so a crash or a
//! full disk never leaves a partial file under a snapshot name. Files are 0600.
//!
//! When the staged download is on the same filesystem, it is hard-linked to the temporary
//! name instead of copied: the bytes are written once, and the sync finds most of them on
//! disk already (the download starts write-back as it goes). Across filesystems it is copied.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use log::debug;

use super::{Storage, clean_up_on_failure};
use crate::progress::{Progress, Reading, Show};
use crate::shutdown::StopFlag;
use crate::snapshot_name::{ObjectKind, SnapshotEntry, SnapshotName};

/// Snapshots in one directory.
pub struct LocalStorage {
    dir: PathBuf,
}

impl LocalStorage {
    /// A storage writing into `dir`, which must exist.
    #[must_use]
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn write_then_rename(&self, from: &Path, temp: &Path, target: &Path) -> Result<()> {
        let source = File::open(from)
            .with_context(|| format!("cannot open the staged snapshot {}", from.display()))?;
        let expected = source.metadata()?.len();
        let out = match fs::hard_link(from, temp) {
            Ok(()) => {
                // A link shares the staged file's mode (0400 from the cycle): make it 0600.
                fs::set_permissions(temp, fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("cannot make {} private", temp.display()))?;
                let out =
                    File::open(temp).with_context(|| format!("cannot open {}", temp.display()))?;
                // The link shares the staged file's lock when the cycle holds it; else this
                // handle holds it until the rename.
                crate::leftovers::lock_new(&out, temp);
                out
            }
            Err(e) => {
                debug!(
                    "cannot link {} into {} ({e}); copying",
                    from.display(),
                    self.dir.display()
                );
                let mut out = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(temp)
                    .with_context(|| format!("cannot create {}", temp.display()))?;
                // Held until renamed: a live copy, whatever PID its name carries.
                crate::leftovers::lock_new(&out, temp);
                let shown = Progress::start(
                    format!("{} to {}", from.display(), temp.display()),
                    Some(expected),
                    Show::Log,
                );
                let mut counted =
                    io::BufReader::with_capacity(1 << 20, Reading::new(source, shown));
                io::copy(&mut counted, &mut out)
                    .with_context(|| format!("writing {} failed", temp.display()))?;
                out
            }
        };
        out.sync_all()
            .with_context(|| format!("syncing {} to disk failed", temp.display()))?;
        let landed = out.metadata()?.len();
        ensure!(
            landed == expected,
            "short write to {}: {landed} of {expected} bytes",
            temp.display()
        );
        fs::rename(temp, target).with_context(|| {
            format!("renaming {} to {} failed", temp.display(), target.display())
        })?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing directory {} failed", self.dir.display()))
    }
}

impl Storage for LocalStorage {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn upload(&self, from: &Path, name: &SnapshotName, stop: &StopFlag) -> Result<String> {
        stop.check()?;
        let target = self.dir.join(name.to_string());
        let temp = self.dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let written = self.write_then_rename(from, &temp, &target);
        clean_up_on_failure(written, temp.display(), || match fs::remove_file(&temp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        })?;
        Ok(target.display().to_string())
    }

    fn list(&self) -> Result<Vec<SnapshotEntry>> {
        let entries = fs::read_dir(&self.dir)
            .with_context(|| format!("cannot list directory {}", self.dir.display()))?;
        let mut snapshots = Vec::new();
        for entry in entries {
            let entry =
                entry.with_context(|| format!("cannot list directory {}", self.dir.display()))?;
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str().and_then(SnapshotName::parse) else {
                debug!(
                    "ignoring {:?} in {}: not a snapshot name",
                    file_name,
                    self.dir.display()
                );
                continue;
            };
            // Not followed: a symbolic link is listed as one, never as what it points at.
            let meta = entry
                .metadata()
                .with_context(|| format!("cannot stat {}", entry.path().display()))?;
            let file_type = meta.file_type();
            let kind = if file_type.is_file() {
                ObjectKind::File
            } else if file_type.is_dir() {
                ObjectKind::Directory
            } else if file_type.is_symlink() {
                ObjectKind::Symlink
            } else if file_type.is_fifo() {
                ObjectKind::Fifo
            } else {
                ObjectKind::Other
            };
            // Whatever it is, it is listed: what cannot be a snapshot is then never counted,
            // never deleted, and named in a warning (see `SnapshotEntry::standing`).
            snapshots.push(SnapshotEntry {
                name,
                size: meta.len(),
                kind,
            });
        }
        Ok(snapshots)
    }

    fn download(&self, name: &SnapshotName, to: &Path) -> Result<()> {
        let source = self.dir.join(name.to_string());
        let copy = || -> io::Result<u64> {
            let from = File::open(&source)?;
            let shown = Progress::start(
                format!("{} to {}", source.display(), to.display()),
                Some(from.metadata()?.len()),
                Show::BarOnTerminal,
            );
            let mut counted = io::BufReader::with_capacity(1 << 20, Reading::new(from, shown));
            io::copy(&mut counted, &mut File::create(to)?)
        };
        copy()
            .with_context(|| format!("copying {} to {} failed", source.display(), to.display()))?;
        Ok(())
    }

    fn delete(&self, name: &SnapshotName) -> Result<()> {
        let path = self.dir.join(name.to_string());
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot delete {}", path.display()))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: u128) -> SnapshotName {
        SnapshotName::parse(&format!("raft_snapshot-{n}.snap")).unwrap()
    }

    fn staged(dir: &Path, bytes: &[u8]) -> PathBuf {
        let path = dir.join("staged");
        fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn upload_lists_with_exact_size_private_mode_and_no_temp_left() {
        let work = tempfile::tempdir().unwrap();
        let target = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(target.path().to_path_buf());
        let from = staged(work.path(), b"snapshot bytes");
        let landed = storage.upload(&from, &name(5), &StopFlag::never()).unwrap();
        assert_eq!(
            landed,
            target
                .path()
                .join("raft_snapshot-5.snap")
                .display()
                .to_string()
        );
        assert_eq!(storage.list().unwrap(), [SnapshotEntry::file(name(5), 14)]);
        let mode = fs::metadata(&landed).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "snapshot must not be readable by others: {mode:o}"
        );
        assert_eq!(fs::read_dir(target.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_copy_across_filesystems_is_private_too() {
        // /dev/shm is another filesystem than the temp dir on most machines; where it is not,
        // this exercises the link path a second time.
        let Ok(work) = tempfile::tempdir_in("/dev/shm") else {
            return;
        };
        let target = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(target.path().to_path_buf());
        let landed = storage
            .upload(
                &staged(work.path(), b"across"),
                &name(9),
                &StopFlag::never(),
            )
            .unwrap();
        assert_eq!(fs::read(&landed).unwrap(), b"across");
        assert_eq!(
            fs::metadata(&landed).unwrap().permissions().mode() & 0o077,
            0
        );
    }

    #[test]
    fn the_staged_file_can_go_once_the_snapshot_is_stored() {
        let target = tempfile::tempdir().unwrap();
        let work = tempfile::tempdir_in(target.path()).unwrap();
        let from = staged(work.path(), b"linked");
        let storage = LocalStorage::new(target.path().to_path_buf());
        let landed = storage.upload(&from, &name(3), &StopFlag::never()).unwrap();
        fs::remove_file(&from).unwrap();
        assert_eq!(fs::read(&landed).unwrap(), b"linked");
    }

    #[test]
    fn a_failed_upload_leaves_nothing() {
        let target = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(target.path().to_path_buf());
        assert!(
            storage
                .upload(
                    Path::new("/nonexistent/staged"),
                    &name(1),
                    &StopFlag::never()
                )
                .is_err()
        );
        assert_eq!(fs::read_dir(target.path()).unwrap().count(), 0);
    }

    #[test]
    fn list_ignores_foreign_files_and_directories() {
        let target = tempfile::tempdir().unwrap();
        for foreign in [
            "notes.txt",
            "raft_snapshot-01.snap",
            ".raft_snapshot-3.snap.tmp-9",
        ] {
            fs::write(target.path().join(foreign), b"x").unwrap();
        }
        fs::write(target.path().join("raft_snapshot-8.snap"), b"ours").unwrap();
        let storage = LocalStorage::new(target.path().to_path_buf());
        assert_eq!(
            storage.list().unwrap(),
            [SnapshotEntry {
                name: name(8),
                size: 4,
                kind: ObjectKind::File,
            }]
        );
    }

    #[test]
    fn list_reports_what_is_not_a_regular_file_under_a_snapshot_name() {
        let target = tempfile::tempdir().unwrap();
        let dir = target.path();
        fs::create_dir(dir.join("raft_snapshot-7.snap")).unwrap();
        fs::write(dir.join("elsewhere"), vec![1u8; 4096]).unwrap();
        std::os::unix::fs::symlink(dir.join("elsewhere"), dir.join("raft_snapshot-6.snap"))
            .unwrap();
        let fifo = std::ffi::CString::new(
            dir.join("raft_snapshot-5.snap")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let storage = LocalStorage::new(dir.to_path_buf());
        let mut listed: Vec<(SnapshotName, ObjectKind)> = storage
            .list()
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect();
        listed.sort_by_key(|(n, _)| *n);
        assert_eq!(
            listed,
            [
                (name(5), ObjectKind::Fifo),
                (name(6), ObjectKind::Symlink),
                (name(7), ObjectKind::Directory),
            ]
        );
    }

    #[test]
    fn download_round_trips_and_delete_is_idempotent() {
        let work = tempfile::tempdir().unwrap();
        let target = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(target.path().to_path_buf());
        storage
            .upload(&staged(work.path(), b"abc"), &name(2), &StopFlag::never())
            .unwrap();
        let back = work.path().join("back");
        storage.download(&name(2), &back).unwrap();
        assert_eq!(fs::read(&back).unwrap(), b"abc");
        storage.delete(&name(2)).unwrap();
        storage.delete(&name(2)).unwrap();
        assert!(storage.list().unwrap().is_empty());
    }
}
