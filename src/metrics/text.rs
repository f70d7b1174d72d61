//! The Prometheus text exposition format, as node_exporter's textfile collector and the
//! Pushgateway read it.

use std::fmt::Write as _;

use super::model::{Metrics, StorageMetrics};

/// The prefix of every metric's name.
pub(super) const PREFIX: &str = "vault_raft_snapshot";

/// The agent's info-style family: the last cycle's error as the `reason` label.
const LAST_ERROR_INFO: &str = "last_error_info";
/// The storages' info-style family: a storage's last error as the `reason` label.
const STORAGE_LAST_ERROR_INFO: &str = "storage_last_error_info";

impl Metrics {
    /// The Prometheus text format, as the metrics file holds it. The reasons of the last
    /// errors are info-style series, `{PREFIX}_last_error_info{reason="..."} 1` and
    /// `{PREFIX}_storage_last_error_info{storage=..,kind=..,location=..,reason="..."} 1`,
    /// present only while the last attempt failed.
    #[must_use]
    pub fn render(&self) -> String {
        self.render_text(false)
    }

    /// The text pushed to the Pushgateway: [`Metrics::render`]'s, with `reason=""` samples of
    /// value 0 where there is no error. Pushed with POST, which replaces only the families
    /// sent (and a family without a sample is not sent), the Pushgateway would otherwise keep
    /// an earlier push's reason after a success.
    #[must_use]
    pub(super) fn render_pushed(&self) -> String {
        self.render_text(true)
    }

