//! Secret-valued keys given as `file:///path` or `env://NAME`: read at start (a missing one is
//! exit 2 naming the key and the reference), and again at every use, so a rotated Kubernetes
//! Secret is picked up by a running agent.

use std::fs;
use std::time::Duration;

use serde_json::json;

use crate::conformance::{AZURE_ACCOUNT, AZURE_ENDPOINT, AZURE_KEY, AzureFixture, BUCKET, Fixture};
use crate::env::{LiveRun, TestEnv, assert_code, finish, valid_archive};
use crate::vault_stand_in::VaultStandIn;

#[test]
fn approle_credentials_come_from_a_file_and_a_variable() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let secret_file = env.root.path().join("secret-id");
    fs::write(&secret_file, "test-secret-id\n").unwrap();
    let reference = format!("file://{}", secret_file.display());
    env.write_config(
        &vault,
        json!({"role_id": "env://VRS_TEST_ROLE_ID", "secret_id": reference}),
    );
    let mut command = env.command(&["once"]);
    command.env("VRS_TEST_ROLE_ID", "test-role-id");
    let outcome = finish(command.spawn().unwrap(), Duration::from_secs(60));
    assert_code(&outcome, 0);
    let login = &vault.requests_to("/v1/auth/approle/login")[0];
    let body: serde_json::Value = serde_json::from_str(&login.body).unwrap();
    assert_eq!(
        body,
        json!({"role_id": "test-role-id", "secret_id": "test-secret-id"})
    );
    assert_eq!(env.files().len(), 1);

    // The variable is not set: exit 2 naming the key and the reference; Vault never asked.
    let unset = env.run(&["once"]);
    assert_code(&unset, 2);
    assert_contains!(
        unset.stderr,
        "key \"role_id\": env://VRS_TEST_ROLE_ID: the environment variable VRS_TEST_ROLE_ID is not set"
    );

    // The file is gone: the same, and the value is never shown.
    fs::remove_file(&secret_file).unwrap();
    let mut command = env.command(&["once"]);
    command.env("VRS_TEST_ROLE_ID", "test-role-id");
    let missing = finish(command.spawn().unwrap(), Duration::from_secs(60));
    assert_code(&missing, 2);
    assert_contains!(
        missing.stderr,
        format!("key \"secret_id\": {reference}: cannot read")
    );
    assert_contains!(missing.stderr, "No such file");
    assert_not_contains!(missing.stderr, "test-role-id");
    // sys/leader, login, the snapshot and the token's revocation, all from the first run.
    assert_eq!(
        vault.requests_to("/v1/").len(),
        4,
        "a refused run reached Vault"
    );
}

#[test]
fn a_rotated_storage_key_is_picked_up_by_a_running_agent() {
    let Some(azure) = AzureFixture::new() else {
        return;
    };
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let key_file = env.root.path().join("account-key");
    fs::write(&key_file, format!("{AZURE_KEY}\n")).unwrap();
    let reference = format!("file://{}", key_file.display());
    env.write_config(
        &vault,
        json!({"frequency": "1s", "retain": 100, "azure_storage": {
            "account_name": AZURE_ACCOUNT, "account_key": reference, "container_name": BUCKET,
            "prefix": azure.prefix(), "endpoint": AZURE_ENDPOINT}}),
    );
    let limit = Duration::from_secs(20);
    let run = LiveRun::start(env.command(&["run"]));
    let at = run.wait_for(0, &["Successfully created azure snapshot"], limit);

    // A key that Azurite refuses: the agent read the file again, so Azure now fails, while
    // the local storage still gets every snapshot.
    fs::write(&key_file, "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=\n").unwrap();
    let at = run.wait_for(at, &["storing the snapshot in azure", "failed"], limit);
    // The file is gone: the cycle's Azure step fails naming the key and the reference.
    fs::remove_file(&key_file).unwrap();
    let at = run.wait_for(
        at,
        &[
            "key \"azure_storage.account_key\"",
            &format!("{reference}: cannot read"),
        ],
        limit,
    );
    // Put back: stored again, without a restart.
    fs::write(&key_file, AZURE_KEY).unwrap();
    run.wait_for(at, &["Successfully created azure snapshot"], limit);
    let outcome = run.stop();
    assert_code(&outcome, 0);
    let verified = outcome.stderr.matches("Verified snapshot").count();
    assert_eq!(env.files().len(), verified, "{}", outcome.stderr);
    assert_not_contains!(outcome.stderr, AZURE_KEY, "the key leaked");
}
