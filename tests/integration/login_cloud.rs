//! The `gcp` and `azure` logins. OpenBao has neither auth method, so both run against
//! stand-ins: a metadata server (GCE's, or Azure's IMDS) made with the HTTP stub, and the
//! Vault stand-in accepting exactly the login body Vault's method documents. Renewal and
//! re-login as for AppRole; no token in the output even at trace level.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::env::{Outcome, TestEnv, assert_code, finish, valid_archive};
use crate::http_stub::{HttpStub, Response};
use crate::vault_stand_in::{TOKEN_PREFIX, VaultStandIn};

const GCE_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.GCE-IDENTITY-7d1e4f.sig";
const AZURE_JWT: &str = "eyJ0eXAiOiJKV1QifQ.AZURE-MSI-3b9c2a.sig";
const SERVICE_ACCOUNT: &str = "snap@proj.iam.gserviceaccount.com";
const IDENTITY_PATH: &str = "/computeMetadata/v1/instance/service-accounts/snap@proj.iam.gserviceaccount.com/identity?audience=http%3A%2F%2Fvault%2Fsnapshot&format=full";
const TOKEN_PATH: &str = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.example.com%2F";
const INSTANCE_PATH: &str = "/metadata/instance?api-version=2021-02-01";

/// A GCE metadata server that gives `GCE_JWT` for the identity of `SERVICE_ACCOUNT` with
/// the audience of the role `snapshot`, and only with `Metadata-Flavor: Google`.
fn gce_metadata() -> HttpStub {
    HttpStub::start(|request| {
        if request.header("Metadata-Flavor") != Some("Google") {
            return Response::new(403).body("Missing Metadata-Flavor:Google header.");
        }
        if request.method == "GET" && request.path == IDENTITY_PATH {
            Response::new(200).body(GCE_JWT)
        } else {
            Response::new(404).body("not found")
        }
    })
}

/// Azure's IMDS: a managed-identity token for `https://vault.example.com/` and the VM's
/// metadata, a scale set's when `in_scale_set` is raised; only with `Metadata: true`.
fn azure_imds(in_scale_set: Arc<AtomicBool>) -> HttpStub {
    HttpStub::start(move |request| {
        if request.header("Metadata") != Some("true") {
            return Response::json(
                400,
                &json!({"error": "invalid_request", "error_description": "Required metadata header not specified"}),
            );
        }
        if request.method != "GET" {
            return Response::new(405);
        }
        if request.path == TOKEN_PATH {
            Response::json(
                200,
                &json!({"access_token": AZURE_JWT, "expires_in": "86399", "resource": "https://vault.example.com/", "token_type": "Bearer"}),
            )
        } else if request.path == INSTANCE_PATH {
            let scale_set = if in_scale_set.load(Ordering::SeqCst) {
                "snap-vmss"
            } else {
                ""
            };
            Response::json(
                200,
                &json!({"compute": {"subscriptionId": "sub-1234", "resourceGroupName": "rg-vault",
                                    "name": "vault-vm-0", "vmScaleSetName": scale_set, "location": "westeurope"},
                        "network": {}}),
            )
        } else {
            Response::json(404, &json!({"error": "not found"}))
        }
    })
}

fn gcp_config(env: &TestEnv, vault: &VaultStandIn, extra: Value) {
    vault.state().other_logins = vec![(
        "gcp-prod".into(),
        json!({"role": "snapshot", "jwt": GCE_JWT}),
    )];
    let mut keys = json!({"role_id": null, "secret_id": null, "vault_auth_method": "gcp",
        "gcp_auth_role": "snapshot", "gcp_auth_path": "gcp-prod",
        "gcp_auth_service_account": SERVICE_ACCOUNT});
    for (key, value) in extra.as_object().unwrap() {
        keys[key] = value.clone();
    }
    env.write_config(vault, keys);
}

