//! `other_snapshot_names`: the other agents' snapshot names to recognise
//! ([`crate::other_names`]). Each item is Argelbargel's agent's
//! `{"name_prefix", "go_time_layout", "name_suffix", "time_zone"}` or Vault Enterprise's
//! `{"vault_file_prefix"}`; errors name the item by its index.

use serde::Deserialize;

use super::ConfigError;
use super::validator::Validator;
use crate::other_names::{OtherNames, Zone, parse_layout};

const KEY: &str = "other_snapshot_names";

/// Argelbargel's agent's defaults (its `StorageConfigDefaults`).
const DEFAULT_PREFIX: &str = "raft-snapshot-";
const DEFAULT_LAYOUT: &str = "2006-01-02T15-04-05Z-0700";
const DEFAULT_SUFFIX: &str = ".snap";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGoNames {
    name_prefix: Option<String>,
    go_time_layout: Option<String>,
    name_suffix: Option<String>,
    time_zone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVaultNames {
    vault_file_prefix: String,
}

impl Validator<'_> {
    pub(super) fn other_snapshot_names(
        &self,
        value: Option<serde_json::Value>,
    ) -> Result<Vec<OtherNames>, ConfigError> {
        let items = match value {
            None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
            Some(serde_json::Value::Array(items)) => items,
            Some(_) => {
                return Err(self.err(
                    KEY,
                    "must be a list of {\"name_prefix\", \"go_time_layout\", \"name_suffix\", \
                     \"time_zone\"} or {\"vault_file_prefix\"} objects",
                ));
            }
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| self.other_names_item(i, item))
            .collect()
    }

    fn other_names_item(
        &self,
        index: usize,
        item: serde_json::Value,
    ) -> Result<OtherNames, ConfigError> {
        let at = format!("{KEY}[{index}]");
        if !item.is_object() {
            return Err(self.err(&at, "must be an object"));
        }
        if item.get("vault_file_prefix").is_some() {
            let raw: RawVaultNames = serde_json::from_value(item).map_err(|e| self.err(&at, e))?;
            let prefix = raw.vault_file_prefix;
            if prefix.is_empty() || prefix.contains('/') {
                return Err(self.err(
                    &format!("{at}.vault_file_prefix"),
                    "must be a non-empty file name prefix without '/' (the path_prefix is the \
                     storage's own prefix or path)",
                ));
            }
            self.warnings.borrow_mut().push(format!(
                "{}: key \"{at}.vault_file_prefix\": Vault Enterprise documents only that its \
                 automated snapshots' names start with {prefix:?}, not how the rest encodes \
                 the time, so they cannot be dated: they are not listed, fetched or pruned; \
                 remove them by hand when they are no longer needed",
                self.file
            ));
            return Ok(OtherNames::VaultFilePrefix(prefix));
        }
        let raw: RawGoNames = serde_json::from_value(item).map_err(|e| self.err(&at, e))?;
        let prefix = raw.name_prefix.unwrap_or_else(|| DEFAULT_PREFIX.into());
        let suffix = raw.name_suffix.unwrap_or_else(|| DEFAULT_SUFFIX.into());
        let layout = raw.go_time_layout.unwrap_or_else(|| DEFAULT_LAYOUT.into());
        for (key, value) in [
            ("name_prefix", &prefix),
            ("name_suffix", &suffix),
            ("go_time_layout", &layout),
        ] {
            if value.contains('/') || value.chars().any(char::is_control) {
                return Err(self.err(
                    &format!("{at}.{key}"),
                    format!("{value:?} may not hold '/' or control characters (names are plain file names)"),
                ));
            }
        }
        if prefix.starts_with('.') {
            return Err(self.err(
                &format!("{at}.name_prefix"),
                "may not start with '.' (hidden names are temporary files)",
            ));
        }
        if prefix.is_empty() && suffix.is_empty() {
            return Err(self.err(
                &at,
                "name_prefix and name_suffix are both empty: any object named like a bare time \
                 would be taken for a snapshot",
            ));
        }
        let tokens = parse_layout(&layout).map_err(|e| {
            self.err(
                &format!("{at}.go_time_layout"),
                format!("cannot read names written with {layout:?}: {e}"),
            )
        })?;
        let zone = match raw.time_zone.as_deref() {
            None | Some("") => Zone::Local,
            Some(text) => Zone::parse(text).map_err(|e| self.err(&format!("{at}.time_zone"), e))?,
        };
        Ok(OtherNames::GoLayout {
            prefix,
            layout,
            tokens,
            suffix,
            zone,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;
    use crate::other_names::{OtherNames, Zone};

    fn load(extra: &str) -> Result<Config, String> {
        let sep = if extra.is_empty() { "" } else { ", " };
        let text = format!(
            r#"{{"role_id": "r", "secret_id": "s", "local_storage": {{"path": "/tmp"}}{sep}{extra}}}"#
        );
        Config::from_text(text.as_bytes(), Path::new("c.json"), &|_| None).map_err(|e| e.0)
    }

    #[test]
    fn items_take_argelbargels_defaults_and_a_zone() {
        let config = load(
            r#""other_snapshot_names": [{}, {"name_prefix": "daily-", "go_time_layout": "2006-01-02", "name_suffix": "", "time_zone": "+02:00"}], "metrics_vrsa_names": true"#,
        )
        .unwrap();
        assert!(config.metrics_vrsa_names);
        let [first, second] = &config.other_snapshot_names[..] else {
            panic!("{:?}", config.other_snapshot_names)
        };
        let OtherNames::GoLayout {
            prefix,
            layout,
            suffix,
            zone,
            ..
        } = first
        else {
            panic!()
        };
        assert_eq!(
            (prefix.as_str(), layout.as_str(), suffix.as_str(), *zone),
            (
                "raft-snapshot-",
                "2006-01-02T15-04-05Z-0700",
                ".snap",
                Zone::Local
            )
        );
        assert!(matches!(
            second,
            OtherNames::GoLayout {
                zone: Zone::Fixed(7200),
                ..
            }
        ));
        assert!(!load("").unwrap().metrics_vrsa_names);
    }

    #[test]
    fn errors_name_the_key_and_the_index() {
        for (extra, says) in [
            (
                r#""other_snapshot_names": {}"#,
                "key \"other_snapshot_names\": must be a list",
            ),
            (
                r#""other_snapshot_names": [1]"#,
                "\"other_snapshot_names[0]\": must be an object",
            ),
            (
                r#""other_snapshot_names": [{}, {"go_time_layout": "2006-002"}]"#,
                "\"other_snapshot_names[1].go_time_layout\": cannot read names written with \"2006-002\": the layout token \"002\"",
            ),
            (
                r#""other_snapshot_names": [{"time_zone": "CET"}]"#,
                "\"other_snapshot_names[0].time_zone\"",
            ),
            (
                r#""other_snapshot_names": [{"name_prefix": "a/b-"}]"#,
                "\"other_snapshot_names[0].name_prefix\"",
            ),
            (
                r#""other_snapshot_names": [{"name_prefix": "", "name_suffix": ""}]"#,
                "both empty",
            ),
            (
                r#""other_snapshot_names": [{"namePrefix": "x"}]"#,
                "\"other_snapshot_names[0]\": unknown field",
            ),
            (
                r#""other_snapshot_names": [{"vault_file_prefix": ""}]"#,
                "\"other_snapshot_names[0].vault_file_prefix\"",
            ),
        ] {
            let e = load(extra).unwrap_err();
            assert!(e.contains(says), "{extra}: {e}");
        }
    }

    #[test]
    fn a_vault_file_prefix_is_accepted_with_a_warning() {
        let config =
            load(r#""other_snapshot_names": [{"vault_file_prefix": "vault-snapshot"}]"#).unwrap();
        assert_eq!(
            config.other_snapshot_names,
            vec![OtherNames::VaultFilePrefix("vault-snapshot".into())]
        );
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("cannot be dated")),
            "{:?}",
            config.warnings
        );
    }
}
