//! Other agents' snapshot names (`other_snapshot_names`), so a switch to this agent neither
//! loses their snapshots nor keeps them forever.
//!
//! Argelbargel's vault-raft-snapshot-agent names a snapshot `namePrefix` + the time formatted
//! with a Go time layout (`timestampFormat`) + `nameSuffix`, in the agent's local time zone
//! (`time.Now()`); its default is `raft-snapshot-2006-01-02T15-04-05Z-0700.snap`. A name is
//! recognised only if it is exactly what Go's `Time.Format` writes for the time it parses to
//! (parsed, then formatted again and compared), so `list`, `fetch`, `restore`, `inspect` and
//! retention see it, dated by the time in its name, and nothing else is taken for one.
//!
//! Vault Enterprise's automated snapshots document only that the object name "starts with"
//! `file_prefix`; no time format of the rest is documented, so such names cannot be dated and
//! are not recognised (the key is accepted and says so).
//!
//! The patterns are installed once per process ([`install`]) by the command that loaded the
//! config; [`crate::snapshot_name::SnapshotName::parse`] consults them after our own form.
//! We never write such a name: every name we write is `SnapshotName::at`.

use std::collections::BTreeSet;
use std::sync::{Mutex, RwLock};

/// One piece of a Go time layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// Text written as it is.
    Literal(String),
    /// `2006`
    LongYear,
    /// `06`
    Year,
    /// `01`
    ZeroMonth,
    /// `1`
    NumMonth,
    /// `Jan`
    MonthAbbr,
    /// `January`
    MonthName,
    /// `02`
    ZeroDay,
    /// `2`
    Day,
    /// `_2`
    UnderDay,
    /// `15`
    Hour,
    /// `03`
    ZeroHour12,
    /// `3`
    Hour12,
    /// `04`
    ZeroMinute,
    /// `4`
    Minute,
    /// `05`
    ZeroSecond,
    /// `5`
    Second,
    /// `PM` (true) or `pm` (false)
    Pm(bool),
    /// `Mon`
    WeekdayAbbr,
    /// `Monday`
    WeekdayName,
    /// `MST`
    ZoneAbbr,
    /// `-0700`, `-07:00`, `-07`, `-070000`, `-07:00:00` and the `Z` forms (`Z0700`, ...:
    /// `Z` for UTC).
    Offset {
        /// `Z` for a zero offset.
        z: bool,
        /// Minutes written.
        minutes: bool,
        /// Seconds written.
        seconds: bool,
        /// `:` between the fields.
        colon: bool,
    },
    /// `.000` (`fixed`: exactly `digits` digits) or `.999` (trailing zeros dropped, omitted
    /// when zero); `sep` is `.` or `,`.
    Fraction {
        /// `.` or `,`.
        sep: char,
        /// How many digits the layout writes.
        digits: usize,
        /// `0`s: fixed width.
        fixed: bool,
    },
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Splits a Go time layout into tokens, the way Go's `time` package reads it (its
/// `nextStdChunk`). A token that cannot be parsed back unambiguously is refused, named.
///
/// # Errors
/// The token refused, or a layout without year, month and day (a name without them cannot be
/// dated).
pub fn parse_layout(layout: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let b = layout.as_bytes();
    let mut i = 0;
    let starts = |i: usize, s: &str| layout[i..].starts_with(s);
    while i < b.len() {
        let (token, len): (Option<Token>, usize) = match b[i] {
            b'J' if starts(i, "January") => (Some(Token::MonthName), 7),
            b'J' if starts(i, "Jan") => (Some(Token::MonthAbbr), 3),
            b'M' if starts(i, "Monday") => (Some(Token::WeekdayName), 6),
            b'M' if starts(i, "Mon") => (Some(Token::WeekdayAbbr), 3),
            b'M' if starts(i, "MST") => (Some(Token::ZoneAbbr), 3),
            b'0' if starts(i, "002") => return Err(refused("002", "the day of the year")),
            b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => (
                Some(match b[i + 1] {
                    b'1' => Token::ZeroMonth,
                    b'2' => Token::ZeroDay,
                    b'3' => Token::ZeroHour12,
                    b'4' => Token::ZeroMinute,
                    b'5' => Token::ZeroSecond,
                    _ => Token::Year,
                }),
                2,
            ),
            b'1' if starts(i, "15") => (Some(Token::Hour), 2),
            b'1' => (Some(Token::NumMonth), 1),
            b'2' if starts(i, "2006") => (Some(Token::LongYear), 4),
            b'2' => (Some(Token::Day), 1),
            // `_2006` is a literal `_` and the year.
            b'_' if starts(i, "_2006") => (None, 1),
            b'_' if starts(i, "_2") => (Some(Token::UnderDay), 2),
            b'_' if starts(i, "__2") => return Err(refused("__2", "the day of the year")),
            b'3' => (Some(Token::Hour12), 1),
            b'4' => (Some(Token::Minute), 1),
            b'5' => (Some(Token::Second), 1),
            b'P' if starts(i, "PM") => (Some(Token::Pm(true)), 2),
            b'p' if starts(i, "pm") => (Some(Token::Pm(false)), 2),
            b'-' | b'Z' => match offset_token(&layout[i..]) {
                Some((token, len)) => (Some(token), len),
                None => (None, 1),
            },
            b'.' | b',' => {
                let run = b[i + 1..]
                    .iter()
                    .take_while(|&&c| c == b'0' || c == b'9')
                    .count();
                let same = run > 0 && b[i + 1..i + 1 + run].iter().all(|&c| c == b[i + 1]);
                let after_is_digit = b.get(i + 1 + run).is_some_and(u8::is_ascii_digit);
                if same && !after_is_digit {
                    (
                        Some(Token::Fraction {
                            sep: char::from(b[i]),
                            digits: run,
                            fixed: b[i + 1] == b'0',
                        }),
                        run + 1,
                    )
                } else {
                    (None, 1)
                }
            }
            _ => (None, 0),
        };
        match token {
            Some(token) => {
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                tokens.push(token);
                i += len;
            }
            None => {
                let ch = layout[i..].chars().next().unwrap_or(' ');
                let step = if len == 0 { ch.len_utf8() } else { len };
                literal.push_str(&layout[i..i + step]);
                i += step;
            }
        }
    }
    if !literal.is_empty() {
        tokens.push(Token::Literal(literal));
    }
    let has = |f: &dyn Fn(&Token) -> bool| tokens.iter().any(f);
    if !has(&|t| matches!(t, Token::LongYear | Token::Year)) {
        return Err("it has no year (2006 or 06): a name without one cannot be dated".into());
    }
    if !has(&|t| {
        matches!(
            t,
            Token::ZeroMonth | Token::NumMonth | Token::MonthAbbr | Token::MonthName
        )
    }) {
        return Err(
            "it has no month (01, 1, Jan or January): a name without one cannot be dated".into(),
        );
    }
    if !has(&|t| matches!(t, Token::ZeroDay | Token::Day | Token::UnderDay)) {
        return Err("it has no day (02, 2 or _2): a name without one cannot be dated".into());
    }
    let twelve = has(&|t| matches!(t, Token::ZeroHour12 | Token::Hour12));
    if twelve && !has(&|t| matches!(t, Token::Pm(_))) {
        return Err(refused(
            "03",
            "a 12-hour clock without PM cannot tell morning from evening",
        ));
    }
    Ok(tokens)
}

