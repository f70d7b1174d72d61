//! Trust at the edges (issue 18): credentials in URLs, tokens the agent obtained and must
//! revoke, cleartext addresses, secret references that are mistyped, and the messages an
//! operator reads when something failed or was stopped.

use serde_json::json;

use crate::env::{TestEnv, assert_code, valid_archive};
use crate::http_stub::{HttpStub, Response};
use crate::vault_stand_in::VaultStandIn;

#[test]
fn credentials_in_the_vault_address_are_refused_and_never_printed() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let with_password = vault.url().replace("http://", "http://admin:hunter2@");
    env.write_config(&vault, json!({"addr": with_password}));
    for args in [&["check"][..], &["check", "--connect"], &["once"]] {
        let outcome = env.run(args);
        assert_code(&outcome, 2);
        assert_contains!(
            outcome.stderr,
            "key \"addr\": credentials in the URL are not supported"
        );
        assert_not_contains!(outcome.stderr, "hunter2");
        assert_not_contains!(outcome.stdout, "hunter2");
    }

    // The same from VAULT_ADDR, named as the variable.
    env.write_config(&vault, json!({"addr": null}));
    let mut command = env.command(&["check"]);
    command.env("VAULT_ADDR", &with_password);
    let outcome = crate::env::finish(command.spawn().unwrap(), std::time::Duration::from_secs(60));
    assert_code(&outcome, 2);
    assert_contains!(
        outcome.stderr,
        "environment variable VAULT_ADDR: credentials in the URL"
    );
    assert_not_contains!(outcome.stderr, "hunter2");
    assert!(
        vault.requests_to("/v1/").is_empty(),
        "a refused run reached Vault"
    );
}

#[test]
fn a_push_url_with_a_query_keeps_it_after_the_path_and_out_of_the_logs() {
    let gateway = HttpStub::start(|_| Response::new(500).body("gateway down"));
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let url = format!("{}/gw?token=s3cr3t", gateway.url());
    env.write_config(&vault, json!({"metrics_push_url": url}));

    let checked = env.run(&["check"]);
    assert_code(&checked, 0);
    assert_contains!(checked.stdout, "?token=<redacted>");
    assert_not_contains!(checked.stdout, "s3cr3t");

    let outcome = env.run(&["once"]);
    assert_code(&outcome, 0);
    let pushed = gateway.requests();
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let group = vault_raft_snapshot::metrics::push_url("", &host);
    assert_eq!(pushed[0].path, format!("/gw{group}?token=s3cr3t"));
    // The failed push is a warning naming the URL, without the query's value.
    assert_contains!(outcome.stderr, "pushing the metrics to");
    assert_contains!(outcome.stderr, "token=<redacted>");
    assert_not_contains!(outcome.stderr, "s3cr3t");
}

#[test]
fn plain_http_to_another_host_is_warned_about_naming_the_address() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    env.write_config(&vault, json!({"addr": "http://vault.invalid:8200"}));
    let outcome = env.run(&["check"]);
    assert_contains!(
        outcome.stderr,
        "addr http://vault.invalid:8200 is plain http:// to a host that is not this one"
    );
    // Loopback (the stand-in) and https:// are not warned about.
    for addr in [vault.url(), "https://vault.invalid:8200".to_string()] {
        env.write_config(&vault, json!({ "addr": addr }));
        let outcome = env.run(&["check"]);
        assert_not_contains!(outcome.stderr, "plain http://");
    }
}

#[test]
fn a_relative_file_reference_or_an_unknown_scheme_is_a_config_error() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    for (secret_id, expected) in [
        (
            "file://run/secrets/secret-id",
            "key \"secret_id\": \"file://run/secrets/secret-id\" is not an absolute path",
        ),
        (
            "FILE:///run/secrets/hunter2",
            "write the scheme in lowercase",
        ),
        ("File://hunter2", "write the scheme in lowercase"),
        ("vault://secret/hunter2", "unknown scheme"),
    ] {
        env.write_config(&vault, json!({ "secret_id": secret_id }));
        let outcome = env.run(&["once"]);
        assert_code(&outcome, 2);
        assert_contains!(outcome.stderr, expected);
        assert_contains!(outcome.stderr, "key \"secret_id\"");
        assert_not_contains!(outcome.stderr, "hunter2");
    }
    assert!(
        vault.requests_to("/v1/").is_empty(),
        "a refused run reached Vault"
    );
}
