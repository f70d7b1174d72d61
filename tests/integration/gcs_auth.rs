//! Google credentials against a local token endpoint: the service-account JWT is signed and
//! verified, authorized-user refresh tokens and the metadata server work, tokens are cached,
//! errors say what the endpoint said without leaking secrets, and the bearer token reaches the
//! storage API.

use std::collections::HashMap;
use std::path::Path;

use serde_json::json;
use vault_raft_snapshot::config::GcsConfig;
use vault_raft_snapshot::config::GoogleCredentials;
use vault_raft_snapshot::storage::Storage;
use vault_raft_snapshot::storage::gcs::GcsStorage;
use vault_raft_snapshot::storage::gcs::auth::{Authenticator, SCOPE};

use crate::http_stub::{HttpStub, Response};

/// `application/x-www-form-urlencoded` into pairs.
pub(crate) fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn write_json(dir: &Path, value: &serde_json::Value) -> std::path::PathBuf {
    let path = dir.join("credentials.json");
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

const TOKEN: &str = "ya29.local-test-token";

#[test]
fn a_service_account_signs_a_jwt_and_the_token_is_cached() {
    let public = fixture("gcs-test-key.pub.pem");
    let endpoint = HttpStub::start(move |request| {
        let form = form(&request.body_text());
        assert_eq!(
            form["grant_type"],
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        );
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[format!("http://{}/token", request.header("host").unwrap())]);
        let claims =
            jsonwebtoken::decode::<serde_json::Value>(&form["assertion"], &key, &validation)
                .expect("the JWT must verify with the service account's public key")
                .claims;
        assert_eq!(claims["iss"], "snapshots@project.iam.gserviceaccount.com");
        assert_eq!(claims["scope"], SCOPE);
        Response::json(
            200,
            &json!({"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"}),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let file = write_json(
        dir.path(),
        &json!({"type": "service_account", "client_email": "snapshots@project.iam.gserviceaccount.com",
                "private_key": fixture("gcs-test-key.pem"), "token_uri": format!("{}/token", endpoint.url())}),
    );
    let mut auth = Authenticator::new(GoogleCredentials::File(file));
    let agent = agent();
    assert_eq!(auth.token(&agent).unwrap().unwrap().expose(), TOKEN);
    assert_eq!(auth.token(&agent).unwrap().unwrap().expose(), TOKEN);
    assert_eq!(endpoint.requests().len(), 1, "the token was not cached");
}

#[test]
fn an_authorized_user_exchanges_its_refresh_token() {
    let endpoint = HttpStub::start(|_| {
        Response::json(200, &json!({"access_token": TOKEN, "expires_in": 3600}))
    });
    let dir = tempfile::tempdir().unwrap();
    let file = write_json(
        dir.path(),
        &json!({"type": "authorized_user", "client_id": "id.apps.googleusercontent.com",
                "client_secret": "client-secret-value", "refresh_token": "1//refresh-value",
                "token_uri": format!("{}/token", endpoint.url())}),
    );
    let mut auth = Authenticator::new(GoogleCredentials::File(file));
    assert_eq!(auth.token(&agent()).unwrap().unwrap().expose(), TOKEN);
    let request = endpoint.requests()[0].clone();
    assert_eq!(request.method, "POST");
    let body = form(&request.body_text());
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(body["refresh_token"], "1//refresh-value");
    assert_eq!(body["client_secret"], "client-secret-value");
}

#[test]
fn the_metadata_server_is_asked_with_its_header() {
    let server = HttpStub::start(|request| {
        if request.header("metadata-flavor") != Some("Google") {
            return Response::json(403, &json!({}));
        }
        Response::json(
            200,
            &json!({"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"}),
        )
    });
    let mut auth = Authenticator::new(GoogleCredentials::Metadata(server.addr().to_string()));
    assert_eq!(auth.token(&agent()).unwrap().unwrap().expose(), TOKEN);
    assert_eq!(
        server.requests()[0].path,
        "/computeMetadata/v1/instance/service-accounts/default/token"
    );
}

#[test]
fn a_refused_exchange_says_why_and_shows_no_secret() {
    let endpoint = HttpStub::start(|_| {
        Response::json(
            400,
            &json!({"error": "invalid_grant", "error_description": "Bad Request"}),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let file = write_json(
        dir.path(),
        &json!({"type": "authorized_user", "client_id": "id", "client_secret": "client-secret-value",
                "refresh_token": "1//refresh-value", "token_uri": format!("{}/token", endpoint.url())}),
    );
    let error = format!(
        "{:#}",
        Authenticator::new(GoogleCredentials::File(file))
            .token(&agent())
            .unwrap_err()
    );
    assert_contains!(error, "400");
    assert_contains!(error, "invalid_grant");
    assert_not_contains!(error, "client-secret-value");
    assert_not_contains!(error, "refresh-value");
}

#[test]
fn a_credentials_file_that_is_not_one_is_refused_without_quoting_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_json(
        dir.path(),
        &json!({"type": "service_account", "client_email": "x", "private_key": "SECRET-NOT-A-KEY"}),
    );
    let error = format!(
        "{:#}",
        vault_raft_snapshot::storage::gcs::auth::CredentialsFile::read(&file)
            .err()
            .unwrap()
    );
    assert_contains!(error, "not an RSA private key");
    assert_not_contains!(error, "SECRET-NOT-A-KEY");
}

#[test]
fn the_bearer_token_reaches_the_storage_api() {
    let endpoint = HttpStub::start(|_| {
        Response::json(200, &json!({"access_token": TOKEN, "expires_in": 3600}))
    });
    let api = HttpStub::start(|_| Response::json(200, &json!({"items": []})));
    let dir = tempfile::tempdir().unwrap();
    let file = write_json(
        dir.path(),
        &json!({"type": "authorized_user", "client_id": "id", "client_secret": "s", "refresh_token": "r",
                "token_uri": format!("{}/token", endpoint.url())}),
    );
    let storage = GcsStorage::new(GcsConfig {
        bucket: "b".into(),
        prefix: "p".into(),
        endpoint: api.url(),
        credentials: GoogleCredentials::File(file),
    });
    assert!(storage.list().unwrap().is_empty());
    let request = &api.requests()[0];
    assert_eq!(
        request.header("authorization").unwrap(),
        format!("Bearer {TOKEN}")
    );
    assert!(
        request.path.starts_with("/storage/v1/b/b/o?prefix=p%2F"),
        "{}",
        request.path
    );
}
