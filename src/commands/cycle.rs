//! `once` and `run`: the snapshot cycle, once or every `frequency`, with the config's lock,
//! signal handling, leftovers removal and the metrics after every cycle.

use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use log::{error, info};

use crate::config::Config;
use crate::cycle::{Agent, CycleOutcome};
use crate::duration;
use crate::exit::Exit;
use crate::shutdown::Shutdown;

use super::metrics_sink::{MetricsSink, cycle_of};

fn install_shutdown() -> Result<Shutdown> {
    Shutdown::install().context("cannot install the SIGTERM, SIGINT and SIGHUP handlers")
}

/// An exclusive advisory lock on the config file, held while cycles run, so two agents
/// started at once with one config (a timer and a manual run, a doubled cron line) do not
/// take the same snapshot twice. The lock is on the file itself: nothing is left behind.
/// `None` when another process holds it.
fn lock_config(path: &std::path::Path) -> Result<Option<File>> {
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

/// The line logged when another agent holds the config's lock.
pub const ALREADY_RUNNING: &str = "another vault-raft-snapshot is already running cycles with";

/// The directories this agent writes temporary files to: `temp_dir`, the local storages,
/// the metrics file's.
fn temporary_dirs(config: &Config) -> Vec<PathBuf> {
    let mut dirs = vec![config.temp_dir.clone()];
    for storage in &config.storages {
        if let crate::config::StorageKind::Local { path } = &storage.kind {
            dirs.push(path.clone());
        }
    }
    if let Some(file) = &config.metrics_file {
        let dir = file.parent().filter(|p| !p.as_os_str().is_empty());
        dirs.push(dir.map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf));
    }
    dirs
}

/// Removes what an agent that was killed left in the directories this one writes to.
fn remove_leftovers(config: &Config) {
    let dirs = temporary_dirs(config);
    let dirs: Vec<&std::path::Path> = dirs.iter().map(PathBuf::as_path).collect();
    crate::leftovers::remove(&dirs);
}

/// How long a signal may take to end a cycle before the watchdog ends the process.
const STOP_GRACE: Duration = Duration::from_millis(1500);

/// Arms the last resort for a signal that arrives while a storage client is blocked where no
/// stop flag reaches (S3's client waits up to its own read timeout): after [`STOP_GRACE`], our
/// temporary files are removed and the process exits with `code`. An upload cut off so leaves
/// no object under a snapshot's name: an unfinished S3 multipart upload stays until the
/// bucket's lifecycle rule aborts it; Azure's uncommitted blocks and a GCS resumable session
/// expire on their own.
fn arm_watchdog(shutdown: &Shutdown, config: &Config, exit: Exit) {
    let dirs = temporary_dirs(config);
    shutdown.watchdog(STOP_GRACE, move || {
        let dirs: Vec<&std::path::Path> = dirs.iter().map(PathBuf::as_path).collect();
        crate::leftovers::remove_own(&dirs);
        error!("A storage did not let go within {STOP_GRACE:?} of the shutdown signal; exiting");
        std::process::exit(i32::from(exit.code()));
    });
}

pub fn once(config: Config) -> Result<Exit> {
    let Some(_lock) = lock_config(&config.source)? else {
        info!("{ALREADY_RUNNING} {}; exiting", config.source.display());
        return Ok(Exit::Ok);
    };
    let shutdown = install_shutdown()?;
    remove_leftovers(&config);
    arm_watchdog(&shutdown, &config, Exit::Failed);
    info!("Leader check: {}", config.leader_check.describe());
    let mut agent = Agent::with_stop(config, shutdown.flag().clone())?;
    let mut sink = MetricsSink::open(&agent);
    let started = Instant::now();
    let result = agent.cycle(shutdown.flag());
    sink.record(&cycle_of(&result, &agent, &shutdown), started);
    match result? {
        CycleOutcome::NotLeader => Ok(Exit::Ok),
        CycleOutcome::Taken(report) => match report.failure_summary() {
            None => Ok(Exit::Ok),
            // Each storage's error was logged as it happened; this line only sums up.
            Some(summary) => {
                error!("{summary}");
                Ok(Exit::Failed)
            }
        },
    }
}

pub fn run(config: Config) -> Result<Exit> {
    let Some(_lock) = lock_config(&config.source)? else {
        info!("{ALREADY_RUNNING} {}; exiting", config.source.display());
        return Ok(Exit::Ok);
    };
    let shutdown = install_shutdown()?;
    remove_leftovers(&config);
    arm_watchdog(&shutdown, &config, Exit::Ok);
    let frequency = config.frequency;
    let mut agent = Agent::with_stop(config, shutdown.flag().clone())?;
    let mut sink = MetricsSink::open(&agent);
    let storages: Vec<String> = agent
        .storages()
        .iter()
        .map(|s| {
            format!(
                "{} {} ({})",
                s.storage.kind(),
                s.storage.location(),
                s.policy
            )
        })
        .collect();
    info!(
        "Taking a snapshot of {} every {}, stored in {}",
        agent.config().vault.addr,
        duration::format(frequency),
        storages.join(", ")
    );
    info!("Leader check: {}", agent.config().leader_check.describe());
    loop {
        let started = Instant::now();
        let result = agent.cycle(shutdown.flag());
        sink.record(&cycle_of(&result, &agent, &shutdown), started);
        match result {
            Ok(CycleOutcome::Taken(report)) => {
                if let Some(summary) = report.failure_summary() {
                    error!("{summary}");
                }
            }
            Ok(CycleOutcome::NotLeader) => {}
            Err(e) => error!("Snapshot cycle failed: {e:#}"),
        }
        if shutdown.sleep(frequency.saturating_sub(started.elapsed())) {
            break;
        }
    }
    info!("Shutdown signal received; exiting");
    Ok(Exit::Ok)
}