fn azure_login(vm: (&str, &str)) -> (String, Value) {
    let mut body = json!({"role": "snapshot", "jwt": AZURE_JWT, "subscription_id": "sub-1234",
                          "resource_group_name": "rg-vault"});
    body[vm.0] = json!(vm.1);
    ("azure".into(), body)
}

fn azure_config(env: &TestEnv, vault: &VaultStandIn, extra: Value) {
    vault.state().other_logins = vec![azure_login(("vm_name", "vault-vm-0"))];
    let mut keys = json!({"role_id": null, "secret_id": null, "vault_auth_method": "azure",
        "azure_auth_role": "snapshot", "azure_auth_resource": "https://vault.example.com/"});
    for (key, value) in extra.as_object().unwrap() {
        keys[key] = value.clone();
    }
    env.write_config(vault, keys);
}

fn run_with(env: &TestEnv, args: &[&str], vars: &[(&str, String)]) -> Outcome {
    let mut command = env.command(args);
    for (name, value) in vars {
        command.env(name, value);
    }
    finish(command.spawn().unwrap(), Duration::from_secs(60))
}

#[test]
fn gcp_login_sends_the_instance_identity_token_for_the_vault_role() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let metadata = gce_metadata();
    let env = TestEnv::new();
    gcp_config(&env, &vault, json!({}));
    let outcome = run_with(
        &env,
        &["once"],
        &[("GCE_METADATA_HOST", metadata.addr().to_string())],
    );
    assert_code(&outcome, 0);
    assert_eq!(env.files().len(), 1);
    let asked = metadata.requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].path, IDENTITY_PATH);
    let logins = vault.requests_to("/v1/auth/gcp-prod/login");
    assert_eq!(logins.len(), 1);
    let body: Value = serde_json::from_str(&logins[0].body).unwrap();
    assert_eq!(body, json!({"role": "snapshot", "jwt": GCE_JWT}));
    // The token it logged in for is its own to end.
    assert_eq!(vault.requests_to("/v1/auth/token/revoke-self").len(), 1);

    // The defaults: mount gcp, the default service account.
    vault.state().other_logins = vec![("gcp".into(), json!({"role": "snapshot", "jwt": GCE_JWT}))];
    let metadata = HttpStub::start(|request| {
        if request.path
            == "/computeMetadata/v1/instance/service-accounts/default/identity?audience=http%3A%2F%2Fvault%2Fsnapshot&format=full"
            && request.header("Metadata-Flavor") == Some("Google")
        {
            Response::new(200).body(format!("{GCE_JWT}\n"))
        } else {
            Response::new(404)
        }
    });
    env.write_config(
        &vault,
        json!({"role_id": null, "secret_id": null, "vault_auth_method": "gcp", "gcp_auth_role": "snapshot"}),
    );
    let outcome = run_with(
        &env,
        &["once"],
        &[("GCE_METADATA_HOST", metadata.addr().to_string())],
    );
    assert_code(&outcome, 0);
    assert_eq!(vault.requests_to("/v1/auth/gcp/login").len(), 1);
    assert_eq!(env.files().len(), 2);
}

#[test]
fn azure_login_sends_the_managed_identity_token_and_the_vms_metadata() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let in_scale_set = Arc::new(AtomicBool::new(false));
    let imds = azure_imds(in_scale_set.clone());
    let env = TestEnv::new();
    azure_config(&env, &vault, json!({}));
    let vars = [("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds.url())];
    let outcome = run_with(&env, &["once"], &vars);
    assert_code(&outcome, 0);
    assert_eq!(env.files().len(), 1);
    let paths: Vec<String> = imds.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, [TOKEN_PATH, INSTANCE_PATH]);
    let login = &vault.requests_to("/v1/auth/azure/login")[0];
    let body: Value = serde_json::from_str(&login.body).unwrap();
    assert_eq!(body, azure_login(("vm_name", "vault-vm-0")).1);

    // In a scale set, the scale set's name is sent instead of the VM's.
    in_scale_set.store(true, Ordering::SeqCst);
    vault.state().other_logins = vec![azure_login(("vmss_name", "snap-vmss"))];
    let outcome = run_with(&env, &["once"], &vars);
    assert_code(&outcome, 0);
    assert_eq!(env.files().len(), 2);
    let login = &vault.requests_to("/v1/auth/azure/login")[1];
    let body: Value = serde_json::from_str(&login.body).unwrap();
    assert_eq!(body, azure_login(("vmss_name", "snap-vmss")).1);
}

