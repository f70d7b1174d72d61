//! Issue 18, "Trust at the edges": one definition of "newest", the restore preview, and
//! objects named like snapshots that cannot be snapshots.
//!
//! - a snapshot named with a future time (a wrong clock, an old snapshot copied under a later
//!   name) is never `latest` for fetch, restore, `list` and `check --connect`, and retention
//!   calls the same snapshot the newest;
//! - the restore preview shows the snapshot's time, age, index and term and the cluster's
//!   leader, committed index and whether the token may restore, with read-only calls, and
//!   still works when Vault is down;
//! - with `retain: 2`, a 0-byte and a 4-byte file, a directory, a symlink and a FIFO named
//!   like snapshots are never counted, never `latest`, never deleted, and warned about by name.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use vault_raft_snapshot::archive::build::{ArchiveOptions, archive_bytes, pseudo_random_bytes};
use vault_raft_snapshot::archive::inspect::encode_state;
use vault_raft_snapshot::snapshot_name::SnapshotName;

use crate::env::{Outcome, TestEnv, assert_code};
use crate::vault_stand_in::VaultStandIn;

const DAY: u64 = 86_400;

/// A valid archive at Raft `index`, whose state `inspect` (and so `restore`) decodes.
fn archive(index: u64, value_len: usize) -> Vec<u8> {
    let value = pseudo_random_bytes(value_len, index);
    archive_bytes(
        &encode_state(&[("core/keyring", b"k"), ("logical/m/a", &value)]),
        &ArchiveOptions {
            index,
            ..ArchiveOptions::default()
        },
    )
    .unwrap()
}

fn name_at(offset_secs: i64) -> String {
    let now = SystemTime::now();
    let time = if offset_secs >= 0 {
        now + Duration::from_secs(offset_secs.unsigned_abs())
    } else {
        now - Duration::from_secs(offset_secs.unsigned_abs())
    };
    SnapshotName::at(time).to_string()
}

/// Logs in to the stand-in as the agent's AppRole would, for a VAULT_TOKEN.
fn stand_in_token(vault: &VaultStandIn) -> String {
    let answer: Value = ureq::post(&format!("{}/v1/auth/approle/login", vault.url()))
        .send_json(json!({"role_id": "test-role-id", "secret_id": "test-secret-id"}))
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    answer["auth"]["client_token"].as_str().unwrap().to_string()
}

fn run_with_token(env: &TestEnv, token: &str, args: &[&str]) -> Outcome {
    let child = env.command(args).env("VAULT_TOKEN", token).spawn().unwrap();
    crate::env::finish(child, Duration::from_secs(60))
}

fn restore_posts(vault: &VaultStandIn) -> Vec<String> {
    vault
        .state()
        .requests
        .iter()
        .filter(|r| r.method != "GET")
        .filter(|r| r.path.starts_with("/v1/sys/storage/raft/snapshot"))
        .map(|r| r.header("content-length").unwrap_or("").to_string())
        .collect()
}

