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
