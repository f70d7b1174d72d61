//! `status` shows why (issue 18): the last cycle's error and each failed storage's error are
//! carried in the metrics file, bounded, printable and without credentials, shown by
//! `status` as `last error: <reason>`, and dropped by the next success.

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use crate::conformance::{BUCKET, Fixture, S3Fixture};
use crate::env::{LiveRun, TestEnv, assert_code, valid_archive};
use crate::fault_proxy::{Action, FaultProxy};
use crate::http_stub::{HttpStub, Response};
use crate::vault_stand_in::{Mode, VaultStandIn};

/// The info-style series that carry the reasons.
const AGENT_INFO: &str = "vault_raft_snapshot_last_error_info{";
const STORAGE_INFO: &str = "vault_raft_snapshot_storage_last_error_info{";

/// The `last error:` lines `status` printed.
fn error_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("last error:"))
        .collect()
}

/// A sealed Vault, then a storage that refuses the snapshot, then a cycle that works: `status`
/// shows each failure's reason and exits 1, then shows none and exits 0.
#[test]
fn status_shows_why_the_last_cycle_and_a_storage_failed_until_a_success() {
    let Some(s3) = S3Fixture::new() else {
        return;
    };
    // S3 behind a proxy that refuses everything while `deny` is set.
    let deny = Arc::new(AtomicBool::new(false));
    let denied = Arc::clone(&deny);
    let proxy = FaultProxy::start("127.0.0.1:5055", move |_| {
        if denied.load(Ordering::SeqCst) {
            Action::Fail(403)
        } else {
            Action::Forward
        }
    });
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let metrics = env.root.path().join("vault_raft_snapshot.prom");
    let s3_location = format!("s3://{BUCKET}/{}", s3.prefix());
    env.write_config(
        &vault,
        json!({"metrics_file": metrics, "frequency": "1h",
               "aws_storage": {"access_key_id": "test-access-key",
                               "secret_access_key": "test-secret-key",
                               "s3_endpoint": proxy.url(), "s3_force_path_style": true,
                               "s3_region": "us-east-1", "s3_bucket": BUCKET,
                               "s3_key_prefix": s3.prefix()}}),
    );

    // 1. Sealed: the cycle fails before any storage; status says why.
    vault.state().mode = Mode::Sealed;
    let sealed = env.run(&["once"]);
    assert_code(&sealed, 1);
    let status = env.run(&["status"]);
    assert_code(&status, 1);
    let lines = error_lines(&status.stdout);
    assert_eq!(lines.len(), 1, "{}", status.stdout);
    assert!(
        lines[0].starts_with("last error:           ")
            && lines[0].contains("/v1/sys/leader")
            && lines[0].ends_with("Vault is sealed"),
        "{}",
        status.stdout
    );
    // The reason is what the log said.
    let reason = lines[0].trim_start_matches("last error:").trim();
    assert_contains!(sealed.stderr, reason);
    let text = fs::read_to_string(&metrics).unwrap();
    assert_contains!(text, format!("{AGENT_INFO}reason=\"{reason}\"}} 1\n"));

    // 2. Unsealed, S3 refuses: the local copy is stored, the cycle failed because of S3.
    vault.state().mode = Mode::Leader;
    deny.store(true, Ordering::SeqCst);
    let refused = env.run(&["once"]);
    assert_code(&refused, 1);
    let status = env.run(&["status"]);
    assert_code(&status, 1);
    let lines = error_lines(&status.stdout);
    assert_eq!(lines.len(), 2, "{}", status.stdout);
    assert_contains!(
        lines[0],
        format!("was not stored or pruned in 1 of 2 storage(s): aws {s3_location}")
    );
    assert_not_contains!(lines[0], "Vault is sealed");
    // The storage's own error, under that storage and no other.
    let (local, aws) = status
        .stdout
        .split_once("storage aws-0 (")
        .unwrap_or_else(|| panic!("no aws storage after the local one:\n{}", status.stdout));
    assert_not_contains!(local, "  last error:");
    assert_contains!(aws, "  last result:  FAILED");
    assert!(
        lines[1].starts_with("  last error:   ")
            && lines[1].contains(&format!("aws {s3_location}"))
            && lines[1].contains("403"),
        "{}",
        status.stdout
    );
    let text = fs::read_to_string(&metrics).unwrap();
    assert_eq!(text.matches(STORAGE_INFO).count(), 1, "{text}");
    assert_contains!(text, format!("{STORAGE_INFO}storage=\"aws-0\""));

    // 3. Everything works: the reasons are gone from the file and from status.
    deny.store(false, Ordering::SeqCst);
    assert_code(&env.run(&["once"]), 0);
    let status = env.run(&["status"]);
    assert_code(&status, 0);
    assert!(error_lines(&status.stdout).is_empty(), "{}", status.stdout);
    let text = fs::read_to_string(&metrics).unwrap();
    assert_not_contains!(text, "last_error_info");
}

