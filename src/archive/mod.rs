//! Vault's Raft snapshot archive: `gzip(tar(meta.json, state.bin, SHA256SUMS, SHA256SUMS.sealed))`.
//!
//! [`verify`] checks a snapshot as it streams past, to section 9.6 of the Vault API contract,
//! strictly more than Vault's own client does; `build` (for tests only, `test-support`) writes archives the way Vault writes
//! them, for the Vault stand-in of the tests, the demo and the benchmark.

#[cfg(any(test, feature = "test-support"))]
pub mod build;
pub mod inspect;
pub mod verify;

/// The entries of a Vault snapshot, in the order Vault writes them.
pub const ENTRY_NAMES: [&str; 4] = ["meta.json", "state.bin", "SHA256SUMS", "SHA256SUMS.sealed"];

/// meta.json, SHA256SUMS and SHA256SUMS.sealed must each be smaller than this (Vault's reader
/// refuses them otherwise).
pub const SMALL_ENTRY_LIMIT: u64 = 8192;

/// Lower-case hex of `bytes`.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
