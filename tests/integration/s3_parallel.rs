//! S3 multipart uploads with parts in parallel (`s3_upload_concurrency`), against moto
//! through the fault proxy: the parts really overlap, a part that fails twice is sent again on
//! its own and the upload lands whole, and a part that fails for good aborts the upload,
//! leaving nothing listed and no unfinished upload.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vault_raft_snapshot::archive::build::pseudo_random_bytes;
use vault_raft_snapshot::shutdown::StopFlag;
use vault_raft_snapshot::snapshot_name::SnapshotName;
use vault_raft_snapshot::storage::Storage;
use vault_raft_snapshot::storage::s3::S3Storage;

use crate::conformance::{S3Fixture, raw_s3_bucket, s3_config, unique_prefix};
use crate::fault_proxy::{Action, FaultProxy, Request};

/// The part number of an `UploadPart` request, if it is one.
fn part_number(r: &Request) -> Option<u32> {
    if r.method != "PUT" {
        return None;
    }
    let query = r.target.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("partNumber="))
        .and_then(|n| n.parse().ok())
}

/// A storage through `proxy` with 5 MiB parts, `concurrency` at a time, under a new prefix.
fn storage(proxy: &FaultProxy, concurrency: usize) -> (S3Storage, String) {
    let prefix = unique_prefix();
    let mut config = s3_config(&prefix);
    config.endpoint = Some(proxy.url());
    config.upload_concurrency = concurrency;
    let storage = S3Storage::new(config).with_part_size(5 << 20);
    (storage, prefix)
}

/// How many multipart uploads under `prefix/` are begun and neither completed nor aborted.
pub(crate) fn unfinished_uploads(prefix: &str) -> usize {
    raw_s3_bucket()
        .list_multiparts_uploads(Some(&format!("{prefix}/")), None)
        .unwrap()
        .iter()
        .map(|page| page.uploads.len())
        .sum()
}

#[test]
fn parts_go_in_parallel_and_a_part_failing_twice_is_resent_alone() {
    if S3Fixture::new().is_none() {
        return;
    }
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(0u32));
    let (flight, peak, failed) = (in_flight.clone(), most.clone(), failures.clone());
    let proxy = FaultProxy::start("127.0.0.1:5055", move |r: &Request| {
        let Some(number) = part_number(r) else {
            return Action::Forward;
        };
        // Each part is held a moment, so parts sent in parallel overlap here.
        let now = flight.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(300));
        flight.fetch_sub(1, Ordering::SeqCst);
        let mut failed = failed.lock().unwrap();
        if number == 3 && *failed < 2 {
            *failed += 1;
            return Action::Fail(503);
        }
        Action::Forward
    });
    let (storage, prefix) = storage(&proxy, 4);
    let work = tempfile::tempdir().unwrap();
    // Six parts: five of 5 MiB and the rest.
    let bytes = pseudo_random_bytes((25 << 20) + 12_345, 7);
    let staged = work.path().join("staged");
    std::fs::write(&staged, &bytes).unwrap();
    let name = SnapshotName::at(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    storage.upload(&staged, &name, &StopFlag::never()).unwrap();

    let key = format!("{prefix}/{name}");
    let landed = raw_s3_bucket().get_object(&key).unwrap();
    assert!(
        landed.bytes() == bytes.as_slice(),
        "the object is not what was sent"
    );
    assert!(
        most.load(Ordering::SeqCst) >= 2,
        "the parts went one at a time (at most {} in flight)",
        most.load(Ordering::SeqCst)
    );
    let mut sent: HashMap<u32, usize> = HashMap::new();
    for request in proxy.requests() {
        if let Some(number) = part_number(&request) {
            *sent.entry(number).or_default() += 1;
            assert!(
                request.headers.iter().any(|h| h == "content-md5"),
                "part {number} was sent without Content-MD5"
            );
        }
    }
    let mut counts: Vec<(u32, usize)> = sent.into_iter().collect();
    counts.sort_unstable();
    assert_eq!(
        counts,
        [(1, 1), (2, 1), (3, 3), (4, 1), (5, 1), (6, 1)],
        "only the failing part is sent again"
    );
    assert_eq!(unfinished_uploads(&prefix), 0);
}

