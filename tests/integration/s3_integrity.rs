//! What the S3 storage checks of its own uploads, against moto through the fault proxy.
//!
//! moto stores whatever bytes reach it (it accepts a wrong `Content-MD5`), as some
//! S3-compatible stores do: a snapshot damaged on its way there must still be refused by the
//! agent, from the ETags the store answers, and nothing of it left listed. And with SSE-KMS,
//! where a store's ETags are not MD5s, the completion must list the ETags the store answered.

use std::time::Duration;

use vault_raft_snapshot::archive::build::pseudo_random_bytes;
use vault_raft_snapshot::shutdown::StopFlag;
use vault_raft_snapshot::snapshot_name::SnapshotName;
use vault_raft_snapshot::storage::Storage;
use vault_raft_snapshot::storage::s3::S3Storage;

use crate::conformance::{S3Fixture, raw_s3_bucket, s3_config, unique_prefix};
use crate::fault_proxy::{Action, FaultProxy, Request};
use crate::s3_parallel::unfinished_uploads;

const MOTO: &str = "127.0.0.1:5055";

fn is_upload_part(r: &Request) -> bool {
    r.method == "PUT" && r.target.contains("partNumber=")
}

fn is_complete(r: &Request) -> bool {
    r.method == "POST" && r.target.contains("uploadId=")
}

fn storage_through(proxy: &FaultProxy, prefix: &str) -> S3Storage {
    let mut config = s3_config(prefix);
    config.endpoint = Some(proxy.url());
    config.upload_concurrency = 3;
    S3Storage::new(config).with_part_size(5 << 20)
}

fn staged(dir: &tempfile::TempDir, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join("staged");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn name(seconds: u64) -> SnapshotName {
    SnapshotName::at(std::time::UNIX_EPOCH + Duration::from_secs(seconds))
}

#[test]
fn a_part_damaged_on_the_way_is_refused_and_the_upload_aborted() {
    if S3Fixture::new().is_none() {
        return;
    }
    let prefix = unique_prefix();
    let proxy = FaultProxy::start(MOTO, |r: &Request| {
        if is_upload_part(r) && r.target.contains("partNumber=2&") {
            Action::CorruptBody
        } else {
            Action::Forward
        }
    });
    let storage = storage_through(&proxy, &prefix);
    let work = tempfile::tempdir().unwrap();
    let from = staged(&work, &pseudo_random_bytes((12 << 20) + 7, 21));
    let error = storage
        .upload(&from, &name(1_700_000_100), &StopFlag::never())
        .unwrap_err();
    let text = format!("{error:#}");
    assert!(
        text.contains("UploadPart 2 came back with ETag") && text.contains("not the MD5"),
        "{text}"
    );
    assert!(
        storage.list().unwrap().is_empty(),
        "a damaged snapshot is listed"
    );
    assert_eq!(unfinished_uploads(&prefix), 0, "the upload was not aborted");
    assert!(
        !proxy.requests().iter().any(is_complete),
        "the upload was completed"
    );
}

#[test]
fn a_small_snapshot_damaged_on_the_way_is_deleted_and_the_one_before_kept() {
    if S3Fixture::new().is_none() {
        return;
    }
    let prefix = unique_prefix();
    let work = tempfile::tempdir().unwrap();
    let good = pseudo_random_bytes(300_000, 22);
    let clean = FaultProxy::start(MOTO, |_: &Request| Action::Forward);
    storage_through(&clean, &prefix)
        .upload(
            &staged(&work, &good),
            &name(1_700_000_200),
            &StopFlag::never(),
        )
        .unwrap();

    // One PutObject (smaller than a part), damaged between the agent and the store.
    let damaging = FaultProxy::start(MOTO, |r: &Request| {
        if r.method == "PUT" {
            Action::CorruptBody
        } else {
            Action::Forward
        }
    });
    let storage = storage_through(&damaging, &prefix);
    let error = storage
        .upload(
            &staged(&work, &pseudo_random_bytes(300_000, 23)),
            &name(1_700_000_300),
            &StopFlag::never(),
        )
        .unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains("ETag"), "{text}");
    let listed: Vec<String> = storage
        .list()
        .unwrap()
        .iter()
        .map(|entry| entry.name.to_string())
        .collect();
    assert_eq!(listed, [name(1_700_000_200).to_string()]);
    let kept = raw_s3_bucket()
        .get_object(format!("{prefix}/{}", name(1_700_000_200)))
        .unwrap();
    assert!(kept.bytes() == good.as_slice(), "the good snapshot changed");
}

/// The ETag of an `UploadPart` answer made opaque, as stores return it under SSE-KMS.
fn opaque_etag(answer: Vec<u8>) -> Vec<u8> {
    let lower = answer.to_ascii_lowercase();
    let at = lower
        .windows(8)
        .position(|w| w == b"\r\netag: ")
        .expect("UploadPart answered an ETag")
        + 8;
    let at = if answer[at] == b'"' { at + 1 } else { at };
    [&answer[..at], b"kms-", &answer[at..]].concat()
}

/// The completion as moto needs it: its own ETags, the `kms-` the proxy added removed.
fn moto_etags(body: Vec<u8>) -> Vec<u8> {
    String::from_utf8(body)
        .unwrap()
        .replace("kms-", "")
        .into_bytes()
}

#[test]
fn with_sse_kms_the_completion_lists_the_etags_the_store_answered() {
    if S3Fixture::new().is_none() {
        return;
    }
    let prefix = unique_prefix();
    let proxy = FaultProxy::start(MOTO, |r: &Request| {
        if is_upload_part(r) {
            Action::Rewrite(opaque_etag)
        } else if is_complete(r) {
            Action::RewriteBody(moto_etags)
        } else {
            Action::Forward
        }
    });
    let mut config = s3_config(&prefix);
    config.endpoint = Some(proxy.url());
    config.kms_key_id = Some("arn:aws:kms:us-east-1:123456789012:key/test".into());
    let storage = S3Storage::new(config).with_part_size(5 << 20);
    let work = tempfile::tempdir().unwrap();
    let bytes = pseudo_random_bytes((10 << 20) + 99, 24);
    storage
        .upload(
            &staged(&work, &bytes),
            &name(1_700_000_400),
            &StopFlag::never(),
        )
        .unwrap();

    let requests = proxy.requests();
    let complete = requests
        .iter()
        .find(|r| is_complete(r))
        .expect("a CompleteMultipartUpload");
    let listed = String::from_utf8_lossy(&complete.body);
    assert_eq!(
        listed.matches("<ETag>\"kms-").count(),
        3,
        "the completion did not list the ETags UploadPart answered: {listed}"
    );
    let landed = raw_s3_bucket()
        .get_object(format!("{prefix}/{}", name(1_700_000_400)))
        .unwrap();
    assert!(
        landed.bytes() == bytes.as_slice(),
        "the object is not what was sent"
    );
}
