//! One function per command; `main` only parses and maps the result to an exit code.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use log::{error, info, warn};

use crate::archive::verify::verify;
use crate::cli::{Cli, Command, Generated};
use crate::config::{Config, ConfigError, Uses};
use crate::cycle::{Agent, CycleOutcome};
use crate::docs;
use crate::duration;
use crate::metrics::{Cycle, Metrics, record_cycle};
use crate::recover::{self, RestoreOptions, RestoreSource, Wanted};
use crate::secret::Secret;
use crate::shutdown::Shutdown;
use crate::snapshot_name::utc_timestamp;

/// Exit code: done, or not the leader.
pub const EXIT_OK: u8 = 0;
/// Exit code: the cycle failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: configuration or usage error.
pub const EXIT_CONFIG: u8 = 2;

/// Runs the parsed command line and returns the process exit code.
#[must_use]
pub fn run(cli: Cli) -> ExitCode {
    let result = match &cli.command {
        Command::Verify { files } => verify_files(files),
        Command::Generate { what } => generate(what),
        Command::Once(config) => load(cli.config_path(config), Uses::ALL).and_then(once),
        Command::Run(config) => load(cli.config_path(config), Uses::ALL).and_then(run_loop),
        Command::Prune {
            dry_run,
            json,
            now,
            config,
        } => {
            // A dry run only reads the storages.
            let uses = if *dry_run {
                Uses::READ_STORAGES
            } else {
                Uses::PRUNE
            };
            load(cli.config_path(config), uses).and_then(|c| {
                let options = PruneOptions {
                    dry_run: *dry_run,
                    json: *json,
                    now: now.unwrap_or_else(SystemTime::now),
                };
                prune(&c, &options)
            })
        }
        Command::Check { connect, config } => load(cli.config_path(config), Uses::ALL)
            .and_then(|c| crate::check::check(c, *connect, &mut std::io::stdout().lock())),
        Command::Status(config) => {
            load(cli.config_path(config), Uses::NOTHING).and_then(|c| status(&c))
        }
        Command::List {
            storage,
            json,
            config,
        } => load(cli.config_path(config), Uses::READ_STORAGES)
            .and_then(|c| recover::list(&c, storage.as_deref(), *json)),
        Command::Fetch {
            snapshot,
            storage,
            output,
            config,
        } => Wanted::parse(snapshot)
            .map_err(anyhow::Error::from)
            .and_then(|wanted| {
                let c = load(cli.config_path(config), Uses::READ_STORAGES)?;
                recover::fetch(&c, wanted, storage.as_deref(), output)
            }),
        Command::Inspect { file, depth, json } => {
            recover::inspect_command(file, usize::from(*depth), *json)
        }
        Command::Restore {
            snapshot,
            storage,
            force,
            yes,
            config,
        } => RestoreSource::parse(snapshot)
            .map_err(anyhow::Error::from)
            .and_then(|source| {
                let c = load(cli.config_path(config), Uses::RESTORE)?;
                let options = RestoreOptions {
                    source,
                    storage: storage.as_deref(),
                    force: *force,
                    yes: *yes,
                    env_token: std::env::var("VAULT_TOKEN")
                        .ok()
                        .filter(|t| !t.trim().is_empty())
                        .map(|t| Secret::new(t.trim())),
                };
                recover::restore(&c, options)
            }),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            error!("{e:#}");
            if e.downcast_ref::<ConfigError>().is_some() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::from(EXIT_FAILED)
            }
        }
    }
}

fn load(path: PathBuf, uses: Uses) -> Result<Config> {
    let config = Config::load_for(&path, &|name| std::env::var(name).ok(), uses)?;
    crate::logging::set_format(config.log_format);
    for warning in &config.warnings {
        warn!("{warning}");
    }
    if config.vault.tls.skip_verify {
        warn!(
            "TLS certificate verification is OFF (tls_skip_verify / VAULT_SKIP_VERIFY): \
             anyone on the network path can impersonate Vault and read the snapshot"
        );
    }
    Ok(config)
}

fn install_shutdown() -> Result<Shutdown> {
    Shutdown::install().context("cannot install the SIGTERM, SIGINT and SIGHUP handlers")
}

