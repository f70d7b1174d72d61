//! The metrics file: a Prometheus text file for node_exporter's textfile collector, written
//! atomically after every cycle (success, failure or skip), and read back by `status`.
//!
//! `once` runs as a fresh process each time, so the previous file is read first: times of
//! the last success and the count of consecutive failures carry over from run to run.
//! Labels name the storage type and a credential-free location.
//!
//! The same text can be pushed to a Prometheus Pushgateway ([`Metrics::push`]), where there is
//! no node_exporter (a Kubernetes CronJob whose pod is gone after the cycle).

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

const PREFIX: &str = "vault_raft_snapshot";
/// The largest value the parser accepts: far beyond any time, size or count this agent
/// writes, and small enough to turn into a `Duration` or a `u64`.
const MAX_VALUE: f64 = 1e15;
/// The most of a metrics file that is read (the agent writes a few KiB).
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// What the agent reports about itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentMetrics {
    /// When the last cycle ended (Unix seconds).
    pub last_cycle_timestamp: f64,
    /// How long it took.
    pub last_cycle_duration_seconds: f64,
    /// When a cycle last stored a snapshot everywhere, or found this node a standby.
    pub last_success_timestamp: f64,
    /// Whether this node was the leader at the last cycle.
    pub leader: bool,
    /// Cycles in a row that failed (0 after a success or a skip).
    pub consecutive_failures: u64,
    /// Size of the last verified snapshot.
    pub snapshot_bytes: u64,
    /// Raft index in the last verified snapshot's meta.json.
    pub raft_index: u64,
}

/// What the agent reports about one storage.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StorageMetrics {
    /// `local`, `aws`, `gcp`, `azure`.
    pub kind: String,
    /// Credential-free location.
    pub location: String,
    /// When a snapshot was last stored and checked there (Unix seconds; 0 = never).
    pub last_success_timestamp: f64,
    /// When a snapshot was last offered to it.
    pub last_attempt_timestamp: f64,
    /// Whether the last attempt (store or prune) failed.
    pub last_error: bool,
    /// Size of the last snapshot stored there.
    pub snapshot_bytes: u64,
    /// Snapshots held after the last pruning.
    pub snapshots: u64,
}

/// All metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    /// The agent's own.
    pub agent: AgentMetrics,
    /// One per configured storage.
    pub storages: Vec<StorageMetrics>,
}

