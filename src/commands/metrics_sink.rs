//! Where `once` and `run` send their metrics: the metrics file and the Pushgateway, and the
//! conversion of a cycle's result into the plain [`CycleRecord`] the metrics module records
//! (which knows nothing of [`crate::cycle`]).

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use anyhow::Result;
use log::{error, warn};

use crate::cycle::{Agent, CycleOutcome, StorageResult};
use crate::endpoint::{CycleResult, LastCycle, StorageStatus};
use crate::metrics::{CycleRecord, Metrics, Outcome, StorageId, StorageRecord};

/// The metrics file, if configured: loaded once (so `once` carries the last success over from
/// the previous run) and written after every cycle; and the Pushgateway, if configured,
/// which gets the same metrics after every cycle.
pub(super) struct MetricsSink {
    path: Option<PathBuf>,
    push_url: Option<String>,
    metrics: Metrics,
}

impl MetricsSink {
    /// Loads the previous file, keeping only the storages `agent` has now.
    pub(super) fn open(agent: &Agent) -> Self {
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
        let present: Vec<StorageId> = agent
            .storages()
            .iter()
            .map(|s| StorageId::new(&s.name, s.storage.kind(), s.storage.location()))
            .collect();
        metrics.keep_storages(&present);
        Self {
            path: config.metrics_file.clone(),
            push_url: config.metrics_push_url.clone(),
            metrics,
        }
    }

    /// Records a restore drill, writes the file and pushes.
    pub(super) fn record_drill(&mut self, report: &crate::drill::Report) {
        self.metrics.record_drill(
            report.passed(),
            SystemTime::now(),
            std::time::Duration::from_secs_f64(report.total_seconds),
            report.restored_index,
        );
        self.flush();
    }

    /// Records a cycle, writes the file and pushes. A failure is logged, not fatal: the
    /// snapshot matters more than its metrics.
    pub(super) fn record(&mut self, cycle: &CycleRecord, started: Instant) {
        // Recorded also when neither is configured: the endpoint serves them.
        self.metrics
            .record_cycle(cycle, SystemTime::now(), started.elapsed());
        self.flush();
    }

    /// Writes the file and pushes.
    fn flush(&self) {
        if let Some(Err(e)) = self.path.as_ref().map(|path| self.metrics.write(path)) {
            error!("{e:#}");
        }
        if let Some(url) = &self.push_url {
            let host = gethostname::gethostname();
            match self.metrics.push(url, &host.to_string_lossy()) {
                Ok(()) => log::debug!(
                    "pushed the metrics to {}",
                    crate::metrics::loggable_url(url)
                ),
                Err(e) => warn!("{e:#}; the cycle's result stands"),
            }
        }
    }

