//! Its worst day: each fault an operator can meet, as the real binary meets it (README,
//! "When things break"). Snapshot corruption has its own module (`faults`); signals theirs
//! (`signals`).

use std::fs;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::env::{LiveRun, TestEnv, assert_code, finish, list, valid_archive, wait_for};
use crate::fault_proxy::{Action, FaultProxy, Request};
use crate::http_stub::HttpStub;
use crate::vault_stand_in::{Mode, SnapshotFault, VaultStandIn};

#[test]
fn status_reads_only_the_metrics_file_and_refuses_one_that_is_not_ours() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let metrics = env.root.path().join("vault_raft_snapshot.prom");
    env.write_config(&vault, json!({"metrics_file": metrics}));
    assert_code(&env.run(&["once"]), 0);

    // What status does not use may be missing: the token sink, temp_dir, a secret file.
    env.write_config(
        &vault,
        json!({"metrics_file": metrics, "role_id": null, "secret_id": null,
               "token_path": "/nonexistent/agent-sink", "temp_dir": "/nonexistent/tmp",
               "aws_storage": {"s3_bucket": "b", "access_key_id": "file:///nonexistent/id",
                               "secret_access_key": "file:///nonexistent/secret"}}),
    );
    let status = env.run(&["status"]);
    assert_code(&status, 0);
    assert_contains!(status.stdout, "leader:               yes");
    // ... while once, which uses them, refuses the config.
    assert_code(&env.run(&["once"]), 2);

    for (text, reason) in [
        ("", "not a metrics file this agent wrote"),
        (
            "\u{0}\u{1}\u{2} garbage",
            "not a metrics file this agent wrote",
        ),
        (
            "vault_raft_snapshot_last_cycle_timestamp_seconds NaN\n",
            "\"NaN\"",
        ),
        (
            "vault_raft_snapshot_last_cycle_timestamp_seconds +Inf\n",
            "\"+Inf\"",
        ),
        (
            "vault_raft_snapshot_last_success_timestamp_seconds 1e300\nvault_raft_snapshot_last_cycle_timestamp_seconds 1\n",
            "\"1e300\"",
        ),
    ] {
        fs::write(&metrics, text).unwrap();
        let outcome = env.run(&["status"]);
        assert_code(&outcome, 1);
        assert_contains!(
            outcome.stderr,
            format!("metrics file {}", metrics.display()),
            "{text:?}"
        );
        assert_contains!(outcome.stderr, reason, "{text:?}");
    }
    // The largest value it accepts is shown, not a panic.
    fs::write(
        &metrics,
        "vault_raft_snapshot_last_cycle_timestamp_seconds 1e15\n",
    )
    .unwrap();
    let far = env.run(&["status"]);
    // Exit 1: the file records no success at all (STALE), not a panic.
    assert_code(&far, 1);
    assert_contains!(far.stdout, "STALE");
    assert_contains!(far.stdout, "last cycle:");
}

#[test]
fn prune_works_while_the_token_sink_is_absent() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    env.write_config(&vault, json!({"retain": 1}));
    assert_code(&env.run(&["once"]), 0);
    assert_code(&env.run(&["once"]), 0);
    assert_eq!(env.files().len(), 1);
    env.put("raft_snapshot-1700000000000000000.snap", &valid_archive(10));
    env.write_config(
        &vault,
        json!({"retain": 1, "role_id": null, "secret_id": null,
               "token_path": "/nonexistent/agent-sink", "temp_dir": "/nonexistent/tmp"}),
    );
    let dry = env.run(&["prune", "--dry-run"]);
    assert_code(&dry, 0);
    assert_contains!(dry.stdout, "would delete 1");
    assert_code(&env.run(&["prune"]), 0);
    assert_eq!(env.files().len(), 1);
}

