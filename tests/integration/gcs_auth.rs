//! Google credentials against a local token endpoint: the service-account JWT is signed and
//! verified, authorized-user refresh tokens and the metadata server work, tokens are cached,
//! errors say what the endpoint said without leaking secrets, and the bearer token reaches the
//! storage API.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::json;
use vault_raft_snapshot::config::GcsConfig;
use vault_raft_snapshot::config::GoogleCredentials;
use vault_raft_snapshot::storage::Storage;
use vault_raft_snapshot::storage::gcs::GcsStorage;
use vault_raft_snapshot::storage::gcs::auth::{Authenticator, SCOPE};

#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

/// A one-thread HTTP server answering every request with `answer(request)`.
fn serve(
    answer: impl Fn(&Seen) -> (u16, String) + Send + 'static,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut parts = line.split_whitespace();
            let (method, path) = (
                parts.next().unwrap_or("").to_string(),
                parts.next().unwrap_or("").to_string(),
            );
            let mut headers = HashMap::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
                if let Some((k, v)) = h.trim_end().split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let length = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let request = Seen {
                method,
                path,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            log.lock().unwrap().push(request.clone());
            let (status, text) = answer(&request);
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (addr, seen)
}

fn form(body: &str) -> HashMap<String, String> {
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
    let (addr, seen) = serve(move |request| {
        let form = form(&request.body);
        assert_eq!(
            form["grant_type"],
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        );
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[format!("http://{}/token", request.headers["host"])]);
        let claims =
            jsonwebtoken::decode::<serde_json::Value>(&form["assertion"], &key, &validation)
                .expect("the JWT must verify with the service account's public key")
                .claims;
        assert_eq!(claims["iss"], "snapshots@project.iam.gserviceaccount.com");
        assert_eq!(claims["scope"], SCOPE);
        (
            200,
            json!({"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"}).to_string(),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let file = write_json(
        dir.path(),
        &json!({"type": "service_account", "client_email": "snapshots@project.iam.gserviceaccount.com",
                "private_key": fixture("gcs-test-key.pem"), "token_uri": format!("http://{addr}/token")}),
    );
    let mut auth = Authenticator::new(GoogleCredentials::File(file));
    let agent = agent();
    assert_eq!(auth.token(&agent).unwrap().unwrap().expose(), TOKEN);
    assert_eq!(auth.token(&agent).unwrap().unwrap().expose(), TOKEN);
    assert_eq!(seen.lock().unwrap().len(), 1, "the token was not cached");
}

#[test]
fn an_authorized_user_exchanges_its_refresh_token() {
    let (addr, seen) = serve(|_| {
        (
            200,
            json!({"access_token": TOKEN, "expires_in": 3600}).to_string(),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let file = write_json(
        dir.path(),
        &json!({"type": "authorized_user", "client_id": "id.apps.googleusercontent.com",
                "client_secret": "client-secret-value", "refresh_token": "1//refresh-value",
                "token_uri": format!("http://{addr}/token")}),
    );
    let mut auth = Authenticator::new(GoogleCredentials::File(file));
    assert_eq!(auth.token(&agent()).unwrap().unwrap().expose(), TOKEN);
    let request = seen.lock().unwrap()[0].clone();
    assert_eq!(request.method, "POST");
    let body = form(&request.body);
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(body["refresh_token"], "1//refresh-value");
    assert_eq!(body["client_secret"], "client-secret-value");
}

#[test]
fn the_metadata_server_is_asked_with_its_header() {
    let (addr, seen) = serve(|request| {
        if request.headers.get("metadata-flavor").map(String::as_str) != Some("Google") {
            return (403, "{}".into());
        }
        (
            200,
            json!({"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"}).to_string(),
        )
    });
    let mut auth = Authenticator::new(GoogleCredentials::Metadata(addr));
    assert_eq!(auth.token(&agent()).unwrap().unwrap().expose(), TOKEN);
    assert_eq!(
        seen.lock().unwrap()[0].path,
        "/computeMetadata/v1/instance/service-accounts/default/token"
    );
}

#[test]
fn a_refused_exchange_says_why_and_shows_no_secret() {
    let (addr, _) = serve(|_| {
        (
            400,
            json!({"error": "invalid_grant", "error_description": "Bad Request"}).to_string(),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let file = write_json(
        dir.path(),
        &json!({"type": "authorized_user", "client_id": "id", "client_secret": "client-secret-value",
                "refresh_token": "1//refresh-value", "token_uri": format!("http://{addr}/token")}),
    );
    let error = format!(
        "{:#}",
        Authenticator::new(GoogleCredentials::File(file))
            .token(&agent())
            .unwrap_err()
    );
    assert!(
        error.contains("400") && error.contains("invalid_grant"),
        "{error}"
    );
    assert!(
        !error.contains("client-secret-value") && !error.contains("refresh-value"),
        "{error}"
    );
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
    assert!(error.contains("not an RSA private key"), "{error}");
    assert!(!error.contains("SECRET-NOT-A-KEY"), "{error}");
}

#[test]
fn the_bearer_token_reaches_the_storage_api() {
    let (token_addr, _) = serve(|_| {
        (
            200,
            json!({"access_token": TOKEN, "expires_in": 3600}).to_string(),
        )
    });
    let (api_addr, seen) = serve(|_| (200, json!({"items": []}).to_string()));
    let dir = tempfile::tempdir().unwrap();
    let file = write_json(
        dir.path(),
        &json!({"type": "authorized_user", "client_id": "id", "client_secret": "s", "refresh_token": "r",
                "token_uri": format!("http://{token_addr}/token")}),
    );
    let storage = GcsStorage::new(GcsConfig {
        bucket: "b".into(),
        prefix: "p".into(),
        endpoint: format!("http://{api_addr}"),
        credentials: GoogleCredentials::File(file),
    });
    assert!(storage.list().unwrap().is_empty());
    let request = &seen.lock().unwrap()[0];
    assert_eq!(request.headers["authorization"], format!("Bearer {TOKEN}"));
    assert!(
        request.path.starts_with("/storage/v1/b/b/o?prefix=p%2F"),
        "{}",
        request.path
    );
}
