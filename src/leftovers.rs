//! Temporary files a killed agent left behind (`kill -9`, the OOM killer, a power cut), removed
//! when the next agent starts.
//!
//! Only our own are touched, recognised by name, and only those no live writer holds. Every
//! writer holds an exclusive `flock` on its temporary file for as long as the file is its
//! (from its creation until it is renamed into place or removed); the lock dies with the
//! process, however it dies. So a file of ours whose lock can be taken is a dead writer's,
//! and one whose lock is held is a live one's and is kept, whatever PID its name carries.
//! The PID alone cannot tell: in a container the agent is PID 1 at every start, so a file a
//! killed PID 1 left looks like the running agent's own, and an agent in another PID namespace
//! sharing the directory has PIDs that mean nothing here.
//!
//! The PID in the name is still a guard for the one moment a live writer's file is not
//! locked yet (between its creation and its `flock`): a file whose lock is free is removed
//! when its PID is this process's (this process takes the locks before it looks), or runs no
//! more, or the file was not modified for [`UNLOCKED_GRACE`] (the PID was reused by some other
//! process). A file that cannot be opened to test its lock falls back to the PID alone.
//!
//! | where | name |
//! |---|---|
//! | `temp_dir` | `.vault-raft-snapshot-<pid>-<random>.tmp` (the download being verified) |
//! | a local storage | `.raft_snapshot-<ns>.snap.tmp-<pid>` (a copy not yet renamed) |
//! | `metrics_file`'s directory | `.vault-raft-snapshot-metrics-<pid>-<random>` |

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use log::{info, warn};

/// The prefix of a staging file in `temp_dir`, before the PID.
pub const STAGING_PREFIX: &str = ".vault-raft-snapshot-";
/// The prefix of a metrics file being written, before the PID.
pub const METRICS_PREFIX: &str = ".vault-raft-snapshot-metrics-";

/// The staging file prefix of this process: `.vault-raft-snapshot-<pid>-`.
#[must_use]
pub fn staging_prefix() -> String {
    format!("{STAGING_PREFIX}{}-", std::process::id())
}

/// The metrics temporary file prefix of this process.
#[must_use]
pub fn metrics_prefix() -> String {
    format!("{METRICS_PREFIX}{}-", std::process::id())
}

/// The PID in one of our temporary file names, or `None` for any other name.
#[must_use]
pub fn owner(name: &str) -> Option<u32> {
    let digits = |text: &str| -> Option<u32> {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    if let Some(rest) = name.strip_prefix(METRICS_PREFIX) {
        return digits(rest.split_once('-')?.0);
    }
    if let Some(rest) = name.strip_prefix(STAGING_PREFIX) {
        let (pid, random) = rest.split_once('-')?;
        return random.ends_with(".tmp").then(|| digits(pid)).flatten();
    }
    // `.raft_snapshot-<ns>.snap.tmp-<pid>`
    let rest = name.strip_prefix(".raft_snapshot-")?;
    let (snapshot, pid) = rest.rsplit_once(".snap.tmp-")?;
    let nanoseconds = !snapshot.is_empty() && snapshot.bytes().all(|b| b.is_ascii_digit());
    nanoseconds.then(|| digits(pid)).flatten()
}

/// True if a process with this PID runs (or exists but is not ours to signal).
fn running(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Removes this process's own temporary files from `dirs` (for a process about to exit in
/// the middle of a cycle); returns what it removed.
pub fn remove_own(dirs: &[&Path]) -> Vec<PathBuf> {
    remove_where(
        dirs,
        |pid, _| (pid == std::process::id()).then_some(None),
        false,
    )
}

/// How long an unlocked file of ours whose PID runs is left alone: a live writer locks its
/// file right after creating it, so an unlocked file this old is not a live writer's (its PID
/// was reused by another process).
pub const UNLOCKED_GRACE: Duration = Duration::from_secs(60);

/// Takes the exclusive lock on `file` without waiting: `Ok(true)` when taken (held until
/// every handle of this open file is closed), `Ok(false)` when another open file holds it.
///
/// # Errors
/// When the lock cannot be tested (a filesystem without `flock`).
pub fn try_lock(file: &File) -> io::Result<bool> {
    // SAFETY: flock on a descriptor `file` owns; the lock goes when it is closed.
    let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if result == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
        return Ok(false);
    }
    Err(error)
}

/// Marks `file`, a temporary file this process just created, as a live writer's: its lock
/// is held until the handle is closed. A lock already held (a hard link of a file this
/// process holds) is fine; a filesystem without locks only loses this protection, so that is
/// logged, not an error.
pub fn lock_new(file: &File, path: &Path) {
    if let Err(e) = try_lock(file) {
        log::debug!("cannot lock {}: {e}", path.display());
    }
}

/// A read-only handle that holds the lock of a temporary file after its writer closed its
/// own handle (the staged snapshot while it is uploaded), so another agent starting meanwhile
/// keeps it. Dropping it releases the lock.
#[derive(Debug)]
pub struct Held {
    _file: File,
}

/// Opens `path` and takes its lock.
///
/// # Errors
/// When `path` cannot be opened, or its lock is held already.
pub fn hold(path: &Path) -> Result<Held> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    match try_lock(&file) {
        Ok(true) => Ok(Held { _file: file }),
        Ok(false) => anyhow::bail!("{} is locked by another process", path.display()),
        Err(e) => {
            log::debug!("cannot lock {}: {e}", path.display());
            Ok(Held { _file: file })
        }
    }
}

