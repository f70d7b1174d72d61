//! The retention keys: `retain`, `retain_hourly`, `retain_daily`, `retain_weekly`,
//! `retain_monthly`, `retain_yearly` and `retain_within`, at the top level and in any
//! storage object. A storage object that sets any of them uses its own keys only: its policy
//! replaces the top-level one rather than merging with it.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ConfigError, Validator, non_empty};
use crate::duration;
use crate::retention::RetentionPolicy;

/// The retention keys of one object, as written. They are taken out of each object (the top
/// level, every storage object) before the rest is read, so they are declared once here.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetention {
    retain: Option<i64>,
    retain_hourly: Option<i64>,
    retain_daily: Option<i64>,
    retain_weekly: Option<i64>,
    retain_monthly: Option<i64>,
    retain_yearly: Option<i64>,
    retain_within: Option<String>,
}

/// Removes the `retain*` keys from `object` and returns them.
pub(super) fn take_retention_keys(object: &mut Map<String, Value>) -> Map<String, Value> {
    let keys: Vec<String> = object
        .keys()
        .filter(|k| k.starts_with("retain"))
        .cloned()
        .collect();
    keys.into_iter()
        .filter_map(|k| object.remove_entry(&k))
        .collect()
}

impl RawRetention {
    fn is_empty(&self) -> bool {
        self.retain.is_none()
            && self.retain_hourly.is_none()
            && self.retain_daily.is_none()
            && self.retain_weekly.is_none()
            && self.retain_monthly.is_none()
            && self.retain_yearly.is_none()
            && self.retain_within.as_deref().is_none_or(str::is_empty)
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
        let within = match non_empty(raw.retain_within) {
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
            hourly: count("retain_hourly", raw.retain_hourly)?,
            daily: count("retain_daily", raw.retain_daily)?,
            weekly: count("retain_weekly", raw.retain_weekly)?,
            monthly: count("retain_monthly", raw.retain_monthly)?,
            yearly: count("retain_yearly", raw.retain_yearly)?,
            within,
        }))
    }
}
