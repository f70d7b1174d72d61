//! `fetch`: a stored snapshot to a file, verified, renamed into place, never over a file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

use super::stored::{Wanted, fetch_verified, locate, verify_file};
use crate::config::{Config, ConfigError};
use crate::exit::Exit;
use crate::session::{Needs, Selection, Session, StorageUse};

/// `fetch`: a stored snapshot to `output`, verified, renamed into place, never over a file.
///
/// # Errors
/// A usage error for an unknown `--storage` or an existing `output`; a failed download or
/// verification (nothing is left at `output` then).
pub fn fetch(config: Config, wanted: Wanted, storage: Option<&str>, output: &Path) -> Result<Exit> {
    if output.exists() {
        return Err(ConfigError(format!(
            "{} already exists; fetch never overwrites a file (choose another --output)",
            output.display()
        ))
        .into());
    }
    let needs = Needs {
        storages: StorageUse::Read(Selection::from_arg(storage)),
        skip_unusable_storages: true,
        signals: true,
        ..Needs::NOTHING
    };
    let session = Session::open(config, &needs)?;
    session.arm_watchdog(crate::exit::Exit::Failed);
    let copies = locate(&session, wanted)?;
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if output.file_name().is_none() {
        return Err(
            ConfigError(format!("--output {} is not a file name", output.display())).into(),
        );
    }
    let (staged, summary, from) = fetch_verified(&session, &copies, &dir, verify_file)?;
    staged
        .persist_noclobber(output)
        .map_err(|e| anyhow!(e.error))
        .with_context(|| format!("cannot move the verified snapshot to {}", output.display()))?;
    println!(
        "{}: {} from {from}, verified: Raft index {}, term {}, {} bytes",
        output.display(),
        copies[0].entry.name,
        summary.index,
        summary.term,
        summary.archive_size
    );
    Ok(Exit::Ok)
}
