//! `restore` returns only once the node has applied the snapshot (Vault answers the POST
//! before the restore is done), against a stand-in that holds requests as Vault does while it
//! applies a restore. The real OpenBao case is in `openbao_cluster.rs`.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::env::{Outcome, TestEnv, assert_code};
use crate::session::restore_setup;
use crate::vault_stand_in::{Mode, VaultStandIn};

fn restore(env: &TestEnv, vault: &VaultStandIn, file: &Path, extra: &[&str]) -> Outcome {
    env.write_config(vault, serde_json::json!({}));
    let mut args = vec!["restore", file.to_str().unwrap(), "--yes", "--addr"];
    let url = vault.url();
    args.push(&url);
    args.extend_from_slice(extra);
    let mut command = env.command(&args);
    command.env("VAULT_TOKEN", "hvs.operator");
    crate::env::finish(command.spawn().unwrap(), Duration::from_secs(60))
}

/// Paths asked after the restore POST.
fn asked_after_restore(vault: &VaultStandIn) -> Vec<String> {
    let requests = vault.state().requests.clone();
    let post = requests
        .iter()
        .position(|r| r.method == "POST")
        .expect("a restore POST");
    requests[post + 1..]
        .iter()
        .map(|r| r.path.clone())
        .collect()
}

#[test]
fn restore_exits_once_the_node_has_applied_the_snapshot_not_when_vault_answers() {
    let (vault, env, file) = restore_setup();
    let hold = Duration::from_secs(2);
    vault.state().after_restore = Some((hold, Mode::Leader));
    let started = Instant::now();
    let outcome = restore(&env, &vault, &file, &[]);
    let took = started.elapsed();
    assert_code(&outcome, 0);
    assert_contains!(outcome.stdout, "is active and serving again");
    // Not a timing target: the stand-in holds requests for `hold`, and restore waited for it.
    assert!(took >= hold, "restore returned after {took:?}");
    let after = asked_after_restore(&vault);
    assert!(
        after.iter().any(|p| p == "/v1/auth/token/lookup-self"),
        "{after:?}"
    );
    assert_not_contains!(outcome.stderr, "hvs.operator");
}

#[test]
fn a_node_that_seals_itself_after_a_restore_is_a_failure_unless_the_restore_was_forced() {
    let (vault, env, file) = restore_setup();
    vault.state().after_restore = Some((Duration::from_millis(500), Mode::Sealed));
    let failed = restore(&env, &vault, &file, &[]);
    assert_code(&failed, 1);
    assert_contains!(failed.stderr, "sealed itself after the restore");
    assert_contains!(failed.stderr, "the restore may be incomplete");

    let (vault, env, file) = restore_setup();
    vault.state().after_restore = Some((Duration::from_millis(500), Mode::Sealed));
    let forced = restore(&env, &vault, &file, &["--force"]);
    assert_code(&forced, 0);
    assert_contains!(forced.stdout, "sealed itself");
    assert_contains!(forced.stdout, "unseal it with the unseal keys");
}

#[test]
fn a_node_that_does_not_come_back_in_time_fails_the_restore_naming_what_was_seen() {
    let (vault, env, file) = restore_setup();
    vault.state().after_restore = Some((Duration::from_secs(60), Mode::Leader));
    let outcome = restore(&env, &vault, &file, &["--wait", "2s"]);
    assert_code(&outcome, 1);
    assert_contains!(outcome.stderr, "did not answer as a working node within 2s");
    assert_contains!(outcome.stderr, "last seen: no answer");
    assert_contains!(outcome.stderr, "auth/token/lookup-self");
}

#[test]
fn a_wait_that_is_not_a_duration_is_a_usage_error() {
    let (vault, env, file) = restore_setup();
    let outcome = restore(&env, &vault, &file, &["--wait", "soon"]);
    assert_code(&outcome, 2);
    assert_contains!(outcome.stderr, "--wait");
    assert!(vault.state().requests.is_empty());
}
