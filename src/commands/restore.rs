//! `restore`: fetch and verify, show, then send to the active node (with `--yes`).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use log::{info, warn};

use super::inspect::print_inspection;
use super::stored::{Wanted, fetch_verified, inspect_file, locate};
use crate::archive::inspect::Inspection;
use crate::config::{Config, ConfigError, probe, process_env};
use crate::exit::Exit;
use crate::secret::Secret;
use crate::session::{Needs, Selection, Session, StorageUse};
use crate::vault::restore;

/// The config a restore of `source` uses: the file at `path`, except for a snapshot file when
/// no config was `named` and the default is absent: then Vault's own variables
/// ([`Config::from_environment`]), so a file can be restored on any machine with only
/// `VAULT_ADDR` and `VAULT_TOKEN`.
///
/// # Errors
/// What loading the file or the environment says.
pub fn config_for(source: &RestoreSource, path: PathBuf, named: bool) -> Result<Config> {
    if matches!(source, RestoreSource::File(_)) && !named && !path.exists() {
        let config = Config::from_environment(&process_env)?;
        super::announce(&config);
        return Ok(config);
    }
    super::load(path)
}

/// `config` with `--addr` in place of its address, when given.
///
/// # Errors
/// A usage error naming `--addr` for an address that is not `http(s)://host[:port]`.
pub fn with_addr(mut config: Config, addr: Option<&str>) -> Result<Config> {
    if let Some(addr) = addr {
        config.vault.addr = crate::config::cli_addr("--addr", addr)?;
    }
    Ok(config)
}

/// Where a stored snapshot is staged: `temp_dir`, or the system's `/tmp` when `temp_dir`
/// cannot be used on this machine (a restore often runs far from the node the config was
/// written for).
pub(super) fn staging_dir(config: &Config) -> PathBuf {
    match probe::staging(config) {
        Ok(()) => config.temp_dir.clone(),
        Err(e) => {
            warn!("{e}; staging the snapshot in {FALLBACK_STAGING} instead");
            PathBuf::from(FALLBACK_STAGING)
        }
    }
}

/// The staging directory when `temp_dir` cannot be used.
const FALLBACK_STAGING: &str = "/tmp";

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
pub fn restore(config: Config, options: RestoreOptions<'_>) -> Result<Exit> {
    let depth = crate::archive::inspect::DEFAULT_DEPTH;
    let stored = matches!(options.source, RestoreSource::Stored(_));
    let needs = Needs {
        storages: if stored {
            StorageUse::Read(Selection::from_arg(options.storage))
        } else {
            StorageUse::None
        },
        skip_unusable_storages: true,
        signals: true,
        ..Needs::NOTHING
    };
    let mut session = Session::open(config, &needs)?;
    session.arm_watchdog(Exit::Failed);
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
            let copies = locate(&session, *wanted)?;
            let temp_dir = staging_dir(session.config());
            let (file, inspection, from) =
                fetch_verified(&session, &copies, &temp_dir, |p| inspect_file(p, depth))
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
            session.config().vault.addr
        )?;
        return Ok(Exit::Usage);
    }
    drop(out);
    // A token given in VAULT_TOKEN wins: the agent's own credentials are then never read.
    let token = match options.env_token {
        Some(token) => token,
        None => session.agent_token()?,
    };
    let client = session.vault()?;
    let target = restore::active_node(client)?;
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    info!(
        "Sending {} bytes to POST {target}/v1/{endpoint}",
        inspection.size
    );
    restore::restore(client, &target, &token, &file, options.force)?;
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
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot_name::SnapshotName;

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