/// The metrics file, if configured: loaded once (so `once` carries the last success over from
/// the previous run) and written after every cycle; and the Pushgateway, if configured,
/// which gets the same metrics after every cycle.
struct MetricsSink {
    path: Option<PathBuf>,
    push_url: Option<String>,
    metrics: Metrics,
}

impl MetricsSink {
    /// Loads the previous file, keeping only the storages `agent` has now.
    fn open(agent: &Agent) -> Self {
        let config = agent.config();
        let mut metrics = config
            .metrics_file
            .as_deref()
            .map(|path| {
                Metrics::load(path).unwrap_or_else(|e| {
                    warn!("{e:#}; starting the metrics afresh");
                    Metrics::default()
                })
            })
            .unwrap_or_default();
        let present: Vec<(String, String)> = agent
            .storages()
            .iter()
            .map(|s| (s.storage.kind().to_string(), s.storage.location()))
            .collect();
        metrics.keep_storages(&present);
        Self {
            path: config.metrics_file.clone(),
            push_url: config.metrics_push_url.clone(),
            metrics,
        }
    }

    /// Records a cycle, writes the file and pushes. A failure is logged, not fatal: the
    /// snapshot matters more than its metrics.
    fn record(&mut self, cycle: &Cycle<'_>, started: Instant) {
        if self.path.is_none() && self.push_url.is_none() {
            return;
        }
        record_cycle(
            &mut self.metrics,
            cycle,
            SystemTime::now(),
            started.elapsed(),
        );
        if let Some(Err(e)) = self.path.as_ref().map(|path| self.metrics.write(path)) {
            error!("{e:#}");
        }
        if let Some(url) = &self.push_url {
            let host = gethostname::gethostname();
            match self.metrics.push(url, &host.to_string_lossy()) {
                Ok(()) => log::debug!("pushed the metrics to {url}"),
                Err(e) => warn!("{e:#}; the cycle's result stands"),
            }
        }
    }
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
fn arm_watchdog(shutdown: &Shutdown, config: &Config, code: u8) {
    let dirs = temporary_dirs(config);
    shutdown.watchdog(STOP_GRACE, move || {
        let dirs: Vec<&std::path::Path> = dirs.iter().map(PathBuf::as_path).collect();
        crate::leftovers::remove_own(&dirs);
        error!("A storage did not let go within {STOP_GRACE:?} of the shutdown signal; exiting");
        std::process::exit(i32::from(code));
    });
}

fn once(config: Config) -> Result<u8> {
    let Some(_lock) = lock_config(&config.source)? else {
        info!("{ALREADY_RUNNING} {}; exiting", config.source.display());
        return Ok(EXIT_OK);
    };
    let shutdown = install_shutdown()?;
    remove_leftovers(&config);
    arm_watchdog(&shutdown, &config, EXIT_FAILED);
    info!("Leader check: {}", config.leader_check.describe());
    let mut agent = Agent::with_stop(config, shutdown.flag().clone())?;
    let mut sink = MetricsSink::open(&agent);
    let started = Instant::now();
    let result = agent.cycle(shutdown.flag());
    sink.record(&cycle_of(&result, &agent, &shutdown), started);
    match result? {
        CycleOutcome::NotLeader => Ok(EXIT_OK),
        CycleOutcome::Taken(report) => match report.failure_summary() {
            None => Ok(EXIT_OK),
            // Each storage's error was logged as it happened; this line only sums up.
            Some(summary) => {
                error!("{summary}");
                Ok(EXIT_FAILED)
            }
        },
    }
}

/// A cycle's result with what the metrics record beside it.
fn cycle_of<'a>(result: &'a Result<CycleOutcome>, agent: &Agent, shutdown: &Shutdown) -> Cycle<'a> {
    Cycle {
        result,
        leader: agent.observed_leader(),
        stopped: shutdown.requested(),
    }
}

fn run_loop(config: Config) -> Result<u8> {
    let Some(_lock) = lock_config(&config.source)? else {
        info!("{ALREADY_RUNNING} {}; exiting", config.source.display());
        return Ok(EXIT_OK);
    };
    let shutdown = install_shutdown()?;
    remove_leftovers(&config);
    arm_watchdog(&shutdown, &config, EXIT_OK);
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
    Ok(EXIT_OK)
}

