//! One cycle, four storages: local, S3 (moto), GCS (fake-gcs-server) and Azure (Azurite).
//! Every storage receives the same verified bytes; when one fails, the others still get the
//! snapshot, the exit code is 1, the log says which failed and why, and the failed one is not
//! pruned.

use std::fs;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use vault_raft_snapshot::shutdown::StopFlag;
use vault_raft_snapshot::snapshot_name::SnapshotName;

use crate::conformance::{
    AZURE_ACCOUNT, AZURE_ENDPOINT, AZURE_KEY, AzureFixture, BUCKET, Fixture, GCS_ENDPOINT,
    GcsFixture, S3_ENDPOINT, S3Fixture,
};
use crate::env::{TestEnv, valid_archive};
use crate::fault_proxy::{Action, FaultProxy, Request};
use crate::vault_stand_in::VaultStandIn;

struct Clouds {
    s3: S3Fixture,
    gcs: GcsFixture,
    azure: AzureFixture,
}

fn clouds() -> Option<Clouds> {
    Some(Clouds {
        s3: S3Fixture::new()?,
        gcs: GcsFixture::new()?,
        azure: AzureFixture::new()?,
    })
}

fn storages(c: &Clouds) -> Value {
    json!({
        "aws_storage": {"access_key_id": "test-access-key", "secret_access_key": "test-secret-key",
                        "s3_endpoint": S3_ENDPOINT, "s3_force_path_style": true, "s3_region": "us-east-1",
                        "s3_bucket": BUCKET, "s3_key_prefix": c.s3.prefix()},
        "google_storage": {"bucket": BUCKET, "prefix": c.gcs.prefix()},
        "azure_storage": {"account_name": AZURE_ACCOUNT, "account_key": AZURE_KEY, "container_name": BUCKET,
                          "prefix": c.azure.prefix(), "endpoint": AZURE_ENDPOINT},
    })
}

fn merged(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base.as_object_mut().unwrap().insert(k.clone(), v.clone());
    }
    base
}

/// Two snapshots, two and three hours old, in `fixture`.
fn old_snapshots(fixture: &dyn Fixture) {
    let work = tempfile::tempdir().unwrap();
    let staged = work.path().join("old");
    for hours in [2, 3] {
        fs::write(
            staged.with_extension(hours.to_string()),
            b"old snapshot (stand-in bytes)",
        )
        .unwrap();
        let name = SnapshotName::at(SystemTime::now() - Duration::from_secs(hours * 3600));
        fixture
            .storage()
            .upload(
                &staged.with_extension(hours.to_string()),
                &name,
                &StopFlag::never(),
            )
            .unwrap();
    }
}

#[test]
fn every_storage_receives_the_same_verified_bytes() {
    let Some(clouds) = clouds() else { return };
    let archive = valid_archive(3 << 20);
    let vault = VaultStandIn::start(archive.clone());
    let env = TestEnv::new();
    env.write_config(&vault, storages(&clouds));
    let outcome = env
        .command(&["once"])
        .env("STORAGE_EMULATOR_HOST", GCS_ENDPOINT)
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&outcome.stderr);
    assert_eq!(outcome.status.code(), Some(0), "{stderr}");
    for secret in [AZURE_KEY, "test-secret-key"] {
        assert_not_contains!(stderr, secret, "a storage key leaked at trace level");
    }
    assert_not_contains!(
        stderr.to_ascii_lowercase(),
        "authorization:",
        "a signed header leaked"
    );
    for kind in ["local", "aws", "gcp", "azure"] {
        assert_contains!(
            stderr,
            format!("Successfully created {kind} snapshot to "),
            "{kind}"
        );
    }
    let local = &env.files()[0];
    assert!(fs::read(env.snaps.join(local)).unwrap() == archive);
    let name = SnapshotName::parse(local).unwrap();
    let work = tempfile::tempdir().unwrap();
    for (kind, fixture) in [
        ("aws", &clouds.s3 as &dyn Fixture),
        ("gcp", &clouds.gcs),
        ("azure", &clouds.azure),
    ] {
        let back = work.path().join(kind);
        fixture.storage().download(&name, &back).unwrap();
        assert!(
            fs::read(&back).unwrap() == archive,
            "{kind} holds different bytes"
        );
    }
}

