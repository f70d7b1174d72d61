//! `fetch`: a stored snapshot to a file, verified, renamed into place, never over a file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

use super::stored::{Wanted, chosen, fetch_verified, locate, verify_file};
use crate::config::{Config, ConfigError};
use crate::cycle::build_storages;
use crate::exit::Exit;

/// `fetch`: a stored snapshot to `output`, verified, renamed into place, never over a file.
///
/// # Errors
/// A usage error for an unknown `--storage` or an existing `output`; a failed download or
/// verification (nothing is left at `output` then).
pub fn fetch(
    config: &Config,
    wanted: Wanted,
    storage: Option<&str>,
    output: &Path,
) -> Result<Exit> {
    if output.exists() {
        return Err(ConfigError(format!(
            "{} already exists; fetch never overwrites a file (choose another --output)",
            output.display()
        ))
        .into());
    }
    let storages = build_storages(config)?;
    let chosen = chosen(config, &storages, storage)?;
    let copies = locate(&chosen, wanted)?;
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = output
        .file_name()
        .ok_or_else(|| ConfigError(format!("--output {} is not a file name", output.display())))?;
    let prefix = format!(".{}.", file_name.to_string_lossy());
    let (staged, summary, from) = fetch_verified(&copies, &dir, &prefix, verify_file)?;
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
