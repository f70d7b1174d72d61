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
    /// Another agent's name (`other_snapshot_names`) carrying that time; `None` for ours.
    other: Option<&'static str>,
}

impl SnapshotName {
    /// The name for a snapshot taken at `time`.
    #[must_use]
    pub fn at(time: SystemTime) -> Self {
        let unix_nanos = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        Self {
            unix_nanos,
            other: None,
        }
    }

    /// Parses one of our own names. Returns `None` for anything we did not generate.
    #[must_use]
    pub fn parse_ours(name: &str) -> Option<Self> {
        let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if canonical && let Ok(unix_nanos) = digits.parse() {
            return Some(Self {
                unix_nanos,
                other: None,
            });
        }
        None
    }

    /// Parses a file or object name: ours ([`SnapshotName::parse_ours`]), else one of the
    /// other agents' names the config recognises ([`crate::other_names`]). `None` for
    /// anything else.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::parse_ours(name).or_else(|| {
            crate::other_names::recognise(name).map(|(unix_nanos, other)| Self {
                unix_nanos,
                other: Some(other),
            })
        })
    }

    /// True for another agent's name, which we never write.
    #[must_use]
    pub fn is_other_agents(&self) -> bool {
        self.other.is_some()
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

/// One object named like a snapshot, as a storage lists it. Whether it can be a snapshot at
/// all, and whether it may be `latest`, is [`SnapshotEntry::standing`]: the one definition
/// retention, `list`, `latest` (fetch, restore) and `check` share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotEntry {
    /// Its name, which carries the time it was taken.
    pub name: SnapshotName,
    /// Its size in bytes.
    pub size: u64,
    /// What kind of object the storage holds under that name.
    pub kind: ObjectKind,
}

/// What a storage holds under a snapshot's name. Object stores only hold objects; a local
/// directory may hold anything, and only a regular file can be a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    /// A regular file, or an object in an object store.
    File,
    /// A directory.
    Directory,
    /// A symbolic link (never followed: what it points at may change under us).
    Symlink,
    /// A named pipe: reading it would block.
    Fifo,
    /// A socket or a device.
    Other,
}

/// The smallest number of bytes a snapshot that [`crate::archive::verify`] accepts can have.
///
/// Derived from the archive format, as a bound no valid archive can be under:
/// - the tar inside holds four entries, each with a 512-byte header; meta.json (a JSON object
///   with `Index` > 0), SHA256SUMS (two lines of 64 hex digits) and SHA256SUMS.sealed (not
///   empty) each fill at least one 512-byte block (state.bin may be empty), and the
///   end-of-archive marker is at least one more zero block: at least 8 blocks, 4096 bytes;
/// - deflate expands at most 1032-fold (a 258-byte match costs at least 2 bits), so those
///   4096 bytes take at least 4 compressed bytes;
/// - gzip adds a 10-byte header and an 8-byte trailer (CRC32, ISIZE).
///
/// That is 22 bytes. Real snapshots are far larger (the smallest the test builder writes is
/// several hundred bytes: the SHA-256 sums do not compress), so the bound only ever catches
/// what cannot be a snapshot: an empty object, a few stray bytes.
pub const MIN_SNAPSHOT_BYTES: u64 = {
    const BLOCK: u64 = 512;
    const TAR_BYTES: u64 = (4 + 3 + 1) * BLOCK;
    const MAX_DEFLATE_RATIO: u64 = 1032;
    const GZIP_HEADER: u64 = 10;
    const GZIP_TRAILER: u64 = 8;
    GZIP_HEADER + TAR_BYTES.div_ceil(MAX_DEFLATE_RATIO) + GZIP_TRAILER
};

/// How far in the future a snapshot's name may be dated and still count as taken now: the
/// clocks of the node that named it and of the machine that reads the name may disagree by
/// this much. Beyond it, a snapshot is "dated in the future": kept, counted by no retention
/// rule, never `latest`.
pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::from_secs(5 * 60);

/// Why an object named like a snapshot cannot be one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotASnapshot {
    /// A file or object smaller than [`MIN_SNAPSHOT_BYTES`]; its size.
    TooSmall(u64),
    /// Not a regular file.
    NotAFile(ObjectKind),
}

impl fmt::Display for NotASnapshot {
    /// `0 bytes`, `a directory`, ...; shown after "not a snapshot: ".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotASnapshot::TooSmall(1) => f.write_str("1 byte"),
            NotASnapshot::TooSmall(n) => write!(f, "{n} bytes"),
            NotASnapshot::NotAFile(kind) => f.write_str(match kind {
                ObjectKind::File => "a file",
                ObjectKind::Directory => "a directory",
                ObjectKind::Symlink => "a symbolic link",
                ObjectKind::Fifo => "a named pipe",
                ObjectKind::Other => "not a regular file",
            }),
        }
    }
}

/// Where one listed object stands, by the definition every command shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// A snapshot, dated no later than now (plus [`CLOCK_SKEW_ALLOWANCE`]): it counts for
    /// retention and may be `latest`.
    Snapshot,
    /// A snapshot whose name is dated beyond now plus [`CLOCK_SKEW_ALLOWANCE`] (a node with a
    /// wrong clock, or an old snapshot copied under a later name): kept, counted by no rule,
    /// never `latest`; it can still be fetched or restored by its name.
    DatedInFuture,
    /// Cannot be a snapshot: never counted, never `latest`, never deleted.
    NotASnapshot(NotASnapshot),
}

