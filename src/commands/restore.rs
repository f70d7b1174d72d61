//! `restore`: fetch and verify, show, then send to the active node (with `--yes`).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result};
use log::{info, warn};

use super::inspect::print_inspection;
use super::list::short_age;
use super::stored::{Wanted, fetch_verified, inspect_file, locate};
use crate::archive::inspect::Inspection;
use crate::config::{AuthMethod, Config, ConfigError, probe, process_env};
use crate::exit::Exit;
use crate::secret::Secret;
use crate::session::{Needs, Selection, Session, StorageUse};
use crate::snapshot_name::{SnapshotName, utc_timestamp};
use crate::vault::{leader, restore, sys};

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
        config.vault.nodes.clear();
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
    /// `--wait`: how long the node may take to apply the restore.
    pub wait: std::time::Duration,
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
    let taken_name;
    let (path, inspection, what): (&Path, Inspection, String) = match &options.source {
        RestoreSource::File(file) => {
            let inspection = inspect_file(file, depth).with_context(|| {
                format!(
                    "{} is not a good snapshot; nothing was sent to Vault",
                    file.display()
                )
            })?;
            taken_name = file
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(SnapshotName::parse);
            (file.as_path(), inspection, file.display().to_string())
        }
        RestoreSource::Stored(wanted) => {
            let copies = locate(&session, *wanted)?;
            let temp_dir = staging_dir(session.config());
            let (file, inspection, from) =
                fetch_verified(&session, &copies, &temp_dir, |p| inspect_file(p, depth))
                    .context("nothing was sent to Vault")?;
            staged = file;
            taken_name = Some(copies[0].entry.name);
            (
                staged.path(),
                inspection,
                format!("{} from {from}", copies[0].entry.name),
            )
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "Snapshot {what}, verified:")?;
    writeln!(out, "Taken        {}", taken(taken_name, SystemTime::now()))?;
    print_inspection(&mut out, &inspection)?;
    writeln!(out)?;
    let endpoint = if options.force {
        restore::SNAPSHOT_FORCE_PATH
    } else {
        crate::vault::snapshot::SNAPSHOT_PATH
    };
    drop(out);
    // A token given in VAULT_TOKEN wins: the agent's own credentials are then never read.
    // With --yes the token is needed anyway (logging in if the config says so); without it,
    // the preview only uses a token it can have without a login, which is no read-only call.
    let token = match (options.env_token, options.yes) {
        (Some(token), _) => Ok(token),
        (None, true) => Ok(session.agent_token()?),
        (None, false) if needs_login(&session.config().auth) => Err(format!(
            "not checked: the config's auth ({}) needs a login, which the preview does not do \
             (set VAULT_TOKEN to check that token, or run with --yes: it logs in and checks \
             before sending)",
            session.config().auth.name()
        )),
        (None, false) => session
            .agent_token()
            .map_err(|e| format!("not checked: no token ({e:#})")),
    };
    let cluster = cluster_preview(&mut session, token.as_ref(), endpoint, inspection.index);
    let mut out = std::io::stdout().lock();
    for line in cluster {
        writeln!(out, "{line}")?;
    }
    writeln!(out)?;
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
    // With --yes the token was obtained above, or its error returned.
    let token = token.map_err(anyhow::Error::msg)?;
    let stop = session.stop().clone();
    let client = session.vault()?;
    let target = restore::active_node(client)?;
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    info!(
        "Sending {} bytes to POST {target}/v1/{endpoint}",
        inspection.size
    );
    let sent = Instant::now();
    restore::restore(client, &target, &token, &file, options.force)?;
    info!("Vault accepted the snapshot; waiting until {target} has applied it");
    let back =
        restore::wait_until_back(client, &target, &token, options.force, options.wait, &stop);
    // The cluster's token store is now the snapshot's: the token used for the restore is
    // not there to revoke, and trying would only end a good restore with a warning.
    session.forget_agent_token();
    let back = back.context("the restore may be incomplete")?;
    let took = format!("{:.1} s", sent.elapsed().as_secs_f64());
    let mut out = std::io::stdout().lock();
    match back {
        restore::Back::Unsealed { active } => {
            writeln!(
                out,
                "Restored: the cluster at {target} now holds Raft index {} of the snapshot; \
                 {active} is active and serving again ({took} after the snapshot was sent).",
                inspection.index
            )?;
            writeln!(out, "Check next:")?;
            writeln!(
                out,
                "  - seal status of every node (vault status / bao status); a standby may need"
            )?;
            writeln!(
                out,
                "    unsealing, with the unseal keys of the cluster the snapshot was taken on;"
            )?;
        }
        restore::Back::Sealed => {
            writeln!(
                out,
                "Restored: the cluster at {target} now holds Raft index {} of the snapshot, and \
                 sealed itself ({took} after the snapshot was sent), as it does after a restore \
                 from another cluster: unseal it with the unseal keys (or seal) of the cluster \
                 the snapshot was taken on.",
                inspection.index
            )?;
            writeln!(out, "Check next:")?;
            writeln!(
                out,
                "  - unseal every node with those keys (vault operator unseal / bao operator unseal);"
            )?;
        }
    }
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

/// When the snapshot was taken, from its name, and how long ago; a name dated in the future
/// (see [`SnapshotName::is_future`]) says so.
fn taken(name: Option<SnapshotName>, now: SystemTime) -> String {
    let Some(name) = name else {
        return "unknown (the file's name is not a snapshot name, which carries the time)".into();
    };
    let time = utc_timestamp(name.time());
    match name.time().duration_since(now) {
        Ok(ahead) if name.is_future(now) => format!(
            "{time} (in {}: DATED IN THE FUTURE, check the clock of the node that took it; \
             `latest` is never such a snapshot)",
            short_age(ahead)
        ),
        Ok(_) => format!("{time} (just now)"),
        Err(e) => format!("{time} ({} ago)", short_age(e.duration())),
    }
}

fn needs_login(auth: &AuthMethod) -> bool {
    !matches!(auth, AuthMethod::TokenFile(_) | AuthMethod::StaticToken(_))
}

/// The cluster a restore would replace, from read-only calls: who leads, the Raft index it
/// has committed (beside the snapshot's `index`), and whether `token` may POST to `endpoint`.
/// What cannot be asked is said, never an error: the preview works offline.
fn cluster_preview(
    session: &mut Session,
    token: Result<&Secret, &String>,
    endpoint: &str,
    index: u64,
) -> Vec<String> {
    let addr = session.config().vault.addr.clone();
    let client = match session.vault() {
        Ok(client) => client,
        Err(e) => {
            return vec![format!(
                "Cluster at {addr}: not asked ({e:#}); its leader, committed index and the \
                 token's rights are not shown"
            )];
        }
    };
    let status = match leader::fetch(client) {
        Ok(status) => status,
        Err(e) => {
            return vec![format!(
                "Cluster at {addr}: cannot be reached for the preview ({e:#}); its leader, \
                 committed index and the token's rights are not shown"
            )];
        }
    };
    let mut lines = vec![format!("Cluster at {addr}:")];
    let leader = match (status.ha_enabled, status.is_self) {
        (false, _) => format!("{addr} (HA not enabled: a single node)"),
        (true, true) => format!("{addr} (the node at addr is the active node)"),
        (true, false) if status.leader_address.is_empty() => {
            "none known (the node at addr is a standby and knows no active node)".into()
        }
        (true, false) => format!("{} (the node at addr is a standby)", status.leader_address),
    };
    lines.push(format!("  Leader       {leader}"));
    let committed = match status.raft_committed_index {
        None => "not reported by Vault".to_string(),
        Some(committed) => {
            let compared = match index.cmp(&committed) {
                std::cmp::Ordering::Less => format!(
                    "the snapshot (index {index}) is {} entries behind: restoring it rolls the \
                     cluster back and loses what was written since",
                    committed - index
                ),
                std::cmp::Ordering::Equal => "the snapshot's index is the same".to_string(),
                std::cmp::Ordering::Greater => format!(
                    "the snapshot (index {index}) is {} entries ahead: it comes from another \
                     cluster, or this one was rebuilt since",
                    index - committed
                ),
            };
            format!("Raft index {committed}; {compared}")
        }
    };
    lines.push(format!("  Committed    {committed}"));
    let rights = match token {
        Err(why) => why.clone(),
        Ok(token) => match sys::capabilities_self(client, token, endpoint) {
            Ok(caps) if sys::may_restore(&caps) => {
                format!(
                    "may restore (capabilities on {endpoint}: [{}])",
                    caps.join(", ")
                )
            }
            Ok(caps) => format!(
                "may NOT restore: capabilities on {endpoint} are [{}]; restoring needs \
                 [\"update\"]",
                caps.join(", ")
            ),
            Err(e) => format!("not checked: {e:#}"),
        },
    };
    lines.push(format!("  Token        {rights}"));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

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
