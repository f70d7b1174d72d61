//! `metrics_push_url`: after every cycle the metrics go to a real Prometheus Pushgateway
//! (Debian's prometheus-pushgateway on 127.0.0.1:9091, started by contrib/test-servers.sh),
//! so a CronJob's result outlives its pod. A failed push is a warning, not a failed cycle.
//! Values a process does not know (0: no success yet in this pod) are not pushed, and the push
//! is a POST, so the Pushgateway keeps what an earlier run pushed for them.

use serde_json::json;

use crate::env::{TestEnv, assert_code, valid_archive};
use crate::vault_stand_in::{Mode, VaultStandIn};

const PUSHGATEWAY: &str = "http://127.0.0.1:9091";

fn pushgateway_up() -> bool {
    crate::conformance::server_up("the Pushgateway", "127.0.0.1:9091")
}

fn group_url() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    vault_raft_snapshot::metrics::push_url(PUSHGATEWAY, &host)
}

/// The Pushgateway's lines of this agent's group: every line that carries our job and this
/// host's instance label, as the Pushgateway shows it (labels sorted by name).
fn pushed_lines() -> Vec<String> {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let text = ureq::get(&format!("{PUSHGATEWAY}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with("vault_raft_snapshot_")
                && l.contains("job=\"vault_raft_snapshot\"")
                && l.contains(&format!("instance=\"{host}\""))
        })
        .map(str::to_string)
        .collect()
}

/// [`pushed_lines`] as `name value`.
fn pushed() -> Vec<String> {
    pushed_lines()
        .iter()
        .map(|l| {
            let (name, rest) = l.split_once('{').unwrap();
            let value = rest.rsplit_once("} ").unwrap().1;
            format!("{name} {value}")
        })
        .collect()
}

#[test]
fn every_cycle_pushes_its_metrics_and_a_failed_push_is_only_a_warning() {
    if !pushgateway_up() {
        return;
    }
    // Start from an empty group: what is there afterwards was pushed by this test.
    ureq::delete(&group_url()).call().unwrap();
    assert!(pushed().is_empty());

    // The archive's gzip carries the time, so its length is taken from the one served.
    let archive = valid_archive(5000);
    let vault = VaultStandIn::start(archive.clone());
    let env = TestEnv::new();
    env.write_config(&vault, json!({"metrics_push_url": PUSHGATEWAY}));
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 0);
    let samples = pushed();
    for sample in [
        "vault_raft_snapshot_leader 1",
        "vault_raft_snapshot_consecutive_failures 0",
        "vault_raft_snapshot_raft_index 1234",
        &format!("vault_raft_snapshot_snapshot_bytes {}", archive.len()),
    ] {
        assert!(
            samples.iter().any(|s| s == sample),
            "no {sample:?} in {samples:#?}"
        );
    }

    let success = |samples: &[String]| {
        samples
            .iter()
            .find(|s| s.starts_with("vault_raft_snapshot_last_success_timestamp_seconds "))
            .cloned()
    };
    // A storage's series: its name in `storage`, its kind and location labels of their own.
    let snapshots = pushed_lines()
        .into_iter()
        .find(|l| l.starts_with("vault_raft_snapshot_storage_snapshots{"))
        .expect("a storage_snapshots sample");
    assert!(
        snapshots.contains("kind=\"local\"")
            && snapshots.contains(&format!("location=\"{}\"", env.snaps.display()))
            && snapshots.contains("storage=\"local-0\"")
            && snapshots.ends_with("} 1"),
        "{snapshots}"
    );
    let first_success = success(&samples).expect("a last success time");
    assert!(!first_success.ends_with(" 0"), "{first_success}");

    // A failed cycle is pushed too: that is what the alert needs to see. The failing process
    // (a new CronJob pod, no metrics file) knows no last success; the Pushgateway keeps the
    // one pushed before, so "no success for 2 hours" does not fire on the first failure.
    vault.state().mode = Mode::Sealed;
    assert_code(&env.run(&["once"]), 1);
    let samples = pushed();
    assert!(
        samples
            .iter()
            .any(|s| s == "vault_raft_snapshot_consecutive_failures 1"),
        "{samples:#?}"
    );
    assert_eq!(success(&samples), Some(first_success), "{samples:#?}");
    assert!(
        samples
            .iter()
            .any(|s| s == "vault_raft_snapshot_raft_index 1234"),
        "{samples:#?}"
    );

    // No Pushgateway there: the snapshot is still stored and the exit status is 0.
    vault.state().mode = Mode::Leader;
    env.write_config(&vault, json!({"metrics_push_url": "http://127.0.0.1:9"}));
    let unpushed = env.run(&["once"]);
    assert_code(&unpushed, 0);
    assert!(
        unpushed.stderr.contains("WARN")
            && unpushed.stderr.contains(
                "cannot push the metrics to http://127.0.0.1:9/metrics/job/vault_raft_snapshot/instance/"
            ),
        "{}",
        unpushed.stderr
    );
    assert_eq!(env.files().len(), 2);
}

#[test]
fn a_push_url_with_credentials_or_not_http_is_a_config_error() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    for (url, expected) in [
        (
            "http://user:pa55@pg:9091",
            "credentials in the URL are not supported",
        ),
        ("pushgateway:9091", "invalid URL"),
    ] {
        env.write_config(&vault, json!({"metrics_push_url": url}));
        let outcome = env.run(&["once"]);
        assert_code(&outcome, 2);
        assert!(
            outcome.stderr.contains("key \"metrics_push_url\"")
                && outcome.stderr.contains(expected),
            "{}",
            outcome.stderr
        );
        assert!(!outcome.stderr.contains("pa55"), "{}", outcome.stderr);
    }
}
