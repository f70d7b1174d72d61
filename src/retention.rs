//! Which snapshots to keep: one pure function, used by every storage and by `prune`.
//!
//! The rules are restic's `forget --keep-*`, over the time in each snapshot's name:
//! - `retain` (the original agent's key): the newest N;
//! - `retain_hourly`, `_daily`, `_weekly`, `_monthly`, `_yearly`: for the last N hours, days,
//!   ISO weeks, months or years **that have at least one snapshot**, the newest snapshot of
//!   each (a period without a snapshot does not use up the count); periods are UTC;
//! - `retain_within`: every snapshot within that duration of the newest snapshot (counted
//!   from the newest snapshot, not from the clock, so an agent that stopped taking snapshots
//!   never ages everything out).
//!
//! A snapshot is kept if any rule keeps it, and the newest snapshot is always kept. With
//! every rule off (0, or unset) nothing is deleted. [`plan`] does no I/O and takes `now` as
//! a parameter, so it is tested on its own and `prune --dry-run` shows exactly what a real
//! run would do, with every rule that keeps each snapshot.
//!
//! Three rules make it safe beyond the original agent's, all by the one definition of
//! [`crate::snapshot_name::SnapshotEntry::standing`] that `list`, `latest` and `check` share:
//! - it only ever sees names we generated (see [`crate::snapshot_name`]);
//! - a snapshot dated after `now` plus
//!   [`crate::snapshot_name::CLOCK_SKEW_ALLOWANCE`] (five minutes; a clock that was wrong, or
//!   jumped back) is kept and counted by no rule, and "newest" means the newest that is not in
//!   the future ([`crate::snapshot_name::newest`], which `latest` means too). Otherwise a clock
//!   set back by a day would make every new snapshot "older" than the future-dated ones, and
//!   the snapshot just stored would be the first to go;
//! - an object that cannot be a snapshot (smaller than
//!   [`crate::snapshot_name::MIN_SNAPSHOT_BYTES`], or in a local directory anything but a
//!   regular file) is kept and counted by no rule: an empty file that arrived under a
//!   snapshot's name never pushes a good snapshot out, and is never deleted (an operator
//!   looks at it; the commands warn about it by name).

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::calendar::{Period, PeriodKey, period_of};
use crate::duration;
#[cfg(test)]
use crate::snapshot_name::SnapshotName;
use crate::snapshot_name::{NotASnapshot, SnapshotEntry, Standing};

/// A retention policy: how many of each rule keeps, 0 for a rule that is off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// `retain`: the newest N.
    pub last: u64,
    /// `retain_hourly`.
    pub hourly: u64,
    /// `retain_daily`.
    pub daily: u64,
    /// `retain_weekly` (ISO weeks).
    pub weekly: u64,
    /// `retain_monthly`.
    pub monthly: u64,
    /// `retain_yearly`.
    pub yearly: u64,
    /// `retain_within`; `None` or zero is off.
    pub within: Option<Duration>,
}

impl RetentionPolicy {
    /// The original agent's policy: the newest `n`; 0 keeps all.
    #[must_use]
    pub fn keep_last(n: u64) -> Self {
        Self {
            last: n,
            ..Self::default()
        }
    }

    /// The period rules that are on, with their counts.
    fn period_rules(&self) -> Vec<(Period, u64)> {
        [
            (Period::Hour, self.hourly),
            (Period::Day, self.daily),
            (Period::Week, self.weekly),
            (Period::Month, self.monthly),
            (Period::Year, self.yearly),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }

    fn within(&self) -> Option<Duration> {
        self.within.filter(|d| !d.is_zero())
    }

    /// True when every rule is off: nothing is deleted.
    #[must_use]
    pub fn keeps_all(&self) -> bool {
        self.last == 0 && self.period_rules().is_empty() && self.within().is_none()
    }
}

impl fmt::Display for RetentionPolicy {
    /// `retain 3, daily 7, within 72h`, or `keep all` when every rule is off.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.keeps_all() {
            return f.write_str("keep all (no retention rule set)");
        }
        let mut parts = Vec::new();
        if self.last > 0 {
            parts.push(format!("retain {}", self.last));
        }
        for (period, n) in self.period_rules() {
            parts.push(format!("{} {n}", rule_name(period)));
        }
        if let Some(d) = self.within() {
            parts.push(format!("within {}", short_duration(d)));
        }
        f.write_str(&parts.join(", "))
    }
}

