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

fn unfinished_uploads(prefix: &str) -> usize {
    raw_s3_bucket()
        .list_multiparts_uploads(Some(&format!("{prefix}/")), None)
        .unwrap()
        .iter()
        .map(|page| page.uploads.len())
        .sum()
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

/// An answer of `status` with `body`.
fn answer(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

const FORGED: &str =
    "denied\n[2026-01-01T00:00:00Z INFO ] Successfully created aws snapshot\u{1b}[2J ";

/// A 403 whose error document carries a forged log line, terminal escapes and 5000 more
/// characters in its `<Message>`.
fn hostile_denial(_: Vec<u8>) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>{FORGED}{}</Message>\
         </Error>",
        "x".repeat(5000)
    );
    answer("403 Forbidden", "application/xml", &body)
}

/// A gateway's 502 page: no error document, the same text in it.
fn hostile_gateway_page(_: Vec<u8>) -> Vec<u8> {
    let body = format!(
        "<html><body>Bad gateway: {FORGED}{}</body></html>",
        "x".repeat(5000)
    );
    answer("502 Bad Gateway", "text/html", &body)
}

/// A listing rust-s3 cannot parse, the same text where a boolean belongs (its parser quotes
/// the value it refuses).
fn hostile_listing(_: Vec<u8>) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\"?><ListBucketResult><Name>b</Name><Prefix></Prefix>\
         <KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>{FORGED}{}</IsTruncated>\
         </ListBucketResult>",
        "x".repeat(5000)
    );
    answer("200 OK", "application/xml", &body)
}

/// `list` with ListObjectsV2's answer replaced by `rewrite`: it fails, names `expected`, and
/// prints neither escapes, a forged line nor the padding.
fn list_fails_plainly(rewrite: fn(Vec<u8>) -> Vec<u8>, expected: &str) {
    use crate::env::{TestEnv, valid_archive};
    use crate::vault_stand_in::VaultStandIn;

    let proxy = FaultProxy::start(MOTO, move |r: &Request| {
        if r.method == "GET" && r.target.contains("list-type=2") {
            Action::Rewrite(rewrite)
        } else {
            Action::Forward
        }
    });
    let env = TestEnv::new();
    let vault = VaultStandIn::start(valid_archive(1000));
    env.write_config(
        &vault,
        serde_json::json!({"local_storage": null, "aws_storage": {
            "access_key_id": "test-access-key", "secret_access_key": "test-secret-key",
            "s3_endpoint": proxy.url(), "s3_force_path_style": true,
            "s3_bucket": crate::conformance::BUCKET, "s3_key_prefix": unique_prefix()}}),
    );
    let out = env.command(&["list"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ListObjectsV2 failed") && stderr.contains(expected),
        "{expected:?} not in: {stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    assert!(
        !stderr.contains("\n[2026-01-01T00:00:00Z INFO ]"),
        "a log line was forged: {stderr}"
    );
    assert!(
        !stderr.contains(&"x".repeat(400)),
        "the answer was not cut ({} bytes): {stderr}",
        stderr.len()
    );
}

#[test]
fn a_buckets_error_document_is_cut_to_its_code_and_a_short_message() {
    if S3Fixture::new().is_none() {
        return;
    }
    list_fails_plainly(hostile_denial, "AccessDenied: denied");
}

/// Without an error document the start of the answer is shown, not nothing.
#[test]
fn a_gateways_page_is_shown_cut_not_dropped() {
    if S3Fixture::new().is_none() {
        return;
    }
    list_fails_plainly(
        hostile_gateway_page,
        "502 with content '<html><body>Bad gateway: denied",
    );
}

#[test]
fn an_answer_that_cannot_be_parsed_is_quoted_cut() {
    if S3Fixture::new().is_none() {
        return;
    }
    list_fails_plainly(hostile_listing, "the answer could not be read");
}
