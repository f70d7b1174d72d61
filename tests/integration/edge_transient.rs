//! Transient failures at the edges (issue 18): storage requests retried by one bounded policy,
//! `run` retrying a failed cycle soon, incomplete multipart uploads of a killed agent aborted,
//! and a killed PID 1's temporary files recognised as dead.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::conformance::{BUCKET, Fixture, GcsFixture, S3Fixture};
use crate::env::{TestEnv, assert_code, finish, valid_archive};
use crate::fault_proxy::{Action, FaultProxy, Request};
use crate::vault_stand_in::VaultStandIn;

/// A proxy that answers `status` to the first `times` requests `matches` picks, and
/// forwards everything else.
fn fail_first(
    upstream: &str,
    times: usize,
    status: u16,
    matches: fn(&Request) -> bool,
) -> FaultProxy {
    // The proxy asks its rule once per request: the first `times` matching ones fail.
    let failed = Arc::new(AtomicUsize::new(0));
    FaultProxy::start(upstream, move |r: &Request| {
        if matches(r) && failed.load(Ordering::SeqCst) < times {
            failed.fetch_add(1, Ordering::SeqCst);
            Action::Fail(status)
        } else {
            Action::Forward
        }
    })
}

/// How many requests `proxy` saw that `matches` picks.
fn seen(proxy: &FaultProxy, matches: fn(&Request) -> bool) -> usize {
    proxy.requests().iter().filter(|r| matches(r)).count()
}

fn s3_section(s3: &S3Fixture, endpoint: &str) -> serde_json::Value {
    json!({"access_key_id": "test-access-key", "secret_access_key": "test-secret-key",
           "s3_endpoint": endpoint, "s3_force_path_style": true,
           "s3_region": "us-east-1", "s3_bucket": BUCKET, "s3_key_prefix": s3.prefix()})
}

fn is_s3_part_2(r: &Request) -> bool {
    r.method == "PUT" && r.target.contains("partNumber=2")
}

fn is_s3_create(r: &Request) -> bool {
    r.method == "POST" && r.target.contains("uploads")
}

fn is_gcs_chunk(r: &Request) -> bool {
    r.method == "PUT" && r.target.contains("upload_id=")
}

/// S3's `CreateMultipartUpload` and its second `UploadPart`, and GCS's first chunk, each
/// answer 503 once: every request is tried again (that one request, not the whole upload),
/// and both snapshots are stored and verified.
#[test]
fn a_request_that_fails_once_with_503_is_retried_and_the_snapshot_is_stored() {
    let (Some(s3), Some(gcs)) = (S3Fixture::new(), GcsFixture::new()) else {
        return;
    };
    let create_proxy = fail_first("127.0.0.1:5055", 1, 503, is_s3_create);
    // Two proxies in a row: the first fails a create once, the second a part once.
    let s3_proxy = fail_first(
        create_proxy.url().trim_start_matches("http://"),
        1,
        503,
        is_s3_part_2,
    );
    let gcs_proxy = fail_first("127.0.0.1:4443", 1, 503, is_gcs_chunk);
    // 9 MiB: two 8 MiB parts in S3, two chunks in GCS.
    let vault = VaultStandIn::start(valid_archive(9 << 20));
    let env = TestEnv::new();
    env.write_config(
        &vault,
        json!({"aws_storage": s3_section(&s3, &s3_proxy.url()),
               "google_storage": {"bucket": BUCKET, "prefix": gcs.prefix()}}),
    );
    let mut command = env.command(&["once"]);
    command.env("STORAGE_EMULATOR_HOST", gcs_proxy.url());
    let outcome = finish(command.spawn().unwrap(), Duration::from_secs(120));
    assert_code(&outcome, 0);
    assert_contains!(outcome.stderr, "Successfully created aws snapshot");
    assert_contains!(outcome.stderr, "Successfully created gcp snapshot");
    assert_contains!(outcome.stderr, "retry 1 of 4");
    assert_eq!(seen(&create_proxy, is_s3_create), 2);
    // Part 2 twice; part 1 was not sent again.
    assert_eq!(seen(&s3_proxy, is_s3_part_2), 2);
    assert_eq!(seen(&s3_proxy, |r| r.target.contains("partNumber=1&")), 1);
    // The first chunk twice, then the last.
    assert_eq!(
        seen(&gcs_proxy, is_gcs_chunk),
        3,
        "{:?}",
        gcs_proxy.requests()
    );
    let [stored] = &env.files()[..] else {
        panic!("{:?}", env.files())
    };
    let size = std::fs::metadata(env.snaps.join(stored)).unwrap().len();
    for fixture in [&s3 as &dyn Fixture, &gcs] {
        let listed = fixture.storage().list().unwrap();
        assert_eq!(listed.len(), 1, "{}", fixture.prefix());
        assert_eq!(listed[0].size, size, "{}", fixture.prefix());
        assert!(fixture.no_unfinished_uploads());
        // What landed is the whole snapshot: fetch it back and verify it.
        let back = env.root.path().join(format!("back-{}", fixture.prefix()));
        fixture.storage().download(&listed[0].name, &back).unwrap();
        let verified = env.run(&["verify", back.to_str().unwrap()]);
        assert_code(&verified, 0);
    }
}

