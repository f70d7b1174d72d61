//! The metrics file: a Prometheus text file for node_exporter's textfile collector, written
//! atomically after every cycle (success, failure or skip), and read back by `status`.
//!
//! `once` runs as a fresh process each time, so the previous file is read first: times of
//! the last success and the count of consecutive failures carry over from run to run.
//! A storage's series are labelled with its name as `list` shows it (`storage`), its kind
//! (`kind`) and its credential-free location (`location`).
//!
//! The same text can be pushed to a Prometheus Pushgateway ([`Metrics::push`]), where there is
//! no node_exporter (a Kubernetes CronJob whose pod is gone after the cycle).
//!
//! One job per file: `model` holds the values and records a cycle, given as a plain
//! [`CycleRecord`] (this module knows nothing of the cycle's own types); `text` writes the
//! Prometheus text format; `state` reads a written file back and writes it atomically;
//! `push` is the Pushgateway client.

mod model;
mod push;
mod state;
mod text;

pub use model::{
    AgentMetrics, CycleRecord, Metrics, Outcome, StorageId, StorageMetrics, StorageRecord,
    unix_seconds,
};
pub use push::{PUSH_JOB, loggable_url, push_text, push_url};
