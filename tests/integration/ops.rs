//! What an operator installs around the binary: the generated man page and completions are
//! current, the systemd units are valid and match the real command line, the metrics file
//! tells the truth (a failed storage shows as failed), `status` reads it, and logs under
//! systemd's journal carry priorities instead of timestamps.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;
use vault_raft_snapshot::cli::{Cli, Command as Verb};
use vault_raft_snapshot::config::DEFAULT_CONFIG_PATH;
use vault_raft_snapshot::metrics::{Metrics, StorageId};

use crate::env::{BIN, TestEnv, assert_code, finish, valid_archive};
use crate::vault_stand_in::{Mode, SnapshotFault, VaultStandIn};

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn generated(args: &[&str]) -> String {
    let output = Command::new(BIN)
        .arg("generate")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_committed_man_page_and_completions_are_current() {
    let hint = "stale: regenerate with `cargo run -- generate man > man/vault-raft-snapshot.1` \
                and `generate completions <shell>` into contrib/completions/";
    for (file, args) in [
        ("man/vault-raft-snapshot.1", &["man"][..]),
        (
            "contrib/completions/vault-raft-snapshot.bash",
            &["completions", "bash"],
        ),
        (
            "contrib/completions/_vault-raft-snapshot",
            &["completions", "zsh"],
        ),
        (
            "contrib/completions/vault-raft-snapshot.fish",
            &["completions", "fish"],
        ),
    ] {
        let committed = fs::read_to_string(repo(file)).unwrap_or_default();
        assert!(committed == generated(args), "{file} is {hint}");
    }
    let man = generated(&["man"]);
    for section in [
        "SYNOPSIS",
        "COMMANDS",
        "OPTIONS",
        "CONFIGURATION",
        "ENVIRONMENT",
        "EXIT STATUS",
        "FILES",
        "EXAMPLES",
    ] {
        assert!(
            man.contains(&format!(".SH {section}")) || man.contains(&format!(".SH \"{section}\"")),
            "man page lacks {section}"
        );
    }
    for key in vault_raft_snapshot::config::KEYS {
        assert!(man.contains(key.key), "man page lacks {}", key.key);
    }
}

/// `ExecStart=` of a unit file, split into words.
fn exec_start(unit: &str) -> Vec<String> {
    let text = fs::read_to_string(repo(&format!("contrib/systemd/{unit}"))).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap_or_else(|| panic!("{unit} has no ExecStart"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_systemd_units_run_the_real_command_line() {
    for (unit, expected) in [
        ("vault-raft-snapshot.service", "run"),
        ("vault-raft-snapshot-once.service", "once"),
    ] {
        let words = exec_start(unit);
        assert_eq!(words[0], "/usr/local/bin/vault-raft-snapshot", "{unit}");
        let cli = Cli::try_parse_from(&words).unwrap_or_else(|e| panic!("{unit}: {e}"));
        let (verb, after) = match &cli.command {
            Verb::Run(after) => ("run", after),
            Verb::Once(after) => ("once", after),
            other => panic!("{unit} runs {other:?}"),
        };
        assert_eq!(
            cli.config_path(after),
            Path::new(DEFAULT_CONFIG_PATH),
            "{unit}"
        );
        assert_eq!(verb, expected, "{unit}");
        // Started after Vault's or OpenBao's own unit, whichever the node has.
        let text = fs::read_to_string(repo(&format!("contrib/systemd/{unit}"))).unwrap();
        let after: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("After="))
            .flat_map(str::split_whitespace)
            .collect();
        for server in ["vault.service", "openbao.service"] {
            assert!(after.contains(&server), "{unit}: After= lacks {server}");
        }
    }
    let timer = fs::read_to_string(repo("contrib/systemd/vault-raft-snapshot.timer")).unwrap();
    assert!(timer.contains("Unit=vault-raft-snapshot-once.service"));
    for setting in [
        "OnCalendar=hourly",
        "Persistent=true",
        "RandomizedDelaySec=",
    ] {
        assert!(timer.contains(setting), "timer lacks {setting}");
    }
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        // CI installs systemd (see .ci/run); elsewhere this check is optional.
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-analyze is missing in CI"
        );
        eprintln!("systemd-analyze not installed; skipping unit verification");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let units = [
        "vault-raft-snapshot.service",
        "vault-raft-snapshot-once.service",
        "vault-raft-snapshot.timer",
    ];
    for unit in units {
        // Point ExecStart at the binary under test: verify checks that it exists.
        let text = fs::read_to_string(repo(&format!("contrib/systemd/{unit}")))
            .unwrap()
            .replace("/usr/local/bin/vault-raft-snapshot", BIN);
        fs::write(dir.path().join(unit), text).unwrap();
    }
    // Documentation=man:vault-raft-snapshot(1) must resolve: offer the generated page.
    let man1 = dir.path().join("man").join("man1");
    fs::create_dir_all(&man1).unwrap();
    fs::copy(
        repo("man/vault-raft-snapshot.1"),
        man1.join("vault-raft-snapshot.1"),
    )
    .unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .args(units.iter().map(|u| dir.path().join(u)))
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .env("MANPATH", dir.path().join("man"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let problems: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("vault-raft-snapshot"))
        .collect();
    assert!(
        output.status.success() && problems.is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
}

#[test]
fn metrics_record_success_then_failure_and_status_reads_them() {
    // The archive's tar headers carry the time it was built: measure this one, not another.
    let archive = valid_archive(5000);
    let archive_len = archive.len() as u64;
    let vault = VaultStandIn::start(archive);
    let env = TestEnv::new();
    let metrics_path = env.root.path().join("vault_raft_snapshot.prom");
    env.write_config(&vault, json!({"metrics_file": metrics_path, "retain": 2}));

    assert_code(&env.run(&["once"]), 0);
    let after_success = Metrics::load(&metrics_path).unwrap();
    let a = &after_success.agent;
    assert!(
        a.leader && a.consecutive_failures == 0 && a.raft_index == 1234,
        "{a:?}"
    );
    assert_eq!(a.snapshot_bytes, archive_len);
    let s = &after_success.storages[0];
    assert_eq!(
        s.id,
        StorageId::new("local-0", "local", env.snaps.to_str().unwrap())
    );
    let text = std::fs::read_to_string(&metrics_path).unwrap();
    assert!(
        text.contains(&format!(
            "vault_raft_snapshot_storage_snapshots{{storage=\"local-0\",kind=\"local\",location=\"{}\"}} 1\n",
            env.snaps.display()
        )),
        "{text}"
    );
    assert!(
        s.last_success_timestamp > 0.0 && !s.last_error && s.snapshots == 1,
        "{s:?}"
    );
    let status = env.run(&["status"]);
    assert_code(&status, 0);
    assert!(
        status.stdout.contains("leader:               yes"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains(&format!("storage local-0 (local {}):", env.snaps.display())),
        "{}",
        status.stdout
    );

    // A corrupt snapshot: the cycle fails; the previous success carries over.
    vault.state().fault = SnapshotFault::DropTrailer;
    assert_code(&env.run(&["once"]), 1);
    let after_failure = Metrics::load(&metrics_path).unwrap();
    assert_eq!(after_failure.agent.consecutive_failures, 1);
    assert_eq!(
        after_failure.agent.last_success_timestamp,
        a.last_success_timestamp
    );
    assert_eq!(
        after_failure.storages[0].last_success_timestamp,
        s.last_success_timestamp
    );
    let status = env.run(&["status"]);
    assert_code(&status, 1);
    assert!(
        status.stdout.contains("consecutive failures: 1"),
        "{}",
        status.stdout
    );
}

#[test]
fn a_storage_removed_from_the_config_leaves_the_metrics() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let metrics_path = env.root.path().join("m.prom");
    let mut old = Metrics::default();
    old.storage(&StorageId::new(
        "aws-0",
        "aws",
        "s3://decommissioned/raft_snapshots",
    ))
    .last_success_timestamp = 1.0;
    old.write(&metrics_path).unwrap();
    env.write_config(&vault, json!({"metrics_file": metrics_path}));
    assert_code(&env.run(&["once"]), 0);
    let now = Metrics::load(&metrics_path).unwrap();
    let names: Vec<&str> = now.storages.iter().map(|s| s.id.name.as_str()).collect();
    assert_eq!(names, ["local-0"], "{now:?}");
}

#[test]
fn a_metrics_file_of_the_version_before_names_carries_over_under_the_names() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let metrics_path = env.root.path().join("m.prom");
    // As the version before wrote it: the `storage` label held the kind, no `kind` label.
    let snaps = env.snaps.display();
    std::fs::write(
        &metrics_path,
        format!(
            "vault_raft_snapshot_last_cycle_timestamp_seconds 1795405200\n\
             vault_raft_snapshot_last_success_timestamp_seconds 1795405200\n\
             vault_raft_snapshot_storage_snapshots{{storage=\"local\",location=\"{snaps}\"}} 3\n\
             vault_raft_snapshot_storage_snapshots{{storage=\"aws\",location=\"s3://gone/raft\"}} 9\n"
        ),
    )
    .unwrap();
    env.write_config(
        &vault,
        json!({"metrics_file": metrics_path,
               "local_storage": {"path": env.snaps, "name": "disk"}}),
    );
    // The file's success is from a fixed date: only the names are checked here.
    let status = env.run(&["status", "--max-age", "1000000h"]);
    assert_code(&status, 0);
    assert!(
        status.stdout.contains(&format!("storage local {snaps}:")),
        "{}",
        status.stdout
    );

    // The vault stand-in is not the leader: the cycle touches no storage, and what the file
    // said of the configured one carries over under its name; the other one is dropped.
    vault.state().mode = Mode::Standby;
    assert_code(&env.run(&["once"]), 0);
    let now = Metrics::load(&metrics_path).unwrap();
    let kept: Vec<(&StorageId, u64)> = now.storages.iter().map(|s| (&s.id, s.snapshots)).collect();
    assert_eq!(
        kept,
        [(
            &StorageId::new("disk", "local", env.snaps.to_str().unwrap()),
            3
        )],
        "{now:?}"
    );
    let status = env.run(&["status"]);
    assert!(
        status
            .stdout
            .contains(&format!("storage disk (local {snaps}):")),
        "{}",
        status.stdout
    );
}

#[test]
fn a_storage_that_fails_during_run_shows_as_failed_in_the_metrics() {
    let vault = VaultStandIn::start(valid_archive(2000));
    let env = TestEnv::new();
    let metrics_path = env.root.path().join("m.prom");
    env.write_config(
        &vault,
        json!({"metrics_file": metrics_path, "frequency": "1s"}),
    );
    let child = env.command(&["run"]).spawn().unwrap();
    let started = Instant::now();
    while Metrics::load(&metrics_path)
        .unwrap()
        .storages
        .first()
        .is_none_or(|s| s.last_success_timestamp == 0.0)
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no successful cycle"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let first = Metrics::load(&metrics_path).unwrap().storages[0].clone();
    // The snapshot directory disappears (a lost mount): the next uploads fail.
    fs::rename(&env.snaps, env.root.path().join("snaps-moved")).unwrap();
    fs::write(&env.snaps, b"not a directory").unwrap();
    while !Metrics::load(&metrics_path).unwrap().storages[0].last_error {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "failure never recorded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let outcome = finish(child, Duration::from_secs(10));
    assert_code(&outcome, 0);
    let last = Metrics::load(&metrics_path).unwrap();
    let s = &last.storages[0];
    assert!(s.last_error, "{s:?}");
    assert_eq!(
        s.last_success_timestamp, first.last_success_timestamp,
        "a failed upload moved last success"
    );
    assert!(s.last_attempt_timestamp > first.last_attempt_timestamp);
    assert!(last.agent.consecutive_failures >= 1);
    assert!(
        outcome.stderr.contains("storing the snapshot in local"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn under_the_journal_lines_carry_priorities_and_no_timestamps() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    env.write_config(&vault, json!({"frequency": "5 minutes"}));
    let log = env.root.path().join("journal.log");
    let file = fs::File::create(&log).unwrap();
    let meta = {
        use std::os::unix::fs::MetadataExt;
        let m = file.metadata().unwrap();
        format!("{}:{}", m.dev(), m.ino())
    };
    let mut command = env.command(&["once"]);
    command.stderr(file).env("JOURNAL_STREAM", &meta);
    let outcome = finish(command.spawn().unwrap(), Duration::from_secs(20));
    assert_code(&outcome, 2);
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        text.starts_with("<3>") && text.contains("frequency"),
        "{text:?}"
    );
    assert!(
        !text.contains("[20"),
        "timestamp printed under the journal: {text:?}"
    );
}

#[test]
fn the_readmes_generated_tables_are_current() {
    let readme = fs::read_to_string(repo("README.md")).unwrap();
    let fresh = generated(&["readme", repo("README.md").to_str().unwrap()]);
    assert!(
        readme.contains("<!-- generated:vault -->")
            && readme.contains("<!-- generated:environment -->"),
        "README lost its generated blocks"
    );
    assert!(
        fresh == readme,
        "README.md's generated tables are stale: run `cargo run -- generate readme > README.new && mv README.new README.md`"
    );
}

/// GitHub's anchor for a heading: lower case, spaces to dashes, punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn the_readmes_headings_are_unique_and_its_links_land_on_them() {
    let readme = fs::read_to_string(repo("README.md")).unwrap();
    let mut in_code = false;
    let mut anchors = Vec::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            let heading = line.trim_start_matches('#');
            let a = anchor(heading);
            assert!(
                !anchors.contains(&a),
                "README has the heading {heading:?} twice"
            );
            anchors.push(a);
        }
    }
    for (i, _) in readme.match_indices("](#") {
        let target: String = readme[i + 3..].chars().take_while(|c| *c != ')').collect();
        assert!(
            anchors.contains(&target),
            "README links to #{target}, which is no heading"
        );
    }
    assert!(
        !readme.contains("not supported by this version yet"),
        "stale storage section"
    );
}

#[test]
fn the_readmes_first_steps_give_the_agent_its_directory_and_a_private_config() {
    let readme = fs::read_to_string(repo("README.md")).unwrap();
    let start = readme.find("## Take a snapshot").unwrap();
    let first_steps = &readme[start..readme[start..].find("| command |").unwrap() + start];
    for step in [
        "install -d -o vault -g vault -m 0700 /var/backups/vault",
        "install -o root -g vault -m 0640 snapshot.json /etc/vault.d/snapshot.json",
        "sudo -u vault vault-raft-snapshot once",
    ] {
        assert_contains!(first_steps, step);
    }
    // The directory is the one the example config and the units use.
    assert_contains!(
        first_steps,
        r#""local_storage": { "path": "/var/backups/vault" }"#
    );
    let unit = fs::read_to_string(repo("contrib/systemd/vault-raft-snapshot.service")).unwrap();
    assert_contains!(unit, "ReadWritePaths=/var/backups/vault");
    assert_contains!(unit, "User=vault");
}

#[test]
fn the_readme_documents_every_config_key_and_the_commands() {
    let readme = fs::read_to_string(repo("README.md")).unwrap();
    for key in vault_raft_snapshot::config::KEYS {
        // Storage keys appear under their storage's heading, by their own name.
        let name = key.key.rsplit('.').next().unwrap();
        assert!(
            readme.contains(&format!("`{name}`")),
            "README lacks `{name}`"
        );
    }
    for command in [
        "cargo install --path .",
        "contrib/demo.sh",
        "contrib/test.sh",
    ] {
        assert!(readme.contains(command), "README lacks {command}");
    }
}

/// `contrib/demo.sh` with `DEMO_DIR` set to `dir`, in a clean environment as an operator's
/// shell has (the test harness's CARGO_* and NEXTEST_* variables would change build-script
/// inputs and force rebuilds).
fn demo(dir: &Path) -> (Option<i32>, String, String) {
    let mut command = Command::new("bash");
    command
        .arg(repo("contrib/demo.sh"))
        .env_clear()
        .env("DEMO_DIR", dir);
    for keep in [
        "PATH",
        "HOME",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
        "TMPDIR",
    ] {
        if let Some(value) = std::env::var_os(keep) {
            command.env(keep, value);
        }
    }
    let output = command.output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn snapshots_in(dir: &Path) -> Vec<String> {
    crate::env::list(dir)
        .into_iter()
        .filter(|n| n.starts_with("raft_snapshot-"))
        .collect()
}

#[test]
fn the_demo_runs_from_a_checkout_and_replaces_only_its_own_snapshots() {
    let out = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = demo(out.path());
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        stderr
            .matches("Successfully created local snapshot")
            .count(),
        2,
        "{stderr}"
    );
    assert_contains!(
        stdout,
        "would delete 1 snapshot(s); dry run, nothing was deleted"
    );
    assert_contains!(stdout, "leader:               yes");
    let first = snapshots_in(out.path());
    assert_eq!(first.len(), 2);

    // Run again: the first run's two are replaced by two new ones, and nothing else goes.
    fs::write(out.path().join("notes.txt"), "mine").unwrap();
    let (code, stdout, stderr) = demo(out.path());
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let second = snapshots_in(out.path());
    assert_eq!(second.len(), 2, "{second:?}");
    assert!(
        second.iter().all(|n| !first.contains(n)),
        "{first:?} {second:?}"
    );
    assert!(out.path().join("notes.txt").exists());
}

#[test]
fn the_demo_refuses_a_directory_with_snapshots_it_did_not_make() {
    let backups = tempfile::tempdir().unwrap();
    let real = "raft_snapshot-1700000000000000000.snap";
    fs::write(backups.path().join(real), b"a real backup").unwrap();
    // A marker does not make foreign snapshots the demo's: only the names it lists go.
    fs::write(
        backups.path().join(".vault-raft-snapshot-demo"),
        "../escape\nraft_snapshot-1.snap\n",
    )
    .unwrap();
    let (code, stdout, stderr) = demo(backups.path());
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert_contains!(stderr, "that this demo did not make");
    assert_eq!(
        fs::read(backups.path().join(real)).unwrap(),
        b"a real backup"
    );
    assert_eq!(snapshots_in(backups.path()), [real]);
}

#[test]
fn no_module_of_src_imports_one_that_imports_it_back() {
    let output = Command::new("python3")
        .arg(repo("contrib/scripts/module-cycles.py"))
        .output()
        .expect("python3 runs the module cycle check");
    assert!(
        output.status.success(),
        "import cycles in src/:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn readme_layout_names_every_module_of_src() {
    let readme = fs::read_to_string(repo("README.md")).unwrap();
    let start = readme
        .find("## Layout")
        .expect("README has a Layout section");
    let end = readme[start + 3..]
        .find("\n## ")
        .map_or(readme.len(), |i| start + 3 + i);
    let layout = &readme[start..end];
    let named = |stem: &str| {
        [
            format!("`{stem}`"),
            format!("`{stem}.rs`"),
            format!("`{stem}/`"),
        ]
        .iter()
        .any(|form| layout.contains(form.as_str()))
    };
    let mut missing = Vec::new();
    let mut dirs = vec![repo("src")];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                dirs.push(path.clone());
            } else if stem == "mod" || stem == "lib" || stem == "properties" || stem == "testing" {
                continue;
            }
            if !named(&stem) {
                missing.push(
                    path.strip_prefix(repo("src"))
                        .unwrap()
                        .display()
                        .to_string(),
                );
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README's Layout section does not name: {missing:?}"
    );
}
