//! The metrics file: a Prometheus text file for node_exporter's textfile collector, written
//! atomically after every cycle (success, failure or skip), and read back by `status`.
//!
//! `once` runs as a fresh process each time, so the previous file is read first: times of
//! the last success and the count of consecutive failures carry over from run to run.
//! A storage's series are labelled with its name as `list` shows it (`storage`), its kind
//! (`kind`) and its credential-free location (`location`).
//!
//! While the last cycle (or a storage's last store or prune) failed, the file also says why:
//! the error's text as the `reason` label of an info-style series, made fit to store by
//! [`reason`] (URLs without credentials or query values, control characters escaped, at most
//! [`MAX_REASON_CHARS`] characters). A success drops it; a stop by a signal is no failure and
//! leaves it as it was.
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
    AgentMetrics, CycleRecord, MAX_REASON_CHARS, Metrics, Outcome, StorageId, StorageMetrics,
    StorageRecord, reason, unix_seconds,
};
pub use push::{PUSH_JOB, loggable_url, push_text, push_url};