#[test]
fn a_part_failing_for_good_aborts_the_parallel_upload() {
    if S3Fixture::new().is_none() {
        return;
    }
    let proxy = FaultProxy::start("127.0.0.1:5055", |r: &Request| match part_number(r) {
        Some(2) => Action::Fail(500),
        _ => Action::Forward,
    });
    let (storage, prefix) = storage(&proxy, 3);
    let work = tempfile::tempdir().unwrap();
    let staged = work.path().join("staged");
    std::fs::write(&staged, pseudo_random_bytes(40 << 20, 8)).unwrap();
    let name = SnapshotName::at(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_001));
    let error = storage
        .upload(&staged, &name, &StopFlag::never())
        .unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains("UploadPart 2"), "{text}");
    assert!(storage.list().unwrap().is_empty(), "a snapshot is listed");
    assert_eq!(unfinished_uploads(&prefix), 0, "the upload was not aborted");
    let requests = proxy.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.method == "DELETE" && r.target.contains("uploadId=")),
        "no AbortMultipartUpload was sent"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.method == "POST" && r.target.contains("uploadId=")),
        "the upload was completed"
    );
}

/// `once` over https to moto behind a private CA (trusted through `SSL_CERT_FILE`) with a
/// snapshot of three parts sent in parallel; `extra` is added to `aws_storage`. Returns the
/// agent's stderr.
fn once_over_tls(bucket: &str, extra: serde_json::Value) -> String {
    use crate::env::{TestEnv, valid_archive};
    use crate::vault_stand_in::VaultStandIn;
    use serde_json::json;

    let env = TestEnv::new();
    let (mut server, endpoint, ca) = crate::fanout::moto_over_tls(&env, bucket);
    let vault = VaultStandIn::start(valid_archive(12 << 20));
    let mut storage = json!({"access_key_id": "a", "secret_access_key": "b",
           "s3_endpoint": endpoint, "s3_force_path_style": true, "s3_bucket": bucket,
           "s3_part_size": "5MiB", "s3_upload_concurrency": 3});
    if let (Some(storage), Some(extra)) = (storage.as_object_mut(), extra.as_object()) {
        storage.extend(extra.clone());
    }
    env.write_config(
        &vault,
        json!({"local_storage": null, "aws_storage": storage}),
    );
    let out = env
        .command(&["once"])
        .env("SSL_CERT_FILE", &ca)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_contains!(
        stderr,
        "in 3 parts of 5 MiB, 3 at a time (at most 15 MiB of parts in memory)"
    );
    assert_contains!(
        stderr,
        format!("Successfully created aws snapshot to s3://{bucket}/")
    );
    stderr
}

/// Over https the parts go through our own signer without hashing their bytes
/// (UNSIGNED-PAYLOAD) and through the agent's trust store.
#[test]
fn a_parallel_upload_over_tls_with_a_private_ca_lands_and_is_checked() {
    if S3Fixture::new().is_none() {
        return;
    }
    let stderr = once_over_tls("tls-parts", serde_json::json!({}));
    assert_contains!(stderr, "parts in memory), UNSIGNED-PAYLOAD");
}

/// `s3_sign_payload`, for a store that refuses UNSIGNED-PAYLOAD: over https too, each part's
/// SHA-256 is signed, and moto takes it.
#[test]
fn s3_sign_payload_signs_each_part_over_tls() {
    if S3Fixture::new().is_none() {
        return;
    }
    let stderr = once_over_tls(
        "tls-signed-parts",
        serde_json::json!({"s3_sign_payload": true}),
    );
    assert_contains!(stderr, "parts in memory), each part's SHA-256 signed");
}

/// An answer to CompleteMultipartUpload that rust-s3 cannot read (some stores' XML root,
/// or garbled on the way), after the store did complete the upload.
fn garble_complete(response: Vec<u8>) -> Vec<u8> {
    let response = crate::fault_proxy::replace_once(
        response,
        b"<CompleteMultipartUploadResult",
        b"<CompleteMultipartUploadXXXXXX",
    );
    crate::fault_proxy::replace_once(
        response,
        b"</CompleteMultipartUploadResult>",
        b"</CompleteMultipartUploadXXXXXX>",
    )
}