/// Removes our temporary files that no live writer holds from `dirs`; returns what it
/// removed. A directory that cannot be read is skipped (the cycle will say what is wrong with
/// it); a file that cannot be removed is a warning.
pub fn remove(dirs: &[&Path]) -> Vec<PathBuf> {
    remove_where(
        dirs,
        |pid, path| abandoned(pid, path, SystemTime::now()),
        true,
    )
}

/// Whether our temporary file at `path`, named with `pid`, was left by a writer that is gone;
/// when it was, returns the open handle whose lock is taken (held until the file is removed).
fn abandoned(pid: u32, path: &Path, now: SystemTime) -> Option<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let own = pid == std::process::id();
    // Never follows a link, never waits on a FIFO put in place of the file meanwhile.
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let Ok(file) = opened else {
        // Its lock cannot be tested: the PID alone says.
        return (!own && !running(pid)).then_some(None);
    };
    match try_lock(&file) {
        Ok(true) => {}
        // A live writer holds it, whatever its PID (this process's own, in a container).
        Ok(false) => return None,
        Err(_) => return (!own && !running(pid)).then_some(None),
    }
    let stale = || {
        file.metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age >= UNLOCKED_GRACE)
    };
    (own || !running(pid) || stale()).then_some(Some(file))
}

/// Removes our temporary files for which `doomed` (given the PID in the name and the path)
/// returns `Some` (holding, if it wants, a handle kept open until the file is gone); with
/// `report`, each removal is logged as a killed agent's.
fn remove_where(
    dirs: &[&Path],
    doomed: impl Fn(u32, &Path) -> Option<Option<File>>,
    report: bool,
) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(owner) else {
                continue;
            };
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let path = entry.path();
            let Some(_held) = doomed(pid, &path) else {
                continue;
            };
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    if report {
                        info!(
                            "Removed {}, left by an agent (PID {pid}) that was killed",
                            path.display()
                        );
                    }
                    removed.push(path);
                }
                Err(e) => warn!("cannot remove the temporary file {}: {e}", path.display()),
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_our_names() {
        assert_eq!(owner(".vault-raft-snapshot-4242-a1B2c3.tmp"), Some(4242));
        assert_eq!(owner(".vault-raft-snapshot-metrics-77-XyZ"), Some(77));
        assert_eq!(
            owner(".raft_snapshot-1700000000000000000.snap.tmp-9"),
            Some(9)
        );
        for foreign in [
            "raft_snapshot-1700000000000000000.snap",
            ".vault-raft-snapshot-probe-abc",
            ".vault-raft-snapshot-4242-a1B2c3",
            ".vault-raft-snapshot-x-a.tmp",
            ".raft_snapshot-12.snap.tmp-",
            ".raft_snapshot-x.snap.tmp-9",
            "notes.txt",
            ".vault-raft-snapshot--a.tmp",
        ] {
            assert_eq!(owner(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn removes_the_files_of_dead_agents_only() {
        let dir = tempfile::tempdir().unwrap();
        // A PID that ran and is gone: a child that has exited and been waited for.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let alive = std::process::id();
        let names = [
            format!(".vault-raft-snapshot-{gone}-abc.tmp"),
            format!(".raft_snapshot-1700000000000000000.snap.tmp-{gone}"),
            format!(".vault-raft-snapshot-metrics-{gone}-xyz"),
            format!(".vault-raft-snapshot-{alive}-abc.tmp"),
            "raft_snapshot-1700000000000000000.snap".to_string(),
            "notes.txt".to_string(),
        ];
        for name in &names {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        // This process's own file is a live one: it holds its lock.
        let live = File::open(dir.path().join(&names[3])).unwrap();
        assert!(try_lock(&live).unwrap());
        let removed = remove(&[dir.path(), Path::new("/nonexistent")]);
        assert_eq!(removed.len(), 3, "{removed:?}");
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [names[3].clone(), names[5].clone(), names[4].clone()]);
    }

    #[test]
    fn the_lock_tells_a_live_writer_from_a_dead_one_whatever_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let own = std::process::id();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        // PID 1 always runs, and is not this process: a PID reused by another process.
        let names = [
            // A killed agent that had this process's PID (PID 1 in a container): removed.
            format!(".vault-raft-snapshot-{own}-dead.tmp"),
            // A live writer with a PID that does not run here (another PID namespace): kept.
            format!(".vault-raft-snapshot-{gone}-live.tmp"),
            // This process's own live file: kept.
            format!(".vault-raft-snapshot-{own}-live.tmp"),
            // Unlocked, its PID reused by another process, untouched for long: removed.
            ".vault-raft-snapshot-1-old.tmp".to_string(),
            // Unlocked, its PID running, just created (a writer about to lock it): kept.
            ".vault-raft-snapshot-1-new.tmp".to_string(),
        ];
        for name in &names {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let held: Vec<File> = [&names[1], &names[2]]
            .iter()
            .map(|name| {
                let file = File::open(dir.path().join(name)).unwrap();
                assert!(try_lock(&file).unwrap());
                file
            })
            .collect();
        File::options()
            .write(true)
            .open(dir.path().join(&names[3]))
            .unwrap()
            .set_modified(SystemTime::now() - UNLOCKED_GRACE * 2)
            .unwrap();
        let mut removed: Vec<String> = remove(&[dir.path()])
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        removed.sort();
        let mut expected = vec![names[0].clone(), names[3].clone()];
        expected.sort();
        assert_eq!(removed, expected);
        drop(held);
        // Their writers gone, the next start removes them too (the fresh one's PID still runs).
        let mut removed = remove(&[dir.path()]);
        removed.sort();
        let mut expected = [dir.path().join(&names[1]), dir.path().join(&names[2])];
        expected.sort();
        assert_eq!(removed, expected);
    }

    #[test]
    fn a_held_file_is_kept_and_released_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!(
            ".vault-raft-snapshot-{}-held.tmp",
            std::process::id()
        ));
        std::fs::write(&path, b"x").unwrap();
        let held = hold(&path).unwrap();
        assert!(hold(&path).is_err(), "taken twice");
        assert!(remove(&[dir.path()]).is_empty());
        drop(held);
        assert_eq!(remove(&[dir.path()]), [path]);
    }
}
