//! Which snapshots to keep: one pure function, used by every storage and by `prune`.
//!
//! The policy is the original agent's `retain`: keep the newest N snapshots, by the time in
//! their names; 0 keeps all. [`plan`] does no I/O and takes `now` as a parameter, so it is
//! tested on its own and `prune --dry-run` shows exactly what a real run would do.
//!
//! Two rules make it safe beyond the original agent's:
//! - it only ever sees names we generated (see [`crate::snapshot_name`]);
//! - a snapshot dated after `now` (a clock that was wrong, or jumped back) is kept and does
//!   not count toward `retain`. Otherwise a clock set back by a day would make every new
//!   snapshot "older" than the future-dated ones, and the snapshot just stored would be the
//!   first to go.

use std::fmt;
use std::time::SystemTime;

use crate::snapshot_name::SnapshotEntry;
#[cfg(test)]
use crate::snapshot_name::SnapshotName;

/// How many snapshots a storage keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Keep the newest `retain` snapshots; 0 keeps all.
    pub retain: u64,
}

/// Why a snapshot is kept or deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `retain` is 0: everything is kept.
    KeepAll,
    /// Among the newest `retain`; `rank` 1 is the newest.
    Newest {
        /// 1-based position, newest first.
        rank: u64,
        /// The policy's `retain`.
        retain: u64,
    },
    /// Its name is dated after `now`; kept, and not counted.
    DatedInFuture,
    /// Older than the newest `retain`.
    BeyondRetain {
        /// 1-based position, newest first.
        rank: u64,
        /// The policy's `retain`.
        retain: u64,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::KeepAll => f.write_str("retain is 0: all snapshots are kept"),
            Reason::Newest { rank, retain } => write!(f, "newest {rank} of {retain} retained"),
            Reason::DatedInFuture => f.write_str("dated in the future (check the clock); kept"),
            Reason::BeyondRetain { rank, retain } => {
                write!(f, "number {rank} by age, beyond retain {retain}")
            }
        }
    }
}

/// The decision for one snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The snapshot.
    pub entry: SnapshotEntry,
    /// Whether it stays.
    pub keep: bool,
    /// Why.
    pub reason: Reason,
}

/// Decides, for every entry, whether it stays. Returns the entries newest first.
///
/// Pure: no I/O, and `now` is a parameter.
#[must_use]
pub fn plan(entries: &[SnapshotEntry], policy: RetentionPolicy, now: SystemTime) -> Vec<Decision> {
    let mut sorted = entries.to_vec();
    sorted.sort_by_key(|e| std::cmp::Reverse(e.name));
    sorted.dedup_by(|a, b| a.name == b.name);
    let mut rank = 0;
    sorted
        .into_iter()
        .map(|entry| {
            let (keep, reason) = if entry.name.time() > now {
                (true, Reason::DatedInFuture)
            } else if policy.retain == 0 {
                (true, Reason::KeepAll)
            } else {
                rank += 1;
                let retain = policy.retain;
                if rank <= retain {
                    (true, Reason::Newest { rank, retain })
                } else {
                    (false, Reason::BeyondRetain { rank, retain })
                }
            };
            Decision {
                entry,
                keep,
                reason,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn entry(secs: u64) -> SnapshotEntry {
        SnapshotEntry {
            name: SnapshotName::at(UNIX_EPOCH + Duration::from_secs(secs)),
            size: secs,
        }
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn kept(decisions: &[Decision]) -> Vec<u64> {
        decisions
            .iter()
            .filter(|d| d.keep)
            .map(|d| d.entry.size)
            .collect()
    }

    fn deleted(decisions: &[Decision]) -> Vec<u64> {
        decisions
            .iter()
            .filter(|d| !d.keep)
            .map(|d| d.entry.size)
            .collect()
    }

    #[test]
    fn keeps_the_newest_n_whatever_the_input_order() {
        let entries = [entry(300), entry(100), entry(500), entry(200), entry(400)];
        let decisions = plan(&entries, RetentionPolicy { retain: 2 }, at(1000));
        assert_eq!(kept(&decisions), [500, 400]);
        assert_eq!(deleted(&decisions), [300, 200, 100]);
        assert_eq!(decisions[0].reason, Reason::Newest { rank: 1, retain: 2 });
        assert_eq!(
            decisions[4].reason,
            Reason::BeyondRetain { rank: 5, retain: 2 }
        );
    }

    #[test]
    fn retain_zero_keeps_everything() {
        let entries = [entry(1), entry(2), entry(3)];
        let decisions = plan(&entries, RetentionPolicy { retain: 0 }, at(10));
        assert!(
            decisions
                .iter()
                .all(|d| d.keep && d.reason == Reason::KeepAll)
        );
    }

    #[test]
    fn fewer_than_retain_deletes_nothing() {
        let decisions = plan(&[entry(1), entry(2)], RetentionPolicy { retain: 5 }, at(10));
        assert_eq!(kept(&decisions), [2, 1]);
    }

    #[test]
    fn empty_input_gives_an_empty_plan() {
        assert!(plan(&[], RetentionPolicy { retain: 3 }, at(10)).is_empty());
    }

    #[test]
    fn future_dated_snapshots_are_kept_and_not_counted() {
        // The clock went back: 900 and 800 are "in the future" at now=500.
        let entries = [entry(900), entry(800), entry(400), entry(300), entry(200)];
        let decisions = plan(&entries, RetentionPolicy { retain: 2 }, at(500));
        assert_eq!(kept(&decisions), [900, 800, 400, 300]);
        assert_eq!(deleted(&decisions), [200]);
        assert_eq!(decisions[0].reason, Reason::DatedInFuture);
    }

    #[test]
    fn the_plan_does_not_depend_on_now_when_nothing_is_in_the_future() {
        let entries = [entry(1), entry(5), entry(3), entry(4)];
        let policy = RetentionPolicy { retain: 2 };
        assert_eq!(
            plan(&entries, policy, at(10)),
            plan(&entries, policy, at(99_999))
        );
    }

    #[test]
    fn duplicate_names_are_one_snapshot() {
        let decisions = plan(&[entry(1), entry(1)], RetentionPolicy { retain: 1 }, at(10));
        assert_eq!(decisions.len(), 1);
        assert!(decisions[0].keep);
    }
}
