//! `once` and `run`: the snapshot cycle, once or every `frequency`, in a session that holds
//! the config's lock and stops on a signal, with the metrics after every cycle.
//!
//! After a failed cycle (Vault unreachable, a storage that did not store), `run` does not wait
//! a whole `frequency`: it tries again after `retry_interval`, doubled after each further
//! failure in a row, never waiting longer than `frequency` ([`wait_after`]).
//!
//! After its first cycle, each aborts what a killed agent's uploads left unfinished in the
//! storages ([`abort_stale_uploads`]): after, so that a storage that does not answer never
//! delays the snapshot, and with the watchdog armed, so a signal still ends a stalled request.

use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use log::{error, info, warn};

use crate::config::Config;
use crate::cycle::{Agent, CycleOutcome};
use crate::duration;
use crate::endpoint;
use crate::exit::Exit;
use crate::session::{AlreadyRunning, Needs, Session};
use crate::snapshot_name::SnapshotName;

use super::metrics_sink::{MetricsSink, cycle_of, last_cycle_of};

/// Logs the end of a cycle in which a storage did not store: an ERROR, or a warning when a
/// signal stopped the uploads (an operator's stop is not a failure to alert on).
fn log_summary(summary: &str, stopped: bool) {
    if stopped {
        warn!("{}: {summary}", super::STOPPED);
    } else {
        error!("{summary}");
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
    sink.record(
        &cycle_of(&result, &agent, session.stop_requested()),
        started,
    );
    abort_stale_uploads(&agent, &session, &result);
    match result? {
        CycleOutcome::NotLeader => Ok(Exit::Ok),
        CycleOutcome::Taken(report) => match report.failure_summary() {
            None => Ok(Exit::Ok),
            // Each storage's error was logged as it happened; this line only sums up.
            Some(summary) => {
                log_summary(&summary, session.stop_requested());
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
    let retry_interval = session.config().retry_interval;
    // Failed cycles in a row.
    let mut failures: u32 = 0;
    let mut agent = session.agent()?;
    let mut sink = MetricsSink::open(&agent);
    let endpoint = serve_endpoint(agent.config(), &sink)?;
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
        if agent.config().vault.nodes.is_empty() {
            agent.config().vault.addr.clone()
        } else {
            format!(
                "the active node of {}",
                agent.config().vault.nodes.join(", ")
            )
        },
        duration::format(frequency),
        storages.join(", ")
    );
    info!("Leader check: {}", agent.config().leader_check.describe());
    if let Some(frequency) = agent.config().drill.as_ref().and_then(|d| d.frequency) {
        super::drill::drill_config(agent.config())?;
        super::drill::read_secrets(super::drill::drill_config(agent.config())?)?;
        crate::drill::server::remove_leftovers(&agent.config().temp_dir);
        info!(
            "Restore drill every {} after a cycle that stored everywhere",
            duration::format(frequency)
        );
    }
    let mut first = true;
    loop {
        let started = Instant::now();
        let started_at = SystemTime::now();
        if let Some(endpoint) = &endpoint {
            endpoint.cycle_started();
        }
        let result = agent.cycle(session.stop());
        sink.record(
            &cycle_of(&result, &agent, session.stop_requested()),
            started,
        );
        if std::mem::take(&mut first) {
            abort_stale_uploads(&agent, &session, &result);
        }
        let last = endpoint
            .as_ref()
            .map(|_| last_cycle_of(&result, session.stop_requested()));
        let failed = match &result {
            Ok(CycleOutcome::Taken(report)) => report.failure_summary().is_some(),
            Ok(CycleOutcome::NotLeader) => false,
            Err(_) => true,
        };
        let stored = match &result {
            Ok(CycleOutcome::Taken(report)) if !failed => Some(report.name),
            _ => None,
        };
        failures = if failed {
            failures.saturating_add(1)
        } else {
            0
        };
        match result {
            Ok(CycleOutcome::Taken(report)) => {
                if let Some(summary) = report.failure_summary() {
                    log_summary(&summary, session.stop_requested());
                }
            }
            Ok(CycleOutcome::NotLeader) => {}
            Err(e) if super::stopped_by_signal(&e) => {
                warn!("Snapshot cycle {}: {e:#}", super::STOPPED.to_lowercase());
            }
            Err(e) => error!("Snapshot cycle failed: {e:#}"),
        }
        let wait = match wait_after(frequency, retry_interval, failures) {
            // On schedule: `frequency` from the start of this cycle.
            None => frequency.saturating_sub(started.elapsed()),
            Some(retry) => {
                if !session.stop_requested() {
                    info!(
                        "Trying again in {} (failure {failures} in a row)",
                        duration::format(retry)
                    );
                }
                retry
            }
        };
        if let (Some(endpoint), Some(last)) = (&endpoint, last) {
            endpoint.cycle_ended(started_at, last, sink.metrics(), wait);
        }
        // A drill when one is due, after a cycle that stored everywhere, before the wait:
        // never during a cycle, and the next cycle stays on schedule.
        let drilled = Instant::now();
        if let Some(name) = drill_due(&session, &sink, stored) {
            scheduled_drill(&session, agent.storages(), &mut sink, name);
            if let Some(endpoint) = &endpoint {
                endpoint.metrics_changed(sink.metrics());
            }
        }
        let wait = wait.saturating_sub(drilled.elapsed());
        if session.sleep(wait) {
            break;
        }
    }
    if let Some(endpoint) = &endpoint {
        endpoint.stopping();
    }
    info!("Shutdown signal received; exiting");
    Ok(Exit::Ok)
}

/// The snapshot to drill now: `stored` (the cycle's, stored everywhere) when
/// `drill.frequency` is set and the last drill (from the metrics, so a restart keeps the
/// schedule) ended at least that long ago.
fn drill_due(
    session: &Session,
    sink: &MetricsSink,
    stored: Option<SnapshotName>,
) -> Option<SnapshotName> {
    let frequency = session.config().drill.as_ref()?.frequency?;
    let name = stored?;
    if session.stop_requested() {
        return None;
    }
    let last = sink.metrics().agent.drill_last_timestamp;
    let now = crate::metrics::unix_seconds(SystemTime::now());
    (last <= 0.0 || now - last >= frequency.as_secs_f64()).then_some(name)
}

/// Drills `name` in `run`: each step logged, the result recorded in the metrics. A failed
/// drill is an ERROR naming the step, not a failed cycle.
///
/// Every failure is logged and recorded; a signal ends the loop at its sleep.
fn scheduled_drill(
    session: &Session,
    storages: &[crate::cycle::ConfiguredStorage],
    sink: &mut MetricsSink,
    name: SnapshotName,
) {
    info!("Restore drill of {name}");
    let mut log_step = |step: &crate::drill::Step| {
        info!("Drill step {}", crate::drill::step_line(step));
    };
    let source = super::drill::Source::In(storages, name);
    match super::drill::drill_snapshot(session, source, &mut log_step) {
        Ok(report) => {
            sink.record_drill(&report);
            match (report.failed_step, &report.error) {
                (None, _) => info!(
                    "Restore drill of {name} passed in {:.2}s (restored Raft index {})",
                    report.total_seconds,
                    report.restored_index.unwrap_or(0)
                ),
                (Some(step), why) => error!(
                    "Restore drill of {name} failed at step {step}: {}",
                    why.as_deref().unwrap_or("")
                ),
            }
        }
        Err(e) if super::stopped_by_signal(&e) => {
            warn!("Restore drill {}: {e:#}", super::STOPPED.to_lowercase());
        }
        // A secret that cannot be read any more: the drill failed, `run` goes on.
        Err(e) => {
            error!("Restore drill of {name} failed: {e:#}");
            sink.record_drill(&crate::drill::Report {
                snapshot: name.to_string(),
                result: "failed",
                failed_step: Some("fetch"),
                error: Some(format!("{e:#}")),
                total_seconds: 0.0,
                snapshot_index: None,
                restored_index: None,
                steps: Vec::new(),
            });
        }
    }
}

/// Aborts what a killed agent left unfinished in the storages: S3's incomplete multipart
/// uploads of our own names older than `abort_incomplete_uploads_after`. A storage that
/// cannot list or abort them is a warning, never a failed cycle; one that just failed to
/// store the cycle's snapshot is not asked again (its error was logged); a stop request skips
/// it all.
fn abort_stale_uploads(agent: &Agent, session: &Session, cycle: &Result<CycleOutcome>) {
    let older_than = agent.config().abort_incomplete_uploads_after;
    let failed: Vec<&str> = match cycle {
        Ok(CycleOutcome::Taken(report)) => report
            .storages
            .iter()
            .filter(|s| !s.stored)
            .map(|s| s.name.as_str())
            .collect(),
        _ => Vec::new(),
    };
    for s in agent.storages() {
        if session.stop_requested() {
            return;
        }
        if failed.contains(&s.name.as_str()) {
            continue;
        }
        match s.storage.abort_stale_uploads(older_than, session.stop()) {
            Ok(aborted) => {
                for line in aborted {
                    info!("{line}");
                }
            }
            Err(e) => warn!(
                "storage {}: cannot clean up incomplete uploads (a lifecycle rule can, see \
                 README): {e:#}",
                s.name
            ),
        }
    }
}

/// Binds `metrics_listen`, if set, and serves the endpoint from a thread of its own.
fn serve_endpoint(config: &Config, sink: &MetricsSink) -> Result<Option<endpoint::Published>> {
    let Some(listen) = &config.metrics_listen else {
        return Ok(None);
    };
    let listener = endpoint::bind(listen)?;
    let deadline = endpoint::deadline(config.frequency, config.vault.snapshot_timeout);
    let mut published = endpoint::Published::new(deadline, sink.metrics().clone());
    if config.metrics_vrsa_names {
        published = published.with_vrsa_names();
    }
    endpoint::serve(listener, published.clone())?;
    info!(
        "Serving /metrics, /healthz, /readyz and /status on http://{listen} (healthz deadline {})",
        duration::format(deadline)
    );
    Ok(Some(published))
}

/// How long `run` waits after `failures` failed cycles in a row: `None` after a cycle that did
/// not fail (the next one is `frequency` after this one started); else `retry_interval`,
/// doubled for each further failure, at most `frequency`.
#[must_use]
pub fn wait_after(
    frequency: Duration,
    retry_interval: Duration,
    failures: u32,
) -> Option<Duration> {
    if failures == 0 {
        return None;
    }
    let doubled = retry_interval.saturating_mul(1u32 << (failures - 1).min(30));
    Some(doubled.min(frequency))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::wait_after;

    #[test]
    fn a_failed_cycle_is_retried_soon_then_less_often_up_to_frequency() {
        let (hour, secs) = (Duration::from_secs(3600), Duration::from_secs);
        assert_eq!(wait_after(hour, secs(30), 0), None);
        let waits: Vec<_> = (1..=9)
            .map(|n| wait_after(hour, secs(30), n).unwrap().as_secs())
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(wait_after(hour, secs(30), u32::MAX), Some(hour));
        assert_eq!(wait_after(secs(10), secs(30), 1), Some(secs(10)));
    }
}
