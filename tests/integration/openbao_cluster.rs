//! The agent against a real OpenBao 3-node Raft cluster on 127.0.0.1
//! (`tests/support/openbao.rs`): leadership, token lifetimes, sealed nodes and policies as a
//! real server enforces them.

use std::fs;
use std::time::Duration;

use serde_json::{Value, json};

use crate::env::{Outcome, TestEnv, assert_code, finish};
use crate::openbao::Cluster;
use vault_raft_snapshot::cycle::NOT_LEADER_MESSAGE;

/// An agent of `addr` (one node's URL, or a list of them) storing into its own local
/// directory, with `auth` keys.
pub(crate) fn agent_of(addr: &(impl serde::Serialize + ?Sized), auth: Value) -> TestEnv {
    let env = TestEnv::new();
    let mut config = json!({
        "addr": addr,
        "local_storage": {"path": env.snaps},
        "temp_dir": env.tmp,
        "frequency": "1s",
        "retain": 1000,
    });
    for (k, v) in auth.as_object().unwrap() {
        config[k] = v.clone();
    }
    env.write_config_json(&config);
    env
}

fn approle_auth(cluster: &Cluster, name: &str, ttl: &str, max_ttl: &str) -> Value {
    let (role_id, secret_id) = cluster.approle(name, &["snapshot"], ttl, max_ttl);
    json!({"role_id": role_id, "secret_id": secret_id})
}

/// Runs `once` on the agent of every node; returns the outcomes.
fn once_everywhere(agents: &[TestEnv]) -> Vec<Outcome> {
    agents.iter().map(|a| a.run(&["once"])).collect()
}

fn assert_only_leader_stored(
    outcomes: &[Outcome],
    agents: &[TestEnv],
    leader: usize,
    stored: usize,
) {
    for (i, (outcome, agent)) in outcomes.iter().zip(agents).enumerate() {
        assert_code(outcome, 0);
        if i == leader {
            assert_not_contains!(outcome.stderr, NOT_LEADER_MESSAGE);
            assert_eq!(
                agent.files().len(),
                stored,
                "leader {i}: {}",
                outcome.stderr
            );
        } else {
            assert_contains!(outcome.stderr, NOT_LEADER_MESSAGE, "node {i}");
            assert_eq!(agent.files().len(), 0, "standby {i} stored a snapshot");
        }
    }
}

#[test]
fn only_the_leader_stores_a_new_leader_takes_over_and_a_sealed_node_refuses() {
    let Some(mut cluster) = Cluster::start(3) else {
        return;
    };
    let auth = approle_auth(&cluster, "agent", "1h", "1h");
    let agents: Vec<TestEnv> = cluster
        .nodes
        .iter()
        .map(|n| agent_of(&n.addr(), auth.clone()))
        .collect();

    let leader = cluster.leader();
    let outcomes = once_everywhere(&agents);
    assert_only_leader_stored(&outcomes, &agents, leader, 1);
    let snapshot = agents[leader].snaps.join(&agents[leader].files()[0]);
    let verified = crate::env::TestEnv::new().run(&["verify", snapshot.to_str().unwrap()]);
    assert_code(&verified, 0);

    // Leadership moves: the new leader's agent takes over on its next cycle.
    let new_leader = cluster.step_down();
    assert_ne!(new_leader, leader);
    for agent in &agents {
        for file in agent.files() {
            fs::remove_file(agent.snaps.join(file)).unwrap();
        }
    }
    let outcomes = once_everywhere(&agents);
    assert_only_leader_stored(&outcomes, &agents, new_leader, 1);

    // A restarted node comes back sealed: its agent says so, exits 1 and stores nothing.
    let standby = (0..3).find(|&i| i != new_leader).unwrap();
    cluster.stop_node(standby);
    cluster.restart_node(standby);
    let before = agents[standby].files().len();
    let sealed = agents[standby].run(&["once"]);
    assert_code(&sealed, 1);
    assert_contains!(sealed.stderr, "sealed");
    assert_contains!(sealed.stderr, "503");
    assert_eq!(agents[standby].files().len(), before);
    assert!(agents[standby].staging_is_empty());
}

