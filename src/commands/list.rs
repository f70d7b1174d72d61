//! `list`: every snapshot in every chosen storage, newest first.
//!
//! Every object named like a snapshot is shown, with a note where it stands by the one
//! definition retention and `latest` share: `latest` on the copies `latest` means, "dated in
//! the future" for a name beyond the clock (plus the allowance), "not a snapshot: 0 bytes" for
//! what cannot be one (also warned about by name).

use std::io::Write;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use log::error;

use super::stored::{Listed, list_all};
use crate::config::Config;
use crate::exit::Exit;
use crate::prune::warn_not_snapshots;
use crate::session::{Needs, Selection, Session, StorageUse};
use crate::snapshot_name::{SnapshotName, Standing, newest, utc_timestamp};

/// `list`: every snapshot in every chosen storage, newest first.
///
/// A storage that cannot be opened on this machine (its directory is missing) is reported
/// like one that cannot be listed, and the others are listed: exit 1.
///
/// # Errors
/// A usage error for an unknown `--storage`; output errors.
pub fn list(config: Config, storage: Option<&str>, json: bool) -> Result<Exit> {
    let needs = Needs {
        storages: StorageUse::Read(Selection::from_arg(storage)),
        skip_unusable_storages: true,
        ..Needs::NOTHING
    };
    let session = Session::open(config, &needs)?;
    let chosen: Vec<_> = session.storages().iter().collect();
    let (listed, mut failed) = list_all(&chosen);
    failed.extend(
        session
            .unusable()
            .iter()
            .map(|u| (u.name.clone(), u.error.clone())),
    );
    let now = SystemTime::now();
    let age = |name: &SnapshotName| now.duration_since(name.time()).unwrap_or_default();
    // What `latest` means: the same definition fetch, restore, check and retention use.
    let latest = newest(listed.iter().map(|l| &l.entry), now).map(|e| e.name);
    let note = |l: &Listed<'_>| match l.entry.standing(now) {
        Standing::Snapshot if Some(l.entry.name) == latest => "latest".to_string(),
        Standing::Snapshot => String::new(),
        Standing::DatedInFuture => "dated in the future (check the clock): never latest".into(),
        Standing::NotASnapshot(why) => format!("not a snapshot: {why}"),
    };
    for l in &listed {
        warn_not_snapshots(
            &l.storage.name,
            l.storage.storage.as_ref(),
            std::slice::from_ref(&l.entry),
        );
    }
    let mut out = std::io::stdout().lock();
    if json {
        let snapshots: Vec<_> = listed
            .iter()
            .map(|l| {
                let state = match l.entry.standing(now) {
                    Standing::Snapshot => "snapshot",
                    Standing::DatedInFuture => "dated_in_future",
                    Standing::NotASnapshot(_) => "not_a_snapshot",
                };
                let note = note(l);
                serde_json::json!({
                    "storage": l.storage.name,
                    "kind": l.storage.storage.kind(),
                    "location": l.storage.storage.location(),
                    "name": l.entry.name.to_string(),
                    "time": utc_timestamp(l.entry.name.time()),
                    "age_seconds": age(&l.entry.name).as_secs(),
                    "size": l.entry.size,
                    "state": state,
                    "latest": note == "latest",
                    "note": (!note.is_empty()).then_some(note),
                })
            })
            .collect();
        let errors: Vec<_> = failed
            .iter()
            .map(|(storage, error)| serde_json::json!({"storage": storage, "error": error}))
            .collect();
        let document = serde_json::json!({"snapshots": snapshots, "errors": errors});
        writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
    } else {
        let width = chosen
            .iter()
            .map(|s| s.name.len())
            .chain(failed.iter().map(|(name, _)| name.len()))
            .max()
            .unwrap_or(7)
            .max(7);
        writeln!(
            out,
            "{:<width$}  {:<38}  {:<20}  {:>10}  {:>12}  NOTE",
            "STORAGE", "NAME", "TIME (UTC)", "AGE", "BYTES"
        )?;
        for l in &listed {
            let age = match l.entry.name.time().duration_since(now) {
                Ok(ahead) if !ahead.is_zero() => format!("in {}", short_age(ahead)),
                _ => short_age(age(&l.entry.name)),
            };
            let line = format!(
                "{:<width$}  {:<38}  {:<20}  {:>10}  {:>12}  {}",
                l.storage.name,
                l.entry.name.to_string(),
                utc_timestamp(l.entry.name.time()),
                age,
                l.entry.size,
                note(l)
            );
            writeln!(out, "{}", line.trim_end())?;
        }
        if listed.is_empty() && failed.is_empty() {
            writeln!(out, "no snapshots stored")?;
        }
    }
    for (storage, e) in &failed {
        error!("listing storage {storage} failed: {e}");
    }
    Ok(Exit::failed_if(!failed.is_empty()))
}

/// An age as its largest units: `45s`, `12m`, `3h20m`, `4d2h`.
pub(super) fn short_age(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_show_their_two_largest_units() {
        assert_eq!(short_age(Duration::from_secs(45)), "45s");
        assert_eq!(short_age(Duration::from_secs(12 * 60 + 5)), "12m");
        assert_eq!(short_age(Duration::from_secs(3 * 3600 + 20 * 60)), "3h20m");
        assert_eq!(
            short_age(Duration::from_secs(4 * 86400 + 2 * 3600 + 1)),
            "4d2h"
        );
    }
}