#[test]
fn a_config_readable_by_all_with_secrets_is_a_warning_and_dev_zero_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    let config = env.config_path();
    fs::set_permissions(&config, fs::Permissions::from_mode(0o644)).unwrap();
    let open = env.run(&["once"]);
    assert_code(&open, 0);
    assert_contains!(open.stderr, "WARN");
    assert_contains!(
        open.stderr,
        format!(
            "{} is readable by all users and holds secrets (role_id, secret_id): chmod 600 {}",
            config.display(),
            config.display()
        )
    );
    assert_not_contains!(open.stderr, "test-secret-id");
    fs::set_permissions(&config, fs::Permissions::from_mode(0o600)).unwrap();
    let closed = env.run(&["once"]);
    assert_code(&closed, 0);
    assert_not_contains!(closed.stderr, "readable by all");

    let zero = env.run(&["once", "-c", "/dev/zero"]);
    assert_code(&zero, 2);
    assert_contains!(
        zero.stderr,
        "cannot read config file /dev/zero: it is larger than 1024 KiB"
    );
}

#[test]
fn a_failed_cycle_on_the_leader_keeps_leader_yes_and_a_stop_is_not_a_failure() {
    use vault_raft_snapshot::metrics::Metrics;
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let metrics = env.root.path().join("vault_raft_snapshot.prom");
    env.write_config(&vault, json!({"metrics_file": metrics, "frequency": "1h"}));

    // The leader check passed, then the snapshot was bad: still the leader.
    vault.state().fault = SnapshotFault::DropTrailer;
    assert_code(&env.run(&["once"]), 1);
    let failed = Metrics::load(&metrics).unwrap();
    assert!(failed.agent.leader, "{:?}", failed.agent);
    assert_eq!(failed.agent.consecutive_failures, 1);
    let status = env.run(&["status"]);
    assert_contains!(status.stdout, "leader:               yes");

    // A SIGTERM in the middle of a slow download ends the cycle; it is not counted.
    {
        let mut state = vault.state();
        state.fault = SnapshotFault::None;
        state.snapshot = Arc::new(valid_archive(400_000));
        state.chunk_size = 4096;
        state.chunk_delay = Duration::from_millis(50);
    }
    let run = LiveRun::start(env.command(&["run"]));
    wait_for("the download to start", Duration::from_secs(20), || {
        !list(&env.tmp).is_empty()
    });
    let stopped = run.stop();
    assert_code(&stopped, 0);
    let after = Metrics::load(&metrics).unwrap();
    assert_eq!(after.agent.consecutive_failures, 1, "{:?}", after.agent);
    assert_eq!(
        after.agent.last_success_timestamp,
        failed.agent.last_success_timestamp
    );
    assert!(after.agent.leader);
    assert!(env.staging_is_empty());
}