fn refused(token: &str, why: &str) -> String {
    format!("the layout token {token:?} is not supported ({why})")
}

/// The numeric zone token at the start of `rest`, if any, and its length.
fn offset_token(rest: &str) -> Option<(Token, usize)> {
    let z = rest.starts_with('Z');
    let body = &rest[1..];
    // Longest first, as Go does.
    for (form, minutes, seconds, colon) in [
        ("070000", true, true, false),
        ("07:00:00", true, true, true),
        ("0700", true, false, false),
        ("07:00", true, false, true),
        ("07", false, false, false),
    ] {
        if body.starts_with(form) {
            return Some((
                Token::Offset {
                    z,
                    minutes,
                    seconds,
                    colon,
                },
                1 + form.len(),
            ));
        }
    }
    None
}

/// The zone a layout without one is read in (`time_zone`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// UTC.
    Utc,
    /// The agent's local time zone (as `TZ` and `/etc/localtime` say).
    Local,
    /// A fixed offset east of UTC, in seconds.
    Fixed(i32),
}

impl Zone {
    /// `UTC`, `Local` or `+02:00` / `-05:30`.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(text: &str) -> Result<Zone, String> {
        match text {
            "UTC" | "utc" | "Z" => return Ok(Zone::Utc),
            "Local" | "local" => return Ok(Zone::Local),
            _ => {}
        }
        let sign = match text.as_bytes().first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => {
                return Err(format!(
                    "{text:?} is not UTC, Local or an offset like +02:00"
                ));
            }
        };
        let (h, m) = text[1..]
            .split_once(':')
            .ok_or_else(|| format!("{text:?} is not UTC, Local or an offset like +02:00"))?;
        let (Ok(h), Ok(m)) = (h.parse::<i32>(), m.parse::<i32>()) else {
            return Err(format!(
                "{text:?} is not UTC, Local or an offset like +02:00"
            ));
        };
        if h.to_string().len() > 2 || h > 23 || !(0..60).contains(&m) {
            return Err(format!(
                "{text:?} is not an offset between -23:59 and +23:59"
            ));
        }
        Ok(Zone::Fixed(sign * (h * 3600 + m * 60)))
    }
}

