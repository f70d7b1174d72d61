//! The metrics' values: the agent's own and one set per storage, and how a cycle changes them.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;

/// What the agent reports about itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentMetrics {
    /// When the last cycle ended (Unix seconds).
    pub last_cycle_timestamp: f64,
    /// How long it took.
    pub last_cycle_duration_seconds: f64,
    /// When a cycle last stored a snapshot everywhere, or found this node a standby.
    pub last_success_timestamp: f64,
    /// Whether this node was the leader at the last cycle.
    pub leader: bool,
    /// Cycles in a row that failed (0 after a success or a skip).
    pub consecutive_failures: u64,
    /// Size of the last verified snapshot.
    pub snapshot_bytes: u64,
    /// Raft index in the last verified snapshot's meta.json.
    pub raft_index: u64,
}

/// What the agent reports about one storage.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StorageMetrics {
    /// `local`, `aws`, `gcp`, `azure`.
    pub kind: String,
    /// Credential-free location.
    pub location: String,
    /// When a snapshot was last stored and checked there (Unix seconds; 0 = never).
    pub last_success_timestamp: f64,
    /// When a snapshot was last offered to it.
    pub last_attempt_timestamp: f64,
    /// Whether the last attempt (store or prune) failed.
    pub last_error: bool,
    /// Size of the last snapshot stored there.
    pub snapshot_bytes: u64,
    /// Snapshots held after the last pruning.
    pub snapshots: u64,
}

/// All metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    /// The agent's own.
    pub agent: AgentMetrics,
    /// One per configured storage.
    pub storages: Vec<StorageMetrics>,
}

/// Seconds since the Unix epoch.
#[must_use]
pub fn unix_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Metrics {
    /// The entry for a storage, created if it is new.
    pub fn storage(&mut self, kind: &str, location: &str) -> &mut StorageMetrics {
        let index = self
            .storages
            .iter()
            .position(|s| s.kind == kind && s.location == location)
            .unwrap_or_else(|| {
                self.storages.push(StorageMetrics {
                    kind: kind.into(),
                    location: location.into(),
                    ..StorageMetrics::default()
                });
                self.storages.len() - 1
            });
        &mut self.storages[index]
    }

    /// Drops the storages that are not in `present` (`(kind, location)` pairs): a storage
    /// removed from the config must not keep reporting its last success forever.
    pub fn keep_storages(&mut self, present: &[(String, String)]) {
        self.storages.retain(|s| {
            present
                .iter()
                .any(|(kind, location)| s.kind == *kind && s.location == *location)
        });
    }
}

/// One cycle, as the metrics record it.
pub struct Cycle<'a> {
    /// How it ended.
    pub result: &'a Result<crate::cycle::CycleOutcome>,
    /// Whether this agent was the one to act, when the cycle got as far as knowing.
    pub leader: Option<bool>,
    /// Whether a shutdown signal ended it.
    pub stopped: bool,
}

/// Updates `metrics` with one cycle that ended at `ended` after `duration`.
pub fn record_cycle(
    metrics: &mut Metrics,
    cycle: &Cycle<'_>,
    ended: SystemTime,
    duration: std::time::Duration,
) {
    use crate::cycle::CycleOutcome;
    let now = unix_seconds(ended);
    metrics.agent.last_cycle_timestamp = now;
    metrics.agent.last_cycle_duration_seconds = duration.as_secs_f64();
    // Leadership as observed, also in a cycle that failed after the leader check.
    if let Some(leader) = cycle.leader {
        metrics.agent.leader = leader;
    }
    let succeeded = match cycle.result {
        // A stop is not a failure: nothing is counted, the last success stays.
        Err(_) if cycle.stopped => return,
        Err(_) => false,
        Ok(CycleOutcome::NotLeader) => {
            metrics.agent.leader = false;
            true
        }
        Ok(CycleOutcome::Taken(report)) => {
            metrics.agent.leader = true;
            metrics.agent.snapshot_bytes = report.summary.archive_size;
            metrics.agent.raft_index = report.summary.index;
            for r in &report.storages {
                let s = metrics.storage(r.kind, &r.location);
                s.last_attempt_timestamp = now;
                s.last_error = r.error.is_some();
                if r.stored {
                    s.snapshot_bytes = report.summary.archive_size;
                    if r.error.is_none() {
                        s.last_success_timestamp = now;
                    }
                }
                if let Some(held) = r.held {
                    s.snapshots = held;
                }
            }
            report.storages.iter().all(|r| r.error.is_none())
        }
    };
    if succeeded {
        metrics.agent.consecutive_failures = 0;
        metrics.agent.last_success_timestamp = now;
    } else {
        metrics.agent.consecutive_failures += 1;
    }
}

/// A sample with two storages, one that succeeded and one that never did.
#[cfg(test)]
pub(super) fn sample() -> Metrics {
    let mut m = Metrics {
        agent: AgentMetrics {
            last_cycle_timestamp: 1_795_405_200.5,
            last_cycle_duration_seconds: 1.25,
            last_success_timestamp: 1_795_405_200.5,
            leader: true,
            consecutive_failures: 0,
            snapshot_bytes: 12_345,
            raft_index: 1234,
        },
        storages: Vec::new(),
    };
    let s = m.storage("local", "/var/backups/vault \"main\"");
    s.last_success_timestamp = 1_795_405_200.0;
    s.last_attempt_timestamp = 1_795_405_200.0;
    s.snapshot_bytes = 12_345;
    s.snapshots = 3;
    let t = m.storage("local", "/mnt/second");
    t.last_error = true;
    t.last_attempt_timestamp = 1_795_405_200.0;
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storages_no_longer_configured_are_dropped() {
        let mut metrics = sample();
        metrics.keep_storages(&[("local".into(), "/mnt/second".into())]);
        assert_eq!(metrics.storages.len(), 1);
        assert_eq!(metrics.storages[0].location, "/mnt/second");
    }
}
