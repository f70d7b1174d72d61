//! `addr` listing several nodes, against a real OpenBao 3-node Raft cluster
//! (`tests/support/openbao.rs`): the agent asks each node in turn who leads and talks to the
//! active one, at every cycle; a dead node in the list is passed over; when none answers, the
//! error names every node tried.

use std::time::Duration;

use serde_json::{Value, json};

use crate::env::{LiveRun, TestEnv, assert_code};
use crate::openbao::Cluster;
use vault_raft_snapshot::cycle::NOT_LEADER_MESSAGE;

/// An agent with `addr` listing `nodes`, storing into its own directory.
fn agent_of(nodes: &[String], auth: &Value) -> TestEnv {
    crate::openbao_cluster::agent_of(nodes, auth.clone())
}

fn approle(cluster: &Cluster) -> Value {
    let (role_id, secret_id) = cluster.approle("multi", &["snapshot"], "1h", "1h");
    json!({"role_id": role_id, "secret_id": secret_id})
}

/// The nodes' URLs with the active node last, so that finding it takes asking the others.
fn leader_last(cluster: &Cluster) -> Vec<String> {
    let leader = cluster.leader();
    let mut nodes: Vec<String> = (0..cluster.nodes.len())
        .filter(|&i| i != leader)
        .map(|i| cluster.nodes[i].addr())
        .collect();
    nodes.push(cluster.nodes[leader].addr());
    nodes
}

#[test]
fn a_list_of_nodes_snapshots_through_the_active_one_and_follows_a_new_leader() {
    let Some(cluster) = Cluster::start(3) else {
        return;
    };
    let auth = approle(&cluster);
    let nodes = leader_last(&cluster);
    let leader_addr = nodes[2].clone();
    let env = agent_of(&nodes, &auth);

    // `once`, with the default leader_check (auto): through the active node, last in the list.
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 0);
    assert_not_contains!(outcome.stderr, NOT_LEADER_MESSAGE);
    assert_contains!(
        outcome.stderr,
        &format!("Talking to {leader_addr}, the active node")
    );
    assert_eq!(env.files().len(), 1, "{}", outcome.stderr);
    let verified =
        TestEnv::new().run(&["verify", env.snaps.join(&env.files()[0]).to_str().unwrap()]);
    assert_code(&verified, 0);

    // `check` shows the list.
    let check = env.run(&["check"]);
    assert_code(&check, 0);
    assert_contains!(check.stdout, &nodes.join(", "));

    // `run`: the leader steps down; a later cycle talks to the new one and stores again.
    let run = LiveRun::start(env.command(&["run"]));
    let mut at = run.wait_for(0, &["Successfully created"], Duration::from_secs(60));
    let new_leader = cluster.step_down();
    let new_addr = cluster.nodes[new_leader].addr();
    assert_ne!(new_addr, leader_addr);
    at = run.wait_for(
        at,
        &[&format!("Talking to {new_addr}, the active node")],
        Duration::from_secs(60),
    );
    run.wait_for(at, &["Successfully created"], Duration::from_secs(60));
    let outcome = run.stop();
    assert_code(&outcome, 0);
    assert!(
        env.files().len() >= 3,
        "{:?}\n{}",
        env.files(),
        outcome.stderr
    );
}

#[test]
fn a_dead_node_in_the_list_is_passed_over_and_no_answer_names_every_node() {
    let Some(mut cluster) = Cluster::start(3) else {
        return;
    };
    let auth = approle(&cluster);
    let leader = cluster.leader();
    let standby = (0..3).find(|&i| i != leader).unwrap();
    let dead = cluster.nodes[standby].addr();
    cluster.stop_node(standby);
    let mut nodes = vec![dead.clone()];
    nodes.extend(
        (0..3)
            .filter(|&i| i != standby)
            .map(|i| cluster.nodes[i].addr()),
    );
    for check in ["auto", "is_self", "none"] {
        let mut keys = auth.clone();
        keys["leader_check"] = json!(check);
        let env = agent_of(&nodes, &keys);
        let outcome = env.run(&["once"]);
        assert_code(&outcome, 0);
        assert_eq!(env.files().len(), 1, "{check}: {}", outcome.stderr);
    }

    // No node answers: exit 1, every URL tried named.
    let closed = "http://127.0.0.1:1".to_string();
    let env = agent_of(&[dead.clone(), closed.clone()], &auth);
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 1);
    assert_contains!(outcome.stderr, "no node of addr answered who leads");
    assert_contains!(outcome.stderr, &format!("{dead}: cannot reach Vault"));
    assert_contains!(outcome.stderr, &format!("{closed}: cannot reach Vault"));
    assert!(env.files().is_empty());
}
