//! Integration tests: the real `vault-raft-snapshot` binary, run as an operator would, against
//! the Vault stand-in (`tests/support/vault_stand_in.rs`) and a real OpenBao Raft cluster
//! (`tests/support/openbao.rs`) on 127.0.0.1.
//!
//! One test binary with one module per area (ripgrep's layout), so linking happens once.

#[path = "../support/vault_stand_in.rs"]
mod vault_stand_in;

#[path = "../support/fault_proxy.rs"]
mod fault_proxy;

#[path = "../support/openbao.rs"]
mod openbao;

mod env;

mod auth;
mod check;
mod cli;
mod conformance;
mod cycle;
mod examples;
mod fanout;
mod fault_matrix;
mod faults;
mod gcs_auth;
mod kubernetes;
mod metrics_push;
mod openbao_cluster;
mod ops;
mod recover;
mod retention;
mod s3_static_name;
mod secret_refs;
mod session;
mod signals;
mod tls;
