//! The metrics' values: the agent's own and one set per storage, and how a cycle changes them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// Why the last cycle failed, while it is the last one (`None` after a success, a
    /// standby's cycle, or in a file written before reasons were): see [`reason`].
    pub last_error_reason: Option<String>,
    /// When the last restore drill ended (Unix seconds; 0: no drill yet).
    pub drill_last_timestamp: f64,
    /// Whether it passed.
    pub drill_success: bool,
    /// How long it took (the measured restore time).
    pub drill_duration_seconds: f64,
    /// The Raft index the scratch server held after it (0 when it did not get that far).
    pub drill_restored_index: u64,
}

/// Which storage a series is about: its labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageId {
    /// Its name, as `list`, `prune`, `check` and the logs show it (`aws-0`, or its `name`
    /// key): the `storage` label. Empty when read from a file written before the label held
    /// the name (see [`Metrics::keep_storages`]).
    pub name: String,
    /// `local`, `aws`, `gcp`, `azure`: the `kind` label.
    pub kind: String,
    /// Credential-free location (`/var/backups/vault`, `s3://bucket/prefix`): the `location`
    /// label.
    pub location: String,
}

impl StorageId {
    /// The labels of the storage `name`, of `kind`, at `location`.
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        kind: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            kind: kind.into(),
            location: location.into(),
        }
    }
}

/// What the agent reports about one storage.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StorageMetrics {
    /// Which storage.
    pub id: StorageId,
    /// When a snapshot was last stored and checked there (Unix seconds; 0 = never).
    pub last_success_timestamp: f64,
    /// When a snapshot was last offered to it.
    pub last_attempt_timestamp: f64,
    /// Whether the last attempt (store or prune) failed.
    pub last_error: bool,
    /// Why it failed, while it is the last attempt (see [`reason`]); `None` when it did not,
    /// or the file that recorded the failure was written before reasons were.
    pub last_error_reason: Option<String>,
    /// Attempts in a row that failed here (0 after one that stored and pruned): what tells a
    /// storage that keeps failing from one that failed once.
    pub consecutive_failures: u64,
    /// Size of the last snapshot stored there: the bytes its last successful upload wrote.
    pub snapshot_bytes: u64,
    /// Snapshots held after the last pruning.
    pub snapshots: u64,
    /// How long the last attempt here took (upload with its check, and pruning), in
    /// seconds; 0 when none is known (never attempted, or a file written before it was).
    pub last_duration_seconds: f64,
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
    pub fn storage(&mut self, id: &StorageId) -> &mut StorageMetrics {
        let index = self
            .storages
            .iter()
            .position(|s| s.id == *id)
            .unwrap_or_else(|| {
                self.storages.push(StorageMetrics {
                    id: id.clone(),
                    ..StorageMetrics::default()
                });
                self.storages.len() - 1
            });
        &mut self.storages[index]
    }
}

/// The most characters of a reason stored (and shown by `status`); a longer one is cut and
/// ends with `…`.
pub const MAX_REASON_CHARS: usize = 200;

/// The reason recorded for a failure whose caller gave none.
const NO_REASON: &str = "failed (no reason given)";

