//! One function per command; `main` only parses and maps the result to an exit code.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, anyhow};
use log::{error, info, warn};

use crate::archive::verify::verify;
use crate::cli::{Cli, Command};
use crate::config::{Config, ConfigError};
use crate::cycle::{Agent, CycleOutcome};
use crate::duration;
use crate::retention::RetentionPolicy;
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
    let result = match cli.command {
        Command::Verify { files } => verify_files(&files),
        command => load(cli.config).and_then(|config| match command {
            Command::Once => once(config),
            Command::Run => run_loop(config),
            Command::Prune { dry_run } => prune(&config, dry_run),
            Command::Verify { .. } => unreachable!("handled above"),
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

fn load(path: PathBuf) -> Result<Config> {
    let config = Config::load(&path, &|name| std::env::var(name).ok())?;
    if config.vault.tls_skip_verify {
        warn!(
            "TLS certificate verification is OFF (tls_skip_verify / VAULT_SKIP_VERIFY): \
             anyone on the network path can impersonate Vault and read the snapshot"
        );
    }
    Ok(config)
}

fn install_shutdown() -> Result<Shutdown> {
    Shutdown::install().context("cannot install the SIGTERM/SIGINT handlers")
}

fn once(config: Config) -> Result<u8> {
    let shutdown = install_shutdown()?;
    let mut agent = Agent::new(config);
    match agent.cycle(&shutdown)? {
        CycleOutcome::NotLeader => Ok(EXIT_OK),
        CycleOutcome::Taken(report) if report.failures.is_empty() => Ok(EXIT_OK),
        CycleOutcome::Taken(report) => Err(anyhow!(
            "snapshot {} was not stored everywhere: {}",
            report.name,
            report.failures.join("; ")
        )),
    }
}

fn run_loop(config: Config) -> Result<u8> {
    let shutdown = install_shutdown()?;
    let frequency = config.frequency;
    let mut agent = Agent::new(config);
    let storages: Vec<String> = agent
        .storages()
        .iter()
        .map(|s| format!("{} {}", s.kind(), s.location()))
        .collect();
    info!(
        "Taking a snapshot of {} every {}, stored in {}, retain {}",
        agent.config().vault.addr,
        duration::format(frequency),
        storages.join(", "),
        agent.config().retain
    );
    loop {
        let started = Instant::now();
        match agent.cycle(&shutdown) {
            Ok(CycleOutcome::Taken(report)) if !report.failures.is_empty() => error!(
                "Snapshot {} was not stored everywhere: {}",
                report.name,
                report.failures.join("; ")
            ),
            Ok(_) => {}
            Err(e) => error!("Snapshot cycle failed: {e:#}"),
        }
        if shutdown.sleep(frequency.saturating_sub(started.elapsed())) {
            break;
        }
    }
    info!("Shutdown signal received; exiting");
    Ok(EXIT_OK)
}

fn prune(config: &Config, dry_run: bool) -> Result<u8> {
    let agent = Agent::new(config.clone());
    let policy = RetentionPolicy {
        retain: config.retain,
    };
    let now = SystemTime::now();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = false;
    for storage in agent.storages() {
        let decisions = match crate::prune::prune(storage.as_ref(), policy, now, dry_run) {
            Ok(decisions) => decisions,
            Err(e) => {
                error!("{e:#}");
                failed = true;
                continue;
            }
        };
        let doomed = decisions.iter().filter(|d| !d.keep).count();
        writeln!(
            out,
            "{} {}: {} snapshot(s), retain {}",
            storage.kind(),
            storage.location(),
            decisions.len(),
            config.retain
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
                d.reason
            )?;
        }
        let summary = match (doomed, dry_run) {
            (0, _) => "nothing to delete".to_string(),
            (n, true) => format!("would delete {n} snapshot(s); dry run, nothing was deleted"),
            (n, false) => format!("deleted {n} snapshot(s)"),
        };
        writeln!(out, "  {summary}")?;
    }
    Ok(if failed { EXIT_FAILED } else { EXIT_OK })
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
