//! AWS identity without static keys, through the real binary: IRSA exchanged at moto's STS
//! (`AWS_ENDPOINT_URL_STS`) then an upload to moto S3 with the temporary credentials, EKS
//! Pod Identity against a container-credentials stub that checks the token file, IMDSv2
//! against a stub that refuses IMDSv1, and the Vault `aws` login replayed to moto's STS by
//! the Vault stand-in. No key, session token or web identity token reaches a log line.

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::conformance::{BUCKET, S3_ENDPOINT, S3Fixture, raw_s3_bucket, unique_prefix};
use crate::env::{Outcome, TestEnv, assert_code, valid_archive};
use crate::fault_proxy::{Action, FaultProxy, Request as ProxyRequest};
use crate::http_stub::{HttpStub, Response};
use crate::vault_stand_in::VaultStandIn;

const WEB_IDENTITY_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.web-identity-token.sig";
const POD_TOKEN: &str = "pod-identity-authorization-token";
const TEMP_SECRET: &str = "tempSecretKeyFromTheContainerEndpoint";
const TEMP_SESSION: &str = "tempSessionTokenFromTheContainerEndpoint";

/// The binary with no AWS settings of the developer's, and `vars` set.
fn command(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut command = env.command(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") {
            command.env_remove(key);
        }
    }
    command.env("HOME", env.root.path());
    command.env("AWS_EC2_METADATA_DISABLED", "true");
    for (key, value) in vars {
        command.env(key, value);
    }
    command
}

fn run(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Outcome {
    crate::env::finish(
        command(env, args, vars).spawn().unwrap(),
        std::time::Duration::from_secs(60),
    )
}

/// A config for `vault` with an S3 storage at `endpoint` and no keys.
fn config(env: &TestEnv, vault: &VaultStandIn, endpoint: &str, prefix: &str) {
    env.write_config(
        vault,
        json!({
            "local_storage": null,
            "aws_storage": {
                "s3_bucket": BUCKET,
                "s3_key_prefix": prefix,
                "s3_region": "us-east-1",
                "s3_endpoint": endpoint,
                "s3_force_path_style": true,
            },
        }),
    );
}

/// Keys under `prefix/` in moto.
fn stored(prefix: &str) -> Vec<String> {
    raw_s3_bucket()
        .list(format!("{prefix}/"), None)
        .unwrap()
        .into_iter()
        .flat_map(|p| p.contents.into_iter().map(|o| o.key))
        .collect()
}

/// A proxy to moto S3 that refuses any request without a session token (so static keys or
/// no credentials fail), and records the methods that carried one.
fn s3_requiring_session_token() -> (FaultProxy, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let proxy = FaultProxy::start("127.0.0.1:5055", move |r: &ProxyRequest| {
        if r.headers.iter().any(|h| h == "x-amz-security-token") {
            record.lock().unwrap().push(r.method.clone());
            Action::Forward
        } else {
            Action::Fail(403)
        }
    });
    (proxy, seen)
}

fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            (k.to_string(), String::from_utf8(out).unwrap())
        })
        .collect()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

fn assert_no_secret(outcome: &Outcome, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !outcome.stderr.contains(secret) && !outcome.stdout.contains(secret),
            "{secret} was printed:\n{}\n{}",
            outcome.stdout,
            outcome.stderr
        );
    }
}