#[test]
fn run_keeps_storing_while_short_lived_tokens_expire() {
    let Some(cluster) = Cluster::start(1) else {
        return;
    };
    // Tokens live 2 s and can be renewed for 4 s at most: over 9 s the agent has to renew
    // and to log in again several times.
    let agent = agent_of(
        &cluster.nodes[0].addr(),
        approle_auth(&cluster, "short", "2s", "4s"),
    );
    let mut child = agent.command(&["run"]).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(9));
    // SAFETY: SIGTERM to the agent we started, by its own PID.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let _ = child.try_wait();
    let outcome = finish(child, Duration::from_secs(30));
    assert_code(&outcome, 0);
    let stored = agent.files().len();
    let cycles = outcome.stderr.matches("Verified snapshot").count();
    assert!(
        stored >= 6,
        "only {stored} snapshots in 9 s:\n{}",
        outcome.stderr
    );
    assert_eq!(stored, cycles, "{}", outcome.stderr);
    assert_not_contains!(outcome.stderr, "ERROR");
}

#[test]
fn a_token_file_works_and_a_token_without_the_policy_gets_a_clear_403() {
    let Some(cluster) = Cluster::start(1) else {
        return;
    };
    let addr = cluster.nodes[0].addr();
    let dir = tempfile::tempdir().unwrap();
    let write_token = |name: &str, token: &str| {
        let path = dir.path().join(name);
        fs::write(&path, format!("{token}\n")).unwrap();
        path
    };
    let good = write_token("good", &cluster.token(&["snapshot"], Some("1h")));
    let agent = agent_of(&addr, json!({"token_path": good}));
    // `check --connect` against the real server: every step passes, nothing is stored.
    let checked = agent.run(&["check", "--connect"]);
    assert_code(&checked, 0);
    for line in [
        "ok    vault sys/leader:",
        "ok    vault sys/seal-status: unsealed",
        "storage raft",
        "ok    vault login: token file",
        "policies [default, snapshot]",
        "ok    vault policy: the token may read sys/storage/raft/snapshot",
        "ok    storage local-0",
    ] {
        assert_contains!(checked.stdout, line);
    }
    assert!(agent.files().is_empty());
    let outcome = agent.run(&["once"]);
    assert_code(&outcome, 0);
    assert_eq!(agent.files().len(), 1, "{}", outcome.stderr);

    let weak = write_token("weak", &cluster.token(&["default"], Some("1h")));
    let agent = agent_of(&addr, json!({"token_path": weak}));
    // check --connect finds the missing policy without asking for a snapshot.
    let checked = agent.run(&["check", "--connect"]);
    assert_code(&checked, 1);
    assert_contains!(
        checked.stdout,
        "FAIL  vault policy: the token may not read sys/storage/raft/snapshot"
    );
    let outcome = agent.run(&["once"]);
    assert_code(&outcome, 1);
    assert_contains!(outcome.stderr, "403");
    assert_contains!(outcome.stderr, "permission denied");
    assert!(agent.files().is_empty());
    let token = fs::read_to_string(&weak).unwrap();
    assert_not_contains!(outcome.stderr, token.trim(), "the token was logged");
}

/// The policy README documents for the token that restores.
const RESTORE_POLICY: &str = r#"path "sys/storage/raft/snapshot" { capabilities = ["update"] }
path "sys/storage/raft/snapshot-force" { capabilities = ["update"] }"#;

fn restore_token(cluster: &Cluster) -> String {
    cluster.root(
        "PUT",
        "sys/policies/acl/restore",
        Some(json!({ "policy": RESTORE_POLICY })),
    );
    cluster.token(&["restore"], None)
}

fn restore(agent: &TestEnv, token: &str, args: &[&str]) -> Outcome {
    let mut command = agent.command(&["restore"]);
    command.args(args).env("VAULT_TOKEN", token);
    finish(command.spawn().unwrap(), Duration::from_secs(120))
}

