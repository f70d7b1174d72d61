//! Issue 21: another agent's snapshots (`other_snapshot_names`) stay visible and age out, the
//! S3 bucket root is a prefix (`s3_key_prefix: "/"`), and Argelbargel's agent's `vrsa_*`
//! metric names are served (`metrics_vrsa_names`). The real binary, against the Vault
//! stand-in, a local directory and moto.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::conformance::{S3_ENDPOINT, S3Fixture, raw_s3_bucket};
use crate::env::{TestEnv, assert_code, valid_archive, wait_for};
use crate::vault_stand_in::VaultStandIn;

/// Argelbargel's agent's default names, at UTC offsets of their own.
const THEIRS_NEWER: &str = "raft-snapshot-2021-03-04T05-06-07Z+0100.snap";
const THEIRS_OLDER: &str = "raft-snapshot-2020-01-01T00-00-00Z-0500.snap";

fn ours_a_minute_ago() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        - 60_000_000_000;
    format!("raft_snapshot-{nanos}.snap")
}

fn listed(env: &TestEnv) -> Vec<(String, String)> {
    let out = env.run(&["list", "--json"]);
    assert_code(&out, 0);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    doc["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["time"].to_string(),
            )
        })
        .collect()
}

fn names(env: &TestEnv) -> Vec<String> {
    listed(env).into_iter().map(|(n, _)| n).collect()
}

#[test]
fn their_names_are_listed_fetched_restored_inspected_and_pruned_by_the_time_in_them() {
    let vault = VaultStandIn::start(valid_archive(5000));
    let env = TestEnv::new();
    let ours = ours_a_minute_ago();
    env.put(&ours, &valid_archive(3000));
    env.put(THEIRS_NEWER, &valid_archive(2000));
    // Kept to compare with what is fetched: an archive's tar times are the second it is built.
    let theirs_older = valid_archive(1000);
    env.put(THEIRS_OLDER, &theirs_older);
    env.put("notes.txt", b"not a snapshot, whatever the config says");

    // Without the key, theirs are foreign names as before.
    env.write_config(&vault, json!({"retain": 2}));
    assert_eq!(names(&env), vec![ours.clone()]);

    env.write_config(
        &vault,
        json!({"retain": 2, "other_snapshot_names": [{"time_zone": "UTC"}]}),
    );
    // Newest first, by the time in the name (the files' mtimes are all now).
    assert_eq!(
        names(&env),
        vec![ours.clone(), THEIRS_NEWER.into(), THEIRS_OLDER.into()]
    );
    let out = env.run(&["list"]);
    assert_code(&out, 0);
    assert_contains!(out.stdout, "2021-03-04T04:06:07Z");
    assert_contains!(out.stdout, "2020-01-01T05:00:00Z");

    // fetch by name, and latest still means ours.
    let fetched = env.root.path().join("theirs.snap");
    let out = env.run(&["fetch", THEIRS_OLDER, "-o", fetched.to_str().unwrap()]);
    assert_code(&out, 0);
    assert_eq!(std::fs::read(&fetched).unwrap(), theirs_older);
    let out = env.run(&["inspect", fetched.to_str().unwrap()]);
    assert_code(&out, 0);
    let latest = env.root.path().join("latest-dir");
    std::fs::create_dir(&latest).unwrap();
    let out = env.run(&["fetch", "latest", "-o", latest.to_str().unwrap()]);
    assert_code(&out, 0);
    assert!(latest.join(&ours).exists(), "{}", out.stderr);

    // restore's preview (no --yes) of one of theirs: fetched, verified, shown, nothing sent.
    let out = env.run(&["restore", THEIRS_NEWER]);
    assert_code(&out, 2);
    assert_contains!(out.stdout, format!("Snapshot {THEIRS_NEWER} from local-0"));
    assert_contains!(out.stdout, "Taken        2021-03-04T04:06:07Z");
    assert_contains!(out.stdout, "Nothing was sent.");

    // prune --dry-run counts them: retain 2 keeps ours and their newer one.
    let out = env.run(&["prune", "--dry-run", "--json"]);
    assert_code(&out, 0);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    let text = plan.to_string();
    assert_contains!(text, THEIRS_OLDER);
    let decisions: Vec<(String, bool)> = plan_decisions(&plan);
    assert_eq!(
        decisions,
        vec![
            (ours.clone(), true),
            (THEIRS_NEWER.into(), true),
            (THEIRS_OLDER.into(), false)
        ],
        "{plan:#}"
    );
    assert_eq!(env.files().len(), 4, "a dry run deletes nothing");

    // once: a new snapshot of ours, and retain 2 ages both of theirs out.
    let out = env.run(&["once"]);
    assert_code(&out, 0);
    let files = env.files();
    assert_eq!(files.len(), 3, "{files:?}\n{}", out.stderr);
    assert!(files.contains(&ours) && files.contains(&"notes.txt".to_string()));
    assert!(
        !files.iter().any(|f| f.starts_with("raft-snapshot-")),
        "{files:?}"
    );
    // Nothing we wrote has their form.
    assert!(
        files
            .iter()
            .all(|f| f == "notes.txt" || f.starts_with("raft_snapshot-"))
    );
}