/// A good snapshot taken an hour ago (index 2000) and an old one (index 1000) stored under a
/// name a year ahead: every command takes the hour-old one as the newest.
#[test]
fn a_snapshot_dated_in_the_future_is_never_latest() {
    let good = archive(2000, 30_000);
    let old = archive(1000, 20_000);
    assert_ne!(good.len(), old.len());
    let vault = VaultStandIn::start(good.clone());
    vault.state().capabilities = vec!["update".into()];
    let env = TestEnv::new();
    env.write_config(&vault, json!({"retain": 1}));
    let good_name = name_at(-3600);
    let future_name = name_at(365 * DAY as i64);
    env.put(&good_name, &good);
    env.put(&future_name, &old);

    // fetch latest: the hour-old one, with a warning naming the one passed over.
    let fetched = env.root.path().join("fetched");
    let fetch = env.run(&["fetch", "latest", "-o", fetched.to_str().unwrap()]);
    assert_code(&fetch, 0);
    assert!(
        fs::read(&fetched).unwrap() == good,
        "fetch latest took the future-dated copy"
    );
    assert_contains!(
        fetch.stderr,
        format!("{future_name} in storage local-0 is dated in the future")
    );

    // list: the future one is marked, the good one is latest (text and JSON).
    let list = env.run(&["list"]);
    assert_code(&list, 0);
    let line = |name: &str| {
        list.stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} not listed: {}", list.stdout))
            .to_string()
    };
    assert!(
        line(&future_name).contains("dated in the future"),
        "{}",
        list.stdout
    );
    assert!(line(&future_name).contains(" in 364d") || line(&future_name).contains(" in 365d"));
    assert!(line(&good_name).ends_with("latest"), "{}", list.stdout);
    let json = env.run(&["list", "--json"]);
    assert_code(&json, 0);
    let document: Value = serde_json::from_str(&json.stdout).unwrap();
    let by_name = |name: &str| {
        document["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name(&future_name)["state"], "dated_in_future");
    assert_eq!(by_name(&future_name)["latest"], false);
    assert_eq!(by_name(&good_name)["state"], "snapshot");
    assert_eq!(by_name(&good_name)["latest"], true);

    // check --connect: "newest" is the same snapshot, and the future one is named.
    let check = env.run(&["check", "--connect"]);
    assert_contains!(check.stdout, format!("1 snapshot(s), newest {good_name}"));
    assert_contains!(
        check.stdout,
        format!("1 dated in the future, never latest (check the clock): {future_name}")
    );

    // retention calls the same one the newest.
    let prune = env.run(&["prune", "--dry-run", "--json"]);
    assert_code(&prune, 0);
    let plan: Value = serde_json::from_str(&prune.stdout).unwrap();
    let snapshots = plan["storages"][0]["snapshots"].as_array().unwrap();
    let reasons =
        |name: &str| snapshots.iter().find(|s| s["name"] == name).unwrap()["reasons"].to_string();
    assert!(
        reasons(&good_name).contains("the newest"),
        "{}",
        prune.stdout
    );
    assert!(
        reasons(&future_name).contains("dated in the future"),
        "{}",
        prune.stdout
    );

    // restore latest: the preview and the bytes sent are the hour-old snapshot's.
    let token = stand_in_token(&vault);
    let preview = run_with_token(&env, &token, &["restore", "latest"]);
    assert_code(&preview, 2);
    assert_contains!(preview.stdout, format!("Snapshot {good_name} from local-0"));
    assert_contains!(preview.stdout, "Index        2000");
    let restored = run_with_token(&env, &token, &["restore", "latest", "--yes"]);
    assert_code(&restored, 0);
    assert_eq!(restore_posts(&vault), [good.len().to_string()]);

    // Named explicitly, the future-dated snapshot can still be restored, and says what it is.
    let named = run_with_token(&env, &token, &["restore", &future_name]);
    assert_code(&named, 2);
    assert_contains!(named.stdout, "DATED IN THE FUTURE");
    assert_contains!(named.stdout, "Index        1000");
}

/// Only future-dated snapshots: `latest` refuses, naming them, instead of taking one.
#[test]
fn latest_refuses_when_every_snapshot_is_dated_in_the_future() {
    let vault = VaultStandIn::start(archive(5, 1000));
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    let future_name = name_at(30 * DAY as i64);
    env.put(&future_name, &archive(7, 1000));
    let fetched = env.root.path().join("fetched");
    let fetch = env.run(&["fetch", "latest", "-o", fetched.to_str().unwrap()]);
    assert_code(&fetch, 1);
    assert_contains!(fetch.stderr, "can be \"latest\"");
    assert_contains!(
        fetch.stderr,
        format!("{future_name} in local-0 is dated in the future")
    );
    assert!(!fetched.exists());
    // A name a few seconds ahead (a clock slightly off) is within the allowance: it is latest.
    let near = name_at(30);
    let near_bytes = archive(9, 1000);
    env.put(&near, &near_bytes);
    let fetch = env.run(&["fetch", "latest", "-o", fetched.to_str().unwrap()]);
    assert_code(&fetch, 0);
    assert!(
        fs::read(&fetched).unwrap() == near_bytes,
        "not the near one"
    );
}

/// The preview shows the snapshot's time, age, index and term, and the cluster's leader,
/// committed index and the token's rights, from read-only calls only.
#[test]
fn the_restore_preview_shows_the_cluster_it_would_replace() {
    let snapshot = archive(1000, 10_000);
    let vault = VaultStandIn::start(snapshot.clone());
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    let name = name_at(-(2 * 3600 + 600));
    env.put(&name, &snapshot);

    // With VAULT_TOKEN (a token that may only read), the rights are checked.
    let token = stand_in_token(&vault);
    vault.state().requests.clear();
    let preview = run_with_token(&env, &token, &["restore", "latest"]);
    assert_code(&preview, 2);
    let out = &preview.stdout;
    assert_contains!(out, "Taken        ");
    assert_contains!(out, "(2h10m ago)");
    assert_contains!(out, "Index        1000");
    assert_contains!(out, "Term         5");
    assert_contains!(out, format!("Cluster at {}:", vault.url()));
    assert_contains!(
        out,
        format!(
            "  Leader       {} (the node at addr is the active node)",
            vault.url()
        )
    );
    assert_contains!(
        out,
        "  Committed    Raft index 1234; the snapshot (index 1000) is 234 entries behind"
    );
    assert_contains!(
        out,
        "  Token        may NOT restore: capabilities on sys/storage/raft/snapshot are [read]"
    );
    assert_contains!(out, "Nothing was sent");
    // Read-only: sys/leader and sys/capabilities-self, nothing else.
    let asked: Vec<String> = vault
        .state()
        .requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        asked
            .iter()
            .all(|r| r == "GET /v1/sys/leader" || r.ends_with(" /v1/sys/capabilities-self")),
        "{asked:?}"
    );
    assert!(
        asked
            .iter()
            .any(|r| r.ends_with(" /v1/sys/capabilities-self")),
        "{asked:?}"
    );

    vault.state().capabilities = vec!["read".into(), "update".into()];
    let allowed = run_with_token(&env, &token, &["restore", "latest", "--force"]);
    assert_code(&allowed, 2);
    assert_contains!(
        allowed.stdout,
        "  Token        may restore (capabilities on sys/storage/raft/snapshot-force: [read, update])"
    );

    // Without VAULT_TOKEN, AppRole needs a login, which the preview does not do: said so.
    vault.state().requests.clear();
    let no_token = env.run(&["restore", "latest"]);
    assert_code(&no_token, 2);
    assert_contains!(
        no_token.stdout,
        "  Token        not checked: the config's auth (AppRole) needs a login"
    );
    assert!(
        vault
            .state()
            .requests
            .iter()
            .all(|r| r.path == "/v1/sys/leader"),
        "{:?}",
        vault.state().requests
    );

    // With --yes, what is printed before sending shows the cluster too.
    let sent = run_with_token(&env, &token, &["restore", "latest", "--yes"]);
    assert_code(&sent, 0);
    assert_contains!(sent.stdout, "  Committed    Raft index 1234");
    assert_contains!(sent.stdout, "  Token        may restore");
}

