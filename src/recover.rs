//! The restore half: `list`, `fetch`, `inspect` and `restore`.
//!
//! Every command reads the same config, names storages the same way (`local-0`, or the
//! storage's `name`), and checks every snapshot it hands out with the same streaming
//! verifier the cycle uses, reading files rather than holding them in memory. A snapshot is
//! only ever handed on (renamed into place, sent to Vault) after it verified.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use log::{error, info, warn};
use tempfile::NamedTempFile;

use crate::archive::inspect::{Inspection, inspect};
use crate::archive::verify::{SnapshotSummary, verify};
use crate::config::{Config, ConfigError, select_storage};
use crate::cycle::{ConfiguredStorage, build_storages};
use crate::secret::Secret;
use crate::snapshot_name::{SnapshotEntry, SnapshotName, utc_timestamp};
use crate::vault::auth::Authenticator;
use crate::vault::client::VaultClient;
use crate::vault::restore;

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
fn list_all<'a>(storages: &[&'a ConfiguredStorage]) -> (Vec<Listed<'a>>, Vec<(String, String)>) {
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

/// `list`: every snapshot in every chosen storage, newest first.
///
/// # Errors
/// A usage error for an unknown `--storage`; output errors.
pub fn list(config: &Config, storage: Option<&str>, json: bool) -> Result<u8> {
    let storages = build_storages(config)?;
    let chosen = chosen(config, &storages, storage)?;
    let (listed, failed) = list_all(&chosen);
    let now = SystemTime::now();
    let age = |name: &SnapshotName| now.duration_since(name.time()).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if json {
        let snapshots: Vec<_> = listed
            .iter()
            .map(|l| {
                serde_json::json!({
                    "storage": l.storage.name,
                    "kind": l.storage.storage.kind(),
                    "location": l.storage.storage.location(),
                    "name": l.entry.name.to_string(),
                    "time": utc_timestamp(l.entry.name.time()),
                    "age_seconds": age(&l.entry.name).as_secs(),
                    "size": l.entry.size,
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
            .max()
            .unwrap_or(7)
            .max(7);
        writeln!(
            out,
            "{:<width$}  {:<38}  {:<20}  {:>10}  {:>12}",
            "STORAGE", "NAME", "TIME (UTC)", "AGE", "BYTES"
        )?;
        for l in &listed {
            writeln!(
                out,
                "{:<width$}  {:<38}  {:<20}  {:>10}  {:>12}",
                l.storage.name,
                l.entry.name.to_string(),
                utc_timestamp(l.entry.name.time()),
                short_age(age(&l.entry.name)),
                l.entry.size
            )?;
        }
        if listed.is_empty() && failed.is_empty() {
            writeln!(out, "no snapshots stored")?;
        }
    }
    for (storage, e) in &failed {
        error!("listing storage {storage} failed: {e}");
    }
    Ok(if failed.is_empty() { 0 } else { 1 })
}

/// An age as its largest units: `45s`, `12m`, `3h20m`, `4d2h`.
fn short_age(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86400, s % 86400 / 3600),
    }
}

/// The stored copies of the snapshot `wanted` means, in config order (see [`list_all`]).
fn locate<'a>(storages: &[&'a ConfiguredStorage], wanted: Wanted) -> Result<Vec<Listed<'a>>> {
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
fn fetch_verified<T>(
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

fn verify_file(path: &Path) -> Result<SnapshotSummary> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    verify(BufReader::with_capacity(256 * 1024, file))
}

fn inspect_file(path: &Path, depth: usize) -> Result<Inspection> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    inspect(BufReader::with_capacity(256 * 1024, file), depth)
}

/// `fetch`: a stored snapshot to `output`, verified, renamed into place, never over a file.
///
/// # Errors
/// A usage error for an unknown `--storage` or an existing `output`; a failed download or
/// verification (nothing is left at `output` then).
pub fn fetch(config: &Config, wanted: Wanted, storage: Option<&str>, output: &Path) -> Result<u8> {
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
    Ok(0)
}

/// Prints what `inspect` shows.
///
/// # Errors
/// Output errors.
pub fn print_inspection(out: &mut impl Write, i: &Inspection) -> Result<()> {
    writeln!(out, "ID           {}", i.id)?;
    writeln!(
        out,
        "Size         {} bytes (state.bin {} bytes)",
        i.size, i.state_size
    )?;
    writeln!(out, "Index        {}", i.index)?;
    writeln!(out, "Term         {}", i.term)?;
    writeln!(out, "Version      {}", i.version)?;
    writeln!(out, "Servers      {}", i.servers.len())?;
    for s in &i.servers {
        writeln!(out, "  {:<20} {:<24} {}", s.id, s.address, s.suffrage)?;
    }
    writeln!(
        out,
        "Keys         {} ({} bytes of values)",
        i.keys, i.value_bytes
    )?;
    writeln!(out)?;
    let width = i
        .prefixes
        .iter()
        .map(|p| p.prefix.len())
        .max()
        .unwrap_or(0)
        .max(24);
    writeln!(
        out,
        "{:<width$}  {:>10}  {:>14}",
        format!("Key prefix (depth {})", i.depth),
        "Count",
        "Bytes"
    )?;
    for p in &i.prefixes {
        writeln!(
            out,
            "{:<width$}  {:>10}  {:>14}",
            p.prefix, p.count, p.bytes
        )?;
    }
    Ok(())
}

