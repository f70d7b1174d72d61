//! Cloud identity without static keys, and one trust store for everything, run through the
//! real binary:
//! - Azure workload identity (AKS): the federated token file is sent to a stand-in Entra ID
//!   token endpoint as the client assertion, and the access token it answers reaches a
//!   recording blob stand-in as the bearer token; likewise a service principal's secret;
//! - GCS `external_account` (workload identity federation): a stand-in STS receives the
//!   subject token from a file or URL, and the federated token is exchanged for a service
//!   account's at a stand-in IAM Credentials endpoint, in front of fake-gcs-server;
//! - a private CA in `SSL_CERT_FILE` is trusted by every storage (S3, GCS, Azure, through a
//!   TLS-terminating proxy in front of moto, fake-gcs-server and Azurite) and by Vault;
//! - `check` names where each storage's credentials come from, never a secret.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

use crate::conformance::{
    AZURE_ACCOUNT, AZURE_KEY, BUCKET, Fixture, GcsFixture, S3Fixture, server_up, unique_prefix,
};
use crate::env::{Outcome, TestEnv, assert_code, finish, valid_archive};
use crate::fault_proxy::read_head;
use crate::gcs_auth::form;
use crate::http_stub::{HttpStub, Request, Response};
use crate::tls::{Pki, pki};
use crate::vault_stand_in::VaultStandIn;

// ---------------------------------------------------------------- helpers

fn write(env: &TestEnv, name: &str, text: &str) -> PathBuf {
    let path = env.root.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the binary with `vars` set and every cloud variable of the developer's shell removed.
fn run_with(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Outcome {
    let mut command: Command = env.command(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("AZURE_")
            || key.starts_with("GOOGLE_")
            || key.starts_with("SSL_CERT")
            || key == "STORAGE_EMULATOR_HOST"
        {
            command.env_remove(key);
        }
    }
    for (key, value) in vars {
        command.env(key, value);
    }
    finish(command.spawn().unwrap(), Duration::from_secs(90))
}

/// The secret-looking strings that must never be printed.
fn assert_silent(outcome: &Outcome, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !outcome.stdout.contains(secret) && !outcome.stderr.contains(secret),
            "{secret:?} was printed:\n{}\n{}",
            outcome.stdout,
            outcome.stderr
        );
    }
}

// ---------------------------------------------------------------- Azure identity

const AZURE_ACCESS_TOKEN: &str = "azure-access-token-from-the-stand-in";
const TENANT: &str = "00000000-1111-2222-3333-444444444444";
const CLIENT_ID: &str = "55555555-6666-7777-8888-999999999999";

/// An Entra ID token endpoint that answers every POST /{tenant}/oauth2/v2.0/token.
fn entra_stand_in() -> HttpStub {
    HttpStub::start(|request| {
        if request.method == "POST" && request.path == format!("/{TENANT}/oauth2/v2.0/token") {
            Response::json(
                200,
                &json!({"access_token": AZURE_ACCESS_TOKEN, "expires_in": 3600,
                        "token_type": "Bearer"}),
            )
        } else {
            Response::new(404)
        }
    })
}

/// A blob service that lists an empty container, but only for the expected bearer token.
fn blob_stand_in() -> HttpStub {
    HttpStub::start(|request| {
        if request.header("authorization") != Some(&format!("Bearer {AZURE_ACCESS_TOKEN}")) {
            return Response::new(403).body("AuthenticationFailed");
        }
        Response::new(200)
            .header("Content-Type", "application/xml")
            .body(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults \
                 ContainerName=\"vrs-test\"><Blobs /><NextMarker /></EnumerationResults>",
            )
    })
}

fn azure_env(vault: &VaultStandIn, blobs: &HttpStub) -> TestEnv {
    let env = TestEnv::new();
    env.write_config(
        vault,
        json!({"local_storage": null,
               "azure_storage": {"account_name": "identityaccount", "container_name": BUCKET,
                                 "endpoint": format!("{}/identityaccount", blobs.url())}}),
    );
    env
}

fn token_requests(entra: &HttpStub) -> Vec<std::collections::HashMap<String, String>> {
    entra
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| form(&r.body_text()))
        .collect()
}

