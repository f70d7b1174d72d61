//! The names we give snapshots: `raft_snapshot-<unix nanoseconds>.snap`.
//!
//! This is the original Go agent's name, so the backups it left behind stay under our
//! retention. The time a snapshot was taken comes from its name, never from a file's mtime
//! or an object's `LastModified` (copies and restores change those). A name is ours only if
//! it is exactly what [`SnapshotName`] would have written, so a file like `raft_snapshot-01.snap`
//! or `raft_snapshot-1.snap.bak` is never touched.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PREFIX: &str = "raft_snapshot-";
const SUFFIX: &str = ".snap";

/// The name of one snapshot, which carries the time it was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotName {
    unix_nanos: u128,
}

impl SnapshotName {
    /// The name for a snapshot taken at `time`.
    #[must_use]
    pub fn at(time: SystemTime) -> Self {
        let unix_nanos = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        Self { unix_nanos }
    }

    /// Parses a file or object name. Returns `None` for anything we did not generate.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !canonical {
            return None;
        }
        digits.parse().ok().map(|unix_nanos| Self { unix_nanos })
    }

    /// The time the snapshot was taken, from its name.
    #[must_use]
    pub fn time(&self) -> SystemTime {
        let secs = u64::try_from(self.unix_nanos / 1_000_000_000).unwrap_or(u64::MAX);
        let nanos = u32::try_from(self.unix_nanos % 1_000_000_000).unwrap_or(0);
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    /// Nanoseconds since the Unix epoch.
    #[must_use]
    pub fn unix_nanos(&self) -> u128 {
        self.unix_nanos
    }
}

/// One snapshot as a storage lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotEntry {
    /// Its name, which carries the time it was taken.
    pub name: SnapshotName,
    /// Its size in bytes.
    pub size: u64,
}

impl fmt::Display for SnapshotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}{SUFFIX}", self.unix_nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_original_agents_names() {
        let name = "raft_snapshot-1700000000123456789.snap";
        let parsed = SnapshotName::parse(name).expect("our own name parses");
        assert_eq!(parsed.to_string(), name);
        assert_eq!(
            parsed.time(),
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789)
        );
    }

    #[test]
    fn at_uses_nanoseconds() {
        let time = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        assert_eq!(
            SnapshotName::at(time).to_string(),
            "raft_snapshot-1700000000000000005.snap"
        );
    }

    #[test]
    fn refuses_names_we_did_not_write() {
        for foreign in [
            "raft_snapshot-.snap",
            "raft_snapshot-01.snap",
            "raft_snapshot-+1.snap",
            "raft_snapshot--1.snap",
            "raft_snapshot-1.snap.bak",
            "raft_snapshot-1.snap.tmp",
            ".raft_snapshot-1.snap",
            "raft_snapshot-1a.snap",
            "raft_snapshot-1 .snap",
            "other-1.snap",
            "raft_snapshot-1.SNAP",
            "notes.txt",
            "raft_snapshot-999999999999999999999999999999999999999999.snap",
        ] {
            assert_eq!(SnapshotName::parse(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn orders_by_time() {
        let older = SnapshotName::parse("raft_snapshot-999.snap").unwrap();
        let newer = SnapshotName::parse("raft_snapshot-1000.snap").unwrap();
        assert!(older < newer);
        assert!(older.time() < newer.time());
    }
}

/// `time` as an RFC 3339 UTC timestamp with seconds, e.g. `2026-11-23T03:40:00Z`.
#[must_use]
pub fn utc_timestamp(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod timestamp_tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_405_200);
        assert_eq!(utc_timestamp(t), "2026-11-23T03:40:00Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(utc_timestamp(leap), "2000-02-29T00:00:00Z");
    }
}
