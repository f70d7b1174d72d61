//! Go-style durations (`30s`, `5m`, `1h30m`, `1.5h`, `250ms`), as the original agent's
//! `frequency` key accepted them through Go's `time.ParseDuration`.
//!
//! Written by hand because no crate parses Go's exact grammar: humantime wants spaces
//! between units and has no fractions. The grammar is small: one or more
//! `<decimal number><unit>` pairs, units `ns`, `us` (or `µs`/`μs`), `ms`, `s`, `m`, `h`.
//! The special value `0` is accepted, as Go accepts it. Negative durations are refused:
//! no key of ours has a use for one.

use std::time::Duration;

const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a Go duration string.
///
/// # Errors
/// A message (without the input, which the caller names) when `text` is not a valid,
/// non-negative Go duration or overflows.
pub fn parse(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if text.starts_with('-') {
        return Err("negative durations are not allowed".into());
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| "missing unit (use ns, us, ms, s, m or h)".to_string())?;
        let (number, after) = rest.split_at(digits_end);
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after_unit) = after.split_at(unit_end);
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(|| format!("unknown unit {unit:?} (use ns, us, ms, s, m or h)"))?;
        total = total
            .checked_add(scaled(number, scale)?)
            .ok_or_else(|| "duration too large".to_string())?;
        rest = after_unit;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| "duration too large")?;
    // The remainder of a division by 10^9 always fits in u32.
    let nanos = u32::try_from(total % 1_000_000_000).unwrap_or(0);
    Ok(Duration::new(secs, nanos))
}

/// `number` (digits with at most one dot) times `scale` nanoseconds, truncating below 1 ns.
fn scaled(number: &str, scale: u128) -> Result<u128, String> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err("missing number before unit".into());
    }
    if fraction.contains('.') {
        return Err(format!("invalid number {number:?}"));
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .map_err(|_| "duration too large".to_string())?
    };
    let mut value = whole
        .checked_mul(scale)
        .ok_or_else(|| "duration too large".to_string())?;
    let mut place = scale;
    for digit in fraction.bytes() {
        place /= 10;
        value += u128::from(digit - b'0') * place;
    }
    Ok(value)
}

/// Formats a duration the way Go prints one (`1h30m0s`, `45s`, `1.5s`, `250ms`, `7ns`),
/// exactly: the text parses back to the same duration.
#[must_use]
pub fn format(duration: Duration) -> String {
    /// `whole` and `fraction` (of `digits` digits) as `whole[.fraction]`, trailing zeros cut.
    fn decimal(whole: u128, fraction: u128, digits: usize) -> String {
        if fraction == 0 {
            return whole.to_string();
        }
        let fraction = format!("{fraction:0digits$}");
        format!("{whole}.{}", fraction.trim_end_matches('0'))
    }
    let nanos = duration.as_nanos();
    if nanos < 1_000_000_000 {
        return match nanos {
            0 => "0s".into(),
            n if n < 1_000 => format!("{n}ns"),
            n if n < 1_000_000 => format!("{}µs", decimal(n / 1_000, n % 1_000, 3)),
            n => format!("{}ms", decimal(n / 1_000_000, n % 1_000_000, 6)),
        };
    }
    let total = duration.as_secs();
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    let secs = format!(
        "{}s",
        decimal(u128::from(s), u128::from(duration.subsec_nanos()), 9)
    );
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_operators_write() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("2h45m10s"), Ok(Duration::from_secs(9910)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse("10µs"), Ok(Duration::from_micros(10)));
        assert_eq!(parse("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse("+5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_what_go_rejects_and_negatives() {
        for bad in [
            "", "5", "1x", "h", "1h30", "5 m", "-5s", "1..5s", "1.2.3s", "s5", "1d", ".s",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse("99999999999999999999999h").is_err());
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(Duration::from_secs(5400)), "1h30m0s");
        assert_eq!(format(Duration::from_secs(45)), "45s");
        assert_eq!(format(Duration::from_secs(120)), "2m0s");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format(Duration::from_millis(250)), "250ms");
        assert_eq!(format(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format(Duration::from_nanos(1500)), "1.5µs");
        assert_eq!(format(Duration::from_nanos(7)), "7ns");
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::new(3723, 4)), "1h2m3.000000004s");
    }
}