#[test]
fn azure_workload_identity_sends_the_federated_token_as_the_client_assertion() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let entra = entra_stand_in();
    let blobs = blob_stand_in();
    let env = azure_env(&vault, &blobs);
    let federated = "eyJhbGciOiJSUzI1NiJ9.federated-kubernetes-token.signature";
    let token_file = write(&env, "azure-identity-token", federated);
    let outcome = run_with(
        &env,
        &["check", "--connect"],
        &[
            ("AZURE_CLIENT_ID", CLIENT_ID),
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap()),
            ("AZURE_AUTHORITY_HOST", &entra.url()),
        ],
    );
    assert_code(&outcome, 0);
    assert_contains!(
        outcome.stdout,
        format!(
            "workload identity (federated token file {}, client id {CLIENT_ID}, tenant {TENANT}",
            token_file.display()
        )
    );
    assert_contains!(outcome.stdout, "ok    storage azure-0");
    assert_silent(&outcome, &[federated, AZURE_ACCESS_TOKEN]);

    let forms = token_requests(&entra);
    assert!(!forms.is_empty(), "no token request");
    let sent = &forms[0];
    assert_eq!(sent["client_assertion"], federated);
    assert_eq!(
        sent["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert_eq!(sent["client_id"], CLIENT_ID);
    assert_eq!(sent["grant_type"], "client_credentials");
    assert_eq!(sent["scope"], "https://storage.azure.com/.default");
    let listed: Vec<Request> = blobs.requests();
    assert!(
        listed.iter().any(|r| r.path.contains("comp=list")),
        "the blob stand-in was not listed: {:?}",
        listed.iter().map(Request::line).collect::<Vec<_>>()
    );
}

#[test]
fn an_azure_service_principal_sends_its_client_secret() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let entra = entra_stand_in();
    let blobs = blob_stand_in();
    let env = azure_env(&vault, &blobs);
    let secret = "service-principal-secret-value";
    let outcome = run_with(
        &env,
        &["check", "--connect"],
        &[
            ("AZURE_CLIENT_ID", CLIENT_ID),
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_SECRET", secret),
            ("AZURE_AUTHORITY_HOST", &entra.url()),
        ],
    );
    assert_code(&outcome, 0);
    assert_contains!(
        outcome.stdout,
        format!(
            "service principal (client secret from AZURE_CLIENT_SECRET, client id {CLIENT_ID}, tenant {TENANT}"
        )
    );
    assert_contains!(outcome.stdout, "ok    storage azure-0");
    assert_silent(&outcome, &[secret, AZURE_ACCESS_TOKEN]);
    let forms = token_requests(&entra);
    assert!(!forms.is_empty(), "no token request");
    assert_eq!(forms[0]["client_secret"], secret);
    assert_eq!(forms[0]["client_id"], CLIENT_ID);
    assert_eq!(forms[0]["grant_type"], "client_credentials");
}

#[test]
fn an_azure_account_key_in_the_config_wins_over_workload_identity_variables() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let entra = entra_stand_in();
    let env = TestEnv::new();
    env.write_config(
        &vault,
        json!({"azure_storage": {"account_name": AZURE_ACCOUNT, "container_name": BUCKET,
                                 "account_key": AZURE_KEY,
                                 "endpoint": "http://127.0.0.1:9/devstoreaccount1"}}),
    );
    let token_file = write(&env, "azure-identity-token", "federated");
    let outcome = run_with(
        &env,
        &["check"],
        &[
            ("AZURE_CLIENT_ID", CLIENT_ID),
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap()),
            ("AZURE_AUTHORITY_HOST", &entra.url()),
        ],
    );
    assert_code(&outcome, 0);
    assert_contains!(outcome.stdout, "account key (account_key <redacted>)");
    assert_silent(&outcome, &[AZURE_KEY]);
    assert!(
        entra.requests().is_empty(),
        "check without --connect sent a token request"
    );
}

// ---------------------------------------------------------------- GCS external_account

const STS_TOKEN: &str = "ya29.federated-sts-token";
const SA_TOKEN: &str = "ya29.impersonated-service-account-token";
const AUDIENCE: &str =
    "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/k8s";

