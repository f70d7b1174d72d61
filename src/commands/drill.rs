//! `drill`: restore a stored snapshot into a scratch server, unseal it, log in, read the
//! expected paths, compare the Raft index, time every step, and throw the server away.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, anyhow};
use log::info;

use super::stored::{Listed, Wanted, fetch_verified, list_all, locate, verify_file};
use crate::config::{Config, ConfigError, DrillConfig, DrillUnseal, process_env};
use crate::cycle::ConfiguredStorage;
use crate::drill::steps::{Input, Recorder};
use crate::drill::{Report, Step, secs, server, step_line, total_line};
use crate::exit::Exit;
use crate::secret::Secret;
use crate::session::{Needs, Selection, Session, StorageUse};
use crate::snapshot_name::SnapshotName;

/// The secrets a drill uses, read now so that an unreadable one is a config error (exit 2).
///
/// # Errors
/// A [`ConfigError`] naming the key of a secret that cannot be read.
pub fn read_secrets(drill: &DrillConfig) -> Result<(Vec<Secret>, Option<Secret>), ConfigError> {
    let keys = match &drill.unseal {
        DrillUnseal::Keys(keys) => keys
            .iter()
            .map(|k| k.read_with(&process_env).map_err(ConfigError))
            .collect::<Result<Vec<_>, _>>()?,
        DrillUnseal::Seal(_) => Vec::new(),
    };
    let token = drill
        .token
        .as_ref()
        .map(|t| t.read_with(&process_env).map_err(ConfigError))
        .transpose()?;
    Ok((keys, token))
}

/// The `drill` object, or a config error saying it is missing; its server binary checked.
///
/// # Errors
/// A [`ConfigError`] when there is no `drill` object or `drill.server` is not executable.
pub fn drill_config(config: &Config) -> Result<&DrillConfig, ConfigError> {
    let drill = config.drill.as_ref().ok_or_else(|| {
        ConfigError(format!(
            "{}: no \"drill\" object: set at least drill.server and drill.unseal_keys or drill.seal",
            config.source.display()
        ))
    })?;
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(&drill.server)
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if !executable {
        return Err(ConfigError(format!(
            "{}: key \"drill.server\": {} is not an executable file",
            config.source.display(),
            drill.server.display()
        )));
    }
    Ok(drill)
}

/// Where the drilled snapshot is.
pub enum Source<'a> {
    /// In the session's storages (`drill`).
    Stored(Wanted),
    /// In these storages, under this name (`run`, whose agent holds the storages).
    In(&'a [ConfiguredStorage], SnapshotName),
}

/// The copies of `name` in `storages`, in config order.
fn copies_in(storages: &[ConfiguredStorage], name: SnapshotName) -> Result<Vec<Listed<'_>>> {
    let all: Vec<&ConfiguredStorage> = storages.iter().collect();
    let (listed, failed) = list_all(&all);
    let copies: Vec<Listed<'_>> = listed
        .into_iter()
        .filter(|l| l.entry.name == name && l.entry.defect().is_none())
        .collect();
    if copies.is_empty() {
        let failed: Vec<String> = failed.iter().map(|(s, e)| format!("{s}: {e}")).collect();
        anyhow::bail!(
            "snapshot {name} is not in any storage{}",
            if failed.is_empty() {
                String::new()
            } else {
                format!(" (could not list {})", failed.join("; "))
            }
        );
    }
    Ok(copies)
}

/// Fetches and verifies the snapshot `source` names, then drills it; `on_step` sees each step as it ends.
/// Returns the report; the drill's failure is in it, not an `Err`.
///
/// # Errors
/// A configuration problem, or a shutdown signal (the scratch server is gone by then).
pub fn drill_snapshot(
    session: &Session,
    source: Source<'_>,
    on_step: &mut dyn FnMut(&Step),
) -> Result<Report> {
    let config = session.config();
    let drill = drill_config(config)?;
    let (unseal_keys, token) = read_secrets(drill)?;
    server::remove_leftovers(&config.temp_dir);
    let mut rec = Recorder::new(on_step);
    let mut snapshot = String::from("latest");
    let fetched = rec.step("fetch", || {
        let copies = match source {
            Source::Stored(wanted) => locate(session, wanted)?,
            Source::In(storages, name) => copies_in(storages, name)?,
        };
        let name = copies[0].entry.name.to_string();
        let (staged, summary, from) =
            fetch_verified(session, &copies, &config.temp_dir, verify_file)?;
        let detail = format!(
            "{name} from {from}, verified: Raft index {}, {} bytes",
            summary.index, summary.archive_size
        );
        Ok(((staged, summary.index, name), detail))
    });
    let mut report = Report {
        snapshot: String::new(),
        result: "failed",
        failed_step: None,
        error: None,
        total_seconds: 0.0,
        snapshot_index: None,
        restored_index: None,
        steps: Vec::new(),
    };
    let outcome = fetched.and_then(|(staged, index, name)| {
        snapshot = name;
        report.snapshot_index = Some(index);
        let input = Input {
            config,
            drill,
            snapshot: staged.path(),
            snapshot_index: index,
            unseal_keys,
            token,
            stop: session.stop(),
        };
        crate::drill::steps::drill(&input, &mut rec)
    });
    session.stop().check()?;
    report.snapshot = snapshot;
    report.total_seconds = secs(rec.elapsed());
    report.steps = std::mem::take(&mut rec.steps);
    match outcome {
        Ok(index) => {
            report.restored_index = Some(index);
            report.result = "passed";
        }
        Err(_) => {
            let (step, why) = rec
                .failed
                .take()
                .unwrap_or(("fetch", "unknown".to_string()));
            report.failed_step = Some(step);
            report.error = Some(why);
        }
    }
    Ok(report)
}

/// `drill [NAME|latest] [--storage NAME] [--json]`.
///
/// # Errors
/// A configuration error (exit 2); a failed step (exit 1, naming it).
pub fn drill(config: Config, wanted: Wanted, storage: Option<&str>, json: bool) -> Result<Exit> {
    drill_config(&config)?;
    let credentials = config.drill.as_ref().is_some_and(|d| d.token.is_none());
    let needs = Needs {
        storages: StorageUse::Read(Selection::from_arg(storage)),
        skip_unusable_storages: true,
        staging: true,
        credentials,
        signals: true,
        ..Needs::NOTHING
    };
    let session = Session::open(config, &needs)?;
    session.arm_watchdog(Exit::Failed);
    let mut print = |step: &Step| {
        if !json {
            let _ = writeln!(std::io::stdout().lock(), "{}", step_line(step));
        }
    };
    let report = drill_snapshot(&session, Source::Stored(wanted), &mut print)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", total_line(&report))?;
    }
    out.flush()?;
    match (report.failed_step, &report.error) {
        (None, _) => {
            info!(
                "Drill of {} passed in {:.2}s",
                report.snapshot, report.total_seconds
            );
            Ok(Exit::Ok)
        }
        (Some(step), why) => Err(anyhow!(
            "drill of {} failed at step {step}: {}",
            report.snapshot,
            why.as_deref().unwrap_or("")
        )),
    }
}

/// Whether `path` is a scratch directory of a drill (for tests and `run`).
#[must_use]
pub fn is_scratch_dir(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(server::DIR_PREFIX))
}