#[test]
fn kill_9_leaves_no_final_name_and_the_next_start_removes_its_leftovers() {
    let vault = VaultStandIn::start(valid_archive(400_000));
    {
        let mut state = vault.state();
        state.chunk_size = 4096;
        state.chunk_delay = Duration::from_millis(50);
    }
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    // Killed while downloading: its staging file stays, nothing under a final name.
    let mut child = env.command(&["once"]).spawn().unwrap();
    wait_for("the download to start", Duration::from_secs(20), || {
        !list(&env.tmp).is_empty()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let staging = list(&env.tmp);
    assert_eq!(staging.len(), 1, "{staging:?}");
    assert!(env.files().is_empty());

    // Killed while copying into the local storage (its name carries the dead PID), and a
    // copy of an agent that still runs (this test's PID): only the dead one's goes.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let dead_copy = format!(".raft_snapshot-1700000000000000000.snap.tmp-{dead}");
    let live_copy = format!(
        ".raft_snapshot-1700000000000000001.snap.tmp-{}",
        std::process::id()
    );
    env.put(&dead_copy, b"partial");
    env.put(&live_copy, b"partial");

    vault.state().chunk_delay = Duration::ZERO;
    let next = env.run(&["once"]);
    assert_code(&next, 0);
    assert_contains!(
        next.stderr,
        format!("Removed {}", env.tmp.join(&staging[0]).display())
    );
    assert_contains!(
        next.stderr,
        format!("Removed {}", env.snaps.join(&dead_copy).display())
    );
    assert!(env.staging_is_empty());
    let files = env.files();
    assert!(
        files.contains(&live_copy) && !files.contains(&dead_copy),
        "{files:?}"
    );
    let stored: Vec<&String> = files.iter().filter(|f| f.ends_with(".snap")).collect();
    assert_eq!(stored.len(), 1, "{files:?}");
    let verified = env.run(&["verify", env.snaps.join(stored[0]).to_str().unwrap()]);
    assert_code(&verified, 0);
}

#[test]
fn two_agents_started_at_once_with_one_config_take_one_snapshot() {
    let vault = VaultStandIn::start(valid_archive(200_000));
    {
        let mut state = vault.state();
        state.chunk_size = 4096;
        state.chunk_delay = Duration::from_millis(10);
    }
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    let first = env.command(&["once"]).spawn().unwrap();
    wait_for("the download to start", Duration::from_secs(20), || {
        !list(&env.tmp).is_empty()
    });
    let second = env.run(&["once"]);
    assert_code(&second, 0);
    assert_contains!(
        second.stderr,
        format!(
            "{} {}; exiting",
            vault_raft_snapshot::commands::ALREADY_RUNNING,
            env.config_path().display()
        )
    );
    let first = finish(first, Duration::from_secs(60));
    assert_code(&first, 0);
    assert_eq!(env.files().len(), 1);
    assert_eq!(vault.requests_to("/v1/sys/storage/raft/snapshot").len(), 1);
    // The lock went with the first process: no lock file, and the next run is not refused.
    assert_eq!(
        list(env.root.path()).len(),
        3,
        "{:?}",
        list(env.root.path())
    );
    let third = env.run(&["once"]);
    assert_code(&third, 0);
    assert_eq!(env.files().len(), 2);
}

/// A tmpfs of `size` mounted on `dir` for the life of the value (unmounted on drop).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Tmpfs {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mount a tmpfs on {} (needs root)",
            dir.display()
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_staging_filesystem_fails_the_cycle_naming_the_path_and_leaves_nothing() {
    let vault = VaultStandIn::start(valid_archive(3 * 1024 * 1024));
    let env = TestEnv::new();
    let full = env.root.path().join("small-tmp");
    fs::create_dir(&full).unwrap();
    let _tmpfs = Tmpfs::mount(&full, "2m");
    env.write_config(&vault, json!({"temp_dir": full}));
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 1);
    assert_contains!(outcome.stderr, &full.display().to_string());
    assert_contains!(outcome.stderr, "No space left on device");
    assert!(list(&full).is_empty(), "{:?}", list(&full));
    assert!(env.files().is_empty());
}

#[test]
fn run_survives_vault_and_storage_faults_and_recovers_from_each() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    env.write_config(&vault, json!({"frequency": "1s", "retain": 1000}));
    let limit = Duration::from_secs(20);
    let run = LiveRun::start(env.command(&["run"]));
    let ok = "Successfully created local snapshot";
    let mut at = run.wait_for(0, &[ok], limit);

    // Vault sealed, then failing with a 500: each cycle says so, the process goes on, and
    // the first cycle after Vault is back stores again.
    vault.state().mode = Mode::Sealed;
    at = run.wait_for(at, &["ERROR", "Vault is sealed"], limit);
    vault.state().mode = Mode::Leader;
    at = run.wait_for(at, &[ok], limit);
    vault.state().fault = SnapshotFault::ServerError;
    at = run.wait_for(at, &["ERROR", "stand-in failure"], limit);
    vault.state().fault = SnapshotFault::None;
    at = run.wait_for(at, &[ok], limit);

    // The token revoked between cycles: it logs in again and the cycle succeeds.
    let logins = vault.requests_to("/v1/auth/approle/login").len();
    vault.revoke_all_tokens();
    at = run.wait_for(at, &["Vault refused the token (403)"], limit);
    at = run.wait_for(at, &[ok], limit);
    assert!(vault.requests_to("/v1/auth/approle/login").len() > logins);

    // The storage directory removed (an unmounted backup disk): an error naming it, every
    // cycle, and it is never created again by the agent.
    let moved = env.root.path().join("snaps-away");
    fs::rename(&env.snaps, &moved).unwrap();
    let snaps = env.snaps.display().to_string();
    at = run.wait_for(
        at,
        &["ERROR", "storing the snapshot in local", &snaps],
        limit,
    );
    at = run.wait_for(
        at,
        &["ERROR", "storing the snapshot in local", &snaps],
        limit,
    );
    assert!(!env.snaps.exists(), "the agent created {snaps}");
    fs::rename(&moved, &env.snaps).unwrap();
    at = run.wait_for(at, &[ok], limit);

    // Made read-only (a read-only mount over it): the same, and back when it is writable.
    let readonly = Tmpfs::mount(&env.snaps, "1m");
    let status = std::process::Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&env.snaps)
        .status()
        .unwrap();
    assert!(status.success());
    at = run.wait_for(
        at,
        &[
            "ERROR",
            "storing the snapshot in local",
            &snaps,
            "Read-only",
        ],
        limit,
    );
    drop(readonly);
    run.wait_for(at, &[ok], limit);

    let outcome = run.stop();
    assert_code(&outcome, 0);
    assert!(env.staging_is_empty());
    // Every stored file is a whole snapshot.
    for file in env.files() {
        let verified = env.run(&["verify", env.snaps.join(&file).to_str().unwrap()]);
        assert_code(&verified, 0);
    }
}