impl SnapshotEntry {
    /// A regular file or object of `size` bytes.
    #[must_use]
    pub fn file(name: SnapshotName, size: u64) -> Self {
        Self {
            name,
            size,
            kind: ObjectKind::File,
        }
    }

    /// Why this object cannot be a snapshot, if it cannot.
    #[must_use]
    pub fn defect(&self) -> Option<NotASnapshot> {
        if self.kind != ObjectKind::File {
            Some(NotASnapshot::NotAFile(self.kind))
        } else if self.size < MIN_SNAPSHOT_BYTES {
            Some(NotASnapshot::TooSmall(self.size))
        } else {
            None
        }
    }

    /// Where this object stands at `now`.
    #[must_use]
    pub fn standing(&self, now: SystemTime) -> Standing {
        match self.defect() {
            Some(defect) => Standing::NotASnapshot(defect),
            None if self.name.is_future(now) => Standing::DatedInFuture,
            None => Standing::Snapshot,
        }
    }
}

impl SnapshotName {
    /// True when the name is dated beyond `now` plus [`CLOCK_SKEW_ALLOWANCE`].
    #[must_use]
    pub fn is_future(&self, now: SystemTime) -> bool {
        let limit = now
            .checked_add(CLOCK_SKEW_ALLOWANCE)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(u128::MAX, |d| d.as_nanos());
        self.unix_nanos > limit
    }
}

/// The newest snapshot of `entries` at `now`: the one `latest` means, and the one retention
/// calls "the newest". Future-dated names and objects that cannot be snapshots are never it.
#[must_use]
pub fn newest<'a>(
    entries: impl IntoIterator<Item = &'a SnapshotEntry>,
    now: SystemTime,
) -> Option<&'a SnapshotEntry> {
    entries
        .into_iter()
        .filter(|e| e.standing(now) == Standing::Snapshot)
        .max_by_key(|e| e.name)
}

impl fmt::Display for SnapshotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.other {
            Some(name) => f.write_str(name),
            None => write!(f, "{PREFIX}{}{SUFFIX}", self.unix_nanos),
        }
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

    fn entry(secs: u64, size: u64) -> SnapshotEntry {
        SnapshotEntry::file(
            SnapshotName::at(UNIX_EPOCH + Duration::from_secs(secs)),
            size,
        )
    }

    #[test]
    fn the_smallest_snapshot_bound_is_derived_from_the_format() {
        assert_eq!(MIN_SNAPSHOT_BYTES, 22);
        // The smallest archive the builder writes (empty state) is well above it, and verifies.
        let smallest = crate::archive::build::archive_bytes(
            &[],
            &crate::archive::build::ArchiveOptions::default(),
        )
        .unwrap();
        assert!(
            smallest.len() as u64 > MIN_SNAPSHOT_BYTES * 10,
            "{}",
            smallest.len()
        );
        crate::archive::verify::verify(&smallest[..]).unwrap();
        // Every prefix shorter than the bound is refused by the verifier.
        for len in 0..MIN_SNAPSHOT_BYTES as usize {
            assert!(crate::archive::verify::verify(&smallest[..len]).is_err());
        }
    }

    #[test]
    fn what_cannot_be_a_snapshot_says_why() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(entry(10, 500).standing(now), Standing::Snapshot);
        assert_eq!(entry(10, 22).standing(now), Standing::Snapshot);
        let empty = entry(10, 0);
        assert_eq!(empty.defect(), Some(NotASnapshot::TooSmall(0)));
        assert_eq!(empty.defect().unwrap().to_string(), "0 bytes");
        assert_eq!(entry(10, 21).defect().unwrap().to_string(), "21 bytes");
        for (kind, said) in [
            (ObjectKind::Directory, "a directory"),
            (ObjectKind::Symlink, "a symbolic link"),
            (ObjectKind::Fifo, "a named pipe"),
            (ObjectKind::Other, "not a regular file"),
        ] {
            let odd = SnapshotEntry {
                kind,
                ..entry(10, 4096)
            };
            assert_eq!(
                odd.standing(now),
                Standing::NotASnapshot(NotASnapshot::NotAFile(kind))
            );
            assert_eq!(odd.defect().unwrap().to_string(), said);
        }
        // A junk object dated in the future is junk first.
        assert!(matches!(
            entry(2_000_000, 0).standing(now),
            Standing::NotASnapshot(_)
        ));
    }

    #[test]
    fn the_future_begins_after_the_clock_skew_allowance() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let skew = CLOCK_SKEW_ALLOWANCE.as_secs();
        assert_eq!(
            entry(1_000_000 + skew, 500).standing(now),
            Standing::Snapshot
        );
        assert_eq!(
            entry(1_000_000 + skew + 1, 500).standing(now),
            Standing::DatedInFuture
        );
    }

    #[test]
    fn newest_skips_the_future_and_what_cannot_be_a_snapshot() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let entries = [
            entry(900_000, 500),
            entry(9_000_000, 500), // a wrong clock
            entry(950_000, 4),     // junk
            entry(800_000, 500),
        ];
        assert_eq!(newest(&entries, now), Some(&entries[0]));
        assert_eq!(newest(&entries[1..3], now), None);
        assert_eq!(newest(&[], now), None);
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
