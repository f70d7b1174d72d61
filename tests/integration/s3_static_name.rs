//! `s3_static_snapshot_name`: the previous snapshot sits under the one fixed name, so a failed
//! or unverified upload must leave it byte for byte as it was. Against moto, through a fault
//! proxy that fails the upload's PUTs or misreports the size of what landed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use vault_raft_snapshot::archive::build::pseudo_random_bytes;
use vault_raft_snapshot::shutdown::StopFlag;
use vault_raft_snapshot::snapshot_name::SnapshotName;
use vault_raft_snapshot::storage::Storage;
use vault_raft_snapshot::storage::s3::S3Storage;

use crate::conformance::{S3Fixture, raw_s3_bucket, s3_config, unique_prefix};
use crate::fault_proxy::{Action, FaultProxy, Request, replace_once};

const FORWARD: u8 = 0;
const FAIL_PUTS: u8 = 1;
const MISREPORT_SIZE: u8 = 2;

/// Object keys under `prefix/`, as moto lists them.
fn keys(prefix: &str) -> Vec<String> {
    let bucket = raw_s3_bucket();
    let pages = bucket.list(format!("{prefix}/"), None).unwrap();
    let mut keys: Vec<String> = pages
        .into_iter()
        .flat_map(|p| p.contents.into_iter().map(|o| o.key))
        .collect();
    keys.sort();
    keys
}

fn misreport(response: Vec<u8>) -> Vec<u8> {
    // Any size but the real one: prefix the digits with a 9.
    let response = replace_once(response, b"Content-Length: ", b"Content-Length: 9");
    replace_once(response, b"content-length: ", b"content-length: 9")
}

#[test]
fn a_failed_or_unverified_upload_never_touches_the_last_good_object() {
    if S3Fixture::new().is_none() {
        return;
    }
    let mode = Arc::new(AtomicU8::new(FORWARD));
    let rule_mode = Arc::clone(&mode);
    let proxy = FaultProxy::start("127.0.0.1:5055", move |r: &Request| {
        match rule_mode.load(Ordering::SeqCst) {
            FAIL_PUTS if r.method == "PUT" => Action::Fail(500),
            MISREPORT_SIZE if r.method == "HEAD" => Action::Rewrite(misreport),
            _ => Action::Forward,
        }
    });
    let prefix = unique_prefix();
    let mut config = s3_config(&prefix);
    config.endpoint = Some(proxy.url());
    config.static_snapshot_name = Some("latest.snap".into());
    let storage = S3Storage::new(config).with_part_size(5 << 20);
    let work = tempfile::tempdir().unwrap();
    let stop = StopFlag::never();
    let stage = |n: u64, bytes: &[u8]| {
        let path = work.path().join(format!("staged-{n}"));
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let name = |n: u64| SnapshotName::at(std::time::UNIX_EPOCH + std::time::Duration::from_secs(n));
    let latest = format!("{prefix}/latest.snap");

    let good = pseudo_random_bytes(1000, 1);
    storage.upload(&stage(1, &good), &name(1), &stop).unwrap();
    assert_eq!(keys(&prefix), std::slice::from_ref(&latest));

    for (mode_now, size) in [
        (FAIL_PUTS, 2000),
        (FAIL_PUTS, 7 << 20),
        (MISREPORT_SIZE, 3000),
    ] {
        mode.store(mode_now, Ordering::SeqCst);
        let bad = pseudo_random_bytes(size, 2);
        let error = storage
            .upload(&stage(2, &bad), &name(2), &stop)
            .unwrap_err();
        eprintln!("failed as it should ({mode_now}, {size} bytes): {error:#}");
        mode.store(FORWARD, Ordering::SeqCst);
        let kept = raw_s3_bucket().get_object(&latest).unwrap();
        assert!(
            kept.bytes() == good.as_slice(),
            "the last good object changed"
        );
        assert_eq!(
            keys(&prefix),
            std::slice::from_ref(&latest),
            "a temporary key was left"
        );
    }

    let newer = pseudo_random_bytes(6 << 20, 3);
    storage.upload(&stage(3, &newer), &name(3), &stop).unwrap();
    assert!(raw_s3_bucket().get_object(&latest).unwrap().bytes() == newer.as_slice());
    assert_eq!(keys(&prefix), [latest], "the temporary key was not removed");
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.method == "PUT" && r.target.contains("latest.snap.tmp-")),
        "the upload did not go to a temporary key first"
    );
}
