//! One way to open what a command needs, and only that.
//!
//! Every command that reads the config opens a [`Session`], saying in [`Needs`] which parts
//! it uses: storages (to read or to write, all of them or the one `--storage` names), the
//! staging directory, the agent's own Vault credentials, the metrics file, the config's lock
//! and signal handling. The session probes exactly those (a directory that must be writable,
//! a secret file that must be readable) and builds the rest lazily: the Vault client (and so
//! Vault's TLS files) only when [`Session::vault`] is first called, the agent's credentials
//! only when [`Session::agent_token`] is. So `prune` and `list` never read Vault's TLS files
//! or credentials, and `restore` with `VAULT_TOKEN` never reads the agent's own.
//!
//! It also owns what every long command must get right the same way:
//! - signals: SIGTERM, SIGINT and SIGHUP raise the session's stop flag; a watchdog removes
//!   this process's temporary files and exits if the work does not stop in time;
//! - temporary files: every one is named under the leftovers scheme
//!   (`.vault-raft-snapshot-<pid>-<random>.tmp`, see [`crate::leftovers`]), and what a killed
//!   agent left in a directory is removed before the session writes there;
//! - a storage that cannot be opened on this machine (its directory is missing) is, for the
//!   commands that read stored snapshots, reported and skipped while the others are used.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use log::{error, warn};
use tempfile::NamedTempFile;

use crate::config::{Config, StorageConfig, StorageKind, probe, process_env, select_storage};
use crate::cycle::{Agent, ConfiguredStorage};
use crate::exit::Exit;
use crate::secret::Secret;
use crate::shutdown::{Shutdown, StopFlag};
use crate::storage;
use crate::vault::auth::Authenticator;
use crate::vault::client::VaultClient;

/// Which storages a command uses, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUse {
    /// None (`status`, `restore FILE`).
    None,
    /// To list and download (`list`, `fetch`, `restore`, `prune --dry-run`).
    Read(Selection),
    /// To store and delete (`once`, `run`, `prune`).
    Write,
}

/// The storages a `--storage` argument selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every configured storage.
    All,
    /// The one with this name (`local-0`, or its `name` key).
    Named(String),
}

impl Selection {
    /// `--storage NAME`, or all of them without one.
    #[must_use]
    pub fn from_arg(name: Option<&str>) -> Self {
        name.map_or(Selection::All, |n| Selection::Named(n.to_string()))
    }
}

/// What a command uses; everything else is neither probed nor built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    /// The storages.
    pub storages: StorageUse,
    /// A storage that cannot be opened here is reported and skipped, not an error (exit 2).
    pub skip_unusable_storages: bool,
    /// `temp_dir`, to stage a download in.
    pub staging: bool,
    /// The agent's own Vault credentials (token file, AppRole secrets, Kubernetes JWT).
    pub credentials: bool,
    /// `metrics_file`, to write.
    pub metrics: bool,
    /// The config file's lock: one agent running cycles per config.
    pub lock: bool,
    /// SIGTERM, SIGINT and SIGHUP stop the command cleanly instead of killing it.
    pub signals: bool,
}

impl Needs {
    /// Nothing: the config is read and checked, nothing else is touched.
    pub const NOTHING: Needs = Needs {
        storages: StorageUse::None,
        skip_unusable_storages: false,
        staging: false,
        credentials: false,
        metrics: false,
        lock: false,
        signals: false,
    };

    /// `once` and `run`: everything, locked, stoppable.
    pub const CYCLE: Needs = Needs {
        storages: StorageUse::Write,
        staging: true,
        credentials: true,
        metrics: true,
        lock: true,
        signals: true,
        ..Needs::NOTHING
    };
}

/// A storage that could not be opened on this machine, and why.
#[derive(Debug, Clone)]
pub struct Unusable {
    /// Its name.
    pub name: String,
    /// Why (names the key and the path).
    pub error: String,
}

/// Another agent holds the config's lock: it is running cycles with this config.
#[derive(Debug)]
pub struct AlreadyRunning(pub PathBuf);

impl std::fmt::Display for AlreadyRunning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "another vault-raft-snapshot is already running cycles with {}",
            self.0.display()
        )
    }
}

impl std::error::Error for AlreadyRunning {}

/// How long a signal may take to end the work before the watchdog ends the process.
pub const STOP_GRACE: Duration = Duration::from_millis(1500);

/// What a command opened.
pub struct Session {
    config: Config,
    shutdown: Option<Shutdown>,
    stop: StopFlag,
    _lock: Option<File>,
    storages: Vec<ConfiguredStorage>,
    unusable: Vec<Unusable>,
    vault: Option<VaultClient>,
    auth: Option<Authenticator>,
    /// Whether the agent's credentials were probed (at open, or at first use).
    credentials_probed: bool,
    /// The directories this process makes temporary files in (for the watchdog).
    temp_dirs: Arc<Mutex<Vec<PathBuf>>>,
}

