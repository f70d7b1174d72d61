//! How an upload is cut into parts: the pure plan, tested on its own.
//!
//! S3 allows parts of 5 MiB to 5 GiB (the last may be smaller) and at most 10 000 of them.
//! The configured part size is a wish: a snapshot too large for 10 000 parts of it gets the
//! smallest whole-MiB size that fits. At most `in_flight` parts are in memory at once, each
//! in a buffer of `part_size`, so an upload holds `in_flight x part_size` bytes of parts
//! ([`Plan::memory`]) plus a constant.

use anyhow::{Result, ensure};

/// S3's smallest part (all but the last).
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// S3's largest part.
pub const MAX_PART_SIZE: u64 = 5 << 30;
/// S3's most parts in one upload.
pub const MAX_PARTS: u64 = 10_000;
/// The most parts in flight the config accepts.
pub const MAX_CONCURRENCY: usize = crate::config::S3_MAX_UPLOAD_CONCURRENCY;

const MIB: u64 = 1 << 20;

/// The parts of one multipart upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Bytes per part (the last holds the rest).
    pub part_size: u64,
    /// How many parts.
    pub parts: u64,
    /// Parts sent at the same time (never more than there are parts).
    pub in_flight: usize,
}

impl Plan {
    /// The bytes of part buffers the upload holds at most.
    #[must_use]
    pub fn memory(&self) -> u64 {
        self.part_size * self.in_flight as u64
    }
}

/// The plan for `size` bytes in parts of about `part_size`, `concurrency` at a time.
///
/// # Errors
/// When `size` does not fit in 10 000 parts of 5 GiB (about 48.8 TiB).
pub fn plan(size: u64, part_size: u64, concurrency: usize) -> Result<Plan> {
    let mut part_size = part_size.clamp(MIN_PART_SIZE, MAX_PART_SIZE);
    let smallest = size.div_ceil(MAX_PARTS);
    if part_size < smallest {
        part_size = smallest.div_ceil(MIB) * MIB;
    }
    ensure!(
        part_size <= MAX_PART_SIZE,
        "a snapshot of {size} bytes does not fit in S3's 10000 parts of 5 GiB"
    );
    let parts = size.div_ceil(part_size).max(1);
    let in_flight = concurrency
        .clamp(1, MAX_CONCURRENCY)
        .min(usize::try_from(parts).unwrap_or(usize::MAX));
    Ok(Plan {
        part_size,
        parts,
        in_flight,
    })
}

#[cfg(test)]
mod tests {
    use super::{MAX_PART_SIZE, MAX_PARTS, MIB, MIN_PART_SIZE, Plan, plan};

    #[test]
    fn parts_of_the_wished_size_with_the_rest_last() {
        assert_eq!(
            plan(20 * MIB + 1, 8 * MIB, 4).unwrap(),
            Plan {
                part_size: 8 * MIB,
                parts: 3,
                in_flight: 3
            }
        );
        assert_eq!(plan(1 << 30, 8 * MIB, 4).unwrap().parts, 128);
        assert_eq!(plan(1 << 30, 8 * MIB, 4).unwrap().memory(), 32 * MIB);
    }

    #[test]
    fn sizes_and_concurrency_are_kept_within_s3s_bounds() {
        // Below the minimum part size: raised to 5 MiB.
        assert_eq!(plan(100 * MIB, MIB, 2).unwrap().part_size, MIN_PART_SIZE);
        // Above the maximum: lowered to 5 GiB.
        assert_eq!(
            plan(100 << 30, 6 << 30, 2).unwrap().part_size,
            MAX_PART_SIZE
        );
        // Concurrency 0 is one part at a time; never more in flight than parts.
        assert_eq!(plan(100 * MIB, 8 * MIB, 0).unwrap().in_flight, 1);
        assert_eq!(plan(100 * MIB, 8 * MIB, 1000).unwrap().in_flight, 13);
        assert_eq!(plan(1 << 40, 8 * MIB, 1000).unwrap().in_flight, 64);
    }

    #[test]
    fn a_snapshot_too_large_for_10000_parts_gets_larger_parts() {
        // 100 GiB in 8 MiB parts would be 12 800 parts: 11 MiB parts instead (10 241 MiB
        // would be needed at 10 MiB... 100 GiB / 10 000 = 10.24 MiB, rounded up to 11 MiB).
        let p = plan(100 << 30, 8 * MIB, 4).unwrap();
        assert_eq!(p.part_size, 11 * MIB);
        assert!(p.parts <= MAX_PARTS, "{p:?}");
        // Exactly 10 000 parts of the wished size still fit.
        assert_eq!(plan(10_000 * 8 * MIB, 8 * MIB, 4).unwrap().parts, MAX_PARTS);
        assert_eq!(
            plan(10_000 * 8 * MIB + 1, 8 * MIB, 4).unwrap().part_size,
            9 * MIB
        );
        // Beyond 10 000 x 5 GiB: refused, not cut into more parts than S3 takes.
        let error = plan(MAX_PARTS * MAX_PART_SIZE + 1, 8 * MIB, 4).unwrap_err();
        assert!(error.to_string().contains("10000 parts"), "{error}");
    }

    #[test]
    fn an_empty_or_small_file_is_one_part() {
        assert_eq!(plan(0, 8 * MIB, 4).unwrap().parts, 1);
        assert_eq!(plan(1, 8 * MIB, 4).unwrap().in_flight, 1);
    }
}
