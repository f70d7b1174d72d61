//! What a cloud storage's answer can put into the agent's output: S3, GCS and Azure
//! answering a listing with an error (or, for S3, a listing it cannot parse) whose text
//! carries a forged log line, terminal escapes and 5000 more characters. `list` names the
//! failure, and prints none of the escapes, no forged line and not the padding.

use crate::conformance::{
    AZURE_ACCOUNT, AZURE_KEY, AzureFixture, BUCKET, GcsFixture, S3Fixture, unique_prefix,
};
use crate::env::{TestEnv, valid_archive};
use crate::fault_proxy::{Action, FaultProxy, Request};
use crate::vault_stand_in::VaultStandIn;

const FORGED: &str =
    "denied\n[2026-01-01T00:00:00Z INFO ] Successfully created a snapshot\u{1b}[2J ";

fn padding() -> String {
    "x".repeat(5000)
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

/// S3's 403 with the text in its error document's `<Message>`.
fn hostile_s3_denial(_: Vec<u8>) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>{FORGED}{}</Message>\
         </Error>",
        padding()
    );
    answer("403 Forbidden", "application/xml", &body)
}

/// A gateway's 502 page in front of S3: no error document, the same text in it.
fn hostile_gateway_page(_: Vec<u8>) -> Vec<u8> {
    let body = format!(
        "<html><body>Bad gateway: {FORGED}{}</body></html>",
        padding()
    );
    answer("502 Bad Gateway", "text/html", &body)
}

/// An S3 listing rust-s3 cannot parse, the text where a boolean belongs (its parser quotes
/// the value it refuses).
fn hostile_s3_listing(_: Vec<u8>) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\"?><ListBucketResult><Name>b</Name><Prefix></Prefix>\
         <KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>{FORGED}{}</IsTruncated>\
         </ListBucketResult>",
        padding()
    );
    answer("200 OK", "application/xml", &body)
}

fn hostile_google_denial(_: Vec<u8>) -> Vec<u8> {
    let message = format!("{FORGED}{}", padding());
    let body = serde_json::json!({"error": {"code": 403, "message": message}}).to_string();
    answer("403 Forbidden", "application/json", &body)
}

fn hostile_azure_denial(_: Vec<u8>) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthorizationFailure</Code>\
         <Message>{FORGED}{}</Message></Error>",
        padding()
    );
    answer("403 Forbidden", "application/xml", &body)
}

/// `list` with `storage` (a config object holding one storage) behind `proxy`, whose
/// listing answers are replaced: it fails, says each of `expected`, and prints neither escapes, a
/// forged line nor the padding. Checks the proxy was asked for the `listing`.
fn list_fails_plainly(
    proxy: &FaultProxy,
    listing: &str,
    storage: serde_json::Value,
    expected: &[&str],
) {
    let env = TestEnv::new();
    let vault = VaultStandIn::start(valid_archive(1000));
    let mut config = serde_json::json!({"local_storage": null});
    if let (Some(config), Some(storage)) = (config.as_object_mut(), storage.as_object()) {
        config.extend(storage.clone());
    }
    env.write_config(&vault, config);
    let out = env
        .command(&["list"])
        .env("STORAGE_EMULATOR_HOST", proxy.url())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for said in expected {
        assert!(stderr.contains(said), "{said:?} not in: {stderr}");
    }
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    assert!(
        !stderr.contains("\n[2026-01-01T00:00:00Z INFO ]"),
        "a log line was forged: {stderr}"
    );
    assert!(
        !stderr.contains(&"x".repeat(400)),
        "the text was not cut ({} bytes): {stderr}",
        stderr.len()
    );
    assert!(
        proxy.requests().iter().any(|r| r.target.contains(listing)),
        "the storage was not asked for a listing"
    );
}

/// A proxy to `upstream` answering every GET whose target holds `listing` with `rewrite`.
fn listing_proxy(
    upstream: &str,
    listing: &'static str,
    rewrite: fn(Vec<u8>) -> Vec<u8>,
) -> FaultProxy {
    FaultProxy::start(upstream, move |r: &Request| {
        if r.method == "GET" && r.target.contains(listing) {
            Action::Rewrite(rewrite)
        } else {
            Action::Forward
        }
    })
}

/// `list` of an S3 storage whose ListObjectsV2 answer is `rewrite`'s.
fn s3_list_fails_plainly(rewrite: fn(Vec<u8>) -> Vec<u8>, expected: &str) {
    let proxy = listing_proxy("127.0.0.1:5055", "list-type=2", rewrite);
    list_fails_plainly(
        &proxy,
        "list-type=2",
        serde_json::json!({"aws_storage": {
            "access_key_id": "test-access-key", "secret_access_key": "test-secret-key",
            "s3_endpoint": proxy.url(), "s3_force_path_style": true,
            "s3_bucket": BUCKET, "s3_key_prefix": unique_prefix()}}),
        &["ListObjectsV2 failed", expected],
    );
}

#[test]
fn an_s3_error_document_is_cut_to_its_code_and_a_short_message() {
    if S3Fixture::new().is_none() {
        return;
    }
    s3_list_fails_plainly(hostile_s3_denial, "AccessDenied: denied");
}

/// Without an error document the start of the answer is shown, not nothing.
#[test]
fn a_gateways_page_in_front_of_s3_is_shown_cut_not_dropped() {
    if S3Fixture::new().is_none() {
        return;
    }
    s3_list_fails_plainly(
        hostile_gateway_page,
        "502 with content '<html><body>Bad gateway: denied",
    );
}

#[test]
fn an_s3_answer_that_cannot_be_parsed_is_quoted_cut() {
    if S3Fixture::new().is_none() {
        return;
    }
    s3_list_fails_plainly(hostile_s3_listing, "the answer could not be read");
}

#[test]
fn a_gcs_error_message_is_cut_and_escaped() {
    if GcsFixture::new().is_none() {
        return;
    }
    let proxy = listing_proxy("127.0.0.1:4443", "/o?", hostile_google_denial);
    list_fails_plainly(
        &proxy,
        "/o?",
        serde_json::json!({"google_storage": {"bucket": BUCKET, "prefix": unique_prefix()}}),
        &["denied"],
    );
}

#[test]
fn an_azure_error_message_is_cut_and_escaped() {
    if AzureFixture::new().is_none() {
        return;
    }
    let proxy = listing_proxy("127.0.0.1:10000", "comp=list", hostile_azure_denial);
    list_fails_plainly(
        &proxy,
        "comp=list",
        serde_json::json!({"azure_storage": {"account_name": AZURE_ACCOUNT, "account_key": AZURE_KEY,
            "container_name": BUCKET, "prefix": unique_prefix(),
            "endpoint": format!("{}/{AZURE_ACCOUNT}", proxy.url())}}),
        &["denied"],
    );
}