#[test]
fn irsa_exchanges_the_token_at_the_sts_endpoint_given_and_uploads_with_temporary_keys() {
    if S3Fixture::new().is_none() {
        return;
    }
    // STS: a stub that checks the exchange, then lets moto's STS answer it.
    let sts = HttpStub::start(|request| {
        let form = form(&request.body_text());
        assert_eq!(form["Action"], "AssumeRoleWithWebIdentity");
        assert_eq!(form["WebIdentityToken"], WEB_IDENTITY_TOKEN);
        assert_eq!(form["RoleArn"], "arn:aws:iam::123456789012:role/snapshots");
        assert_eq!(form["RoleSessionName"], "snap-session");
        let mut answer = agent()
            .post(format!("{S3_ENDPOINT}/"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(request.body.as_slice())
            .unwrap();
        let status = answer.status().as_u16();
        Response::new(status).body(answer.body_mut().read_to_string().unwrap())
    });
    let (s3, signed) = s3_requiring_session_token();
    let env = TestEnv::new();
    let vault = VaultStandIn::start(valid_archive(20_000));
    let prefix = unique_prefix();
    config(&env, &vault, &s3.url(), &prefix);
    let token_file = env.root.path().join("web-identity-token");
    std::fs::write(&token_file, format!("{WEB_IDENTITY_TOKEN}\n")).unwrap();
    let sts_url = sts.url();
    let vars = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/snapshots"),
        ("AWS_ROLE_SESSION_NAME", "snap-session"),
        ("AWS_ENDPOINT_URL_STS", sts_url.as_str()),
        ("AWS_REGION", "eu-central-1"),
        ("RUST_LOG", "trace"),
    ];
    let checked = run(&env, &["check"], &vars);
    assert_code(&checked, 0);
    assert_contains!(
        checked.stdout,
        format!(
            "AWS credentials: web identity (IRSA): role arn:aws:iam::123456789012:role/snapshots, token file {}, STS {sts_url}",
            token_file.display()
        )
    );
    let outcome = run(&env, &["once"], &vars);
    assert_code(&outcome, 0);
    assert_eq!(sts.requests().len(), 1, "one exchange for the whole cycle");
    assert!(signed.lock().unwrap().contains(&"PUT".to_string()));
    assert_eq!(stored(&prefix).len(), 1, "{:?}", stored(&prefix));
    assert_no_secret(&outcome, &[WEB_IDENTITY_TOKEN]);

    // Without the override, a region means its own STS host, never the global one.
    let regional = run(
        &env,
        &["check"],
        &[
            ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/snapshots"),
            ("AWS_REGION", "eu-central-1"),
        ],
    );
    assert_contains!(
        regional.stdout,
        "STS https://sts.eu-central-1.amazonaws.com"
    );
}

#[test]
fn a_refused_web_identity_names_the_source_and_url_and_not_the_token() {
    let sts = HttpStub::start(|_| {
        Response::new(403).body(
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error></ErrorResponse>",
        )
    });
    let env = TestEnv::new();
    let vault = VaultStandIn::start(valid_archive(2_000));
    config(&env, &vault, S3_ENDPOINT, &unique_prefix());
    let token_file = env.root.path().join("token");
    std::fs::write(&token_file, WEB_IDENTITY_TOKEN).unwrap();
    let outcome = run(
        &env,
        &["once"],
        &[
            ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/snapshots"),
            ("AWS_ENDPOINT_URL_STS", &sts.url()),
            ("RUST_LOG", "trace"),
        ],
    );
    assert_code(&outcome, 1);
    assert_contains!(
        outcome.stderr,
        format!(
            "web identity (IRSA): AssumeRoleWithWebIdentity at {}/ answered 403: AccessDenied: Not authorized",
            sts.url()
        )
    );
    assert_no_secret(&outcome, &[WEB_IDENTITY_TOKEN]);
}

/// A container-credentials endpoint (EKS Pod Identity agent) that wants the token.
fn container_endpoint() -> HttpStub {
    container_endpoint_expiring_in(3600)
}

/// The same, its credentials expiring `seconds` after each answer.
fn container_endpoint_expiring_in(seconds: u64) -> HttpStub {
    HttpStub::start(move |request| {
        if request.header("authorization") != Some(POD_TOKEN) {
            return Response::new(401).body(r#"{"message": "bad token"}"#);
        }
        let expires = std::time::SystemTime::now() + std::time::Duration::from_secs(seconds);
        let secs = expires
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let days = secs / 86_400;
        let (y, m, d) = civil(days as i64);
        let rest = secs % 86_400;
        let expiration = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rest / 3600,
            rest / 60 % 60,
            rest % 60
        );
        Response::json(
            200,
            &json!({
                "AccessKeyId": "ASIAPODIDENTITY",
                "SecretAccessKey": TEMP_SECRET,
                "Token": TEMP_SESSION,
                "AccountId": "123456789012",
                "Expiration": expiration,
            }),
        )
    })
}

fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[test]
fn pod_identity_sends_the_token_file_and_uploads_with_what_it_returns() {
    if S3Fixture::new().is_none() {
        return;
    }
    let endpoint = container_endpoint();
    let (s3, signed) = s3_requiring_session_token();
    let env = TestEnv::new();
    let vault = VaultStandIn::start(valid_archive(20_000));
    let prefix = unique_prefix();
    config(&env, &vault, &s3.url(), &prefix);
    let token_file = env.root.path().join("eks-pod-identity-token");
    std::fs::write(&token_file, format!("{POD_TOKEN}\n")).unwrap();
    let url = format!("{}/v1/credentials", endpoint.url());
    let vars = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.as_str()),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.to_str().unwrap(),
        ),
        ("RUST_LOG", "trace"),
    ];
    let checked = run(&env, &["check"], &vars);
    assert_contains!(
        checked.stdout,
        format!("AWS credentials: container credentials (EKS Pod Identity or ECS) at {url}")
    );
    let outcome = run(&env, &["once"], &vars);
    assert_code(&outcome, 0);
    let requests = endpoint.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path, "/v1/credentials");
    assert!(signed.lock().unwrap().contains(&"PUT".to_string()));
    assert_eq!(stored(&prefix).len(), 1);
    assert_no_secret(&outcome, &[POD_TOKEN, TEMP_SECRET, TEMP_SESSION]);

    // A wrong token: the error names the source and URL and what the endpoint said.
    std::fs::write(&token_file, "stale-token").unwrap();
    let refused = run(&env, &["once"], &vars);
    assert_code(&refused, 1);
    assert_contains!(
        refused.stderr,
        format!("container credentials at {url} answered 401: bad token")
    );
    assert_no_secret(&refused, &["stale-token"]);
}

