//! The metrics file: a Prometheus text file for node_exporter's textfile collector, written
//! atomically after every cycle (success, failure or skip), and read back by `status`.
//!
//! `once` runs as a fresh process each time, so the previous file is read first: times of
//! the last success and the count of consecutive failures carry over from run to run.
//! Labels name the storage type and a credential-free location.
//!
//! The same text can be pushed to a Prometheus Pushgateway ([`Metrics::push`]), where there is
//! no node_exporter (a Kubernetes CronJob whose pod is gone after the cycle).

mod model;
mod push;
mod state;
mod text;

pub use model::{
    AgentMetrics, CycleRecord, Metrics, Outcome, StorageMetrics, StorageRecord, unix_seconds,
};
pub use push::{PUSH_JOB, push_text, push_url};
