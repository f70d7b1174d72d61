//! `check`: the resolved settings with secrets masked, and `--connect`, which reaches Vault
//! and every storage without taking a snapshot, one line per step.

use std::fs;
use std::time::Duration;

use serde_json::json;

use crate::conformance::{BUCKET, Fixture, S3_ENDPOINT, S3Fixture};
use crate::env::{TestEnv, assert_code, finish, valid_archive};
use crate::vault_stand_in::{Mode, VaultStandIn};

const S3_KEY: &str = "test-secret-key";

/// A config with AppRole credentials from a file, and local plus S3 storage whose secret key
/// comes from the environment.
fn env_with_secrets(vault: &VaultStandIn, s3: &S3Fixture) -> TestEnv {
    let env = TestEnv::new();
    let secret_file = env.root.path().join("secret-id");
    fs::write(&secret_file, "test-secret-id\n").unwrap();
    env.write_config(
        vault,
        json!({"secret_id": format!("file://{}", secret_file.display()),
               "aws_storage": {"access_key_id": "test-access-key",
                               "secret_access_key": "env://VRS_TEST_S3_SECRET",
                               "s3_endpoint": S3_ENDPOINT, "s3_force_path_style": true,
                               "s3_region": "us-east-1", "s3_bucket": BUCKET,
                               "s3_key_prefix": s3.prefix()}}),
    );
    env
}

fn check(env: &TestEnv, args: &[&str]) -> crate::env::Outcome {
    let mut command = env.command(args);
    command.env("VRS_TEST_S3_SECRET", S3_KEY);
    finish(command.spawn().unwrap(), Duration::from_secs(60))
}

#[test]
fn check_prints_the_settings_with_secrets_masked_and_sends_nothing() {
    let Some(s3) = S3Fixture::new() else {
        return;
    };
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = env_with_secrets(&vault, &s3);
    let outcome = check(&env, &["check"]);
    assert_code(&outcome, 0);
    let out = &outcome.stdout;
    assert!(out.contains("valid"), "{out}");
    assert!(
        out.contains(&format!("addr              {}", vault.url())),
        "{out}"
    );
    assert!(
        out.contains("role_id <redacted>, secret_id file://"),
        "{out}"
    );
    assert!(
        out.contains("access_key_id <redacted>; secret_access_key env://VRS_TEST_S3_SECRET"),
        "{out}"
    );
    assert!(
        out.contains("storage local-0") && out.contains("storage aws-0"),
        "{out}"
    );
    for secret in ["test-role-id", "test-secret-id", "test-access-key", S3_KEY] {
        assert!(
            !out.contains(secret) && !outcome.stderr.contains(secret),
            "{secret} shown"
        );
    }
    assert!(
        vault.state().requests.is_empty(),
        "check without --connect sent a request"
    );

    // A bad config is the usual exit 2.
    env.write_config(&vault, json!({"frequency": "often"}));
    let bad = check(&env, &["check"]);
    assert_code(&bad, 2);
    assert!(bad.stderr.contains("key \"frequency\""), "{}", bad.stderr);
}

#[test]
fn check_connect_reaches_vault_and_every_storage_without_taking_a_snapshot() {
    let Some(s3) = S3Fixture::new() else {
        return;
    };
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = env_with_secrets(&vault, &s3);
    let outcome = check(&env, &["check", "--connect"]);
    assert_code(&outcome, 0);
    let out = &outcome.stdout;
    for line in [
        "ok    vault sys/leader: the node at addr is the active node",
        "this agent would take the snapshot",
        "ok    vault sys/seal-status: unsealed, version 1.17.0, storage raft",
        "ok    vault login: AppRole at auth/approle",
        "token valid",
        "ok    vault policy: the token may read sys/storage/raft/snapshot ([read])",
        "ok    storage local-0: local",
        "ok    storage aws-0: aws s3://",
    ] {
        assert!(out.contains(line), "no {line:?} in\n{out}");
    }
    assert!(
        vault
            .requests_to("/v1/sys/storage/raft/snapshot")
            .is_empty(),
        "check took a snapshot"
    );
    assert!(env.files().is_empty());

    // A token that may not read snapshots: exit 1 naming the step; the others still run.
    vault.state().capabilities = vec!["deny".into()];
    let denied = check(&env, &["check", "--connect"]);
    assert_code(&denied, 1);
    assert!(
        denied.stdout.contains("FAIL  vault policy: the token may not read sys/storage/raft/snapshot (capabilities: [deny])")
            && denied.stdout.contains("ok    storage aws-0"),
        "{}",
        denied.stdout
    );
    assert!(
        denied
            .stderr
            .contains("the first step that failed: vault policy"),
        "{}",
        denied.stderr
    );
}

#[test]
fn check_connect_names_the_first_step_that_failed() {
    let vault = VaultStandIn::start(valid_archive(1000));
    vault.state().mode = Mode::Sealed;
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    let sealed = env.run(&["check", "--connect"]);
    assert_code(&sealed, 1);
    assert!(
        sealed.stdout.contains("FAIL  vault sys/leader:")
            && sealed
                .stdout
                .contains("FAIL  vault sys/seal-status: Vault is sealed")
            && sealed.stdout.contains("ok    storage local-0"),
        "{}",
        sealed.stdout
    );
    assert!(
        sealed
            .stderr
            .contains("the first step that failed: vault sys/leader"),
        "{}",
        sealed.stderr
    );

    // Wrong AppRole credentials: Vault is fine, the login fails.
    vault.state().mode = Mode::Leader;
    env.write_config(&vault, json!({"secret_id": "wrong"}));
    let refused = env.run(&["check", "--connect"]);
    assert_code(&refused, 1);
    assert!(
        refused.stdout.contains("ok    vault sys/seal-status")
            && refused.stdout.contains("FAIL  vault login: AppRole login"),
        "{}",
        refused.stdout
    );
    assert!(!refused.stdout.contains("wrong") && !refused.stderr.contains("wrong"));
}