/// Google's STS and IAM Credentials, and a subject token URL, on one stub.
fn google_stand_in() -> HttpStub {
    HttpStub::start(
        |request| match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/v1/token") => Response::json(
                200,
                &json!({"access_token": STS_TOKEN, "expires_in": 3600, "token_type": "Bearer",
                    "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"}),
            ),
            ("POST", path) if path.ends_with(":generateAccessToken") => {
                if request.header("authorization") == Some(&format!("Bearer {STS_TOKEN}")) {
                    Response::json(
                        200,
                        &json!({"accessToken": SA_TOKEN, "expireTime": "2099-01-01T00:00:00Z"}),
                    )
                } else {
                    Response::json(401, &json!({"error": {"status": "UNAUTHENTICATED"}}))
                }
            }
            ("GET", "/subject") if request.header("metadata") == Some("True") => {
                Response::json(200, &json!({"id_token": "subject-token-from-a-url"}))
            }
            _ => Response::new(404),
        },
    )
}

fn gcs_env(vault: &VaultStandIn, prefix: &str, credentials: &Value) -> TestEnv {
    let env = TestEnv::new();
    let file = write(&env, "external-account.json", &credentials.to_string());
    env.write_config(
        vault,
        json!({"google_storage": {"bucket": BUCKET, "prefix": prefix,
                                  "endpoint": "http://127.0.0.1:4443",
                                  "credentials_file": file}}),
    );
    env
}

fn sts_forms(google: &HttpStub) -> Vec<std::collections::HashMap<String, String>> {
    google
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/token")
        .map(|r| form(&r.body_text()))
        .collect()
}

#[test]
fn gcs_external_account_exchanges_a_file_token_at_sts_and_impersonates() {
    let Some(gcs) = GcsFixture::new() else {
        return;
    };
    let google = google_stand_in();
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let subject = write(&env, "k8s-token", "kubernetes-subject-token\n");
    let impersonation = format!(
        "{}/v1/projects/-/serviceAccounts/backup@p.iam.gserviceaccount.com:generateAccessToken",
        google.url()
    );
    let credentials = json!({
        "type": "external_account",
        "audience": AUDIENCE,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": format!("{}/v1/token", google.url()),
        "service_account_impersonation_url": impersonation,
        "credential_source": {"file": subject, "format": {"type": "text"}},
    });
    let env2 = gcs_env(&vault, gcs.prefix(), &credentials);
    let outcome = run_with(&env2, &["once"], &[]);
    assert_code(&outcome, 0);
    assert_silent(&outcome, &["kubernetes-subject-token", STS_TOKEN, SA_TOKEN]);

    let forms = sts_forms(&google);
    assert!(!forms.is_empty(), "no STS request");
    let sent = &forms[0];
    assert_eq!(
        sent["grant_type"],
        "urn:ietf:params:oauth:grant-type:token-exchange"
    );
    assert_eq!(sent["audience"], AUDIENCE);
    assert_eq!(sent["subject_token"], "kubernetes-subject-token");
    assert_eq!(
        sent["subject_token_type"],
        "urn:ietf:params:oauth:token-type:jwt"
    );
    assert_eq!(
        sent["requested_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(
        sent["scope"],
        "https://www.googleapis.com/auth/cloud-platform"
    );
    let impersonated: Vec<Request> = google
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with(":generateAccessToken"))
        .collect();
    assert_eq!(
        impersonated.len(),
        1,
        "one impersonation for the whole cycle"
    );
    let body: Value = serde_json::from_slice(&impersonated[0].body).unwrap();
    assert_eq!(
        body["scope"][0],
        "https://www.googleapis.com/auth/devstorage.read_write"
    );

    let checked = run_with(&env2, &["check"], &[]);
    assert_code(&checked, 0);
    assert_contains!(
        checked.stdout,
        format!(
            "external_account (token_url {}/v1/token, subject token file {}, impersonating via {impersonation})",
            google.url(),
            subject.display()
        )
    );
}