#[test]
fn cloud_tokens_are_renewed_and_fetched_again_for_each_new_login() {
    for method in ["gcp", "azure"] {
        let vault = VaultStandIn::start(valid_archive(1000));
        {
            let mut state = vault.state();
            state.token_ttl = 3;
            state.token_max_ttl = 5;
        }
        let env = TestEnv::new();
        let metadata = if method == "gcp" {
            gce_metadata()
        } else {
            azure_imds(Arc::new(AtomicBool::new(false)))
        };
        let var = if method == "gcp" {
            gcp_config(&env, &vault, json!({"frequency": "1s"}));
            ("GCE_METADATA_HOST", metadata.addr().to_string())
        } else {
            azure_config(&env, &vault, json!({"frequency": "1s"}));
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", metadata.url())
        };
        let child = env.command(&["run"]).env(var.0, var.1).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(8500));
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let outcome = finish(child, Duration::from_secs(10));
        assert_code(&outcome, 0);
        assert_not_contains!(outcome.stderr, "ERROR", "a cycle failed");
        assert!(env.files().len() >= 6, "{method}: {:?}", env.files());
        assert!(
            !vault.requests_to("/v1/auth/token/renew-self").is_empty(),
            "{method}: never renewed"
        );
        let logins = vault.requests_to(&format!(
            "/v1/auth/{}",
            if method == "gcp" { "gcp-prod" } else { "azure" }
        ));
        assert!(
            logins.len() >= 2,
            "{method}: never logged in again after max TTL"
        );
        // A fresh token from the metadata service for every login, none in between.
        let tokens_asked = metadata
            .requests()
            .iter()
            .filter(|r| r.path == IDENTITY_PATH || r.path == TOKEN_PATH)
            .count();
        assert_eq!(tokens_asked, logins.len(), "{method}");
        assert_eq!(
            vault.requests_to("/v1/sys/storage/raft/snapshot").len(),
            env.files().len(),
            "{method}"
        );
    }
}