/// One kind of other agent's names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OtherNames {
    /// `name_prefix` + a Go time layout + `name_suffix`.
    GoLayout {
        /// Before the time.
        prefix: String,
        /// The layout, as written (for messages).
        layout: String,
        /// The layout's tokens.
        tokens: Vec<Token>,
        /// After the time.
        suffix: String,
        /// The zone of a layout without one.
        zone: Zone,
    },
    /// Vault Enterprise's automated snapshots: names starting with `file_prefix`. Their time
    /// format is not documented, so they are not recognised.
    VaultFilePrefix(String),
}

/// What a name says, field by field.
#[derive(Default, Debug)]
struct Fields {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    hour12: Option<u32>,
    pm: Option<bool>,
    minute: u32,
    second: u32,
    nanos: u32,
    offset: Option<i32>,
    zone_abbr: Option<String>,
}

fn take_digits(s: &mut &str, min: usize, max: usize) -> Option<u32> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n < min {
        return None;
    }
    let v = s[..n].parse().ok()?;
    *s = &s[n..];
    Some(v)
}

fn take_word<'a>(s: &mut &str, words: impl Iterator<Item = &'a str>) -> Option<usize> {
    for (i, w) in words.enumerate() {
        if let Some(rest) = s.strip_prefix(w) {
            *s = rest;
            return Some(i);
        }
    }
    None
}

impl OtherNames {
    /// The Unix time in nanoseconds that `name` carries, when it is one of these names.
    #[must_use]
    pub fn parse(&self, name: &str) -> Option<u128> {
        let OtherNames::GoLayout {
            prefix,
            tokens,
            suffix,
            zone,
            ..
        } = self
        else {
            return None;
        };
        if name.contains('/') {
            return None;
        }
        let value = name
            .strip_prefix(prefix.as_str())?
            .strip_suffix(suffix.as_str())?;
        let fields = parse_value(tokens, value)?;
        if format_value(tokens, &fields)? != value {
            return None;
        }
        to_unix_nanos(&fields, *zone)
    }
}