/// A server's error text with control characters, quotes and a thousand characters: the
/// metrics file stays one valid sample per line, the reason is cut to 200 characters with an
/// ellipsis, and `status` prints it escaped.
#[test]
fn a_hostile_error_text_is_stored_bounded_and_printed_escaped() {
    let hostile = format!(
        "boom\n[INFO] forged line \"quoted\" \\ \u{1b}[2J\u{202e} {}",
        "x".repeat(1000)
    );
    let vault = HttpStub::start(move |_| Response::json(500, &json!({"errors": [hostile]})));
    let env = TestEnv::new();
    let metrics = env.root.path().join("vault_raft_snapshot.prom");
    env.write_config_json(&json!({
        "addr": vault.url(), "role_id": "r", "secret_id": "s",
        "local_storage": {"path": env.snaps}, "temp_dir": env.tmp,
        "metrics_file": metrics,
    }));
    assert_code(&env.run(&["once"]), 1);

    let text = fs::read_to_string(&metrics).unwrap();
    let info: Vec<&str> = text.lines().filter(|l| l.starts_with(AGENT_INFO)).collect();
    assert_eq!(info.len(), 1, "{text}");
    assert!(info[0].ends_with("…\"} 1"), "{}", info[0]);
    assert_contains!(
        info[0],
        "boom; [INFO] forged line \\\"quoted\\\" \\\\ \\\\x1b[2J\\\\u{202e} x"
    );
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.starts_with("vault_raft_snapshot_"), "{line:?}");
        assert!(!line.chars().any(char::is_control), "{line:?}");
    }

    let status = env.run(&["status"]);
    assert_code(&status, 1);
    assert!(!status.stdout.contains('\u{1b}'), "{}", status.stdout);
    assert!(!status.stdout.contains('\u{202e}'), "{}", status.stdout);
    assert_not_contains!(status.stdout, "\n[INFO] forged");
    let lines = error_lines(&status.stdout);
    assert_eq!(lines.len(), 1, "{}", status.stdout);
    let reason = lines[0].trim_start_matches("last error:").trim_start();
    assert_eq!(reason.chars().count(), 200, "{reason}");
    assert!(reason.ends_with("x…"), "{reason}");
    assert_contains!(
        reason,
        "boom; [INFO] forged line \"quoted\" \\ \\x1b[2J\\u{202e} x"
    );
}

/// What the binary pushes: the reason while the last cycle failed, then an empty reason of
/// value 0 that replaces it (a POST replaces only the families it sends).
#[test]
fn the_push_carries_the_reason_and_a_success_replaces_it() {
    let gateway = HttpStub::start(|_| Response::new(200));
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    env.write_config(&vault, json!({"metrics_push_url": gateway.url()}));
    vault.state().mode = Mode::Sealed;
    assert_code(&env.run(&["once"]), 1);
    vault.state().mode = Mode::Leader;
    assert_code(&env.run(&["once"]), 0);
    let bodies: Vec<String> = gateway.requests().iter().map(|r| r.body_text()).collect();
    let [failed, succeeded] = &bodies[..] else {
        panic!("{bodies:?}")
    };
    let reason = failed
        .lines()
        .find(|l| l.starts_with(AGENT_INFO))
        .unwrap_or_else(|| panic!("{failed}"));
    assert!(reason.ends_with("Vault is sealed\"} 1"), "{reason}");
    assert_contains!(succeeded, format!("\n{AGENT_INFO}reason=\"\"}} 0\n"));
    assert_contains!(
        succeeded,
        format!(
            "\n{STORAGE_INFO}storage=\"local-0\",kind=\"local\",location=\"{}\",reason=\"\"}} 0\n",
            env.snaps.display()
        )
    );
    assert_not_contains!(succeeded, "sealed");
}

