//! Every way a snapshot can come back bad (section 9.7 of the Vault API contract): each is
//! refused with exit 1, and the storage is left exactly as it was: no new file, nothing
//! pruned, no temporary file.

use std::time::{Duration, SystemTime};

use serde_json::json;
use vault_raft_snapshot::archive::build::{
    ArchiveOptions, Fault, archive_bytes, pseudo_random_bytes,
};
use vault_raft_snapshot::snapshot_name::SnapshotName;

use crate::env::{Outcome, TestEnv, assert_code, valid_archive};
use crate::vault_stand_in::{SnapshotFault, VaultStandIn};

/// Three good snapshots and a foreign file, with retain 2: a prune would delete one.
fn populated(vault: &VaultStandIn) -> (TestEnv, Vec<String>) {
    let env = TestEnv::new();
    let now = SystemTime::now();
    for hours in [3, 2, 1] {
        let name = SnapshotName::at(now - Duration::from_secs(hours * 3600));
        env.put(&name.to_string(), &valid_archive(100));
    }
    env.put("notes.txt", b"not ours");
    env.write_config(vault, json!({"retain": 2}));
    let before = env.files();
    (env, before)
}

#[track_caller]
fn assert_refused(env: &TestEnv, before: &[String], outcome: &Outcome, reason: &str) {
    assert_code(outcome, 1);
    assert_eq!(env.files(), before, "storage changed after a bad snapshot");
    assert!(env.staging_is_empty(), "temporary file left behind");
    assert_contains!(outcome.stderr, reason);
    assert_not_contains!(outcome.stderr, "Successfully created");
}

fn refused_with(fault: SnapshotFault, reason: &str) {
    let vault = VaultStandIn::start(valid_archive(200_000));
    vault.state().fault = fault;
    let (env, before) = populated(&vault);
    assert_refused(&env, &before, &env.run(&["once"]), reason);
}

fn archive_refused(fault: Fault, reason: &str) {
    let options = ArchiveOptions {
        fault: Some(fault),
        ..ArchiveOptions::default()
    };
    let vault =
        VaultStandIn::start(archive_bytes(&pseudo_random_bytes(200_000, 3), &options).unwrap());
    let (env, before) = populated(&vault);
    assert_refused(&env, &before, &env.run(&["once"]), reason);
}

#[test]
fn a_body_cut_anywhere_but_ended_cleanly_is_refused() {
    let archive = valid_archive(200_000);
    let len = archive.len();
    let vault = VaultStandIn::start(archive);
    let (env, before) = populated(&vault);
    for cut in [0, 1, 10, 511, 4096, len / 2, len - 1030, len - 9, len - 1] {
        vault.state().fault = SnapshotFault::CutAt(cut);
        let outcome = env.run(&["once"]);
        let reason = if cut == 0 {
            "empty"
        } else {
            "failed verification"
        };
        assert_refused(&env, &before, &outcome, reason);
    }
}

#[test]
fn a_missing_seal_and_end_blocks_are_refused() {
    archive_refused(Fault::NoSealedNoEnd, "SHA256SUMS.sealed is missing");
}

#[test]
fn a_dropped_gzip_trailer_is_refused() {
    refused_with(SnapshotFault::DropTrailer, "truncated or corrupt");
}

#[test]
fn trailing_bytes_are_refused() {
    refused_with(
        SnapshotFault::TrailingGarbage,
        "after the end of the gzip stream",
    );
}

#[test]
fn a_flipped_state_byte_is_refused() {
    archive_refused(Fault::FlipStateByte, "hash check failed for \"state.bin\"");
}

#[test]
fn an_extra_entry_is_refused() {
    archive_refused(Fault::ExtraEntry, "unexpected file \"extra.txt\"");
}

#[test]
fn a_wrong_name_in_sha256sums_is_refused() {
    archive_refused(
        Fault::WrongNameInSums,
        "SHA256SUMS lists an unexpected file",
    );
}

#[test]
fn an_oversized_meta_json_is_refused() {
    archive_refused(Fault::BigMeta, "meta.json is");
}

#[test]
fn a_size_mismatch_is_refused() {
    archive_refused(Fault::SizeMismatch, "meta.json says Size");
}

#[test]
fn a_sealed_snapshot_endpoint_is_refused() {
    refused_with(SnapshotFault::Sealed, "Vault is sealed");
}

#[test]
fn a_500_before_the_body_shows_vaults_error() {
    refused_with(
        SnapshotFault::ServerError,
        "raft error when taking snapshot: stand-in failure",
    );
}

#[test]
fn a_json_body_with_200_is_refused() {
    refused_with(
        SnapshotFault::JsonBody,
        "instead of application/gzip: not a snapshot",
    );
}

#[test]
fn a_body_shorter_than_its_content_length_is_refused() {
    refused_with(
        SnapshotFault::ShortContentLength,
        "downloading the snapshot",
    );
}
