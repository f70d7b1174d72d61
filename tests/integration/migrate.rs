//! `migrate`: the other agents' own example and test configs (tests/fixtures/migrate, see its
//! README for where each came from) converted by the real binary; and `-c` given such a file.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::env::{BIN, Outcome, assert_code, finish};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/migrate")
        .join(name)
}

/// `vault-raft-snapshot <args>` with only `env` of the VRSA_*/VAULT_* kind set.
fn run(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut command = Command::new(BIN);
    command.args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("VRSA_") || key.starts_with("VAULT_") || key.starts_with("S3_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied());
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    finish(command.spawn().unwrap(), Duration::from_secs(60))
}

fn migrate(file: &Path, env: &[(&str, &str)]) -> (Outcome, Value) {
    let outcome = run(&["migrate", file.to_str().unwrap()], env);
    let config = serde_json::from_str(&outcome.stdout).unwrap_or(Value::Null);
    (outcome, config)
}

#[test]
fn their_readme_example_converts_the_same_from_yaml_and_toml() {
    let (yaml, from_yaml) = migrate(&fixture("readme-example.yaml"), &[]);
    assert_code(&yaml, 0);
    let (toml, from_toml) = migrate(&fixture("readme-example.toml"), &[]);
    assert_code(&toml, 0);
    assert_eq!(from_yaml, from_toml);
    assert_eq!(
        from_yaml,
        json!({
            "addr": "https://vault-server:8200",
            "leader_check": "none",
            "vault_auth_method": "k8s",
            "k8s_auth_role": "test-role",
            "frequency": "4h",
            "retain": 10,
            "local_storage": {"path": "/snapshots"},
            "other_snapshot_names": [{
                "name_prefix": "raft-snapshot-",
                "go_time_layout": "2006-01-02T15-04-05Z-0700",
                "name_suffix": ".snap",
                "time_zone": "UTC",
            }],
        })
    );
    for key in [
        "vault.nodes.urls -> addr",
        "snapshots.retain -> retain",
        "Not mapped (0)",
    ] {
        assert_contains!(yaml.stderr, key);
    }
    assert_contains!(yaml.stderr, "last-modified time");
    assert_contains!(yaml.stderr, "vault.timeout (default 60s)");
    assert_contains!(yaml.stderr, "Everything was mapped");
}

#[test]
fn their_complete_config_converts_from_yaml_and_json_with_its_gaps_marked() {
    let (yaml, from_yaml) = migrate(&fixture("complete.yaml"), &[]);
    let (json_outcome, from_json) = migrate(&fixture("complete.json"), &[]);
    // Swift, two session tokens and skipSSLVerify have no place in ours: exit 1, still written.
    assert_code(&yaml, 1);
    assert_code(&json_outcome, 1);
    assert_eq!(from_yaml, from_json);
    let gaps = from_yaml["migrate_gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 4, "{gaps:?}");
    assert_contains!(
        gaps[1].as_str().unwrap(),
        "snapshots.storages.swift: OpenStack Swift"
    );
    assert_contains!(yaml.stderr, "Not mapped (4)");
    assert_contains!(
        yaml.stderr,
        "snapshots.storages.s3.skipsslverify: ours always verifies"
    );
    assert_eq!(
        from_yaml["addr"],
        json!([
            "https://node1.example.com:8200",
            "https://node2.example.com:8200"
        ])
    );
    assert_eq!(from_yaml["metrics_listen"], json!("0.0.0.0:8080"));
    assert_eq!(from_yaml["metrics_vrsa_names"], json!(true));
    assert_eq!(from_yaml["aws_storage"][1]["s3_key_prefix"], json!("/"));
    assert_eq!(
        from_yaml["aws_storage"][1]["s3_endpoint"],
        json!("http://test-s3-endpoint")
    );
    assert_eq!(
        from_yaml["other_snapshot_names"][0]["name_prefix"],
        json!("test-")
    );
    assert_contains!(yaml.stderr, "Secret values copied into stdout");

    // Our agent refuses the gaps' key, naming it, until the operator has read them.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snapshot.json");
    let written = run(
        &[
            "migrate",
            fixture("complete.yaml").to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_code(&written, 1);
    assert_eq!(
        serde_json::from_str::<Value>(&fs::read_to_string(&out).unwrap()).unwrap(),
        from_yaml
    );
    // It holds copied secrets: readable by its owner only.
    assert_eq!(
        fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The output loads as it is but for the gaps, which the agent refuses by name.
    let loadable = from_yaml.clone();
    let gapped = dir.path().join("gapped.json");
    fs::write(&gapped, loadable.to_string()).unwrap();
    let check = run(&["check", "-c", gapped.to_str().unwrap()], &[]);
    assert_code(&check, 2);
    assert_contains!(check.stderr, "migrate_gaps");
    // Never overwritten.
    let again = run(
        &[
            "migrate",
            fixture("complete.yaml").to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_code(&again, 2);
    assert_contains!(again.stderr, "never overwrites");
}

#[test]
fn env_overrides_and_relative_file_references_resolve_as_in_their_agent() {
    // Their test config, in a directory of its own: `jwtToken: file://./jwt` is relative to it.
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().canonicalize().unwrap();
    fs::copy(fixture("snapshots.yaml"), dir_path.join("snapshots.yaml")).unwrap();
    fs::copy(fixture("jwt"), dir_path.join("jwt")).unwrap();
    let (outcome, config) = migrate(
        &dir_path.join("snapshots.yaml"),
        &[
            ("VRSA_SNAPSHOTS_RETAIN", "5"),
            ("VRSA_VAULT_AUTH_KUBERNETES_ROLE", "role-from-env"),
        ],
    );
    assert_code(&outcome, 0);
    assert_eq!(
        config["k8s_token_path"],
        json!(format!("{}/./jwt", dir_path.display()))
    );
    assert_eq!(config["retain"], json!(5));
    assert_eq!(config["k8s_auth_role"], json!("role-from-env"));
    assert_contains!(
        outcome.stderr,
        "snapshots.retain (from VRSA_SNAPSHOTS_RETAIN) -> retain"
    );

    // Secrets stay references: env:// as written, file:// made absolute, and a secret from a
    // VRSA_* variable becomes a reference to that variable, never its value.
    fs::write(
        dir_path.join("approle.yaml"),
        "vault:\n  nodes:\n    urls: [\"https://v:8200\"]\n  auth:\n    appRole:\n      role: env://MY_ROLE_ID\n      secret: file://secrets/secret-id\nsnapshots:\n  storages:\n    aws:\n      bucket: b\n      accessKeyId: placeholder\n      accessKey: placeholder\n",
    )
    .unwrap();
    let (outcome, config) = migrate(
        &dir_path.join("approle.yaml"),
        &[
            ("VRSA_SNAPSHOTS_STORAGES_AWS_ACCESSKEYID", "AKIAFROMENV"),
            ("VRSA_SNAPSHOTS_STORAGES_AWS_ACCESSKEY", "secret-from-env"),
        ],
    );
    assert_code(&outcome, 0);
    assert_eq!(config["role_id"], json!("env://MY_ROLE_ID"));
    assert_eq!(
        config["secret_id"],
        json!(format!("file://{}/secrets/secret-id", dir_path.display()))
    );
    assert_eq!(
        config["aws_storage"]["access_key_id"],
        json!("env://VRSA_SNAPSHOTS_STORAGES_AWS_ACCESSKEYID")
    );
    assert_eq!(
        config["aws_storage"]["secret_access_key"],
        json!("env://VRSA_SNAPSHOTS_STORAGES_AWS_ACCESSKEY")
    );
    assert_eq!(config["aws_storage"]["s3_key_prefix"], json!("/"));
    assert_contains!(outcome.stderr, "bucket root");
    assert_not_contains!(outcome.stdout, "secret-from-env");
    assert_not_contains!(outcome.stderr, "secret-from-env");
    assert_not_contains!(outcome.stderr, "Secret values copied");
}

#[test]
fn a_migrated_config_of_existing_keys_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    fs::create_dir(root.join("snaps")).unwrap();
    fs::write(root.join("role-id"), "r\n").unwrap();
    fs::write(root.join("secret-id"), "s\n").unwrap();
    let theirs = root.join("snapshots.toml");
    fs::write(
        &theirs,
        format!(
            "[vault]\ntimeout = \"10m\"\n[vault.nodes]\nurls = [\"https://127.0.0.1:8200\"]\n[vault.auth.approle]\nrole = \"file://role-id\"\nsecret = \"file://secret-id\"\n[snapshots]\nfrequency = \"30m\"\nretain = 3\n[snapshots.storages.local]\npath = \"{}\"\n",
            root.join("snaps").display()
        ),
    )
    .unwrap();
    let (outcome, config) = migrate(&theirs, &[]);
    assert_code(&outcome, 0);
    // Every key it wrote, their names and metric aliases included, is one our loader takes.
    assert!(config.get("other_snapshot_names").is_some(), "{config}");
    let ours = root.join("snapshot.json");
    fs::write(&ours, serde_json::to_string(&config).unwrap()).unwrap();
    let check = run(&["check", "-c", ours.to_str().unwrap()], &[]);
    assert_code(&check, 0);
    assert_contains!(check.stdout, "30m");
}

#[test]
fn vault_enterprise_automated_snapshot_configs_convert() {
    let (s3, config) = migrate(&fixture("vault-enterprise-s3.json"), &[]);
    assert_code(&s3, 0);
    assert_eq!(
        config,
        json!({
            "frequency": "6h",
            "retain": 28,
            "aws_storage": {
                "s3_bucket": "vault-backups",
                "s3_key_prefix": "raft",
                "s3_region": "eu-central-1",
                "s3_server_side_encryption": true,
            },
            "other_snapshot_names": [{"vault_file_prefix": "prod-cluster"}],
        })
    );
    assert_contains!(
        s3.stderr,
        "Vault Enterprise automated-snapshot configuration"
    );
    assert_contains!(s3.stderr, "needs addr and a login");

    // The documentation's sample: local_max_space has no counterpart: exit 1, gap marked.
    let (local, config) = migrate(&fixture("vault-enterprise-local.json"), &[]);
    assert_code(&local, 1);
    assert_eq!(
        config["local_storage"],
        json!({"path": "/opt/vault/snapshots"})
    );
    assert_eq!(config["retain"], json!(7));
    assert_eq!(config["frequency"], json!("86400s"));
    assert_contains!(
        config["migrate_gaps"][0].as_str().unwrap(),
        "local_max_space"
    );
}

#[test]
fn an_unreadable_file_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml");
    let outcome = run(&["migrate", missing.to_str().unwrap()], &[]);
    assert_code(&outcome, 2);
    assert_contains!(outcome.stderr, format!("cannot read {}", missing.display()));

    let broken = dir.path().join("broken.yaml");
    fs::write(&broken, "vault: [unclosed\n").unwrap();
    let outcome = run(&["migrate", broken.to_str().unwrap()], &[]);
    assert_code(&outcome, 2);
    assert_contains!(outcome.stderr, "not valid Yaml");

    // Our own config is neither agent's.
    let ours = dir.path().join("snapshot.json");
    fs::write(&ours, r#"{"local_storage": {"path": "/s"}}"#).unwrap();
    let outcome = run(&["migrate", ours.to_str().unwrap()], &[]);
    assert_code(&outcome, 2);
    assert_contains!(
        outcome.stderr,
        "neither a vault-raft-snapshot-agent configuration"
    );
    assert!(outcome.stdout.is_empty());
}

#[test]
fn dash_c_with_their_file_says_what_it_is_and_to_run_migrate() {
    for (file, what) in [
        ("snapshots.yaml", "Argelbargel's vault-raft-snapshot-agent"),
        ("complete.json", "Argelbargel's vault-raft-snapshot-agent"),
        (
            "vault-enterprise-local.json",
            "Vault Enterprise automated-snapshot",
        ),
    ] {
        let path = fixture(file);
        let outcome = run(&["check", "-c", path.to_str().unwrap()], &[]);
        assert_code(&outcome, 2);
        assert_contains!(outcome.stderr, what);
        assert_contains!(
            outcome.stderr,
            format!(
                "vault-raft-snapshot migrate {} -o snapshot.json",
                path.display()
            )
        );
    }
    // A broken file of ours keeps its own error.
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("snapshot.json");
    fs::write(&ours, r#"{"local_storage": {"path": "/s"}, "retain": "x"}"#).unwrap();
    let outcome = run(&["check", "-c", ours.to_str().unwrap()], &[]);
    assert_code(&outcome, 2);
    assert_not_contains!(outcome.stderr, "migrate");
}