/// The real Pushgateway (127.0.0.1:9091, when it runs): after the push of a success, the
/// reasons pushed before are gone from the group. A group of its own, so that no other test's
/// push interferes.
#[test]
fn the_pushgateway_forgets_a_reason_after_a_success_is_pushed() {
    use vault_raft_snapshot::metrics::{Metrics, StorageId};
    const PUSHGATEWAY: &str = "http://127.0.0.1:9091";
    if !crate::conformance::server_up("the Pushgateway", "127.0.0.1:9091") {
        return;
    }
    let instance = format!("edge-status-{}", std::process::id());
    let group = vault_raft_snapshot::metrics::push_url(PUSHGATEWAY, &instance);
    let ours = || -> Vec<String> {
        let text = ureq::get(&format!("{PUSHGATEWAY}/metrics"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        text.lines()
            .filter(|l| l.contains("_last_error_info{") && l.contains(&instance))
            .map(str::to_string)
            .collect()
    };
    let mut metrics = Metrics::default();
    metrics.agent.last_cycle_timestamp = 1_795_405_200.0;
    metrics.agent.last_error_reason = Some("Vault is \"sealed\"".into());
    let s = metrics.storage(&StorageId::new("nas", "local", "/mnt/nas"));
    s.last_error = true;
    s.last_error_reason = Some("disk full".into());
    metrics.push(PUSHGATEWAY, &instance).unwrap();
    let failed = ours();
    assert!(
        failed.iter().any(|l| l.starts_with(AGENT_INFO)
            && l.contains(r#"reason="Vault is \"sealed\"""#)
            && l.ends_with(" 1")),
        "{failed:?}"
    );
    assert!(
        failed.iter().any(|l| l.starts_with(STORAGE_INFO)
            && l.contains("reason=\"disk full\"")
            && l.ends_with(" 1")),
        "{failed:?}"
    );

    metrics.agent.last_error_reason = None;
    metrics.storages[0].last_error = false;
    metrics.storages[0].last_error_reason = None;
    metrics.push(PUSHGATEWAY, &instance).unwrap();
    let succeeded = ours();
    ureq::delete(&group).call().unwrap();
    assert!(
        succeeded
            .iter()
            .all(|l| l.ends_with(" 0") && !l.contains("sealed") && !l.contains("disk full")),
        "{succeeded:?}"
    );
    assert_eq!(succeeded.len(), 2, "{succeeded:?}");
}

/// A SIGTERM in the middle of a download is a stop, not a failure: the cycle's count and the
/// last reason stay as they were; nothing says "interrupted".
#[test]
fn a_stop_leaves_the_last_reason_as_it_was() {
    use std::time::Duration;
    use vault_raft_snapshot::metrics::Metrics;
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let metrics = env.root.path().join("vault_raft_snapshot.prom");
    env.write_config(&vault, json!({"metrics_file": metrics, "frequency": "1h"}));
    vault.state().mode = Mode::Sealed;
    assert_code(&env.run(&["once"]), 1);
    let sealed = Metrics::load(&metrics).unwrap();
    let reason = sealed.agent.last_error_reason.clone().unwrap();
    assert!(reason.ends_with("Vault is sealed"), "{reason}");

    {
        let mut state = vault.state();
        state.mode = Mode::Leader;
        state.snapshot = Arc::new(valid_archive(400_000));
        state.chunk_size = 4096;
        state.chunk_delay = Duration::from_millis(50);
    }
    let once = LiveRun::start(env.command(&["once"]));
    once.wait_for(0, &["Transferring the snapshot"], Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    let stopped = once.stop();
    let after = Metrics::load(&metrics).unwrap();
    assert!(
        after.agent.last_cycle_timestamp > sealed.agent.last_cycle_timestamp,
        "the stopped cycle was not recorded:\n{}",
        stopped.stderr
    );
    assert_eq!(after.agent.consecutive_failures, 1, "{}", stopped.stderr);
    assert_eq!(
        after.agent.last_error_reason.as_deref(),
        Some(reason.as_str())
    );
    let status = env.run(&["status"]);
    assert_not_contains!(status.stdout, "interrupted");
    assert_eq!(
        error_lines(&status.stdout),
        [format!("last error:           {reason}")]
    );
}
