//! Retention as the operator sees it: the newest `retain` stay, foreign files are never
//! touched, and `prune --dry-run` shows the plan and deletes nothing.

use std::time::{Duration, SystemTime};

use serde_json::json;
use vault_raft_snapshot::snapshot_name::SnapshotName;

use crate::env::{TestEnv, assert_code, valid_archive};
use crate::vault_stand_in::VaultStandIn;

const FOREIGN: [&str; 4] = [
    "notes.txt",
    "raft_snapshot-01.snap",
    "raft_snapshot-5.snap.bak",
    "other-cluster-raft_snapshot-7.snap",
];

/// Five snapshots, one to five hours old (as the original Go agent named them), and
/// foreign files. Returns the names, newest first.
fn populate(env: &TestEnv) -> Vec<String> {
    let now = SystemTime::now();
    let names: Vec<String> = (1..=5)
        .map(|hours| SnapshotName::at(now - Duration::from_secs(hours * 3600)).to_string())
        .collect();
    for name in &names {
        env.put(name, b"old snapshot (stand-in bytes)");
    }
    for foreign in FOREIGN {
        env.put(foreign, b"someone else's");
    }
    names
}

#[test]
fn once_keeps_the_newest_retain_and_never_touches_foreign_files() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let old = populate(&env);
    env.write_config(&vault, json!({"retain": 3}));

    let outcome = env.run(&["once"]);
    assert_code(&outcome, 0);
    let files = env.files();
    for foreign in FOREIGN {
        assert!(
            files.contains(&foreign.to_string()),
            "{foreign} was touched"
        );
    }
    let ours: Vec<&String> = files
        .iter()
        .filter(|f| SnapshotName::parse(f).is_some())
        .collect();
    assert_eq!(ours.len(), 3, "{files:?}");
    // The new one and the two newest old ones stay.
    assert!(
        files.contains(&old[0]) && files.contains(&old[1]),
        "{files:?}"
    );
    for gone in &old[2..] {
        assert!(!files.contains(gone), "{gone} should have been pruned");
        assert_contains!(outcome.stderr, format!("Deleted old snapshot {gone}"));
    }
}

#[test]
fn retain_zero_keeps_everything() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    populate(&env);
    env.write_config(&vault, json!({"retain": 0}));
    assert_code(&env.run(&["once"]), 0);
    assert_eq!(env.files().len(), 5 + 1 + FOREIGN.len());
}

#[test]
fn prune_dry_run_names_what_it_would_delete_and_deletes_nothing() {
    let vault = VaultStandIn::start(Vec::new());
    let env = TestEnv::new();
    let old = populate(&env);
    env.write_config(&vault, json!({"retain": 2}));
    let before = env.files();

    let outcome = env.run(&["prune", "--dry-run"]);
    assert_code(&outcome, 0);
    assert_eq!(env.files(), before, "dry run deleted something");
    for kept in &old[..2] {
        assert!(
            outcome
                .stdout
                .lines()
                .any(|l| l.contains("keep") && l.contains(kept)),
            "{}",
            outcome.stdout
        );
    }
    for doomed in &old[2..] {
        assert!(
            outcome
                .stdout
                .lines()
                .any(|l| l.contains("would delete") && l.contains(doomed)),
            "{}",
            outcome.stdout
        );
    }
    assert_contains!(
        outcome.stdout,
        "would delete 3 snapshot(s); dry run, nothing was deleted"
    );
    for foreign in FOREIGN {
        assert_not_contains!(outcome.stdout, foreign, "foreign file listed");
    }
    assert!(
        vault.state().requests.is_empty(),
        "prune must not need Vault"
    );

    let real = env.run(&["prune"]);
    assert_code(&real, 0);
    let after = env.files();
    assert!(after.contains(&old[0]) && after.contains(&old[1]));
    assert_eq!(after.len(), 2 + FOREIGN.len(), "{after:?}");
}
