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
    let (year, month, day) = crate::calendar::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Parses an RFC 3339 time (`2026-11-20T13:00:00Z`, `2026-11-20T14:00:00+01:00`, with or
/// without fractional seconds). Returns `None` for anything else, or a time before 1970.
#[must_use]
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    // A real date is one that survives the trip to a day number and back (no 02-30).
    let days = crate::calendar::days_from_civil(i64::from(year), month, day);
    let real_date = (1..=12).contains(&month)
        && crate::calendar::civil_from_days(days) == (i64::from(year), month, day);
    if !real_date || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix('.') {
        let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        let kept = &fraction[..len.min(9)];
        nanos = kept.parse::<u32>().ok()? * 10u32.pow(9 - u32::try_from(kept.len()).ok()?);
        rest = &fraction[len..];
    }
    let offset: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let r = rest.as_bytes();
            if rest.len() != 6 || r[3] != b':' {
                return None;
            }
            let hours: i64 = rest[1..3].parse().ok()?;
            let minutes: i64 = rest[4..6].parse().ok()?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let days = crate::calendar::days_from_civil(i64::from(year), month, day);
    let seconds =
        days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)
            - offset;
    let seconds = u64::try_from(seconds).ok()?;
    Some(UNIX_EPOCH + Duration::new(seconds, nanos))
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

    #[test]
    fn parses_rfc3339_and_round_trips() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_405_200);
        assert_eq!(parse_rfc3339("2026-11-23T03:40:00Z"), Some(t));
        assert_eq!(parse_rfc3339(&utc_timestamp(t)), Some(t));
        assert_eq!(parse_rfc3339("2026-11-23T04:40:00+01:00"), Some(t));
        assert_eq!(parse_rfc3339("2026-11-22T22:40:00-05:00"), Some(t));
        assert_eq!(
            parse_rfc3339("2026-11-23T03:40:00.25Z"),
            Some(t + Duration::from_millis(250))
        );
        for bad in [
            "2026-11-23",
            "2026-11-23T03:40:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T03:40:00+1:00",
            "yesterday",
            "1969-12-31T23:59:59Z",
            "2026-11-23T03:40:00.Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_some());
    }
}
