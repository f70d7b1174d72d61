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
use crate::config::{Config, ConfigError, select_storage};
use crate::cycle::ConfiguredStorage;
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

/// The storages a `--storage` argument selects (all of them without one).
///
/// # Errors
/// A usage error when the name matches no storage.
pub fn chosen<'a>(
    config: &Config,
    storages: &'a [ConfiguredStorage],
    wanted: Option<&str>,
) -> Result<Vec<&'a ConfiguredStorage>, ConfigError> {
    match wanted {
        None => Ok(storages.iter().collect()),
        Some(name) => Ok(vec![&storages[select_storage(&config.storages, name)?]]),
    }
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

/// The stored copies of the snapshot `wanted` means, in config order (see [`list_all`]).
pub(super) fn locate<'a>(
    storages: &[&'a ConfiguredStorage],
    wanted: Wanted,
) -> Result<Vec<Listed<'a>>> {
    let (listed, failed) = list_all(storages);
    for (storage, e) in &failed {
        warn!("listing storage {storage} failed, looking in the others: {e}");
    }
    let name = match wanted {
        Wanted::Named(name) => name,
        Wanted::Latest => match listed.first() {
            Some(newest) => newest.entry.name,
            None if failed.len() == storages.len() => {
                bail!("no storage could be listed; no snapshot was fetched")
            }
            None => bail!("no snapshot is stored in {}", names(storages)),
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
            let failed: Vec<&str> = failed.iter().map(|(s, _)| s.as_str()).collect();
            format!(" (could not list {})", failed.join(", "))
        };
        bail!(
            "snapshot {name} is not stored in {}{unlisted}",
            names(storages)
        );
    }
    Ok(copies)
}

fn names(storages: &[&ConfiguredStorage]) -> String {
    storages
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Downloads the first copy that verifies into a new temporary file in `dir`. `check` reads
/// the downloaded file (verify or inspect). A copy that fails is logged and the next tried.
pub(super) fn fetch_verified<T>(
    copies: &[Listed<'_>],
    dir: &Path,
    prefix: &str,
    check: impl Fn(&Path) -> Result<T>,
) -> Result<(NamedTempFile, T, String)> {
    let mut errors = Vec::new();
    for copy in copies {
        let name = copy.entry.name;
        let from = format!(
            "{} ({} {})",
            copy.storage.name,
            copy.storage.storage.kind(),
            copy.storage.storage.location()
        );
        let staged = tempfile::Builder::new()
            .prefix(prefix)
            .suffix(".tmp")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        info!("Fetching {name} from {from}");
        let attempt = copy
            .storage
            .storage
            .download(&name, staged.path())
            .and_then(|()| {
                check(staged.path())
                    .with_context(|| format!("{name} from {from} failed verification"))
            });
        match attempt {
            Ok(checked) => return Ok((staged, checked, from)),
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