    fn render_text(&self, cleared: bool) -> String {
        let mut out = String::new();
        let a = &self.agent;
        let agent_rows: [(&str, &str, &str, f64); 7] = [
            (
                "last_cycle_timestamp_seconds",
                "gauge",
                "When the last cycle ended.",
                a.last_cycle_timestamp,
            ),
            (
                "last_cycle_duration_seconds",
                "gauge",
                "How long the last cycle took.",
                a.last_cycle_duration_seconds,
            ),
            (
                "last_success_timestamp_seconds",
                "gauge",
                "When a cycle last succeeded (stored everywhere, or not the leader).",
                a.last_success_timestamp,
            ),
            (
                "leader",
                "gauge",
                "1 if this node was the Vault leader at the last cycle.",
                f64::from(u8::from(a.leader)),
            ),
            (
                "consecutive_failures",
                "gauge",
                "Cycles in a row that failed.",
                a.consecutive_failures as f64,
            ),
            (
                "snapshot_bytes",
                "gauge",
                "Size of the last verified snapshot.",
                a.snapshot_bytes as f64,
            ),
            (
                "raft_index",
                "gauge",
                "Raft index of the last verified snapshot.",
                a.raft_index as f64,
            ),
        ];
        for (name, kind, help, value) in agent_rows {
            let _ = writeln!(
                out,
                "# HELP {PREFIX}_{name} {help}\n# TYPE {PREFIX}_{name} {kind}\n{PREFIX}_{name} {value}"
            );
        }
        if a.drill_last_timestamp > 0.0 {
            let drill_rows: [(&str, &str, f64); 4] = [
                (
                    "drill_last_timestamp_seconds",
                    "When the last restore drill ended.",
                    a.drill_last_timestamp,
                ),
                (
                    "drill_success",
                    "1 if the last restore drill passed, 0 if a step failed.",
                    f64::from(u8::from(a.drill_success)),
                ),
                (
                    "drill_duration_seconds",
                    "How long the last restore drill took: the measured restore time.",
                    a.drill_duration_seconds,
                ),
                (
                    "drill_restored_raft_index",
                    "Raft index of the scratch server after the last restore drill (0: not reached).",
                    a.drill_restored_index as f64,
                ),
            ];
            for (name, help, value) in drill_rows {
                let _ = writeln!(
                    out,
                    "# HELP {PREFIX}_{name} {help}\n# TYPE {PREFIX}_{name} gauge\n{PREFIX}_{name} {value}"
                );
            }
        }
        let (reason, value) = match &a.last_error_reason {
            Some(reason) => (reason.as_str(), 1),
            None => ("", 0),
        };
        if value == 1 || cleared {
            let name = LAST_ERROR_INFO;
            let _ = writeln!(
                out,
                "# HELP {PREFIX}_{name} Why the last cycle failed (label reason), while it is the last one.\n\
                 # TYPE {PREFIX}_{name} gauge\n\
                 {PREFIX}_{name}{{reason=\"{}\"}} {value}",
                escape(reason)
            );
        }
        type Getter = fn(&StorageMetrics) -> f64;
        let storage_rows: [(&str, &str, Getter); 7] = [
            (
                "storage_last_success_timestamp_seconds",
                "When a snapshot was last stored and checked in this storage (0: never).",
                |s| s.last_success_timestamp,
            ),
            (
                "storage_last_attempt_timestamp_seconds",
                "When a snapshot was last offered to this storage.",
                |s| s.last_attempt_timestamp,
            ),
            (
                "storage_last_error",
                "1 if the last store or prune in this storage failed.",
                |s| f64::from(u8::from(s.last_error)),
            ),
            (
                "storage_consecutive_failures",
                "Attempts in a row that failed in this storage (0 after one that succeeded).",
                |s| s.consecutive_failures as f64,
            ),
            (
                "storage_snapshot_bytes",
                "Size of the last snapshot stored in this storage.",
                |s| s.snapshot_bytes as f64,
            ),
            (
                "storage_snapshots",
                "Snapshots held in this storage after the last pruning.",
                |s| s.snapshots as f64,
            ),
            (
                "storage_last_duration_seconds",
                "How long the last store in this storage took: upload, check and pruning.",
                |s| s.last_duration_seconds,
            ),
        ];
        for (name, help, get) in storage_rows {
            let _ = writeln!(
                out,
                "# HELP {PREFIX}_{name} {help}\n# TYPE {PREFIX}_{name} gauge"
            );
            for s in &self.storages {
                let _ = writeln!(
                    out,
                    "{PREFIX}_{name}{{storage=\"{}\",kind=\"{}\",location=\"{}\"}} {}",
                    escape(&s.id.name),
                    escape(&s.id.kind),
                    escape(&s.id.location),
                    get(s)
                );
            }
        }
        let errors: Vec<(&StorageMetrics, &str, u8)> = self
            .storages
            .iter()
            .filter_map(|s| match &s.last_error_reason {
                Some(reason) => Some((s, reason.as_str(), 1)),
                None => cleared.then_some((s, "", 0)),
            })
            .collect();
        if !errors.is_empty() {
            let name = STORAGE_LAST_ERROR_INFO;
            let _ = writeln!(
                out,
                "# HELP {PREFIX}_{name} Why the last store or prune in this storage failed (label reason), while it is the last one.\n\
                 # TYPE {PREFIX}_{name} gauge"
            );
            for (s, reason, value) in errors {
                let _ = writeln!(
                    out,
                    "{PREFIX}_{name}{{storage=\"{}\",kind=\"{}\",location=\"{}\",reason=\"{}\"}} {value}",
                    escape(&s.id.name),
                    escape(&s.id.kind),
                    escape(&s.id.location),
                    escape(reason),
                );
            }
        }
        out
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::super::model::{Metrics, StorageId, sample};

    #[test]
    fn renders_the_prometheus_text_format() {
        let text = sample().render();
        assert!(
            text.contains(
                "# TYPE vault_raft_snapshot_leader gauge\nvault_raft_snapshot_leader 1\n"
            )
        );
        assert!(text.contains("vault_raft_snapshot_raft_index 1234\n"));
        assert!(text.contains(
            "vault_raft_snapshot_storage_snapshots{storage=\"local-0\",kind=\"local\",location=\"/var/backups/vault \\\"main\\\"\"} 3\n"
        ));
        assert!(text.contains(
            "vault_raft_snapshot_storage_last_error{storage=\"nas\",kind=\"local\",location=\"/mnt/second\"} 1\n"
        ));
        assert!(text.contains(
            "vault_raft_snapshot_storage_consecutive_failures{storage=\"nas\",kind=\"local\",location=\"/mnt/second\"} 2\n"
        ));
        assert!(text.contains(
            "# TYPE vault_raft_snapshot_storage_last_duration_seconds gauge\n\
             vault_raft_snapshot_storage_last_duration_seconds{storage=\"local-0\",kind=\"local\",location=\"/var/backups/vault \\\"main\\\"\"} 0.75\n\
             vault_raft_snapshot_storage_last_duration_seconds{storage=\"nas\",kind=\"local\",location=\"/mnt/second\"} 30.5\n"
        ), "{text}");
        assert!(text.contains(
            "vault_raft_snapshot_storage_snapshot_bytes{storage=\"local-0\",kind=\"local\",location=\"/var/backups/vault \\\"main\\\"\"} 12345\n"
        ));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("vault_raft_snapshot_"), "{line}");
            assert!(
                line.rsplit_once(' ').unwrap().1.parse::<f64>().is_ok(),
                "{line}"
            );
        }
    }

    #[test]
    fn the_reasons_are_escaped_label_values_present_only_while_failed() {
        let mut metrics = sample();
        metrics.agent.last_error_reason = Some("Vault said \"no\" \\ twice".into());
        let text = metrics.render();
        assert!(
            text.contains(
                "# TYPE vault_raft_snapshot_last_error_info gauge\n\
                 vault_raft_snapshot_last_error_info{reason=\"Vault said \\\"no\\\" \\\\ twice\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "vault_raft_snapshot_storage_last_error_info{storage=\"nas\",kind=\"local\",location=\"/mnt/second\",\
             reason=\"storing the snapshot in local /mnt/second failed: \\\"disk\\\" \\\\ full\"} 1\n"
        ), "{text}");
        // The storage that did not fail has no reason series; every line is one sample.
        assert_eq!(
            text.matches("storage_last_error_info{").count(),
            1,
            "{text}"
        );
        assert_eq!(text.matches("# TYPE").count(), 16, "{text}");

        // After a success: no reason series at all in the file...
        let mut ok = sample();
        ok.storages.truncate(1);
        let text = ok.render();
        assert!(!text.contains("last_error_info"), "{text}");
        // ... and, pushed, empty reasons of value 0 that replace the Pushgateway's earlier ones.
        let pushed = ok.render_pushed();
        assert!(
            pushed.contains("\nvault_raft_snapshot_last_error_info{reason=\"\"} 0\n"),
            "{pushed}"
        );
        assert!(
            pushed.contains(
                "\nvault_raft_snapshot_storage_last_error_info{storage=\"local-0\",kind=\"local\",\
             location=\"/var/backups/vault \\\"main\\\"\",reason=\"\"} 0\n"
            ),
            "{pushed}"
        );
        assert_eq!(Metrics::parse(&pushed).unwrap(), ok);
    }

    #[test]
    fn the_storage_label_is_the_storages_name_and_kind_and_location_are_labels_of_their_own() {
        let mut metrics = Metrics::default();
        metrics
            .storage(&StorageId::new("offsite", "aws", "s3://bucket/raft"))
            .snapshots = 4;
        let text = metrics.render();
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("vault_raft_snapshot_storage_"))
            .collect();
        assert_eq!(series.len(), 7, "{text}");
        for line in series {
            let (_, labels) = line.split_once('{').unwrap();
            let (labels, _) = labels.rsplit_once("} ").unwrap();
            assert_eq!(
                labels, "storage=\"offsite\",kind=\"aws\",location=\"s3://bucket/raft\"",
                "{line}"
            );
        }
    }
}