/// `72h` for whole hours (as operators write `retain_within`), else Go's form (`1h30m0s`).
fn short_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 && d.as_secs() % 3600 == 0 {
        format!("{}h", d.as_secs() / 3600)
    } else {
        duration::format(d)
    }
}

fn rule_name(period: Period) -> &'static str {
    match period {
        Period::Hour => "hourly",
        Period::Day => "daily",
        Period::Week => "weekly",
        Period::Month => "monthly",
        Period::Year => "yearly",
    }
}

/// Why a snapshot is kept: every rule that keeps it. A deleted snapshot has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Every rule is off: all snapshots are kept.
    NoRules,
    /// Dated after `now` (plus the clock-skew allowance): kept, and counted by no rule.
    DatedInFuture,
    /// Cannot be a snapshot: kept (never deleted), and counted by no rule.
    NotASnapshot(NotASnapshot),
    /// The newest snapshot (that is not in the future), always kept.
    Newest,
    /// Among the newest `count` (`retain`); this one is number `rank`.
    Last {
        /// 1 for the newest.
        rank: u64,
        /// `retain`.
        count: u64,
    },
    /// The newest snapshot of this period, one of the last periods the rule keeps.
    Period(PeriodKey),
    /// Within `retain_within` of the newest snapshot.
    Within(Duration),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoRules => f.write_str("no retention rule set"),
            Reason::DatedInFuture => f.write_str("dated in the future (check the clock)"),
            Reason::NotASnapshot(why) => write!(f, "not a snapshot: {why}"),
            Reason::Newest => f.write_str("the newest"),
            Reason::Last { count, .. } => write!(f, "newest {count}"),
            Reason::Period(key) => {
                let name = match key {
                    PeriodKey::Hour(..) => "hourly",
                    PeriodKey::Day(..) => "daily",
                    PeriodKey::Week(..) => "weekly",
                    PeriodKey::Month(..) => "monthly",
                    PeriodKey::Year(..) => "yearly",
                };
                write!(f, "{name} {key}")
            }
            Reason::Within(d) => write!(f, "within {}", short_duration(*d)),
        }
    }
}

/// The fate of one snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The snapshot.
    pub entry: SnapshotEntry,
    /// Whether it stays.
    pub keep: bool,
    /// Every rule that keeps it; empty when it is deleted.
    pub reasons: Vec<Reason>,
}