impl Session {
    /// Opens what `needs` names: the lock, the signal handlers, the probes, the storages,
    /// and removes what a killed agent left where this one will write.
    ///
    /// # Errors
    /// [`AlreadyRunning`] when another agent holds the lock; a [`ConfigError`] (exit 2) for a
    /// directory, file or storage that cannot be used (unless `skip_unusable_storages`); a
    /// usage error for a `--storage` name that matches no storage.
    pub fn open(config: Config, needs: &Needs) -> Result<Session> {
        let lock = if needs.lock {
            Some(
                lock_config(&config.source)?
                    .ok_or_else(|| AlreadyRunning(config.source.clone()))?,
            )
        } else {
            None
        };
        let shutdown = if needs.signals {
            Some(
                Shutdown::install()
                    .context("cannot install the SIGTERM, SIGINT and SIGHUP handlers")?,
            )
        } else {
            None
        };
        let stop = shutdown
            .as_ref()
            .map_or_else(StopFlag::never, |s| s.flag().clone());
        let mut session = Session {
            shutdown,
            stop,
            _lock: lock,
            storages: Vec::new(),
            unusable: Vec::new(),
            vault: None,
            auth: None,
            credentials_probed: false,
            temp_dirs: Arc::default(),
            config,
        };
        // The probes run in the order a cycle needs them, so the first problem named is the
        // first the cycle would meet.
        if needs.staging {
            probe::staging(&session.config)?;
        }
        session.open_storages(needs)?;
        if needs.storages == StorageUse::Write {
            probe::distinct_local_directories(&session.config)?;
        }
        if needs.metrics {
            probe::metrics_file(&session.config)?;
        }
        if needs.credentials {
            probe::vault_credentials(&session.config, &process_env)?;
            session.credentials_probed = true;
        }
        let mut dirs = Vec::new();
        if needs.staging {
            dirs.push(session.config.temp_dir.clone());
        }
        if needs.storages == StorageUse::Write {
            for s in &session.config.storages {
                if let StorageKind::Local { path } = &s.kind {
                    dirs.push(path.clone());
                }
            }
        }
        if needs.metrics {
            if let Some(file) = &session.config.metrics_file {
                let dir = file.parent().filter(|p| !p.as_os_str().is_empty());
                dirs.push(dir.map_or_else(|| PathBuf::from("."), Path::to_path_buf));
            }
        }
        for dir in dirs {
            session.writes_in(&dir);
        }
        Ok(session)
    }