/// An agent of `vault` with a 400 KB snapshot and `extra` config keys.
fn slow_snapshot_env(
    vault: &VaultStandIn,
    fault: SnapshotFault,
    extra: serde_json::Value,
) -> TestEnv {
    vault.state().snapshot = Arc::new(valid_archive(400_000));
    vault.state().fault = fault;
    let env = TestEnv::new();
    env.write_config(vault, extra);
    env
}

#[test]
fn vault_stalling_mid_stream_is_abandoned_after_idle_timeout() {
    let vault = VaultStandIn::start(Vec::new());
    let env = slow_snapshot_env(
        &vault,
        SnapshotFault::StallAt(100_000),
        json!({"idle_timeout": "2s"}),
    );
    env.put("raft_snapshot-1700000000000000000.snap", &valid_archive(10));
    let started = Instant::now();
    let outcome = env.run(&["once"]);
    let took = started.elapsed();
    assert_code(&outcome, 1);
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "took {took:?}"
    );
    assert_contains!(
        outcome.stderr,
        "no data from Vault for 2s (idle_timeout); the download was abandoned"
    );
    assert!(env.staging_is_empty());
    assert_eq!(env.files(), ["raft_snapshot-1700000000000000000.snap"]);
}

#[test]
fn vault_resetting_the_connection_mid_stream_fails_at_once() {
    let vault = VaultStandIn::start(Vec::new());
    let env = slow_snapshot_env(&vault, SnapshotFault::ResetAt(100_000), json!({}));
    let started = Instant::now();
    let outcome = env.run(&["once"]);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_code(&outcome, 1);
    // ureq reports a reset as "Peer disconnected".
    assert_contains!(
        outcome.stderr,
        "reading from Vault failed: Peer disconnected"
    );
    assert!(env.staging_is_empty());
    assert!(env.files().is_empty());
}

#[test]
fn sigterm_while_vault_stalls_ends_the_cycle_within_two_seconds() {
    let vault = VaultStandIn::start(Vec::new());
    // The default idle_timeout (5m): only the signal can end this wait.
    let env = slow_snapshot_env(
        &vault,
        SnapshotFault::StallAt(100_000),
        json!({"frequency": "1h"}),
    );
    let child = env.command(&["run"]).spawn().unwrap();
    wait_for("the download to start", Duration::from_secs(20), || {
        !list(&env.tmp).is_empty()
    });
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let outcome = finish(child, Duration::from_secs(10));
    let took = sent.elapsed();
    assert_code(&outcome, 0);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(env.staging_is_empty(), "{:?}", list(&env.tmp));
    assert!(env.files().is_empty());
}

/// The cycle failed in each cloud storage (each named in the log), and the local storage
/// stored the snapshot.
#[track_caller]
fn assert_only_local_stored(outcome: &crate::env::Outcome, env: &TestEnv) {
    assert_code(outcome, 1);
    for kind in ["aws", "gcp", "azure"] {
        let failed = format!("storing the snapshot in {kind}");
        assert_contains!(outcome.stderr, &failed, "{kind}");
    }
    let stored = "Successfully created local snapshot";
    assert_contains!(outcome.stderr, stored);
    assert_eq!(env.files().len(), 1);
}