/// `(name, keep)` from `prune --dry-run --json`, newest first, whatever the document's shape
/// around them.
fn plan_decisions(plan: &Value) -> Vec<(String, bool)> {
    let mut found = Vec::new();
    collect(plan, &mut found);
    found
}

fn collect(value: &Value, found: &mut Vec<(String, bool)>) {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(name)), Some(Value::Bool(keep))) =
                (map.get("name"), map.get("keep"))
            {
                found.push((name.clone(), *keep));
            } else {
                map.values().for_each(|v| collect(v, found));
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, found)),
        _ => {}
    }
}

#[test]
fn a_layout_that_cannot_be_parsed_back_is_a_config_error_naming_the_item() {
    let vault = VaultStandIn::start(valid_archive(5000));
    let env = TestEnv::new();
    env.write_config(
        &vault,
        json!({"other_snapshot_names": [{}, {"go_time_layout": "2006-002"}]}),
    );
    let out = env.run(&["list"]);
    assert_code(&out, 2);
    assert_contains!(out.stderr, "other_snapshot_names[1].go_time_layout");
    assert_contains!(out.stderr, "\"002\"");
}

/// A bucket of its own on moto, so the bucket root holds only what this test puts there.
fn fresh_bucket() -> Box<::s3::Bucket> {
    let name = format!(
        "vrs-names-{}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    // moto creates a bucket on an unsigned PUT (rust-s3's create sends a location
    // constraint moto refuses for us-east-1).
    let host = S3_ENDPOINT.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "PUT /{name} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut bucket = raw_s3_bucket();
    bucket.name = name;
    bucket
}

fn bucket_keys(bucket: &::s3::Bucket) -> Vec<String> {
    let mut keys: Vec<String> = bucket
        .list(String::new(), None)
        .unwrap()
        .into_iter()
        .flat_map(|p| p.contents.into_iter().map(|o| o.key))
        .collect();
    keys.sort();
    keys
}

#[test]
fn at_the_s3_bucket_root_their_names_and_ours_are_seen_and_nothing_else() {
    if S3Fixture::new().is_none() {
        return;
    }
    let bucket = fresh_bucket();
    let ours = ours_a_minute_ago();
    // Kept to compare with what is fetched: an archive's tar times are the second it is built.
    let theirs_older = valid_archive(1000);
    let unrelated = [
        "notes.txt",
        "raft_snapshots/raft_snapshot-1.snap",
        "backups/raft-snapshot-2019-01-01T00-00-00Z+0000.snap",
        "raft-snapshot-2019-01-01T00-00-00Z+0000.snap.bak",
    ];
    bucket.put_object(&ours, &valid_archive(3000)).unwrap();
    bucket.put_object(THEIRS_OLDER, &theirs_older).unwrap();
    for key in unrelated {
        bucket.put_object(key, &valid_archive(500)).unwrap();
    }
    let vault = VaultStandIn::start(valid_archive(5000));
    let env = TestEnv::new();
    env.write_config(
        &vault,
        json!({"local_storage": null, "retain": 1,
               "other_snapshot_names": [{"time_zone": "UTC"}],
               "aws_storage": {"access_key_id": "test-access-key",
                               "secret_access_key": "test-secret-key",
                               "s3_endpoint": S3_ENDPOINT, "s3_force_path_style": true,
                               "s3_region": "us-east-1", "s3_bucket": bucket.name(),
                               "s3_key_prefix": "/"}}),
    );
    assert_eq!(names(&env), vec![ours.clone(), THEIRS_OLDER.to_string()]);

    let fetched = env.root.path().join("theirs.snap");
    let out = env.run(&["fetch", THEIRS_OLDER, "-o", fetched.to_str().unwrap()]);
    assert_code(&out, 0);
    assert_eq!(std::fs::read(&fetched).unwrap(), theirs_older);

    // retain 1: theirs ages out; the unrelated objects are never touched.
    let out = env.run(&["prune"]);
    assert_code(&out, 0);
    let mut expected: Vec<String> = unrelated.iter().map(ToString::to_string).collect();
    expected.push(ours.clone());
    expected.sort();
    assert_eq!(bucket_keys(&bucket), expected, "{}", out.stderr);

    // once writes ours at the root too.
    let out = env.run(&["once"]);
    assert_code(&out, 0);
    let keys = bucket_keys(&bucket);
    assert_eq!(
        keys.len(),
        expected.len(),
        "retain 1 replaced ours: {keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with("raft_snapshot-") && *k != ours),
        "{keys:?}"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(addr: &str, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text)
}

fn gauge(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

fn scrape_after_a_cycle(vrsa: Option<bool>) -> (String, TestEnv) {
    let vault = VaultStandIn::start(valid_archive(5000));
    let env = TestEnv::new();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut extra = json!({"metrics_listen": addr, "frequency": "1h"});
    if let Some(on) = vrsa {
        extra["metrics_vrsa_names"] = json!(on);
    }
    env.write_config(&vault, extra);
    let mut command = env.command(&["run"]);
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    let mut text = String::new();
    wait_for("a cycle's metrics", Duration::from_secs(30), || {
        text = get(&addr, "/metrics").unwrap_or_default();
        text.contains("vault_raft_snapshot_cycles_total{outcome=\"success\"} 1")
    });
    // SIGTERM by its own PID.
    unsafe {
        libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGTERM);
    }
    let _ = child.wait();
    (text, env)
}

#[test]
fn their_metric_names_are_served_on_request_with_their_meanings() {
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let (text, env) = scrape_after_a_cycle(Some(true));
    for name in [
        "vrsa_last_snapshot_time",
        "vrsa_last_successful_snapshot_time",
        "vrsa_last_snapshot_success",
        "vrsa_next_snapshot_time",
        "vrsa_last_snapshot_size",
    ] {
        assert_contains!(text, format!("# TYPE {name} gauge"));
    }
    let last = gauge(&text, "vrsa_last_snapshot_time").unwrap();
    assert!(last >= before.floor() - 1.0, "{text}");
    assert_eq!(
        gauge(&text, "vrsa_last_successful_snapshot_time"),
        Some(last)
    );
    assert_eq!(gauge(&text, "vrsa_last_snapshot_success"), Some(1.0));
    let next = gauge(&text, "vrsa_next_snapshot_time").unwrap();
    assert!((3590.0..=3610.0).contains(&(next - last)), "{text}");
    let stored = env.files();
    let size = std::fs::metadata(env.snaps.join(&stored[0])).unwrap().len();
    #[allow(clippy::cast_precision_loss)]
    let size = size as f64;
    assert_eq!(gauge(&text, "vrsa_last_snapshot_size"), Some(size));

    let (plain, _env) = scrape_after_a_cycle(None);
    assert!(!plain.contains("vrsa_"), "off by default: {plain}");
}

#[test]
fn a_layout_without_a_zone_is_read_in_time_zone_local_meaning_the_agents_tz() {
    let vault = VaultStandIn::start(valid_archive(5000));
    let env = TestEnv::new();
    env.put("daily-2024-02-29_23-30.snap", &valid_archive(1000));
    env.put("daily-2024-02-30_23-30.snap", &valid_archive(1000));
    let config = |zone: &str| {
        json!({"other_snapshot_names": [{"name_prefix": "daily-", "go_time_layout": "2006-01-02_15-04",
                                         "name_suffix": ".snap", "time_zone": zone}]})
    };
    let time_listed = |tz: &str| {
        let mut command = env.command(&["list", "--json"]);
        command.env("TZ", tz);
        let out = crate::env::finish(command.spawn().unwrap(), Duration::from_secs(60));
        assert_code(&out, 0);
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        let snapshots = doc["snapshots"].as_array().unwrap().clone();
        assert_eq!(snapshots.len(), 1, "2024-02-30 is no date: {doc:#}");
        assert_eq!(snapshots[0]["name"], "daily-2024-02-29_23-30.snap");
        snapshots[0]["time"].as_str().unwrap().to_string()
    };
    env.write_config(&vault, config("Local"));
    // POSIX TZ "XXX-3" is three hours east of UTC.
    assert_eq!(time_listed("XXX-3"), "2024-02-29T20:30:00Z");
    assert_eq!(time_listed("UTC0"), "2024-02-29T23:30:00Z");
    env.write_config(&vault, config("-01:00"));
    assert_eq!(time_listed("XXX-3"), "2024-03-01T00:30:00Z");
}