/// A part that answers 503 every time is tried 5 times (the policy's bound), within seconds,
/// and then fails that storage only.
#[test]
fn a_part_that_fails_every_time_fails_that_storage_after_the_bound() {
    let Some(s3) = S3Fixture::new() else {
        return;
    };
    let s3_proxy = fail_first("127.0.0.1:5055", usize::MAX, 503, is_s3_part_2);
    let vault = VaultStandIn::start(valid_archive(9 << 20));
    let env = TestEnv::new();
    env.write_config(
        &vault,
        json!({"aws_storage": s3_section(&s3, &s3_proxy.url())}),
    );
    let started = Instant::now();
    let outcome = env.run(&["once"]);
    let took = started.elapsed();
    assert_code(&outcome, 1);
    assert_eq!(seen(&s3_proxy, is_s3_part_2), 5, "{}", outcome.stderr);
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_contains!(outcome.stderr, "retry 4 of 4");
    assert_contains!(outcome.stderr, "Successfully created local snapshot");
    assert!(s3.storage().list().unwrap().is_empty());
    assert!(s3.no_unfinished_uploads());
}

/// With `frequency: 1h`, a failed cycle is tried again after `retry_interval` (1s), then 2s,
/// then 4s, instead of an hour later; the first cycle that succeeds stores the snapshot.
#[test]
fn run_retries_a_failed_cycle_soon_and_backs_off() {
    use crate::env::LiveRun;
    use crate::vault_stand_in::SnapshotFault;
    let vault = VaultStandIn::start(valid_archive(1000));
    vault.state().fault = SnapshotFault::ServerError;
    let env = TestEnv::new();
    env.write_config(&vault, json!({"frequency": "1h", "retry_interval": "1s"}));
    let limit = Duration::from_secs(20);
    let run = LiveRun::start(env.command(&["run"]));
    let mut at = 0;
    for (wait, nth) in [("1s", 1), ("2s", 2), ("4s", 3)] {
        at = run.wait_for(
            at,
            &[&format!("Trying again in {wait} (failure {nth} in a row)")],
            limit,
        );
    }
    assert_eq!(run.log().matches("stand-in failure").count(), 3);
    vault.state().fault = SnapshotFault::None;
    run.wait_for(at, &["Successfully created local snapshot"], limit);
    let outcome = run.stop();
    assert_code(&outcome, 0);
    assert_eq!(env.files().len(), 1);
    // After a success, the schedule is `frequency` again: no retry line after it.
    let after = &outcome.stderr[outcome.stderr.find("Successfully created").unwrap()..];
    assert!(!after.contains("Trying again"), "{after}");
}