#[test]
fn gcs_external_account_reads_a_json_subject_token_from_a_url() {
    let Some(gcs) = GcsFixture::new() else {
        return;
    };
    let google = google_stand_in();
    let vault = VaultStandIn::start(valid_archive(1000));
    let credentials = json!({
        "type": "external_account",
        "audience": AUDIENCE,
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "token_url": format!("{}/v1/token", google.url()),
        "credential_source": {"url": format!("{}/subject", google.url()),
                              "headers": {"Metadata": "True"},
                              "format": {"type": "json", "subject_token_field_name": "id_token"}},
    });
    let env = gcs_env(&vault, gcs.prefix(), &credentials);
    let outcome = run_with(&env, &["check", "--connect"], &[]);
    assert_code(&outcome, 0);
    assert_contains!(outcome.stdout, "ok    storage gcp-0");
    assert_contains!(
        outcome.stdout,
        format!("subject token URL {}/subject", google.url())
    );
    let forms = sts_forms(&google);
    assert!(!forms.is_empty(), "no STS request");
    assert_eq!(forms[0]["subject_token"], "subject-token-from-a-url");
    assert_eq!(
        forms[0]["scope"],
        "https://www.googleapis.com/auth/devstorage.read_write"
    );
    assert_silent(&outcome, &["subject-token-from-a-url", STS_TOKEN]);
}

// ---------------------------------------------------------------- a private CA everywhere

/// A server configuration with `pki`'s certificate for 127.0.0.1.
fn server_tls(pki: &Pki) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = vec![CertificateDer::from_pem_slice(pki.server_pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(pki.server_key_pem.as_bytes()).unwrap();
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

/// A TLS-terminating proxy with a certificate from a private CA, in front of a plain-HTTP
/// server: each connection carries one request, sent upstream with `Connection: close`, and
/// the whole answer is sent back. It records each request's head.
struct TlsProxy {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<Vec<String>>>>,
}

impl TlsProxy {
    fn start(pki: &Pki, upstream: &str) -> Self {
        let config = server_tls(pki);
        let upstream = upstream.to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&heads);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let config = Arc::clone(&config);
                let recorded = Arc::clone(&recorded);
                let upstream = upstream.clone();
                std::thread::spawn(move || {
                    let _ = relay(stream, config, &upstream, &recorded);
                });
            }
        });
        Self { addr, heads }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    fn heads(&self) -> Vec<Vec<String>> {
        self.heads.lock().unwrap().clone()
    }
}

