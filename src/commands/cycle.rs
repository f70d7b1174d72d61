//! `once` and `run`: the snapshot cycle, once or every `frequency`, in a session that holds
//! the config's lock and stops on a signal, with the metrics after every cycle.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use anyhow::Result;
use log::{error, info, warn};

use crate::config::Config;
use crate::cycle::{Agent, CycleOutcome};
use crate::duration;
use crate::exit::Exit;
use crate::metrics::{Cycle, Metrics, record_cycle};
use crate::session::{AlreadyRunning, Needs, Session};

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

/// The line logged when another agent holds the config's lock.
pub const ALREADY_RUNNING: &str = "another vault-raft-snapshot is already running cycles with";

/// Opens the cycle's session; `None` when another agent holds the config's lock.
fn open(config: Config) -> Result<Option<Session>> {
    match Session::open(config, &Needs::CYCLE) {
        Ok(session) => Ok(Some(session)),
        Err(e) => match e.downcast::<AlreadyRunning>() {
            Ok(running) => {
                info!("{running}; exiting");
                Ok(None)
            }
            Err(e) => Err(e),
        },
    }
}

pub fn once(config: Config) -> Result<Exit> {
    let Some(mut session) = open(config)? else {
        return Ok(Exit::Ok);
    };
    session.arm_watchdog(Exit::Failed);
    info!("Leader check: {}", session.config().leader_check.describe());
    let mut agent = session.agent()?;
    let mut sink = MetricsSink::open(&agent);
    let started = Instant::now();
    let result = agent.cycle(session.stop());
    sink.record(&cycle_of(&result, &agent, &session), started);
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

/// A cycle's result with what the metrics record beside it.
fn cycle_of<'a>(result: &'a Result<CycleOutcome>, agent: &Agent, session: &Session) -> Cycle<'a> {
    Cycle {
        result,
        leader: agent.observed_leader(),
        stopped: session.stop_requested(),
    }
}

pub fn run(config: Config) -> Result<Exit> {
    let Some(mut session) = open(config)? else {
        return Ok(Exit::Ok);
    };
    session.arm_watchdog(Exit::Ok);
    let frequency = session.config().frequency;
    let mut agent = session.agent()?;
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
        let result = agent.cycle(session.stop());
        sink.record(&cycle_of(&result, &agent, &session), started);
        match result {
            Ok(CycleOutcome::Taken(report)) => {
                if let Some(summary) = report.failure_summary() {
                    error!("{summary}");
                }
            }
            Ok(CycleOutcome::NotLeader) => {}
            Err(e) => error!("Snapshot cycle failed: {e:#}"),
        }
        if session.sleep(frequency.saturating_sub(started.elapsed())) {
            break;
        }
    }
    info!("Shutdown signal received; exiting");
    Ok(Exit::Ok)
}
