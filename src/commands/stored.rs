//! Stored snapshots, as `list`, `fetch` and `restore` find them: which one a name means,
//! where its copies are, and the first copy that verifies.
//!
//! Every command names storages the same way (`local-0`, or the storage's `name`), and
//! checks every snapshot it hands out with the same streaming verifier the cycle uses,
//! reading files rather than holding them in memory. A snapshot is only ever handed on
//! (renamed into place, sent to Vault) after it verified.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::{Context, Result, bail};
use log::{error, info, warn};
use tempfile::NamedTempFile;

use crate::archive::inspect::{Inspection, inspect};
use crate::archive::verify::{SnapshotSummary, verify};
use crate::config::ConfigError;
use crate::cycle::ConfiguredStorage;
use crate::session::Session;
use crate::snapshot_name::{SnapshotEntry, SnapshotName};

/// Which stored snapshot a command means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// The newest in the chosen storages.
    Latest,
    /// This one.
    Named(SnapshotName),
}

impl Wanted {
    /// `latest` or a snapshot name.
    ///
    /// # Errors
    /// A usage error for anything else.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        if text == "latest" {
            return Ok(Wanted::Latest);
        }
        SnapshotName::parse(text).map(Wanted::Named).ok_or_else(|| {
            ConfigError(format!(
                "{text:?} is not a snapshot name (raft_snapshot-<unix nanoseconds>.snap, as \
                 `list` shows them) nor \"latest\""
            ))
        })
    }
}

/// One snapshot in one storage.
pub struct Listed<'a> {
    /// Where it is.
    pub storage: &'a ConfiguredStorage,
    /// Its name and size.
    pub entry: SnapshotEntry,
}

/// Lists every chosen storage: the snapshots, newest first, and the storages that failed.
/// Copies of one snapshot stay in config order (the sort is stable), so the storage an
/// operator lists first is the one fetched from first.
pub(super) fn list_all<'a>(
    storages: &[&'a ConfiguredStorage],
) -> (Vec<Listed<'a>>, Vec<(String, String)>) {
    let mut listed = Vec::new();
    let mut failed = Vec::new();
    for storage in storages {
        match storage.storage.list() {
            Ok(entries) => {
                listed.extend(entries.into_iter().map(|entry| Listed { storage, entry }))
            }
            Err(e) => failed.push((storage.name.clone(), format!("{e:#}"))),
        }
    }
    listed.sort_by_key(|l| std::cmp::Reverse(l.entry.name));
    (listed, failed)
}

/// The stored copies of the snapshot `wanted` means, in config order (see [`list_all`]),
/// looked for in the storages the session opened. A storage that could not be opened or
/// listed is a warning, and the others are searched.
pub(super) fn locate<'a>(session: &'a Session, wanted: Wanted) -> Result<Vec<Listed<'a>>> {
    let storages: Vec<&ConfiguredStorage> = session.storages().iter().collect();
    let (listed, mut failed) = list_all(&storages);
    for (storage, e) in &failed {
        warn!("listing storage {storage} failed, looking in the others: {e}");
    }
    failed.extend(
        session
            .unusable()
            .iter()
            .map(|u| (u.name.clone(), u.error.clone())),
    );
    let name = match wanted {
        Wanted::Named(name) => name,
        Wanted::Latest => match listed.first() {
            Some(newest) => newest.entry.name,
            None if storages
                .iter()
                .all(|s| failed.iter().any(|(f, _)| *f == s.name)) =>
            {
                bail!(
                    "no storage could be listed ({}); no snapshot was fetched",
                    failed_names(&failed)
                )
            }
            None => bail!("no snapshot is stored in {}", names(&storages)),
        },
    };
    let copies: Vec<Listed<'a>> = listed
        .into_iter()
        .filter(|l| l.entry.name == name)
        .collect();
    if copies.is_empty() {
        let unlisted = if failed.is_empty() {
            String::new()
        } else {
            format!(" (could not list {})", failed_names(&failed))
        };
        bail!(
            "snapshot {name} is not stored in {}{unlisted}",
            names(&storages)
        );
    }
    Ok(copies)
}

fn failed_names(failed: &[(String, String)]) -> String {
    failed
        .iter()
        .map(|(s, _)| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn names(storages: &[&ConfiguredStorage]) -> String {
    storages
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Downloads the first copy that verifies into a new temporary file of the session's in
/// `dir`. `check` reads the downloaded file (verify or inspect). A copy that fails is logged
/// and the next tried; a stop request ends the search (the temporary file is removed).
pub(super) fn fetch_verified<T>(
    session: &Session,
    copies: &[Listed<'_>],
    dir: &Path,
    check: impl Fn(&Path) -> Result<T>,
) -> Result<(NamedTempFile, T, String)> {
    let mut errors = Vec::new();
    for copy in copies {
        session.stop().check()?;
        let name = copy.entry.name;
        let from = format!(
            "{} ({} {})",
            copy.storage.name,
            copy.storage.storage.kind(),
            copy.storage.storage.location()
        );
        let staged = session.temp_file_in(dir)?;
        info!("Fetching {name} from {from}");
        let attempt = copy
            .storage
            .storage
            .download(&name, staged.path())
            .and_then(|()| session.stop().check())
            .and_then(|()| {
                check(staged.path())
                    .with_context(|| format!("{name} from {from} failed verification"))
            });
        match attempt {
            Ok(checked) => return Ok((staged, checked, from)),
            Err(e) if session.stop_requested() => return Err(e),
            // Not the copy's fault: every other copy would meet the same full disk.
            Err(e) if local_filesystem_full(&e) => {
                return Err(e.context(format!(
                    "no space left on the filesystem of {} while fetching {name} from {from} \
                     (other copies were not tried)",
                    dir.display()
                )));
            }
            Err(e) => {
                error!("{e:#}");
                errors.push(copy.storage.name.clone());
            }
        }
    }
    bail!(
        "no good copy of {} could be fetched (tried {})",
        copies[0].entry.name,
        errors.join(", ")
    )
}

/// True when `error` is a local filesystem out of space or quota (ENOSPC, EDQUOT), found as
/// an I/O error in the chain or, where a storage kept only the text, its OS error number.
fn local_filesystem_full(error: &anyhow::Error) -> bool {
    let full = [libc::ENOSPC, libc::EDQUOT];
    error.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            .is_some_and(|code| full.contains(&code))
            || full
                .iter()
                .any(|code| e.to_string().contains(&format!("(os error {code})")))
    })
}

pub(super) fn verify_file(path: &Path) -> Result<SnapshotSummary> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    verify(BufReader::with_capacity(256 * 1024, file))
}

pub(super) fn inspect_file(path: &Path, depth: usize) -> Result<Inspection> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    inspect(BufReader::with_capacity(256 * 1024, file), depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_named_latest_or_by_its_exact_name() {
        assert_eq!(Wanted::parse("latest").unwrap(), Wanted::Latest);
        let name = "raft_snapshot-1700000000000000000.snap";
        assert_eq!(
            Wanted::parse(name).unwrap(),
            Wanted::Named(SnapshotName::parse(name).unwrap())
        );
        let error = Wanted::parse("yesterday").unwrap_err().to_string();
        assert!(
            error.contains("\"yesterday\" is not a snapshot name"),
            "{error}"
        );
    }
}
