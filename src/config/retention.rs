//! The retention keys: `retain`, `retain_hourly`, `retain_daily`, `retain_weekly`,
//! `retain_monthly`, `retain_yearly` and `retain_within`, at the top level and in any
//! storage object. A storage object that sets any of them uses its own keys only: its policy
//! replaces the top-level one rather than merging with it.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::ConfigError;
use super::validator::{Validator, non_empty};
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
    /// Reads one object (`path` is `""` for the top level): its retention keys, then the rest
    /// as `T`. Errors name the key by its full path.
    pub(super) fn object<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        value: serde_json::Value,
    ) -> Result<(T, RawRetention), ConfigError> {
        let serde_json::Value::Object(mut object) = value else {
            return Err(if path.is_empty() {
                ConfigError(format!("{}: expected a JSON object", self.file))
            } else {
                self.err(path, "must be an object")
            });
        };
        let retention_keys = take_retention_keys(&mut object);
        let retention = serde_path_to_error::deserialize(serde_json::Value::Object(retention_keys))
            .map_err(|e| self.at(path, &e.path().to_string(), e.into_inner()))?;
        let parsed = serde_path_to_error::deserialize(serde_json::Value::Object(object))
            .map_err(|e| self.at(path, &e.path().to_string(), e.into_inner()))?;
        Ok((parsed, retention))
    }

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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::testing::{accepted, assert_refused};
    use crate::retention::RetentionPolicy;

    #[test]
    fn retention_keys_at_the_top_and_per_storage_replace_rather_than_merge() {
        let config = accepted(
            r#"{"role_id": "r", "secret_id": "s", "retain": 3, "retain_daily": 7,
                "retain_weekly": 4, "retain_monthly": 12, "retain_yearly": 2,
                "retain_hourly": 24, "retain_within": "72h",
                "local_storage": [{"path": "/a"}, {"path": "/b", "retain_monthly": 6}]}"#,
            &[],
        );
        assert_eq!(
            config.retention,
            RetentionPolicy {
                last: 3,
                hourly: 24,
                daily: 7,
                weekly: 4,
                monthly: 12,
                yearly: 2,
                within: Some(Duration::from_secs(72 * 3600)),
            }
        );
        assert_eq!(config.storages[0].retention, None, "uses the top level");
        assert_eq!(
            config.storages[1].retention,
            Some(RetentionPolicy {
                monthly: 6,
                ..RetentionPolicy::default()
            }),
            "its own keys only, not merged with the top level"
        );
    }

    #[test]
    fn policies_are_read_as_written() {
        for (row, expected) in [
            (r#""retain_hourly": 0"#, RetentionPolicy::default()),
            (r#""retain": 72"#, RetentionPolicy::keep_last(72)),
            (r#""retain_within": """#, RetentionPolicy::default()),
            (
                r#""retain_within": "0s""#,
                RetentionPolicy {
                    within: Some(Duration::ZERO),
                    ..RetentionPolicy::default()
                },
            ),
            (
                r#""retain_within": "1h30m", "retain": 0"#,
                RetentionPolicy {
                    within: Some(Duration::from_secs(5400)),
                    ..RetentionPolicy::default()
                },
            ),
        ] {
            assert_eq!(accepted(row, &[]).retention, expected, "row {row}");
        }
        assert!(
            accepted(r#""retain_within": "0s""#, &[])
                .retention
                .keeps_all(),
            "0s is off"
        );
    }

    #[test]
    fn bad_retention_keys_are_refused_by_their_full_key() {
        assert_refused(&[
            (r#""retain": -1"#, "key \"retain\": must be 0 or more"),
            (r#""retain": "three""#, "key \"retain\": invalid type"),
            (
                r#""retain_daily": -1"#,
                "key \"retain_daily\": must be 0 or more",
            ),
            (
                r#""retain_within": "3 days""#,
                "key \"retain_within\": invalid duration",
            ),
            (
                r#""retain_fortnightly": 2"#,
                "unknown field `retain_fortnightly`",
            ),
            (
                r#"{"role_id": "r", "secret_id": "s", "local_storage": {"path": "/a", "retain_weekly": -3}}"#,
                "key \"local_storage.retain_weekly\": must be 0 or more",
            ),
            (
                r#"{"role_id": "r", "secret_id": "s", "local_storage": {"path": "/a", "retain_within": "soon"}}"#,
                "key \"local_storage.retain_within\": invalid duration",
            ),
            (
                r#"{"role_id": "r", "secret_id": "s", "local_storage": [{"path": "/a"}, {"path": "/b", "retain": 1.5}]}"#,
                "key \"local_storage[1].retain\": invalid type",
            ),
        ]);
    }
}