#[allow(clippy::too_many_lines)]
fn parse_value(tokens: &[Token], mut s: &str) -> Option<Fields> {
    let mut f = Fields {
        month: 1,
        day: 1,
        ..Fields::default()
    };
    let mut weekday = None;
    for token in tokens {
        match token {
            Token::Literal(text) => s = s.strip_prefix(text.as_str())?,
            Token::LongYear => f.year = i64::from(take_digits(&mut s, 4, 4)?),
            Token::Year => {
                let yy = i64::from(take_digits(&mut s, 2, 2)?);
                f.year = if yy >= 69 { 1900 + yy } else { 2000 + yy };
            }
            Token::ZeroMonth => f.month = take_digits(&mut s, 2, 2)?,
            Token::NumMonth => f.month = take_digits(&mut s, 1, 2)?,
            Token::MonthAbbr => {
                f.month =
                    1 + u32::try_from(take_word(&mut s, MONTHS.iter().map(|m| &m[..3]))?).ok()?;
            }
            Token::MonthName => {
                f.month = 1 + u32::try_from(take_word(&mut s, MONTHS.iter().copied())?).ok()?;
            }
            Token::ZeroDay => f.day = take_digits(&mut s, 2, 2)?,
            Token::Day => f.day = take_digits(&mut s, 1, 2)?,
            Token::UnderDay => {
                if let Some(rest) = s.strip_prefix(' ') {
                    s = rest;
                    f.day = take_digits(&mut s, 1, 1)?;
                } else {
                    f.day = take_digits(&mut s, 2, 2)?;
                }
            }
            Token::Hour => f.hour = take_digits(&mut s, 1, 2)?,
            Token::ZeroHour12 => f.hour12 = Some(take_digits(&mut s, 2, 2)?),
            Token::Hour12 => f.hour12 = Some(take_digits(&mut s, 1, 2)?),
            Token::ZeroMinute => f.minute = take_digits(&mut s, 2, 2)?,
            Token::Minute => f.minute = take_digits(&mut s, 1, 2)?,
            Token::ZeroSecond => f.second = take_digits(&mut s, 2, 2)?,
            Token::Second => f.second = take_digits(&mut s, 1, 2)?,
            Token::Pm(upper) => {
                let (am, pm) = if *upper { ("AM", "PM") } else { ("am", "pm") };
                f.pm = Some(take_word(&mut s, [am, pm].into_iter())? == 1);
            }
            Token::WeekdayAbbr => {
                weekday = Some(take_word(&mut s, WEEKDAYS.iter().map(|d| &d[..3]))?);
            }
            Token::WeekdayName => weekday = Some(take_word(&mut s, WEEKDAYS.iter().copied())?),
            Token::ZoneAbbr => {
                let n = s.bytes().take_while(u8::is_ascii_uppercase).count();
                if !(3..=5).contains(&n) {
                    return None;
                }
                f.zone_abbr = Some(s[..n].to_string());
                s = &s[n..];
            }
            Token::Offset {
                z,
                minutes,
                seconds,
                colon,
            } => {
                if *z && let Some(rest) = s.strip_prefix('Z') {
                    s = rest;
                    f.offset = Some(0);
                    continue;
                }
                let sign = match s.as_bytes().first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                s = &s[1..];
                let mut total = take_digits(&mut s, 2, 2)? * 3600;
                for (on, unit) in [(*minutes, 60), (*seconds, 1)] {
                    if on {
                        if *colon {
                            s = s.strip_prefix(':')?;
                        }
                        total += take_digits(&mut s, 2, 2)? * unit;
                    }
                }
                f.offset = Some(sign * i32::try_from(total).ok()?);
            }
            Token::Fraction { sep, digits, fixed } => {
                let Some(rest) = s.strip_prefix(*sep) else {
                    if *fixed {
                        return None;
                    }
                    continue;
                };
                let n = rest.bytes().take_while(u8::is_ascii_digit).count();
                if n == 0 || (*fixed && n != *digits) || n > 9 {
                    return None;
                }
                let padded = format!("{:0<9}", &rest[..n]);
                f.nanos = padded.parse().ok()?;
                s = &rest[n..];
            }
        }
    }
    if !s.is_empty() {
        return None;
    }
    if let Some(h12) = f.hour12 {
        if !(1..=12).contains(&h12) {
            return None;
        }
        f.hour = h12 % 12 + if f.pm == Some(true) { 12 } else { 0 };
    }
    let valid = (1..=12).contains(&f.month)
        && f.day >= 1
        && f.day <= days_in_month(f.year, f.month)
        && f.hour < 24
        && f.minute < 60
        && f.second < 60;
    if !valid {
        return None;
    }
    if let Some(w) = weekday
        && w != weekday_of(f.year, f.month, f.day)
    {
        return None;
    }
    Some(f)
}

