//! vault-raft-snapshot: verified Raft snapshots of HashiCorp Vault.
//!
//! Each cycle ([`cycle`]) checks leadership, streams `GET /v1/sys/storage/raft/snapshot`
//! into a temporary file while verifying it ([`archive::verify`]), stores it in every
//! configured storage ([`storage`]) and prunes each storage by its retention rules
//! ([`retention::plan`]). Every command opens what it uses through one [`session`] and lives
//! in a module of its own under [`commands`].
//!
//! Exit codes ([`exit`]): 0 = snapshot stored everywhere, or this node is not the leader;
//! 1 = the cycle failed; 2 = configuration or usage error.

pub mod archive;
pub mod aws;
pub mod calendar;
pub mod cli;
pub mod commands;
pub mod config;
pub mod cycle;
pub mod docs;
pub mod drill;
pub mod duration;
pub mod endpoint;
pub mod exit;
#[cfg(feature = "gcs")]
pub mod google_credentials;
pub mod http;
pub mod leftovers;
pub mod logging;
pub mod metrics;
pub mod migrate;
pub mod other_names;
pub mod progress;
#[cfg(test)]
mod properties;
pub mod prune;
pub mod retention;
pub mod retry;
pub mod secret;
pub mod session;
pub mod shutdown;
pub mod snapshot_name;
pub mod storage;
pub mod text;
pub mod vault;

/// Makes ring the process's rustls crypto provider, once; later calls do nothing.
///
/// Every TLS client here uses ring: ureq is given it directly, while rust-s3's attohttpc and
/// object_store's reqwest (built without a provider of their own) take the process default,
/// and panic on their first HTTPS connection without one. `main` calls this first; each
/// storage that relies on the default calls it again when it is built, so the library is
/// safe to use without `main` (as the tests do).
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is all this wants.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
