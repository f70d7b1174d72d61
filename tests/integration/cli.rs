//! The command line: help, exit codes for configuration and usage errors, `verify`.

use std::fs;
use std::process::Command;

use serde_json::json;
use vault_raft_snapshot::archive::build::{ArchiveOptions, Fault, archive_bytes};

use crate::env::{BIN, TestEnv, assert_code, valid_archive};
use crate::vault_stand_in::VaultStandIn;

#[test]
fn help_documents_every_command_and_the_exit_codes() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "once",
        "run",
        "prune",
        "verify",
        "--config",
        "/etc/vault.d/snapshot.json",
        "Exit codes:",
        "0  the snapshot was stored",
        "1  the cycle failed",
        "2  configuration or usage error",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
    let prune = Command::new(BIN)
        .args(["prune", "--help"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8(prune.stdout)
            .unwrap()
            .contains("--dry-run")
    );
}

#[test]
fn a_config_typo_exits_2_naming_the_file_and_the_key() {
    let vault = VaultStandIn::start(Vec::new());
    let env = TestEnv::new();
    env.write_config(&vault, json!({"frequncy": "5m"}));
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 2);
    assert!(
        outcome
            .stderr
            .contains(&env.config_path().display().to_string()),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("frequncy"), "{}", outcome.stderr);
    assert!(
        vault.state().requests.is_empty(),
        "nothing may run before validation passes"
    );
}

#[test]
fn config_errors_exit_2_for_every_command() {
    let vault = VaultStandIn::start(Vec::new());
    let env = TestEnv::new();
    env.write_config(&vault, json!({"frequency": "soon", "retain": 3}));
    for command in ["once", "run", "prune"] {
        let outcome = env.run(&[command]);
        assert_code(&outcome, 2);
        assert!(
            outcome
                .stderr
                .contains("key \"frequency\": invalid duration \"soon\""),
            "{}",
            outcome.stderr
        );
    }
    env.write_config(
        &vault,
        json!({"local_storage": {"path": "/nonexistent/backups"}}),
    );
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 2);
    assert!(
        outcome.stderr.contains("local_storage.path"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_missing_config_file_exits_2() {
    let output = Command::new(BIN)
        .args(["--config", "/nonexistent/snapshot.json", "once"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read config file /nonexistent/snapshot.json"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["--bogus"][..],
        &["once", "extra"],
        &[],
        &["prune", "--dry"],
    ] {
        let output = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn verify_checks_files_on_disk() {
    let env = TestEnv::new();
    let good = env.root.path().join("good.snap");
    let bad = env.root.path().join("bad.snap");
    fs::write(&good, valid_archive(5000)).unwrap();
    let options = ArchiveOptions {
        fault: Some(Fault::FlipStateByte),
        ..ArchiveOptions::default()
    };
    fs::write(&bad, archive_bytes(&[7u8; 5000], &options).unwrap()).unwrap();

    let ok = Command::new(BIN).arg("verify").arg(&good).output().unwrap();
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("OK, Raft index 1234"));

    let both = Command::new(BIN)
        .arg("verify")
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&both.stdout);
    assert!(
        stdout.contains("BAD") && stdout.contains("hash check failed"),
        "{stdout}"
    );
}
