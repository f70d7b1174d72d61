//! `fetch`: a stored snapshot to a file (or stdout), verified first, never over a file.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use log::info;

use super::stored::{Wanted, fetch_verified, locate, verify_file};
use crate::config::{Config, ConfigError};
use crate::exit::Exit;
use crate::session::{Needs, Selection, Session, StorageUse};

/// Where `--output` sends the snapshot.
enum Target {
    /// A file that must not exist (`FILE`, or `DIR/<name>` for an existing directory).
    File(PathBuf),
    /// An existing directory: the snapshot goes to `DIR/<its name>`.
    Dir(PathBuf),
    /// `-`: stdout, after the whole snapshot verified.
    Stdout,
}

impl Target {
    fn parse(output: &Path) -> Result<Self> {
        if output.as_os_str() == "-" {
            return Ok(Target::Stdout);
        }
        if output.is_dir() {
            return Ok(Target::Dir(output.to_path_buf()));
        }
        refuse_existing(output)?;
        if output.file_name().is_none() {
            return Err(
                ConfigError(format!("--output {} is not a file name", output.display())).into(),
            );
        }
        Ok(Target::File(output.to_path_buf()))
    }
}

fn refuse_existing(path: &Path) -> Result<()> {
    if path.exists() || path.is_symlink() {
        return Err(ConfigError(format!(
            "{} already exists; fetch never overwrites a file (choose another --output)",
            path.display()
        ))
        .into());
    }
    Ok(())
}

/// `fetch`: a stored snapshot to `output`, verified, renamed into place, never over a file.
/// `output` may be an existing directory (the snapshot keeps its name there) or `-`
/// (stdout: the snapshot is staged and verified whole before its first byte is written).
///
/// # Errors
/// A usage error for an unknown `--storage` or an existing file; a failed download or
/// verification (nothing is left at `output`, nothing is written to stdout then).
pub fn fetch(config: Config, wanted: Wanted, storage: Option<&str>, output: &Path) -> Result<Exit> {
    let target = Target::parse(output)?;
    let needs = Needs {
        storages: StorageUse::Read(Selection::from_arg(storage)),
        skip_unusable_storages: true,
        signals: true,
        ..Needs::NOTHING
    };
    let session = Session::open(config, &needs)?;
    session.arm_watchdog(crate::exit::Exit::Failed);
    let copies = locate(&session, wanted)?;
    let name = copies[0].entry.name;
    let file = match target {
        Target::Stdout => {
            let dir = super::restore::staging_dir(session.config());
            let (staged, summary, from) = fetch_verified(&session, &copies, &dir, verify_file)?;
            let mut reader = File::open(staged.path())
                .with_context(|| format!("cannot open {}", staged.path().display()))?;
            let mut out = std::io::stdout().lock();
            std::io::copy(&mut reader, &mut out)?;
            out.flush()?;
            info!(
                "{name} from {from}, verified, written to stdout: Raft index {}, term {}, {} bytes",
                summary.index, summary.term, summary.archive_size
            );
            return Ok(Exit::Ok);
        }
        Target::Dir(dir) => {
            let file = dir.join(name.to_string());
            refuse_existing(&file)?;
            file
        }
        Target::File(file) => file,
    };
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (staged, summary, from) = fetch_verified(&session, &copies, &dir, verify_file)?;
    staged
        .persist_noclobber(&file)
        .map_err(|e| anyhow!(e.error))
        .with_context(|| format!("cannot move the verified snapshot to {}", file.display()))?;
    writeln!(
        std::io::stdout().lock(),
        "{}: {name} from {from}, verified: Raft index {}, term {}, {} bytes",
        file.display(),
        summary.index,
        summary.term,
        summary.archive_size
    )?;
    Ok(Exit::Ok)
}