/// Vault down: the preview says so and still shows the snapshot (exit 2 as before).
#[test]
fn the_restore_preview_works_offline() {
    let snapshot = archive(1000, 10_000);
    let vault = VaultStandIn::start(snapshot.clone());
    let env = TestEnv::new();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    env.write_config(&vault, json!({"addr": addr}));
    let file = env.root.path().join(name_at(-60));
    fs::write(&file, &snapshot).unwrap();
    let preview = run_with_token(&env, "hvs.unused", &["restore", file.to_str().unwrap()]);
    assert_code(&preview, 2);
    assert_contains!(preview.stdout, "(1m ago)");
    assert_contains!(preview.stdout, "Index        1000");
    assert_contains!(
        preview.stdout,
        format!("Cluster at {addr}: cannot be reached for the preview")
    );
    assert_contains!(preview.stdout, "Nothing was sent");
}

/// Writes the reported junk (a 0-byte and a 4-byte file) and what a directory may hold under
/// snapshot names (a directory, a symlink, a FIFO), all newer than the good snapshots.
fn junk(env: &TestEnv) -> Vec<String> {
    let names: Vec<String> = [-1800, -1500, -1200, -900, -600].map(name_at).to_vec();
    env.put(&names[0], b"");
    env.put(&names[1], b"junk");
    fs::create_dir(env.snaps.join(&names[2])).unwrap();
    let target = env.root.path().join("elsewhere.snap");
    fs::write(&target, archive(3, 1000)).unwrap();
    symlink(&target, env.snaps.join(&names[3])).unwrap();
    let fifo = env.snaps.join(&names[4]);
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    names
}

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