fn relay(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    upstream: &str,
    recorded: &Mutex<Vec<Vec<String>>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let connection = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut reader = BufReader::new(rustls::StreamOwned::new(connection, stream));
    let Some(head) = read_head(&mut reader)? else {
        return Ok(());
    };
    recorded.lock().unwrap().push(head.clone());
    let header = |name: &str| {
        head.iter().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let mut out = TcpStream::connect(upstream)?;
    let mut sent = String::new();
    sent.push_str(&head[0]);
    sent.push_str("\r\n");
    for line in head.iter().skip(1) {
        let name = line.split(':').next().unwrap_or_default().trim();
        if !name.eq_ignore_ascii_case("connection") {
            sent.push_str(line);
            sent.push_str("\r\n");
        }
    }
    sent.push_str("Connection: close\r\n\r\n");
    out.write_all(sent.as_bytes())?;
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            out.write_all(size_line.as_bytes())?;
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            out.write_all(&chunk)?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(length) = header("content-length").and_then(|v| v.parse::<u64>().ok()) {
        std::io::copy(&mut (&mut reader).take(length), &mut out)?;
    }
    out.flush()?;
    let mut answer = Vec::new();
    out.read_to_end(&mut answer)?;
    // A plain-HTTP server names itself http:// (fake-gcs-server's resumable session URL);
    // behind this proxy it is https://, as the real service says.
    if let Some(host) = header("host") {
        let end = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(answer.len());
        let head = String::from_utf8_lossy(&answer[..end])
            .replace(&format!("http://{host}"), &format!("https://{host}"));
        let mut rewritten = head.into_bytes();
        rewritten.extend_from_slice(&answer[end..]);
        answer = rewritten;
    }
    let tls = reader.get_mut();
    tls.write_all(&answer)?;
    tls.conn.send_close_notify();
    tls.flush()
}

/// A private CA in SSL_CERT_FILE or SSL_CERT_DIR: the run passes with either, and fails
/// naming the certificate without them.
fn trusted_only_with_ssl_cert_file(env: &TestEnv, pki: &Pki, args: &[&str]) -> Outcome {
    let ca = write(env, "private-ca.pem", &pki.ca_pem);
    let refused = run_with(env, args, &[]);
    assert_ne!(
        refused.code, 0,
        "trusted without the CA:\n{}",
        refused.stdout
    );
    assert_contains!(
        format!("{}{}", refused.stdout, refused.stderr).to_lowercase(),
        "certificate"
    );
    let trusted = run_with(env, args, &[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    assert_code(&trusted, 0);
    let dir = env.root.path().join("private-cas");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("internal.pem"), &pki.ca_pem).unwrap();
    let trusted = run_with(env, args, &[("SSL_CERT_DIR", dir.to_str().unwrap())]);
    assert_code(&trusted, 0);
    trusted
}

#[test]
fn gcs_trusts_a_private_ca_from_ssl_cert_file_or_dir() {
    let Some(gcs) = GcsFixture::new() else {
        return;
    };
    let pki = pki();
    let proxy = TlsProxy::start(&pki, "127.0.0.1:4443");
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    // An endpoint set in the file needs credentials: a service account whose token endpoint
    // is behind the same private CA.
    let token = crate::http_stub::HttpStub::start(|_| {
        Response::json(200, &json!({"access_token": "ya29.t", "expires_in": 3600}))
    });
    let token_proxy = TlsProxy::start(&pki, &token.addr().to_string());
    let key = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gcs-test-key.pem"),
    )
    .unwrap();
    let credentials = write(
        &env,
        "sa.json",
        &json!({"type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com",
                "private_key": key, "token_uri": format!("{}/token", token_proxy.url())})
        .to_string(),
    );
    env.write_config(
        &vault,
        json!({"local_storage": null,
               "google_storage": {"bucket": BUCKET, "prefix": gcs.prefix(),
                                  "endpoint": proxy.url(), "credentials_file": credentials}}),
    );
    trusted_only_with_ssl_cert_file(&env, &pki, &["once"]);
    assert!(
        proxy.heads().iter().any(|h| h
            .iter()
            .any(|l| l.eq_ignore_ascii_case("authorization: Bearer ya29.t"))),
        "the token did not reach the storage"
    );
    assert!(!token_proxy.heads().is_empty());
}

#[test]
fn azure_trusts_a_private_ca_from_ssl_cert_file_or_dir() {
    if !server_up("Azurite (Azure)", "127.0.0.1:10000") {
        return;
    }
    let pki = pki();
    let proxy = TlsProxy::start(&pki, "127.0.0.1:10000");
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    env.write_config(
        &vault,
        json!({"local_storage": null,
               "azure_storage": {"account_name": AZURE_ACCOUNT, "account_key": AZURE_KEY,
                                 "container_name": BUCKET, "prefix": unique_prefix(),
                                 "endpoint": format!("{}/{AZURE_ACCOUNT}", proxy.url())}}),
    );
    trusted_only_with_ssl_cert_file(&env, &pki, &["once"]);
    assert!(proxy.heads().iter().any(|h| h[0].starts_with("PUT ")));
}

#[test]
fn s3_trusts_a_private_ca_from_ssl_cert_file_or_dir() {
    let Some(s3) = S3Fixture::new() else {
        return;
    };
    let pki = pki();
    let proxy = TlsProxy::start(&pki, "127.0.0.1:5055");
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    env.write_config(
        &vault,
        json!({"local_storage": null,
               "aws_storage": {"access_key_id": "test-access-key",
                               "secret_access_key": "test-secret-key",
                               "s3_endpoint": proxy.url(), "s3_force_path_style": true,
                               "s3_region": "us-east-1", "s3_bucket": BUCKET,
                               "s3_key_prefix": s3.prefix()}}),
    );
    trusted_only_with_ssl_cert_file(&env, &pki, &["once"]);
    assert!(proxy.heads().iter().any(|h| h[0].starts_with("PUT ")));
}

#[test]
fn vault_trusts_a_private_ca_from_ssl_cert_file_or_dir() {
    let pki = pki();
    let vault = VaultStandIn::start_tls(valid_archive(1000), server_tls(&pki));
    let env = TestEnv::new();
    env.write_config(&vault, json!({}));
    trusted_only_with_ssl_cert_file(&env, &pki, &["once"]);
    assert_eq!(env.files().len(), 2);
}

// ---------------------------------------------------------------- check's credential lines

#[test]
fn check_names_the_source_of_sas_service_account_and_metadata_credentials() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let key = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gcs-test-key.pem"),
    )
    .unwrap();
    let sa = write(
        &env,
        "sa.json",
        &json!({"type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com",
                "private_key": key, "token_uri": "https://oauth2.example/token"})
        .to_string(),
    );
    let sas = "sv=2024-01-01&sp=rwdl&sig=c2VjcmV0LXNpZ25hdHVyZQ%3D%3D";
    env.write_config(
        &vault,
        json!({"storages": null,
               "google_storage": {"bucket": BUCKET, "endpoint": "http://127.0.0.1:9",
                                  "credentials_file": sa},
               "azure_storage": {"account_name": "a", "container_name": BUCKET,
                                 "sas_token": sas}}),
    );
    let outcome = run_with(&env, &["check"], &[("GCE_METADATA_HOST", "127.0.0.1:9")]);
    assert_code(&outcome, 0);
    assert_contains!(
        outcome.stdout,
        format!(
            "service account key file (sa@p.iam.gserviceaccount.com, token_uri https://oauth2.example/token) from {}",
            sa.display()
        )
    );
    assert_contains!(outcome.stdout, "SAS token (sas_token <redacted>)");
    assert_silent(&outcome, &["c2VjcmV0LXNpZ25hdHVyZQ", "PRIVATE KEY"]);

    env.write_config(
        &vault,
        json!({"google_storage": {"bucket": BUCKET, "endpoint": "http://127.0.0.1:9"}}),
    );
    let outcome = run_with(&env, &["check"], &[("GCE_METADATA_HOST", "127.0.0.1:9")]);
    assert_code(&outcome, 0);
    assert_contains!(outcome.stdout, "metadata server at 127.0.0.1:9");
}