#[test]
fn a_failing_storage_does_not_stop_the_others_and_is_not_pruned() {
    let Some(clouds) = clouds() else { return };
    let vault = VaultStandIn::start(valid_archive(100_000));
    let env = TestEnv::new();
    for fixture in [&clouds.s3 as &dyn Fixture, &clouds.gcs, &clouds.azure] {
        old_snapshots(fixture);
    }
    for hours in [2, 3] {
        let name = SnapshotName::at(SystemTime::now() - Duration::from_secs(hours * 3600));
        env.put(&name.to_string(), b"old snapshot (stand-in bytes)");
    }
    // S3 refuses the upload (moto rejects the storage class) but can still be listed.
    let mut config = merged(storages(&clouds), json!({"retain": 1}));
    config["aws_storage"]["s3_storage_class"] = json!("NOT_A_CLASS");
    env.write_config(&vault, config);
    let outcome = env
        .command(&["once"])
        .env("STORAGE_EMULATOR_HOST", GCS_ENDPOINT)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&outcome.stderr);
    assert_eq!(outcome.status.code(), Some(1), "{stderr}");
    assert_contains!(
        stderr,
        format!(
            "storing the snapshot in aws s3://{BUCKET}/{} failed",
            clouds.s3.prefix()
        )
    );
    assert_contains!(stderr, "InvalidStorageClass");
    for kind in ["local", "gcp", "azure"] {
        assert_contains!(
            stderr,
            format!("Successfully created {kind} snapshot to "),
            "{kind}"
        );
    }
    // The others were pruned to the new snapshot; S3 kept both old ones.
    assert_eq!(env.files().len(), 1);
    assert_eq!(clouds.gcs.storage().list().unwrap().len(), 1);
    assert_eq!(clouds.azure.storage().list().unwrap().len(), 1);
    let s3 = clouds.s3.storage().list().unwrap();
    assert_eq!(
        s3.len(),
        2,
        "the failed storage was pruned or got a partial object: {s3:?}"
    );
}

#[test]
fn an_unreachable_storage_fails_the_cycle_and_the_others_still_get_the_snapshot() {
    let Some(clouds) = clouds() else { return };
    let vault = VaultStandIn::start(valid_archive(10_000));
    let env = TestEnv::new();
    env.write_config(&vault, storages(&clouds));
    // Nothing listens on port 9.
    let outcome = env
        .command(&["once"])
        .env("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&outcome.stderr);
    assert_eq!(outcome.status.code(), Some(1), "{stderr}");
    assert_contains!(
        stderr,
        format!(
            "storing the snapshot in gcp gs://{BUCKET}/{}/ failed",
            clouds.gcs.prefix()
        )
    );
    assert_eq!(env.files().len(), 1);
    assert_eq!(clouds.s3.storage().list().unwrap().len(), 1);
    assert_eq!(clouds.azure.storage().list().unwrap().len(), 1);
}

#[test]
fn sse_headers_go_only_on_put_object_and_create_multipart_upload() {
    let Some(s3) = S3Fixture::new() else { return };
    // Through a proxy that records each request's headers (moto's own recorder shares one
    // file with every test running at the same time).
    let proxy = FaultProxy::start("127.0.0.1:5055", |_: &Request| Action::Forward);
    let mut config = crate::conformance::s3_config(s3.prefix());
    config.endpoint = Some(proxy.url());
    config.server_side_encryption = true;
    let storage = vault_raft_snapshot::storage::s3::S3Storage::new(config).with_part_size(5 << 20);
    let work = tempfile::tempdir().unwrap();
    let (small, large) = (work.path().join("small"), work.path().join("large"));
    fs::write(&small, b"small snapshot").unwrap();
    fs::write(
        &large,
        vault_raft_snapshot::archive::build::pseudo_random_bytes(11 << 20, 5),
    )
    .unwrap();
    use vault_raft_snapshot::storage::Storage;
    for staged in [&small, &large] {
        storage
            .upload(
                staged,
                &SnapshotName::at(SystemTime::now()),
                &StopFlag::never(),
            )
            .unwrap();
    }
    let mut seen = Vec::new();
    for request in proxy.requests() {
        let sse = request
            .headers
            .iter()
            .any(|k| k == "x-amz-server-side-encryption");
        let kind = match (request.method.as_str(), request.target.as_str()) {
            ("POST", u) if u.contains("uploads") => "CreateMultipartUpload",
            ("PUT", u) if u.contains("partNumber") => "UploadPart",
            ("POST", u) if u.contains("uploadId") => "CompleteMultipartUpload",
            ("PUT", _) => "PutObject",
            _ => continue,
        };
        seen.push((kind, sse));
    }
    let with: Vec<_> = seen
        .iter()
        .filter(|(_, sse)| *sse)
        .map(|(k, _)| *k)
        .collect();
    let without: Vec<_> = seen
        .iter()
        .filter(|(_, sse)| !*sse)
        .map(|(k, _)| *k)
        .collect();
    assert_eq!(with, ["PutObject", "CreateMultipartUpload"], "{seen:?}");
    assert!(
        without.iter().filter(|k| **k == "UploadPart").count() == 3,
        "{seen:?}"
    );
    assert!(without.contains(&"CompleteMultipartUpload"), "{seen:?}");
    assert!(
        !without.contains(&"PutObject") && !without.contains(&"CreateMultipartUpload"),
        "{seen:?}"
    );
}

/// moto over https with a server certificate of a private CA (files in `env`'s directory),
/// with `bucket` created: the server (the caller stops it by its PID), its endpoint and the
/// CA's file.
pub(crate) fn moto_over_tls(
    env: &TestEnv,
    bucket: &str,
) -> (std::process::Child, String, std::path::PathBuf) {
    let moto =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-servers/venv/bin/moto_server");
    assert!(
        moto.exists(),
        "{} is missing: run contrib/test-servers.sh start",
        moto.display()
    );
    let pki = crate::tls::pki();
    let (ca, cert, key) = (
        env.root.path().join("ca.pem"),
        env.root.path().join("cert.pem"),
        env.root.path().join("key.pem"),
    );
    fs::write(&ca, &pki.ca_pem).unwrap();
    fs::write(&cert, &pki.server_pem).unwrap();
    fs::write(&key, &pki.server_key_pem).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = std::process::Command::new(&moto)
        .current_dir(env.root.path())
        .args(["-H", "127.0.0.1", "-p", &port.to_string(), "-c"])
        .arg(&cert)
        .arg("-k")
        .arg(&key)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let endpoint = format!("https://127.0.0.1:{port}");
    let trusting = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(
                    ureq::tls::parse_pem(pki.ca_pem.as_bytes())
                        .filter_map(|i| match i.unwrap() {
                            ureq::tls::PemItem::Certificate(c) => Some(c),
                            _ => None,
                        })
                        .collect(),
                )))
                .build(),
        )
        .build()
        .new_agent();
    let started = std::time::Instant::now();
    while trusting
        .put(&format!("{endpoint}/{bucket}"))
        .send_empty()
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "moto with TLS did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, endpoint, ca)
}