#[test]
fn imdsv2_takes_a_session_token_first_and_never_falls_back_to_imdsv1() {
    if S3Fixture::new().is_none() {
        return;
    }
    const SESSION: &str = "imds-session-token-value";
    let imds = HttpStub::start(|request| {
        if request.method == "PUT" && request.path == "/latest/api/token" {
            assert_eq!(
                request.header("x-aws-ec2-metadata-token-ttl-seconds"),
                Some("21600")
            );
            return Response::new(200).body(SESSION);
        }
        if request.header("x-aws-ec2-metadata-token") != Some(SESSION) {
            // IMDSv1 is off on this "instance".
            return Response::new(401);
        }
        match request.path.as_str() {
            "/latest/meta-data/iam/security-credentials/" => {
                Response::new(200).body("snapshot-role\n")
            }
            "/latest/meta-data/iam/security-credentials/snapshot-role" => Response::json(
                200,
                &json!({
                    "Code": "Success",
                    "Type": "AWS-HMAC",
                    "AccessKeyId": "ASIAINSTANCE",
                    "SecretAccessKey": TEMP_SECRET,
                    "Token": TEMP_SESSION,
                    "Expiration": "2999-01-01T00:00:00Z",
                }),
            ),
            _ => Response::new(404),
        }
    });
    let (s3, signed) = s3_requiring_session_token();
    let env = TestEnv::new();
    let vault = VaultStandIn::start(valid_archive(20_000));
    let prefix = unique_prefix();
    config(&env, &vault, &s3.url(), &prefix);
    let mut cmd = command(&env, &["once"], &[("RUST_LOG", "trace")]);
    cmd.env_remove("AWS_EC2_METADATA_DISABLED");
    cmd.env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url());
    let outcome = crate::env::finish(cmd.spawn().unwrap(), std::time::Duration::from_secs(60));
    assert_code(&outcome, 0);
    let requests = imds.requests();
    assert_eq!(requests[0].line(), "PUT /latest/api/token", "{requests:?}");
    assert!(
        requests
            .iter()
            .skip(1)
            .all(|r| r.header("x-aws-ec2-metadata-token") == Some(SESSION)),
        "{requests:?}"
    );
    assert!(signed.lock().unwrap().contains(&"PUT".to_string()));
    assert_eq!(stored(&prefix).len(), 1);
    assert_no_secret(&outcome, &[SESSION, TEMP_SECRET, TEMP_SESSION]);
}

