//! Every command gets the agent's guarantees through one session: it opens only what the
//! command uses (prune and list never read Vault's TLS files, restore with `VAULT_TOKEN` never
//! reads the agent's credentials, a storage missing on this machine is skipped), and a signal
//! during fetch or restore leaves no file anywhere.

use std::fs;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use serde_json::json;
use vault_raft_snapshot::archive::build::{ArchiveOptions, archive_bytes};
use vault_raft_snapshot::archive::inspect::encode_state;

use crate::conformance::{BUCKET, Fixture, S3_ENDPOINT, S3Fixture};
use crate::env::{Outcome, TestEnv, assert_code, finish, list, valid_archive, wait_for};
use crate::fault_proxy::{Action, FaultProxy};
use crate::vault_stand_in::VaultStandIn;

/// An S3 storage section for moto (or a proxy in front of it) at `endpoint`.
fn s3(endpoint: &str, prefix: &str) -> serde_json::Value {
    json!({"access_key_id": "test-access-key", "secret_access_key": "test-secret-key",
           "s3_endpoint": endpoint, "s3_force_path_style": true,
           "s3_bucket": BUCKET, "s3_key_prefix": prefix})
}

/// Sends `signal` to `child` once `ready` holds, and waits for it to end.
fn signal_when(mut child: Child, signal: i32, ready: impl FnMut() -> bool) -> Outcome {
    if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for(
            "the command to start its download",
            Duration::from_secs(30),
            ready,
        )
    })) {
        let _ = child.kill();
        let _ = child.wait();
        std::panic::resume_unwind(e);
    }
    // SAFETY: signalling a child this test started, by its PID.
    unsafe { libc::kill(child.id() as i32, signal) };
    finish(child, Duration::from_secs(10))
}

/// A snapshot whose state decodes, as restore wants it (`valid_archive`'s state is random).
pub(crate) fn restorable_archive(value_bytes: usize) -> Vec<u8> {
    let value = vec![7u8; value_bytes];
    let state = encode_state(&[("core/keyring", b"k"), ("logical/m/a", &value)]);
    archive_bytes(&state, &ArchiveOptions::default()).unwrap()
}

/// A stand-in that takes the operator's token `hvs.operator`, a test directory, and a
/// restorable snapshot file in it.
pub(crate) fn restore_setup() -> (VaultStandIn, TestEnv, std::path::PathBuf) {
    let archive = restorable_archive(20_000);
    let vault = VaultStandIn::start(archive.clone());
    vault.add_static_token("hvs.operator");
    let env = TestEnv::new();
    let file = env.root.path().join("snap");
    fs::write(&file, &archive).unwrap();
    (vault, env, file)
}