    /// The metrics after the last cycle, for the endpoint.
    pub(super) fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// A cycle's result as the endpoint's `/status` shows it.
pub(super) fn last_cycle_of(result: &Result<CycleOutcome>, stopped: bool) -> LastCycle {
    let (result, error, snapshot, storages) = match result {
        Err(e) => (
            if stopped {
                CycleResult::Stopped
            } else {
                CycleResult::Failed
            },
            Some(format!("{e:#}")),
            None,
            Vec::new(),
        ),
        Ok(CycleOutcome::NotLeader) => (CycleResult::NotLeader, None, None, Vec::new()),
        Ok(CycleOutcome::Taken(report)) => {
            let summary = report.failure_summary();
            let result = match (&summary, stopped) {
                (None, _) => CycleResult::Success,
                (Some(_), true) => CycleResult::Stopped,
                (Some(_), false) => CycleResult::Failed,
            };
            let storages = report
                .storages
                .iter()
                .map(|r| StorageStatus {
                    name: r.name.clone(),
                    kind: r.kind.to_string(),
                    location: r.location.clone(),
                    stored: r.stored,
                    snapshots: r.held,
                    error: r.error.clone(),
                })
                .collect();
            (result, summary, Some(report.name.to_string()), storages)
        }
    };
    LastCycle {
        result,
        error,
        snapshot,
        storages,
    }
}

/// A cycle's result with what the metrics record beside it.
pub(super) fn cycle_of(result: &Result<CycleOutcome>, agent: &Agent, stopped: bool) -> CycleRecord {
    CycleRecord {
        outcome: outcome_of(result, stopped),
        leader: agent.observed_leader(),
        stopped,
        error: error_of(result),
    }
}

/// Why the cycle failed, as it was logged: its error with its causes, or the line that sums
/// up the storages that failed (each storage's own error is in its [`StorageRecord`]).
fn error_of(result: &Result<CycleOutcome>) -> Option<String> {
    match result {
        Err(e) => Some(format!("{e:#}")),
        Ok(CycleOutcome::NotLeader) => None,
        Ok(CycleOutcome::Taken(report)) => report.failure_summary(),
    }
}

/// True for the error of a storage that a shutdown signal cut off.
fn interrupted(error: &str) -> bool {
    error.contains(crate::shutdown::INTERRUPTED)
}

/// How the cycle ended, in the metrics' terms. In a cycle a signal `stopped`, a storage the
/// stop cut off is left out: it was not tried to the end, so its last real attempt, and that
/// attempt's error if any, stand.
fn outcome_of(result: &Result<CycleOutcome>, stopped: bool) -> Outcome {
    let cut_off = |r: &&StorageResult| stopped && r.error.as_deref().is_some_and(interrupted);
    match result {
        Err(_) => Outcome::Failed,
        Ok(CycleOutcome::NotLeader) => Outcome::NotLeader,
        Ok(CycleOutcome::Taken(report)) => Outcome::Taken {
            raft_index: report.summary.index,
            snapshot_bytes: report.summary.archive_size,
            storages: report
                .storages
                .iter()
                .filter(|r| !cut_off(r))
                .map(|r| StorageRecord {
                    id: StorageId::new(&r.name, r.kind, &r.location),
                    stored: r.stored,
                    held: r.held,
                    error: r.error.clone(),
                    duration: r.duration,
                })
                .collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::archive::verify::SnapshotSummary;
    use crate::cycle::CycleReport;
    use crate::snapshot_name::SnapshotName;

    #[test]
    fn a_cycle_result_becomes_the_record_of_its_outcome_and_storages() {
        assert_eq!(
            outcome_of(&Err(anyhow::anyhow!("Vault is sealed")), false),
            Outcome::Failed
        );
        assert_eq!(
            error_of(&Err(
                anyhow::anyhow!("Vault is sealed").context("checking leadership")
            )),
            Some("checking leadership: Vault is sealed".into()),
            "the causes are part of the reason"
        );
        assert_eq!(
            outcome_of(&Ok(CycleOutcome::NotLeader), false),
            Outcome::NotLeader
        );
        assert_eq!(error_of(&Ok(CycleOutcome::NotLeader)), None);
        let report = CycleReport {
            name: SnapshotName::at(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            summary: SnapshotSummary {
                index: 1234,
                term: 3,
                state_size: 10,
                archive_size: 5000,
            },
            storages: vec![
                StorageResult {
                    name: "local-0".into(),
                    kind: "local",
                    location: "/snaps".into(),
                    stored: true,
                    held: Some(4),
                    error: None,
                    duration: Duration::from_millis(1250),
                },
                StorageResult {
                    name: "offsite".into(),
                    kind: "aws",
                    location: "s3://bucket/raft".into(),
                    stored: false,
                    held: None,
                    error: Some("storing the snapshot in aws s3://bucket/raft failed".into()),
                    duration: Duration::from_secs(30),
                },
            ],
        };
        let taken = Ok(CycleOutcome::Taken(report));
        assert_eq!(
            error_of(&taken).unwrap(),
            "snapshot raft_snapshot-1700000000000000000.snap was not stored or pruned \
             in 1 of 2 storage(s): aws s3://bucket/raft"
        );
        assert_eq!(
            outcome_of(&taken, false),
            Outcome::Taken {
                raft_index: 1234,
                snapshot_bytes: 5000,
                storages: vec![
                    StorageRecord {
                        id: StorageId::new("local-0", "local", "/snaps"),
                        stored: true,
                        held: Some(4),
                        error: None,
                        duration: Duration::from_millis(1250),
                    },
                    StorageRecord {
                        id: StorageId::new("offsite", "aws", "s3://bucket/raft"),
                        stored: false,
                        held: None,
                        error: Some("storing the snapshot in aws s3://bucket/raft failed".into()),
                        duration: Duration::from_secs(30),
                    },
                ],
            }
        );
        // Stopped: a storage the stop cut off is left out, one that failed on its own is not.
        let Ok(CycleOutcome::Taken(mut report)) = taken else {
            unreachable!()
        };
        report.storages[0].error = Some(format!(
            "local /snaps: not stored, {}",
            crate::shutdown::INTERRUPTED
        ));
        let stopped = Ok(CycleOutcome::Taken(report));
        let Outcome::Taken { storages, .. } = outcome_of(&stopped, true) else {
            panic!()
        };
        let names: Vec<&str> = storages.iter().map(|s| s.id.name.as_str()).collect();
        assert_eq!(names, ["offsite"]);
        let Outcome::Taken { storages, .. } = outcome_of(&stopped, false) else {
            panic!()
        };
        assert_eq!(storages.len(), 2, "not stopped: an error like any other");
    }
}