#[test]
fn storages_that_never_answer_or_stop_reading_are_abandoned_and_the_others_still_store() {
    use crate::conformance::{AZURE_ACCOUNT, AZURE_KEY};
    // Servers that accept connections and then do nothing: never read, never answer.
    let (s3, gcs, azure) = (HttpStub::silent(), HttpStub::silent(), HttpStub::silent());
    // 4 MiB: more than the socket buffers hold, so a server that does not read stalls the
    // upload itself, not only the wait for its answer.
    let vault = VaultStandIn::start(valid_archive(4 << 20));
    let env = TestEnv::new();
    env.write_config(
        &vault,
        json!({"idle_timeout": "2s",
               "aws_storage": {"access_key_id": "k", "secret_access_key": "s",
                               "s3_endpoint": s3.url(), "s3_force_path_style": true,
                               "s3_region": "us-east-1", "s3_bucket": "b"},
               "google_storage": {"bucket": "b"},
               "azure_storage": {"account_name": AZURE_ACCOUNT, "account_key": AZURE_KEY,
                                 "container_name": "c",
                                 "endpoint": format!("{}/{AZURE_ACCOUNT}", azure.url())}}),
    );
    let mut command = env.command(&["once"]);
    command.env("STORAGE_EMULATOR_HOST", gcs.addr().to_string());
    let started = Instant::now();
    let outcome = finish(command.spawn().unwrap(), Duration::from_secs(120));
    let took = started.elapsed();
    assert_code(&outcome, 1);
    assert!(
        took < Duration::from_secs(60),
        "took {took:?}\n{}",
        outcome.stderr
    );
    assert_only_local_stored(&outcome, &env);
    assert!(env.staging_is_empty());
    for (kind, server) in [("aws", &s3), ("gcp", &gcs), ("azure", &azure)] {
        assert!(server.connections() > 0, "{kind} never connected");
    }
    eprintln!("three silent storages took {took:?}");
}

/// Every part of a multipart upload (S3 UploadPart, GCS resumable chunk, Azure block) fails
/// with `action` every time it is tried: each cloud storage fails and keeps what it had (its
/// old snapshot is not pruned, no new one lists, no unfinished S3 upload is left), while the
/// local storage gets the snapshot.
fn every_part_fails_with(action: fn() -> Action) {
    use crate::conformance::{
        AZURE_ACCOUNT, AZURE_KEY, AzureFixture, BUCKET, Fixture, GcsFixture, S3Fixture,
    };
    let (Some(s3), Some(gcs), Some(azure)) =
        (S3Fixture::new(), GcsFixture::new(), AzureFixture::new())
    else {
        return;
    };
    let s3_proxy = FaultProxy::start("127.0.0.1:5055", move |r: &Request| {
        if r.method == "PUT" && r.target.contains("partNumber=") {
            action()
        } else {
            Action::Forward
        }
    });
    let gcs_proxy = FaultProxy::start("127.0.0.1:4443", move |r: &Request| {
        if r.method == "PUT" && r.target.contains("upload_id=") {
            action()
        } else {
            Action::Forward
        }
    });
    let azure_proxy = FaultProxy::start("127.0.0.1:10000", move |r: &Request| {
        if r.method == "PUT" && r.target.contains("comp=block&") {
            action()
        } else {
            Action::Forward
        }
    });
    // An older snapshot in each cloud, which retain 1 would prune if this cycle's landed.
    let old = vault_raft_snapshot::snapshot_name::SnapshotName::at(
        std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    );
    let work = tempfile::tempdir().unwrap();
    let old_file = work.path().join("old");
    fs::write(&old_file, valid_archive(10)).unwrap();
    let fixtures: [&dyn Fixture; 3] = [&s3, &gcs, &azure];
    for fixture in fixtures {
        fixture
            .storage()
            .upload(
                &old_file,
                &old,
                &vault_raft_snapshot::shutdown::StopFlag::never(),
            )
            .unwrap();
    }
    // 9 MiB: more than one 8 MiB part in every cloud.
    let vault = VaultStandIn::start(valid_archive(9 << 20));
    let env = TestEnv::new();
    env.write_config(
        &vault,
        json!({"retain": 1, "idle_timeout": "10s",
               "aws_storage": {"access_key_id": "test-access-key", "secret_access_key": "test-secret-key",
                               "s3_endpoint": s3_proxy.url(), "s3_force_path_style": true,
                               "s3_region": "us-east-1", "s3_bucket": BUCKET, "s3_key_prefix": s3.prefix()},
               "google_storage": {"bucket": BUCKET, "prefix": gcs.prefix()},
               "azure_storage": {"account_name": AZURE_ACCOUNT, "account_key": AZURE_KEY,
                                 "container_name": BUCKET, "prefix": azure.prefix(),
                                 "endpoint": format!("{}/{AZURE_ACCOUNT}", azure_proxy.url())}}),
    );
    let mut command = env.command(&["once"]);
    command.env("STORAGE_EMULATOR_HOST", gcs_proxy.url());
    let outcome = finish(command.spawn().unwrap(), Duration::from_secs(180));
    assert_code(&outcome, 1);
    assert_only_local_stored(&outcome, &env);
    for (fixture, proxy_parts) in [
        (&s3 as &dyn Fixture, s3_proxy.requests()),
        (&gcs, gcs_proxy.requests()),
        (&azure, azure_proxy.requests()),
    ] {
        let listed: Vec<_> = fixture
            .storage()
            .list()
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(listed, [old], "{}", fixture.prefix());
        assert!(fixture.no_unfinished_uploads(), "{}", fixture.prefix());
        assert!(!proxy_parts.is_empty());
    }
}

