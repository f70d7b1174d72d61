//! Integration tests: the real `vault-raft-snapshot` binary, run as an operator would, against
//! the Vault stand-in (`tests/support/vault_stand_in.rs`) and a real OpenBao Raft cluster
//! (`tests/support/openbao.rs`) on 127.0.0.1.
//!
//! One test binary with one module per area (ripgrep's layout), so linking happens once.

#[macro_use]
#[path = "../support/assert_contains.rs"]
mod assert_contains;

#[path = "../support/vault_stand_in.rs"]
mod vault_stand_in;

#[path = "../support/fault_proxy.rs"]
mod fault_proxy;

#[path = "../support/openbao.rs"]
mod openbao;

#[path = "../support/http_stub.rs"]
mod http_stub;

// The storage fixtures (raw buckets, configs, fault proxies) the tests here use. The checks
// themselves run once, in the `conformance` target.
#[allow(dead_code, unused_macros)]
#[path = "../support/conformance.rs"]
mod conformance;

mod env;

mod auth;
mod aws_identity;
mod check;
mod cli;
mod cycle;
mod drill;
mod edge_alerts;
mod edge_endpoint;
mod edge_helm;
mod edge_leftovers;
mod edge_newest;
mod edge_output;
mod edge_security;
mod edge_status;
mod edge_storage_metrics;
mod edge_transient;
mod examples;
mod fanout;
mod fault_matrix;
mod faults;
mod gcs_auth;
mod helm_schema;
mod identity;
mod kubernetes;
mod login_cloud;
mod login_methods;
mod metrics_push;
mod migrate;
mod multi_addr;
mod openbao_cluster;
mod ops;
mod other_names;
mod progress;
mod recover;
mod restore_wait;
mod retention;
mod s3_integrity;
mod s3_parallel;
mod s3_static_name;
mod secret_refs;
mod session;
mod signals;
mod storage_error_text;
mod tls;
