//! vault-raft-snapshot: verified Raft snapshots of HashiCorp Vault.
//!
//! Each cycle ([`cycle`]) checks leadership, streams `GET /v1/sys/storage/raft/snapshot`
//! into a temporary file while verifying it ([`archive::verify`]), stores it in every
//! configured storage ([`storage`]) and prunes each storage to the newest `retain` snapshots
//! ([`retention::plan`]).
//!
//! Exit codes ([`app`]): 0 = snapshot stored everywhere, or this node is not the leader;
//! 1 = the cycle failed; 2 = configuration or usage error.

pub mod app;
pub mod archive;
pub mod cli;
pub mod config;
pub mod cycle;
pub mod docs;
pub mod duration;
pub mod logging;
pub mod metrics;
pub mod prune;
pub mod retention;
pub mod secret;
pub mod shutdown;
pub mod snapshot_name;
pub mod storage;
pub mod vault;