#[test]
fn a_refused_token_exchange_fails_check_naming_the_endpoint_without_printing_secrets() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let refusing = HttpStub::start(|_| {
        Response::json(
            400,
            &json!({"error": "invalid_grant", "error_description": "audience mismatch"}),
        )
    });
    // Google: STS refuses the subject token.
    let gcs_env = TestEnv::new();
    let subject = write(&gcs_env, "k8s-token", "refused-subject-token");
    let credentials = json!({"type": "external_account", "audience": AUDIENCE,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": format!("{}/v1/token", refusing.url()),
        "credential_source": {"file": subject}});
    let file = write(&gcs_env, "external-account.json", &credentials.to_string());
    gcs_env.write_config(
        &vault,
        json!({"google_storage": {"bucket": BUCKET, "endpoint": "http://127.0.0.1:4443",
                                  "credentials_file": file}}),
    );
    let outcome = run_with(&gcs_env, &["check", "--connect"], &[]);
    assert_code(&outcome, 1);
    assert_contains!(
        outcome.stdout,
        format!(
            "FAIL  storage gcp-0: the Google token endpoint {}/v1/token answered 400 \"invalid_grant\"",
            refusing.url()
        )
    );
    assert_silent(&outcome, &["refused-subject-token"]);

    // Azure: Entra ID refuses the federated token.
    let blobs = blob_stand_in();
    let azure_env = azure_env(&vault, &blobs);
    let federated = "refused-federated-token";
    let token_file = write(&azure_env, "azure-identity-token", federated);
    let outcome = run_with(
        &azure_env,
        &["check", "--connect"],
        &[
            ("AZURE_CLIENT_ID", CLIENT_ID),
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap()),
            ("AZURE_AUTHORITY_HOST", &refusing.url()),
        ],
    );
    assert_code(&outcome, 1);
    assert_contains!(outcome.stdout, "FAIL  storage azure-0:");
    assert_silent(&outcome, &[federated]);
    assert_contains!(
        outcome.stdout,
        format!("POST {}/{TENANT}/oauth2/v2.0/token", refusing.url())
    );
    assert_contains!(outcome.stdout, "invalid_grant");
    assert!(blobs.requests().is_empty(), "listed without a token");
}