/// What Go's `Time.Format` writes for `f` with `tokens`.
fn format_value(tokens: &[Token], f: &Fields) -> Option<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    let h12 = if f.hour % 12 == 0 { 12 } else { f.hour % 12 };
    for token in tokens {
        let _ = match token {
            Token::Literal(text) => write!(out, "{text}"),
            Token::LongYear => write!(out, "{:04}", f.year),
            Token::Year => write!(out, "{:02}", f.year % 100),
            Token::ZeroMonth => write!(out, "{:02}", f.month),
            Token::NumMonth => write!(out, "{}", f.month),
            Token::MonthAbbr => write!(out, "{}", &MONTHS[f.month as usize - 1][..3]),
            Token::MonthName => write!(out, "{}", MONTHS[f.month as usize - 1]),
            Token::ZeroDay => write!(out, "{:02}", f.day),
            Token::Day => write!(out, "{}", f.day),
            Token::UnderDay => write!(out, "{:>2}", f.day),
            Token::Hour => write!(out, "{:02}", f.hour),
            Token::ZeroHour12 => write!(out, "{h12:02}"),
            Token::Hour12 => write!(out, "{h12}"),
            Token::ZeroMinute => write!(out, "{:02}", f.minute),
            Token::Minute => write!(out, "{}", f.minute),
            Token::ZeroSecond => write!(out, "{:02}", f.second),
            Token::Second => write!(out, "{}", f.second),
            Token::Pm(upper) => {
                let pm = f.hour >= 12;
                write!(
                    out,
                    "{}",
                    match (upper, pm) {
                        (true, true) => "PM",
                        (true, false) => "AM",
                        (false, true) => "pm",
                        (false, false) => "am",
                    }
                )
            }
            Token::WeekdayAbbr => write!(
                out,
                "{}",
                &WEEKDAYS[weekday_of(f.year, f.month, f.day)][..3]
            ),
            Token::WeekdayName => write!(out, "{}", WEEKDAYS[weekday_of(f.year, f.month, f.day)]),
            Token::ZoneAbbr => write!(out, "{}", f.zone_abbr.as_deref()?),
            Token::Offset {
                z,
                minutes,
                seconds,
                colon,
            } => {
                let offset = f.offset?;
                if *z && offset == 0 {
                    write!(out, "Z")
                } else {
                    let sign = if offset < 0 { '-' } else { '+' };
                    let abs = offset.unsigned_abs();
                    let sep = if *colon { ":" } else { "" };
                    let _ = write!(out, "{sign}{:02}", abs / 3600);
                    if *minutes {
                        let _ = write!(out, "{sep}{:02}", abs / 60 % 60);
                    }
                    if *seconds {
                        let _ = write!(out, "{sep}{:02}", abs % 60);
                    }
                    Ok(())
                }
            }
            Token::Fraction { sep, digits, fixed } => {
                let all = format!("{:09}", f.nanos);
                let shown = &all[..(*digits).min(9)];
                if *fixed {
                    write!(out, "{sep}{shown}")
                } else {
                    let trimmed = shown.trim_end_matches('0');
                    if trimmed.is_empty() {
                        Ok(())
                    } else {
                        write!(out, "{sep}{trimmed}")
                    }
                }
            }
        };
    }
    Some(out)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// 0 = Sunday.
fn weekday_of(year: i64, month: u32, day: u32) -> usize {
    usize::try_from((days_from_civil(year, month, day) + 4).rem_euclid(7)).unwrap_or(0)
}

fn to_unix_nanos(f: &Fields, zone: Zone) -> Option<u128> {
    let local = days_from_civil(f.year, f.month, f.day) * 86_400
        + i64::from(f.hour) * 3600
        + i64::from(f.minute) * 60
        + i64::from(f.second);
    let utc = match (f.offset, f.zone_abbr.as_deref(), zone) {
        (Some(offset), _, _) => local - i64::from(offset),
        (None, Some("UTC" | "GMT"), _) | (None, _, Zone::Utc) => local,
        (None, _, Zone::Fixed(offset)) => local - i64::from(offset),
        (None, _, Zone::Local) => local_to_utc(f)?,
    };
    let secs = u128::try_from(utc).ok()?;
    Some(secs * 1_000_000_000 + u128::from(f.nanos))
}

