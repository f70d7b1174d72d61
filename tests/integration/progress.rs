//! Long transfers are not silent: `once` says where the snapshot comes from and goes to, then
//! logs the bytes and the rate every 10 s while it downloads.

use std::time::Duration;

use serde_json::json;

use crate::env::{TestEnv, assert_code, valid_archive};
use crate::vault_stand_in::VaultStandIn;

#[test]
fn a_slow_download_logs_where_from_where_to_and_its_progress() {
    let vault = VaultStandIn::start(valid_archive(6 << 20));
    {
        let mut state = vault.state();
        state.chunk_size = 64 * 1024;
        state.chunk_delay = Duration::from_millis(120);
    }
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 0);
    let first = format!(
        "Transferring the snapshot from {}/v1/sys/storage/raft/snapshot to {}/.vault-raft-snapshot-",
        vault.url(),
        env.tmp.display()
    );
    assert_contains!(outcome.stderr, first);
    let periodic: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|l| l.contains("so far, ") && l.ends_with("/s"))
        .collect();
    assert!(
        !periodic.is_empty() && periodic.len() <= 3,
        "expected one or two progress lines in a ~12 s download:\n{}",
        outcome.stderr
    );
}

/// `fetch` with stderr on a pseudo-terminal (`script`), as an operator at a shell has it.
fn fetch_on_a_terminal(env: &TestEnv, target: &std::path::Path) -> String {
    let config = env.config_path();
    let line = format!(
        "{} --config {} fetch -o {}",
        crate::env::BIN,
        config.display(),
        target.display()
    );
    let output = std::process::Command::new("script")
        .args(["-qefc", &line, "/dev/null"])
        .env_remove("RUST_LOG")
        .output()
        .expect("script (util-linux) runs the command on a pseudo-terminal");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn fetch_draws_a_bar_on_a_terminal_and_logs_a_line_elsewhere() {
    let vault = VaultStandIn::start(valid_archive(3 << 20));
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    assert_code(&env.run(&["once"]), 0);
    let name = env.files().remove(0);
    let out = tempfile::tempdir().unwrap();

    // Not a terminal: one line saying from where to where, and no bar.
    let logged = out.path().join("logged");
    let outcome = env.run(&["fetch", "-o", logged.to_str().unwrap()]);
    assert_code(&outcome, 0);
    assert_contains!(
        outcome.stderr,
        format!(
            "Transferring {} to {}/",
            env.snaps.join(&name).display(),
            out.path().display()
        )
    );
    assert_not_contains!(outcome.stderr, "[====");

    // A terminal: the bar with bytes, rate and time left, cleared when done; no log line
    // about the transfer.
    let drawn = out.path().join("drawn");
    let screen = fetch_on_a_terminal(&env, &drawn);
    assert_contains!(screen, "MiB/");
    assert_contains!(screen, " left");
    assert_not_contains!(screen, "Transferring");
    assert_eq!(
        std::fs::read(&drawn).unwrap(),
        std::fs::read(&logged).unwrap()
    );
}

#[test]
fn an_upload_in_parts_says_from_where_to_where() {
    use crate::conformance::{BUCKET, Fixture, S3_ENDPOINT, S3Fixture};
    let Some(s3) = S3Fixture::new() else { return };
    let vault = VaultStandIn::start(valid_archive(10 << 20));
    let env = TestEnv::new();
    env.write_config(
        &vault,
        json!({"aws_storage": {"access_key_id": "a", "secret_access_key": "b",
                               "s3_endpoint": S3_ENDPOINT, "s3_force_path_style": true,
                               "s3_bucket": BUCKET, "s3_key_prefix": s3.prefix()}}),
    );
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 0);
    let upload = outcome
        .stderr
        .lines()
        .find(|l| l.contains("Transferring") && l.contains(" to s3://"))
        .unwrap_or_else(|| panic!("no upload line:\n{}", outcome.stderr));
    assert_contains!(
        upload,
        format!("{}/.vault-raft-snapshot-", env.tmp.display())
    );
    assert_contains!(
        upload,
        format!("s3://{BUCKET}/{}/raft_snapshot-", s3.prefix())
    );
}
