//! `list`, `fetch`, `inspect` and `restore` against the stand-in and the storage servers:
//! identical bytes from every storage, corrupted copies refused (and nothing sent to Vault),
//! redirects not followed, no file overwritten.

use std::fs;

use serde_json::{Value, json};
use vault_raft_snapshot::archive::build::{ArchiveOptions, archive_bytes};
use vault_raft_snapshot::archive::inspect::encode_state;

use crate::conformance::{
    AZURE_ACCOUNT, AZURE_ENDPOINT, AZURE_KEY, AzureFixture, BUCKET, Fixture, GCS_ENDPOINT,
    GcsFixture, S3_ENDPOINT, S3Fixture,
};
use crate::env::{Outcome, TestEnv, assert_code, list, valid_archive};
use crate::vault_stand_in::VaultStandIn;

const RESTORE_PATHS: [&str; 2] = [
    "/v1/sys/storage/raft/snapshot",
    "/v1/sys/storage/raft/snapshot-force",
];

fn posts(vault: &VaultStandIn) -> usize {
    vault
        .state()
        .requests
        .iter()
        .filter(|r| r.method == "POST" && RESTORE_PATHS.contains(&r.path.as_str()))
        .count()
}

fn run_gcs(env: &TestEnv, args: &[&str]) -> Outcome {
    let child = env
        .command(args)
        .env("STORAGE_EMULATOR_HOST", GCS_ENDPOINT)
        .spawn()
        .unwrap();
    crate::env::finish(child, std::time::Duration::from_secs(60))
}

