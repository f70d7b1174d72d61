//! The state carried from one run to the next: the metrics file read back (so `once`, a fresh
//! process each time, knows the last success and the failures before it), and written
//! atomically after every cycle.
//!
//! A storage's series are labelled `storage` (its name), `kind` and `location`. A file written
//! before the `storage` label held the name held the kind there and had no `kind` label; it
//! still loads, and [`Metrics::keep_storages`] gives its storages their names.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::model::{Metrics, StorageId, reason};
use super::text::PREFIX;

/// The largest value the parser accepts: far beyond any time, size or count this agent
/// writes, and small enough to turn into a `Duration` or a `u64`.
const MAX_VALUE: f64 = 1e15;
/// The most of a metrics file that is read (the agent writes a few KiB).
const MAX_FILE_BYTES: u64 = 1024 * 1024;

impl Metrics {
    /// Reads back a file that [`Metrics::render`] wrote. Unknown lines are ignored.
    ///
    /// # Errors
    /// When it is not ours (no `last_cycle_timestamp_seconds`: empty, another program's, or
    /// garbage), or one of our values is not a number from 0 to 10^15 (`NaN`, `+Inf`,
    /// `1e300`, negative); the message names the line.
    pub fn parse(text: &str) -> std::result::Result<Metrics, String> {
        let mut metrics = Metrics::default();
        let mut ours = false;
        for (number, line) in text.lines().enumerate() {
            if line.starts_with('#') {
                continue;
            }
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Some(series) = series
                .strip_prefix(PREFIX)
                .and_then(|s| s.strip_prefix('_'))
            else {
                continue;
            };
            let value = value
                .parse::<f64>()
                .ok()
                .filter(|v| (0.0..=MAX_VALUE).contains(v))
                .ok_or_else(|| {
                    format!(
                        "line {}: {value:?} is not a value this agent writes (a number from 0 to 1e15)",
                        number + 1
                    )
                })?;
            ours |= series == "last_cycle_timestamp_seconds";
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
                None => (series, Vec::new()),
            };
            let label = |key: &str| {
                labels
                    .iter()
                    .find(|(k, _)| k == key)
                    .map_or(String::new(), |(_, v)| v.clone())
            };
            // Counts and sizes are whole numbers written from integers.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let whole = value as u64;
            let a = &mut metrics.agent;
            match name {
                "last_cycle_timestamp_seconds" => a.last_cycle_timestamp = value,
                "last_cycle_duration_seconds" => a.last_cycle_duration_seconds = value,
                "last_success_timestamp_seconds" => a.last_success_timestamp = value,
                "leader" => a.leader = value != 0.0,
                "consecutive_failures" => a.consecutive_failures = whole,
                "snapshot_bytes" => a.snapshot_bytes = whole,
                "raft_index" => a.raft_index = whole,
                "drill_last_timestamp_seconds" => a.drill_last_timestamp = value,
                "drill_success" => a.drill_success = value != 0.0,
                "drill_duration_seconds" => a.drill_duration_seconds = value,
                "drill_restored_raft_index" => a.drill_restored_index = whole,
                // Bounded and made printable again: the file may have been edited.
                "last_error_info" if value != 0.0 => {
                    a.last_error_reason = Some(reason(&label("reason")));
                }
                "last_error_info" => {}
                storage_name => {
                    let id = if labels.iter().any(|(k, _)| k == "kind") {
                        StorageId::new(label("storage"), label("kind"), label("location"))
                    } else {
                        // Written before the name: the `storage` label is the kind.
                        StorageId::new("", label("storage"), label("location"))
                    };
                    let s = metrics.storage(&id);
                    match storage_name {
                        "storage_last_success_timestamp_seconds" => {
                            s.last_success_timestamp = value
                        }
                        "storage_last_attempt_timestamp_seconds" => {
                            s.last_attempt_timestamp = value
                        }
                        "storage_last_error" => s.last_error = value != 0.0,
                        "storage_last_error_info" if value != 0.0 => {
                            s.last_error_reason = Some(reason(&label("reason")));
                        }
                        "storage_consecutive_failures" => s.consecutive_failures = whole,
                        "storage_snapshot_bytes" => s.snapshot_bytes = whole,
                        "storage_snapshots" => s.snapshots = whole,
                        "storage_last_duration_seconds" => s.last_duration_seconds = value,
                        _ => {}
                    }
                }
            }
        }
        if !ours {
            return Err(format!(
                "it holds no {PREFIX}_last_cycle_timestamp_seconds: not a metrics file this agent wrote"
            ));
        }
        Ok(metrics)
    }

    /// Keeps the series of the storages in `present` (those configured now) and drops the
    /// others: a storage removed from the config, or whose kind or location changed, must not
    /// keep reporting its last success forever.
    ///
    /// A storage read from a file of the version before names (an empty name) is matched, as
    /// that version matched it, by its kind and location: it takes the name of the first
    /// present storage with both that has no series of its own, and is dropped when there is
    /// none.
    pub fn keep_storages(&mut self, present: &[StorageId]) {
        let (named, unnamed): (Vec<_>, Vec<_>) = std::mem::take(&mut self.storages)
            .into_iter()
            .partition(|s| !s.id.name.is_empty());
        self.storages = named
            .into_iter()
            .filter(|s| present.contains(&s.id))
            .collect();
        for mut old in unnamed {
            let heir = present.iter().find(|p| {
                p.kind == old.id.kind
                    && p.location == old.id.location
                    && !self.storages.iter().any(|s| s.id == **p)
            });
            if let Some(id) = heir {
                old.id = id.clone();
                self.storages.push(old);
            }
        }
    }

    /// Reads the file at `path`; a missing file gives empty metrics.
    ///
    /// # Errors
    /// When the file exists but cannot be read.
    pub fn load(path: &Path) -> Result<Metrics> {
        use std::io::Read;
        let read = fs::File::open(path).and_then(|file| {
            let mut text = String::new();
            file.take(MAX_FILE_BYTES).read_to_string(&mut text)?;
            Ok(text)
        });
        match read {
            Ok(text) => Metrics::parse(&text)
                .map_err(|e| anyhow::anyhow!("metrics file {}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Metrics::default()),
            Err(e) => {
                Err(e).with_context(|| format!("cannot read metrics file {}", path.display()))
            }
        }
    }

    /// Writes the file atomically: a temporary file in the same directory, synced, renamed.
    /// It is world-readable (0644) so node_exporter can read it; it holds no secret.
    ///
    /// # Errors
    /// When the directory is not writable.
    pub fn write(&self, path: &Path) -> Result<()> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut temp = tempfile::Builder::new()
            .prefix(&crate::leftovers::metrics_prefix())
            .tempfile_in(dir)
            .with_context(|| format!("cannot write the metrics file in {}", dir.display()))?;
        // Locked until renamed, so no agent starting meanwhile takes it for a killed one's.
        crate::leftovers::lock_new(temp.as_file(), temp.path());
        temp.write_all(self.render().as_bytes())?;
        temp.as_file().sync_all()?;
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o644))?;
        }
        temp.persist(path)
            .with_context(|| format!("cannot write metrics file {}", path.display()))?;
        Ok(())
    }
}

fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => {}
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                other => value.push(other),
            }
        }
        labels.push((key.trim_start_matches(',').to_string(), value));
        rest = &after[end..];
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::super::model::sample;
    use super::*;

    #[test]
    fn a_file_that_is_not_ours_or_holds_impossible_values_is_an_error() {
        for (text, expected) in [
            ("", "not a metrics file this agent wrote"),
            (
                "garbage\n\x00\x01 binary",
                "not a metrics file this agent wrote",
            ),
            ("node_load1 0.5\n", "not a metrics file this agent wrote"),
            (
                "vault_raft_snapshot_last_cycle_timestamp_seconds NaN\n",
                "line 1: \"NaN\"",
            ),
            (
                "# HELP x\nvault_raft_snapshot_last_cycle_timestamp_seconds +Inf\n",
                "line 2: \"+Inf\"",
            ),
            (
                "vault_raft_snapshot_last_cycle_timestamp_seconds 1e300\n",
                "\"1e300\"",
            ),
            ("vault_raft_snapshot_consecutive_failures -1\n", "\"-1\""),
            ("vault_raft_snapshot_raft_index twelve\n", "\"twelve\""),
        ] {
            let error = Metrics::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        let edge = "vault_raft_snapshot_last_cycle_timestamp_seconds 1e15\n";
        assert_eq!(
            Metrics::parse(edge).unwrap().agent.last_cycle_timestamp,
            1e15
        );
    }

    #[test]
    fn a_drill_is_rendered_once_there_was_one_and_reads_back() {
        let mut metrics = sample();
        assert!(!metrics.render().contains("drill"));
        let ended = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        metrics.record_drill(false, ended, std::time::Duration::from_millis(12_500), None);
        let text = metrics.render();
        for line in [
            "vault_raft_snapshot_drill_last_timestamp_seconds 1800000000",
            "vault_raft_snapshot_drill_success 0",
            "vault_raft_snapshot_drill_duration_seconds 12.5",
            "vault_raft_snapshot_drill_restored_raft_index 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert_eq!(Metrics::parse(&text).unwrap(), metrics);
        metrics.record_drill(true, ended, std::time::Duration::from_secs(3), Some(97));
        let read = Metrics::parse(&metrics.render_pushed()).unwrap();
        assert!(read.agent.drill_success);
        assert_eq!(read.agent.drill_restored_index, 97);
    }

    #[test]
    fn parse_reads_back_what_render_wrote() {
        let metrics = sample();
        assert_eq!(Metrics::parse(&metrics.render()).unwrap(), metrics);
    }

    #[test]
    fn reasons_read_back_as_written_and_a_file_without_them_still_loads() {
        let mut metrics = sample();
        metrics.agent.last_error_reason = Some(reason(
            "Vault answered 503 to GET https://vault:8200/v1/sys/leader: Vault is \"sealed\" \\ \x1b",
        ));
        let text = metrics.render();
        let parsed = Metrics::parse(&text).unwrap();
        assert_eq!(parsed, metrics);
        assert_eq!(
            parsed.agent.last_error_reason.as_deref(),
            Some(
                "Vault answered 503 to GET https://vault:8200/v1/sys/leader: Vault is \"sealed\" \\ \\x1b"
            )
        );
        // Written before reasons: the failures load, without a reason.
        let older: String = text
            .lines()
            .filter(|l| !l.contains("last_error_info"))
            .map(|l| format!("{l}\n"))
            .collect();
        let parsed = Metrics::parse(&older).unwrap();
        assert_eq!(parsed.agent.last_error_reason, None);
        assert!(parsed.storages[1].last_error);
        assert_eq!(parsed.storages[1].last_error_reason, None);
    }

    #[test]
    fn a_file_without_storage_durations_loads_with_none_known() {
        let metrics = sample();
        let text = metrics.render();
        assert!(text.contains("storage_last_duration_seconds{"), "{text}");
        let older: String = text
            .lines()
            .filter(|l| !l.contains("storage_last_duration_seconds"))
            .map(|l| format!("{l}\n"))
            .collect();
        let parsed = Metrics::parse(&older).unwrap();
        let mut expected = metrics;
        for s in &mut expected.storages {
            s.last_duration_seconds = 0.0;
        }
        assert_eq!(parsed, expected);
    }

    #[test]
    fn a_reason_edited_into_the_file_is_bounded_and_printable_when_read() {
        let text = format!(
            "vault_raft_snapshot_last_cycle_timestamp_seconds 1\n\
             vault_raft_snapshot_last_error_info{{reason=\"{}\\n\u{9b}2J\rhttp://u:pw@h/?t=x\"}} 1\n\
             vault_raft_snapshot_storage_last_error_info{{storage=\"s\",kind=\"local\",location=\"/l\",reason=\"\x07bell\"}} 1\n\
             vault_raft_snapshot_storage_last_error_info{{storage=\"t\",kind=\"local\",location=\"/m\",reason=\"cleared\"}} 0\n",
            "x".repeat(10)
        );
        let metrics = Metrics::parse(&text).unwrap();
        assert_eq!(
            metrics.agent.last_error_reason.as_deref(),
            Some("xxxxxxxxxx\\n\\u{009b}2J\\rhttp://h/?t=<redacted>")
        );
        assert_eq!(
            metrics.storages[0].last_error_reason.as_deref(),
            Some("\\x07bell")
        );
        assert_eq!(
            metrics.storages[1].last_error_reason, None,
            "value 0: no error"
        );
        let long = format!(
            "vault_raft_snapshot_last_cycle_timestamp_seconds 1\n\
             vault_raft_snapshot_last_error_info{{reason=\"{}\"}} 1\n",
            "y".repeat(5000)
        );
        let metrics = Metrics::parse(&long).unwrap();
        assert_eq!(
            metrics.agent.last_error_reason.unwrap().chars().count(),
            crate::metrics::MAX_REASON_CHARS
        );
    }

    #[test]
    fn storages_no_longer_configured_are_dropped() {
        let mut metrics = sample();
        metrics.keep_storages(&[StorageId::new("nas", "local", "/mnt/second")]);
        assert_eq!(metrics.storages.len(), 1);
        assert_eq!(metrics.storages[0].id.location, "/mnt/second");
        // Same name, another location: another place, whose last success is not known.
        let mut moved = sample();
        moved.keep_storages(&[StorageId::new("nas", "local", "/mnt/third")]);
        assert!(moved.storages.is_empty(), "{moved:?}");
    }

    #[test]
    fn names_kinds_and_locations_read_back_as_written() {
        let mut metrics = sample();
        let s = metrics.storage(&StorageId::new(
            "offsite",
            "aws",
            "s3://bucket/raft \\ \"x\"\nnext",
        ));
        s.last_success_timestamp = 1_795_405_100.0;
        s.snapshots = 7;
        let parsed = Metrics::parse(&metrics.render()).unwrap();
        assert_eq!(parsed, metrics);
        let names: Vec<(&str, &str)> = parsed
            .storages
            .iter()
            .map(|s| (s.id.name.as_str(), s.id.kind.as_str()))
            .collect();
        assert_eq!(
            names,
            [("local-0", "local"), ("nas", "local"), ("offsite", "aws")]
        );
    }

    /// What the version before names wrote: `storage` held the kind; no `kind` label.
    const BEFORE_NAMES: &str = "\
# TYPE vault_raft_snapshot_last_cycle_timestamp_seconds gauge
vault_raft_snapshot_last_cycle_timestamp_seconds 1795405200.5
vault_raft_snapshot_consecutive_failures 2
vault_raft_snapshot_storage_last_success_timestamp_seconds{storage=\"local\",location=\"/snaps\"} 1795405000
vault_raft_snapshot_storage_last_success_timestamp_seconds{storage=\"aws\",location=\"s3://bucket/raft\"} 1795404000
vault_raft_snapshot_storage_last_success_timestamp_seconds{storage=\"aws\",location=\"s3://gone/raft\"} 1795403000
vault_raft_snapshot_storage_snapshots{storage=\"local\",location=\"/snaps\"} 5
vault_raft_snapshot_storage_snapshots{storage=\"aws\",location=\"s3://bucket/raft\"} 9
";

    #[test]
    fn a_file_from_before_names_loads_and_its_storages_take_their_names() {
        let mut metrics = Metrics::parse(BEFORE_NAMES).unwrap();
        assert_eq!(metrics.agent.consecutive_failures, 2);
        let ids: Vec<&StorageId> = metrics.storages.iter().map(|s| &s.id).collect();
        assert_eq!(
            ids,
            [
                &StorageId::new("", "local", "/snaps"),
                &StorageId::new("", "aws", "s3://bucket/raft"),
                &StorageId::new("", "aws", "s3://gone/raft"),
            ]
        );
        metrics.keep_storages(&[
            StorageId::new("local-0", "local", "/snaps"),
            StorageId::new("offsite", "aws", "s3://bucket/raft"),
            StorageId::new("gcp-0", "gcp", "gs://new/raft"),
        ]);
        let kept: Vec<(&str, f64, u64)> = metrics
            .storages
            .iter()
            .map(|s| (s.id.name.as_str(), s.last_success_timestamp, s.snapshots))
            .collect();
        assert_eq!(
            kept,
            [
                ("local-0", 1_795_405_000.0, 5),
                ("offsite", 1_795_404_000.0, 9)
            ],
            "the storage no longer configured is dropped"
        );
        // Written again, it is in the new form.
        let text = metrics.render();
        assert!(
            text.contains("{storage=\"offsite\",kind=\"aws\",location=\"s3://bucket/raft\"} 9\n"),
            "{text}"
        );
        assert_eq!(Metrics::parse(&text).unwrap(), metrics);
    }

    #[test]
    fn a_storage_with_series_of_its_own_does_not_take_an_older_ones() {
        let mut metrics = Metrics::parse(BEFORE_NAMES).unwrap();
        metrics
            .storage(&StorageId::new("local-0", "local", "/snaps"))
            .last_success_timestamp = 1_795_405_100.0;
        metrics.keep_storages(&[StorageId::new("local-0", "local", "/snaps")]);
        assert_eq!(metrics.storages.len(), 1, "{metrics:?}");
        assert_eq!(metrics.storages[0].last_success_timestamp, 1_795_405_100.0);
    }

    #[test]
    fn writes_atomically_and_world_readable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault_raft_snapshot.prom");
        sample().write(&path).unwrap();
        assert_eq!(Metrics::load(&path).unwrap(), sample());
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temporary file left"
        );
        assert_eq!(
            Metrics::load(&dir.path().join("missing")).unwrap(),
            Metrics::default()
        );
    }
}
