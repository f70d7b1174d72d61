//! Every command gets the agent's guarantees through one session: it opens only what the
//! command uses (prune and list never read Vault's TLS files, restore with `VAULT_TOKEN` never
//! reads the agent's credentials, a storage missing on this machine is skipped), and a signal
//! during fetch or restore leaves no file anywhere.

use std::fs;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use serde_json::json;

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