/// Seconds since the Unix epoch.
#[must_use]
pub fn unix_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Metrics {
    /// The entry for a storage, created if it is new.
    pub fn storage(&mut self, kind: &str, location: &str) -> &mut StorageMetrics {
        let index = self
            .storages
            .iter()
            .position(|s| s.kind == kind && s.location == location)
            .unwrap_or_else(|| {
                self.storages.push(StorageMetrics {
                    kind: kind.into(),
                    location: location.into(),
                    ..StorageMetrics::default()
                });
                self.storages.len() - 1
            });
        &mut self.storages[index]
    }

    /// Drops the storages that are not in `present` (`(kind, location)` pairs): a storage
    /// removed from the config must not keep reporting its last success forever.
    pub fn keep_storages(&mut self, present: &[(String, String)]) {
        self.storages.retain(|s| {
            present
                .iter()
                .any(|(kind, location)| s.kind == *kind && s.location == *location)
        });
    }

    /// The Prometheus text format.
    #[must_use]
    pub fn render(&self) -> String {
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
        type Getter = fn(&StorageMetrics) -> f64;
        let storage_rows: [(&str, &str, Getter); 5] = [
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
                "storage_snapshot_bytes",
                "Size of the last snapshot stored in this storage.",
                |s| s.snapshot_bytes as f64,
            ),
            (
                "storage_snapshots",
                "Snapshots held in this storage after the last pruning.",
                |s| s.snapshots as f64,
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
                    "{PREFIX}_{name}{{storage=\"{}\",location=\"{}\"}} {}",
                    escape(&s.kind),
                    escape(&s.location),
                    get(s)
                );
            }
        }
        out
    }

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
                storage_name => {
                    let label = |key: &str| {
                        labels
                            .iter()
                            .find(|(k, _)| k == key)
                            .map_or(String::new(), |(_, v)| v.clone())
                    };
                    let s = metrics.storage(&label("storage"), &label("location"));
                    match storage_name {
                        "storage_last_success_timestamp_seconds" => {
                            s.last_success_timestamp = value
                        }
                        "storage_last_attempt_timestamp_seconds" => {
                            s.last_attempt_timestamp = value
                        }
                        "storage_last_error" => s.last_error = value != 0.0,
                        "storage_snapshot_bytes" => s.snapshot_bytes = whole,
                        "storage_snapshots" => s.snapshots = whole,
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

/// The Pushgateway job the metrics are pushed under.
pub const PUSH_JOB: &str = "vault_raft_snapshot";

/// How long a push may take, all in all.
const PUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The Pushgateway URL of this agent's group: `<base>/metrics/job/vault_raft_snapshot/instance/
/// <instance>`. An instance that is not a plain host name is sent base64-encoded, as the
/// Pushgateway allows (`instance@base64/...`).
#[must_use]
pub fn push_url(base: &str, instance: &str) -> String {
    let base = base.trim_end_matches('/');
    let plain = !instance.is_empty()
        && instance
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if plain {
        format!("{base}/metrics/job/{PUSH_JOB}/instance/{instance}")
    } else {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::URL_SAFE.encode(instance);
        // An empty value is written as "=" in base64 form (the Pushgateway's rule).
        let encoded = if encoded.is_empty() {
            "=".into()
        } else {
            encoded
        };
        format!("{base}/metrics/job/{PUSH_JOB}/instance@base64/{encoded}")
    }
}

/// The families whose 0 means "not known to this process" rather than a value: a `once` in a
/// fresh CronJob pod that fails knows no last success, snapshot size or count.
const KEPT_BY_THE_GATEWAY: [&str; 6] = [
    "last_success_timestamp_seconds",
    "snapshot_bytes",
    "raft_index",
    "storage_last_success_timestamp_seconds",
    "storage_snapshot_bytes",
    "storage_snapshots",
];

/// `text` (as [`Metrics::render`] writes it) without the zero samples of the families in
/// [`KEPT_BY_THE_GATEWAY`], and without such a family altogether when none is left: pushed
/// with POST, which replaces only the families sent, the Pushgateway then keeps what an
/// earlier run pushed for them.
#[must_use]
pub fn push_text(text: &str) -> String {
    let kept: Vec<String> = KEPT_BY_THE_GATEWAY
        .iter()
        .map(|name| format!("{PREFIX}_{name}"))
        .collect();
    let family_of = |line: &str| -> String {
        let line = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
            .unwrap_or(line);
        line.split(['{', ' ']).next().unwrap_or("").to_string()
    };
    let mut out = String::new();
    let mut header = String::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") {
            // A new family: a held header of the one before had no sample worth sending.
            header.clear();
        }
        let family = family_of(line);
        if !kept.contains(&family) {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if line.starts_with('#') {
            // Held back until the family has a sample worth sending.
            header.push_str(line);
            header.push('\n');
            continue;
        }
        if line.rsplit(' ').next().is_some_and(|v| v == "0") {
            continue;
        }
        out.push_str(&header);
        header.clear();
        out.push_str(line);
        out.push('\n');
    }
    out
}

impl Metrics {
    /// POSTs the metrics to the Pushgateway at `base` (see [`push_text`]).
    ///
    /// # Errors
    /// When the Pushgateway cannot be reached or does not answer 2xx; the message names the
    /// URL.
    pub fn push(&self, base: &str, instance: &str) -> Result<()> {
        let url = push_url(base, instance);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(PUSH_TIMEOUT))
            .user_agent(concat!("vault-raft-snapshot/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        let mut response = agent
            .post(&url)
            .header("Content-Type", "text/plain; version=0.0.4")
            .send(push_text(&self.render()))
            .with_context(|| format!("cannot push the metrics to {url}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response
                .body_mut()
                .with_config()
                .limit(4096)
                .read_to_string()
                .unwrap_or_default();
            anyhow::bail!(
                "pushing the metrics to {url} failed: {status}: {}",
                body.trim()
            );
        }
        Ok(())
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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

/// One cycle, as the metrics record it.
pub struct Cycle<'a> {
    /// How it ended.
    pub result: &'a Result<crate::cycle::CycleOutcome>,
    /// Whether this agent was the one to act, when the cycle got as far as knowing.
    pub leader: Option<bool>,
    /// Whether a shutdown signal ended it.
    pub stopped: bool,
}

/// Updates `metrics` with one cycle that ended at `ended` after `duration`.
pub fn record_cycle(
    metrics: &mut Metrics,
    cycle: &Cycle<'_>,
    ended: SystemTime,
    duration: std::time::Duration,
) {
    use crate::cycle::CycleOutcome;
    let now = unix_seconds(ended);
    metrics.agent.last_cycle_timestamp = now;
    metrics.agent.last_cycle_duration_seconds = duration.as_secs_f64();
    // Leadership as observed, also in a cycle that failed after the leader check.
    if let Some(leader) = cycle.leader {
        metrics.agent.leader = leader;
    }
    let succeeded = match cycle.result {
        // A stop is not a failure: nothing is counted, the last success stays.
        Err(_) if cycle.stopped => return,
        Err(_) => false,
        Ok(CycleOutcome::NotLeader) => {
            metrics.agent.leader = false;
            true
        }
        Ok(CycleOutcome::Taken(report)) => {
            metrics.agent.leader = true;
            metrics.agent.snapshot_bytes = report.summary.archive_size;
            metrics.agent.raft_index = report.summary.index;
            for r in &report.storages {
                let s = metrics.storage(r.kind, &r.location);
                s.last_attempt_timestamp = now;
                s.last_error = r.error.is_some();
                if r.stored {
                    s.snapshot_bytes = report.summary.archive_size;
                    if r.error.is_none() {
                        s.last_success_timestamp = now;
                    }
                }
                if let Some(held) = r.held {
                    s.snapshots = held;
                }
            }
            report.storages.iter().all(|r| r.error.is_none())
        }
    };
    if succeeded {
        metrics.agent.consecutive_failures = 0;
        metrics.agent.last_success_timestamp = now;
    } else {
        metrics.agent.consecutive_failures += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_zeros_are_not_pushed_so_the_gateway_keeps_earlier_values() {
        let mut failed = sample();
        failed.agent.last_success_timestamp = 0.0;
        failed.agent.raft_index = 0;
        failed.agent.consecutive_failures = 1;
        // The sample's second storage has never succeeded; its first has.
        assert!(failed.storages[0].last_success_timestamp > 0.0);
        assert!(failed.storages[1].last_success_timestamp == 0.0);
        let text = push_text(&failed.render());
        let parsed = Metrics::parse(&text).unwrap();
        assert_eq!(parsed.agent.consecutive_failures, 1);
        assert!(
            !text.contains("vault_raft_snapshot_last_success_timestamp_seconds"),
            "{text}"
        );
        assert!(!text.contains("vault_raft_snapshot_raft_index"), "{text}");
        // A family with one known and one unknown storage keeps the known sample.
        let storage_successes: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.starts_with("vault_raft_snapshot_storage_last_success_timestamp_seconds{")
            })
            .collect();
        assert_eq!(storage_successes.len(), 1, "{text}");
        assert_eq!(
            text.matches("# TYPE vault_raft_snapshot_storage_last_success_timestamp_seconds")
                .count(),
            1
        );
        // With every value known, everything goes as rendered.
        let mut known = sample();
        known.storages.truncate(1);
        let full = known.render();
        assert_eq!(push_text(&full), full);
    }

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
    fn the_push_url_names_the_job_and_the_instance() {
        assert_eq!(
            push_url("http://pushgateway:9091/", "vault-0"),
            "http://pushgateway:9091/metrics/job/vault_raft_snapshot/instance/vault-0"
        );
        // Not a plain host name: base64 (URL-safe), as the Pushgateway reads it.
        assert_eq!(
            push_url("http://pg:9091", "a/b"),
            "http://pg:9091/metrics/job/vault_raft_snapshot/instance@base64/YS9i"
        );
        assert_eq!(
            push_url("http://pg:9091", ""),
            "http://pg:9091/metrics/job/vault_raft_snapshot/instance@base64/="
        );
    }

    fn sample() -> Metrics {
        let mut m = Metrics {
            agent: AgentMetrics {
                last_cycle_timestamp: 1_795_405_200.5,
                last_cycle_duration_seconds: 1.25,
                last_success_timestamp: 1_795_405_200.5,
                leader: true,
                consecutive_failures: 0,
                snapshot_bytes: 12_345,
                raft_index: 1234,
            },
            storages: Vec::new(),
        };
        let s = m.storage("local", "/var/backups/vault \"main\"");
        s.last_success_timestamp = 1_795_405_200.0;
        s.last_attempt_timestamp = 1_795_405_200.0;
        s.snapshot_bytes = 12_345;
        s.snapshots = 3;
        let t = m.storage("local", "/mnt/second");
        t.last_error = true;
        t.last_attempt_timestamp = 1_795_405_200.0;
        m
    }

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
            "vault_raft_snapshot_storage_snapshots{storage=\"local\",location=\"/var/backups/vault \\\"main\\\"\"} 3\n"
        ));
        assert!(text.contains(
            "vault_raft_snapshot_storage_last_error{storage=\"local\",location=\"/mnt/second\"} 1\n"
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
    fn storages_no_longer_configured_are_dropped() {
        let mut metrics = sample();
        metrics.keep_storages(&[("local".into(), "/mnt/second".into())]);
        assert_eq!(metrics.storages.len(), 1);
        assert_eq!(metrics.storages[0].location, "/mnt/second");
    }

    #[test]
    fn parse_reads_back_what_render_wrote() {
        let metrics = sample();
        assert_eq!(Metrics::parse(&metrics.render()).unwrap(), metrics);
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