#[test]
fn an_s3_compatible_endpoint_with_a_private_ca_is_trusted_through_ssl_cert_file() {
    if S3Fixture::new().is_none() {
        return;
    }
    let env = TestEnv::new();
    let (mut server, endpoint, ca) = moto_over_tls(&env, "tls-bucket");
    let vault = VaultStandIn::start(valid_archive(1000));
    env.write_config(
        &vault,
        json!({"local_storage": null, "aws_storage": {"access_key_id": "a", "secret_access_key": "b",
               "s3_endpoint": endpoint, "s3_force_path_style": true, "s3_bucket": "tls-bucket"}}),
    );
    let untrusted = env.command(&["once"]).output().unwrap();
    let trusted = env
        .command(&["once"])
        .env("SSL_CERT_FILE", &ca)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let untrusted_err = String::from_utf8_lossy(&untrusted.stderr);
    assert_eq!(untrusted.status.code(), Some(1), "{untrusted_err}");
    assert_contains!(untrusted_err.to_lowercase(), "certificate");
    let trusted_err = String::from_utf8_lossy(&trusted.stderr);
    assert_eq!(trusted.status.code(), Some(0), "{trusted_err}");
    assert_contains!(
        trusted_err,
        "Successfully created aws snapshot to s3://tls-bucket/"
    );
}

#[test]
fn a_refused_sas_token_never_appears_in_errors_or_trace_logs() {
    let Some(azure) = AzureFixture::new() else {
        return;
    };
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    env.write_config(
        &vault,
        json!({"local_storage": null, "azure_storage": {
            "account_name": AZURE_ACCOUNT, "container_name": BUCKET, "prefix": azure.prefix(),
            "endpoint": AZURE_ENDPOINT, "sas_token": "sv=2024-01-01&sp=rwdl&sig=SAS-SIGNATURE-VALUE"}}),
    );
    let outcome = env
        .command(&["once"])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&outcome.stderr);
    assert_eq!(outcome.status.code(), Some(1), "{stderr}");
    assert_contains!(stderr, "storing the snapshot in azure");
    assert_not_contains!(stderr, "SAS-SIGNATURE-VALUE", "the SAS token leaked");
}

