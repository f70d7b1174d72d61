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
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use log::{error, info, warn};
use tempfile::NamedTempFile;

use crate::archive::inspect::{Inspection, inspect};
use crate::archive::verify::{SnapshotSummary, verify};
use crate::config::ConfigError;
use crate::cycle::ConfiguredStorage;
use crate::session::Session;
use crate::snapshot_name::{SnapshotEntry, SnapshotName, Standing, newest, utc_timestamp};

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
                "{text:?} is not a snapshot name (raft_snapshot-<unix nanoseconds>.snap, or one \
                 of other_snapshot_names, as `list` shows them) nor \"latest\""
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

/// Lists every chosen storage: the snapshots (every object named like one, whatever its
/// [`SnapshotEntry::standing`]), highest name first, and the storages that failed.
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
///
/// `latest` is [`newest`]: the highest name that is a snapshot and not dated in the future,
/// the same one retention calls the newest. A copy that is not a snapshot (see
/// [`SnapshotEntry::defect`]) is never handed out.
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
    let now = SystemTime::now();
    let name = match wanted {
        Wanted::Named(name) => name,
        Wanted::Latest => match newest(listed.iter().map(|l| &l.entry), now) {
            Some(newest) => {
                skipped_for_latest(&listed, newest.name, now);
                newest.name
            }
            None if storages
                .iter()
                .all(|s| failed.iter().any(|(f, _)| *f == s.name)) =>
            {
                bail!(
                    "no storage could be listed ({}); no snapshot was fetched",
                    failed_names(&failed)
                )
            }
            None if listed.is_empty() => {
                bail!("no snapshot is stored in {}", names(&storages))
            }
            None => bail!(
                "no snapshot in {} can be \"latest\": {}; name one to fetch it anyway \
                 (`list` shows them)",
                names(&storages),
                never_latest(&listed, now)
            ),
        },
    };
    let (copies, junk): (Vec<Listed<'a>>, Vec<Listed<'a>>) = listed
        .into_iter()
        .filter(|l| l.entry.name == name)
        .partition(|l| l.entry.defect().is_none());
    for j in &junk {
        let why = j.entry.defect().map(|d| d.to_string()).unwrap_or_default();
        warn!(
            "{name} in storage {} is not a snapshot ({why}); not fetched from there",
            j.storage.name
        );
    }
    if copies.is_empty() && !junk.is_empty() {
        bail!(
            "{name} is not a snapshot in {} ({}); no snapshot was fetched",
            junk.iter()
                .map(|j| j.storage.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            junk[0]
                .entry
                .defect()
                .map(|d| d.to_string())
                .unwrap_or_default()
        );
    }
    if let Some(first) = copies.first() {
        if first.entry.name.is_future(now) {
            warn!(
                "{name} is dated in the future ({}, the clock here says {}): it was taken on \
                 a node with a wrong clock, or copied under a later name; it is never \
                 \"latest\"",
                utc_timestamp(name.time()),
                utc_timestamp(now)
            );
        }
    }
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

/// Warns about the future-dated names `latest` passed over for `chosen`: they sort above it,
/// and an operator who expected one of them should know why it was not taken.
fn skipped_for_latest(listed: &[Listed<'_>], chosen: SnapshotName, now: SystemTime) {
    let mut warned = Vec::new();
    for l in listed.iter().filter(|l| l.entry.name > chosen) {
        let name = l.entry.name;
        if warned.contains(&name) {
            continue;
        }
        warned.push(name);
        match l.entry.standing(now) {
            Standing::DatedInFuture => warn!(
                "{name} in storage {} is dated in the future ({}): never \"latest\"; taking {chosen}",
                l.storage.name,
                utc_timestamp(name.time())
            ),
            Standing::NotASnapshot(why) => warn!(
                "{name} in storage {} is not a snapshot ({why}): never \"latest\"; taking {chosen}",
                l.storage.name
            ),
            Standing::Snapshot => {}
        }
    }
}

/// What the listed objects are, when none of them can be `latest`.
fn never_latest(listed: &[Listed<'_>], now: SystemTime) -> String {
    let mut parts = Vec::new();
    for l in listed {
        let said = match l.entry.standing(now) {
            Standing::DatedInFuture => format!(
                "{} in {} is dated in the future ({})",
                l.entry.name,
                l.storage.name,
                utc_timestamp(l.entry.name.time())
            ),
            Standing::NotASnapshot(why) => format!(
                "{} in {} is not a snapshot ({why})",
                l.entry.name, l.storage.name
            ),
            Standing::Snapshot => continue,
        };
        parts.push(said);
    }
    parts.join("; ")
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