/// How `prune` runs.
struct PruneOptions {
    dry_run: bool,
    json: bool,
    /// The time the plan is made for (`--now`, else the clock).
    now: SystemTime,
}

fn prune(config: &Config, options: &PruneOptions) -> Result<u8> {
    let agent = Agent::new(config.clone())?;
    let dry_run = options.dry_run;
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    let mut report = Vec::new();
    for configured in agent.storages() {
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
        writeln!(
            out,
            "{name} ({} {}): {} snapshot(s), {policy}",
            storage.kind(),
            storage.location(),
            decisions.len(),
        )?;
        for d in &decisions {
            let action = match (d.keep, dry_run) {
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
    Ok(if failed { EXIT_FAILED } else { EXIT_OK })
}

fn status(config: &Config) -> Result<u8> {
    let path = config.metrics_file.as_deref().ok_or_else(|| {
        ConfigError(format!(
            "{}: key \"metrics_file\" is not set; status reads the metrics file the agent writes",
            config.source.display()
        ))
    })?;
    if !path.exists() {
        return Err(anyhow!(
            "no metrics yet: {} does not exist (it is written after the first cycle)",
            path.display()
        ));
    }
    let metrics = Metrics::load(path)?;
    let now = SystemTime::now();
    let when = |seconds: f64| -> String {
        if seconds <= 0.0 {
            return "never".into();
        }
        let Some(time) = Duration::try_from_secs_f64(seconds)
            .ok()
            .and_then(|d| UNIX_EPOCH.checked_add(d))
        else {
            return format!("{seconds} (not a time)");
        };
        let age = now.duration_since(time).unwrap_or_default();
        format!(
            "{} ({} ago)",
            utc_timestamp(time),
            duration::format(Duration::from_secs(age.as_secs()))
        )
    };
    let a = &metrics.agent;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "last cycle:           {}, took {:.1}s",
        when(a.last_cycle_timestamp),
        a.last_cycle_duration_seconds
    )?;
    writeln!(
        out,
        "leader:               {}",
        if a.leader { "yes" } else { "no (standby)" }
    )?;
    writeln!(
        out,
        "last success:         {}",
        when(a.last_success_timestamp)
    )?;
    writeln!(out, "consecutive failures: {}", a.consecutive_failures)?;
    writeln!(
        out,
        "last snapshot:        Raft index {}, {} bytes",
        a.raft_index, a.snapshot_bytes
    )?;
    for s in &metrics.storages {
        writeln!(out, "storage {} {}:", s.kind, s.location)?;
        writeln!(
            out,
            "  last result:  {}",
            if s.last_error { "FAILED" } else { "ok" }
        )?;
        writeln!(out, "  last success: {}", when(s.last_success_timestamp))?;
        writeln!(out, "  last attempt: {}", when(s.last_attempt_timestamp))?;
        writeln!(
            out,
            "  snapshots:    {} held, last {} bytes",
            s.snapshots, s.snapshot_bytes
        )?;
    }
    let failed = a.consecutive_failures > 0 || metrics.storages.iter().any(|s| s.last_error);
    Ok(if failed { EXIT_FAILED } else { EXIT_OK })
}

fn generate(what: &Generated) -> Result<u8> {
    let text = match what {
        Generated::Man => docs::man_page(),
        Generated::Completions { shell } => docs::completions(*shell),
        Generated::Readme { file } => {
            let readme = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            docs::refresh_readme(&readme)
        }
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(EXIT_OK)
}

fn verify_files(files: &[PathBuf]) -> Result<u8> {
    let mut bad = 0;
    for path in files {
        let result = File::open(path)
            .with_context(|| format!("cannot open {}", path.display()))
            .and_then(|f| verify(BufReader::new(f)));
        match result {
            Ok(s) => println!(
                "{}: OK, Raft index {}, term {}, {} bytes of state",
                path.display(),
                s.index,
                s.term,
                s.state_size
            ),
            Err(e) => {
                bad += 1;
                println!("{}: BAD, {e:#}", path.display());
            }
        }
    }
    Ok(if bad == 0 { EXIT_OK } else { EXIT_FAILED })
}