    /// Probes and builds the storages `needs` names.
    fn open_storages(&mut self, needs: &Needs) -> Result<()> {
        let chosen: Vec<&StorageConfig> = match &needs.storages {
            StorageUse::None => return Ok(()),
            StorageUse::Write | StorageUse::Read(Selection::All) => {
                self.config.storages.iter().collect()
            }
            StorageUse::Read(Selection::Named(name)) => {
                vec![&self.config.storages[select_storage(&self.config.storages, name)?]]
            }
        };
        let idle = self.config.vault.idle_timeout;
        let mut storages = Vec::new();
        let mut unusable = Vec::new();
        for s in chosen {
            let writable = needs.storages == StorageUse::Write;
            let probed = probe::storage(&self.config, s, &process_env, writable);
            let opened = probed.map_err(anyhow::Error::from).and_then(|()| {
                Ok(ConfiguredStorage {
                    name: s.name.clone(),
                    storage: storage::build(s, idle)?,
                    policy: s.retention.unwrap_or(self.config.retention),
                    rebuild_from: s.reads_secrets_at_use().then(|| s.clone()),
                    idle_timeout: idle,
                })
            });
            match opened {
                Ok(configured) => storages.push(configured),
                Err(e) if needs.skip_unusable_storages => {
                    warn!(
                        "storage {} cannot be used on this machine, using the others: {e:#}",
                        s.name
                    );
                    unusable.push(Unusable {
                        name: s.name.clone(),
                        error: format!("{e:#}"),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        self.storages = storages;
        self.unusable = unusable;
        Ok(())
    }

    /// The validated config.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The flag the signals raise (never raised without `signals`).
    #[must_use]
    pub fn stop(&self) -> &StopFlag {
        &self.stop
    }

    /// True once a signal asked the command to stop.
    #[must_use]
    pub fn stop_requested(&self) -> bool {
        self.stop.requested()
    }

    /// Sleeps for `duration` or until a signal arrives; true if one did.
    pub fn sleep(&self, duration: Duration) -> bool {
        match &self.shutdown {
            Some(shutdown) => shutdown.sleep(duration),
            None => {
                std::thread::sleep(duration);
                false
            }
        }
    }

    /// Arms the last resort for a signal that arrives while the work is blocked where no
    /// stop flag reaches (a storage client in a read of its own): [`STOP_GRACE`] after the
    /// signal, this process's temporary files are removed and the process exits with `exit`.
    /// An S3 multipart upload cut off so leaves no object under a snapshot's name.
    pub fn arm_watchdog(&self, exit: Exit) {
        let Some(shutdown) = &self.shutdown else {
            return;
        };
        let dirs = Arc::clone(&self.temp_dirs);
        shutdown.watchdog(STOP_GRACE, move || {
            let dirs = dirs.lock().map(|d| d.clone()).unwrap_or_default();
            let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
            crate::leftovers::remove_own(&dirs);
            error!(
                "A storage did not let go within {STOP_GRACE:?} of the shutdown signal; exiting"
            );
            std::process::exit(i32::from(exit.code()));
        });
    }

    /// Notes that this process writes temporary files in `dir`: what a killed agent left
    /// there is removed (once), and the watchdog cleans it.
    fn writes_in(&self, dir: &Path) {
        let Ok(mut dirs) = self.temp_dirs.lock() else {
            return;
        };
        if dirs.iter().any(|d| d == dir) {
            return;
        }
        crate::leftovers::remove(&[dir]);
        dirs.push(dir.to_path_buf());
    }

    /// A new temporary file in `dir`, named under the leftovers scheme and locked while its
    /// handle is open (so no other agent takes it for a killed one's, even with the same PID);
    /// removed when dropped, and by the watchdog or the next start if the process dies first.
    ///
    /// # Errors
    /// When the file cannot be created (the message names the directory).
    pub fn temp_file_in(&self, dir: &Path) -> Result<NamedTempFile> {
        self.writes_in(dir);
        let file = tempfile::Builder::new()
            .prefix(&crate::leftovers::staging_prefix())
            .suffix(".tmp")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        crate::leftovers::lock_new(file.as_file(), file.path());
        Ok(file)
    }

    /// The storages opened, in config order.
    #[must_use]
    pub fn storages(&self) -> &[ConfiguredStorage] {
        &self.storages
    }

    /// The storages that could not be opened here (with `skip_unusable_storages`).
    #[must_use]
    pub fn unusable(&self) -> &[Unusable] {
        &self.unusable
    }

    /// The Vault client, built (and Vault's TLS files read) on first use; Vault reads end
    /// when the stop flag is raised.
    ///
    /// # Errors
    /// A [`ConfigError`] when a TLS file cannot be read or parsed.
    pub fn vault(&mut self) -> Result<&VaultClient> {
        if self.vault.is_none() {
            let mut client = VaultClient::with_stop(&self.config.vault, self.stop.clone())?;
            // With a list of nodes, a command's calls go to the active one (a cycle asks again
            // at every cycle). If none answers, the first is used and its error reported.
            if !client.nodes().is_empty() {
                match crate::vault::leader::find_active(&client) {
                    Ok((node, _)) => client.use_node(&node),
                    Err(e) => log::debug!("{e:#}"),
                }
            }
            self.vault = Some(client);
        }
        Ok(self.vault.as_ref().expect("built above"))
    }

    /// A token from the agent's own credentials (logging in when needed), read on first use.
    ///
    /// # Errors
    /// A [`crate::config::ConfigError`] when a credential cannot be read (exit 2); Vault's
    /// refusal of the login.
    pub fn agent_token(&mut self) -> Result<Secret> {
        if !self.credentials_probed {
            probe::vault_credentials(&self.config, &process_env)?;
            self.credentials_probed = true;
        }
        self.vault()?;
        let auth = self
            .auth
            .get_or_insert_with(|| Authenticator::new(self.config.auth.clone()));
        let client = self.vault.as_ref().expect("built above");
        auth.token(client)
    }

    /// Forgets the token the agent logged in for, so that it is not revoked when the session
    /// ends (after a restore, the cluster no longer knows it).
    pub fn forget_agent_token(&mut self) {
        self.auth = None;
    }

    /// The cycle's runtime: the Vault client, the agent's credentials and the storages, which
    /// move into it.
    ///
    /// # Errors
    /// As [`Session::vault`].
    pub fn agent(&mut self) -> Result<Agent> {
        let client = match self.vault.take() {
            Some(client) => client,
            None => VaultClient::with_stop(&self.config.vault, self.stop.clone())?,
        };
        let auth = self
            .auth
            .take()
            .unwrap_or_else(|| Authenticator::new(self.config.auth.clone()));
        Ok(Agent::from_parts(
            self.config.clone(),
            client,
            auth,
            std::mem::take(&mut self.storages),
        ))
    }
}

/// A token the session logged in for (`check --connect`, `restore`, `fetch` with Vault) is
/// revoked when the command ends; one the agent took over left with it (see
/// [`Session::agent`]), and a token the agent was given is not touched.
impl Drop for Session {
    fn drop(&mut self) {
        if let (Some(auth), Some(client)) = (self.auth.as_mut(), self.vault.as_ref()) {
            auth.revoke(client);
        }
    }
}

/// An exclusive advisory lock on the config file, so two agents started at once with one
/// config (a timer and a manual run, a doubled cron line) do not take the same snapshot
/// twice. The lock is on the file itself: nothing is left behind. `None` when another
/// process holds it.
fn lock_config(path: &Path) -> Result<Option<File>> {
    use std::os::fd::AsRawFd;
    let file =
        File::open(path).with_context(|| format!("cannot open {} to lock it", path.display()))?;
    // SAFETY: flock on a descriptor this function owns; it is released when `file` closes.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if locked == 0 {
        return Ok(Some(file));
    }
    let error = std::io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
        return Ok(None);
    }
    Err(error).with_context(|| format!("cannot lock {}", path.display()))
}
