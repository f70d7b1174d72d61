//! What a cloud storage's error answer can put into the agent's output: GCS and Azure
//! answering a listing with an error whose message carries a forged log line, terminal
//! escapes and 5000 more characters. `list` names the failure, and prints none of the
//! escapes, no forged line and not the padding. (S3's case is in `s3_integrity`.)

use crate::conformance::{
    AZURE_ACCOUNT, AZURE_KEY, AzureFixture, BUCKET, GcsFixture, unique_prefix,
};
use crate::env::{TestEnv, valid_archive};
use crate::fault_proxy::{Action, FaultProxy, Request};
use crate::vault_stand_in::VaultStandIn;

const FORGED: &str =
    "denied\n[2026-01-01T00:00:00Z INFO ] Successfully created a snapshot\u{1b}[2J ";

fn answer(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn hostile_google_denial(_: Vec<u8>) -> Vec<u8> {
    let message = format!("{FORGED}{}", "x".repeat(5000));
    let body = serde_json::json!({"error": {"code": 403, "message": message}}).to_string();
    answer("403 Forbidden", "application/json", &body)
}

fn hostile_azure_denial(_: Vec<u8>) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthorizationFailure</Code>\
         <Message>{FORGED}{}</Message></Error>",
        "x".repeat(5000)
    );
    answer("403 Forbidden", "application/xml", &body)
}

/// `list` through a config whose only storage is `storage`; checks what it printed.
fn list_fails_plainly(env: &TestEnv, storage: serde_json::Value, gcs_host: Option<String>) {
    let vault = VaultStandIn::start(valid_archive(1000));
    let mut config = serde_json::json!({"local_storage": null});
    if let (Some(config), Some(storage)) = (config.as_object_mut(), storage.as_object()) {
        config.extend(storage.clone());
    }
    env.write_config(&vault, config);
    let mut command = env.command(&["list"]);
    if let Some(host) = gcs_host {
        command.env("STORAGE_EMULATOR_HOST", host);
    }
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("denied"),
        "the reason is not named: {stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    assert!(
        !stderr.contains("\n[2026-01-01T00:00:00Z INFO ]"),
        "a log line was forged: {stderr}"
    );
    assert!(
        !stderr.contains(&"x".repeat(1000)),
        "the error text was not cut ({} bytes): {stderr}",
        stderr.len()
    );
}

#[test]
fn a_gcs_error_message_is_cut_and_escaped() {
    if GcsFixture::new().is_none() {
        return;
    }
    let proxy = FaultProxy::start("127.0.0.1:4443", |r: &Request| {
        if r.method == "GET" && r.target.contains("/o?") {
            Action::Rewrite(hostile_google_denial)
        } else {
            Action::Forward
        }
    });
    let env = TestEnv::new();
    list_fails_plainly(
        &env,
        serde_json::json!({"google_storage": {"bucket": BUCKET, "prefix": unique_prefix()}}),
        Some(proxy.url()),
    );
    assert!(
        proxy.requests().iter().any(|r| r.target.contains("/o?")),
        "GCS was not asked for a listing"
    );
}

#[test]
fn an_azure_error_message_is_cut_and_escaped() {
    if AzureFixture::new().is_none() {
        return;
    }
    let proxy = FaultProxy::start("127.0.0.1:10000", |r: &Request| {
        if r.method == "GET" && r.target.contains("comp=list") {
            Action::Rewrite(hostile_azure_denial)
        } else {
            Action::Forward
        }
    });
    let env = TestEnv::new();
    list_fails_plainly(
        &env,
        serde_json::json!({"azure_storage": {"account_name": AZURE_ACCOUNT, "account_key": AZURE_KEY,
            "container_name": BUCKET, "prefix": unique_prefix(),
            "endpoint": format!("{}/{AZURE_ACCOUNT}", proxy.url())}}),
        None,
    );
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.target.contains("comp=list")),
        "Azure was not asked for a listing"
    );
}