/// One snapshot's fate in a JSON plan: name, keep, reasons.
type Fate = (String, bool, Vec<String>);

/// The `prune --dry-run --json` plan of every storage: (storage kind, fates).
fn json_plans(stdout: &[u8]) -> Vec<(String, Vec<Fate>)> {
    let doc: Value = serde_json::from_slice(stdout).unwrap();
    doc["storages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let snapshots = s["snapshots"]
                .as_array()
                .unwrap_or_else(|| panic!("{s}"))
                .iter()
                .map(|d| {
                    let reasons = d["reasons"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_str().unwrap().to_string())
                        .collect();
                    (
                        d["name"].as_str().unwrap().to_string(),
                        d["keep"].as_bool().unwrap(),
                        reasons,
                    )
                })
                .collect();
            (s["storage"].as_str().unwrap().to_string(), snapshots)
        })
        .collect()
}

#[test]
fn prune_plans_the_same_for_the_same_names_in_every_storage() {
    let Some(clouds) = clouds() else { return };
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    // 30 snapshots, every 29 hours from 2026-06-01 (across month ends), in all four storages.
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_272_000);
    let names: Vec<SnapshotName> = (0..30)
        .map(|i| SnapshotName::at(start + Duration::from_secs(i * 29 * 3600)))
        .collect();
    for name in &names {
        env.put(&name.to_string(), b"snapshot (stand-in bytes)");
        for fixture in [&clouds.s3 as &dyn Fixture, &clouds.gcs, &clouds.azure] {
            fixture.put_raw(
                &format!("{}/{name}", fixture.prefix()),
                b"snapshot (stand-in bytes)",
            );
        }
    }
    let mut config = storages(&clouds);
    for (key, value) in [
        ("retain_daily", 4),
        ("retain_weekly", 3),
        ("retain_monthly", 2),
    ] {
        config[key] = json!(value);
    }
    env.write_config(&vault, config);

    // As if it were 2026-07-01: the snapshots after it count as future.
    let dry = env
        .command(&[
            "prune",
            "--dry-run",
            "--json",
            "--now",
            "2026-07-01T00:00:00Z",
        ])
        .env("STORAGE_EMULATOR_HOST", GCS_ENDPOINT)
        .output()
        .unwrap();
    assert_eq!(
        dry.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let plans = json_plans(&dry.stdout);
    let storages: Vec<&str> = plans.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(storages, ["local-0", "aws-0", "gcp-0", "azure-0"]);
    for (kind, plan) in &plans[1..] {
        assert_eq!(plan, &plans[0].1, "{kind} plans differently from local");
    }
    let local = &plans[0].1;
    assert_eq!(local.len(), 30);
    let future: Vec<_> = local
        .iter()
        .filter(|(_, _, r)| r.iter().any(|r| r.contains("future")))
        .collect();
    assert!(
        !future.is_empty() && future.iter().all(|(_, keep, _)| *keep),
        "{local:?}"
    );
    assert!(
        local
            .iter()
            .any(|(_, _, r)| r.iter().any(|r| r.starts_with("monthly 2026-06"))),
        "{local:?}"
    );
    assert!(
        local.iter().any(|(_, keep, _)| !keep),
        "nothing would be deleted: {local:?}"
    );

    // The real prune (the clock is later than every name) deletes what its dry run planned,
    // and the same in every storage.
    let planned = env
        .command(&["prune", "--dry-run", "--json"])
        .env("STORAGE_EMULATOR_HOST", GCS_ENDPOINT)
        .output()
        .unwrap();
    let mut kept: Vec<String> = json_plans(&planned.stdout)[0]
        .1
        .iter()
        .filter(|(_, keep, _)| *keep)
        .map(|(name, _, _)| name.clone())
        .collect();
    kept.sort();
    assert!(kept.len() < 30 && kept.len() >= 4, "{kept:?}");
    let real = env
        .command(&["prune"])
        .env("STORAGE_EMULATOR_HOST", GCS_ENDPOINT)
        .output()
        .unwrap();
    assert_eq!(
        real.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let mut left: Vec<String> = env.files();
    left.sort();
    assert_eq!(
        left, kept,
        "prune deleted other snapshots than its dry run planned"
    );
    for fixture in [&clouds.s3 as &dyn Fixture, &clouds.gcs, &clouds.azure] {
        let mut held: Vec<String> = fixture
            .storage()
            .list()
            .unwrap()
            .iter()
            .map(|e| e.name.to_string())
            .collect();
        held.sort();
        assert_eq!(
            held, left,
            "a cloud storage kept other snapshots than local"
        );
    }
}
