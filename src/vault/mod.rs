//! Talking to Vault: the HTTP client, the typed calls ([`api`], [`sys`], [`token`]),
//! authentication, the leader check and the snapshot download, the restore. Everything here
//! follows `shared/vault-api.md`, the Vault API contract.

pub mod api;
pub mod auth;
pub mod client;
pub mod cloud_login;
pub mod leader;
pub mod restore;
pub mod snapshot;
pub mod sys;
pub mod tls;
pub mod token;