/// Replays the login's signed request to moto's STS, as Vault's aws auth method replays it
/// to AWS: accepted when STS answers 200 to GetCallerIdentity.
fn replay_to_sts(body: &Value, server_id: &str, sts_url: &str) -> bool {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let decode = |key: &str| -> Vec<u8> {
        STANDARD
            .decode(body[key].as_str().unwrap_or_default())
            .unwrap_or_default()
    };
    if body["role"] != "snapshots" || body["iam_http_request_method"] != "POST" {
        return false;
    }
    let url = String::from_utf8(decode("iam_request_url")).unwrap_or_default();
    if url != sts_url {
        return false;
    }
    let headers: HashMap<String, Vec<String>> =
        serde_json::from_slice(&decode("iam_request_headers")).unwrap_or_default();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first().cloned())
    };
    let signed_with_server_id = header("authorization").is_some_and(|a| {
        a.contains("Credential=AKIAVAULTLOGIN/")
            && a.contains("/us-east-1/sts/aws4_request")
            && a.contains("x-vault-aws-iam-server-id")
    });
    if header("x-vault-aws-iam-server-id").as_deref() != Some(server_id) || !signed_with_server_id {
        return false;
    }
    let mut request = agent().post(url);
    for (name, values) in &headers {
        for value in values {
            request = request.header(name, value);
        }
    }
    let Ok(mut answer) = request.send(decode("iam_request_body").as_slice()) else {
        return false;
    };
    let text = answer.body_mut().read_to_string().unwrap_or_default();
    answer.status() == 200 && text.contains("<GetCallerIdentityResult>")
}

#[test]
fn the_aws_login_signs_get_caller_identity_that_sts_accepts() {
    if !crate::conformance::server_up("moto (STS)", "127.0.0.1:5055") {
        return;
    }
    const SECRET_KEY: &str = "vaultLoginSecretKeyNeverLogged";
    const SESSION: &str = "vaultLoginSessionTokenNeverLogged";
    let env = TestEnv::new();
    let vault = VaultStandIn::start(valid_archive(2_000));
    let sts_url = format!("{S3_ENDPOINT}/");
    let expected = sts_url.clone();
    vault.state().login_hooks.push((
        "aws-eks".into(),
        Arc::new(move |body: &Value| replay_to_sts(body, "vault.example.com", &expected)),
    ));
    env.write_config(
        &vault,
        json!({
            "role_id": null,
            "secret_id": null,
            "vault_auth_method": "aws",
            "aws_auth_role": "snapshots",
            "aws_auth_path": "aws-eks",
            "aws_auth_header_value": "vault.example.com",
        }),
    );
    let vars = [
        ("AWS_ACCESS_KEY_ID", "AKIAVAULTLOGIN"),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_SESSION_TOKEN", SESSION),
        ("AWS_ENDPOINT_URL_STS", S3_ENDPOINT),
        ("RUST_LOG", "trace"),
    ];
    let outcome = run(&env, &["once"], &vars);
    assert_code(&outcome, 0);
    assert_contains!(outcome.stderr, "Logged in to Vault with AWS");
    assert_eq!(env.files().len(), 1, "{:?}", env.files());
    assert_eq!(vault.requests_to("/v1/auth/aws-eks/login").len(), 1);
    assert_no_secret(&outcome, &[SECRET_KEY, SESSION]);

    let checked = run(&env, &["check"], &vars);
    assert_code(&checked, 0);
    assert_contains!(
        checked.stdout,
        "AWS at auth/aws-eks, role snapshots, region from AWS_REGION (default us-east-1), server ID header vault.example.com; credentials: static keys from the environment (AWS_ACCESS_KEY_ID)"
    );

    // Another server ID is not what was signed: the stand-in (as Vault) refuses the login.
    let mut wrong = vars.to_vec();
    wrong.retain(|(k, _)| *k != "RUST_LOG");
    vault.state().login_hooks[0].1 = Arc::new({
        let expected = sts_url.clone();
        move |body: &Value| replay_to_sts(body, "other.example.com", &expected)
    });
    let refused = run(&env, &["once"], &wrong);
    assert_code(&refused, 1);
    assert_contains!(refused.stderr, "AWS login at");
    assert_no_secret(&refused, &[SECRET_KEY, SESSION]);
}