#[test]
fn objects_that_cannot_be_snapshots_never_count_and_are_never_deleted() {
    let vault = VaultStandIn::start(archive(3000, 10_000));
    let env = TestEnv::new();
    env.write_config(&vault, json!({"retain": 2}));
    let good: Vec<String> = [-7200, -3600].map(name_at).to_vec();
    env.put(&good[0], &archive(1000, 10_000));
    let newest_good = archive(2000, 10_000);
    env.put(&good[1], &newest_good);
    let junk = junk(&env);
    let why = [
        "0 bytes",
        "4 bytes",
        "a directory",
        "a symbolic link",
        "a named pipe",
    ];

    // prune --dry-run: junk is "not counted", warned about by name; nothing good would go.
    let dry = env.run(&["prune", "--dry-run"]);
    assert_code(&dry, 0);
    for (name, why) in junk.iter().zip(why) {
        assert_contains!(
            dry.stderr,
            format!(
                "{name} in local {} is not a snapshot ({why})",
                env.snaps.display()
            )
        );
        let line = dry
            .stdout
            .lines()
            .find(|l| l.contains(name.as_str()))
            .unwrap();
        assert!(
            line.contains("not counted") && line.contains(&format!("not a snapshot: {why}")),
            "{line}"
        );
    }
    assert_contains!(
        dry.stdout,
        "2 snapshot(s) and 5 object(s) that are not snapshots"
    );
    assert_contains!(dry.stdout, "nothing to delete");

    // list: each is marked; latest is the newest good one.
    let list = env.run(&["list"]);
    assert_code(&list, 0);
    for (name, why) in junk.iter().zip(why) {
        let line = list
            .stdout
            .lines()
            .find(|l| l.contains(name.as_str()))
            .unwrap();
        assert!(line.ends_with(&format!("not a snapshot: {why}")), "{line}");
        assert_contains!(list.stderr, format!("{name} in local"));
    }
    let latest = list.stdout.lines().find(|l| l.ends_with("latest")).unwrap();
    assert!(latest.contains(&good[1]), "{}", list.stdout);
    let json = env.run(&["list", "--json"]);
    let document: Value = serde_json::from_str(&json.stdout).unwrap();
    let empty = document["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == junk[0].as_str())
        .unwrap()
        .clone();
    assert_eq!(empty["state"], "not_a_snapshot");
    assert_eq!(empty["note"], "not a snapshot: 0 bytes");

    // fetch latest takes the newest good snapshot, never the junk above it.
    let fetched = env.root.path().join("fetched");
    assert_code(
        &env.run(&["fetch", "latest", "-o", fetched.to_str().unwrap()]),
        0,
    );
    assert!(
        fs::read(&fetched).unwrap() == newest_good,
        "latest is not the newest good snapshot"
    );
    // Named, a junk object is refused as not a snapshot (nothing is fetched).
    let named = env.run(&[
        "fetch",
        &junk[0],
        "-o",
        env.root.path().join("x").to_str().unwrap(),
    ]);
    assert_code(&named, 1);
    assert_contains!(
        named.stderr,
        format!("{} is not a snapshot in local-0 (0 bytes)", junk[0])
    );

    // once: the new snapshot and the newest good one stay, the oldest good one goes, the
    // junk stays and is warned about by name.
    let once = env.run(&["once"]);
    assert_code(&once, 0);
    for (name, why) in junk.iter().zip(why) {
        assert!(exists(&env.snaps.join(name)), "{name} was deleted");
        assert_contains!(
            once.stderr,
            format!(
                "{name} in local {} is not a snapshot ({why})",
                env.snaps.display()
            )
        );
    }
    assert!(
        exists(&env.snaps.join(&good[1])),
        "a good snapshot was deleted"
    );
    assert!(
        !exists(&env.snaps.join(&good[0])),
        "retain 2 kept three snapshots"
    );
    assert_eq!(env.files().len(), 2 + junk.len(), "{:?}", env.files());

    // prune: the same; nothing more to delete, and the junk is still only warned about.
    let prune = env.run(&["prune"]);
    assert_code(&prune, 0);
    assert_contains!(prune.stdout, "nothing to delete");
    assert_contains!(prune.stderr, format!("{} in local", junk[1]));
    assert_eq!(env.files().len(), 2 + junk.len());
}
