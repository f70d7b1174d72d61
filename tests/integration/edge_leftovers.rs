//! What a killed agent leaves outside its own process: a staging file when it was PID 1 in a
//! container (its successor is PID 1 too), and an incomplete S3 multipart upload.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::conformance::{BUCKET, S3_ENDPOINT, S3Fixture, raw_s3_bucket, unique_prefix};
use crate::env::{TestEnv, assert_code, finish, list, valid_archive, wait_for};
use crate::fault_proxy::{Action, FaultProxy, Request};
use crate::vault_stand_in::VaultStandIn;

/// `command` run as PID 1 of a new PID namespace (`unshare -fp --mount-proc`), as in a
/// container.
fn as_pid_1(command: &Command) -> Command {
    let mut wrapped = Command::new("unshare");
    wrapped
        .args(["-fp", "--mount-proc"])
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    wrapped
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    wrapped
}

/// The PID (here) of the only child of `unshare`: PID 1 of its namespace.
fn namespace_init(unshare: u32) -> Option<u32> {
    let children =
        std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

/// A file of ours that a live writer holds: the returned handle holds its lock.
fn held(path: &std::path::Path) -> File {
    std::fs::write(path, b"partial").unwrap();
    let file = File::open(path).unwrap();
    // SAFETY: flock on a descriptor `file` owns.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(locked, 0, "cannot lock {}", path.display());
    file
}

#[test]
fn a_killed_pid_1_leaves_nothing_its_pid_1_successor_keeps() {
    let vault = VaultStandIn::start(valid_archive(400_000));
    {
        let mut state = vault.state();
        state.chunk_size = 4096;
        state.chunk_delay = Duration::from_millis(50);
    }
    let env = TestEnv::new();
    let metrics = env.root.path().join("vault_raft_snapshot.prom");
    env.write_config(&vault, json!({"metrics_file": metrics}));

    // PID 1 of a container, killed with SIGKILL in the middle of the download.
    let mut killed = as_pid_1(&env.command(&["once"]));
    killed.stdout(Stdio::null()).stderr(Stdio::null());
    let mut unshare = killed.spawn().expect("run unshare (needs root)");
    wait_for("the download to start", Duration::from_secs(20), || {
        !list(&env.tmp).is_empty()
    });
    let init = namespace_init(unshare.id()).expect("the namespace's PID 1");
    // SAFETY: sends SIGKILL to the agent this test started.
    assert_eq!(unsafe { libc::kill(init as libc::pid_t, libc::SIGKILL) }, 0);
    unshare.wait().unwrap();
    let staging = list(&env.tmp);
    assert_eq!(staging.len(), 1, "{staging:?}");
    assert!(
        staging[0].starts_with(".vault-raft-snapshot-1-"),
        "the killed agent was PID 1: {staging:?}"
    );

    // What else a killed PID 1 leaves: a copy into the local storage and a metrics file not
    // yet renamed. Beside them, live writers' files (their locks held): one of another PID 1
    // sharing the directory (another container), one whose PID does not run in the new
    // agent's namespace.
    let dead_copy = ".raft_snapshot-1700000000000000000.snap.tmp-1";
    std::fs::write(env.snaps.join(dead_copy), b"partial").unwrap();
    let dead_metrics = ".vault-raft-snapshot-metrics-1-AbCdEf";
    std::fs::write(env.root.path().join(dead_metrics), b"partial").unwrap();
    let live = [
        env.tmp.join(".vault-raft-snapshot-1-live.tmp"),
        env.tmp.join(".vault-raft-snapshot-4000000-live.tmp"),
        env.snaps
            .join(".raft_snapshot-1700000000000000001.snap.tmp-4000000"),
    ];
    let _held: Vec<File> = live.iter().map(|p| held(p)).collect();

    // The next agent, PID 1 again in a new namespace: removes what the killed one left,
    // keeps what live writers hold, and takes its snapshot.
    vault.state().chunk_delay = Duration::ZERO;
    let next = finish(
        as_pid_1(&env.command(&["once"])).spawn().unwrap(),
        Duration::from_secs(60),
    );
    assert_code(&next, 0);
    for removed in [
        env.tmp.join(&staging[0]),
        env.snaps.join(dead_copy),
        env.root.path().join(dead_metrics),
    ] {
        assert_contains!(next.stderr, format!("Removed {}", removed.display()));
        assert!(!removed.exists(), "{} is still there", removed.display());
    }
    for kept in &live {
        assert!(
            kept.exists(),
            "a live writer's {} was removed",
            kept.display()
        );
    }
    assert_eq!(
        list(&env.tmp),
        [
            ".vault-raft-snapshot-1-live.tmp",
            ".vault-raft-snapshot-4000000-live.tmp"
        ]
    );
    let stored: Vec<String> = env
        .files()
        .into_iter()
        .filter(|f| f.ends_with(".snap"))
        .collect();
    assert_eq!(stored.len(), 1, "{:?}", env.files());
    assert_code(
        &env.run(&["verify", env.snaps.join(&stored[0]).to_str().unwrap()]),
        0,
    );
}

/// The keys with an incomplete multipart upload under `prefix/`, sorted.
fn incomplete(prefix: &str) -> Vec<String> {
    let pages = raw_s3_bucket()
        .list_multiparts_uploads(Some(&format!("{prefix}/")), None)
        .unwrap();
    let mut keys: Vec<String> = pages
        .into_iter()
        .flat_map(|p| p.uploads.into_iter().map(|u| u.key))
        .collect();
    keys.sort();
    keys
}

/// Starts a multipart upload of `key` with one part sent, and leaves it incomplete, as an
/// agent killed in the middle of it does. Returns its id.
fn abandon_upload(key: &str) -> String {
    let bucket = raw_s3_bucket();
    let upload = bucket
        .initiate_multipart_upload(key, "application/gzip")
        .unwrap();
    bucket
        .put_multipart_chunk(&[7; 1024], key, 1, &upload.upload_id, "application/gzip")
        .unwrap();
    upload.upload_id
}

fn is_list_uploads(r: &Request) -> bool {
    r.method == "GET" && r.target.contains("uploads")
}

#[test]
fn the_next_start_aborts_a_killed_agents_incomplete_s3_uploads_and_no_others() {
    if S3Fixture::new().is_none() {
        return;
    }
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let prefix = unique_prefix();
    let other = format!("{prefix}-other");
    let ours = format!("{prefix}/raft_snapshot-1700000000000000000.snap");
    let foreign = [
        // Not a name we write, under our prefix.
        format!("{prefix}/notes.bin"),
        // Our kind of name, under another prefix (another agent's).
        format!("{other}/raft_snapshot-1700000000000000000.snap"),
    ];
    let ids: Vec<(String, String)> = std::iter::once(&ours)
        .chain(&foreign)
        .map(|key| (key.clone(), abandon_upload(key)))
        .collect();
    let s3 = |endpoint: &str| {
        json!({"access_key_id": "test-access-key", "secret_access_key": "test-secret-key",
               "s3_endpoint": endpoint, "s3_force_path_style": true,
               "s3_region": "us-east-1", "s3_bucket": BUCKET, "s3_key_prefix": prefix})
    };

    // Younger than the bound: it may be in progress (another node's agent under the same
    // prefix), so it stays. (moto reports every upload as initiated in November 2010, so the
    // default bound, a day, cannot be shown here; `stale_uploads`' unit test shows it.)
    env.write_config(
        &vault,
        json!({"aws_storage": s3(S3_ENDPOINT), "abort_incomplete_uploads_after": "1000000h"}),
    );
    let first = env.run(&["once"]);
    assert_code(&first, 0);
    assert!(!first.stderr.contains("Aborted"), "{}", first.stderr);
    assert_eq!(incomplete(&prefix), [foreign[0].clone(), ours.clone()]);

    // A failure to list them is a warning, never a failed cycle.
    let proxy = FaultProxy::start("127.0.0.1:5055", |r: &Request| {
        if is_list_uploads(r) {
            Action::Fail(403)
        } else {
            Action::Forward
        }
    });
    env.write_config(
        &vault,
        json!({"aws_storage": s3(&proxy.url()), "abort_incomplete_uploads_after": "0s"}),
    );
    let refused = env.run(&["once"]);
    assert_code(&refused, 0);
    assert_contains!(refused.stderr, "cannot clean up incomplete uploads");
    assert_eq!(incomplete(&prefix), [foreign[0].clone(), ours.clone()]);

    // Bound 0: ours is aborted at start, the others stay.
    env.write_config(
        &vault,
        json!({"aws_storage": s3(S3_ENDPOINT), "abort_incomplete_uploads_after": "0s"}),
    );
    let next = env.run(&["once"]);
    assert_code(&next, 0);
    assert_contains!(
        next.stderr,
        format!("Aborted the incomplete multipart upload of s3://{BUCKET}/{ours}")
    );
    assert_eq!(incomplete(&prefix), [foreign[0].clone()]);
    assert_eq!(incomplete(&other), [foreign[1].clone()]);

    let bucket = raw_s3_bucket();
    for (key, id) in &ids[1..] {
        bucket.abort_upload(key, id).unwrap();
    }
}