#[test]
fn an_unreadable_answer_to_a_complete_that_landed_is_checked_not_taken_for_a_failure() {
    if S3Fixture::new().is_none() {
        return;
    }
    let proxy = FaultProxy::start("127.0.0.1:5055", |r: &Request| {
        let completes = r.method == "POST" && r.target.contains("uploadId=");
        if completes {
            Action::Rewrite(garble_complete)
        } else {
            Action::Forward
        }
    });
    let (storage, prefix) = storage(&proxy, 2);
    let work = tempfile::tempdir().unwrap();
    let bytes = pseudo_random_bytes((10 << 20) + 999, 11);
    let staged = work.path().join("staged");
    std::fs::write(&staged, &bytes).unwrap();
    let name = SnapshotName::at(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_100));
    storage.upload(&staged, &name, &StopFlag::never()).unwrap();
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.target.contains("uploadId=")),
        "no CompleteMultipartUpload went through the proxy"
    );
    let landed = raw_s3_bucket()
        .get_object(format!("{prefix}/{name}"))
        .unwrap();
    assert!(
        landed.bytes() == bytes.as_slice(),
        "the object is not what was sent"
    );
    assert_eq!(unfinished_uploads(&prefix), 0);
}

/// A store behind https that refuses `UNSIGNED-PAYLOAD` on UploadPart (as some S3-compatible
/// stores do), in front of moto: `once` fails by default, with the upload aborted and nothing
/// listed, and succeeds with `s3_sign_payload`, each part then carrying its SHA-256.
#[test]
fn a_store_refusing_unsigned_parts_over_tls_takes_them_with_s3_sign_payload() {
    use crate::env::{TestEnv, valid_archive};
    use crate::vault_stand_in::VaultStandIn;
    use serde_json::json;

    if S3Fixture::new().is_none() {
        return;
    }
    let pki = crate::tls::pki();
    let refuses_unsigned = |r: &Request| {
        if part_number(r).is_some() && r.header("x-amz-content-sha256") == Some("UNSIGNED-PAYLOAD")
        {
            Action::Fail(403)
        } else {
            Action::Forward
        }
    };
    let env = TestEnv::new();
    let ca = env.root.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let vault = VaultStandIn::start(valid_archive(12 << 20));
    let once = |proxy: &FaultProxy, prefix: &str, sign: bool| {
        env.write_config(
            &vault,
            json!({"local_storage": null, "aws_storage": {
                "access_key_id": "test-access-key", "secret_access_key": "test-secret-key",
                "s3_endpoint": proxy.url(), "s3_force_path_style": true,
                "s3_bucket": crate::conformance::BUCKET, "s3_key_prefix": prefix,
                "s3_part_size": "5MiB", "s3_upload_concurrency": 3, "s3_sign_payload": sign}}),
        );
        env.command(&["once"])
            .env("SSL_CERT_FILE", &ca)
            .output()
            .unwrap()
    };
    let listed = |prefix: &str| -> usize {
        raw_s3_bucket()
            .list(format!("{prefix}/"), None)
            .unwrap()
            .iter()
            .map(|page| page.contents.len())
            .sum()
    };

    let proxy = FaultProxy::start_tls(
        "127.0.0.1:5055",
        crate::tls::server_config(&pki, false),
        refuses_unsigned,
    );
    let prefix = unique_prefix();
    let out = once(&proxy, &prefix, false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_contains!(stderr, "UploadPart");
    assert_contains!(stderr, "answered 403");
    assert_eq!(listed(&prefix), 0, "a refused upload is listed");
    assert_eq!(unfinished_uploads(&prefix), 0, "the upload was not aborted");

    let proxy = FaultProxy::start_tls(
        "127.0.0.1:5055",
        crate::tls::server_config(&pki, false),
        refuses_unsigned,
    );
    let prefix = unique_prefix();
    let out = once(&proxy, &prefix, true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(listed(&prefix), 1, "{stderr}");
    let parts: Vec<Request> = proxy
        .requests()
        .into_iter()
        .filter(|r| part_number(r).is_some())
        .collect();
    assert_eq!(parts.len(), 3, "three parts were sent");
    for part in &parts {
        assert_eq!(
            part.header("x-amz-content-sha256"),
            Some(part.body_sha256.as_str()),
            "part {:?} was not signed with the SHA-256 of its bytes",
            part.target
        );
        assert!(part.header("content-md5").is_some(), "no Content-MD5");
    }
}