/// Names in `dir` that look like temporary files.
fn temporary(dir: &Path) -> Vec<String> {
    list(dir)
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn sigint_during_fetch_and_restore_leaves_no_file_anywhere() {
    let Some(s3_fixture) = S3Fixture::new() else {
        return;
    };
    let archive = valid_archive(4 << 20);
    let vault = VaultStandIn::start(archive.clone());
    let env = TestEnv::new();
    env.write_config(
        &vault,
        json!({"aws_storage": s3(S3_ENDPOINT, s3_fixture.prefix())}),
    );
    assert_code(&env.run(&["once"]), 0);

    // From now on S3 answers every object GET with its head and 64 KiB, then nothing.
    let proxy = FaultProxy::start("127.0.0.1:5055", |request| {
        if request.method == "GET" && !request.target.contains("list-type") {
            Action::StallAfter(64 * 1024)
        } else {
            Action::Forward
        }
    });
    env.write_config(
        &vault,
        json!({"aws_storage": s3(&proxy.url(), s3_fixture.prefix())}),
    );

    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("snap");
    let fetch = env
        .command(&[
            "fetch",
            "--storage",
            "aws-0",
            "-o",
            target.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    let fetched = signal_when(fetch, libc::SIGINT, || !temporary(out.path()).is_empty());
    assert_code(&fetched, 1);
    assert!(list(out.path()).is_empty(), "left {:?}", list(out.path()));

    let restore = env
        .command(&["restore", "--storage", "aws-0", "--yes"])
        .spawn()
        .unwrap();
    let restored = signal_when(restore, libc::SIGINT, || !env.staging_is_empty());
    assert_code(&restored, 1);
    assert!(env.staging_is_empty(), "left {:?}", list(&env.tmp));
    assert!(
        vault.state().requests.iter().all(|r| r.method != "POST"),
        "nothing may be sent to Vault"
    );
}

#[test]
fn a_fetch_killed_with_sigkill_leaves_a_file_the_next_fetch_removes() {
    let archive = valid_archive(100_000);
    let vault = VaultStandIn::start(archive);
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    assert_code(&env.run(&["once"]), 0);
    let out = tempfile::tempdir().unwrap();
    // What a fetch killed by SIGKILL (or the OOM killer) leaves: a dead PID's file.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let leftover = out
        .path()
        .join(format!(".vault-raft-snapshot-{dead}-AbC123.tmp"));
    fs::write(&leftover, b"half a snapshot").unwrap();
    let foreign = out.path().join(".keep-me");
    fs::write(&foreign, b"not ours").unwrap();

    let target = out.path().join("snap");
    assert_code(&env.run(&["fetch", "-o", target.to_str().unwrap()]), 0);
    assert!(!leftover.exists(), "the dead fetch's file is still there");
    assert!(foreign.exists() && target.exists());
}

#[test]
fn prune_and_list_never_read_vaults_tls_files() {
    let vault = VaultStandIn::start(valid_archive(10_000));
    let env = TestEnv::new();
    let garbage = env.root.path().join("client.key");
    fs::write(&garbage, "not a PEM key").unwrap();
    env.write_config(
        &vault,
        json!({"client_cert": garbage, "client_key": garbage, "ca_cert": garbage}),
    );
    let pruned = env.run(&["prune"]);
    assert_code(&pruned, 0);
    assert!(
        pruned.stdout.contains("nothing to delete"),
        "{}",
        pruned.stdout
    );
    assert_code(&env.run(&["prune", "--dry-run"]), 0);
    assert_code(&env.run(&["list"]), 0);
    // The commands that talk to Vault still read them, and say which is wrong.
    let once = env.run(&["once"]);
    assert_code(&once, 2);
    assert!(once.stderr.contains("client.key"), "{}", once.stderr);
    assert!(vault.state().requests.is_empty());
}

#[test]
fn a_lost_local_storage_is_skipped_and_the_others_are_used() {
    let Some(s3_fixture) = S3Fixture::new() else {
        return;
    };
    let archive = restorable_archive(50_000);
    let vault = VaultStandIn::start(archive.clone());
    vault.add_static_token("hvs.operator");
    let env = TestEnv::new();
    let aws = s3(S3_ENDPOINT, s3_fixture.prefix());
    env.write_config(&vault, json!({"aws_storage": aws}));
    assert_code(&env.run(&["once"]), 0);
    let name = env.files().remove(0);

    // On another machine: neither the local storage's directory nor temp_dir exists there.
    let gone = env.root.path().join("lost-node");
    env.write_config(
        &vault,
        json!({"aws_storage": aws, "local_storage": {"path": gone.join("snaps")},
               "temp_dir": gone.join("tmp")}),
    );
    let listed = env.run(&["list"]);
    assert_code(&listed, 1);
    assert!(listed.stdout.contains(&name), "{}", listed.stdout);
    assert!(listed.stdout.contains("aws-0"), "{}", listed.stdout);
    assert!(
        listed.stderr.contains("local-0") && listed.stderr.contains("lost-node/snaps"),
        "{}",
        listed.stderr
    );

    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("snap");
    let fetched = env.run(&["fetch", "-o", target.to_str().unwrap()]);
    assert_code(&fetched, 0);
    assert_eq!(fs::read(&target).unwrap(), archive);
    assert!(fetched.stderr.contains("local-0"), "{}", fetched.stderr);

    // --storage names the one wanted: the lost one is not even looked at.
    let only = out.path().join("only-aws");
    let fetched = env.run(&["fetch", "--storage", "aws-0", "-o", only.to_str().unwrap()]);
    assert_code(&fetched, 0);
    assert!(!fetched.stderr.contains("local-0"), "{}", fetched.stderr);

    let restored = env
        .command(&["restore", "latest", "--yes"])
        .env("VAULT_TOKEN", "hvs.operator")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&restored.stderr);
    assert_eq!(restored.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("temp_dir"), "{stderr}");

    // A --storage that names the lost one says why it cannot be used.
    let never = out.path().join("never");
    let lost = env.run(&[
        "fetch",
        "--storage",
        "local-0",
        "-o",
        never.to_str().unwrap(),
    ]);
    assert_code(&lost, 1);
    assert!(lost.stderr.contains("lost-node/snaps"), "{}", lost.stderr);
    assert!(!never.exists());
}

#[test]
fn restore_with_vault_token_never_reads_the_agents_credentials() {
    let (vault, env, file) = restore_setup();
    let missing = env.root.path().join("approle/secret_id");
    env.write_config(
        &vault,
        json!({"role_id": format!("file://{}", missing.display()),
               "secret_id": format!("file://{}", missing.display())}),
    );
    let file_arg = file.to_str().unwrap();

    let restored = env
        .command(&["restore", file_arg, "--yes"])
        .env("VAULT_TOKEN", "hvs.operator")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&restored.stderr);
    assert_eq!(restored.status.code(), Some(0), "{stderr}");
    assert_eq!(
        vault
            .state()
            .requests
            .iter()
            .filter(|r| r.path.ends_with("/login"))
            .count(),
        0,
        "the agent logged in"
    );

    // Without VAULT_TOKEN the agent's credentials are used, and their absence is named.
    let refused = env.run(&["restore", file_arg, "--yes"]);
    assert_code(&refused, 2);
    assert!(refused.stderr.contains("role_id"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("approle/secret_id"),
        "{}",
        refused.stderr
    );
}

#[test]
fn restore_file_needs_no_config_file() {
    let (vault, env, file) = restore_setup();
    let file_arg = file.to_str().unwrap();
    // As an operator on a fresh machine: no config file, only Vault's variables.
    let without_config = |args: &[&str], addr: Option<&str>| {
        let mut command = std::process::Command::new(crate::env::BIN);
        command
            .args(args)
            .env_clear()
            .env("VAULT_TOKEN", "hvs.operator")
            .current_dir(env.root.path());
        if let Some(addr) = addr {
            command.env("VAULT_ADDR", addr);
        }
        command.output().unwrap()
    };
    if Path::new(vault_raft_snapshot::config::DEFAULT_CONFIG_PATH).exists() {
        panic!(
            "{} exists on this machine; this test needs it absent",
            vault_raft_snapshot::config::DEFAULT_CONFIG_PATH
        );
    }

    let restored = without_config(&["restore", file_arg, "--yes"], Some(&vault.url()));
    let stderr = String::from_utf8_lossy(&restored.stderr);
    assert_eq!(restored.status.code(), Some(0), "{stderr}");
    assert_eq!(
        vault
            .state()
            .requests
            .iter()
            .filter(|r| r.method == "POST")
            .count(),
        1
    );

    let with_addr = without_config(
        &["restore", file_arg, "--yes", "--addr", &vault.url()],
        None,
    );
    let stderr = String::from_utf8_lossy(&with_addr.stderr);
    assert_eq!(with_addr.status.code(), Some(0), "{stderr}");

    // A stored snapshot needs the config that names the storages.
    let stored = without_config(&["restore", "latest", "--yes"], Some(&vault.url()));
    assert_eq!(stored.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&stored.stderr).contains("snapshot.json"),
        "{}",
        String::from_utf8_lossy(&stored.stderr)
    );
    // A config named with -c must exist.
    let named = env.run(&["restore", file_arg, "--yes"]);
    assert_code(&named, 2);
}

#[test]
fn a_restore_with_the_agents_own_login_does_not_revoke_a_token_the_restore_replaced() {
    let (vault, env, file) = restore_setup();
    env.write_config(&vault, json!({}));
    let restored = env.run(&["restore", file.to_str().unwrap(), "--yes"]);
    assert_code(&restored, 0);
    let requests = vault.state().requests.clone();
    assert!(
        requests
            .iter()
            .any(|r| r.path.contains("/auth/approle/login")),
        "the agent's AppRole was not used: {:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert!(
        !requests.iter().any(|r| r.path.contains("revoke-self")),
        "the restored cluster was asked to revoke a token it no longer knows"
    );
    assert_not_contains!(restored.stderr, "could not revoke");
}
