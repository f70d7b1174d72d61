//! Restore drills: a stored snapshot restored into a scratch server that is thrown away,
//! proving that a server takes it, that the source cluster's keys unseal it and that the
//! expected secrets are in it, and measuring how long that takes.
//!
//! [`server`] runs the scratch server (private directory, loopback, always removed);
//! [`steps`] drives it through the API. The `drill` command (`crate::commands::drill`) and
//! `run`'s scheduled drill fetch the snapshot and call [`steps::drill`].

pub mod server;
pub mod steps;

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

/// One step of a drill, as printed and in `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// `fetch`, `start`, `init`, `restore`, `unseal`, `active`, `login`, `expect`, `index`.
    pub step: &'static str,
    /// How long it took.
    pub seconds: f64,
    /// Whether it passed.
    pub ok: bool,
    /// What it did, or why it failed.
    pub detail: String,
}

/// A whole drill.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The snapshot drilled.
    pub snapshot: String,
    /// `passed` or `failed`.
    pub result: &'static str,
    /// The step that failed.
    pub failed_step: Option<&'static str>,
    /// Why.
    pub error: Option<String>,
    /// The measured restore time: every step, from the fetch to the last read.
    pub total_seconds: f64,
    /// The snapshot's Raft index.
    pub snapshot_index: Option<u64>,
    /// The restored server's committed Raft index.
    pub restored_index: Option<u64>,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl Report {
    /// True when every step passed.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.failed_step.is_none()
    }
}

/// A step's line: name, time, result, detail.
#[must_use]
pub fn step_line(step: &Step) -> String {
    format!(
        "{:<8} {:>8}  {}  {}",
        step.step,
        seconds(step.seconds),
        if step.ok { "ok    " } else { "FAILED" },
        step.detail
    )
}

/// The closing line of a drill.
#[must_use]
pub fn total_line(report: &Report) -> String {
    let mut line = format!("total    {:>8}  ", seconds(report.total_seconds));
    match (report.failed_step, &report.error) {
        (None, _) => {
            let _ = write!(line, "passed: {} restored and read", report.snapshot);
        }
        (Some(step), error) => {
            let _ = write!(
                line,
                "failed at step {step}: {}",
                error.as_deref().unwrap_or("")
            );
        }
    }
    line
}

fn seconds(s: f64) -> String {
    format!("{s:.2}s")
}

/// `d` in seconds, for reports.
#[must_use]
pub fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}