#[test]
fn restore_latest_brings_back_the_snapshot_also_through_a_standby() {
    let Some(cluster) = Cluster::start(3) else {
        return;
    };
    let leader = cluster.leader();
    let auth = approle_auth(&cluster, "agent", "1h", "1h");
    let agent = agent_of(&cluster.nodes[leader].addr(), auth.clone());
    for i in 0..50 {
        cluster.put_secret(&format!("app/before-{i}"), "v1");
    }
    cluster.put_secret("app/changed", "old");
    assert_code(&agent.run(&["once"]), 0);
    cluster.put_secret("app/after", "new");
    cluster.put_secret("app/changed", "new");

    // inspect of the real snapshot counts the keys written before it.
    let stored = agent.snaps.join(&agent.files()[0]);
    let inspected = agent.run(&[
        "inspect",
        stored.to_str().unwrap(),
        "--json",
        "--depth",
        "1",
    ]);
    assert_code(&inspected, 0);
    let report: Value = serde_json::from_str(&inspected.stdout).unwrap();
    let logical = report["prefixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["prefix"] == "logical/")
        .expect("logical/ keys");
    assert!(logical["count"].as_u64().unwrap() >= 51, "{report}");
    assert_eq!(report["servers"].as_array().unwrap().len(), 3, "{report}");

    // The restore goes through a standby's address to the active node.
    let standby = (0..3).find(|&i| i != leader).unwrap();
    let mut config: Value =
        serde_json::from_str(&fs::read_to_string(agent.config_path()).unwrap()).unwrap();
    config["addr"] = json!(cluster.nodes[standby].addr());
    agent.write_config_json(&config);
    let token = restore_token(&cluster);

    let dry = restore(&agent, &token, &["latest"]);
    assert_code(&dry, 2);
    assert_eq!(cluster.secret("app/after").as_deref(), Some("new"));

    // The agent's own AppRole may only read snapshots.
    let forbidden = agent.run(&["restore", "latest", "--yes"]);
    assert_code(&forbidden, 1);
    assert_contains!(forbidden.stderr, "403");
    assert_contains!(forbidden.stderr, "may not restore");
    assert_eq!(cluster.secret("app/after").as_deref(), Some("new"));

    let restored = restore(&agent, &token, &["latest", "--yes"]);
    assert_code(&restored, 0);
    assert_contains!(restored.stderr, "is a standby");
    assert_contains!(restored.stdout, "is active and serving again");
    // The moment restore exits, the node serves the restored data: a read answers at once
    // (a node still applying the restore holds it for seconds) and the secret written after
    // the snapshot is gone.
    assert_eq!(
        cluster.secret_within("app/after", Duration::from_secs(2)),
        None
    );
    assert_eq!(cluster.secret("app/changed").as_deref(), Some("old"));
    assert_eq!(cluster.secret("app/before-49").as_deref(), Some("v1"));
    assert_not_contains!(restored.stdout, &token);
    assert_not_contains!(restored.stderr, &token);
}

#[test]
fn a_snapshot_of_another_cluster_is_refused_without_force_and_installed_with_it() {
    let (Some(mut target), Some(other)) = (Cluster::start(1), Cluster::start(1)) else {
        return;
    };
    other.put_secret("origin", "other");
    let taker = agent_of(
        &other.nodes[0].addr(),
        approle_auth(&other, "agent", "1h", "1h"),
    );
    assert_code(&taker.run(&["once"]), 0);
    let file = taker.snaps.join(&taker.files()[0]);
    let file = file.to_str().unwrap();

    target.put_secret("origin", "target");
    let agent = agent_of(
        &target.nodes[0].addr(),
        approle_auth(&target, "agent", "1h", "1h"),
    );
    let token = restore_token(&target);
    let refused = restore(&agent, &token, &[file, "--yes"]);
    assert_code(&refused, 1);
    assert_contains!(refused.stderr, "other unseal keys");
    assert_contains!(refused.stderr, "--force");
    assert_eq!(target.secret("origin").as_deref(), Some("target"));

    let forced = restore(&agent, &token, &[file, "--yes", "--force"]);
    assert_code(&forced, 0);
    // restore waited until the node had applied the snapshot: it is sealed when it exits.
    assert_contains!(forced.stdout, "sealed itself");
    assert_eq!(target.status(0, "sys/health"), 503);
    // The cluster now has the other cluster's keys and data.
    target.unseal_key = other.unseal_key.clone();
    target.root_token = other.root_token.clone();
    // It seals itself, and opens with the other cluster's unseal key.
    crate::openbao::wait_for("the node to seal", Duration::from_secs(60), || {
        (target.status(0, "sys/health") == 503).then_some(())
    });
    target.unseal(0);
    target.leader();
    assert_eq!(target.secret("origin").as_deref(), Some("other"));
}
