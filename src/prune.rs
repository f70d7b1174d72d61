//! Applying a retention plan to one storage: list, [`plan`], delete what the plan drops.
//! Written once for every storage; `--dry-run` runs the same path and skips only the deletes.

use std::time::SystemTime;

use anyhow::{Result, bail};
use log::{error, info, warn};

use crate::retention::{Decision, RetentionPolicy, plan};
use crate::snapshot_name::SnapshotEntry;
use crate::storage::Storage;

/// Warns, by name, about every listed object that cannot be a snapshot (see
/// [`SnapshotEntry::defect`]): retention never counts it, `latest` is never it, and nothing
/// deletes it, so an operator must look at it. `once`, `run`, `prune` and `list` all warn here.
pub fn warn_not_snapshots(storage_name: &str, storage: &dyn Storage, entries: &[SnapshotEntry]) {
    for entry in entries {
        if let Some(why) = entry.defect() {
            let name = entry.name;
            warn!(
                snapshot:% = name, storage = storage_name;
                "{name} in {} {} is not a snapshot ({why}): it is never counted by retention, \
                 never latest and never deleted; remove it by hand once you know how it got there",
                storage.kind(),
                storage.location()
            );
        }
    }
}

/// Lists `storage` (named `storage_name` in log lines), plans, and (unless `dry_run`)
/// deletes the snapshots the plan drops. Returns the plan, newest first.
///
/// # Errors
/// When listing fails (nothing is deleted then), or when any deletion fails (the others are
/// still attempted).
pub fn prune(
    storage_name: &str,
    storage: &dyn Storage,
    policy: RetentionPolicy,
    now: SystemTime,
    dry_run: bool,
) -> Result<Vec<Decision>> {
    let entries = storage.list()?;
    warn_not_snapshots(storage_name, storage, &entries);
    let decisions = plan(&entries, policy, now);
    if dry_run {
        return Ok(decisions);
    }
    let mut failed = 0;
    for decision in decisions.iter().filter(|d| !d.keep) {
        let name = decision.entry.name;
        match storage.delete(&name) {
            Ok(()) => info!(
                snapshot:% = name, storage = storage_name;
                "Deleted old snapshot {name} from {} {} ({})",
                storage.kind(),
                storage.location(),
                decision.explain()
            ),
            Err(e) => {
                failed += 1;
                error!(snapshot:% = name, storage = storage_name; "{e:#}");
            }
        }
    }
    if failed > 0 {
        bail!(
            "pruning {} {} failed: {failed} snapshot(s) could not be deleted",
            storage.kind(),
            storage.location()
        );
    }
    Ok(decisions)
}
