//! Temporary files a killed agent left behind (`kill -9`, the OOM killer, a power cut), removed
//! when the next agent starts.
//!
//! Only our own are touched, recognised by name, and only those of a process that no longer
//! runs: every temporary name carries the PID of the agent that made it, so an agent never
//! removes the staging file of another one running beside it (two clusters' agents sharing
//! `/tmp`). A PID reused by another process keeps its file until that process is gone too.
//!
//! | where | name |
//! |---|---|
//! | `temp_dir` | `.vault-raft-snapshot-<pid>-<random>.tmp` (the download being verified) |
//! | a local storage | `.raft_snapshot-<ns>.snap.tmp-<pid>` (a copy not yet renamed) |
//! | `metrics_file`'s directory | `.vault-raft-snapshot-metrics-<pid>-<random>` |

use std::path::{Path, PathBuf};

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
    remove_where(dirs, |pid| pid == std::process::id())
}

/// Removes our temporary files of processes that no longer run from `dirs`; returns what it
/// removed. A directory that cannot be read is skipped (the cycle will say what is wrong with
/// it); a file that cannot be removed is a warning.
pub fn remove(dirs: &[&Path]) -> Vec<PathBuf> {
    remove_where(dirs, |pid| pid != std::process::id() && !running(pid))
}

/// Removes our temporary files whose PID `doomed` picks.
fn remove_where(dirs: &[&Path], doomed: impl Fn(u32) -> bool) -> Vec<PathBuf> {
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
            if !doomed(pid) {
                continue;
            }
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let path = entry.path();
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    if pid != std::process::id() {
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
        let removed = remove(&[dir.path(), Path::new("/nonexistent")]);
        assert_eq!(removed.len(), 3, "{removed:?}");
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [names[3].clone(), names[5].clone(), names[4].clone()]);
    }
}