/// `inspect FILE`.
///
/// # Errors
/// A file that cannot be read, fails verification, or whose state does not decode.
pub fn inspect_command(file: &Path, depth: usize, json: bool) -> Result<u8> {
    let inspection = inspect_file(file, depth)
        .with_context(|| format!("{} is not a good snapshot", file.display()))?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&inspection)?)?;
    } else {
        print_inspection(&mut out, &inspection)?;
    }
    Ok(0)
}

/// What `restore` restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreSource {
    /// A stored snapshot.
    Stored(Wanted),
    /// A file on disk.
    File(PathBuf),
}

impl RestoreSource {
    /// An existing file, else `latest` or a stored snapshot's name.
    ///
    /// # Errors
    /// A usage error for anything else.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let path = Path::new(text);
        if text != "latest" && (path.is_file() || text.contains('/')) {
            return Ok(RestoreSource::File(path.to_path_buf()));
        }
        Wanted::parse(text).map(RestoreSource::Stored)
    }
}

/// How `restore` runs.
pub struct RestoreOptions<'a> {
    /// What to restore.
    pub source: RestoreSource,
    /// `--storage`.
    pub storage: Option<&'a str>,
    /// `--force`: `snapshot-force`.
    pub force: bool,
    /// `--yes`: really send it.
    pub yes: bool,
    /// `VAULT_TOKEN`, which wins over the config's auth for a restore.
    pub env_token: Option<Secret>,
}

/// `restore`: fetch and verify, show, then send to the active node (with `--yes`).
///
/// # Errors
/// A snapshot that fails verification (nothing is sent to Vault); Vault's refusal.
pub fn restore(config: &Config, options: RestoreOptions<'_>) -> Result<u8> {
    let depth = crate::archive::inspect::DEFAULT_DEPTH;
    let storages;
    let staged;
    let (path, inspection, what): (&Path, Inspection, String) = match &options.source {
        RestoreSource::File(file) => {
            let inspection = inspect_file(file, depth).with_context(|| {
                format!(
                    "{} is not a good snapshot; nothing was sent to Vault",
                    file.display()
                )
            })?;
            (file.as_path(), inspection, file.display().to_string())
        }
        RestoreSource::Stored(wanted) => {
            storages = build_storages(config)?;
            let chosen = chosen(config, &storages, options.storage)?;
            let copies = locate(&chosen, *wanted)?;
            let (file, inspection, from) = fetch_verified(
                &copies,
                &config.temp_dir,
                ".vault-raft-snapshot-restore-",
                |p| inspect_file(p, depth),
            )
            .context("nothing was sent to Vault")?;
            staged = file;
            (
                staged.path(),
                inspection,
                format!("{} from {from}", copies[0].entry.name),
            )
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "Snapshot {what}, verified:")?;
    print_inspection(&mut out, &inspection)?;
    writeln!(out)?;
    let endpoint = if options.force {
        restore::SNAPSHOT_FORCE_PATH
    } else {
        crate::vault::snapshot::SNAPSHOT_PATH
    };
    if !options.yes {
        writeln!(
            out,
            "Would restore it into the Vault cluster at {} (POST /v1/{endpoint} to its active \
             node), replacing all of the cluster's data. Nothing was sent. Run again with --yes \
             to restore.",
            config.vault.addr
        )?;
        return Ok(crate::app::EXIT_CONFIG);
    }
    drop(out);
    let client = VaultClient::new(&config.vault)?;
    let token = match options.env_token {
        Some(token) => token,
        None => Authenticator::new(config.auth.clone()).token(&client)?,
    };
    let target = restore::active_node(&client)?;
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    info!(
        "Sending {} bytes to POST {target}/v1/{endpoint}",
        inspection.size
    );
    restore::restore(&client, &target, &token, &file, options.force)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Restored: the cluster at {target} now holds Raft index {} of the snapshot.",
        inspection.index
    )?;
    writeln!(out, "Check next:")?;
    writeln!(
        out,
        "  - seal status of every node (vault status / bao status); a node may need unsealing,"
    )?;
    writeln!(
        out,
        "    and the unseal keys that apply are those of the cluster the snapshot was taken on;"
    )?;
    writeln!(
        out,
        "  - that the data you expect is back; tokens and leases created after the snapshot are gone;"
    )?;
    writeln!(
        out,
        "  - that standbys have caught up (sys/storage/raft/autopilot/state)."
    )?;
    Ok(0)
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

    #[test]
    fn restore_takes_a_path_that_exists_or_has_a_slash_as_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("raft_snapshot-5.snap");
        std::fs::write(&existing, b"x").unwrap();
        let text = existing.to_str().unwrap();
        assert_eq!(
            RestoreSource::parse(text).unwrap(),
            RestoreSource::File(existing.clone())
        );
        assert_eq!(
            RestoreSource::parse("./missing.snap").unwrap(),
            RestoreSource::File(PathBuf::from("./missing.snap"))
        );
        assert_eq!(
            RestoreSource::parse("raft_snapshot-5.snap").unwrap(),
            RestoreSource::Stored(Wanted::Named(
                SnapshotName::parse("raft_snapshot-5.snap").unwrap()
            ))
        );
        assert_eq!(
            RestoreSource::parse("latest").unwrap(),
            RestoreSource::Stored(Wanted::Latest)
        );
        assert!(RestoreSource::parse("snapshot.tgz").is_err());
    }
}