#[test]
fn list_shows_every_storage_newest_first_and_fetch_gives_the_stored_bytes() {
    let (Some(s3), Some(gcs), Some(azure)) =
        (S3Fixture::new(), GcsFixture::new(), AzureFixture::new())
    else {
        return;
    };
    let archive = valid_archive(300_000);
    let vault = VaultStandIn::start(archive.clone());
    let env = TestEnv::new();
    env.write_config(
        &vault,
        json!({
            "aws_storage": {"access_key_id": "test-access-key", "secret_access_key": "test-secret-key",
                            "s3_endpoint": S3_ENDPOINT, "s3_force_path_style": true,
                            "s3_bucket": BUCKET, "s3_key_prefix": s3.prefix(), "name": "offsite"},
            "google_storage": {"bucket": BUCKET, "prefix": gcs.prefix()},
            "azure_storage": [{"account_name": AZURE_ACCOUNT, "account_key": AZURE_KEY,
                              "container_name": BUCKET, "prefix": azure.prefix(), "endpoint": AZURE_ENDPOINT}],
        }),
    );
    for _ in 0..2 {
        assert_code(&run_gcs(&env, &["once"]), 0);
    }
    let local = env.files();
    assert_eq!(local.len(), 2);

    let listed = run_gcs(&env, &["list", "--json"]);
    assert_code(&listed, 0);
    let document: Value = serde_json::from_str(&listed.stdout).unwrap();
    let snapshots = document["snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 8, "{}", listed.stdout);
    let names: Vec<&str> = snapshots
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names[..4].iter().all(|n| *n == local[1]),
        "newest first: {names:?}"
    );
    assert!(names[4..].iter().all(|n| *n == local[0]), "{names:?}");
    let mut storages: Vec<&str> = snapshots
        .iter()
        .map(|s| s["storage"].as_str().unwrap())
        .collect();
    storages.sort_unstable();
    storages.dedup();
    assert_eq!(storages, ["azure-0", "gcp-0", "local-0", "offsite"]);
    assert!(snapshots.iter().all(|s| s["size"] == archive.len()));

    let table = run_gcs(&env, &["list", "--storage", "offsite"]);
    assert_code(&table, 0);
    assert!(table.stdout.starts_with("STORAGE"), "{}", table.stdout);
    assert_eq!(table.stdout.lines().count(), 3, "{}", table.stdout);
    assert!(table.stdout.contains(&local[0]) && table.stdout.contains("offsite"));

    let out = tempfile::tempdir().unwrap();
    for storage in ["local-0", "offsite", "gcp", "azure-0"] {
        let target = out.path().join(storage);
        let fetched = run_gcs(
            &env,
            &[
                "fetch",
                &local[0],
                "--storage",
                storage,
                "-o",
                target.to_str().unwrap(),
            ],
        );
        assert_code(&fetched, 0);
        assert_eq!(fs::read(&target).unwrap(), archive, "{storage}");
        assert_eq!(
            fs::read(&target).unwrap(),
            fs::read(env.snaps.join(&local[0])).unwrap()
        );
    }
    // Only the fetched files are left: no temporary file beside them.
    assert_eq!(list(out.path()).len(), 4);

    let unknown = run_gcs(&env, &["list", "--storage", "nas"]);
    assert_code(&unknown, 2);
    assert!(
        unknown.stderr.contains("local-0, offsite, gcp-0, azure-0"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn a_corrupted_copy_is_refused_by_fetch_and_restore_and_another_copy_is_used() {
    let Some(s3) = S3Fixture::new() else { return };
    let archive = valid_archive(200_000);
    let vault = VaultStandIn::start(archive.clone());
    let env = TestEnv::new();
    env.write_config(
        &vault,
        json!({"aws_storage": {"access_key_id": "a", "secret_access_key": "b", "s3_endpoint": S3_ENDPOINT,
                               "s3_force_path_style": true, "s3_bucket": BUCKET, "s3_key_prefix": s3.prefix()}}),
    );
    assert_code(&env.run(&["once"]), 0);
    let name = env.files().remove(0);
    let stored = env.snaps.join(&name);
    let mut bytes = fs::read(&stored).unwrap();
    bytes[100_000] ^= 0x55;
    fs::remove_file(&stored).unwrap();
    fs::write(&stored, &bytes).unwrap();

    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("snap");
    let target_arg = target.to_str().unwrap();
    let refused = env.run(&["fetch", "latest", "--storage", "local-0", "-o", target_arg]);
    assert_code(&refused, 1);
    assert!(
        refused.stderr.contains("failed verification"),
        "{}",
        refused.stderr
    );
    assert!(list(out.path()).is_empty(), "left {:?}", list(out.path()));

    let requests_before = vault.state().requests.len();
    let restore = env.run(&["restore", "latest", "--storage", "local", "--yes"]);
    assert_code(&restore, 1);
    assert!(
        restore.stderr.contains("nothing was sent to Vault"),
        "{}",
        restore.stderr
    );
    assert_eq!(
        vault.state().requests.len(),
        requests_before,
        "Vault was contacted"
    );
    assert!(env.staging_is_empty());

    // Without --storage the good copy in S3 is used.
    let fetched = env.run(&["fetch", "-o", target_arg]);
    assert_code(&fetched, 0);
    assert!(fetched.stderr.contains("local-0"), "{}", fetched.stderr);
    assert!(fetched.stdout.contains("aws-0"), "{}", fetched.stdout);
    assert_eq!(fs::read(&target).unwrap(), archive);

    // An existing file is never overwritten.
    let again = env.run(&["fetch", "-o", target_arg]);
    assert_code(&again, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(fs::read(&target).unwrap(), archive);
}

#[test]
fn restore_asks_for_yes_and_never_follows_a_redirect_with_the_body() {
    let state = encode_state(&[("core/keyring", b"k"), ("logical/m/a", &[7u8; 50_000])]);
    let archive = archive_bytes(&state, &ArchiveOptions::default()).unwrap();
    let vault = VaultStandIn::start(archive.clone());
    let elsewhere = VaultStandIn::start(archive.clone());
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    let file = env.root.path().join("snap");
    fs::write(&file, &archive).unwrap();
    let file_arg = file.to_str().unwrap();

    let dry = env.run(&["restore", file_arg]);
    assert_code(&dry, 2);
    assert!(dry.stdout.contains("Nothing was sent"), "{}", dry.stdout);
    assert!(dry.stdout.contains("Index        1234"), "{}", dry.stdout);
    // The preview only reads (sys/leader; no login without VAULT_TOKEN): nothing is sent.
    assert!(
        vault.state().requests.iter().all(|r| r.method == "GET"),
        "{:?}",
        vault.state().requests
    );

    vault.state().restore_redirect = Some(elsewhere.url());
    let redirected = env.run(&["restore", file_arg, "--yes"]);
    assert_code(&redirected, 1);
    assert!(redirected.stderr.contains("307"), "{}", redirected.stderr);
    assert!(
        redirected.stderr.contains("was not sent there"),
        "{}",
        redirected.stderr
    );
    assert_eq!(posts(&vault), 1);
    assert!(elsewhere.state().requests.is_empty());

    vault.state().restore_redirect = None;
    let restored = env.run(&["restore", file_arg, "--yes", "--force"]);
    assert_code(&restored, 0);
    let state = vault.state();
    let post = state
        .requests
        .iter()
        .rev()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.path, "/v1/sys/storage/raft/snapshot-force");
    assert_eq!(
        post.header("content-length"),
        Some(archive.len().to_string().as_str())
    );
    assert!(post.header("transfer-encoding").is_none());
    assert!(
        restored.stdout.contains("Check next"),
        "{}",
        restored.stdout
    );
}

#[test]
fn inspect_counts_keys_by_prefix_and_reports_state_that_does_not_decode() {
    let env = TestEnv::new();
    let value = vec![1u8; 1000];
    let state = encode_state(&[
        ("core/keyring", b"k"),
        ("logical/m1/a", &value),
        ("logical/m1/b", &value),
        ("logical/m2/c", b"v"),
    ]);
    let good = env.root.path().join("good.snap");
    fs::write(
        &good,
        archive_bytes(&state, &ArchiveOptions::default()).unwrap(),
    )
    .unwrap();
    let shown = env.run(&["inspect", good.to_str().unwrap(), "--json"]);
    assert_code(&shown, 0);
    let report: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(report["keys"], 4);
    assert_eq!(report["prefixes"][0]["prefix"], "logical/m1/");
    assert_eq!(report["prefixes"][0]["count"], 2);
    assert_eq!(report["prefixes"][0]["bytes"], 2000);
    let shallow = env.run(&["inspect", good.to_str().unwrap(), "--depth", "1"]);
    assert_code(&shallow, 0);
    assert!(shallow.stdout.contains("logical/"), "{}", shallow.stdout);
    assert!(
        shallow.stdout.contains("Key prefix (depth 1)"),
        "{}",
        shallow.stdout
    );

    // Random state bytes verify (the hashes match) but are not storage entries: shown as
    // not decoded, never refused (tests/integration/edge_output.rs has the rest).
    let random = env.root.path().join("random.snap");
    fs::write(&random, valid_archive(5000)).unwrap();
    assert_code(&env.run(&["verify", random.to_str().unwrap()]), 0);
    let undecoded = env.run(&["inspect", random.to_str().unwrap()]);
    assert_code(&undecoded, 0);
    assert!(
        undecoded.stdout.contains("contents not decoded: state.bin"),
        "{}",
        undecoded.stdout
    );
}

#[test]
fn list_reports_a_storage_it_cannot_list_and_still_shows_the_others() {
    let vault = VaultStandIn::start(valid_archive(10_000));
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    assert_code(&env.run(&["once"]), 0);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    env.write_config(
        &vault,
        json!({"aws_storage": {"access_key_id": "a", "secret_access_key": "b", "s3_force_path_style": true,
                               "s3_endpoint": format!("http://127.0.0.1:{port}"), "s3_bucket": "gone"}}),
    );
    let listed = env.run(&["list"]);
    assert_code(&listed, 1);
    assert!(listed.stdout.contains(&env.files()[0]), "{}", listed.stdout);
    assert!(
        listed.stderr.contains("listing storage aws-0 failed"),
        "{}",
        listed.stderr
    );
    let pruned = env.run(&["prune", "--dry-run", "--json"]);
    let plan: Value = serde_json::from_str(&pruned.stdout).unwrap();
    assert_eq!(plan["storages"][0]["storage"], "local-0");
    assert_eq!(plan["storages"][1]["storage"], "aws-0");
}
