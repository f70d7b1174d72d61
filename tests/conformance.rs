//! The storage conformance suite (`tests/support/conformance.rs`), once per storage: local and
//! in-memory in every build, and S3, GCS and Azure in builds with their feature, against the
//! test servers (`contrib/test-servers.sh start`).
//!
//! A target of its own, with no required features, so `cargo test --no-default-features`
//! still checks the storages it builds.

#[macro_use]
#[path = "support/assert_contains.rs"]
mod assert_contains;

// The fault proxy resets connections the way the Vault stand-in does; only the faults the
// cloud fixtures inject are used here.
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
#[allow(dead_code)]
#[path = "support/fault_proxy.rs"]
mod fault_proxy;
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
#[path = "support/vault_stand_in.rs"]
mod vault_stand_in;

#[macro_use]
#[path = "support/conformance.rs"]
mod conformance;

conformance!(local, LocalFixture::new());
conformance!(memory, MemoryFixture::new());
#[cfg(feature = "s3")]
conformance!(s3, S3Fixture::new());
#[cfg(feature = "gcs")]
conformance!(gcs, GcsFixture::new());
#[cfg(feature = "azure")]
conformance!(azure, AzureFixture::new());
