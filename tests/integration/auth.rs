//! Authentication: AppRole, Kubernetes, token files; renewal and re-login as tokens expire;
//! one retry after a 403; and no secret in the output even at trace level.

use std::fs;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::env::{TestEnv, assert_code, finish, valid_archive};
use crate::vault_stand_in::{SnapshotFault, TOKEN_PREFIX, VaultStandIn};

#[test]
fn kubernetes_login_sends_the_role_and_the_jwt_file() {
    let vault = VaultStandIn::start(valid_archive(1000));
    vault.state().k8s_mount = "k8s-cluster-a".into();
    let env = TestEnv::new();
    let jwt = env.root.path().join("sa-token");
    fs::write(&jwt, "eyJ.test-jwt\n").unwrap();
    env.write_config(
        &vault,
        json!({"role_id": null, "secret_id": null, "vault_auth_method": "k8s",
               "k8s_auth_role": "snapshot", "k8s_auth_path": "k8s-cluster-a", "k8s_token_path": jwt}),
    );
    assert_code(&env.run(&["once"]), 0);
    let login = &vault.requests_to("/v1/auth/k8s-cluster-a/login")[0];
    assert_eq!(login.method, "PUT");
    let body: serde_json::Value = serde_json::from_str(&login.body).unwrap();
    assert_eq!(body, json!({"role": "snapshot", "jwt": "eyJ.test-jwt"}));
    assert_eq!(env.files().len(), 1);
}

#[test]
fn a_token_file_is_read_again_at_every_cycle() {
    let vault = VaultStandIn::start(valid_archive(1000));
    vault.add_static_token("hvs.first");
    vault.add_static_token("hvs.rotated");
    let env = TestEnv::new();
    let token_file = env.root.path().join("agent-sink");
    fs::write(&token_file, "hvs.first\n").unwrap();
    env.write_config(&vault, json!({"token_path": token_file}));
    assert_code(&env.run(&["once"]), 0);
    fs::write(&token_file, "hvs.rotated").unwrap();
    assert_code(&env.run(&["once"]), 0);
    let tokens: Vec<String> = vault
        .requests_to("/v1/sys/storage/raft/snapshot")
        .iter()
        .map(|r| r.header("X-Vault-Token").unwrap().to_string())
        .collect();
    assert_eq!(tokens, ["hvs.first", "hvs.rotated"]);
    assert!(
        vault.requests_to("/v1/auth/approle").is_empty(),
        "token_path must skip AppRole"
    );
}

#[test]
fn wrong_approle_credentials_fail_with_vaults_message() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    env.write_config(&vault, json!({"secret_id": "wrong"}));
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 1);
    assert_contains!(outcome.stderr, "AppRole login");
    assert_contains!(outcome.stderr, "invalid role or secret ID");
    assert!(env.files().is_empty());
}

#[test]
fn a_403_on_the_snapshot_logs_in_again_once_and_retries() {
    let vault = VaultStandIn::start(valid_archive(1000));
    vault.state().fault = SnapshotFault::ForbiddenOnce;
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 0);
    assert_eq!(vault.requests_to("/v1/auth/approle/login").len(), 2);
    assert_eq!(env.files().len(), 1);
}

#[test]
fn token_expiry_during_run_is_survived_by_renewal_and_new_logins() {
    let vault = VaultStandIn::start(valid_archive(1000));
    {
        let mut state = vault.state();
        state.token_ttl = 3;
        state.token_max_ttl = 5;
    }
    let env = TestEnv::new();
    env.write_config(&vault, json!({"frequency": "1s"}));
    let child = env.command(&["run"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(8500));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let outcome = finish(child, Duration::from_secs(10));
    assert_code(&outcome, 0);
    assert_not_contains!(outcome.stderr, "ERROR", "a cycle failed");
    assert!(
        env.files().len() >= 6,
        "{:?}\n{}",
        env.files(),
        outcome.stderr
    );
    assert!(
        !vault.requests_to("/v1/auth/token/renew-self").is_empty(),
        "never renewed"
    );
    assert!(
        vault.requests_to("/v1/auth/approle/login").len() >= 2,
        "never logged in again after max TTL"
    );
    // Every snapshot request carried a token that was valid then (else it would have failed).
    assert_eq!(
        vault.requests_to("/v1/sys/storage/raft/snapshot").len(),
        env.files().len()
    );
}

#[test]
fn no_secret_appears_in_trace_level_output() {
    let vault = VaultStandIn::start(valid_archive(1000));
    {
        let mut state = vault.state();
        state.secret_id = "SECRET-ID-5f4dcc3b".into();
        state.token_ttl = 1;
        state.fault = SnapshotFault::ForbiddenOnce;
    }
    let env = TestEnv::new();
    env.write_config(&vault, json!({"secret_id": "SECRET-ID-5f4dcc3b"}));
    let started = Instant::now();
    let outcome = finish(
        env.command(&["once"])
            .env("RUST_LOG", "trace")
            .spawn()
            .unwrap(),
        Duration::from_secs(30),
    );
    assert_code(&outcome, 0);
    assert!(started.elapsed() < Duration::from_secs(30));
    let all = format!("{}{}", outcome.stdout, outcome.stderr);
    assert!(
        all.contains("TRACE") || all.contains("DEBUG"),
        "trace logging did not run:\n{all}"
    );
    assert_not_contains!(all, "SECRET-ID-5f4dcc3b", "secret_id leaked");
    assert_not_contains!(all, TOKEN_PREFIX, "a token leaked");
    // Also as the logs' hex dumps would show it.
    assert_not_contains!(all, "5345 4352", "secret_id leaked as hex");

    // A token file's content stays out too.
    let token_file = env.root.path().join("token");
    fs::write(&token_file, "hvs.FILE-TOKEN-9c1a").unwrap();
    vault.add_static_token("hvs.FILE-TOKEN-9c1a");
    env.write_config(&vault, json!({"token_path": token_file}));
    let outcome = finish(
        env.command(&["once"])
            .env("RUST_LOG", "trace")
            .spawn()
            .unwrap(),
        Duration::from_secs(30),
    );
    assert_code(&outcome, 0);
    let all = format!("{}{}", outcome.stdout, outcome.stderr);
    assert_not_contains!(all, "FILE-TOKEN-9c1a");
}