#[test]
fn a_part_that_fails_with_500_every_time_fails_that_storage_only() {
    every_part_fails_with(|| Action::Fail(500));
}

#[test]
fn a_part_whose_connection_is_reset_every_time_fails_that_storage_only() {
    every_part_fails_with(|| Action::Reset);
}

#[test]
fn sigterm_while_a_storage_stalls_ends_run_within_two_seconds() {
    let s3 = HttpStub::silent();
    let vault = VaultStandIn::start(valid_archive(4 << 20));
    let env = TestEnv::new();
    // The default idle_timeout (5m), and S3's client blocked in a read no flag reaches.
    env.write_config(
        &vault,
        json!({"frequency": "1h",
               "aws_storage": {"access_key_id": "k", "secret_access_key": "s",
                               "s3_endpoint": s3.url(), "s3_force_path_style": true,
                               "s3_region": "us-east-1", "s3_bucket": "b"}}),
    );
    let run = LiveRun::start(env.command(&["run"]));
    run.wait_for(
        0,
        &["Successfully created local snapshot"],
        Duration::from_secs(20),
    );
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    let outcome = run.stop();
    let took = sent.elapsed();
    assert_code(&outcome, 0);
    assert!(
        took < Duration::from_secs(3),
        "took {took:?}\n{}",
        outcome.stderr
    );
    assert!(env.staging_is_empty(), "{:?}", list(&env.tmp));
    assert!(
        env.files()
            .iter()
            .all(|f| f.ends_with(".snap") && !f.starts_with('.')),
        "{:?}",
        env.files()
    );
    assert!(s3.connections() > 0, "the agent never reached S3");
}

#[test]
fn run_waits_out_an_unreachable_vault_and_stores_once_it_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let placeholder = VaultStandIn::start(Vec::new());
    let env = TestEnv::new();
    env.write_config(
        &placeholder,
        json!({"frequency": "1s", "addr": format!("http://{addr}")}),
    );
    let limit = Duration::from_secs(20);
    let run = LiveRun::start(env.command(&["run"]));
    let unreachable = format!("cannot reach Vault at GET http://{addr}/v1/sys/leader");
    let at = run.wait_for(0, &["ERROR", &unreachable], limit);
    let at = run.wait_for(at, &["ERROR", &unreachable], limit);
    let _vault = VaultStandIn::start_on(&addr, valid_archive(1000));
    run.wait_for(at, &["Successfully created local snapshot"], limit);
    let outcome = run.stop();
    assert_code(&outcome, 0);
    assert!(!env.files().is_empty());
}