/// The Unix time of a wall-clock time in the local time zone (`mktime`).
fn local_to_utc(f: &Fields) -> Option<i64> {
    // SAFETY: `tm` is a plain C struct, zeroed and then filled; mktime only reads and
    // normalises it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = i32::try_from(f.year - 1900).ok()?;
    tm.tm_mon = i32::try_from(f.month).ok()? - 1;
    tm.tm_mday = i32::try_from(f.day).ok()?;
    tm.tm_hour = i32::try_from(f.hour).ok()?;
    tm.tm_min = i32::try_from(f.minute).ok()?;
    tm.tm_sec = i32::try_from(f.second).ok()?;
    tm.tm_isdst = -1;
    // SAFETY: a valid pointer to an initialised tm.
    let t = unsafe { libc::mktime(&raw mut tm) };
    if t == -1 { None } else { Some(t) }
}

static PATTERNS: RwLock<Vec<OtherNames>> = RwLock::new(Vec::new());
static INTERNED: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

/// Makes `patterns` the names this process recognises besides its own (the loaded config's
/// `other_snapshot_names`).
pub fn install(patterns: &[OtherNames]) {
    *PATTERNS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = patterns.to_vec();
}

/// The time (Unix nanoseconds) and the name itself, interned (each distinct name is kept once
/// for the life of the process), when `name` is one of the installed other names.
#[must_use]
pub fn recognise(name: &str) -> Option<(u128, &'static str)> {
    let patterns = PATTERNS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let nanos = patterns.iter().find_map(|p| p.parse(name))?;
    let mut interned = INTERNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let stored = if let Some(&s) = interned.get(name) {
        s
    } else {
        let s: &'static str = Box::leak(name.to_string().into_boxed_str());
        interned.insert(s);
        s
    };
    Some((nanos, stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(prefix: &str, layout: &str, suffix: &str, zone: Zone) -> OtherNames {
        OtherNames::GoLayout {
            prefix: prefix.into(),
            layout: layout.into(),
            tokens: parse_layout(layout).unwrap(),
            suffix: suffix.into(),
            zone,
        }
    }

    fn secs(s: &OtherNames, name: &str) -> Option<u128> {
        s.parse(name).map(|n| n / 1_000_000_000)
    }

    #[test]
    fn the_default_layout_parses_as_go_reads_it() {
        assert_eq!(
            parse_layout("2006-01-02T15-04-05Z-0700").unwrap(),
            vec![
                Token::LongYear,
                Token::Literal("-".into()),
                Token::ZeroMonth,
                Token::Literal("-".into()),
                Token::ZeroDay,
                Token::Literal("T".into()),
                Token::Hour,
                Token::Literal("-".into()),
                Token::ZeroMinute,
                Token::Literal("-".into()),
                Token::ZeroSecond,
                Token::Literal("Z".into()),
                Token::Offset {
                    z: false,
                    minutes: true,
                    seconds: false,
                    colon: false
                },
            ]
        );
    }

    #[test]
    fn argelbargels_default_names_are_dated_by_their_offset() {
        let p = go(
            "raft-snapshot-",
            "2006-01-02T15-04-05Z-0700",
            ".snap",
            Zone::Local,
        );
        // The README's example: 15:30:00 on 2023-09-01 at +02:00 is 13:30:00 UTC.
        assert_eq!(
            secs(&p, "raft-snapshot-2023-09-01T15-30-00Z+0200.snap"),
            Some(1_693_575_000)
        );
        assert_eq!(
            secs(&p, "raft-snapshot-2023-09-01T13-30-00Z+0000.snap"),
            Some(1_693_575_000)
        );
        for foreign in [
            "raft-snapshot-2023-09-01T15-30-00Z+0200.snap.bak",
            "raft-snapshot-2023-9-01T15-30-00Z+0200.snap",
            "raft-snapshot-2023-09-31T15-30-00Z+0200.snap",
            "raft-snapshot-2023-09-01T24-30-00Z+0200.snap",
            "raft-snapshot-2023-09-01T15-30-00Z0200.snap",
            "raft-snapshot-2023-09-01T15-30-00ZZ.snap",
            "x/raft-snapshot-2023-09-01T15-30-00Z+0200.snap",
            "raft_snapshot-1.snap",
            "raft-snapshot-.snap",
        ] {
            assert_eq!(p.parse(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn layouts_without_a_zone_use_time_zone() {
        let utc = go("s-", "2006-01-02", "", Zone::Utc);
        assert_eq!(secs(&utc, "s-2023-09-01"), Some(1_693_526_400));
        let east = go("s-", "2006-01-02", "", Zone::Fixed(7200));
        assert_eq!(secs(&east, "s-2023-09-01"), Some(1_693_526_400 - 7200));
    }

    #[test]
    fn every_supported_token_round_trips_and_only_what_go_writes_parses() {
        let p = go("", "Mon Jan _2 3:4:5.999 PM MST 06 Z07:00", "", Zone::Utc);
        // 2023-09-01 was a Friday.
        assert_eq!(
            p.parse("Fri Sep  1 1:2:3.5 PM UTC 23 Z"),
            Some((1_693_526_400 + 13 * 3600 + 2 * 60 + 3) as u128 * 1_000_000_000 + 500_000_000)
        );
        assert_eq!(
            p.parse("Thu Sep  1 1:2:3.5 PM UTC 23 Z"),
            None,
            "wrong weekday"
        );
        assert_eq!(
            p.parse("Fri Sep  1 1:2:3.50 PM UTC 23 Z"),
            None,
            "trailing zero"
        );
        assert_eq!(
            p.parse("Fri Sep 01 1:2:3.5 PM UTC 23 Z"),
            None,
            "zero-padded _2"
        );
        assert_eq!(
            p.parse("Fri Sep  1 1:2:3.5 PM UTC 23 +00:00"),
            None,
            "Z for UTC"
        );
        let fixed = go("", "January 2 2006 15.04.05.000 -07:00:00", "", Zone::Utc);
        assert_eq!(
            fixed.parse("September 1 2023 00.00.00.250 -01:30:00"),
            Some((1_693_526_400 + 5400) as u128 * 1_000_000_000 + 250_000_000)
        );
        assert_eq!(fixed.parse("September 1 2023 00.00.00.25 -01:30:00"), None);
        let comma = go("", "20060102150405,000", "", Zone::Utc);
        assert_eq!(
            comma.parse("20230901000000,001"),
            Some(1_693_526_400 * 1_000_000_000 + 1_000_000)
        );
        let pm = go("", "2006-1-2 03pm", "", Zone::Utc);
        assert_eq!(
            pm.parse("2023-9-1 12am").map(|n| n / 1_000_000_000),
            Some(1_693_526_400)
        );
        assert_eq!(pm.parse("2023-09-1 12am"), None);
        let yy = go("", "060102-07", "", Zone::Utc);
        assert_eq!(
            yy.parse("230901+01").map(|n| n / 1_000_000_000),
            Some(1_693_526_400 - 3600)
        );
    }

    #[test]
    fn layouts_that_cannot_be_parsed_back_are_refused_naming_the_token() {
        for (layout, says) in [
            ("2006-002", "\"002\""),
            ("2006 __2", "\"__2\""),
            ("2006-01-02 03:04", "\"03\""),
            ("15-04-05", "no year"),
            ("2006-02", "no month"),
            ("2006-01", "no day"),
        ] {
            let e = parse_layout(layout).unwrap_err();
            assert!(e.contains(says), "{layout}: {e}");
        }
        // `_2006` is a literal underscore and the year.
        assert_eq!(
            parse_layout("_2006-01-02").unwrap()[..2],
            [Token::Literal("_".into()), Token::LongYear]
        );
    }

    #[test]
    fn zones_parse() {
        assert_eq!(Zone::parse("UTC"), Ok(Zone::Utc));
        assert_eq!(Zone::parse("Local"), Ok(Zone::Local));
        assert_eq!(Zone::parse("+02:00"), Ok(Zone::Fixed(7200)));
        assert_eq!(Zone::parse("-05:30"), Ok(Zone::Fixed(-19800)));
        for bad in ["CET", "+2", "+24:00", "+02:60", ""] {
            assert!(Zone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn vault_file_prefixes_are_never_recognised() {
        assert_eq!(
            OtherNames::VaultFilePrefix("vault-snapshot".into()).parse("vault-snapshot-1.snap"),
            None
        );
    }
}