/// An error's text made fit for the metrics file, the Pushgateway and `status`: every URL in
/// it without userinfo and query values ([`super::loggable_url`]); control characters
/// escaped as `\n`, `\x1b`, `\u{202e}` (so it is one line and cannot drive a terminal;
/// backslashes stay as they are); at most [`MAX_REASON_CHARS`] characters, cut with `…`.
/// Applying it again changes nothing, so a reason read back from the file is the one written.
#[must_use]
pub fn reason(text: &str) -> String {
    let redacted = redact_urls(text.trim());
    let printable: String = redacted
        .chars()
        .flat_map(|c| {
            if c != '\\' && crate::text::needs_escape(c) {
                crate::text::escape(c.encode_utf8(&mut [0; 4]))
                    .chars()
                    .collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if printable.chars().count() <= MAX_REASON_CHARS {
        return printable;
    }
    let mut cut: String = printable.chars().take(MAX_REASON_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// `text` with every `scheme://...` in it as [`super::loggable_url`] gives it. A URL ends at
/// whitespace or a quote; punctuation that ends a sentence or a clause (`:`, `,`, `;`, `.`,
/// `)`) after it is kept after it.
fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = rest[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(at, |(i, _)| i);
        let len = rest[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`'))
            .unwrap_or(rest.len() - at);
        let end = at + len;
        if start == at {
            // No scheme before it: not a URL.
            out.push_str(&rest[..at + 3]);
            rest = &rest[at + 3..];
            continue;
        }
        let url = &rest[start..end];
        let trimmed = url.trim_end_matches([':', ',', ';', '.', ')']);
        out.push_str(&rest[..start]);
        out.push_str(&super::loggable_url(trimmed));
        out.push_str(&url[trimmed.len()..]);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// One cycle, as the metrics record it: plain values the caller reads off its own result.
#[derive(Clone, Debug, PartialEq)]
pub struct CycleRecord {
    /// How it ended.
    pub outcome: Outcome,
    /// Whether this agent was the one to act, when the cycle got as far as knowing.
    pub leader: Option<bool>,
    /// Whether a shutdown signal ended it.
    pub stopped: bool,
    /// Why it failed, when it did: the cycle's error, or the line that sums up the storages
    /// that failed. Made fit to store by [`reason`] when recorded.
    pub error: Option<String>,
}

/// How a cycle ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// With an error before the snapshot was offered to the storages (logged by the caller;
    /// the metrics record that it failed, and why: [`CycleRecord::error`]).
    Failed,
    /// Another node is the leader; nothing was done.
    NotLeader,
    /// A verified snapshot was taken and offered to every storage.
    Taken {
        /// Raft index in its meta.json.
        raft_index: u64,
        /// Its size as stored.
        snapshot_bytes: u64,
        /// What happened in each storage.
        storages: Vec<StorageRecord>,
    },
}

/// What happened to the cycle's snapshot in one storage.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageRecord {
    /// Which storage.
    pub id: StorageId,
    /// Whether the snapshot was stored and checked there.
    pub stored: bool,
    /// Snapshots it holds after pruning, when pruning ran.
    pub held: Option<u64>,
    /// Why storing or pruning failed, when it did. Made fit to store by [`reason`] when
    /// recorded.
    pub error: Option<String>,
    /// How long storing and pruning took there.
    pub duration: Duration,
}

impl Metrics {
    /// Records a restore drill that ended at `ended` after `duration`.
    pub fn record_drill(
        &mut self,
        passed: bool,
        ended: SystemTime,
        duration: Duration,
        restored_index: Option<u64>,
    ) {
        let a = &mut self.agent;
        a.drill_last_timestamp = unix_seconds(ended);
        a.drill_success = passed;
        a.drill_duration_seconds = duration.as_secs_f64();
        a.drill_restored_index = restored_index.unwrap_or(0);
    }

    /// Updates the metrics with one cycle that ended at `ended` after `duration`.
    pub fn record_cycle(&mut self, cycle: &CycleRecord, ended: SystemTime, duration: Duration) {
        let now = unix_seconds(ended);
        self.agent.last_cycle_timestamp = now;
        self.agent.last_cycle_duration_seconds = duration.as_secs_f64();
        // Leadership as observed, also in a cycle that failed after the leader check.
        if let Some(leader) = cycle.leader {
            self.agent.leader = leader;
        }
        let succeeded = match &cycle.outcome {
            // A stop is not a failure: nothing is counted, the last success stays.
            Outcome::Failed if cycle.stopped => return,
            Outcome::Failed => false,
            Outcome::NotLeader => {
                self.agent.leader = false;
                true
            }
            Outcome::Taken {
                raft_index,
                snapshot_bytes,
                storages,
            } => {
                self.agent.leader = true;
                self.agent.snapshot_bytes = *snapshot_bytes;
                self.agent.raft_index = *raft_index;
                for r in storages {
                    let s = self.storage(&r.id);
                    s.last_attempt_timestamp = now;
                    s.last_duration_seconds = r.duration.as_secs_f64();
                    s.last_error = r.error.is_some();
                    s.last_error_reason = r.error.as_deref().map(reason);
                    s.consecutive_failures = if r.error.is_some() {
                        s.consecutive_failures + 1
                    } else {
                        0
                    };
                    if r.stored {
                        s.snapshot_bytes = *snapshot_bytes;
                        if r.error.is_none() {
                            s.last_success_timestamp = now;
                        }
                    }
                    if let Some(held) = r.held {
                        s.snapshots = held;
                    }
                }
                storages.iter().all(|r| r.error.is_none())
            }
        };
        if !succeeded && cycle.stopped {
            // Stopped while storing: what each storage got is recorded above, but the stop
            // is not a failed cycle; the count and the last reason stay.
            return;
        }
        if succeeded {
            self.agent.consecutive_failures = 0;
            self.agent.last_success_timestamp = now;
            self.agent.last_error_reason = None;
        } else {
            self.agent.consecutive_failures += 1;
            self.agent.last_error_reason =
                Some(reason(cycle.error.as_deref().unwrap_or(NO_REASON)));
        }
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
            last_error_reason: None,
            ..AgentMetrics::default()
        },
        storages: Vec::new(),
    };
    let s = m.storage(&StorageId::new(
        "local-0",
        "local",
        "/var/backups/vault \"main\"",
    ));
    s.last_success_timestamp = 1_795_405_200.0;
    s.last_attempt_timestamp = 1_795_405_200.0;
    s.snapshot_bytes = 12_345;
    s.snapshots = 3;
    s.last_duration_seconds = 0.75;
    let t = m.storage(&StorageId::new("nas", "local", "/mnt/second"));
    t.last_error = true;
    t.last_error_reason =
        Some("storing the snapshot in local /mnt/second failed: \"disk\" \\ full".into());
    t.consecutive_failures = 2;
    t.last_attempt_timestamp = 1_795_405_200.0;
    t.last_duration_seconds = 30.5;
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn taken(storages: Vec<StorageRecord>) -> CycleRecord {
        let error = storages
            .iter()
            .any(|s| s.error.is_some())
            .then(|| "snapshot x was not stored or pruned in 1 of 3 storage(s)".into());
        CycleRecord {
            outcome: Outcome::Taken {
                raft_index: 99,
                snapshot_bytes: 777,
                storages,
            },
            leader: Some(true),
            stopped: false,
            error,
        }
    }

    fn stored_in(name: &str, location: &str, failed: bool) -> StorageRecord {
        StorageRecord {
            id: StorageId::new(name, "local", location),
            stored: true,
            held: Some(2),
            error: failed.then(|| format!("pruning local {location} failed: Permission denied")),
            // A failing storage is often a slow one (a timeout).
            duration: Duration::from_millis(if failed { 4000 } else { 250 }),
        }
    }

    #[test]
    fn a_taken_cycle_moves_the_successes_of_the_storages_that_stored_it() {
        let mut metrics = sample();
        metrics.agent.consecutive_failures = 3;
        let cycle = taken(vec![
            stored_in("local-0", "/var/backups/vault \"main\"", false),
            // Stored, then pruning failed: attempted, an error, no success.
            stored_in("nas", "/mnt/second", true),
            stored_in("local-2", "/mnt/new", false),
        ]);
        metrics.record_cycle(&cycle, at(2_000_000_000), Duration::from_millis(1500));
        let a = &metrics.agent;
        assert_eq!(
            (a.raft_index, a.snapshot_bytes, a.consecutive_failures),
            (99, 777, 4),
            "a storage failed: the cycle failed"
        );
        assert_eq!(a.last_cycle_timestamp, 2e9);
        assert_eq!(a.last_cycle_duration_seconds, 1.5);
        assert_eq!(a.last_success_timestamp, 1_795_405_200.5);
        let [first, second, new] = &metrics.storages[..] else {
            panic!("{:?}", metrics.storages)
        };
        assert_eq!(
            (
                first.last_success_timestamp,
                first.snapshots,
                first.last_error
            ),
            (2e9, 2, false)
        );
        assert_eq!(
            (second.last_success_timestamp, second.last_attempt_timestamp),
            (0.0, 2e9)
        );
        assert!(second.last_error && second.snapshot_bytes == 777);
        assert_eq!(
            second.last_error_reason.as_deref(),
            Some("pruning local /mnt/second failed: Permission denied")
        );
        assert_eq!(first.last_error_reason, None);
        assert_eq!(
            a.last_error_reason.as_deref(),
            Some("snapshot x was not stored or pruned in 1 of 3 storage(s)")
        );
        assert_eq!(
            (first.consecutive_failures, second.consecutive_failures),
            (0, 3),
            "the storage that failed twice before has failed three times in a row"
        );
        assert_eq!(new.id, StorageId::new("local-2", "local", "/mnt/new"));
        assert_eq!(new.last_success_timestamp, 2e9);
        assert_eq!(
            (
                first.last_duration_seconds,
                second.last_duration_seconds,
                new.last_duration_seconds
            ),
            (0.25, 4.0, 0.25),
            "each storage's own time, also of one that failed"
        );
        assert_eq!(new.snapshot_bytes, 777, "the bytes its upload wrote");

        // Everywhere stored: a success, the failures reset.
        let cycle = taken(vec![stored_in("nas", "/mnt/second", false)]);
        metrics.record_cycle(&cycle, at(2_000_000_060), Duration::ZERO);
        assert_eq!(metrics.agent.consecutive_failures, 0);
        assert_eq!(metrics.agent.last_success_timestamp, 2_000_000_060.0);
        assert!(!metrics.storages[1].last_error);
        assert_eq!(
            metrics.storages[1].last_error_reason, None,
            "a success clears it"
        );
        assert_eq!(metrics.agent.last_error_reason, None, "a success clears it");
        assert_eq!(metrics.storages[1].consecutive_failures, 0);
    }

    #[test]
    fn a_failure_counts_a_stop_does_not_and_a_standby_is_a_success() {
        let mut metrics = sample();
        let failed = CycleRecord {
            outcome: Outcome::Failed,
            leader: Some(true),
            stopped: false,
            error: Some(
                "Vault answered 503 to GET https://vault:8200/v1/sys/leader: Vault is sealed"
                    .into(),
            ),
        };
        metrics.record_cycle(&failed, at(2_000_000_000), Duration::ZERO);
        assert_eq!(metrics.agent.consecutive_failures, 1);
        let sealed = "Vault answered 503 to GET https://vault:8200/v1/sys/leader: Vault is sealed";
        assert_eq!(metrics.agent.last_error_reason.as_deref(), Some(sealed));
        assert!(metrics.agent.leader, "the leader check had passed");
        assert_eq!(metrics.agent.last_success_timestamp, 1_795_405_200.5);

        let stopped = CycleRecord {
            stopped: true,
            leader: None,
            error: Some(format!("downloading the snapshot: {}", "interrupted")),
            ..failed
        };
        metrics.record_cycle(&stopped, at(2_000_000_060), Duration::ZERO);
        assert_eq!(metrics.agent.consecutive_failures, 1);
        assert_eq!(metrics.agent.last_cycle_timestamp, 2_000_000_060.0);
        assert_eq!(
            metrics.agent.last_error_reason.as_deref(),
            Some(sealed),
            "a stop is no error: the last error stays the last error"
        );

        // Stopped while storing: the storage's own failure is recorded, the cycle's is not.
        let stopped_storing = CycleRecord {
            stopped: true,
            error: Some("snapshot x was not stored or pruned in 1 of 1 storage(s)".into()),
            ..taken(vec![stored_in("nas", "/mnt/second", true)])
        };
        metrics.record_cycle(&stopped_storing, at(2_000_000_090), Duration::ZERO);
        assert_eq!(metrics.agent.consecutive_failures, 1);
        assert_eq!(metrics.agent.last_error_reason.as_deref(), Some(sealed));
        assert!(metrics.storages[1].last_error_reason.is_some());

        let standby = CycleRecord {
            outcome: Outcome::NotLeader,
            leader: Some(false),
            stopped: false,
            error: None,
        };
        let before = metrics.storages.clone();
        metrics.record_cycle(&standby, at(2_000_000_120), Duration::ZERO);
        assert!(!metrics.agent.leader);
        assert_eq!(metrics.agent.consecutive_failures, 0);
        assert_eq!(metrics.agent.last_success_timestamp, 2_000_000_120.0);
        assert_eq!(metrics.storages, before, "a standby touches no storage");
        assert_eq!(metrics.agent.last_error_reason, None);
    }

    #[test]
    fn a_reason_is_one_bounded_line_without_secrets() {
        // URLs lose their userinfo and query values, wherever they are in the text.
        assert_eq!(
            reason(
                "POST https://u:pa55@gw:9091/p?token=s3cr3t&x failed: \
                 see 'http://h/a?sig=abc' (or http://h/b?k=v), ftp://x:y@h:"
            ),
            "POST https://gw:9091/p?token=<redacted>&x failed: \
             see 'http://h/a?sig=<redacted>' (or http://h/b?k=<redacted>), ftp://h:"
        );
        assert_eq!(reason("not a url: ://x a://"), "not a url: ://x a://");
        // One line; nothing that drives a terminal; backslashes kept as they are.
        assert_eq!(
            reason("  line\nforged\r\x1b[2J \u{202e} C:\\dir \"q\"\n"),
            "line\\nforged\\r\\x1b[2J \\u{202e} C:\\dir \"q\""
        );
        // Bounded, in characters, with an ellipsis.
        let long = "é".repeat(500);
        let cut = reason(&long);
        assert_eq!(cut.chars().count(), MAX_REASON_CHARS);
        assert!(cut.ends_with("é…"), "{cut}");
        assert_eq!(
            reason(&"x".repeat(MAX_REASON_CHARS)),
            "x".repeat(MAX_REASON_CHARS)
        );
        // A URL cut by the bound is redacted before it is cut.
        let near_end = format!(
            "{} https://user:password@host/ {}",
            "x".repeat(185),
            "y".repeat(50)
        );
        assert!(!reason(&near_end).contains("user"), "{}", reason(&near_end));
        // Idempotent: what is read back is what was written.
        for text in [
            "GET http://h/a?token=s3cr3t: 503\n\x07",
            long.as_str(),
            near_end.as_str(),
            "a\\b \\x1b",
        ] {
            let once = reason(text);
            assert_eq!(reason(&once), once, "{text:?}");
        }
    }
}
