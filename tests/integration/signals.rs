//! SIGTERM and SIGINT end `run` within a second or two, with exit 0 and no temporary file,
//! whether the agent is idle or in the middle of a download.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::env::{TestEnv, assert_code, finish, list, valid_archive};
use crate::vault_stand_in::VaultStandIn;

fn wait_for(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop_idle_run_with(signal: i32) {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    env.write_config(&vault, json!({"frequency": "1h"}));
    let child = env.command(&["run"]).spawn().unwrap();
    wait_for("the first snapshot", Duration::from_secs(20), || {
        env.files().len() == 1
    });
    let sent = Instant::now();
    unsafe { libc::kill(child.id() as i32, signal) };
    let outcome = finish(child, Duration::from_secs(10));
    let took = sent.elapsed();
    assert_code(&outcome, 0);
    assert!(took < Duration::from_secs(3), "took {took:?} to stop");
    assert!(env.staging_is_empty());
}

#[test]
fn sigterm_stops_an_idle_run_at_once_with_exit_0() {
    stop_idle_run_with(libc::SIGTERM);
}

#[test]
fn sigint_stops_an_idle_run_at_once_with_exit_0() {
    stop_idle_run_with(libc::SIGINT);
}

#[test]
fn sigterm_during_a_download_removes_the_temporary_file() {
    let vault = VaultStandIn::start(valid_archive(400_000));
    {
        // 400 KB in 4 KiB chunks, 50 ms apart: about 5 s of streaming.
        let mut state = vault.state();
        state.chunk_size = 4096;
        state.chunk_delay = Duration::from_millis(50);
    }
    let env = TestEnv::new();
    env.write_config(&vault, json!({"frequency": "1h"}));
    let child = env.command(&["run"]).spawn().unwrap();
    wait_for("the download to start", Duration::from_secs(20), || {
        !list(&env.tmp).is_empty()
    });
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let outcome = finish(child, Duration::from_secs(10));
    let took = sent.elapsed();
    assert_code(&outcome, 0);
    assert!(took < Duration::from_secs(3), "took {took:?} to stop");
    assert!(
        env.staging_is_empty(),
        "temporary file left: {:?}",
        list(&env.tmp)
    );
    assert!(env.files().is_empty(), "an interrupted snapshot was stored");
}
