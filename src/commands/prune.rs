//! `prune [--dry-run] [--json] [--now TIME]`: apply each storage's retention, or show what
//! it would delete.

use std::io::Write;
use std::time::SystemTime;

use anyhow::Result;
use log::error;

use crate::config::Config;
use crate::exit::Exit;
use crate::session::{Needs, Selection, Session, StorageUse};
use crate::snapshot_name::{Standing, utc_timestamp};

/// How `prune` runs.
pub struct PruneOptions {
    /// `--dry-run`: plan, delete nothing.
    pub dry_run: bool,
    /// `--json`.
    pub json: bool,
    /// The time the plan is made for (`--now`, else the clock).
    pub now: SystemTime,
}

/// Opens only the storages (to read for a dry run, to write otherwise): pruning never talks
/// to Vault, so Vault's TLS files and credentials are not read.
pub fn prune(config: Config, options: &PruneOptions) -> Result<Exit> {
    let dry_run = options.dry_run;
    let needs = Needs {
        storages: if dry_run {
            StorageUse::Read(Selection::All)
        } else {
            StorageUse::Write
        },
        ..Needs::NOTHING
    };
    let session = Session::open(config, &needs)?;
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    let mut report = Vec::new();
    for configured in session.storages() {
        let (storage, policy, name) = (&configured.storage, configured.policy, &configured.name);
        let decisions =
            match crate::prune::prune(name, storage.as_ref(), policy, options.now, dry_run) {
                Ok(decisions) => decisions,
                Err(e) => {
                    error!("{e:#}");
                    failed = true;
                    report.push(serde_json::json!({
                        "storage": name, "kind": storage.kind(), "location": storage.location(),
                        "policy": policy.to_string(), "error": format!("{e:#}"),
                    }));
                    continue;
                }
            };
        let doomed = decisions.iter().filter(|d| !d.keep).count();
        if options.json {
            let snapshots: Vec<_> = decisions
                .iter()
                .map(|d| {
                    serde_json::json!({
                        "name": d.entry.name.to_string(),
                        "time": utc_timestamp(d.entry.name.time()),
                        "size": d.entry.size,
                        "keep": d.keep,
                        "state": match d.entry.standing(options.now) {
                            Standing::Snapshot => "snapshot",
                            Standing::DatedInFuture => "dated_in_future",
                            Standing::NotASnapshot(_) => "not_a_snapshot",
                        },
                        "reasons": d.reasons.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    })
                })
                .collect();
            report.push(serde_json::json!({
                "storage": name, "kind": storage.kind(), "location": storage.location(),
                "policy": policy.to_string(), "snapshots": snapshots,
                "deleted": if dry_run { 0 } else { doomed },
                "would_delete": if dry_run { doomed } else { 0 },
            }));
            continue;
        }
        let junk = decisions
            .iter()
            .filter(|d| d.not_a_snapshot().is_some())
            .count();
        let junk = if junk == 0 {
            String::new()
        } else {
            format!(" and {junk} object(s) that are not snapshots")
        };
        writeln!(
            out,
            "{name} ({} {}): {} snapshot(s){junk}, {policy}",
            storage.kind(),
            storage.location(),
            decisions.len()
                - decisions
                    .iter()
                    .filter(|d| d.not_a_snapshot().is_some())
                    .count(),
        )?;
        for d in &decisions {
            let action = match (d.keep, dry_run) {
                (true, _) if d.not_a_snapshot().is_some() => "not counted",
                (true, _) => "keep",
                (false, true) => "would delete",
                (false, false) => "deleted",
            };
            writeln!(
                out,
                "  {action:<12} {}  {}  {:>12} bytes  {}",
                d.entry.name,
                utc_timestamp(d.entry.name.time()),
                d.entry.size,
                d.explain()
            )?;
        }
        let summary = match (doomed, dry_run) {
            (0, _) => "nothing to delete".to_string(),
            (n, true) => format!("would delete {n} snapshot(s); dry run, nothing was deleted"),
            (n, false) => format!("deleted {n} snapshot(s)"),
        };
        writeln!(out, "  {summary}")?;
    }
    if options.json {
        let document = serde_json::json!({
            "dry_run": dry_run,
            "now": utc_timestamp(options.now),
            "storages": report,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
    }
    Ok(Exit::failed_if(failed))
}