impl Decision {
    /// The reasons as one phrase: `daily 2026-11-20, within 72h`, or why it goes.
    #[must_use]
    pub fn explain(&self) -> String {
        if self.reasons.is_empty() {
            "kept by no rule".to_string()
        } else {
            self.reasons
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

impl Decision {
    /// True for an object that cannot be a snapshot: kept, but not a snapshot held.
    #[must_use]
    pub fn not_a_snapshot(&self) -> Option<NotASnapshot> {
        self.reasons.iter().find_map(|r| match r {
            Reason::NotASnapshot(why) => Some(*why),
            _ => None,
        })
    }
}

/// Decides, for every listed object, whether `policy` keeps it at time `now`. Returns the
/// decisions newest first; a name listed twice is one snapshot. Objects that cannot be
/// snapshots and snapshots dated in the future are kept and counted by no rule.
#[must_use]
pub fn plan(entries: &[SnapshotEntry], policy: RetentionPolicy, now: SystemTime) -> Vec<Decision> {
    let mut sorted = entries.to_vec();
    // Of two objects under one name, the one that can be a snapshot is the one planned.
    sorted.sort_by_key(|e| (std::cmp::Reverse(e.name), e.defect().is_some()));
    sorted.dedup_by(|a, b| a.name == b.name);

    let newest = crate::snapshot_name::newest(&sorted, now).map(|e| e.name.unix_nanos());
    let within = policy.within();
    let cutoff = match (newest, within) {
        (Some(newest), Some(d)) => Some(newest.saturating_sub(d.as_nanos())),
        _ => None,
    };
    let mut rules: Vec<(Period, u64, Option<PeriodKey>)> = policy
        .period_rules()
        .into_iter()
        .map(|(period, n)| (period, n, None))
        .collect();
    let mut rank = 0;
    sorted
        .into_iter()
        .map(|entry| {
            let t = entry.name.unix_nanos();
            let mut reasons = Vec::new();
            let standing = entry.standing(now);
            if let Standing::NotASnapshot(why) = standing {
                reasons.push(Reason::NotASnapshot(why));
            } else if standing == Standing::DatedInFuture {
                reasons.push(Reason::DatedInFuture);
            } else if policy.keeps_all() {
                reasons.push(Reason::NoRules);
            } else {
                rank += 1;
                if rank == 1 {
                    reasons.push(Reason::Newest);
                }
                if rank <= policy.last {
                    reasons.push(Reason::Last {
                        rank,
                        count: policy.last,
                    });
                }
                let seconds = i64::try_from(t / 1_000_000_000).unwrap_or(i64::MAX);
                for (period, left, last_key) in &mut rules {
                    let key = period_of(seconds, *period);
                    if *left > 0 && *last_key != Some(key) {
                        reasons.push(Reason::Period(key));
                        *left -= 1;
                        *last_key = Some(key);
                    }
                }
                if let (Some(cutoff), Some(d)) = (cutoff, within) {
                    if t >= cutoff {
                        reasons.push(Reason::Within(d));
                    }
                }
            }
            Decision {
                entry,
                keep: !reasons.is_empty(),
                reasons,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot_name::CLOCK_SKEW_ALLOWANCE;
    use std::time::{Duration, UNIX_EPOCH};

    fn entry(secs: u64) -> SnapshotEntry {
        SnapshotEntry::file(
            SnapshotName::at(UNIX_EPOCH + Duration::from_secs(secs)),
            1 << 20,
        )
    }

    /// The seconds an entry's name carries, which the tests below use as its identity.
    fn secs(entry: &SnapshotEntry) -> u64 {
        u64::try_from(entry.name.unix_nanos() / 1_000_000_000).unwrap()
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn kept(decisions: &[Decision]) -> Vec<u64> {
        decisions
            .iter()
            .filter(|d| d.keep)
            .map(|d| secs(&d.entry))
            .collect()
    }

    fn deleted(decisions: &[Decision]) -> Vec<u64> {
        decisions
            .iter()
            .filter(|d| !d.keep)
            .map(|d| secs(&d.entry))
            .collect()
    }

    #[test]
    fn keeps_the_newest_n_whatever_the_input_order() {
        let entries = [entry(300), entry(100), entry(500), entry(200), entry(400)];
        let decisions = plan(&entries, RetentionPolicy::keep_last(2), at(1000));
        assert_eq!(kept(&decisions), [500, 400]);
        assert_eq!(deleted(&decisions), [300, 200, 100]);
        assert_eq!(
            decisions[0].reasons,
            [Reason::Newest, Reason::Last { rank: 1, count: 2 }]
        );
        assert_eq!(decisions[1].explain(), "newest 2");
        assert!(decisions[4].reasons.is_empty());
        assert_eq!(decisions[4].explain(), "kept by no rule");
    }

    #[test]
    fn retain_zero_keeps_everything() {
        let entries = [entry(1), entry(2), entry(3)];
        let decisions = plan(&entries, RetentionPolicy::keep_last(0), at(10));
        assert!(
            decisions
                .iter()
                .all(|d| d.keep && d.reasons == [Reason::NoRules])
        );
    }

    #[test]
    fn fewer_than_retain_deletes_nothing() {
        let decisions = plan(&[entry(1), entry(2)], RetentionPolicy::keep_last(5), at(10));
        assert_eq!(kept(&decisions), [2, 1]);
    }

    #[test]
    fn empty_input_gives_an_empty_plan() {
        assert!(plan(&[], RetentionPolicy::keep_last(3), at(10)).is_empty());
    }

    #[test]
    fn future_dated_snapshots_are_kept_and_not_counted() {
        // The clock went back: 9000 and 8000 are "in the future" at now=500.
        let entries = [entry(9000), entry(8000), entry(400), entry(300), entry(200)];
        let decisions = plan(&entries, RetentionPolicy::keep_last(2), at(500));
        assert_eq!(kept(&decisions), [9000, 8000, 400, 300]);
        assert_eq!(deleted(&decisions), [200]);
        assert_eq!(decisions[0].reasons, [Reason::DatedInFuture]);
        assert_eq!(
            decisions[2].reasons[0],
            Reason::Newest,
            "newest is the newest not in the future"
        );
    }

    #[test]
    fn a_name_within_the_clock_skew_allowance_is_not_in_the_future() {
        let skew = CLOCK_SKEW_ALLOWANCE.as_secs();
        let entries = [entry(1000 + skew), entry(900), entry(800)];
        let decisions = plan(&entries, RetentionPolicy::keep_last(1), at(1000));
        assert_eq!(kept(&decisions), [1000 + skew]);
        assert_eq!(decisions[0].reasons[0], Reason::Newest);
    }

    fn junk(secs: u64, size: u64) -> SnapshotEntry {
        SnapshotEntry {
            size,
            ..entry(secs)
        }
    }

    #[test]
    fn objects_that_cannot_be_snapshots_never_count_and_are_never_deleted() {
        // The reported case: retain 2, a 0-byte and a 4-byte file newer than two good ones.
        let entries = [entry(100), entry(200), junk(300, 0), junk(400, 4)];
        let decisions = plan(&entries, RetentionPolicy::keep_last(2), at(1000));
        assert_eq!(kept(&decisions), [400, 300, 200, 100]);
        assert!(deleted(&decisions).is_empty());
        assert_eq!(decisions[0].explain(), "not a snapshot: 4 bytes");
        assert_eq!(
            decisions[0].not_a_snapshot(),
            Some(NotASnapshot::TooSmall(4))
        );
        assert_eq!(decisions[2].reasons[0], Reason::Newest);
        assert_eq!(decisions[2].not_a_snapshot(), None);

        // Junk is never counted by any rule, nor deleted, whatever the policy.
        let directory = SnapshotEntry {
            kind: crate::snapshot_name::ObjectKind::Directory,
            ..entry(350)
        };
        let entries = [entry(100), entry(200), entry(250), directory, junk(50, 0)];
        let policy = RetentionPolicy {
            last: 1,
            within: Some(Duration::from_secs(30)),
            daily: 1,
            ..RetentionPolicy::default()
        };
        let decisions = plan(&entries, policy, at(1000));
        assert_eq!(kept(&decisions), [350, 250, 50]);
        assert_eq!(deleted(&decisions), [200, 100]);
        assert_eq!(decisions[0].explain(), "not a snapshot: a directory");
        // Keeping everything keeps junk as junk.
        let all = plan(&entries, RetentionPolicy::default(), at(1000));
        assert_eq!(all[0].explain(), "not a snapshot: a directory");
        assert_eq!(all[1].reasons, [Reason::NoRules]);
    }

    #[test]
    fn junk_and_future_names_do_not_change_what_is_deleted() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..500 {
            let good = rng.entries();
            let policy = rng.policy();
            let now_secs = good.iter().map(secs).max().unwrap_or(1_700_000_000) + 60;
            let now = at(now_secs);
            let alone = plan(&good, policy, now);
            let mut with = good.clone();
            for _ in 0..rng.below(5) {
                let t = 1_600_000_000 + rng.below(300_000_000);
                with.push(junk(t, rng.below(MIN)));
            }
            for _ in 0..rng.below(3) {
                with.push(entry(now_secs + 86_400 * (1 + rng.below(300))));
            }
            let deleted_alone: Vec<_> = alone.iter().filter(|d| !d.keep).collect();
            let mixed = plan(&with, policy, now);
            let deleted_mixed: Vec<_> = mixed.iter().filter(|d| !d.keep).collect();
            assert_eq!(deleted_alone, deleted_mixed, "{policy:?}");
        }
    }

    const MIN: u64 = crate::snapshot_name::MIN_SNAPSHOT_BYTES;

    #[test]
    fn the_plan_does_not_depend_on_now_when_nothing_is_in_the_future() {
        let entries = [entry(1), entry(5), entry(3), entry(4)];
        let policy = RetentionPolicy::keep_last(2);
        assert_eq!(
            plan(&entries, policy, at(10)),
            plan(&entries, policy, at(99_999))
        );
    }

    #[test]
    fn duplicate_names_are_one_snapshot() {
        let decisions = plan(&[entry(1), entry(1)], RetentionPolicy::keep_last(1), at(10));
        assert_eq!(decisions.len(), 1);
        assert!(decisions[0].keep);
    }

    /// The golden cases of `tests/retention/golden.json`: about 300 irregular times over two
    /// years and the keep sets an independent implementation (contrib/scripts/
    /// retention_golden.py, on Python's own calendar) computed for each policy.
    #[test]
    fn matches_the_independent_golden_plans() {
        #[derive(serde::Deserialize)]
        struct Golden {
            times: Vec<u64>,
            cases: Vec<Case>,
        }
        #[derive(serde::Deserialize)]
        struct Case {
            policy: std::collections::BTreeMap<String, u64>,
            now: u64,
            keep: Vec<u64>,
        }
        let golden: Golden =
            serde_json::from_str(include_str!("../tests/retention/golden.json")).unwrap();
        assert!(golden.times.len() >= 200 && golden.cases.len() >= 12);
        let entries: Vec<SnapshotEntry> = golden.times.iter().map(|t| entry(*t)).collect();
        for case in &golden.cases {
            let get = |k: &str| case.policy.get(k).copied().unwrap_or(0);
            let policy = RetentionPolicy {
                last: get("retain"),
                hourly: get("retain_hourly"),
                daily: get("retain_daily"),
                weekly: get("retain_weekly"),
                monthly: get("retain_monthly"),
                yearly: get("retain_yearly"),
                within: Some(Duration::from_secs(get("retain_within_seconds"))),
            };
            let decisions = plan(&entries, policy, at(case.now));
            let mut kept = kept(&decisions);
            kept.sort_unstable();
            assert_eq!(kept, case.keep, "{:?} at {}", case.policy, case.now);
            for d in &decisions {
                assert_eq!(d.keep, !d.reasons.is_empty(), "{d:?}");
            }
        }
    }

    /// A small deterministic generator, so the properties below see thousands of cases
    /// without a dependency and fail the same way every time.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn entries(&mut self) -> Vec<SnapshotEntry> {
            let start = 1_700_000_000 + self.below(100_000_000);
            let mut t = start;
            (0..self.below(60))
                .map(|_| {
                    // Minutes to weeks apart.
                    t += [60, 3600, 86_400, 7 * 86_400][self.below(4) as usize]
                        * (1 + self.below(5));
                    entry(t)
                })
                .collect()
        }
        fn policy(&mut self) -> RetentionPolicy {
            let mut n = || if self.below(2) == 0 { 0 } else { self.below(6) };
            RetentionPolicy {
                last: n(),
                hourly: n(),
                daily: n(),
                weekly: n(),
                monthly: n(),
                yearly: n(),
                within: [None, Some(Duration::from_secs(3600 * 30))][self.below(2) as usize],
            }
        }
    }

    fn kept_names(decisions: &[Decision]) -> Vec<SnapshotEntry> {
        decisions
            .iter()
            .filter(|d| d.keep)
            .map(|d| d.entry.clone())
            .collect()
    }

    #[test]
    fn properties_hold_for_thousands_of_random_plans() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let entries = rng.entries();
            let policy = rng.policy();
            let now = at(entries.iter().map(secs).max().unwrap_or(0) + rng.below(3) * 86_400);
            let decisions = plan(&entries, policy, now);

            // The newest snapshot is always kept.
            if let Some(first) = decisions.first() {
                assert!(first.keep, "{policy:?} dropped the newest");
            }
            // Planning what was kept deletes nothing more.
            let kept = kept_names(&decisions);
            let again = plan(&kept, policy, now);
            assert!(
                again.iter().all(|d| d.keep),
                "{policy:?}: second plan deletes"
            );
            // Adding a rule (or raising a count) never deletes more.
            let mut more = policy;
            match rng.below(7) {
                0 => more.last += 1 + rng.below(3),
                1 => more.hourly += 1 + rng.below(3),
                2 => more.daily += 1 + rng.below(3),
                3 => more.weekly += 1 + rng.below(3),
                4 => more.monthly += 1 + rng.below(3),
                5 => more.yearly += 1 + rng.below(3),
                _ => {
                    let wider = Duration::from_secs(3600 * (1 + rng.below(100)));
                    more.within = Some(more.within.map_or(wider, |w| w + wider));
                }
            }
            if policy.keeps_all() {
                continue; // from "keep all", any rule deletes: not a rule added to others
            }
            let with_more = kept_names(&plan(&entries, more, now));
            for e in &kept {
                assert!(
                    with_more.contains(e),
                    "{more:?} deleted {e:?} that {policy:?} kept"
                );
            }
        }
    }

    #[test]
    fn within_counts_from_the_newest_snapshot_not_the_clock() {
        let entries = [
            entry(1_000_000),
            entry(1_000_000 - 3600),
            entry(1_000_000 - 7200),
        ];
        let policy = RetentionPolicy {
            within: Some(Duration::from_secs(3600)),
            ..RetentionPolicy::default()
        };
        // A year later, the snapshots within an hour of the newest are still kept.
        let decisions = plan(&entries, policy, at(1_000_000 + 365 * 86_400));
        assert_eq!(kept(&decisions), [1_000_000, 1_000_000 - 3600]);
        assert_eq!(decisions[1].explain(), "within 1h");
    }

    #[test]
    fn periods_without_snapshots_do_not_use_up_the_count() {
        // Three snapshots on days 0, 10 and 20 (and two more on day 20): daily 3 keeps one
        // per day that has snapshots, the newest of each.
        let day = 86_400;
        let base = 1_700_006_400; // a midnight, UTC
        let entries = [
            entry(base),
            entry(base + 10 * day),
            entry(base + 20 * day),
            entry(base + 20 * day + 60),
            entry(base + 20 * day + 120),
        ];
        let policy = RetentionPolicy {
            daily: 3,
            ..RetentionPolicy::default()
        };
        let decisions = plan(&entries, policy, at(base + 30 * day));
        assert_eq!(
            kept(&decisions),
            [base + 20 * day + 120, base + 10 * day, base]
        );
        assert_eq!(decisions[0].explain(), "the newest, daily 2023-12-05");
    }

    /// The worked example of README and the man page: a year of hourly snapshots.
    #[test]
    fn the_documented_example_keeps_44_of_a_years_hourly_snapshots() {
        let start = 1_763_856_000; // 2025-11-23T00:00:00Z
        let entries: Vec<SnapshotEntry> = (0..8760).map(|h| entry(start + h * 3600)).collect();
        let policy = RetentionPolicy {
            within: Some(Duration::from_secs(24 * 3600)),
            daily: 7,
            weekly: 4,
            monthly: 12,
            ..RetentionPolicy::default()
        };
        let decisions = plan(&entries, policy, at(start + 8760 * 3600));
        assert_eq!(kept(&decisions).len(), 44);
    }
}