#[test]
fn cloud_tokens_stay_out_of_trace_output_and_errors_name_the_metadata_url() {
    let vault = VaultStandIn::start(valid_archive(1000));
    vault.state().token_ttl = 1;
    let gce = gce_metadata();
    let imds = azure_imds(Arc::new(AtomicBool::new(false)));
    let env = TestEnv::new();
    for (method, var) in [
        ("gcp", ("GCE_METADATA_HOST", gce.addr().to_string())),
        ("azure", ("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds.url())),
    ] {
        if method == "gcp" {
            gcp_config(&env, &vault, json!({}));
        } else {
            azure_config(&env, &vault, json!({}));
        }
        let outcome = run_with(
            &env,
            &["once"],
            &[(var.0, var.1), ("RUST_LOG", "trace".into())],
        );
        assert_code(&outcome, 0);
        let all = format!("{}{}", outcome.stdout, outcome.stderr);
        assert!(
            all.contains("TRACE") || all.contains("DEBUG"),
            "{method}: no trace logging"
        );
        assert_not_contains!(all, "GCE-IDENTITY-7d1e4f", "the GCE token leaked");
        assert_not_contains!(all, "AZURE-MSI-3b9c2a", "the Azure token leaked");
        assert_not_contains!(all, TOKEN_PREFIX, "a Vault token leaked");
        assert_contains!(
            all,
            &format!(
                "Logged in to Vault with {}",
                if method == "gcp" { "GCP" } else { "Azure" }
            )
        );
    }

    // A metadata server that refuses: exit 1, naming the URL and the status.
    let refusing = HttpStub::start(|_| Response::new(500).body("metadata\x1b[2J is down"));
    gcp_config(&env, &vault, json!({}));
    let outcome = run_with(
        &env,
        &["once"],
        &[("GCE_METADATA_HOST", refusing.addr().to_string())],
    );
    assert_code(&outcome, 1);
    assert_contains!(outcome.stderr, "GCP login: no identity token");
    assert_contains!(
        outcome.stderr,
        &format!(
            "the GCE metadata server answered 500 to GET http://{}{IDENTITY_PATH}: metadata\\x1b[2J is down",
            refusing.addr()
        )
    );
    azure_config(&env, &vault, json!({}));
    let outcome = run_with(
        &env,
        &["once"],
        &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", refusing.url())],
    );
    assert_code(&outcome, 1);
    assert_contains!(outcome.stderr, "Azure login: no managed-identity token");
    assert_contains!(
        outcome.stderr,
        &format!("answered 500 to GET {}{TOKEN_PATH}", refusing.url())
    );
}

#[test]
fn cloud_login_keys_are_checked_at_start_and_shown_by_check() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    for (keys, vars, expected) in [
        (
            json!({"vault_auth_method": "gcp"}),
            vec![],
            "key \"gcp_auth_role\": GCP authentication needs gcp_auth_role",
        ),
        (
            json!({"vault_auth_method": "azure"}),
            vec![],
            "key \"azure_auth_role\": Azure authentication needs azure_auth_role",
        ),
        (
            json!({"vault_auth_method": "gcp", "gcp_auth_role": "r", "gcp_auth_service_account": "a/../b"}),
            vec![],
            "key \"gcp_auth_service_account\"",
        ),
        (
            json!({"vault_auth_method": "gcp", "gcp_auth_role": "r"}),
            vec![("GCE_METADATA_HOST", "http://meta/x".to_string())],
            "environment variable GCE_METADATA_HOST: \"http://meta/x\" is not host[:port]",
        ),
        (
            json!({"vault_auth_method": "azure", "azure_auth_role": "r"}),
            vec![("AZURE_POD_IDENTITY_AUTHORITY_HOST", "imds:80".to_string())],
            "environment variable AZURE_POD_IDENTITY_AUTHORITY_HOST: invalid URL",
        ),
        (
            json!({"vault_auth_method": "azure", "azure_auth_role": "r", "azure_auth_path": "a/../b"}),
            vec![],
            "key \"azure_auth_path\"",
        ),
    ] {
        let mut keys = keys;
        keys["role_id"] = Value::Null;
        keys["secret_id"] = Value::Null;
        env.write_config(&vault, keys.clone());
        let outcome = run_with(&env, &["check"], &vars);
        assert_code(&outcome, 2);
        assert_contains!(outcome.stderr, expected);
    }
    env.write_config(
        &vault,
        json!({"role_id": null, "secret_id": null, "vault_auth_method": "azure", "azure_auth_role": "snap"}),
    );
    let outcome = run_with(&env, &["check"], &[]);
    assert_code(&outcome, 0);
    assert_contains!(
        outcome.stdout,
        "Azure at auth/azure, role snap, managed-identity token for https://management.azure.com/ from http://169.254.169.254"
    );
    gcp_config(&env, &vault, json!({}));
    let outcome = run_with(
        &env,
        &["check"],
        &[("GCE_METADATA_HOST", "127.0.0.1:9".into())],
    );
    assert_code(&outcome, 0);
    assert_contains!(
        outcome.stdout,
        "GCP (gce) at auth/gcp-prod, role snapshot, identity token of service account snap@proj.iam.gserviceaccount.com from http://127.0.0.1:9"
    );
}