#[test]
fn credentials_about_to_expire_are_fetched_again_before_the_next_request() {
    if S3Fixture::new().is_none() {
        return;
    }
    // Two minutes left: inside the five-minute margin, so every S3 call of the cycle (the
    // upload, then the listing for pruning) asks the endpoint again first.
    let endpoint = container_endpoint_expiring_in(120);
    let (s3, _) = s3_requiring_session_token();
    let env = TestEnv::new();
    let vault = VaultStandIn::start(valid_archive(20_000));
    let prefix = unique_prefix();
    config(&env, &vault, &s3.url(), &prefix);
    let token_file = env.root.path().join("eks-pod-identity-token");
    std::fs::write(&token_file, POD_TOKEN).unwrap();
    let url = format!("{}/v1/credentials", endpoint.url());
    let outcome = run(
        &env,
        &["once"],
        &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.as_str()),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                token_file.to_str().unwrap(),
            ),
        ],
    );
    assert_code(&outcome, 0);
    assert!(
        endpoint.requests().len() >= 2,
        "credentials expiring in 2 minutes were not fetched again: {:?}",
        endpoint.requests()
    );
    assert_eq!(stored(&prefix).len(), 1);
}

#[test]
fn the_aws_login_is_renewed_and_signed_afresh_when_the_token_runs_out() {
    if !crate::conformance::server_up("moto (STS)", "127.0.0.1:5055") {
        return;
    }
    let env = TestEnv::new();
    let vault = VaultStandIn::start(valid_archive(1_000));
    {
        let mut state = vault.state();
        state.token_ttl = 3;
        state.token_max_ttl = 5;
        let expected = format!("{S3_ENDPOINT}/");
        state.login_hooks.push((
            "aws".into(),
            Arc::new(move |body: &Value| replay_to_sts(body, "vault.example.com", &expected)),
        ));
    }
    env.write_config(
        &vault,
        json!({
            "role_id": null,
            "secret_id": null,
            "frequency": "1s",
            "vault_auth_method": "aws",
            "aws_auth_role": "snapshots",
            "aws_auth_header_value": "vault.example.com",
        }),
    );
    let child = command(
        &env,
        &["run"],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAVAULTLOGIN"),
            ("AWS_SECRET_ACCESS_KEY", "vaultLoginSecretKeyNeverLogged"),
            ("AWS_ENDPOINT_URL_STS", S3_ENDPOINT),
        ],
    )
    .spawn()
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(8500));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let outcome = crate::env::finish(child, std::time::Duration::from_secs(10));
    assert_code(&outcome, 0);
    assert_not_contains!(outcome.stderr, "ERROR", "a cycle failed");
    assert!(
        !vault.requests_to("/v1/auth/token/renew-self").is_empty(),
        "never renewed"
    );
    let logins = vault.requests_to("/v1/auth/aws/login");
    assert!(logins.len() >= 2, "never logged in again after max TTL");
    // Each login is a request signed anew (its own x-amz-date and signature).
    assert_ne!(logins[0].body, logins[1].body);
    assert_eq!(
        vault.requests_to("/v1/sys/storage/raft/snapshot").len(),
        env.files().len()
    );
}
