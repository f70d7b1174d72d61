//! The retention keys: `retain`, `retain_hourly`, `retain_daily`, `retain_weekly`,
//! `retain_monthly`, `retain_yearly` and `retain_within`, at the top level and in any
//! storage object. A storage object that sets any of them uses its own keys only: its policy
//! replaces the top-level one rather than merging with it.

use super::{ConfigError, Validator, non_empty};
use crate::duration;
use crate::retention::RetentionPolicy;

/// The retention keys of one object, as written.
#[derive(Default)]
pub(super) struct RawRetention {
    pub retain: Option<i64>,
    pub hourly: Option<i64>,
    pub daily: Option<i64>,
    pub weekly: Option<i64>,
    pub monthly: Option<i64>,
    pub yearly: Option<i64>,
    pub within: Option<String>,
}

/// The retention keys of any raw object with the fields `retain`, `retain_hourly`, ...
macro_rules! raw_retention {
    ($raw:expr) => {
        $crate::config::retention::RawRetention {
            retain: $raw.retain,
            hourly: $raw.retain_hourly,
            daily: $raw.retain_daily,
            weekly: $raw.retain_weekly,
            monthly: $raw.retain_monthly,
            yearly: $raw.retain_yearly,
            within: $raw.retain_within.clone(),
        }
    };
}
pub(super) use raw_retention;

impl RawRetention {
    fn is_empty(&self) -> bool {
        self.retain.is_none()
            && self.hourly.is_none()
            && self.daily.is_none()
            && self.weekly.is_none()
            && self.monthly.is_none()
            && self.yearly.is_none()
            && self.within.as_deref().is_none_or(str::is_empty)
    }
}

impl Validator<'_> {
    /// The policy the keys under `path` (`""` for the top level) describe, or `None` when
    /// none of them is set.
    pub(super) fn retention(
        &self,
        path: &str,
        raw: RawRetention,
    ) -> Result<Option<RetentionPolicy>, ConfigError> {
        if raw.is_empty() {
            return Ok(None);
        }
        let key = |name: &str| {
            if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}.{name}")
            }
        };
        let count = |name: &str, value: Option<i64>| -> Result<u64, ConfigError> {
            match value {
                None => Ok(0),
                Some(n) => u64::try_from(n)
                    .map_err(|_| self.err(&key(name), format!("must be 0 or more, not {n}"))),
            }
        };
        let within = match non_empty(raw.within) {
            None => None,
            Some(text) => Some(duration::parse(&text).map_err(|e| {
                self.err(
                    &key("retain_within"),
                    format!("invalid duration {text:?}: {e} (examples: 72h, 168h, 30m; 0s is off)"),
                )
            })?),
        };
        Ok(Some(RetentionPolicy {
            last: count("retain", raw.retain)?,
            hourly: count("retain_hourly", raw.hourly)?,
            daily: count("retain_daily", raw.daily)?,
            weekly: count("retain_weekly", raw.weekly)?,
            monthly: count("retain_monthly", raw.monthly)?,
            yearly: count("retain_yearly", raw.yearly)?,
            within,
        }))
    }
}
