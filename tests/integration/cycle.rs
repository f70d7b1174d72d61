//! The cycle as an operator sees it: leader stores, standby skips, single node acts, sealed
//! fails, and a standby's 307 is followed only to the reported leader.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use std::time::Duration;

use crate::env::{TestEnv, assert_code, finish, valid_archive};
use crate::vault_stand_in::{Mode, SnapshotFault, VaultStandIn};
use vault_raft_snapshot::cycle::NOT_LEADER_MESSAGE;

#[test]
fn the_leader_stores_a_byte_identical_verified_snapshot() {
    let archive = valid_archive(300_000);
    let vault = VaultStandIn::start(archive.clone());
    vault.state().chunk_size = 4096;
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));

    let outcome = env.run(&["once"]);
    assert_code(&outcome, 0);
    let files = env.files();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = &files[0];
    assert!(
        name.starts_with("raft_snapshot-") && name.ends_with(".snap"),
        "{name}"
    );
    let path = env.snaps.join(name);
    assert_eq!(
        fs::read(&path).unwrap(),
        archive,
        "stored bytes differ from Vault's"
    );
    assert_contains!(
        outcome.stderr,
        format!("Successfully created local snapshot to {}", path.display())
    );
    let mode = fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "snapshot is readable by others: {mode:o}");
    assert!(env.staging_is_empty(), "temp file left behind");

    // The download carried the token that AppRole login returned, and Vault's headers.
    let logins = vault.requests_to("/v1/auth/approle/login");
    assert_eq!(logins.len(), 1);
    let download = &vault.requests_to("/v1/sys/storage/raft/snapshot")[0];
    assert!(
        download
            .header("X-Vault-Token")
            .unwrap()
            .starts_with("hvs.STANDIN-TOKEN-")
    );
    assert_eq!(download.header("X-Vault-Request"), Some("true"));
}

#[test]
fn a_standby_skips_without_logging_in() {
    let vault = VaultStandIn::start(valid_archive(1000));
    {
        let mut state = vault.state();
        state.mode = Mode::Standby;
        state.leader_address = "https://10.255.0.1:8200".into();
    }
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));

    let outcome = env.run(&["once"]);
    assert_code(&outcome, 0);
    assert_contains!(outcome.stderr, "Not running on leader node, skipping.");
    assert!(env.files().is_empty());
    assert!(
        vault.requests_to("/v1/auth/").is_empty(),
        "a standby should not log in"
    );
    assert!(
        vault
            .requests_to("/v1/sys/storage/raft/snapshot")
            .is_empty()
    );
}

#[test]
fn a_single_node_without_ha_acts() {
    let vault = VaultStandIn::start(valid_archive(1000));
    vault.state().mode = Mode::NonHa;
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    assert_code(&env.run(&["once"]), 0);
    assert_eq!(env.files().len(), 1);
}

#[test]
fn a_sealed_vault_fails_with_exit_1_and_says_so() {
    let vault = VaultStandIn::start(valid_archive(1000));
    vault.state().mode = Mode::Sealed;
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 1);
    assert_contains!(outcome.stderr, "503");
    assert_contains!(outcome.stderr, "Vault is sealed");
    assert!(env.files().is_empty());
}

#[test]
fn vault_unreachable_fails_with_exit_1_naming_the_url() {
    let env = TestEnv::new();
    let vault = VaultStandIn::start(Vec::new());
    env.write_config(&vault, json!({"addr": "http://127.0.0.1:9"}));
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 1);
    assert_contains!(
        outcome.stderr,
        "cannot reach Vault at GET http://127.0.0.1:9/v1/sys/leader"
    );
}

#[test]
fn a_small_snapshot_sent_with_content_length_is_accepted() {
    // Go's net/http sets Content-Length itself for bodies under 2 KiB.
    let archive = valid_archive(10);
    assert!(archive.len() < 2048);
    let vault = VaultStandIn::start(archive.clone());
    vault.state().content_length = true;
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    assert_code(&env.run(&["once"]), 0);
    assert_eq!(fs::read(env.snaps.join(&env.files()[0])).unwrap(), archive);
}

#[test]
fn a_redirect_to_the_reported_leader_is_followed_with_the_token() {
    // `addr` is a load balancer: sys/leader reached the active node, the snapshot request a
    // standby, which redirects to the leader_address.
    let archive = valid_archive(50_000);
    let leader = VaultStandIn::start(archive.clone());
    leader.add_static_token("hvs.static-root");
    let balancer = VaultStandIn::start(Vec::new());
    {
        let mut state = balancer.state();
        state.leader_address = leader.url();
        state.fault = SnapshotFault::Redirect(leader.url());
    }
    let env = TestEnv::new();
    env.write_config(&balancer, json!({"role_id": null, "secret_id": null}));
    let outcome = env
        .command(&["once"])
        .env("VAULT_TOKEN", "hvs.static-root")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&outcome.stderr);
    assert_eq!(outcome.status.code(), Some(0), "{stderr}");
    assert_eq!(fs::read(env.snaps.join(&env.files()[0])).unwrap(), archive);
    let followed = leader.requests_to("/v1/sys/storage/raft/snapshot");
    assert_eq!(followed.len(), 1);
    assert_eq!(followed[0].header("X-Vault-Token"), Some("hvs.static-root"));
}

