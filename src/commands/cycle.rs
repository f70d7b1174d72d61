//! `once` and `run`: the snapshot cycle, once or every `frequency`, in a session that holds
//! the config's lock and stops on a signal, with the metrics after every cycle.

use std::time::Instant;

use anyhow::Result;
use log::{error, info, warn};

use crate::config::Config;
use crate::cycle::CycleOutcome;
use crate::duration;
use crate::exit::Exit;
use crate::session::{AlreadyRunning, Needs, Session};

use super::metrics_sink::{MetricsSink, cycle_of};

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
    sink.record(
        &cycle_of(&result, &agent, session.stop_requested()),
        started,
    );
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
        sink.record(
            &cycle_of(&result, &agent, session.stop_requested()),
            started,
        );
        match result {
            Ok(CycleOutcome::Taken(report)) => {
                if let Some(summary) = report.failure_summary() {
                    error!("{summary}");
                }
            }
            Ok(CycleOutcome::NotLeader) => {}
            Err(e) if super::stopped_by_signal(&e) => {
                warn!("Snapshot cycle {}: {e:#}", super::STOPPED.to_lowercase());
            }
            Err(e) => error!("Snapshot cycle failed: {e:#}"),
        }
        if session.sleep(frequency.saturating_sub(started.elapsed())) {
            break;
        }
    }
    info!("Shutdown signal received; exiting");
    Ok(Exit::Ok)
}