#[test]
fn a_redirect_anywhere_else_is_refused_and_gets_no_token() {
    let stranger = VaultStandIn::start(valid_archive(1000));
    let balancer = VaultStandIn::start(Vec::new());
    balancer.state().fault = SnapshotFault::Redirect(stranger.url());
    let env = TestEnv::new();
    env.write_config(&balancer, json!({}));
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 1);
    assert_contains!(outcome.stderr, "refusing to send the token there");
    assert!(
        stranger.state().requests.is_empty(),
        "the token went to a host that is not the leader"
    );
    assert!(env.files().is_empty());
}

#[test]
fn leader_check_none_takes_the_snapshot_through_a_standby() {
    // One agent per cluster, pointed at whichever node answers: a standby's 307 to the
    // active node is followed as usual, where "auto" would skip (see above).
    let archive = valid_archive(20_000);
    let leader = VaultStandIn::start(archive.clone());
    let standby = VaultStandIn::start(Vec::new());
    {
        let mut state = standby.state();
        state.mode = Mode::Standby;
        state.leader_address = leader.url();
    }
    leader.add_static_token("hvs.static-root");
    let env = TestEnv::new();
    env.write_config(
        &standby,
        json!({"leader_check": "none", "role_id": null, "secret_id": null}),
    );
    let mut command = env.command(&["once"]);
    command.env("VAULT_TOKEN", "hvs.static-root");
    let outcome = finish(command.spawn().unwrap(), Duration::from_secs(60));
    assert_code(&outcome, 0);
    assert_contains!(outcome.stderr, "Leader check: none");
    assert_not_contains!(outcome.stderr, NOT_LEADER_MESSAGE);
    assert_eq!(fs::read(env.snaps.join(&env.files()[0])).unwrap(), archive);
}

#[test]
fn leader_check_is_self_acts_on_the_active_node_only() {
    let vault = VaultStandIn::start(valid_archive(1000));
    {
        let mut state = vault.state();
        state.mode = Mode::Standby;
        state.leader_address = "https://10.255.0.1:8200".into();
    }
    let env = TestEnv::new();
    env.write_config(&vault, json!({"leader_check": "is_self"}));
    let skipped = env.run(&["once"]);
    assert_code(&skipped, 0);
    assert_contains!(skipped.stderr, "Leader check: is_self");
    assert_contains!(skipped.stderr, NOT_LEADER_MESSAGE);
    assert!(env.files().is_empty());

    // The same node becomes active; its leader address is still not one of this host's.
    vault.state().mode = Mode::Leader;
    let taken = env.run(&["once"]);
    assert_code(&taken, 0);
    assert_eq!(env.files().len(), 1, "{}", taken.stderr);
}

#[test]
fn an_unknown_leader_check_is_a_config_error() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    env.write_config(&vault, json!({"leader_check": "leader"}));
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 2);
    assert_contains!(outcome.stderr, "key \"leader_check\"");
    assert_contains!(outcome.stderr, "\"auto\", \"is_self\" or \"none\"");
    assert!(vault.state().requests.is_empty());
}

#[test]
fn log_format_json_writes_one_object_per_line_with_the_snapshot_and_storage() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    env.write_config(&vault, json!({"log_format": "json"}));
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 0);
    let lines: Vec<serde_json::Value> = outcome
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    for line in &lines {
        assert!(
            line["time"].as_str().is_some_and(|t| t.ends_with('Z'))
                && line["level"].is_string()
                && line["message"].is_string(),
            "{line}"
        );
    }
    let snapshot = env.files().remove(0);
    let with = |start: &str| {
        lines
            .iter()
            .find(|l| l["message"].as_str().unwrap().starts_with(start))
            .unwrap_or_else(|| panic!("no {start:?} line in {lines:#?}"))
    };
    let verified = with("Verified snapshot");
    assert_eq!(verified["level"], "info");
    assert_eq!(verified["snapshot"], snapshot.as_str());
    let stored = with("Successfully created local snapshot");
    assert_eq!(stored["snapshot"], snapshot.as_str());
    assert_eq!(stored["storage"], "local-0");

    env.write_config(&vault, json!({"log_format": "yaml"}));
    let bad = env.run(&["once"]);
    assert_code(&bad, 2);
    assert_contains!(bad.stderr, "key \"log_format\"");
    assert_contains!(bad.stderr, "\"text\" or \"json\"");
}
